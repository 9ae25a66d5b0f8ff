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
