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

// Each benchmark uses its own part of the company.
#[allow(dead_code)]
mod company;

use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use company::*;

const TIME: &str = "/usr/bin/time";

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
    write_seed(&seed, n, None)?;
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
