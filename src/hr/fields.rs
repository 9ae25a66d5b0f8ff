//! Where each value lives in an HR record (`[hr.fields]`), and what the status values mean
//! (`[hr.status]`). Paths are JSONPath (RFC 9535), checked when the configuration is read.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json_path::JsonPath;

use super::dates::DatesConfig;
use crate::config::ConfigProblem;
use crate::model::EmploymentStatus;

/// One JSONPath, kept with the text the configuration wrote (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    text: String,
    path: JsonPath,
}

impl FieldPath {
    pub fn parse(text: &str) -> Result<Self, String> {
        JsonPath::parse(text)
            .map(|path| Self {
                text: text.to_string(),
                path,
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
        self.path.query(record).first()
    }

    /// Every node the path selects in `record`, in document order.
    pub(crate) fn all<'a>(&self, record: &'a Value) -> Vec<&'a Value> {
        self.path.query(record).all()
    }
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

/// `[hr.fields]` (with `[hr.dates]`, which says how the date fields are read).
///
/// In the file, `[hr.fields]` maps a field name to a JSONPath into one record, or to a list of
/// paths tried in order. `id` is required. `hire_date` and `termination_date` are read as dates
/// and decide the effective status; every other field becomes a text value that the mappings
/// use by name (`{first_name}`), so any name can be added, such as `cost_center = "$.costCenter"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldsConfig {
    pub paths: BTreeMap<String, FieldPaths>,
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
        let wanted = normalise_status(raw);
        self.lists().into_iter().find_map(|(status, _, values)| {
            values
                .iter()
                .any(|v| normalise_status(v) == wanted)
                .then_some(status)
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
}
