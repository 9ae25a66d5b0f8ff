//! `hrsync sync EMPLOYEE_ID...` (issue 18, item 5) against a real slapd: the employees named are
//! read again from the HR API one by one, only their accounts (and the groups listing them) are
//! read from the directory, and the plan is the full run's planner scoped to them. A joiner is
//! created, a mover moved and regrouped, a leaver locked out (a real bind fails), and an account
//! nobody named keeps its drift. HR's word is the only one: an id HR says is active changes
//! nothing whatever the caller believes, and HR down changes nothing.

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::scenario::{HR_TOKEN, Scenario, person, terminated};

const PASSWORD: &str = "Sync-Horse-9";
const ONE_PATH: &str = "/api/gateway.php/acme/v1/employees";

/// A scenario whose HR source reads one employee at `ONE_PATH/{id}`, with an audit log, a
/// mover in Sales (1802), a leaver-to-be (1803) and a bystander (1804), all provisioned by a
/// full apply.
async fn provisioned(name: &str, extra: &str) -> Scenario {
    let s = Scenario::start(name).await;
    let config = std::fs::read_to_string(&s.config).expect("read config");
    let single = format!(
        "records = \"/employees\"\nemployee_url = \"{}{ONE_PATH}/{{id}}\"",
        s.hr.uri()
    );
    let config = config.replacen("records = \"/employees\"", &single, 1);
    let audit = s.work.path().join("audit.jsonl");
    std::fs::write(
        &s.config,
        format!("{config}\n[audit]\nfile = \"{}\"\n{extra}", audit.display()),
    )
    .expect("write config");
    for (uid, id) in [
        ("mo.ver", "1802"),
        ("lee.ver", "1803"),
        ("by.stander", "1804"),
    ] {
        s.dir.add_user(uid, id, Some(PASSWORD), "");
    }
    s.serve(&everyone()).await;
    s.expect(&["apply"], 0);
    s
}

fn everyone() -> Vec<Value> {
    vec![
        person("1802", "Mo", "Ver", "Sales", "Account Executive"),
        person("1803", "Lee", "Ver", "Engineering", "Engineer"),
        person("1804", "By", "Stander", "Engineering", "Engineer"),
    ]
}

/// HR answers `record` for its id alone (BambooHR's `GET /v1/employees/{id}` shape: the
/// fields at the top level).
async fn serve_one(s: &Scenario, record: Value) {
    let id = record["id"].as_str().expect("id").to_string();
    Mock::given(method("GET"))
        .and(path(format!("{ONE_PATH}/{id}")))
        .and(header(
            "authorization",
            format!("Bearer {HR_TOKEN}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(record))
        .mount(&s.hr)
        .await;
}

async fn serve_status(s: &Scenario, id: &str, status: u16) {
    Mock::given(method("GET"))
        .and(path(format!("{ONE_PATH}/{id}")))
        .respond_with(ResponseTemplate::new(status))
        .mount(&s.hr)
        .await;
}

fn in_group(s: &Scenario, cn: &str, dn: &str) -> bool {
    s.dir
        .group_members(&s.group(cn))
        .contains(&dn.to_lowercase())
}

fn audit_lines(s: &Scenario) -> Vec<Value> {
    std::fs::read_to_string(s.work.path().join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_creates_a_joiner_moves_a_mover_and_locks_a_leaver_and_nothing_else() {
    let s = provisioned("sync-lifecycle", "").await;
    let bystander = format!("uid=by.stander,{}", s.ou("engineering"));
    // Drift nobody asked about: a full run would fix it, a sync of others must not.
    let out = s.dir.ldapmodify(&format!(
        "dn: {bystander}\nchangetype: modify\nreplace: title\ntitle: Hand-edited\n"
    ));
    assert!(out.status.success(), "{out:?}");
    // The list is no longer served: only the single reads may be used.
    s.hr.reset().await;
    serve_one(&s, person("1801", "Jo", "Iner", "Engineering", "Engineer")).await;
    serve_one(&s, person("1802", "Mo", "Ver", "Engineering", "Engineer")).await;
    serve_one(
        &s,
        terminated(person("1803", "Lee", "Ver", "Engineering", "Engineer")),
    )
    .await;
    let leaver = format!("uid=lee.ver,{}", s.ou("engineering"));
    assert!(s.dir.can_bind(&leaver, PASSWORD));

    let before = s.dump();
    let shown = s.expect(&["sync", "1801", "1802", "1803", "--dry-run"], 0);
    assert!(shown.contains("1801") && shown.contains("1803"), "{shown}");
    assert_eq!(s.dump(), before, "--dry-run changes nothing");

    s.expect(&["sync", "1801", "1802", "1803"], 0);
    let joiner = format!("uid=jo.iner,{}", s.ou("engineering"));
    assert!(s.dir.entry(&joiner).is_some(), "the joiner is created");
    assert!(in_group(&s, "engineering", &joiner));
    let mover = format!("uid=mo.ver,{}", s.ou("engineering"));
    assert!(s.dir.entry(&mover).is_some(), "the mover is moved");
    assert!(in_group(&s, "engineering", &mover) && !in_group(&s, "sales", &mover));
    let gone = format!("uid=lee.ver,{}", s.dir.disabled_dn);
    assert!(!s.dir.can_bind(&gone, PASSWORD), "the leaver cannot log in");
    for cn in ["staff", "engineering", "vpn"] {
        assert!(!in_group(&s, cn, &gone) && !in_group(&s, cn, &leaver));
    }
    let title = s
        .dir
        .entry(&bystander)
        .expect("bystander")
        .values("title")
        .to_vec();
    assert_eq!(
        title,
        ["Hand-edited"],
        "an account nobody named is left alone"
    );

    let started: Vec<Value> = audit_lines(&s)
        .into_iter()
        .filter(|l| l["event"] == "run_started")
        .collect();
    assert_eq!(started.last().expect("a run")["trigger"], json!("sync"));
    assert!(started[0].get("trigger").is_none(), "a full apply has none");

    // The same again is nothing to do.
    let again = s.expect(&["sync", "1801", "1802", "1803", "--dry-run"], 0);
    assert!(again.contains("No changes"), "{again}");
}

/// Whatever the caller believes, HR's answer decides: an id HR has as active changes nothing,
/// HR down changes nothing (exit 3 naming the id), and HR's own 404 only disables the account
/// where orphans are to be disabled.
#[tokio::test(flavor = "multi_thread")]
async fn sync_trusts_only_hr_and_changes_nothing_when_hr_cannot_answer() {
    let s = provisioned("sync-lies", "").await;
    let leaver = format!("uid=lee.ver,{}", s.ou("engineering"));
    s.hr.reset().await;
    serve_one(&s, person("1803", "Lee", "Ver", "Engineering", "Engineer")).await;
    let before = s.dump();
    let out = s.expect(&["sync", "1803"], 0);
    assert!(out.contains("No changes"), "{out}");
    assert_eq!(s.dump(), before);

    s.hr.reset().await;
    serve_status(&s, "1803", 503).await;
    let out = s.expect(&["sync", "1803"], 3);
    assert!(
        out.contains("could not read from HR, nothing done for: 1803"),
        "{out}"
    );
    assert_eq!(s.dump(), before);

    s.hr.reset().await;
    serve_status(&s, "1803", 404).await;
    let out = s.expect(&["sync", "1803"], 0);
    assert_eq!(s.dump(), before, "an orphan is only reported: {out}");
    assert!(s.dir.can_bind(&leaver, PASSWORD));
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_disables_an_employee_hr_no_longer_has_when_orphans_are_disabled() {
    let s = provisioned("sync-orphan", "[lifecycle]\ndisable_orphans = true\n").await;
    let leaver = format!("uid=lee.ver,{}", s.ou("engineering"));
    s.hr.reset().await;
    serve_status(&s, "1803", 404).await;
    s.expect(&["sync", "1803"], 0);
    let gone = format!("uid=lee.ver,{}", s.dir.disabled_dn);
    assert!(s.dir.entry(&leaver).is_none());
    assert!(
        !s.dir.can_bind(&gone, PASSWORD),
        "HR's own 404 locks the account"
    );
}
