//! Test harness: a real 389 Directory Server (Red Hat Directory Server's upstream) for tests.
//!
//! [`directory`] gives a test its own subtree `ou=<name>-<unique>,dc=example,dc=org` with
//! `ou=people`, `ou=groups` and `ou=disabled` under it, as a [`TestDirectory`] like the OpenLDAP
//! harness's (the parent module): same helpers, same layout, deleted again on drop. The subtree
//! lives on an instance shared by the whole test binary, because a 389 instance is expensive:
//! creating one takes about 8 s (tests/389ds/start-389ds.sh explains where it goes), against
//! 0.1 s for a slapd. Tests on a shared instance stay apart by staying in their own subtree, and
//! must not change instance-wide settings that other tests would see (use a subtree or
//! per-user password policy, not the global one).
//!
//! Up to three instances per binary, each started by the first test that asks for it
//! ([`Plugins`]): without the optional plugins (389's default), with the MemberOf plugin, and
//! with the referential integrity plugin. Both plugins change what a rename or delete of a user
//! does to the groups that name it, which is why they get instances of their own. None is ever
//! stopped by the harness: the script's watcher removes them when the test process exits, even
//! after a SIGKILL.
//!
//! Every instance listens on 127.0.0.1 only, with LDAPS and StartTLS (certificate for
//! `IP:127.0.0.1` signed by [`Instance::ca_file`]), and binds as `cn=Directory Manager`, which no
//! ACI or password policy applies to. [`Instance::dsidm`] and [`Instance::dsconf`] run 389's own
//! administration tools against the instance (as root they need no password).
//!
//! 389 facts the tests rely on (each proved by tests/ds389_selftest.rs):
//! - a bind to an entry with `nsAccountLock: true` fails with 53 (unwilling to perform,
//!   "Account inactivated"), whatever the password; [`TestDirectory::can_bind`] panics on that,
//!   so use [`bind_result`];
//! - password-policy lockout answers 19 (constraint violation, "Exceed password retry limit"),
//!   also to the right password;
//! - a `groupOfNames` may lose its last member.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::{ExternalServer, TestDirectory, output_text, parse_shell_assignments};

/// Attempts at creating an instance before giving up. The script already retries port clashes
/// itself; this covers anything else transient. Each attempt costs about 8 s.
const START_ATTEMPTS: usize = 2;

/// The suffix of every instance (tests/389ds/start-389ds.sh).
pub const SUFFIX: &str = "dc=example,dc=org";

/// Which of 389's optional plugins an instance runs. Both are off in a new 389 instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Plugins {
    /// Neither: a user's rename or delete leaves the `member` values that name it as they were.
    None,
    /// The MemberOf plugin: members get `memberOf`, and a member's rename rewrites the
    /// `member` values that name it.
    MemberOf,
    /// The referential integrity plugin: a member's rename rewrites, and its delete removes,
    /// the `member` (and `uniqueMember`, `owner`, `seeAlso`) values that name it.
    Refint,
}

/// One running 389-DS instance.
#[derive(Debug)]
pub struct Instance {
    /// `ldap://127.0.0.1:<port>` (StartTLS available).
    pub url: String,
    /// `ldaps://127.0.0.1:<ldaps_port>`.
    pub ldaps_url: String,
    pub port: u16,
    pub ldaps_port: u16,
    /// `dc=example,dc=org`, shared by every test on the instance: stay in your own subtree.
    pub base_dn: String,
    /// `cn=Directory Manager`.
    pub admin_dn: String,
    pub admin_password: String,
    /// CA certificate that verifies the server's certificate (SAN `IP:127.0.0.1`, `DNS:localhost`).
    pub ca_file: PathBuf,
    /// The instance's name, for `dsctl`, `dsconf` and `dsidm` (e.g. `hrsync3f09a1c2b4d6`).
    pub name: String,
    /// One line per operation (connection, bind, search, result with its code).
    pub access_log: PathBuf,
    /// The server's error log (start-up, plugin and replication messages).
    pub error_log: PathBuf,
    pub plugins: Plugins,
    /// The script's directory (TLS files, the instance's name). Never dropped: the script's
    /// watcher removes it with the instance.
    dir: tempfile::TempDir,
}

impl Instance {
    fn start(plugins: Plugins) -> Instance {
        let script = scripts_dir().join("start-389ds.sh");
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix("hrsync-389ds-")
                .tempdir()
                .expect("cannot create a temp dir for 389-DS");
            let mut command = Command::new("bash");
            command
                .arg(&script)
                .arg(dir.path())
                // The script removes the instance once this process is gone, even after a
                // SIGKILL.
                .env("WATCH_PID", std::process::id().to_string())
                .stdin(Stdio::null());
            match plugins {
                Plugins::None => {}
                Plugins::MemberOf => {
                    command.env("MEMBEROF", "1");
                }
                Plugins::Refint => {
                    command.env("REFINT", "1");
                }
            }
            let output = command
                .output()
                .unwrap_or_else(|e| panic!("cannot run bash {}: {e}", script.display()));
            if !output.status.success() {
                failures.push(String::from_utf8_lossy(&output.stderr).into_owned());
                continue;
            }
            let vars = parse_shell_assignments(&String::from_utf8_lossy(&output.stdout));
            let var = |key: &str| {
                vars.get(key).cloned().unwrap_or_else(|| {
                    panic!("start-389ds.sh printed no {key}; it printed: {vars:?}")
                })
            };
            let port = |key: &str| {
                var(key)
                    .parse::<u16>()
                    .unwrap_or_else(|e| panic!("start-389ds.sh printed a bad {key}: {e}"))
            };
            assert_eq!(var("BASE_DN"), SUFFIX, "start-389ds.sh changed its suffix");
            return Instance {
                url: var("LDAP_URL"),
                ldaps_url: var("LDAPS_URL"),
                port: port("PORT"),
                ldaps_port: port("LDAPS_PORT"),
                base_dn: var("BASE_DN"),
                admin_dn: var("ADMIN_DN"),
                admin_password: var("ADMIN_PASSWORD"),
                ca_file: PathBuf::from(var("CA_FILE")),
                name: var("INSTANCE"),
                access_log: PathBuf::from(var("ACCESS_LOG")),
                error_log: PathBuf::from(var("ERROR_LOG")),
                plugins,
                dir,
            };
        }
        panic!(
            "could not create a 389-DS instance ({START_ATTEMPTS} attempts; is 389-ds-base \
             installed, and are we root? tests/389ds/install-deps.sh installs it):\n{}",
            failures.join("\n---\n")
        );
    }

    /// The instance as the parent module's harness takes it.
    pub fn server(&self) -> ExternalServer {
        ExternalServer {
            url: self.url.clone(),
            ldaps_url: Some(self.ldaps_url.clone()),
            bind_dn: self.admin_dn.clone(),
            bind_password: self.admin_password.clone(),
            base_dn: self.base_dn.clone(),
            ca_file: Some(self.ca_file.clone()),
        }
    }

    /// `dsidm <name> -b dc=example,dc=org`, for subcommands to be appended (e.g. `account
    /// entry-status <dn>`, `role lock <dn>`). It binds as the Directory Manager through the
    /// instance's LDAPI socket (autobind as root): no password, no TLS.
    pub fn dsidm(&self) -> Command {
        let mut command = Command::new(sbin_tool("dsidm"));
        command
            .arg(&self.name)
            .arg("-b")
            .arg(&self.base_dn)
            .stdin(Stdio::null());
        command
    }

    /// `dsconf <name>`, for subcommands to be appended (e.g. `localpwp addsubtree <dn> ...`).
    /// Like [`Instance::dsidm`] it goes through the LDAPI socket. Settings under cn=config are
    /// shared by every test on the instance.
    pub fn dsconf(&self) -> Command {
        let mut command = Command::new(sbin_tool("dsconf"));
        command.arg(&self.name).stdin(Stdio::null());
        command
    }

    /// The script's directory for this instance (holds `tls/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The binary's instance with these plugins, created by the first call (about 8 s; concurrent
/// callers wait for it). If creating it fails, this call panics and the next one tries again.
pub fn instance(plugins: Plugins) -> &'static Instance {
    static NONE: OnceLock<Instance> = OnceLock::new();
    static MEMBEROF: OnceLock<Instance> = OnceLock::new();
    static REFINT: OnceLock<Instance> = OnceLock::new();
    let cell = match plugins {
        Plugins::None => &NONE,
        Plugins::MemberOf => &MEMBEROF,
        Plugins::Refint => &REFINT,
    };
    cell.get_or_init(|| Instance::start(plugins))
}

/// A fresh subtree `ou=<name>-<unique>,dc=example,dc=org` (with `ou=people`, `ou=groups`,
/// `ou=disabled`) on the binary's instance with these plugins; deleted on drop, including any
/// roles, CoS or password-policy entries a test put there.
pub fn directory(name: &str, plugins: Plugins) -> TestDirectory {
    TestDirectory::start_on(instance(plugins).server(), name)
}

/// The LDAP result code of a simple bind as `dn`: 0 success, 49 invalid credentials, 53 for an
/// entry locked with `nsAccountLock` (directly or through a role), 19 for one locked out by
/// password policy. Panics when the server gives no LDAP result. See
/// [`TestDirectory::bind_result`].
pub fn bind_result(dir: &TestDirectory, dn: &str, password: &str) -> i32 {
    dir.bind_result(dn, password)
}

/// Runs an administration command built by [`Instance::dsidm`] or [`Instance::dsconf`] and
/// returns its stdout; panics with its output if it fails.
pub fn run_tool(mut command: Command) -> String {
    let what = format!("{:?}", command);
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what} (is 389-ds-base installed?): {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}",
        output.status,
        output_text(&output)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `tests/389ds`, found from the crate root so tests work from any working directory.
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("389ds")
}

/// The 389 tools live in /usr/sbin, which is not on every PATH.
fn sbin_tool(name: &str) -> PathBuf {
    let sbin = Path::new("/usr/sbin").join(name);
    if sbin.exists() {
        sbin
    } else {
        PathBuf::from(name)
    }
}
