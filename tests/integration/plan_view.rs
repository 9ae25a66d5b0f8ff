//! Plans that put what matters first (issue 20, item 3), against a real slapd: `--only` and
//! `--employee` cut what `plan` shows and what `apply` applies (with the safety limits counted
//! on what is applied), colour only on a terminal, and `apply` asking for `yes` on a terminal.
//!
//! A terminal is a real pseudo-terminal from util-linux's `script`, so hrsync's own
//! `isatty` checks decide, as they do for an admin.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::scenario::{Scenario, person, terminated};

/// Three employees in step with the directory, then HR says: Cy leaves, Bo moves to
/// Engineering, Jo joins. With `[limits] create = 0`, a plain apply refuses the joiner.
async fn three_changes(name: &str) -> Scenario {
    let s = Scenario::start(name).await;
    s.write_config_with("", "[limits]\ncreate = { count = 0 }\n");
    let al = person("201", "Al", "Ames", "Sales", "Rep");
    let bo = person("202", "Bo", "Berg", "Sales", "Rep");
    let cy = person("203", "Cy", "Cole", "Sales", "Rep");
    s.serve(&[al.clone(), bo.clone(), cy.clone()]).await;
    // The first apply creates three accounts: allowed past the limit once.
    s.expect(&["apply", "--allow-limit", "create"], 0);
    s.assert_converged();
    let mut bo = bo;
    bo["department"] = Value::String("Engineering".into());
    let jo = person("204", "Jo", "Judd", "Sales", "Rep");
    s.serve(&[al, bo, terminated(cy), jo]).await;
    s
}

/// Whether Cy, the leaver, is locked.
fn leaver_locked(s: &Scenario) -> bool {
    let locked = "(&(employeeNumber=203)(pwdAccountLockedTime=*))";
    s.dir.search(s.base(), locked, &[]).len() == 1
}

#[tokio::test(flavor = "multi_thread")]
async fn only_and_employee_cut_what_is_shown_and_what_is_applied() {
    let s = three_changes("view-only").await;

    // Shown: the leaver alone, and a line saying what was left out and what apply would do.
    let plan = s.expect(&["plan", "--only", "leavers"], 0);
    assert!(
        plan.contains("0 joiner(s), 0 mover(s), 1 leaver(s)"),
        "{plan}"
    );
    assert!(plan.contains("leaver uid=cy.cole,"), "{plan}");
    assert!(!plan.contains("uid=jo.judd"), "{plan}");
    assert!(!plan.contains("uid=bo.berg"), "{plan}");
    assert!(
        plan.contains("shown: only leavers (1 of 3 account(s),"),
        "{plan}"
    );
    assert!(
        !plan.contains("limit `create` tripped"),
        "the limits shown are those of what is shown: {plan}"
    );
    // The whole plan still trips the limit, and a plain apply refuses it whole.
    let whole = s.expect(&["plan"], 0);
    assert!(whole.contains("limit `create` tripped"), "{whole}");
    let before = s.dump();
    s.expect(&["apply"], 4);
    assert_eq!(s.dump(), before, "nothing applied");

    // Applying the leavers only: the limit on creations is not counted, nothing else changes.
    let applied = s.expect(&["apply", "--only", "leaver"], 0);
    assert!(applied.contains("applying only leavers"), "{applied}");
    assert!(leaver_locked(&s), "the leaver is locked");
    assert!(
        s.dir
            .search(s.base(), "(employeeNumber=204)", &[])
            .is_empty(),
        "the joiner was not created"
    );
    let bo = s.dir.search(s.base(), "(employeeNumber=202)", &[]);
    assert!(
        bo[0].dn.to_lowercase().contains("ou=sales"),
        "the mover did not move: {}",
        bo[0].dn
    );

    // One employee by id: the mover only.
    let plan = s.expect(&["plan", "--employee", "202"], 0);
    assert!(plan.contains("mover uid=bo.berg,"), "{plan}");
    assert!(!plan.contains("joiner uid="), "{plan}");
    s.expect(&["apply", "--employee", "202"], 0);
    let bo = s.dir.search(s.base(), "(employeeNumber=202)", &[]);
    assert!(
        bo[0].dn.to_lowercase().contains("ou=engineering"),
        "{}",
        bo[0].dn
    );

    // What is left is the joiner, still over the limit.
    let left = s.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        left.contains("1 joiner(s), 0 mover(s), 0 leaver(s)"),
        "{left}"
    );
    s.expect(&["apply"], 4);
    // An employee with nothing to do is an empty cut, not an error.
    let none = s.expect(&["plan", "--employee", "999", "--detailed-exitcode"], 0);
    assert!(none.contains("No changes"), "{none}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_holds_what_was_shown_and_apply_plan_takes_the_filter_too() {
    let s = three_changes("view-saved").await;
    let saved = s.work.path().join("leavers.json");
    let saved = saved.to_str().expect("utf-8 path");
    s.expect(&["plan", "--only", "leavers,movers", "--out", saved], 0);
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(saved).expect("saved")).expect("json");
    let lifecycles: Vec<&str> = file["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .filter_map(|a| a["lifecycle"].as_str())
        .collect();
    assert_eq!(lifecycles.len(), 2, "{lifecycles:?}");
    assert!(!lifecycles.contains(&"joiner"), "{lifecycles:?}");
    assert!(file["limits_tripped"].as_array().is_some_and(Vec::is_empty));

    // The approved plan, cut again at apply: only the leaver.
    let out = s.expect(&["apply", "--plan", saved, "--only", "leavers"], 0);
    assert!(out.contains("applying only leavers"), "{out}");
    assert!(leaver_locked(&s), "the leaver is locked");
    let bo = s.dir.search(s.base(), "(employeeNumber=202)", &[]);
    assert!(bo[0].dn.to_lowercase().contains("ou=sales"), "{}", bo[0].dn);
    // The joiner never reviewed is listed as not applied, not applied.
    assert!(out.contains("Not applied, not reviewed"), "{out}");
    assert!(
        s.dir
            .search(s.base(), "(employeeNumber=204)", &[])
            .is_empty()
    );
}

/// Runs hrsync under a pseudo-terminal (util-linux `script`), typing `input`; the exit code and
/// everything the terminal showed.
fn in_terminal(s: &Scenario, args: &[&str], input: &str, env: &[(&str, &str)]) -> (i32, String) {
    let hrsync = s.command(args);
    let line: Vec<String> = std::iter::once(hrsync.get_program())
        .chain(hrsync.get_args())
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect();
    let mut command = Command::new("script");
    command
        .args([
            "--quiet",
            "--return",
            "--command",
            &line.join(" "),
            "/dev/null",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in hrsync.get_envs() {
        if let Some(value) = value {
            command.env(key, value);
        }
    }
    command.env_remove("NO_COLOR");
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("script (util-linux) runs");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        // Typed after the question is up: the pty would otherwise take the line early (it is
        // read all the same, but the test then proves less about the order).
        std::thread::sleep(std::time::Duration::from_millis(1500));
        stdin.write_all(input.as_bytes()).expect("type the answer");
    }
    let out = child.wait_with_output().expect("script finishes");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"),
    )
}

fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

const QUESTION: &str = "Only `yes` applies them";

#[tokio::test(flavor = "multi_thread")]
async fn apply_on_a_terminal_asks_and_applies_only_on_yes() {
    let s = three_changes("view-confirm").await;
    s.write_config("");
    let before = s.dump();

    let (code, screen) = in_terminal(&s, &["apply"], "no\n", &[]);
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains(QUESTION), "{screen}");
    assert!(screen.contains("Apply these "), "{screen}");
    assert!(
        screen.contains("nothing applied: the answer was not `yes`"),
        "{screen}"
    );
    assert_eq!(s.dump(), before, "nothing applied on `no`");

    // Only the exact word: `y` is not `yes`.
    let (code, screen) = in_terminal(&s, &["apply"], "y\n", &[]);
    assert_eq!(code, 1, "{screen}");
    assert_eq!(s.dump(), before, "nothing applied on `y`");

    // A closed stdin is no answer.
    let (code, screen) = in_terminal(&s, &["apply"], "\u{4}", &[]);
    assert_eq!(code, 1, "{screen}");
    assert_eq!(s.dump(), before, "nothing applied without an answer");

    let (code, screen) = in_terminal(&s, &["apply"], "yes\n", &[]);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("applied "), "{screen}");
    s.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn yes_or_no_terminal_means_no_question() {
    let s = three_changes("view-yes").await;
    s.write_config("");
    // --yes on a terminal: no question, applied.
    let (code, screen) = in_terminal(&s, &["apply", "--only", "leavers", "--yes"], "", &[]);
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains(QUESTION), "{screen}");
    assert!(leaver_locked(&s), "the leaver is locked");
    // Not a terminal (cron, CI, a pipe): never asks, even with a `no` waiting on stdin.
    let mut command = s.command(&["apply"]);
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hrsync runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"no\n")
        .expect("write");
    let out = child.wait_with_output().expect("hrsync finishes");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains(QUESTION), "{stdout}");
    s.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn colour_on_a_terminal_only_and_never_with_no_color() {
    let s = three_changes("view-colour").await;
    let (code, screen) = in_terminal(&s, &["plan"], "", &[]);
    assert_eq!(code, 0, "{screen}");
    // A lock in bold red, a group taken away in red, a creation in green.
    assert!(
        screen.contains("\x1b[1;31m  ~ disable the account"),
        "{screen:?}"
    );
    assert!(screen.contains("\x1b[31m  - group "), "{screen:?}");
    assert!(screen.contains("\x1b[32m  + create "), "{screen:?}");

    let (code, screen) = in_terminal(&s, &["plan"], "", &[("NO_COLOR", "1")]);
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains('\x1b'), "{screen:?}");
    assert!(screen.contains("  ~ disable the account"), "{screen}");

    let piped = s.expect(&["plan"], 0);
    assert!(!piped.contains('\x1b'), "{piped:?}");
    // The order: the counts, then what needs attention, then the changes.
    let limits = piped.find("safety limits tripped").expect("limits shown");
    let first_change = piped.find("\njoiner ").expect("the joiner shown");
    assert!(piped.starts_with("hrsync plan: 1 joiner(s)"), "{piped}");
    assert!(limits < first_change, "{piped}");
    assert!(
        piped.contains("1 creation(s), 1 disable(s), 2 move(s)"),
        "{piped}"
    );
}
