//! Loading the mapping files and validating them: every problem is reported at once, each with
//! its file and key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use crate::dn::Dn;
use crate::problem::{ConfigProblem, toml_problem};

use super::{
    AccountMapping, Correlation, Fallback, GroupSettings, MANAGER_DN, Mappings, Pattern, Rule,
    Template, UNIQUE, is_dn_valued,
};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    correlation: Option<RawCorrelation>,
    account: Option<RawAccount>,
    groups: Option<RawGroups>,
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCorrelation {
    /// No longer a setting: the correlation value is HR's `id` field. Only `"id"` is accepted,
    /// so that an older file that spelled the default out still loads.
    hr_field: Option<String>,
    #[serde(default = "default_correlation_attribute")]
    attribute: String,
    /// The HR field of the second key for conversions (`email`).
    fallback_hr_field: Option<String>,
    /// The directory attribute holding it (`mail`).
    fallback_attribute: Option<String>,
}

fn default_correlation_attribute() -> String {
    "employeeNumber".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    #[serde(default = "default_rdn_attribute")]
    rdn_attribute: String,
    #[serde(default = "default_object_classes")]
    object_classes: Vec<String>,
    default_ou: String,
    disabled_ou: String,
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    unique_attributes: Vec<String>,
}

fn default_rdn_attribute() -> String {
    "uid".into()
}
fn default_object_classes() -> Vec<String> {
    ["top", "person", "organizationalPerson", "inetOrgPerson"]
        .map(String::from)
        .to_vec()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroups {
    /// Lets rules name groups by their `cn` alone.
    base: Option<String>,
    #[serde(default)]
    birthright: Vec<String>,
    #[serde(default = "default_member_attribute")]
    member_attribute: String,
    empty_group_placeholder: Option<String>,
}

impl Default for RawGroups {
    fn default() -> Self {
        Self {
            base: None,
            birthright: Vec::new(),
            member_attribute: default_member_attribute(),
            empty_group_placeholder: None,
        }
    }
}

fn default_member_attribute() -> String {
    "member".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    #[serde(rename = "match")]
    when: BTreeMap<String, OneOrMany>,
    #[serde(default)]
    groups: Vec<String>,
    ou: Option<String>,
    /// Free text for reviewers; not used by hrsync.
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(v) => vec![v],
            Self::Many(v) => v,
        }
    }
}

/// The tables read from every file, each with the file it came from, before validation.
#[derive(Default)]
struct Tables {
    correlation: Option<(String, RawCorrelation)>,
    account: Option<(String, RawAccount)>,
    groups: Option<(String, RawGroups)>,
    rules: Vec<(String, RawRule)>,
}

impl Mappings {
    /// Loads every `*.toml` file in `dir`, in file-name order.
    pub fn load_dir(dir: &Path) -> Result<Self, Vec<ConfigProblem>> {
        Self::from_files(&read_dir(dir)?)
    }

    /// Parses and validates mapping files given as `(name, text)`.
    pub fn from_files(files: &[(String, String)]) -> Result<Self, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let tables = read_tables(files, &mut problems);
        let correlation = validate_correlation(tables.correlation, &mut problems);
        let (groups_file, raw_groups) = tables.groups.unwrap_or_default();
        let names = GroupNames::new(raw_groups.base.as_deref(), &groups_file, &mut problems);
        let groups = validate_groups(raw_groups, &groups_file, &names, &mut problems);
        let account = match tables.account {
            Some((file, raw)) => validate_account(raw, &correlation, &file, &mut problems),
            None => {
                // A file that did not parse may well hold [account]: only say it is missing
                // when every file was read.
                if problems.is_empty() {
                    problems.push(ConfigProblem::new(
                        "account",
                        "no mapping file defines [account] (default_ou, disabled_ou, attributes)",
                    ));
                }
                None
            }
        };
        let rules = validate_rules(tables.rules, &names, &mut problems);
        match account {
            Some(account) if problems.is_empty() => Ok(Self {
                correlation,
                account,
                groups,
                rules,
            }),
            _ => Err(problems),
        }
    }
}

/// Parses each file and gathers its tables; a table given in two files is reported.
fn read_tables(files: &[(String, String)], problems: &mut Vec<ConfigProblem>) -> Tables {
    let mut tables = Tables::default();
    for (name, text) in files {
        let raw: RawFile = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                problems.push(toml_problem(&e, text).in_file(name));
                continue;
            }
        };
        take_once(
            &mut tables.correlation,
            raw.correlation,
            "correlation",
            name,
            problems,
        );
        take_once(&mut tables.account, raw.account, "account", name, problems);
        take_once(&mut tables.groups, raw.groups, "groups", name, problems);
        tables
            .rules
            .extend(raw.rule.into_iter().map(|r| (name.clone(), r)));
    }
    tables
}

/// Keeps the first file's value of a table that may be defined once, and reports any other.
fn take_once<T>(
    slot: &mut Option<(String, T)>,
    value: Option<T>,
    key: &str,
    file: &str,
    problems: &mut Vec<ConfigProblem>,
) {
    let Some(value) = value else { return };
    match slot {
        Some((first, _)) => problems
            .push(ConfigProblem::new(key, format!("already defined in {first}")).in_file(file)),
        None => *slot = Some((file.to_string(), value)),
    }
}

fn validate_correlation(
    table: Option<(String, RawCorrelation)>,
    problems: &mut Vec<ConfigProblem>,
) -> Correlation {
    let Some((file, raw)) = table else {
        return Correlation {
            attribute: default_correlation_attribute(),
            fallback: None,
        };
    };
    let fallback = match (raw.fallback_hr_field, raw.fallback_attribute) {
        (Some(hr_field), Some(attribute)) => Some(Fallback {
            hr_field,
            attribute,
        }),
        (None, None) => None,
        _ => {
            problems.push(
                ConfigProblem::new(
                    "correlation",
                    "set both fallback_hr_field and fallback_attribute, or neither",
                )
                .in_file(&file),
            );
            None
        }
    };
    if let Some(field) = raw.hr_field.filter(|field| field != "id") {
        problems.push(
            ConfigProblem::new(
                "correlation.hr_field",
                format!(
                    "is no longer a setting (it was \"{field}\"): the correlation value is the \
                     HR field `id`. Point [hr.fields] id at the HR field holding it (for \
                     example \"$.employeeNumber\") and, where records refer to each other by \
                     another id (managers), map those references with [hr.references]"
                ),
            )
            .in_file(&file),
        );
    }
    Correlation {
        attribute: raw.attribute,
        fallback,
    }
}

/// How a group is named in the mappings: a full DN, or a `cn` under `groups.base`.
struct GroupNames {
    base: Option<Dn>,
}

impl GroupNames {
    fn new(base: Option<&str>, file: &str, problems: &mut Vec<ConfigProblem>) -> Self {
        Self {
            base: base.and_then(|b| parse_dn(b, "groups.base", file, problems)),
        }
    }

    fn resolve(
        &self,
        value: &str,
        key: &str,
        file: &str,
        problems: &mut Vec<ConfigProblem>,
    ) -> Option<Dn> {
        if value.contains('=') {
            return parse_dn(value, key, file, problems);
        }
        let Some(base) = &self.base else {
            problems.push(
                ConfigProblem::new(
                    key,
                    format!("\"{value}\" is not a DN; give the full DN or set groups.base"),
                )
                .in_file(file),
            );
            return None;
        };
        match Dn::child("cn", value, base) {
            Ok(dn) => Some(dn),
            Err(e) => {
                problems.push(ConfigProblem::new(key, e.to_string()).in_file(file));
                None
            }
        }
    }
}

fn validate_groups(
    raw: RawGroups,
    file: &str,
    names: &GroupNames,
    problems: &mut Vec<ConfigProblem>,
) -> GroupSettings {
    let birthright = raw
        .birthright
        .iter()
        .enumerate()
        .filter_map(|(i, g)| names.resolve(g, &format!("groups.birthright[{i}]"), file, problems))
        .collect();
    check_attribute_name(
        &raw.member_attribute,
        "groups.member_attribute",
        file,
        problems,
    );
    let empty_group_placeholder = raw
        .empty_group_placeholder
        .as_deref()
        .and_then(|p| parse_dn(p, "groups.empty_group_placeholder", file, problems));
    GroupSettings {
        birthright,
        member_attribute: raw.member_attribute,
        empty_group_placeholder,
    }
}

/// The rules in file-name order, each checked; rule names must be unique across files.
fn validate_rules(
    rules: Vec<(String, RawRule)>,
    names: &GroupNames,
    problems: &mut Vec<ConfigProblem>,
) -> Vec<Rule> {
    let mut seen_names = BTreeMap::new();
    let mut valid = Vec::new();
    for (i, (file, raw)) in rules.into_iter().enumerate() {
        let key = format!("rule[{i}] \"{}\"", raw.name);
        if raw.name.trim().is_empty() {
            problems.push(ConfigProblem::new(format!("rule[{i}].name"), "is empty").in_file(&file));
        }
        if let Some(first) = seen_names.insert(raw.name.clone(), file.clone()) {
            problems.push(
                ConfigProblem::new(&key, format!("a rule with this name is already in {first}"))
                    .in_file(&file),
            );
        }
        valid.push(validate_rule(raw, &key, &file, names, problems));
    }
    valid
}

fn validate_rule(
    raw: RawRule,
    key: &str,
    file: &str,
    names: &GroupNames,
    problems: &mut Vec<ConfigProblem>,
) -> Rule {
    if raw.when.is_empty() {
        problems.push(
            ConfigProblem::new(
                format!("{key}.match"),
                "is empty; a rule must match on at least one HR field (use groups.birthright for everyone)",
            )
            .in_file(file),
        );
    }
    let conditions: BTreeMap<String, Vec<Pattern>> = raw
        .when
        .into_iter()
        .map(|(field, values)| {
            let values = values.into_vec();
            if values.is_empty() {
                problems.push(
                    ConfigProblem::new(format!("{key}.match.{field}"), "lists no values")
                        .in_file(file),
                );
            }
            (field, values.iter().map(|v| Pattern::new(v)).collect())
        })
        .collect();
    let groups: Vec<Dn> = raw
        .groups
        .iter()
        .enumerate()
        .filter_map(|(j, g)| names.resolve(g, &format!("{key}.groups[{j}]"), file, problems))
        .collect();
    let ou = raw
        .ou
        .as_deref()
        .and_then(|o| parse_dn(o, &format!("{key}.ou"), file, problems));
    if raw.groups.is_empty() && raw.ou.is_none() {
        problems.push(
            ConfigProblem::new(key, "sets neither groups nor ou, so it does nothing").in_file(file),
        );
    }
    Rule {
        name: raw.name,
        conditions,
        groups,
        ou,
    }
}

fn validate_account(
    raw: RawAccount,
    correlation: &Correlation,
    file: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<AccountMapping> {
    let default_ou = parse_dn(&raw.default_ou, "account.default_ou", file, problems);
    let disabled_ou = parse_dn(&raw.disabled_ou, "account.disabled_ou", file, problems);
    check_attribute_name(&raw.rdn_attribute, "account.rdn_attribute", file, problems);
    check_attribute_name(
        &correlation.attribute,
        "correlation.attribute",
        file,
        problems,
    );
    if raw.object_classes.is_empty() {
        problems.push(ConfigProblem::new("account.object_classes", "is empty").in_file(file));
    }
    let mut attributes = BTreeMap::new();
    let mut lowercase_seen = BTreeSet::new();
    for (name, source) in raw.attributes {
        let template = validate_template(
            &name,
            &source,
            correlation,
            &mut lowercase_seen,
            file,
            problems,
        );
        if let Some(template) = template {
            check_dn_template(&name, &template, &raw.rdn_attribute, file, problems);
            attributes.insert(name, template);
        }
    }
    check_creation_only(
        &raw.rdn_attribute,
        &raw.unique_attributes,
        &attributes,
        file,
        problems,
    );
    Some(AccountMapping {
        rdn_attribute: raw.rdn_attribute,
        object_classes: raw.object_classes,
        default_ou: default_ou?,
        disabled_ou: disabled_ou?,
        attributes,
        unique_attributes: raw.unique_attributes,
    })
}

/// Attributes hrsync writes itself, whatever the mappings say.
const RESERVED_ATTRIBUTES: [&str; 4] = [
    "objectclass",
    "userpassword",
    "pwdaccountlockedtime",
    "memberof",
];

/// One `account.attributes` entry: a valid name given once (`seen` holds the lower-cased names
/// before it), which hrsync leaves to the mappings, and a template that parses.
fn validate_template(
    name: &str,
    source: &str,
    correlation: &Correlation,
    seen: &mut BTreeSet<String>,
    file: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<Template> {
    let key = format!("account.attributes.{name}");
    check_attribute_name(name, &key, file, problems);
    if !seen.insert(name.to_ascii_lowercase()) {
        problems.push(
            ConfigProblem::new(&key, "is given twice (attribute names ignore case)").in_file(file),
        );
    }
    if name.eq_ignore_ascii_case(&correlation.attribute) {
        problems.push(
            ConfigProblem::new(
                &key,
                format!(
                    "{name} is the correlation attribute; hrsync writes it from the HR field \"id\", remove the template"
                ),
            )
            .in_file(file),
        );
    }
    if RESERVED_ATTRIBUTES.contains(&name.to_ascii_lowercase().as_str()) {
        problems.push(
            ConfigProblem::new(&key, "is managed by hrsync itself and cannot be templated")
                .in_file(file),
        );
    }
    match Template::parse(source) {
        Ok(t) => Some(t),
        Err(e) => {
            problems.push(ConfigProblem::new(&key, e.to_string()).in_file(file));
            None
        }
    }
}

/// A DN-valued attribute's template makes a DN, and each HR field in it goes through the `dn`
/// filter (`{manager_dn}`, a DN hrsync made, and `{unique}`, digits, need none). The naming
/// attribute holds a plain value, which hrsync escapes itself where it builds the DN: `dn` there
/// would escape it twice.
fn check_dn_template(
    name: &str,
    template: &Template,
    rdn_attribute: &str,
    file: &str,
    problems: &mut Vec<ConfigProblem>,
) {
    let key = format!("account.attributes.{name}");
    let escaped = template.fields().count() > template.fields_not_dn_escaped().count();
    if name.eq_ignore_ascii_case(rdn_attribute) && escaped {
        problems.push(
            ConfigProblem::new(
                &key,
                format!(
                    "{name} is the naming attribute: its value is escaped where the account's DN \
                     is built, so the dn filter would escape it twice; remove |dn"
                ),
            )
            .in_file(file),
        );
    }
    if !is_dn_valued(name) {
        return;
    }
    for field in template.fields_not_dn_escaped() {
        if field != MANAGER_DN && field != UNIQUE {
            problems.push(
                ConfigProblem::new(
                    &key,
                    format!(
                        "{name} holds DNs, and the HR field {{{field}}} goes into it unescaped: a \
                         value such as \"x,ou=admins\" would name another entry. Escape it with \
                         the dn filter: {{{field}|dn}}"
                    ),
                )
                .in_file(file),
            );
        }
    }
    let example = template_example(template);
    if let Err(e) = Dn::parse(&example) {
        problems.push(
            ConfigProblem::new(
                &key,
                format!(
                    "{name} holds DNs, but \"{template}\" does not make one (with x for each \
                     field: {example:?}, and {})",
                    e.reason
                ),
            )
            .in_file(file),
        );
    }
}

/// The template rendered with a stand-in for every field (`x`; a DN for `{manager_dn}`), to
/// check that what it makes is shaped like a DN.
fn template_example(template: &Template) -> String {
    template
        .render(|field| Some(if field == MANAGER_DN { "cn=x" } else { "x" }))
        .unwrap_or_default()
}

/// The attributes set only at creation (the naming attribute and `unique_attributes`) have
/// templates, and only they use `{unique}`.
fn check_creation_only(
    rdn_attribute: &str,
    unique_attributes: &[String],
    attributes: &BTreeMap<String, Template>,
    file: &str,
    problems: &mut Vec<ConfigProblem>,
) {
    let has_template =
        |attribute: &str| attributes.keys().any(|a| a.eq_ignore_ascii_case(attribute));
    for (i, unique) in unique_attributes.iter().enumerate() {
        if !has_template(unique) {
            problems.push(
                ConfigProblem::new(
                    format!("account.unique_attributes[{i}]"),
                    format!("\"{unique}\" has no template in account.attributes"),
                )
                .in_file(file),
            );
        }
    }
    for (name, template) in attributes {
        let creation_only = name.eq_ignore_ascii_case(rdn_attribute)
            || unique_attributes
                .iter()
                .any(|u| u.eq_ignore_ascii_case(name));
        if !creation_only && template.fields().any(|f| f == UNIQUE) {
            problems.push(
                ConfigProblem::new(
                    format!("account.attributes.{name}"),
                    "uses {unique}, which only the naming attribute and unique_attributes may use \
                     (they are set once, when the account is created)",
                )
                .in_file(file),
            );
        }
    }
    if !has_template(rdn_attribute) {
        problems.push(
            ConfigProblem::new(
                "account.attributes",
                format!(
                    "has no template for the naming attribute \"{rdn_attribute}\" (account.rdn_attribute)"
                ),
            )
            .in_file(file),
        );
    }
}

fn parse_dn(value: &str, key: &str, file: &str, problems: &mut Vec<ConfigProblem>) -> Option<Dn> {
    match Dn::parse(value) {
        Ok(dn) => Some(dn),
        Err(e) => {
            problems.push(ConfigProblem::new(key, e.to_string()).in_file(file));
            None
        }
    }
}

fn check_attribute_name(name: &str, key: &str, file: &str, problems: &mut Vec<ConfigProblem>) {
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !valid {
        problems.push(
            ConfigProblem::new(
                key,
                format!("\"{name}\" is not an LDAP attribute name (letters, digits and '-')"),
            )
            .in_file(file),
        );
    }
}

/// The mapping files of `dir` (every `*.toml`, by name), as `(path, text)`.
pub fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, Vec<ConfigProblem>> {
    let problem = |msg: String| vec![ConfigProblem::new("mappings", msg)];
    let entries = std::fs::read_dir(dir).map_err(|e| {
        problem(format!(
            "cannot read mappings directory {}: {e}",
            dir.display()
        ))
    })?;
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(problem(format!("no *.toml files in {}", dir.display())));
    }
    let mut files = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| problem(format!("cannot read {}: {e}", path.display())))?;
        files.push((path.display().to_string(), text));
    }
    Ok(files)
}
