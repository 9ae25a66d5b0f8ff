//! Running hrsync for real: `[schedule]` (for `hrsync run`), `[audit]`, `[metrics]` and
//! `[hooks]`. Parsed and validated here, apart from the directory and HR settings.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::plan::Lifecycle;
use crate::problem::ConfigProblem;
use crate::schedule::Schedule;
use crate::secret::SecretRef;

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
}

fn default_grace() -> u64 {
    600
}

/// `[audit]`: where the JSON lines of applied changes go.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAudit {
    /// Append to this file (created readable by its owner only).
    file: Option<PathBuf>,
    /// Write to standard output.
    #[serde(default)]
    stdout: bool,
}

/// `[metrics]`: Prometheus text format.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    /// Write the metrics of each run to this file, atomically (node_exporter textfile
    /// collector: a `.prom` file in its directory).
    textfile: Option<PathBuf>,
    /// Push the metrics of each run to this Pushgateway (`http://host:9091`).
    pushgateway: Option<String>,
    /// The Pushgateway job name (default `hrsync`).
    pushgateway_job: Option<String>,
    /// `hrsync run` only: serve `/metrics` and `/healthz` on this address (`127.0.0.1:9464`).
    listen: Option<String>,
}

/// `[hooks]`: called for each joiner, mover and leaver applied.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHooks {
    #[serde(default)]
    webhook: Vec<RawWebhook>,
    #[serde(default)]
    command: Vec<RawCommandHook>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    url: String,
    /// Which events (default: joiner, mover, leaver).
    events: Option<Vec<Lifecycle>>,
    /// A header sent with every call, whose value is `secret` (for example `Authorization`).
    header: Option<String>,
    secret: Option<SecretRef>,
    /// Attempts after the first, with exponential backoff (default 3).
    #[serde(default = "default_retries")]
    retries: u32,
    /// Per attempt (default 10).
    #[serde(default = "default_webhook_timeout")]
    timeout_secs: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommandHook {
    /// The program and its arguments (no shell).
    command: Vec<String>,
    events: Option<Vec<Lifecycle>>,
    /// The command is killed after this long (default 30).
    #[serde(default = "default_command_timeout")]
    timeout_secs: u64,
}

fn default_retries() -> u32 {
    3
}
fn default_webhook_timeout() -> u64 {
    10
}
fn default_command_timeout() -> u64 {
    30
}

/// The validated `[schedule]`.
#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    pub schedule: Schedule,
    pub run_on_start: bool,
    pub grace: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditSink {
    File(PathBuf),
    Stdout,
}

#[derive(Debug, Clone, Default)]
pub struct MetricsConfig {
    pub textfile: Option<PathBuf>,
    /// The full URL to push to (`.../metrics/job/NAME`).
    pub pushgateway: Option<String>,
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub url: String,
    pub events: Vec<Lifecycle>,
    pub header: Option<(String, SecretRef)>,
    pub retries: u32,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct CommandHookConfig {
    pub command: Vec<String>,
    pub events: Vec<Lifecycle>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct HooksConfig {
    pub webhooks: Vec<WebhookConfig>,
    pub commands: Vec<CommandHookConfig>,
}

impl HooksConfig {
    pub fn is_empty(&self) -> bool {
        self.webhooks.is_empty() && self.commands.is_empty()
    }
}

/// Everything about running hrsync for real.
#[derive(Debug, Clone, Default)]
pub struct Operations {
    pub schedule: Option<ScheduleConfig>,
    pub audit: Option<AuditSink>,
    pub metrics: MetricsConfig,
    pub hooks: HooksConfig,
}

/// The raw tables, as the config file has them.
pub(super) struct RawOperations {
    pub schedule: Option<RawSchedule>,
    pub audit: Option<RawAudit>,
    pub metrics: Option<RawMetrics>,
    pub hooks: Option<RawHooks>,
}

const HOOK_EVENTS: [Lifecycle; 3] = [Lifecycle::Joiner, Lifecycle::Mover, Lifecycle::Leaver];

pub(super) fn validate(
    raw: RawOperations,
    lifecycle_time_zone: Option<&str>,
    dir: &Path,
    problems: &mut Vec<ConfigProblem>,
) -> Operations {
    let mut out = Operations::default();
    if let Some(schedule) = raw.schedule {
        let zone_name = schedule.time_zone.as_deref().or(lifecycle_time_zone);
        let key = if schedule.time_zone.is_some() {
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
        match Schedule::parse(&schedule.cron, zone.unwrap_or(chrono_tz::UTC)) {
            Ok(parsed) if zone.is_some() => {
                out.schedule = Some(ScheduleConfig {
                    schedule: parsed,
                    run_on_start: schedule.run_on_start,
                    grace: Duration::from_secs(schedule.grace_secs),
                });
            }
            Ok(_) => {}
            Err(message) => problems.push(ConfigProblem::new("schedule.cron", message)),
        }
    }
    if let Some(audit) = raw.audit {
        out.audit = match (audit.file, audit.stdout) {
            (Some(file), false) => Some(AuditSink::File(dir.join(file))),
            (None, true) => Some(AuditSink::Stdout),
            (None, false) => None,
            (Some(_), true) => {
                problems.push(ConfigProblem::new(
                    "audit",
                    "set either `file` or `stdout = true`, not both",
                ));
                None
            }
        };
    }
    if let Some(metrics) = raw.metrics {
        out.metrics.textfile = metrics.textfile.map(|f| dir.join(f));
        if let Some(url) = metrics.pushgateway {
            let job = metrics.pushgateway_job.as_deref().unwrap_or("hrsync");
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                problems.push(ConfigProblem::new(
                    "metrics.pushgateway",
                    format!("\"{url}\" must be an http:// or https:// URL"),
                ));
            } else if job.is_empty() || job.contains('/') {
                problems.push(ConfigProblem::new(
                    "metrics.pushgateway_job",
                    "must be a non-empty name without '/'",
                ));
            } else {
                out.metrics.pushgateway =
                    Some(format!("{}/metrics/job/{job}", url.trim_end_matches('/')));
            }
        }
        if let Some(listen) = metrics.listen {
            match listen.parse::<SocketAddr>() {
                Ok(addr) => out.metrics.listen = Some(addr),
                Err(_) => problems.push(ConfigProblem::new(
                    "metrics.listen",
                    format!("\"{listen}\" is not an address and port like 127.0.0.1:9464"),
                )),
            }
        }
    }
    if let Some(hooks) = raw.hooks {
        for (i, hook) in hooks.webhook.into_iter().enumerate() {
            let key = format!("hooks.webhook[{i}]");
            if !(hook.url.starts_with("http://") || hook.url.starts_with("https://")) {
                problems.push(ConfigProblem::new(
                    format!("{key}.url"),
                    "must be an http:// or https:// URL",
                ));
            }
            let header = match (hook.header, hook.secret) {
                (Some(name), Some(secret)) => {
                    if secret.check(&format!("{key}.secret")).is_err() {
                        problems.push(ConfigProblem::new(
                            format!("{key}.secret"),
                            "set exactly one of `file` or `env`",
                        ));
                    }
                    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                        problems.push(ConfigProblem::new(
                            format!("{key}.header"),
                            format!("\"{name}\" is not an HTTP header name"),
                        ));
                    }
                    Some((name, secret))
                }
                (None, None) => None,
                _ => {
                    problems.push(ConfigProblem::new(
                        &key,
                        "set `header` and `secret` together (the header's value is the secret)",
                    ));
                    None
                }
            };
            let events = events(hook.events, &key, problems);
            if hook.timeout_secs == 0 {
                problems.push(ConfigProblem::new(
                    format!("{key}.timeout_secs"),
                    "must be at least 1 second",
                ));
            }
            if hook.retries > 10 {
                problems.push(ConfigProblem::new(
                    format!("{key}.retries"),
                    "must be 0 to 10",
                ));
            }
            out.hooks.webhooks.push(WebhookConfig {
                url: hook.url,
                events,
                header,
                retries: hook.retries,
                timeout: Duration::from_secs(hook.timeout_secs),
            });
        }
        for (i, hook) in hooks.command.into_iter().enumerate() {
            let key = format!("hooks.command[{i}]");
            if hook.command.first().is_none_or(|p| p.is_empty()) {
                problems.push(ConfigProblem::new(
                    format!("{key}.command"),
                    "must name a program (and its arguments): [\"/path/to/program\", \"arg\"]",
                ));
            }
            if hook.timeout_secs == 0 {
                problems.push(ConfigProblem::new(
                    format!("{key}.timeout_secs"),
                    "must be at least 1 second",
                ));
            }
            let events = events(hook.events, &key, problems);
            out.hooks.commands.push(CommandHookConfig {
                command: hook.command,
                events,
                timeout: Duration::from_secs(hook.timeout_secs),
            });
        }
    }
    out
}

fn events(
    events: Option<Vec<Lifecycle>>,
    key: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Vec<Lifecycle> {
    let Some(events) = events else {
        return HOOK_EVENTS.to_vec();
    };
    for event in &events {
        if !HOOK_EVENTS.contains(event) {
            problems.push(ConfigProblem::new(
                format!("{key}.events"),
                format!(
                    "\"{}\" is not a hook event: joiner, mover or leaver",
                    event.as_str()
                ),
            ));
        }
    }
    if events.is_empty() {
        problems.push(ConfigProblem::new(
            format!("{key}.events"),
            "is empty: leave it out for all of joiner, mover and leaver",
        ));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(webhook.events, HOOK_EVENTS);
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
            "hooks.webhook[0].url: must be an http:// or https:// URL",
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
