//! Executes a plan's steps against the directory and reports what happened to each.
//!
//! Accounts are independent, so their step sequences run concurrently (bounded) over the one
//! connection; within an account the steps run in order, and the first failure stops that
//! account's remaining steps, because later steps assume the earlier ones happened (a group add
//! after a move uses the new DN). Nothing is retried or rolled back: the next run plans from what
//! the directory then holds and converges.

use futures::StreamExt;
use serde::Serialize;

use crate::directory::Directory;
use crate::plan::ops::{Step, Steps};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    /// Counted as done: the server said the value was already there (or already gone).
    AlreadyDone,
    Failed {
        error: String,
    },
    /// Sent, but the connection ended before the server answered: the change may or may not
    /// have taken effect. The next run reads the directory and finds out.
    Unanswered {
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
            .filter(|r| {
                matches!(
                    r.outcome,
                    Outcome::Failed { .. } | Outcome::Unanswered { .. } | Outcome::NotAttempted
                )
            })
            .count()
    }

    pub fn applied(&self) -> usize {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Applied | Outcome::AlreadyDone))
            .count()
    }
}

pub async fn apply(directory: &Directory, steps: &Steps, concurrency: usize) -> ApplyReport {
    let mut report = ApplyReport::default();
    report
        .results
        .extend(run_sequence(directory, &steps.before, false).await);
    let sequences = futures::stream::iter(steps.accounts.iter())
        .map(|sequence| run_sequence(directory, sequence, true))
        .buffered(concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    report.results.extend(sequences.into_iter().flatten());
    report
        .results
        .extend(run_sequence(directory, &steps.after, false).await);
    report
}

/// Runs steps in order. With `stop_on_failure`, a failure marks the rest as not attempted.
async fn run_sequence(
    directory: &Directory,
    steps: &[Step],
    stop_on_failure: bool,
) -> Vec<StepResult> {
    let mut results = Vec::with_capacity(steps.len());
    let mut failed = false;
    for step in steps {
        let outcome = if failed && stop_on_failure {
            Outcome::NotAttempted
        } else {
            match directory.execute(&step.op).await {
                Ok(()) => Outcome::Applied,
                Err(e) if e.code().is_some() && e.code() == step.already_done_code => {
                    tracing::debug!(step = %step.description, error = %e, "already done");
                    Outcome::AlreadyDone
                }
                Err(e) if e.unanswered() => {
                    failed = true;
                    Outcome::Unanswered {
                        error: e.to_string(),
                    }
                }
                Err(e) => {
                    failed = true;
                    Outcome::Failed {
                        error: e.to_string(),
                    }
                }
            }
        };
        match &outcome {
            Outcome::Applied | Outcome::AlreadyDone => {
                tracing::info!(
                    employee = step.employee_id.as_deref().unwrap_or("-"),
                    "{}",
                    step.description
                )
            }
            Outcome::Failed { error } | Outcome::Unanswered { error } => tracing::error!(
                employee = step.employee_id.as_deref().unwrap_or("-"),
                %error,
                "failed: {}",
                step.description
            ),
            Outcome::NotAttempted => tracing::warn!(
                employee = step.employee_id.as_deref().unwrap_or("-"),
                "not attempted after an earlier failure: {}",
                step.description
            ),
        }
        results.push(StepResult {
            employee_id: step.employee_id.clone(),
            description: step.description.clone(),
            outcome,
        });
    }
    results
}
