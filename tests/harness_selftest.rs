//! Proves that the test harness (tests/support) and the slapd it starts behave as the
//! integration tests assume: the facts in DESIGN.md "Facts checked on real servers here" hold on
//! every machine that runs the suite, not only on the one where they were first checked.

#[path = "support/mod.rs"]
mod support;

use support::{ExternalServer, TestDirectory, parse_ldif};

#[test]
fn a_locked_account_cannot_bind_and_unlocking_restores_it() {
    let dir = TestDirectory::start("lockout");
    let dn = dir.add_user("ada.lovelace", "101", Some("analytical"), "");
    assert!(dir.can_bind(&dn, "analytical"));
    assert!(!dir.can_bind(&dn, "wrong password"));

    let lock = format!(
        "dn: {dn}\nchangetype: modify\nreplace: pwdAccountLockedTime\n\
         pwdAccountLockedTime: 000001010000Z\n"
    );
    let out = dir.ldapmodify(&lock);
    assert!(out.status.success(), "{out:?}");
    let entry = dir.entry(&dn).expect("user exists");
    assert_eq!(entry.first("pwdAccountLockedTime"), Some("000001010000Z"));
    assert!(
        !dir.can_bind(&dn, "analytical"),
        "ppolicy must refuse a locked account (is a default policy configured?)"
    );

    let unlock = format!("dn: {dn}\nchangetype: modify\ndelete: pwdAccountLockedTime\n");
    let out = dir.ldapmodify(&unlock);
    assert!(out.status.success(), "{out:?}");
    assert!(dir.can_bind(&dn, "analytical"));
}

#[test]
fn removing_the_last_member_of_a_group_of_names_is_an_object_class_violation() {
    let dir = TestDirectory::start("last-member");
    let ada = dir.add_user("ada", "1", None, "");
    let alan = dir.add_user("alan", "2", None, "");
    let group = dir.add_group("staff", &[&ada, &alan]);
    assert_eq!(
        dir.group_members(&group),
        [ada.to_lowercase(), alan.to_lowercase()].into()
    );

    let remove = |member: &str| {
        dir.ldapmodify(&format!(
            "dn: {group}\nchangetype: modify\ndelete: member\nmember: {member}\n"
        ))
    };
    assert!(remove(&ada).status.success());
    let out = remove(&alan);
    assert_eq!(out.status.code(), Some(65), "{out:?}");
    assert_eq!(dir.group_members(&group), [alan.to_lowercase()].into());
}

#[test]
fn ldaps_and_starttls_verify_against_the_test_ca() {
    let dir = TestDirectory::start("tls");
    let ldaps_url = dir.ldaps_url.clone().expect("own slapd has an ldaps URL");
    let ca_file = dir.ca_file.clone().expect("own slapd has a CA");

    let search = |url: &str, ca: Option<&std::path::Path>, extra: &[&str]| {
        let mut command = std::process::Command::new("ldapsearch");
        command
            .args([
                "-x",
                "-LLL",
                "-H",
                url,
                "-s",
                "base",
                "-b",
                &dir.base_dn,
                "dn",
            ])
            .args(extra)
            .env("LDAPTLS_REQCERT", "demand")
            // Without a CA of ours, fall back to one that cannot have signed the test certificate.
            .env(
                "LDAPTLS_CACERT",
                ca.unwrap_or(std::path::Path::new("/dev/null")),
            );
        command.output().expect("run ldapsearch")
    };

    let out = search(&ldaps_url, Some(&ca_file), &[]);
    assert!(out.status.success(), "LDAPS with our CA: {out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&dir.base_dn));

    let out = search(&dir.url, Some(&ca_file), &["-ZZ"]);
    assert!(out.status.success(), "StartTLS with our CA: {out:?}");

    let out = search(&ldaps_url, None, &[]);
    assert!(
        !out.status.success(),
        "LDAPS must fail without the CA, or verification is not strict: {out:?}"
    );
}

#[test]
fn search_decodes_base64_values_and_entry_reads_one_entry() {
    let dir = TestDirectory::start("search");
    // Non-ASCII and a leading space both force ldapsearch to print `attr:: base64`.
    let dn = dir.add_user(
        "zoe",
        "7",
        None,
        "cn: Zoë Ångström\nsn: Ångström\ndescription:: IGxlYWRpbmcgc3BhY2U=",
    );
    let entry = dir.entry(&dn).expect("user exists");
    assert_eq!(entry.first("cn"), Some("Zoë Ångström"));
    assert_eq!(entry.first("description"), Some(" leading space"));
    assert_eq!(entry.first("employeeNumber"), Some("7"));
    assert!(!entry.has("pwdAccountLockedTime"));
    assert_eq!(
        entry.values("objectClass"),
        ["inetOrgPerson".to_string()].as_slice()
    );

    let found = dir.search(&dir.people_dn, "(employeeNumber=7)", &["uid"]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].dn.to_lowercase(), dn.to_lowercase());
    assert_eq!(found[0].values("uid"), ["zoe".to_string()].as_slice());

    assert!(
        dir.entry(&format!("uid=nobody,{}", dir.people_dn))
            .is_none()
    );
    assert!(
        dir.search(
            &format!("ou=missing,{}", dir.base_dn),
            "(objectClass=*)",
            &[]
        )
        .is_empty()
    );
}

#[test]
fn parse_ldif_unfolds_lines_and_skips_comments() {
    let text = "# a comment\ndn: uid=a,ou=people,dc=exa\n mple,dc=org\ncn: Ada\nMail: a@\n example.org\n\
                jpegPhoto:: AAEC\n\ndn:: dWlkPWIsZGM9b3Jn\ncn:\n";
    let entries = parse_ldif(text);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].dn, "uid=a,ou=people,dc=example,dc=org");
    assert_eq!(entries[0].first("mail"), Some("a@example.org"));
    assert_eq!(entries[0].first("JPEGPHOTO"), Some("\u{0}\u{1}\u{2}"));
    assert_eq!(entries[1].dn, "uid=b,dc=org");
    assert_eq!(entries[1].first("cn"), Some(""));
}

#[test]
fn parallel_starts_get_separate_servers_and_subtrees() {
    let dirs: Vec<TestDirectory> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| s.spawn(move || TestDirectory::start(&format!("parallel-{i}"))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("start"))
            .collect()
    });
    for (i, dir) in dirs.iter().enumerate() {
        dir.add_user("same.uid", &i.to_string(), None, "");
    }
    let bases: std::collections::BTreeSet<_> = dirs.iter().map(|d| d.base_dn.clone()).collect();
    assert_eq!(bases.len(), dirs.len());
    if std::env::var_os("HRSYNC_TEST_LDAP_URL").is_none() {
        let urls: std::collections::BTreeSet<_> = dirs.iter().map(|d| d.url.clone()).collect();
        assert_eq!(urls.len(), dirs.len(), "each own slapd has its own port");
    }
}

#[test]
fn an_external_server_gets_a_subtree_that_is_removed_on_drop() {
    // Our own slapd plays the external server, so this path is tested on every run.
    let host = TestDirectory::start("external-host");
    let external = ExternalServer {
        url: host.url.clone(),
        ldaps_url: host.ldaps_url.clone(),
        bind_dn: host.admin_dn.clone(),
        bind_password: host.admin_password.clone(),
        base_dn: host.server_base_dn.clone(),
        ca_file: host.ca_file.clone(),
    };
    let guest = TestDirectory::start_on(external, "external-guest");
    assert_ne!(guest.base_dn, host.base_dn);
    let dn = guest.add_user("grace", "100", Some("cobol"), "");
    let group = guest.add_group("staff", &[&dn]);
    assert!(guest.can_bind(&dn, "cobol"));
    assert!(host.entry(&group).is_some());

    let subtree = guest.base_dn.clone();
    drop(guest);
    assert!(host.entry(&subtree).is_none(), "subtree deleted on drop");
    assert!(host.entry(&host.people_dn).is_some(), "host untouched");
}

#[test]
fn seeded_entries_are_in_the_subtree_without_member_of() {
    let dir = TestDirectory::start_seeded("seeded", |t| {
        let mut ldif = String::new();
        for i in 0..2000 {
            ldif.push_str(&format!(
                "dn: uid=user{i},{people}\nobjectClass: inetOrgPerson\nuid: user{i}\ncn: User {i}\n\
                 sn: {i}\nemployeeNumber: {i}\nuserPassword: pw{i}\n\n",
                people = t.people_dn
            ));
        }
        ldif.push_str(&format!(
            "dn: cn=all,{}\nobjectClass: groupOfNames\ncn: all\nmember: uid=user0,{}\n",
            t.groups_dn, t.people_dn
        ));
        ldif
    });
    let users = dir.search(&dir.people_dn, "(objectClass=inetOrgPerson)", &["uid"]);
    assert_eq!(users.len(), 2000, "all seeded users, past any page size");
    let user0 = format!("uid=user0,{}", dir.people_dn);
    assert!(dir.can_bind(&user0, "pw0"));
    assert_eq!(
        dir.group_members(&format!("cn=all,{}", dir.groups_dn)),
        [user0.to_lowercase()].into()
    );
    // DESIGN.md: entries loaded with slapadd carry no memberOf, even with the overlay loaded.
    // (On an external server the seed goes through ldapadd, and the overlay sets memberOf.)
    if std::env::var_os("HRSYNC_TEST_LDAP_URL").is_none() {
        let user = dir.search(&dir.people_dn, "(uid=user0)", &["memberOf"]);
        assert!(!user[0].has("memberOf"), "{user:?}");
    }
}

#[test]
fn start_slapd_script_prints_sourcable_settings_and_loads_seed_files() {
    // The demo drives the script directly, with a seed file and (here) an awkward password.
    let dir = tempfile::tempdir().expect("temp dir");
    let slapd_dir = dir.path().join("slapd");
    let password = "it's a \"secret\" $HOME";
    let seed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/demo/directory.ldif");
    let out = std::process::Command::new("bash")
        .arg(support::scripts_dir().join("start-slapd.sh"))
        .arg(&slapd_dir)
        .env("SEED_LDIF", &seed)
        .env("ADMIN_PASSWORD", password)
        // Should an assertion below fail before stop(), slapd still ends with this process.
        .env("WATCH_PID", std::process::id().to_string())
        .output()
        .expect("run start-slapd.sh");
    let stop = || {
        let stopped = std::process::Command::new("bash")
            .arg(support::scripts_dir().join("stop-slapd.sh"))
            .arg(&slapd_dir)
            .status()
            .expect("run stop-slapd.sh");
        assert!(stopped.success());
    };
    assert!(out.status.success(), "{out:?}");
    let settings = dir.path().join("slapd.env");
    std::fs::write(&settings, &out.stdout).expect("write settings");

    // What a shell sees after `source`, one value per line.
    let keys = [
        "LDAP_URL",
        "LDAPS_URL",
        "PORT",
        "LDAPS_PORT",
        "BASE_DN",
        "ADMIN_DN",
        "ADMIN_PASSWORD",
        "CA_FILE",
        "PID_FILE",
        "LOG_FILE",
        "CONF_FILE",
    ];
    let script = format!(
        "set -eu; source \"$1\"; printf '%s\\n' {}",
        keys.map(|k| format!("\"${k}\"")).join(" ")
    );
    let sourced = std::process::Command::new("bash")
        .args(["-c", &script, "bash"])
        .arg(&settings)
        .output()
        .expect("source settings");
    assert!(sourced.status.success(), "{sourced:?}");
    let text = String::from_utf8_lossy(&sourced.stdout).into_owned();
    let values: std::collections::BTreeMap<&str, &str> =
        keys.into_iter().zip(text.lines()).collect();
    assert_eq!(values["ADMIN_PASSWORD"], password);
    assert_eq!(values["BASE_DN"], "dc=example,dc=org");
    assert_eq!(values["ADMIN_DN"], "cn=admin,dc=example,dc=org");
    assert!(values["LDAP_URL"].starts_with("ldap://127.0.0.1:"));
    assert!(values["LDAPS_URL"].starts_with("ldaps://127.0.0.1:"));
    let pid = std::fs::read_to_string(values["PID_FILE"]).expect("pidfile");
    let proc_dir = format!("/proc/{}", pid.trim());
    assert!(std::path::Path::new(&proc_dir).exists());

    // The demo directory: nine employees (one locked), a service account, six groups.
    let search = |filter: &str, attr: &str| {
        let out = std::process::Command::new("ldapsearch")
            .args(["-x", "-LLL", "-o", "ldif-wrap=no", "-H", values["LDAP_URL"]])
            .args([
                "-D",
                values["ADMIN_DN"],
                "-w",
                password,
                "-b",
                values["BASE_DN"],
            ])
            .args([filter, attr])
            .output()
            .expect("ldapsearch");
        assert!(out.status.success(), "{out:?}");
        parse_ldif(&String::from_utf8_lossy(&out.stdout))
    };
    assert_eq!(search("(employeeNumber=*)", "employeeNumber").len(), 9);
    assert_eq!(search("(objectClass=groupOfNames)", "cn").len(), 6);
    let locked = search("(pwdAccountLockedTime=*)", "uid");
    assert_eq!(locked.len(), 1);
    assert_eq!(locked[0].first("uid"), Some("ken.thompson"));

    stop();
    assert!(!std::path::Path::new(values["PID_FILE"]).exists());
    let gone = !std::path::Path::new(&proc_dir).exists()
        || std::fs::read_to_string(format!("{proc_dir}/status")).is_ok_and(|s| {
            s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        });
    assert!(gone, "slapd still running after stop-slapd.sh");
    stop(); // idempotent
}
