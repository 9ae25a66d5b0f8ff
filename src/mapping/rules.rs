//! Role rules applied to an employee: one evaluator, whose per-condition verdicts both the
//! planner's role assignment and `hrsync explain` read, so the two cannot disagree.

use std::collections::BTreeMap;

use crate::dn::Dn;
use crate::model::{Employee, EmploymentStatus, Reason};

use super::{Mappings, Rule};

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

/// One condition of a rule applied to one employee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConditionResult<'a> {
    pub field: &'a str,
    /// The patterns the rule accepts; any one of them may match.
    pub patterns: &'a [Pattern],
    /// The employee's value, `None` when HR sent none: an empty field never matches, so that a
    /// record missing a field gets no access from rules on it.
    pub value: Option<&'a str>,
    pub matched: bool,
}

/// A rule applied to one employee: the verdict and how each condition came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleEvaluation<'a> {
    /// Every condition matched.
    pub matched: bool,
    /// In the rule's (field name) order.
    pub conditions: Vec<ConditionResult<'a>>,
}

impl RuleEvaluation<'_> {
    /// The matching conditions as facts, `department = "Engineering", location = "Berlin"`: the
    /// HR side of the reason a matched rule gives.
    pub fn facts(&self) -> String {
        self.conditions
            .iter()
            .filter(|c| c.matched)
            .filter_map(|c| c.value.map(|value| format!("{} = {value:?}", c.field)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Rule {
    /// Every condition applied to `employee`, each with its verdict.
    pub fn evaluate<'a>(&'a self, employee: &'a Employee) -> RuleEvaluation<'a> {
        let conditions: Vec<ConditionResult> = self
            .conditions
            .iter()
            .map(|(field, patterns)| condition(field, patterns, employee))
            .collect();
        RuleEvaluation {
            matched: conditions.iter().all(|c| c.matched),
            conditions,
        }
    }

    /// [`Rule::evaluate`]'s verdict without its details: every employee meets every rule, so
    /// this allocates nothing and stops at the first condition that fails.
    pub fn matches(&self, employee: &Employee) -> bool {
        self.conditions
            .iter()
            .all(|(field, patterns)| condition(field, patterns, employee).matched)
    }
}

/// The one place a condition is decided.
fn condition<'a>(
    field: &'a str,
    patterns: &'a [Pattern],
    employee: &'a Employee,
) -> ConditionResult<'a> {
    let value = employee.field(field);
    ConditionResult {
        field,
        patterns,
        value,
        matched: value.is_some_and(|v| patterns.iter().any(|p| p.matches(v))),
    }
}

/// The role-derived part of an account: where it lives and which managed groups it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAssignment {
    pub ou: Dn,
    pub ou_reason: Reason,
    pub groups: BTreeMap<Dn, Reason>,
}

impl Mappings {
    /// Applies the rules to an employee whose status at the time of planning is `status` (the
    /// planner decides it per time zone; the birthright groups' reason names it).
    pub fn assign(&self, employee: &Employee, status: EmploymentStatus) -> RoleAssignment {
        let mut groups = BTreeMap::new();
        for group in &self.groups.birthright {
            groups.insert(
                group.clone(),
                Reason::new(format!("status = {status}"), "birthright group"),
            );
        }
        let mut placed: Option<(Dn, Reason)> = None;
        for rule in self.rules.iter().filter(|r| r.matches(employee)) {
            let reason = Reason::new(
                rule.evaluate(employee).facts(),
                format!("rule \"{}\"", rule.name),
            );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(conditions: &[(&str, &[&str])]) -> Rule {
        Rule {
            name: "r".into(),
            conditions: conditions
                .iter()
                .map(|(field, patterns)| {
                    let patterns = patterns.iter().map(|p| Pattern::new(p)).collect();
                    (field.to_string(), patterns)
                })
                .collect(),
            groups: Vec::new(),
            ou: None,
        }
    }

    fn employee(fields: serde_json::Value) -> Employee {
        serde_json::from_value(serde_json::json!({
            "id": "1", "status": "active", "hr_status": "active", "status_source": "Active",
            "hire_date": null, "termination_date": null, "fields": fields
        }))
        .unwrap()
    }

    #[test]
    fn evaluate_reports_every_condition_and_agrees_with_matches() {
        let rule = rule(&[
            ("department", &["engineering"]),
            ("location", &["London", "Berlin*"]),
            ("title", &["*"]),
        ]);
        let sales = employee(serde_json::json!({"department": "Sales", "location": "Berlin 2"}));
        let evaluation = rule.evaluate(&sales);
        assert!(!evaluation.matched);
        let verdicts: Vec<_> = evaluation
            .conditions
            .iter()
            .map(|c| (c.field, c.value, c.matched, c.patterns.len()))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("department", Some("Sales"), false, 1),
                ("location", Some("Berlin 2"), true, 2),
                ("title", None, false, 1),
            ],
            "every condition, in field order, even after one failed; an empty field never matches"
        );
        assert_eq!(evaluation.facts(), "location = \"Berlin 2\"");

        for fields in [
            serde_json::json!({"department": "Sales", "location": "Berlin 2"}),
            serde_json::json!({"department": "ENGINEERING", "location": "london", "title": "x"}),
            serde_json::json!({"department": "Engineering", "location": "Paris", "title": "x"}),
            serde_json::json!({"department": "Engineering", "location": "Berlin", "title": ""}),
        ] {
            let e = employee(fields);
            assert_eq!(rule.evaluate(&e).matched, rule.matches(&e), "{e:?}");
        }
        let eng = employee(serde_json::json!(
            {"department": "Engineering", "location": "Berlin", "title": "Dev"}
        ));
        assert!(rule.matches(&eng));
        assert_eq!(
            rule.evaluate(&eng).facts(),
            "department = \"Engineering\", location = \"Berlin\", title = \"Dev\""
        );
    }

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
