//! A run's audit records, written as the run goes: the run's first record before its first
//! change, each change's intent before it is sent (where it gives or takes away access) and its
//! result as soon as it is known, and a last record with the totals.
//!
//! Should the log stop taking records (a full disk, a lost volume), the recorder halts the
//! apply: no further change is sent, since it could not be recorded. The records that could
//! not be written go to hrsync's own log instead, so that what did happen is told somewhere.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::apply::{Outcome, StepWatcher};
use crate::journal::{Journal, Subject};
use crate::plan::Plan;
use crate::plan::ops::{ChangeRef, Step};

use super::config::AuditSink;
use super::log::Log;
use super::record::{self, Actor, AuditRecord, CHANGE, RunFinished, RunStarted};

/// A source of the current time (each record carries the time it was written).
pub type Now<'a> = &'a (dyn Fn() -> DateTime<Utc> + Sync);

/// The audit records of one execution of a plan, written as it goes.
pub struct Recorder<'a> {
    plan: &'a Plan,
    run_id: &'a str,
    now: Now<'a>,
    /// The sink, as error messages name it.
    sink: String,
    state: Mutex<State>,
    /// Set when the log could not be written: the apply starts nothing more.
    failed: AtomicBool,
}

struct State {
    log: Log,
    /// The changes whose intent is written: a step retried alone after a refused merge is not
    /// announced twice.
    announced: BTreeSet<ChangeRef>,
    written: u64,
    /// Why the log stopped taking records.
    failure: Option<String>,
}

/// What became of a run's audit records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// Records written, the run's first and last included.
    pub written: u64,
    /// Why the log stopped taking records, when it did: hrsync started no change after that,
    /// and the records it could not write are in its own log.
    pub failure: Option<String>,
}

impl<'a> Recorder<'a> {
    /// Opens the audit log and proves it takes records: the run's first record is written and
    /// forced to disk. An error here means that no change may be made.
    pub(crate) fn start(
        sink: &AuditSink,
        plan: &'a Plan,
        (run_id, trigger, actor): (&'a str, Option<&'a str>, &'a Actor),
        now: Now<'a>,
    ) -> std::io::Result<Self> {
        let log = Log::open(sink)?;
        Self::started(log, sink.to_string(), plan, (run_id, trigger, actor), now)
    }

    /// [`Recorder::start`] on an opened log.
    pub(crate) fn started(
        mut log: Log,
        sink: String,
        plan: &'a Plan,
        (run_id, trigger, actor): (&'a str, Option<&'a str>, &'a Actor),
        now: Now<'a>,
    ) -> std::io::Result<Self> {
        let first = RunStarted {
            actor,
            trigger,
            time: timestamp(now()),
            run_id,
            event: "run_started",
            changes: plan.accounts.iter().map(|a| a.changes.len()).sum::<usize>()
                + plan.group_changes.len(),
            accounts: plan.accounts.len(),
        };
        log.append(&line(&first)?)?;
        log.sync()?;
        Ok(Self {
            plan,
            run_id,
            now,
            sink,
            state: Mutex::new(State {
                log,
                announced: BTreeSet::new(),
                written: 1,
                failure: None,
            }),
            failed: AtomicBool::new(false),
        })
    }

    /// Writes the run's last record (the count of each result) and forces the log to disk.
    pub fn finish(self, journal: &Journal<'_>) -> AuditReport {
        let last = RunFinished {
            time: timestamp((self.now)()),
            run_id: self.run_id,
            event: "run_finished",
            results: journal.tally(),
        };
        let mut state = self.state.into_inner().unwrap_or_else(|e| e.into_inner());
        if state.failure.is_none() {
            let written = line(&last).and_then(|l| state.log.append(&l));
            match written.and_then(|()| state.log.sync()) {
                Ok(()) => state.written += 1,
                Err(e) => {
                    let failure = format!("cannot write the audit log {}: {e}", self.sink);
                    tracing::error!(run_id = self.run_id, "{failure}");
                    state.failure = Some(failure);
                }
            }
        }
        AuditReport {
            written: state.written,
            failure: state.failure,
        }
    }

    /// Writes `record`; once the log has failed, hands a change's result to hrsync's log
    /// instead (unless the change was left for the next run, which the stop report names).
    fn write(&self, record: &AuditRecord) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.failure.is_none() {
            match line(record).and_then(|l| state.log.append(&l)) {
                Ok(()) => {
                    state.written += 1;
                    return;
                }
                Err(e) => {
                    let failure = format!("cannot write the audit log {}: {e}", self.sink);
                    tracing::error!(
                        run_id = self.run_id,
                        "{failure}; no further change is started"
                    );
                    state.failure = Some(failure);
                    self.failed.store(true, Ordering::SeqCst);
                }
            }
        }
        // An intent not written stops its operation from going out: only what happened, or
        // may have, is worth telling.
        if record.event == CHANGE && record.result != Some("not_attempted") {
            let text = serde_json::to_string(record).unwrap_or_default();
            tracing::error!(run_id = self.run_id, record = %text, "audit record not written");
        }
    }

    fn time(&self) -> String {
        timestamp((self.now)())
    }
}

impl StepWatcher for Recorder<'_> {
    fn sending(&self, steps: &[&Step]) {
        if self.halted() {
            return;
        }
        for step in steps {
            let Some(subject) = Subject::of(self.plan, step.change) else {
                continue;
            };
            if !record::announced_before_sending(&subject) {
                continue;
            }
            let first = {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                state.announced.insert(step.change)
            };
            if first {
                self.write(&AuditRecord::intent(subject, self.run_id, &self.time()));
            }
        }
    }

    fn stepped(&self, step: &Step, outcome: &Outcome) {
        if let Some(subject) = Subject::of(self.plan, step.change) {
            let record = AuditRecord::change(subject, Some(outcome), self.run_id, &self.time());
            self.write(&record);
        }
    }

    fn halted(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }
}

/// A record as one line of JSON.
fn line(record: &impl Serialize) -> std::io::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec(record)?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}
