//! The bind password and the HR token never appear in any output, even at trace level.

use crate::scenario::{HR_TOKEN, Scenario, person, terminated};

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_in_any_output_at_trace_level() {
    let s = Scenario::start("secrets").await;
    let password = s.dir.admin_password.clone();
    assert!(
        password.len() >= 8,
        "the harness password must be distinctive"
    );
    let dn = s.dir.add_user("sam.secret", "901", None, "");
    s.add_member("staff", &dn);
    s.serve(&[
        terminated(person("901", "Sam", "Secret", "Sales", "Rep")),
        person("902", "Tia", "Token", "Engineering", "Engineer"),
    ])
    .await;

    let mut outputs = Vec::new();
    for args in [
        &["plan", "--format", "text"][..],
        &["plan", "--format", "json"],
        &["plan", "--format", "ldif"],
        &["apply"],
        &["plan"],
    ] {
        let out = s.hrsync_with_env(args, &[("RUST_LOG", "trace")]);
        assert!(out.status.success(), "{args:?}: {out:?}");
        outputs.push(out);
    }
    // Failures too: a wrong HR token and a wrong bind password must not echo the secrets.
    let out = s.hrsync_with_env(
        &["plan"],
        &[
            ("RUST_LOG", "trace"),
            (crate::scenario::HR_TOKEN_ENV, "wrong-token-5e1c"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    outputs.push(out);
    let out = s.hrsync_with_env(
        &["plan"],
        &[
            ("RUST_LOG", "trace"),
            (crate::scenario::BIND_PASSWORD_ENV, "wrong-password-91d2"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid credentials"));
    outputs.push(out);

    let mut total = 0;
    for out in &outputs {
        for stream in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(stream);
            total += text.len();
            for secret in [
                password.as_str(),
                HR_TOKEN,
                "wrong-token-5e1c",
                "wrong-password-91d2",
            ] {
                assert!(
                    !text.contains(secret),
                    "a secret leaked into the output:\n{text}"
                );
            }
        }
    }
    assert!(
        total > 10_000,
        "trace logging must actually have produced output ({total} bytes)"
    );
}
