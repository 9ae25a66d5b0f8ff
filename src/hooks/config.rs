//! `[hooks]`: the webhooks and commands called for each joiner, mover and leaver applied.

use std::time::Duration;

use serde::Deserialize;

use crate::plan::Lifecycle;
use crate::problem::ConfigProblem;
use crate::secret::SecretRef;

/// `[hooks]`: called for each joiner, mover and leaver applied.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHooks {
    #[serde(default)]
    webhook: Vec<RawWebhook>,
    #[serde(default)]
    command: Vec<RawCommandHook>,
    /// Environment variables passed to command hooks besides [`DEFAULT_ENV_ALLOW`] (exact
    /// names). A command hook starts from an empty environment otherwise.
    #[serde(default)]
    env_allow: Vec<String>,
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

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub(crate) url: String,
    pub(crate) events: Vec<Lifecycle>,
    pub(crate) header: Option<(String, SecretRef)>,
    pub(crate) retries: u32,
    pub(crate) timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct CommandHookConfig {
    pub(crate) command: Vec<String>,
    pub(crate) events: Vec<Lifecycle>,
    pub(crate) timeout: Duration,
}

/// The validated `[hooks]`.
#[derive(Debug, Clone, Default)]
pub struct HooksConfig {
    pub(crate) webhooks: Vec<WebhookConfig>,
    pub(crate) commands: Vec<CommandHookConfig>,
    /// The only variables of hrsync's environment a command hook sees: [`DEFAULT_ENV_ALLOW`]
    /// and `hooks.env_allow`.
    pub(crate) env_allow: Vec<String>,
}

/// What a command hook gets from hrsync's environment without asking: enough to find programs
/// and format text and times, nothing that can hold a credential.
pub(crate) const DEFAULT_ENV_ALLOW: [&str; 5] = ["PATH", "HOME", "LANG", "LC_ALL", "TZ"];

/// Parts of a variable's name (compared in upper case) that say it may hold a credential: such
/// a variable is never passed to a hook, even when allowlisted.
const SECRET_NAME_PARTS: [&str; 6] = ["PASSWORD", "PASSWD", "TOKEN", "SECRET", "KEY", "CREDENTIAL"];

impl HooksConfig {
    pub(crate) fn is_empty(&self) -> bool {
        self.webhooks.is_empty() && self.commands.is_empty()
    }

    /// The check across tables: `secret_envs` are the variables any table of the config reads
    /// a secret from (`{ env = "..." }`: the bind password, HR credentials). None of them may
    /// be in the allowlist, whatever its name looks like.
    pub(crate) fn refuse_secret_envs(
        &mut self,
        secret_envs: &std::collections::BTreeSet<String>,
        problems: &mut Vec<ConfigProblem>,
    ) {
        for name in &self.env_allow {
            if secret_envs.contains(name) {
                problems.push(ConfigProblem::new(
                    "hooks.env_allow",
                    format!(
                        "\"{name}\" is where the config reads a secret from: hooks never get it"
                    ),
                ));
            }
        }
        self.env_allow.retain(|name| !secret_envs.contains(name));
    }
}

/// The events a hook is called for when it does not say.
const HOOK_EVENTS: [Lifecycle; 3] = [Lifecycle::Joiner, Lifecycle::Mover, Lifecycle::Leaver];

impl RawHooks {
    pub(crate) fn validate(self, problems: &mut Vec<ConfigProblem>) -> HooksConfig {
        let webhooks: Vec<WebhookConfig> = (self.webhook.into_iter().enumerate())
            .map(|(i, hook)| hook.validate(&format!("hooks.webhook[{i}]"), problems))
            .collect();
        let commands = (self.command.into_iter().enumerate())
            .map(|(i, hook)| hook.validate(&format!("hooks.command[{i}]"), problems))
            .collect();
        let env_allow = env_allow(self.env_allow, &webhooks, problems);
        HooksConfig {
            webhooks,
            commands,
            env_allow,
        }
    }
}

/// The allowlist of command hooks' environment. A name that hrsync reads configuration or a
/// secret from (`HRSYNC_*`, a webhook's `secret.env`), or whose name says it holds a
/// credential, is refused: the point of the clean environment is that hooks never see
/// hrsync's secrets, and an allowlist must not reopen that door by a slip.
fn env_allow(
    names: Vec<String>,
    webhooks: &[WebhookConfig],
    problems: &mut Vec<ConfigProblem>,
) -> Vec<String> {
    let secret_envs: Vec<&str> = (webhooks.iter())
        .filter_map(|hook| hook.header.as_ref()?.1.env.as_deref())
        .collect();
    let mut allowed: Vec<String> = DEFAULT_ENV_ALLOW.iter().map(ToString::to_string).collect();
    for (i, name) in names.into_iter().enumerate() {
        match refusal(&name, &secret_envs) {
            Err(message) => {
                problems.push(ConfigProblem::new(format!("hooks.env_allow[{i}]"), message))
            }
            Ok(()) if allowed.contains(&name) => {}
            Ok(()) => allowed.push(name),
        }
    }
    allowed
}

/// Why `name` may not be passed to hooks, if it may not.
fn refusal(name: &str, secret_envs: &[&str]) -> Result<(), String> {
    let upper = name.to_ascii_uppercase();
    if name.is_empty() || name.contains('=') || name.contains('\0') {
        return Err("is not an environment variable name".to_string());
    }
    if upper.starts_with("HRSYNC_") || secret_envs.contains(&name) {
        return Err(format!(
            "\"{name}\" is where hrsync reads its configuration or a secret from: hooks never \
             get it"
        ));
    }
    match SECRET_NAME_PARTS.iter().find(|part| upper.contains(*part)) {
        Some(part) => Err(format!(
            "\"{name}\" looks like a credential (its name contains {part}): hooks never get \
             one from hrsync's environment; give the hook its own (a file it reads)"
        )),
        None => Ok(()),
    }
}

impl RawWebhook {
    /// `key` is the table's (`hooks.webhook[0]`).
    fn validate(self, key: &str, problems: &mut Vec<ConfigProblem>) -> WebhookConfig {
        if let Err(message) = webhook_url_ok(&self.url) {
            problems.push(ConfigProblem::new(format!("{key}.url"), message));
        }
        let header = header(self.header, self.secret, key, problems);
        let events = events(self.events, key, problems);
        if self.timeout_secs == 0 {
            problems.push(ConfigProblem::new(
                format!("{key}.timeout_secs"),
                "must be at least 1 second",
            ));
        }
        if self.retries > 10 {
            problems.push(ConfigProblem::new(
                format!("{key}.retries"),
                "must be 0 to 10",
            ));
        }
        WebhookConfig {
            url: self.url,
            events,
            header,
            retries: self.retries,
            timeout: Duration::from_secs(self.timeout_secs),
        }
    }
}

/// An https:// URL, or http:// to this machine. The body carries personal data (names, DNs,
/// groups) whether or not a secret header goes with it, so plain http to another host is
/// refused in every case.
fn webhook_url_ok(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("is not a URL: {e}"))?;
    match parsed.scheme() {
        _ if parsed.host_str().is_none() => Err("has no host".into()),
        "https" => Ok(()),
        "http" if crate::hr::is_loopback(&parsed) => Ok(()),
        "http" => Err(
            "is http:// to a host other than this machine: the event (personal \
             data) and any secret header would cross the network in clear text; use https://"
                .into(),
        ),
        _ => Err("must be an https:// URL (http:// only to localhost or 127.0.0.1)".into()),
    }
}

/// A webhook's header: its name and the secret that is its value, set together or not at all.
fn header(
    name: Option<String>,
    secret: Option<SecretRef>,
    key: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<(String, SecretRef)> {
    match (name, secret) {
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
                key,
                "set `header` and `secret` together (the header's value is the secret)",
            ));
            None
        }
    }
}

impl RawCommandHook {
    /// `key` is the table's (`hooks.command[0]`).
    fn validate(self, key: &str, problems: &mut Vec<ConfigProblem>) -> CommandHookConfig {
        if self.command.first().is_none_or(|p| p.is_empty()) {
            problems.push(ConfigProblem::new(
                format!("{key}.command"),
                "must name a program (and its arguments): [\"/path/to/program\", \"arg\"]",
            ));
        }
        if self.timeout_secs == 0 {
            problems.push(ConfigProblem::new(
                format!("{key}.timeout_secs"),
                "must be at least 1 second",
            ));
        }
        let events = events(self.events, key, problems);
        CommandHookConfig {
            command: self.command,
            events,
            timeout: Duration::from_secs(self.timeout_secs),
        }
    }
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

    fn validate(text: &str) -> (HooksConfig, Vec<String>) {
        let raw: RawHooks = toml::from_str(text).unwrap();
        let mut problems = Vec::new();
        let config = raw.validate(&mut problems);
        (config, problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn no_tables_is_no_hooks() {
        let (config, problems) = validate("");
        assert!(config.is_empty() && problems.is_empty());
    }

    #[test]
    fn webhook_limits_and_the_header_are_checked_with_the_index_in_the_key() {
        let (config, problems) = validate(
            r#"
[[webhook]]
url = "https://ok.example.org"

[[webhook]]
url = "https://itsm.example.org/hook"
header = "Bad Header"
secret = { env = "A", file = "/b" }
retries = 11
events = []
"#,
        );
        assert_eq!(config.webhooks.len(), 2);
        assert_eq!(
            problems,
            [
                "hooks.webhook[1].secret: set exactly one of `file` or `env`",
                "hooks.webhook[1].header: \"Bad Header\" is not an HTTP header name",
                "hooks.webhook[1].events: is empty: leave it out for all of joiner, mover and leaver",
                "hooks.webhook[1].retries: must be 0 to 10",
            ]
        );
    }

    #[test]
    fn a_command_hook_names_a_program_and_takes_a_timeout() {
        let (config, problems) = validate(
            r#"
[[command]]
command = [""]
timeout_secs = 0
events = ["mover"]
"#,
        );
        assert_eq!(config.commands[0].events, [Lifecycle::Mover]);
        assert_eq!(
            problems,
            [
                "hooks.command[0].command: must name a program (and its arguments): \
                 [\"/path/to/program\", \"arg\"]",
                "hooks.command[0].timeout_secs: must be at least 1 second",
            ]
        );
    }

    /// Issue 17.11: an http:// webhook to another host sent the event (personal data) and the
    /// secret header in clear text, and was accepted.
    #[test]
    fn a_webhook_over_plain_http_to_another_host_is_refused() {
        let (_, problems) = validate(
            r#"
[[webhook]]
url = "http://hooks.example.com/hrsync"

[[webhook]]
url = "ftp://hooks.example.com/hrsync"

[[webhook]]
url = "http://127.0.0.1:8080/hook"

[[webhook]]
url = "http://localhost/hook"

[[webhook]]
url = "http://[::1]:9/hook"
"#,
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("hooks.webhook[0].url: is http:// to a host other than"),
            "{problems:?}"
        );
        assert!(problems[1].starts_with("hooks.webhook[1].url: must be an https://"));
    }

    /// Issue 17.10: the allowlist cannot hand a hook hrsync's configuration variables, a
    /// webhook's secret variable or anything named like a credential.
    #[test]
    fn the_hook_environment_allowlist_refuses_secrets() {
        let (config, problems) = validate(
            r#"
env_allow = ["TICKET_QUEUE", "HRSYNC_DIRECTORY__BIND_PASSWORD", "ITSM_AUTH", "Ldap_Passwd",
             "HR_API_TOKEN", "PATH", "A=B"]

[[webhook]]
url = "https://itsm.example.org/hook"
header = "Authorization"
secret = { env = "ITSM_AUTH" }
"#,
        );
        assert_eq!(
            config.env_allow,
            ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TICKET_QUEUE"]
        );
        let keys: Vec<&str> = problems
            .iter()
            .map(|p| p.split(':').next().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "hooks.env_allow[1]",
                "hooks.env_allow[2]",
                "hooks.env_allow[3]",
                "hooks.env_allow[4]",
                "hooks.env_allow[6]",
            ],
            "{problems:?}"
        );
        assert!(
            problems[0].contains("configuration or a secret"),
            "{problems:?}"
        );
        assert!(problems[2].contains("contains PASSWD"), "{problems:?}");
    }
}
