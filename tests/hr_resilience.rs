//! The REST engine under stress (wiremock): retries with backoff for 429, 5xx and Retry-After,
//! no retries for refused credentials, OAuth2 client credentials with a cached and refreshed
//! token, and the page-number, cursor, Link header and OData pagination styles.
//!
//! No test measures time: each pins what the server saw (request counts) and what came back.
//! Backoffs are configured in milliseconds so the suite stays fast.

use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;
use wiremock::matchers::{
    bearer_token, body_partial_json, body_string_contains, header, method, path, query_param,
    query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[path = "support/hr.rs"]
mod hr_support;
use hr_support::{config, json_ok, secret};

use hrsync::hr::{self, HrConfig, HrError};

/// Small backoffs so retries cost milliseconds.
const FAST_RETRY: &str = "[rest.retry]\nmax_attempts = 4\ninitial_backoff_ms = 5\n\
                          max_backoff_ms = 20\nmax_total_secs = 20\n";

const FIELDS: &str = r#"
[fields]
id = "$.id"
[status]
path = "$.status"
active = ["Active"]
"#;

/// A config: `rest` holds the `[rest]` keys, `tables` more `[rest.*]` tables.
fn rest_config(rest: &str, tables: &str) -> HrConfig {
    config(&format!(
        "source = \"rest\"\n[rest]\n{rest}\n{tables}\n{FAST_RETRY}\n{FIELDS}"
    ))
}

async fn fetch(config: &HrConfig) -> Result<Vec<Value>, HrError> {
    let read = hr::read(config, true);
    let (_, records) = tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("the fetch finished")?;
    Ok(records.into_iter().map(hr::Record::into_value).collect())
}

fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["id"].as_str().unwrap_or("?").to_string())
        .collect()
}

fn employee(id: &str) -> Value {
    json!({"id": id, "status": "Active"})
}

fn bearer_tables(dir: &TempDir) -> String {
    format!(
        "[rest.auth]\ntype = \"bearer\"\ntoken = {}\n",
        secret(dir, "token", "TOKEN-SHOULD-NOT-LEAK")
    )
}

// ---------------------------------------------------------------------------------------------
// Retries

#[tokio::test]
async fn a_429_with_retry_after_is_retried_and_the_fetch_succeeds() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_string("slow down"),
        )
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(bearer_token("TOKEN-SHOULD-NOT-LEAK"))
        .respond_with(json_ok(
            json!({"employees": [employee("1"), employee("2")]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let records = fetch(&rest_config(
        &format!(
            "url = \"{}/v1/employees\"\nrecords = \"/employees\"",
            server.uri()
        ),
        &bearer_tables(&dir),
    ))
    .await
    .unwrap();
    assert_eq!(ids(&records), ["1", "2"]);
}

#[tokio::test]
async fn a_503_twice_then_success_is_retried() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_string("maintenance"))
        .up_to_n_times(2)
        .expect(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(json_ok(json!({"employees": [employee("1")]})))
        .expect(1)
        .mount(&server)
        .await;
    let records = fetch(&rest_config(
        &format!(
            "url = \"{}/v1/employees\"\nrecords = \"/employees\"",
            server.uri()
        ),
        &bearer_tables(&dir),
    ))
    .await
    .unwrap();
    assert_eq!(ids(&records), ["1"]);
}

#[tokio::test]
async fn a_persistent_500_on_a_middle_page_fails_after_max_attempts_naming_the_page() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(query_param("offset", "0"))
        .respond_with(json_ok(
            json!({"employees": [employee("1"), employee("2")], "total": 5}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(query_param("offset", "2"))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream broke"))
        .expect(4)
        .mount(&server)
        .await;
    Mock::given(query_param("offset", "4"))
        .respond_with(json_ok(json!({"employees": [employee("5")], "total": 5})))
        .expect(0)
        .mount(&server)
        .await;
    let err = fetch(&rest_config(
        &format!(
            "url = \"{}/v1/employees\"\nrecords = \"/employees\"",
            server.uri()
        ),
        &format!(
            "{}[rest.pagination]\ntype = \"offset\"\nlimit = 2\ntotal_ptr = \"/total\"\n",
            bearer_tables(&dir)
        ),
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            HrError::Http {
                status: 500,
                attempts: 4,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("/v1/employees (page 2)"), "{message}");
    assert!(message.contains("after 4 attempts"), "{message}");
    assert!(message.contains("upstream broke"), "{message}");
}

// ---------------------------------------------------------------------------------------------
// Bodies cut short (issue 17, item 2). wiremock always sends whole answers, so these use a
// plain socket server that answers the first requests with the headers and half the body and
// then drops the connection.

/// How [`CutServer`] ends a connection it cuts short.
#[derive(Clone, Copy)]
enum Cut {
    /// A TCP reset (RST), as when a proxy or the server's process dies mid-answer.
    Reset,
    /// A plain close (FIN) before the `Content-Length` bytes are all sent.
    Close,
}

/// A socket server: the first `cut` requests get `200`, a `Content-Length` for the whole body
/// and half of it, then the connection is cut; later ones get the whole body.
struct CutServer {
    url: String,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl CutServer {
    async fn start(body: Value, cut: usize, how: Cut) -> CutServer {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let url = format!(
            "http://{}/v1/employees",
            listener.local_addr().expect("an address")
        );
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = connections.clone();
        let body = body.to_string().into_bytes();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let number = counter.fetch_add(1, Ordering::SeqCst) + 1;
                // The request: read until the end of its headers (a GET has no body).
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let whole = number > cut;
                let sent = if whole {
                    &body[..]
                } else {
                    &body[..body.len() / 2]
                };
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(sent).await;
                let _ = stream.flush().await;
                if !whole {
                    if let Cut::Reset = how {
                        stream.set_zero_linger().expect("SO_LINGER 0");
                    }
                    // Let the client read the half body before the connection goes.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                drop(stream);
            }
        });
        CutServer {
            url,
            connections,
            task,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn config(&self) -> HrConfig {
        rest_config(
            &format!("url = \"{}\"\nrecords = \"/employees\"", self.url),
            "",
        )
    }
}

impl Drop for CutServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn many_employees() -> Value {
    // Large enough that half of it is not a JSON document by accident.
    let employees: Vec<Value> = (0..200).map(|i| employee(&i.to_string())).collect();
    json!({ "employees": employees })
}

#[tokio::test]
async fn a_body_cut_short_by_a_reset_is_retried_like_a_failed_connect() {
    for how in [Cut::Reset, Cut::Close] {
        let server = CutServer::start(many_employees(), 2, how).await;
        let records = fetch(&server.config()).await.unwrap();
        assert_eq!(records.len(), 200);
        assert_eq!(server.connections(), 3, "two cut answers, then a whole one");
    }
}

#[tokio::test]
async fn a_body_cut_short_on_every_attempt_fails_after_max_attempts_as_a_transport_error() {
    let server = CutServer::start(many_employees(), usize::MAX, Cut::Reset).await;
    let err = fetch(&server.config()).await.unwrap_err();
    assert!(
        matches!(err, HrError::Transport { attempts: 4, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("cut short"), "{message}");
    assert!(message.contains("gave up after 4 attempts"), "{message}");
    assert_eq!(server.connections(), 4);
}

/// Only a body that arrived whole and still is not JSON is a decode error: trying again cannot
/// change it, so it is tried once.
#[tokio::test]
async fn a_whole_body_that_is_not_json_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"employees\": [1, 2"))
        .expect(1)
        .mount(&server)
        .await;
    let err = fetch(&rest_config(
        &format!(
            "url = \"{}/v1/employees\"\nrecords = \"/employees\"",
            server.uri()
        ),
        "",
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, HrError::NotJson { .. }), "{err:?}");
}

#[tokio::test]
async fn refused_credentials_are_not_retried() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_string("bad key"))
        .expect(1)
        .mount(&server)
        .await;
    let err = fetch(&rest_config(
        &format!(
            "url = \"{}/v1/employees\"\nrecords = \"/employees\"",
            server.uri()
        ),
        &bearer_tables(&dir),
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(err, HrError::Credentials { status: 401, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn other_client_errors_are_not_retried() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(400).set_body_string("bad filter"))
        .expect(1)
        .mount(&server)
        .await;
    let err = fetch(&rest_config(
        &format!(
            "url = \"{}/v1/employees\"\nrecords = \"/employees\"",
            server.uri()
        ),
        &bearer_tables(&dir),
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            HrError::Http {
                status: 400,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_fails_at_once_naming_the_wait() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .expect(1)
        .mount(&server)
        .await;
    let err = fetch(&rest_config(
        &format!(
            "url = \"{}/v1/employees\"\nrecords = \"/employees\"",
            server.uri()
        ),
        &bearer_tables(&dir),
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            HrError::RetryAfterTooLong {
                wait_secs: 3600,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("HTTP 429"), "{message}");
    assert!(message.contains("wait 3600 s"), "{message}");
    assert!(
        message.contains("hr.rest.retry.max_total_secs"),
        "{message}"
    );
}

// ---------------------------------------------------------------------------------------------
// OAuth2 client credentials

fn oauth_tables(server: &MockServer, dir: &TempDir) -> String {
    format!(
        "[rest.auth]\ntype = \"oauth2\"\ntoken_url = \"{}/oauth/token\"\nclient_id = \"hrsync\"\n\
         client_secret = {}\nscope = \"employees:read\"\n\
         [rest.pagination]\ntype = \"next_url\"\nptr = \"/next\"\n",
        server.uri(),
        secret(dir, "client_secret", "CLIENT-SECRET-SHOULD-NOT-LEAK"),
    )
}

fn token_answer(token: &str, expires_in: u64) -> ResponseTemplate {
    json_ok(json!({"access_token": token, "token_type": "Bearer", "expires_in": expires_in}))
}

async fn mount_two_pages(server: &MockServer, token: &str) {
    Mock::given(path("/v1/employees"))
        .and(bearer_token(token))
        .and(query_param_is_missing("page"))
        .respond_with(json_ok(json!({
            "employees": [employee("1")],
            "next": format!("{}/v1/employees?page=2", server.uri()),
        })))
        .mount(server)
        .await;
    Mock::given(path("/v1/employees"))
        .and(bearer_token(token))
        .and(query_param("page", "2"))
        .respond_with(json_ok(json!({"employees": [employee("2")], "next": null})))
        .mount(server)
        .await;
}

fn oauth_config(server: &MockServer, dir: &TempDir) -> HrConfig {
    rest_config(
        &format!(
            "url = \"{}/v1/employees\"\nrecords = \"/employees\"",
            server.uri()
        ),
        &oauth_tables(server, dir),
    )
}

#[tokio::test]
async fn an_oauth2_token_is_fetched_once_for_a_multi_page_fetch() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("client_id=hrsync"))
        .and(body_string_contains(
            "client_secret=CLIENT-SECRET-SHOULD-NOT-LEAK",
        ))
        .and(body_string_contains("scope=employees%3Aread"))
        .respond_with(token_answer("TOKEN-1", 3600))
        .expect(1)
        .mount(&server)
        .await;
    mount_two_pages(&server, "TOKEN-1").await;
    let records = fetch(&oauth_config(&server, &dir)).await.unwrap();
    assert_eq!(ids(&records), ["1", "2"]);
}

#[tokio::test]
async fn an_oauth2_token_about_to_expire_is_replaced_before_the_next_page() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    // A token that lives 0 seconds is stale at once: each page needs a new one.
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(token_answer("TOKEN-1", 0))
        .expect(2)
        .mount(&server)
        .await;
    mount_two_pages(&server, "TOKEN-1").await;
    let records = fetch(&oauth_config(&server, &dir)).await.unwrap();
    assert_eq!(ids(&records), ["1", "2"]);
}

#[tokio::test]
async fn an_oauth2_token_the_api_refuses_is_refreshed_once_and_the_page_retried() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(token_answer("TOKEN-OLD", 3600))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(token_answer("TOKEN-NEW", 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/employees"))
        .and(bearer_token("TOKEN-OLD"))
        .respond_with(ResponseTemplate::new(401).set_body_string("token expired"))
        .expect(1)
        .mount(&server)
        .await;
    mount_two_pages(&server, "TOKEN-NEW").await;
    let records = fetch(&oauth_config(&server, &dir)).await.unwrap();
    assert_eq!(ids(&records), ["1", "2"]);
}

#[tokio::test]
async fn an_api_that_refuses_even_a_fresh_token_is_a_credentials_error() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(token_answer("TOKEN-1", 3600))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(path("/v1/employees"))
        .respond_with(ResponseTemplate::new(401))
        .expect(2)
        .mount(&server)
        .await;
    let err = fetch(&oauth_config(&server, &dir)).await.unwrap_err();
    assert!(
        matches!(err, HrError::Credentials { status: 401, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("TOKEN-1"), "{err}");
}

#[tokio::test]
async fn a_token_endpoint_that_refuses_the_client_is_a_clear_error() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/employees"))
        .respond_with(json_ok(json!({"employees": []})))
        .expect(0)
        .mount(&server)
        .await;
    let err = fetch(&oauth_config(&server, &dir)).await.unwrap_err();
    assert!(
        matches!(err, HrError::OAuth2Refused { status: 401, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("OAuth2 token endpoint refused the client credentials"),
        "{message}"
    );
    assert!(message.contains("invalid_client"), "{message}");
    assert!(!message.contains("CLIENT-SECRET"), "{message}");
}

#[tokio::test]
async fn a_token_answer_without_the_token_names_the_pointer() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(json_ok(json!({"token": "TOKEN-1"})))
        .expect(1)
        .mount(&server)
        .await;
    let err = fetch(&oauth_config(&server, &dir)).await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("\"/access_token\""), "{message}");
    assert!(message.contains("an object with keys token"), "{message}");
    assert!(!message.contains("TOKEN-1"), "{message}");
}

#[tokio::test]
async fn a_json_encoded_token_request_sends_json() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains(
            "\"grant_type\":\"client_credentials\"",
        ))
        .respond_with(json_ok(json!({"data": {"token": "TOKEN-1"}})))
        .expect(1)
        .mount(&server)
        .await;
    mount_two_pages(&server, "TOKEN-1").await;
    let tables = oauth_tables(&server, &dir).replace(
        "[rest.pagination]",
        "encoding = \"json\"\ntoken_ptr = \"/data/token\"\n[rest.pagination]",
    );
    let config = rest_config(
        &format!(
            "url = \"{}/v1/employees\"\nrecords = \"/employees\"",
            server.uri()
        ),
        &tables,
    );
    let records = fetch(&config).await.unwrap();
    assert_eq!(ids(&records), ["1", "2"]);
}

// ---------------------------------------------------------------------------------------------
// Pagination kinds

fn gusto_config(server: &MockServer, dir: &TempDir) -> HrConfig {
    rest_config(
        &format!(
            "url = \"{}/v1/companies/c1/employees\"\nrecords = \"\"",
            server.uri()
        ),
        &format!(
            "{}[rest.pagination]\ntype = \"page\"\nsize_param = \"per\"\nsize = 2\n\
             total_pages_header = \"X-Total-Pages\"\n",
            bearer_tables(dir)
        ),
    )
}

#[tokio::test]
async fn page_numbers_with_a_total_pages_header_read_every_page() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    for (page, body) in [
        ("1", json!([employee("1"), employee("2")])),
        ("2", json!([employee("3"), employee("4")])),
        ("3", json!([employee("5"), employee("6")])),
    ] {
        Mock::given(path("/v1/companies/c1/employees"))
            .and(query_param("page", page))
            .and(query_param("per", "2"))
            .respond_with(json_ok(body).insert_header("X-Total-Pages", "3"))
            .expect(1)
            .mount(&server)
            .await;
    }
    let records = fetch(&gusto_config(&server, &dir)).await.unwrap();
    assert_eq!(ids(&records), ["1", "2", "3", "4", "5", "6"]);
}

#[tokio::test]
async fn a_short_page_before_the_announced_last_page_is_an_incomplete_fetch() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(query_param("page", "1"))
        .respond_with(
            json_ok(json!([employee("1"), employee("2")])).insert_header("X-Total-Pages", "3"),
        )
        .mount(&server)
        .await;
    Mock::given(query_param("page", "2"))
        .respond_with(json_ok(json!([employee("3")])).insert_header("X-Total-Pages", "3"))
        .mount(&server)
        .await;
    let err = fetch(&gusto_config(&server, &dir)).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, HrError::Pagination { .. }), "{err:?}");
    assert!(message.contains("(page 2)"), "{message}");
    assert!(message.contains("announces 3 pages"), "{message}");
}

/// Issue 17, item 1: the number of pages drops from 3 to 2 between page 1 and page 2 (records
/// deleted in HR while paging). Page 2 then looked like the last page and the fetch ended as
/// complete; the records that moved up onto page 1 were never read.
#[tokio::test]
async fn a_number_of_pages_that_changes_between_pages_fails_the_fetch() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(query_param("page", "1"))
        .respond_with(
            json_ok(json!([employee("1"), employee("2")])).insert_header("X-Total-Pages", "3"),
        )
        .mount(&server)
        .await;
    Mock::given(query_param("page", "2"))
        .respond_with(
            json_ok(json!([employee("4"), employee("5")])).insert_header("X-Total-Pages", "2"),
        )
        .mount(&server)
        .await;
    let err = fetch(&gusto_config(&server, &dir)).await.unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(
            err,
            HrError::TotalChanged {
                first: 3,
                now: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(message.contains("(page 2)"), "{message}");
    assert!(message.contains("X-Total-Pages"), "{message}");
}

async fn mount_two_cursor_pages(server: &MockServer, first: Value, second: Value) {
    Mock::given(query_param_is_missing("page[after]"))
        .respond_with(json_ok(first))
        .mount(server)
        .await;
    Mock::given(query_param("page[after]", "CUR-A"))
        .respond_with(json_ok(second))
        .mount(server)
        .await;
}

/// A cursor style with `total_ptr` (BambooHR's `/meta/total`) checks the total like offset
/// paging does: the same on every page, and equal to what arrived at the end.
#[tokio::test]
async fn a_cursor_with_a_total_checks_it_on_every_page_and_at_the_end() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    let config = |server: &MockServer| {
        rest_config(
            &format!(
                "url = \"{}/api/v1/employees\"\nrecords = \"/data\"",
                server.uri()
            ),
            &format!(
                "{}[rest.pagination]\ntype = \"cursor\"\nparam = \"page[after]\"\n\
                 next_ptr = \"/meta/page/nextCursor\"\ntotal_ptr = \"/meta/total\"\n",
                bearer_tables(&dir)
            ),
        )
    };
    let page = |ids: &[&str], total: u64, next: Option<&str>| {
        json!({
            "data": ids.iter().map(|id| employee(id)).collect::<Vec<_>>(),
            "meta": {"total": total, "page": {"limit": 2, "nextCursor": next, "prevCursor": null}},
        })
    };
    // Every page says 3, and 3 arrived.
    mount_two_cursor_pages(
        &server,
        page(&["1", "2"], 3, Some("CUR-A")),
        page(&["3"], 3, None),
    )
    .await;
    assert_eq!(
        ids(&fetch(&config(&server)).await.unwrap()),
        ["1", "2", "3"]
    );
    // The total changes from 3 to 2.
    let changed = MockServer::start().await;
    mount_two_cursor_pages(
        &changed,
        page(&["1", "2"], 3, Some("CUR-A")),
        page(&["3"], 2, None),
    )
    .await;
    let err = fetch(&config(&changed)).await.unwrap_err();
    assert!(
        matches!(
            err,
            HrError::TotalChanged {
                first: 3,
                now: 2,
                ..
            }
        ),
        "{err:?}"
    );
    // The total stays 4, but the cursor ends after 3.
    let short = MockServer::start().await;
    mount_two_cursor_pages(
        &short,
        page(&["1", "2"], 4, Some("CUR-A")),
        page(&["3"], 4, None),
    )
    .await;
    let err = fetch(&config(&short)).await.unwrap_err();
    assert!(
        matches!(
            err,
            HrError::Incomplete {
                expected: 4,
                received: 3,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn page_numbers_without_a_total_stop_at_a_short_page() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(query_param("page", "0"))
        .respond_with(json_ok(
            json!({"data": [employee("1"), employee("2")], "meta": {"pages": 2}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(query_param("page", "1"))
        .respond_with(json_ok(
            json!({"data": [employee("3")], "meta": {"pages": 2}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let records = fetch(&rest_config(
        &format!("url = \"{}/v1/people\"\nrecords = \"/data\"", server.uri()),
        &format!(
            "{}[rest.pagination]\ntype = \"page\"\nsize = 2\nstart = 0\n\
             total_pages_ptr = \"/meta/pages\"\n",
            bearer_tables(&dir)
        ),
    ))
    .await
    .unwrap();
    assert_eq!(ids(&records), ["1", "2", "3"]);
}

fn bamboo_v1_config(server: &MockServer, dir: &TempDir) -> HrConfig {
    rest_config(
        &format!(
            "url = \"{}/api/v1/employees\"\nrecords = \"/data\"\n\
             query = {{ \"page[limit]\" = \"2\" }}",
            server.uri()
        ),
        &format!(
            "{}[rest.pagination]\ntype = \"cursor\"\nparam = \"page[after]\"\n\
             next_ptr = \"/meta/page/nextCursor\"\n",
            bearer_tables(dir)
        ),
    )
}

#[tokio::test]
async fn a_cursor_in_the_body_reads_every_page() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(path("/api/v1/employees"))
        .and(query_param_is_missing("page[after]"))
        .and(query_param("page[limit]", "2"))
        .respond_with(json_ok(json!({
            "data": [employee("1"), employee("2")],
            "meta": {"page": {"nextCursor": "CUR-A"}},
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/employees"))
        .and(query_param("page[after]", "CUR-A"))
        .respond_with(json_ok(json!({
            "data": [employee("3")],
            "meta": {"page": {"nextCursor": null}},
        })))
        .expect(1)
        .mount(&server)
        .await;
    let records = fetch(&bamboo_v1_config(&server, &dir)).await.unwrap();
    assert_eq!(ids(&records), ["1", "2", "3"]);
}

#[tokio::test]
async fn a_repeated_cursor_is_an_error() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(path("/api/v1/employees"))
        .and(query_param_is_missing("page[after]"))
        .respond_with(json_ok(json!({
            "data": [employee("1")],
            "meta": {"page": {"nextCursor": "CUR-A"}},
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/employees"))
        .and(query_param("page[after]", "CUR-A"))
        .respond_with(json_ok(json!({
            "data": [employee("2")],
            "meta": {"page": {"nextCursor": "CUR-A"}},
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = fetch(&bamboo_v1_config(&server, &dir)).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, HrError::Pagination { .. }), "{err:?}");
    assert!(message.contains("(page 2)"), "{message}");
    assert!(message.contains("returned before"), "{message}");
}

fn link_config(server: &MockServer, dir: &TempDir) -> HrConfig {
    rest_config(
        &format!("url = \"{}/v2/users\"\nrecords = \"\"", server.uri()),
        &format!(
            "{}[rest.pagination]\ntype = \"link_header\"\n",
            bearer_tables(dir)
        ),
    )
}

#[tokio::test]
async fn rfc_8288_link_headers_read_every_page() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(path("/v2/users"))
        .and(query_param_is_missing("page"))
        .respond_with(
            json_ok(json!([employee("1")])).insert_header(
                "Link",
                format!(
                    "<{0}/v2/users?page=1>; rel=\"first\", <{0}/v2/users?page=2>; rel=\"next\"",
                    server.uri()
                )
                .as_str(),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v2/users"))
        .and(query_param("page", "2"))
        .respond_with(
            json_ok(json!([employee("2")])).insert_header("Link", "</v2/users>; rel=\"first\""),
        )
        .expect(1)
        .mount(&server)
        .await;
    let records = fetch(&link_config(&server, &dir)).await.unwrap();
    assert_eq!(ids(&records), ["1", "2"]);
}

#[tokio::test]
async fn a_link_header_to_another_origin_is_refused() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(path("/v2/users"))
        .respond_with(json_ok(json!([employee("1")])).insert_header(
            "Link",
            "<https://evil.example/v2/users?page=2>; rel=\"next\"",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let err = fetch(&link_config(&server, &dir)).await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("another origin"), "{message}");
    assert!(message.contains("https://evil.example"), "{message}");
}

#[tokio::test]
async fn odata_next_links_work_with_next_url() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(path("/v1.0/users"))
        .and(query_param_is_missing("$skiptoken"))
        .respond_with(json_ok(json!({
            "@odata.context": "…",
            "value": [employee("1"), employee("2")],
            "@odata.nextLink": format!("{}/v1.0/users?$skiptoken=X1", server.uri()),
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1.0/users"))
        .and(query_param("$skiptoken", "X1"))
        .respond_with(json_ok(json!({"value": [employee("3")]})))
        .expect(1)
        .mount(&server)
        .await;
    let records = fetch(&rest_config(
        &format!(
            "url = \"{}/v1.0/users\"\nrecords = \"/value\"",
            server.uri()
        ),
        &format!(
            "{}[rest.pagination]\ntype = \"next_url\"\nptr = \"/@odata.nextLink\"\n",
            bearer_tables(&dir)
        ),
    ))
    .await
    .unwrap();
    assert_eq!(ids(&records), ["1", "2", "3"]);
}

// ---------------------------------------------------------------------------------------------
// OAuth2 refresh token grant (Workday API clients)

#[tokio::test]
async fn the_refresh_token_grant_sends_the_refresh_token_and_keeps_a_rotated_one() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    // The first answer rotates the refresh token; the second request (after the API refuses
    // the first access token) must present the new one.
    Mock::given(method("POST"))
        .and(path("/ccx/oauth2/acme/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=REFRESH-ORIGINAL"))
        .and(body_string_contains("client_id=wd-client"))
        .and(body_string_contains("client_secret=WD-SECRET"))
        .respond_with(json_ok(json!({
            "access_token": "TOKEN-OLD", "token_type": "Bearer",
            "refresh_token": "REFRESH-ROTATED"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/ccx/oauth2/acme/token"))
        .and(body_string_contains("refresh_token=REFRESH-ROTATED"))
        .respond_with(token_answer("TOKEN-NEW", 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/employees"))
        .and(bearer_token("TOKEN-OLD"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    mount_two_pages(&server, "TOKEN-NEW").await;
    let tables = format!(
        "[rest.auth]\ntype = \"oauth2\"\ngrant = \"refresh_token\"\n\
         token_url = \"{}/ccx/oauth2/acme/token\"\nclient_id = \"wd-client\"\n\
         client_secret = {}\nrefresh_token = {}\n\
         [rest.pagination]\ntype = \"next_url\"\nptr = \"/next\"\n",
        server.uri(),
        secret(&dir, "client_secret", "WD-SECRET"),
        secret(&dir, "refresh_token", "REFRESH-ORIGINAL"),
    );
    let config = rest_config(
        &format!(
            "url = \"{}/v1/employees\"\nrecords = \"/employees\"",
            server.uri()
        ),
        &tables,
    );
    let records = fetch(&config).await.unwrap();
    assert_eq!(ids(&records), ["1", "2"]);
}

#[test]
fn each_grant_names_the_secret_it_lacks() {
    let base = "source = \"rest\"\n[rest]\nurl = \"https://hr.example.com/v1\"\nrecords = \"\"\n\
                [rest.auth]\ntype = \"oauth2\"\ntoken_url = \"https://hr.example.com/token\"\n\
                client_id = \"c\"\n";
    let problems = |extra: &str| -> String {
        let config: HrConfig = toml::from_str(&format!("{base}{extra}{FIELDS}")).expect("parses");
        config
            .validate()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(problems("").contains("hr.rest.auth.client_secret"));
    let found = problems("grant = \"refresh_token\"\n");
    assert!(found.contains("hr.rest.auth.refresh_token"), "{found}");
    assert!(
        !found.contains("client_secret"),
        "optional with a refresh token: {found}"
    );
    let found = problems("client_secret = { env = \"S\" }\nrefresh_token = { env = \"R\" }\n");
    assert!(found.contains("only used with grant"), "{found}");
}

// ---------------------------------------------------------------------------------------------
// Request pacing (Deel: 5 requests a second, no rate-limit headers)

/// Answers each offset page of 1 record and notes when each request arrived.
struct Timed {
    arrivals: std::sync::Arc<std::sync::Mutex<Vec<std::time::Instant>>>,
    total: u64,
}

impl wiremock::Respond for Timed {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        if let Ok(mut arrivals) = self.arrivals.lock() {
            arrivals.push(std::time::Instant::now());
        }
        let offset: u64 = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "offset")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let data: Vec<Value> = (offset..(offset + 1).min(self.total))
            .map(|i| employee(&i.to_string()))
            .collect();
        json_ok(
            json!({"data": data, "page": {"offset": offset, "total_rows": self.total, "items_per_page": 1}}),
        )
    }
}

#[tokio::test]
async fn requests_per_minute_spaces_the_requests_evenly() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    let arrivals = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    Mock::given(path("/rest/v2/people"))
        .respond_with(Timed {
            arrivals: arrivals.clone(),
            total: 5,
        })
        .expect(5)
        .mount(&server)
        .await;
    // 600 a minute: one request every 100 ms.
    let config = rest_config(
        &format!(
            "url = \"{}/rest/v2/people\"\nrecords = \"/data\"\nrequests_per_minute = 600",
            server.uri()
        ),
        &format!(
            "{}[rest.pagination]\ntype = \"offset\"\nlimit = 1\ntotal_ptr = \"/page/total_rows\"\n",
            bearer_tables(&dir)
        ),
    );
    let records = fetch(&config).await.unwrap();
    assert_eq!(ids(&records), ["0", "1", "2", "3", "4"]);
    let arrivals = arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 5);
    // A lower bound only: pacing can make requests later, never earlier. (Small slack for the
    // server noting the arrival a little after the client's slot began.)
    for pair in arrivals.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(
            gap >= Duration::from_millis(90),
            "requests {gap:?} apart, under the 100 ms that 600 a minute allows"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Paging parameters in a POST body (BambooHR Datasets v2)

#[tokio::test]
async fn page_numbers_in_the_post_body_read_every_page() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    let row = |id: &str| json!({"fields": {"employeeNumber": id, "status": "Active"}});
    for (page, rows) in [(1, vec![row("1"), row("2")]), (2, vec![row("3")])] {
        Mock::given(method("POST"))
            .and(path("/api/v2/datasets/employee/data"))
            .and(header("content-type", "application/json"))
            .and(body_partial_json(json!({
                "fields": ["employeeNumber", "status"], "page": page, "pageSize": 2
            })))
            .respond_with(json_ok(json!({
                "data": rows,
                "links": {"next": null, "prev": null},
                "meta": {"page": page, "pageSize": 2, "totalPages": 2, "totalItems": 3}
            })))
            .expect(1)
            .mount(&server)
            .await;
    }
    let text = format!(
        "source = \"rest\"\n[rest]\nurl = \"{}/api/v2/datasets/employee/data\"\n\
         method = \"POST\"\nrecords = \"/data\"\n\
         body = {{ fields = [\"employeeNumber\", \"status\"] }}\n{}\
         [rest.pagination]\ntype = \"page\"\nin = \"body\"\npage_param = \"page\"\n\
         size_param = \"pageSize\"\nsize = 2\ntotal_pages_ptr = \"/meta/totalPages\"\n\
         {FAST_RETRY}\n[fields]\nid = \"$.fields.employeeNumber\"\n\
         [status]\npath = \"$.fields.status\"\nactive = [\"Active\"]\n",
        server.uri(),
        bearer_tables(&dir)
    );
    let records = fetch(&config(&text)).await.unwrap();
    let numbers: Vec<&str> = records
        .iter()
        .map(|r| r["fields"]["employeeNumber"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(numbers, ["1", "2", "3"]);
}

#[test]
fn paging_in_the_body_needs_a_post_with_a_table_body() {
    let text = "source = \"rest\"\n[rest]\nurl = \"https://hr.example.com/data\"\nrecords = \"/data\"\n\
                body = { page = 1 }\nmethod = \"POST\"\n\
                [rest.pagination]\ntype = \"page\"\nin = \"body\"\n";
    let config: HrConfig = toml::from_str(&format!("{text}{FIELDS}")).expect("parses");
    let found: Vec<String> = config.validate().iter().map(ToString::to_string).collect();
    assert!(
        found
            .iter()
            .any(|p| p.contains("hr.rest.pagination.page_param") && p.contains("hr.rest.body")),
        "{found:?}"
    );
    let text = "source = \"rest\"\n[rest]\nurl = \"https://hr.example.com/data\"\nrecords = \"/data\"\n\
                [rest.pagination]\ntype = \"offset\"\nin = \"body\"\n";
    let config: HrConfig = toml::from_str(&format!("{text}{FIELDS}")).expect("parses");
    let found: Vec<String> = config.validate().iter().map(ToString::to_string).collect();
    assert!(
        found
            .iter()
            .any(|p| p.contains("hr.rest.pagination.in") && p.contains("POST")),
        "{found:?}"
    );
}
