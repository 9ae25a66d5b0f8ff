//! Reading one employee by id (`hr::read_one`), per vendor preset and for a generic API
//! (issue 17, item 1: an absence is confirmed before an account is touched; issue 18 re-reads a
//! webhook's employee the same way).
//!
//! Each vendor is served by wiremock with bodies shaped like its documented answers (BambooHR's
//! `GET /employees/{id}` from vendor-specs/bamboohr-public.yaml, Copyright (c) 2025 BambooHR,
//! MIT License; Personio's `GET /company/employees/{employee_id}` and its 404 from
//! personio/api-docs; HiBob's people search with a `root.id` filter from its "People read API
//! contract"; SuccessFactors OData v2 `$filter`), and SCIM by a real SCIM server (scim2-server).
//! For each: an employee read alone equals the same employee read in the list; HR's own "no
//! such employee" is `Absent`; a server error is an `Err`, never `Absent`; and a hostile id
//! (`../x`, `a"b`, `x?y`) goes nowhere but where an id goes.

use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;
use wiremock::matchers::{
    basic_auth, bearer_token, body_partial_json, method, path, path_regex, query_param,
    query_param_is_missing,
};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

#[path = "support/hr.rs"]
mod hr_support;
#[path = "support/scim.rs"]
mod scim_support;

use hr_support::{config, json_ok, secret};
use scim_support::ScimServer;

use hrsync::hr::{self, HrConfig, HrError, OneEmployee};
use hrsync::model::Employee;

async fn read_one(config: &HrConfig, id: &str) -> Result<OneEmployee, HrError> {
    tokio::time::timeout(Duration::from_secs(30), hr::read_one(config, id))
        .await
        .expect("the lookup ended")
}

async fn listed(config: &HrConfig, id: &str) -> Employee {
    let snapshot = tokio::time::timeout(Duration::from_secs(30), hr::fetch(config))
        .await
        .expect("the list read ended")
        .expect("the list read succeeded");
    snapshot
        .employees
        .into_iter()
        .find(|e| e.id == id)
        .expect("the employee is in the list")
}

/// The employee read alone is found, and equals the employee as the list read gives it.
async fn assert_alone_equals_listed(config: &HrConfig, id: &str) {
    let listed = listed(config, id).await;
    match read_one(config, id).await {
        Ok(OneEmployee::Found(alone)) => assert_eq!(*alone, listed, "{id} alone vs listed"),
        other => unreachable!("{id}: expected Found, got {other:?}"),
    }
}

async fn assert_absent(config: &HrConfig, id: &str) {
    let found = read_one(config, id).await;
    assert!(matches!(found, Ok(OneEmployee::Absent)), "{id}: {found:?}");
}

/// The request paths the server saw, as sent (percent-encoded).
async fn paths_seen(server: &MockServer) -> Vec<String> {
    let requests = server.received_requests().await.unwrap_or_default();
    requests.iter().map(|r| r.url.path().to_string()).collect()
}

/// A request whose JSON body has no `filters`: the list read, not a lookup.
struct WithoutFilters;

impl Match for WithoutFilters {
    fn matches(&self, request: &Request) -> bool {
        serde_json::from_slice::<Value>(&request.body)
            .is_ok_and(|body| body.get("filters").is_none())
    }
}

/// Fast retries, merged over a preset's `[rest]`.
const FAST_RETRY: &str =
    "[rest.retry]\nmax_attempts = 3\ninitial_backoff_ms = 5\nmax_backoff_ms = 20\n";

// ---------------------------------------------------------------------------------------------
// BambooHR: GET /v1/employees/{id}?fields=…&onlyCurrent=true, 404 for no such employee.

fn bamboo_record(id: &str, first: &str, status: &str) -> Value {
    json!({"id": id, "employeeNumber": format!("E{id}"), "firstName": first, "lastName": "Nguyen",
           "workEmail": format!("{}@example.com", first.to_lowercase()),
           "jobTitle": "Engineering Manager", "department": "Engineering", "division": "Product",
           "location": "Lindon, Utah", "employmentHistoryStatus": "Full-Time",
           "supervisorEId": "100", "hireDate": "2019-03-04", "terminationDate": "0000-00-00",
           "status": status})
}

async fn bamboo_server() -> (MockServer, HrConfig, TempDir) {
    let server = MockServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    Mock::given(method("POST"))
        .and(path("/acme/v1/reports/custom"))
        .respond_with(json_ok(json!({
            "title": "hrsync",
            "fields": [{"id": "firstName", "type": "text", "name": "First name"}],
            "employees": [bamboo_record("123", "Ava", "Active"), bamboo_record("124", "Ben", "Inactive")]
        })))
        .mount(&server)
        .await;
    for (id, record) in [("123", "123"), ("0", "124")] {
        Mock::given(method("GET"))
            .and(path(format!("/acme/v1/employees/{id}")))
            .and(basic_auth("bamboo-key", ""))
            .and(query_param("onlyCurrent", "true"))
            .and(query_param(
                "fields",
                "id,employeeNumber,firstName,lastName,workEmail,jobTitle,department,division,\
                 location,employmentHistoryStatus,supervisorEId,hireDate,terminationDate,status",
            ))
            .respond_with(json_ok(bamboo_record(record, "Ava", "Active")))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/acme/v1/employees/500"))
        .respond_with(ResponseTemplate::new(500).set_body_string("internal error"))
        .mount(&server)
        .await;
    // Anything else: the documented 404, "The employee does not exist."
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404))
        .with_priority(10)
        .mount(&server)
        .await;
    let config = config(&format!(
        "preset = \"bamboohr\"\ncompany_domain = \"acme\"\nbase_url = \"{}/acme/v1\"\n\
         api_key = {}\n{FAST_RETRY}",
        server.uri(),
        secret(&dir, "key", "bamboo-key")
    ));
    (server, config, dir)
}

#[tokio::test]
async fn bamboohr_reads_one_employee_as_the_report_does() {
    let (server, config, _dir) = bamboo_server().await;
    assert!(hr::can_read_one(&config));
    assert_alone_equals_listed(&config, "123").await;
    assert_absent(&config, "999").await;
    let err = read_one(&config, "500").await.unwrap_err();
    assert!(matches!(err, HrError::Http { status: 500, .. }), "{err:?}");
    // Id 0 is "the API key's own employee" to BambooHR: an answer about someone else is an
    // error, never that employee's record.
    let err = read_one(&config, "0").await.unwrap_err();
    assert!(matches!(err, HrError::LookupAnswer { .. }), "{err:?}");
    assert!(err.to_string().contains("\"124\""), "{err}");
    drop(server);
}

#[tokio::test]
async fn bamboohr_hostile_ids_stay_one_path_segment() {
    let (server, config, _dir) = bamboo_server().await;
    for id in ["../x", "a\"b", "x?y", "a/b", "%2e%2e", "x#y"] {
        assert_absent(&config, id).await;
    }
    let paths = paths_seen(&server).await;
    assert_eq!(
        paths,
        [
            "/acme/v1/employees/..%2Fx",
            "/acme/v1/employees/a%22b",
            "/acme/v1/employees/x%3Fy",
            "/acme/v1/employees/a%2Fb",
            "/acme/v1/employees/%252e%252e",
            "/acme/v1/employees/x%23y",
        ]
    );
    for request in server.received_requests().await.unwrap_or_default() {
        let names: Vec<String> = request.url.query_pairs().map(|(n, _)| n.into()).collect();
        assert_eq!(names, ["fields", "onlyCurrent"], "{}", request.url);
    }
    // "." and ".." would be read as path steps: refused before any request.
    for id in [".", ".."] {
        let err = read_one(&config, id).await.unwrap_err();
        assert!(matches!(err, HrError::LookupId { .. }), "{err:?}");
    }
    assert_eq!(paths_seen(&server).await.len(), 6);
}

// ---------------------------------------------------------------------------------------------
// Personio v1: GET /company/employees/{employee_id}, the record at /data.

fn personio_record(id: u64, first: &str, status: &str) -> Value {
    let attr = |value: Value| json!({"label": "x", "value": value});
    json!({"type": "Employee", "attributes": {
        "id": {"label": "ID", "value": id, "type": "integer", "universal_id": "id"},
        "first_name": attr(json!(first)),
        "last_name": attr(json!("Bergmann")),
        "email": attr(json!(format!("{}@example.de", first.to_lowercase()))),
        "position": attr(json!("Accountant")),
        "status": {"label": "Status", "value": status},
        "hire_date": {"value": "2014-11-09 00:00:00+01:00", "type": "date"},
        "termination_date": {"value": null, "type": "date"},
        "department": {"label": "Department", "value": {"type": "Department", "attributes": {"id": 7, "name": "Finance"}}},
        "office": {"label": "Office", "value": {"type": "Office", "attributes": {"id": 1, "name": "Munich"}}},
        "supervisor": {"value": {"type": "Employee", "attributes": {"id": {"value": 2}}}}
    }})
}

async fn personio_server() -> (MockServer, HrConfig, TempDir) {
    let server = MockServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    Mock::given(method("GET"))
        .and(path("/v1/company/employees"))
        .and(bearer_token("papi-token"))
        .respond_with(json_ok(json!({
            "success": true,
            "metadata": {"total_elements": 2, "current_page": 0, "total_pages": 1},
            "offset": 0, "limit": 100,
            "data": [personio_record(1, "Anna", "active"), personio_record(2, "Bernd", "leave")]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/company/employees/1"))
        .and(bearer_token("papi-token"))
        .respond_with(json_ok(
            json!({"success": true, "data": personio_record(1, "Anna", "active")}),
        ))
        .mount(&server)
        .await;
    // Throttled once, then answered: the list's retries apply.
    Mock::given(method("GET"))
        .and(path("/v1/company/employees/2"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/company/employees/2"))
        .respond_with(json_ok(
            json!({"success": true, "data": personio_record(2, "Bernd", "leave")}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/company/employees/3"))
        .respond_with(ResponseTemplate::new(502).set_body_string("bad gateway"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "success": false,
            "error": {"code": 404, "message": "Es ist ein Problem aufgetreten "}
        })))
        .with_priority(10)
        .mount(&server)
        .await;
    let config = config(&format!(
        "preset = \"personio\"\nbase_url = \"{}/v1\"\ntoken = {}\n{FAST_RETRY}",
        server.uri(),
        secret(&dir, "token", "papi-token")
    ));
    (server, config, dir)
}

#[tokio::test]
async fn personio_reads_one_employee_as_the_list_does() {
    let (server, config, _dir) = personio_server().await;
    assert!(hr::can_read_one(&config));
    assert_alone_equals_listed(&config, "1").await;
    assert_alone_equals_listed(&config, "2").await;
    assert_absent(&config, "7").await;
    let err = read_one(&config, "3").await.unwrap_err();
    assert!(
        matches!(
            err,
            HrError::Http {
                status: 502,
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    for id in ["../x", "a\"b", "x?y"] {
        assert_absent(&config, id).await;
    }
    let paths = paths_seen(&server).await;
    assert!(
        paths.ends_with(&[
            "/v1/company/employees/..%2Fx".to_string(),
            "/v1/company/employees/a%22b".to_string(),
            "/v1/company/employees/x%3Fy".to_string(),
        ]),
        "{paths:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// HiBob: the people search with a root.id filter; an empty list for no such employee.

fn hibob_person(id: &str, first: &str, lifecycle: &str) -> Value {
    json!({"id": id, "firstName": first, "surname": "Doe",
           "email": format!("{}@example.org", first.to_lowercase()),
           "work": {"title": "CTO", "department": "R&D", "site": "Berlin", "startDate": "2000-01-23",
                    "reportsTo": {"id": "3332883804594373380", "email": "boss@example.org"}},
           "internal": {"status": "Active", "lifecycleStatus": lifecycle}})
}

fn hibob_filter(id: &str) -> Value {
    json!({"showInactive": true, "humanReadable": "REPLACE",
           "filters": [{"fieldPath": "root.id", "operator": "equals", "values": [id]}]})
}

#[tokio::test]
async fn hibob_reads_one_employee_through_a_root_id_filter() {
    let server = MockServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    let people = [
        hibob_person("3332883884017713238", "Jane", "Employed"),
        hibob_person("3332883884017713239", "John", "Leave"),
    ];
    Mock::given(method("POST"))
        .and(path("/v1/people/search"))
        .and(basic_auth("SERVICE-USER-1", "service-token"))
        .and(WithoutFilters)
        .respond_with(json_ok(json!({"employees": people})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/people/search"))
        .and(basic_auth("SERVICE-USER-1", "service-token"))
        .and(body_partial_json(hibob_filter("3332883884017713238")))
        .respond_with(json_ok(json!({"employees": [people[0].clone()]})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/people/search"))
        .and(body_partial_json(hibob_filter("500")))
        .respond_with(ResponseTemplate::new(500).set_body_string("oops"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(json_ok(json!({"employees": []})))
        .with_priority(10)
        .mount(&server)
        .await;
    let config = config(&format!(
        "preset = \"hibob\"\nbase_url = \"{}/v1\"\nservice_user_id = \"SERVICE-USER-1\"\n\
         token = {}\n{FAST_RETRY}",
        server.uri(),
        secret(&dir, "token", "service-token")
    ));
    assert!(hr::can_read_one(&config));
    assert_alone_equals_listed(&config, "3332883884017713238").await;
    assert_absent(&config, "1").await;
    let err = read_one(&config, "500").await.unwrap_err();
    assert!(matches!(err, HrError::Http { status: 500, .. }), "{err:?}");
    // A hostile id is one JSON string among the filter's values, nothing else.
    for id in ["../x", "a\"b", "x?y", "\"], \"operator\": \"notEquals"] {
        assert_absent(&config, id).await;
        let requests = server.received_requests().await.unwrap_or_default();
        let last = requests.last().expect("a request");
        assert_eq!(last.url.path(), "/v1/people/search");
        let body: Value = serde_json::from_slice(&last.body).expect("a JSON body");
        assert_eq!(body["filters"], hibob_filter(id)["filters"], "{id}");
    }
}

// ---------------------------------------------------------------------------------------------
// SAP SuccessFactors: the list's OData request with $filter=personIdExternal eq '…'.

fn sf_person(id: &str, first: &str, code: &str) -> Value {
    json!({"personIdExternal": id,
           "personalInfoNav": {"results": [{"firstName": first, "lastName": "Meier"}]},
           "emailNav": {"results": [{"emailAddress": format!("{}@example.ch", first.to_lowercase()), "isPrimary": true}]},
           "employmentNav": {"results": [{"userId": id, "startDate": "/Date(1388534400000)/", "endDate": null,
               "userNav": {"username": first.to_lowercase(), "email": format!("{}@example.ch", first.to_lowercase())},
               "jobInfoNav": {"results": [{"jobTitle": "Consultant", "managerId": "900", "emplStatus": "4595",
                   "emplStatusNav": {"externalCode": code},
                   "departmentNav": {"name": "Sales", "name_localized": "Sales"},
                   "locationNav": {"name": "Zurich"}}]}}]}})
}

#[tokio::test]
async fn successfactors_reads_one_person_through_an_odata_filter() {
    let server = MockServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    let people = [
        sf_person("p1", "Urs", "A"),
        sf_person("o'brien", "Niamh", "P"),
    ];
    Mock::given(method("GET"))
        .and(path("/odata/v2/PerPerson"))
        .and(query_param_is_missing("$filter"))
        .respond_with(json_ok(json!({"d": {"results": people}})))
        .mount(&server)
        .await;
    for (filter, answer) in [
        ("personIdExternal eq 'p1'", json!([people[0]])),
        // The quote is doubled, as an OData string literal wants it.
        ("personIdExternal eq 'o''brien'", json!([people[1]])),
    ] {
        Mock::given(method("GET"))
            .and(path("/odata/v2/PerPerson"))
            .and(basic_auth("hrsync@ACME", "sf-pass"))
            .and(query_param("$format", "json"))
            .and(query_param("customPageSize", "100"))
            .and(query_param("$filter", filter))
            .respond_with(json_ok(json!({"d": {"results": answer}})))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(query_param("$filter", "personIdExternal eq 'p500'"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(json_ok(json!({"d": {"results": []}})))
        .with_priority(10)
        .mount(&server)
        .await;
    let config = config(&format!(
        "preset = \"successfactors\"\nbase_url = \"{}/odata/v2\"\nusername = \"hrsync@ACME\"\n\
         password = {}\n{FAST_RETRY}",
        server.uri(),
        secret(&dir, "pw", "sf-pass")
    ));
    assert!(hr::can_read_one(&config));
    assert_alone_equals_listed(&config, "p1").await;
    assert_alone_equals_listed(&config, "o'brien").await;
    assert_absent(&config, "p9").await;
    assert!(read_one(&config, "p500").await.is_err());
    // `' or '1' eq '1` stays inside the literal: the filter asks for that one odd id.
    let injection = "x' or '1' eq '1";
    assert_absent(&config, injection).await;
    let requests = server.received_requests().await.unwrap_or_default();
    let filter = requests
        .last()
        .and_then(|r| r.url.query_pairs().find(|(n, _)| n == "$filter"))
        .map(|(_, v)| v.into_owned());
    assert_eq!(
        filter.as_deref(),
        Some("personIdExternal eq 'x'' or ''1'' eq ''1'")
    );
}

// ---------------------------------------------------------------------------------------------
// SCIM 2.0 against a real server: filter=<employeeNumber attribute> eq "<id>".

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn scim_user(login: &str, number: &str, manager: Option<&str>) -> Value {
    let mut enterprise = json!({"employeeNumber": number, "department": "Tour Operations"});
    if let Some(manager) = manager {
        enterprise["manager"] = json!({"value": manager});
    }
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": login,
        "name": {"givenName": login, "familyName": "Jensen"},
        "emails": [{"value": format!("{login}@example.com"), "type": "work", "primary": true}],
        "title": "Tour Guide",
        "active": true,
        ENTERPRISE: enterprise,
    })
}

#[tokio::test]
async fn scim_reads_one_user_by_employee_number_on_a_real_server() {
    let server = ScimServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    let boss = server.create_user(&scim_user("boss", "M1", None)).await;
    let boss_id = boss["id"].as_str().expect("an id").to_string();
    server
        .create_user(&scim_user("bjensen", "E1", Some(&boss_id)))
        .await;
    server.create_user(&scim_user("quote", "x\"y", None)).await;
    let config = config(&format!(
        "preset = \"scim\"\nbase_url = \"{}\"\ntoken = {}\n",
        server.base_url,
        secret(&dir, "scim-token", &server.token)
    ));
    assert!(hr::can_read_one(&config));
    // The manager, named by SCIM resource id, resolves to their employee number alone too.
    assert_alone_equals_listed(&config, "E1").await;
    assert_eq!(listed(&config, "E1").await.manager_id(), Some("M1"));
    assert_alone_equals_listed(&config, "x\"y").await;
    assert_absent(&config, "nobody").await;
    // The server compares employee numbers ignoring case; hrsync's ids are exact, as in the list.
    assert_absent(&config, "e1").await;
    // An id that tries to widen the filter matches nobody.
    for id in [
        "E1\" or userName pr or \"",
        "\" or \"\" eq \"",
        "x?y",
        "../x",
    ] {
        assert_absent(&config, id).await;
    }
}

#[tokio::test]
async fn scim_server_errors_are_errors_not_absences() {
    let server = MockServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_string("maintenance"))
        .mount(&server)
        .await;
    let config = config(&format!(
        "preset = \"scim\"\nbase_url = \"{}/scim/v2\"\ntoken = {}\n{FAST_RETRY}",
        server.uri(),
        secret(&dir, "t", "scim-token")
    ));
    let err = read_one(&config, "E1").await.unwrap_err();
    assert!(
        matches!(
            err,
            HrError::Http {
                status: 503,
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Sources that cannot read one employee.

#[tokio::test]
async fn workday_reports_and_export_files_cannot_read_one_employee() {
    let dir = TempDir::new().expect("tempdir");
    let workday = config(&format!(
        "preset = \"workday\"\nhost = \"wd2-impl-services1.workday.com\"\ntenant = \"acme\"\n\
         owner = \"ISU\"\nreport = \"workers\"\nusername = \"ISU\"\npassword = {}\n",
        secret(&dir, "pw", "pw")
    ));
    let file = config(
        "source = \"file\"\n[file]\npath = \"hr.json\"\n[fields]\nid = \"$.id\"\n\
         [status]\npath = \"$.status\"\nactive = [\"Active\"]\n",
    );
    for config in [workday, file] {
        assert!(!hr::can_read_one(&config));
        let err = read_one(&config, "1").await.unwrap_err();
        assert!(matches!(err, HrError::CannotReadOne { .. }), "{err:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// A generic API: hr.rest.employee_url and employee_pointer.

const GENERIC_FIELDS: &str = r#"
[fields]
id = "$.id"
title = "$.title"
manager_id = "$.manager"
[status]
path = "$.status"
active = ["Active"]
terminated = ["Gone"]
"#;

fn generic_config(server: &MockServer, dir: &TempDir, extra: &str) -> HrConfig {
    config(&format!(
        "source = \"rest\"\n[rest]\nurl = \"{uri}/api/v2/people\"\nrecords = \"/people\"\n\
         employee_url = \"{uri}/api/v2/people/{{id}}?view=full\"\nemployee_pointer = \"/person\"\n\
         [rest.auth]\ntype = \"bearer\"\ntoken = {token}\n{FAST_RETRY}\n{extra}\n{GENERIC_FIELDS}",
        uri = server.uri(),
        token = secret(dir, "token", "generic-token-9c1f"),
    ))
}

fn generic_person(id: &str, status: &str) -> Value {
    json!({"id": id, "title": "Engineer", "manager": "m1", "status": status})
}

#[tokio::test]
async fn a_generic_api_reads_one_employee_at_employee_url() {
    let server = MockServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    Mock::given(path("/api/v2/people"))
        .respond_with(json_ok(json!({"people": [
            generic_person("1", "Active"), generic_person("2", "On strike")
        ]})))
        .mount(&server)
        .await;
    for (id, status) in [("1", "Active"), ("2", "On strike")] {
        Mock::given(path(format!("/api/v2/people/{id}")))
            .and(query_param("view", "full"))
            .and(bearer_token("generic-token-9c1f"))
            .respond_with(json_ok(json!({"person": generic_person(id, status)})))
            .mount(&server)
            .await;
    }
    Mock::given(path_regex("^/api/v2/people/.+$"))
        .respond_with(ResponseTemplate::new(404))
        .with_priority(10)
        .mount(&server)
        .await;
    let config = generic_config(&server, &dir, "");
    assert!(hr::can_read_one(&config));
    assert_alone_equals_listed(&config, "1").await;
    // A record HR has but hrsync cannot read is unreadable, with the list's problem.
    match read_one(&config, "2").await {
        Ok(OneEmployee::Unreadable(rejected)) => {
            assert_eq!(rejected.id.as_deref(), Some("2"));
            assert!(rejected.problem.contains("On strike"), "{rejected:?}");
        }
        other => unreachable!("expected Unreadable, got {other:?}"),
    }
    assert_absent(&config, "3").await;
    for id in ["../x", "a\"b", "x?y"] {
        assert_absent(&config, id).await;
    }
    let paths = paths_seen(&server).await;
    assert!(
        paths.ends_with(&[
            "/api/v2/people/..%2Fx".to_string(),
            "/api/v2/people/a%22b".to_string(),
            "/api/v2/people/x%3Fy".to_string(),
        ]),
        "{paths:?}"
    );
    for request in server.received_requests().await.unwrap_or_default() {
        if request.url.path() != "/api/v2/people" {
            assert_eq!(request.url.query(), Some("view=full"), "{}", request.url);
        }
    }
}

#[tokio::test]
async fn the_lookup_has_the_lists_retries_caps_deadline_and_redaction() {
    let server = MockServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    // Cut short twice is not possible with wiremock; 503 twice then an answer is.
    Mock::given(path("/api/v2/people/1"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v2/people/1"))
        .respond_with(json_ok(json!({"person": generic_person("1", "Active")})))
        .mount(&server)
        .await;
    let big: Vec<Value> = (0..400)
        .map(|i| generic_person(&i.to_string(), "Active"))
        .collect();
    Mock::given(path("/api/v2/people/big"))
        .respond_with(json_ok(
            json!({"person": generic_person("big", "Active"), "padding": big}),
        ))
        .mount(&server)
        .await;
    Mock::given(path("/api/v2/people/slow"))
        .respond_with(
            json_ok(json!({"person": generic_person("slow", "Active")}))
                .set_delay(Duration::from_secs(20)),
        )
        .mount(&server)
        .await;
    Mock::given(path("/api/v2/people/echo"))
        .respond_with(ResponseTemplate::new(500).set_body_string(
            "failed: Authorization: Bearer generic-token-9c1f; token=generic-token-9c1f",
        ))
        .mount(&server)
        .await;
    let config = generic_config(
        &server,
        &dir,
        "[limits]\nmax_page_bytes = 4096\nmax_fetch_secs = 2\n",
    );
    assert!(matches!(
        read_one(&config, "1").await,
        Ok(OneEmployee::Found(_))
    ));
    let err = read_one(&config, "big").await.unwrap_err();
    assert!(
        matches!(
            err,
            HrError::Limit {
                key: "max_page_bytes",
                ..
            }
        ),
        "{err:?}"
    );
    let err = read_one(&config, "slow").await.unwrap_err();
    assert!(
        matches!(
            err,
            HrError::Limit {
                key: "max_fetch_secs",
                ..
            }
        ),
        "{err:?}"
    );
    let err = read_one(&config, "echo").await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("HTTP 500"), "{message}");
    assert!(!message.contains("generic-token"), "{message}");
    assert!(message.contains("(one employee)"), "{message}");
}

#[test]
fn employee_url_is_validated() {
    let problems = |rest: &str| -> Vec<String> {
        let parsed: HrConfig = toml::from_str(&format!(
            "source = \"rest\"\n[rest]\nurl = \"https://hr.example.com/api/people\"\n\
             records = \"\"\n{rest}\n{GENERIC_FIELDS}"
        ))
        .expect("parses");
        parsed.validate().iter().map(ToString::to_string).collect()
    };
    assert!(problems("employee_url = \"https://hr.example.com/api/people/{id}\"").is_empty());
    assert!(problems("employee_url = \"https://hr.example.com/api/people?id={id}\"").is_empty());
    for (rest, expected) in [
        (
            "employee_url = \"https://other.example.com/people/{id}\"",
            "must be on the origin of hr.rest.url",
        ),
        (
            "employee_url = \"https://{id}.example.com/people\"",
            "only in its path or query",
        ),
        (
            "employee_url = \"https://hr.example.com/people/x#{id}\"",
            "only in its path or query",
        ),
        (
            "employee_url = \"https://hr.example.com/people/\"",
            "{id} exactly once",
        ),
        (
            "employee_url = \"https://hr.example.com/{id}/{id}\"",
            "{id} exactly once",
        ),
        ("employee_pointer = \"/person\"", "only read with"),
        (
            "employee_url = \"https://hr.example.com/p/{id}\"\nemployee_pointer = \"person\"",
            "not a JSON Pointer",
        ),
    ] {
        let found = problems(rest);
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "{rest}: {expected:?} missing in {found:?}"
        );
    }
}

#[test]
fn a_reference_the_api_cannot_look_up_makes_the_source_unable_to_read_one() {
    let parsed = config(
        "source = \"rest\"\n[rest]\nurl = \"https://hr.example.com/api/people\"\nrecords = \"\"\n\
         employee_url = \"https://hr.example.com/api/people/{id}\"\n\
         [fields]\nid = \"$.id\"\nmanager_id = \"$.managerEmail\"\n\
         [references]\nmanager_id = \"$.email\"\n\
         [status]\npath = \"$.status\"\nactive = [\"Active\"]\n",
    );
    assert!(!hr::can_read_one(&parsed));
}

/// Confirming many absences in one run asks the token endpoint once, not once per employee
/// (Personio allows 60 token requests a minute).
#[tokio::test]
async fn a_one_reader_reads_many_employees_with_one_token() {
    let server = MockServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(json_ok(
            json!({"access_token": "AT-1", "token_type": "Bearer", "expires_in": 3600}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path_regex("^/api/v2/people/[0-9]+$"))
        .and(bearer_token("AT-1"))
        .respond_with(ResponseTemplate::new(404))
        .expect(5)
        .mount(&server)
        .await;
    let config = config(&format!(
        "source = \"rest\"\n[rest]\nurl = \"{uri}/api/v2/people\"\nrecords = \"/people\"\n\
         employee_url = \"{uri}/api/v2/people/{{id}}\"\n[rest.auth]\ntype = \"oauth2\"\n\
         token_url = \"{uri}/oauth/token\"\nclient_id = \"hrsync\"\nclient_secret = {secret}\n\
         {GENERIC_FIELDS}",
        uri = server.uri(),
        secret = secret(&dir, "client-secret", "CS-1"),
    ));
    let reader = hr::OneReader::open(&config).await.expect("a reader");
    for id in ["1", "2", "3", "4", "5"] {
        let found = reader.read(id).await;
        assert!(matches!(found, Ok(OneEmployee::Absent)), "{id}: {found:?}");
    }
}

/// An API that ignores the filter answers with other people: the employee is not among them,
/// but that says nothing about whether they exist. An error, never `Absent`.
#[tokio::test]
async fn a_filter_the_api_ignores_is_an_error_not_an_absence() {
    let server = MockServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    // SCIM: a server that pages through everyone whatever the filter says.
    Mock::given(method("GET"))
        .and(path("/scim/v2/Users"))
        .respond_with(json_ok(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": 2, "startIndex": 1, "itemsPerPage": 2,
            "Resources": [scim_user("ann", "E7", None), scim_user("bob", "E8", None)]
        })))
        .mount(&server)
        .await;
    // HiBob: a search that returns everyone.
    Mock::given(method("POST"))
        .and(path("/v1/people/search"))
        .respond_with(json_ok(json!({"employees": [
            hibob_person("3332883884017713238", "Jane", "Employed")
        ]})))
        .mount(&server)
        .await;
    let scim = config(&format!(
        "preset = \"scim\"\nbase_url = \"{}/scim/v2\"\ntoken = {}\n",
        server.uri(),
        secret(&dir, "t", "scim-token")
    ));
    let hibob = config(&format!(
        "preset = \"hibob\"\nbase_url = \"{}/v1\"\nservice_user_id = \"S\"\ntoken = {}\n",
        server.uri(),
        secret(&dir, "h", "hibob-token")
    ));
    for (config, id) in [(scim, "E1"), (hibob, "42")] {
        let err = read_one(&config, id).await.unwrap_err();
        assert!(matches!(err, HrError::LookupAnswer { .. }), "{err:?}");
        assert!(err.to_string().contains("ignore the filter"), "{err}");
    }
}
