//! The events endpoint of `hrsync run` (issue 18) against a real slapd, with the HR API's
//! single-employee reads served by wiremock: a signed termination locks the leaver within
//! seconds (a real bind fails); forged, stale, replayed, oversized and malformed deliveries are
//! refused with a 4xx, counted, and change nothing; an event that lies is outvoted by HR; HR
//! down during an event is retried until it is back; a burst for one employee is one read; the
//! window limit pauses processing until SIGHUP; and an event during a full run waits for it.

#![allow(clippy::panic, clippy::unwrap_used)]

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use base64::Engine;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::scenario::{HR_PATH, HR_TOKEN, Scenario, person, terminated};

const PASSWORD: &str = "Event-Horse-9";
const ONE_PATH: &str = "/api/gateway.php/acme/v1/employees";
const BAMBOO_KEY: &str = "bamboohr-private-key-5e1f0c";
const BAMBOO_ENV: &str = "HRSYNC_IT_BAMBOOHR_WEBHOOK_KEY";
const HIBOB_KEY: &str = "hibob-webhook-secret-77aa";
const HIBOB_ENV: &str = "HRSYNC_IT_HIBOB_WEBHOOK_SECRET";
/// A Standard Webhooks secret: `whsec_` and the base64 of the key bytes.
const STANDARD_KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const STANDARD_ENV: &str = "HRSYNC_IT_STANDARD_WEBHOOK_SECRET";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `hrsync run` with events, and where it listens.
struct Daemon {
    child: Child,
    events: String,
    metrics: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The scenario with single-employee reads, an audit log, the mover (1802), two leavers-to-be
/// (1803, 1805) and a bystander (1804) provisioned by a full apply; `extra` goes at the end of
/// the config (for `[events]` settings, say `max_disables`).
async fn provisioned(name: &str) -> Scenario {
    let s = Scenario::start(name).await;
    for (uid, id) in [
        ("mo.ver", "1802"),
        ("lee.ver", "1803"),
        ("by.stander", "1804"),
        ("ann.other", "1805"),
    ] {
        s.dir.add_user(uid, id, Some(PASSWORD), "");
    }
    s.serve(&everyone()).await;
    s.expect(&["apply"], 0);
    s
}

fn everyone() -> Vec<Value> {
    vec![
        person("1802", "Mo", "Ver", "Sales", "Account Executive"),
        person("1803", "Lee", "Ver", "Engineering", "Engineer"),
        person("1804", "By", "Stander", "Engineering", "Engineer"),
        person("1805", "Ann", "Other", "Engineering", "Engineer"),
    ]
}

/// Writes the event-mode config and starts `hrsync run`; returns once `/healthz` answers.
async fn start(s: &Scenario, events_extra: &str, schedule_extra: &str) -> Daemon {
    let (events_port, metrics_port) = (free_port(), free_port());
    let config = std::fs::read_to_string(&s.config).unwrap();
    let single = format!(
        "records = \"/employees\"\nemployee_url = \"{}{ONE_PATH}/{{id}}\"",
        s.hr.uri()
    );
    let config = config.replacen("records = \"/employees\"", &single, 1);
    let audit = s.work.path().join("audit.jsonl");
    std::fs::write(
        &s.config,
        format!(
            "{config}
[audit]
file = \"{audit}\"

[schedule]
cron = \"0 0 0 1 1 *\"
{schedule_extra}

[metrics]
listen = \"127.0.0.1:{metrics_port}\"

[events]
listen = \"127.0.0.1:{events_port}\"
{events_extra}

[[events.source]]
name = \"bamboohr\"
kind = \"bamboohr\"
secret = {{ env = \"{BAMBOO_ENV}\" }}

[[events.source]]
name = \"hibob\"
kind = \"hibob\"
secret = {{ env = \"{HIBOB_ENV}\" }}

[[events.source]]
name = \"other\"
kind = \"standard_webhooks\"
secret = {{ env = \"{STANDARD_ENV}\" }}
employee_ids = \"$.data.employee_id\"
",
            audit = audit.display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(s.work.path().join("run.log")).unwrap();
    let child = s
        .command(&["--log-format", "text", "run"])
        .env(BAMBOO_ENV, BAMBOO_KEY)
        .env(HIBOB_ENV, HIBOB_KEY)
        .env(STANDARD_ENV, STANDARD_KEY)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let daemon = Daemon {
        child,
        events: format!("http://127.0.0.1:{events_port}"),
        metrics: format!("http://127.0.0.1:{metrics_port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("{}/healthz", daemon.metrics))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "hrsync run did not start:\n{}",
            run_log(s)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    daemon
}

fn run_log(s: &Scenario) -> String {
    std::fs::read_to_string(s.work.path().join("run.log")).unwrap_or_default()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A BambooHR webhook delivery: the documented payload for a status change of `ids`, signed
/// as BambooHR signs (hex HMAC-SHA256 of the body followed by the timestamp).
fn bamboohr(ids: &[&str], key: &str, timestamp: i64) -> (Vec<(&'static str, String)>, Vec<u8>) {
    let employees: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({
                "id": id,
                "action": "Updated",
                "changedFields": ["Status"],
                "fields": {"Status": "Inactive"}
            })
        })
        .collect();
    let body = serde_json::to_vec(&json!({ "employees": employees })).unwrap();
    let mut message = body.clone();
    message.extend_from_slice(timestamp.to_string().as_bytes());
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()), &message);
    let headers = vec![
        ("x-bamboohr-timestamp", timestamp.to_string()),
        ("x-bamboohr-signature", hex(tag.as_ref())),
    ];
    (headers, body)
}

/// A Standard Webhooks delivery naming `id` in `$.data.employee_id`.
fn standard(id: &str, delivery: &str, timestamp: i64) -> (Vec<(&'static str, String)>, Vec<u8>) {
    let body = serde_json::to_vec(&json!({
        "type": "employee.terminated",
        "data": {"employee_id": id}
    }))
    .unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(STANDARD_KEY.trim_start_matches("whsec_"))
        .unwrap();
    let mut message = format!("{delivery}.{timestamp}.").into_bytes();
    message.extend_from_slice(&body);
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), &message);
    let signature = base64::engine::general_purpose::STANDARD.encode(tag.as_ref());
    let headers = vec![
        ("webhook-id", delivery.to_string()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", format!("v1,{signature}")),
    ];
    (headers, body)
}

async fn post(d: &Daemon, source: &str, headers: &[(&str, String)], body: Vec<u8>) -> u16 {
    let mut request = reqwest::Client::new()
        .post(format!("{}/events/{source}", d.events))
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.send().await.unwrap().status().as_u16()
}

async fn serve_one(s: &Scenario, record: Value) {
    let id = record["id"].as_str().unwrap().to_string();
    Mock::given(method("GET"))
        .and(path(format!("{ONE_PATH}/{id}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(record))
        .mount(&s.hr)
        .await;
}

/// Waits up to `limit` for `done`; how long it took.
async fn within(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

async fn metrics(d: &Daemon) -> String {
    reqwest::get(format!("{}/metrics", d.metrics))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the series `line_start` (the name with its labels) in the metrics text.
fn series(text: &str, line_start: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no series {line_start} in:\n{text}"))
}

fn leaver_dn(s: &Scenario, uid: &str) -> String {
    format!("uid={uid},{}", s.ou("engineering"))
}

fn locked(s: &Scenario, uid: &str) -> bool {
    let moved = format!("uid={uid},{}", s.dir.disabled_dn);
    s.dir.entry(&moved).is_some() && !s.dir.can_bind(&moved, PASSWORD)
}

fn audit_triggers(s: &Scenario) -> Vec<String> {
    std::fs::read_to_string(s.work.path().join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["event"] == "run_started")
        .filter_map(|l| l["trigger"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_termination_locks_the_leaver_within_seconds_from_hrs_own_record() {
    let s = provisioned("events-leaver").await;
    let d = start(&s, "", "").await;
    s.hr.reset().await;
    serve_one(
        &s,
        terminated(person("1803", "Lee", "Ver", "Engineering", "Engineer")),
    )
    .await;
    assert!(s.dir.can_bind(&leaver_dn(&s, "lee.ver"), PASSWORD));
    let (headers, body) = bamboohr(&["1803"], BAMBOO_KEY, unix_now());
    assert_eq!(post(&d, "bamboohr", &headers, body).await, 202);
    let took = within(Duration::from_secs(15), || locked(&s, "lee.ver")).await;
    assert!(took.is_some(), "the leaver still logs in:\n{}", run_log(&s));
    for cn in ["staff", "engineering", "vpn"] {
        let members = s.dir.group_members(&s.group(cn));
        assert!(
            !members.iter().any(|m| m.starts_with("uid=lee.ver,")),
            "{cn}"
        );
    }
    assert_eq!(audit_triggers(&s), ["event:bamboohr"]);

    // A Standard Webhooks sender, for a second leaver.
    serve_one(
        &s,
        terminated(person("1805", "Ann", "Other", "Engineering", "Engineer")),
    )
    .await;
    let (headers, body) = standard("1805", "msg_2hbXnJ1", unix_now());
    assert_eq!(post(&d, "other", &headers, body).await, 202);
    assert!(
        within(Duration::from_secs(15), || locked(&s, "ann.other"))
            .await
            .is_some(),
        "{}",
        run_log(&s)
    );
    let text = metrics(&d).await;
    assert_eq!(
        series(&text, "hrsync_events_accepted_total{source=\"bamboohr\"} "),
        1.0
    );
    assert_eq!(
        series(&text, "hrsync_events_accepted_total{source=\"other\"} "),
        1.0
    );
    assert_eq!(series(&text, "hrsync_events_paused "), 0.0);
}

/// Every kind of bad delivery gets its 4xx and its count, and none changes the directory; an
/// event whose claim HR contradicts changes nothing either.
#[tokio::test(flavor = "multi_thread")]
async fn forged_stale_replayed_oversized_and_lying_deliveries_change_nothing() {
    let s = provisioned("events-refused").await;
    let d = start(&s, "max_body_bytes = 4096", "").await;
    s.hr.reset().await;
    // HR has 1803 as active: whatever an event says, nothing is to be done.
    serve_one(&s, person("1803", "Lee", "Ver", "Engineering", "Engineer")).await;
    let before = s.dump();
    let now = unix_now();

    let (headers, body) = bamboohr(&["1803"], "not-the-key", now);
    assert_eq!(
        post(&d, "bamboohr", &headers, body).await,
        401,
        "wrong secret"
    );
    let (headers, body) = bamboohr(&["1803"], BAMBOO_KEY, now - 3600);
    assert_eq!(
        post(&d, "bamboohr", &headers, body).await,
        401,
        "an hour old"
    );
    let (headers, body) = bamboohr(&["1803"], BAMBOO_KEY, now + 3600);
    assert_eq!(
        post(&d, "bamboohr", &headers, body).await,
        401,
        "from the future"
    );
    let (mut headers, body) = bamboohr(&["1803"], BAMBOO_KEY, now);
    headers.retain(|(name, _)| *name != "x-bamboohr-signature");
    assert_eq!(post(&d, "bamboohr", &headers, body).await, 400, "unsigned");
    let (headers, mut body) = bamboohr(&["1803"], BAMBOO_KEY, now);
    body[3] ^= 1;
    assert_eq!(
        post(&d, "bamboohr", &headers, body).await,
        401,
        "body altered"
    );
    let ids: Vec<String> = (0..400).map(|i| format!("{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let (headers, body) = bamboohr(&ids, BAMBOO_KEY, now);
    assert!(body.len() > 4096);
    assert_eq!(post(&d, "bamboohr", &headers, body).await, 413, "oversized");
    let (headers, body) = standard("1803", "msg_replayed", now);
    assert_eq!(post(&d, "other", &headers, body.clone()).await, 202);
    assert_eq!(post(&d, "other", &headers, body).await, 409, "replayed");
    assert_eq!(post(&d, "nobody", &[], b"{}".to_vec()).await, 404);
    let get = reqwest::get(format!("{}/events/bamboohr", d.events))
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 405);
    // Signed, but not BambooHR's payload.
    let body = b"[\"1803\"]".to_vec();
    let mut message = body.clone();
    message.extend_from_slice(now.to_string().as_bytes());
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, BAMBOO_KEY.as_bytes()),
        &message,
    );
    let headers = vec![
        ("x-bamboohr-timestamp", now.to_string()),
        ("x-bamboohr-signature", hex(tag.as_ref())),
    ];
    assert_eq!(post(&d, "bamboohr", &headers, body).await, 400, "malformed");

    // The one accepted delivery (the lie) is synced: HR says active, nothing changes.
    let synced = within(Duration::from_secs(15), || {
        std::fs::read_to_string(s.work.path().join("run.log"))
            .unwrap_or_default()
            .contains("event sync finished")
    })
    .await;
    assert!(synced.is_some(), "{}", run_log(&s));
    assert_eq!(s.dump(), before, "no delivery changed anything");
    let text = metrics(&d).await;
    for (reason, count) in [
        ("signature", 2.0),
        ("stale", 2.0),
        ("missing_header", 1.0),
        ("too_large", 1.0),
        ("malformed", 1.0),
        ("method", 1.0),
    ] {
        let line =
            format!("hrsync_events_rejected_total{{source=\"bamboohr\",reason=\"{reason}\"}} ");
        assert_eq!(series(&text, &line), count, "{reason}");
    }
    let replay = "hrsync_events_rejected_total{source=\"other\",reason=\"replay\"} ";
    assert_eq!(series(&text, replay), 1.0);
    let unknown = "hrsync_events_rejected_total{source=\"unknown\",reason=\"unknown_source\"} ";
    assert_eq!(series(&text, unknown), 1.0);
    let log = run_log(&s);
    assert!(
        !log.contains(BAMBOO_KEY) && !log.contains(HR_TOKEN),
        "a secret in the log"
    );
}

/// HR down when the event comes: the employee is tried again with backoff, and locked once HR
/// answers; a burst of deliveries for one employee is one read.
#[tokio::test(flavor = "multi_thread")]
async fn hr_down_during_an_event_is_retried_until_it_is_back_and_a_burst_is_one_read() {
    let s = provisioned("events-retry").await;
    let d = start(&s, "", "").await;
    s.hr.reset().await;
    Mock::given(method("GET"))
        .and(path(format!("{ONE_PATH}/1803")))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(4)
        .mount(&s.hr)
        .await;
    serve_one(
        &s,
        terminated(person("1803", "Lee", "Ver", "Engineering", "Engineer")),
    )
    .await;
    let (headers, body) = bamboohr(&["1803"], BAMBOO_KEY, unix_now());
    assert_eq!(post(&d, "bamboohr", &headers, body).await, 202);
    assert!(
        within(Duration::from_secs(30), || locked(&s, "lee.ver"))
            .await
            .is_some(),
        "not locked once HR was back:\n{}",
        run_log(&s)
    );
    assert!(run_log(&s).contains("could not read the employee from HR"));

    // Twenty deliveries for 1805 while the worker is busy with another employee (whose HR read
    // takes 3 s): they wait as one pending employee, synced with one read. (Deliveries after a
    // sync are synced again: HR may have changed since.)
    Mock::given(method("GET"))
        .and(path(format!("{ONE_PATH}/1804")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(person("1804", "By", "Stander", "Engineering", "Engineer"))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&s.hr)
        .await;
    let (headers, body) = bamboohr(&["1804"], BAMBOO_KEY, unix_now());
    assert_eq!(post(&d, "bamboohr", &headers, body).await, 202);
    tokio::time::sleep(Duration::from_millis(300)).await;
    serve_one(
        &s,
        terminated(person("1805", "Ann", "Other", "Engineering", "Engineer")),
    )
    .await;
    let posts = (0..20).map(|i| {
        let (headers, body) = standard("1805", &format!("msg_burst_{i}"), unix_now());
        let d = &d;
        async move { post(d, "other", &headers, body).await }
    });
    for status in futures::future::join_all(posts).await {
        assert_eq!(status, 202);
    }
    assert!(
        within(Duration::from_secs(15), || locked(&s, "ann.other"))
            .await
            .is_some()
    );
    let reads =
        s.hr.received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == format!("{ONE_PATH}/1805"))
            .count();
    assert_eq!(
        reads, 1,
        "20 deliveries for one employee made {reads} HR reads"
    );
}

/// More disables than `max_disables` within the window: the batch that would pass it applies
/// nothing, processing pauses (healthz 503, the metric, the log), and SIGHUP resumes it.
#[tokio::test(flavor = "multi_thread")]
async fn the_window_limit_pauses_event_processing_until_sighup() {
    let s = provisioned("events-window").await;
    let d = start(&s, "max_disables = 1", "").await;
    s.hr.reset().await;
    serve_one(
        &s,
        terminated(person("1803", "Lee", "Ver", "Engineering", "Engineer")),
    )
    .await;
    serve_one(
        &s,
        terminated(person("1805", "Ann", "Other", "Engineering", "Engineer")),
    )
    .await;
    let (headers, body) = bamboohr(&["1803"], BAMBOO_KEY, unix_now());
    assert_eq!(post(&d, "bamboohr", &headers, body).await, 202);
    assert!(
        within(Duration::from_secs(15), || locked(&s, "lee.ver"))
            .await
            .is_some()
    );
    let (headers, body) = standard("1805", "msg_second", unix_now());
    assert_eq!(post(&d, "other", &headers, body).await, 202);
    let mut paused = false;
    for _ in 0..150 {
        if series(&metrics(&d).await, "hrsync_events_paused ") == 1.0 {
            paused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(paused, "{}", run_log(&s));
    let health = reqwest::get(format!("{}/healthz", d.metrics))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 503);
    assert!(
        health
            .text()
            .await
            .unwrap()
            .contains("event processing is paused")
    );
    assert!(
        s.dir.can_bind(&leaver_dn(&s, "ann.other"), PASSWORD),
        "the second disable went over the window limit and must wait"
    );
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &d.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    assert!(
        within(Duration::from_secs(15), || locked(&s, "ann.other"))
            .await
            .is_some(),
        "SIGHUP did not resume:\n{}",
        run_log(&s)
    );
    let text = metrics(&d).await;
    assert_eq!(series(&text, "hrsync_events_paused "), 0.0);
}

/// An event that comes while a full run is under way waits for it: the event's sync starts
/// after the full run has finished, in the audit log's order.
#[tokio::test(flavor = "multi_thread")]
async fn an_event_during_a_full_run_waits_for_it() {
    let s = provisioned("events-during-run").await;
    let mut all = everyone();
    all[1] = terminated(all[1].clone());
    // The full run's list read takes three seconds; the single read answers at once.
    s.hr.reset().await;
    Mock::given(method("GET"))
        .and(path(HR_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "fields": [], "employees": all }))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&s.hr)
        .await;
    serve_one(
        &s,
        terminated(person("1803", "Lee", "Ver", "Engineering", "Engineer")),
    )
    .await;
    let d = start(&s, "", "run_on_start = true").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (headers, body) = bamboohr(&["1803"], BAMBOO_KEY, unix_now());
    assert_eq!(post(&d, "bamboohr", &headers, body).await, 202);
    assert!(
        within(Duration::from_secs(20), || locked(&s, "lee.ver"))
            .await
            .is_some()
    );
    let finished = within(Duration::from_secs(15), || {
        run_log(&s).contains("event sync finished")
    })
    .await;
    assert!(finished.is_some(), "{}", run_log(&s));
    let log = run_log(&s);
    let full_done = log.find("run finished").expect("the full run finished");
    let event_started = log
        .find("event sync started")
        .expect("the event was synced");
    assert!(
        full_done < event_started,
        "the event's sync started before the full run finished:\n{log}"
    );
    // The full run disabled the leaver; the event found nothing left to do.
    assert_eq!(audit_triggers(&s), Vec::<String>::new(), "{log}");
}

/// A certificate and key for 127.0.0.1 made with openssl (self-signed, the test's own CA).
fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("events.pem"), dir.join("events.key"));
    let status = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
        ])
        .args([
            "ec_paramgen_curve:P-256",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "openssl could not make a certificate");
    (cert, key)
}

/// `tls_cert`/`tls_key`: the endpoint speaks HTTPS (rustls) with that certificate, a client
/// trusting it gets its 202 and the leaver is locked; plain HTTP on that port gets nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_events_endpoint_serves_https_with_the_configured_certificate() {
    let s = provisioned("events-tls").await;
    let (cert, key) = self_signed(s.work.path());
    let tls = format!(
        "tls_cert = \"{}\"\ntls_key = \"{}\"",
        cert.display(),
        key.display()
    );
    let d = start(&s, &tls, "").await;
    s.hr.reset().await;
    serve_one(
        &s,
        terminated(person("1803", "Lee", "Ver", "Engineering", "Engineer")),
    )
    .await;
    let (headers, body) = bamboohr(&["1803"], BAMBOO_KEY, unix_now());
    let https = d.events.replacen("http://", "https://", 1);
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let mut request = client
        .post(format!("{https}/events/bamboohr"))
        .body(body.clone());
    for (name, value) in &headers {
        request = request.header(*name, value);
    }
    assert_eq!(request.send().await.unwrap().status().as_u16(), 202);
    assert!(
        within(Duration::from_secs(15), || locked(&s, "lee.ver"))
            .await
            .is_some()
    );
    let plain = reqwest::Client::new()
        .post(format!("{}/events/bamboohr", d.events))
        .body(body)
        .send()
        .await;
    assert!(
        plain.is_err() || plain.is_ok_and(|r| r.status().as_u16() != 202),
        "plain HTTP was served on the TLS port"
    );
}

/// `schedule.changes` (item 4): a source without webhooks says which employees changed (here
/// a report with an updated-since prompt, `hr.rest.changed_url`), and each is synced from its
/// own record within seconds, tagged `changes` in the audit log; nobody else is touched.
#[tokio::test(flavor = "multi_thread")]
async fn the_changes_run_syncs_the_employees_hr_says_changed() {
    let s = provisioned("events-changes").await;
    let config = std::fs::read_to_string(&s.config).unwrap();
    let changed = format!(
        "records = \"/employees\"\nchanged_url = \"{}/changed?since={{since}}\"\nchanged_pointer = \"/employees\"",
        s.hr.uri()
    );
    std::fs::write(
        &s.config,
        config.replacen("records = \"/employees\"", &changed, 1),
    )
    .unwrap();
    s.hr.reset().await;
    Mock::given(method("GET"))
        .and(path("/changed"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "employees": [{"id": "1803"}]
        })))
        .mount(&s.hr)
        .await;
    serve_one(
        &s,
        terminated(person("1803", "Lee", "Ver", "Engineering", "Engineer")),
    )
    .await;
    let before_bystander = s.dir.entry(&leaver_dn(&s, "by.stander")).unwrap().attrs;
    let d = start(&s, "", "changes = \"*/2 * * * * *\"").await;
    assert!(
        within(Duration::from_secs(20), || locked(&s, "lee.ver"))
            .await
            .is_some(),
        "{}",
        run_log(&s)
    );
    assert_eq!(audit_triggers(&s), ["changes"]);
    let asked = s.hr.received_requests().await.unwrap();
    let since = asked
        .iter()
        .find(|r| r.url.path() == "/changed")
        .and_then(|r| r.url.query_pairs().find(|(k, _)| k == "since"))
        .map(|(_, v)| v.into_owned())
        .expect("the changes were asked with a time");
    assert!(
        chrono::DateTime::parse_from_rfc3339(&since).is_ok(),
        "{since}"
    );
    assert_eq!(
        s.dir.entry(&leaver_dn(&s, "by.stander")).unwrap().attrs,
        before_bystander
    );
    let text = metrics(&d).await;
    assert!(series(&text, "hrsync_events_employees_total{result=\"success\"} ") >= 1.0);
}
