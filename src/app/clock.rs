//! The one place hrsync reads the clock: everything else takes time as a parameter, so that
//! tests control it.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// A source of the current time, handed to what needs more than one reading of it (the
/// daemon's schedule, a run's duration).
pub(crate) type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The wall clock.
pub(crate) fn wall() -> Clock {
    #[allow(clippy::disallowed_methods)]
    Arc::new(Utc::now)
}
