//! One scheduled run of `hrsync run` (read, plan, apply, then audit, hooks and metrics), and
//! the after-apply work that `hrsync apply` shares with it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};

use crate::app::daemon::Clock;
use crate::apply::{ApplyReport, Control, Outcome as StepOutcome, apply_with};
use crate::config::Config;
use crate::hooks::HookReport;
use crate::metrics::RunMetrics;
use crate::plan::Plan;

/// What one run did.
#[derive(Debug, Clone)]
pub struct CycleReport {
    pub run_id: String,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    /// The exit code `hrsync apply` would have had (0 ok, 1 could not run, 3 some changes
    /// failed, 4 a safety limit tripped).
    pub exit_code: u8,
    /// Why the run could not be carried out (exit code 1).
    pub error: Option<String>,
    pub metrics: RunMetrics,
}

impl CycleReport {
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }
}

/// A run id: the start time and 32 random bits (`20261127T101500Z-9f3a1c2e`).
/// Applies `steps` with the progress display (on a terminal) and, when given, the stop flag:
/// how `apply` and `run` both apply.
pub async fn apply_observed(
    config: &Config,
    directory: &crate::directory::Directory,
    steps: &crate::plan::ops::Steps,
    stop: Option<Arc<AtomicBool>>,
) -> ApplyReport {
    let progress = crate::progress::Progress::steps(steps.len());
    let control = Control {
        stop,
        on_step: progress.as_ref().map(|p| p.callback()),
    };
    apply_with(
        directory,
        steps,
        config.directory.max_concurrent_accounts,
        &control,
    )
    .await
}

pub fn new_run_id(started: DateTime<Utc>) -> String {
    let mut bytes = [0u8; 4];
    let suffix = match getrandom::fill(&mut bytes) {
        Ok(()) => bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        Err(_) => format!("{:08x}", started.timestamp_subsec_nanos()),
    };
    format!("{}-{suffix}", started.format("%Y%m%dT%H%M%SZ"))
}

/// Audit, hooks: what follows an apply, in `hrsync apply` and `hrsync run` alike. Failures
/// here are logged and reported, never undo anything, and do not change the exit code.
pub async fn after_apply(
    config: &Config,
    plan: &Plan,
    report: &ApplyReport,
    run_id: &str,
    time: DateTime<Utc>,
) -> HookReport {
    if let Some(sink) = &config.operations.audit {
        let records = crate::audit::records(plan, report, run_id, time);
        if let Err(e) = crate::audit::write(sink, &records) {
            tracing::error!(error = %e, "cannot write the audit log");
        }
    }
    let events = crate::hooks::events(plan, report, run_id, time);
    let hooks = crate::hooks::fire(&config.operations.hooks, &events).await;
    if !hooks.failures.is_empty() {
        tracing::warn!(
            failed = hooks.failures.len(),
            calls = hooks.calls,
            "some hook calls failed; the directory changes stand"
        );
    }
    hooks
}

/// The summary line of failed hooks, for stdout.
pub fn hook_summary(hooks: &HookReport) -> Option<String> {
    if hooks.failures.is_empty() {
        return None;
    }
    let mut out = format!(
        "{} of {} hook call(s) failed (the directory changes stand):",
        hooks.failures.len(),
        hooks.calls
    );
    for failure in &hooks.failures {
        out.push_str(&format!("\n  ! hook {failure}"));
    }
    Some(out)
}

/// Logs, per account, the changes a stop left for the next run.
pub fn log_left_over(plan: &Plan, report: Option<&ApplyReport>) {
    let empty = ApplyReport::default();
    let report = report.unwrap_or(&empty);
    let mut accounts = 0;
    let mut changes = 0;
    for account in &plan.accounts {
        let paired = crate::audit::pair_account(account, report);
        let failed = paired.iter().any(|(_, r)| {
            matches!(
                r,
                Some(StepOutcome::Failed { .. } | StepOutcome::Unanswered { .. })
            )
        });
        if failed {
            continue;
        }
        let left: Vec<String> = paired
            .iter()
            .filter(|(_, r)| matches!(r, None | Some(StepOutcome::NotAttempted)))
            .map(|(c, _)| c.clone())
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

/// One scheduled run. Never fails: what went wrong is in the report.
pub async fn run_once(
    config: &Config,
    clock: &Clock,
    stop: Option<Arc<AtomicBool>>,
    previous_success: Option<DateTime<Utc>>,
) -> CycleReport {
    let started = clock();
    let run_id = new_run_id(started);
    tracing::info!(run_id = %run_id, "run started");
    let mut metrics = RunMetrics {
        started: Some(started),
        ..RunMetrics::default()
    };
    let (exit_code, error) = match cycle(config, clock, stop, &run_id, started, &mut metrics).await
    {
        Ok(code) => (code, None),
        Err(e) => {
            tracing::error!(run_id = %run_id, error = %e, "run failed, nothing was changed");
            (1, Some(e.to_string()))
        }
    };
    let finished = clock();
    metrics.duration_seconds = (finished - started).num_milliseconds() as f64 / 1000.0;
    metrics.exit_code = exit_code;
    metrics.success = exit_code == 0;
    metrics.last_success = if metrics.success {
        Some(finished)
    } else {
        previous_success
    };
    crate::metrics::publish(&config.operations.metrics, &metrics).await;
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
        error,
        metrics,
    }
}

async fn cycle(
    config: &Config,
    clock: &Clock,
    stop: Option<Arc<AtomicBool>>,
    run_id: &str,
    now: DateTime<Utc>,
    metrics: &mut RunMetrics,
) -> Result<u8, crate::app::RunError> {
    let (plan, directory, rejected) =
        crate::app::pipeline::make_plan_counting(config, now, None).await?;
    metrics.record_plan(&plan, rejected);
    let summary = &plan.summary;
    tracing::info!(
        run_id,
        joiners = summary.joiners,
        movers = summary.movers,
        leavers = summary.leavers,
        rehires = summary.rehires,
        returns = summary.returns,
        updates = summary.updates,
        changes = summary.changes,
        hr_records = summary.hr_records,
        hr_rejected = rejected,
        directory_accounts = summary.directory_accounts,
        "planned"
    );
    for warning in &plan.warnings {
        tracing::warn!(run_id, "{warning}");
    }
    if !plan.limits_tripped.is_empty() {
        directory.close().await;
        metrics.record_planned(&plan);
        for tripped in &plan.limits_tripped {
            tracing::error!(
                kind = tripped.kind.as_str(),
                count = tripped.count,
                "{tripped}; nothing applied: review the plan and apply it with `hrsync apply`"
            );
        }
        return Ok(4);
    }
    if stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
        directory.close().await;
        metrics.record_planned(&plan);
        log_left_over(&plan, None);
        return Ok(0);
    }
    let steps = crate::app::pipeline::plan_steps(config, &plan);
    if steps.is_empty() {
        directory.close().await;
        tracing::info!(run_id, "no changes");
        return Ok(0);
    }
    let report = apply_observed(config, &directory, &steps, stop.clone()).await;
    directory.close().await;
    metrics.record_results(&plan, &report);
    let failed = report
        .results
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                StepOutcome::Failed { .. } | StepOutcome::Unanswered { .. }
            )
        })
        .count();
    if stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
        log_left_over(&plan, Some(&report));
    }
    let hooks = after_apply(config, &plan, &report, run_id, clock()).await;
    metrics.hook_calls = hooks.calls;
    metrics.hook_failures = hooks.failures.len() as u64;
    tracing::info!(run_id, applied = report.applied(), failed, "apply finished");
    Ok(if failed > 0 { 3 } else { 0 })
}
