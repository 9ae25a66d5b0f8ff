//! `[events]`: the webhook endpoint of `hrsync run`, through which an HR event (a termination,
//! a change of role) reaches the directory within seconds rather than at the next scheduled
//! run. Validated here; served by `crate::events`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::events::verify::{self, Scheme};
use crate::problem::ConfigProblem;
use crate::secret::SecretRef;

/// `[events]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEvents {
    /// The events listener's address (`0.0.0.0:8443`), its own, apart from `metrics.listen`.
    listen: String,
    /// PEM certificate chain and private key: the endpoint is served over HTTPS (rustls).
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    /// Plain HTTP on an address other than loopback, because a proxy in front of hrsync (a
    /// Kubernetes ingress) terminates TLS. Without TLS and without this, only loopback.
    #[serde(default)]
    tls_terminated_by_proxy: bool,
    /// Larger bodies are refused (413). Default 64 KiB.
    #[serde(default = "default_max_body_bytes")]
    max_body_bytes: usize,
    /// A delivery whose timestamp is further than this from now is refused. Default 300.
    #[serde(default = "default_replay_window_secs")]
    replay_window_secs: u64,
    /// More disables than this within `window_secs` pause event processing. Default 20.
    #[serde(default = "default_max_disables")]
    max_disables: usize,
    /// The window `max_disables` counts over. Default 3600.
    #[serde(default = "default_window_secs")]
    window_secs: u64,
    /// How many times an employee HR could not be read is tried again (after 2, 4, 8, ...
    /// seconds) before being left to the next full run. Default 5.
    #[serde(default = "default_retries")]
    retries: u32,
    #[serde(default)]
    source: Vec<RawSource>,
}

/// `[[events.source]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    /// The source's name: its events are POSTed to `/events/<name>`.
    name: String,
    kind: Scheme,
    /// The webhook's signing secret.
    secret: SecretRef,
    /// Standard Webhooks only: the JSONPath to the employee id(s) in the payload.
    employee_ids: Option<String>,
}

fn default_max_body_bytes() -> usize {
    64 * 1024
}
fn default_replay_window_secs() -> u64 {
    300
}
/// The rails' defaults, also those of a changes run without an `[events]` table.
pub(crate) const DEFAULT_MAX_DISABLES: usize = 20;
pub(crate) const DEFAULT_WINDOW_SECS: u64 = 3600;
pub(crate) const DEFAULT_RETRIES: u32 = 5;

fn default_max_disables() -> usize {
    DEFAULT_MAX_DISABLES
}
fn default_window_secs() -> u64 {
    DEFAULT_WINDOW_SECS
}
fn default_retries() -> u32 {
    DEFAULT_RETRIES
}

/// The largest body `max_body_bytes` may allow: an HR event names a few employees.
const MAX_BODY_LIMIT: usize = 10 * 1024 * 1024;

/// The validated `[events]`.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    pub(crate) listen: SocketAddr,
    /// Certificate chain and key files, when hrsync serves HTTPS itself.
    pub(crate) tls: Option<(PathBuf, PathBuf)>,
    pub(crate) max_body_bytes: usize,
    pub(crate) replay_window: Duration,
    pub(crate) max_disables: usize,
    pub(crate) window: Duration,
    pub(crate) retries: u32,
    pub(crate) sources: Vec<EventSource>,
}

/// One sender of events.
#[derive(Debug, Clone)]
pub struct EventSource {
    pub(crate) name: String,
    pub(crate) kind: Scheme,
    pub(crate) secret: SecretRef,
    pub(crate) employee_ids: Option<serde_json_path::JsonPath>,
}

impl RawEvents {
    /// `dir` is the config file's directory, which relative certificate paths are read against.
    pub(super) fn validate(
        self,
        dir: &Path,
        problems: &mut Vec<ConfigProblem>,
    ) -> Option<EventsConfig> {
        let before = problems.len();
        let (listen, tls) = self.endpoint(dir, problems);
        if !(1..=MAX_BODY_LIMIT).contains(&self.max_body_bytes) {
            problems.push(ConfigProblem::new(
                "events.max_body_bytes",
                format!("must be between 1 and {MAX_BODY_LIMIT}"),
            ));
        }
        if !(30..=3600).contains(&self.replay_window_secs) {
            problems.push(ConfigProblem::new(
                "events.replay_window_secs",
                "must be between 30 and 3600 (the vendors sign a timestamp of the sending time)",
            ));
        }
        if self.window_secs == 0 {
            problems.push(ConfigProblem::new(
                "events.window_secs",
                "must be at least 1",
            ));
        }
        if self.retries > 20 {
            problems.push(ConfigProblem::new("events.retries", "must be at most 20"));
        }
        if self.source.is_empty() {
            problems.push(ConfigProblem::new(
                "events.source",
                "name at least one [[events.source]] (name, kind, secret)",
            ));
        }
        let mut sources: Vec<EventSource> = Vec::new();
        for (n, source) in self.source.into_iter().enumerate() {
            let key = format!("events.source[{n}]");
            if let Some(source) = source.validate(&key, problems) {
                if sources.iter().any(|s| s.name == source.name) {
                    problems.push(ConfigProblem::new(
                        format!("{key}.name"),
                        format!("\"{}\" is named twice", source.name),
                    ));
                }
                sources.push(source);
            }
        }
        if problems.len() > before {
            return None;
        }
        Some(EventsConfig {
            listen: listen?,
            tls,
            max_body_bytes: self.max_body_bytes,
            replay_window: Duration::from_secs(self.replay_window_secs),
            max_disables: self.max_disables,
            window: Duration::from_secs(self.window_secs),
            retries: self.retries,
            sources,
        })
    }

    /// Where the endpoint listens and its certificate and key (resolved against `dir`): a
    /// listener off loopback needs TLS here or at a proxy in front.
    fn endpoint(
        &self,
        dir: &Path,
        problems: &mut Vec<ConfigProblem>,
    ) -> (Option<SocketAddr>, Option<(PathBuf, PathBuf)>) {
        let listen = match self.listen.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                problems.push(ConfigProblem::new(
                    "events.listen",
                    format!(
                        "\"{}\" is not an address and port like 0.0.0.0:8443",
                        self.listen
                    ),
                ));
                None
            }
        };
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some((dir.join(cert), dir.join(key))),
            (None, None) => None,
            _ => {
                problems.push(ConfigProblem::new(
                    "events.tls_cert",
                    "set both tls_cert and tls_key, or neither",
                ));
                None
            }
        };
        if let Some(addr) = listen
            && tls.is_none()
            && !self.tls_terminated_by_proxy
            && !addr.ip().is_loopback()
        {
            problems.push(ConfigProblem::new(
                "events.listen",
                format!(
                    "{addr} is not a loopback address and no tls_cert/tls_key is set: webhook \
                     bodies name employees and must not cross a network in clear text. Set \
                     tls_cert and tls_key, listen on 127.0.0.1 behind a proxy, or set \
                     tls_terminated_by_proxy = true when an ingress in front terminates TLS"
                ),
            ));
        }
        (listen, tls)
    }
}

impl RawSource {
    fn validate(self, key: &str, problems: &mut Vec<ConfigProblem>) -> Option<EventSource> {
        let before = problems.len();
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !name_ok {
            problems.push(ConfigProblem::new(
                format!("{key}.name"),
                "must be 1 to 64 of a-z, 0-9, - and _ (it is the path /events/<name>)",
            ));
        }
        if let Err(e) = self.secret.check(&format!("{key}.secret")) {
            problems.push(ConfigProblem::new(format!("{key}.secret"), e.to_string()));
        }
        let employee_ids = match (self.kind, self.employee_ids) {
            (Scheme::StandardWebhooks, None) => {
                problems.push(ConfigProblem::new(
                    format!("{key}.employee_ids"),
                    "a standard_webhooks source needs the JSONPath to the employee id(s) in its \
                     payload, such as employee_ids = \"$.data.employee_id\"",
                ));
                None
            }
            (Scheme::StandardWebhooks, Some(path)) => {
                match serde_json_path::JsonPath::parse(&path) {
                    Ok(parsed) => Some(parsed),
                    Err(e) => {
                        problems.push(ConfigProblem::new(
                            format!("{key}.employee_ids"),
                            format!("\"{path}\" is not a JSONPath: {e}"),
                        ));
                        None
                    }
                }
            }
            (_, Some(_)) => {
                problems.push(ConfigProblem::new(
                    format!("{key}.employee_ids"),
                    "only for kind = \"standard_webhooks\": the vendors' payloads have a \
                     documented shape",
                ));
                None
            }
            (_, None) => None,
        };
        (problems.len() == before).then_some(EventSource {
            name: self.name,
            kind: self.kind,
            secret: self.secret,
            employee_ids,
        })
    }
}

impl EventSource {
    /// The signing key, read from the secret now (`hrsync run` reads it at its start).
    pub(crate) fn key(&self) -> Result<Vec<u8>, String> {
        let key = format!("events.source \"{}\".secret", self.name);
        let secret = self.secret.resolve(&key).map_err(|e| e.to_string())?;
        use secrecy::ExposeSecret;
        verify::key(self.kind, secret.expose_secret()).map_err(|e| format!("{key}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (Option<EventsConfig>, Vec<String>) {
        #[derive(Deserialize)]
        struct Tables {
            events: RawEvents,
        }
        let tables: Tables = toml::from_str(text).unwrap();
        let mut problems = Vec::new();
        let events = tables
            .events
            .validate(Path::new("/etc/hrsync"), &mut problems);
        (events, problems.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn a_full_table_is_read_with_its_defaults() {
        let (events, problems) = load(
            r#"
[events]
listen = "127.0.0.1:8443"
[[events.source]]
name = "bamboohr"
kind = "bamboohr"
secret = { env = "KEY" }
[[events.source]]
name = "other"
kind = "standard_webhooks"
secret = { file = "/run/secrets/other" }
employee_ids = "$.data.employee_id"
"#,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let events = events.unwrap();
        assert_eq!(events.max_body_bytes, 65536);
        assert_eq!(events.replay_window, Duration::from_secs(300));
        assert_eq!((events.max_disables, events.window.as_secs()), (20, 3600));
        assert_eq!(events.sources.len(), 2);
        assert!(events.tls.is_none());
    }

    #[test]
    fn every_mistake_is_named_by_its_key() {
        let (events, problems) = load(
            r#"
[events]
listen = "0.0.0.0:8443"
tls_cert = "cert.pem"
max_body_bytes = 0
replay_window_secs = 5
[[events.source]]
name = "Bamboo HR"
kind = "bamboohr"
secret = { env = "KEY" }
employee_ids = "$.id"
[[events.source]]
name = "x"
kind = "standard_webhooks"
secret = { env = "A", file = "/b" }
"#,
        );
        assert!(events.is_none());
        let all = problems.join("\n");
        for expected in [
            "events.tls_cert: set both tls_cert and tls_key",
            "events.listen: 0.0.0.0:8443 is not a loopback address",
            "events.max_body_bytes",
            "events.replay_window_secs",
            "events.source[0].name",
            "events.source[0].employee_ids: only for kind = \"standard_webhooks\"",
            "events.source[1].secret",
            "events.source[1].employee_ids: a standard_webhooks source needs",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
        }
    }

    #[test]
    fn plain_http_beyond_loopback_only_behind_a_proxy_that_terminates_tls() {
        let (events, problems) = load(
            r#"
[events]
listen = "0.0.0.0:8080"
tls_terminated_by_proxy = true
[[events.source]]
name = "hibob"
kind = "hibob"
secret = { env = "KEY" }
"#,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert!(events.is_some());
    }

    #[test]
    fn an_unknown_kind_is_refused() {
        let result: Result<RawEvents, _> = toml::from_str(
            r#"
listen = "127.0.0.1:1"
[[source]]
name = "x"
kind = "workday"
secret = { env = "K" }
"#,
        );
        assert!(result.is_err());
    }
}
