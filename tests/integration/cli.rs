//! `validate` and the exit-code contract.

use crate::scenario::{Scenario, person};

#[tokio::test(flavor = "multi_thread")]
async fn validate_reports_every_problem_with_file_and_key_and_needs_no_network() {
    let s = Scenario::start("validate").await;
    // Valid config, unreachable servers: validate is offline.
    s.write_config("url = \"ldap://127.0.0.1:9\"");
    s.expect(&["validate"], 0);

    let mappings = s.work.path().join("mappings/groups.toml");
    let text = std::fs::read_to_string(&mappings).unwrap();
    std::fs::write(
        &mappings,
        text.replace(&s.ou("sales"), "ou=sales,dc=elsewhere")
            .replace(
                "match = { department = \"Engineering\" }",
                "match = { departmnet = \"Engineering\" }",
            ),
    )
    .unwrap();
    std::fs::write(
        &s.config,
        std::fs::read_to_string(&s.config)
            .unwrap()
            .replace("users_base", "user_base"),
    )
    .unwrap();
    let out = s.hrsync(&["--log-format", "text", "validate"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("hrsync.toml"), "names the file: {stderr}");
    assert!(
        stderr.contains("user_base"),
        "names the unknown key: {stderr}"
    );

    std::fs::write(
        &s.config,
        std::fs::read_to_string(&s.config)
            .unwrap()
            .replace("user_base", "users_base"),
    )
    .unwrap();
    let out = s.hrsync(&["--log-format", "text", "validate"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not below directory.users_base"),
        "{stderr}"
    );
    assert!(stderr.contains("uses HR field \"departmnet\""), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn detailed_exitcode_says_whether_changes_are_pending() {
    let s = Scenario::start("exitcodes").await;
    s.serve(&[person("1101", "Eli", "Exit", "Sales", "Rep")])
        .await;
    let before = s.dump();
    s.expect(&["plan", "--detailed-exitcode"], 2);
    s.expect(&["plan"], 0);
    s.expect(&["plan", "--format", "ldif"], 0);
    assert_eq!(s.dump(), before, "plan never writes");
    let json = s.expect(&["plan", "--format", "json"], 0);
    let plan: serde_json::Value = serde_json::from_str(&json).expect("plan JSON parses");
    assert_eq!(plan["schema"], "hrsync.plan/v1");
    assert_eq!(plan["summary"]["joiners"], 1);
    assert_eq!(plan["accounts"][0]["lifecycle"], "joiner");
    assert_eq!(plan["accounts"][0]["changes"][0]["action"], "create");
    assert!(plan["accounts"][0]["changes"][0]["reason"]["fact"].is_string());
    s.expect(&["apply"], 0);
    s.expect(&["plan", "--detailed-exitcode"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_warns_when_the_lock_cannot_take_effect() {
    let s = Scenario::start("nopolicy").await;
    s.serve(&[]).await;
    let fine = s.expect(&["plan"], 0);
    assert!(!fine.contains("locks nobody out"), "{fine}");
    let text = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        text.replace("cn=default,ou=policies,", "cn=missing,ou=policies,"),
    )
    .unwrap();
    let out = s.expect(&["plan"], 0);
    assert!(
        out.contains("pwdAccountLockedTime locks nobody out without a policy"),
        "{out}"
    );
}

/// `s.command(args)` run by `sh` under umask 000, so that only hrsync decides the modes.
fn under_umask_000(s: &Scenario, args: &[&str]) -> std::process::Output {
    let inner = s.command(args);
    let mut command = std::process::Command::new("sh");
    command
        .arg("-c")
        .arg("umask 000 && exec \"$0\" \"$@\"")
        .arg(inner.get_program())
        .args(inner.get_args())
        .stdin(std::process::Stdio::null());
    for (key, value) in inner.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    command.output().expect("run hrsync under sh")
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_out_and_dump_hr_are_private_and_another_users_file_is_refused() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let s = Scenario::start("privateout").await;
    s.serve(&[person("1102", "Pia", "Private", "Sales", "Rep")])
        .await;
    let saved = s.work.path().join("plan.json");
    let dump = s.work.path().join("hr.json");
    // A readable plan left from before is replaced by a private one.
    std::fs::write(&saved, "old").unwrap();
    std::fs::set_permissions(&saved, std::fs::Permissions::from_mode(0o644)).unwrap();
    let args = [
        "plan",
        "--out",
        saved.to_str().unwrap(),
        "--dump-hr",
        dump.to_str().unwrap(),
    ];
    let out = under_umask_000(&s, &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [&saved, &dump] {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600, "{} under umask 000", file.display());
    }
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(plan["summary"]["joiners"], 1);

    if std::fs::metadata(&saved).unwrap().uid() != 0 {
        eprintln!(
            "SKIPPED the refusal of another user's --out file: only root can give a file to \
             another user (CI runs the tests as root)"
        );
        return;
    }
    std::os::unix::fs::chown(&saved, Some(65534), Some(65534)).unwrap();
    let before = std::fs::read_to_string(&saved).unwrap();
    let out = s.hrsync(&["plan", "--out", saved.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(saved.to_str().unwrap()), "{stderr}");
    assert!(
        stderr.contains("belongs to another user (uid 65534)"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), before);
    assert_eq!(std::fs::metadata(&saved).unwrap().uid(), 65534);
}
