//! The employees changed since a time (`hr::read_changed`, issue 18 item 4), for the sources
//! whose API can say: BambooHR's `GET /v1/employees/changed?since=` (answers shaped like
//! vendor-specs/bamboohr-public.yaml, operationId get-changed-employee-ids, Copyright (c) 2025
//! BambooHR, MIT License), SCIM's `meta.lastModified gt` filter on a real SCIM server
//! (scim2-server), and a generic `hr.rest.changed_url` (a Workday report with an updated-since
//! prompt). The others are not offered, with the reason.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use tempfile::TempDir;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[path = "support/hr.rs"]
mod hr_support;
#[path = "support/scim.rs"]
mod scim_support;

use hr_support::{config, json_ok, secret};
use scim_support::ScimServer;

use hrsync::hr::{self, HrConfig, HrError};

const FAST_RETRY: &str =
    "[rest.retry]\nmax_attempts = 2\ninitial_backoff_ms = 5\nmax_backoff_ms = 20\n";

fn since() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 9, 30, 0).unwrap()
}

async fn changed(config: &HrConfig, since: DateTime<Utc>) -> Result<Vec<String>, HrError> {
    tokio::time::timeout(Duration::from_secs(30), hr::read_changed(config, since))
        .await
        .expect("the read ended")
        .map(|ids| ids.into_iter().collect())
}

fn bamboohr(server: &MockServer, dir: &TempDir) -> HrConfig {
    config(&format!(
        "preset = \"bamboohr\"\ncompany_domain = \"acme\"\nbase_url = \"{}/acme/v1\"\n\
         api_key = {}\n{FAST_RETRY}",
        server.uri(),
        secret(dir, "key", "bamboo-key")
    ))
}

#[tokio::test]
async fn bamboohr_lists_inserted_updated_and_deleted_employees_since_the_time() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("GET"))
        .and(path("/acme/v1/employees/changed"))
        .and(query_param("since", "2026-12-04T09:30:00Z"))
        .respond_with(json_ok(json!({
            "latest": "2026-12-04T09:41:07+00:00",
            "employees": {
                "123": {"id": "123", "action": "Updated", "lastChanged": "2026-12-04T09:41:07+00:00"},
                "124": {"id": "124", "action": "Deleted", "lastChanged": "2026-12-04T09:35:00+00:00"},
                "200": {"id": "200", "action": "Inserted", "lastChanged": "2026-12-04T09:31:00+00:00"}
            }
        })))
        .expect(1)
        .mount(&server)
        .await;
    let config = bamboohr(&server, &dir);
    assert_eq!(hr::can_read_changes(&config), Ok(()));
    assert_eq!(
        changed(&config, since()).await.unwrap(),
        ["123", "124", "200"]
    );
}

#[tokio::test]
async fn bamboohr_errors_and_answers_of_another_shape_are_errors_never_no_changes() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("GET"))
        .and(path("/acme/v1/employees/changed"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    let config = bamboohr(&server, &dir);
    let error = changed(&config, since()).await.unwrap_err();
    assert!(
        matches!(error, HrError::Http { status: 503, .. }),
        "{error:?}"
    );
    Mock::given(method("GET"))
        .and(path("/acme/v1/employees/changed"))
        .respond_with(json_ok(json!({"latest": "x", "changed": ["123"]})))
        .mount(&server)
        .await;
    let error = changed(&config, since()).await.unwrap_err();
    assert!(error.to_string().contains("employees"), "{error}");
    let log = format!("{error:?}");
    assert!(!log.contains("bamboo-key"), "the key in an error: {log}");
}

/// A Workday-like report with an updated-since prompt: `{since}` percent-encoded into the
/// query, the records at the list's pointer, each id read as the list reads it.
#[tokio::test]
async fn a_changed_url_with_a_since_prompt_reads_the_ids_of_its_records() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("GET"))
        .and(path("/ccx/service/customreport2/acme/ISU/Workers"))
        .and(query_param("Updated_Since", "2026-12-04T09:30:00Z"))
        .and(query_param("format", "json"))
        .respond_with(json_ok(json!({
            "Report_Entry": [
                {"Employee_ID": "21001", "Worker_Status": "Terminated"},
                {"Employee_ID": "21002", "Worker_Status": "Active"}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let base = format!(
        "{}/ccx/service/customreport2/acme/ISU/Workers",
        server.uri()
    );
    let config = config(&format!(
        r#"source = "rest"
[rest]
url = "{base}?format=json"
records = "/Report_Entry"
changed_url = "{base}?Updated_Since={{since}}&format=json"
[rest.auth]
type = "bearer"
token = {token}
[fields]
id = "$.Employee_ID"
[status]
path = "$.Worker_Status"
active = ["Active"]
terminated = ["Terminated"]
"#,
        token = secret(&dir, "token", "workday-token")
    ));
    assert_eq!(changed(&config, since()).await.unwrap(), ["21001", "21002"]);
}

#[tokio::test]
async fn scim_lists_the_users_modified_after_the_time_on_a_real_server() {
    let server = ScimServer::start().await;
    let dir = TempDir::new().unwrap();
    let config = config(&format!(
        "preset = \"scim\"\nbase_url = \"{}\"\ntoken = {}\n",
        server.base_url,
        secret(&dir, "scim-token", &server.token)
    ));
    assert_eq!(hr::can_read_changes(&config), Ok(()));
    let now = DateTime::<Utc>::from(std::time::SystemTime::now());
    let before = now - chrono::Duration::seconds(5);
    let user: Value = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "active": true,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "E7"}
    });
    server.create_user(&user).await;
    assert_eq!(changed(&config, before).await.unwrap(), ["E7"]);
    let later = now + chrono::Duration::seconds(60);
    assert!(changed(&config, later).await.unwrap().is_empty());
}

#[test]
fn sources_that_cannot_say_what_changed_are_not_offered_with_the_reason() {
    let dir = TempDir::new().unwrap();
    let personio = config(&format!(
        "preset = \"personio\"\nclient_id = {}\nclient_secret = {}\n",
        secret(&dir, "id", "personio-id"),
        secret(&dir, "secret", "personio-secret")
    ));
    let why = hr::can_read_changes(&personio).unwrap_err();
    assert!(why.contains("no query for the employees changed"), "{why}");
    let csv = dir.path().join("hr.csv");
    std::fs::write(&csv, "id,status\n1,Active\n").unwrap();
    let file = config(&format!(
        "source = \"file\"\n[file]\npath = \"{}\"\n[fields]\nid = \"$.id\"\n[status]\npath = \"$.status\"\nactive = [\"Active\"]\n",
        csv.display()
    ));
    assert!(hr::can_read_changes(&file).is_err());
}
