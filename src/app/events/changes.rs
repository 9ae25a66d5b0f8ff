//! The changed-since run (`schedule.changes`): at each due time, HR is asked which employees
//! changed since the last read that succeeded, and those employees join the worker's queue
//! like the employees an event names. A read that fails leaves the time where it was, so the
//! next one asks for everything since; each read reaches back a minute further than the last
//! one's start, so a clock between hrsync and HR that differs a little loses no change.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::app::clock::Clock;
use crate::config::Config;
use crate::events::queue::Queue;
use crate::schedule::Schedule;

use super::worker::CHANGES;

/// How far each read reaches back before the last one's start.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(60);

/// Runs until the stop is set. The first read asks for the changes since hrsync started: what
/// changed before is the full run's.
pub(crate) async fn poll(
    config: Arc<Config>,
    clock: Clock,
    schedule: Schedule,
    queue: Arc<Queue>,
    stop: Arc<AtomicBool>,
) {
    let mut since = clock();
    tracing::info!(schedule = %schedule.expression, "changed-since run scheduled");
    while !stop.load(Ordering::SeqCst) {
        let now = clock();
        let Some(due) = schedule.next_after(now) else {
            return;
        };
        let wait = (due - now).to_std().unwrap_or_default();
        let mut waited = std::time::Duration::ZERO;
        // Looks at the stop every second, so that a stop never waits for a due time.
        while waited < wait && !stop.load(Ordering::SeqCst) {
            let step = (wait - waited).min(std::time::Duration::from_secs(1));
            tokio::time::sleep(step).await;
            waited += step;
        }
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let asked_at = clock();
        match crate::hr::read_changed(&config.hr, since - OVERLAP).await {
            Ok(ids) => {
                let ids: Vec<String> = ids.into_iter().collect();
                tracing::info!(
                    employees = ids.len(),
                    since = %(since - OVERLAP).to_rfc3339(),
                    "changed-since read"
                );
                if !ids.is_empty() {
                    queue.push(CHANGES, &ids, Instant::now());
                }
                since = asked_at;
            }
            Err(error) => tracing::warn!(
                %error,
                "changed-since read failed; the next one asks for everything since the last \
                 that succeeded"
            ),
        }
    }
}
