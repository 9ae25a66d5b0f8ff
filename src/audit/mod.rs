//! The audit log: one JSON line per change of a run's plan, with what it was before and
//! after, why, and what became of it. Built from the run's [`Journal`] (the plan's before,
//! after and reason joined to the apply's results), so it says exactly what the run decided
//! and did. It never holds a secret: AD passwords are made inside the directory adapter and exist
//! nowhere else, and every value of a password attribute, in any change, shows as `(hidden)`
//! ([`Change::masked`](crate::plan::Change::masked)).

pub(crate) mod config;

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::apply::Outcome;
use crate::journal::{Journal, Subject};
use crate::model::Reason;
use crate::plan::{Action, GroupAction, GroupChange, Lifecycle};

pub(crate) use config::AuditSink;

/// The account a change belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountRef {
    pub dn: String,
    pub employee_id: String,
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

/// A change's group, and the state before and after it, for the log. The action is the
/// [masked](crate::plan::Change::masked) one: no secret attribute's value is in it.
fn describe(action: &Action) -> (Option<String>, Value, Value) {
    let (group, before, after) = match action {
        Action::Create { dn, attributes } => (
            None,
            Value::Null,
            json!({"dn": dn.to_string(), "attributes": attributes}),
        ),
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
        Action::AddValue { attribute, value } => (
            None,
            json!({ attribute.as_str(): {"has": value, "value": false} }),
            json!({ attribute.as_str(): {"has": value, "value": true} }),
        ),
        Action::RemoveValue { attribute, value } => (
            None,
            json!({ attribute.as_str(): {"has": value, "value": true} }),
            json!({ attribute.as_str(): {"has": value, "value": false} }),
        ),
    };
    (group, before, after)
}

/// The audit records of a run: one per change of the plan, with what became of it.
pub fn records(journal: &Journal, run_id: &str, time: DateTime<Utc>) -> Vec<AuditRecord> {
    let time = time.to_rfc3339_opts(SecondsFormat::Millis, true);
    journal
        .entries()
        .map(|entry| {
            let (account, lifecycle, (group, before, after), reason) = match entry.subject {
                Subject::Account { account, change } => {
                    let change = change.masked();
                    (
                        Some(AccountRef {
                            dn: account.dn.to_string(),
                            employee_id: account.employee_id.clone(),
                        }),
                        Some(account.lifecycle),
                        describe(&change.action),
                        change.reason.clone(),
                    )
                }
                Subject::Group(change) => (None, None, placeholder(change), change.reason.clone()),
            };
            AuditRecord {
                time: time.clone(),
                run_id: run_id.to_string(),
                account,
                lifecycle,
                change: entry.kind().to_string(),
                group,
                before,
                after,
                reason,
                result: entry.result(),
                error: match entry.outcome {
                    Some(Outcome::Failed { error } | Outcome::Unanswered { error }) => {
                        Some(error.clone())
                    }
                    _ => None,
                },
            }
        })
        .collect()
}

/// A placeholder member going into or out of a group, for the log.
fn placeholder(change: &GroupChange) -> (Option<String>, Value, Value) {
    let present = change.action == GroupAction::AddPlaceholder;
    let member = change.member.to_string();
    (
        Some(change.group.to_string()),
        json!({"member": member, "present": !present}),
        json!({"member": member, "present": present}),
    )
}

/// Appends the records as JSON lines. A file is created readable and writable by its owner
/// only; records go out in one write, so concurrent readers see whole lines.
pub(crate) fn write(sink: &AuditSink, records: &[AuditRecord]) -> std::io::Result<()> {
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
            let mut file = open_log(path)?;
            file.write_all(&text)?;
            file.sync_data()
        }
    }
}

/// Opens the audit log to append to, created owner-only (it names people and their access).
/// A symbolic link at the path is refused rather than followed, and so is a log that belongs
/// to another user: records written into it would be theirs to read and to rewrite.
fn open_log(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let file = options.open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            std::io::Error::other(format!(
                "{} is a symbolic link; the audit log is not written through one",
                path.display()
            ))
        } else {
            e
        }
    })?;
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let owner = file.metadata()?.uid();
        let us = rustix::process::geteuid().as_raw();
        if owner != us {
            return Err(std::io::Error::other(format!(
                "{} belongs to another user (uid {owner}) than the one hrsync runs as (uid {us}); \
                 not written",
                path.display()
            )));
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::{ApplyReport, StepResult};
    use crate::dn::Dn;
    use crate::plan::ops::ChangeRef;
    use crate::plan::{AccountPlan, Change, Plan, Summary};
    use std::collections::BTreeMap;

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
            config: None,
        }
    }

    #[test]
    fn one_record_per_change_with_its_result_and_no_password() {
        let report = ApplyReport {
            results: vec![
                StepResult {
                    change: ChangeRef::Account {
                        account: 0,
                        change: 0,
                    },
                    employee_id: Some("101".to_string()),
                    description: "create".to_string(),
                    outcome: Outcome::Applied,
                },
                StepResult {
                    change: ChangeRef::Account {
                        account: 0,
                        change: 1,
                    },
                    employee_id: Some("101".to_string()),
                    description: "add".to_string(),
                    outcome: Outcome::Failed {
                        error: "insufficient access".to_string(),
                    },
                },
            ],
        };
        let plan = plan();
        let records = records(
            &Journal::new(&plan, report),
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
        assert_eq!(
            first["after"]["attributes"]["userPassword"],
            json!(["(hidden)"])
        );
        assert_eq!(first["reason"]["rule"], "rule \"engineering\"");
        assert_eq!(first["time"], "2026-09-21T14:15:00.000Z");
        let second = serde_json::to_value(&records[1]).unwrap();
        assert_eq!(second["change"], "add_to_group");
        assert_eq!(second["group"], "cn=eng,ou=groups,dc=example,dc=org");
        assert_eq!(second["result"], "failed");
        assert_eq!(second["error"], "insufficient access");
        assert!(!serde_json::to_string(&records).unwrap().contains("s3cret"));
    }

    /// Issue 16.10d: `set_attribute userPassword` was logged in clear, and only three names
    /// were masked, in new entries only.
    #[test]
    fn no_password_value_is_logged_in_any_change_kind() {
        let plan = crate::plan::masked::tests::plan_with_secrets("Winter2026!");
        let records = records(
            &Journal::unapplied(&plan),
            "run-5",
            DateTime::<Utc>::from_timestamp(1_790_000_100, 0).unwrap(),
        );
        let text = serde_json::to_string(&records).unwrap();
        assert!(!text.contains("Winter2026!"), "{text}");
        let values: Vec<Value> = records
            .iter()
            .map(|r| serde_json::to_value(r).unwrap())
            .collect();
        // create: each password attribute, whatever its case.
        assert_eq!(values[0]["change"], "create");
        let created = &values[0]["after"]["attributes"];
        assert_eq!(created["userPassword"], json!(["(hidden)"]));
        assert_eq!(created["UNICODEPWD"], json!(["(hidden)"]));
        assert_eq!(created["cn"], json!(["Ada"]));
        // set_attribute: before and after, and the HR value in the reason.
        assert_eq!(values[1]["change"], "set_attribute");
        assert_eq!(values[1]["before"], json!({"userPassword": ["(hidden)"]}));
        assert_eq!(values[1]["after"], json!({"userPassword": ["(hidden)"]}));
        assert_eq!(values[1]["reason"]["fact"], "(hidden)");
        assert_eq!(
            values[1]["reason"]["rule"],
            "account.attributes.userPassword"
        );
        assert_eq!(values[2]["before"], json!({"sambaNTPassword": []}));
        assert_eq!(values[2]["after"], json!({"sambaNTPassword": ["(hidden)"]}));
        // Anything else as it is.
        assert_eq!(values[3]["before"], json!({"title": ["Rep"]}));
        assert_eq!(values[3]["after"], json!({"title": ["Lead"]}));
        assert_eq!(values[3]["reason"]["fact"], "hr_field = \"Lead\"");
    }

    #[test]
    fn changes_without_a_result_were_not_attempted() {
        let plan = plan();
        let records = records(
            &Journal::unapplied(&plan),
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
        let plan = plan();
        let records = records(
            &Journal::unapplied(&plan),
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

    #[cfg(target_os = "linux")]
    #[test]
    fn a_link_or_another_users_log_is_refused_and_left_as_it_was() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let plan = plan();
        let records = records(
            &Journal::unapplied(&plan),
            "run-4",
            DateTime::<Utc>::from_timestamp(1_790_000_100, 0).unwrap(),
        );
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "kept\n").unwrap();
        let link = dir.path().join("audit.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = write(&AuditSink::File(link), &records).unwrap_err();
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "kept\n");

        if rustix::process::geteuid().as_raw() != 0 {
            eprintln!("SKIPPED the other user's log: needs root to chown (CI runs as root)");
            return;
        }
        let theirs = dir.path().join("theirs.jsonl");
        std::fs::write(&theirs, "theirs\n").unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        let err = write(&AuditSink::File(theirs.clone()), &records).unwrap_err();
        assert!(
            err.to_string()
                .contains("belongs to another user (uid 65534)"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&theirs).unwrap(), "theirs\n");
        assert_eq!(std::fs::metadata(&theirs).unwrap().uid(), 65534);
    }
}
