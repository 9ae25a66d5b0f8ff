//! The lifecycle on a real 389 Directory Server (tests/support/ds389.rs): joiners, movers with
//! its plugins on and off, leavers who then cannot bind (389 answers 53, "Account inactivated"),
//! rehires, pre-hires, a group's last member, protected accounts, offboarding, the locks that are
//! not hrsync's (an admin's, a role's), `check`, a service account that may not read
//! `cn=config`, and the hostile HR corpus. Every apply is followed by a plan that must be empty.

use serde_json::Value;

use crate::scenario::{Scenario, person, terminated};
use crate::support::ds389::Plugins;

const PASSWORD: &str = "Correct-Horse-9";

/// 389's answer to a bind as a locked account (`nsAccountLock: true`), right password or not.
const INACTIVATED: i32 = 53;

/// The LDAP result of a simple bind as `dn` (see `TestDirectory::bind_result`).
fn bind(s: &Scenario, dn: &str, password: &str) -> i32 {
    s.dir.bind_result(dn, password)
}

/// `dsidm` on the instance with these plugins, as its administrator would run it.
fn dsidm(plugins: Plugins, args: &[&str]) -> String {
    let mut command = crate::support::ds389::instance(plugins).dsidm();
    command.args(args);
    crate::support::ds389::run_tool(command)
}

fn members(s: &Scenario, group: &str) -> std::collections::BTreeSet<String> {
    s.dir.group_members(&s.group(group))
}

/// The account with this employee number, wherever it is.
fn find(s: &Scenario, id: &str) -> crate::support::Entry {
    let found = s.dir.search(
        s.base(),
        &format!("(employeeNumber={id})"),
        &["*", "nsAccountLock"],
    );
    assert_eq!(found.len(), 1, "one account for employee {id}: {found:?}");
    found.into_iter().next().expect("one")
}

/// `ou=<ou>`'s account for `uid`, in the role OU, with a password and the groups given.
fn add_in(s: &Scenario, ou: &str, uid: &str, id: &str, groups: &[&str]) -> String {
    let dn = s.dir.add_user(uid, id, Some(PASSWORD), "");
    let out = s.dir.ldapmodify(&format!(
        "dn: {dn}\nchangetype: modrdn\nnewrdn: uid={uid}\ndeleteoldrdn: 0\nnewsuperior: {}\n",
        s.ou(ou)
    ));
    assert!(out.status.success(), "{out:?}");
    let dn = format!("uid={uid},{}", s.ou(ou));
    for group in groups {
        s.add_member(group, &dn);
    }
    dn
}

#[tokio::test(flavor = "multi_thread")]
async fn ds389_joiner_mover_leaver_and_rehire_with_a_real_bind_after_each_apply() {
    let s = Scenario::start_389("ds-lifecycle", Plugins::None).await;
    let grace = add_in(
        &s,
        "engineering",
        "grace.hopper",
        "201",
        &["staff", "engineering", "vpn"],
    );
    let bob = add_in(
        &s,
        "engineering",
        "bob.builder",
        "301",
        &["staff", "engineering", "vpn"],
    );
    let mut ada = person("101", "Ada", "Lovelace", "Engineering", "Engineer");
    let mover = person("201", "Grace", "Hopper", "Sales", "Account Executive");
    let bob_record = person("301", "Bob", "Builder", "Engineering", "Engineer");
    s.serve(&[ada.clone(), mover.clone(), terminated(bob_record.clone())])
        .await;
    assert_eq!(bind(&s, &bob, PASSWORD), 0);

    let plan = s.expect(&["plan"], 0);
    assert!(
        plan.contains("disable the account (nsAccountLock: true)"),
        "{plan}"
    );
    assert!(!plan.contains("pwdAccountLockedTime"), "{plan}");
    s.expect(&["apply"], 0);

    // The joiner, in its role OU and groups.
    let joiner = format!("uid=ada.lovelace,{}", s.ou("engineering")).to_lowercase();
    assert!(s.dir.entry(&joiner).is_some());
    for group in ["staff", "engineering", "vpn"] {
        assert!(members(&s, group).contains(&joiner), "{group}");
    }
    // The mover: moved, regrouped, and no stale DN (no plugin here: hrsync rewrote the value).
    let moved = format!("uid=grace.hopper,{}", s.ou("sales")).to_lowercase();
    assert!(s.dir.entry(&grace).is_none());
    assert!(members(&s, "staff").contains(&moved));
    assert!(members(&s, "sales").contains(&moved));
    for group in ["staff", "engineering", "vpn", "sales"] {
        assert!(
            !members(&s, group).contains(&grace.to_lowercase()),
            "stale DN in {group}"
        );
    }
    assert_eq!(bind(&s, &moved, PASSWORD), 0, "a mover keeps working");
    // The leaver: locked the 389 way, out of every group, in the disabled OU.
    let gone = format!("uid=bob.builder,{}", s.dir.disabled_dn);
    let entry = find(&s, "301");
    assert_eq!(entry.dn.to_lowercase(), gone.to_lowercase());
    assert_eq!(entry.first("nsaccountlock"), Some("true"));
    assert_eq!(
        bind(&s, &gone, PASSWORD),
        INACTIVATED,
        "the leaver cannot log in"
    );
    assert_eq!(bind(&s, &gone, "wrong"), INACTIVATED);
    for group in ["staff", "engineering", "vpn"] {
        assert!(
            !members(&s, group).contains(&gone.to_lowercase()),
            "{group}"
        );
    }
    // dsidm, the server's own tool, agrees.
    let status = dsidm(Plugins::None, &["account", "entry-status", &gone]);
    assert!(
        status.contains("directly locked through nsAccountLock"),
        "{status}"
    );
    s.assert_converged();

    // Rehire: back in the role's OU and groups, and able to log in again.
    ada["jobTitle"] = Value::String("Engineer".into());
    s.serve(&[ada, mover, bob_record]).await;
    let plan = s.expect(&["plan"], 0);
    assert!(plan.contains("rehire "), "{plan}");
    s.expect(&["apply"], 0);
    let back = format!("uid=bob.builder,{}", s.ou("engineering"));
    let entry = find(&s, "301");
    assert_eq!(entry.dn.to_lowercase(), back.to_lowercase());
    assert!(!entry.has("nsaccountlock"), "hrsync's lock is gone");
    assert_eq!(bind(&s, &back, PASSWORD), 0);
    assert!(members(&s, "vpn").contains(&back.to_lowercase()));
    s.assert_converged();
}

/// With the MemberOf or the referential integrity plugin on, the server rewrites a mover's member
/// values itself: hrsync reads that from cn=plugins,cn=config and leaves them to it, so the first
/// apply succeeds (a second rewrite would fail on a value that is gone) and no stale DN is left.
#[tokio::test(flavor = "multi_thread")]
async fn ds389_a_movers_values_follow_by_the_plugins_and_the_first_apply_succeeds() {
    for plugins in [Plugins::MemberOf, Plugins::Refint] {
        let s = Scenario::start_389("ds-plugins", plugins).await;
        let old = add_in(
            &s,
            "engineering",
            "kath.johnson",
            "401",
            &["staff", "engineering"],
        );
        s.serve(&[person("401", "Kath", "Johnson", "Sales", "Rep")])
            .await;
        let plan = s.expect(&["plan"], 0);
        assert!(plan.contains("> move "), "{plan}");
        assert!(
            !plan.contains("follows the move"),
            "{plugins:?}: left to the server:\n{plan}"
        );
        s.expect(&["apply"], 0);
        let new = format!("uid=kath.johnson,{}", s.ou("sales")).to_lowercase();
        let staff = members(&s, "staff");
        assert!(staff.contains(&new), "{plugins:?}: {staff:?}");
        assert!(
            !staff.contains(&old.to_lowercase()),
            "{plugins:?}: stale {staff:?}"
        );
        assert!(members(&s, "sales").contains(&new));
        s.assert_converged();
    }
}

/// 389 allows empty groups: the last member leaves a group with no placeholder put in.
#[tokio::test(flavor = "multi_thread")]
async fn ds389_a_groups_last_member_leaves_it_empty_with_no_placeholder() {
    let s = Scenario::start_389("ds-last", Plugins::None).await;
    let only = s.dir.add_user("solo.member", "501", Some(PASSWORD), "");
    let team = s.dir.add_group("solo-team", &[&only]);
    std::fs::write(
        s.work.path().join("mappings/solo.toml"),
        "[[rule]]\nname = \"solo\"\nmatch = { title = \"Solo\" }\ngroups = [\"solo-team\"]\n",
    )
    .expect("write a rule");
    s.serve(&[terminated(person("501", "Solo", "Member", "Sales", "Solo"))])
        .await;
    s.expect(&["apply"], 0);
    let group = s.dir.entry(&team).expect("the group stays");
    assert!(!group.has("member"), "empty: {group:?}");
    let everything = s.dir.search(s.base(), "(member=*)", &["member"]);
    assert!(
        everything.iter().all(|g| g
            .values("member")
            .iter()
            .all(|m| !m.contains("placeholder"))),
        "{everything:?}"
    );
    assert_eq!(bind(&s, &find(&s, "501").dn, PASSWORD), INACTIVATED);
    s.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn ds389_prehire_account_is_created_locked_and_unlocked_on_the_start_date() {
    let s = Scenario::start_389("ds-prehire", Plugins::None).await;
    let config = std::fs::read_to_string(&s.config).expect("config");
    std::fs::write(
        &s.config,
        format!("{config}\n[lifecycle]\nprehire_days = 7\n"),
    )
    .expect("config");
    #[allow(clippy::disallowed_methods)] // the test pins dates relative to the real today
    let today = chrono::Utc::now().date_naive();
    let mut hire = person("601", "Pre", "Hire", "Sales", "Rep");
    hire["hireDate"] = Value::String((today + chrono::Duration::days(5)).to_string());
    s.serve(&[hire.clone()]).await;
    s.expect(&["apply"], 0);
    let account = find(&s, "601");
    assert_eq!(
        account.first("nsaccountlock"),
        Some("true"),
        "created locked"
    );
    assert!(members(&s, "sales").contains(&account.dn.to_lowercase()));
    // The password the new employee will get: still no login before the start date.
    let out = s.dir.ldapmodify(&format!(
        "dn: {}\nchangetype: modify\nreplace: userPassword\nuserPassword: {PASSWORD}\n",
        account.dn
    ));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(bind(&s, &account.dn, PASSWORD), INACTIVATED);
    s.assert_converged();

    hire["hireDate"] = Value::String(today.to_string());
    s.serve(&[hire]).await;
    s.expect(&["apply"], 0);
    assert!(!find(&s, "601").has("nsaccountlock"));
    assert_eq!(
        bind(&s, &account.dn, PASSWORD),
        0,
        "unlocked on the start date"
    );
    s.assert_converged();
}

/// Only hrsync lifts hrsync's locks. An admin's `dsidm account lock` on an active employee holds;
/// a role's lock holds an active mover in place, named in the plan; a leaver under a role's lock
/// still gets a lock of its own, so unlocking the role does not let the leaver back in; and a
/// protected account is never touched.
#[tokio::test(flavor = "multi_thread")]
async fn ds389_an_admins_lock_and_a_roles_lock_are_left_alone_and_never_stand_in_for_hrsyncs() {
    let s = Scenario::start_389("ds-locks", Plugins::None).await;
    let admin_locked = add_in(
        &s,
        "engineering",
        "al.locked",
        "701",
        &["staff", "engineering", "vpn"],
    );
    let role_mover = add_in(
        &s,
        "engineering",
        "ro.mover",
        "702",
        &["staff", "engineering", "vpn"],
    );
    let role_leaver = add_in(
        &s,
        "engineering",
        "ro.leaver",
        "703",
        &["staff", "engineering", "vpn"],
    );
    let boss = add_in(
        &s,
        "engineering",
        "the.boss",
        "704",
        &["staff", "engineering", "vpn"],
    );
    s.write_config(&format!("[directory.protected]\ndns = [\"{boss}\"]\n"));
    dsidm(Plugins::None, &["account", "lock", &admin_locked]);
    let role = format!("cn=hrsync-test-contractors,{}", s.base());
    s.dir.ldapadd(&format!(
        "dn: {role}\nobjectClass: top\nobjectClass: LDAPsubentry\nobjectClass: nsRoleDefinition\n\
         objectClass: nsSimpleRoleDefinition\nobjectClass: nsManagedRoleDefinition\n\
         cn: hrsync-test-contractors\n"
    ));
    for dn in [&role_mover, &role_leaver] {
        let out = s.dir.ldapmodify(&format!(
            "dn: {dn}\nchangetype: modify\nadd: nsRoleDN\nnsRoleDN: {role}\n"
        ));
        assert!(out.status.success(), "{out:?}");
    }
    dsidm(Plugins::None, &["role", "lock", &role]);
    assert_eq!(bind(&s, &role_mover, PASSWORD), INACTIVATED);
    let before_boss = s.dir.entry(&boss);

    s.serve(&[
        person("701", "Al", "Locked", "Sales", "Rep"),
        person("702", "Ro", "Mover", "Sales", "Rep"),
        terminated(person("703", "Ro", "Leaver", "Engineering", "Engineer")),
        terminated(person("704", "The", "Boss", "Engineering", "CEO")),
    ])
    .await;
    let plan = s.expect(&["plan"], 0);
    assert!(
        plan.contains("disabled outside hrsync while HR says active"),
        "{plan}"
    );
    assert!(
        plan.contains("locked by a 389-DS role") && plan.contains("hrsync-test-contractors"),
        "{plan}"
    );
    s.expect(&["apply"], 0);

    // The admin's lock: still locked, not moved or regrouped.
    assert!(s.dir.entry(&admin_locked).is_some(), "not moved");
    assert_eq!(bind(&s, &admin_locked, PASSWORD), INACTIVATED);
    // The role-locked mover: left where it is.
    assert!(s.dir.entry(&role_mover).is_some(), "not moved");
    assert!(members(&s, "vpn").contains(&role_mover.to_lowercase()));
    // The role-locked leaver: a lock of its own, out of every group.
    let leaver = find(&s, "703");
    assert_eq!(leaver.first("nsaccountlock"), Some("true"), "its own lock");
    for group in ["staff", "engineering", "vpn"] {
        assert!(
            !members(&s, group).contains(&leaver.dn.to_lowercase()),
            "{group}"
        );
    }
    // The protected account: untouched, whatever HR says.
    assert_eq!(s.dir.entry(&boss), before_boss);
    assert_eq!(bind(&s, &boss, PASSWORD), 0);
    s.assert_converged();

    // The admin lifts the role: the leaver stays locked out, the mover may log in again.
    dsidm(Plugins::None, &["role", "unlock", &role]);
    assert_eq!(
        bind(&s, &leaver.dn, PASSWORD),
        INACTIVATED,
        "hrsync's lock outlives the role's"
    );
    assert_eq!(bind(&s, &role_mover, PASSWORD), 0);
    // And hrsync now moves the mover, and still does not lift the admin's lock.
    s.expect(&["apply"], 0);
    assert!(
        find(&s, "702")
            .dn
            .to_lowercase()
            .contains(&s.ou("sales").to_lowercase())
    );
    assert_eq!(bind(&s, &admin_locked, PASSWORD), INACTIVATED);
    s.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn ds389_offboard_locks_at_once_and_a_regular_run_does_not_undo_it() {
    let s = Scenario::start_389("ds-offboard", Plugins::None).await;
    let hold = s.dir.add_group("hrsync-hold", &[&s.seed_member()]);
    s.write_config_with("", &format!("[offboarding]\nhold_group = \"{hold}\"\n"));
    let dn = add_in(
        &s,
        "engineering",
        "eve.evil",
        "801",
        &["staff", "engineering", "vpn"],
    );
    s.serve(&[person("801", "Eve", "Evil", "Engineering", "Engineer")])
        .await;
    s.expect(&["apply"], 0);
    assert_eq!(bind(&s, &dn, PASSWORD), 0);
    s.expect(&["offboard", "801", "--reason", "laptop stolen"], 0);
    let dn = find(&s, "801").dn;
    assert_eq!(bind(&s, &dn, PASSWORD), INACTIVATED, "locked out at once");
    assert!(!members(&s, "vpn").contains(&dn.to_lowercase()));
    s.expect(&["apply"], 0);
    assert_eq!(
        bind(&s, &dn, PASSWORD),
        INACTIVATED,
        "still locked after a regular run"
    );
}

/// `check` names the server from its root DSE, and says so when the configured flavour is not
/// the server's: an OpenLDAP config pointed at 389 would lock nobody out.
#[tokio::test(flavor = "multi_thread")]
async fn ds389_check_identifies_the_server_and_a_wrong_flavour() {
    let s = Scenario::start_389("ds-check", Plugins::None).await;
    s.serve(&[person("901", "Che", "Cker", "Sales", "Rep")])
        .await;
    let out = s.expect(&["check"], 0);
    assert!(
        out.contains("  server: 389 Directory Server (389 Project 389-Directory/"),
        "{out}"
    );
    assert!(!out.contains("WARNING"), "{out}");
    assert!(out.contains("  bound as: cn=directory manager"), "{out}");
    assert!(
        out.contains(
            "  member values on a move: rewritten by hrsync (no plugin of the server does)"
        ),
        "{out}"
    );
    // An admin who took an OpenLDAP config (placeholder and all) and forgot the flavour.
    let config = std::fs::read_to_string(&s.config).expect("config");
    std::fs::write(
        &s.config,
        config.replace("flavour = \"389ds\"", "flavour = \"openldap\""),
    )
    .expect("config");
    let groups = s.work.path().join("mappings/groups.toml");
    let text = std::fs::read_to_string(&groups).expect("groups");
    let placeholder = format!("empty_group_placeholder = \"cn=placeholder,{}\"", s.base());
    std::fs::write(
        &groups,
        text.replacen(
            "birthright = [\"staff\"]",
            &format!("birthright = [\"staff\"]\n{placeholder}"),
            1,
        ),
    )
    .expect("groups");
    // Every command refuses to run: an OpenLDAP lock would stop no login on 389.
    let before = s.dump();
    let wrong = "directory.flavour is openldap, but the server at";
    let out = s.hrsync(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(wrong), "{stdout}");
    assert!(
        stdout.contains("set directory.flavour = \"389ds\""),
        "{stdout}"
    );
    s.serve(&[terminated(person("901", "Che", "Cker", "Sales", "Rep"))])
        .await;
    for command in [&["plan"][..], &["apply"][..]] {
        let out = s.hrsync(command);
        assert_eq!(out.status.code(), Some(1), "{command:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(wrong), "{stderr}");
    }
    assert_eq!(s.dump(), before, "nothing written");
}

/// A service account with the ACIs docs/src/directories/389ds.md gives (no Directory Manager, no
/// read access to cn=config): a run cannot tell what the plugins do and stops before any change,
/// naming the setting; with the setting, the whole lifecycle works under those ACIs alone.
#[tokio::test(flavor = "multi_thread")]
async fn ds389_a_service_account_with_the_documented_acis_runs_once_the_rename_rule_is_set() {
    let s = Scenario::start_389("ds-service", Plugins::None).await;
    let service = format!("uid=hrsync-svc,{}", s.base());
    s.dir.ldapadd(&format!(
        "dn: {service}\nobjectClass: account\nobjectClass: simpleSecurityObject\n\
         uid: hrsync-svc\nuserPassword: {PASSWORD}\n"
    ));
    let who = format!("userdn=\"ldap:///{service}\"");
    let base = s.base().to_string();
    let acis = [
        format!(
            "(target=\"ldap:///{base}\")(targetfilter=\"(objectClass=inetOrgPerson)\")(targetattr=\"objectClass || uid || cn || sn || givenName || mail || title || departmentNumber || employeeType || manager || employeeNumber || description || nsAccountLock\")(version 3.0; acl \"hrsync: accounts\"; allow (read, search, compare, add, write) {who};)"
        ),
        format!(
            "(target_from=\"ldap:///{base}\")(target_to=\"ldap:///{base}\")(version 3.0; acl \"hrsync: moves\"; allow (moddn) {who};)"
        ),
        format!(
            "(target=\"ldap:///{}\")(targetattr=\"member || cn || objectClass\")(version 3.0; acl \"hrsync: group members\"; allow (read, search, compare, write) {who};)",
            s.dir.groups_dn
        ),
        format!(
            "(target=\"ldap:///cn=hrsync-lease,{base}\")(targetattr=\"objectClass || cn || description\")(version 3.0; acl \"hrsync: lease\"; allow (all) {who};)"
        ),
    ];
    let mut ldif = format!("dn: {base}\nchangetype: modify\nadd: aci\n");
    for aci in &acis {
        ldif.push_str(&format!("aci: {aci}\n"));
    }
    let out = s.dir.ldapmodify(&ldif);
    assert!(out.status.success(), "{out:?}");
    let mover = add_in(
        &s,
        "engineering",
        "mo.ver",
        "1001",
        &["staff", "engineering"],
    );
    let leaver = add_in(
        &s,
        "engineering",
        "le.aver",
        "1002",
        &["staff", "engineering", "vpn"],
    );
    s.serve(&[
        person("1001", "Mo", "Ver", "Sales", "Rep"),
        terminated(person("1002", "Le", "Aver", "Engineering", "Engineer")),
        person("1003", "Jo", "Iner", "Engineering", "Engineer"),
    ])
    .await;
    let config = std::fs::read_to_string(&s.config).expect("config");
    let as_service = config.replace(
        &format!("bind_dn = \"{}\"", s.dir.admin_dn),
        &format!("bind_dn = \"{service}\""),
    );
    std::fs::write(&s.config, &as_service).expect("config");
    let env = [(crate::scenario::BIND_PASSWORD_ENV, PASSWORD)];
    let before = s.dump();
    let out = s.hrsync_with_env(&["apply"], &env);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("directory.389ds.member_values_follow_renames"),
        "{stderr}"
    );
    assert_eq!(s.dump(), before, "nothing written");

    std::fs::write(
        &s.config,
        format!("{as_service}\n[directory.389ds]\nmember_values_follow_renames = false\n"),
    )
    .expect("config");
    let out = s.hrsync_with_env(&["apply"], &env);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let moved = format!("uid=mo.ver,{}", s.ou("sales")).to_lowercase();
    assert!(members(&s, "staff").contains(&moved));
    assert!(!members(&s, "staff").contains(&mover.to_lowercase()));
    let gone = find(&s, "1002").dn;
    assert_eq!(bind(&s, &gone, PASSWORD), INACTIVATED);
    assert!(!members(&s, "vpn").contains(&leaver.to_lowercase()));
    assert!(
        s.dir
            .search(s.base(), "(employeeNumber=1003)", &["1.1"])
            .len()
            == 1
    );
    let out = s.hrsync_with_env(&["plan", "--detailed-exitcode"], &env);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

/// `hrsync sync` (and so every event) reads a few accounts with the same reader as a full run:
/// a leaver named in it is locked the 389 way and cannot log in, and a role-locked active
/// account named with it is left alone, as a full run would.
#[tokio::test(flavor = "multi_thread")]
async fn ds389_sync_locks_a_leaver_and_leaves_a_role_locked_account_alone() {
    let s = Scenario::start_389("ds-sync", Plugins::None).await;
    let one = "/api/gateway.php/acme/v1/employees";
    let config = std::fs::read_to_string(&s.config).expect("config");
    let single = format!(
        "records = \"/employees\"\nemployee_url = \"{}{one}/{{id}}\"",
        s.hr.uri()
    );
    std::fs::write(
        &s.config,
        config.replacen("records = \"/employees\"", &single, 1),
    )
    .expect("config");
    let leaver = add_in(
        &s,
        "engineering",
        "lee.ver",
        "1101",
        &["staff", "engineering", "vpn"],
    );
    let locked = add_in(
        &s,
        "engineering",
        "ro.le",
        "1102",
        &["staff", "engineering", "vpn"],
    );
    let role = format!("cn=hrsync-test-sync-role,{}", s.base());
    s.dir.ldapadd(&format!(
        "dn: {role}\nobjectClass: top\nobjectClass: LDAPsubentry\nobjectClass: nsRoleDefinition\n\
         objectClass: nsSimpleRoleDefinition\nobjectClass: nsManagedRoleDefinition\n\
         cn: hrsync-test-sync-role\n"
    ));
    let out = s.dir.ldapmodify(&format!(
        "dn: {locked}\nchangetype: modify\nadd: nsRoleDN\nnsRoleDN: {role}\n"
    ));
    assert!(out.status.success(), "{out:?}");
    dsidm(Plugins::None, &["role", "lock", &role]);
    s.hr.reset().await;
    for record in [
        terminated(person("1101", "Lee", "Ver", "Engineering", "Engineer")),
        person("1102", "Ro", "Le", "Sales", "Rep"),
    ] {
        let id = record["id"].as_str().expect("id").to_string();
        wiremock::Mock::given(wiremock::matchers::method("GET"))
            .and(wiremock::matchers::path(format!("{one}/{id}")))
            .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(record))
            .mount(&s.hr)
            .await;
    }
    assert_eq!(bind(&s, &leaver, PASSWORD), 0);
    let out = s.expect(&["sync", "1101", "1102"], 0);
    assert!(out.contains("locked by a 389-DS role"), "{out}");
    let gone = find(&s, "1101");
    assert_eq!(gone.first("nsaccountlock"), Some("true"));
    assert_eq!(
        bind(&s, &gone.dn, PASSWORD),
        INACTIVATED,
        "the leaver cannot log in"
    );
    for group in ["staff", "engineering", "vpn"] {
        assert!(
            !members(&s, group).contains(&gone.dn.to_lowercase()),
            "{group}"
        );
    }
    assert!(
        s.dir.entry(&locked).is_some(),
        "the role-locked mover is not moved"
    );
    assert!(members(&s, "vpn").contains(&locked.to_lowercase()));
}

/// A password-policy lockout (too many wrong passwords: `accountUnlockTime`, result 19) is the
/// server's own lock. It is not taken for a disabled account, so a leaver who is locked out
/// still gets hrsync's lock; and a rehire's enable deletes only that lock, so the lockout is not
/// forgiven: the password-guesser is still locked out after the rehire.
#[tokio::test(flavor = "multi_thread")]
async fn ds389_a_lockout_is_neither_mistaken_for_a_lock_nor_lifted_by_a_rehire() {
    let s = Scenario::start_389("ds-lockout", Plugins::None).await;
    // A policy on this test's people only: the shared instance's global policy stays as it is.
    let mut dsconf = crate::support::ds389::instance(Plugins::None).dsconf();
    dsconf
        .args(["localpwp", "addsubtree", &s.dir.people_dn])
        .args(["--pwdlockout", "on", "--pwdmaxfailures", "2"]);
    crate::support::ds389::run_tool(dsconf);
    let dn = add_in(
        &s,
        "engineering",
        "gue.sser",
        "1201",
        &["staff", "engineering", "vpn"],
    );
    let record = person("1201", "Gue", "Sser", "Engineering", "Engineer");
    s.serve(std::slice::from_ref(&record)).await;
    s.expect(&["apply"], 0);
    for _ in 0..3 {
        bind(&s, &dn, "guess");
    }
    assert_eq!(
        bind(&s, &dn, PASSWORD),
        19,
        "locked out by the password policy"
    );
    // Not a disabled account to hrsync: an active employee's plan is empty.
    s.assert_converged();

    s.serve(&[terminated(record.clone())]).await;
    s.expect(&["apply"], 0);
    let gone = find(&s, "1201");
    assert_eq!(
        gone.first("nsaccountlock"),
        Some("true"),
        "hrsync's own lock"
    );
    assert_ne!(bind(&s, &gone.dn, PASSWORD), 0);

    s.serve(&[record]).await;
    s.expect(&["apply"], 0);
    let back = find(&s, "1201");
    assert_eq!(
        back.dn.to_lowercase(),
        dn.to_lowercase(),
        "back in its role's OU"
    );
    assert!(!back.has("nsaccountlock"), "hrsync lifted its own lock");
    assert_eq!(
        bind(&s, &dn, PASSWORD),
        19,
        "and not the lockout: a rehire does not forgive a password-guesser"
    );
    s.assert_converged();
}
