//! The same bad days for every vendor preset, each served in the vendor's own documented shape
//! (hr-apis.md): a 429 with Retry-After before the answer, a malformed record among good ones,
//! and, for the vendors whose APIs page, several pages with a 500 on a middle one.
//!
//! What must hold for every vendor: the 429 is waited out and the fetch succeeds; the malformed
//! record is reported by its id and left out while the others are read; a middle page that keeps
//! failing fails the whole fetch (no partial list, so nobody looks like a leaver).

use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use hrsync::hr::{self, HrConfig, HrError};
use hrsync::model::HrSnapshot;

/// How a vendor's API looks: where the list lives, how a record and a page are shaped, and the
/// preset config that reads it from the mock server.
struct Vendor {
    name: &'static str,
    /// The request path of the employee list.
    path: &'static str,
    /// A good record with this id (active).
    record: fn(&str) -> Value,
    /// A record with this id that cannot be read safely (an unknown status, a bad date).
    malformed: fn(&str) -> Value,
    /// The answer holding `records`; `page` counts from 0; `next` is the next page's URL.
    page: fn(records: Vec<Value>, page: usize, total: usize, next: Option<String>) -> Value,
    /// How the API pages, if it does.
    paging: Paging,
    /// The `[hr]` keys of the preset, given the mock server's URI and a secret file.
    config: fn(uri: &str, secret: &str) -> String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Paging {
    /// One answer holds everyone.
    None,
    /// `offset_param` counts records from `start`.
    Offset {
        offset_param: &'static str,
        start: usize,
    },
    /// A next URL in the body.
    NextUrl,
}

fn vendors() -> Vec<Vendor> {
    vec![
        Vendor {
            name: "bamboohr",
            path: "/api/gateway.php/acme/v1/reports/custom",
            record: |id| {
                json!({"id": id, "firstName": "Ava", "lastName": "Nguyen", "workEmail": "ava@example.com",
                       "jobTitle": "Engineer", "department": "Engineering", "hireDate": "2019-03-04",
                       "terminationDate": "0000-00-00", "status": "Active"})
            },
            malformed: |id| {
                json!({"id": id, "firstName": "Bad", "hireDate": "31/31/2019",
                       "terminationDate": "0000-00-00", "status": "Active"})
            },
            page: |records, _, _, _| json!({"title": "hrsync", "fields": [], "employees": records}),
            paging: Paging::None,
            config: |uri, secret| {
                format!(
                    "preset = \"bamboohr\"\ncompany_domain = \"acme\"\n\
                     base_url = \"{uri}/api/gateway.php/acme/v1\"\napi_key = {secret}\n"
                )
            },
        },
        Vendor {
            name: "personio",
            path: "/v1/company/employees",
            record: |id| {
                json!({"type": "Employee", "attributes": {
                    "id": {"label": "ID", "value": id.parse::<u64>().unwrap_or(0), "type": "integer"},
                    "first_name": {"label": "First name", "value": "Anna"},
                    "status": {"label": "Status", "value": "active"},
                    "hire_date": {"label": "Hire date", "value": "2014-11-09 00:00:00+01:00", "type": "date"}}})
            },
            malformed: |id| {
                json!({"type": "Employee", "attributes": {
                    "id": {"label": "ID", "value": id.parse::<u64>().unwrap_or(0), "type": "integer"},
                    "status": {"label": "Status", "value": "archived"}}})
            },
            page: |records, page, total, _| {
                json!({"success": true,
                       "metadata": {"total_elements": total, "current_page": page, "total_pages": total.div_ceil(2)},
                       "offset": page * 2, "limit": 2, "data": records})
            },
            paging: Paging::Offset {
                offset_param: "offset",
                start: 0,
            },
            config: |uri, secret| {
                format!(
                    "preset = \"personio\"\nbase_url = \"{uri}/v1\"\ntoken = {secret}\n\
                     [rest.pagination]\nlimit = 2\n"
                )
            },
        },
        Vendor {
            name: "hibob",
            path: "/v1/people/search",
            record: |id| {
                json!({"id": id, "firstName": "Jane", "surname": "Doe", "email": "jane@example.org",
                       "work": {"title": "CTO", "startDate": "2000-01-23"},
                       "internal": {"status": "Active", "lifecycleStatus": "Employed"}})
            },
            malformed: |id| {
                json!({"id": id, "firstName": "Jim", "work": {"startDate": "2000-01-23"},
                       "internal": {"status": "Active", "lifecycleStatus": "Sabbatical (unpaid)"}})
            },
            page: |records, _, _, _| json!({"employees": records}),
            paging: Paging::None,
            config: |uri, secret| {
                format!(
                    "preset = \"hibob\"\nbase_url = \"{uri}/v1\"\nservice_user_id = \"SVC-1\"\n\
                     token = {secret}\n"
                )
            },
        },
        Vendor {
            name: "workday",
            path: "/ccx/service/customreport2/acme/ISU_hrsync/hrsync_workers",
            record: |id| {
                json!({"Employee_ID": id, "First_Name": "Sam", "Last_Name": "Smith",
                       "Hire_Date": "2020-02-03", "Active_Status": "1"})
            },
            malformed: |id| json!({"Employee_ID": id, "First_Name": ["not", "a", "name"], "Active_Status": "1"}),
            page: |records, _, _, _| json!({"Report_Entry": records}),
            paging: Paging::None,
            config: |uri, secret| {
                format!(
                    "preset = \"workday\"\nbase_url = \"{uri}\"\ntenant = \"acme\"\n\
                     owner = \"ISU_hrsync\"\nreport = \"hrsync_workers\"\nusername = \"ISU_hrsync\"\n\
                     password = {secret}\n"
                )
            },
        },
        Vendor {
            name: "successfactors",
            path: "/odata/v2/PerPerson",
            record: |id| {
                json!({"personIdExternal": id,
                       "personalInfoNav": {"results": [{"firstName": "Urs", "lastName": "Meier"}]},
                       "employmentNav": {"results": [{"userId": id, "startDate": "/Date(1388534400000)/",
                           "jobInfoNav": {"results": [{"jobTitle": "Consultant",
                               "emplStatusNav": {"externalCode": "A"}}]}}]}})
            },
            malformed: |id| {
                json!({"personIdExternal": id,
                       "employmentNav": {"results": [{"userId": id, "startDate": "/Date(yesterday)/",
                           "jobInfoNav": {"results": [{"emplStatusNav": {"externalCode": "A"}}]}}]}})
            },
            page: |records, _, _, next| match next {
                Some(next) => json!({"d": {"results": records, "__next": next}}),
                None => json!({"d": {"results": records}}),
            },
            paging: Paging::NextUrl,
            config: |uri, secret| {
                format!(
                    "preset = \"successfactors\"\nbase_url = \"{uri}/odata/v2\"\n\
                     username = \"hrsync@ACME\"\npassword = {secret}\n"
                )
            },
        },
        Vendor {
            name: "scim",
            path: "/scim/v2/Users",
            // `id` is the employee number (the enterprise extension's, what the preset reads
            // as the id); the resource id is the server's own.
            record: |id| {
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                       "id": format!("2819c223-7f76-453a-919d-{id:0>12}"),
                       "userName": format!("user{id}"), "active": true,
                       "name": {"givenName": "Barbara", "familyName": "Jensen"},
                       "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                           {"employeeNumber": id}})
            },
            malformed: |id| {
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                       "id": format!("2819c223-7f76-453a-919d-{id:0>12}"),
                       "userName": "bjensen", "active": "maybe",
                       "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                           {"employeeNumber": id}})
            },
            page: |records, page, total, _| {
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                       "totalResults": total, "startIndex": page * 2 + 1, "itemsPerPage": records.len(),
                       "Resources": records})
            },
            paging: Paging::Offset {
                offset_param: "startIndex",
                start: 1,
            },
            config: |uri, secret| {
                format!(
                    "preset = \"scim\"\nbase_url = \"{uri}/scim/v2\"\ntoken = {secret}\n\
                     [rest.pagination]\nlimit = 2\n"
                )
            },
        },
    ]
}

/// Quick retries, so a failing page costs milliseconds; merged over the preset's.
const FAST_RETRY: &str = "[rest.retry]\nmax_attempts = 3\ninitial_backoff_ms = 5\n\
                          max_backoff_ms = 20\nmax_total_secs = 20\n";

fn config(vendor: &Vendor, server: &MockServer, dir: &TempDir) -> HrConfig {
    let secret_path = dir.path().join("secret");
    std::fs::write(&secret_path, "vendor-secret\n").expect("write secret");
    let secret = format!("{{ file = \"{}\" }}", secret_path.display());
    let text = format!("{}{FAST_RETRY}", (vendor.config)(&server.uri(), &secret));
    let config: HrConfig = toml::from_str(&text).expect("the preset config parses");
    let problems = config.validate();
    assert!(problems.is_empty(), "{}: {problems:?}\n{text}", vendor.name);
    config
}

async fn fetch(config: &HrConfig) -> Result<HrSnapshot, HrError> {
    tokio::time::timeout(Duration::from_secs(30), hr::fetch(config))
        .await
        .expect("the fetch finished")
}

/// Serves `pages` in order, by the vendor's paging; a page that is `None` answers 500 every
/// time. The first request of all is answered 429 with `Retry-After: 1` when `throttle_first`.
struct Pages {
    vendor_page: fn(Vec<Value>, usize, usize, Option<String>) -> Value,
    paging: Paging,
    pages: Vec<Option<Vec<Value>>>,
    total: usize,
    uri: String,
    path: &'static str,
    throttle_first: std::sync::atomic::AtomicBool,
}

impl Respond for Pages {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if self
            .throttle_first
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_string("rate limit exceeded");
        }
        let query = |name: &str| {
            request
                .url
                .query_pairs()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.parse::<usize>().ok())
        };
        let page = match self.paging {
            Paging::None => 0,
            Paging::Offset {
                offset_param,
                start,
            } => query(offset_param).map_or(0, |offset| offset.saturating_sub(start) / 2),
            Paging::NextUrl => query("page").unwrap_or(0),
        };
        let Some(Some(records)) = self.pages.get(page) else {
            return ResponseTemplate::new(500).set_body_string("internal error");
        };
        let next = (self.paging == Paging::NextUrl && page + 1 < self.pages.len())
            .then(|| format!("{}{}?$format=json&page={}", self.uri, self.path, page + 1));
        ResponseTemplate::new(200).set_body_json((self.vendor_page)(
            records.clone(),
            page,
            self.total,
            next,
        ))
    }
}

async fn serve(
    vendor: &Vendor,
    pages: Vec<Option<Vec<Value>>>,
    throttle_first: bool,
) -> MockServer {
    let server = MockServer::start().await;
    let total = pages.iter().flatten().map(Vec::len).sum::<usize>()
        + pages.iter().filter(|p| p.is_none()).count() * 2;
    Mock::given(path(vendor.path))
        .respond_with(Pages {
            vendor_page: vendor.page,
            paging: vendor.paging,
            pages,
            total,
            uri: server.uri(),
            path: vendor.path,
            throttle_first: std::sync::atomic::AtomicBool::new(throttle_first),
        })
        .mount(&server)
        .await;
    server
}

fn ids(snapshot: &HrSnapshot) -> Vec<String> {
    snapshot.employees.iter().map(|e| e.id.clone()).collect()
}

#[tokio::test]
async fn every_preset_waits_out_a_429_with_retry_after() {
    for vendor in vendors() {
        let dir = TempDir::new().expect("tempdir");
        let server = serve(
            &vendor,
            vec![Some(vec![(vendor.record)("101"), (vendor.record)("102")])],
            true,
        )
        .await;
        let snapshot = fetch(&config(&vendor, &server, &dir))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", vendor.name));
        assert_eq!(ids(&snapshot), ["101", "102"], "{}", vendor.name);
        let requests = server.received_requests().await.unwrap_or_default();
        assert_eq!(requests.len(), 2, "{}: the 429, then the page", vendor.name);
    }
}

#[tokio::test]
async fn every_preset_reports_a_malformed_record_by_id_and_reads_the_others() {
    for vendor in vendors() {
        let dir = TempDir::new().expect("tempdir");
        let server = serve(
            &vendor,
            vec![Some(vec![
                (vendor.record)("201"),
                (vendor.malformed)("202"),
                (vendor.record)("203"),
            ])],
            false,
        )
        .await;
        // Paged vendors serve two per page: put the three in two pages for them.
        let server = if vendor.paging == Paging::None {
            server
        } else {
            serve(
                &vendor,
                vec![
                    Some(vec![(vendor.record)("201"), (vendor.malformed)("202")]),
                    Some(vec![(vendor.record)("203")]),
                ],
                false,
            )
            .await
        };
        let snapshot = fetch(&config(&vendor, &server, &dir))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", vendor.name));
        assert_eq!(ids(&snapshot), ["201", "203"], "{}", vendor.name);
        assert_eq!(snapshot.rejected.len(), 1, "{}", vendor.name);
        let rejected = &snapshot.rejected[0];
        assert_eq!(rejected.id.as_deref(), Some("202"), "{}", vendor.name);
        assert!(
            !rejected.problem.is_empty(),
            "{}: the problem is named",
            vendor.name
        );
    }
}

#[tokio::test]
async fn every_paging_preset_reads_several_pages_and_fails_on_a_broken_middle_page() {
    for vendor in vendors().into_iter().filter(|v| v.paging != Paging::None) {
        let dir = TempDir::new().expect("tempdir");
        let page = |a: &str, b: &str| Some(vec![(vendor.record)(a), (vendor.record)(b)]);
        let server = serve(
            &vendor,
            vec![page("1", "2"), page("3", "4"), page("5", "6")],
            false,
        )
        .await;
        let snapshot = fetch(&config(&vendor, &server, &dir))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", vendor.name));
        assert_eq!(
            ids(&snapshot),
            ["1", "2", "3", "4", "5", "6"],
            "{}",
            vendor.name
        );

        let server = serve(&vendor, vec![page("1", "2"), None, page("5", "6")], false).await;
        let error = fetch(&config(&vendor, &server, &dir))
            .await
            .err()
            .unwrap_or_else(|| panic!("{}: a broken middle page must fail the fetch", vendor.name));
        assert!(
            matches!(error, HrError::Http { status: 500, .. }),
            "{}: {error:?}",
            vendor.name
        );
        let message = error.to_string();
        assert!(message.contains("page 2"), "{}: {message}", vendor.name);
        assert!(
            !message.contains("vendor-secret"),
            "{}: {message}",
            vendor.name
        );
        // The page after the broken one is never asked for.
        let requests = server.received_requests().await.unwrap_or_default();
        assert_eq!(
            requests.len(),
            1 + 3,
            "{}: page 1, then 3 attempts at page 2",
            vendor.name
        );
    }
}
