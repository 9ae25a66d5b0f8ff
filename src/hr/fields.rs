//! Where each value lives in an HR record (`[hr.fields]`), and what the status values mean
//! (`[hr.status]`). Paths are JSONPath (RFC 9535), checked when the configuration is read.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json_path::JsonPath;

use super::dates::DatesConfig;
use crate::model::EmploymentStatus;
use crate::problem::ConfigProblem;

/// One JSONPath, kept with the text the configuration wrote (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    text: String,
    path: JsonPath,
    /// The steps of a path made only of member names and array indexes (`$.id`,
    /// `$.a.b`, `$['Work Email']`, `$.emails[0].value`): such a path selects at most one node,
    /// found by direct lookups. General queries allocate a list of nodes, which for every field
    /// of every record of a large company is a large part of reading HR. `None`: anything else,
    /// evaluated by `path`.
    steps: Option<Vec<Step>>,
}

/// One step of a path that selects at most one node.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// An object's member.
    Name(String),
    /// An array's element; a negative index counts from the end (`-1` is the last).
    Index(i64),
}

impl FieldPath {
    pub fn parse(text: &str) -> Result<Self, String> {
        JsonPath::parse(text)
            .map(|path| Self {
                text: text.to_string(),
                path,
                steps: plain_steps(text),
            })
            .map_err(|e| {
                format!(
                    "{text:?} is not a JSONPath (RFC 9535): {} at position {}",
                    e.message(),
                    e.position()
                )
            })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first node the path selects in `record`, if any.
    pub(crate) fn first<'a>(&self, record: &'a Value) -> Option<&'a Value> {
        match &self.steps {
            Some(steps) => follow(record, steps),
            None => self.path.query(record).first(),
        }
    }

    /// The member names of a path made only of names (`$.id`, `$.a.b`,
    /// `$['urn:…:User'].employeeNumber`), in order; `None` for any other path. A lookup of one
    /// employee filters on what these name.
    pub(crate) fn member_names(&self) -> Option<Vec<&str>> {
        let steps = self.steps.as_ref()?;
        steps
            .iter()
            .map(|step| match step {
                Step::Name(name) => Some(name.as_str()),
                Step::Index(_) => None,
            })
            .collect()
    }

    /// Every node the path selects in `record`, in document order.
    pub(crate) fn all<'a>(&self, record: &'a Value) -> Vec<&'a Value> {
        match &self.steps {
            Some(steps) => follow(record, steps).into_iter().collect(),
            None => self.path.query(record).all(),
        }
    }
}

/// The node `steps` lead to from `node`, as RFC 9535 name and index selectors select it.
fn follow<'a>(node: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    steps.iter().try_fold(node, |node, step| match step {
        Step::Name(name) => node.as_object()?.get(name.as_str()),
        Step::Index(index) => {
            let list = node.as_array()?;
            let position = if *index >= 0 {
                usize::try_from(*index).ok()?
            } else {
                list.len()
                    .checked_sub(usize::try_from(index.unsigned_abs()).ok()?)?
            };
            list.get(position)
        }
    })
}

/// The steps of a path (already parsed as a JSONPath) made only of `.name`, `['name']`,
/// `["name"]` and `[index]` segments, written without blanks or escapes; `None` for any other
/// path, which the general evaluator then handles. The grammar accepted here is a strict subset
/// of RFC 9535 whose meaning needs no interpretation: anything unusual is left to the general
/// path rather than reproduced.
fn plain_steps(text: &str) -> Option<Vec<Step>> {
    let mut rest = text.strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after_dot) = rest.strip_prefix('.') {
            // RFC 9535 member-name-shorthand: ALPHA / "_" / non-ASCII, then also DIGIT.
            let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii();
            let first = after_dot.chars().next()?;
            if first.is_ascii_digit() || !name_char(first) {
                return None;
            }
            let end = after_dot.find(|c| !name_char(c)).unwrap_or(after_dot.len());
            steps.push(Step::Name(after_dot[..end].to_string()));
            rest = &after_dot[end..];
        } else if let Some(inside) = rest.strip_prefix('[') {
            let (step, after) = match inside.chars().next()? {
                quote @ ('\'' | '"') => {
                    let literal = &inside[1..];
                    let end = literal.find(quote)?;
                    let name = &literal[..end];
                    if name.contains('\\') {
                        return None;
                    }
                    (Step::Name(name.to_string()), &literal[end + 1..])
                }
                _ => {
                    let end = inside.find(']')?;
                    (Step::Index(plain_index(&inside[..end])?), &inside[end..])
                }
            };
            rest = after.strip_prefix(']')?;
            steps.push(step);
        } else {
            return None;
        }
    }
    Some(steps)
}

/// An RFC 9535 index: `0`, or an optional `-` and digits without a leading zero.
fn plain_index(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let canonical = digits == "0" && text == "0"
        || digits.starts_with(|c: char| ('1'..='9').contains(&c))
            && digits.chars().all(|c| c.is_ascii_digit());
    if canonical { text.parse().ok() } else { None }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One path, or a list of fallbacks tried in order: the first that gives a value (not missing,
/// not null, not an empty string) wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPaths(pub Vec<FieldPath>);

impl FieldPaths {
    pub fn parse<S: AsRef<str>>(texts: &[S]) -> Result<Self, String> {
        if texts.is_empty() {
            return Err("needs at least one JSONPath".to_string());
        }
        texts
            .iter()
            .map(|t| FieldPath::parse(t.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldPath> {
        self.0.iter()
    }
}

impl fmt::Display for FieldPaths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let texts: Vec<&str> = self.0.iter().map(FieldPath::as_str).collect();
        f.write_str(&texts.join(", "))
    }
}

impl<'de> Deserialize<'de> for FieldPaths {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(
            untagged,
            expecting = "a JSONPath string, or a list of JSONPath strings"
        )]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        let texts = match OneOrMany::deserialize(deserializer)? {
            OneOrMany::One(text) => vec![text],
            OneOrMany::Many(texts) => texts,
        };
        Self::parse(&texts).map_err(serde::de::Error::custom)
    }
}

/// Field names with a meaning of their own; the rest are free-form.
pub const ID: &str = "id";
pub const HIRE_DATE: &str = "hire_date";
pub const TERMINATION_DATE: &str = "termination_date";

/// `[hr.fields]` (with `[hr.references]`, which says which fields name another record, and
/// `[hr.dates]`, which says how the date fields are read).
///
/// In the file, `[hr.fields]` maps a field name to a JSONPath into one record, or to a list of
/// paths tried in order. `id` is required. `hire_date` and `termination_date` are read as dates
/// and decide the effective status; every other field becomes a text value that the mappings
/// use by name (`{first_name}`), so any name can be added, such as `cost_center = "$.costCenter"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldsConfig {
    pub paths: BTreeMap<String, FieldPaths>,
    /// `[hr.references]`: a field of `[hr.fields]` -> the JSONPath, in the record it names, of
    /// the value it holds. Such a field names another person by something other than their
    /// hrsync id (SCIM's `manager.value` is the manager's SCIM resource `id`, while hrsync
    /// correlates on the employee number): once every record is read, its value is replaced by
    /// the `id` of the one record whose value at that path it is. When no record (or more than
    /// one) has that value, the field is left empty and a warning names the employee: a wrong
    /// person is never named.
    pub references: BTreeMap<String, FieldPaths>,
    pub dates: DatesConfig,
}

impl FieldsConfig {
    pub fn get(&self, name: &str) -> Option<&FieldPaths> {
        self.paths.get(name)
    }

    /// The names that end up in [`crate::model::Employee::fields`] (the date fields do not).
    pub fn text_field_names(&self) -> BTreeSet<String> {
        self.paths
            .keys()
            .filter(|name| !is_date_field(name))
            .cloned()
            .collect()
    }

    pub(crate) fn validate(&self, problems: &mut Vec<ConfigProblem>) {
        if !self.paths.contains_key(ID) {
            problems.push(ConfigProblem::new(
                "hr.fields.id",
                "is required: the JSONPath of the employee's unique HR id, such as \"$.id\"",
            ));
        }
        for name in self.paths.keys() {
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                problems.push(ConfigProblem::new(
                    format!("hr.fields.{name}"),
                    "a field name starts with a letter and holds only ASCII letters, digits and _ \
                     (mappings refer to it as {name})",
                ));
            }
            if name == crate::mapping::MANAGER_DN {
                problems.push(ConfigProblem::new(
                    format!("hr.fields.{name}"),
                    "is computed by hrsync from manager_id; map the manager's HR id as manager_id",
                ));
            }
        }
        for name in self.references.keys() {
            let problem = if name == ID {
                "the id cannot name another record: it is the record's own"
            } else if is_date_field(name) {
                "a date field cannot name another record"
            } else if !self.paths.contains_key(name) {
                "is not a field of [hr.fields]: a reference says how to read a field's value"
            } else {
                continue;
            };
            problems.push(ConfigProblem::new(format!("hr.references.{name}"), problem));
        }
        self.dates.validate(problems);
    }
}

pub(crate) fn is_date_field(name: &str) -> bool {
    name == HIRE_DATE || name == TERMINATION_DATE
}

/// `[hr.status]`: where the status is and which values mean what.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusConfig {
    /// JSONPath of the status value in a record, or a list of paths tried in order. A boolean is
    /// read as `"true"`/`"false"` (SCIM's `active`: `active = ["true"]`, `terminated = ["false"]`).
    pub path: FieldPaths,
    /// Values meaning the person works here. Matched ignoring case and surrounding spaces.
    #[serde(default)]
    pub active: Vec<String>,
    /// Values meaning on leave of absence.
    #[serde(default)]
    pub leave: Vec<String>,
    /// Values meaning hired but not started.
    #[serde(default)]
    pub pending: Vec<String>,
    /// Values meaning gone. A record whose status is in none of the four lists is rejected
    /// (reported by id and left out); hrsync never guesses what an unknown status means.
    #[serde(default)]
    pub terminated: Vec<String>,
    /// What a path that selects several values means: `"first"` (default) reads the first
    /// value; `"most_active"` reads them all (one per employment, say, with
    /// `path = "$.employments[*].status"`) and takes the most active of them, in the order
    /// active, leave, pending, terminated. A person with an active second employment (a rehire,
    /// a global assignment) is then active, whatever the old one says. Every value must be
    /// listed: one unknown value rejects the record.
    #[serde(default)]
    pub multiple: StatusMultiple,
}

/// How several status values in one record combine ([`StatusConfig::multiple`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusMultiple {
    #[default]
    First,
    MostActive,
}

impl StatusConfig {
    fn lists(&self) -> [(EmploymentStatus, &'static str, &[String]); 4] {
        [
            (EmploymentStatus::Active, "active", &self.active),
            (EmploymentStatus::Leave, "leave", &self.leave),
            (EmploymentStatus::Pending, "pending", &self.pending),
            (EmploymentStatus::Terminated, "terminated", &self.terminated),
        ]
    }

    /// The status a raw HR value stands for, if it is listed.
    pub fn map(&self, raw: &str) -> Option<EmploymentStatus> {
        self.lists().into_iter().find_map(|(status, _, values)| {
            values.iter().any(|v| same_status(v, raw)).then_some(status)
        })
    }

    pub(crate) fn validate(&self, problems: &mut Vec<ConfigProblem>) {
        if self.active.is_empty() {
            problems.push(ConfigProblem::new(
                "hr.status.active",
                "must list at least one value, such as [\"Active\"]",
            ));
        }
        let mut seen: BTreeMap<String, &'static str> = BTreeMap::new();
        for (_, list, values) in self.lists() {
            for (i, value) in values.iter().enumerate() {
                let key = format!("hr.status.{list}[{i}]");
                let normalised = normalise_status(value);
                if normalised.is_empty() {
                    problems.push(ConfigProblem::new(key, "a status value cannot be empty"));
                    continue;
                }
                match seen.get(&normalised) {
                    Some(other) if *other != list => problems.push(ConfigProblem::new(
                        key,
                        format!("{value:?} is also listed under hr.status.{other}"),
                    )),
                    _ => {
                        seen.insert(normalised, list);
                    }
                }
            }
        }
    }
}

fn normalise_status(value: &str) -> String {
    value.trim().to_lowercase()
}

/// Whether two status values are the same once normalised ([`normalise_status`]), without
/// allocating for the usual ASCII values: it is asked for every record. Only when both are
/// ASCII is ASCII case folding the same as `to_lowercase` (a non-ASCII letter such as the
/// Kelvin sign may lower-case to an ASCII one).
fn same_status(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_jsonpath_is_refused_when_the_config_is_read() {
        let err = toml::from_str::<BTreeMap<String, FieldPaths>>("email = [\"$.a\", \"$[\"]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a JSONPath"), "{err}");
        assert!(err.contains("$["), "{err}");
    }

    #[test]
    fn status_values_match_ignoring_case_and_spaces() {
        let status: StatusConfig = toml::from_str(
            "path = \"$.status\"\nactive = [\"Active\"]\nleave = [\"On Leave\"]\nterminated = [\"Inactive\"]",
        )
        .unwrap();
        assert_eq!(status.map("ACTIVE"), Some(EmploymentStatus::Active));
        assert_eq!(status.map(" on leave "), Some(EmploymentStatus::Leave));
        assert_eq!(status.map("inactive"), Some(EmploymentStatus::Terminated));
        assert_eq!(status.map("Activ"), None);
    }

    #[test]
    fn status_values_compare_as_their_normalised_forms() {
        let values = [
            "Active",
            " ACTIVE ",
            "active\t",
            "Activ",
            "",
            " ",
            "\u{212A}ontract",
            "kontract",
            "KONTRACT",
            "Straße",
            "STRASSE",
            "straße",
            "ΟΔΟΣ",
            "οδος",
            "οδοσ",
            "İstanbul",
            "i̇stanbul",
            "istanbul",
        ];
        for a in values {
            for b in values {
                assert_eq!(
                    same_status(a, b),
                    normalise_status(a) == normalise_status(b),
                    "{a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn a_reference_must_be_a_text_field_of_hr_fields() {
        let paths = |pairs: &[(&str, &str)]| -> BTreeMap<String, FieldPaths> {
            pairs
                .iter()
                .map(|(name, path)| (name.to_string(), FieldPaths::parse(&[path]).unwrap()))
                .collect()
        };
        let fields = FieldsConfig {
            paths: paths(&[("id", "$.id"), ("manager_id", "$.m"), ("hire_date", "$.h")]),
            references: paths(&[
                ("boss", "$.id"),
                ("hire_date", "$.id"),
                ("id", "$.id"),
                ("manager_id", "$.id"),
            ]),
            dates: DatesConfig::default(),
        };
        let mut problems = Vec::new();
        fields.validate(&mut problems);
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "hr.references.boss",
                "hr.references.hire_date",
                "hr.references.id"
            ],
            "{problems:?}"
        );
    }

    #[test]
    fn a_value_listed_under_two_statuses_is_a_problem() {
        let status: StatusConfig = toml::from_str(
            "path = \"$.status\"\nactive = [\"Active\"]\nterminated = [\"Inactive\", \"active\"]",
        )
        .unwrap();
        let mut problems = Vec::new();
        status.validate(&mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].key, "hr.status.terminated[1]");
    }

    /// The general evaluator's answer, which the plain steps must reproduce.
    fn general<'a>(path: &FieldPath, record: &'a Value) -> (Option<&'a Value>, Vec<&'a Value>) {
        let nodes = path.path.query(record);
        (nodes.first(), nodes.all())
    }

    fn documents() -> Vec<Value> {
        vec![
            serde_json::json!({
                "id": 7, "a": {"b": "deep", "0": "zero"}, "Work Email": "w@x",
                "list": [{"b": 1}, {"b": [2]}, null, "last"], "a]b": true, "it's": "q",
                "": "empty key", "ünï": "u", "_x9": 9, "x y": {"z": [[1, 2], [3]]}
            }),
            serde_json::json!([{"id": "first"}, [1, 2], "three"]),
            serde_json::json!({"a": [], "list": {"b": "not a list"}, "id": null}),
            serde_json::json!("a string"),
            serde_json::json!(null),
            serde_json::json!(42),
        ]
    }

    #[test]
    fn plain_paths_are_looked_up_directly_and_agree_with_the_general_evaluator() {
        let plain = [
            "$",
            "$.id",
            "$.a.b",
            "$.a['0']",
            "$.list[0].b",
            "$.list[1].b[0]",
            "$.list[-1]",
            "$.list[-4]",
            "$.list[-5]",
            "$.list[4]",
            "$.list[9007199254740991]",
            "$.list[-9007199254740991]",
            "$[0]",
            "$[-1].id",
            "$[0].id",
            "$['Work Email']",
            "$[\"Work Email\"]",
            "$['a]b']",
            "$[\"it's\"]",
            "$['']",
            "$.ünï",
            "$._x9",
            "$['x y'].z[0][1]",
            "$.missing.b",
            "$.id.b",
            "$.a[0]",
        ];
        let general_only = [
            "$..b",
            "$.*",
            "$[*]",
            "$.list[0:2]",
            "$['id','a']",
            "$.list[?@.b==1].b",
            "$ .id",
            "$[ 0 ]",
            "$['it\\'s']",
            "$[\"\\u0061\"]",
        ];
        for text in plain.iter().chain(&general_only) {
            let path = FieldPath::parse(text).unwrap();
            assert_eq!(path.steps.is_some(), plain.contains(text), "{text}");
            for document in documents() {
                let (first, all) = general(&path, &document);
                assert_eq!(path.first(&document), first, "{text} in {document}");
                assert_eq!(path.all(&document), all, "{text} in {document}");
            }
        }
        let document = &documents()[0];
        let found = |text: &str| FieldPath::parse(text).unwrap().first(document).cloned();
        assert_eq!(found("$['x y'].z[0][1]"), Some(serde_json::json!(2)));
        assert_eq!(found("$.list[-1]"), Some(serde_json::json!("last")));
        assert_eq!(found("$['a]b']"), Some(serde_json::json!(true)));
    }

    fn json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (-3i64..3).prop_map(Value::from),
            "[a-z]{0,2}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::btree_map("(a|b|id|x y|ü|_k|0|it's)", inner, 0..5)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 2000,
            failure_persistence: Some(Box::new(
                proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
            )),
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// Any path, plain or not, selects the same nodes as the general evaluator in any
        /// document; and every path written only with names and indexes takes the plain way.
        #[test]
        fn every_path_agrees_with_the_general_evaluator(
            text in "\\$(\\.(a|b|id|ü|_k|a1|0)|\\['(a|b|x y|0|it\"s|)'\\]|\\[\"(a|b|x y|it's)\"\\]\
                     |\\[-?(0|1|2|3|10)\\]|\\[\\*\\]|\\.\\*|\\.\\.a|\\[0:2\\]|\\[ 1\\]){0,4}",
            document in json(),
        ) {
            let Ok(path) = FieldPath::parse(&text) else {
                return Ok(());
            };
            let plain = !["*", "..", ":", " 1"].iter().any(|s| text.contains(s));
            proptest::prop_assert_eq!(path.steps.is_some(), plain, "{}", text);
            let (first, all) = general(&path, &document);
            proptest::prop_assert_eq!(path.first(&document), first, "{} in {}", text, document);
            proptest::prop_assert_eq!(path.all(&document), all, "{} in {}", text, document);
        }
    }
}
