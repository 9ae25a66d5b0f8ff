use std::path::Path;

use super::*;
use crate::model::Employee;
use crate::model::EmploymentStatus;
use crate::problem::ConfigProblem;

const ACCOUNT: &str = r#"
[account]
default_ou = "ou=people,dc=ex"
disabled_ou = "ou=disabled,dc=ex"
[account.attributes]
uid = "{first_name|lower}"
cn = "{first_name} {last_name}"
sn = "{last_name}"
"#;

fn load(files: &[(&str, &str)]) -> Result<Mappings, Vec<ConfigProblem>> {
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    Mappings::from_files(&files)
}

fn problems(files: &[(&str, &str)]) -> Vec<String> {
    load(files)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn employee(fields: &[(&str, &str)]) -> Employee {
    Employee {
        id: "1".into(),
        hr_status: EmploymentStatus::Active,
        status_source: "Active".into(),
        hire_date: None,
        termination_date: None,
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

#[test]
fn the_shipped_example_mappings_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
    let mappings = Mappings::load_dir(&dir).unwrap();
    assert!(!mappings.rules.is_empty());
    assert!(!mappings.managed_groups().is_empty());
}

#[test]
fn rules_match_on_all_conditions_case_insensitively_with_globs() {
    let rules = r#"
[groups]
base = "ou=groups,dc=ex"
birthright = ["staff"]
[[rule]]
name = "eng-berlin"
match = { department = "engineering", location = ["Berlin", "Remote*"] }
groups = ["eng", "berlin"]
ou = "ou=eng,ou=people,dc=ex"
[[rule]]
name = "any-engineer-title"
match = { title = "*Engineer*" }
groups = ["engineers"]
ou = "ou=never-used,ou=people,dc=ex"
"#;
    let m = load(&[("a.toml", ACCOUNT), ("b.toml", rules)]).unwrap();
    let role = m.assign(
        &employee(&[
            ("department", "Engineering"),
            ("location", "Remote (EU)"),
            ("title", "Senior Engineer II"),
        ]),
        EmploymentStatus::Active,
    );
    let names: Vec<String> = role.groups.keys().map(|g| g.rdn().to_string()).collect();
    assert_eq!(names, ["cn=berlin", "cn=eng", "cn=engineers", "cn=staff"]);
    assert_eq!(
        role.ou,
        Dn::parse("ou=eng,ou=people,dc=ex").unwrap(),
        "first rule with an OU wins"
    );
    assert_eq!(role.ou_reason.rule.as_deref(), Some("rule \"eng-berlin\""));

    let role = m.assign(
        &employee(&[("department", "Engineering"), ("location", "Paris")]),
        EmploymentStatus::Active,
    );
    assert_eq!(
        role.groups.len(),
        1,
        "a rule needs every condition: only birthright"
    );
    assert_eq!(role.ou, m.account.default_ou);

    let role = m.assign(
        &employee(&[("location", "Berlin")]),
        EmploymentStatus::Active,
    );
    assert_eq!(role.groups.len(), 1, "a missing field never matches");
}

#[test]
fn managed_groups_are_exactly_birthright_and_rule_groups() {
    let rules = r#"
[groups]
birthright = ["cn=staff,dc=ex"]
[[rule]]
name = "r"
match = { department = "x" }
groups = ["cn=a,dc=ex", "CN=Staff, DC=ex"]
"#;
    let m = load(&[("a.toml", ACCOUNT), ("b.toml", rules)]).unwrap();
    let managed: Vec<String> = m
        .managed_groups()
        .iter()
        .map(|g| g.key().to_string())
        .collect();
    assert_eq!(managed, ["cn=a,dc=ex", "cn=staff,dc=ex"]);
}

#[test]
fn unknown_keys_are_errors_naming_the_file_and_allowed_keys() {
    let found = problems(&[("acct.toml", &ACCOUNT.replace("default_ou", "defualt_ou"))]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("acct.toml: "), "{found:?}");
    assert!(found[0].contains("defualt_ou"), "{found:?}");
}

#[test]
fn bad_rules_and_templates_are_all_reported_with_their_keys() {
    let rules = r#"
[[rule]]
name = "dup"
match = { department = "x" }
groups = ["not-a-dn"]
[[rule]]
name = "dup"
match = {}
ou = "ou=x,dc=ex"
[[rule]]
name = "nothing"
match = { title = "y" }
"#;
    let account = ACCOUNT.replace("{last_name}\"\n", "{last_name|shout}\"\n");
    let found = problems(&[("a.toml", &account), ("r.toml", rules)]).join("\n");
    for expected in [
        "a.toml: account.attributes.sn: unknown filter 'shout'",
        "r.toml: rule[0] \"dup\".groups[0]: \"not-a-dn\" is not a DN; give the full DN or set groups.base",
        "r.toml: rule[1] \"dup\": a rule with this name is already in r.toml",
        "r.toml: rule[1] \"dup\".match: is empty",
        "r.toml: rule[2] \"nothing\": sets neither groups nor ou",
    ] {
        assert!(
            found.contains(expected),
            "missing {expected:?} in:\n{found}"
        );
    }
}

#[test]
fn tables_defined_twice_and_reserved_attributes_are_refused() {
    let found = problems(&[("a.toml", ACCOUNT), ("b.toml", ACCOUNT)]).join("\n");
    assert!(
        found.contains("b.toml: account: already defined in a.toml"),
        "{found}"
    );

    let reserved = ACCOUNT.replace(
        "sn = ",
        "employeeNumber = \"{id}\"\nuserPassword = \"x\"\nsn = ",
    );
    let found = problems(&[("a.toml", &reserved)]).join("\n");
    assert!(
        found.contains(
            "account.attributes.employeeNumber: employeeNumber is the correlation attribute"
        ),
        "{found}"
    );
    assert!(
        found.contains("account.attributes.userPassword: is managed by hrsync itself"),
        "{found}"
    );
}

/// Issue 16.10c: an HR value pasted raw into a DN-valued attribute could name another entry.
#[test]
fn hr_fields_in_dn_valued_attributes_need_the_dn_filter() {
    let with = |lines: &str| ACCOUNT.replace("sn = ", &format!("{lines}\nsn = "));
    let raw =
        with("seeAlso = \"cn={title},ou=roles,dc=ex\"\nSecretary = \"cn={a|lower} {b|dn},dc=ex\"");
    let found = problems(&[("a.toml", &raw)]).join("\n");
    for expected in [
        "a.toml: account.attributes.seeAlso: seeAlso holds DNs, and the HR field {title} goes \
         into it unescaped",
        "Escape it with the dn filter: {title|dn}",
        "a.toml: account.attributes.Secretary: Secretary holds DNs, and the HR field {a} goes",
    ] {
        assert!(
            found.contains(expected),
            "missing {expected:?} in:\n{found}"
        );
    }
    assert!(!found.contains("{b}"), "{found}");

    let escaped = with(
        "seeAlso = \"cn={title|dn},ou=roles,dc=ex\"\nmanager = \"{manager_dn}\"\n\
         owner = \"cn=fixed,dc=ex\"\ndescription = \"{title}, {department}\"",
    );
    let mappings = load(&[("a.toml", &escaped)]).unwrap();
    let see_also = &mappings.account.attributes["seeAlso"];
    assert_eq!(
        see_also.render(|_| Some("x,ou=admins")).unwrap(),
        "cn=x\\,ou=admins,ou=roles,dc=ex"
    );
}

#[test]
fn dn_valued_attributes_compare_as_dns() {
    let values = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let written = values(&["cn=x\\,ou=admins,ou=roles,dc=ex", "cn=b,dc=ex"]);
    let read_back = values(&["CN=b,DC=ex", "cn=x\\2Cou\\3Dadmins,ou=roles,dc=ex"]);
    assert!(same_dn_values("seeAlso", &written, &read_back));
    assert!(same_dn_values("MANAGER", &written, &read_back));
    // Not DN-valued, not the same DNs, or not DNs at all: not the same.
    assert!(!same_dn_values("description", &written, &read_back));
    let other = values(&["cn=x,ou=admins,ou=roles,dc=ex", "cn=b,dc=ex"]);
    assert!(!same_dn_values("seeAlso", &written, &other));
    assert!(!same_dn_values("seeAlso", &written, &written[..1]));
    assert!(!same_dn_values("seeAlso", &values(&["x"]), &values(&["x"])));
}

#[test]
fn a_dn_valued_template_must_make_a_dn_and_the_naming_attribute_is_not_escaped_twice() {
    let account = ACCOUNT
        .replace("{first_name|lower}", "{first_name|lower|dn}")
        .replace("sn = ", "seeAlso = \"{title|dn}\"\nsn = ");
    let found = problems(&[("a.toml", &account)]).join("\n");
    for expected in [
        "account.attributes.uid: uid is the naming attribute: its value is escaped where the \
         account's DN is built",
        "account.attributes.seeAlso: seeAlso holds DNs, but \"{title|dn}\" does not make one",
    ] {
        assert!(
            found.contains(expected),
            "missing {expected:?} in:\n{found}"
        );
    }
}

#[test]
fn naming_attribute_needs_a_template() {
    let found = problems(&[(
        "a.toml",
        &ACCOUNT.replace("uid = \"{first_name|lower}\"\n", ""),
    )])
    .join("\n");
    assert!(
        found.contains("no template for the naming attribute \"uid\""),
        "{found}"
    );
}

#[test]
fn glob_patterns() {
    assert!(Pattern::new("*").matches(""));
    assert!(Pattern::new("a*c").matches("ABC"));
    assert!(Pattern::new("a*c").matches("ac"));
    assert!(!Pattern::new("a*c").matches("acb"));
    assert!(Pattern::new("*b*").matches("abc"));
    assert!(!Pattern::new("abc").matches("abcd"));
    assert!(Pattern::new("a*b*a").matches("aba"));
    assert!(!Pattern::new("a*a").matches("a"));
}

/// `[correlation] hr_field` did nothing (the planner always correlated on `id`): it is no longer
/// a setting. A file that spelled the default out still loads; any other value is refused with
/// what to do instead, rather than silently ignored.
#[test]
fn correlation_hr_field_is_refused_unless_it_is_id() {
    let with = |field: &str| {
        format!("[correlation]\nhr_field = \"{field}\"\nattribute = \"employeeNumber\"\n{ACCOUNT}")
    };
    assert!(load(&[("m.toml", &with("id"))]).is_ok());
    let found = problems(&[("m.toml", &with("employee_number"))]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with(
            "m.toml: correlation.hr_field: is no longer a setting (it was \"employee_number\")"
        ) && found[0].contains("[hr.fields] id"),
        "{found:?}"
    );
}
