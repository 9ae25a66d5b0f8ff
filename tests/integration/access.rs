//! A leaver loses every access, however it was granted; a mover keeps hand-granted access
//! under the new DN; a new account inherits nothing an earlier account of that name left.
//! Against a real slapd without referential integrity, where member values do not follow
//! renames and nothing removes them when an entry goes.

use crate::scenario::{Scenario, person, terminated};

const PASSWORD: &str = "Correct-Horse-9";

fn append_config(s: &Scenario, text: &str) {
    let config = std::fs::read_to_string(&s.config).expect("read config");
    std::fs::write(&s.config, format!("{config}\n{text}\n")).expect("write config");
}

fn member(s: &Scenario, group: &str, dn: &str) -> bool {
    s.dir.group_members(group).contains(&dn.to_lowercase())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leaver_leaves_hand_granted_groups_too_and_a_rehire_gets_only_the_role() {
    let s = Scenario::start("leaver-all").await;
    let dn = s.dir.add_user(
        "lee.leaver",
        "2101",
        Some(PASSWORD),
        "cn: Lee Leaver\nsn: Leaver",
    );
    // Granted by hand: a group with others in it, and one where Lee is the only member.
    let wiki = s.dir.add_group("wiki-admins", &[&dn, &s.seed_member()]);
    let solo = s.dir.add_group("solo-project", &[&dn]);
    let lee = person("2101", "Lee", "Leaver", "Engineering", "Engineer");
    s.serve(std::slice::from_ref(&lee)).await;
    s.expect(&["apply"], 0);
    let in_eng = format!("uid=lee.leaver,{}", s.ou("engineering"));
    // No refint here, yet the hand-granted values followed the move into the role's OU.
    for group in [&wiki, &solo] {
        assert!(
            member(&s, group, &in_eng) && !member(&s, group, &dn),
            "{group}"
        );
    }
    s.assert_converged();

    s.serve(&[terminated(lee.clone())]).await;
    let plan = s.expect(&["plan"], 0);
    assert!(plan.contains(&format!("- group {wiki}")), "{plan}");
    assert!(plan.contains("lifecycle.leaver_groups = \"all\""), "{plan}");
    s.expect(&["apply"], 0);
    let gone = format!("uid=lee.leaver,{}", s.dir.disabled_dn);
    assert!(!s.dir.can_bind(&gone, PASSWORD));
    for group in [&wiki, &solo] {
        assert!(
            !member(&s, group, &gone) && !member(&s, group, &in_eng),
            "{group}"
        );
    }
    // The group Lee was alone in stays valid: the placeholder went in first.
    assert!(!s.dir.group_members(&solo).is_empty());
    s.assert_converged();

    // Rehired: the role's groups come back, the hand-granted ones do not.
    s.serve(&[lee]).await;
    s.expect(&["apply"], 0);
    assert!(member(&s, &s.group("engineering"), &in_eng));
    assert!(!member(&s, &wiki, &in_eng));
    s.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn leaver_groups_managed_and_a_keep_list_leave_those_groups_alone() {
    let s = Scenario::start("leaver-keep").await;
    let alumni_dn = format!("cn=alumni,{}", s.dir.groups_dn);
    append_config(
        &s,
        &format!("[lifecycle]\nleaver_keep_groups = [\"{alumni_dn}\"]"),
    );
    let dn = s
        .dir
        .add_user("al.um", "2201", Some(PASSWORD), "cn: Al Um\nsn: Um");
    let al = person("2201", "Al", "Um", "Sales", "Rep");
    s.serve(std::slice::from_ref(&al)).await;
    s.expect(&["apply"], 0);
    let in_sales = format!("uid=al.um,{}", s.ou("sales"));
    let alumni = s.dir.add_group("alumni", &[&in_sales, &s.seed_member()]);
    let wiki = s.dir.add_group("wiki", &[&in_sales, &s.seed_member()]);
    let _ = dn;

    s.serve(&[terminated(al)]).await;
    s.expect(&["apply"], 0);
    let gone = format!("uid=al.um,{}", s.dir.disabled_dn);
    assert!(!member(&s, &wiki, &gone) && !member(&s, &wiki, &in_sales));
    // Kept, and the value follows the move to the disabled OU.
    assert!(
        member(&s, &alumni, &gone),
        "{:?}",
        s.dir.group_members(&alumni)
    );
    assert!(!member(&s, &alumni, &in_sales));
    s.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_movers_hand_granted_group_follows_the_move() {
    let s = Scenario::start("mover-follows").await;
    s.dir
        .add_user("mo.ver", "2301", Some(PASSWORD), "cn: Mo Ver\nsn: Ver");
    let mo = person("2301", "Mo", "Ver", "Engineering", "Engineer");
    s.serve(std::slice::from_ref(&mo)).await;
    s.expect(&["apply"], 0);
    let in_eng = format!("uid=mo.ver,{}", s.ou("engineering"));
    let project = s.dir.add_group("project-x", &[&in_eng, &s.seed_member()]);

    s.serve(&[person("2301", "Mo", "Ver", "Sales", "Rep")])
        .await;
    let plan = s.expect(&["plan"], 0);
    assert!(plan.contains(&format!("member of {project}")), "{plan}");
    s.expect(&["apply"], 0);
    let in_sales = format!("uid=mo.ver,{}", s.ou("sales"));
    assert!(
        member(&s, &project, &in_sales),
        "access kept under the new DN"
    );
    assert!(
        !member(&s, &project, &in_eng),
        "no value left for a namesake"
    );
    s.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_account_does_not_inherit_a_former_accounts_memberships() {
    let s = Scenario::start("inherit").await;
    // A former employee's entry was deleted by hand; its values stayed in the groups.
    let old = format!("uid=sam.same,{}", s.ou("sales"));
    let wiki = s.dir.add_group("wiki", &[&old, &s.seed_member()]);
    s.add_member("vpn", &old);
    s.serve(&[person("2401", "Sam", "Same", "Sales", "Rep")])
        .await;
    let plan = s.expect(&["plan"], 0);
    assert!(
        plan.contains("left by an earlier account of that name"),
        "{plan}"
    );
    s.expect(&["apply"], 0);
    assert!(s.dir.entry(&old).is_some(), "the new hire has the old name");
    assert!(!member(&s, &wiki, &old), "no hand-granted group inherited");
    assert!(
        !member(&s, &s.group("vpn"), &old),
        "no managed group the role does not give"
    );
    assert!(member(&s, &s.group("sales"), &old));
    s.assert_converged();
}

/// Only hrsync lifts hrsync's locks. An admin locks an active employee's account during an
/// incident (the permanent ppolicy lock admins use): every later run leaves it locked and says
/// so. A lock hrsync set itself (a leave) is lifted on return.
#[tokio::test(flavor = "multi_thread")]
async fn an_admins_lock_on_an_active_employee_holds() {
    let s = Scenario::start("admin-lock").await;
    let config = std::fs::read_to_string(&s.config).expect("read config");
    std::fs::write(
        &s.config,
        format!(
            "{}\n[lifecycle]\nleave = \"disable\"\n",
            config.replace(
                "active = [\"Active\"]",
                "active = [\"Active\"]\nleave = [\"On Leave\"]"
            )
        ),
    )
    .expect("write config");
    s.dir.add_user(
        "in.cident",
        "2501",
        Some(PASSWORD),
        "cn: In Cident\nsn: Cident",
    );
    s.dir
        .add_user("le.ave", "2502", Some(PASSWORD), "cn: Le Ave\nsn: Ave");
    let incident = person("2501", "In", "Cident", "Engineering", "Engineer");
    let mut leave = person("2502", "Le", "Ave", "Engineering", "Engineer");
    s.serve(&[incident.clone(), leave.clone()]).await;
    s.expect(&["apply"], 0);
    let locked = format!("uid=in.cident,{}", s.ou("engineering"));
    let away = format!("uid=le.ave,{}", s.ou("engineering"));

    // The admin's lock; and a leave, which hrsync locks.
    let out = s.dir.ldapmodify(&format!(
        "dn: {locked}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n"
    ));
    assert!(out.status.success(), "{out:?}");
    leave["status"] = serde_json::Value::String("On Leave".into());
    s.serve(&[incident.clone(), leave.clone()]).await;
    let plan = s.expect(&["plan"], 0);
    assert!(
        plan.contains("disabled outside hrsync while HR says active"),
        "{plan}"
    );
    s.expect(&["apply"], 0);
    assert!(!s.dir.can_bind(&locked, PASSWORD), "the admin's lock holds");
    assert!(!s.dir.can_bind(&away, PASSWORD), "on leave");
    let report = s.expect(&["report", "access", "--format", "json"], 0);
    let report: serde_json::Value = serde_json::from_str(&report).expect("report JSON");
    assert_eq!(
        report["summary"]["disabled_outside_hrsync"], 1,
        "{report:#}"
    );

    // Back from leave: hrsync lifts its own lock, never the admin's.
    leave["status"] = serde_json::Value::String("Active".into());
    s.serve(&[incident, leave]).await;
    s.expect(&["apply"], 0);
    assert!(s.dir.can_bind(&away, PASSWORD), "back from leave");
    assert!(
        s.dir
            .entry(&away)
            .expect("still there")
            .values("description")
            .is_empty(),
        "hrsync's mark is gone"
    );
    assert!(
        !s.dir.can_bind(&locked, PASSWORD),
        "still the admin's to lift"
    );
    s.assert_converged();
}
