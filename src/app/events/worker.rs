//! Syncs the employees events named, one batch at a time, through [`crate::app::sync`].
//!
//! A batch waits for the run slot: a full run under way finishes first (its lease would keep
//! a sync out anyway), and no full run starts while a batch is applied. Disables are counted
//! within `events.window_secs`; a batch that would pass `events.max_disables`, or any safety
//! limit of a run, applies nothing and pauses event processing, with `/healthz` unhealthy,
//! `hrsync_events_paused 1` and an error in the log, until an admin sends SIGHUP (or restarts
//! hrsync). The employees stay pending meanwhile, and the scheduled full runs go on.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::app::clock::Clock;
use crate::app::cycle::new_run_id;
use crate::app::pipeline::{Audience, Execution};
use crate::app::sync::{self, Request};
use crate::app::{Outcome, RunError};
use crate::config::{Config, events};
use crate::events::queue::{Pending, Queue, Window};
use crate::metrics::{EventTotals, RunMetrics};

/// The source name of the employees the changes run found (`schedule.changes`).
pub(crate) const CHANGES: &str = "changes";

/// How long a batch that could not start (another run holds the lease) waits.
const LEASE_WAIT: Duration = Duration::from_secs(5);

/// What the worker shares with the rest of `hrsync run`.
pub(crate) struct Shared {
    pub(crate) queue: Arc<Queue>,
    pub(crate) totals: Arc<Mutex<EventTotals>>,
    /// Held by a full run for its whole length, and by the worker for each batch.
    pub(crate) slot: Arc<tokio::sync::Mutex<()>>,
    pub(crate) stop: Arc<AtomicBool>,
    /// SIGHUP: resume after a pause.
    pub(crate) resume: Arc<Notify>,
}

/// Runs until the stop is set.
pub(crate) async fn work(config: Arc<Config>, clock: Clock, shared: Shared) {
    let rails = Rails::of(&config);
    let mut window = Window::new(rails.window);
    let mut paused = false;
    while !shared.stop.load(Ordering::SeqCst) {
        let wait = match shared.queue.next_due() {
            _ if paused => Duration::from_secs(1),
            Some(due) => due.saturating_duration_since(Instant::now()),
            None => Duration::from_secs(1),
        };
        tokio::select! {
            () = shared.queue.changed() => {}
            () = tokio::time::sleep(wait) => {}
            () = shared.resume.notified() => {
                if paused {
                    tracing::warn!("event processing resumed (SIGHUP); the window starts afresh");
                }
                paused = false;
                window.clear();
            }
        }
        if paused
            || shared
                .queue
                .next_due()
                .is_none_or(|due| due > Instant::now())
        {
            publish(&shared, &mut window, paused);
            continue;
        }
        let slot = shared.slot.lock().await;
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let batch = shared.queue.take_due(Instant::now());
        if batch.is_empty() {
            continue;
        }
        let budget = rails
            .max_disables
            .saturating_sub(window.count(Instant::now()));
        paused = run_batch(
            &config,
            &clock,
            &shared,
            batch,
            budget,
            &mut window,
            rails.retries,
        )
        .await;
        drop(slot);
        publish(&shared, &mut window, paused);
    }
    let left = shared.queue.len();
    if left > 0 {
        tracing::warn!(
            employees = left,
            "stopping with employees named by events not synced; the next full run reconciles them"
        );
    }
}

/// The window limit and the retries: `[events]`'s, or its defaults for the changes run alone.
struct Rails {
    window: Duration,
    max_disables: usize,
    retries: u32,
}

impl Rails {
    fn of(config: &Config) -> Self {
        match &config.operations.events {
            Some(events) => Self {
                window: events.window,
                max_disables: events.max_disables,
                retries: events.retries,
            },
            None => Self {
                window: Duration::from_secs(events::DEFAULT_WINDOW_SECS),
                max_disables: events::DEFAULT_MAX_DISABLES,
                retries: events::DEFAULT_RETRIES,
            },
        }
    }
}

/// Syncs one batch; `true` when event processing must pause (a limit tripped).
async fn run_batch(
    config: &Config,
    clock: &Clock,
    shared: &Shared,
    batch: BTreeMap<String, Pending>,
    budget: usize,
    window: &mut Window,
    retries: u32,
) -> bool {
    let mut sources: Vec<&str> = batch
        .values()
        .flat_map(|p| p.sources.iter().map(String::as_str))
        .collect();
    sources.sort_unstable();
    sources.dedup();
    let trigger = if sources == [CHANGES] {
        CHANGES.to_string()
    } else {
        format!("event:{}", sources.join("+"))
    };
    let now = clock();
    let run_id = new_run_id(now);
    let mut execution = Execution::new(config, &run_id, Some(shared.stop.clone()), clock);
    execution.trigger = Some(&trigger);
    let ids: BTreeSet<String> = batch.keys().cloned().collect();
    tracing::info!(run_id = %run_id, trigger = %trigger, employees = ids.len(), "event sync started");
    let request = Request {
        ids: &ids,
        now,
        disable_budget: Some(budget),
        dry_run: false,
    };
    // A sync's counts are not the last run's: the textfile and the run series stay the full
    // runs'. What events did is in the events series and the audit log.
    let mut metrics = RunMetrics::default();
    let result = sync::sync(config, request, &Audience::Log, &execution, &mut metrics).await;
    match result {
        Ok(synced) if synced.outcome == Outcome::LimitTripped => {
            tracing::error!(
                run_id = %run_id,
                disables = synced.disables,
                budget,
                "event processing paused: a safety limit tripped (events.max_disables within \
                 events.window_secs, or a run limit); nothing was applied. Review the plan \
                 (hrsync sync ID... --dry-run), then send SIGHUP to resume"
            );
            shared.queue.put_back(batch, Instant::now());
            true
        }
        Ok(synced) => {
            window.record(synced.disables, Instant::now());
            let result = if synced.outcome == Outcome::Success {
                "success"
            } else {
                "failure"
            };
            count(shared, result, ids.len() - synced.unread.len());
            let mut batch = batch;
            for id in &synced.unread {
                if let Some(entry) = batch.remove(id) {
                    retry(shared, id, entry, retries);
                }
            }
            tracing::info!(run_id = %run_id, disables = synced.disables, "event sync finished");
            false
        }
        Err(RunError::LeaseHeld { holder, .. }) => {
            tracing::info!(run_id = %run_id, %holder, "another run holds the lease; the events wait");
            shared.queue.put_back(batch, Instant::now() + LEASE_WAIT);
            false
        }
        Err(RunError::Stopped) => false,
        Err(error) => {
            tracing::error!(run_id = %run_id, %error, "event sync failed, nothing was changed; trying again");
            for (id, entry) in batch {
                retry(shared, &id, entry, retries);
            }
            false
        }
    }
}

/// Queues `id` again after its backoff, or gives it up to the next full run.
fn retry(shared: &Shared, id: &str, entry: Pending, retries: u32) {
    if !shared.queue.retry(id, entry, retries, Instant::now()) {
        tracing::warn!(
            id,
            "given up on an employee named by events after {retries} retries; the next full \
             run reconciles them"
        );
        count(shared, "given_up", 1);
    }
}

fn count(shared: &Shared, result: &'static str, n: usize) {
    if n > 0 {
        let mut totals = lock(&shared.totals);
        *totals.employees.entry(result).or_default() += n as u64;
    }
}

/// The gauges, as they are now.
fn publish(shared: &Shared, window: &mut Window, paused: bool) {
    let in_window = window.count(Instant::now());
    let mut totals = lock(&shared.totals);
    totals.pending = shared.queue.len();
    totals.disables_in_window = in_window;
    totals.paused = paused;
}

pub(crate) fn lock(totals: &Mutex<EventTotals>) -> std::sync::MutexGuard<'_, EventTotals> {
    totals
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
