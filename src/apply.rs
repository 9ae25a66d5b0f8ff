//! Executes a plan's steps against the directory and reports what happened to each.
//!
//! Accounts are independent; within an account the steps run in order, and the first failure
//! stops that account's remaining steps, because later steps assume the earlier ones happened (a
//! group add after a move uses the new DN; a leaver loses groups only once locked). Nothing is
//! rolled back: the next run plans from what the directory then holds and converges.
//!
//! How it goes fast (see the README, "Performance"): the accounts advance in rounds, round `k`
//! running step `k` of every account still going, so each account's order is kept exactly. In a
//! round, the steps that only add or delete values of the same entry (every account joining or
//! leaving one group) are merged into one modify ([`ops::batches`]), and the round's operations
//! are pipelined over the one connection, at most `concurrency` in flight. A merged modify is
//! atomic: when the server refuses it, nothing of it happened, and it is split in halves and
//! retried until the refused step stands alone, so every step still gets its own result.

use futures::StreamExt;
use serde::Serialize;

use crate::directory::Directory;
use crate::plan::ops::{self, MAX_BATCH, Step, Steps};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    /// Counted as done: the server said the value was already there (or already gone).
    AlreadyDone,
    Failed {
        error: String,
    },
    /// Not tried because an earlier step of the same account failed.
    NotAttempted,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub employee_id: Option<String>,
    pub description: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyReport {
    pub results: Vec<StepResult>,
}

impl ApplyReport {
    pub fn failed(&self) -> usize {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Failed { .. } | Outcome::NotAttempted))
            .count()
    }

    pub fn applied(&self) -> usize {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Applied | Outcome::AlreadyDone))
            .count()
    }
}

/// Which step of the plan a result belongs to: the stage, and for accounts the account's index
/// in [`Steps::accounts`] and the step's index in its sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Before(usize),
    Account(usize, usize),
    After(usize),
}

/// Applies `steps` with at most `concurrency` LDAP operations in flight. Results come back in
/// [`Steps::iter`] order, one per step.
pub async fn apply(directory: &Directory, steps: &Steps, concurrency: usize) -> ApplyReport {
    let concurrency = concurrency.max(1);
    let mut report = ApplyReport::default();

    // Placeholders in first: independent of each other (one per group), none stops another.
    let before: Vec<(Slot, &Step)> = steps
        .before
        .iter()
        .enumerate()
        .map(|(i, s)| (Slot::Before(i), s))
        .collect();
    let mut before_outcomes = vec![None; steps.before.len()];
    for (slot, outcome) in run_round(directory, &before, concurrency).await {
        if let Slot::Before(i) = slot {
            before_outcomes[i] = Some(outcome);
        }
    }
    push_results(&mut report, &steps.before, before_outcomes);

    // The accounts, round by round.
    let mut outcomes: Vec<Vec<Option<Outcome>>> = steps
        .accounts
        .iter()
        .map(|sequence| vec![None; sequence.len()])
        .collect();
    let mut stopped = vec![false; steps.accounts.len()];
    let rounds = steps.accounts.iter().map(Vec::len).max().unwrap_or(0);
    for round in 0..rounds {
        let items: Vec<(Slot, &Step)> = steps
            .accounts
            .iter()
            .enumerate()
            .filter(|(account, _)| !stopped[*account])
            .filter_map(|(account, sequence)| {
                sequence
                    .get(round)
                    .map(|step| (Slot::Account(account, round), step))
            })
            .collect();
        for (slot, outcome) in run_round(directory, &items, concurrency).await {
            if let Slot::Account(account, index) = slot {
                if matches!(outcome, Outcome::Failed { .. }) {
                    stopped[account] = true;
                }
                outcomes[account][index] = Some(outcome);
            }
        }
    }
    for (sequence, outcomes) in steps.accounts.iter().zip(outcomes) {
        push_results(&mut report, sequence, outcomes);
    }

    // Placeholders out last.
    let after: Vec<(Slot, &Step)> = steps
        .after
        .iter()
        .enumerate()
        .map(|(i, s)| (Slot::After(i), s))
        .collect();
    let mut after_outcomes = vec![None; steps.after.len()];
    for (slot, outcome) in run_round(directory, &after, concurrency).await {
        if let Slot::After(i) = slot {
            after_outcomes[i] = Some(outcome);
        }
    }
    push_results(&mut report, &steps.after, after_outcomes);
    report
}

/// Adds one result per step; a step without an outcome was not attempted.
fn push_results(report: &mut ApplyReport, steps: &[Step], outcomes: Vec<Option<Outcome>>) {
    for (step, outcome) in steps.iter().zip(outcomes) {
        let outcome = outcome.unwrap_or_else(|| {
            tracing::warn!(
                employee = step.employee_id.as_deref().unwrap_or("-"),
                "not attempted after an earlier failure: {}",
                step.description
            );
            Outcome::NotAttempted
        });
        report.results.push(StepResult {
            employee_id: step.employee_id.clone(),
            description: step.description.clone(),
            outcome,
        });
    }
}

/// Runs independent steps (no two of one account): merged where they can be, pipelined, at
/// most `concurrency` operations in flight. One outcome per step, in no particular order.
async fn run_round(
    directory: &Directory,
    items: &[(Slot, &Step)],
    concurrency: usize,
) -> Vec<(Slot, Outcome)> {
    let steps: Vec<&Step> = items.iter().map(|(_, step)| *step).collect();
    let units = ops::batches(&steps, MAX_BATCH);
    futures::stream::iter(units)
        .map(|unit| {
            let members: Vec<(Slot, &Step)> = unit.iter().map(|&i| items[i]).collect();
            run_unit(directory, members)
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Runs one unit: a lone step, or mergeable steps on one entry sent as one modify. A refused
/// merged modify changed nothing (a modify is atomic); it is split in halves and each half
/// retried, down to single steps, so the refusal lands on the step that caused it and the
/// others still apply.
///
/// A unit is one LDAP operation in flight: the place for a per-operation check (a stop flag,
/// a progress count) is at the top of the loop below, before each operation is sent.
async fn run_unit(directory: &Directory, unit: Vec<(Slot, &Step)>) -> Vec<(Slot, Outcome)> {
    let mut results = Vec::with_capacity(unit.len());
    let mut pending = vec![unit];
    while let Some(mut part) = pending.pop() {
        let merged = if part.len() > 1 {
            let steps: Vec<&Step> = part.iter().map(|(_, step)| *step).collect();
            ops::merge(&steps)
        } else {
            None
        };
        let Some(op) = merged else {
            // A single step (or, defensively, steps that cannot be merged): one by one.
            for (slot, step) in part {
                results.push((slot, run_step(directory, step).await));
            }
            continue;
        };
        match directory.execute(&op).await {
            Ok(()) => {
                for (slot, step) in part {
                    log_outcome(step, &Outcome::Applied);
                    results.push((slot, Outcome::Applied));
                }
            }
            // No answer from the server (connection lost, timeout): whether the modify
            // happened is unknown, and splitting would only multiply the waits. Each step
            // fails with that error; the next run reads what is there and converges.
            Err(e) if e.code().is_none() => {
                let error = e.to_string();
                for (slot, step) in part {
                    let outcome = Outcome::Failed {
                        error: error.clone(),
                    };
                    log_outcome(step, &outcome);
                    results.push((slot, outcome));
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, steps = part.len(), "merged modify refused; splitting it");
                let second = part.split_off(part.len() / 2);
                pending.push(second);
                pending.push(part);
            }
        }
    }
    results
}

/// Runs one step on its own.
async fn run_step(directory: &Directory, step: &Step) -> Outcome {
    let outcome = match directory.execute(&step.op).await {
        Ok(()) => Outcome::Applied,
        Err(e) if e.code().is_some() && e.code() == step.already_done_code => {
            tracing::debug!(step = %step.description, error = %e, "already done");
            Outcome::AlreadyDone
        }
        Err(e) => Outcome::Failed {
            error: e.to_string(),
        },
    };
    log_outcome(step, &outcome);
    outcome
}

fn log_outcome(step: &Step, outcome: &Outcome) {
    let employee = step.employee_id.as_deref().unwrap_or("-");
    match outcome {
        Outcome::Applied | Outcome::AlreadyDone => {
            tracing::info!(employee, "{}", step.description)
        }
        Outcome::Failed { error } => {
            tracing::error!(employee, %error, "failed: {}", step.description)
        }
        Outcome::NotAttempted => tracing::warn!(
            employee,
            "not attempted after an earlier failure: {}",
            step.description
        ),
    }
}
