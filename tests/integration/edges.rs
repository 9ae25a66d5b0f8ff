//! Issue 17, items 9, 10, 11 and 14: what hrsync hands to others (hooks, redirect targets, the
//! network) and what it tells machines (exit codes, log lines on stderr).

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::scenario::{BIND_PASSWORD_ENV, HR_TOKEN, HR_TOKEN_ENV, Scenario, person};

/// Item 10: a command hook saw hrsync's whole environment, secrets included. Now it sees the
/// default allowlist and `hooks.env_allow`, nothing else.
#[tokio::test(flavor = "multi_thread")]
async fn a_command_hook_sees_no_secret_and_only_allowlisted_variables() {
    let s = Scenario::start("edges_env").await;
    s.serve(&[person("101", "Ada", "Lovelace", "Engineering", "Engineer")])
        .await;
    let dump = s.work.path().join("hook-env.txt");
    s.write_config_with(
        "",
        &format!(
            r#"
[hooks]
env_allow = ["TICKET_QUEUE"]

[[hooks.command]]
command = ["sh", "-c", "cat > /dev/null; env > '{dump}'"]
"#,
            dump = dump.display()
        ),
    );
    let out = s.hrsync_with_env(
        &["apply"],
        &[
            ("TICKET_QUEUE", "IT-ONBOARDING"),
            ("UNRELATED_VARIABLE", "not-for-hooks"),
            ("HRSYNC_IT_HOOK_SECRET", "hook-secret-91c2"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env = std::fs::read_to_string(&dump).expect("the hook ran and dumped its environment");
    for secret in [
        BIND_PASSWORD_ENV,
        HR_TOKEN_ENV,
        HR_TOKEN,
        "hook-secret-91c2",
        "UNRELATED_VARIABLE",
        "RUST_LOG",
    ] {
        assert!(!env.contains(secret), "the hook saw {secret}:\n{env}");
    }
    assert!(env.contains("TICKET_QUEUE=IT-ONBOARDING"), "{env}");
    assert!(env.lines().any(|l| l.starts_with("PATH=")), "{env}");
}

/// Item 11: a webhook that answers with a redirect to another origin (another port) made
/// hrsync re-send the secret header and the employee's data there.
#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_redirect_to_another_origin_is_not_followed() {
    let s = Scenario::start("edges_redirect").await;
    s.serve(&[person("101", "Ada", "Lovelace", "Engineering", "Engineer")])
        .await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&elsewhere)
        .await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/collect", elsewhere.uri())),
        )
        .mount(&hooks)
        .await;
    s.write_config_with(
        "",
        &format!(
            r#"
[[hooks.webhook]]
url = "{uri}/hook"
header = "X-Hook-Token"
secret = {{ env = "HRSYNC_IT_HOOK_TOKEN" }}
retries = 0
"#,
            uri = hooks.uri()
        ),
    );
    let out = s.hrsync_with_env(&["apply"], &[("HRSYNC_IT_HOOK_TOKEN", "hook-token-77ab")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let followed = elsewhere.received_requests().await.expect("recording");
    assert!(
        followed.is_empty(),
        "the other origin got {} request(s)",
        followed.len()
    );
    assert_eq!(hooks.received_requests().await.expect("recording").len(), 1);
    assert!(
        stdout.contains("hooks.webhook[0] for joiner 101: answered 307"),
        "{stdout}"
    );
    assert!(stdout.contains("not followed"), "{stdout}");
}

/// Item 9: `ldap://` without StartTLS to another host sent the bind password in clear text,
/// accepted without a word. `validate` now refuses it naming the key, and the loud setting
/// lets it through with a warning.
#[tokio::test(flavor = "multi_thread")]
async fn a_cleartext_bind_to_another_host_is_refused_unless_loudly_allowed() {
    let s = Scenario::start("edges_cleartext").await;
    s.write_config("url = \"ldap://ldap.example.com:389\"");
    let out = s.hrsync(&["--log-format", "text", "validate"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("directory.url: is ldap:// without StartTLS to a host other than"),
        "{stderr}"
    );
    assert!(stderr.contains("danger_allow_cleartext_bind"), "{stderr}");

    s.write_config("url = \"ldap://ldap.example.com:389\"\ndanger_allow_cleartext_bind = true");
    let out = s.hrsync(&["--log-format", "text", "validate"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("WARN"), "{stderr}");
    assert!(stderr.contains("clear text"), "{stderr}");

    // This machine's slapd over plain ldap://127.0.0.1 stays as it was.
    s.write_config("");
    s.expect(&["validate"], 0);
}

/// The hrsync binary with a config file that does not need to exist.
fn hrsync(args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_hrsync"));
    command
        .args(args)
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .env_remove("HRSYNC_CONFIG")
        .stdin(std::process::Stdio::null());
    command
}

/// Item 14: a usage error exited 2, the code `--detailed-exitcode` gives pending changes, so a
/// drift check read a typo as drift.
#[test]
fn a_usage_error_exits_64_and_help_and_version_exit_0() {
    let out = hrsync(&["plan", "--detailed-exitcod"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--detailed-exitcod"), "{stderr}");
    let out = hrsync(&["frobnicate"]).output().expect("run");
    assert_eq!(out.status.code(), Some(64));
    for args in [&["--help"][..], &["--version"], &["plan", "--help"]] {
        let out = hrsync(args).output().expect("run");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
}

/// Item 14: with JSON logs the fatal error was also printed as plain text.
#[test]
fn json_logs_of_a_failing_run_are_json_lines_only() {
    let work = tempfile::tempdir().expect("temp dir");
    let config = work.path().join("missing.toml");
    let config = config.to_str().expect("utf-8 path");
    for format in ["json", "auto"] {
        let out = hrsync(&["--log-format", format, "--config", config, "plan"])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.trim().is_empty());
        for line in stderr.lines() {
            let parsed: Result<Value, _> = serde_json::from_str(line);
            assert!(parsed.is_ok(), "not JSON ({format}): {line}\n{stderr}");
        }
        assert_eq!(
            stderr.matches("missing.toml").count(),
            1,
            "the error once: {stderr}"
        );
    }
}

/// Item 14: text logs into a pipe carried ANSI colour codes, and NO_COLOR was ignored.
#[test]
fn text_logs_into_a_pipe_carry_no_escape_codes() {
    let work = tempfile::tempdir().expect("temp dir");
    let config = work.path().join("missing.toml");
    let config = config.to_str().expect("utf-8 path");
    for no_color in [None, Some("1")] {
        let mut command = hrsync(&["--log-format", "text", "--config", config, "plan"]);
        if let Some(value) = no_color {
            command.env("NO_COLOR", value);
        }
        let out = command.output().expect("run");
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("missing.toml"), "{stderr}");
        assert!(!out.stderr.contains(&0x1b), "escape codes: {stderr:?}");
        assert_eq!(
            stderr.matches("missing.toml").count(),
            1,
            "the error once: {stderr}"
        );
    }
}
