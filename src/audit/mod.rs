//! The audit log: JSON lines saying what each run changed, written as the run goes. A run that
//! applies changes opens the log before its first change and proves it takes records (its
//! `run_started` line, forced to disk); an access change's `intent` is written before it is
//! sent, each change's result as soon as it comes back, and `run_finished` with the totals at
//! the end ([`Recorder`]). A log that cannot be opened stops the run before any change; one
//! that stops taking records stops the run from starting further changes.
//!
//! Each line says what the change was before and after, why, and what became of it. None holds
//! a secret: AD passwords are made inside the directory adapter and exist nowhere else, and
//! every value of a password attribute, in any change, shows as `(hidden)`
//! ([`Change::masked`](crate::plan::Change::masked)).

pub(crate) mod config;
mod log;
mod probe;
mod record;
mod recorder;

pub(crate) use config::AuditSink;
pub use probe::probe;
pub use record::{
    AccountRef, Actor, AuditRecord, CHANGE, INTENT, PlanOrigin, RunFinished, RunStarted,
};
pub use recorder::{AuditReport, Now, Recorder};

#[cfg(test)]
mod tests;
