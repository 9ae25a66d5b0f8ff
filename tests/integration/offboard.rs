//! `hrsync offboard`: security takes an account out of use now, and no later run gives it back
//! until an admin lifts the hold.

use crate::scenario::{Scenario, person};

const PASSWORD: &str = "Correct-Horse-9";

#[tokio::test(flavor = "multi_thread")]
async fn offboarded_account_stays_locked_until_an_admin_lifts_the_hold() {
    let s = Scenario::start("offboard").await;
    let hold = s.dir.add_group("hrsync-hold", &[&s.seed_member()]);
    s.write_config_with("", &format!("[offboarding]\nhold_group = \"{hold}\"\n"));
    s.dir
        .add_user("eve.evil", "1201", Some(PASSWORD), "cn: Eve Evil\nsn: Evil");
    s.serve(&[person("1201", "Eve", "Evil", "Engineering", "Engineer")])
        .await;
    s.expect(&["apply"], 0);
    let dn = s.dir.search(s.base(), "(employeeNumber=1201)", &["1.1"])[0]
        .dn
        .clone();
    assert!(s.dir.can_bind(&dn, PASSWORD));
    assert!(
        s.dir
            .group_members(&s.group("vpn"))
            .contains(&dn.to_lowercase())
    );

    let out = s.expect(
        &[
            "offboard",
            "1201",
            "--reason",
            "laptop stolen, ticket SEC-42",
        ],
        0,
    );
    assert!(
        out.contains("laptop stolen, ticket SEC-42"),
        "the reason is in the plan:\n{out}"
    );
    assert!(!s.dir.can_bind(&dn, PASSWORD), "locked out at once");
    for group in ["staff", "engineering", "vpn"] {
        assert!(
            !s.dir
                .group_members(&s.group(group))
                .contains(&dn.to_lowercase()),
            "{group}"
        );
    }
    assert!(
        s.dir.group_members(&hold).contains(&dn.to_lowercase()),
        "marked in the directory"
    );

    // HR still says active: the regular run must not undo the offboarding.
    let plan = s.expect(&["plan", "--detailed-exitcode"], 0);
    assert!(
        plan.contains("employee 1201") && plan.contains("offboarded"),
        "{plan}"
    );
    s.expect(&["apply"], 0);
    assert!(
        !s.dir.can_bind(&dn, PASSWORD),
        "still locked after a regular run"
    );

    // The admin lifts the hold. The lock is security's, not hrsync's: it stays (whatever
    // config runs next, with a hold group or without) until an admin lifts it too.
    let out = s.dir.ldapmodify(&format!(
        "dn: {hold}\nchangetype: modify\ndelete: member\nmember: {dn}\n"
    ));
    assert!(out.status.success(), "{out:?}");
    let plan = s.expect(&["plan"], 0);
    assert!(
        plan.contains("disabled outside hrsync while HR says active"),
        "{plan}"
    );
    s.expect(&["apply"], 0);
    assert!(!s.dir.can_bind(&dn, PASSWORD), "not unlocked by hrsync");
    // The admin unlocks it: the next run restores the account for its role.
    let out = s.dir.ldapmodify(&format!(
        "dn: {dn}\nchangetype: modify\ndelete: pwdAccountLockedTime\n"
    ));
    assert!(out.status.success(), "{out:?}");
    s.expect(&["apply"], 0);
    assert!(s.dir.can_bind(&dn, PASSWORD), "enabled again");
    assert!(
        s.dir
            .group_members(&s.group("vpn"))
            .contains(&dn.to_lowercase())
    );
    s.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn offboard_refuses_unknown_ids_and_missing_configuration_without_changes() {
    let s = Scenario::start("offboard-refuse").await;
    s.serve(&[]).await;
    let out = s.hrsync(&["offboard", "1", "--reason", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("offboarding.hold_group is not set"));

    let hold = s.dir.add_group("hrsync-hold", &[&s.seed_member()]);
    s.write_config_with("", &format!("[offboarding]\nhold_group = \"{hold}\"\n"));
    let before = s.dump();
    let out = s.hrsync(&["offboard", "does-not-exist", "--reason", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no account has employeeNumber=does-not-exist")
    );
    assert_eq!(s.dump(), before);
}
