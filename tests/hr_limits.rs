//! The caps of `[hr.limits]` (issue 17, item 3) and what an HR error may say (item 13).
//!
//! Each cap is tried the way a broken or hostile HR side would: a page far larger than any
//! company, a body that never ends, next links that never stop, more records than exist, a
//! server that answers too slowly to ever finish, an oversized token answer, an oversized
//! export. Each must end the read with an error naming the cap and its key, and no employee
//! at all (the binary then exits 1 and changes nothing: tests/integration/hr_limits.rs).
//!
//! Then the error bodies: a server that echoes the credentials it was sent (a debugging proxy,
//! a misconfigured gateway) must not get them into an error message or a log line.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[path = "support/hr.rs"]
mod hr_support;
use hr_support::{config, json_ok, secret};

use hrsync::hr::{self, HrConfig, HrError};

const FIELDS: &str = r#"
[fields]
id = "$.id"
[status]
path = "$.status"
active = ["Active"]
"#;

/// Retries that cost milliseconds.
const FAST_RETRY: &str = "[rest.retry]\nmax_attempts = 3\ninitial_backoff_ms = 5\n\
                          max_backoff_ms = 20\nmax_total_secs = 20\n";

/// A REST source at `url` with the `[rest]` keys `rest`, more tables `tables` and `[limits]`.
fn rest_config(url: &str, rest: &str, tables: &str, limits: &str) -> HrConfig {
    config(&format!(
        "source = \"rest\"\n[rest]\nurl = \"{url}\"\nrecords = \"/employees\"\n{rest}\n\
         {tables}\n{FAST_RETRY}\n[limits]\n{limits}\n{FIELDS}"
    ))
}

async fn fetch(config: &HrConfig) -> Result<usize, HrError> {
    // A cap that does not hold would show here as a hang, not a pass.
    let read = tokio::time::timeout(Duration::from_secs(30), hr::fetch(config))
        .await
        .expect("the read ended");
    read.map(|snapshot| snapshot.employees.len())
}

fn employee(id: &str) -> Value {
    json!({"id": id, "status": "Active"})
}

fn employees(from: usize, count: usize) -> Vec<Value> {
    (from..from + count)
        .map(|i| employee(&i.to_string()))
        .collect()
}

/// The error is the cap `key` at `limit`, and its message names the key.
fn assert_limit(err: &HrError, key: &str, limit: u64) {
    let HrError::Limit {
        key: found,
        limit: at,
        ..
    } = err
    else {
        unreachable!("expected the {key} cap, got {err:?}");
    };
    assert_eq!((*found, *at), (key, limit), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("hr.limits.{key} = {limit}")),
        "{message}"
    );
    assert!(message.contains("nothing is changed"), "{message}");
}

// ---------------------------------------------------------------------------------------------
// Bytes

#[tokio::test]
async fn a_page_larger_than_max_page_bytes_is_refused_by_its_content_length() {
    let server = MockServer::start().await;
    // 300 records, about 9 KB: three times the cap.
    Mock::given(method("GET"))
        .respond_with(json_ok(json!({"employees": employees(0, 300)})))
        .expect(2)
        .mount(&server)
        .await;
    let url = format!("{}/v1/employees", server.uri());
    let err = fetch(&rest_config(&url, "", "", "max_page_bytes = 3000"))
        .await
        .unwrap_err();
    assert_limit(&err, "max_page_bytes", 3000);
    assert!(err.to_string().contains("Content-Length"), "{err}");
    assert!(err.to_string().contains("(page 1)"), "{err}");
    // Within the cap, the same page is read.
    let read = fetch(&rest_config(&url, "", "", "max_page_bytes = 30000")).await;
    assert_eq!(read.unwrap(), 300);
}

/// A body without a length that never ends (chunked, from a socket server): it is read only up
/// to the cap and then dropped, where it used to be buffered until the request timed out.
#[tokio::test]
async fn an_endless_body_is_dropped_at_max_page_bytes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/employees", listener.local_addr().unwrap());
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = sent.clone();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request).await;
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                    Transfer-Encoding: chunked\r\n\r\n";
        stream.write_all(head.as_bytes()).await.unwrap();
        let chunk = format!("{},", employee("1"));
        let framed = format!("{:x}\r\n{chunk}\r\n", chunk.len());
        // Until the client hangs up.
        while stream.write_all(framed.as_bytes()).await.is_ok() {
            counter.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let err = fetch(&rest_config(&url, "", "", "max_page_bytes = 65536"))
        .await
        .unwrap_err();
    server.abort();
    assert_limit(&err, "max_page_bytes", 65536);
    assert!(
        err.to_string().contains("went on past 65536 bytes"),
        "{err}"
    );
}

#[tokio::test]
async fn a_token_answer_larger_than_max_page_bytes_is_refused() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    let padding = "x".repeat(10_000);
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(json_ok(json!({
            "access_token": "T", "expires_in": 3600, "padding": padding
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/employees"))
        .respond_with(json_ok(json!({"employees": employees(0, 1)})))
        .expect(0)
        .mount(&server)
        .await;
    let auth = format!(
        "[rest.auth]\ntype = \"oauth2\"\ntoken_url = \"{}/oauth/token\"\nclient_id = \"hrsync\"\n\
         client_secret = {}\n",
        server.uri(),
        secret(&dir, "client-secret", "CLIENT-SECRET")
    );
    let url = format!("{}/v1/employees", server.uri());
    let err = fetch(&rest_config(&url, "", &auth, "max_page_bytes = 4096"))
        .await
        .unwrap_err();
    assert_limit(&err, "max_page_bytes", 4096);
    assert!(err.to_string().contains("/oauth/token"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Pages and records

/// Next links without end: every page is new (so no loop is detected), each links to the one
/// after. Page 1 holds ids 0-9, page n ids 10(n-1) onwards.
struct EndlessPages;

impl Respond for EndlessPages {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let page: usize = request
            .url
            .query_pairs()
            .find(|(name, _)| name == "page")
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(1);
        json_ok(json!({
            "employees": employees(10 * (page - 1), 10),
            "next": format!("/v1/employees?page={}", page + 1),
        }))
    }
}

fn endless_config(server: &MockServer, limits: &str) -> HrConfig {
    rest_config(
        &format!("{}/v1/employees", server.uri()),
        "",
        "[rest.pagination]\ntype = \"next_url\"\nptr = \"/next\"\n",
        limits,
    )
}

#[tokio::test]
async fn endless_next_links_stop_at_max_pages() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(EndlessPages)
        .expect(5)
        .mount(&server)
        .await;
    let err = fetch(&endless_config(&server, "max_pages = 5"))
        .await
        .unwrap_err();
    assert_limit(&err, "max_pages", 5);
    assert!(err.to_string().contains("(page 6)"), "{err}");
}

#[tokio::test]
async fn endless_next_links_stop_at_max_records_long_before_max_pages() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(EndlessPages)
        .expect(4)
        .mount(&server)
        .await;
    let err = fetch(&endless_config(&server, "max_records = 35"))
        .await
        .unwrap_err();
    assert_limit(&err, "max_records", 35);
    let message = err.to_string();
    assert!(message.contains("40 records have arrived"), "{message}");
    assert!(message.contains("(page 4)"), "{message}");
}

#[tokio::test]
async fn more_records_than_max_records_on_offset_pages_is_refused() {
    let server = MockServer::start().await;
    for (offset, ids) in [(0, 0..3), (3, 3..6)] {
        let records: Vec<Value> = ids.map(|i| employee(&i.to_string())).collect();
        Mock::given(query_param("offset", offset.to_string()))
            .respond_with(json_ok(json!({"employees": records, "total": 9})))
            .mount(&server)
            .await;
    }
    let config = rest_config(
        &format!("{}/v1/employees", server.uri()),
        "",
        "[rest.pagination]\ntype = \"offset\"\nlimit = 3\ntotal_ptr = \"/total\"\n",
        "max_records = 5",
    );
    let err = fetch(&config).await.unwrap_err();
    assert_limit(&err, "max_records", 5);
    assert!(err.to_string().contains("(page 2)"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Time

/// Each page takes 400 ms, well within the request timeout, and the links never end: only the
/// deadline of the whole read stops it.
#[tokio::test]
async fn a_read_that_trickles_on_past_max_fetch_secs_is_stopped() {
    let server = MockServer::start().await;
    struct Slow;
    impl Respond for Slow {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            EndlessPages
                .respond(request)
                .set_delay(Duration::from_millis(400))
        }
    }
    Mock::given(method("GET"))
        .respond_with(Slow)
        .mount(&server)
        .await;
    let err = fetch(&endless_config(&server, "max_fetch_secs = 2"))
        .await
        .unwrap_err();
    assert_limit(&err, "max_fetch_secs", 2);
    let message = err.to_string();
    assert!(message.contains("not finished after 2 s"), "{message}");
    assert!(message.contains("/v1/employees"), "{message}");
}

/// One answer that takes longer than the deadline: the deadline ends the read, not the request
/// timeout (30 s by default) nor the retries.
#[tokio::test]
async fn a_server_slower_than_max_fetch_secs_is_given_up_on_at_the_deadline() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            json_ok(json!({"employees": employees(0, 1)})).set_delay(Duration::from_secs(20)),
        )
        .mount(&server)
        .await;
    let url = format!("{}/v1/employees", server.uri());
    let err = fetch(&rest_config(&url, "", "", "max_fetch_secs = 1"))
        .await
        .unwrap_err();
    assert_limit(&err, "max_fetch_secs", 1);
}

// ---------------------------------------------------------------------------------------------
// Export files

fn file_config(path: &std::path::Path, limits: &str) -> HrConfig {
    config(&format!(
        "source = \"file\"\n[file]\npath = \"{}\"\n[limits]\n{limits}\n{FIELDS}",
        path.display()
    ))
}

#[tokio::test]
async fn an_export_larger_than_max_page_bytes_is_refused() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("hr.json");
    std::fs::write(&path, serde_json::to_vec(&employees(0, 300)).unwrap()).unwrap();
    let err = fetch(&file_config(&path, "max_page_bytes = 2000"))
        .await
        .unwrap_err();
    assert_limit(&err, "max_page_bytes", 2000);
    assert!(err.to_string().contains("hr.json"), "{err}");
    assert_eq!(
        fetch(&file_config(&path, "")).await.unwrap(),
        300,
        "the defaults read it"
    );
}

#[tokio::test]
async fn a_csv_export_with_more_rows_than_max_records_is_refused() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("hr.csv");
    let mut text = String::from("id,status\n");
    for i in 0..10 {
        text.push_str(&format!("{i},Active\n"));
    }
    std::fs::write(&path, text).unwrap();
    let err = fetch(&file_config(&path, "max_records = 9"))
        .await
        .unwrap_err();
    assert_limit(&err, "max_records", 9);
    assert_eq!(
        fetch(&file_config(&path, "max_records = 10"))
            .await
            .unwrap(),
        10
    );
}

// ---------------------------------------------------------------------------------------------
// Validation

#[test]
fn each_cap_is_validated_with_its_key_and_the_old_max_pages_says_where_it_went() {
    let parsed: HrConfig = toml::from_str(&format!(
        "source = \"rest\"\n[rest]\nurl = \"https://hr.example.com/v1\"\nrecords = \"\"\n\
         max_pages = 10\n[limits]\nmax_page_bytes = 0\nmax_records = 0\nmax_pages = 0\n\
         max_fetch_secs = 0\n{FIELDS}"
    ))
    .unwrap();
    let problems: Vec<String> = parsed.validate().iter().map(ToString::to_string).collect();
    for expected in [
        "hr.rest.max_pages: has moved to [hr.limits] max_pages",
        "hr.limits.max_page_bytes: must be at least 1 byte",
        "hr.limits.max_records: must be at least 1 record",
        "hr.limits.max_pages: must be at least 1 page",
        "hr.limits.max_fetch_secs: must be at least 1 second",
    ] {
        assert!(
            problems.iter().any(|p| p.starts_with(expected)),
            "{expected:?} missing in {problems:#?}"
        );
    }
    let unknown = toml::from_str::<HrConfig>(&format!(
        "source = \"file\"\n[file]\npath = \"x.json\"\n[limits]\nmax_bytes = 1\n{FIELDS}"
    ))
    .unwrap_err();
    assert!(unknown.to_string().contains("max_bytes"), "{unknown}");
}

// ---------------------------------------------------------------------------------------------
// Error bodies that echo the credentials (issue 17, item 13)

/// The log lines written while the guard lives, on this thread (the tests' runtime has one).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("the log buffer")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

impl Logs {
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("the log buffer")).into_owned()
    }
}

/// Answers `status` with a body that echoes what the request carried, the way a debugging
/// gateway or a framework's error page does: the Authorization header as JSON, as a header
/// line, and each of `secrets` bare and as a token field.
struct Echo {
    status: u16,
    secrets: Vec<String>,
}

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let authorization = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let mut body = format!(
            "upstream failed; request was {{\"headers\": {{\"authorization\": \"{authorization}\"}}}}\n\
             Authorization: {authorization}\n"
        );
        for secret in &self.secrets {
            body.push_str(&format!(
                "echo {secret} {{\"access_token\":\"{secret}\"}} password={secret}\n"
            ));
        }
        let body = format!("{body}{}", request.body.escape_ascii());
        ResponseTemplate::new(self.status).set_body_string(body)
    }
}

/// Neither `text` nor any 8-character piece of `secret` is in it.
fn assert_absent(secret: &str, text: &str, what: &str) {
    let chars: Vec<char> = secret.chars().collect();
    for piece in chars.windows(8) {
        let piece: String = piece.iter().collect();
        assert!(
            !text.contains(&piece),
            "{what} shows {piece:?} of a secret:\n{text}"
        );
    }
}

#[tokio::test]
async fn an_api_that_echoes_the_bearer_token_in_its_errors_never_gets_it_into_an_error_or_a_log() {
    let token = "tok-ECHOED-7a9f3c21d4e5";
    for status in [500, 401, 400] {
        let server = MockServer::start().await;
        let dir = TempDir::new().unwrap();
        Mock::given(method("GET"))
            .respond_with(Echo {
                status,
                secrets: vec![token.to_string()],
            })
            .mount(&server)
            .await;
        let auth = format!(
            "[rest.auth]\ntype = \"bearer\"\ntoken = {}\n",
            secret(&dir, "token", token)
        );
        let logs = Logs::default();
        let guard = logs.capture();
        let url = format!("{}/v1/employees", server.uri());
        let err = fetch(&rest_config(&url, "", &auth, "")).await.unwrap_err();
        drop(guard);
        let message = err.to_string();
        assert!(message.contains(&format!("HTTP {status}")), "{message}");
        assert_absent(token, &message, "the error");
        assert_absent(token, &logs.text(), "the log");
        if status == 500 {
            assert!(message.contains("[REDACTED]"), "{message}");
            assert!(
                logs.text().contains("retrying"),
                "the retries were logged, with the error: {}",
                logs.text()
            );
            let excerpt = message.split("HTTP 500").nth(1).unwrap_or_default();
            assert!(excerpt.chars().count() <= 260, "a short excerpt: {message}");
        }
    }
}

#[tokio::test]
async fn basic_credentials_echoed_back_stay_out_of_errors_and_logs() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    let (user, password) = ("SERVICE-USER-41", "hibob-token-Zq81xk");
    Mock::given(method("POST"))
        .respond_with(Echo {
            status: 503,
            secrets: vec![password.to_string()],
        })
        .mount(&server)
        .await;
    let auth = format!(
        "[rest.auth]\ntype = \"basic\"\nusername = \"{user}\"\npassword = {}\n",
        secret(&dir, "password", password)
    );
    let url = format!("{}/v1/people/search", server.uri());
    let logs = Logs::default();
    let guard = logs.capture();
    let err = fetch(&rest_config(
        &url,
        "method = \"POST\"\nbody = { showInactive = true }",
        &auth,
        "",
    ))
    .await
    .unwrap_err();
    drop(guard);
    let header = base64_basic(user, password);
    for text in [err.to_string(), logs.text()] {
        assert_absent(password, &text, "the error or log");
        assert_absent(&header, &text, "the error or log");
    }
}

fn base64_basic(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// A token endpoint that repeats the form it refused (client secret, and an access token an API
/// gateway then echoes on a 500): neither reaches an error or a log.
#[tokio::test]
async fn oauth_secrets_and_access_tokens_echoed_back_stay_out_of_errors_and_logs() {
    let client_secret = "CS-echoed-5f1e9a77";
    let access_token = "AT-echoed-0b3c8d12";
    // The token endpoint refuses, quoting the secret in its description.
    for (status, error) in [(401, "invalid_client"), (400, "invalid_request")] {
        let server = MockServer::start().await;
        let dir = TempDir::new().unwrap();
        Mock::given(path("/oauth/token"))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({
                "error": error,
                "error_description": format!(
                    "client_secret={client_secret} does not match; access_token: {access_token}"
                ),
            })))
            .mount(&server)
            .await;
        let logs = Logs::default();
        let guard = logs.capture();
        let err = fetch(&oauth_config(&server, &dir, client_secret))
            .await
            .unwrap_err();
        drop(guard);
        let message = err.to_string();
        assert!(message.contains(error), "{message}");
        for text in [&message, &logs.text()] {
            assert_absent(client_secret, text, "the error or log");
            assert_absent(access_token, text, "the error or log");
        }
    }
    // The token is granted; the API echoes it in its 500s.
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(path("/oauth/token"))
        .respond_with(json_ok(
            json!({"access_token": access_token, "expires_in": 3600}),
        ))
        .mount(&server)
        .await;
    Mock::given(path("/v1/employees"))
        .respond_with(Echo {
            status: 500,
            secrets: vec![access_token.to_string(), client_secret.to_string()],
        })
        .mount(&server)
        .await;
    let logs = Logs::default();
    let guard = logs.capture();
    let err = fetch(&oauth_config(&server, &dir, client_secret))
        .await
        .unwrap_err();
    drop(guard);
    for text in [err.to_string(), logs.text()] {
        assert_absent(access_token, &text, "the error or log");
        assert_absent(client_secret, &text, "the error or log");
    }
}

fn oauth_config(server: &MockServer, dir: &TempDir, client_secret: &str) -> HrConfig {
    let auth = format!(
        "[rest.auth]\ntype = \"oauth2\"\ntoken_url = \"{}/oauth/token\"\nclient_id = \"hrsync\"\n\
         client_secret = {}\n",
        server.uri(),
        secret(dir, "client-secret", client_secret)
    );
    rest_config(&format!("{}/v1/employees", server.uri()), "", &auth, "")
}
