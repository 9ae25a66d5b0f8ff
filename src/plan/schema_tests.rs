//! The published plan schema (`docs/schema/plan.schema.json`) against the types it describes:
//! the schema's enums name exactly the variants the plan types serialise to, and a plan holding
//! every change, every enum value and every optional field both set and unset validates. What a
//! slapd cannot show (Active Directory's `account_control` and `expires`, 389-DS's lock) is
//! covered here; `tests/integration/plan_schema.rs` validates real plans from the binary.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Value, json};

use super::limits::{Limit, LimitKind, TrippedLimit};
use super::*;
use crate::model::Reason;

const SCHEMA: &str = include_str!("../../docs/schema/plan.schema.json");

fn schema() -> Value {
    serde_json::from_str(SCHEMA).unwrap()
}

/// Every way `value` breaks the schema, formats (`date-time`) included.
fn errors(value: &Value) -> Vec<String> {
    errors_against(&schema(), value)
}

fn errors_against(schema: &Value, value: &Value) -> Vec<String> {
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(schema)
        .unwrap();
    validator
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// The `const` values of the `oneOf` of `$defs/<def>` (for `change`, its `action`).
fn schema_names(def: &str) -> BTreeSet<String> {
    let schema = schema();
    let variants = schema["$defs"][def]["oneOf"].as_array().unwrap().clone();
    variants
        .iter()
        .map(|v| {
            let name = v
                .get("const")
                .unwrap_or(&v["properties"]["action"]["const"]);
            name.as_str().unwrap().to_string()
        })
        .collect()
}

/// The serialised names of `values`.
fn names<T: Serialize>(values: &[T]) -> BTreeSet<String> {
    values
        .iter()
        .map(|v| {
            serde_json::to_value(v)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

// Each `every_*` lists every variant; the match beside the list has no wildcard, so a new
// variant stops this file compiling until it is listed, and then the tests below ask for it in
// the schema.

fn every_lifecycle() -> Vec<Lifecycle> {
    use Lifecycle::*;
    let all = vec![Joiner, Mover, Leaver, Rehire, Return, Update];
    for lifecycle in &all {
        match lifecycle {
            Joiner | Mover | Leaver | Rehire | Return | Update => {}
        }
    }
    all
}

fn every_method() -> Vec<DisableMethod> {
    use DisableMethod::*;
    let all = vec![PpolicyLock, UserAccountControl, NsAccountLock];
    for method in &all {
        match method {
            PpolicyLock | UserAccountControl | NsAccountLock => {}
        }
    }
    all
}

fn every_group_action() -> Vec<GroupAction> {
    use GroupAction::*;
    let all = vec![AddPlaceholder, RemovePlaceholder];
    for action in &all {
        match action {
            AddPlaceholder | RemovePlaceholder => {}
        }
    }
    all
}

fn every_limit_kind() -> Vec<LimitKind> {
    use LimitKind::*;
    let all = vec![Disable, Enable, GroupRemoval, Move, Create, Update, Missing];
    for kind in &all {
        match kind {
            Disable | Enable | GroupRemoval | Move | Create | Update | Missing => {}
        }
    }
    all
}

fn dn(text: &str) -> Dn {
    Dn::parse(text).unwrap()
}

/// Every action, each optional field set (`full`) or left out.
fn every_action(full: bool) -> Vec<Action> {
    let control = full.then_some(ControlChange {
        before: 0x202,
        after: 0x200,
    });
    let all = vec![
        Action::Create {
            dn: dn("uid=a,ou=people,dc=x"),
            attributes: BTreeMap::from([
                ("cn".to_string(), vec!["A".to_string()]),
                ("userPassword".to_string(), vec!["(hidden)".to_string()]),
            ]),
        },
        Action::Enable {
            method: DisableMethod::UserAccountControl,
            account_control: control,
            set_password: full,
            clear_expiry: full,
        },
        Action::Disable {
            method: DisableMethod::UserAccountControl,
            account_control: control,
            expires: full.then(|| "134090712000000000".to_string()),
        },
        Action::SetAttribute {
            attribute: "title".into(),
            before: vec!["Rep".into()],
            after: if full {
                vec!["Lead".into()]
            } else {
                Vec::new()
            },
        },
        Action::Move {
            from: dn("uid=a,ou=people,dc=x"),
            to: dn("uid=a,ou=disabled,dc=x"),
        },
        Action::AddToGroup {
            group: dn("cn=g,dc=x"),
        },
        Action::RemoveFromGroup {
            group: dn("cn=g,dc=x"),
        },
        Action::RenameMember {
            group: dn("cn=g,dc=x"),
            from: dn("uid=a,ou=people,dc=x"),
            to: dn("uid=a,ou=disabled,dc=x"),
        },
        Action::AddValue {
            attribute: "description".into(),
            value: DISABLED_MARK.into(),
        },
        Action::RemoveValue {
            attribute: "description".into(),
            value: DISABLED_MARK.into(),
        },
    ];
    for action in &all {
        match action {
            Action::Create { .. }
            | Action::Enable { .. }
            | Action::Disable { .. }
            | Action::SetAttribute { .. }
            | Action::Move { .. }
            | Action::AddToGroup { .. }
            | Action::RemoveFromGroup { .. }
            | Action::RenameMember { .. }
            | Action::AddValue { .. }
            | Action::RemoveValue { .. } => {}
        }
    }
    all
}

/// A plan holding every lifecycle, action, group action, limit kind and disable method, with
/// every optional field set (`full`) or left out.
fn every_thing(full: bool) -> Plan {
    let reason = || {
        if full {
            Reason::new("department = \"Sales\"", "rule \"sales\"")
        } else {
            Reason::fact("status = active")
        }
    };
    let change = |action| Change {
        action,
        reason: reason(),
    };
    let mut changes: Vec<Change> = every_action(full).into_iter().map(change).collect();
    changes.extend(every_method().into_iter().map(|method| {
        change(Action::Disable {
            method,
            account_control: full.then_some(ControlChange {
                before: 0x200,
                after: 0x202,
            }),
            expires: full.then(|| "0".to_string()),
        })
    }));
    let accounts = every_lifecycle()
        .into_iter()
        .enumerate()
        .map(|(i, lifecycle)| AccountPlan {
            employee_id: i.to_string(),
            lifecycle,
            dn: dn(&format!("uid=u{i},ou=people,dc=x")),
            before: (i % 2 == 1).then(|| AccountState {
                dn: dn(&format!("uid=u{i},ou=people,dc=x")),
                disabled: full,
                attributes: BTreeMap::from([("title".to_string(), vec!["Rep".to_string()])]),
                groups: vec![dn("cn=g,dc=x")],
            }),
            changes: changes.clone(),
        })
        .collect();
    let mut plan = Plan {
        schema: PLAN_SCHEMA.to_string(),
        generated_at: "2026-12-03T09:00:00.123456789Z".parse().unwrap(),
        summary: Summary::default(),
        accounts,
        group_changes: every_group_action()
            .into_iter()
            .map(|action| GroupChange {
                group: dn("cn=g,dc=x"),
                action,
                member: dn("cn=empty-group-placeholder,dc=x"),
                reason: reason(),
            })
            .collect(),
        skipped: vec![
            Skipped {
                employee_id: Some("7".into()),
                dn: Some(dn("uid=s,dc=x")),
                reason: "disabled outside hrsync".into(),
            },
            Skipped {
                employee_id: None,
                dn: None,
                reason: "unreadable".into(),
            },
        ],
        orphans: vec![Orphan {
            dn: dn("uid=o,dc=x"),
            correlation_id: "999".into(),
        }],
        warnings: vec!["employee 1: manager 777 has no account hrsync manages".into()],
        limits_tripped: every_limit_kind()
            .into_iter()
            .map(|kind| TrippedLimit {
                kind,
                count: 3,
                limit: Limit {
                    count: full.then_some(2),
                    percent: (!full).then_some(10),
                },
                managed_accounts: 20,
                accounts: vec!["1".into(), "uid=o,dc=x".into()],
            })
            .collect(),
        scheduled: vec![Scheduled {
            employee_id: "8".into(),
            leaves_at: "2099-12-31T23:00:00Z".parse().unwrap(),
            reason: "termination_date = 2099-12-31".into(),
        }],
        config: full.then(|| ConfigDigest {
            digest: format!("sha256:{}", "0a".repeat(32)),
            keys: BTreeMap::from([(
                "directory.users_base".to_string(),
                "0a3b675fcfdbb2d2".into(),
            )]),
        }),
    };
    plan.count();
    plan
}

#[test]
fn the_schema_is_a_valid_draft_2020_12_schema() {
    let schema = schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    jsonschema::meta::validate(&schema).unwrap();
}

#[test]
fn the_schemas_enums_name_exactly_the_variants_a_plan_serialises() {
    assert_eq!(schema_names("lifecycle"), names(&every_lifecycle()));
    assert_eq!(schema_names("disable_method"), names(&every_method()));
    assert_eq!(schema_names("group_action"), names(&every_group_action()));
    assert_eq!(schema_names("limit_kind"), names(&every_limit_kind()));
    let actions: BTreeSet<String> = every_action(true)
        .iter()
        .map(|a| {
            serde_json::to_value(a).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(schema_names("change"), actions);
    // The lists the metrics keep (series that exist at 0) are the same variants.
    assert_eq!(every_lifecycle(), Lifecycle::ALL);
    assert_eq!(every_limit_kind(), LimitKind::ALL);
    let mut change_names: BTreeSet<&str> = Action::NAMES.into_iter().collect();
    for action in every_group_action() {
        assert!(change_names.remove(action.name()));
    }
    assert_eq!(change_names, actions.iter().map(String::as_str).collect());
}

#[test]
fn a_plan_with_every_variant_and_every_optional_field_validates() {
    for full in [true, false] {
        let plan = every_thing(full);
        let mut value = serde_json::to_value(&plan).unwrap();
        assert_eq!(errors(&value), Vec::<String>::new(), "full = {full}");
        // As a signed saved file.
        value["made_by"] = json!("hrsync@batch-7");
        value["signature"] = json!(format!("hmac-sha256:{}", "ab".repeat(32)));
        assert_eq!(errors(&value), Vec::<String>::new(), "full = {full}");
        // The type reads back what the schema accepts.
        let read: Plan = serde_json::from_value(value).unwrap();
        assert_eq!(read, plan);
    }
}

/// `schema` with every object's `required` made all of its `properties` (`all`), or its
/// `properties` cut down to its `required` (not `all`; `additionalProperties: false` then
/// refuses the rest).
fn tightened(schema: &Value, all: bool) -> Value {
    match schema {
        Value::Object(fields) => {
            let mut out: serde_json::Map<String, Value> = fields
                .iter()
                .map(|(k, v)| (k.clone(), tightened(v, all)))
                .collect();
            if let Some(Value::Object(properties)) = out.get("properties").cloned() {
                if all {
                    let names = properties.keys().cloned().map(Value::String).collect();
                    out.insert("required".into(), Value::Array(names));
                } else {
                    let required = out.get("required").cloned().unwrap_or(json!([]));
                    let required = required.as_array().unwrap();
                    let kept = properties
                        .into_iter()
                        .filter(|(name, _)| required.contains(&json!(name)))
                        .collect();
                    out.insert("properties".into(), Value::Object(kept));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => items.iter().map(|v| tightened(v, all)).collect(),
        other => other.clone(),
    }
}

/// The schema's optional fields are exactly the ones the code leaves out when unset: with
/// every optional field set, a plan holds every field the schema names (none is stale), and
/// with none set, it holds only the schema's required fields (nothing always written is
/// optional in the schema).
#[test]
fn the_schemas_required_fields_are_exactly_the_ones_always_written() {
    let mut full = serde_json::to_value(every_thing(true)).unwrap();
    full["made_by"] = json!("hrsync@batch-7");
    full["signature"] = json!(format!("hmac-sha256:{}", "ab".repeat(32)));
    assert_eq!(
        errors_against(&tightened(&schema(), true), &full),
        Vec::<String>::new()
    );
    let minimal = serde_json::to_value(every_thing(false)).unwrap();
    assert_eq!(
        errors_against(&tightened(&schema(), false), &minimal),
        Vec::<String>::new()
    );
}

/// An edit of a plan's JSON.
type Edit = fn(&mut Value);

/// The schema is strict: each of these edits of a valid plan, something hrsync never writes,
/// is refused.
#[test]
fn the_schema_refuses_what_no_plan_holds() {
    let valid = serde_json::to_value(every_thing(true)).unwrap();
    let edits: Vec<(&str, Edit)> = vec![
        ("unknown top-level field", |v| v["extra"] = json!(1)),
        ("unknown lifecycle", |v| {
            v["accounts"][0]["lifecycle"] = json!("contractor")
        }),
        ("unknown action", |v| {
            v["accounts"][0]["changes"][0]["action"] = json!("delete")
        }),
        ("a field of another action", |v| {
            v["accounts"][0]["changes"][5]["to"] = json!("uid=a,dc=x")
        }),
        ("an enable without set_password", |v| {
            v["accounts"][0]["changes"][1]
                .as_object_mut()
                .unwrap()
                .remove("set_password");
        }),
        ("unknown disable method", |v| {
            v["accounts"][0]["changes"][2]["method"] = json!("delete_entry")
        }),
        ("unknown limit kind", |v| {
            v["limits_tripped"][0]["kind"] = json!("everything")
        }),
        ("another schema version", |v| {
            v["schema"] = json!("hrsync.plan/v2")
        }),
        ("a time that is not one", |v| {
            v["generated_at"] = json!("yesterday")
        }),
        ("a summary without returns", |v| {
            v["summary"].as_object_mut().unwrap().remove("returns");
        }),
        ("a signature of another algorithm", |v| {
            v["made_by"] = json!("a@b");
            v["signature"] = json!("sha1:00");
        }),
        ("a signature without who made the plan", |v| {
            v["signature"] = json!(format!("hmac-sha256:{}", "ab".repeat(32)))
        }),
    ];
    for (what, edit) in edits {
        let mut value = valid.clone();
        edit(&mut value);
        assert!(!errors(&value).is_empty(), "{what} was accepted");
    }
}
