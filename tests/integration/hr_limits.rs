//! The caps of `[hr.limits]` through the hrsync binary against a real slapd (issue 17, item 3):
//! an HR answer too large, too many records, or a read too slow ends `plan` and `apply` with
//! exit 1, the cap and its key named on stderr, and not a single change in the directory.

// Test helpers outside #[test] functions: failing loudly is their error handling.
#![allow(clippy::panic, clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::scenario::{HR_PATH, Scenario, person, terminated};

/// Three accounts in step with HR, one of them leaving, and two joiners: a read that got
/// through would have changes to make, so "nothing changed" is the cap's doing.
async fn world(name: &str, limits: &str) -> (Scenario, Vec<Value>) {
    let s = Scenario::start(name).await;
    s.write_config_with("", &format!("[hr.limits]\n{limits}\n"));
    for (uid, id) in [("a.one", "1"), ("b.two", "2"), ("c.three", "3")] {
        let dn = s.dir.add_user(uid, id, None, "");
        s.add_member("staff", &dn);
    }
    let records = vec![
        terminated(person("1", "A", "One", "Sales", "Rep")),
        person("2", "B", "Two", "Sales", "Rep"),
        person("3", "C", "Three", "Sales", "Rep"),
        person("4", "New", "Joiner", "Sales", "Rep"),
        person("5", "Other", "Joiner", "Engineering", "Engineer"),
    ];
    (s, records)
}

/// `plan` and `apply` both exit 1 naming the cap's key on stderr, and the directory is the same
/// entry for entry before and after.
fn assert_capped_without_change(s: &Scenario, key: &str) {
    let before = s.dump();
    for command in [&["plan"][..], &["apply", "--allow-limit", "create"][..]] {
        let out = s.hrsync(command);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{key}: {command:?} must fail\nstdout:\n{}\nstderr:\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(stderr.contains(&format!("hr.limits.{key}")), "{stderr}");
        assert!(stderr.contains("nothing was changed"), "{stderr}");
    }
    assert_eq!(s.dump(), before, "{key}: not a single change");
}

#[tokio::test(flavor = "multi_thread")]
async fn more_records_than_max_records_exits_1_and_changes_nothing() {
    let (s, records) = world("hrcap-records", "max_records = 4").await;
    s.serve(&records[..4]).await;
    s.expect(&["plan", "--detailed-exitcode"], 2);
    s.serve(&records).await;
    assert_capped_without_change(&s, "max_records");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_over_max_page_bytes_exits_1_and_changes_nothing() {
    let (s, records) = world("hrcap-bytes", "max_page_bytes = 4000").await;
    s.serve(&records).await;
    s.expect(&["plan", "--detailed-exitcode"], 2);
    // The same people and a long list of fields HR added: over 4000 bytes.
    let padded: Vec<Value> = records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r["customNotes"] = json!("x".repeat(1000));
            r
        })
        .collect();
    s.serve(&padded).await;
    assert_capped_without_change(&s, "max_page_bytes");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_hr_read_past_max_fetch_secs_exits_1_and_changes_nothing() {
    let (s, records) = world("hrcap-time", "max_fetch_secs = 1").await;
    s.serve(&records).await;
    s.expect(&["plan", "--detailed-exitcode"], 2);
    s.hr.reset().await;
    Mock::given(method("GET"))
        .and(path(HR_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"employees": records}))
                .set_delay(Duration::from_secs(15)),
        )
        .mount(&s.hr)
        .await;
    assert_capped_without_change(&s, "max_fetch_secs");
}
