//! Event benchmark: `cargo bench --bench events` (optionally `-- 10000` for another size; the
//! default is 100,000 employees). How long a leaver keeps access after HR records the
//! termination, when HR tells hrsync by webhook.
//!
//! It builds the company of the `scale` benchmark on loopback (a slapd with N accounts, each
//! with a password, and 200 role groups; the HR API in this process), starts the release build
//! of `hrsync run` with an events listener for BambooHR webhooks (plain HTTP on loopback), and
//! measures:
//! 1. 100 terminations one at a time: HR's record of the person turns terminated, a signed
//!    BambooHR webhook naming them is POSTed, and the clock runs from the POST until
//!    `ldapwhoami` as that person fails (result 49); p50, p99 and the maximum;
//! 2. a burst of 1,000 terminations, their webhooks POSTed 50 at a time: until every one of the
//!    1,000 has been answered, and until every one of them fails to bind.
//!
//! Each person is checked to bind before their termination, so a failed bind is the lock and
//! nothing else. Without `--bench` (the test suite's `cargo test --all-targets`) it runs at
//! 1,000 employees with 5 and 20 events: the benchmark and its checks still work.

// Each benchmark uses its own part of the company.
#[allow(dead_code)]
mod company;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use company::*;

/// Every account's password: the bind that must stop working.
const USER_PASSWORD: &str = "Bench-Leaver-9";
const WEBHOOK_SECRET_ENV: &str = "HRSYNC_BENCH_WEBHOOK_SECRET";
const WEBHOOK_SECRET: &str = "bench-webhook-secret-0123456789";
/// How long one termination may take before the benchmark gives up on it.
const GIVE_UP: Duration = Duration::from_secs(120);

struct Sizes {
    employees: usize,
    one_at_a_time: usize,
    burst: usize,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let benchmarking = args.iter().any(|a| a == "--bench");
    let employees = args
        .iter()
        .find_map(|a| a.replace('_', "").parse().ok())
        .unwrap_or(if benchmarking { 100_000 } else { 1_000 });
    let sizes = if benchmarking {
        Sizes {
            employees,
            one_at_a_time: 100,
            burst: 1_000,
        }
    } else {
        Sizes {
            employees,
            one_at_a_time: 5,
            burst: 20,
        }
    };
    match run(&sizes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(sizes: &Sizes) -> Result<()> {
    if sizes.one_at_a_time + sizes.burst + 1 > sizes.employees / 2 {
        return Err(format!(
            "{} employees are too few for {} + {} terminations",
            sizes.employees, sizes.one_at_a_time, sizes.burst
        ));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let hr = Arc::new(HrApi::default());
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| format!("HR server: {e}"))?;
    let hr_port = listener.local_addr().map_err(|e| e.to_string())?.port();
    runtime.spawn(serve(listener, hr.clone()));

    let temp = tempfile::Builder::new()
        .prefix("hrsync-events-bench-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let work = temp.path();
    let n = sizes.employees;
    eprintln!("== {n} employees");
    let seed = work.join("seed.ldif");
    write_seed(&seed, n, Some(USER_PASSWORD))?;
    let slapd = Slapd::start(&work.join("slapd"), &seed)?;
    let events_port = free_port()?;
    let config = events_config(work, &slapd.url, hr_port, events_port)?;
    let daemon = Daemon::start(&config, &slapd.password, work)?;
    wait_for_listener(events_port)?;

    // The people who leave: never ones the `scale` company moves or lets go, spread over the
    // roles; the first one warms the path up and is not counted.
    let mut leavers = (0..n)
        .map(person)
        .filter(|p| !p.leaves && p.new_role == p.role);
    let mut next = |count: usize| -> Vec<Person> { leavers.by_ref().take(count).collect() };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("http://127.0.0.1:{events_port}/events/bamboohr");

    for p in next(1) {
        terminate_one(&runtime, &client, &url, &hr, &slapd, &p)?;
    }
    let mut latencies = Vec::new();
    for p in next(sizes.one_at_a_time) {
        latencies.push(terminate_one(&runtime, &client, &url, &hr, &slapd, &p)?);
    }
    latencies.sort_by(f64::total_cmp);
    let burst = next(sizes.burst);
    let (answered, locked) = terminate_burst(&runtime, &client, &url, &hr, &slapd, &burst)?;
    daemon.stop()?;

    println!();
    println!("Final results ({n} employees, 200 groups, slapd on loopback, HR API in process):");
    println!(
        "  {} terminations one at a time, webhook POSTed -> ldapwhoami fails: \
         p50 {:.3} s, p99 {:.3} s, max {:.3} s",
        latencies.len(),
        percentile(&latencies, 50),
        percentile(&latencies, 99),
        latencies.last().copied().unwrap_or_default(),
    );
    println!(
        "  burst of {}: every webhook answered after {answered:.3} s, every one of them \
         locked out after {locked:.3} s",
        burst.len()
    );
    Ok(())
}

/// The value at `pct` percent of sorted `values` (nearest rank).
fn percentile(sorted: &[f64], pct: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (pct * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// One termination: HR's record turns terminated, the webhook goes out, and the clock stops
/// when the person's bind fails.
fn terminate_one(
    runtime: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    url: &str,
    hr: &HrApi,
    slapd: &Slapd,
    p: &Person,
) -> Result<f64> {
    if !can_bind(slapd, &p.dn())? {
        return Err(format!("{} cannot bind before their termination", p.dn()));
    }
    hr.set_one(&p.id, &record(p, p.role, "Inactive", TERMINATED_ON));
    let started = Instant::now();
    runtime.block_on(post(client, url, std::slice::from_ref(p)))?;
    wait_locked(slapd, p, started)?;
    Ok(started.elapsed().as_secs_f64())
}

/// A burst: every record turns terminated, the webhooks go out 50 at a time; how long until
/// all were answered, and until none of the people can bind.
fn terminate_burst(
    runtime: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    url: &str,
    hr: &HrApi,
    slapd: &Slapd,
    people: &[Person],
) -> Result<(f64, f64)> {
    use futures::StreamExt;
    for p in people.iter().step_by(people.len().div_ceil(10).max(1)) {
        if !can_bind(slapd, &p.dn())? {
            return Err(format!("{} cannot bind before their termination", p.dn()));
        }
    }
    for p in people {
        hr.set_one(&p.id, &record(p, p.role, "Inactive", TERMINATED_ON));
    }
    let started = Instant::now();
    runtime.block_on(async {
        let posts = people
            .iter()
            .map(|p| post(client, url, std::slice::from_ref(p)));
        let mut posts = futures::stream::iter(posts).buffer_unordered(50);
        while let Some(answer) = posts.next().await {
            answer?;
        }
        Ok::<_, String>(())
    })?;
    let answered = started.elapsed().as_secs_f64();
    for p in people {
        wait_locked(slapd, p, started)?;
    }
    Ok((answered, started.elapsed().as_secs_f64()))
}

/// POSTs a BambooHR webhook naming `people`, signed as BambooHR signs: HMAC-SHA256 over the
/// body followed by the timestamp, hex, in `X-BambooHR-Signature`.
async fn post(client: &reqwest::Client, url: &str, people: &[Person]) -> Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs()
        .to_string();
    let employees: Vec<_> = people
        .iter()
        .map(|p| {
            serde_json::json!({
                "id": p.id,
                "action": "Updated",
                "changedFields": ["Status"],
                "fields": { "Status": "Inactive" },
            })
        })
        .collect();
    let body = serde_json::to_vec(&serde_json::json!({ "employees": employees }))
        .map_err(|e| e.to_string())?;
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, WEBHOOK_SECRET.as_bytes());
    let mut signed = body.clone();
    signed.extend_from_slice(now.as_bytes());
    let signature: String = aws_lc_rs::hmac::sign(&key, &signed)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-bamboohr-timestamp", &now)
        .header("x-bamboohr-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    if response.status() != reqwest::StatusCode::ACCEPTED {
        return Err(format!(
            "the webhook was answered {}, not 202 Accepted",
            response.status()
        ));
    }
    Ok(())
}

/// Waits until `p` can no longer bind.
fn wait_locked(slapd: &Slapd, p: &Person, since: Instant) -> Result<()> {
    while can_bind(slapd, &p.dn())? {
        if since.elapsed() > GIVE_UP {
            return Err(format!(
                "{} could still bind {} s after their termination's webhook",
                p.dn(),
                GIVE_UP.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Whether `dn` binds with the people's password: `ldapwhoami` exits 0, or 49 (invalid
/// credentials, which is also what ppolicy answers for a locked account). Anything else is an
/// error, so that a server gone away never reads as a lock.
fn can_bind(slapd: &Slapd, dn: &str) -> Result<bool> {
    let out = Command::new("ldapwhoami")
        .env("LDAPNOINIT", "1")
        .args(["-x", "-H", &slapd.url, "-D", dn, "-w", USER_PASSWORD])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("ldapwhoami: {e}"))?;
    match out.status.code() {
        Some(0) => Ok(true),
        Some(49) => Ok(false),
        _ => Err(format!(
            "ldapwhoami as {dn}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// The `scale` configuration with the events listener and a schedule that does not come due
/// during the benchmark: every change is the webhooks' doing.
fn events_config(work: &Path, ldap_url: &str, hr_port: u16, events_port: u16) -> Result<PathBuf> {
    let config = write_config(work, ldap_url, hr_port)?;
    let base = std::fs::read_to_string(&config).map_err(|e| e.to_string())?;
    let records = "records = \"/employees\"\n";
    if !base.contains(records) {
        return Err("the configuration has no [hr.rest] records".into());
    }
    let base = base.replacen(
        records,
        &format!("{records}employee_url = \"http://127.0.0.1:{hr_port}/employees/{{id}}\"\n"),
        1,
    );
    let (before_limits, limits) = base
        .split_once("[limits]")
        .ok_or("the configuration has no [limits]")?;
    let text = format!(
        r#"{before_limits}[schedule]
cron = "0 0 0 1 1 *"

[events]
listen = "127.0.0.1:{events_port}"
max_disables = 100000

[[events.source]]
name = "bamboohr"
kind = "bamboohr"
secret = {{ env = "{WEBHOOK_SECRET_ENV}" }}

[limits]{limits}"#
    );
    std::fs::write(&config, text).map_err(|e| e.to_string())?;
    Ok(config)
}

/// `hrsync run`, stopped (SIGTERM) and waited for at the end, killed if dropped before.
struct Daemon(Option<Child>);

impl Daemon {
    fn start(config: &Path, password: &str, work: &Path) -> Result<Daemon> {
        let log = std::fs::File::create(work.join("hrsync.log")).map_err(|e| e.to_string())?;
        let child = Command::new(env!("CARGO_BIN_EXE_hrsync"))
            .arg("--config")
            .arg(config)
            .arg("run")
            .env(PASSWORD_ENV, password)
            .env(WEBHOOK_SECRET_ENV, WEBHOOK_SECRET)
            .env(
                "RUST_LOG",
                std::env::var("HRSYNC_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("hrsync run: {e}"))?;
        Ok(Daemon(Some(child)))
    }

    fn stop(mut self) -> Result<()> {
        let Some(mut child) = self.0.take() else {
            return Ok(());
        };
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let status = child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("hrsync run ended with {status}"));
        }
        Ok(())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits for the events listener to take connections.
fn wait_for_listener(port: u16) -> Result<()> {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!(
                "hrsync run did not listen on 127.0.0.1:{port} within 30 s"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
