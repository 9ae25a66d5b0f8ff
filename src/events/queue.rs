//! The employees events have named and that are not synced yet, and the disables events made
//! within the window.
//!
//! An employee is pending once however many events name them: a burst of twenty "updated"
//! deliveries for one person (BambooHR sends one per changed field set, HiBob one per event
//! type) is one read and one plan, and a duplicate delivery is nothing more. An employee whose
//! HR read failed waits 2, 4, 8, ... seconds before the next try, and is given up (left to the
//! next full run) after the configured number of tries; a new event for them makes them due at
//! once again.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The first pause after a failed read, doubled at each further failure up to [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_secs(2);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// One pending employee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pending {
    /// When to sync them (now, or after a backoff).
    pub(crate) due: Instant,
    /// Failed reads so far.
    pub(crate) failures: u32,
    /// The sources whose events named them (for the audit's trigger).
    pub(crate) sources: Vec<String>,
}

/// The pending employees, by id.
#[derive(Default)]
pub(crate) struct Queue {
    pending: Mutex<BTreeMap<String, Pending>>,
    changed: Notify,
}

impl Queue {
    /// Adds the employees `ids` named by an event of `source`, due now. Already pending: due
    /// now (an event after a failed read is worth a try at once), named once.
    pub(crate) fn push(&self, source: &str, ids: &[String], now: Instant) {
        let mut pending = self.lock();
        for id in ids {
            let entry = pending.entry(id.clone()).or_insert_with(|| Pending {
                due: now,
                failures: 0,
                sources: Vec::new(),
            });
            entry.due = entry.due.min(now);
            if !entry.sources.iter().any(|s| s == source) {
                entry.sources.push(source.to_string());
            }
        }
        drop(pending);
        self.changed.notify_one();
    }

    /// Takes every employee due by `now`, in id order, leaving the others.
    pub(crate) fn take_due(&self, now: Instant) -> BTreeMap<String, Pending> {
        let mut pending = self.lock();
        let (due, later): (BTreeMap<_, _>, BTreeMap<_, _>) = std::mem::take(&mut *pending)
            .into_iter()
            .partition(|(_, p)| p.due <= now);
        *pending = later;
        due
    }

    /// Puts employees back, due at once (a run that could not start: the lease was held).
    pub(crate) fn put_back(&self, taken: BTreeMap<String, Pending>, due: Instant) {
        let mut pending = self.lock();
        for (id, mut entry) in taken {
            entry.due = due;
            let merged = pending.entry(id).or_insert(entry.clone());
            merged.due = merged.due.min(due);
            for source in entry.sources {
                if !merged.sources.contains(&source) {
                    merged.sources.push(source);
                }
            }
        }
        drop(pending);
        self.changed.notify_one();
    }

    /// An employee whose HR read failed: back in the queue after a backoff, or `false` when
    /// they have failed `retries` times (given up: the next full run reconciles them). An event
    /// that came for them meanwhile keeps them due at once.
    pub(crate) fn retry(&self, id: &str, mut entry: Pending, retries: u32, now: Instant) -> bool {
        entry.failures += 1;
        if entry.failures > retries {
            return false;
        }
        entry.due = now + backoff(entry.failures);
        let mut pending = self.lock();
        match pending.get_mut(id) {
            Some(newer) => newer.failures = entry.failures,
            None => {
                pending.insert(id.to_string(), entry);
            }
        }
        true
    }

    /// How many employees are pending.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// When the next pending employee is due, if any is.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.lock().values().map(|p| p.due).min()
    }

    /// Waits until an employee is pushed or put back (or returns at once if one was since the
    /// last wait).
    pub(crate) async fn changed(&self) {
        self.changed.notified().await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Pending>> {
        // A panic while holding the lock cannot leave the map half-changed: every change
        // above is a single insert or replace.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The pause before try `failures + 1`.
fn backoff(failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    (BACKOFF_FIRST * factor).min(BACKOFF_MAX)
}

/// Disables made because of events, within a sliding window.
#[derive(Debug)]
pub(crate) struct Window {
    span: Duration,
    disables: VecDeque<(Instant, usize)>,
}

impl Window {
    pub(crate) fn new(span: Duration) -> Self {
        Self {
            span,
            disables: VecDeque::new(),
        }
    }

    /// Records `count` disables at `now`.
    pub(crate) fn record(&mut self, count: usize, now: Instant) {
        if count > 0 {
            self.disables.push_back((now, count));
        }
    }

    /// The disables within the window ending at `now`.
    pub(crate) fn count(&mut self, now: Instant) -> usize {
        while let Some((at, _)) = self.disables.front() {
            if now.duration_since(*at) >= self.span {
                self.disables.pop_front();
            } else {
                break;
            }
        }
        self.disables.iter().map(|(_, n)| n).sum()
    }

    /// Forgets every disable (an admin resumed processing after reviewing them).
    pub(crate) fn clear(&mut self) {
        self.disables.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_burst_for_one_employee_is_one_pending_entry() {
        let queue = Queue::default();
        let now = Instant::now();
        for _ in 0..20 {
            queue.push("bamboohr", &ids(&["7"]), now);
        }
        queue.push("hibob", &ids(&["7", "8"]), now);
        assert_eq!(queue.len(), 2);
        let due = queue.take_due(now);
        assert_eq!(due.keys().collect::<Vec<_>>(), ["7", "8"]);
        assert_eq!(due["7"].sources, ["bamboohr", "hibob"]);
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn a_failed_read_backs_off_and_is_given_up_after_the_retries() {
        let queue = Queue::default();
        let now = Instant::now();
        queue.push("s", &ids(&["7"]), now);
        let mut entry = queue.take_due(now).remove("7").unwrap();
        let mut at = now;
        let mut pauses = Vec::new();
        for _ in 0..3 {
            assert!(queue.retry("7", entry, 3, at));
            assert!(queue.take_due(at).is_empty(), "not due before its backoff");
            let due = queue.next_due().unwrap();
            pauses.push(due.duration_since(at).as_secs());
            at = due;
            entry = queue.take_due(at).remove("7").unwrap();
        }
        assert_eq!(pauses, [2, 4, 8]);
        assert!(!queue.retry("7", entry, 3, at), "given up after 3 retries");
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn a_new_event_makes_an_employee_in_backoff_due_at_once() {
        let queue = Queue::default();
        let now = Instant::now();
        queue.push("s", &ids(&["7"]), now);
        let entry = queue.take_due(now).remove("7").unwrap();
        assert!(queue.retry("7", entry, 5, now));
        queue.push("s", &ids(&["7"]), now);
        let due = queue.take_due(now);
        assert_eq!(due["7"].failures, 1, "the failures so far are kept");
    }

    #[test]
    fn the_window_forgets_what_is_older_than_its_span() {
        let start = Instant::now();
        let mut window = Window::new(Duration::from_secs(60));
        window.record(3, start);
        window.record(2, start + Duration::from_secs(30));
        assert_eq!(window.count(start + Duration::from_secs(59)), 5);
        assert_eq!(window.count(start + Duration::from_secs(60)), 2);
        assert_eq!(window.count(start + Duration::from_secs(90)), 0);
        window.record(1, start + Duration::from_secs(91));
        window.clear();
        assert_eq!(window.count(start + Duration::from_secs(91)), 0);
    }
}
