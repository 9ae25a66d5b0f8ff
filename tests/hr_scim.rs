//! The SCIM preset against a real SCIM 2.0 service provider: `scim2-server` from PyPI (RFC
//! 7643/7644, installed by tests/scim/install-deps.sh), started per test by the harness
//! (tests/support/scim.rs) on a free loopback port. Users are created, deactivated and deleted
//! through the server's own SCIM API, as an identity provider does; hrsync then reads them with
//! nothing but the preset, the server's URL and its token.
//!
//! What this pins (issue 16, item 7): the preset correlates on the employee number, not on the
//! resource id the server makes up (with which every existing account was an orphan, everyone a
//! joiner, and an inactive person never a leaver), and a manager, whom SCIM names by resource
//! id, resolves to their employee number and so to their account's DN.

use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

#[path = "support/hr.rs"]
mod hr_support;
#[path = "support/scim.rs"]
mod scim_support;

use hr_support::{config, secret, status_today};
use scim_support::ScimServer;

use hrsync::hr::{self, HrConfig};
use hrsync::model::{EmploymentStatus, HrSnapshot};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A SCIM User with the enterprise extension, as an identity provider posts it (RFC 7643
/// sections 4.1 and 4.3). `number`: the employee number, or none (a service account).
fn user(
    login: &str,
    (given, family): (&str, &str),
    number: Option<&str>,
    title: &str,
    manager: Option<&str>,
) -> Value {
    let mut enterprise = json!({"department": "Tour Operations"});
    if let Some(number) = number {
        enterprise["employeeNumber"] = json!(number);
    }
    if let Some(manager) = manager {
        enterprise["manager"] = json!({"value": manager});
    }
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": login,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"value": format!("{login}@example.com"), "type": "work", "primary": true}],
        "title": title,
        "active": true,
        ENTERPRISE: enterprise,
    })
}

/// The resource id the server gave a created user.
fn id_of(resource: &Value) -> String {
    resource["id"]
        .as_str()
        .expect("the server gave the user an id")
        .to_string()
}

/// The SCIM preset pointed at `server`: only the preset, its URL and its token, and `extra`.
fn preset_with(server: &ScimServer, dir: &TempDir, extra: &str) -> HrConfig {
    config(&format!(
        "preset = \"scim\"\nbase_url = \"{}\"\ntoken = {}\n{extra}",
        server.base_url,
        secret(dir, "scim-token", &server.token)
    ))
}

fn preset(server: &ScimServer, dir: &TempDir) -> HrConfig {
    preset_with(server, dir, "")
}

async fn read(config: &HrConfig) -> HrSnapshot {
    tokio::time::timeout(Duration::from_secs(30), hr::fetch(config))
        .await
        .expect("the read finished")
        .expect("the read succeeded")
}

/// The server's ids of the people of the tests that the tests look up again.
struct People {
    barbara: String,
    bjorn: String,
    carla: String,
    frank: String,
}

/// Creates the people of the tests through the server's API: Barbara (E1000) manages Bjorn
/// (E1001), Carla (E1002) and Frank (E1005); Dana (E1003) reports to Bjorn, Erik (E1004) to
/// Frank; a service account has no employee number. Then Carla is made inactive and Frank
/// deleted, as an identity provider does when people leave: Erik's manager reference then names
/// a user the server no longer has.
async fn populate(server: &ScimServer) -> People {
    let barbara = id_of(
        &server
            .create_user(&user(
                "bjensen",
                ("Barbara", "Jensen"),
                Some("E1000"),
                "Head of Tours",
                None,
            ))
            .await,
    );
    let bjorn = id_of(
        &server
            .create_user(&user(
                "bjorn",
                ("Bjorn", "Jensen"),
                Some("E1001"),
                "Tour Guide",
                Some(&barbara),
            ))
            .await,
    );
    let carla_user = user(
        "carla",
        ("Carla", "Diaz"),
        Some("E1002"),
        "Tour Guide",
        Some(&barbara),
    );
    let carla = id_of(&server.create_user(&carla_user).await);
    server
        .create_user(&user(
            "dana",
            ("Dana", "Ek"),
            Some("E1003"),
            "Tour Guide",
            Some(&bjorn),
        ))
        .await;
    let frank = id_of(
        &server
            .create_user(&user(
                "frank",
                ("Frank", "Moe"),
                Some("E1005"),
                "Tour Guide",
                Some(&barbara),
            ))
            .await,
    );
    server
        .create_user(&user(
            "erik",
            ("Erik", "Berg"),
            Some("E1004"),
            "Tour Guide",
            // Frank, who is deleted below: a reference to a user the server no longer has.
            Some(&frank),
        ))
        .await;
    server
        .create_user(&user(
            "svc-backup",
            ("Backup", "Service"),
            None,
            "Service account",
            None,
        ))
        .await;
    // Carla leaves: the identity provider replaces her with active = false.
    let mut inactive = carla_user;
    inactive["active"] = json!(false);
    let replaced = server.replace_user(&carla, &inactive).await;
    assert_eq!(replaced["active"], json!(false), "{replaced}");
    // Frank is deleted outright.
    server.delete_user(&frank).await;
    People {
        barbara,
        bjorn,
        carla,
        frank,
    }
}

#[tokio::test]
async fn the_scim_preset_reads_employee_numbers_and_managers_from_a_real_scim_server() {
    let server = ScimServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    let people = populate(&server).await;

    // What the server itself says: an inactive user is listed with active false; a deleted one
    // is gone (404, and not listed).
    let (status, carla) = server.get(&format!("Users/{}", people.carla)).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{carla}");
    assert_eq!(carla["active"], json!(false), "{carla}");
    assert_eq!(carla[ENTERPRISE]["manager"]["value"], json!(people.barbara));
    let (status, _) = server.get(&format!("Users/{}", people.frank)).await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);

    let snapshot = read(&preset(&server, &dir)).await;
    let mut people_read: Vec<(String, Option<String>, EmploymentStatus, Option<String>)> = snapshot
        .employees
        .iter()
        .map(|e| {
            (
                e.id.clone(),
                e.manager_id().map(str::to_string),
                status_today(e),
                e.field("scim_id").map(str::to_string),
            )
        })
        .collect();
    people_read.sort();
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        people_read
            .iter()
            .map(|(id, manager, status, _)| (id.as_str(), manager.clone(), *status))
            .collect::<Vec<_>>(),
        [
            ("E1000", None, EmploymentStatus::Active),
            ("E1001", some("E1000"), EmploymentStatus::Active),
            ("E1002", some("E1000"), EmploymentStatus::Terminated),
            ("E1003", some("E1001"), EmploymentStatus::Active),
            // Its manager was deleted: the reference names no user, and is left empty (with a
            // warning), never a SCIM id where an employee number belongs.
            ("E1004", None, EmploymentStatus::Active),
        ],
        "ids are employee numbers, managers resolve through SCIM ids, inactive is terminated"
    );
    assert_eq!(
        people_read[0].3,
        some(&people.barbara),
        "the SCIM id stays as scim_id"
    );
    assert_eq!(people_read[1].3, some(&people.bjorn));
    // The service account has no employee number: reported and left out, not a joiner under
    // its SCIM id.
    assert_eq!(snapshot.rejected.len(), 1, "{:?}", snapshot.rejected);
    assert_eq!(snapshot.rejected[0].id, None);
    assert!(
        snapshot.rejected[0].problem.starts_with("id: missing"),
        "{}",
        snapshot.rejected[0].problem
    );

    // Read in pages of two (startIndex 1, 3, 5 against totalResults 6), with managers on other
    // pages than their reports: the same snapshot.
    let paged = read(&preset_with(
        &server,
        &dir,
        "[rest.pagination]\nlimit = 2\n",
    ))
    .await;
    assert_eq!(paged, snapshot);
}

/// The plan for a directory where Barbara, Bjorn, Carla and Frank have accounts (correlated by
/// employeeNumber, as the repository's mappings say): Carla is a leaver, Dana and Erik are
/// joiners, Frank (deleted in SCIM) is an orphan, not a leaver (absence is not termination), and
/// Dana's manager is Bjorn's account.
#[tokio::test]
async fn a_plan_from_a_real_scim_server_correlates_existing_accounts_and_makes_leavers() {
    let server = ScimServer::start().await;
    let dir = TempDir::new().expect("tempdir");
    let people = populate(&server).await;
    let snapshot = read(&preset(&server, &dir)).await;

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = root.join("deploy/hr-presets/scim.toml");
    let example = hrsync::config::Config::parse(
        &example,
        &std::fs::read_to_string(&example).expect("deploy/hr-presets/scim.toml"),
    )
    .expect("the SCIM example config is valid");
    let account = |uid: &str, number: &str| {
        json!({
            "dn": format!("uid={uid},ou=people,dc=example,dc=org"),
            "correlation_id": number,
            "attributes": {"uid": [uid], "employeenumber": [number]},
            "disabled": false
        })
    };
    let directory: hrsync::model::DirectorySnapshot = serde_json::from_value(json!({
        "accounts": [
            account("barbara.jensen", "E1000"),
            account("bjorn.jensen", "E1001"),
            account("carla.diaz", "E1002"),
            account("frank.moe", "E1005"),
        ],
        "groups": {}
    }))
    .expect("a directory snapshot");
    let now = chrono::DateTime::parse_from_rfc3339("2024-06-15T08:00:00Z")
        .expect("time")
        .with_timezone(&chrono::Utc);
    let plan = hrsync::plan::plan(&hrsync::plan::PlanInput {
        hr: &snapshot,
        directory: &directory,
        mappings: &example.mappings,
        policy: &example.directory.policy,
        limits: &hrsync::plan::limits::Limits::none(),
        now,
    });
    let plan = serde_json::to_value(&plan).expect("the plan as JSON");

    let mut lifecycles: Vec<(String, String)> = plan["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| {
            (
                a["employee_id"].as_str().unwrap_or("-").to_string(),
                a["lifecycle"].as_str().unwrap_or("-").to_string(),
            )
        })
        .filter(|(_, lifecycle)| lifecycle != "update")
        .collect();
    lifecycles.sort();
    assert_eq!(
        lifecycles,
        [
            ("E1002".to_string(), "leaver".to_string()),
            ("E1003".to_string(), "joiner".to_string()),
            ("E1004".to_string(), "joiner".to_string()),
        ],
        "{plan:#}"
    );
    assert_eq!(
        plan["orphans"],
        json!([{"dn": "uid=frank.moe,ou=people,dc=example,dc=org", "correlation_id": "E1005"}]),
        "a user deleted from SCIM is absent, which is no termination"
    );
    let dana = plan["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .find(|a| a["employee_id"] == "E1003")
        .expect("Dana's account plan");
    let created = dana["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["action"] == "create")
        .expect("Dana's account is created");
    assert_eq!(
        created["attributes"]["manager"],
        json!(["uid=bjorn.jensen,ou=people,dc=example,dc=org"]),
        "{created:#}"
    );
    let warnings = plan["warnings"].as_array().expect("warnings");
    assert!(
        warnings.contains(&json!(format!(
            "employee E1004: manager_id \"{}\" is the $.id of no HR record; manager_id left empty",
            people.frank
        ))),
        "{warnings:?}"
    );
}
