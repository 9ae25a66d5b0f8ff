//! The published plan schema (`docs/schema/plan.schema.json`) against real plans: a company on
//! a real slapd where one plan holds every lifecycle (joiner, mover, leaver, rehire, return,
//! update), a skipped account, an orphan, a scheduled termination, a tripped limit, a warning and
//! both placeholder changes, printed by `plan --format json` and saved (signed) by `plan --out`
//! and `apply --out`. Each must validate, each must really hold all of that (so the test cannot
//! pass on an empty plan), and the schema must refuse the same plan edited (an unknown field,
//! an unknown lifecycle or action), so that it is strict enough for the code and the schema not
//! to drift apart unnoticed. (`src/plan/schema_tests.rs` checks the enums variant by variant, and
//! the fields only Active Directory or 389-DS write.)

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

use crate::scenario::{Scenario, person, terminated};

const SCHEMA: &str = include_str!("../../docs/schema/plan.schema.json");
const PASSWORD: &str = "Correct-Horse-9";
const KEY_ENV: &str = "HRSYNC_PLAN_KEY";
const KEY: &str = "plan-schema-signing-key-3d9a7c1e5b";

fn schema() -> Value {
    serde_json::from_str(SCHEMA).expect("the schema is JSON")
}

/// Every way `value` breaks the schema (formats such as `date-time` included), with where.
fn violations(value: &Value) -> Vec<String> {
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema())
        .expect("the schema compiles");
    validator
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// The `const` values of the `oneOf` of `$defs/<def>` (for `change`, its `action`).
fn schema_names(def: &str) -> BTreeSet<String> {
    let schema = schema();
    let variants = schema["$defs"][def]["oneOf"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    variants
        .iter()
        .filter_map(|v| {
            v.get("const")
                .unwrap_or(&v["properties"]["action"]["const"])
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

/// The string values at `field` of each item of the array at `array`.
fn strings(plan: &Value, array: &str, field: &str) -> BTreeSet<String> {
    plan[array]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item[field].as_str().map(str::to_string))
        .collect()
}

/// Every change's action name: the accounts' and the groups'.
fn action_names(plan: &Value) -> BTreeSet<String> {
    let accounts = plan["accounts"].as_array().into_iter().flatten();
    let mut names: BTreeSet<String> = accounts
        .flat_map(|a| a["changes"].as_array().into_iter().flatten())
        .filter_map(|c| c["action"].as_str().map(str::to_string))
        .collect();
    names.extend(strings(plan, "group_changes", "action"));
    names
}

/// `hrsync.toml` for the company: a leave disables (`On Leave` in HR), limits no step of this
/// test trips except `update = { count = <update> }`, and `tables` at the end.
fn configure(s: &Scenario, update: usize, tables: &str) {
    s.write_config_with(
        "",
        &format!(
            r#"
[lifecycle]
leave = "disable"

[limits]
create = {{ count = 50 }}
disable = {{ count = 50 }}
enable = {{ count = 50 }}
group_removal = {{ count = 50 }}
move = {{ count = 50 }}
update = {{ count = {update} }}

{tables}
"#
        ),
    );
    let text = std::fs::read_to_string(&s.config).expect("read the config");
    let text = text.replace(
        "active = [\"Active\"]",
        "active = [\"Active\"]\nleave = [\"On Leave\"]",
    );
    std::fs::write(&s.config, text).expect("write the config");
}

/// Runs hrsync with the signing key in the environment and insists on `code`.
fn run(s: &Scenario, args: &[&str], code: i32) -> String {
    let out = s.hrsync_with_env(args, &[(KEY_ENV, KEY)]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "hrsync {args:?}\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("the saved plan exists");
    serde_json::from_str(&text).expect("the saved plan is JSON")
}

/// An active engineer, the company's usual HR record here.
fn engineer(id: &str, first: &str, last: &str) -> Value {
    person(id, first, last, "Engineering", "Engineer")
}

/// HR's first read: everyone an active engineer but Rita (terminated, so her existing account
/// becomes a leaver's) and Leo (on leave: locked with hrsync's mark); Tim leaves in 2099.
fn hr_before() -> Vec<Value> {
    let mut leo = engineer("2502", "Leo", "Leave");
    leo["status"] = json!("On Leave");
    let mut tim = engineer("205", "Tim", "Later");
    tim["terminationDate"] = json!("2099-12-31");
    vec![
        engineer("202", "Grace", "Hopper"),
        engineer("301", "Bob", "Builder"),
        terminated(engineer("302", "Rita", "Rehire")),
        leo,
        engineer("203", "Uma", "Update"),
        engineer("204", "Sam", "Locked"),
        tim,
        engineer("2503", "Lea", "Away"),
    ]
}

/// HR with one of everything pending: Ada joins (her manager has no account: a warning),
/// Grace moves to Sales, Bob leaves, Rita is rehired, Leo returns from leave, Uma's title
/// changes (an update), Sam is still active (his admin lock makes him skipped), Tim still
/// leaves in 2099 (scheduled), Lea goes on leave.
fn hr_after() -> Vec<Value> {
    let mut ada = engineer("101", "Ada", "Lovelace");
    ada["supervisorEId"] = json!("777");
    let mut lea = engineer("2503", "Lea", "Away");
    lea["status"] = json!("On Leave");
    let mut uma = engineer("203", "Uma", "Update");
    uma["jobTitle"] = json!("Principal Engineer");
    let mut tim = engineer("205", "Tim", "Later");
    tim["terminationDate"] = json!("2099-12-31");
    vec![
        ada,
        person("202", "Grace", "Hopper", "Sales", "Account Executive"),
        terminated(engineer("301", "Bob", "Builder")),
        engineer("302", "Rita", "Rehire"),
        engineer("2502", "Leo", "Leave"),
        uma,
        engineer("204", "Sam", "Locked"),
        tim,
        lea,
    ]
}

/// What admins did by hand between the two reads: Sam locked (not hrsync's lock to lift), Bob
/// the only member of a hand-made group (his leaving puts the placeholder in), sales down to
/// the placeholder (Grace joining takes it out).
fn edit_by_hand(s: &Scenario) {
    let sam = format!("uid=sam.locked,{}", s.ou("engineering"));
    let out = s.dir.ldapmodify(&format!(
        "dn: {sam}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n"
    ));
    assert!(out.status.success(), "{out:?}");
    s.dir.add_group(
        "wiki-admins",
        &[&format!("uid=bob.builder,{}", s.ou("engineering"))],
    );
    let out = s.dir.ldapmodify(&format!(
        "dn: {}\nchangetype: modify\nreplace: member\nmember: cn=empty-group-placeholder,{}\n",
        s.group("sales"),
        s.base()
    ));
    assert!(out.status.success(), "{out:?}");
}

/// A company in step with [`hr_before`], then HR at [`hr_after`], the update limit at 0 (it
/// trips) and plans signed.
async fn company_with_everything_pending() -> Scenario {
    let s = Scenario::start("plan-schema").await;
    configure(&s, 50, "");
    // Accounts that exist before HR's first read: the leaver to be rehired, someone about to
    // go on leave, and an account no HR record claims (an orphan).
    for (uid, id) in [
        ("rita.rehire", "302"),
        ("leo.leave", "2502"),
        ("olga.orphan", "999"),
    ] {
        s.dir.add_user(uid, id, Some(PASSWORD), "");
    }
    s.serve(&hr_before()).await;
    s.expect(&["apply"], 0);
    s.assert_converged();
    edit_by_hand(&s);
    s.serve(&hr_after()).await;
    configure(
        &s,
        0,
        &format!("[plans]\nsigning_key = {{ env = \"{KEY_ENV}\" }}\n"),
    );
    s
}

/// Asserts `plan` holds one of everything the scenario made pending, so that a valid plan
/// proves the schema covers it.
fn assert_holds_everything(plan: &Value) {
    let lifecycles = strings(plan, "accounts", "lifecycle");
    assert_eq!(
        lifecycles,
        schema_names("lifecycle"),
        "every lifecycle is in the plan: {plan:#}"
    );
    let mut actions = schema_names("change");
    actions.extend(schema_names("group_action"));
    assert_eq!(
        action_names(plan),
        actions,
        "every action is in the plan: {plan:#}"
    );
    assert!(
        strings(plan, "skipped", "employee_id").contains("204"),
        "Sam, locked by an admin, is skipped: {plan:#}"
    );
    assert_eq!(
        strings(plan, "orphans", "correlation_id"),
        BTreeSet::from(["999".to_string()]),
        "{plan:#}"
    );
    assert_eq!(
        strings(plan, "scheduled", "employee_id"),
        BTreeSet::from(["205".to_string()]),
        "{plan:#}"
    );
    assert!(
        strings(plan, "limits_tripped", "kind").contains("update"),
        "{plan:#}"
    );
    let warnings = plan["warnings"].as_array().cloned().unwrap_or_default();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.contains("manager 777"))),
        "{plan:#}"
    );
    assert!(plan["config"]["digest"].is_string(), "{plan:#}");
}

/// An edit of a plan's JSON.
type Edit = fn(&mut Value);

/// Edits of a real plan that the schema must refuse, each named.
fn mutations() -> Vec<(&'static str, Edit)> {
    vec![
        ("an unknown top-level field", |p| {
            p["approved"] = json!(true)
        }),
        ("an unknown field in an account", |p| {
            p["accounts"][0]["owner"] = json!("ceo")
        }),
        ("an unknown field in a change", |p| {
            p["accounts"][0]["changes"][0]["force"] = json!(true)
        }),
        ("an unknown lifecycle", |p| {
            p["accounts"][0]["lifecycle"] = json!("contractor")
        }),
        ("an unknown action", |p| {
            p["accounts"][0]["changes"][0]["action"] = json!("delete_entry")
        }),
        ("an unknown group action", |p| {
            p["group_changes"][0]["action"] = json!("add_member")
        }),
        ("an unknown limit kind", |p| {
            p["limits_tripped"][0]["kind"] = json!("everything")
        }),
        ("a summary count as text", |p| {
            p["summary"]["joiners"] = json!("1")
        }),
        ("a missing reason", |p| {
            if let Some(change) = p["accounts"][0]["changes"][0].as_object_mut() {
                change.remove("reason");
            }
        }),
        ("an unknown field in the config digest", |p| {
            p["config"]["note"] = json!("x")
        }),
        ("a forged signature format", |p| {
            p["signature"] = json!("sha1:00")
        }),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn real_plans_of_every_lifecycle_match_the_published_schema_which_refuses_any_other() {
    let s = company_with_everything_pending().await;
    let saved = s.work.path().join("plan.json");
    let saved_arg = saved.to_str().expect("UTF-8 path");

    // The printed plan and the saved one, from the same run.
    let printed = run(&s, &["plan", "--format", "json", "--out", saved_arg], 0);
    let printed: Value = serde_json::from_str(&printed).expect("plan --format json is JSON");
    assert_eq!(violations(&printed), Vec::<String>::new(), "{printed:#}");
    assert_holds_everything(&printed);

    let file = read_json(&saved);
    assert_eq!(violations(&file), Vec::<String>::new(), "{file:#}");
    assert!(file["made_by"].is_string(), "{file:#}");
    assert!(
        file["signature"]
            .as_str()
            .is_some_and(|sig| sig.starts_with("hmac-sha256:")),
        "{file:#}"
    );
    // The saved file is the printed plan plus who made it and the signature.
    let mut unsigned = file.clone();
    if let Some(fields) = unsigned.as_object_mut() {
        fields.remove("made_by");
        fields.remove("signature");
    }
    assert_eq!(unsigned, printed);

    // A plan cut down with `--only` is the same format.
    let leavers = run(&s, &["plan", "--only", "leavers", "--format", "json"], 0);
    let leavers: Value = serde_json::from_str(&leavers).expect("plan --only is JSON");
    assert_eq!(violations(&leavers), Vec::<String>::new(), "{leavers:#}");
    assert_eq!(
        strings(&leavers, "accounts", "lifecycle"),
        BTreeSet::from(["leaver".to_string()]),
        "{leavers:#}"
    );

    // `apply --out` saves the same format (the update limit trips: nothing applied, exit 4).
    let applied = s.work.path().join("apply.json");
    run(
        &s,
        &["apply", "--out", applied.to_str().expect("UTF-8 path")],
        4,
    );
    let from_apply = read_json(&applied);
    assert_eq!(
        violations(&from_apply),
        Vec::<String>::new(),
        "{from_apply:#}"
    );
    assert_holds_everything(&from_apply);

    // Strict: the same plan edited is refused, whichever way.
    for (what, edit) in mutations() {
        let mut edited = file.clone();
        edit(&mut edited);
        assert_ne!(edited, file, "{what}: the edit changed nothing");
        assert!(
            !violations(&edited).is_empty(),
            "{what}: accepted by the schema"
        );
    }
}
