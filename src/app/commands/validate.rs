//! `hrsync validate`: the configuration and the mappings checked offline, and the schedule's
//! next run times.

use chrono::{DateTime, Utc};

use crate::app::{Outcome, RunError};
use crate::config::Config;

pub(crate) fn run(
    config: &Config,
    config_path: &std::path::Path,
    now: DateTime<Utc>,
) -> Result<Outcome, RunError> {
    println!(
        "{}: configuration and mappings are valid ({} rule(s), {} managed group(s))",
        config_path.display(),
        config.mappings.rules.len(),
        config.mappings.managed_groups().len()
    );
    if let Some(schedule) = &config.operations.schedule {
        let s = &schedule.schedule;
        let read_as = if s.converted == s.expression {
            String::new()
        } else {
            format!(" (read as \"{}\")", s.converted)
        };
        println!(
            "schedule \"{}\"{read_as} in {}; next runs:",
            s.expression, s.time_zone
        );
        for at in s.upcoming(now, 5) {
            println!(
                "  {} ({})",
                at.with_timezone(&s.time_zone)
                    .format("%a %Y-%m-%d %H:%M:%S %Z"),
                at.format("%Y-%m-%dT%H:%M:%SZ")
            );
        }
    }
    Ok(Outcome::Success)
}
