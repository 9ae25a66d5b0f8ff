//! Running hrsync for real: `[schedule]` (for `hrsync run`), `[audit]`, `[metrics]` and
//! `[hooks]`, gathered into [`Operations`]. The schedule is parsed and validated here, because
//! only `hrsync run` reads it; the audit, metrics and hooks tables belong to their adapters.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::audit::AuditSink;
use crate::audit::config::RawAudit;
use crate::hooks::HooksConfig;
use crate::hooks::config::RawHooks;
use crate::metrics::MetricsConfig;
use crate::metrics::config::RawMetrics;
use crate::problem::ConfigProblem;
use crate::schedule::Schedule;

/// `[schedule]`: when `hrsync run` plans and applies.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    /// A 5-field crontab expression (`*/15 * * * *`, `0 9 * * 1-5`), or 6-7 fields with
    /// seconds first (the `cron` crate's syntax).
    cron: String,
    /// The IANA time zone the expression is read in. Default: `lifecycle.time_zone`, else UTC.
    time_zone: Option<String>,
    /// Also run once as soon as `hrsync run` starts.
    #[serde(default)]
    run_on_start: bool,
    /// `/healthz` turns unhealthy when a due run has not finished this long after it was due.
    #[serde(default = "default_grace")]
    grace_secs: u64,
    /// A second, frequent run that reads only the employees changed since the last read (for
    /// sources whose API can say: BambooHR, SCIM, `hr.rest.changed_url`) and syncs them.
    changes: Option<String>,
}

fn default_grace() -> u64 {
    600
}

/// The validated `[schedule]`.
#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    pub schedule: Schedule,
    pub(crate) run_on_start: bool,
    pub(crate) grace: Duration,
    /// When the changed-since run runs (`schedule.changes`), in the same time zone.
    pub(crate) changes: Option<Schedule>,
}

/// Everything about running hrsync for real.
#[derive(Debug, Clone, Default)]
pub struct Operations {
    pub schedule: Option<ScheduleConfig>,
    pub(crate) audit: Option<AuditSink>,
    pub metrics: MetricsConfig,
    pub(crate) hooks: HooksConfig,
    /// `[events]`: the webhook endpoint of `hrsync run`.
    pub(crate) events: Option<super::events::EventsConfig>,
}

/// The raw tables, as the config file has them.
pub(super) struct RawOperations {
    pub(super) schedule: Option<RawSchedule>,
    pub(super) audit: Option<RawAudit>,
    pub(super) metrics: Option<RawMetrics>,
    pub(super) hooks: Option<RawHooks>,
    pub(super) events: Option<super::events::RawEvents>,
}

/// The tables in the order they are checked (and their problems reported): the schedule here,
/// the others by the adapter that owns each.
pub(super) fn validate(
    raw: RawOperations,
    lifecycle_time_zone: Option<&str>,
    dir: &Path,
    problems: &mut Vec<ConfigProblem>,
) -> Operations {
    Operations {
        schedule: raw
            .schedule
            .and_then(|s| s.validate(lifecycle_time_zone, problems)),
        audit: raw.audit.and_then(|a| a.validate(dir, problems)),
        metrics: raw
            .metrics
            .map(|m| m.validate(dir, problems))
            .unwrap_or_default(),
        hooks: raw.hooks.map(|h| h.validate(problems)).unwrap_or_default(),
        events: raw.events.and_then(|e| e.validate(dir, problems)),
    }
}

impl RawSchedule {
    /// `None` when the expression or a time zone is invalid (a problem is pushed then, except
    /// for `lifecycle.time_zone`, which reports its own).
    fn validate(
        self,
        lifecycle_time_zone: Option<&str>,
        problems: &mut Vec<ConfigProblem>,
    ) -> Option<ScheduleConfig> {
        let zone_name = self.time_zone.as_deref().or(lifecycle_time_zone);
        let key = if self.time_zone.is_some() {
            "schedule.time_zone"
        } else {
            "lifecycle.time_zone"
        };
        let zone = match zone_name {
            None => Some(chrono_tz::UTC),
            Some(name) => match name.parse::<chrono_tz::Tz>() {
                Ok(zone) => Some(zone),
                // lifecycle.time_zone reports its own problem.
                Err(_) if key == "lifecycle.time_zone" => None,
                Err(_) => {
                    problems.push(ConfigProblem::new(
                        key,
                        format!("\"{name}\" is not an IANA time zone (like Europe/Berlin)"),
                    ));
                    None
                }
            },
        };
        let changes = match self
            .changes
            .as_deref()
            .map(|cron| Schedule::parse(cron, zone.unwrap_or(chrono_tz::UTC)))
        {
            Some(Ok(parsed)) => Some(parsed),
            Some(Err(message)) => {
                problems.push(ConfigProblem::new("schedule.changes", message));
                None
            }
            None => None,
        };
        match Schedule::parse(&self.cron, zone.unwrap_or(chrono_tz::UTC)) {
            Ok(parsed) => zone.map(|_| ScheduleConfig {
                schedule: parsed,
                run_on_start: self.run_on_start,
                grace: Duration::from_secs(self.grace_secs),
                changes,
            }),
            Err(message) => {
                problems.push(ConfigProblem::new("schedule.cron", message));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::plan::Lifecycle;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Tables {
        schedule: Option<RawSchedule>,
        audit: Option<RawAudit>,
        metrics: Option<RawMetrics>,
        hooks: Option<RawHooks>,
    }

    fn load(text: &str, lifecycle_zone: Option<&str>) -> (Operations, Vec<String>) {
        let tables: Tables = toml::from_str(text).unwrap();
        let mut problems = Vec::new();
        let operations = validate(
            RawOperations {
                schedule: tables.schedule,
                audit: tables.audit,
                metrics: tables.metrics,
                hooks: tables.hooks,
                events: None,
            },
            lifecycle_zone,
            Path::new("/etc/hrsync"),
            &mut problems,
        );
        (
            operations,
            problems.iter().map(ToString::to_string).collect(),
        )
    }

    #[test]
    fn a_full_setup_is_read_with_defaults_and_relative_paths() {
        let (ops, problems) = load(
            r#"
[schedule]
cron = "0 9 * * 1-5"

[audit]
file = "audit.jsonl"

[metrics]
textfile = "/var/lib/node_exporter/hrsync.prom"
pushgateway = "http://pushgateway:9091/"
listen = "127.0.0.1:9464"

[[hooks.webhook]]
url = "https://itsm.example.org/hook"
header = "Authorization"
secret = { env = "HOOK_TOKEN" }

[[hooks.command]]
command = ["/usr/local/bin/notify", "--x"]
events = ["leaver"]
"#,
            Some("Europe/Berlin"),
        );
        assert!(problems.is_empty(), "{problems:?}");
        let schedule = ops.schedule.unwrap();
        assert_eq!(schedule.schedule.time_zone, chrono_tz::Europe::Berlin);
        assert_eq!(schedule.grace, Duration::from_secs(600));
        assert!(!schedule.run_on_start);
        assert_eq!(
            ops.audit,
            Some(AuditSink::File(PathBuf::from("/etc/hrsync/audit.jsonl")))
        );
        assert_eq!(
            ops.metrics.pushgateway.as_deref(),
            Some("http://pushgateway:9091/metrics/job/hrsync")
        );
        assert_eq!(ops.metrics.listen, Some("127.0.0.1:9464".parse().unwrap()));
        let webhook = &ops.hooks.webhooks[0];
        assert_eq!(
            webhook.events,
            [Lifecycle::Joiner, Lifecycle::Mover, Lifecycle::Leaver]
        );
        assert_eq!(webhook.retries, 3);
        assert_eq!(webhook.timeout, Duration::from_secs(10));
        assert_eq!(ops.hooks.commands[0].events, [Lifecycle::Leaver]);
        assert_eq!(ops.hooks.commands[0].timeout, Duration::from_secs(30));
    }

    #[test]
    fn every_problem_names_its_key() {
        let (_, problems) = load(
            r#"
[schedule]
cron = "0 9 * *"
time_zone = "Mars/Olympus"

[audit]
file = "a.jsonl"
stdout = true

[metrics]
pushgateway = "pushgateway:9091"
listen = "localhost"

[[hooks.webhook]]
url = "ftp://x"
header = "X-Token"
events = ["rehire"]
timeout_secs = 0

[[hooks.command]]
command = []
"#,
            None,
        );
        for expected in [
            "schedule.time_zone: \"Mars/Olympus\" is not an IANA time zone",
            "schedule.cron: \"0 9 * *\" has 4 field(s)",
            "audit: set either `file` or `stdout = true`, not both",
            "metrics.pushgateway: \"pushgateway:9091\" must be an http:// or https:// URL",
            "metrics.listen: \"localhost\" is not an address and port",
            "hooks.webhook[0].url: must be an https:// URL",
            "hooks.webhook[0]: set `header` and `secret` together",
            "hooks.webhook[0].events: \"rehire\" is not a hook event",
            "hooks.webhook[0].timeout_secs: must be at least 1 second",
            "hooks.command[0].command: must name a program",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(expected)),
                "{expected} not in {problems:#?}"
            );
        }
    }
}
