//! The HR sources against HTTP servers (wiremock) that answer with bodies shaped like the
//! vendors' documented examples (see hr-apis.md), and against JSON export files.
//!
//! What these pin: credentials are actually sent (a mock only answers a request that carries
//! them), every page is fetched and joined in order, and any failure on any page (HTTP error,
//! non-JSON, missing records, a pagination that loops or leaves the origin) is an `Err` with no
//! employees at all.

use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use serde_json::{Value, json};
use tempfile::TempDir;
use wiremock::matchers::{
    basic_auth, bearer_token, body_json, header, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[path = "support/hr.rs"]
mod hr_support;
use hr_support::{config, json_ok, secret, status_today};

use hrsync::hr::{self, HrConfig, HrError};
use hrsync::model::{EmploymentStatus, HrSnapshot};

async fn fetch(config: &HrConfig) -> Result<HrSnapshot, HrError> {
    // Every fetch in these tests must end quickly: a pagination loop would fail here, not hang.
    tokio::time::timeout(Duration::from_secs(30), hr::fetch(config))
        .await
        .expect("the fetch finished")
}

fn ids(snapshot: &HrSnapshot) -> Vec<&str> {
    snapshot.employees.iter().map(|e| e.id.as_str()).collect()
}

// ---------------------------------------------------------------------------------------------
// BambooHR

const BAMBOO_FIELDS: &str = r#"
[fields]
id = "$.id"
first_name = "$.firstName"
last_name = "$.lastName"
email = "$.workEmail"
title = "$.jobTitle"
department = "$.department"
location = "$.location"
employment_type = "$.employmentHistoryStatus"
manager_id = "$.supervisorEId"
hire_date = "$.hireDate"
termination_date = "$.terminationDate"
[status]
path = "$.status"
active = ["Active"]
terminated = ["Inactive"]
"#;

fn bamboo_employee(id: &str, first: &str, status: &str, termination: &str) -> Value {
    json!({
        "id": id,
        "firstName": first,
        "lastName": "Example",
        "workEmail": format!("{}@example.org", first.to_lowercase()),
        "jobTitle": "Engineer",
        "department": "Engineering",
        "location": "London",
        "employmentHistoryStatus": "Full-Time",
        "supervisorEId": "100",
        "hireDate": "2019-03-04",
        "terminationDate": termination,
        "status": status
    })
}

fn bamboo_directory(employees: Vec<Value>) -> Value {
    json!({
        "fields": [
            {"id": "firstName", "type": "text", "name": "First name"},
            {"id": "jobTitle", "type": "list", "name": "Job title"},
            {"id": "status", "type": "status", "name": "Status"}
        ],
        "employees": employees
    })
}

#[tokio::test]
async fn bamboohr_directory_with_the_api_key_as_basic_auth_user() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("GET"))
        .and(path("/api/gateway.php/acme/v1/employees/directory"))
        .and(basic_auth("bamboo-api-key-123", "x"))
        .and(header("accept", "application/json"))
        .respond_with(json_ok(bamboo_directory(vec![
            bamboo_employee("100", "Grace", "Active", "0000-00-00"),
            bamboo_employee("101", "Alan", "Inactive", "2023-12-31"),
            bamboo_employee("102", "Edsger", "Active", "2024-05-31"),
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let config = config(&format!(
        r#"
source = "rest"
[rest]
url = "{uri}/api/gateway.php/acme/v1/employees/directory"
records = "/employees"
[rest.auth]
type = "basic"
username = {user}
password = {password}
{BAMBOO_FIELDS}"#,
        uri = server.uri(),
        user = secret(&dir, "api-key", "bamboo-api-key-123"),
        password = secret(&dir, "x", "x"),
    ));

    let snapshot = fetch(&config).await.unwrap();
    assert!(snapshot.rejected.is_empty(), "{:?}", snapshot.rejected);
    assert_eq!(ids(&snapshot), ["100", "101", "102"]);
    let grace = &snapshot.employees[0];
    assert_eq!(status_today(grace), EmploymentStatus::Active);
    assert_eq!(grace.field("email"), Some("grace@example.org"));
    assert_eq!(grace.field("employment_type"), Some("Full-Time"));
    assert_eq!(grace.termination_date, None, "0000-00-00 is no date");
    assert_eq!(
        status_today(&snapshot.employees[1]),
        EmploymentStatus::Terminated
    );
    // Still "Active" in HR, but the termination date has passed: a leaver.
    assert_eq!(
        status_today(&snapshot.employees[2]),
        EmploymentStatus::Terminated
    );
    assert_eq!(snapshot.employees[2].status_source, "Active");
}

#[tokio::test]
async fn without_the_right_credentials_the_fetch_fails_instead_of_reading_nobody() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("GET"))
        .and(basic_auth("right-key", "x"))
        .respond_with(json_ok(bamboo_directory(vec![bamboo_employee(
            "1", "Ada", "Active", "",
        )])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_string("Unauthorized"))
        .mount(&server)
        .await;
    let config = config(&format!(
        "source = \"rest\"\n[rest]\nurl = \"{}/v1/employees/directory\"\nrecords = \"/employees\"\n\
         [rest.auth]\ntype = \"basic\"\nusername = {}\n{BAMBOO_FIELDS}",
        server.uri(),
        secret(&dir, "key", "wrong-key"),
    ));
    let err = fetch(&config).await.unwrap_err();
    assert!(
        matches!(err, HrError::Credentials { status: 401, .. }),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Personio v1: offset/limit over three pages, bearer token.

fn personio_employee(id: u64, status: &str, supervisor: u64) -> Value {
    json!({
        "type": "Employee",
        "attributes": {
            "id": {"label": "ID", "value": id, "type": "integer"},
            "first_name": {"label": "First name", "value": format!("First{id}")},
            "last_name": {"label": "Last name", "value": format!("Last{id}")},
            "email": {"label": "Email", "value": format!("p{id}@example.org")},
            "status": {"label": "Status", "value": status},
            "hire_date": {"value": "2014-11-09 00:00:00+01:00", "type": "date"},
            "termination_date": {"value": null, "type": "date"},
            "department": {"value": {"type": "Department", "attributes": {"name": "Sales"}}},
            "supervisor": {"value": {"type": "Employee", "attributes": {"id": {"value": supervisor}}}}
        }
    })
}

fn personio_page(offset: u64, employees: Vec<Value>, total: u64) -> Value {
    json!({
        "success": true,
        "metadata": {"total_elements": total, "current_page": offset / 2, "total_pages": 3},
        "offset": offset,
        "limit": 2,
        "data": employees
    })
}

fn personio_config(uri: &str, dir: &TempDir, total_ptr: bool) -> HrConfig {
    config(&personio_text(uri, dir, total_ptr))
}

fn personio_text(uri: &str, dir: &TempDir, total_ptr: bool) -> String {
    format!(
        r#"
source = "rest"
[rest]
url = "{uri}/v1/company/employees"
records = "/data"
[rest.auth]
type = "bearer"
token = {token}
[rest.pagination]
type = "offset"
offset_param = "offset"
limit_param = "limit"
limit = 2
{total}
[fields]
id = "$.attributes.id.value"
first_name = "$.attributes.first_name.value"
last_name = "$.attributes.last_name.value"
email = "$.attributes.email.value"
department = "$.attributes.department.value.attributes.name"
manager_id = "$.attributes.supervisor.value.attributes.id.value"
hire_date = "$.attributes.hire_date.value"
termination_date = "$.attributes.termination_date.value"
[status]
path = "$.attributes.status.value"
active = ["active"]
leave = ["leave"]
pending = ["onboarding"]
terminated = ["inactive"]
"#,
        token = secret(dir, "personio-token", "papi-token-abc"),
        total = if total_ptr {
            "total_ptr = \"/metadata/total_elements\""
        } else {
            ""
        },
    )
}

async fn mount_personio_page(server: &MockServer, offset: u64, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/v1/company/employees"))
        .and(bearer_token("papi-token-abc"))
        .and(query_param("offset", offset.to_string()))
        .and(query_param("limit", "2"))
        .respond_with(response)
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn personio_offset_pages_are_all_fetched_with_the_bearer_token_and_joined_in_order() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    let pages = [
        (
            0,
            vec![
                personio_employee(1, "active", 9),
                personio_employee(2, "leave", 1),
            ],
        ),
        (
            2,
            vec![
                personio_employee(3, "onboarding", 1),
                personio_employee(4, "inactive", 1),
            ],
        ),
        (4, vec![personio_employee(5, "active", 1)]),
    ];
    for (offset, employees) in pages {
        mount_personio_page(
            &server,
            offset,
            json_ok(personio_page(offset, employees, 5)),
        )
        .await;
    }
    let snapshot = fetch(&personio_config(&server.uri(), &dir, true))
        .await
        .unwrap();
    assert!(snapshot.rejected.is_empty(), "{:?}", snapshot.rejected);
    assert_eq!(ids(&snapshot), ["1", "2", "3", "4", "5"]);
    let statuses: Vec<EmploymentStatus> = snapshot.employees.iter().map(status_today).collect();
    assert_eq!(
        statuses,
        [
            EmploymentStatus::Active,
            EmploymentStatus::Leave,
            EmploymentStatus::Pending,
            EmploymentStatus::Terminated,
            EmploymentStatus::Active
        ]
    );
    let first = &snapshot.employees[0];
    assert_eq!(first.manager_id(), Some("9"));
    assert_eq!(first.field("department"), Some("Sales"));
    assert_eq!(first.hire_date, NaiveDate::from_ymd_opt(2014, 11, 9));
    // Each page mock expects exactly one request: verified when the server is dropped.
}

#[tokio::test]
async fn a_failed_middle_page_fails_the_whole_fetch() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    mount_personio_page(
        &server,
        0,
        json_ok(personio_page(
            0,
            vec![
                personio_employee(1, "active", 9),
                personio_employee(2, "active", 1),
            ],
            5,
        )),
    )
    .await;
    // A 500 is retried (4 attempts by default) and then fails the whole fetch.
    Mock::given(method("GET"))
        .and(path("/v1/company/employees"))
        .and(bearer_token("papi-token-abc"))
        .and(query_param("offset", "2"))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream timeout"))
        .expect(4)
        .mount(&server)
        .await;
    Mock::given(query_param("offset", "4"))
        .respond_with(json_ok(personio_page(
            4,
            vec![personio_employee(5, "active", 1)],
            5,
        )))
        .expect(0)
        .mount(&server)
        .await;

    let err = fetch(&personio_config(&server.uri(), &dir, false))
        .await
        .unwrap_err();
    assert!(matches!(err, HrError::Http { status: 500, .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("HTTP 500"), "{message}");
    assert!(
        message.contains("/v1/company/employees (page 2)"),
        "{message}"
    );
    assert!(message.contains("upstream timeout"), "{message}");
}

#[tokio::test]
async fn a_total_that_disagrees_with_the_records_received_is_an_incomplete_fetch() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    // The API says 6, but its last page is short after 5: a record went missing.
    mount_personio_page(
        &server,
        0,
        json_ok(personio_page(
            0,
            vec![
                personio_employee(1, "active", 9),
                personio_employee(2, "active", 1),
            ],
            6,
        )),
    )
    .await;
    mount_personio_page(
        &server,
        2,
        json_ok(personio_page(
            2,
            vec![
                personio_employee(3, "active", 9),
                personio_employee(4, "active", 1),
            ],
            6,
        )),
    )
    .await;
    mount_personio_page(
        &server,
        4,
        json_ok(personio_page(4, vec![personio_employee(5, "active", 1)], 6)),
    )
    .await;

    let err = fetch(&personio_config(&server.uri(), &dir, true))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            HrError::Incomplete {
                expected: 6,
                received: 5,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("/metadata/total_elements"),
        "{err}"
    );
}

/// Issue 17, item 1: employee 2 is deleted in HR between page 1 and page 2. Every record after
/// it moves one place up, so employee 3 moves from offset 2 to offset 1, which was already read,
/// and page 2 (offset 2) starts at employee 4. Page 2 reports the new total, 4, which is exactly
/// what has arrived: the fetch used to end there as complete, without employee 3, an active
/// employee whose account `disable_orphans` then locked and moved.
#[tokio::test]
async fn a_record_deleted_between_pages_changes_the_total_and_fails_the_fetch() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    let first = vec![
        personio_employee(1, "active", 9),
        personio_employee(2, "active", 1),
    ];
    mount_personio_page(&server, 0, json_ok(personio_page(0, first, 5))).await;
    let shifted = vec![
        personio_employee(4, "active", 1),
        personio_employee(5, "active", 1),
    ];
    mount_personio_page(&server, 2, json_ok(personio_page(2, shifted, 4))).await;

    let err = fetch(&personio_config(&server.uri(), &dir, true))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, HrError::TotalChanged { .. }), "{err:?}");
    for part in [
        "(page 2)",
        "page 1 said 5",
        "this page says 4",
        "/metadata/total_elements",
    ] {
        assert!(message.contains(part), "{part:?} missing in: {message}");
    }
}

/// A record added in HR during the fetch shifts the later records one place down: one is read
/// twice, and with a deletion elsewhere another could be skipped. The totals still add up at the
/// end (5 announced, 5 received), which used to pass; the change of total is what shows it.
#[tokio::test]
async fn a_total_that_grows_between_pages_fails_the_fetch_even_when_the_count_adds_up() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    let pages = [(0, vec![1, 2], 4), (2, vec![2, 3], 5), (4, vec![4], 5)];
    for (offset, ids, total) in pages {
        let employees = ids
            .into_iter()
            .map(|id| personio_employee(id, "active", 1))
            .collect();
        Mock::given(query_param("offset", offset.to_string()))
            .respond_with(json_ok(personio_page(offset, employees, total)))
            .mount(&server)
            .await;
    }
    let err = fetch(&personio_config(&server.uri(), &dir, true))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            HrError::TotalChanged {
                first: 4,
                now: 5,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("(page 2)"), "{err}");
}

#[tokio::test]
async fn an_api_that_ignores_the_offset_is_an_error_not_an_endless_loop() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("GET"))
        .respond_with(json_ok(personio_page(
            0,
            vec![
                personio_employee(1, "active", 9),
                personio_employee(2, "active", 1),
            ],
            5,
        )))
        .expect(2)
        .mount(&server)
        .await;
    let err = fetch(&personio_config(&server.uri(), &dir, false))
        .await
        .unwrap_err();
    assert!(matches!(err, HrError::Pagination { .. }), "{err:?}");
    assert!(err.to_string().contains("ignore the paging"), "{err}");
}

#[tokio::test]
async fn more_pages_than_max_pages_is_an_error() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    for offset in [0, 2] {
        let employees = vec![
            personio_employee(offset + 1, "active", 9),
            personio_employee(offset + 2, "active", 9),
        ];
        mount_personio_page(
            &server,
            offset,
            json_ok(personio_page(offset, employees, 6)),
        )
        .await;
    }
    let text = personio_text(&server.uri(), &dir, true);
    let config = config(&format!("{text}\n[limits]\nmax_pages = 2\n"));
    let err = fetch(&config).await.unwrap_err();
    assert!(
        matches!(
            err,
            HrError::Limit {
                key: "max_pages",
                limit: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("(page 3)"), "{message}");
    assert!(
        message.contains("more than hr.limits.max_pages = 2 allows"),
        "{message}"
    );
}

// ---------------------------------------------------------------------------------------------
// BambooHR's current API: `_links.next.href` over several pages.

fn bamboo_v1_employee(id: &str, status: &str) -> Value {
    json!({
        "employeeId": id,
        "firstName": "Ava",
        "lastName": format!("Nguyen{id}"),
        "jobTitleName": "Engineering Manager",
        "status": status,
        "_restrictedFields": []
    })
}

fn bamboo_v1_page(employees: Vec<Value>, next: Option<String>) -> Value {
    json!({
        "data": employees,
        "meta": {"total": 5, "page": {"limit": 2, "nextCursor": null, "prevCursor": null}},
        "_links": {"next": next.map(|href| json!({"href": href})).unwrap_or(Value::Null)}
    })
}

fn bamboo_v1_config(uri: &str, dir: &TempDir) -> HrConfig {
    config(&format!(
        r#"
source = "rest"
[rest]
url = "{uri}/api/v1/employees"
records = "/data"
query = {{ fields = "firstName,lastName,jobTitleName,status", "filter[status]" = "all" }}
headers = {{ "X-Api-Version" = "1" }}
[rest.auth]
type = "bearer"
token = {token}
[rest.pagination]
type = "next_url"
ptr = "/_links/next/href"
[fields]
id = "$.employeeId"
first_name = "$.firstName"
last_name = "$.lastName"
title = ["$.jobTitle", "$.jobTitleName"]
[status]
path = "$.status"
active = ["Active"]
terminated = ["Inactive"]
"#,
        token = secret(dir, "bamboo-oauth", "bamboo-bearer-xyz"),
    ))
}

#[tokio::test]
async fn bamboohr_next_links_are_followed_absolute_and_relative_until_there_is_none() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    let uri = server.uri();
    Mock::given(method("GET"))
        .and(path("/api/v1/employees"))
        .and(bearer_token("bamboo-bearer-xyz"))
        .and(header("x-api-version", "1"))
        .and(query_param(
            "fields",
            "firstName,lastName,jobTitleName,status",
        ))
        .and(query_param("filter[status]", "all"))
        .and(query_param_is_missing("page[after]"))
        .respond_with(json_ok(bamboo_v1_page(
            vec![
                bamboo_v1_employee("1", "Active"),
                bamboo_v1_employee("2", "Active"),
            ],
            Some(format!(
                "{uri}/api/v1/employees?page%5Bafter%5D=c1&page%5Blimit%5D=2"
            )),
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/employees"))
        .and(bearer_token("bamboo-bearer-xyz"))
        .and(query_param("page[after]", "c1"))
        .respond_with(json_ok(bamboo_v1_page(
            // The second record has a status nobody configured: rejected, at index 3 overall.
            vec![
                bamboo_v1_employee("3", "Inactive"),
                bamboo_v1_employee("4", "Garden leave"),
            ],
            Some("/api/v1/employees?page%5Bafter%5D=c2".into()),
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/employees"))
        .and(bearer_token("bamboo-bearer-xyz"))
        .and(query_param("page[after]", "c2"))
        .respond_with(json_ok(bamboo_v1_page(
            vec![bamboo_v1_employee("5", "Active")],
            None,
        )))
        .expect(1)
        .mount(&server)
        .await;

    let snapshot = fetch(&bamboo_v1_config(&uri, &dir)).await.unwrap();
    assert_eq!(ids(&snapshot), ["1", "2", "3", "5"]);
    assert_eq!(
        status_today(&snapshot.employees[2]),
        EmploymentStatus::Terminated
    );
    assert_eq!(
        snapshot.employees[0].field("title"),
        Some("Engineering Manager")
    );
    assert_eq!(snapshot.rejected.len(), 1);
    assert_eq!(snapshot.rejected[0].id.as_deref(), Some("4"));
    assert_eq!(
        snapshot.rejected[0].index, 3,
        "positions count across pages"
    );
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused_and_nothing_is_sent_there() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("GET"))
        .respond_with(json_ok(bamboo_v1_page(
            vec![bamboo_v1_employee("1", "Active")],
            Some(format!(
                "{}/api/v1/employees?page%5Bafter%5D=c1",
                elsewhere.uri()
            )),
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(json_ok(bamboo_v1_page(vec![], None)))
        .expect(0)
        .mount(&elsewhere)
        .await;

    let err = fetch(&bamboo_v1_config(&server.uri(), &dir))
        .await
        .unwrap_err();
    assert!(matches!(err, HrError::Pagination { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("another origin"), "{message}");
    assert!(message.contains(&elsewhere.uri()), "{message}");
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_next_link_that_leads_back_is_an_error_not_a_hang() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(query_param_is_missing("page[after]"))
        .respond_with(json_ok(bamboo_v1_page(
            vec![bamboo_v1_employee("1", "Active")],
            Some("/api/v1/employees?page%5Bafter%5D=c1".into()),
        )))
        .expect(1)
        .mount(&server)
        .await;
    // Page 2 links to itself.
    Mock::given(query_param("page[after]", "c1"))
        .respond_with(json_ok(bamboo_v1_page(
            vec![bamboo_v1_employee("2", "Active")],
            Some("?page%5Bafter%5D=c1".into()),
        )))
        .expect(1)
        .mount(&server)
        .await;

    let err = fetch(&bamboo_v1_config(&server.uri(), &dir))
        .await
        .unwrap_err();
    assert!(matches!(err, HrError::Pagination { .. }), "{err:?}");
    assert!(err.to_string().contains("leads back to page 2"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Other vendor shapes.

#[tokio::test]
async fn hibob_search_posts_its_json_body_with_service_user_basic_auth() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("POST"))
        .and(path("/v1/people/search"))
        .and(basic_auth("SERVICE-USER-1", "service-token"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"showInactive": true, "humanReadable": "REPLACE"})))
        .respond_with(json_ok(json!({"employees": [{
            "id": "3332883884017713238",
            "firstName": "Jane",
            "surname": "Doe",
            "email": "jane@example.org",
            "work": {"title": "CTO", "department": "R&D", "site": "Berlin", "startDate": "2000-01-23",
                     "reportsTo": {"id": "3332883804594373380", "email": "boss@example.org"}},
            "internal": {"status": "Active", "lifecycleStatus": "employed"}
        }]})))
        .expect(1)
        .mount(&server)
        .await;
    let config = config(&format!(
        r#"
source = "rest"
[rest]
url = "{uri}/v1/people/search"
method = "POST"
body = {{ showInactive = true, humanReadable = "REPLACE" }}
records = "/employees"
[rest.auth]
type = "basic"
username = "SERVICE-USER-1"
password = {password}
[fields]
id = "$.id"
first_name = "$.firstName"
last_name = "$.surname"
email = "$.email"
title = "$.work.title"
location = "$.work.site"
manager_id = "$.work.reportsTo.id"
hire_date = "$.work.startDate"
[status]
path = "$.internal.status"
active = ["Active"]
terminated = ["Inactive"]
"#,
        uri = server.uri(),
        password = secret(&dir, "hibob", "service-token"),
    ));
    let snapshot = fetch(&config).await.unwrap();
    assert_eq!(ids(&snapshot), ["3332883884017713238"]);
    let jane = &snapshot.employees[0];
    assert_eq!(jane.manager_id(), Some("3332883804594373380"));
    assert_eq!(jane.field("location"), Some("Berlin"));
    assert_eq!(jane.hire_date, NaiveDate::from_ymd_opt(2000, 1, 23));
}

#[tokio::test]
async fn gusto_bare_array_with_a_boolean_status_and_a_version_header() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("GET"))
        .and(path("/v1/companies/c-1/employees"))
        .and(bearer_token("gusto-token"))
        .and(header("x-gusto-api-version", "2025-06-15"))
        .respond_with(json_ok(json!([
            {"uuid": "u-1", "first_name": "Ann", "work_email": "ann@example.org", "terminated": false,
             "department": "Ops", "manager_uuid": null,
             "jobs": [{"title": "Ops Lead", "hire_date": "2021-02-01", "primary": true}]},
            {"uuid": "u-2", "first_name": "Bob", "work_email": "bob@example.org", "terminated": true,
             "department": "Ops", "manager_uuid": "u-1",
             "jobs": [{"title": "Temp", "hire_date": "2020-01-01", "primary": false},
                      {"title": "Ops", "hire_date": "2022-01-01", "primary": true}]}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let config = config(&format!(
        r#"
source = "rest"
[rest]
url = "{uri}/v1/companies/c-1/employees"
records = ""
headers = {{ "X-Gusto-API-Version" = "2025-06-15" }}
[rest.auth]
type = "bearer"
token = {token}
[fields]
id = "$.uuid"
first_name = "$.first_name"
email = "$.work_email"
manager_id = "$.manager_uuid"
title = "$.jobs[?@.primary == true].title"
hire_date = "$.jobs[?@.primary == true].hire_date"
[status]
path = "$.terminated"
active = ["false"]
terminated = ["true"]
"#,
        uri = server.uri(),
        token = secret(&dir, "gusto", "gusto-token"),
    ));
    let snapshot = fetch(&config).await.unwrap();
    assert!(snapshot.rejected.is_empty(), "{:?}", snapshot.rejected);
    assert_eq!(ids(&snapshot), ["u-1", "u-2"]);
    assert_eq!(
        status_today(&snapshot.employees[0]),
        EmploymentStatus::Active
    );
    assert_eq!(snapshot.employees[0].manager_id(), None);
    assert_eq!(
        status_today(&snapshot.employees[1]),
        EmploymentStatus::Terminated
    );
    assert_eq!(snapshot.employees[1].status_source, "true");
    assert_eq!(snapshot.employees[1].field("title"), Some("Ops"));
    assert_eq!(
        snapshot.employees[1].hire_date,
        NaiveDate::from_ymd_opt(2022, 1, 1)
    );
}

#[tokio::test]
async fn scim_start_index_counts_from_one_and_stops_at_total_results() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    let user = |id: &str, active: bool| {
        json!({"id": id, "userName": format!("user{id}"), "active": active, "title": "Tour Guide",
               "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                   {"department": "Tour Operations", "manager": {"value": "m-1"}}})
    };
    let page = |start: u64, users: Vec<Value>| {
        json_ok(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": 4, "startIndex": start, "itemsPerPage": users.len(), "Resources": users
        }))
    };
    for (start, users) in [
        (1, vec![user("a", true), user("b", false)]),
        (3, vec![user("c", true), user("d", true)]),
    ] {
        Mock::given(method("GET"))
            .and(path("/scim/v2/Users"))
            .and(bearer_token("scim-token"))
            .and(query_param("startIndex", start.to_string()))
            .and(query_param("count", "2"))
            .respond_with(page(start, users))
            .expect(1)
            .mount(&server)
            .await;
    }
    let config = config(&format!(
        r#"
source = "rest"
[rest]
url = "{uri}/scim/v2/Users"
records = "/Resources"
[rest.auth]
type = "bearer"
token = {token}
[rest.pagination]
type = "offset"
offset_param = "startIndex"
limit_param = "count"
limit = 2
start = 1
total_ptr = "/totalResults"
[fields]
id = "$.id"
username = "$.userName"
department = "$['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'].department"
manager_id = "$['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'].manager.value"
[status]
path = "$.active"
active = ["true"]
terminated = ["false"]
"#,
        uri = server.uri(),
        token = secret(&dir, "scim", "scim-token"),
    ));
    // Four records, two full pages: the total ends the paging without a third request.
    let snapshot = fetch(&config).await.unwrap();
    assert_eq!(ids(&snapshot), ["a", "b", "c", "d"]);
    assert_eq!(
        status_today(&snapshot.employees[1]),
        EmploymentStatus::Terminated
    );
    assert_eq!(
        snapshot.employees[0].field("department"),
        Some("Tour Operations")
    );
    assert_eq!(snapshot.employees[0].manager_id(), Some("m-1"));
}

// ---------------------------------------------------------------------------------------------
// Errors an admin can act on, and that carry no secret.

fn simple_config(url: &str, dir: &TempDir, extra: &str) -> HrConfig {
    config(&format!(
        "source = \"rest\"\n[rest]\nurl = \"{url}\"\nrecords = \"/employees\"\n{extra}\n\
         [rest.auth]\ntype = \"bearer\"\ntoken = {}\n{BAMBOO_FIELDS}",
        secret(dir, "token", "TOKEN-SHOULD-NOT-LEAK"),
    ))
}

fn assert_no_secret(message: &str) {
    for secret in ["TOKEN-SHOULD-NOT-LEAK", "QUERY-SECRET", "api_key"] {
        assert!(!message.contains(secret), "{secret} leaked: {message}");
    }
}

#[tokio::test]
async fn refused_credentials_are_named_as_such_and_the_query_string_stays_out() {
    for status in [401, 403] {
        let server = MockServer::start().await;
        let dir = TempDir::new().unwrap();
        Mock::given(method("GET"))
            .and(bearer_token("TOKEN-SHOULD-NOT-LEAK"))
            .and(query_param("api_key", "QUERY-SECRET"))
            .respond_with(ResponseTemplate::new(status).set_body_string("denied"))
            .expect(1)
            .mount(&server)
            .await;
        let url = format!("{}/v1/employees?api_key=QUERY-SECRET", server.uri());
        let err = fetch(&simple_config(&url, &dir, "")).await.unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, HrError::Credentials { status: s, .. } if s == status),
            "{err:?}"
        );
        assert!(
            message.starts_with(&format!(
                "HR API refused the credentials (HTTP {status}) for GET {}/v1/employees (page 1)",
                server.uri()
            )),
            "{message}"
        );
        assert_no_secret(&message);
        assert_no_secret(&format!("{err:?}"));
    }
}

#[tokio::test]
async fn a_404_points_at_the_url() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    let err = fetch(&simple_config(
        &format!("{}/v1/nope", server.uri()),
        &dir,
        "",
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, HrError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("check hr.rest.url"), "{err}");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_an_error_naming_the_page_and_content_type() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw("<html><body>Log in</body></html>", "text/html"),
        )
        .mount(&server)
        .await;
    let err = fetch(&simple_config(
        &format!("{}/v1/employees", server.uri()),
        &dir,
        "",
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, HrError::NotJson { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("(page 1): not JSON"), "{message}");
    assert!(message.contains("Content-Type: text/html"), "{message}");
}

#[tokio::test]
async fn a_missing_records_pointer_is_an_error_naming_the_pointer() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("GET"))
        .respond_with(json_ok(
            json!({"data": [bamboo_employee("1", "Ada", "Active", "")]}),
        ))
        .mount(&server)
        .await;
    let err = fetch(&simple_config(
        &format!("{}/v1/employees", server.uri()),
        &dir,
        "",
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, HrError::Records { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("records pointer \"/employees\""),
        "{message}"
    );
    assert!(message.contains("an object with keys data"), "{message}");
    assert!(message.contains("(page 1)"), "{message}");
}

#[tokio::test]
async fn records_that_are_not_an_array_are_an_error() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("GET"))
        .respond_with(json_ok(json!({"employees": {"1": {"id": "1"}}})))
        .mount(&server)
        .await;
    let err = fetch(&simple_config(
        &format!("{}/v1/employees", server.uri()),
        &dir,
        "",
    ))
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("found an object with keys 1"),
        "{err}"
    );
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "location",
            format!("{}/collect?t=1", elsewhere.uri()).as_str(),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(json_ok(json!({"employees": []})))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let err = fetch(&simple_config(
        &format!("{}/v1/employees", server.uri()),
        &dir,
        "",
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(err, HrError::Redirect { status: 302, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(&elsewhere.uri()), "{err}");
}

#[tokio::test]
async fn a_redirect_within_the_origin_is_followed() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(path("/v1/employees"))
        .respond_with(ResponseTemplate::new(301).insert_header("location", "/v2/employees"))
        .mount(&server)
        .await;
    Mock::given(path("/v2/employees"))
        .and(bearer_token("TOKEN-SHOULD-NOT-LEAK"))
        .respond_with(json_ok(bamboo_directory(vec![bamboo_employee(
            "1", "Ada", "Active", "",
        )])))
        .expect(1)
        .mount(&server)
        .await;
    let snapshot = fetch(&simple_config(
        &format!("{}/v1/employees", server.uri()),
        &dir,
        "",
    ))
    .await
    .unwrap();
    assert_eq!(ids(&snapshot), ["1"]);
}

#[tokio::test]
async fn an_unreachable_api_is_a_transport_error_without_the_query_string() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dir = TempDir::new().unwrap();
    let url = format!("http://127.0.0.1:{port}/v1/employees?api_key=QUERY-SECRET");
    let err = fetch(&simple_config(&url, &dir, "")).await.unwrap_err();
    assert!(matches!(err, HrError::Transport { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "could not reach the HR API: GET http://127.0.0.1:{port}/v1/employees (page 1): "
        )),
        "{message}"
    );
    assert_no_secret(&message);
}

#[tokio::test]
async fn a_slow_api_times_out_with_the_setting_named() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("GET"))
        .respond_with(json_ok(json!({"employees": []})).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let err = fetch(&simple_config(
        &format!("{}/v1/employees", server.uri()),
        &dir,
        "timeout_secs = 1",
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, HrError::Transport { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("within 1 s (hr.rest.timeout_secs)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_ca_file_without_certificates_fails_before_any_request() {
    let server = MockServer::start().await;
    let dir = TempDir::new().unwrap();
    Mock::given(method("GET"))
        .respond_with(json_ok(json!({"employees": []})))
        .expect(0)
        .mount(&server)
        .await;
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not a certificate").unwrap();
    let url = format!("{}/v1/employees", server.uri());
    let extra = format!("ca_file = \"{}\"", ca.display());
    let err = fetch(&simple_config(&url, &dir, &extra)).await.unwrap_err();
    assert!(matches!(err, HrError::CaFile { .. }), "{err:?}");
    assert!(err.to_string().contains("hr.rest.ca_file"), "{err}");
}

#[tokio::test]
async fn a_missing_secret_fails_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json_ok(json!({"employees": []})))
        .expect(0)
        .mount(&server)
        .await;
    let config = config(&format!(
        "source = \"rest\"\n[rest]\nurl = \"{}/v1\"\nrecords = \"/employees\"\n[rest.auth]\n\
         type = \"bearer\"\ntoken = {{ file = \"/nonexistent/hrsync-token\" }}\n{BAMBOO_FIELDS}",
        server.uri()
    ));
    let err = fetch(&config).await.unwrap_err();
    assert!(matches!(err, HrError::Secret(_)), "{err:?}");
    assert!(err.to_string().contains("hr.rest.auth.token"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// The file source.

fn file_config(path: &Path) -> HrConfig {
    config(&format!(
        "source = \"file\"\n[file]\npath = \"{}\"\nrecords = \"/employees\"\n{BAMBOO_FIELDS}",
        path.display()
    ))
}

#[tokio::test]
async fn the_file_source_reads_a_json_export() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("hr.json");
    let export = bamboo_directory(vec![
        bamboo_employee("100", "Grace", "Active", "0000-00-00"),
        bamboo_employee("101", "Alan", "Inactive", "2023-12-31"),
        bamboo_employee("101", "Alan", "Active", "0000-00-00"),
        bamboo_employee("102", "Barbara", "Active", "0000-00-00"),
    ]);
    std::fs::write(&path, serde_json::to_vec_pretty(&export).unwrap()).unwrap();

    let snapshot = fetch(&file_config(&path)).await.unwrap();
    assert_eq!(ids(&snapshot), ["100", "102"]);
    assert_eq!(snapshot.rejected.len(), 2);
    assert!(
        snapshot
            .rejected
            .iter()
            .all(|r| r.id.as_deref() == Some("101"))
    );
    assert_eq!(
        snapshot
            .rejected
            .iter()
            .map(|r| r.index)
            .collect::<Vec<_>>(),
        [1, 2]
    );

    let (_, raw) = hr::read(&file_config(&path), true).await.unwrap();
    assert_eq!(raw.len(), 4, "the raw records, for dumps and replays");
}

#[tokio::test]
async fn an_unreadable_export_is_an_error() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("missing.json");
    let err = fetch(&file_config(&missing)).await.unwrap_err();
    assert!(matches!(err, HrError::File { .. }), "{err:?}");

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"employees\": [").unwrap();
    let err = fetch(&file_config(&broken)).await.unwrap_err();
    assert!(matches!(err, HrError::NotJson { .. }), "{err:?}");
    assert!(err.to_string().starts_with("HR export "), "{err}");
}
