//! Tests of the 389 Directory Server test harness itself (tests/389ds, tests/support/ds389.rs):
//! the facts about 389-DS that the connector's 389 tests rely on, proved against a real server.
//!
//! Needs root and 389-ds-base (tests/389ds/install-deps.sh). Instances are shared per binary:
//! the plain one by most tests here, the MemberOf and referential integrity ones only by the
//! test that needs each.

#[path = "support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;

use support::TestDirectory;
use support::ds389::{Plugins, bind_result, directory, instance, run_tool};

const PASSWORD: &str = "Corr3ct-Horse!";

fn modify(dir: &TestDirectory, ldif: &str) {
    let out = dir.ldapmodify(ldif);
    assert!(out.status.success(), "ldapmodify failed: {out:?}\n{ldif}");
}

/// An ldapsearch of the suffix entry as the Directory Manager at `url`, verifying the server's
/// certificate strictly against `ca` (`-ZZ`: StartTLS, and fail if it cannot be had).
fn tls_search(url: &str, start_tls: bool, ca: &Path) -> std::process::Output {
    let inst = instance(Plugins::None);
    let mut command = Command::new("ldapsearch");
    command
        .args(["-x", "-LLL", "-H", url, "-o", "nettimeout=10"])
        .args(["-D", &inst.admin_dn, "-w", &inst.admin_password])
        .args(["-s", "base", "-b", &inst.base_dn, "(objectClass=*)", "dn"])
        .env("LDAPTLS_REQCERT", "demand")
        .env("LDAPTLS_CACERT", ca);
    if start_tls {
        command.arg("-ZZ");
    }
    command.output().expect("run ldapsearch")
}

#[test]
fn starttls_and_ldaps_verify_strictly_for_127_0_0_1_and_only_loopback_listens() {
    let inst = instance(Plugins::None);
    assert_eq!(inst.url, format!("ldap://127.0.0.1:{}", inst.port));
    assert_eq!(
        inst.ldaps_url,
        format!("ldaps://127.0.0.1:{}", inst.ldaps_port)
    );

    for (url, start_tls) in [(&inst.url, true), (&inst.ldaps_url, false)] {
        let out = tls_search(url, start_tls, &inst.ca_file);
        assert!(out.status.success(), "{url} with our CA: {out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("dn: dc=example,dc=org"));

        // The system's CAs do not know ours: verification must fail, or it is not strict.
        let system = Path::new("/etc/ssl/certs/ca-certificates.crt");
        let out = tls_search(url, start_tls, system);
        assert!(
            !out.status.success(),
            "{url} must fail without our CA, or verification is not strict: {out:?}"
        );
    }

    // 389 listens on every interface unless told otherwise (nsslapd-listenhost and, for the
    // LDAPS port, nsslapd-securelistenhost).
    let out = Command::new("ss").args(["-ltnH"]).output().expect("run ss");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    for port in [inst.port, inst.ldaps_port] {
        let suffix = format!(":{port}");
        let locals: Vec<&str> = text
            .lines()
            .filter_map(|line| line.split_whitespace().nth(3))
            .filter(|local| local.ends_with(&suffix))
            .collect();
        assert_eq!(
            locals,
            vec![format!("127.0.0.1:{port}")],
            "port {port} must be bound on 127.0.0.1 only:\n{text}"
        );
    }
}

#[test]
fn ns_account_lock_true_refuses_binds_with_53_whatever_the_password_until_removed() {
    let inst = instance(Plugins::None);
    let dir = directory("nsaccountlock", Plugins::None);
    let dn = dir.add_user("ada", "101", Some(PASSWORD), "");
    assert_eq!(bind_result(&dir, &dn, PASSWORD), 0);
    assert_eq!(bind_result(&dir, &dn, "wrong"), 49);

    modify(
        &dir,
        &format!("dn: {dn}\nchangetype: modify\nadd: nsAccountLock\nnsAccountLock: true\n"),
    );
    assert_eq!(bind_result(&dir, &dn, PASSWORD), 53, "right password");
    assert_eq!(bind_result(&dir, &dn, "wrong"), 53, "wrong password");
    let status = run_tool({
        let mut c = inst.dsidm();
        c.args(["account", "entry-status", &dn]);
        c
    });
    assert!(
        status.contains("directly locked through nsAccountLock"),
        "dsidm account entry-status: {status}"
    );

    modify(
        &dir,
        &format!("dn: {dn}\nchangetype: modify\ndelete: nsAccountLock\n"),
    );
    assert_eq!(bind_result(&dir, &dn, PASSWORD), 0);
    let status = run_tool({
        let mut c = inst.dsidm();
        c.args(["account", "entry-status", &dn]);
        c
    });
    assert!(status.contains("Entry State: activated"), "{status}");
}

#[test]
fn a_locked_managed_role_inactivates_its_members_through_a_virtual_ns_account_lock() {
    let inst = instance(Plugins::None);
    let dir = directory("rolelock", Plugins::None);
    let role = format!("cn=leavers,{}", dir.base_dn);
    dir.ldapadd(&format!(
        "dn: {role}\nobjectClass: top\nobjectClass: LDAPsubentry\nobjectClass: nsRoleDefinition\n\
         objectClass: nsSimpleRoleDefinition\nobjectClass: nsManagedRoleDefinition\ncn: leavers\n"
    ));
    let dn = dir.add_user("bob", "102", Some(PASSWORD), &format!("nsRoleDN: {role}"));
    assert_eq!(
        bind_result(&dir, &dn, PASSWORD),
        0,
        "a role alone locks nothing"
    );

    run_tool({
        let mut c = inst.dsidm();
        c.args(["role", "lock", &role]);
        c
    });
    assert_eq!(bind_result(&dir, &dn, PASSWORD), 53);

    let attrs = ["nsAccountLock", "nsRole", "nsRoleDN"];
    let entry = dir
        .search(&dn, "(objectClass=*)", &attrs)
        .pop()
        .expect("user exists");
    assert_eq!(entry.values("nsAccountLock"), ["true"], "{entry:?}");
    let roles: Vec<String> = entry
        .values("nsRole")
        .iter()
        .map(|r| r.to_lowercase())
        .collect();
    assert!(
        roles.contains(&"cn=nsdisabledrole,dc=example,dc=org".to_string()),
        "{entry:?}"
    );
    assert!(roles.contains(&role.to_lowercase()), "{entry:?}");

    // The real-attributes-only control (critical): the lock is computed, not stored, so a
    // client that reads only stored values sees an unlocked user.
    let mut command = dir.admin_command("ldapsearch");
    command
        .args(["-LLL", "-o", "ldif-wrap=no", "-s", "base", "-b", &dn])
        .args(["-e", "!2.16.840.1.113730.3.4.17", "(objectClass=*)"])
        .args(attrs);
    let out = command.output().expect("run ldapsearch");
    assert!(out.status.success(), "{out:?}");
    let real = support::parse_ldif(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(real.len(), 1, "{real:?}");
    assert!(!real[0].has("nsAccountLock"), "{real:?}");
    assert!(!real[0].has("nsRole"), "{real:?}");
    assert_eq!(real[0].values("nsRoleDN"), [role.as_str()], "{real:?}");

    let status = run_tool({
        let mut c = inst.dsidm();
        c.args(["account", "entry-status", &dn]);
        c
    });
    assert!(
        status.contains("indirectly locked through a Role"),
        "{status}"
    );
}

#[test]
fn password_policy_lockout_answers_19_even_to_the_right_password_and_is_not_an_ns_account_lock() {
    let inst = instance(Plugins::None);
    let dir = directory("lockout", Plugins::None);
    // A subtree policy on this test's people only: the global policy stays as it is (lockout
    // off) for the other tests on the shared instance. dsconf also turns on
    // nsslapd-pwpolicy-local in cn=config, which by itself changes nothing.
    run_tool({
        let mut c = inst.dsconf();
        c.args(["localpwp", "addsubtree", &dir.people_dn]).args([
            "--pwdlockout",
            "on",
            "--pwdmaxfailures",
            "2",
        ]);
        c
    });
    let dn = dir.add_user("cy", "103", Some(PASSWORD), "");
    assert_eq!(bind_result(&dir, &dn, PASSWORD), 0);

    assert_eq!(bind_result(&dir, &dn, "wrong"), 49, "first failure");
    assert_eq!(bind_result(&dir, &dn, "wrong"), 49, "second failure");
    assert_eq!(bind_result(&dir, &dn, "wrong"), 19, "locked out");
    assert_eq!(
        bind_result(&dir, &dn, PASSWORD),
        19,
        "right password, locked out"
    );

    let entry = dir
        .search(
            &dn,
            "(objectClass=*)",
            &["accountUnlockTime", "passwordRetryCount", "nsAccountLock"],
        )
        .pop()
        .expect("user exists");
    assert!(entry.has("accountUnlockTime"), "{entry:?}");
    assert_eq!(entry.values("passwordRetryCount"), ["2"], "{entry:?}");
    assert!(!entry.has("nsAccountLock"), "{entry:?}");

    // What a connector that "unlocks" by removing nsAccountLock would do: there is none (16,
    // no such attribute), and the lockout stays.
    let out = dir.ldapmodify(&format!(
        "dn: {dn}\nchangetype: modify\ndelete: nsAccountLock\n"
    ));
    assert_eq!(out.status.code(), Some(16), "{out:?}");
    assert_eq!(bind_result(&dir, &dn, PASSWORD), 19);

    // dsidm's account status knows only nsAccountLock and roles: a locked-out user is
    // "activated" to it.
    let status = run_tool({
        let mut c = inst.dsidm();
        c.args(["account", "entry-status", &dn]);
        c
    });
    assert!(status.contains("Entry State: activated"), "{status}");

    // The global policy is untouched.
    let global = dir
        .search("cn=config", "(objectClass=*)", &["passwordLockout"])
        .into_iter()
        .find(|e| e.dn.eq_ignore_ascii_case("cn=config"))
        .expect("cn=config");
    assert_eq!(global.values("passwordLockout"), ["off"], "{global:?}");
}

#[test]
fn a_group_of_names_may_lose_its_last_member() {
    let dir = directory("emptygroup", Plugins::None);
    let ada = dir.add_user("ada", "101", None, "");
    let group = dir.add_group("staff", &[&ada]);
    modify(
        &dir,
        &format!("dn: {group}\nchangetype: modify\ndelete: member\nmember: {ada}\n"),
    );
    assert!(dir.group_members(&group).is_empty());
    assert!(dir.entry(&group).is_some(), "the group itself stays");
}

/// Moves ada (a member of a group) to ou=disabled with a modrdn and returns the group's members
/// afterwards, with ada's old and new DNs.
fn members_after_move(plugins: Plugins) -> (Vec<String>, String, String) {
    let dir = directory("rename", plugins);
    let ada = dir.add_user("ada", "101", None, "");
    let bob = dir.add_user("bob", "102", None, "");
    let group = dir.add_group("staff", &[&ada, &bob]);
    modify(
        &dir,
        &format!(
            "dn: {ada}\nchangetype: modrdn\nnewrdn: uid=ada\ndeleteoldrdn: 1\n\
             newsuperior: {}\n",
            dir.disabled_dn
        ),
    );
    let moved = format!("uid=ada,{}", dir.disabled_dn);
    assert!(dir.entry(&moved).is_some(), "ada moved");
    if plugins == Plugins::MemberOf {
        let entry = dir.entry(&moved).expect("ada");
        assert_eq!(
            entry
                .values("memberOf")
                .iter()
                .map(|v| v.to_lowercase())
                .collect::<Vec<_>>(),
            [group.to_lowercase()],
            "{entry:?}"
        );
    }
    let members = dir.group_members(&group).into_iter().collect();
    (members, ada.to_lowercase(), moved.to_lowercase())
}

#[test]
fn without_plugins_a_members_move_leaves_the_old_dn_in_member() {
    let (members, old, new) = members_after_move(Plugins::None);
    assert!(members.contains(&old), "{members:?}");
    assert!(!members.contains(&new), "{members:?}");
}

#[test]
fn the_memberof_plugin_rewrites_member_when_a_member_moves() {
    let (members, old, new) = members_after_move(Plugins::MemberOf);
    assert!(members.contains(&new), "{members:?}");
    assert!(!members.contains(&old), "{members:?}");
}

#[test]
fn the_referential_integrity_plugin_rewrites_member_when_a_member_moves() {
    let (members, old, new) = members_after_move(Plugins::Refint);
    assert!(members.contains(&new), "{members:?}");
    assert!(!members.contains(&old), "{members:?}");
}

#[test]
fn the_root_dse_names_the_389_project() {
    let dir = directory("rootdse", Plugins::None);
    let mut command = dir.command("ldapsearch");
    command
        .args(["-LLL", "-o", "ldif-wrap=no", "-s", "base", "-b", ""])
        .args(["(objectClass=*)", "vendorName", "vendorVersion"]);
    let out = command.output().expect("run ldapsearch");
    assert!(out.status.success(), "{out:?}");
    let root = support::parse_ldif(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(root.len(), 1, "{root:?}");
    assert_eq!(root[0].first("vendorName"), Some("389 Project"));
    let version = root[0].first("vendorVersion").unwrap_or_default();
    assert!(version.starts_with("389-Directory/"), "{version}");
}

#[test]
fn dropping_a_directory_deletes_its_subtree_with_roles_and_password_policies() {
    let inst = instance(Plugins::None);
    let dir = directory("cleanup", Plugins::None);
    let base = dir.base_dn.clone();
    dir.ldapadd(&format!(
        "dn: cn=leavers,{base}\nobjectClass: top\nobjectClass: LDAPsubentry\n\
         objectClass: nsRoleDefinition\nobjectClass: nsSimpleRoleDefinition\n\
         objectClass: nsManagedRoleDefinition\ncn: leavers\n"
    ));
    run_tool({
        let mut c = inst.dsconf();
        c.args(["localpwp", "addsubtree", &dir.people_dn])
            .args(["--pwdlockout", "on"]);
        c
    });
    dir.add_user("ada", "101", Some(PASSWORD), "");
    let probe = directory("cleanup-probe", Plugins::None);
    // 389 returns LDAP subentries only to a filter that asks for them.
    let everything = "(|(objectClass=*)(objectClass=ldapSubEntry))";
    assert!(probe.search(&base, everything, &["1.1"]).len() >= 8);
    drop(dir);
    assert_eq!(probe.search(&base, everything, &["1.1"]), Vec::new());
}
