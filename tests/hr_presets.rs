//! The vendor presets against wiremock servers answering with bodies shaped exactly like each
//! vendor's documented sample (hr-apis.md "Sample response bodies"; BambooHR's custom report as
//! described in vendor-specs/bamboohr-public.yaml, Copyright (c) 2025 BambooHR, MIT License).
//! A preset config here is only the preset, its vendor keys, secrets in files, and `base_url`
//! pointing at the mock server: what hrsync sends and reads is entirely the preset's.

use std::time::Duration;

use chrono::NaiveDate;
use serde_json::{Value, json};
use tempfile::TempDir;
use wiremock::matchers::{
    basic_auth, bearer_token, body_json, body_partial_json, body_string_contains, header, method,
    path, query_param,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[path = "support/hr.rs"]
mod hr_support;
use hr_support::{config, json_ok, secret, status_today};

use hrsync::hr::{self, HrConfig};
use hrsync::model::{Employee, EmploymentStatus, HrSnapshot};

async fn fetch(config: &HrConfig) -> HrSnapshot {
    tokio::time::timeout(Duration::from_secs(30), hr::fetch(config))
        .await
        .expect("the fetch finished")
        .expect("the fetch succeeded")
}

/// (id, first, last, email, title, department, status)
fn summary(
    e: &Employee,
) -> (
    String,
    String,
    String,
    String,
    String,
    String,
    EmploymentStatus,
) {
    let f = |name: &str| e.field(name).unwrap_or("-").to_string();
    (
        e.id.clone(),
        f("first_name"),
        f("last_name"),
        f("email"),
        f("title"),
        f("department"),
        status_today(e),
    )
}

fn row(
    id: &str,
    first: &str,
    last: &str,
    email: &str,
    title: &str,
    department: &str,
    status: EmploymentStatus,
) -> (
    String,
    String,
    String,
    String,
    String,
    String,
    EmploymentStatus,
) {
    (
        id.into(),
        first.into(),
        last.into(),
        email.into(),
        title.into(),
        department.into(),
        status,
    )
}

fn all(
    snapshot: &HrSnapshot,
) -> Vec<(
    String,
    String,
    String,
    String,
    String,
    String,
    EmploymentStatus,
)> {
    assert!(snapshot.rejected.is_empty(), "{:?}", snapshot.rejected);
    snapshot.employees.iter().map(summary).collect()
}

use EmploymentStatus::{Active, Leave, Pending, Terminated};

#[tokio::test]
async fn bamboohr_custom_report() {
    let server = MockServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    let employee = |id: &str, first: &str, status: &str, history: &str, termination: &str| {
        json!({"id": id, "employeeNumber": format!("E{id}"), "firstName": first, "lastName": "Nguyen",
               "workEmail": format!("{}@example.com", first.to_lowercase()), "jobTitle": "Engineering Manager",
               "department": "Engineering", "division": "Product", "location": "Lindon, Utah",
               "employmentHistoryStatus": history, "supervisorEId": "100", "hireDate": "2019-03-04",
               "terminationDate": termination, "status": status})
    };
    Mock::given(method("POST"))
        .and(path("/api/gateway.php/acme/v1/reports/custom"))
        .and(query_param("format", "JSON"))
        .and(query_param("onlyCurrent", "true"))
        .and(basic_auth("bamboo-key", ""))
        .and(header("content-type", "application/json"))
        .and(body_partial_json(json!({"title": "hrsync"})))
        .respond_with(json_ok(json!({
            "title": "hrsync",
            "fields": [
                {"id": "firstName", "type": "text", "name": "First name"},
                {"id": "jobTitle", "type": "list", "name": "Job title"},
                {"id": "status", "type": "status", "name": "Status"},
                {"id": "terminationDate", "type": "date", "name": "Termination date"}
            ],
            "employees": [
                employee("123", "Ava", "Active", "Full-Time", "0000-00-00"),
                employee("124", "Ben", "Inactive", "Terminated", "2024-01-31")
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let config = config(&format!(
        "preset = \"bamboohr\"\ncompany_domain = \"acme\"\nbase_url = \"{}/api/gateway.php/acme/v1\"\napi_key = {}\n",
        server.uri(),
        secret(&dir, "key", "bamboo-key")
    ));
    let snapshot = fetch(&config).await;
    assert_eq!(
        all(&snapshot),
        [
            row(
                "123",
                "Ava",
                "Nguyen",
                "ava@example.com",
                "Engineering Manager",
                "Engineering",
                Active
            ),
            row(
                "124",
                "Ben",
                "Nguyen",
                "ben@example.com",
                "Engineering Manager",
                "Engineering",
                Terminated
            ),
        ]
    );
    assert_eq!(snapshot.employees[0].termination_date, None, "0000-00-00");
    assert_eq!(
        snapshot.employees[1].field("employment_type"),
        Some("Terminated")
    );
    assert_eq!(snapshot.employees[0].manager_id(), Some("100"));
}

/// BambooHR keeps job changes in history tables with an effective date; its custom report gives
/// the values in effect today unless asked for `onlyCurrent=false`, which adds the future-dated
/// rows (vendor-specs/bamboohr-public.yaml, `POST /api/v1/reports/custom`: "Set to false to
/// include future-dated history values in the report output. Defaults to true."). A transfer
/// HR entered for next month must change nothing today: the preset asks for current values
/// only. The server here answers each question as BambooHR would; asking for future values gets
/// next month's job, and is refused by the test.
#[tokio::test]
async fn bamboohr_reads_only_current_values_so_a_future_transfer_waits_for_its_date() {
    let server = MockServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    // Ava moves from Engineering to Product as a manager, with a new supervisor, on 2024-07-01
    // (after the test's today, 2024-06-15). Every value a string, as the report's schema says.
    let ava = |title: &str, department: &str, supervisor: &str| {
        json!({"id": "123", "employeeNumber": "E123", "firstName": "Ava", "lastName": "Nguyen",
               "workEmail": "ava@example.com", "jobTitle": title, "department": department,
               "division": "North America", "location": "Lindon, Utah",
               "employmentHistoryStatus": "Full-Time", "supervisorEId": supervisor,
               "hireDate": "2019-03-04", "terminationDate": "0000-00-00", "status": "Active"})
    };
    let report = |employee: Value| {
        json!({
            "title": "hrsync",
            "fields": [
                {"id": "jobTitle", "type": "list", "name": "Job title"},
                {"id": "department", "type": "list", "name": "Department"},
                {"id": "supervisorEId", "type": "int", "name": "Supervisor EID"}
            ],
            "employees": [employee]
        })
    };
    let custom_report = || {
        Mock::given(method("POST"))
            .and(path("/api/gateway.php/acme/v1/reports/custom"))
            .and(query_param("format", "JSON"))
            .and(basic_auth("bamboo-key", ""))
            .and(header("content-type", "application/json"))
    };
    custom_report()
        .and(query_param("onlyCurrent", "true"))
        .respond_with(json_ok(report(ava(
            "Software Engineer",
            "Engineering",
            "100",
        ))))
        .expect(1)
        .mount(&server)
        .await;
    custom_report()
        .and(query_param("onlyCurrent", "false"))
        .respond_with(json_ok(report(ava(
            "Engineering Manager",
            "Product",
            "200",
        ))))
        .named("the custom report with future-dated values")
        .expect(0)
        .mount(&server)
        .await;
    let config = config(&format!(
        "preset = \"bamboohr\"\ncompany_domain = \"acme\"\nbase_url = \"{}/api/gateway.php/acme/v1\"\napi_key = {}\n",
        server.uri(),
        secret(&dir, "key", "bamboo-key")
    ));
    let snapshot = fetch(&config).await;
    assert_eq!(
        all(&snapshot),
        [row(
            "123",
            "Ava",
            "Nguyen",
            "ava@example.com",
            "Software Engineer",
            "Engineering",
            Active
        )],
        "today's job, not next month's"
    );
    assert_eq!(snapshot.employees[0].manager_id(), Some("100"));
}

#[tokio::test]
async fn personio_v1_offset_pages_with_a_bearer_token() {
    let server = MockServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    let attr = |value: Value| json!({"label": "x", "value": value});
    let employee = |id: u64, first: &str, status: &str, termination: Value| {
        json!({"type": "Employee", "attributes": {
            "id": {"label": "ID", "value": id, "type": "integer"},
            "first_name": attr(json!(first)),
            "last_name": attr(json!("Schmidt")),
            "email": attr(json!(format!("{}@example.de", first.to_lowercase()))),
            "position": attr(json!("Accountant")),
            "status": {"label": "Status", "value": status},
            "hire_date": {"value": "2014-11-09 00:00:00+01:00", "type": "date"},
            "termination_date": {"value": termination, "type": "date"},
            "department": {"label": "Department", "value": {"type": "Department", "attributes": {"id": 7, "name": "Finance"}}},
            "office": {"label": "Office", "value": {"type": "Office", "attributes": {"id": 1, "name": "Munich"}}},
            "supervisor": {"value": {"type": "Employee", "attributes": {"id": {"value": 2}}}}
        }})
    };
    let pages = [
        (
            0,
            vec![
                employee(1, "Anna", "active", Value::Null),
                employee(2, "Bernd", "leave", Value::Null),
            ],
        ),
        (
            2,
            vec![
                employee(3, "Clara", "inactive", json!("2023-06-30 00:00:00+02:00")),
                employee(4, "Dirk", "onboarding", Value::Null),
            ],
        ),
    ];
    for (offset, data) in pages {
        Mock::given(method("GET"))
            .and(path("/v1/company/employees"))
            .and(bearer_token("papi-token"))
            .and(query_param("offset", offset.to_string()))
            .and(query_param("limit", "2"))
            .respond_with(json_ok(json!({
                "success": true,
                "metadata": {"total_elements": 4, "current_page": offset / 2, "total_pages": 2},
                "offset": offset, "limit": 2, "data": data
            })))
            .expect(1)
            .mount(&server)
            .await;
    }
    // The user's [hr.rest.pagination] limit overrides the preset's 100, keeping its type.
    let config = config(&format!(
        "preset = \"personio\"\nbase_url = \"{}/v1\"\ntoken = {}\n[rest.pagination]\nlimit = 2\n",
        server.uri(),
        secret(&dir, "token", "papi-token")
    ));
    let snapshot = fetch(&config).await;
    assert_eq!(
        all(&snapshot),
        [
            row(
                "1",
                "Anna",
                "Schmidt",
                "anna@example.de",
                "Accountant",
                "Finance",
                Active
            ),
            row(
                "2",
                "Bernd",
                "Schmidt",
                "bernd@example.de",
                "Accountant",
                "Finance",
                Leave
            ),
            row(
                "3",
                "Clara",
                "Schmidt",
                "clara@example.de",
                "Accountant",
                "Finance",
                Terminated
            ),
            row(
                "4",
                "Dirk",
                "Schmidt",
                "dirk@example.de",
                "Accountant",
                "Finance",
                Pending
            ),
        ]
    );
    assert_eq!(
        snapshot.employees[0].hire_date,
        NaiveDate::from_ymd_opt(2014, 11, 9)
    );
    assert_eq!(snapshot.employees[0].manager_id(), Some("2"));
    assert_eq!(snapshot.employees[0].field("location"), Some("Munich"));
}

#[tokio::test]
async fn hibob_people_search() {
    let server = MockServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    let person = |id: &str, first: &str, status: &str, lifecycle: &str| {
        json!({"id": id, "firstName": first, "surname": "Doe", "email": format!("{}@example.org", first.to_lowercase()),
               "work": {"title": "CTO", "department": "R&D", "site": "Berlin", "startDate": "2000-01-23",
                        "reportsTo": {"id": "3332883804594373380", "email": "boss@example.org"}},
               "internal": {"status": status, "lifecycleStatus": lifecycle}})
    };
    Mock::given(method("POST"))
        .and(path("/v1/people/search"))
        .and(basic_auth("SERVICE-USER-1", "service-token"))
        .and(body_partial_json(
            json!({"showInactive": true, "humanReadable": "REPLACE"}),
        ))
        .respond_with(json_ok(json!({"employees": [
            person("1", "Jane", "Active", "Employed"),
            person("2", "John", "Active", "Leave"),
            person("3", "Jim", "Inactive", "Terminated"),
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    let config = config(&format!(
        "preset = \"hibob\"\nbase_url = \"{}/v1\"\nservice_user_id = \"SERVICE-USER-1\"\ntoken = {}\n",
        server.uri(),
        secret(&dir, "token", "service-token")
    ));
    let snapshot = fetch(&config).await;
    assert_eq!(
        all(&snapshot),
        [
            row("1", "Jane", "Doe", "jane@example.org", "CTO", "R&D", Active),
            row("2", "John", "Doe", "john@example.org", "CTO", "R&D", Leave),
            row(
                "3",
                "Jim",
                "Doe",
                "jim@example.org",
                "CTO",
                "R&D",
                Terminated
            ),
        ]
    );
    assert_eq!(
        snapshot.employees[0].manager_id(),
        Some("3332883804594373380")
    );
}

#[tokio::test]
async fn workday_raas_report() {
    let server = MockServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    let entry = |id: &str, first: &str, active: &str| {
        json!({"Employee_ID": id, "First_Name": first, "Last_Name": "Smith",
               "Email_-_Primary_Work": format!("{}@example.com", first.to_lowercase()),
               "Business_Title": "Analyst", "Supervisory_Organization": "Finance", "Location": "Dublin",
               "Manager_ID": "1000", "Hire_Date": "2020-02-03", "Active_Status": active})
    };
    Mock::given(method("GET"))
        .and(path(
            "/ccx/service/customreport2/acme/ISU_hrsync/hrsync_workers",
        ))
        .and(query_param("format", "json"))
        .and(basic_auth("ISU_hrsync@acme", "wd-pass"))
        .respond_with(json_ok(
            json!({"Report_Entry": [entry("1001", "Ann", "1"), entry("1002", "Bob", "0")]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let config = config(&format!(
        "preset = \"workday\"\nbase_url = \"{}\"\ntenant = \"acme\"\nowner = \"ISU_hrsync\"\nreport = \"hrsync_workers\"\nusername = \"ISU_hrsync@acme\"\npassword = {}\n",
        server.uri(),
        secret(&dir, "pw", "wd-pass")
    ));
    let snapshot = fetch(&config).await;
    assert_eq!(
        all(&snapshot),
        [
            row(
                "1001",
                "Ann",
                "Smith",
                "ann@example.com",
                "Analyst",
                "Finance",
                Active
            ),
            row(
                "1002",
                "Bob",
                "Smith",
                "bob@example.com",
                "Analyst",
                "Finance",
                Terminated
            ),
        ]
    );
}

#[tokio::test]
async fn successfactors_odata_with_next_links_and_odata_dates() {
    let server = MockServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    let person = |id: &str, first: &str, code: &str, end: Value| {
        json!({"personIdExternal": id,
               "personalInfoNav": {"results": [{"firstName": first, "lastName": "Meier"}]},
               "emailNav": {"results": [{"emailAddress": format!("{}@example.ch", first.to_lowercase()), "isPrimary": true}]},
               "employmentNav": {"results": [{"userId": id, "startDate": "/Date(1388534400000)/", "endDate": end,
                   "userNav": {"username": first.to_lowercase(), "email": format!("{}@example.ch", first.to_lowercase())},
                   "jobInfoNav": {"results": [{"jobTitle": "Consultant", "managerId": "900", "emplStatus": "4595",
                       "emplStatusNav": {"externalCode": code},
                       "departmentNav": {"name": "Sales", "name_localized": "Sales"},
                       "locationNav": {"name": "Zurich"}}]}}]}})
    };
    let next = format!(
        "{}/odata/v2/PerPerson?$format=json&$skiptoken=abc",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/odata/v2/PerPerson"))
        .and(query_param("$format", "json"))
        .and(query_param("customPageSize", "100"))
        .and(basic_auth("hrsync@ACME", "sf-pass"))
        .respond_with(json_ok(json!({"d": {"results": [person("p1", "Urs", "A", Value::Null), person("p2", "Vreni", "P", Value::Null)], "__next": next}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/odata/v2/PerPerson"))
        .and(query_param("$skiptoken", "abc"))
        .and(basic_auth("hrsync@ACME", "sf-pass"))
        .respond_with(json_ok(
            json!({"d": {"results": [person("p3", "Xaver", "T", json!("/Date(1704067200000)/"))]}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let config = config(&format!(
        "preset = \"successfactors\"\nbase_url = \"{}/odata/v2\"\nusername = \"hrsync@ACME\"\npassword = {}\n",
        server.uri(),
        secret(&dir, "pw", "sf-pass")
    ));
    let snapshot = fetch(&config).await;
    assert_eq!(
        all(&snapshot),
        [
            row(
                "p1",
                "Urs",
                "Meier",
                "urs@example.ch",
                "Consultant",
                "Sales",
                Active
            ),
            row(
                "p2",
                "Vreni",
                "Meier",
                "vreni@example.ch",
                "Consultant",
                "Sales",
                Leave
            ),
            row(
                "p3",
                "Xaver",
                "Meier",
                "xaver@example.ch",
                "Consultant",
                "Sales",
                Terminated
            ),
        ]
    );
    assert_eq!(
        snapshot.employees[0].hire_date,
        NaiveDate::from_ymd_opt(2014, 1, 1)
    );
    assert_eq!(
        snapshot.employees[2].termination_date,
        NaiveDate::from_ymd_opt(2024, 1, 1)
    );
}

#[tokio::test]
async fn scim_users_with_the_enterprise_extension() {
    let server = MockServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    // RFC 7643 section 8.3's enterprise user: the employee number in the extension, the manager
    // named by their SCIM resource id. Barbara manages Bjorn, whose manager is Barbara's id.
    let user = |id: &str, given: &str, number: &str, active: bool, manager: &str| {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
               "id": id, "userName": given.to_lowercase(), "active": active, "title": "Tour Guide",
               "name": {"givenName": given, "familyName": "Jensen"},
               "emails": [{"value": format!("{}@example.com", given.to_lowercase()), "type": "work", "primary": true}],
               "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                   {"employeeNumber": number, "department": "Tour Operations", "manager": {"value": manager}}})
    };
    Mock::given(method("GET"))
        .and(path("/scim/v2/Users"))
        .and(bearer_token("scim-token"))
        .and(query_param("startIndex", "1"))
        .and(query_param("count", "100"))
        .respond_with(json_ok(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": 2, "startIndex": 1, "itemsPerPage": 2,
            "Resources": [
                user("2819c223-7f76-453a-919d-413861904646", "Barbara", "701984", true, "26118915-6090-4610-87e4-49d8ca9f808d"),
                user("2819c224-7f76-453a-919d-413861904646", "Bjorn", "701985", false, "2819c223-7f76-453a-919d-413861904646")
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let config = config(&format!(
        "preset = \"scim\"\nbase_url = \"{}/scim/v2\"\ntoken = {}\n",
        server.uri(),
        secret(&dir, "token", "scim-token")
    ));
    let snapshot = fetch(&config).await;
    assert_eq!(
        all(&snapshot),
        [
            row(
                "701984",
                "Barbara",
                "Jensen",
                "barbara@example.com",
                "Tour Guide",
                "Tour Operations",
                Active
            ),
            row(
                "701985",
                "Bjorn",
                "Jensen",
                "bjorn@example.com",
                "Tour Guide",
                "Tour Operations",
                Terminated
            ),
        ]
    );
    // Bjorn's manager is Barbara's employee number; Barbara's manager is nobody in the list.
    assert_eq!(snapshot.employees[1].manager_id(), Some("701984"));
    assert_eq!(snapshot.employees[0].manager_id(), None);
    assert_eq!(
        snapshot.warnings,
        [
            "employee 701984: manager_id \"26118915-6090-4610-87e4-49d8ca9f808d\" is the $.id of no \
          HR record; manager_id left empty"
        ]
    );
    assert_eq!(
        snapshot.employees[0].field("scim_id"),
        Some("2819c223-7f76-453a-919d-413861904646")
    );
}

#[test]
fn every_example_in_deploy_hr_presets_validates_with_the_repository_mappings() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/hr-presets");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("deploy/hr-presets") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        let config = hrsync::config::Config::parse(&path, &text);
        assert!(config.is_ok(), "{}: {:?}", path.display(), config.err());
        seen.push(
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "bamboohr",
            "hibob",
            "personio",
            "scim",
            "successfactors",
            "workday"
        ]
    );
}

/// `plan --dump-hr FILE`, then a replay of FILE through a file source with the same preset,
/// plans exactly the same changes; the dump holds no secret and no query string.
#[tokio::test]
async fn a_dump_replays_to_the_same_plan() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let demo_path = root.join("deploy/demo/hrsync.toml");
    let demo = hrsync::config::Config::parse(
        &demo_path,
        &std::fs::read_to_string(&demo_path).expect("demo config"),
    )
    .expect("the demo config is valid");
    let body: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("deploy/demo/hr.json")).expect("demo HR"),
    )
    .expect("JSON");

    let server = MockServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    Mock::given(method("POST"))
        .and(path("/api/gateway.php/acme/v1/reports/custom"))
        .and(basic_auth("dump-secret-key", ""))
        .respond_with(json_ok(body))
        .mount(&server)
        .await;
    let live = config(&format!(
        "preset = \"bamboohr\"\ncompany_domain = \"acme\"\nbase_url = \"{}/api/gateway.php/acme/v1\"\napi_key = {}\n",
        server.uri(),
        secret(&dir, "key", "dump-secret-key")
    ));
    let now = chrono::DateTime::parse_from_rfc3339("2024-06-15T08:00:00Z")
        .expect("time")
        .with_timezone(&chrono::Utc);
    let (live_snapshot, records) = hr::read(&live, true).await.expect("fetch");
    let dump = hr::dump(&live, &records, now);
    let dump_path = dir.path().join("hr-dump.json");
    std::fs::write(&dump_path, serde_json::to_vec(&dump).expect("json")).expect("write dump");
    let text = std::fs::read_to_string(&dump_path).expect("read dump");
    assert!(!text.contains("dump-secret-key"), "no secret in the dump");
    assert!(!text.contains("format=JSON"), "no query string in the dump");
    assert_eq!(dump["hrsync_dump"], 1);
    assert_eq!(dump["source"]["kind"], "rest");
    assert_eq!(dump["source"]["preset"], "bamboohr");

    let replay = config(&format!(
        "preset = \"bamboohr\"\nsource = \"file\"\n[file]\npath = \"{}\"\nrecords = \"/records\"\n",
        dump_path.display()
    ));
    let replay_snapshot = hr::fetch(&replay).await.expect("replay");
    assert!(!live_snapshot.employees.is_empty());

    let directory = hrsync::model::DirectorySnapshot::default();
    let plan_json = |snapshot: &HrSnapshot| {
        let plan = hrsync::plan::plan(&hrsync::plan::PlanInput {
            hr: snapshot,
            directory: &directory,
            mappings: &demo.mappings,
            policy: &demo.directory.policy,
            limits: &hrsync::plan::limits::Limits::none(),
            now,
        });
        let mut value = serde_json::to_value(&plan).expect("plan as JSON");
        if let Some(map) = value.as_object_mut() {
            map.remove("generated_at");
        }
        value
    };
    let live_plan = plan_json(&live_snapshot);
    assert_eq!(live_plan, plan_json(&replay_snapshot));
    assert_ne!(
        live_plan["accounts"],
        json!([]),
        "the plan has changes to compare"
    );
}

#[tokio::test]
async fn a_csv_export_maps_columns_by_name_and_a_malformed_row_is_reported_not_a_leaver() {
    let dir = TempDir::new().expect("tempdir");
    let csv_path = dir.path().join("hr.csv");
    std::fs::write(
        &csv_path,
        "\u{feff}Employee ID,First Name,Last Name,Work Email,Title,Status\r\n\
         1,Ada,\"Lovelace, Countess\",ada@example.org,\"Engineer, \"\"Lead\"\"\",Active\r\n\
         2,Alan,Turing,alan@example.org,Scientist\r\n\
         3,Grace,Hopper,grace@example.org,Admiral,Terminated\r\n",
    )
    .expect("write csv");
    let config = config(&format!(
        r#"
source = "file"
[file]
path = "{}"
[fields]
id = "$['Employee ID']"
first_name = "$['First Name']"
last_name = "$['Last Name']"
email = "$['Work Email']"
title = "$.Title"
[status]
path = "$.Status"
active = ["Active"]
terminated = ["Terminated"]
"#,
        csv_path.display()
    ));
    let snapshot = hr::fetch(&config).await.expect("csv read");
    let ids: Vec<&str> = snapshot.employees.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["1", "3"]);
    assert_eq!(
        snapshot.employees[0].field("last_name"),
        Some("Lovelace, Countess")
    );
    assert_eq!(
        snapshot.employees[0].field("title"),
        Some("Engineer, \"Lead\"")
    );
    assert_eq!(snapshot.rejected.len(), 1);
    assert_eq!(
        snapshot.rejected[0].id.as_deref(),
        Some("2"),
        "reported by id: left alone"
    );
    assert!(
        snapshot.rejected[0].problem.contains("CSV row 3"),
        "{}",
        snapshot.rejected[0].problem
    );
}

/// A malformed CSV row is read by the one HR path: it is a rejection, never an employee, for
/// every command; a dump keeps it malformed, so the replay rejects it too.
#[tokio::test]
async fn a_malformed_csv_row_stays_left_out_through_a_dump_and_its_replay() {
    let dir = TempDir::new().expect("tempdir");
    let csv_path = dir.path().join("hr.csv");
    std::fs::write(
        &csv_path,
        "id,status\n1,Active\n2,Active,one cell too many\n3,Active\n",
    )
    .expect("write csv");
    let fields = "[fields]\nid = \"$.id\"\n[status]\npath = \"$.status\"\nactive = [\"Active\"]\n";
    let live = config(&format!(
        "source = \"file\"\n[file]\npath = \"{}\"\n{fields}",
        csv_path.display()
    ));
    let (snapshot, records) = hr::read(&live, true).await.expect("csv read");
    let ids: Vec<&str> = snapshot.employees.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["1", "3"]);
    assert_eq!(snapshot.rejected.len(), 1);
    assert!(
        matches!(&records[1], hr::Record::Malformed { .. }),
        "{records:?}"
    );

    let now = chrono::DateTime::parse_from_rfc3339("2024-06-15T08:00:00Z")
        .expect("time")
        .with_timezone(&chrono::Utc);
    let dump = hr::dump(&live, &records, now);
    assert_eq!(dump["records"][1]["id"], "2", "the row's cells are kept");
    assert_eq!(dump["malformed"][0]["index"], 1);
    assert!(
        !dump.to_string().contains("_hrsync"),
        "no marker among the records"
    );
    let dump_path = dir.path().join("hr-dump.json");
    std::fs::write(&dump_path, serde_json::to_vec(&dump).expect("json")).expect("write dump");
    let replay = config(&format!(
        "source = \"file\"\n[file]\npath = \"{}\"\nrecords = \"/records\"\n{fields}",
        dump_path.display()
    ));
    let (replayed, _) = hr::read(&replay, false).await.expect("replay");
    assert_eq!(replayed, snapshot);
}

#[tokio::test]
async fn personio_v1_asks_for_its_own_token_and_asks_again_when_it_is_refused() {
    let server = MockServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    // POST /v1/auth with the client id and secret as JSON; the first token is later refused.
    Mock::given(method("POST"))
        .and(path("/v1/auth"))
        .and(body_json(
            json!({"client_id": "acme-client", "client_secret": "PERSONIO-SECRET-NOT-TO-LEAK"}),
        ))
        .respond_with(json_ok(
            json!({"success": true, "data": {"token": "papi-first"}}),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/auth"))
        .respond_with(json_ok(
            json!({"success": true, "data": {"token": "papi-second"}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/company/employees"))
        .and(bearer_token("papi-first"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"success": false, "error": {"code": 0, "message": "The token has expired"}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let attr = |value: Value| json!({"label": "x", "value": value});
    Mock::given(path("/v1/company/employees"))
        .and(bearer_token("papi-second"))
        .respond_with(json_ok(json!({
            "success": true,
            "metadata": {"total_elements": 1, "current_page": 0, "total_pages": 1},
            "offset": 0, "limit": 100,
            "data": [{"type": "Employee", "attributes": {
                "id": {"label": "ID", "value": 11, "type": "integer"},
                "first_name": attr(json!("Eva")), "last_name": attr(json!("Klein")),
                "email": attr(json!("eva@example.de")), "position": attr(json!("Buyer")),
                "status": {"label": "Status", "value": "active"},
                "department": {"label": "Department", "value": {"type": "Department", "attributes": {"id": 3, "name": "Purchasing"}}}
            }}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let config = config(&format!(
        "preset = \"personio\"\nbase_url = \"{}/v1\"\nclient_id = \"acme-client\"\nclient_secret = {}\n",
        server.uri(),
        secret(&dir, "client_secret", "PERSONIO-SECRET-NOT-TO-LEAK")
    ));
    let snapshot = fetch(&config).await;
    assert_eq!(
        all(&snapshot),
        [row(
            "11",
            "Eva",
            "Klein",
            "eva@example.de",
            "Buyer",
            "Purchasing",
            Active
        )]
    );
}

#[test]
fn personio_takes_client_credentials_or_a_token_but_not_both() {
    let text = "preset = \"personio\"\nclient_id = \"c\"\nclient_secret = { env = \"S\" }\n\
                token = { env = \"T\" }\n";
    let config: HrConfig = toml::from_str(text).expect("parses");
    let problems: Vec<String> = config.validate().iter().map(ToString::to_string).collect();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("hr.token") && p.contains("does not go with")),
        "{problems:?}"
    );
    let text = "preset = \"personio\"\nclient_id = \"c\"\n";
    let config: HrConfig = toml::from_str(text).expect("parses");
    let problems: Vec<String> = config.validate().iter().map(ToString::to_string).collect();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("hr.client_secret") && p.contains("required")),
        "{problems:?}"
    );
}

/// A private key and self-signed certificate made by openssl, as an admin registers them for a
/// SuccessFactors OAuth client.
fn key_pair(dir: &TempDir) -> (std::path::PathBuf, std::path::PathBuf) {
    let key = dir.path().join("sf-key.pem");
    let cert = dir.path().join("sf-cert.pem");
    let status = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=hrsync-test"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs (installed by tests/slapd/install-deps.sh)");
    assert!(status.success(), "openssl made the key pair");
    (key, cert)
}

/// Verifies a SAML assertion's XML signature with xmlsec1 (an independent implementation of
/// XML-DSig) against the certificate. Returns xmlsec1's verdict and its output.
fn xmlsec_verify(dir: &TempDir, xml: &str, cert: &std::path::Path) -> (bool, String) {
    let file = dir.path().join("assertion.xml");
    std::fs::write(&file, xml).expect("write the assertion");
    let output = std::process::Command::new("xmlsec1")
        .arg("--verify")
        .arg("--pubkey-cert-pem")
        .arg(cert)
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
        ])
        .arg(&file)
        .output()
        .expect("xmlsec1 runs (installed by tests/slapd/install-deps.sh)");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn successfactors_oauth_with_a_signed_saml_assertion_and_several_employments() {
    use base64::Engine;
    let server = MockServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    let (key, cert) = key_pair(&dir);
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Asaml2-bearer",
        ))
        .and(body_string_contains("company_id=ACME01"))
        .and(body_string_contains("client_id=API-KEY-123"))
        .and(body_string_contains("assertion="))
        .respond_with(json_ok(
            json!({"access_token": "sf-token", "token_type": "Bearer", "expires_in": 86399}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let job = |code: &str, title: &str| {
        json!({"jobTitle": title, "managerId": "900", "emplStatusNav": {"externalCode": code},
               "departmentNav": {"name": "Sales"}, "locationNav": {"name": "Zurich"}})
    };
    let employment = |code: &str, title: &str, start: &str, end: Value| {
        json!({"userId": "u", "startDate": start, "endDate": end,
               "userNav": {"username": "u", "email": format!("{}@example.ch", title.to_lowercase())},
               "jobInfoNav": {"results": [job(code, title)]}})
    };
    let person = |id: &str, employments: Vec<Value>| {
        json!({"personIdExternal": id,
               "personalInfoNav": {"results": [{"firstName": id, "lastName": "Meier"}]},
               "employmentNav": {"results": employments}})
    };
    Mock::given(method("GET"))
        .and(path("/odata/v2/PerPerson"))
        .and(bearer_token("sf-token"))
        .respond_with(json_ok(json!({"d": {"results": [
            // A rehire: the old employment ended in 2020, the new one is active.
            person("rehire", vec![
                employment("T", "Old", "/Date(1388534400000)/", json!("/Date(1577836800000)/")),
                employment("A", "Lead", "/Date(1704067200000)/", Value::Null),
            ]),
            // A global assignment: home employment dormant, host employment active.
            person("global", vec![
                employment("D", "Home", "/Date(1388534400000)/", Value::Null),
                employment("A", "Host", "/Date(1672531200000)/", json!("/Date(1893456000000)/")),
            ]),
            // Dormant and nothing else: nobody works there any more.
            person("dormant", vec![employment("D", "Home", "/Date(1388534400000)/", Value::Null)]),
            // Paid leave with an end date in the future.
            person("leave", vec![employment("P", "Analyst", "/Date(1388534400000)/", json!("/Date(1893456000000)/"))]),
        ]}})))
        .expect(1)
        .mount(&server)
        .await;
    let config = config(&format!(
        "preset = \"successfactors\"\nbase_url = \"{}/odata/v2\"\ncompany_id = \"ACME01\"\n\
         client_id = \"API-KEY-123\"\nuser_id = \"sfapi\"\nprivate_key = {{ file = \"{}\" }}\n\
         certificate = \"{}\"\n",
        server.uri(),
        key.display(),
        cert.display()
    ));
    let snapshot = fetch(&config).await;
    let status_and_title: Vec<(String, EmploymentStatus, String, Option<NaiveDate>)> = snapshot
        .employees
        .iter()
        .map(|e| {
            (
                e.id.clone(),
                status_today(e),
                e.field("title").unwrap_or("-").to_string(),
                e.termination_date,
            )
        })
        .collect();
    assert!(snapshot.rejected.is_empty(), "{:?}", snapshot.rejected);
    assert_eq!(
        status_and_title,
        [
            // The old employment's end date is read (no active or on-leave one has any), but it
            // is before the new hire date, so the person stays active.
            (
                "rehire".to_string(),
                Active,
                "Lead".to_string(),
                NaiveDate::from_ymd_opt(2020, 1, 1)
            ),
            (
                "global".to_string(),
                Active,
                "Host".to_string(),
                NaiveDate::from_ymd_opt(2030, 1, 1)
            ),
            ("dormant".to_string(), Terminated, "Home".to_string(), None),
            (
                "leave".to_string(),
                Leave,
                "Analyst".to_string(),
                NaiveDate::from_ymd_opt(2030, 1, 1)
            ),
        ]
    );

    // The assertion hrsync sent: signed so that xmlsec1 accepts it with the registered
    // certificate, for the API user, naming the client's API key and the token endpoint.
    let requests = server.received_requests().await.expect("requests recorded");
    let token_request = requests
        .iter()
        .find(|r| r.url.path() == "/oauth/token")
        .expect("a token request");
    let form = String::from_utf8_lossy(&token_request.body).into_owned();
    let private_key = std::fs::read_to_string(&key).expect("read key");
    let key_body: String = private_key.lines().nth(1).unwrap_or("-").to_string();
    assert!(!form.contains(&key_body), "the private key never leaves");
    let assertion = reqwest::Url::parse(&format!("http://x/?{form}"))
        .expect("form")
        .query_pairs()
        .find(|(k, _)| k == "assertion")
        .map(|(_, v)| v.into_owned())
        .expect("an assertion parameter");
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(assertion)
            .expect("base64"),
    )
    .expect("utf-8");
    assert!(xml.contains(">sfapi</saml2:NameID>"), "{xml}");
    assert!(
        xml.contains("<saml2:AttributeValue>API-KEY-123</saml2:AttributeValue>"),
        "{xml}"
    );
    assert!(
        xml.contains(&format!("Recipient=\"{}/oauth/token\"", server.uri())),
        "{xml}"
    );
    let (valid, output) = xmlsec_verify(&dir, &xml, &cert);
    assert!(valid, "xmlsec1 refused the signature: {output}\n{xml}");
    // The check is real: the same assertion for another user no longer verifies.
    let forged = xml.replace(">sfapi</saml2:NameID>", ">admin</saml2:NameID>");
    let (valid, _) = xmlsec_verify(&dir, &forged, &cert);
    assert!(!valid, "a changed assertion must not verify");
}
