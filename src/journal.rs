//! What became of each change of a plan: the apply's results joined to the changes they
//! implement.
//!
//! Every step of [`crate::plan::ops`] implements exactly one change and carries a reference to it
//! ([`ChangeRef`]); every result carries its step's reference. The journal joins them once, in
//! one pass over the results, and everything that reports on a run once it is applied (the
//! audit log's totals, the hooks, the metrics, the stop report) reads the journal rather than
//! pairing results by position. The audit log's records of each change, written while the
//! apply runs, find their change by the same reference ([`Subject::of`]).

use std::collections::BTreeMap;

use crate::apply::{ApplyReport, Outcome, StepResult};
use crate::plan::ops::ChangeRef;
use crate::plan::{AccountPlan, Change, GroupAction, GroupChange, Plan};

/// A plan and what became of each of its changes.
#[derive(Debug)]
pub struct Journal<'p> {
    plan: &'p Plan,
    report: ApplyReport,
    /// For `plan.accounts[i].changes[j]`, the index of its result in `report.results`.
    accounts: Vec<Vec<Option<usize>>>,
    /// For `plan.group_changes[g]`, likewise.
    groups: Vec<Option<usize>>,
}

/// What a change is about: one account's change, or a group-level change (an empty group's
/// placeholder member).
#[derive(Debug, Clone, Copy)]
pub enum Subject<'p> {
    Account {
        account: &'p AccountPlan,
        change: &'p Change,
    },
    Group(&'p GroupChange),
}

impl<'p> Subject<'p> {
    /// The change of `plan` that `change` names; `None` when it names none (a reference from
    /// the steps of another plan).
    pub fn of(plan: &'p Plan, change: ChangeRef) -> Option<Self> {
        match change {
            ChangeRef::Group(index) => plan.group_changes.get(index).map(Subject::Group),
            ChangeRef::Account { account, change } => {
                let account = plan.accounts.get(account)?;
                let change = account.changes.get(change)?;
                Some(Subject::Account { account, change })
            }
        }
    }

    /// The change's kind as the audit log and the metrics name it: the plan action (`create`,
    /// `add_to_group`...) or the group action (`add_placeholder`, `remove_placeholder`).
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::Account { change, .. } => change.action.name(),
            Subject::Group(change) => change.action.name(),
        }
    }
}

/// One change with its outcome (`None`: no step ran for it).
#[derive(Debug, Clone, Copy)]
pub struct Entry<'j> {
    pub subject: Subject<'j>,
    pub outcome: Option<&'j Outcome>,
}

impl Entry<'_> {
    /// The change's kind (see [`Subject::kind`]).
    pub fn kind(&self) -> &'static str {
        self.subject.kind()
    }

    /// `applied`, `already_done`, `failed`, `unanswered` or `not_attempted`.
    pub fn result(&self) -> &'static str {
        result_name(self.outcome)
    }
}

/// Every result a change can have in the metrics: an outcome's name, or `planned` for a change of
/// a plan that was not applied.
pub const RESULTS: [&str; 6] = [
    "applied",
    "already_done",
    "failed",
    "unanswered",
    "not_attempted",
    "planned",
];

/// The name of an outcome, a change without one counting as not attempted.
pub fn result_name(outcome: Option<&Outcome>) -> &'static str {
    match outcome {
        Some(Outcome::Applied) => "applied",
        Some(Outcome::AlreadyDone) => "already_done",
        Some(Outcome::Failed { .. }) => "failed",
        Some(Outcome::Unanswered { .. }) => "unanswered",
        Some(Outcome::NotAttempted) | None => "not_attempted",
    }
}

impl<'p> Journal<'p> {
    /// Joins `report`'s results to `plan`'s changes. A result whose reference names no change
    /// of the plan (it came from other steps) is ignored; it cannot happen when the steps were
    /// made from this plan.
    pub fn new(plan: &'p Plan, report: ApplyReport) -> Self {
        let mut accounts: Vec<Vec<Option<usize>>> = plan
            .accounts
            .iter()
            .map(|a| vec![None; a.changes.len()])
            .collect();
        let mut groups = vec![None; plan.group_changes.len()];
        for (index, result) in report.results.iter().enumerate() {
            let slot = match result.change {
                ChangeRef::Group(g) => groups.get_mut(g),
                ChangeRef::Account { account, change } => accounts
                    .get_mut(account)
                    .and_then(|changes| changes.get_mut(change)),
            };
            if let Some(slot) = slot {
                *slot = Some(index);
            }
        }
        Self {
            plan,
            report,
            accounts,
            groups,
        }
    }

    /// A plan that was not applied: every change without an outcome.
    pub fn unapplied(plan: &'p Plan) -> Self {
        Self::new(plan, ApplyReport::default())
    }

    pub fn plan(&self) -> &'p Plan {
        self.plan
    }

    /// The results in the order the steps ran.
    pub fn results(&self) -> &[StepResult] {
        &self.report.results
    }

    pub fn applied(&self) -> usize {
        self.report.applied()
    }

    /// Changes failed, unanswered or not attempted.
    pub fn failed(&self) -> usize {
        self.report.failed()
    }

    /// How many changes ended how, by [`result_name`] (a change without a result counting as
    /// not attempted).
    pub fn tally(&self) -> BTreeMap<&'static str, usize> {
        let mut tally = BTreeMap::new();
        for entry in self.entries() {
            *tally.entry(entry.result()).or_default() += 1;
        }
        tally
    }

    fn outcome(&self, index: Option<usize>) -> Option<&Outcome> {
        index
            .and_then(|i| self.report.results.get(i))
            .map(|r| &r.outcome)
    }

    /// The outcome of each change of `plan.accounts[index]`, in the account's order.
    pub fn account_outcomes(&self, index: usize) -> impl Iterator<Item = Option<&Outcome>> {
        self.accounts
            .get(index)
            .into_iter()
            .flatten()
            .map(|slot| self.outcome(*slot))
    }

    /// Every change in the order of apply's stages: placeholders in, the accounts' changes
    /// (account by account), placeholders out.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_>> {
        let groups = |wanted: GroupAction| {
            self.plan
                .group_changes
                .iter()
                .zip(&self.groups)
                .filter(move |(change, _)| change.action == wanted)
                .map(|(change, slot)| Entry {
                    subject: Subject::Group(change),
                    outcome: self.outcome(*slot),
                })
        };
        let accounts =
            self.plan
                .accounts
                .iter()
                .zip(&self.accounts)
                .flat_map(move |(account, slots)| {
                    account
                        .changes
                        .iter()
                        .zip(slots)
                        .map(move |(change, slot)| Entry {
                            subject: Subject::Account { account, change },
                            outcome: self.outcome(*slot),
                        })
                });
        groups(GroupAction::AddPlaceholder)
            .chain(accounts)
            .chain(groups(GroupAction::RemovePlaceholder))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dn::Dn;
    use crate::model::Reason;
    use crate::plan::ops::steps;
    use crate::plan::{Action, Lifecycle, Summary};

    fn dn(s: &str) -> Dn {
        Dn::parse(s).unwrap()
    }

    fn change(action: Action) -> Change {
        Change {
            action,
            reason: Reason::new("fact", "rule"),
        }
    }

    /// Two accounts with the same employee id (a duplicate correlation the planner reports, or
    /// a hand-made plan) and a placeholder in and out: pairing by employee id and position
    /// would give the second account's results to the first.
    fn plan() -> Plan {
        let group = dn("cn=staff,ou=groups,dc=ex");
        let account = |uid: &str, actions: Vec<Action>| AccountPlan {
            employee_id: "7".into(),
            lifecycle: Lifecycle::Mover,
            dn: dn(&format!("uid={uid},ou=people,dc=ex")),
            before: None,
            changes: actions.into_iter().map(change).collect(),
        };
        let placeholder = |action| GroupChange {
            group: group.clone(),
            action,
            member: dn("cn=placeholder,dc=ex"),
            reason: Reason::new("fact", "rule"),
        };
        Plan {
            schema: crate::plan::PLAN_SCHEMA.into(),
            generated_at: chrono::DateTime::UNIX_EPOCH,
            summary: Summary::default(),
            accounts: vec![
                account(
                    "a",
                    vec![Action::RemoveFromGroup {
                        group: group.clone(),
                    }],
                ),
                account(
                    "b",
                    vec![
                        Action::AddToGroup {
                            group: group.clone(),
                        },
                        Action::SetAttribute {
                            attribute: "title".into(),
                            before: vec![],
                            after: vec!["x".into()],
                        },
                    ],
                ),
            ],
            group_changes: vec![
                placeholder(GroupAction::RemovePlaceholder),
                placeholder(GroupAction::AddPlaceholder),
            ],
            skipped: vec![],
            orphans: vec![],
            warnings: vec![],
            limits_tripped: vec![],
            scheduled: vec![],
            config: None,
        }
    }

    fn result(step: &crate::plan::ops::Step, outcome: Outcome) -> StepResult {
        StepResult {
            change: step.change,
            employee_id: step.employee_id.clone(),
            description: step.description.clone(),
            outcome,
        }
    }

    #[test]
    fn each_result_lands_on_the_change_its_step_implements_whatever_the_order() {
        let plan = plan();
        let steps = steps(&plan, "member");
        let failed = || Outcome::Failed {
            error: "refused".into(),
        };
        // Results in reverse order, and the first account's only step failed.
        let mut results: Vec<StepResult> = steps
            .iter()
            .map(|step| {
                let outcome = if step.description.starts_with("remove uid=a") {
                    failed()
                } else {
                    Outcome::Applied
                };
                result(step, outcome)
            })
            .collect();
        results.reverse();
        let journal = Journal::new(
            &plan,
            ApplyReport {
                results,
                ..Default::default()
            },
        );
        let seen: Vec<(&str, &str)> = journal.entries().map(|e| (e.kind(), e.result())).collect();
        assert_eq!(
            seen,
            [
                ("add_placeholder", "applied"),
                ("remove_from_group", "failed"),
                ("add_to_group", "applied"),
                ("set_attribute", "applied"),
                ("remove_placeholder", "applied"),
            ]
        );
        let second: Vec<_> = journal.account_outcomes(1).collect();
        assert_eq!(second, [Some(&Outcome::Applied), Some(&Outcome::Applied)]);
    }

    /// The kind the audit log and the metrics name is the plan JSON's `action`, for every
    /// action, and the group action's JSON name.
    #[test]
    fn kinds_are_the_names_the_plan_json_gives() {
        let plan = plan();
        let journal = Journal::unapplied(&plan);
        for entry in journal.entries() {
            let json = match entry.subject {
                Subject::Account { change, .. } => {
                    serde_json::to_value(change).unwrap()["action"].clone()
                }
                Subject::Group(change) => serde_json::to_value(change).unwrap()["action"].clone(),
            };
            assert_eq!(json, entry.kind(), "{json}");
        }
        let dn = dn("uid=a,dc=ex");
        let every_action = [
            Action::Create {
                dn: dn.clone(),
                attributes: Default::default(),
            },
            Action::Enable {
                method: crate::plan::DisableMethod::PpolicyLock,
                account_control: None,
                set_password: false,
                clear_expiry: false,
            },
            Action::Disable {
                method: crate::plan::DisableMethod::PpolicyLock,
                account_control: None,
                expires: None,
            },
            Action::SetAttribute {
                attribute: "title".into(),
                before: vec![],
                after: vec![],
            },
            Action::Move {
                from: dn.clone(),
                to: dn.clone(),
            },
            Action::AddToGroup { group: dn.clone() },
            Action::RemoveFromGroup { group: dn.clone() },
            Action::RenameMember {
                group: dn.clone(),
                from: dn.clone(),
                to: dn,
            },
        ];
        for action in every_action {
            assert_eq!(
                serde_json::to_value(&action).unwrap()["action"],
                action.name()
            );
        }
    }

    #[test]
    fn a_change_without_a_result_is_not_attempted() {
        let plan = plan();
        let journal = Journal::unapplied(&plan);
        assert!(journal.entries().all(|e| e.outcome.is_none()));
        assert!(journal.entries().all(|e| e.result() == "not_attempted"));
        assert_eq!(journal.entries().count(), 5);
    }
}
