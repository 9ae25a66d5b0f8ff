//! Lifecycle hooks: for each joiner, mover and leaver whose changes were all applied, a JSON
//! event is POSTed to the configured webhooks (with retries and exponential backoff) and/or
//! written to the standard input of the configured commands (killed after a timeout).
//!
//! Hooks run after the directory work and can never undo, block or hold it back: a failing
//! hook is logged, counted in the metrics (`hrsync_run_hook_failures`) and the summary, and
//! does not change the run's exit code, which says what happened to the directory.

pub(crate) mod config;

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::apply::Outcome;
use crate::journal::Journal;
use crate::plan::{Action, Lifecycle};

pub(crate) use config::{CommandHookConfig, HooksConfig, WebhookConfig};

/// The JSON body of a hook call (see docs/src/observability.md, "Hooks").
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Event {
    /// `joiner`, `mover` or `leaver`.
    pub(crate) event: Lifecycle,
    pub(crate) run_id: String,
    /// What started a run other than its schedule or a command (see the audit's
    /// `run_started`): `event:<source>`, `changes`, `sync`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) trigger: Option<String>,
    pub(crate) time: String,
    pub(crate) employee_id: String,
    /// The account's DN after the changes.
    pub(crate) dn: String,
    /// Its DN before, when it existed and was moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) previous_dn: Option<String>,
    pub(crate) groups_added: Vec<String>,
    pub(crate) groups_removed: Vec<String>,
    pub(crate) disabled: Option<bool>,
    /// Why, in the words of the plan's first change (masked: the reason for setting a password
    /// attribute shows no value).
    pub(crate) reason: Value,
}

/// What the hooks of a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HookReport {
    pub(crate) calls: u64,
    /// One line per failed call: which hook, which event, why.
    pub(crate) failures: Vec<String>,
}

const EVENTS: [Lifecycle; 3] = [Lifecycle::Joiner, Lifecycle::Mover, Lifecycle::Leaver];

/// The events of an applied plan: joiners, movers and leavers whose every change was applied
/// (or found already done). An account with a failed or skipped change gets no event; the
/// next run finishes it.
pub(crate) fn events(
    journal: &Journal,
    run_id: &str,
    trigger: Option<&str>,
    time: DateTime<Utc>,
) -> Vec<Event> {
    let time = time.to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut out = Vec::new();
    for (index, account) in journal.plan().accounts.iter().enumerate() {
        if !EVENTS.contains(&account.lifecycle) {
            continue;
        }
        let done = !account.changes.is_empty()
            && journal
                .account_outcomes(index)
                .all(|outcome| matches!(outcome, Some(Outcome::Applied | Outcome::AlreadyDone)));
        if !done {
            continue;
        }
        let mut dn = account.dn.to_string();
        let mut previous_dn = None;
        let mut event = Event {
            event: account.lifecycle,
            run_id: run_id.to_string(),
            trigger: trigger.map(str::to_string),
            time: time.clone(),
            employee_id: account.employee_id.clone(),
            dn: String::new(),
            previous_dn: None,
            groups_added: Vec::new(),
            groups_removed: Vec::new(),
            disabled: None,
            reason: account
                .changes
                .first()
                .and_then(|c| serde_json::to_value(&c.masked().reason).ok())
                .unwrap_or(Value::Null),
        };
        for change in &account.changes {
            match &change.action {
                Action::Create { dn: created, .. } => dn = created.to_string(),
                Action::Move { from, to } => {
                    previous_dn.get_or_insert_with(|| from.to_string());
                    dn = to.to_string();
                }
                Action::AddToGroup { group } => event.groups_added.push(group.to_string()),
                Action::RemoveFromGroup { group } => event.groups_removed.push(group.to_string()),
                Action::Disable { .. } => event.disabled = Some(true),
                Action::Enable { .. } => event.disabled = Some(false),
                Action::SetAttribute { .. }
                | Action::RenameMember { .. }
                | Action::AddValue { .. }
                | Action::RemoveValue { .. } => {}
            }
        }
        event.dn = dn;
        event.previous_dn = previous_dn;
        out.push(event);
    }
    out
}

/// Calls every hook for every event it subscribes to. Never fails: failures are in the report.
pub(crate) async fn fire(config: &HooksConfig, events: &[Event]) -> HookReport {
    let mut report = HookReport::default();
    if config.is_empty() || events.is_empty() {
        return report;
    }
    let client = match webhook_client() {
        Ok(client) => client,
        Err(e) => {
            report.failures.push(e);
            return report;
        }
    };
    for event in events {
        let body = match serde_json::to_vec(event) {
            Ok(body) => body,
            Err(e) => {
                report
                    .failures
                    .push(format!("cannot encode the event: {e}"));
                continue;
            }
        };
        for (i, hook) in config.webhooks.iter().enumerate() {
            if !hook.events.contains(&event.event) {
                continue;
            }
            report.calls += 1;
            if let Err(e) = webhook(&client, hook, &i.to_string(), &body).await {
                let line = format!(
                    "hooks.webhook[{i}] for {} {}: {e}",
                    event.event.as_str(),
                    event.employee_id
                );
                tracing::error!(hook = %format!("hooks.webhook[{i}]"), event = event.event.as_str(), employee = %event.employee_id, error = %e, "hook failed; the directory change stands");
                report.failures.push(line);
            }
        }
        for (i, hook) in config.commands.iter().enumerate() {
            if !hook.events.contains(&event.event) {
                continue;
            }
            report.calls += 1;
            if let Err(e) = command(hook, &config.env_allow, &body).await {
                let line = format!(
                    "hooks.command[{i}] for {} {}: {e}",
                    event.event.as_str(),
                    event.employee_id
                );
                tracing::error!(hook = %format!("hooks.command[{i}]"), event = event.event.as_str(), employee = %event.employee_id, error = %e, "hook failed; the directory change stands");
                report.failures.push(line);
            }
        }
    }
    report
}

/// The client for every webhook call. It follows only same-origin redirects: a redirect
/// elsewhere would carry the secret header and the employee's data to a server nobody
/// configured.
fn webhook_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(crate::hr::same_origin_redirects())
        .build()
        .map_err(|e| format!("cannot set up the webhook client: {e}"))
}

/// POSTs the event, retrying server errors, 429 and transport errors with exponential backoff
/// (0.5 s, 1 s, 2 s ... at most 30 s). A 4xx other than 408/429 is not retried.
async fn webhook(
    client: &reqwest::Client,
    hook: &WebhookConfig,
    index: &str,
    body: &[u8],
) -> Result<(), String> {
    let header = match &hook.header {
        Some((name, secret)) => Some((
            name.clone(),
            secret
                .resolve(&format!("hooks.webhook[{index}].secret"))
                .map_err(|e| e.to_string())?,
        )),
        None => None,
    };
    let mut delay = Duration::from_millis(500);
    let mut attempt = 0;
    loop {
        let mut request = client
            .post(&hook.url)
            .timeout(hook.timeout)
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some((name, value)) = &header {
            request = request.header(name.as_str(), value.expose_secret());
        }
        let (error, retry) = match request.send().await {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) if response.status().is_redirection() => {
                let status = response.status();
                (
                    format!(
                        "answered {status}, a redirect to another origin, which is not \
                         followed: configure the URL it points to"
                    ),
                    false,
                )
            }
            Ok(response) => {
                let status = response.status();
                (
                    format!("answered {status}"),
                    status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408,
                )
            }
            // Without the URL: it may carry a token in its query string.
            Err(e) => (e.without_url().to_string(), true),
        };
        if !retry || attempt >= hook.retries {
            let tries = attempt + 1;
            return Err(format!("{error} (after {tries} attempt(s))"));
        }
        tracing::warn!(attempt = attempt + 1, error = %error, "hook call failed; retrying");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
        attempt += 1;
    }
}

/// Runs the command with the event on its standard input; it must exit 0 within the timeout.
/// Its environment holds only the allowlisted variables of hrsync's: hrsync's own holds the
/// bind password, HR tokens and webhook secrets, which a hook must never see.
async fn command(
    hook: &CommandHookConfig,
    env_allow: &[String],
    body: &[u8],
) -> Result<(), String> {
    let Some((program, args)) = hook.command.split_first() else {
        return Err("no program".to_string());
    };
    let env = env_allow
        .iter()
        .filter_map(|name| Some((name, std::env::var_os(name)?)));
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env_clear()
        .envs(env)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let mut stdin = child.stdin.take();
    let run = async {
        if let Some(stdin) = stdin.as_mut() {
            // A command that does not read its input is its own business.
            let _ = stdin.write_all(body).await;
            let _ = stdin.write_all(b"\n").await;
        }
        drop(stdin);
        child.wait_with_output().await
    };
    match tokio::time::timeout(hook.timeout, run).await {
        Err(_) => Err(format!(
            "{program} did not finish within {} s and was killed",
            hook.timeout.as_secs()
        )),
        Ok(Err(e)) => Err(format!("{program}: {e}")),
        Ok(Ok(output)) if output.status.success() => Ok(()),
        Ok(Ok(output)) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr.lines().last().unwrap_or("").trim();
            Err(format!(
                "{program} exited with {}{}",
                output.status,
                if last.is_empty() {
                    String::new()
                } else {
                    format!(": {last}")
                }
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::{ApplyReport, StepResult};
    use crate::plan::ops::ChangeRef;

    /// Issue 16.10d: the event's reason is the first change's, which for setting a password
    /// attribute held the HR value it was set from.
    #[test]
    fn an_event_whose_first_change_sets_a_password_shows_no_value() {
        let mut plan = crate::plan::masked::tests::plan_with_secrets("Winter2026!");
        let account = &mut plan.accounts[0];
        account.lifecycle = Lifecycle::Mover;
        account.changes.remove(0);
        let results = (0..account.changes.len())
            .map(|change| StepResult {
                change: ChangeRef::Account { account: 0, change },
                employee_id: Some("101".to_string()),
                description: "set".to_string(),
                outcome: Outcome::Applied,
            })
            .collect();
        let journal = Journal::new(
            &plan,
            ApplyReport {
                results,
                ..Default::default()
            },
        );
        let time = DateTime::<Utc>::from_timestamp(1_790_000_100, 0).unwrap();
        let events = events(&journal, "run-1", None, time);
        assert_eq!(events.len(), 1);
        let body = serde_json::to_string(&events[0]).unwrap();
        assert!(!body.contains("Winter2026!"), "{body}");
        assert_eq!(
            events[0].reason,
            serde_json::json!({"fact": "(hidden)", "rule": "account.attributes.userPassword"})
        );
    }
}
