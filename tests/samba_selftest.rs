//! Tests of the Active Directory test harness itself (tests/samba, tests/support/samba.rs): the
//! facts about Samba AD that the connector's AD tests rely on, proved against a real DC.

#[path = "support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Instant;

use support::samba::{TestDomain, scripts_dir, unicode_pwd};

/// A password that passes AD's default policy (complexity is on in the test DCs, as in most
/// real domains).
const PASSWORD: &str = "Corr3ct-Horse!";

fn set_uac(domain: &TestDomain, dn: &str, uac: u32) {
    let out = domain.ldapmodify(&format!(
        "dn: {dn}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: {uac}\n"
    ));
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn ldaps_verifies_strictly_and_plain_ldap_refuses_simple_binds() {
    let domain = TestDomain::start("tls");
    let search = |url: &str, ca: &std::path::Path| {
        Command::new("ldapsearch")
            .args(["-x", "-LLL", "-H", url, "-o", "nettimeout=10"])
            .args(["-D", &domain.admin_upn, "-w", &domain.admin_password])
            .args([
                "-s",
                "base",
                "-b",
                &domain.domain_dn,
                "(objectClass=*)",
                "dn",
            ])
            .env("LDAPTLS_REQCERT", "demand")
            .env("LDAPTLS_CACERT", ca)
            .output()
            .expect("run ldapsearch")
    };

    assert!(domain.ldaps_url.starts_with("ldaps://127.0.0."));
    let out = search(&domain.ldaps_url, &domain.ca_file);
    assert!(out.status.success(), "LDAPS with our CA: {out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("dn: DC=example,DC=test"));

    let out = search(&domain.ldaps_url, std::path::Path::new("/dev/null"));
    assert!(
        !out.status.success(),
        "LDAPS must fail without the CA, or verification is not strict: {out:?}"
    );

    // DESIGN.md: AD refuses a simple bind without TLS (ldap server require strong auth).
    let out = search(&domain.ldap_url, &domain.ca_file);
    assert_eq!(out.status.code(), Some(8), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Strong(er) authentication required"),
        "{out:?}"
    );
}

#[test]
fn a_user_with_a_password_binds_until_disabled() {
    let domain = TestDomain::start("bind");
    let dn = domain.add_user("ada.lovelace", "101", Some(PASSWORD), "displayName: Ada");
    let entry = domain.entry(&dn).expect("user exists");
    assert_eq!(entry.first("userAccountControl"), Some("512"));
    assert_eq!(entry.first("sAMAccountName"), Some("ada.lovelace"));
    assert_eq!(
        entry.first("userPrincipalName"),
        Some("ada.lovelace@example.test")
    );
    assert_eq!(entry.first("employeeID"), Some("101"));
    assert_eq!(entry.first("displayName"), Some("Ada"));
    assert_eq!(entry.first("msDS-User-Account-Control-Computed"), Some("0"));
    assert!(!entry.has("unicodePwd"), "AD never returns passwords");

    // Every form of bind identity that AD accepts.
    for who in [
        dn.as_str(),
        "ada.lovelace@example.test",
        r"EXAMPLE\ada.lovelace",
    ] {
        assert!(domain.can_bind(who, PASSWORD), "bind as {who}");
    }
    let wrong = domain.bind_result(&dn, "Wrong-Passw0rd");
    assert!(
        wrong.as_ref().is_err_and(|e| e.contains("data 52e")),
        "{wrong:?}"
    );

    // Disabled: bit 0x2 of userAccountControl. The right password no longer binds, and AD says
    // why (533 = account disabled).
    set_uac(&domain, &dn, 514);
    let disabled = domain.bind_result(&dn, PASSWORD);
    assert!(
        disabled.as_ref().is_err_and(|e| e.contains("data 533")),
        "{disabled:?}"
    );
    assert!(!domain.can_bind("ada.lovelace@example.test", PASSWORD));
    set_uac(&domain, &dn, 512);
    assert!(domain.can_bind(&dn, PASSWORD), "re-enabled");

    // A user added without a password: disabled, password not required (DESIGN.md).
    let bob = domain.add_user("bob", "102", None, "");
    assert_eq!(
        domain.entry(&bob).expect("bob").first("userAccountControl"),
        Some("546")
    );

    // Complexity stays on: a weak password is refused with constraint violation (19).
    let out = domain.ldapmodify(&format!(
        "dn: {bob}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {}\n",
        unicode_pwd("simple")
    ));
    assert_eq!(out.status.code(), Some(19), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("0000052D"),
        "{out:?}"
    );
    // A strong one is accepted, and then the account can be enabled.
    let out = domain.ldapmodify(&format!(
        "dn: {bob}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {}\n",
        unicode_pwd(PASSWORD)
    ));
    assert!(out.status.success(), "{out:?}");
    set_uac(&domain, &bob, 512);
    assert!(domain.can_bind(&bob, PASSWORD));
}

#[test]
fn member_of_is_computed_from_the_group_and_empty_groups_are_allowed() {
    let domain = TestDomain::start("groups");
    let ada = domain.add_user("ada", "1", None, "");
    let alan = domain.add_user("alan", "2", None, "");
    let staff = domain.add_group("staff", &[&ada, &alan]);
    let empty = domain.add_group("empty", &[]);
    assert_eq!(
        domain.group_members(&staff),
        [ada.to_lowercase(), alan.to_lowercase()].into()
    );
    assert!(domain.group_members(&empty).is_empty());
    assert!(domain.group_members_ranged(&empty, 10).is_empty());
    let group = domain.entry(&staff).expect("group");
    assert_eq!(group.first("groupType"), Some("-2147483646"));
    assert_eq!(group.first("sAMAccountName"), Some("staff"));
    assert_eq!(
        domain.entry(&ada).expect("ada").values("memberOf"),
        std::slice::from_ref(&staff)
    );

    // Removing the last member is fine in AD (unlike groupOfNames).
    for member in [&ada, &alan] {
        let out = domain.ldapmodify(&format!(
            "dn: {staff}\nchangetype: modify\ndelete: member\nmember: {member}\n"
        ));
        assert!(out.status.success(), "{out:?}");
    }
    assert!(domain.group_members(&staff).is_empty());
    assert!(!domain.entry(&ada).expect("ada").has("memberOf"));
}

#[test]
fn a_group_of_3000_members_is_read_completely_with_ranged_retrieval() {
    let domain = TestDomain::start("big-group");
    let started = Instant::now();
    let users = domain.add_many_users("bulk", 3000);
    eprintln!("3,000 users added in {:?}", started.elapsed());
    assert_eq!(users.len(), 3000);

    let started = Instant::now();
    let members: Vec<&str> = users.iter().map(String::as_str).collect();
    let group = domain.add_group("everyone", &members);
    eprintln!("3,000-member group added in {:?}", started.elapsed());

    let expected: BTreeSet<String> = users.iter().map(|dn| dn.to_lowercase()).collect();
    let started = Instant::now();
    assert_eq!(domain.group_members(&group), expected);
    eprintln!("3,000 members read in {:?}", started.elapsed());

    // Samba answers `member;range=0-*` with every value at once; explicit ranges make the loop
    // run: 1,499 per request is three requests (0-1498, 1499-2997, 2998-*), 1,000 ends exactly
    // at the last value (the next request, 3000-*, gets no values at all).
    for step in [1499, 1000] {
        let started = Instant::now();
        assert_eq!(
            domain.group_members_ranged(&group, step),
            expected,
            "step {step}"
        );
        eprintln!(
            "3,000 members read {step} at a time in {:?}",
            started.elapsed()
        );
    }

    // What the server sends for a range, as the connector will see it.
    let chunk = domain.search(&group, "(objectClass=*)", &["member;range=1000-1999"]);
    assert_eq!(chunk[0].values("member;range=1000-1999").len(), 1000);
    let last = domain.search(&group, "(objectClass=*)", &["member;range=2500-3499"]);
    assert_eq!(
        last[0].values("member;range=2500-*").len(),
        500,
        "{:?}",
        last[0].attrs.keys()
    );

    // A search beyond one page of results.
    let found = domain.search(&domain.people_dn, "(objectClass=user)", &["sAMAccountName"]);
    assert_eq!(found.len(), 3000);
}

#[test]
fn searches_from_the_domain_root_return_referrals_without_breaking_search() {
    let domain = TestDomain::start("referrals");
    let dn = domain.add_user("grace", "7", None, "");

    let result = domain.search_with_referrals(&domain.domain_dn, "(sAMAccountName=grace)", &["cn"]);
    assert_eq!(result.entries.len(), 1, "{result:?}");
    assert_eq!(result.entries[0].dn, dn);
    assert!(
        result
            .referrals
            .iter()
            .any(|r| r.ends_with("/CN=Configuration,DC=example,DC=test")),
        "{result:?}"
    );
    let entries = domain.search(&domain.domain_dn, "(employeeID=7)", &["sAMAccountName"]);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].first("sAMAccountName"), Some("grace"));

    // A missing base is "no entries", not a panic.
    assert!(
        domain
            .search(
                &format!("OU=missing,{}", domain.base_dn),
                "(objectClass=*)",
                &[]
            )
            .is_empty()
    );
    assert!(
        domain
            .entry(&format!("CN=nobody,{}", domain.people_dn))
            .is_none()
    );
}

#[test]
fn parallel_starts_get_separate_dcs_so_account_names_never_clash() {
    let domains: Vec<TestDomain> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|i| s.spawn(move || TestDomain::start(&format!("parallel-{i}"))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("start"))
            .collect()
    });
    let addrs: BTreeSet<_> = domains.iter().map(|d| d.addr.clone()).collect();
    assert_eq!(addrs.len(), domains.len(), "{addrs:?}");
    for (i, domain) in domains.iter().enumerate() {
        assert!(domain.owns_dc());
        // The same sAMAccountName in each: only possible because the domains are separate.
        let dn = domain.add_user("same.name", &i.to_string(), Some(PASSWORD), "");
        assert!(domain.can_bind("same.name@example.test", PASSWORD), "{dn}");
    }
}

#[test]
fn a_shared_dc_gives_each_test_a_subtree_and_tree_deletes_it_on_drop() {
    let host = TestDomain::start_shared("shared-host");
    let guest = TestDomain::start_shared("shared-guest");
    assert!(!host.owns_dc());
    assert_eq!(host.ldaps_url, guest.ldaps_url, "one DC");
    assert_ne!(host.base_dn, guest.base_dn);

    let user = guest.add_user("shared.guest.user", "1", None, "");
    let group = guest.add_group("shared-guest-group", &[&user]);
    assert!(host.entry(&group).is_some(), "same domain");
    // Domain-wide uniqueness, the reason TestDomain::start gives each test its own DC.
    let out = host.ldapmodify(&format!(
        "dn: CN=x,{}\nchangetype: add\nobjectClass: user\nsAMAccountName: shared.guest.user\n",
        host.people_dn
    ));
    assert_eq!(out.status.code(), Some(68), "already exists: {out:?}");

    let subtree = guest.base_dn.clone();
    drop(guest);
    assert!(host.entry(&subtree).is_none(), "subtree deleted on drop");
    assert!(host.entry(&user).is_none());
    assert!(host.entry(&host.people_dn).is_some(), "host untouched");
}

#[test]
fn unicode_pwd_is_the_quoted_password_in_utf16le_base64() {
    assert_eq!(unicode_pwd("abc"), "IgBhAGIAYwAiAA==");
    assert_eq!(unicode_pwd("Zoë"), "IgBaAG8A6wAiAA==");
    assert_eq!(unicode_pwd(""), "IgAiAA==");
}

#[test]
fn start_samba_script_prints_sourcable_settings_and_stops_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dc_dir = dir.path().join("dc");
    // Awkward for any quoting, and still good enough for AD's password policy.
    let password = "it's a \"Secret\" $HOME 1";
    let start = |password: &str| {
        Command::new("bash")
            .arg(scripts_dir().join("start-samba.sh"))
            .arg(&dc_dir)
            .env("ADMIN_PASSWORD", password)
            // Should an assertion below fail before stop(), samba still ends with this process.
            .env("WATCH_PID", std::process::id().to_string())
            .output()
            .expect("run start-samba.sh")
    };
    let stop = || {
        let stopped = Command::new("bash")
            .arg(scripts_dir().join("stop-samba.sh"))
            .arg(&dc_dir)
            .status()
            .expect("run stop-samba.sh");
        assert!(stopped.success());
    };
    let started = Instant::now();
    let out = start(password);
    eprintln!("start-samba.sh took {:?}", started.elapsed());
    assert!(out.status.success(), "{out:?}");
    let settings = dir.path().join("samba.env");
    std::fs::write(&settings, &out.stdout).expect("write settings");

    let keys = [
        "LDAP_URL",
        "LDAPS_URL",
        "ADDR",
        "BASE_DN",
        "ADMIN_DN",
        "ADMIN_UPN",
        "ADMIN_PASSWORD",
        "CA_FILE",
        "PID_FILE",
        "LOG_FILE",
        "CONF_FILE",
        "REALM",
        "DOMAIN",
    ];
    let script = format!(
        "set -eu; source \"$1\"; printf '%s\\n' {}",
        keys.map(|k| format!("\"${k}\"")).join(" ")
    );
    let sourced = Command::new("bash")
        .args(["-c", &script, "bash"])
        .arg(&settings)
        .output()
        .expect("source settings");
    assert!(sourced.status.success(), "{sourced:?}");
    let text = String::from_utf8_lossy(&sourced.stdout).into_owned();
    let values: BTreeMap<&str, &str> = keys.into_iter().zip(text.lines()).collect();
    assert_eq!(values["ADMIN_PASSWORD"], password);
    assert_eq!(values["BASE_DN"], "DC=example,DC=test");
    assert_eq!(
        values["ADMIN_DN"],
        "CN=Administrator,CN=Users,DC=example,DC=test"
    );
    assert_eq!(values["ADMIN_UPN"], "Administrator@example.test");
    assert_eq!(values["REALM"], "EXAMPLE.TEST");
    assert_eq!(values["DOMAIN"], "EXAMPLE");
    let addr = values["ADDR"];
    assert!(addr.starts_with("127.0.0."), "{addr}");
    assert_eq!(values["LDAP_URL"], format!("ldap://{addr}:389"));
    assert_eq!(values["LDAPS_URL"], format!("ldaps://{addr}:636"));
    let pid = std::fs::read_to_string(values["PID_FILE"]).expect("pidfile");
    let proc_dir = format!("/proc/{}", pid.trim());
    assert!(std::path::Path::new(&proc_dir).exists());

    // The password we chose is the Administrator's (the template's is not).
    let bind = Command::new("ldapsearch")
        .args([
            "-x",
            "-LLL",
            "-H",
            values["LDAPS_URL"],
            "-o",
            "nettimeout=10",
        ])
        .args(["-D", values["ADMIN_UPN"], "-w", password])
        .args(["-b", "", "-s", "base", "(objectClass=*)", "1.1"])
        .env("LDAPTLS_CACERT", values["CA_FILE"])
        .env("LDAPTLS_REQCERT", "demand")
        .output()
        .expect("ldapsearch");
    assert!(bind.status.success(), "{bind:?}");

    stop();
    let gone = !std::path::Path::new(&proc_dir).exists()
        || std::fs::read_to_string(format!("{proc_dir}/status")).is_ok_and(|s| {
            s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        });
    assert!(gone, "samba still running after stop-samba.sh");
    assert!(!std::path::Path::new(values["PID_FILE"]).exists());
    stop(); // idempotent

    // A password AD's policy refuses is an error that says so, and leaves no DC behind.
    let out = start("weak");
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot set the Administrator password"),
        "{stderr}"
    );
    assert!(
        !dc_dir.join("dc/run/samba.proc").exists(),
        "the failed start stopped its samba"
    );
}

/// DESIGN.md's TLS fact, with the client the connector uses: rustls verifies the DC's
/// certificate by its IP subjectAltName against our CA (and never accepts it against another
/// CA), and a root search through ldap3 with `EntriesOnly` first skips AD's referrals.
#[test]
fn rustls_verifies_the_dc_by_ip_and_ldap3_searches_from_the_domain_root() {
    use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
    use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use std::sync::Arc;

    let domain = TestDomain::start("rustls");
    let dn = domain.add_user("linus", "42", None, "");
    let other = tempfile::tempdir().expect("temp dir");
    let other_ca = other.path().join("ca.pem");
    let made = Command::new("openssl")
        .args(["req", "-x509", "-new", "-nodes", "-newkey", "ec"])
        .args(["-pkeyopt", "ec_paramgen_curve:P-256", "-days", "1"])
        .args(["-subj", "/CN=some other CA", "-keyout"])
        .arg(other.path().join("ca.key"))
        .arg("-out")
        .arg(&other_ca)
        .output()
        .expect("run openssl");
    assert!(made.status.success(), "{made:?}");

    let settings = |ca: &std::path::Path| {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca).expect("CA file") {
            roots.add(cert.expect("PEM")).expect("CA certificate");
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        LdapConnSettings::new()
            .set_conn_timeout(std::time::Duration::from_secs(10))
            .set_config(Arc::new(config))
    };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let refused = LdapConnAsync::with_settings(settings(&other_ca), &domain.ldaps_url).await;
        assert!(
            refused.is_err(),
            "rustls accepted the DC against another CA"
        );

        let (conn, mut ldap) =
            LdapConnAsync::with_settings(settings(&domain.ca_file), &domain.ldaps_url)
                .await
                .expect("LDAPS with our CA");
        ldap3::drive!(conn);
        ldap.simple_bind(&domain.admin_upn, &domain.admin_password)
            .await
            .expect("bind")
            .success()
            .expect("bind accepted");
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(500)),
        ];
        let mut stream = ldap
            .streaming_search_with(
                adapters,
                &domain.domain_dn,
                Scope::Subtree,
                "(sAMAccountName=linus)",
                vec!["sAMAccountName"],
            )
            .await
            .expect("search");
        let mut found = Vec::new();
        while let Some(entry) = stream.next().await.expect("next entry") {
            found.push(SearchEntry::construct(entry).dn);
        }
        stream.finish().await.success().expect("search result");
        assert_eq!(found, std::slice::from_ref(&dn));
        ldap.unbind().await.expect("unbind");
    });
}
