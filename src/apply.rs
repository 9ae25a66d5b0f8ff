//! Executes a plan's steps against the directory and reports what happened to each.
//!
//! Accounts are independent, so their step sequences run concurrently (bounded) over the one
//! connection; within an account the steps run in order, and the first failure stops that
//! account's remaining steps, because later steps assume the earlier ones happened (a group add
//! after a move uses the new DN). Nothing is retried or rolled back: the next run plans from what
//! the directory then holds and converges.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// Not tried because an earlier step of the same account failed, or because hrsync was
    /// stopping (see [`Control::stop`]): left for the next run.
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

/// What the caller of [`apply_with`] can do while it runs.
#[derive(Clone, Default)]
pub struct Control {
    /// When set, no step starts any more (a step under way completes); the steps not started
    /// are reported as [`Outcome::NotAttempted`], left for the next run.
    pub stop: Option<Arc<AtomicBool>>,
    /// Called after each step, whatever its outcome (for a progress display).
    pub on_step: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Control {
    fn stopping(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst))
    }
}

pub async fn apply(directory: &Directory, steps: &Steps, concurrency: usize) -> ApplyReport {
    apply_with(directory, steps, concurrency, &Control::default()).await
}

/// [`apply`], stoppable and observable through `control`.
pub async fn apply_with(
    directory: &Directory,
    steps: &Steps,
    concurrency: usize,
    control: &Control,
) -> ApplyReport {
    let mut report = ApplyReport::default();
    report
        .results
        .extend(run_sequence(directory, &steps.before, false, control).await);
    let sequences = futures::stream::iter(steps.accounts.iter())
        .map(|sequence| run_sequence(directory, sequence, true, control))
        .buffered(concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    report.results.extend(sequences.into_iter().flatten());
    report
        .results
        .extend(run_sequence(directory, &steps.after, false, control).await);
    report
}

/// Runs steps in order. With `stop_on_failure`, a failure marks the rest as not attempted.
async fn run_sequence(
    directory: &Directory,
    steps: &[Step],
    stop_on_failure: bool,
    control: &Control,
) -> Vec<StepResult> {
    let mut results = Vec::with_capacity(steps.len());
    let mut failed = false;
    for step in steps {
        let outcome = if failed && stop_on_failure {
            Outcome::NotAttempted
        } else if control.stopping() {
            tracing::warn!(
                employee = step.employee_id.as_deref().unwrap_or("-"),
                "stopping: left for the next run: {}",
                step.description
            );
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
            Outcome::NotAttempted if !failed => {}
            Outcome::NotAttempted => tracing::warn!(
                employee = step.employee_id.as_deref().unwrap_or("-"),
                "not attempted after an earlier failure: {}",
                step.description
            ),
        }
        if let Some(on_step) = &control.on_step {
            on_step();
        }
        results.push(StepResult {
            employee_id: step.employee_id.clone(),
            description: step.description.clone(),
            outcome,
        });
    }
    results
}
