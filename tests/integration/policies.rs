//! Lifecycle policies and protection against a real slapd: leave, conversions, opt-in orphan
//! disabling, protection by group and filter, and scheduled terminations.

use serde_json::Value;

use crate::scenario::{Scenario, person, terminated};

const PASSWORD: &str = "Correct-Horse-9";

fn append_config(s: &Scenario, text: &str) {
    let config = std::fs::read_to_string(&s.config).expect("read config");
    std::fs::write(&s.config, format!("{config}\n{text}\n")).expect("write config");
}

#[tokio::test(flavor = "multi_thread")]
async fn leave_disables_and_removes_groups_and_return_restores_them() {
    let s = Scenario::start("leave").await;
    append_config(
        &s,
        &format!(
            "[lifecycle]\nleave = \"disable\"\nleave_remove_groups = [\"{}\"]",
            s.group("vpn")
        ),
    );
    s.dir
        .add_user("lea.ve", "1401", Some(PASSWORD), "cn: Lea Ve\nsn: Ve");
    let mut lea = person("1401", "Lea", "Ve", "Engineering", "Engineer");
    s.serve(std::slice::from_ref(&lea)).await;
    s.expect(&["apply"], 0);
    let dn = format!("uid=lea.ve,{}", s.ou("engineering"));
    assert!(s.dir.can_bind(&dn, PASSWORD));

    lea["status"] = Value::String("On Leave".into());
    let config = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        config.replace(
            "active = [\"Active\"]",
            "active = [\"Active\"]\nleave = [\"On Leave\"]",
        ),
    )
    .unwrap();
    s.serve(std::slice::from_ref(&lea)).await;
    s.expect(&["apply"], 0);
    assert!(!s.dir.can_bind(&dn, PASSWORD), "disabled during the leave");
    assert!(
        !s.dir
            .group_members(&s.group("vpn"))
            .contains(&dn.to_lowercase())
    );
    assert!(
        s.dir
            .group_members(&s.group("engineering"))
            .contains(&dn.to_lowercase()),
        "other role groups kept"
    );
    s.assert_converged();

    lea["status"] = Value::String("Active".into());
    s.serve(&[lea]).await;
    let plan = s.expect(&["plan"], 0);
    assert!(plan.contains("return "), "{plan}");
    s.expect(&["apply"], 0);
    assert!(s.dir.can_bind(&dn, PASSWORD), "back from leave");
    assert!(
        s.dir
            .group_members(&s.group("vpn"))
            .contains(&dn.to_lowercase())
    );
    s.assert_converged();
}

/// On leave, an account stays as it is: none is made for someone on leave, and a role changed
/// during the leave moves and regroups the account only on return. Access the new role does
/// not give still goes at once.
#[tokio::test(flavor = "multi_thread")]
async fn on_leave_nothing_is_created_moved_or_granted_until_the_return() {
    let s = Scenario::start("leave-keep").await;
    let config = std::fs::read_to_string(&s.config).expect("read config");
    std::fs::write(
        &s.config,
        config.replace(
            "active = [\"Active\"]",
            "active = [\"Active\"]\nleave = [\"On Leave\"]",
        ),
    )
    .expect("write config");
    s.dir
        .add_user("kim.keep", "1501", Some(PASSWORD), "cn: Kim Keep\nsn: Keep");
    let kim = person("1501", "Kim", "Keep", "Engineering", "Engineer");
    s.serve(std::slice::from_ref(&kim)).await;
    s.expect(&["apply"], 0);
    let in_engineering = format!("uid=kim.keep,{}", s.ou("engineering"));
    assert!(s.dir.entry(&in_engineering).is_some());

    // On leave: Kim moves to Sales in HR; a new hire starts on leave.
    let mut away = person("1501", "Kim", "Keep", "Sales", "Rep");
    away["status"] = Value::String("On Leave".into());
    let mut new_hire = person("1502", "Lou", "Later", "Sales", "Rep");
    new_hire["status"] = Value::String("On Leave".into());
    s.serve(&[away.clone(), new_hire]).await;
    let plan = s.expect(&["plan"], 0);
    assert!(
        plan.contains("on leave and without an account: it is made when they return"),
        "{plan}"
    );
    s.expect(&["apply"], 0);
    assert!(
        s.dir.entry(&in_engineering).is_some(),
        "not moved during the leave"
    );
    assert!(
        s.dir
            .search(s.base(), "(employeeNumber=1502)", &["uid"])
            .is_empty(),
        "no account for someone who starts on leave"
    );
    let member = |group: &str| {
        s.dir
            .group_members(&s.group(group))
            .contains(&in_engineering.to_lowercase())
    };
    assert!(!member("sales"), "no new group during the leave");
    assert!(!member("engineering"), "the old role's group goes at once");
    assert!(s.dir.can_bind(&in_engineering, PASSWORD), "leave = keep");
    s.assert_converged();

    // Back: the new role takes effect.
    let mut back = away;
    back["status"] = Value::String("Active".into());
    s.serve(&[back]).await;
    s.expect(&["apply"], 0);
    let in_sales = format!("uid=kim.keep,{}", s.ou("sales"));
    assert!(s.dir.entry(&in_sales).is_some(), "moved on return");
    assert!(
        s.dir
            .group_members(&s.group("sales"))
            .contains(&in_sales.to_lowercase())
    );
    s.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_contractor_converted_under_a_new_id_keeps_one_account() {
    let s = Scenario::start("convert").await;
    let mappings = s.work.path().join("mappings/account.toml");
    let text = std::fs::read_to_string(&mappings).unwrap();
    std::fs::write(
        &mappings,
        format!(
            "[correlation]\nfallback_hr_field = \"email\"\nfallback_attribute = \"mail\"\n{text}"
        ),
    )
    .unwrap();
    let contractor = person("c-77", "Con", "Verted", "Engineering", "Contractor");
    s.serve(std::slice::from_ref(&contractor)).await;
    s.expect(&["apply"], 0);
    let dn = format!("uid=con.verted,{}", s.ou("engineering"));
    s.dir.ldapmodify(&format!(
        "dn: {dn}\nchangetype: modify\nreplace: userPassword\nuserPassword: {PASSWORD}\n"
    ));

    // HR: the contractor record ends, an employee record with a new id and the same mail starts.
    let mut employee = person("e-77", "Con", "Verted", "Engineering", "Engineer");
    employee["workEmail"] = contractor["workEmail"].clone();
    s.serve(&[terminated(contractor), employee]).await;
    let plan = s.expect(&["plan"], 0);
    assert!(
        plan.contains("converted: the account now belongs to employee e-77"),
        "{plan}"
    );
    s.expect(&["apply"], 0);
    let accounts = s.dir.search(
        s.base(),
        "(|(employeeNumber=c-77)(employeeNumber=e-77))",
        &["employeeNumber", "title"],
    );
    assert_eq!(accounts.len(), 1, "one account, not two: {accounts:?}");
    assert_eq!(accounts[0].first("employeeNumber"), Some("e-77"));
    assert_eq!(accounts[0].first("title"), Some("Engineer"));
    assert!(s.dir.can_bind(&dn, PASSWORD), "the person kept working");
    s.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn orphans_are_disabled_only_when_opted_in_and_protection_by_group_and_filter_holds() {
    let s = Scenario::start("orphans").await;
    let admins = s.dir.add_group("ldap-admins", &[&s.seed_member()]);
    let orphan = s.dir.add_user("or.phan", "1501", Some(PASSWORD), "");
    let admin = s.dir.add_user("ad.min", "1502", Some(PASSWORD), "");
    let glass = s.dir.add_user(
        "break.glass",
        "1503",
        Some(PASSWORD),
        "description: break-glass",
    );
    let out = s.dir.ldapmodify(&format!(
        "dn: {admins}\nchangetype: modify\nadd: member\nmember: {admin}\n"
    ));
    assert!(out.status.success());
    s.serve(&[person("1599", "Some", "One", "Sales", "Rep")])
        .await;

    // Reported, not changed.
    let plan = s.expect(&["plan"], 0);
    assert!(plan.contains("orphans") && plan.contains(&orphan), "{plan}");
    s.expect(&["apply", "--allow-limit", "create"], 0);
    assert!(s.dir.can_bind(&orphan, PASSWORD));

    // Opted in: the orphan is a leaver; the protected ones are not, whatever HR lacks.
    s.write_config(&format!(
        "[directory.protected]\ngroups = [\"{admins}\"]\nfilter = \"(description=break-glass)\""
    ));
    append_config(&s, "[lifecycle]\ndisable_orphans = true");
    let plan = s.expect(&["plan"], 0);
    assert!(plan.contains(&format!("member of {admins}")), "{plan}");
    assert!(
        plan.contains("matches directory.protected.filter"),
        "{plan}"
    );
    // The first run that misses the record only marks the account; the next one confirms.
    s.expect(&["apply"], 0);
    assert!(s.dir.can_bind(&orphan, PASSWORD), "not locked on one read");
    s.expect(&["apply"], 0);
    let locked = format!("uid=or.phan,{}", s.dir.disabled_dn);
    assert!(s.dir.entry(&locked).is_some(), "moved to the disabled OU");
    assert!(!s.dir.can_bind(&locked, PASSWORD), "orphan locked");
    assert!(
        s.dir.can_bind(&admin, PASSWORD) && s.dir.can_bind(&glass, PASSWORD),
        "protected untouched"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_termination_dated_in_the_future_is_scheduled_not_applied() {
    let s = Scenario::start("scheduled").await;
    s.dir
        .add_user("fu.ture", "1601", Some(PASSWORD), "cn: Fu Ture\nsn: Ture");
    let mut leaving = person("1601", "Fu", "Ture", "Sales", "Rep");
    leaving["terminationDate"] = Value::String("2999-12-31".into());
    leaving["status"] = Value::String("Inactive".into());
    s.serve(&[leaving]).await;
    let plan = s.expect(&["plan"], 0);
    assert!(
        plan.contains("scheduled") && plan.contains("employee 1601 leaves at 3000-01-01 00:00 UTC"),
        "{plan}"
    );
    s.expect(&["apply"], 0);
    assert!(
        s.dir
            .can_bind(&format!("uid=fu.ture,{}", s.ou("sales")), PASSWORD),
        "not before the date"
    );
}
