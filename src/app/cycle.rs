//! One reconcile with its bookkeeping: a run id, the metrics published at its end, and the log
//! of what a stop left for the next run. `hrsync apply` runs one; `hrsync run` one per due time.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use chrono::{DateTime, Utc};

use crate::apply::Outcome as StepOutcome;
use crate::config::Config;
use crate::journal::Journal;
use crate::metrics::RunMetrics;

use super::clock::Clock;
use super::pipeline::{self, Audience, Execution, HrRead, Reading};
use super::{Outcome, RunError};

/// What one scheduled run did.
#[derive(Debug, Clone)]
pub(crate) struct CycleReport {
    pub(crate) run_id: String,
    pub(crate) started: DateTime<Utc>,
    pub(crate) finished: DateTime<Utc>,
    /// The exit code `hrsync apply` would have had (0 ok, 1 could not run, 3 some changes
    /// failed or were left, 4 a safety limit tripped, 5 another run holds the lease).
    pub(crate) exit_code: u8,
    /// Which side made the run fail, when it could not be carried out (exit code 1): see
    /// [`RunError::side`]. The message itself goes to the log only.
    pub(crate) failed: Option<&'static str>,
    pub(crate) metrics: RunMetrics,
}

impl CycleReport {
    pub(crate) fn success(&self) -> bool {
        self.exit_code == 0
    }
}

/// A run id: the start time and 32 random bits (`20261127T101500Z-9f3a1c2e`).
pub(crate) fn new_run_id(started: DateTime<Utc>) -> String {
    let mut bytes = [0u8; 4];
    let suffix = match getrandom::fill(&mut bytes) {
        Ok(()) => bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        Err(_) => format!("{:08x}", started.timestamp_subsec_nanos()),
    };
    format!("{}-{suffix}", started.format("%Y%m%dT%H%M%SZ"))
}

/// Runs `work` (a reconcile, or a saved plan's apply) timed and counted: the metrics it fills in
/// are published at its end whatever became of it (`previous_success` is the last good run's
/// end, kept when this one fails).
pub(crate) async fn counted(
    config: &Config,
    started: DateTime<Utc>,
    clock: &Clock,
    previous_success: Option<DateTime<Utc>>,
    work: impl AsyncFnOnce(&mut RunMetrics) -> Result<Outcome, RunError>,
) -> Reconciled {
    let mut metrics = RunMetrics {
        started: Some(started),
        ..RunMetrics::default()
    };
    let result = work(&mut metrics).await;
    let finished = clock();
    metrics.duration_seconds = (finished - started).num_milliseconds() as f64 / 1000.0;
    metrics.exit_code = super::exit_code(&result);
    metrics.success = metrics.exit_code == 0;
    metrics.last_success = if metrics.success {
        Some(finished)
    } else {
        previous_success
    };
    crate::metrics::publish(&config.operations.metrics, &metrics).await;
    Reconciled {
        result,
        metrics,
        finished,
    }
}

/// What [`counted`] gives.
pub(crate) struct Reconciled {
    pub(crate) result: Result<Outcome, RunError>,
    pub(crate) metrics: RunMetrics,
    pub(crate) finished: DateTime<Utc>,
}

/// One scheduled run of `hrsync run`. Never fails: what went wrong is in the report.
pub(crate) async fn run_once(
    config: &Config,
    clock: &Clock,
    stop: Option<Arc<AtomicBool>>,
    previous_success: Option<DateTime<Utc>>,
) -> CycleReport {
    let started = clock();
    let run_id = new_run_id(started);
    tracing::info!(run_id = %run_id, "run started");
    let execution = Execution::new(config, &run_id, stop, clock);
    let reading = Reading::of(HrRead::Employees, started);
    let Reconciled {
        result,
        metrics,
        finished,
    } = counted(config, started, clock, previous_success, async |metrics| {
        pipeline::reconcile(config, reading, &Audience::Log, &execution, metrics).await
    })
    .await;
    let exit_code = super::exit_code(&result);
    let failed = result.err().map(|e| {
        if let RunError::LeaseHeld { .. } = e {
            // Another run is applying to the directory: this one is skipped, not failed; the
            // next due time tries again (the metrics show exit code 5).
            tracing::warn!(run_id = %run_id, "run skipped: {e}");
        } else {
            tracing::error!(run_id = %run_id, error = %e, "run failed, nothing was changed");
        }
        e.side()
    });
    tracing::info!(
        run_id = %run_id,
        exit_code,
        duration_seconds = metrics.duration_seconds,
        "run finished"
    );
    CycleReport {
        run_id,
        started,
        finished,
        exit_code,
        failed,
        metrics,
    }
}

/// Logs, per account, the changes a stop left for the next run.
pub(crate) fn log_left_over(journal: &Journal<'_>) {
    let mut accounts = 0;
    let mut changes = 0;
    for (index, account) in journal.plan().accounts.iter().enumerate() {
        let outcomes: Vec<Option<&StepOutcome>> = journal.account_outcomes(index).collect();
        let failed = outcomes.iter().any(|o| {
            matches!(
                o,
                Some(StepOutcome::Failed { .. } | StepOutcome::Unanswered { .. })
            )
        });
        if failed {
            continue;
        }
        let left: Vec<String> = account
            .changes
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| matches!(o, None | Some(StepOutcome::NotAttempted)))
            .map(|(c, _)| c.action.summary())
            .collect();
        if left.is_empty() {
            continue;
        }
        accounts += 1;
        changes += left.len();
        tracing::warn!(
            employee = %account.employee_id,
            dn = %account.dn,
            lifecycle = account.lifecycle.as_str(),
            "left for the next run: {}",
            left.join(", ")
        );
    }
    if changes > 0 {
        tracing::warn!(
            accounts,
            changes,
            "stopped: {changes} change(s) of {accounts} account(s) not attempted, left for the next run"
        );
    }
}
