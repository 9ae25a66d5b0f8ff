//! The audit log: one JSON line per change of an applied plan, with what it was before and
//! after, why, and what became of it. Built from the plan (before, after, reason) and the
//! apply report (result), so it says exactly what the run decided and did. It never holds a
//! secret: AD passwords are made inside the directory adapter and exist nowhere else, and
//! password attributes of a new entry are masked.

pub(crate) mod config;

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::apply::{ApplyReport, Outcome, StepResult};
use crate::model::Reason;
use crate::plan::{Action, GroupAction, Lifecycle, Plan};

pub use config::AuditSink;

/// The account a change belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountRef {
    pub dn: String,
    pub employee_id: String,
}

/// One change of a plan, ready for the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedChange {
    /// `None` for a group-level change (an empty group's placeholder member).
    pub account: Option<AccountRef>,
    pub lifecycle: Option<Lifecycle>,
    /// The action: `create`, `enable`, `disable`, `set_attribute`, `move`, `add_to_group`,
    /// `remove_from_group`, `rename_member`, `add_placeholder`, `remove_placeholder`.
    pub kind: String,
    /// The group a membership change is about.
    pub group: Option<String>,
    pub before: Value,
    pub after: Value,
    pub reason: Reason,
}

/// One line of the audit log.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    pub time: String,
    pub run_id: String,
    pub account: Option<AccountRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
    pub change: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub before: Value,
    pub after: Value,
    pub reason: Reason,
    /// `applied`, `already_done`, `failed` or `not_attempted`.
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Attributes whose values never reach the log, should a mapping ever set one.
const MASKED: [&str; 3] = ["userpassword", "unicodepwd", "sambantpassword"];

fn describe(action: &Action) -> (String, Option<String>, Value, Value) {
    let name = serde_json::to_value(action)
        .ok()
        .and_then(|v| v.get("action").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default();
    let (group, before, after) = match action {
        Action::Create { dn, attributes } => {
            let attributes: BTreeMap<&str, Value> = attributes
                .iter()
                .map(|(k, v)| {
                    let value = if MASKED.contains(&k.to_ascii_lowercase().as_str()) {
                        json!("(hidden)")
                    } else {
                        json!(v)
                    };
                    (k.as_str(), value)
                })
                .collect();
            (
                None,
                Value::Null,
                json!({"dn": dn.to_string(), "attributes": attributes}),
            )
        }
        Action::Enable { set_password, .. } => (
            None,
            json!({"disabled": true}),
            json!({"disabled": false, "new_random_password": set_password}),
        ),
        Action::Disable { .. } => (None, json!({"disabled": false}), json!({"disabled": true})),
        Action::SetAttribute {
            attribute,
            before,
            after,
        } => (
            None,
            json!({ attribute.as_str(): before }),
            json!({ attribute.as_str(): after }),
        ),
        Action::Move { from, to } => (
            None,
            json!({"dn": from.to_string()}),
            json!({"dn": to.to_string()}),
        ),
        Action::AddToGroup { group } => (
            Some(group.to_string()),
            json!({"member": false}),
            json!({"member": true}),
        ),
        Action::RemoveFromGroup { group } => (
            Some(group.to_string()),
            json!({"member": true}),
            json!({"member": false}),
        ),
        Action::RenameMember { group, from, to } => (
            Some(group.to_string()),
            json!({"member": from.to_string()}),
            json!({"member": to.to_string()}),
        ),
    };
    (name, group, before, after)
}

/// Every change of the plan paired with its result in the report (`None`: no step ran for it).
///
/// Results are matched by account (employee id) in plan order, and group-level results (no
/// employee id) to the plan's group changes, placeholders added first, removed last: the order
/// `plan::ops` gives the steps, one step per change. This and [`pair_account`] are the only
/// places that know how steps map to changes (the audit, the metrics, the hooks and the stop
/// report all go through them).
pub fn pair<'r>(
    plan: &Plan,
    report: &'r ApplyReport,
) -> Vec<(PlannedChange, Option<&'r StepResult>)> {
    let mut by_account: BTreeMap<&str, VecDeque<&StepResult>> = BTreeMap::new();
    let mut group_level: VecDeque<&StepResult> = VecDeque::new();
    for result in &report.results {
        match &result.employee_id {
            Some(id) => by_account.entry(id.as_str()).or_default().push_back(result),
            None => group_level.push_back(result),
        }
    }
    let mut out = Vec::new();
    let placeholder = |change: &crate::plan::GroupChange| {
        let (kind, before, after) = match change.action {
            GroupAction::AddPlaceholder => ("add_placeholder", false, true),
            GroupAction::RemovePlaceholder => ("remove_placeholder", true, false),
        };
        PlannedChange {
            account: None,
            lifecycle: None,
            kind: kind.to_string(),
            group: Some(change.group.to_string()),
            before: json!({"member": change.member.to_string(), "present": before}),
            after: json!({"member": change.member.to_string(), "present": after}),
            reason: change.reason.clone(),
        }
    };
    for change in plan
        .group_changes
        .iter()
        .filter(|c| c.action == GroupAction::AddPlaceholder)
    {
        out.push((placeholder(change), group_level.pop_front()));
    }
    let mut after_stage = Vec::new();
    for change in plan
        .group_changes
        .iter()
        .filter(|c| c.action == GroupAction::RemovePlaceholder)
    {
        after_stage.push(placeholder(change));
    }
    for account in &plan.accounts {
        let mut results = by_account.remove(account.employee_id.as_str());
        for change in &account.changes {
            let (kind, group, before, after) = describe(&change.action);
            let result = results.as_mut().and_then(VecDeque::pop_front);
            out.push((
                PlannedChange {
                    account: Some(AccountRef {
                        dn: account.dn.to_string(),
                        employee_id: account.employee_id.clone(),
                    }),
                    lifecycle: Some(account.lifecycle),
                    kind,
                    group,
                    before,
                    after,
                    reason: change.reason.clone(),
                },
                result,
            ));
        }
    }
    for change in after_stage {
        out.push((change, group_level.pop_front()));
    }
    out
}

/// One account's changes, each described in a few words (`add_to_group cn=...`), with the
/// outcome of its step (`None`: no step ran for it).
pub fn pair_account<'r>(
    account: &crate::plan::AccountPlan,
    report: &'r ApplyReport,
) -> Vec<(String, Option<&'r Outcome>)> {
    let mut results = report
        .results
        .iter()
        .filter(|r| r.employee_id.as_deref() == Some(account.employee_id.as_str()));
    account
        .changes
        .iter()
        .map(|change| {
            let (kind, group, _, _) = describe(&change.action);
            let what = match group {
                Some(group) => format!("{kind} {group}"),
                None => kind,
            };
            (what, results.next().map(|r| &r.outcome))
        })
        .collect()
}

/// The audit records of an applied plan.
pub fn records(
    plan: &Plan,
    report: &ApplyReport,
    run_id: &str,
    time: DateTime<Utc>,
) -> Vec<AuditRecord> {
    let time = time.to_rfc3339_opts(SecondsFormat::Millis, true);
    pair(plan, report)
        .into_iter()
        .map(|(change, result)| {
            let outcome = result.map(|r| &r.outcome);
            AuditRecord {
                time: time.clone(),
                run_id: run_id.to_string(),
                account: change.account,
                lifecycle: change.lifecycle,
                change: change.kind,
                group: change.group,
                before: change.before,
                after: change.after,
                reason: change.reason,
                result: crate::metrics::result_name(outcome),
                error: match outcome {
                    Some(Outcome::Failed { error } | Outcome::Unanswered { error }) => {
                        Some(error.clone())
                    }
                    _ => None,
                },
            }
        })
        .collect()
}

/// Appends the records as JSON lines. A file is created readable and writable by its owner
/// only; records go out in one write, so concurrent readers see whole lines.
pub fn write(sink: &AuditSink, records: &[AuditRecord]) -> std::io::Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let mut text = Vec::new();
    for record in records {
        serde_json::to_writer(&mut text, record)?;
        text.push(b'\n');
    }
    match sink {
        AuditSink::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(&text)?;
            out.flush()
        }
        AuditSink::File(path) => {
            let mut options = std::fs::OpenOptions::new();
            options.append(true).create(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path)?;
            file.write_all(&text)?;
            file.sync_data()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dn::Dn;
    use crate::plan::{AccountPlan, Change, Summary};

    fn dn(s: &str) -> Dn {
        Dn::parse(s).unwrap()
    }

    fn plan() -> Plan {
        let reason = Reason::new("department = \"Engineering\"", "rule \"engineering\"");
        Plan {
            schema: crate::plan::PLAN_SCHEMA.to_string(),
            generated_at: DateTime::<Utc>::from_timestamp(1_790_000_000, 0).unwrap(),
            summary: Summary::default(),
            accounts: vec![AccountPlan {
                employee_id: "101".to_string(),
                lifecycle: Lifecycle::Joiner,
                dn: dn("uid=ada,ou=eng,dc=example,dc=org"),
                before: None,
                changes: vec![
                    Change {
                        action: Action::Create {
                            dn: dn("uid=ada,ou=eng,dc=example,dc=org"),
                            attributes: BTreeMap::from([
                                ("cn".to_string(), vec!["Ada".to_string()]),
                                ("userPassword".to_string(), vec!["s3cret".to_string()]),
                            ]),
                        },
                        reason: reason.clone(),
                    },
                    Change {
                        action: Action::AddToGroup {
                            group: dn("cn=eng,ou=groups,dc=example,dc=org"),
                        },
                        reason,
                    },
                ],
            }],
            group_changes: vec![],
            skipped: vec![],
            orphans: vec![],
            warnings: vec![],
            limits_tripped: vec![],
            scheduled: vec![],
        }
    }

    #[test]
    fn one_record_per_change_with_its_result_and_no_password() {
        let report = ApplyReport {
            results: vec![
                StepResult {
                    employee_id: Some("101".to_string()),
                    description: "create".to_string(),
                    outcome: Outcome::Applied,
                },
                StepResult {
                    employee_id: Some("101".to_string()),
                    description: "add".to_string(),
                    outcome: Outcome::Failed {
                        error: "insufficient access".to_string(),
                    },
                },
            ],
        };
        let records = records(
            &plan(),
            &report,
            "run-1",
            DateTime::<Utc>::from_timestamp(1_790_000_100, 0).unwrap(),
        );
        assert_eq!(records.len(), 2);
        let first = serde_json::to_value(&records[0]).unwrap();
        assert_eq!(first["change"], "create");
        assert_eq!(first["result"], "applied");
        assert_eq!(first["run_id"], "run-1");
        assert_eq!(first["lifecycle"], "joiner");
        assert_eq!(first["account"]["employee_id"], "101");
        assert_eq!(first["before"], Value::Null);
        assert_eq!(first["after"]["attributes"]["cn"], json!(["Ada"]));
        assert_eq!(first["after"]["attributes"]["userPassword"], "(hidden)");
        assert_eq!(first["reason"]["rule"], "rule \"engineering\"");
        assert_eq!(first["time"], "2026-09-21T14:15:00.000Z");
        let second = serde_json::to_value(&records[1]).unwrap();
        assert_eq!(second["change"], "add_to_group");
        assert_eq!(second["group"], "cn=eng,ou=groups,dc=example,dc=org");
        assert_eq!(second["result"], "failed");
        assert_eq!(second["error"], "insufficient access");
        assert!(!serde_json::to_string(&records).unwrap().contains("s3cret"));
    }

    #[test]
    fn changes_without_a_result_were_not_attempted() {
        let records = records(
            &plan(),
            &ApplyReport::default(),
            "run-2",
            DateTime::<Utc>::from_timestamp(1_790_000_100, 0).unwrap(),
        );
        assert!(records.iter().all(|r| r.result == "not_attempted"));
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_appended_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let sink = AuditSink::File(path.clone());
        let records = records(
            &plan(),
            &ApplyReport::default(),
            "run-3",
            DateTime::<Utc>::from_timestamp(1_790_000_100, 0).unwrap(),
        );
        write(&sink, &records).unwrap();
        write(&sink, &records).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 4);
        for line in text.lines() {
            serde_json::from_str::<Value>(line).unwrap();
        }
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
