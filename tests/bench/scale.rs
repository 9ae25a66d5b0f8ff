//! Company-scale benchmark: `cargo bench --bench scale` (optionally `-- 10000 50000` for other
//! sizes; the default runs 10,000, 50,000 and 100,000 employees against slapd).
//! `-- --directory 389ds 10000 100000` runs it against 389 Directory Server instead, and
//! `-- --directory samba 10000` against a Samba AD domain controller; `--page-size N` sets
//! hrsync's `directory.page_size` and ldapsearch's page (`-E pr=N/noprompt`; 0: ldapsearch
//! unpaged, hrsync at its maximum of 100,000), `--runs N` the number of no-op runs, and
//! `--no-apply` measures the no-op only. On 389-DS, nsAccountLock gets an equality index (hrsync
//! searches it for role-locked accounts) unless `--no-lock-index`.
//!
//! For each size N it builds the whole scenario itself, on loopback only:
//! - an HR API (a small HTTP/1.1 server in this process) serving N BambooHR-shaped records in
//!   offset pages of 1,000 with a total;
//! - the directory, with the matching N accounts and 200 role groups (`Role 017` ->
//!   `cn=role-017`, N/200 members each): a slapd (tests/slapd/start-slapd.sh, log off) loaded
//!   with `slapadd`; a 389-DS instance (tests/389ds/start-389ds.sh, access log off, plugins off
//!   as 389 ships them) loaded offline with `dsctl ldif2db`; or a Samba AD DC
//!   (tests/samba/start-samba.sh, log level 0, LDAPS) loaded into its sam.ldb through Samba's
//!   Python bindings;
//!
//! and measures, with the release build of `hrsync` run as a subprocess under /usr/bin/time:
//! 1. a no-op `hrsync plan` against its floor: the same HR pages fetched with a plain HTTP client
//!    (reqwest, bodies not parsed) plus `ldapsearch` dumping the users and the groups (paged)
//!    from the same server;
//! 2. `hrsync apply` of N/10 movers (new role: title change, one group for another) and N/100
//!    leavers (locked, out of their group, moved to the disabled OU) against `ldapmodify`
//!    applying the same changes one LDAP operation per change (the LDIF of `hrsync plan --format
//!    ldif`, which is one record per step) on a second server loaded from the same data (on
//!    Samba each load takes minutes: `--no-apply` skips this part);
//! 3. peak RSS of hrsync for each (`/usr/bin/time -f %M`).
//!
//! After the apply, `hrsync plan` must report no changes, and every account and group of both
//! servers (hrsync's and ldapmodify's) is compared with the expected state (locked: slapd's
//! `pwdAccountLockedTime: 000001010000Z`, 389's `nsAccountLock: true`, AD's ACCOUNTDISABLE in
//! userAccountControl); any difference fails
//! the benchmark. Times are the median of five runs for the no-op and its floor up to 20,000
//! employees and of three above, one run for the applies (each needs a freshly loaded server).

// Each benchmark uses its own part of the company.
#[allow(dead_code)]
mod company;
mod ds389;
mod samba;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use company::*;

const TIME: &str = "/usr/bin/time";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Slapd,
    Ds389,
    Samba,
}

impl Kind {
    fn parse(name: &str) -> Option<Kind> {
        match name.to_ascii_lowercase().as_str() {
            "slapd" | "openldap" => Some(Kind::Slapd),
            "389ds" | "389" | "ds389" | "389-ds" => Some(Kind::Ds389),
            "samba" | "ad" | "active_directory" => Some(Kind::Samba),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Slapd => "slapd",
            Kind::Ds389 => "389-DS",
            Kind::Samba => "Samba AD DC",
        }
    }
}

struct Options {
    kind: Kind,
    sizes: Vec<usize>,
    /// hrsync's page_size and ldapsearch's page; 0: ldapsearch unpaged, hrsync 100,000.
    page: usize,
    runs: Option<usize>,
    apply: bool,
    /// 389-DS: an equality index on nsAccountLock (`--no-lock-index`: none, as 389 ships).
    index_lock: bool,
}

fn options(args: &[String]) -> Result<Options> {
    let benchmarking = args.iter().any(|a| a == "--bench");
    let mut opts = Options {
        kind: Kind::Slapd,
        sizes: Vec::new(),
        page: PAGE,
        runs: None,
        apply: true,
        index_lock: true,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next().cloned())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let number = |v: String| {
            v.replace('_', "")
                .parse::<usize>()
                .map_err(|_| format!("{name}: not a number: {v}"))
        };
        match name {
            "--directory" => {
                let v = value()?;
                opts.kind = Kind::parse(&v)
                    .ok_or_else(|| format!("--directory {v}: slapd, 389ds or samba"))?;
            }
            "--page-size" => opts.page = number(value()?)?,
            "--runs" => opts.runs = Some(number(value()?)?.max(1)),
            "--no-apply" => opts.apply = false,
            "--no-lock-index" => opts.index_lock = false,
            other => {
                if let Ok(n) = other.replace('_', "").parse() {
                    opts.sizes.push(n);
                }
            }
        }
    }
    if opts.sizes.is_empty() {
        opts.sizes = match (benchmarking, opts.kind) {
            (true, Kind::Slapd) => vec![10_000, 50_000, 100_000],
            (true, _) => vec![10_000],
            (false, _) => vec![1_000],
        };
    }
    Ok(opts)
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; anything numeric is a size. Without `--bench` this is
    // `cargo test --all-targets` (tests/run.sh): a quick run at 1,000 employees against slapd
    // proves that the benchmark and its end-state check still work, without the minutes the
    // real sizes take (389-DS and Samba only when asked for: each costs a server of its own).
    let args: Vec<String> = std::env::args().skip(1).collect();
    let benchmarking = args.iter().any(|a| a == "--bench");
    let opts = match options(&args) {
        Ok(opts) => opts,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if benchmarking && !Path::new(TIME).exists() {
        eprintln!("{TIME} is needed to measure peak memory: apt-get install time");
        return ExitCode::FAILURE;
    }
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(opts: &Options) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let hr = Arc::new(HrApi::default());
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| format!("HR server: {e}"))?;
    let hr_port = listener.local_addr().map_err(|e| e.to_string())?.port();
    runtime.spawn(serve(listener, hr.clone()));

    let mut rows = Vec::new();
    for &n in &opts.sizes {
        eprintln!("== {n} employees, {}", opts.kind.name());
        rows.push(scenario(opts, n, &hr, hr_port, &runtime)?);
        print_table(&rows);
    }
    println!();
    println!(
        "Final results ({}, page size {}):",
        opts.kind.name(),
        opts.page
    );
    print_table(&rows);
    Ok(())
}

struct Row {
    n: usize,
    runs: usize,
    noop: f64,
    noop_floor: f64,
    fetch: f64,
    dump: f64,
    noop_rss_mb: f64,
    load: f64,
    apply: Option<Applied>,
}

struct Applied {
    changes: usize,
    apply: f64,
    ldapmodify: f64,
    rss_mb: f64,
}

fn print_table(rows: &[Row]) {
    println!(
        "{:>8} | {:>8} {:>9} {:>6} {:>8} | {:>8} {:>8} {:>10} {:>7} {:>8}",
        "N",
        "no-op s",
        "floor s",
        "ratio",
        "RSS MB",
        "changes",
        "apply s",
        "ldapmod s",
        "speedup",
        "RSS MB"
    );
    for r in rows {
        let apply = match &r.apply {
            Some(a) => format!(
                "{:>8} {:>8.2} {:>10.2} {:>6.1}x {:>8.0}",
                a.changes,
                a.apply,
                a.ldapmodify,
                a.ldapmodify / a.apply,
                a.rss_mb
            ),
            None => format!("{:>8} {:>8} {:>10} {:>7} {:>8}", "-", "-", "-", "-", "-"),
        };
        println!(
            "{:>8} | {:>8.2} {:>9.2} {:>6.2} {:>8.0} | {apply}",
            r.n,
            r.noop,
            r.noop_floor,
            r.noop / r.noop_floor,
            r.noop_rss_mb,
        );
        println!(
            "{:>8} |   medians of {} runs; floor = HR fetch {:.2} s + ldapsearch {:.2} s; \
             directory loaded in {:.1} s{}",
            "",
            r.runs,
            r.fetch,
            r.dump,
            r.load,
            match &r.apply {
                Some(a) => format!("; ldapmodify sent {} operations", a.changes),
                None => String::new(),
            }
        );
    }
}

/// The HR pages: before (everyone as in the seed) or after (movers in their new role, leavers
/// terminated).
fn hr_pages(n: usize, after: bool) -> Vec<Vec<u8>> {
    let record = |p: &Person| match (after, p.leaves) {
        (true, true) => record(p, p.role, "Inactive", TERMINATED_ON),
        (true, false) => record(p, p.new_role, "Active", "0000-00-00"),
        (false, _) => record(p, p.role, "Active", "0000-00-00"),
    };
    let mut pages = Vec::new();
    for start in (0..n).step_by(PAGE) {
        let employees: Vec<_> = (start..(start + PAGE).min(n))
            .map(|i| record(&person(i)))
            .collect();
        pages.push(
            serde_json::to_vec(&serde_json::json!({ "total": n, "employees": employees }))
                .unwrap_or_default(),
        );
    }
    pages
}

struct Measured {
    seconds: f64,
    rss_mb: f64,
    code: Option<i32>,
    stdout: Vec<u8>,
}

/// Runs hrsync under /usr/bin/time: wall time (measured here) and peak RSS.
fn hrsync(config: &Path, password: &str, args: &[&str], scratch: &Path) -> Result<Measured> {
    let time_file = scratch.join("time.out");
    // HRSYNC_BENCH_WRAP="perf record -o /tmp/perf.data" profiles every hrsync run (the last
    // one's data is kept).
    let wrap = std::env::var("HRSYNC_BENCH_WRAP").unwrap_or_default();
    // Without /usr/bin/time (only in the quick `cargo test` run) peak memory is not measured.
    let timed = Path::new(TIME).exists();
    let mut command = if timed {
        let mut command = Command::new(TIME);
        command.arg("-f").arg("%M").arg("-o").arg(&time_file);
        command.args(wrap.split_whitespace());
        command
    } else {
        let _ = std::fs::write(&time_file, "0\n");
        Command::new(wrap.split_whitespace().next().unwrap_or("env"))
    };
    if !timed {
        command.args(wrap.split_whitespace().skip(1));
    }
    let started = Instant::now();
    let out = command
        .arg(env!("CARGO_BIN_EXE_hrsync"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env(PASSWORD_ENV, password)
        .env(
            "RUST_LOG",
            std::env::var("HRSYNC_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("running hrsync: {e}"))?;
    let seconds = started.elapsed().as_secs_f64();
    if std::env::var_os("HRSYNC_BENCH_LOG").is_some() {
        let _ = std::io::stderr().write_all(&out.stderr);
    }
    let time = std::fs::read_to_string(&time_file).map_err(|e| e.to_string())?;
    let kb: f64 = time
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .next_back()
        .ok_or_else(|| format!("no RSS in /usr/bin/time output: {time}"))?;
    if out.status.code() == Some(1) {
        return Err(format!(
            "hrsync {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(Measured {
        seconds,
        rss_mb: kb / 1024.0,
        code: out.status.code(),
        stdout: out.stdout,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

// --- the directory under test -------------------------------------------------------------

/// A loaded directory server of one kind, stopped (and removed) when dropped.
struct Server {
    kind: Kind,
    url: String,
    bind_dn: String,
    password: String,
    /// The CA of an LDAPS server (Samba).
    ca_file: Option<PathBuf>,
    dir: PathBuf,
    load: f64,
    _handle: Handle,
}

#[allow(dead_code)] // held for their Drop
enum Handle {
    Slapd(Slapd),
    Ds389(ds389::Ds389),
    Samba(samba::Samba),
}

impl Server {
    fn write_seed(kind: Kind, path: &Path, n: usize) -> Result<()> {
        match kind {
            Kind::Slapd => write_seed(path, n, None),
            Kind::Ds389 => ds389::write_seed(path, n),
            Kind::Samba => samba::write_seed(path, n),
        }
    }

    fn start(kind: Kind, dir: &Path, seed: &Path, index_lock: bool) -> Result<Server> {
        let started = Instant::now();
        Ok(match kind {
            Kind::Slapd => {
                let s = Slapd::start(dir, seed)?;
                Server {
                    kind,
                    url: s.url.clone(),
                    bind_dn: format!("cn=admin,{SUFFIX}"),
                    password: s.password.clone(),
                    ca_file: None,
                    dir: dir.to_path_buf(),
                    load: started.elapsed().as_secs_f64(),
                    _handle: Handle::Slapd(s),
                }
            }
            Kind::Ds389 => {
                let s = ds389::Ds389::start(dir, seed, &[], index_lock)?;
                Server {
                    kind,
                    url: s.url.clone(),
                    bind_dn: ds389::ADMIN_DN.into(),
                    password: s.password.clone(),
                    ca_file: None,
                    dir: dir.to_path_buf(),
                    load: s.load_seconds,
                    _handle: Handle::Ds389(s),
                }
            }
            Kind::Samba => {
                let s = samba::Samba::start(dir, seed)?;
                Server {
                    kind,
                    url: s.url.clone(),
                    bind_dn: samba::ADMIN_UPN.into(),
                    password: s.password.clone(),
                    ca_file: Some(s.ca_file.clone()),
                    dir: dir.to_path_buf(),
                    load: s.load_seconds,
                    _handle: Handle::Samba(s),
                }
            }
        })
    }

    /// hrsync's configuration for this server, with `page` as its page size.
    fn write_config(&self, work: &Path, hr_port: u16, page: usize) -> Result<PathBuf> {
        let page = if page == 0 { 100_000 } else { page };
        let (url, bind_dn) = (&self.url, &self.bind_dn);
        let common = format!(
            "url = \"{url}\"\nbind_dn = \"{bind_dn}\"\nbind_password = {{ env = \"{PASSWORD_ENV}\" }}\n\
             page_size = {page}\n"
        );
        match self.kind {
            Kind::Slapd => write_config_with(
                work,
                hr_port,
                &ldap_mappings(true),
                &format!(
                    "[directory]\nflavour = \"openldap\"\n{common}users_base = \"{SUFFIX}\"\n\n\
                     [directory.openldap]\ndisable_method = \"ppolicy_lock\"\n\
                     password_policy = \"cn=default,ou=policies,{SUFFIX}\"\n"
                ),
            ),
            // Plugins off as 389 ships them: hrsync rewrites a mover's member values itself.
            Kind::Ds389 => write_config_with(
                work,
                hr_port,
                &ldap_mappings(false),
                &format!(
                    "[directory]\nflavour = \"389ds\"\n{common}users_base = \"{SUFFIX}\"\n\n\
                     [directory.389ds]\nmember_values_follow_renames = false\n"
                ),
            ),
            Kind::Samba => write_config_with(
                work,
                hr_port,
                &samba::mappings(),
                &format!(
                    "[directory]\nflavour = \"active_directory\"\n{common}users_base = \"{}\"\n\
                     ca_file = \"{}\"\n\n[directory.active_directory]\nmember_range_size = 1500\n",
                    samba::COMPANY,
                    self.ca_file
                        .as_deref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ),
            ),
        }
    }

    fn base(&self) -> &'static str {
        match self.kind {
            Kind::Samba => samba::COMPANY,
            _ => SUFFIX,
        }
    }

    /// The users' filter and the attributes hrsync reads of them (its mappings' attributes,
    /// the correlation and the lock).
    fn users(&self) -> (&'static str, &'static [&'static str]) {
        match self.kind {
            Kind::Slapd => (
                "(objectClass=inetOrgPerson)",
                &[
                    "uid",
                    "cn",
                    "sn",
                    "givenName",
                    "mail",
                    "title",
                    "employeeNumber",
                    "pwdAccountLockedTime",
                ],
            ),
            Kind::Ds389 => (
                "(objectClass=inetOrgPerson)",
                &[
                    "uid",
                    "cn",
                    "sn",
                    "givenName",
                    "mail",
                    "title",
                    "employeeNumber",
                    "nsAccountLock",
                ],
            ),
            Kind::Samba => (
                "(&(objectCategory=person)(objectClass=user))",
                &[
                    "cn",
                    "sAMAccountName",
                    "userPrincipalName",
                    "givenName",
                    "sn",
                    "mail",
                    "title",
                    "employeeID",
                    "userAccountControl",
                ],
            ),
        }
    }

    fn groups_filter(&self) -> &'static str {
        match self.kind {
            Kind::Samba => "(objectClass=group)",
            _ => "(objectClass=groupOfNames)",
        }
    }

    /// An LDAP client tool bound as the administrator.
    fn tool(&self, tool: &str) -> Result<Command> {
        let password = password_file(&self.dir, &self.password)?;
        let mut command = Command::new(tool);
        match &self.ca_file {
            // Not LDAPNOINIT: it would make libldap ignore LDAPTLS_* too.
            Some(ca) => command
                .env("LDAPCONF", "/dev/null")
                .env("LDAPTLS_CACERT", ca)
                .env("LDAPTLS_REQCERT", "demand"),
            None => command.env("LDAPNOINIT", "1"),
        };
        command
            .args(["-x", "-H", &self.url, "-D", &self.bind_dn])
            .arg("-y")
            .arg(password);
        Ok(command)
    }

    /// `ldapsearch` of the whole base: paged by `page` (0: unpaged), output to `out`.
    fn search(&self, filter: &str, attrs: &[&str], page: usize, out: Stdio) -> Result<Command> {
        let mut command = self.tool("ldapsearch")?;
        command.args(["-LLL", "-o", "ldif-wrap=no", "-b", self.base()]);
        if page > 0 {
            command.args(["-E", &format!("pr={page}/noprompt")]);
        }
        command.arg(filter).args(attrs).stdout(out);
        Ok(command)
    }

    fn stop(self) {}
}

// --- floors -------------------------------------------------------------------------------

/// The HR half of the no-op floor: the same pages over one keep-alive connection, bodies read
/// but not parsed.
async fn fetch_pages(port: u16, n: usize) -> Result<f64> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut bytes = 0usize;
    for start in (0..n).step_by(PAGE) {
        let body = client
            .get(format!(
                "http://127.0.0.1:{port}/employees?offset={start}&limit={PAGE}"
            ))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| e.to_string())?
            .bytes()
            .await
            .map_err(|e| e.to_string())?;
        bytes += body.len();
    }
    if bytes == 0 {
        return Err("the HR API served nothing".into());
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The directory half of the no-op floor: ldapsearch dumping users and groups, paged.
fn dump(server: &Server, page: usize) -> Result<f64> {
    let (users, attrs) = server.users();
    let started = Instant::now();
    for (filter, attrs) in [(users, attrs), (server.groups_filter(), &["member"][..])] {
        let status = server
            .search(filter, attrs, page, Stdio::null())?
            .status()
            .map_err(|e| format!("ldapsearch: {e}"))?;
        if !status.success() {
            return Err(format!("ldapsearch {filter} failed: {status}"));
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

/// ldapmodify applying the plan's LDIF, one operation per record.
fn ldapmodify(server: &Server, ldif: &Path) -> Result<f64> {
    let mut command = server.tool("ldapmodify")?;
    let started = Instant::now();
    let status = command
        .arg("-f")
        .arg(ldif)
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("ldapmodify: {e}"))?;
    if !status.success() {
        return Err(format!("ldapmodify failed: {status}"));
    }
    Ok(started.elapsed().as_secs_f64())
}

// --- the check ----------------------------------------------------------------------------

type Entries = Vec<(String, BTreeMap<String, Vec<String>>)>;

/// The entries `filter` finds, with `attrs` (lower-case names), read with ldapsearch.
fn entries(server: &Server, filter: &str, attrs: &[&str]) -> Result<Entries> {
    let out = server
        .search(filter, attrs, PAGE, Stdio::piped())?
        .output()
        .map_err(|e| format!("ldapsearch: {e}"))?;
    if !out.status.success() {
        return Err(format!("ldapsearch {filter} failed: {}", out.status));
    }
    let mut found: Entries = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(": ") else {
            return Err(format!("unexpected ldapsearch output (base64?): {line}"));
        };
        if name == "dn" {
            found.push((value.to_string(), BTreeMap::new()));
        } else if let Some((_, attributes)) = found.last_mut() {
            // `member;range=0-*` is member.
            let name = name.split(';').next().unwrap_or(name).to_ascii_lowercase();
            attributes.entry(name).or_default().push(value.to_string());
        }
    }
    Ok(found)
}

/// Every account and group against the expected state after the changes.
fn check(server: &Server, n: usize) -> Result<()> {
    use std::collections::BTreeSet;
    let (users, _) = server.users();
    let (id_attr, lock_attr) = match server.kind {
        Kind::Slapd => ("employeenumber", "pwdaccountlockedtime"),
        Kind::Ds389 => ("employeenumber", "nsaccountlock"),
        Kind::Samba => ("employeeid", "useraccountcontrol"),
    };
    let locked = |values: Option<&Vec<String>>| {
        let value = values.and_then(|v| v.first()).map(String::as_str);
        match server.kind {
            Kind::Slapd => value == Some("000001010000Z"),
            Kind::Ds389 => value.is_some_and(|v| v.eq_ignore_ascii_case("true")),
            Kind::Samba => value
                .and_then(|v| v.parse::<u32>().ok())
                .is_some_and(|uac| uac & 2 != 0),
        }
    };
    let accounts = entries(server, users, &[id_attr, "title", lock_attr])?;
    let groups = entries(server, server.groups_filter(), &["member"])?;

    let norm = |dn: &str| dn.to_ascii_lowercase().replace(", ", ",");
    let mut found: BTreeMap<String, (String, Option<String>, bool)> = BTreeMap::new();
    for (dn, attrs) in accounts {
        let first = |a: &str| attrs.get(a).and_then(|v| v.first()).cloned();
        let Some(id) = first(id_attr) else {
            continue; // Samba's own accounts (Administrator, krbtgt) are not under the base.
        };
        found.insert(
            id,
            (norm(&dn), first("title"), locked(attrs.get(lock_attr))),
        );
    }
    let group_dn = |role: usize| match server.kind {
        Kind::Samba => samba::group_dn(role),
        _ => company::group_dn(role),
    };
    let mut members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (dn, attrs) in groups {
        members.insert(
            norm(&dn),
            attrs
                .get("member")
                .map(|v| v.iter().map(|m| norm(m)).collect())
                .unwrap_or_default(),
        );
    }
    let mut expected_members: BTreeMap<String, BTreeSet<String>> = (0..ROLES)
        .map(|r| (norm(&group_dn(r)), BTreeSet::new()))
        .collect();
    let mut problems = Vec::new();
    if found.len() != n {
        problems.push(format!("{} accounts, expected {n}", found.len()));
    }
    for i in 0..n {
        let p = person(i);
        let dn = match (server.kind, p.leaves) {
            (Kind::Samba, true) => format!("CN={},{}", samba::cn(&p), samba::disabled()),
            (Kind::Samba, false) => samba::user_dn(&p),
            (_, true) => format!("uid={},{DISABLED}", p.uid()),
            (_, false) => p.dn(),
        };
        let (dn, role) = (norm(&dn), if p.leaves { p.role } else { p.new_role });
        if !p.leaves {
            if let Some(m) = expected_members.get_mut(&norm(&group_dn(role))) {
                m.insert(dn.clone());
            }
        }
        let expected = (dn, Some(title(role)), p.leaves);
        match found.get(&p.id) {
            Some(actual) if *actual == expected => {}
            actual => problems.push(format!("{}: {actual:?}, expected {expected:?}", p.id)),
        }
    }
    if members != expected_members {
        for (group, expected) in &expected_members {
            let actual = members.get(group).cloned().unwrap_or_default();
            if &actual != expected {
                problems.push(format!(
                    "{group}: {} members, expected {}; extra {:?}, missing {:?}",
                    actual.len(),
                    expected.len(),
                    actual.difference(expected).take(3).collect::<Vec<_>>(),
                    expected.difference(&actual).take(3).collect::<Vec<_>>()
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        let count = problems.len();
        problems.truncate(10);
        Err(format!(
            "{count} difference(s) from the expected state:\n  {}",
            problems.join("\n  ")
        ))
    }
}

// --- one size -----------------------------------------------------------------------------

fn show(out: &[u8], lines: usize) -> String {
    String::from_utf8_lossy(out)
        .lines()
        .take(lines)
        .collect::<Vec<_>>()
        .join("\n")
}

fn scenario(
    opts: &Options,
    n: usize,
    hr: &HrApi,
    hr_port: u16,
    runtime: &tokio::runtime::Runtime,
) -> Result<Row> {
    let temp = tempfile::Builder::new()
        .prefix("hrsync-bench-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    // HRSYNC_BENCH_KEEP=1 keeps the scenario's files (data, LDIF, config) for a look afterwards.
    let work = if std::env::var_os("HRSYNC_BENCH_KEEP").is_some() {
        let kept = temp.keep();
        eprintln!("keeping {}", kept.display());
        kept
    } else {
        temp.path().to_path_buf()
    };
    let work = work.as_path();
    let kind = opts.kind;
    let seed = work.join("seed.ldif");
    Server::write_seed(kind, &seed, n)?;
    let before = hr_pages(n, false);
    let after = hr_pages(n, true);

    let server = Server::start(kind, &work.join("server-hrsync"), &seed, opts.index_lock)?;
    let config = server.write_config(work, hr_port, opts.page)?;
    hr.set(before, n);

    // 1. No-op plan against its floor.
    let warm = hrsync(
        &config,
        &server.password,
        &["plan", "--detailed-exitcode"],
        work,
    )?;
    if warm.code != Some(0) {
        return Err(format!(
            "the no-op plan is not empty (exit {:?}):\n{}",
            warm.code,
            show(&warm.stdout, 30)
        ));
    }
    // A first dump too: the server's caches warm for both sides alike.
    dump(&server, opts.page)?;
    // HRSYNC_BENCH_HOLD=1 keeps the no-op scenario up for profiling by hand: it prints how to
    // run hrsync against it and waits until killed.
    if std::env::var_os("HRSYNC_BENCH_HOLD").is_some() {
        let password = password_file(&server.dir, &server.password)?;
        eprintln!(
            "holding {} at {}; run\n  {PASSWORD_ENV}=$(cat {}) {} --config {} plan",
            kind.name(),
            server.url,
            password.display(),
            env!("CARGO_BIN_EXE_hrsync"),
            config.display()
        );
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    let runs = opts.runs.unwrap_or(if n <= 20_000 { 5 } else { 3 });
    let (mut noop, mut rss, mut fetch, mut dumps) = (vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        let m = hrsync(
            &config,
            &server.password,
            &["plan", "--detailed-exitcode"],
            work,
        )?;
        if m.code != Some(0) {
            return Err(format!("no-op plan exit {:?}", m.code));
        }
        noop.push(m.seconds);
        rss.push(m.rss_mb);
        fetch.push(runtime.block_on(fetch_pages(hr_port, n))?);
        dumps.push(dump(&server, opts.page)?);
    }
    let round = |v: &[f64]| {
        v.iter()
            .map(|s| format!("{s:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    eprintln!(
        "no-op plan {:.2} s (runs {}), ldapsearch {:.2} s (runs {}), HR fetch {:.2} s",
        median(noop.clone()),
        round(&noop),
        median(dumps.clone()),
        round(&dumps),
        median(fetch.clone()),
    );
    let (fetch, dump_s) = (median(fetch), median(dumps));
    let mut row = Row {
        n,
        runs,
        noop: median(noop),
        noop_floor: fetch + dump_s,
        fetch,
        dump: dump_s,
        noop_rss_mb: rss.into_iter().fold(0.0, f64::max),
        load: server.load,
        apply: None,
    };
    if !opts.apply {
        return Ok(row);
    }

    // 2. The change set: its LDIF (one record per operation), then hrsync apply.
    hr.set(after, n);
    let ldif = work.join("changes.ldif");
    let planned = hrsync(
        &config,
        &server.password,
        &["plan", "--format", "ldif"],
        work,
    )?;
    std::fs::write(&ldif, &planned.stdout).map_err(|e| e.to_string())?;
    let operations = String::from_utf8_lossy(&planned.stdout)
        .lines()
        .filter(|l| l.starts_with("changetype:"))
        .count();
    let expected_ops = n / 10 * 3 + n / 100 * 3;
    if operations != expected_ops {
        return Err(format!(
            "the plan has {operations} operations, expected {expected_ops}"
        ));
    }
    let applied = hrsync(&config, &server.password, &["apply"], work)?;
    if applied.code != Some(0) {
        return Err(format!(
            "apply exit {:?}:\n{}",
            applied.code,
            String::from_utf8_lossy(&applied.stdout)
                .lines()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    eprintln!("hrsync apply {:.2} s", applied.seconds);
    let again = hrsync(
        &config,
        &server.password,
        &["plan", "--detailed-exitcode"],
        work,
    )?;
    if again.code != Some(0) {
        return Err(format!(
            "after apply, plan still has changes (exit {:?}):\n{}",
            again.code,
            show(&again.stdout, 30)
        ));
    }
    check(&server, n).map_err(|e| format!("after hrsync apply: {e}"))?;
    server.stop();

    // The same changes with ldapmodify on a server loaded from the same data.
    let floor = Server::start(
        kind,
        &work.join("server-ldapmodify"),
        &seed,
        opts.index_lock,
    )?;
    let ldapmodify_s = ldapmodify(&floor, &ldif)?;
    eprintln!("ldapmodify {ldapmodify_s:.2} s for {operations} operations");
    check(&floor, n).map_err(|e| format!("after ldapmodify: {e}"))?;
    floor.stop();

    row.apply = Some(Applied {
        changes: operations,
        apply: applied.seconds,
        ldapmodify: ldapmodify_s,
        rss_mb: applied.rss_mb,
    });
    Ok(row)
}
