//! `hrsync run`: stays up and plans and applies on the `[schedule]`.
//!
//! Runs happen one after the other in one loop, so they never overlap: a run that lasts past
//! the next due time delays that run (the missed time is logged), it never starts a second
//! one. SIGTERM and SIGINT set a stop flag: no run starts any more, a run under way finishes
//! the change it is making and starts no other, and the log lists what was left for the next
//! run. A clean stop exits 0.
//!
//! With `[events]`, the events endpoint and its worker run beside the loop (see
//! [`super::events`]); a full run and a batch of events never overlap (the run slot), and
//! SIGHUP resumes event processing that a limit paused.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, Notify};

use super::clock::Clock;
use super::serve::State;
use super::{Outcome, RunError};
use crate::config::Config;

/// Runs until SIGTERM or SIGINT.
pub(crate) async fn run(config: Config, clock: Clock) -> Result<Outcome, RunError> {
    let Some(schedule) = config.operations.schedule.clone() else {
        return Err(RunError::Config(
            "  - schedule: `hrsync run` needs a [schedule] table with cron = \"...\" \
             (for a single run use `hrsync apply`)"
                .to_string(),
        ));
    };
    let config = Arc::new(config);
    let stop = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(Notify::new());
    watch_signals(stop.clone(), Some(wake.clone()))?;
    let slot = Arc::new(Mutex::new(()));
    let events = super::events::totals(&config);
    let state = Arc::new(Mutex::new(State {
        events: events.clone(),
        // A restart keeps the time of the last good run, when the textfile has it.
        last_success: config
            .operations
            .metrics
            .textfile
            .as_deref()
            .and_then(crate::metrics::previous_success),
        unhealthy_after_failures: config.operations.metrics.unhealthy_after_failures,
        ..State::default()
    }));
    if let Some(addr) = config.operations.metrics.listen {
        crate::app::serve::start(addr, state.clone(), clock.clone())
            .await
            .map(|_| ())
            .map_err(|source| RunError::Setup {
                what: format!("cannot serve /metrics and /healthz on {addr} (metrics.listen)"),
                source,
            })?;
    }
    if let Some(totals) = events {
        let resume = Arc::new(Notify::new());
        watch_hangup(resume.clone())?;
        let shared = super::events::worker::Shared {
            queue: Arc::new(crate::events::queue::Queue::default()),
            totals,
            slot: slot.clone(),
            stop: stop.clone(),
            resume,
        };
        super::events::start(config.clone(), clock.clone(), shared).await?;
    }
    tracing::info!(
        schedule = %schedule.schedule.expression,
        time_zone = %schedule.schedule.time_zone,
        "hrsync run started"
    );
    let grace = chrono::Duration::from_std(schedule.grace).unwrap_or(chrono::Duration::MAX);
    let mut run_now = schedule.run_on_start;
    let mut last_due: Option<DateTime<Utc>> = None;
    while !stop.load(Ordering::SeqCst) {
        let now = clock();
        let due = if run_now {
            now
        } else {
            let Some(due) = next_due(&schedule.schedule, last_due, now) else {
                tracing::warn!("the schedule has no run time left; stopping");
                break;
            };
            due
        };
        run_now = false;
        state.lock().await.due_by = due.checked_add_signed(grace);
        tracing::info!(next_run = %due.to_rfc3339(), "waiting for the next run");
        let wait = (due - now).to_std().unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = wake.notified() => {}
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        last_due = Some(due);
        let slot = slot.lock().await;
        run_and_record(&config, &clock, &stop, &state).await;
        drop(slot);
    }
    tracing::info!("hrsync run stopped cleanly");
    Ok(Outcome::Success)
}

/// The next due time after `now`; logs the due times a run that lasted too long made the loop
/// miss since `last_due`.
fn next_due(
    schedule: &crate::schedule::Schedule,
    last_due: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let due = schedule.next_after(now)?;
    if let Some(previous) = last_due {
        let skipped = schedule
            .upcoming(previous, 1000)
            .into_iter()
            .take_while(|t| *t < due && *t <= now)
            .count();
        if skipped > 0 {
            tracing::warn!(
                skipped,
                "the last run lasted past {skipped} due time(s); runs never overlap, \
                 so the next one waits for its own time"
            );
        }
    }
    Some(due)
}

/// One run, with the state `/healthz` and `/metrics` show updated around it.
async fn run_and_record(
    config: &Config,
    clock: &Clock,
    stop: &Arc<AtomicBool>,
    state: &Mutex<State>,
) {
    let previous_success = {
        let mut state = state.lock().await;
        state.running = true;
        state.last_success
    };
    let report = super::cycle::run_once(config, clock, Some(stop.clone()), previous_success).await;
    let mut state = state.lock().await;
    state.running = false;
    let key = if report.success() {
        state.last_success = Some(report.finished);
        state.failures_in_a_row = 0;
        "success"
    } else {
        state.failures_in_a_row += 1;
        "failure"
    };
    *state.runs.entry(key).or_default() += 1;
    state.last = Some(report);
}

/// A stop flag that SIGTERM and SIGINT set: how `hrsync apply` and `hrsync offboard` stop as
/// cleanly as `hrsync run` when a scheduler's deadline (systemd, a CronJob) sends SIGTERM.
pub(crate) fn stop_on_signals() -> Result<Arc<AtomicBool>, RunError> {
    let stop = Arc::new(AtomicBool::new(false));
    watch_signals(stop.clone(), None)?;
    Ok(stop)
}

/// Wakes `resume` on SIGHUP: an admin resumes event processing after a pause.
fn watch_hangup(resume: Arc<Notify>) -> Result<(), RunError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup()).map_err(|source| RunError::Setup {
        what: "cannot install the SIGHUP handler".to_string(),
        source,
    })?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            tracing::warn!(signal = "SIGHUP", "resume requested for event processing");
            resume.notify_one();
        }
    });
    Ok(())
}

/// Sets `stop` (and wakes the loop waiting on `wake`) on SIGTERM or SIGINT.
fn watch_signals(stop: Arc<AtomicBool>, wake: Option<Arc<Notify>>) -> Result<(), RunError> {
    use tokio::signal::unix::{SignalKind, signal};
    let signal_error = |source: std::io::Error| RunError::Setup {
        what: "cannot install the SIGTERM/SIGINT handlers".to_string(),
        source,
    };
    let mut terminate = signal(SignalKind::terminate()).map_err(signal_error)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(signal_error)?;
    tokio::spawn(async move {
        loop {
            let name = tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            };
            if stop.swap(true, Ordering::SeqCst) {
                tracing::warn!(signal = name, "already stopping");
            } else {
                tracing::warn!(
                    signal = name,
                    "stop requested: a change under way completes, no new one starts"
                );
            }
            if let Some(wake) = &wake {
                wake.notify_one();
            }
        }
    });
    Ok(())
}
