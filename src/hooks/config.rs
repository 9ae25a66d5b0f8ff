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
}

impl HooksConfig {
    pub(crate) fn is_empty(&self) -> bool {
        self.webhooks.is_empty() && self.commands.is_empty()
    }
}

/// The events a hook is called for when it does not say.
const HOOK_EVENTS: [Lifecycle; 3] = [Lifecycle::Joiner, Lifecycle::Mover, Lifecycle::Leaver];

impl RawHooks {
    pub(crate) fn validate(self, problems: &mut Vec<ConfigProblem>) -> HooksConfig {
        let webhooks = (self.webhook.into_iter().enumerate())
            .map(|(i, hook)| hook.validate(&format!("hooks.webhook[{i}]"), problems))
            .collect();
        let commands = (self.command.into_iter().enumerate())
            .map(|(i, hook)| hook.validate(&format!("hooks.command[{i}]"), problems))
            .collect();
        HooksConfig { webhooks, commands }
    }
}

impl RawWebhook {
    /// `key` is the table's (`hooks.webhook[0]`).
    fn validate(self, key: &str, problems: &mut Vec<ConfigProblem>) -> WebhookConfig {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            problems.push(ConfigProblem::new(
                format!("{key}.url"),
                "must be an http:// or https:// URL",
            ));
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
}
