//! Company-scale benchmark: `cargo bench --bench scale` (optionally `-- 10000 50000` for other
//! sizes; the default runs 10,000, 50,000 and 100,000 employees).
//!
//! For each size N it builds the whole scenario itself, on loopback only:
//! - an HR API (a small HTTP/1.1 server in this process) serving N BambooHR-shaped records in
//!   offset pages of 1,000 with a total;
//! - a slapd (tests/slapd/start-slapd.sh, slapd log off) loaded with `slapadd` with the matching N
//!   accounts and 200 role groups (`Role 017` -> `cn=role-017`, N/200 members each);
//!
//! and measures, with the release build of `hrsync` run as a subprocess under /usr/bin/time:
//! 1. a no-op `hrsync plan` against its floor: the same HR pages fetched with a plain HTTP client
//!    (reqwest, bodies not parsed) plus `ldapsearch` dumping the users and the groups (paged);
//! 2. `hrsync apply` of N/10 movers (new role: title change, one group for another) and N/100
//!    leavers (locked, out of their group, moved to ou=disabled) against `ldapmodify` applying
//!    the same changes one LDAP operation per change (the LDIF of `hrsync plan --format ldif`,
//!    which is one record per step) on a second slapd loaded from the same data;
//! 3. peak RSS of hrsync for each (`/usr/bin/time -f %M`).
//!
//! After the apply, `hrsync plan` must report no changes, and every account and group of both
//! servers (hrsync's and ldapmodify's) is compared with the expected state; any difference
//! fails the benchmark. Times are the median of three runs for the no-op and its floor, one run
//! for the applies (each needs a freshly loaded server).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PAGE: usize = 1_000;
const ROLES: usize = 200;
const SUFFIX: &str = "dc=example,dc=org";
const PEOPLE: &str = "ou=people,dc=example,dc=org";
const DISABLED: &str = "ou=disabled,dc=example,dc=org";
const GROUPS: &str = "ou=groups,dc=example,dc=org";
const PASSWORD_ENV: &str = "HRSYNC_BENCH_BIND_PASSWORD";
const TERMINATED_ON: &str = "2024-01-31";
const TIME: &str = "/usr/bin/time";

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; anything numeric is a size. Without `--bench` this is
    // `cargo test --all-targets` (tests/run.sh): a quick run at 1,000 employees proves that the
    // benchmark and its end-state check still work, without the minutes the real sizes take.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let benchmarking = args.iter().any(|a| a == "--bench");
    let mut sizes: Vec<usize> = args
        .iter()
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes = if benchmarking {
            vec![10_000, 50_000, 100_000]
        } else {
            vec![1_000]
        };
    }
    if benchmarking && !Path::new(TIME).exists() {
        eprintln!("{TIME} is needed to measure peak memory: apt-get install time");
        return ExitCode::FAILURE;
    }
    match run(&sizes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(sizes: &[usize]) -> Result<()> {
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
    for &n in sizes {
        eprintln!("== {n} employees");
        rows.push(scenario(n, &hr, hr_port, &runtime)?);
        print_table(&rows);
    }
    println!();
    println!("Final results:");
    print_table(&rows);
    Ok(())
}

struct Row {
    n: usize,
    noop: f64,
    noop_floor: f64,
    fetch: f64,
    dump: f64,
    noop_rss_mb: f64,
    changes: usize,
    apply: f64,
    ldapmodify: f64,
    ldapmodify_ops: usize,
    apply_rss_mb: f64,
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
        println!(
            "{:>8} | {:>8.2} {:>9.2} {:>6.2} {:>8.0} | {:>8} {:>8.2} {:>10.2} {:>6.1}x {:>8.0}",
            r.n,
            r.noop,
            r.noop_floor,
            r.noop / r.noop_floor,
            r.noop_rss_mb,
            r.changes,
            r.apply,
            r.ldapmodify,
            r.ldapmodify / r.apply,
            r.apply_rss_mb
        );
        println!(
            "{:>8} |   floor = HR fetch {:.2} s + ldapsearch {:.2} s; ldapmodify sent {} operations",
            "", r.fetch, r.dump, r.ldapmodify_ops
        );
    }
}

// --- the company --------------------------------------------------------------------------

/// Employee `i` (0-based): id, names, role before and after, and whether they leave.
struct Person {
    id: String,
    first: String,
    last: String,
    role: usize,
    new_role: usize,
    leaves: bool,
}

fn person(i: usize) -> Person {
    let role = i % ROLES;
    // One in ten moves to another role, one in a hundred leaves (never both): exactly N/10 and
    // N/100 for N a multiple of 200, spread so that no group loses more than 11 of its members.
    let k = (i / ROLES * 37 + i) % 100;
    let moves = k < 10;
    Person {
        id: format!("{:07}", i + 1),
        first: format!("F{i}"),
        last: format!("L{i}"),
        role,
        new_role: if moves { (role + 7) % ROLES } else { role },
        leaves: k == 10,
    }
}

impl Person {
    fn uid(&self) -> String {
        format!("{}.{}", self.first, self.last).to_lowercase()
    }
    fn dn(&self) -> String {
        format!("uid={},{PEOPLE}", self.uid())
    }
    fn mail(&self) -> String {
        format!("{}@example.org", self.uid())
    }
}

fn title(role: usize) -> String {
    format!("Role {role:03}")
}

fn group_dn(role: usize) -> String {
    format!("cn=role-{role:03},{GROUPS}")
}

/// The directory before any change: every account active in its role's group.
fn write_seed(path: &Path, n: usize) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = BufWriter::new(file);
    let mut members: Vec<Vec<String>> = vec![Vec::new(); ROLES];
    let io = |e: std::io::Error| e.to_string();
    for i in 0..n {
        let p = person(i);
        writeln!(
            out,
            "dn: {}\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\n\
             objectClass: inetOrgPerson\nuid: {}\ncn: {} {}\nsn: {}\ngivenName: {}\nmail: {}\n\
             title: {}\nemployeeNumber: {}\n",
            p.dn(),
            p.uid(),
            p.first,
            p.last,
            p.last,
            p.first,
            p.mail(),
            title(p.role),
            p.id
        )
        .map_err(io)?;
        members[p.role].push(p.dn());
    }
    for (role, members) in members.iter().enumerate() {
        writeln!(
            out,
            "dn: {}\nobjectClass: groupOfNames\ncn: role-{role:03}",
            group_dn(role)
        )
        .map_err(io)?;
        for m in members {
            writeln!(out, "member: {m}").map_err(io)?;
        }
        writeln!(out).map_err(io)?;
    }
    out.flush().map_err(io)
}

/// The HR pages: before (everyone as in the seed) or after (movers in their new role, leavers
/// terminated).
fn hr_pages(n: usize, after: bool) -> Vec<Vec<u8>> {
    let record = |p: &Person| {
        let (role, status, termination) = match (after, p.leaves) {
            (true, true) => (p.role, "Inactive", TERMINATED_ON),
            (true, false) => (p.new_role, "Active", "0000-00-00"),
            (false, _) => (p.role, "Active", "0000-00-00"),
        };
        serde_json::json!({
            "id": p.id,
            "firstName": p.first,
            "lastName": p.last,
            "workEmail": p.mail(),
            "jobTitle": title(role),
            "department": format!("Department {:02}", role % 20),
            "location": "London",
            "status": status,
            "hireDate": "2020-01-06",
            "terminationDate": termination,
        })
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

// --- the HR API ---------------------------------------------------------------------------

#[derive(Default)]
struct HrApi {
    pages: RwLock<Arc<Vec<Vec<u8>>>>,
    total: RwLock<usize>,
}

impl HrApi {
    fn set(&self, pages: Vec<Vec<u8>>, total: usize) {
        if let Ok(mut p) = self.pages.write() {
            *p = Arc::new(pages);
        }
        if let Ok(mut t) = self.total.write() {
            *t = total;
        }
    }
}

async fn serve(listener: tokio::net::TcpListener, hr: Arc<HrApi>) {
    while let Ok((socket, _)) = listener.accept().await {
        let _ = socket.set_nodelay(true);
        tokio::spawn(connection(socket, hr.clone()));
    }
}

/// HTTP/1.1 with keep-alive, GET only: `?offset=K` gives the page holding record K; past the
/// end, an empty page.
async fn connection(mut socket: tokio::net::TcpStream, hr: Arc<HrApi>) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => buffer.extend_from_slice(&chunk[..read]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
        buffer.drain(..end);
        let target = head.split_whitespace().nth(1).unwrap_or("/");
        let offset: usize = target
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or("")
            .split('&')
            .find_map(|kv| kv.strip_prefix("offset="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let pages = hr.pages.read().map(|p| p.clone()).unwrap_or_default();
        let total = hr.total.read().map(|t| *t).unwrap_or(0);
        let empty;
        let body: &[u8] = match pages.get(offset / PAGE) {
            Some(page) if offset % PAGE == 0 => page,
            _ => {
                empty = format!("{{\"total\":{total},\"employees\":[]}}").into_bytes();
                &empty
            }
        };
        let header = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if socket.write_all(header.as_bytes()).await.is_err()
            || socket.write_all(body).await.is_err()
        {
            return;
        }
    }
}

// --- slapd --------------------------------------------------------------------------------

struct Slapd {
    dir: PathBuf,
    url: String,
    password: String,
}

impl Slapd {
    fn start(dir: &Path, seed: &Path) -> Result<Slapd> {
        let script = repo().join("tests/slapd/start-slapd.sh");
        let out = Command::new(&script)
            .arg(dir)
            .env("SLAPD_LOGLEVEL", "none")
            .env("SEED_LDIF", seed)
            .env("WATCH_PID", std::process::id().to_string())
            .env("START_TIMEOUT", "60")
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("{}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!("start-slapd.sh failed: {}", out.status));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let value = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}='")))
                .and_then(|v| v.strip_suffix('\''))
                .map(str::to_string)
                .ok_or_else(|| format!("start-slapd.sh did not print {key}"))
        };
        Ok(Slapd {
            dir: dir.to_path_buf(),
            url: value("LDAP_URL")?,
            password: value("ADMIN_PASSWORD")?,
        })
    }

    fn password_file(&self) -> Result<PathBuf> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.dir.join("bind-password");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| e.to_string())?;
        file.write_all(self.password.as_bytes())
            .map_err(|e| e.to_string())?;
        Ok(path)
    }

    fn stop(&self) {
        let _ = Command::new(repo().join("tests/slapd/stop-slapd.sh"))
            .arg(&self.dir)
            .status();
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// --- hrsync -------------------------------------------------------------------------------

fn write_config(dir: &Path, ldap_url: &str, hr_port: u16) -> Result<PathBuf> {
    let mappings = dir.join("mappings");
    std::fs::create_dir_all(&mappings).map_err(|e| e.to_string())?;
    let mut rules = String::new();
    for role in 0..ROLES {
        rules.push_str(&format!(
            "[[rule]]\nname = \"role-{role:03}\"\nmatch = {{ title = \"{}\" }}\ngroups = [\"role-{role:03}\"]\n\n",
            title(role)
        ));
    }
    let text = format!(
        r#"[correlation]
attribute = "employeeNumber"

[account]
rdn_attribute = "uid"
object_classes = ["top", "person", "organizationalPerson", "inetOrgPerson"]
default_ou = "{PEOPLE}"
disabled_ou = "{DISABLED}"

[account.attributes]
uid = "{{first_name|lower}}.{{last_name|lower}}"
cn = "{{first_name}} {{last_name}}"
sn = "{{last_name}}"
givenName = "{{first_name}}"
mail = "{{email}}"
title = "{{title}}"

[groups]
base = "{GROUPS}"
empty_group_placeholder = "cn=empty-group-placeholder,{SUFFIX}"
member_attribute = "member"

{rules}"#
    );
    std::fs::write(mappings.join("mappings.toml"), text).map_err(|e| e.to_string())?;
    let config = dir.join("hrsync.toml");
    let big = "{ count = 10000000, percent = 100 }";
    std::fs::write(
        &config,
        format!(
            r#"mappings = "mappings"

[directory]
flavour = "openldap"
url = "{ldap_url}"
bind_dn = "cn=admin,{SUFFIX}"
bind_password = {{ env = "{PASSWORD_ENV}" }}
users_base = "{SUFFIX}"
page_size = {PAGE}

[directory.openldap]
disable_method = "ppolicy_lock"
password_policy = "cn=default,ou=policies,{SUFFIX}"

[hr]
source = "rest"

[hr.rest]
url = "http://127.0.0.1:{hr_port}/employees"
records = "/employees"

[hr.rest.pagination]
type = "offset"
limit = {PAGE}
total_ptr = "/total"

[hr.fields]
id = "$.id"
first_name = "$.firstName"
last_name = "$.lastName"
email = "$.workEmail"
title = "$.jobTitle"
department = "$.department"
location = "$.location"
hire_date = "$.hireDate"
termination_date = "$.terminationDate"

[hr.status]
path = "$.status"
active = ["Active"]
terminated = ["Inactive"]

[limits]
disable = {big}
group_removal = {big}
move = {big}
update = {big}
"#
        ),
    )
    .map_err(|e| e.to_string())?;
    Ok(config)
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
fn dump(slapd: &Slapd) -> Result<f64> {
    let password = slapd.password_file()?;
    let started = Instant::now();
    for (filter, attrs) in [
        (
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
            ][..],
        ),
        ("(objectClass=groupOfNames)", &["member"][..]),
    ] {
        let status = Command::new("ldapsearch")
            .env("LDAPNOINIT", "1")
            .args([
                "-x",
                "-LLL",
                "-H",
                &slapd.url,
                "-D",
                &format!("cn=admin,{SUFFIX}"),
            ])
            .arg("-y")
            .arg(&password)
            .args(["-b", SUFFIX, "-E", &format!("pr={PAGE}/noprompt"), filter])
            .args(attrs)
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("ldapsearch: {e}"))?;
        if !status.success() {
            return Err(format!("ldapsearch {filter} failed: {status}"));
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

/// ldapmodify applying the plan's LDIF, one operation per record.
fn ldapmodify(slapd: &Slapd, ldif: &Path) -> Result<f64> {
    let password = slapd.password_file()?;
    let started = Instant::now();
    let status = Command::new("ldapmodify")
        .env("LDAPNOINIT", "1")
        .args(["-x", "-H", &slapd.url, "-D", &format!("cn=admin,{SUFFIX}")])
        .arg("-y")
        .arg(&password)
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

/// Every account and group against the expected state after the changes.
async fn check(slapd: &Slapd, n: usize) -> Result<()> {
    use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
    use ldap3::{LdapConnAsync, Scope, SearchEntry};
    use std::collections::{BTreeMap, BTreeSet};

    let (conn, mut ldap) = LdapConnAsync::new(&slapd.url)
        .await
        .map_err(|e| e.to_string())?;
    ldap3::drive!(conn);
    ldap.simple_bind(&format!("cn=admin,{SUFFIX}"), &slapd.password)
        .await
        .and_then(|r| r.success())
        .map_err(|e| e.to_string())?;
    let mut search = async |filter: &str, attrs: Vec<&str>| -> Result<Vec<SearchEntry>> {
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(PAGE as i32)),
        ];
        let mut stream = ldap
            .streaming_search_with(adapters, SUFFIX, Scope::Subtree, filter, attrs)
            .await
            .map_err(|e| e.to_string())?;
        let mut entries = Vec::new();
        while let Some(entry) = stream.next().await.map_err(|e| e.to_string())? {
            entries.push(SearchEntry::construct(entry));
        }
        stream.finish().await.success().map_err(|e| e.to_string())?;
        Ok(entries)
    };
    let users = search(
        "(objectClass=inetOrgPerson)",
        vec!["employeeNumber", "title", "pwdAccountLockedTime"],
    )
    .await?;
    let groups = search("(objectClass=groupOfNames)", vec!["member"]).await?;

    let norm = |dn: &str| dn.to_ascii_lowercase().replace(", ", ",");
    let mut found: BTreeMap<String, (String, Option<String>, bool)> = BTreeMap::new();
    for u in users {
        let first = |a: &str| u.attrs.get(a).and_then(|v| v.first()).cloned();
        let id = first("employeeNumber").ok_or_else(|| format!("{} has no id", u.dn))?;
        found.insert(
            id,
            (
                norm(&u.dn),
                first("title"),
                first("pwdAccountLockedTime").as_deref() == Some("000001010000Z"),
            ),
        );
    }
    let mut members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for g in groups {
        members.insert(
            norm(&g.dn),
            g.attrs
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
        let (dn, role, locked) = if p.leaves {
            (norm(&format!("uid={},{DISABLED}", p.uid())), p.role, true)
        } else {
            (norm(&p.dn()), p.new_role, false)
        };
        if !p.leaves {
            if let Some(m) = expected_members.get_mut(&norm(&group_dn(role))) {
                m.insert(dn.clone());
            }
        }
        let expected = (dn, Some(title(role)), locked);
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
    let _ = ldap.unbind().await;
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

fn scenario(n: usize, hr: &HrApi, hr_port: u16, runtime: &tokio::runtime::Runtime) -> Result<Row> {
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
    let seed = work.join("seed.ldif");
    write_seed(&seed, n)?;
    let before = hr_pages(n, false);
    let after = hr_pages(n, true);

    let slapd = Slapd::start(&work.join("slapd-hrsync"), &seed)?;
    let config = write_config(work, &slapd.url, hr_port)?;
    hr.set(before, n);

    // 1. No-op plan against its floor.
    let warm = hrsync(
        &config,
        &slapd.password,
        &["plan", "--detailed-exitcode"],
        work,
    )?;
    if warm.code != Some(0) {
        return Err(format!(
            "the no-op plan is not empty (exit {:?}):\n{}",
            warm.code,
            String::from_utf8_lossy(&warm.stdout)
                .lines()
                .take(30)
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    // HRSYNC_BENCH_HOLD=1 keeps the no-op scenario up for profiling by hand: it prints how to
    // run hrsync against it and waits until killed.
    if std::env::var_os("HRSYNC_BENCH_HOLD").is_some() {
        let password = slapd.password_file()?;
        eprintln!(
            "holding; run\n  {PASSWORD_ENV}=$(cat {}) {} --config {} plan",
            password.display(),
            env!("CARGO_BIN_EXE_hrsync"),
            config.display()
        );
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    let (mut noop, mut rss, mut fetch, mut dumps) = (vec![], vec![], vec![], vec![]);
    for _ in 0..3 {
        let m = hrsync(
            &config,
            &slapd.password,
            &["plan", "--detailed-exitcode"],
            work,
        )?;
        if m.code != Some(0) {
            return Err(format!("no-op plan exit {:?}", m.code));
        }
        noop.push(m.seconds);
        rss.push(m.rss_mb);
        fetch.push(runtime.block_on(fetch_pages(hr_port, n))?);
        dumps.push(dump(&slapd)?);
    }
    let (fetch, dump_s) = (median(fetch), median(dumps));
    eprintln!(
        "no-op plan {:.2} s (runs {noop:?}), floor {:.2} s",
        median(noop.clone()),
        fetch + dump_s
    );

    // 2. The change set: its LDIF (one record per operation), then hrsync apply.
    hr.set(after, n);
    let ldif = work.join("changes.ldif");
    let planned = hrsync(
        &config,
        &slapd.password,
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
    let applied = hrsync(&config, &slapd.password, &["apply"], work)?;
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
        &slapd.password,
        &["plan", "--detailed-exitcode"],
        work,
    )?;
    if again.code != Some(0) {
        return Err(format!(
            "after apply, plan still has changes (exit {:?}):\n{}",
            again.code,
            String::from_utf8_lossy(&again.stdout)
                .lines()
                .take(30)
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    runtime
        .block_on(check(&slapd, n))
        .map_err(|e| format!("after hrsync apply: {e}"))?;
    slapd.stop();
    drop(slapd);

    // The same changes with ldapmodify on a server loaded from the same data.
    let floor = Slapd::start(&work.join("slapd-ldapmodify"), &seed)?;
    let ldapmodify_s = ldapmodify(&floor, &ldif)?;
    eprintln!("ldapmodify {ldapmodify_s:.2} s for {operations} operations");
    runtime
        .block_on(check(&floor, n))
        .map_err(|e| format!("after ldapmodify: {e}"))?;
    drop(floor);

    Ok(Row {
        n,
        noop: median(noop),
        noop_floor: fetch + dump_s,
        fetch,
        dump: dump_s,
        noop_rss_mb: rss.into_iter().fold(0.0, f64::max),
        changes: operations,
        apply: applied.seconds,
        ldapmodify: ldapmodify_s,
        ldapmodify_ops: operations,
        apply_rss_mb: applied.rss_mb,
    })
}
