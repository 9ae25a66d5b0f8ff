//! The lines of the audit log: what a change is about to do (`intent`), what became of it
//! (`change`), and the run around them (`run_started`, `run_finished`). None holds a secret:
//! every value of a password attribute shows as `(hidden)`
//! ([`Change::masked`](crate::plan::Change::masked)).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::apply::Outcome;
use crate::journal::{Subject, result_name};
use crate::model::Reason;
use crate::plan::{Action, GroupAction, GroupChange, Lifecycle};

/// The account a change belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountRef {
    pub dn: String,
    pub employee_id: String,
}

/// A line of the audit log about one change of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    /// When the line was written (RFC 3339, UTC, milliseconds).
    pub time: String,
    pub run_id: String,
    /// `intent`: the change is about to be sent (it may or may not take effect if hrsync dies
    /// before its `change` line); `change`: what became of it.
    pub event: &'static str,
    pub account: Option<AccountRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
    pub change: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub before: Value,
    pub after: Value,
    pub reason: Reason,
    /// `applied`, `already_done`, `failed`, `unanswered` or `not_attempted`; absent from an
    /// intent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The `event` of a change's result line.
pub const CHANGE: &str = "change";
/// The `event` of the line written before a change is sent.
pub const INTENT: &str = "intent";

impl AuditRecord {
    /// The line saying what became of a change (`None`: no step ran for it).
    pub fn change(
        subject: Subject<'_>,
        outcome: Option<&Outcome>,
        run_id: &str,
        time: &str,
    ) -> Self {
        let error = match outcome {
            Some(Outcome::Failed { error } | Outcome::Unanswered { error }) => Some(error.clone()),
            _ => None,
        };
        Self {
            result: Some(result_name(outcome)),
            error,
            ..Self::about(subject, CHANGE, run_id, time)
        }
    }

    /// The line written just before a change is sent.
    pub fn intent(subject: Subject<'_>, run_id: &str, time: &str) -> Self {
        Self::about(subject, INTENT, run_id, time)
    }

    fn about(subject: Subject<'_>, event: &'static str, run_id: &str, time: &str) -> Self {
        let (account, lifecycle, (group, before, after), reason) = match subject {
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
        Self {
            time: time.to_string(),
            run_id: run_id.to_string(),
            event,
            account,
            lifecycle,
            change: subject.kind(),
            group,
            before,
            after,
            reason,
            result: None,
            error: None,
        }
    }
}

/// Whether a change's intent is written before it is sent: the changes that give or take away
/// access (an account created, enabled, locked or moved, a membership added or removed). Should
/// hrsync die with one of them sent and unanswered, the log still says it may have happened.
/// An attribute, a member value rewritten after a move, the lock mark and a placeholder are
/// recorded only with their result: the next run reads them back from the directory and
/// converges.
pub fn announced_before_sending(subject: &Subject<'_>) -> bool {
    let Subject::Account { change, .. } = subject else {
        return false;
    };
    matches!(
        change.action,
        Action::Create { .. }
            | Action::Enable { .. }
            | Action::Disable { .. }
            | Action::Move { .. }
            | Action::AddToGroup { .. }
            | Action::RemoveFromGroup { .. }
    )
}

/// The first line of a run's records, written (and forced to disk) before its first change.
#[derive(Debug, Clone, Serialize)]
pub struct RunStarted<'a> {
    pub time: String,
    pub run_id: &'a str,
    /// Always `run_started`.
    pub event: &'static str,
    /// Who ran it: the OS user and host, and for `apply --plan` the plan approved.
    pub actor: &'a Actor,
    /// The changes the run is about to apply, and the accounts they belong to.
    pub changes: usize,
    pub accounts: usize,
    /// What started a run other than its schedule or a command: `event:<source>` (a webhook),
    /// `changes` (the changed-since run), `sync` (`hrsync sync`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<&'a str>,
}

/// Who started a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// The OS user hrsync runs as.
    pub user: String,
    pub host: String,
    /// `apply --plan`: the saved plan whose approved changes the run applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanOrigin>,
}

/// A saved plan, as the approval that an `apply --plan` carries out names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanOrigin {
    /// The file applied.
    pub file: String,
    /// `sha256:` and the hex SHA-256 of the plan's content (its JSON without the signature):
    /// what `plan --out` logs, so an approval can name exactly what was approved.
    pub digest: String,
    /// `user@host` that made it, as the file says (signed with `plans.signing_key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub made_by: Option<String>,
}

/// The last line of a run's records: how many of its changes ended how.
#[derive(Debug, Clone, Serialize)]
pub struct RunFinished<'a> {
    pub time: String,
    pub run_id: &'a str,
    /// Always `run_finished`.
    pub event: &'static str,
    /// Changes by result (`applied`, `already_done`, `failed`, `unanswered`, `not_attempted`).
    pub results: BTreeMap<&'static str, usize>,
}

/// A change's group, and the state before and after it, for the log. The action is the
/// [masked](crate::plan::Change::masked) one: no secret attribute's value is in it.
fn describe(action: &Action) -> (Option<String>, Value, Value) {
    match action {
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
        Action::AddToGroup { group } => membership(group, false, true),
        Action::RemoveFromGroup { group } => membership(group, true, false),
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
    }
}

fn membership(group: &crate::dn::Dn, before: bool, after: bool) -> (Option<String>, Value, Value) {
    (
        Some(group.to_string()),
        json!({ "member": before }),
        json!({ "member": after }),
    )
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
