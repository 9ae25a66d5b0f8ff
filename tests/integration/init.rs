//! `hrsync init`: every preset with every flavour writes a starter that `validate` accepts as
//! written while naming each starter value, and nothing once they are replaced; a filled-in
//! BambooHR + OpenLDAP starter plans against a real slapd and a BambooHR-shaped API; and init
//! never overwrites anything, writing nothing at all when one file is in its way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};
use wiremock::matchers::{basic_auth, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::scenario::{Scenario, person};

const PRESETS: &[&str] = &[
    "bamboohr",
    "personio",
    "hibob",
    "workday",
    "successfactors",
    "scim",
    "csv",
];
const FLAVOURS: &[&str] = &["openldap", "active_directory", "389ds"];

/// The key of the HR system's own starter value, which validate must name (`None`: the CSV
/// starter reads a file and has none).
fn hr_key(preset: &str) -> Option<&'static str> {
    match preset {
        "bamboohr" => Some("hr.company_domain"),
        "personio" => Some("hr.client_id"),
        "hibob" => Some("hr.service_user_id"),
        "workday" => Some("hr.tenant"),
        "successfactors" => Some("hr.company_id"),
        "scim" => Some("hr.base_url"),
        _ => None,
    }
}

/// The hrsync binary with `args` and `env`, and no configuration from the test's environment.
fn hrsync(args: &[&str], env: &[(&str, &str)]) -> std::io::Result<Output> {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_hrsync"));
    command
        .args(args)
        .env_remove("HRSYNC_CONFIG")
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output()
}

fn init(dir: &Path, preset: &str, flavour: &str) -> std::io::Result<Output> {
    let dir = dir.to_string_lossy();
    hrsync(
        &[
            "init",
            "--preset",
            preset,
            "--flavour",
            flavour,
            "--dir",
            &dir,
        ],
        &[],
    )
}

/// A temp dir with a starter of `preset` and `flavour` written by init.
fn fresh(preset: &str, flavour: &str) -> tempfile::TempDir {
    let work = tempfile::tempdir().expect("temp dir");
    let out = init(work.path(), preset, flavour).expect("run init");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    work
}

fn validate(dir: &Path, env: &[(&str, &str)]) -> std::io::Result<Output> {
    let config = dir.join("hrsync.toml");
    hrsync(
        &[
            "-c",
            &config.to_string_lossy(),
            "--log-format",
            "text",
            "validate",
        ],
        env,
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every file under `dir` with its bytes (symbolic links as `-> target`), for "nothing else
/// was written" comparisons.
fn snapshot(dir: &Path) -> std::io::Result<BTreeMap<PathBuf, Vec<u8>>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current)? {
            let path = entry?.path();
            let kind = std::fs::symlink_metadata(&path)?.file_type();
            if kind.is_symlink() {
                let target = std::fs::read_link(&path)?;
                files.insert(path, format!("-> {}", target.display()).into_bytes());
            } else if kind.is_dir() {
                files.insert(path.clone(), b"(directory)".to_vec());
                pending.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path)?);
            }
        }
    }
    Ok(files)
}

/// Replaces text in the starter's three files, in order.
fn fill_in(dir: &Path, replacements: &[(&str, &str)]) -> std::io::Result<()> {
    for file in [
        "hrsync.toml",
        "mappings/account.toml",
        "mappings/groups.toml",
    ] {
        let path = dir.join(file);
        let mut text = std::fs::read_to_string(&path)?;
        for (from, to) in replacements {
            text = text.replace(from, to);
        }
        std::fs::write(&path, text)?;
    }
    Ok(())
}

/// What an admin would write over the starter values, for an offline validate.
const REAL_VALUES: &[(&str, &str)] = &[
    ("CHANGE-ME", "acme"),
    ("dc=your-company,dc=example", "dc=acme,dc=internal"),
    ("DC=your-company,DC=example", "DC=acme,DC=internal"),
    ("your-company.example", "acme.internal"),
];

/// The warning lines that name starter values.
fn starter_warnings(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| l.starts_with("warning:") && l.contains("is still the starter value"))
        .collect()
}

#[test]
fn every_starter_validates_as_written_and_names_each_starter_value() {
    for preset in PRESETS {
        for flavour in FLAVOURS {
            let work = tempfile::tempdir().expect("temp dir");
            let dir = work.path().join("new");
            let out = init(&dir, preset, flavour).expect("run init");
            assert_eq!(
                out.status.code(),
                Some(0),
                "{preset} {flavour}: {}",
                show(&out)
            );
            let written = stdout(&out);
            for file in [
                "hrsync.toml",
                "mappings/account.toml",
                "mappings/groups.toml",
            ] {
                assert!(
                    written.contains(&format!("wrote {}", dir.join(file).display())),
                    "{written}"
                );
            }
            assert!(written.contains("validate"), "next steps: {written}");
            assert!(written.contains("check"), "next steps: {written}");
            assert!(written.contains("plan"), "next steps: {written}");

            let out = validate(&dir, &[]).expect("run validate");
            assert_eq!(
                out.status.code(),
                Some(0),
                "{preset} {flavour}: {}",
                show(&out)
            );
            let text = stdout(&out);
            let warnings = starter_warnings(&text);
            let expected = [
                Some("warning: directory.url is still the starter value \""),
                Some("warning: directory.bind_dn is still the starter value \""),
                Some("warning: directory.users_base is still the starter value \""),
                hr_key(preset),
                Some("account.default_ou is still the starter value \""),
                Some("account.disabled_ou is still the starter value \""),
                Some("groups.base is still the starter value \""),
                Some("rule[0].ou is still the starter value \""),
                (*flavour == "openldap")
                    .then_some("directory.openldap.password_policy is still the starter value"),
                (*flavour == "openldap").then_some("groups.empty_group_placeholder is still"),
                (*flavour == "active_directory")
                    .then_some("account.attributes.userPrincipalName is still the starter value"),
            ];
            for needle in expected.into_iter().flatten() {
                assert!(
                    warnings.iter().any(|w| w.contains(needle)),
                    "{preset} {flavour}: no warning with {needle:?}:\n{text}"
                );
            }
            assert!(
                text.contains(&format!(
                    "{} starter value(s) of `hrsync init` still to replace",
                    warnings.len()
                )),
                "{text}"
            );
            assert!(
                text.contains("configuration and mappings are valid"),
                "{text}"
            );
        }
    }
}

/// Past `validate`, every command says the starter values are still there, before it fails to
/// reach `ldap.your-company.example`.
#[test]
fn other_commands_say_starter_values_are_left() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let out = init(dir.path(), "bamboohr", "openldap")?;
    assert!(out.status.success(), "{}", show(&out));
    let config = dir.path().join("hrsync.toml");
    let out = hrsync(
        &[
            "-c",
            &config.to_string_lossy(),
            "--log-format",
            "text",
            "check",
        ],
        &[("HRSYNC_BIND_PASSWORD", "x"), ("BAMBOOHR_API_KEY", "x")],
    )?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("still holds starter values of `hrsync init`"),
        "{}",
        show(&out)
    );
    Ok(())
}

#[test]
fn once_the_starter_values_are_replaced_validate_names_none() {
    for preset in PRESETS {
        for flavour in FLAVOURS {
            let work = tempfile::tempdir().expect("temp dir");
            let out = init(work.path(), preset, flavour).expect("run init");
            assert_eq!(out.status.code(), Some(0), "{}", show(&out));
            fill_in(work.path(), REAL_VALUES).expect("fill in");
            let out = validate(work.path(), &[]).expect("run validate");
            assert_eq!(
                out.status.code(),
                Some(0),
                "{preset} {flavour}: {}",
                show(&out)
            );
            let text = stdout(&out);
            assert!(
                !text.contains("starter value"),
                "{preset} {flavour}: {text}"
            );
        }
    }
}

/// Replacing only some values leaves exactly the others named; a value set from the
/// environment counts as replaced.
#[test]
fn each_warning_goes_with_its_own_value_and_the_environment_replaces_values_too() {
    let work = fresh("workday", "389ds");
    let before = starter_warnings(&stdout(&validate(work.path(), &[]).expect("validate"))).len();
    let config = work.path().join("hrsync.toml");
    let text = std::fs::read_to_string(&config).expect("read");
    std::fs::write(
        &config,
        text.replace("tenant = \"CHANGE-ME\"", "tenant = \"acme\""),
    )
    .expect("write");
    let out = validate(
        work.path(),
        &[("HRSYNC_DIRECTORY__URL", "ldap://ds1.acme.internal")],
    )
    .expect("validate");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = stdout(&out);
    let after = starter_warnings(&text);
    assert_eq!(after.len(), before - 2, "{text}");
    assert!(!text.contains("hr.tenant "), "{text}");
    assert!(!text.contains("directory.url "), "{text}");
    assert!(text.contains("warning: hr.host is still"), "{text}");
    assert!(text.contains("warning: hr.owner is still"), "{text}");
}

/// hrsync's own examples (deploy/, mappings/, the demo) use example.com and example.org for
/// working setups: no starter value there.
#[test]
fn the_shipped_examples_hold_no_starter_value() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut configs = vec![
        repo.join("deploy/demo/hrsync.toml"),
        repo.join("deploy/active-directory/hrsync.toml"),
        repo.join("deploy/389ds/hrsync.toml"),
    ];
    for entry in std::fs::read_dir(repo.join("deploy/hr-presets")).expect("hr-presets") {
        configs.push(entry.expect("entry").path());
    }
    for config in configs {
        let config = config.to_string_lossy();
        let out = hrsync(&["-c", &config, "validate"], &[]).expect("validate");
        assert_eq!(out.status.code(), Some(0), "{config}: {}", show(&out));
        assert!(
            !stdout(&out).contains("starter value"),
            "{config}: {}",
            show(&out)
        );
    }
}

#[test]
fn an_existing_config_is_refused_named_and_left_as_it_was_and_nothing_else_is_written() {
    let work = tempfile::tempdir().expect("temp dir");
    let config = work.path().join("hrsync.toml");
    std::fs::write(&config, "# my own, hand-edited\n").expect("write");
    let before = snapshot(work.path()).expect("snapshot");
    let out = init(work.path(), "bamboohr", "openldap").expect("run init");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&config.display().to_string()), "{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert_eq!(snapshot(work.path()).expect("snapshot"), before);
    assert!(!work.path().join("mappings").exists());
}

#[test]
fn an_existing_mapping_file_is_refused_even_one_the_starter_would_not_write() {
    for existing in ["groups.toml", "account.toml", "roles.toml"] {
        let work = tempfile::tempdir().expect("temp dir");
        let mappings = work.path().join("mappings");
        std::fs::create_dir(&mappings).expect("mkdir");
        let file = mappings.join(existing);
        std::fs::write(&file, "[[rule]]\nname = \"mine\"\n").expect("write");
        let before = snapshot(work.path()).expect("snapshot");
        let out = init(work.path(), "personio", "active_directory").expect("run init");
        assert_eq!(out.status.code(), Some(1), "{existing}: {}", show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&file.display().to_string()), "{stderr}");
        assert_eq!(
            snapshot(work.path()).expect("snapshot"),
            before,
            "{existing}: nothing written, nothing changed"
        );
    }
}

/// A second init in the same place names all three files; the first one's stay as they were.
#[test]
fn init_twice_names_every_file_in_the_way() {
    let work = fresh("scim", "openldap");
    let before = snapshot(work.path()).expect("snapshot");
    let out = init(work.path(), "hibob", "389ds").expect("run init");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for file in [
        "hrsync.toml",
        "mappings/account.toml",
        "mappings/groups.toml",
    ] {
        assert!(
            stderr.contains(&work.path().join(file).display().to_string()),
            "{file}: {stderr}"
        );
    }
    assert_eq!(snapshot(work.path()).expect("snapshot"), before);
}

/// A symbolic link where a file would go, even one pointing nowhere, is in the way: init never
/// writes through it (to the file it points at). A `mappings` that is a file is in the way too.
#[test]
fn a_link_or_a_file_in_the_way_is_refused_and_nothing_is_written_through_it() {
    let work = tempfile::tempdir().expect("temp dir");
    let victim = work.path().join("victim");
    std::os::unix::fs::symlink(&victim, work.path().join("hrsync.toml")).expect("symlink");
    let before = snapshot(work.path()).expect("snapshot");
    let out = init(work.path(), "csv", "openldap").expect("run init");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(!victim.exists(), "nothing written through the link");
    assert_eq!(snapshot(work.path()).expect("snapshot"), before);

    let work = tempfile::tempdir().expect("temp dir");
    std::fs::write(work.path().join("mappings"), "not a directory").expect("write");
    let before = snapshot(work.path()).expect("snapshot");
    let out = init(work.path(), "csv", "openldap").expect("run init");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&work.path().join("mappings").display().to_string()),
        "{stderr}"
    );
    assert_eq!(snapshot(work.path()).expect("snapshot"), before);
}

/// init reads no configuration: a --config that names nothing is no obstacle, and the
/// starter goes where --dir says, directories made as needed.
#[test]
fn init_needs_no_configuration_and_makes_its_directory() {
    let work = tempfile::tempdir().expect("temp dir");
    let dir = work.path().join("a/b/c");
    let out = hrsync(
        &[
            "-c",
            "/nonexistent/hrsync.toml",
            "init",
            "--preset",
            "bamboohr",
            "--flavour",
            "active-directory",
            "--dir",
            &dir.to_string_lossy(),
        ],
        &[],
    )
    .expect("run init");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let config = std::fs::read_to_string(dir.join("hrsync.toml")).expect("written");
    assert!(
        config.contains("flavour = \"active_directory\""),
        "{config}"
    );
    assert!(config.contains("preset = \"bamboohr\""), "{config}");
    assert!(
        config.contains("api_key = { env = \"BAMBOOHR_API_KEY\" }"),
        "a secret reference, never a value: {config}"
    );
}

#[test]
fn an_unknown_preset_or_flavour_is_a_usage_error_listing_the_values() {
    let work = tempfile::tempdir().expect("temp dir");
    let dir = work.path().to_string_lossy();
    let out = hrsync(
        &[
            "init",
            "--preset",
            "sap",
            "--flavour",
            "openldap",
            "--dir",
            &dir,
        ],
        &[],
    )
    .expect("run init");
    assert_eq!(out.status.code(), Some(64), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bamboohr, personio, hibob, workday, successfactors, scim, csv"),
        "{stderr}"
    );
    let out = hrsync(
        &["init", "--preset", "csv", "--flavour", "ad", "--dir", &dir],
        &[],
    )
    .expect("run init");
    assert_eq!(out.status.code(), Some(64), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("openldap, active_directory, 389ds"),
        "{stderr}"
    );
    let out = hrsync(&["init", "--flavour", "openldap", "--dir", &dir], &[]).expect("run init");
    assert_eq!(out.status.code(), Some(64), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--preset"),
        "{}",
        show(&out)
    );
    assert_eq!(
        snapshot(work.path()).expect("snapshot"),
        BTreeMap::new(),
        "nothing written"
    );
}

/// The whole path an admin takes: init, fill in the starter values for a real slapd and a
/// BambooHR API, validate (no starter value left), check, and plan the joiners into the OU and
/// groups of the starter's mappings.
#[tokio::test(flavor = "multi_thread")]
async fn a_filled_in_bamboohr_openldap_starter_plans_against_real_servers() {
    let s = Scenario::start("init").await;
    // The starter's mappings name these groups; the scenario made the others.
    s.dir.add_group("managers", &[&s.seed_member()]);
    let api_key = "bamboo-key-4be1";
    let ada = person("2001", "Ada", "Lovelace", "Engineering", "Engineer");
    let grace = person("2002", "Grace", "Hopper", "Research", "Head of Research");
    Mock::given(method("POST"))
        .and(path("/api/gateway.php/acme/v1/reports/custom"))
        .and(query_param("format", "JSON"))
        .and(query_param("onlyCurrent", "true"))
        .and(basic_auth(api_key, ""))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "title": "hrsync",
            "fields": [{"id": "firstName", "type": "text", "name": "First name"}],
            "employees": [ada, grace],
        })))
        .mount(&s.hr)
        .await;

    let work = fresh("bamboohr", "openldap");
    let company_domain = "company_domain = \"CHANGE-ME\"";
    let base_url = format!(
        "company_domain = \"acme\"\nbase_url = \"{}/api/gateway.php/acme/v1\"",
        s.hr.uri()
    );
    let policy = format!("cn=default,ou=policies,{}", s.dir.server_base_dn);
    fill_in(
        work.path(),
        &[
            ("ldaps://ldap.your-company.example", &s.dir.url),
            (
                "cn=hrsync,ou=services,dc=your-company,dc=example",
                &s.dir.admin_dn,
            ),
            ("cn=default,ou=policies,dc=your-company,dc=example", &policy),
            ("dc=your-company,dc=example", s.base()),
            (company_domain, &base_url),
        ],
    )
    .expect("fill in");
    let env = [
        ("HRSYNC_BIND_PASSWORD", s.dir.admin_password.as_str()),
        ("BAMBOOHR_API_KEY", api_key),
    ];
    let out = validate(work.path(), &env).expect("validate");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(!stdout(&out).contains("starter value"), "{}", show(&out));

    let config = work.path().join("hrsync.toml");
    let config = config.to_string_lossy();
    let out = hrsync(&["-c", &config, "check"], &env).expect("check");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    let before = s.dump();
    let out = hrsync(&["-c", &config, "plan", "--format", "json"], &env).expect("plan");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(s.dump(), before, "plan never writes");
    let plan: Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    assert_eq!(plan["summary"]["joiners"], 2, "{plan:#}");
    let text = plan.to_string();
    assert!(
        text.contains(&format!("uid=ada.lovelace,{}", s.ou("engineering"))),
        "the engineering rule's OU: {plan:#}"
    );
    assert!(
        text.contains(&format!("uid=grace.hopper,{}", s.dir.people_dn)),
        "account.default_ou: {plan:#}"
    );
    for group in ["engineering", "vpn", "staff", "managers"] {
        assert!(text.contains(&s.group(group)), "{group}: {plan:#}");
    }
    assert!(!text.contains(api_key), "no secret in the plan");
    assert!(
        !text.contains(&s.dir.admin_password),
        "no secret in the plan"
    );
}
