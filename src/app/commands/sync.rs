//! `hrsync sync EMPLOYEE_ID...`: the reconcile of some employees alone (see
//! [`crate::app::sync`]), from the command line, with the plan printed first.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::app::clock::Clock;
use crate::app::cycle;
use crate::app::pipeline::{Audience, Execution};
use crate::app::sync::{self, Request};
use crate::app::{Outcome, RunError};
use crate::config::Config;
use crate::metrics::RunMetrics;
use crate::plan::limits::LimitKind;
use crate::render::Format;

pub(crate) struct SyncArgs<'a> {
    pub(crate) ids: &'a [String],
    pub(crate) dry_run: bool,
    pub(crate) format: Format,
    pub(crate) allow_limits: &'a [LimitKind],
}

/// The longest id accepted: HR ids are short; anything longer is a mistake or an attack.
const ID_MAX_LEN: usize = 256;

pub(crate) async fn run(
    config: &Config,
    now: DateTime<Utc>,
    clock: &Clock,
    args: SyncArgs<'_>,
) -> Result<Outcome, RunError> {
    let ids = checked_ids(args.ids)?;
    let run_id = cycle::new_run_id(now);
    let stop = crate::app::daemon::stop_on_signals()?;
    let mut execution = Execution::new(config, &run_id, Some(stop), clock);
    execution.trigger = Some("sync");
    let audience = Audience::person(args.format, args.allow_limits);
    let request = Request {
        ids: &ids,
        now,
        disable_budget: None,
        dry_run: args.dry_run,
    };
    let mut metrics = RunMetrics::default();
    let synced = sync::sync(config, request, &audience, &execution, &mut metrics).await?;
    tracing::info!(
        run_id = %run_id,
        disables = synced.disables,
        unread = synced.unread.len(),
        "sync finished"
    );
    if synced.unread.is_empty() {
        return Ok(synced.outcome);
    }
    println!(
        "\n! could not read from HR, nothing done for: {} (see the log; try again, or leave \
         them to the next full run)",
        synced.unread.iter().cloned().collect::<Vec<_>>().join(", ")
    );
    Ok(match synced.outcome {
        Outcome::LimitTripped => Outcome::LimitTripped,
        _ => Outcome::PartialFailure,
    })
}

/// The ids as a set, or an error naming the first one that cannot be an HR id.
fn checked_ids(ids: &[String]) -> Result<BTreeSet<String>, RunError> {
    for id in ids {
        let problem = if id.trim().is_empty() {
            Some("is empty")
        } else if id.len() > ID_MAX_LEN {
            Some("is longer than 256 bytes")
        } else if id.chars().any(char::is_control) {
            Some("contains a control character")
        } else {
            None
        };
        if let Some(problem) = problem {
            let shown: String = id.chars().take(40).filter(|c| !c.is_control()).collect();
            return Err(RunError::Lookup(format!(
                "employee id {shown:?} {problem}: give HR ids, such as 1042"
            )));
        }
    }
    Ok(ids.iter().cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_cannot_be_hr_ids_are_refused_by_name() {
        let ids =
            |list: &[&str]| checked_ids(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(ids(&["2", "1", "2"]).unwrap().len(), 2);
        let error = ids(&["1", ""]).unwrap_err().to_string();
        assert!(error.contains("is empty"), "{error}");
        let error = ids(&["a\nb"]).unwrap_err().to_string();
        assert!(error.contains("control character"), "{error}");
        let long = "x".repeat(300);
        let error = ids(&[long.as_str()]).unwrap_err().to_string();
        assert!(error.contains("longer than 256"), "{error}");
        assert!(error.len() < 200, "the whole id was echoed: {error}");
    }
}
