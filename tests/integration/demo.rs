//! The README's demo (deploy/demo/demo.sh) with the debug binary: its config, mappings, sample
//! directory and sample HR data must give plan, apply, and a second plan with nothing to do.

use std::process::{Command, Stdio};

use crate::support::{parse_shell_assignments, scripts_dir};

#[test]
fn the_demo_plans_applies_and_then_has_nothing_left_to_do() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Command::new("bash")
        .arg(scripts_dir().join("start-slapd.sh"))
        .arg(dir.path().join("slapd"))
        .env("SEED_LDIF", root.join("deploy/demo/directory.ldif"))
        .env("WATCH_PID", std::process::id().to_string())
        .stdin(Stdio::null())
        .output()
        .expect("run start-slapd.sh");
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let env = parse_shell_assignments(&String::from_utf8_lossy(&started.stdout));
    let hrsync = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hrsync"))
            .arg("--config")
            .arg(root.join("deploy/demo/hrsync.toml"))
            .args(args)
            .env("HRSYNC_DIRECTORY__URL", &env["LDAP_URL"])
            .env("HRSYNC_DIRECTORY__CA_FILE", &env["CA_FILE"])
            .env("HRSYNC_DEMO_BIND_PASSWORD", &env["ADMIN_PASSWORD"])
            .stdin(Stdio::null())
            .output()
            .expect("run hrsync")
    };
    let code = |out: &std::process::Output| out.status.code();
    let first = hrsync(&["plan", "--detailed-exitcode"]);
    let text = String::from_utf8_lossy(&first.stdout);
    assert_eq!(
        code(&first),
        Some(2),
        "{text}\n{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        text.contains("2 joiner(s), 2 mover(s), 1 leaver(s), 1 rehire(s)"),
        "{text}"
    );
    let applied = hrsync(&["apply"]);
    assert_eq!(
        code(&applied),
        Some(0),
        "{}",
        String::from_utf8_lossy(&applied.stdout)
    );
    let again = hrsync(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        code(&again),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    let stopped = Command::new("bash")
        .arg(scripts_dir().join("stop-slapd.sh"))
        .arg(dir.path().join("slapd"))
        .output()
        .expect("stop slapd");
    assert!(stopped.status.success());
}

/// The README's demo command itself, `deploy/demo/demo.sh`, with a prebuilt binary
/// (`HRSYNC_BIN`, here the test build) instead of its release build: it starts the seeded slapd,
/// plans, applies, plans again with nothing left (exit 0), and shows the leaver locked out.
#[test]
fn the_demo_script_runs_with_a_prebuilt_binary() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(root.join("deploy/demo/demo.sh"))
        .env("HRSYNC_BIN", env!("CARGO_BIN_EXE_hrsync"))
        .stdin(Stdio::null())
        .output()
        .expect("run demo.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo.sh failed:\n{stdout}\n{stderr}");
    assert!(
        !stderr.contains("Building hrsync"),
        "no build with HRSYNC_BIN: {stderr}"
    );
    assert!(
        stdout.contains("2 joiner(s), 2 mover(s), 1 leaver(s), 1 rehire(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("No changes: the directory matches HR."),
        "{stdout}"
    );
    assert!(
        stderr.contains("uid=dennis.ritchie,ou=disabled,dc=example,dc=org: cannot log in"),
        "{stderr}"
    );

    let missing = Command::new("bash")
        .arg(root.join("deploy/demo/demo.sh"))
        .env("HRSYNC_BIN", "/nonexistent/hrsync")
        .stdin(Stdio::null())
        .output()
        .expect("run demo.sh");
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("HRSYNC_BIN=/nonexistent/hrsync"));
}
