//! `hrsync run`'s HTTP endpoints under attack: a flood of held connections must not starve the
//! scheduled run or spin a core, and the unauthenticated `/healthz` must not repeat what a
//! server said (an HR error body can echo the bearer token).

#![allow(clippy::panic, clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::scenario::{HR_PATH, HR_TOKEN, Scenario, person};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn daemon_config(s: &Scenario, port: u16) {
    s.write_config_with(
        "",
        &format!(
            "[schedule]\ncron = \"* * * * * *\"\ngrace_secs = 60\n\n\
             [metrics]\nlisten = \"127.0.0.1:{port}\"\n"
        ),
    );
}

/// `hrsync run` with at most `max_files` open file descriptors (`ulimit -n`), as a container or
/// a systemd unit gives it; stderr goes to `run.log` in the work directory.
fn start_run_limited(s: &Scenario, max_files: u32) -> Child {
    let inner = s.command(&["--log-format", "text", "run"]);
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("ulimit -n {max_files} && exec \"$@\""))
        .arg("sh")
        .arg(inner.get_program())
        .args(inner.get_args());
    for (key, value) in inner.get_envs() {
        if let Some(value) = value {
            command.env(key, value);
        }
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(s.work.path().join("run.log")).unwrap())
        .spawn()
        .expect("start hrsync run")
}

/// CPU time the process has used so far (user + system), from /proc.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // The kernel's USER_HZ is 100 on every Linux this runs on.
    Duration::from_millis(ticks * 10)
}

async fn get(url: &str) -> Option<(u16, String)> {
    let response = reqwest::get(url).await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.ok()?))
}

/// Keeps `count` connections to `port` open and idle, opening a new one whenever the server
/// closes one, until `stop` is set: a client holding as many connections as it can.
fn flood(port: u16, count: usize, stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    (0..count)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                use std::io::Read;
                while !stop.load(Ordering::SeqCst) {
                    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    };
                    stream
                        .set_read_timeout(Some(Duration::from_millis(500)))
                        .unwrap();
                    let mut byte = [0u8; 1];
                    // Held until the server closes it (read gives 0) or the test ends.
                    loop {
                        match stream.read(&mut byte) {
                            Ok(_) => break,
                            Err(_) if stop.load(Ordering::SeqCst) => return,
                            Err(_) => continue,
                        }
                    }
                }
            })
        })
        .collect()
}

fn stop_run(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Issue 17, item 12: 300 held connections against a process allowed 160 file descriptors.
/// Before: the accept loop retried its failing accept at once, pinning a core, and the
/// scheduled run could not open its directory connection ("Too many open files"), so the
/// joiner (and, as it was found, the leavers) waited. Now the endpoint holds at most its cap of
/// connections, the run goes on, and the process stays nearly idle.
#[tokio::test(flavor = "multi_thread")]
async fn held_connections_to_the_endpoints_neither_starve_the_run_nor_spin_a_core() {
    let s = Scenario::start("endpoint_flood").await;
    s.serve(&[]).await;
    let port = free_port();
    daemon_config(&s, port);
    let child = start_run_limited(&s, 160);
    let pid = child.id();
    let health = format!("http://127.0.0.1:{port}/healthz");
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&health)
        .await
        .is_none_or(|(_, body)| !body.contains("\"last_run\":{"))
    {
        assert!(Instant::now() < deadline, "hrsync run did not come up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let clients = flood(port, 300, stop.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;
    // HR now has a joiner: a run during the flood must create the account.
    s.serve(&[person("801", "Flo", "Od", "Engineering", "Engineer")])
        .await;
    let cpu_before = cpu_time(pid);
    let measured_from = Instant::now();
    let dn = format!("uid=flo.od,{}", s.ou("engineering"));
    let deadline = Instant::now() + Duration::from_secs(40);
    while s.dir.entry(&dn).is_none() {
        if Instant::now() > deadline {
            stop.store(true, Ordering::SeqCst);
            stop_run(child);
            panic!(
                "no run created the joiner during the flood; log:\n{}",
                std::fs::read_to_string(s.work.path().join("run.log")).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu = cpu_time(pid) - cpu_before;
    let elapsed = measured_from.elapsed();
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        let _ = client.join();
    }
    stop_run(child);
    let log = std::fs::read_to_string(s.work.path().join("run.log")).unwrap_or_default();
    assert!(
        cpu < elapsed / 2,
        "hrsync used {cpu:?} of CPU in {elapsed:?} while connections were held: a busy loop?"
    );
    assert!(
        !log.contains("Too many open files") && !log.contains("run failed"),
        "the run went short of file descriptors:\n{log}"
    );
}

/// Issue 17, item 13: an HR API whose error body repeats the request's bearer token. Before,
/// `/healthz` (unauthenticated) showed the error with up to 200 characters of that body, token
/// included. Now it says which side failed and when, and nothing the server said.
#[tokio::test(flavor = "multi_thread")]
async fn healthz_names_the_side_that_failed_and_never_what_the_server_said() {
    let s = Scenario::start("endpoint_health").await;
    Mock::given(method("GET"))
        .and(path(HR_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_string(format!(
            "{{\"error\":\"quota-exceeded-body-text\",\"echo\":\"Authorization: Bearer {HR_TOKEN}\"}}"
        )))
        .mount(&s.hr)
        .await;
    let port = free_port();
    daemon_config(&s, port);
    let child = start_run_limited(&s, 1024);
    let health = format!("http://127.0.0.1:{port}/healthz");
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        if let Some((503, body)) = get(&health).await {
            break body;
        }
        if Instant::now() > deadline {
            stop_run(child);
            panic!("/healthz never turned 503 after the HR read failed");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    stop_run(child);
    assert!(!body.contains(HR_TOKEN), "{body}");
    assert!(!body.contains("quota-exceeded-body-text"), "{body}");
    assert!(!body.contains("Bearer"), "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["last_run"]["failed"], "hr", "{body}");
    assert_eq!(health["last_run"]["exit_code"], 1, "{body}");
    let reason = health["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("the last run failed (exit code 1, hr failed) at "),
        "{reason}"
    );
}
