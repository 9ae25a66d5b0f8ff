//! Absence is not termination (issue 17, item 1), against a real slapd: with
//! `lifecycle.disable_orphans`, an active employee whose record one HR read left out (a record
//! deleted during an offset-paged fetch shifts the pages) keeps their access. The scenario's HR
//! source cannot read one employee, so the absence is confirmed by a second run: the first only
//! marks the account, the next locks, strips and moves it if the record is still missing, and
//! takes the mark off if it is back.

use serde_json::Value;

use crate::scenario::{Scenario, person};

const PASSWORD: &str = "Correct-Horse-9";

/// A scenario with `disable_orphans` on, two active engineers provisioned, and the second one's
/// record left out of the next read; returns the scenario, both records and the second's DN.
async fn one_record_missing(name: &str) -> (Scenario, Vec<Value>, String) {
    let s = Scenario::start(name).await;
    let config = std::fs::read_to_string(&s.config).expect("read config");
    std::fs::write(
        &s.config,
        format!("{config}\n[lifecycle]\ndisable_orphans = true\n"),
    )
    .expect("write config");
    s.dir.add_user(
        "kay.stays",
        "1701",
        Some(PASSWORD),
        "cn: Kay Stays\nsn: Stays",
    );
    s.dir.add_user(
        "mo.skipped",
        "1702",
        Some(PASSWORD),
        "cn: Mo Skipped\nsn: Skipped",
    );
    let records = vec![
        person("1701", "Kay", "Stays", "Engineering", "Engineer"),
        person("1702", "Mo", "Skipped", "Engineering", "Engineer"),
    ];
    s.serve(&records).await;
    s.expect(&["apply"], 0);
    let dn = format!("uid=mo.skipped,{}", s.ou("engineering"));
    assert!(s.dir.can_bind(&dn, PASSWORD), "provisioned and enabled");
    s.serve(&records[..1]).await;
    (s, records, dn)
}

/// The values of hrsync's absence mark on `dn`.
fn absence_marks(s: &Scenario, dn: &str) -> Vec<String> {
    s.dir
        .entry(dn)
        .map(|e| {
            e.values("description")
                .iter()
                .filter(|v| v.starts_with("hrsync-absent-since="))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn has_access(s: &Scenario, dn: &str) -> bool {
    s.dir.can_bind(dn, PASSWORD)
        && ["staff", "engineering", "vpn"].iter().all(|cn| {
            s.dir
                .group_members(&s.group(cn))
                .contains(&dn.to_lowercase())
        })
}

/// Before the fix the first apply locked Mo, took every group and moved the account.
#[tokio::test(flavor = "multi_thread")]
async fn a_record_missing_from_one_read_costs_no_access_and_its_return_clears_the_mark() {
    let (s, records, dn) = one_record_missing("absence-back").await;
    let before = s.dump();
    let plan = s.expect(&["plan"], 0);
    assert!(
        plan.contains("absent from HR since") && plan.contains("next run"),
        "{plan}"
    );
    s.expect(&["apply", "--allow-limit", "missing"], 0);
    assert!(has_access(&s, &dn), "a bind and every group still work");
    assert_eq!(absence_marks(&s, &dn).len(), 1, "only the mark was written");

    s.serve(&records).await;
    s.expect(&["apply"], 0);
    assert!(
        absence_marks(&s, &dn).is_empty(),
        "the mark goes with the return"
    );
    assert_eq!(s.dump(), before, "nothing else ever changed");
    s.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_record_still_missing_at_the_next_read_is_locked_stripped_and_moved() {
    let (s, _, dn) = one_record_missing("absence-confirmed").await;
    let explained = s.expect(&["explain", "1702"], 0);
    assert!(
        explained.contains("orphan awaiting confirmation"),
        "{explained}"
    );
    let report = s.expect(&["report", "access"], 0);
    assert!(report.contains("awaiting confirmation"), "{report}");
    s.expect(&["apply", "--allow-limit", "missing"], 0);
    let explained = s.expect(&["explain", "1702"], 0);
    assert!(
        explained.contains("orphan, absence confirmed"),
        "{explained}"
    );
    let report = s.expect(&["report", "access"], 0);
    assert!(report.contains("its absence confirmed"), "{report}");
    assert!(has_access(&s, &dn));

    let plan = s.expect(&["plan", "--format", "json"], 0);
    let plan: Value = serde_json::from_str(&plan).expect("plan JSON");
    let account = &plan["accounts"][0];
    assert_eq!(account["lifecycle"], "leaver", "{plan}");
    assert_eq!(
        account["changes"][0]["action"], "disable",
        "locked first: {plan}"
    );

    s.expect(&["apply", "--allow-limit", "missing"], 0);
    let moved = format!("uid=mo.skipped,{}", s.dir.disabled_dn);
    let left = s
        .dir
        .search(&s.ou("engineering"), "(uid=mo.skipped)", &["uid"]);
    assert!(left.is_empty(), "moved out of its OU: {left:?}");
    assert!(!s.dir.can_bind(&moved, PASSWORD), "locked");
    for cn in ["staff", "engineering", "vpn"] {
        let members = s.dir.group_members(&s.group(cn));
        assert!(
            !members.contains(&dn.to_lowercase()) && !members.contains(&moved.to_lowercase()),
            "out of {cn}"
        );
    }
    assert!(
        absence_marks(&s, &moved).is_empty(),
        "the mark went with the lock"
    );
    let kay = format!("uid=kay.stays,{}", s.ou("engineering"));
    assert!(has_access(&s, &kay), "the one HR listed is untouched");
}
