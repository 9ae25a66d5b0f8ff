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
    basic_auth, bearer_token, body_partial_json, header, method, path, query_param,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

use hrsync::hr::{self, HrConfig};
use hrsync::model::{Employee, EmploymentStatus, HrSnapshot};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 6, 15).expect("a date")
}

fn secret(dir: &TempDir, name: &str, value: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, format!("{value}\n")).expect("write secret file");
    format!("{{ file = \"{}\" }}", path.display())
}

fn config(text: &str) -> HrConfig {
    let config: HrConfig = toml::from_str(text).expect("the preset config parses");
    let problems = config.validate();
    assert!(problems.is_empty(), "{problems:?}\n{text}");
    config
}

async fn fetch(config: &HrConfig) -> HrSnapshot {
    tokio::time::timeout(Duration::from_secs(30), hr::fetch(config, today()))
        .await
        .expect("the fetch finished")
        .expect("the fetch succeeded")
}

fn json_ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
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
        e.status,
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
        .and(query_param("onlyCurrent", "false"))
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
    let user = |id: &str, given: &str, active: bool| {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
               "id": id, "userName": given.to_lowercase(), "active": active, "title": "Tour Guide",
               "name": {"givenName": given, "familyName": "Jensen"},
               "emails": [{"value": format!("{}@example.com", given.to_lowercase()), "type": "work", "primary": true}],
               "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                   {"department": "Tour Operations", "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}}})
    };
    Mock::given(method("GET"))
        .and(path("/scim/v2/Users"))
        .and(bearer_token("scim-token"))
        .and(query_param("startIndex", "1"))
        .and(query_param("count", "100"))
        .respond_with(json_ok(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": 2, "startIndex": 1, "itemsPerPage": 2,
            "Resources": [user("2819c223", "Barbara", true), user("2819c224", "Bjorn", false)]
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
                "2819c223",
                "Barbara",
                "Jensen",
                "barbara@example.com",
                "Tour Guide",
                "Tour Operations",
                Active
            ),
            row(
                "2819c224",
                "Bjorn",
                "Jensen",
                "bjorn@example.com",
                "Tour Guide",
                "Tour Operations",
                Terminated
            ),
        ]
    );
    assert_eq!(
        snapshot.employees[0].manager_id(),
        Some("26118915-6090-4610-87e4-49d8ca9f808d")
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
    let (live_snapshot, records) = hr::fetch_with_records(&live, now.date_naive())
        .await
        .expect("fetch");
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
    let replay_snapshot = hr::fetch(&replay, now.date_naive()).await.expect("replay");
    assert!(!live_snapshot.employees.is_empty());

    let directory = hrsync::model::DirectorySnapshot::default();
    let plan_json = |snapshot: &HrSnapshot| {
        let plan = hrsync::plan::plan(&hrsync::plan::PlanInput {
            hr: snapshot,
            directory: &directory,
            mappings: &demo.mappings,
            policy: &demo.directory.policy,
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
    let snapshot = hr::fetch(&config, today()).await.expect("csv read");
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
