//! Test harness: a real Active Directory (a Samba AD domain controller) for tests.
//!
//! [`TestDomain::start`] starts a domain controller of the test's own (tests/samba/
//! start-samba.sh: domain `EXAMPLE.TEST`, base `DC=example,DC=test`) and gives the test a subtree
//! `OU=<name>-<unique>,DC=example,DC=test` with `OU=People`, `OU=Groups` and `OU=Disabled` under
//! it. [`TestDomain::start_shared`] gives the same subtree on one DC shared by the whole test
//! binary instead, and tree-deletes the subtree on drop.
//!
//! Why a DC per test by default: Active Directory keeps `sAMAccountName` and
//! `userPrincipalName` unique across the whole domain, not per OU, so two tests that both create
//! `ada.lovelace` (as HR-driven tests naturally do) would collide on a shared DC. A DC of its own
//! costs a test about 0.6 s (the domain is provisioned once into a cached template and copied; see
//! the script). Tests that pick domain-unique names can share one with `start_shared`.
//!
//! Every DC listens on its own loopback address `127.0.0.N` (ports 389/636 are fixed in Samba),
//! with a certificate for `IP:127.0.0.N` signed by [`TestDomain::ca_file`]. Simple binds need
//! TLS (plain LDAP answers `Strong(er) authentication required`), so every helper here talks
//! LDAPS to [`TestDomain::ldaps_url`] and binds as `Administrator@example.test`.
//!
//! As in the OpenLDAP harness (the parent module), all directory access goes through the
//! OpenLDAP command-line tools, independent of the code under test, and every helper panics
//! with the tool's output on failure.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use super::{
    Entry, output_text, parse_ldif, parse_shell_assignments, run, run_with_stdin, unique_ou,
};

/// Attempts at starting a DC before giving up. The script already retries address clashes
/// itself; this covers anything else transient.
const START_ATTEMPTS: usize = 3;

/// Network timeout (seconds) for every ldap-utils call.
const NET_TIMEOUT_SECS: &str = "10";

/// The domain of every test DC (tests/samba/start-samba.sh).
pub const DOMAIN_DN: &str = "DC=example,DC=test";
/// The DNS domain, the suffix of every `userPrincipalName` made here.
pub const UPN_SUFFIX: &str = "example.test";

/// `groupType` of a global security group (`0x80000002`), what AD creates by default.
pub const GLOBAL_SECURITY_GROUP: i32 = -2147483646;

/// `userAccountControl` of an enabled normal account.
pub const UAC_NORMAL: u32 = 512;
/// The "account disabled" bit of `userAccountControl`.
pub const UAC_ACCOUNTDISABLE: u32 = 0x2;

/// One running Samba AD DC (a process tree and its directory).
struct Dc {
    ldap_url: String,
    ldaps_url: String,
    addr: String,
    admin_dn: String,
    admin_upn: String,
    admin_password: String,
    ca_file: PathBuf,
    log_file: PathBuf,
    conf_file: PathBuf,
    dir: tempfile::TempDir,
}

impl Dc {
    fn start() -> Dc {
        let script = scripts_dir().join("start-samba.sh");
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix("hrsync-samba-")
                .tempdir()
                .expect("cannot create a temp dir for samba");
            let output = Command::new("bash")
                .arg(&script)
                .arg(dir.path())
                // The script stops samba once this process is gone, even after a SIGKILL.
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
                    panic!("start-samba.sh printed no {key}; it printed: {vars:?}")
                })
            };
            assert_eq!(
                var("BASE_DN"),
                DOMAIN_DN,
                "start-samba.sh changed its domain"
            );
            return Dc {
                ldap_url: var("LDAP_URL"),
                ldaps_url: var("LDAPS_URL"),
                addr: var("ADDR"),
                admin_dn: var("ADMIN_DN"),
                admin_upn: var("ADMIN_UPN"),
                admin_password: var("ADMIN_PASSWORD"),
                ca_file: PathBuf::from(var("CA_FILE")),
                log_file: PathBuf::from(var("LOG_FILE")),
                conf_file: PathBuf::from(var("CONF_FILE")),
                dir,
            };
        }
        panic!(
            "could not start a Samba DC ({START_ATTEMPTS} attempts; is samba installed? \
             tests/samba/install-deps.sh installs it):\n{}",
            failures.join("\n---\n")
        );
    }

    /// The DC that [`TestDomain::start_shared`] hands out, started on first use. It is never
    /// dropped: start-samba.sh's watcher stops it and removes its directory when this process
    /// exits.
    fn shared() -> &'static Dc {
        static SHARED: OnceLock<Dc> = OnceLock::new();
        SHARED.get_or_init(Dc::start)
    }
}

impl Drop for Dc {
    fn drop(&mut self) {
        // Never panic here: a panic while a failed test unwinds aborts the whole test binary.
        let stop = scripts_dir().join("stop-samba.sh");
        match Command::new("bash")
            .arg(&stop)
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .output()
        {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!("stop-samba.sh failed: {}", output_text(&o)),
            Err(e) => eprintln!("cannot run {}: {e}", stop.display()),
        }
        // The TempDir field is removed after this, with samba already gone.
    }
}

enum DcHandle {
    Own(Box<Dc>),
    Shared(&'static Dc),
}

impl DcHandle {
    fn dc(&self) -> &Dc {
        match self {
            DcHandle::Own(dc) => dc,
            DcHandle::Shared(dc) => dc,
        }
    }
}

/// What a search returned: entries and the continuation references (referrals) that AD sends
/// for the naming contexts below the base that it does not hold in the same partition (from the
/// domain root: `CN=Configuration`, and on Windows also the DNS zones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResult {
    pub entries: Vec<Entry>,
    /// The referral URLs, e.g. `ldaps://example.test/CN=Configuration,DC=example,DC=test`.
    pub referrals: Vec<String>,
}

/// A subtree of an Active Directory domain that belongs to one test. See the module docs.
pub struct TestDomain {
    /// `ldap://127.0.0.N:389`. Simple binds are refused there without StartTLS.
    pub ldap_url: String,
    /// `ldaps://127.0.0.N:636`, what every helper here uses.
    pub ldaps_url: String,
    /// The DC's loopback address, `127.0.0.N`.
    pub addr: String,
    /// The subtree this test owns: `OU=<name>-<unique>,DC=example,DC=test`.
    pub base_dn: String,
    pub people_dn: String,
    pub groups_dn: String,
    pub disabled_dn: String,
    /// `DC=example,DC=test`. On a shared DC, other tests write there too: stay in `base_dn`.
    pub domain_dn: String,
    /// `CN=Administrator,CN=Users,DC=example,DC=test`.
    pub admin_dn: String,
    /// `Administrator@example.test`, the identity the helpers bind as.
    pub admin_upn: String,
    pub admin_password: String,
    /// CA certificate that verifies the DC's certificate (SAN `IP:127.0.0.N`, `DNS:localhost`).
    pub ca_file: PathBuf,
    /// samba's log: one line per bind, change and group membership change (auth_audit,
    /// dsdb_audit). Its tail is printed when a test fails.
    pub log_file: PathBuf,
    /// The DC's smb.conf, for `samba-tool ... -s <conf_file>` (works while the DC runs).
    pub conf_file: PathBuf,
    dc: DcHandle,
}

impl TestDomain {
    /// A fresh subtree named after `name` (use the test's name) on a new DC of its own.
    pub fn start(name: &str) -> TestDomain {
        TestDomain::new(DcHandle::Own(Box::new(Dc::start())), name)
    }

    /// A fresh subtree on the DC shared by every `start_shared` test of this test binary
    /// (started on first use). Cheaper than [`TestDomain::start`], but `sAMAccountName` and
    /// `userPrincipalName` are unique per domain: use names no other test uses.
    pub fn start_shared(name: &str) -> TestDomain {
        TestDomain::new(DcHandle::Shared(Dc::shared()), name)
    }

    fn new(dc: DcHandle, name: &str) -> TestDomain {
        let base_dn = format!("OU={},{DOMAIN_DN}", unique_ou(name));
        let d = dc.dc();
        let domain = TestDomain {
            ldap_url: d.ldap_url.clone(),
            ldaps_url: d.ldaps_url.clone(),
            addr: d.addr.clone(),
            people_dn: format!("OU=People,{base_dn}"),
            groups_dn: format!("OU=Groups,{base_dn}"),
            disabled_dn: format!("OU=Disabled,{base_dn}"),
            base_dn,
            domain_dn: DOMAIN_DN.to_string(),
            admin_dn: d.admin_dn.clone(),
            admin_upn: d.admin_upn.clone(),
            admin_password: d.admin_password.clone(),
            ca_file: d.ca_file.clone(),
            log_file: d.log_file.clone(),
            conf_file: d.conf_file.clone(),
            dc,
        };
        let ldif = [
            &domain.base_dn,
            &domain.people_dn,
            &domain.groups_dn,
            &domain.disabled_dn,
        ]
        .map(|dn| format!("dn: {dn}\nobjectClass: organizationalUnit\n"))
        .join("\n");
        domain.ldapadd(&ldif);
        domain
    }

    /// Whether this test has a DC of its own (see [`TestDomain::start_shared`]).
    pub fn owns_dc(&self) -> bool {
        matches!(self.dc, DcHandle::Own(_))
    }

    /// Adds the entries of `ldif` (plain entries or change records) as the Administrator;
    /// panics with ldapadd's output on failure.
    pub fn ldapadd(&self, ldif: &str) {
        let output = run_with_stdin(self.admin_command("ldapadd"), ldif);
        if !output.status.success() {
            panic!(
                "ldapadd failed ({}):\n{}\nLDIF was:\n{}",
                output.status,
                output_text(&output),
                abbreviate(ldif)
            );
        }
    }

    /// Runs `ldapmodify` with `ldif` (change records) as the Administrator and returns its output
    /// without judging it: tests assert on `status.code()` (the LDAP result code, e.g. 19 for
    /// a password the policy refuses) and on AD's diagnostic in stderr (e.g. `0000052D`).
    pub fn ldapmodify(&self, ldif: &str) -> Output {
        run_with_stdin(self.admin_command("ldapmodify"), ldif)
    }

    /// Subtree search as the Administrator, over all pages. A missing base gives no entries;
    /// referrals are left out (see [`TestDomain::search_with_referrals`]); any other error
    /// panics. `attrs` empty means all user attributes.
    pub fn search(&self, base: &str, filter: &str, attrs: &[&str]) -> Vec<Entry> {
        self.search_scoped(base, "sub", filter, attrs).entries
    }

    /// Like [`TestDomain::search`], with the referrals AD returned alongside the entries.
    pub fn search_with_referrals(&self, base: &str, filter: &str, attrs: &[&str]) -> SearchResult {
        self.search_scoped(base, "sub", filter, attrs)
    }

    /// One entry with all its attributes (`*`, which in AD includes `userAccountControl`,
    /// `memberOf`, `objectSid`, `pwdLastSet`, ...) plus the constructed
    /// `msDS-User-Account-Control-Computed` (lockout, expired password), or `None` if it does not
    /// exist. Binary values (objectGUID, objectSid) come out lossily decoded as UTF-8.
    pub fn entry(&self, dn: &str) -> Option<Entry> {
        let mut entries = self
            .search_scoped(
                dn,
                "base",
                "(objectClass=*)",
                &["*", "msDS-User-Account-Control-Computed"],
            )
            .entries;
        assert!(
            entries.len() <= 1,
            "base search of {dn} returned {entries:?}"
        );
        entries.pop()
    }

    /// Whether `who` (a DN, a UPN such as `ada@example.test`, or `EXAMPLE\ada`) can really bind
    /// with `password`: a simple bind over LDAPS, followed by a read of the root DSE. (Samba
    /// does not implement the "Who am I?" operation, so ldapwhoami cannot be used.)
    ///
    /// `false` only for "invalid credentials" (49), which is what AD answers for a wrong
    /// password and also, with sub-codes in the diagnostic (`data 533` disabled, `775` locked
    /// out, `701` expired, `773` must change password, `52e` bad password), for accounts that
    /// may not log on. Anything else panics, so a "cannot bind" assertion never passes because
    /// the server is down.
    pub fn can_bind(&self, who: &str, password: &str) -> bool {
        self.bind_result(who, password).is_ok()
    }

    /// The bind as [`TestDomain::can_bind`] does it: `Ok(())`, or `Err` with AD's diagnostic
    /// for invalid credentials (e.g. `80090308: LdapErr: ..., data 533, v1db1`), so a test
    /// can tell a disabled account (533) from a wrong password (52e).
    pub fn bind_result(&self, who: &str, password: &str) -> Result<(), String> {
        // An empty password is an *unauthenticated* bind (RFC 4513 5.1.2): it proves nothing.
        assert!(
            !password.is_empty(),
            "can_bind({who}) with an empty password would be an anonymous bind"
        );
        let mut command = self.command("ldapsearch");
        command.arg("-D").arg(who).arg("-w").arg(password).args([
            "-LLL",
            "-b",
            "",
            "-s",
            "base",
            "(objectClass=*)",
            "1.1",
        ]);
        let output = run(command);
        match output.status.code() {
            Some(0) => Ok(()),
            Some(49) => Err(String::from_utf8_lossy(&output.stderr).trim().to_string()),
            _ => panic!(
                "bind as {who} failed unexpectedly ({}):\n{}",
                output.status,
                output_text(&output)
            ),
        }
    }

    /// Adds `CN=<sam>,<people_dn>`, a `user` with `sAMAccountName: <sam>`,
    /// `userPrincipalName: <sam>@example.test` and `employeeID`, plus the given extra LDIF lines
    /// (`attr: value` per line; one that sets `userPrincipalName` or `userAccountControl`
    /// replaces the default). Returns the DN.
    ///
    /// With a password, `unicodePwd` is set and `userAccountControl` is 512, so the account is
    /// enabled and can bind; the password must pass AD's policy (complexity is on). Without
    /// one, the account is what AD makes of it: 546 (disabled, password not required).
    ///
    /// Everything is written into the DN and the LDIF verbatim, unescaped: use plain values.
    pub fn add_user(
        &self,
        sam: &str,
        employee_id: &str,
        password: Option<&str>,
        extra_ldif_lines: &str,
    ) -> String {
        let dn = format!("CN={sam},{}", self.people_dn);
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
            "dn: {dn}\nobjectClass: user\nsAMAccountName: {sam}\nemployeeID: {employee_id}\n"
        );
        if !sets("userPrincipalName") {
            ldif.push_str(&format!("userPrincipalName: {sam}@{UPN_SUFFIX}\n"));
        }
        if let Some(password) = password {
            ldif.push_str(&format!("unicodePwd:: {}\n", unicode_pwd(password)));
            if !sets("userAccountControl") {
                ldif.push_str(&format!("userAccountControl: {UAC_NORMAL}\n"));
            }
        }
        for line in extra {
            ldif.push_str(line);
            ldif.push('\n');
        }
        self.ldapadd(&ldif);
        dn
    }

    /// Adds `CN=<cn>,<groups_dn>`, a global security group with `sAMAccountName: <cn>` and these
    /// member DNs (AD allows a group without members). Returns the DN.
    pub fn add_group(&self, cn: &str, members: &[&str]) -> String {
        let dn = format!("CN={cn},{}", self.groups_dn);
        let mut ldif = format!(
            "dn: {dn}\nobjectClass: group\nsAMAccountName: {cn}\ngroupType: {GLOBAL_SECURITY_GROUP}\n"
        );
        for member in members {
            ldif.push_str(&format!("member: {member}\n"));
        }
        self.ldapadd(&ldif);
        dn
    }

    /// Adds `n` users `CN=<prefix><00000..>,<people_dn>` (sAMAccountName, UPN and employeeID all
    /// `<prefix><i:05>`, no password, so disabled as AD makes them) with one ldapadd, and returns
    /// their DNs in order. Samba adds about 400 users a second here (3,000 in about 8 s).
    pub fn add_many_users(&self, prefix: &str, n: usize) -> Vec<String> {
        let mut ldif = String::with_capacity(n * 200);
        let mut dns = Vec::with_capacity(n);
        for i in 0..n {
            let sam = format!("{prefix}{i:05}");
            let dn = format!("CN={sam},{}", self.people_dn);
            ldif.push_str(&format!(
                "dn: {dn}\nobjectClass: user\nsAMAccountName: {sam}\n\
                 userPrincipalName: {sam}@{UPN_SUFFIX}\nemployeeID: {sam}\n\n"
            ));
            dns.push(dn);
        }
        if n > 0 {
            self.ldapadd(&ldif);
        }
        dns
    }

    /// The group's `member` values, lowercased, all of them however many: read with ranged
    /// retrieval the way Windows AD requires past 1,500 values (`member;range=0-*`, answered
    /// with `member;range=0-1499`, then `member;range=1500-*`, ...). Panics if the group does
    /// not exist, so that an "X is not a member" assertion cannot pass because the group is gone.
    pub fn group_members(&self, group_dn: &str) -> BTreeSet<String> {
        self.read_ranged(group_dn, "member", None)
    }

    /// Like [`TestDomain::group_members`], asking for `step` values per request
    /// (`member;range=0-<step-1>`, ...). Samba returns every value unranged unless asked for a
    /// range, so this is how a test makes the range loop run against Samba.
    pub fn group_members_ranged(&self, group_dn: &str, step: usize) -> BTreeSet<String> {
        assert!(step > 0, "a range step of 0 reads nothing");
        self.read_ranged(group_dn, "member", Some(step))
    }

    fn read_ranged(&self, dn: &str, attr: &str, step: Option<usize>) -> BTreeSet<String> {
        let attr = attr.to_ascii_lowercase();
        let prefix = format!("{attr};range=");
        let mut values = BTreeSet::new();
        let mut low = 0usize;
        loop {
            let request = match step {
                None => format!("{attr};range={low}-*"),
                Some(step) => format!("{attr};range={low}-{}", low + step - 1),
            };
            let entries = self
                .search_scoped(dn, "base", "(objectClass=*)", &[&request])
                .entries;
            let entry = entries
                .first()
                .unwrap_or_else(|| panic!("{dn} does not exist"));
            // At most one of: the plain attribute (the server ignored the range), a ranged one
            // (`member;range=<low>-<high>` or `...-*` for the last), or none (no values, or
            // `low` is past the end).
            if let Some(all) = entry.attrs.get(&attr) {
                values.extend(all.iter().map(|v| v.to_lowercase()));
                return values;
            }
            let Some((name, chunk)) = entry
                .attrs
                .iter()
                .find(|(name, _)| name.starts_with(&prefix))
            else {
                return values;
            };
            values.extend(chunk.iter().map(|v| v.to_lowercase()));
            let (_, high) = name[prefix.len()..]
                .split_once('-')
                .unwrap_or_else(|| panic!("bad range option in {name}"));
            if high == "*" {
                return values;
            }
            let high: usize = high
                .parse()
                .unwrap_or_else(|_| panic!("bad range end in {name}"));
            assert!(
                high >= low && !chunk.is_empty(),
                "range {name} does not advance past {low}"
            );
            low = high + 1;
        }
    }

    /// An ldap-utils command pointed at this DC's LDAPS URL (no bind yet), verifying the DC's
    /// certificate against our CA, for tests that need a tool or option the helpers do not
    /// cover.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .arg("-x")
            .arg("-H")
            .arg(&self.ldaps_url)
            .arg("-o")
            .arg(format!("nettimeout={NET_TIMEOUT_SECS}"))
            .env("LDAPTLS_CACERT", &self.ca_file)
            .env("LDAPTLS_REQCERT", "demand")
            .stdin(Stdio::null());
        command
    }

    /// Like [`TestDomain::command`], bound as the Administrator.
    pub fn admin_command(&self, program: &str) -> Command {
        let mut command = self.command(program);
        command
            .arg("-D")
            .arg(&self.admin_upn)
            .arg("-w")
            .arg(&self.admin_password);
        command
    }

    fn search_scoped(&self, base: &str, scope: &str, filter: &str, attrs: &[&str]) -> SearchResult {
        let mut command = self.admin_command("ldapsearch");
        command
            .args(["-LLL", "-o", "ldif-wrap=no"])
            // Paged: AD returns at most MaxPageSize (1,000) entries to a search without paging.
            .args(["-E", "pr=1000/noprompt"])
            .args(["-s", scope, "-b", base])
            .arg(filter)
            .args(attrs);
        let output = run(command);
        match output.status.code() {
            Some(0) => {
                let text = String::from_utf8_lossy(&output.stdout);
                SearchResult {
                    entries: parse_ldif(&text),
                    // With -LLL, ldapsearch prints each reference as a comment `# ref<URL>`.
                    referrals: text
                        .lines()
                        .filter_map(|line| line.strip_prefix("# ref"))
                        .map(str::to_string)
                        .collect(),
                }
            }
            // noSuchObject: the base does not exist.
            Some(32) => SearchResult {
                entries: Vec::new(),
                referrals: Vec::new(),
            },
            _ => panic!(
                "ldapsearch -b {base} {filter} failed ({}):\n{}",
                output.status,
                output_text(&output)
            ),
        }
    }
}

impl Drop for TestDomain {
    fn drop(&mut self) {
        // Never panic here: a panic while a failed test unwinds aborts the whole test binary.
        if std::thread::panicking() {
            eprintln!("--- last lines of {} ---", self.log_file.display());
            if let Ok(text) = std::fs::read_to_string(&self.log_file) {
                let lines: Vec<&str> = text.lines().collect();
                for line in &lines[lines.len().saturating_sub(40)..] {
                    eprintln!("{line}");
                }
            }
        }
        if let DcHandle::Shared(_) = self.dc {
            // The Tree Delete control (1.2.840.113556.1.4.805): AD deletes the OU with everything
            // in it in one operation (a plain delete of a non-leaf fails with 66).
            let mut command = self.admin_command("ldapdelete");
            command
                .args(["-e", "1.2.840.113556.1.4.805"])
                .arg(&self.base_dn);
            let output = run(command);
            if !output.status.success() {
                eprintln!(
                    "could not delete test subtree {}: {}",
                    self.base_dn,
                    output_text(&output)
                );
            }
        }
        // An own DC is stopped (and its directory removed) when `dc` is dropped after this.
    }
}

/// The LDIF value of `unicodePwd` that sets `password`: base64 of the UTF-16LE encoding of the
/// password in double quotes, as AD requires (`unicodePwd:: <this>`).
pub fn unicode_pwd(password: &str) -> String {
    let quoted = format!("\"{password}\"");
    let bytes: Vec<u8> = quoted.encode_utf16().flat_map(u16::to_le_bytes).collect();
    encode_base64(&bytes)
}

/// `tests/samba`, found from the crate root so tests work from any working directory.
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("samba")
}

/// Standard base64 with padding, as LDIF uses.
fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The first and last lines of a long LDIF, for panic messages (a 3,000-user LDIF would bury
/// the error).
fn abbreviate(ldif: &str) -> String {
    let lines: Vec<&str> = ldif.lines().collect();
    if lines.len() <= 60 {
        return ldif.to_string();
    }
    format!(
        "{}\n... ({} lines) ...\n{}",
        lines[..30].join("\n"),
        lines.len() - 60,
        lines[lines.len() - 30..].join("\n")
    )
}
