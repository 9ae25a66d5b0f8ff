//! Test harness: a real OpenLDAP directory per test.
//!
//! [`TestDirectory::start`] gives each test its own subtree `ou=<name>-<unique>,<base>` with
//! `ou=people`, `ou=groups` and `ou=disabled` under it, on either
//!
//! - a fresh slapd started by `tests/slapd/start-slapd.sh` in a temp dir on free loopback ports
//!   (stopped and removed on drop; the script also stops it if the test process dies), or
//! - an already-running server named by `HRSYNC_TEST_LDAP_URL` (see [`ExternalServer`]), where
//!   the subtree is deleted again on drop.
//!
//! Both paths work the same way (the fresh server's subtree also lives under
//! `dc=example,dc=org`), so a test that passes on one passes on the other.
//! [`TestDirectory::start_seeded`] preloads bulk data (slapadd on our own slapd) for scale tests.
//!
//! The fresh slapd has the memberof and ppolicy overlays, a default password policy (so
//! `pwdAccountLockedTime` locks accounts), LDAPS and StartTLS with a certificate for
//! `IP:127.0.0.1` signed by [`TestDirectory::ca_file`], and logs every operation to
//! [`TestDirectory::log_file`], whose tail is printed when a test fails.
//!
//! All directory access goes through the OpenLDAP command-line tools (`ldapadd`, `ldapsearch`,
//! ...) rather than the crate's own LDAP code: the harness must observe the directory
//! independently of the code under test. Values are passed as argument vectors or on stdin,
//! never through a shell.
//!
//! Everything here panics on failure, with the tool's stderr: these are test helpers, and a
//! failed setup step must stop the test loudly, never let it pass vacuously.

// Each test binary uses a different subset of the helpers.
#![allow(dead_code)]
// Panicking with a clear message is this module's error handling (see above); the crate denies
// `clippy::panic` for library code, which this is not.
#![allow(clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub mod ds389;
pub mod samba;

/// Attempts at starting slapd before giving up. The script already retries port clashes
/// itself; this covers anything else transient (e.g. a fork failure under heavy load).
const START_ATTEMPTS: usize = 3;

/// Network timeout (seconds) for every ldap-utils call, so a wedged server fails a test instead
/// of hanging it.
const NET_TIMEOUT_SECS: &str = "10";

/// The suffix of our own slapd (tests/slapd/start-slapd.sh).
const OWN_SUFFIX: &str = "dc=example,dc=org";

/// One LDAP entry as `ldapsearch` returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The DN exactly as the server wrote it.
    pub dn: String,
    /// Attribute name (lowercased, options such as `;range=0-99` kept) to values in server order.
    pub attrs: BTreeMap<String, Vec<String>>,
}

impl Entry {
    /// All values of `attr` (case-insensitive); empty when absent.
    pub fn values(&self, attr: &str) -> &[String] {
        self.attrs
            .get(&attr.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The first value of `attr`, if any.
    pub fn first(&self, attr: &str) -> Option<&str> {
        self.values(attr).first().map(String::as_str)
    }

    /// Whether `attr` has at least one value.
    pub fn has(&self, attr: &str) -> bool {
        !self.values(attr).is_empty()
    }
}

/// An already-running LDAP server to test against instead of a fresh slapd.
///
/// The server must have the ppolicy overlay with a *default* policy (`ppolicy_default`) that
/// applies to the whole base, otherwise `pwdAccountLockedTime` is stored but ignored and the
/// lockout assertions fail; it must allow `groupOfNames`/`inetOrgPerson` (core, cosine,
/// inetorgperson schemas), and the bind DN must be allowed to create and delete subtrees under
/// the base DN.
#[derive(Debug, Clone)]
pub struct ExternalServer {
    pub url: String,
    pub ldaps_url: Option<String>,
    pub bind_dn: String,
    pub bind_password: String,
    /// Where the per-test subtrees are created, e.g. `dc=example,dc=org`.
    pub base_dn: String,
    pub ca_file: Option<PathBuf>,
}

impl ExternalServer {
    /// Reads `HRSYNC_TEST_LDAP_URL` (unset: `None`), `HRSYNC_TEST_LDAP_BIND_DN`,
    /// `HRSYNC_TEST_LDAP_BIND_PASSWORD`, `HRSYNC_TEST_LDAP_BASE_DN` (all three required then),
    /// and the optional `HRSYNC_TEST_LDAP_CA_FILE` and `HRSYNC_TEST_LDAPS_URL` (an `ldaps://`
    /// URL of the same server; implied when `HRSYNC_TEST_LDAP_URL` is itself `ldaps://`).
    pub fn from_env() -> Option<ExternalServer> {
        let url = std::env::var("HRSYNC_TEST_LDAP_URL")
            .ok()
            .filter(|u| !u.is_empty())?;
        let required = |name: &str| {
            std::env::var(name)
                .unwrap_or_else(|_| panic!("HRSYNC_TEST_LDAP_URL is set, so {name} must be too"))
        };
        let ldaps_url = std::env::var("HRSYNC_TEST_LDAPS_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .or_else(|| url.starts_with("ldaps://").then(|| url.clone()));
        Some(ExternalServer {
            bind_dn: required("HRSYNC_TEST_LDAP_BIND_DN"),
            bind_password: required("HRSYNC_TEST_LDAP_BIND_PASSWORD"),
            base_dn: required("HRSYNC_TEST_LDAP_BASE_DN"),
            ca_file: std::env::var_os("HRSYNC_TEST_LDAP_CA_FILE")
                .filter(|f| !f.is_empty())
                .map(PathBuf::from),
            ldaps_url,
            url,
        })
    }
}

/// The DNs of one test's subtree, as [`TestDirectory::start_seeded`] hands them to its seed.
#[derive(Debug, Clone)]
pub struct Subtree {
    /// `ou=<name>-<unique>,<server base>`.
    pub base_dn: String,
    pub people_dn: String,
    pub groups_dn: String,
    pub disabled_dn: String,
}

impl Subtree {
    fn new(server_base_dn: &str, name: &str) -> Subtree {
        let ou = unique_ou(name);
        let base_dn = format!("ou={ou},{server_base_dn}");
        Subtree {
            people_dn: format!("ou=people,{base_dn}"),
            groups_dn: format!("ou=groups,{base_dn}"),
            disabled_dn: format!("ou=disabled,{base_dn}"),
            base_dn,
        }
    }

    /// The four organizational units, parents first.
    fn ldif(&self) -> String {
        [
            &self.base_dn,
            &self.people_dn,
            &self.groups_dn,
            &self.disabled_dn,
        ]
        .map(|dn| {
            let value = dn
                .split(',')
                .next()
                .and_then(|rdn| rdn.strip_prefix("ou="))
                .unwrap_or_else(|| panic!("not an ou= DN: {dn}"));
            format!("dn: {dn}\nobjectClass: organizationalUnit\nou: {value}\n")
        })
        .join("\n")
    }
}

/// What to clean up on drop.
enum Server {
    /// Our own slapd, living in this temp dir, on these ports (kept across restarts).
    Own {
        dir: tempfile::TempDir,
        port: String,
        ldaps_port: String,
    },
    /// Someone else's server: only our subtree is ours to delete.
    External,
}

/// A directory subtree that belongs to one test. See the module docs.
pub struct TestDirectory {
    /// `ldap://` URL (for an external server: whatever `HRSYNC_TEST_LDAP_URL` says).
    pub url: String,
    /// `ldaps://` URL of the same server, when it has one (always, for our own slapd).
    pub ldaps_url: Option<String>,
    /// The subtree this test owns: `ou=<name>-<unique>,<server_base_dn>`.
    pub base_dn: String,
    pub people_dn: String,
    pub groups_dn: String,
    pub disabled_dn: String,
    /// The server's base (`dc=example,dc=org` for our own slapd). Shared with other tests on
    /// an external server: never write outside `base_dn`.
    pub server_base_dn: String,
    pub admin_dn: String,
    pub admin_password: String,
    /// CA certificate that verifies the server's TLS certificate (SAN `IP:127.0.0.1`,
    /// `DNS:localhost` for our own slapd).
    pub ca_file: Option<PathBuf>,
    /// slapd's log (one line per operation), for our own slapd. Printed on a failing test.
    pub log_file: Option<PathBuf>,
    server: Server,
}

impl TestDirectory {
    /// A fresh subtree named after `name` (use the test's name), on an external server when
    /// `HRSYNC_TEST_LDAP_URL` is set, otherwise on a new slapd of its own.
    pub fn start(name: &str) -> TestDirectory {
        TestDirectory::start_seeded(name, |_| String::new())
    }

    /// Like [`TestDirectory::start`], with bulk data: `seed` gets the new subtree's DNs and
    /// returns LDIF entries (plain entries, no change records) to put in it. On our own slapd
    /// they are loaded with `slapadd -q` before the server starts, which is the only fast way
    /// to get 100k entries in (about 1 s); on an external server they go through ldapadd.
    ///
    /// slapadd bypasses the overlays, as a restore does in production: seeded users carry no
    /// `memberOf`, and a seeded `userPassword` is stored exactly as written.
    pub fn start_seeded(name: &str, seed: impl FnOnce(&Subtree) -> String) -> TestDirectory {
        match ExternalServer::from_env() {
            Some(server) => TestDirectory::start_on_seeded(server, name, seed),
            None => TestDirectory::start_own_seeded(name, seed),
        }
    }

    /// A fresh subtree on the given already-running server; the subtree is deleted on drop.
    pub fn start_on(server: ExternalServer, name: &str) -> TestDirectory {
        TestDirectory::start_on_seeded(server, name, |_| String::new())
    }

    fn start_on_seeded(
        server: ExternalServer,
        name: &str,
        seed: impl FnOnce(&Subtree) -> String,
    ) -> TestDirectory {
        let subtree = Subtree::new(&server.base_dn, name);
        let dir = TestDirectory::new(
            server.url,
            server.ldaps_url,
            server.base_dn,
            server.bind_dn,
            server.bind_password,
            server.ca_file,
            None,
            Server::External,
            &subtree,
        );
        dir.ldapadd(&subtree.ldif());
        let seed = seed(&subtree);
        if !seed.trim().is_empty() {
            dir.ldapadd(&seed);
        }
        dir
    }

    /// A new slapd of its own (see tests/slapd/start-slapd.sh) with a fresh subtree.
    pub fn start_own(name: &str) -> TestDirectory {
        TestDirectory::start_own_seeded(name, |_| String::new())
    }

    fn start_own_seeded(name: &str, seed: impl FnOnce(&Subtree) -> String) -> TestDirectory {
        let script = scripts_dir().join("start-slapd.sh");
        // Same layout as on an external server: the test's subtree below the suffix.
        let subtree = Subtree::new(OWN_SUFFIX, name);
        let seed = format!("{}\n{}", subtree.ldif(), seed(&subtree));
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix("hrsync-slapd-")
                .tempdir()
                .expect("cannot create a temp dir for slapd");
            let seed_file = dir.path().join("seed.ldif");
            std::fs::write(&seed_file, &seed).expect("cannot write the seed LDIF");
            let output = Command::new("bash")
                .arg(&script)
                .arg(dir.path())
                // The script splits SEED_LDIF on spaces; a temp dir path has none in practice.
                .env("SEED_LDIF", &seed_file)
                // The script stops slapd once this process is gone, even after a SIGKILL.
                .env("WATCH_PID", std::process::id().to_string())
                .env("WATCH_CLEANUP", "1")
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| panic!("cannot run bash {}: {e}", script.display()));
            if !output.status.success() {
                failures.push(String::from_utf8_lossy(&output.stderr).into_owned());
                continue;
            }
            let vars = parse_shell_assignments(&String::from_utf8_lossy(&output.stdout));
            let var = |key: &str| {
                vars.get(key).cloned().unwrap_or_else(|| {
                    panic!("start-slapd.sh printed no {key}; it printed: {vars:?}")
                })
            };
            assert_eq!(
                var("BASE_DN"),
                OWN_SUFFIX,
                "start-slapd.sh changed its suffix"
            );
            return TestDirectory::new(
                var("LDAP_URL"),
                Some(var("LDAPS_URL")),
                var("BASE_DN"),
                var("ADMIN_DN"),
                var("ADMIN_PASSWORD"),
                Some(PathBuf::from(var("CA_FILE"))),
                Some(PathBuf::from(var("LOG_FILE"))),
                Server::Own {
                    dir,
                    port: var("PORT"),
                    ldaps_port: var("LDAPS_PORT"),
                },
                &subtree,
            );
        }
        panic!(
            "could not start slapd ({START_ATTEMPTS} attempts; is slapd installed? \
             tests/slapd/install-deps.sh installs it):\n{}",
            failures.join("\n---\n")
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        url: String,
        ldaps_url: Option<String>,
        server_base_dn: String,
        admin_dn: String,
        admin_password: String,
        ca_file: Option<PathBuf>,
        log_file: Option<PathBuf>,
        server: Server,
        subtree: &Subtree,
    ) -> TestDirectory {
        TestDirectory {
            url,
            ldaps_url,
            base_dn: subtree.base_dn.clone(),
            people_dn: subtree.people_dn.clone(),
            groups_dn: subtree.groups_dn.clone(),
            disabled_dn: subtree.disabled_dn.clone(),
            server_base_dn,
            admin_dn,
            admin_password,
            ca_file,
            log_file,
            server,
        }
    }

    /// Adds the entries of `ldif` (plain entries or change records) as the admin; panics with
    /// ldapadd's output on failure.
    pub fn ldapadd(&self, ldif: &str) {
        let output = run_with_stdin(self.admin_command("ldapadd"), ldif);
        if !output.status.success() {
            panic!(
                "ldapadd failed ({}):\n{}\nLDIF was:\n{ldif}",
                output.status,
                output_text(&output)
            );
        }
    }

    /// Runs `ldapmodify` with `ldif` (change records) as the admin and returns its output
    /// without judging it: tests assert on `status.code()` (the LDAP result code, e.g. 65).
    pub fn ldapmodify(&self, ldif: &str) -> Output {
        run_with_stdin(self.admin_command("ldapmodify"), ldif)
    }

    /// Subtree search as the admin. A missing base gives no entries; any other error panics.
    /// `attrs` empty means all user attributes.
    pub fn search(&self, base: &str, filter: &str, attrs: &[&str]) -> Vec<Entry> {
        self.search_scoped(base, "sub", filter, attrs)
    }

    /// One entry with all user attributes plus `pwdAccountLockedTime` (operational, so not
    /// in `*`), or `None` if it does not exist.
    pub fn entry(&self, dn: &str) -> Option<Entry> {
        let mut entries = self.search_scoped(
            dn,
            "base",
            "(objectClass=*)",
            &["*", "pwdAccountLockedTime"],
        );
        assert!(
            entries.len() <= 1,
            "base search of {dn} returned {entries:?}"
        );
        entries.pop()
    }

    /// Whether `dn` can really bind with `password` (a simple bind by `ldapwhoami`).
    ///
    /// `false` only for "invalid credentials" (49), which is also what ppolicy answers for a
    /// locked account; anything else (server down, no such DN on some servers) panics so a
    /// "cannot bind" assertion never passes by accident.
    pub fn can_bind(&self, dn: &str, password: &str) -> bool {
        // An empty password is an *unauthenticated* bind (RFC 4513 5.1.2), which succeeds for
        // any DN: it proves nothing, so refuse to answer.
        assert!(
            !password.is_empty(),
            "can_bind({dn}) with an empty password would be an anonymous bind"
        );
        let mut command = self.command("ldapwhoami");
        command.arg("-D").arg(dn).arg("-w").arg(password);
        let output = run(command);
        match output.status.code() {
            Some(0) => true,
            Some(49) => false,
            _ => panic!(
                "ldapwhoami as {dn} failed unexpectedly ({}):\n{}",
                output.status,
                output_text(&output)
            ),
        }
    }

    /// The LDAP result code of a simple bind as `dn` with `password` (by `ldapwhoami`): 0
    /// success, 49 invalid credentials, and whatever else the server answers, e.g. 389-DS's 53
    /// (unwilling to perform: "Account inactivated") for an `nsAccountLock`ed entry or 19
    /// (constraint violation: "Exceed password retry limit") for a locked-out one, where
    /// [`TestDirectory::can_bind`] would panic. Panics when there is no LDAP result at all
    /// (server unreachable, TLS failure: libldap's negative codes, which the tool exits with as
    /// 128 and up), so a "cannot bind" assertion never passes because the server is down.
    pub fn bind_result(&self, dn: &str, password: &str) -> i32 {
        // An empty password is an *unauthenticated* bind (RFC 4513 5.1.2): it proves nothing.
        assert!(
            !password.is_empty(),
            "bind_result({dn}) with an empty password would be an anonymous bind"
        );
        let mut command = self.command("ldapwhoami");
        command.arg("-D").arg(dn).arg("-w").arg(password);
        let output = run(command);
        match output.status.code() {
            Some(code) if (0..128).contains(&code) => code,
            _ => panic!(
                "ldapwhoami as {dn} got no LDAP result ({}):\n{}",
                output.status,
                output_text(&output)
            ),
        }
    }

    /// The group's `member` values, lowercased. Panics if the group does not exist, so that an
    /// "X is not a member" assertion cannot pass because the group is gone.
    pub fn group_members(&self, group_dn: &str) -> BTreeSet<String> {
        let entries = self.search_scoped(group_dn, "base", "(objectClass=*)", &["member"]);
        let group = entries
            .first()
            .unwrap_or_else(|| panic!("group {group_dn} does not exist"));
        group
            .values("member")
            .iter()
            .map(|m| m.to_lowercase())
            .collect()
    }

    /// Adds `uid=<uid>,<people_dn>` as an `inetOrgPerson` with `employeeNumber`, an optional
    /// `userPassword` and the given extra LDIF lines (`attr: value` per line). `cn` and `sn`
    /// default to the uid unless the extra lines set them. Returns the DN.
    ///
    /// Everything is written into the DN and the LDIF verbatim, unescaped: use plain values, or
    /// `attr:: <base64>` extra lines for values that LDIF cannot carry as they are.
    pub fn add_user(
        &self,
        uid: &str,
        employee_number: &str,
        password: Option<&str>,
        extra_ldif_lines: &str,
    ) -> String {
        let dn = format!("uid={uid},{}", self.people_dn);
        let extra: Vec<&str> = extra_ldif_lines
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let sets = |attr: &str| {
            extra.iter().any(|line| {
                line.split_once(':')
                    .is_some_and(|(name, _)| name.eq_ignore_ascii_case(attr))
            })
        };
        let mut ldif = format!(
            "dn: {dn}\nobjectClass: inetOrgPerson\nuid: {uid}\nemployeeNumber: {employee_number}\n"
        );
        for attr in ["cn", "sn"] {
            if !sets(attr) {
                ldif.push_str(&format!("{attr}: {uid}\n"));
            }
        }
        if let Some(password) = password {
            ldif.push_str(&format!("userPassword: {password}\n"));
        }
        for line in extra {
            ldif.push_str(line);
            ldif.push('\n');
        }
        self.ldapadd(&ldif);
        dn
    }

    /// Adds `cn=<cn>,<groups_dn>` as a `groupOfNames` with these member DNs. `groupOfNames`
    /// requires at least one member, so an empty list panics here rather than in ldapadd.
    pub fn add_group(&self, cn: &str, members: &[&str]) -> String {
        assert!(
            !members.is_empty(),
            "add_group({cn}): groupOfNames needs at least one member"
        );
        let dn = format!("cn={cn},{}", self.groups_dn);
        let mut ldif = format!("dn: {dn}\nobjectClass: groupOfNames\ncn: {cn}\n");
        for member in members {
            ldif.push_str(&format!("member: {member}\n"));
        }
        self.ldapadd(&ldif);
        dn
    }

    /// An ldap-utils command pointed at this server (no bind yet), with TLS verification
    /// against our CA, for tests that need a tool or option the helpers do not cover.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .arg("-x")
            .arg("-H")
            .arg(&self.url)
            .arg("-o")
            .arg(format!("nettimeout={NET_TIMEOUT_SECS}"))
            .stdin(Stdio::null());
        if let Some(ca) = &self.ca_file {
            command
                .env("LDAPTLS_CACERT", ca)
                .env("LDAPTLS_REQCERT", "demand");
        }
        command
    }

    /// Like [`TestDirectory::command`], bound as the admin.
    pub fn admin_command(&self, program: &str) -> Command {
        let mut command = self.command(program);
        command
            .arg("-D")
            .arg(&self.admin_dn)
            .arg("-w")
            .arg(&self.admin_password);
        command
    }

    /// Stops our own slapd (SIGTERM, as an admin or a crash of the host would), keeping its
    /// data, configuration and ports for [`TestDirectory::restart`]. Panics on an external
    /// server, which is not ours to stop.
    pub fn stop(&self) {
        let dir = self.own_dir("stop");
        let output = Command::new("bash")
            .arg(scripts_dir().join("stop-slapd.sh"))
            .arg(dir)
            .stdin(Stdio::null())
            .output()
            .expect("cannot run stop-slapd.sh");
        assert!(
            output.status.success(),
            "stop-slapd.sh failed: {}",
            output_text(&output)
        );
    }

    /// Starts our own slapd again after [`TestDirectory::stop`]: same data, same slapd.conf
    /// (with any edit made in between), same ports, so clients reach it at the same URLs.
    pub fn restart(&self) {
        let Server::Own {
            dir,
            port,
            ldaps_port,
        } = &self.server
        else {
            panic!("restart: only our own slapd can be restarted");
        };
        // The port may still be held for a moment by the old process' sockets.
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let output = Command::new("bash")
                .arg(scripts_dir().join("start-slapd.sh"))
                .arg(dir.path())
                .env("RESTART", "1")
                .env("PORT", port)
                .env("LDAPS_PORT", ldaps_port)
                .env("WATCH_PID", std::process::id().to_string())
                .stdin(Stdio::null())
                .output()
                .expect("cannot run start-slapd.sh");
            if output.status.success() {
                return;
            }
            failures.push(output_text(&output));
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        panic!("could not restart slapd:\n{}", failures.join("\n---\n"));
    }

    /// Stops our own slapd, rewrites its slapd.conf with `edit` (for example to add access
    /// rules or an overlay) and starts it again on the same data and ports.
    pub fn reconfigure(&self, edit: impl FnOnce(String) -> String) {
        let conf = self.own_dir("reconfigure").join("slapd.conf");
        self.stop();
        let text = std::fs::read_to_string(&conf).expect("read slapd.conf");
        std::fs::write(&conf, edit(text)).expect("write slapd.conf");
        self.restart();
    }

    /// Freezes our own slapd (SIGSTOP): its sockets stay open and take requests, but nothing is
    /// answered, as with a hung server. It answers again when the guard is dropped (SIGCONT),
    /// also when the test fails, so the server can be stopped at the end.
    pub fn pause(&self) -> Paused {
        let pid_file = self.own_dir("pause").join("slapd.pid");
        let pid = std::fs::read_to_string(pid_file)
            .expect("read slapd.pid")
            .trim()
            .to_string();
        signal(&pid, "-STOP");
        Paused { pid }
    }

    /// Whether our own slapd is running (its pidfile names a live slapd).
    pub fn is_running(&self) -> bool {
        let pid_file = self.own_dir("is_running").join("slapd.pid");
        std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|pid| std::fs::read_to_string(format!("/proc/{}/comm", pid.trim())).ok())
            .is_some_and(|comm| comm.trim() == "slapd")
    }

    fn own_dir(&self, what: &str) -> &Path {
        match &self.server {
            Server::Own { dir, .. } => dir.path(),
            Server::External => panic!("{what}: only our own slapd can be stopped or changed"),
        }
    }

    /// Deletes the LDAP subentries in our subtree, deepest first, so that `ldapdelete -r` can
    /// delete the rest. 389 Directory Server keeps roles, class-of-service definitions and
    /// password policies in entries of `objectClass: ldapSubEntry`, which it leaves out of
    /// every search whose filter does not ask for that class, so the one-level searches of
    /// `ldapdelete -r` never see them and their parents stay non-leaf (66); and it has no tree
    /// delete control. Servers without that class (slapd) find nothing here. Failures are
    /// reported, not raised: this runs in `drop`.
    fn delete_subentries(&self) {
        let mut search = self.admin_command("ldapsearch");
        search
            .args(["-LLL", "-o", "ldif-wrap=no", "-b", &self.base_dn])
            .args(["(objectClass=ldapSubEntry)", "1.1"]);
        let output = run(search);
        if !output.status.success() {
            return;
        }
        let mut dns: Vec<String> = parse_ldif(&String::from_utf8_lossy(&output.stdout))
            .into_iter()
            .map(|entry| entry.dn)
            .collect();
        // A child's DN is its parent's with an RDN in front: longer.
        dns.sort_by_key(|dn| std::cmp::Reverse(dn.len()));
        for dn in dns {
            let mut delete = self.admin_command("ldapdelete");
            delete.arg(&dn);
            let output = run(delete);
            if !output.status.success() {
                eprintln!("could not delete subentry {dn}: {}", output_text(&output));
            }
        }
    }

    fn search_scoped(&self, base: &str, scope: &str, filter: &str, attrs: &[&str]) -> Vec<Entry> {
        let mut command = self.admin_command("ldapsearch");
        command
            .args(["-LLL", "-o", "ldif-wrap=no"])
            // Paged, so servers with a size limit for non-root admins still return everything.
            .args(["-E", "pr=1000/noprompt"])
            .args(["-s", scope, "-b", base])
            .arg(filter)
            .args(attrs);
        let output = run(command);
        match output.status.code() {
            Some(0) => parse_ldif(&String::from_utf8_lossy(&output.stdout)),
            // noSuchObject: the base does not exist.
            Some(32) => Vec::new(),
            _ => panic!(
                "ldapsearch -b {base} {filter} failed ({}):\n{}",
                output.status,
                output_text(&output)
            ),
        }
    }
}

/// A slapd frozen by [`TestDirectory::pause`]; dropping this lets it run again.
pub struct Paused {
    pid: String,
}

impl Drop for Paused {
    fn drop(&mut self) {
        signal(&self.pid, "-CONT");
    }
}

fn signal(pid: &str, which: &str) {
    // Never panic: this also runs while a failed test unwinds.
    let _ = Command::new("kill").args([which, pid]).status();
}

/// A TCP listener on loopback that accepts every connection and never answers: a directory
/// server that hangs after the TCP handshake. Its URL is `ldap://127.0.0.1:PORT`; the
/// connections are held until the process ends.
pub fn hung_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    format!("ldap://127.0.0.1:{port}")
}

impl Drop for TestDirectory {
    fn drop(&mut self) {
        // Never panic here: a panic while a failed test unwinds aborts the whole test binary.
        if let (true, Some(log)) = (std::thread::panicking(), &self.log_file) {
            eprintln!("--- last lines of {} ---", log.display());
            if let Ok(text) = std::fs::read_to_string(log) {
                let lines: Vec<&str> = text.lines().collect();
                for line in &lines[lines.len().saturating_sub(40)..] {
                    eprintln!("{line}");
                }
            }
        }
        match &self.server {
            Server::Own { dir, .. } => {
                let stop = scripts_dir().join("stop-slapd.sh");
                match Command::new("bash")
                    .arg(&stop)
                    .arg(dir.path())
                    .stdin(Stdio::null())
                    .output()
                {
                    Ok(o) if o.status.success() => {}
                    Ok(o) => eprintln!("stop-slapd.sh failed: {}", output_text(&o)),
                    Err(e) => eprintln!("cannot run {}: {e}", stop.display()),
                }
                // The TempDir field is removed after this, with slapd already gone.
            }
            Server::External => {
                self.delete_subentries();
                let mut command = self.admin_command("ldapdelete");
                command.arg("-r").arg(&self.base_dn);
                let output = run(command);
                if !output.status.success() {
                    eprintln!(
                        "could not delete test subtree {}: {}",
                        self.base_dn,
                        output_text(&output)
                    );
                }
            }
        }
    }
}

/// `tests/slapd`, found from the crate root so tests work from any working directory.
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("slapd")
}

fn run(mut command: Command) -> Output {
    let program = command.get_program().to_string_lossy().into_owned();
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (is ldap-utils installed?): {e}"))
}

fn output_text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `<name>-<pid>-<counter>-<time>`, restricted to characters that need no DN escaping. The time
/// part keeps names unique across runs against the same external server.
fn unique_ou(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{clean}-{}-{}-{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Parses start-slapd.sh's `KEY='value'` lines (single quotes, `'\''` for a quote).
pub fn parse_shell_assignments(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| {
            let value = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .map(|v| v.replace("'\\''", "'"))
                .unwrap_or_else(|| value.to_string());
            (key.to_string(), value)
        })
        .collect()
}

/// Parses LDIF content records as `ldapsearch -LLL` prints them: folded lines (continuations
/// start with one space), `attr:: base64` values, `#` comments, blank lines between entries.
pub fn parse_ldif(text: &str) -> Vec<Entry> {
    // Unfold first: a continuation line belongs to the line before it.
    let mut lines: Vec<String> = Vec::new();
    for raw in text.lines() {
        match raw.strip_prefix(' ') {
            Some(rest) if !lines.is_empty() => {
                if let Some(last) = lines.last_mut() {
                    last.push_str(rest);
                }
            }
            _ => lines.push(raw.to_string()),
        }
    }

    let mut entries = Vec::new();
    let mut current: Option<Entry> = None;
    for line in lines {
        if line.is_empty() {
            entries.extend(current.take());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (name, value) = parse_ldif_line(&line);
        if name.eq_ignore_ascii_case("dn") {
            entries.extend(current.take());
            current = Some(Entry {
                dn: value,
                attrs: BTreeMap::new(),
            });
        } else if let Some(entry) = current.as_mut() {
            entry
                .attrs
                .entry(name.to_ascii_lowercase())
                .or_default()
                .push(value);
        } else {
            panic!("LDIF attribute line before any dn: {line}");
        }
    }
    entries.extend(current);
    entries
}

fn parse_ldif_line(line: &str) -> (String, String) {
    let (name, rest) = line
        .split_once(':')
        .unwrap_or_else(|| panic!("not an LDIF line: {line}"));
    let value = if let Some(encoded) = rest.strip_prefix(':') {
        let bytes = decode_base64(encoded.trim())
            .unwrap_or_else(|| panic!("bad base64 in LDIF line: {line}"));
        String::from_utf8_lossy(&bytes).into_owned()
    } else if let Some(url) = rest.strip_prefix('<') {
        // `attr:< file://...`: kept as the URL, ldapsearch only writes these with -t.
        url.trim_start().to_string()
    } else {
        rest.strip_prefix(' ').unwrap_or(rest).to_string()
    };
    (name.to_string(), value)
}

/// Standard base64 with padding, as LDIF uses; `None` on anything else. Small enough not to
/// tie the harness to a base64 crate's API.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let sextet = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = text.as_bytes();
    if bytes.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (i, chunk) in bytes.chunks(4).enumerate() {
        let last = i == bytes.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | sextet(c)?;
        }
        n <<= 6 * pad as u32;
        let group = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&group[..3 - pad]);
    }
    Some(out)
}

/// Runs `command` with `input` on its stdin and returns its output, whatever its exit status.
pub fn run_with_stdin(mut command: Command, input: &str) -> Output {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program} (is ldap-utils installed?): {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_string();
    // Written from a thread: a large LDIF would otherwise deadlock against the tool filling its
    // stdout pipe while we are still writing.
    let writer = std::thread::spawn(move || {
        // The tool may stop reading early after an error; its exit status says why.
        let _ = stdin.write_all(input.as_bytes());
    });
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("{program} did not finish: {e}"));
    writer.join().expect("stdin writer thread panicked");
    output
}
