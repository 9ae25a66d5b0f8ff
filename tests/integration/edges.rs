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

/// A config file hrsync refuses, and a variable that makes it log a warning before it does: a
/// run that ends in error with at least one log line on stderr.
fn failing_run(work: &std::path::Path, args: &[&str]) -> std::process::Command {
    let config = work.join("hrsync.toml");
    std::fs::write(&config, "not_a_table = 1\n").expect("write config");
    let mut all = args.to_vec();
    all.extend(["--config", config.to_str().expect("utf-8 path"), "validate"]);
    let mut command = hrsync(&all);
    command.env("HRSYNC_IT_NOT_A_KEY", "1");
    command
}

/// Item 14: with JSON logs the fatal error was also printed as plain text.
#[test]
fn json_logs_of_a_failing_run_are_json_lines_only() {
    let work = tempfile::tempdir().expect("temp dir");
    for format in ["json", "auto"] {
        let out = failing_run(work.path(), &["--log-format", format])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<Value> = (stderr.lines())
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|_| panic!("not JSON ({format}): {line}\n{stderr}"))
            })
            .collect();
        let levels: Vec<&str> = (lines.iter())
            .map(|line| line["level"].as_str().expect("a level"))
            .collect();
        assert_eq!(levels, ["WARN", "ERROR"], "{stderr}");
        assert_eq!(
            stderr.matches("unknown field").count(),
            1,
            "the error once: {stderr}"
        );
    }
}

/// Whether `bytes` hold an ANSI colour sequence (`ESC [ digits ; ... m`).
fn has_colour(bytes: &[u8]) -> bool {
    bytes.windows(2).enumerate().any(|(i, w)| {
        w == b"\x1b[" && {
            let rest = &bytes[i + 2..];
            let end = rest
                .iter()
                .position(|b| !(b.is_ascii_digit() || *b == b';'));
            end.is_some_and(|end| end > 0 && rest[end] == b'm')
        }
    })
}

/// Item 14: text logs into a pipe carried ANSI colour codes.
#[test]
fn text_logs_into_a_pipe_carry_no_escape_codes() {
    let work = tempfile::tempdir().expect("temp dir");
    let out = failing_run(work.path(), &["--log-format", "text"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("WARN"), "a log line: {stderr}");
    assert!(!out.stderr.contains(&0x1b), "escape codes: {stderr:?}");
    assert_eq!(
        stderr.matches("unknown field").count(),
        1,
        "the error once: {stderr}"
    );
}

/// Item 14: on a terminal, text logs are coloured unless `NO_COLOR` is set (non-empty). The
/// terminal is a pseudo-terminal from util-linux's `script`.
#[test]
fn no_color_turns_colour_off_on_a_terminal() {
    let work = tempfile::tempdir().expect("temp dir");
    let on_terminal = |no_color: Option<&str>| {
        let run = failing_run(work.path(), &["--log-format", "text"]);
        let line = std::iter::once(run.get_program())
            .chain(run.get_args())
            .map(|arg| format!("'{}'", arg.to_str().expect("utf-8 argument")))
            .collect::<Vec<_>>()
            .join(" ");
        let mut script = std::process::Command::new("script");
        script.args(["-q", "-e", "-c", &line, "/dev/null"]);
        // The environment `run` would have had (variables set and removed).
        for (name, value) in run.get_envs() {
            match value {
                Some(value) => script.env(name, value),
                None => script.env_remove(name),
            };
        }
        if let Some(value) = no_color {
            script.env("NO_COLOR", value);
        }
        let out = script.output().expect("util-linux `script` runs");
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("WARN"),
            "{out:?}"
        );
        out.stdout
    };
    assert!(has_colour(&on_terminal(None)), "a terminal gets colour");
    assert!(
        has_colour(&on_terminal(Some(""))),
        "an empty NO_COLOR is unset"
    );
    let plain = on_terminal(Some("1"));
    assert!(!has_colour(&plain), "{}", String::from_utf8_lossy(&plain));
}
