//! The mappings: how an HR record becomes a directory account.
//!
//! Mappings live in TOML files in one directory (`mappings/` by default) so that the account
//! layout, the birthright groups and the role rules can be reviewed and changed separately. Each
//! file may hold any of the tables below; `[correlation]`, `[account]` and `[groups]` may appear
//! in only one file each, and `[[rule]]` entries are read in file-name order.
//!
//! Access follows the job role, never the person: every group comes from a rule that matched an HR
//! field, or from the birthright list. Only groups named here are managed; hrsync never adds to or
//! removes from any other group.

pub mod template;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use crate::dn::Dn;
use crate::model::{Employee, EmploymentStatus, Reason};
use crate::problem::{ConfigProblem, toml_problem};
pub use template::{Filter, MissingField, Template};

/// The template variable that resolves to the manager's account DN (from the HR `manager_id`).
pub const MANAGER_DN: &str = "manager_dn";

/// The template variable that makes a new account's names unique: empty for the first account
/// with a name, then `2`, `3`, ... (`jsmith`, `jsmith2`). Only in the naming attribute's and
/// `unique_attributes`' templates, which are set at creation and never changed.
pub const UNIQUE: &str = "unique";

/// Validated mappings.
#[derive(Debug, Clone)]
pub struct Mappings {
    pub correlation: Correlation,
    pub account: AccountMapping,
    pub groups: GroupSettings,
    pub rules: Vec<Rule>,
}

/// How an HR record finds its directory account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correlation {
    /// The HR field holding the stable key (`id`).
    pub hr_field: String,
    /// The directory attribute holding the same key (`employeeNumber`).
    pub attribute: String,
    /// A second key for conversions (contractor to employee and back, which HR systems often
    /// record under a new id): when no account has the new id, the account whose `attribute`
    /// holds the employee's `hr_field` is taken over, provided its old id belongs to nobody
    /// active in HR.
    pub fallback: Option<Fallback>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    pub hr_field: String,
    pub attribute: String,
}

/// What an account looks like.
#[derive(Debug, Clone)]
pub struct AccountMapping {
    /// The naming attribute (`uid`): set when the account is created and never changed after,
    /// because renaming an account breaks every system that remembers the user name.
    pub rdn_attribute: String,
    pub object_classes: Vec<String>,
    pub default_ou: Dn,
    pub disabled_ou: Dn,
    /// Attribute templates, keyed by the attribute name as written in the mappings.
    pub attributes: BTreeMap<String, Template>,
    /// Attributes whose values must be unique in the directory (`sAMAccountName`,
    /// `userPrincipalName`). Like the naming attribute, they are set when the account is created
    /// and never changed.
    pub unique_attributes: Vec<String>,
}

impl AccountMapping {
    /// Whether hrsync sets `attribute` only at creation (the naming and unique attributes).
    pub fn is_creation_only(&self, attribute: &str) -> bool {
        attribute.eq_ignore_ascii_case(&self.rdn_attribute)
            || self
                .unique_attributes
                .iter()
                .any(|u| u.eq_ignore_ascii_case(attribute))
    }
}

#[derive(Debug, Clone)]
pub struct GroupSettings {
    /// Groups every active employee belongs to.
    pub birthright: Vec<Dn>,
    /// The attribute that lists a group's members (`member` for groupOfNames).
    pub member_attribute: String,
    /// A value that keeps a `groupOfNames` valid when hrsync removes its last real member.
    pub empty_group_placeholder: Option<Dn>,
}

/// A role rule: when every condition matches, the employee gets `groups` and (for the first
/// matching rule that has one) lives in `ou`.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    /// Field name -> accepted patterns. All fields must match; any pattern of a field may.
    pub conditions: BTreeMap<String, Vec<Pattern>>,
    pub groups: Vec<Dn>,
    pub ou: Option<Dn>,
}

/// A case-insensitive value pattern; `*` matches any run of characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    pub fn new(pattern: &str) -> Self {
        Self(pattern.to_lowercase())
    }

    pub fn matches(&self, value: &str) -> bool {
        // Every employee is matched against every rule: no allocation for ASCII values.
        if value.is_ascii() {
            glob_match_ascii(self.0.as_bytes(), value.as_bytes())
        } else {
            glob_match(&self.0, &value.to_lowercase())
        }
    }

    /// The pattern as written, lower-cased.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn glob_match(pattern: &str, value: &str) -> bool {
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or_default();
    let Some(mut rest) = value.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else {
        return rest.is_empty();
    };
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// [`glob_match`] of a lower-cased pattern against an ASCII value, lower-casing the value as it
/// compares (the same answer as `glob_match(pattern, &value.to_lowercase())`).
fn glob_match_ascii(pattern: &[u8], value: &[u8]) -> bool {
    let same = |p: &[u8], v: &[u8]| {
        p.len() == v.len() && p.iter().zip(v).all(|(a, b)| *a == b.to_ascii_lowercase())
    };
    let mut pieces = pattern.split(|b| *b == b'*').peekable();
    let first = pieces.next().unwrap_or_default();
    if value.len() < first.len() || !same(first, &value[..first.len()]) {
        return false;
    }
    let mut rest = &value[first.len()..];
    if pieces.peek().is_none() {
        return rest.is_empty();
    }
    while let Some(piece) = pieces.next() {
        if rest.len() < piece.len() {
            return false;
        }
        if pieces.peek().is_none() {
            return same(piece, &rest[rest.len() - piece.len()..]);
        }
        match (0..=rest.len() - piece.len()).find(|&at| same(piece, &rest[at..at + piece.len()])) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

/// The role-derived part of an account: where it lives and which managed groups it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAssignment {
    pub ou: Dn,
    pub ou_reason: Reason,
    pub groups: BTreeMap<Dn, Reason>,
}

impl Mappings {
    /// Every group hrsync manages: the birthright groups and every group a rule names.
    pub fn managed_groups(&self) -> BTreeSet<Dn> {
        self.groups
            .birthright
            .iter()
            .chain(self.rules.iter().flat_map(|r| r.groups.iter()))
            .cloned()
            .collect()
    }

    /// The attributes hrsync keeps up to date (every template except the creation-only ones).
    pub fn managed_attributes(&self) -> impl Iterator<Item = (&str, &Template)> {
        self.account
            .attributes
            .iter()
            .filter(|(name, _)| !self.account.is_creation_only(name))
            .map(|(name, t)| (name.as_str(), t))
    }

    /// Every OU an account can be placed in.
    pub fn all_ous(&self) -> impl Iterator<Item = &Dn> {
        [&self.account.default_ou, &self.account.disabled_ou]
            .into_iter()
            .chain(self.rules.iter().filter_map(|r| r.ou.as_ref()))
    }

    /// Applies the rules to an active employee. `status` is their status as the planner decided
    /// it: the birthright groups' reason names it.
    pub fn assign(&self, employee: &Employee, status: EmploymentStatus) -> RoleAssignment {
        let mut groups = BTreeMap::new();
        for group in &self.groups.birthright {
            groups.insert(
                group.clone(),
                Reason::new(format!("status = {status}"), "birthright group"),
            );
        }
        let mut placed: Option<(Dn, Reason)> = None;
        for rule in &self.rules {
            let Some(fact) = rule.matches(employee) else {
                continue;
            };
            let reason = Reason::new(fact, format!("rule \"{}\"", rule.name));
            for group in &rule.groups {
                groups
                    .entry(group.clone())
                    .or_insert_with(|| reason.clone());
            }
            if placed.is_none() {
                if let Some(ou) = &rule.ou {
                    placed = Some((ou.clone(), reason.clone()));
                }
            }
        }
        let (ou, ou_reason) = placed.unwrap_or_else(|| {
            (
                self.account.default_ou.clone(),
                Reason::new("no rule sets an OU", "account.default_ou"),
            )
        });
        RoleAssignment {
            ou,
            ou_reason,
            groups,
        }
    }
}

impl Rule {
    /// `Some(description of the matched facts)` when every condition holds.
    fn matches(&self, employee: &Employee) -> Option<String> {
        let mut facts = Vec::new();
        for (field, patterns) in &self.conditions {
            let value = employee.field(field)?;
            if !patterns.iter().any(|p| p.matches(value)) {
                return None;
            }
            facts.push(format!("{field} = {value:?}"));
        }
        Some(facts.join(", "))
    }
}

// ---------------------------------------------------------------------------------------------
// Loading and validation.

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
    #[serde(default = "default_hr_field")]
    hr_field: String,
    #[serde(default = "default_correlation_attribute")]
    attribute: String,
    /// The HR field of the second key for conversions (`email`).
    fallback_hr_field: Option<String>,
    /// The directory attribute holding it (`mail`).
    fallback_attribute: Option<String>,
}

fn default_hr_field() -> String {
    "id".into()
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

impl Mappings {
    /// Loads every `*.toml` file in `dir`, in file-name order.
    pub fn load_dir(dir: &Path) -> Result<Self, Vec<ConfigProblem>> {
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
        Self::from_files(&files)
    }

    /// Parses and validates mapping files given as `(name, text)`.
    pub fn from_files(files: &[(String, String)]) -> Result<Self, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let mut correlation = None;
        let mut account = None;
        let mut groups = None;
        let mut rules = Vec::new();
        for (name, text) in files {
            let raw: RawFile = match toml::from_str(text) {
                Ok(raw) => raw,
                Err(e) => {
                    problems.push(toml_problem(&e, text).in_file(name));
                    continue;
                }
            };
            take_once(
                &mut correlation,
                raw.correlation,
                "correlation",
                name,
                &mut problems,
            );
            take_once(&mut account, raw.account, "account", name, &mut problems);
            take_once(&mut groups, raw.groups, "groups", name, &mut problems);
            rules.extend(raw.rule.into_iter().map(|r| (name.clone(), r)));
        }

        let correlation = match correlation {
            Some((file, raw)) => {
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
                Correlation {
                    hr_field: raw.hr_field,
                    attribute: raw.attribute,
                    fallback,
                }
            }
            None => Correlation {
                hr_field: default_hr_field(),
                attribute: default_correlation_attribute(),
                fallback: None,
            },
        };
        let (groups_file, raw_groups) = groups.unwrap_or_default();
        let group_base = raw_groups
            .base
            .as_deref()
            .and_then(|b| parse_dn(b, "groups.base", &groups_file, &mut problems));
        let group_ref = |value: &str, key: &str, file: &str, problems: &mut Vec<ConfigProblem>| {
            if value.contains('=') {
                return parse_dn(value, key, file, problems);
            }
            match &group_base {
                Some(base) => match Dn::child("cn", value, base) {
                    Ok(dn) => Some(dn),
                    Err(e) => {
                        problems.push(ConfigProblem::new(key, e.to_string()).in_file(file));
                        None
                    }
                },
                None => {
                    problems.push(
                        ConfigProblem::new(
                            key,
                            format!("\"{value}\" is not a DN; give the full DN or set groups.base"),
                        )
                        .in_file(file),
                    );
                    None
                }
            }
        };
        let birthright = raw_groups
            .birthright
            .iter()
            .enumerate()
            .filter_map(|(i, g)| {
                group_ref(
                    g,
                    &format!("groups.birthright[{i}]"),
                    &groups_file,
                    &mut problems,
                )
            })
            .collect();
        check_attribute_name(
            &raw_groups.member_attribute,
            "groups.member_attribute",
            &groups_file,
            &mut problems,
        );
        let placeholder = raw_groups.empty_group_placeholder.as_deref().and_then(|p| {
            parse_dn(
                p,
                "groups.empty_group_placeholder",
                &groups_file,
                &mut problems,
            )
        });
        let group_settings = GroupSettings {
            birthright,
            member_attribute: raw_groups.member_attribute,
            empty_group_placeholder: placeholder,
        };

        let account = match account {
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

        let mut seen_names = BTreeMap::new();
        let mut valid_rules = Vec::new();
        for (i, (file, raw)) in rules.into_iter().enumerate() {
            let key = format!("rule[{i}] \"{}\"", raw.name);
            if raw.name.trim().is_empty() {
                problems
                    .push(ConfigProblem::new(format!("rule[{i}].name"), "is empty").in_file(&file));
            }
            if let Some(first) = seen_names.insert(raw.name.clone(), file.clone()) {
                problems.push(
                    ConfigProblem::new(
                        &key,
                        format!("a rule with this name is already in {first}"),
                    )
                    .in_file(&file),
                );
            }
            if raw.when.is_empty() {
                problems.push(
                    ConfigProblem::new(
                        format!("{key}.match"),
                        "is empty; a rule must match on at least one HR field (use groups.birthright for everyone)",
                    )
                    .in_file(&file),
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
                                .in_file(&file),
                        );
                    }
                    (field, values.iter().map(|v| Pattern::new(v)).collect())
                })
                .collect();
            let groups: Vec<Dn> = raw
                .groups
                .iter()
                .enumerate()
                .filter_map(|(j, g)| {
                    group_ref(g, &format!("{key}.groups[{j}]"), &file, &mut problems)
                })
                .collect();
            let ou = raw
                .ou
                .as_deref()
                .and_then(|o| parse_dn(o, &format!("{key}.ou"), &file, &mut problems));
            if raw.groups.is_empty() && raw.ou.is_none() {
                problems.push(
                    ConfigProblem::new(&key, "sets neither groups nor ou, so it does nothing")
                        .in_file(&file),
                );
            }
            valid_rules.push(Rule {
                name: raw.name,
                conditions,
                groups,
                ou,
            });
        }

        match account {
            Some(account) if problems.is_empty() => Ok(Self {
                correlation,
                account,
                groups: group_settings,
                rules: valid_rules,
            }),
            _ => Err(problems),
        }
    }

    /// HR field names the mappings read (templates and rule conditions), for cross-checking
    /// against the HR source's configured fields.
    pub fn fields_read(&self) -> BTreeMap<String, String> {
        let mut fields = BTreeMap::new();
        fields.insert(
            self.correlation.hr_field.clone(),
            "correlation.hr_field".to_string(),
        );
        if let Some(fallback) = &self.correlation.fallback {
            fields.insert(
                fallback.hr_field.clone(),
                "correlation.fallback_hr_field".to_string(),
            );
        }
        for (attr, template) in &self.account.attributes {
            for field in template.fields() {
                fields
                    .entry(field.to_string())
                    .or_insert_with(|| format!("account.attributes.{attr}"));
            }
        }
        for rule in &self.rules {
            for field in rule.conditions.keys() {
                fields
                    .entry(field.clone())
                    .or_insert_with(|| format!("rule \"{}\".match", rule.name));
            }
        }
        fields.remove(MANAGER_DN);
        fields.remove(UNIQUE);
        fields
    }
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
        let key = format!("account.attributes.{name}");
        check_attribute_name(&name, &key, file, problems);
        if !lowercase_seen.insert(name.to_ascii_lowercase()) {
            problems.push(
                ConfigProblem::new(&key, "is given twice (attribute names ignore case)")
                    .in_file(file),
            );
        }
        if name.eq_ignore_ascii_case(&correlation.attribute) {
            problems.push(
                ConfigProblem::new(
                    &key,
                    format!(
                        "{name} is the correlation attribute; hrsync writes it from the HR field \"{}\", remove the template",
                        correlation.hr_field
                    ),
                )
                .in_file(file),
            );
        }
        if [
            "objectclass",
            "userpassword",
            "pwdaccountlockedtime",
            "memberof",
        ]
        .contains(&name.to_ascii_lowercase().as_str())
        {
            problems.push(
                ConfigProblem::new(&key, "is managed by hrsync itself and cannot be templated")
                    .in_file(file),
            );
        }
        match Template::parse(&source) {
            Ok(t) => {
                attributes.insert(name, t);
            }
            Err(e) => problems.push(ConfigProblem::new(&key, e.to_string()).in_file(file)),
        }
    }
    for (i, unique) in raw.unique_attributes.iter().enumerate() {
        if !attributes.keys().any(|a| a.eq_ignore_ascii_case(unique)) {
            problems.push(
                ConfigProblem::new(
                    format!("account.unique_attributes[{i}]"),
                    format!("\"{unique}\" has no template in account.attributes"),
                )
                .in_file(file),
            );
        }
    }
    for (name, template) in &attributes {
        let creation_only = name.eq_ignore_ascii_case(&raw.rdn_attribute)
            || raw
                .unique_attributes
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
    if !attributes
        .keys()
        .any(|a| a.eq_ignore_ascii_case(&raw.rdn_attribute))
    {
        problems.push(
            ConfigProblem::new(
                "account.attributes",
                format!(
                    "has no template for the naming attribute \"{}\" (account.rdn_attribute)",
                    raw.rdn_attribute
                ),
            )
            .in_file(file),
        );
    }
    Some(AccountMapping {
        rdn_attribute: raw.rdn_attribute,
        object_classes: raw.object_classes,
        default_ou: default_ou?,
        disabled_ou: disabled_ou?,
        attributes,
        unique_attributes: raw.unique_attributes,
    })
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

#[cfg(test)]
mod tests;

#[cfg(test)]
mod glob_ascii_tests {
    use super::*;

    #[test]
    fn the_ascii_fast_path_agrees_with_the_general_glob() {
        let patterns = [
            "",
            "*",
            "**",
            "a",
            "ab",
            "a*",
            "*a",
            "*a*",
            "a*b",
            "a*b*c",
            "*manager*",
            "head of *",
            "role 007",
            "a*a",
            "*aa*a",
            "x*",
            "*x",
        ];
        let values = [
            "",
            "a",
            "A",
            "ab",
            "AB",
            "abc",
            "aXbYc",
            "aab",
            "Aa",
            "aaa",
            "Senior Manager",
            "Head of Sales",
            "Role 007",
            "Role 0070",
            "xyz",
            "ba",
            "b",
        ];
        for pattern in patterns {
            let pattern = Pattern::new(pattern);
            for value in values {
                assert_eq!(
                    glob_match_ascii(pattern.as_str().as_bytes(), value.as_bytes()),
                    glob_match(pattern.as_str(), &value.to_lowercase()),
                    "{pattern:?} against {value:?}"
                );
            }
        }
    }
}
