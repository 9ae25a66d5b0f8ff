//! Absence is not termination (issue 17, item 1), against a real slapd: with
//! `lifecycle.disable_orphans`, an active employee whose record one HR read left out (a record
//! deleted during an offset-paged fetch shifts the pages) keeps their access. Where the source
//! cannot read one employee, the absence is confirmed by a second run: the first only marks the
//! account, the next locks, strips and moves it if the record is still missing, and takes the
//! mark off if it is back. Where it can, HR is asked for each missing employee alone, in the
//! same run.

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::scenario::{HR_TOKEN, Scenario, person};

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

/// BambooHR's single-employee read (`GET /v1/employees/{id}?fields=...`), configured as the
/// generic source's `employee_url`: the list leaves out two active engineers; HR answers for
/// one of them (the list was incomplete: nothing of theirs changes, the plan says why) and 404
/// for the other (gone: locked, stripped and moved in this very run, no second run needed).
/// Before the single read was wired into the pipeline, both were only marked absent.
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_record_is_asked_for_alone_and_only_hrs_own_404_disables_the_account() {
    let (s, records, mo) = one_record_missing("absence-single-read").await;
    s.dir
        .add_user("nia.gone", "1703", Some(PASSWORD), "cn: Nia Gone\nsn: Gone");
    let mut all = records.clone();
    all.push(person("1703", "Nia", "Gone", "Engineering", "Engineer"));
    s.serve(&all).await;
    s.expect(&["apply"], 0);
    let nia = format!("uid=nia.gone,{}", s.ou("engineering"));
    assert!(has_access(&s, &nia), "provisioned");

    let config = std::fs::read_to_string(&s.config).expect("read config");
    let single = format!(
        "records = \"/employees\"\nemployee_url = \"{}/api/gateway.php/acme/v1/employees/{{id}}?fields=firstName,lastName,status\"",
        s.hr.uri()
    );
    std::fs::write(
        &s.config,
        config.replacen("records = \"/employees\"", &single, 1),
    )
    .expect("write config");
    s.serve(&records[..1]).await;
    let bearer = format!("Bearer {HR_TOKEN}");
    Mock::given(method("GET"))
        .and(path("/api/gateway.php/acme/v1/employees/1702"))
        .and(query_param("fields", "firstName,lastName,status"))
        .and(header("authorization", bearer.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "1702", "firstName": "Mo", "lastName": "Skipped", "status": "Active"
        })))
        .expect(1..)
        .mount(&s.hr)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/gateway.php/acme/v1/employees/1703"))
        .and(header("authorization", bearer.as_str()))
        .respond_with(ResponseTemplate::new(404))
        .expect(1..)
        .mount(&s.hr)
        .await;

    let plan = s.expect(&["plan"], 0);
    assert!(
        plan.contains("employee 1702: missing from HR's list, but HR has the record"),
        "{plan}"
    );
    assert!(!plan.contains("employee 1703: missing"), "{plan}");
    s.expect(&["apply", "--allow-limit", "missing"], 0);
    assert!(has_access(&s, &mo), "HR still has Mo: every access stays");
    assert!(absence_marks(&s, &mo).is_empty(), "and no mark is written");
    let moved = format!("uid=nia.gone,{}", s.dir.disabled_dn);
    assert!(
        !s.dir.can_bind(&moved, PASSWORD),
        "Nia is locked in the same run"
    );
    for cn in ["staff", "engineering", "vpn"] {
        let members = s.dir.group_members(&s.group(cn));
        assert!(
            !members.contains(&nia.to_lowercase()) && !members.contains(&moved.to_lowercase()),
            "Nia is out of {cn}"
        );
    }
    assert!(absence_marks(&s, &moved).is_empty());

    // HR that cannot answer confirms nothing: a 503 for Mo leaves him as he is.
    s.serve(&records[..1]).await;
    Mock::given(method("GET"))
        .and(path("/api/gateway.php/acme/v1/employees/1702"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&s.hr)
        .await;
    let before = s.dump();
    let plan = s.expect(&["apply", "--allow-limit", "missing"], 0);
    assert!(
        plan.contains("could not be read alone"),
        "the plan says why Mo is left: {plan}"
    );
    assert_eq!(s.dump(), before, "nothing changed");
}
