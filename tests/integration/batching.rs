//! `apply` merges the membership changes that one round makes to one group into one modify.
//! A modify is atomic, so when the server refuses one member change inside it, the others must
//! still land and the refusal must be reported against the account it belongs to.

use crate::scenario::{Scenario, person};

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_member_change_inside_a_merged_modify_fails_only_its_own_account() {
    let s = Scenario::start("batch-refusal").await;
    let names = [
        ("801", "Ann", "Able"),
        ("802", "Bob", "Baker"),
        ("803", "Cid", "Cole"),
        ("804", "Dee", "Dunn"),
    ];
    let people = |department: &str| -> Vec<_> {
        names
            .iter()
            .map(|(id, first, last)| person(id, first, last, department, "Analyst"))
            .collect()
    };
    s.serve(&people("Sales")).await;
    s.expect(&["apply"], 0);

    // All four move from Sales to Engineering: each leaves sales, moves OU, has its staff member
    // value rewritten to the new DN (no refint here), then joins engineering and vpn. The four
    // accounts take these steps in the same rounds, so each group gets one merged modify.
    let old = |uid: &str| format!("uid={uid},{}", s.ou("sales"));
    let new = |uid: &str| format!("uid={uid},{}", s.ou("engineering"));
    // By hand: Ann's future DN is already a member of staff, so the server refuses her rewrite
    // (attribute or value exists) and with it the whole merged modify of staff.
    s.add_member("staff", &new("ann.able"));
    s.serve(&people("Engineering")).await;
    let out = s.hrsync(&["apply"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "! failed: rewrite member {} as {} in {}",
            old("ann.able"),
            new("ann.able"),
            s.group("staff")
        )) && stdout.contains("attribute or value exists"),
        "the refusal is reported against Ann's own step, with the LDAP reason:\n{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "! not attempted (an earlier change of the account failed): add {} to {}",
            new("ann.able"),
            s.group("engineering")
        )),
        "Ann's later group changes are not attempted:\n{stdout}"
    );
    // One failure and Ann's two later steps (engineering, vpn); nobody else's.
    assert!(
        stdout.contains("3 failed or not attempted"),
        "only Ann's steps failed:\n{stdout}"
    );
    // The plan's warnings are "!" lines too (the pre-placed member value is named as one that
    // looks left behind by a move); only the apply's failure lines count here.
    let failures: Vec<&str> = stdout
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("! failed") || l.starts_with("! not attempted"))
        .collect();
    assert_eq!(failures.len(), 3, "{failures:#?}");
    assert!(
        failures.iter().all(|l| l.contains("uid=ann.able,")),
        "every failure is Ann's: {failures:#?}"
    );

    let staff = s.dir.group_members(&s.group("staff"));
    let engineering = s.dir.group_members(&s.group("engineering"));
    let vpn = s.dir.group_members(&s.group("vpn"));
    let sales = s.dir.group_members(&s.group("sales"));
    for uid in ["bob.baker", "cid.cole", "dee.dunn"] {
        let (old, new) = (old(uid).to_lowercase(), new(uid).to_lowercase());
        assert!(s.dir.entry(&new).is_some(), "{uid} moved");
        assert!(
            staff.contains(&new) && !staff.contains(&old),
            "{uid}: staff member value rewritten despite Ann's refusal in the same modify: {staff:?}"
        );
        assert!(engineering.contains(&new), "{uid} in engineering");
        assert!(vpn.contains(&new), "{uid} in vpn");
        assert!(!sales.contains(&old), "{uid} out of sales");
    }
    let ann = new("ann.able").to_lowercase();
    assert!(
        s.dir.entry(&ann).is_some(),
        "Ann's move (an earlier step) applied"
    );
    assert!(
        !engineering.contains(&ann) && !vpn.contains(&ann),
        "no group change after Ann's failed step"
    );

    // The next run plans from what is there and converges.
    s.expect(&["apply"], 0);
    s.assert_converged();
    assert!(s.dir.group_members(&s.group("engineering")).contains(&ann));
}
