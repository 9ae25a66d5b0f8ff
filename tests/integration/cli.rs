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
    let out = s.hrsync(&["validate"]);
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
    let out = s.hrsync(&["validate"]);
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
