//! Every command reads HR through the one pipeline: what `plan` leaves out, `explain` and
//! `report access` leave out too.

use serde_json::Value;

use crate::scenario::{Scenario, person};

/// The BambooHR-shaped record as a CSV row of `columns`, with `extra` cells appended.
fn row(record: &Value, columns: &[&str], extra: &[&str]) -> String {
    let mut cells: Vec<String> = columns
        .iter()
        .map(|c| match &record[*c] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        })
        .collect();
    cells.extend(extra.iter().map(|s| s.to_string()));
    cells.join(",")
}

/// Regression: `explain` and `report access` once read HR through a second path that kept a
/// CSV row with one cell too many, which `plan` leaves out. Grace's row says she was
/// terminated, but it is malformed: plan leaves her account alone, and so must the others
/// (no "leaver still enabled" finding, no employee in the explanation).
#[tokio::test]
async fn a_malformed_csv_row_is_left_out_by_plan_explain_and_report_alike() {
    let s = Scenario::start("pipeline-csv").await;
    let ada = person("1", "Ada", "Lovelace", "Engineering", "Engineer");
    let grace = person("2", "Grace", "Hopper", "Engineering", "Admiral");
    s.serve(&[ada.clone(), grace.clone()]).await;
    s.expect(&["apply"], 0);

    let columns = [
        "id",
        "employeeNumber",
        "firstName",
        "lastName",
        "workEmail",
        "jobTitle",
        "department",
        "location",
        "employmentHistoryStatus",
        "hireDate",
        "terminationDate",
        "status",
    ];
    let mut left = crate::scenario::terminated(grace);
    left["terminationDate"] = "2026-01-30".into();
    let csv = format!(
        "{}\n{}\n{}\n",
        columns.join(","),
        row(&ada, &columns, &[]),
        row(&left, &columns, &["one cell too many"])
    );
    let path = s.work.path().join("hr.csv");
    std::fs::write(&path, csv).unwrap();
    let path = path.display().to_string();
    let env = [
        ("HRSYNC_HR__SOURCE", "file"),
        ("HRSYNC_HR__FILE__PATH", path.as_str()),
    ];
    let run = |args: &[&str]| {
        let out = s.hrsync_with_env(args, &env);
        assert!(
            out.status.success(),
            "hrsync {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };

    let plan = run(&["plan", "--format", "json"]);
    assert_eq!(plan["accounts"], serde_json::json!([]), "{plan:#}");
    let skipped = plan["skipped"].as_array().unwrap();
    assert!(
        skipped.iter().any(|s| s["employee_id"] == "2"),
        "Grace's account is left alone, said so: {plan:#}"
    );

    let explanation = run(&["explain", "2", "--format", "json"]);
    assert_eq!(
        explanation["hr"]["employee"],
        Value::Null,
        "{explanation:#}"
    );
    let rejected = explanation["hr"]["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{explanation:#}");
    assert!(
        rejected[0]["problem"].as_str().unwrap().contains("cell"),
        "{explanation:#}"
    );

    let report = run(&["report", "access", "--format", "json"]);
    assert_eq!(report["summary"]["leaver_enabled"], 0, "{report:#}");
    for account in report["accounts"].as_array().unwrap() {
        if account["employee_id"] == "2" {
            assert_eq!(account["hr_status"], "unreadable", "{report:#}");
        }
    }
}
