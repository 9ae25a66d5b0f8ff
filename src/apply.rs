//! Executes a plan's steps against the directory and reports what happened to each.
//!
//! Accounts are independent; within an account the steps run in order. Removing access never
//! waits; granting access always does: a step that grants access (or builds on the steps before
//! it, like a group addition after a move, which uses the new DN) runs only if every earlier
//! step of its account succeeded, while a step that removes access (a lock, a removal from a
//! group, a leaver's move into the disabled OU) is attempted even after an earlier failure,
//! waiting only for the steps that put the account at the DN it addresses ([`ops::Needs`]). A
//! leaver whose lock is refused still loses every group. Nothing is rolled back: the next run
//! plans from what the directory then holds and converges.
//!
//! How it goes fast (see docs/src/performance.md): the accounts advance in rounds, round `k`
//! running step `k` of every account whose step `k` may run, so each account's order is kept
//! exactly. In a round, the steps that only add or delete values of the same entry (every
//! account joining or leaving one group) are merged into one modify ([`ops::batches`]), and the
//! round's operations are pipelined over the one connection, at most `concurrency` in flight. A
//! merged modify is atomic: when the server refuses it, nothing of it happened, and it is split
//! in halves and retried until the refused step stands alone, so every step still gets its own
//! result.
//!
//! Accounts' rounds interleave in no particular order with each other, and nothing depends on
//! it: a group whose present members are all removed has the placeholder put in beforehand (the
//! planner plans it), so no order of the accounts' steps empties a `groupOfNames`.
//!
//! A [`StepWatcher`] follows the apply as it goes: it is told of each operation just before it
//! is sent and of each step's outcome as soon as it is known, and can stop the apply. The audit
//! log writes its records from these, so a killed hrsync loses none but those in flight.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;

use crate::directory::Directory;
use crate::plan::ops::{self, ChangeRef, MAX_BATCH, Needs, Step, Steps};

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
    /// Not tried because an earlier step it waits for failed (see [`ops::Needs`]), or because
    /// hrsync was stopping (see [`Control::stop`]): left for the next run.
    NotAttempted,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    /// The change of the plan the step implemented.
    #[serde(skip)]
    pub change: ChangeRef,
    pub employee_id: Option<String>,
    pub description: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyReport {
    pub results: Vec<StepResult>,
    /// Why the apply stopped starting steps before the end, if it did: the steps it left are
    /// [`Outcome::NotAttempted`], for the next run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub halted: Option<Halt>,
}

/// Why an apply started no further step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Halt {
    /// A stop was requested (SIGTERM, SIGINT).
    Stopped,
    /// The run's deadline passed (`directory.max_apply_secs`).
    Deadline { secs: u64 },
    /// This many operations in a row got no answer within the operation timeout: the server is
    /// not answering, and waiting the timeout out for each remaining step would take hours
    /// (`directory.max_consecutive_timeouts`).
    Timeouts { count: u32 },
    /// The watcher could no longer do its part (the audit log stopped taking records).
    Watcher,
    /// Another run took the run lease over (this run failed to renew it in time).
    LeaseLost,
}

impl std::fmt::Display for Halt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stopped => write!(f, "a stop was requested (SIGTERM or SIGINT)"),
            Self::Deadline { secs } => write!(
                f,
                "the run reached its deadline of {secs} s (directory.max_apply_secs)"
            ),
            Self::Timeouts { count } => write!(
                f,
                "{count} operations in a row got no answer in time: the directory is not \
                 answering (directory.max_consecutive_timeouts)"
            ),
            Self::Watcher => write!(f, "the audit log stopped taking records"),
            Self::LeaseLost => write!(
                f,
                "another run took the run lease over (directory.lease_dn, directory.lease_secs)"
            ),
        }
    }
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

/// What follows an apply as it goes (the audit log, a progress display): told of each LDAP
/// operation just before it is sent, and of each step's outcome as soon as it is known. It is
/// called from inside the apply, between operations, so it must be quick: what it writes, it
/// writes without waiting on anything but its own file.
pub trait StepWatcher: Sync {
    /// The steps of one LDAP operation, about to be sent (more than one when they were merged
    /// into one modify). A step split out of a refused merge is announced again.
    fn sending(&self, _steps: &[&Step]) {}

    /// A step's outcome, once per step, not attempted ones included.
    fn stepped(&self, step: &Step, outcome: &Outcome);

    /// Whether the apply must start no further operation: the watcher can no longer do its
    /// part (the audit log cannot be written). Acts like [`Control::stop`].
    fn halted(&self) -> bool {
        false
    }
}

/// A plain function of each step's outcome is a watcher (for a progress count, or a test).
impl<F: Fn(&Step, &Outcome) + Sync> StepWatcher for F {
    fn stepped(&self, step: &Step, outcome: &Outcome) {
        self(step, outcome)
    }
}

/// What the caller of [`apply_with`] can do while it runs.
#[derive(Clone, Default)]
pub struct Control<'w> {
    /// When set, no step starts any more (a step under way completes); the steps not started
    /// are reported as [`Outcome::NotAttempted`], left for the next run.
    pub stop: Option<Arc<AtomicBool>>,
    /// Told of each operation before it is sent and of each step's outcome (see
    /// [`StepWatcher`]); it can also stop the apply.
    pub on_step: Option<&'w dyn StepWatcher>,
    /// When set, another run took the run lease over: no step starts any more (acts like
    /// [`Control::stop`]).
    pub lease_lost: Option<Arc<AtomicBool>>,
    /// No step starts after this (acts like [`Control::stop`]); `None`: no deadline.
    pub deadline: Option<Deadline>,
    /// After this many operations in a row timed out, no step starts (acts like
    /// [`Control::stop`]); `None`: never. Any answer from the server resets the count.
    pub max_consecutive_timeouts: Option<u32>,
}

/// When an apply must start no further step: an instant, and the budget it came from (for the
/// report).
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub at: Instant,
    pub budget: Duration,
}

impl Deadline {
    /// `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Deadline {
            at: Instant::now() + budget,
            budget,
        }
    }
}

/// An apply under way: the caller's [`Control`] and what the apply has seen so far, shared by
/// the operations in flight.
struct Running<'c, 'w> {
    control: &'c Control<'w>,
    consecutive_timeouts: AtomicU32,
    /// The first reason the apply stopped starting steps; set once.
    halted: OnceLock<Halt>,
}

impl<'c, 'w> Running<'c, 'w> {
    fn new(control: &'c Control<'w>) -> Self {
        Running {
            control,
            consecutive_timeouts: AtomicU32::new(0),
            halted: OnceLock::new(),
        }
    }

    /// Whether no further step may start; the first time it is so, the reason is kept for the
    /// report and logged.
    fn stopping(&self) -> bool {
        if self.halted.get().is_some() {
            return true;
        }
        let Some(halt) = self.halt_now() else {
            return false;
        };
        if self.halted.set(halt).is_ok() {
            tracing::warn!("starting no further change: {halt}; the rest is left for the next run");
        }
        true
    }

    fn halt_now(&self) -> Option<Halt> {
        let control = self.control;
        if control
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::SeqCst))
        {
            return Some(Halt::Stopped);
        }
        if control.on_step.is_some_and(|w| w.halted()) {
            return Some(Halt::Watcher);
        }
        if control
            .lease_lost
            .as_ref()
            .is_some_and(|l| l.load(Ordering::SeqCst))
        {
            return Some(Halt::LeaseLost);
        }
        if let Some(deadline) = control.deadline.filter(|d| Instant::now() >= d.at) {
            return Some(Halt::Deadline {
                secs: deadline.budget.as_secs(),
            });
        }
        let timeouts = self.consecutive_timeouts.load(Ordering::SeqCst);
        control
            .max_consecutive_timeouts
            .filter(|max| timeouts >= *max)
            .map(|_| Halt::Timeouts { count: timeouts })
    }

    /// Counts an operation's answer: a timeout adds one to the run of timeouts, anything else
    /// the server said (success or a refusal) ends it. A lost connection counts as neither:
    /// every further operation then fails at once, without waiting.
    fn answered<T>(&self, result: &Result<T, crate::directory::DirectoryError>) {
        let counter = &self.consecutive_timeouts;
        match result {
            Err(e) if e.timed_out() => {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) if e.code().is_none() => {}
            _ => counter.store(0, Ordering::SeqCst),
        }
    }

    /// Why the apply stopped starting steps, if it did.
    fn halt(&self) -> Option<Halt> {
        self.halted.get().copied()
    }

    /// Announces the steps of one operation to the watcher; whether the operation may go out
    /// (no stop, and the watcher did its part: the audit log took their intents).
    fn may_send(&self, steps: &[&Step]) -> bool {
        if self.stopping() {
            return false;
        }
        if let Some(watcher) = self.control.on_step {
            watcher.sending(steps);
        }
        !self.stopping()
    }

    fn stepped(&self, step: &Step, outcome: &Outcome) {
        if let Some(watcher) = self.control.on_step {
            watcher.stepped(step, outcome);
        }
    }
}

pub async fn apply(directory: &Directory, steps: &Steps, concurrency: usize) -> ApplyReport {
    apply_with(directory, steps, concurrency, &Control::default()).await
}

/// Which step of the plan a result belongs to: the stage, and for accounts the account's index
/// in [`Steps::accounts`] and the step's index in its sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Before(usize),
    Account(usize, usize),
    After(usize),
}

/// [`apply`], stoppable and observable through `control`: at most `concurrency` LDAP operations
/// in flight; results come back in [`Steps::iter`] order, one per step.
pub async fn apply_with(
    directory: &Directory,
    steps: &Steps,
    concurrency: usize,
    control: &Control<'_>,
) -> ApplyReport {
    let concurrency = concurrency.max(1);
    let mut report = ApplyReport::default();
    let control = &Running::new(control);

    // Placeholders in first: independent of each other (one per group), none stops another.
    let before: Vec<(Slot, &Step)> = steps
        .before
        .iter()
        .enumerate()
        .map(|(i, s)| (Slot::Before(i), s))
        .collect();
    let mut before_outcomes = vec![None; steps.before.len()];
    for (slot, outcome) in run_round(directory, &before, concurrency, control).await {
        if let Slot::Before(i) = slot {
            before_outcomes[i] = Some(outcome);
        }
    }
    push_results(&mut report, &steps.before, before_outcomes, control);

    // The accounts, round by round.
    let outcomes = run_accounts(directory, &steps.accounts, concurrency, control).await;
    for (sequence, outcomes) in steps.accounts.iter().zip(outcomes) {
        push_results(&mut report, sequence, outcomes, control);
    }

    // Placeholders out last.
    let after: Vec<(Slot, &Step)> = steps
        .after
        .iter()
        .enumerate()
        .map(|(i, s)| (Slot::After(i), s))
        .collect();
    let mut after_outcomes = vec![None; steps.after.len()];
    for (slot, outcome) in run_round(directory, &after, concurrency, control).await {
        if let Slot::After(i) = slot {
            after_outcomes[i] = Some(outcome);
        }
    }
    push_results(&mut report, &steps.after, after_outcomes, control);
    report.halted = control.halt();
    report
}

/// Runs the accounts' sequences in rounds, round `k` running step `k` of every account whose
/// step `k` may run (what it needs succeeded); one outcome per step, `None` for a step not run.
async fn run_accounts(
    directory: &Directory,
    accounts: &[Vec<Step>],
    concurrency: usize,
    control: &Running<'_, '_>,
) -> Vec<Vec<Option<Outcome>>> {
    let mut outcomes: Vec<Vec<Option<Outcome>>> = accounts
        .iter()
        .map(|sequence| vec![None; sequence.len()])
        .collect();
    // Whether every step of the account so far succeeded: what a grant waits for.
    let mut clear = vec![true; accounts.len()];
    let rounds = accounts.iter().map(Vec::len).max().unwrap_or(0);
    for round in 0..rounds {
        let mut items: Vec<(Slot, &Step)> = Vec::new();
        for (account, sequence) in accounts.iter().enumerate() {
            let Some(step) = sequence.get(round) else {
                continue;
            };
            if may_run(step.needs, clear[account], &outcomes[account]) {
                items.push((Slot::Account(account, round), step));
            } else {
                clear[account] = false;
            }
        }
        for (slot, outcome) in run_round(directory, &items, concurrency, control).await {
            if let Slot::Account(account, index) = slot {
                outcomes[account][index] = Some(outcome);
            }
        }
        // A step that failed, went unanswered or was not run (hrsync stopping) holds back the
        // account's later grants.
        for (slot, _) in &items {
            if let Slot::Account(account, index) = *slot {
                if !succeeded(outcomes[account][index].as_ref()) {
                    clear[account] = false;
                }
            }
        }
    }
    outcomes
}

/// Whether a step that `needs` these may run, given whether every earlier step of its account
/// succeeded (`clear`) and their outcomes so far.
fn may_run(needs: Needs, clear: bool, earlier: &[Option<Outcome>]) -> bool {
    match needs {
        Needs::Everything => clear,
        Needs::Only { dn, value } => [dn, value]
            .into_iter()
            .flatten()
            .all(|index| succeeded(earlier.get(index).and_then(Option::as_ref))),
    }
}

fn succeeded(outcome: Option<&Outcome>) -> bool {
    matches!(outcome, Some(Outcome::Applied | Outcome::AlreadyDone))
}

/// Adds one result per step; a step without an outcome was not attempted, after the failure of
/// a step it waits for or because hrsync is stopping.
fn push_results(
    report: &mut ApplyReport,
    steps: &[Step],
    outcomes: Vec<Option<Outcome>>,
    control: &Running<'_, '_>,
) {
    for (step, outcome) in steps.iter().zip(outcomes) {
        let outcome = outcome.unwrap_or_else(|| {
            let employee = step.employee_id.as_deref().unwrap_or("-");
            if let Some(halt) = control.halt() {
                tracing::warn!(
                    employee,
                    reason = %halt,
                    "not attempted, left for the next run: {}",
                    step.description
                );
            } else {
                tracing::warn!(
                    employee,
                    "not attempted after an earlier failure: {}",
                    step.description
                );
            }
            control.stepped(step, &Outcome::NotAttempted);
            Outcome::NotAttempted
        });
        report.results.push(StepResult {
            change: step.change,
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
    control: &Running<'_, '_>,
) -> Vec<(Slot, Outcome)> {
    if control.stopping() {
        return Vec::new();
    }
    let steps: Vec<&Step> = items.iter().map(|(_, step)| *step).collect();
    let units = ops::batches(&steps, MAX_BATCH);
    futures::stream::iter(units)
        .map(|unit| {
            let members: Vec<(Slot, &Step)> = unit.iter().map(|&i| items[i]).collect();
            run_unit(directory, members, control)
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
/// A unit is one LDAP operation in flight. Once hrsync is stopping, no further operation is
/// sent: the steps left get no outcome and are reported as left for the next run.
async fn run_unit(
    directory: &Directory,
    unit: Vec<(Slot, &Step)>,
    control: &Running<'_, '_>,
) -> Vec<(Slot, Outcome)> {
    let mut results = Vec::with_capacity(unit.len());
    let mut pending = vec![unit];
    while let Some(mut part) = pending.pop() {
        if control.stopping() {
            break;
        }
        let merged = if part.len() > 1 {
            let steps: Vec<&Step> = part.iter().map(|(_, step)| *step).collect();
            ops::merge(&steps)
        } else {
            None
        };
        let Some(op) = merged else {
            // A single step (or, defensively, steps that cannot be merged): one by one.
            for (slot, step) in part {
                if !control.may_send(&[step]) {
                    break;
                }
                let outcome = run_step(directory, step, control).await;
                control.stepped(step, &outcome);
                results.push((slot, outcome));
            }
            continue;
        };
        let steps: Vec<&Step> = part.iter().map(|(_, step)| *step).collect();
        if !control.may_send(&steps) {
            break;
        }
        let result = directory.execute(&op).await;
        control.answered(&result);
        match result {
            Ok(()) => {
                for (slot, step) in part {
                    log_outcome(step, &Outcome::Applied);
                    control.stepped(step, &Outcome::Applied);
                    results.push((slot, Outcome::Applied));
                }
            }
            // No answer from the server (connection lost, timeout): whether the modify
            // happened is unknown, and splitting would only multiply the waits. Each step is
            // reported with that error, as in doubt when it was sent and never answered; the
            // next run reads what is there and converges.
            Err(e) if e.code().is_none() => {
                let error = e.to_string();
                let unanswered = e.unanswered();
                for (slot, step) in part {
                    let outcome = if unanswered {
                        Outcome::Unanswered {
                            error: error.clone(),
                        }
                    } else {
                        Outcome::Failed {
                            error: error.clone(),
                        }
                    };
                    log_outcome(step, &outcome);
                    control.stepped(step, &outcome);
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
async fn run_step(directory: &Directory, step: &Step, control: &Running<'_, '_>) -> Outcome {
    let result = directory.execute(&step.op).await;
    control.answered(&result);
    let outcome = match result {
        Ok(()) => Outcome::Applied,
        Err(e) if e.code().is_some() && e.code() == step.already_done_code => {
            tracing::debug!(step = %step.description, error = %e, "already done");
            Outcome::AlreadyDone
        }
        Err(e) if e.unanswered() => Outcome::Unanswered {
            error: e.to_string(),
        },
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
        Outcome::Unanswered { error } => tracing::error!(
            employee,
            %error,
            "no answer (may or may not have taken effect): {}",
            step.description
        ),
        Outcome::NotAttempted => tracing::warn!(
            employee,
            "not attempted after an earlier failure: {}",
            step.description
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::DirectoryError;

    fn timeout() -> Result<(), DirectoryError> {
        Err(DirectoryError::Unanswered {
            operation: "add",
            dn: "uid=a,dc=example,dc=org".into(),
            message: "timeout".into(),
            timed_out: true,
        })
    }

    /// Only timeouts in a row stop the apply: an answer, even a refusal, ends the run of them,
    /// and a lost connection (which fails every further operation at once) counts as neither.
    #[test]
    fn consecutive_timeouts_stop_the_apply_and_any_answer_resets_the_count() {
        let control = Control {
            max_consecutive_timeouts: Some(2),
            ..Control::default()
        };
        let running = Running::new(&control);
        let refused: Result<(), DirectoryError> = Err(DirectoryError::Operation {
            operation: "add",
            dn: "uid=a,dc=example,dc=org".into(),
            code: 50,
            message: "insufficient access rights".into(),
        });
        let lost: Result<(), DirectoryError> = Err(DirectoryError::Unanswered {
            operation: "add",
            dn: "uid=a,dc=example,dc=org".into(),
            message: "connection closed".into(),
            timed_out: false,
        });
        running.answered(&timeout());
        running.answered(&refused);
        running.answered(&timeout());
        running.answered(&lost);
        assert!(!running.stopping(), "no two timeouts in a row yet");
        running.answered(&timeout());
        assert!(running.stopping());
        assert_eq!(running.halt(), Some(Halt::Timeouts { count: 2 }));
        // The first reason stays, whatever happens next.
        running.answered(&Ok(()));
        assert!(running.stopping());
        assert_eq!(running.halt(), Some(Halt::Timeouts { count: 2 }));
    }

    #[test]
    fn a_passed_deadline_or_a_lost_lease_stops_the_apply_and_says_why() {
        let control = Control {
            deadline: Some(Deadline::after(Duration::ZERO)),
            ..Control::default()
        };
        let running = Running::new(&control);
        assert!(running.stopping());
        assert_eq!(running.halt(), Some(Halt::Deadline { secs: 0 }));
        let lost = Arc::new(AtomicBool::new(false));
        let control = Control {
            lease_lost: Some(lost.clone()),
            deadline: Some(Deadline::after(Duration::from_secs(3600))),
            ..Control::default()
        };
        let running = Running::new(&control);
        assert!(!running.stopping());
        lost.store(true, Ordering::SeqCst);
        assert!(running.stopping());
        assert_eq!(running.halt(), Some(Halt::LeaseLost));
    }

    /// A grant runs only when every earlier step succeeded; a removal only needs the steps it
    /// names (the move that made its DN, the rewrite of its value) to have succeeded, whatever
    /// else failed.
    #[test]
    fn grants_wait_for_everything_and_removals_only_for_what_they_address() {
        let earlier = [
            Some(Outcome::Failed {
                error: "constraint violation".into(),
            }),
            Some(Outcome::Applied),
            Some(Outcome::AlreadyDone),
            None,
            Some(Outcome::Unanswered {
                error: "connection lost".into(),
            }),
        ];
        assert!(may_run(Needs::Everything, true, &earlier[1..3]));
        assert!(!may_run(Needs::Everything, false, &earlier));
        assert!(may_run(Needs::NOTHING, false, &earlier));
        let only = |dn, value| Needs::Only { dn, value };
        assert!(may_run(only(Some(1), Some(2)), false, &earlier));
        for refused in [0, 3, 4] {
            assert!(!may_run(only(Some(refused), None), false, &earlier));
            assert!(!may_run(only(None, Some(refused)), true, &earlier));
        }
    }
}
