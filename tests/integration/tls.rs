//! TLS: LDAPS and StartTLS with a custom CA, and verification on by default.

use crate::scenario::{Scenario, person};

#[tokio::test(flavor = "multi_thread")]
async fn ldaps_and_starttls_work_with_the_ca_file_and_verification_is_on_by_default() {
    let s = Scenario::start("tls").await;
    let (Some(ldaps), Some(ca)) = (s.dir.ldaps_url.clone(), s.dir.ca_file.clone()) else {
        panic!(
            "the test server must offer LDAPS and a CA file (set HRSYNC_TEST_LDAP_CA_FILE for an external one)"
        );
    };
    s.serve(&[person("1001", "Tess", "Tls", "Sales", "Rep")])
        .await;
    let ca = ca.display().to_string();

    s.write_config(&format!("url = \"{ldaps}\"\nca_file = \"{ca}\""));
    s.expect(&["plan", "--detailed-exitcode"], 2);

    s.write_config(&format!(
        "url = \"{}\"\nstarttls = true\nca_file = \"{ca}\"",
        s.dir.url
    ));
    s.expect(&["apply"], 0);
    assert!(
        s.dir
            .entry(&format!("uid=tess.tls,{}", s.ou("sales")))
            .is_some()
    );

    // Without the CA the server's certificate is not trusted: the run stops with exit 1.
    s.write_config(&format!("url = \"{ldaps}\""));
    let out = s.hrsync(&["plan"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        stderr.contains("cannot connect") && stderr.contains("certificate"),
        "{stderr}"
    );
}

/// Connection errors say what to check and the likely cause, not only the library's words
/// ("tls handshake eof", "channel closed", "UnknownIssuer"): each mistake an admin makes setting
/// up the connection, made against a real slapd, gets exit 1 and a way out naming the setting.
#[tokio::test(flavor = "multi_thread")]
async fn each_connection_mistake_names_the_setting_to_check_and_the_likely_cause() {
    let s = Scenario::start_own("tls-hints").await;
    s.serve(&[person("1002", "Con", "Nect", "Sales", "Rep")])
        .await;
    let (Some(ldaps), Some(ca)) = (s.dir.ldaps_url.clone(), s.dir.ca_file.clone()) else {
        panic!("our own slapd offers LDAPS and a CA file");
    };
    let ca = ca.display().to_string();
    let ldap = s.dir.url.clone();
    let port = |url: &str| url.rsplit(':').next().expect("a port").to_string();
    let (ldap_port, ldaps_port) = (port(&ldap), port(&ldaps));
    // A CA that signed nothing of this server's.
    let other = tempfile::tempdir().expect("temp dir");
    let made = std::process::Command::new("bash")
        .arg("-c")
        .arg("source \"$1\" && make_test_ca \"$2\"")
        .arg("bash")
        .arg(crate::support::scripts_dir().join("../tls/certs.sh"))
        .arg(other.path())
        .output()
        .expect("run certs.sh");
    assert!(made.status.success(), "{made:?}");
    let other_ca = other.path().join("ca.pem").display().to_string();
    // A slapd whose certificate names another host (start-slapd.sh keeps a DIR/tls it finds).
    let named = tempfile::tempdir().expect("temp dir");
    let tls = named.path().join("tls");
    let made = std::process::Command::new("bash")
        .arg("-c")
        .arg("source \"$1\" && make_test_ca \"$2\" && issue_test_cert \"$2\" other DNS:other.example")
        .arg("bash")
        .arg(crate::support::scripts_dir().join("../tls/certs.sh"))
        .arg(&tls)
        .output()
        .expect("run certs.sh");
    assert!(made.status.success(), "{made:?}");
    let started = std::process::Command::new("bash")
        .arg(crate::support::scripts_dir().join("start-slapd.sh"))
        .arg(named.path())
        .env("WATCH_PID", std::process::id().to_string())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run start-slapd.sh");
    assert!(started.status.success(), "{started:?}");
    let vars = crate::support::parse_shell_assignments(&String::from_utf8_lossy(&started.stdout));
    let misnamed = vars["LDAPS_URL"].clone();
    let misnamed_ca = tls.join("ca.pem").display().to_string();

    let cases: Vec<(String, &str, &[&str])> = vec![
        (
            format!("url = \"ldaps://127.0.0.1:{ldap_port}\"\nca_file = \"{ca}\""),
            "ldaps to the plain LDAP port",
            &[
                "tls handshake eof",
                "use the LDAPS port",
                "directory.starttls = true",
            ],
        ),
        (
            format!("url = \"ldap://127.0.0.1:{ldaps_port}\""),
            "ldap:// to the LDAPS port",
            &["looks like an LDAPS port", "use ldaps://"],
        ),
        (
            format!(
                "url = \"ldap://127.0.0.1:{ldaps_port}\"\nstarttls = true\nca_file = \"{ca}\"\nconnect_timeout_secs = 2"
            ),
            "StartTLS to the LDAPS port",
            &["timed out after 2 s", "an LDAPS port in directory.url"],
        ),
        (
            format!("url = \"{ldaps}\""),
            "no CA file",
            &[
                "UnknownIssuer",
                "set directory.ca_file to the PEM file of the CA",
            ],
        ),
        (
            format!("url = \"{ldaps}\"\nca_file = \"{other_ca}\""),
            "another CA",
            &[
                // Both test CAs are called "hrsync test CA": rustls finds the issuer by
                // name, then the signature wrong.
                "BadSignature",
                "the CA in directory.ca_file",
                "did not sign it",
            ],
        ),
        (
            format!("url = \"{misnamed}\"\nca_file = \"{misnamed_ca}\""),
            "a certificate for another name",
            &["does not name the host in directory.url"],
        ),
        (
            "url = \"ldaps://127.0.0.1:1\"".to_string(),
            "nothing listening",
            &[
                "Connection refused",
                "check the host and port in directory.url",
            ],
        ),
        (
            "url = \"ldaps://ldap.invalid:636\"".to_string(),
            "a host that does not resolve",
            &["the host name in directory.url does not resolve"],
        ),
    ];
    for (directory, what, expected) in cases {
        s.write_config(&directory);
        let out = s.hrsync(&["plan"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        for part in expected {
            assert!(stderr.contains(part), "{what}: {part:?} not in:\n{stderr}");
        }
    }
    let stopped = std::process::Command::new("bash")
        .arg(crate::support::scripts_dir().join("stop-slapd.sh"))
        .arg(named.path())
        .output()
        .expect("stop slapd");
    assert!(stopped.status.success());
    // The right settings work, and a wrong password names the keys to check.
    s.write_config(&format!("url = \"{ldaps}\"\nca_file = \"{ca}\""));
    s.expect(&["plan"], 0);
    let out = s.hrsync_with_env(
        &["plan"],
        &[(crate::scenario::BIND_PASSWORD_ENV, "Wrong-9")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("invalid credentials (check directory.bind_dn and the password directory.bind_password points at)"),
        "{stderr}"
    );
}
