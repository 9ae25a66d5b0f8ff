//! How a run ends: [`Outcome`] when it was carried out, [`RunError`] when it could not be. `main`
//! maps these to the exit code, and nothing else defines one.

use crate::directory::DirectoryError;
use crate::hr::HrError;

/// Exit codes are an API (docs/src/commands.md, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: success (and, with --detailed-exitcode, nothing pending).
    Success,
    /// 2: changes pending (plan with --detailed-exitcode).
    ChangesPending,
    /// 3: some changes failed, the others were applied.
    PartialFailure,
    /// 4: a safety limit tripped and nothing was applied.
    LimitTripped,
}

/// 64 (`EX_USAGE` of sysexits.h): the command line could not be parsed. Not 2, which
/// `--detailed-exitcode` gives pending changes: a drift check must not read a typo as drift.
pub const USAGE_EXIT_CODE: u8 = 64;

/// The exit code of a run that ended with `result`: the only mapping from how a run ended to
/// a number (`main`'s exit code, `hrsync run`'s report and metrics).
pub fn exit_code(result: &Result<Outcome, RunError>) -> u8 {
    match result {
        Ok(outcome) => outcome.exit_code(),
        Err(error) => error.exit_code(),
    }
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::ChangesPending => 2,
            Self::PartialFailure => 3,
            Self::LimitTripped => 4,
        }
    }
}

impl RunError {
    /// Exit code 1: the run could not be carried out.
    pub const EXIT_CODE: u8 = 1;
    /// Exit code 5: another run holds the run lease; this one did nothing.
    pub const LEASE_HELD_EXIT_CODE: u8 = 5;

    pub fn exit_code(&self) -> u8 {
        match self {
            Self::LeaseHeld { .. } => Self::LEASE_HELD_EXIT_CODE,
            _ => Self::EXIT_CODE,
        }
    }

    /// Which part of the run failed, in one word, for places that must not carry the message
    /// itself: `/healthz` is unauthenticated, and an HR or directory error can quote a server's
    /// answer.
    pub fn side(&self) -> &'static str {
        match self {
            Self::Config(_) | Self::Secret(_) => "config",
            Self::Hr(_) => "hr",
            Self::Directory(_) => "directory",
            Self::SavedPlan { .. } => "saved_plan",
            Self::Output { .. } => "output",
            Self::Offboard(_) | Self::Lookup(_) | Self::Check(_) | Self::NotConfirmed(_) => {
                "command"
            }
            Self::Init(_) => "command",
            Self::Setup { .. } => "setup",
            Self::Audit { .. } => "audit",
            Self::Stopped => "stopped",
            Self::LeaseHeld { .. } => "lease",
        }
    }
}

/// Exit code 1 (5 for [`RunError::LeaseHeld`]): the run could not be carried out; nothing was
/// changed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("configuration is invalid:\n{0}")]
    Config(String),
    #[error("{0}")]
    Secret(#[from] crate::secret::SecretError),
    #[error("HR fetch failed, nothing was changed: {0}")]
    Hr(#[from] HrError),
    #[error("directory: {0}")]
    Directory(#[from] DirectoryError),
    #[error("offboard: {0}")]
    Offboard(String),
    #[error("saved plan {path}: {message}")]
    SavedPlan { path: String, message: String },
    #[error("cannot write {path}: {source}")]
    Output {
        path: String,
        source: std::io::Error,
    },
    /// `init`: files it would write are there already (it wrote none).
    #[error("init: {0}")]
    Init(String),
    /// `explain`: the id is neither in HR nor in the directory.
    #[error("{0}")]
    Lookup(String),
    /// `run`: what could not be set up (the metrics address, the signal handlers).
    #[error("{what}: {source}")]
    Setup {
        what: String,
        source: std::io::Error,
    },
    /// The audit log could not be opened or did not take the run's first record, so no change
    /// was made.
    #[error("the audit log {sink} cannot be written, so nothing was applied: {error}")]
    Audit { sink: String, error: String },
    /// A stop (SIGTERM, SIGINT) came while HR and the directory were being read.
    #[error("stopped (SIGTERM or SIGINT) while reading HR and the directory; nothing was changed")]
    Stopped,
    /// Exit code 5: another run holds the run lease (it is applying to the same directory), so
    /// this one read nothing and changed nothing.
    #[error(
        "another run holds the lease {dn}: {holder}, until {expires}; nothing was done (if that \
         run was killed, the lease expires at that time)"
    )]
    LeaseHeld {
        dn: String,
        holder: String,
        expires: String,
    },
    /// `apply` on a terminal: the person did not answer `yes`.
    #[error("nothing applied: {0}")]
    NotConfirmed(String),
    /// `check`: one side or both failed; the message names them.
    #[error("check failed: {0}")]
    Check(String),
}
