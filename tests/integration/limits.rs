//! Safety limits against a real slapd: a broken HR export applies nothing (exit 4) until an
//! admin approves the plan or allows the kind.

use serde_json::Value;

use crate::scenario::{Scenario, person};

/// Ten employees, all in the directory and in step with HR.
async fn company(name: &str) -> (Scenario, Vec<Value>) {
    let s = Scenario::start(name).await;
    let people: Vec<Value> = (0..10)
        .map(|i| {
            person(
                &format!("{}", 100 + i),
                "Staff",
                &format!("Member{i}"),
                "Sales",
                "Rep",
            )
        })
        .collect();
    s.serve(&people).await;
    s.expect(&["apply"], 0);
    s.assert_converged();
    (s, people)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_hr_response_trips_the_missing_limit_and_changes_nothing() {
    let (s, _) = company("limits-empty").await;
    s.serve(&[]).await;
    let before = s.dump();
    let out = s.hrsync(&["apply"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{stdout}");
    assert!(
        stdout.contains("limit `missing` tripped: 10 account(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("uid=staff.member0,"),
        "names the accounts: {stdout}"
    );
    assert!(stdout.contains("Nothing applied"), "{stdout}");
    assert_eq!(s.dump(), before);
    // The plan says so too, without failing.
    let plan = s.expect(&["plan"], 0);
    assert!(plan.contains("safety limits tripped"), "{plan}");
}

#[tokio::test(flavor = "multi_thread")]
async fn half_the_company_missing_trips_and_an_approved_saved_plan_proceeds() {
    let (s, people) = company("limits-half").await;
    let mut half: Vec<Value> = people[..5].to_vec();
    half[0]["jobTitle"] = Value::String("Senior Rep".into());
    s.serve(&half).await;
    let saved = s.work.path().join("review.json");
    let saved = saved.to_str().unwrap();

    let before = s.dump();
    s.expect(&["apply", "--out", saved], 4);
    assert_eq!(s.dump(), before, "nothing applied");
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(saved).unwrap()).unwrap();
    assert_eq!(plan["limits_tripped"][0]["kind"], "missing");
    assert_eq!(plan["limits_tripped"][0]["count"], 5);

    // The admin reads the plan, agrees, and applies exactly it.
    s.expect(&["apply", "--plan", saved], 0);
    let changed = s.dump();
    let titles: Vec<&String> = changed
        .iter()
        .flat_map(|(_, lines)| lines.iter())
        .filter(|l| l.starts_with("title: Senior"))
        .collect();
    assert_eq!(titles.len(), 1, "the reviewed change was applied");
    assert_eq!(
        changed
            .iter()
            .filter(|(dn, _)| dn.starts_with("uid="))
            .count(),
        10,
        "the missing half was not touched"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_older_than_the_maximum_age_is_refused() {
    let (s, mut people) = company("limits-age").await;
    people[0]["jobTitle"] = Value::String("Senior Rep".into());
    s.serve(&people).await;
    let saved = s.work.path().join("old.json");
    let saved = saved.to_str().unwrap();
    s.expect(&["plan", "--out", saved], 0);
    // Reviewed, then forgotten for two days.
    let mut plan: Value = serde_json::from_str(&std::fs::read_to_string(saved).unwrap()).unwrap();
    #[allow(clippy::disallowed_methods)]
    let two_days_ago = chrono::Utc::now() - chrono::Duration::hours(48);
    plan["generated_at"] = Value::String(two_days_ago.to_rfc3339());
    std::fs::write(saved, plan.to_string()).unwrap();

    let before = s.dump();
    let out = s.hrsync(&["apply", "--plan", saved]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("older than limits.max_plan_age_hours = 24"),
        "{stderr}"
    );
    assert_eq!(s.dump(), before, "nothing applied");
}
