//! Raw HR records -> [`Employee`]s and [`RejectedRecord`]s. Pure: no I/O, no clock.
//!
//! A record that cannot be read safely is rejected, reported with its id when the id is readable,
//! and left out. It is never turned into a guess: a missing person must not look like a leaver,
//! and an unreadable status must not look like any status at all.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::Value;

use super::dates::{DateValue, YEARS};
use super::fields::{
    FieldPath, FieldPaths, FieldsConfig, HIRE_DATE, ID, StatusConfig, StatusMultiple,
    TERMINATION_DATE, is_date_field,
};
use crate::attributes::{Fields, Name};
use crate::model::{Employee, EmploymentStatus, HrSnapshot, RejectedRecord};

/// Normalises every record. `records` is the whole response, across pages, in order: a
/// [`RejectedRecord::index`] is a position in it.
///
/// - Every field in `fields` (except the dates) becomes a string in [`Employee::fields`]: a JSON
///   string as it is, a number or boolean as its text; null, missing or `""` leaves the field
///   out. A path matching several nodes takes the first. An array or object where one value is
///   expected rejects the record.
/// - `id` (non-empty) and the status (listed in `status`) are required.
/// - `hire_date` / `termination_date` become [`Employee::hire_date`] /
///   [`Employee::termination_date`]; a value that is not a date, or a date outside the years
///   1 to 9999, rejects the record.
/// - The status is HR's, as mapped: what the dates make of it at a given moment (a termination
///   date that has passed, a hire date to come) is the planner's decision, not this one's.
/// - A value with a control character (NUL, newline, ...) or an invisible or text-reordering
///   one (a bidi override, a zero-width space, see [`refused_character`]) rejects the record.
/// - A value longer than [`MAX_VALUE_CHARS`] rejects the record.
/// - An id that appears more than once rejects every record with it: none can be trusted.
/// - A field of `[hr.references]` is replaced, once every record is read, by the id of the
///   record it names (see [`FieldsConfig::references`]); one that names no record, or several,
///   is left out with a warning in [`HrSnapshot::warnings`].
pub fn normalize(records: &[Value], fields: &FieldsConfig, status: &StatusConfig) -> HrSnapshot {
    let mut normaliser = Normaliser::new(fields, status);
    normaliser.read(records);
    normaliser.finish()
}

/// [`normalize`], one page at a time: each page is read as it arrives, so its raw records can be
/// dropped before the next one comes. Whether an id is unique can only be known once every page
/// is in, so duplicates are rejected by [`Normaliser::finish`]; until then each record is read as
/// if its id were unique. The result is exactly [`normalize`] of all pages joined.
pub(crate) struct Normaliser<'c> {
    fields: &'c FieldsConfig,
    /// The configured field names, one shared copy (a [`Name`]) for every employee.
    names: Vec<Name>,
    status: &'c StatusConfig,
    /// The index of the next record, across pages.
    next_index: usize,
    employees: Vec<Employee>,
    /// The index of each employee's record, for rejecting it should its id appear again.
    employee_indexes: Vec<usize>,
    rejected: Vec<RejectedRecord>,
    /// One index per `[hr.references]` field, in its order: see [`ReferenceIndex`].
    references: Vec<ReferenceIndex>,
}

/// For one `[hr.references]` field: the value each record has at the field's key path -> the id
/// of that record, `None` when records with different ids share the value. Only records whose id
/// could be read are in it, rejected ones too: a reference to a person whose record is left out
/// still names that person, whose account is then left alone.
type ReferenceIndex = BTreeMap<String, Option<String>>;

impl<'c> Normaliser<'c> {
    pub(crate) fn new(fields: &'c FieldsConfig, status: &'c StatusConfig) -> Self {
        Self {
            fields,
            names: field_names(fields),
            status,
            next_index: 0,
            employees: Vec::new(),
            employee_indexes: Vec::new(),
            rejected: Vec::new(),
            references: vec![ReferenceIndex::new(); fields.references.len()],
        }
    }

    /// The index the next record read will have: the number of records read so far.
    pub(crate) fn next_index(&self) -> usize {
        self.next_index
    }

    /// Reads the next records (a page), which follow those read before.
    pub(crate) fn read(&mut self, records: &[Value]) {
        for record in records {
            let index = self.next_index;
            self.next_index += 1;
            let id = match self.fields.get(ID) {
                Some(paths) => read_text(record, paths),
                None => Ok(None),
            };
            let (id, problem) = match id {
                Ok(Some(id)) => {
                    let id = id.into_owned();
                    self.index_references(record, &id);
                    match read_employee(record, &id, (self.fields, &self.names), self.status) {
                        Ok(details) => {
                            self.employees.push(details.into_employee(id));
                            self.employee_indexes.push(index);
                            continue;
                        }
                        Err(problem) => (Some(id), problem),
                    }
                }
                Ok(None) => (None, missing(ID, self.fields.get(ID))),
                Err(problem) => (None, format!("{ID}: {problem}")),
            };
            self.rejected.push(RejectedRecord { id, index, problem });
        }
    }

    /// Notes the values of `record` (whose id is `id`) that references to it hold.
    fn index_references(&mut self, record: &Value, id: &str) {
        for (paths, index) in self.fields.references.values().zip(&mut self.references) {
            // A value that cannot be read (a list, a control character) names nobody.
            let Ok(Some(key)) = read_text(record, paths) else {
                continue;
            };
            match index.get_mut(&*key) {
                Some(owner) => {
                    if owner.as_deref() != Some(id) {
                        *owner = None;
                    }
                }
                None => {
                    index.insert(key.into_owned(), Some(id.to_string()));
                }
            }
        }
    }

    /// Rejects every record whose id appears more than once, resolves the references, and
    /// returns the snapshot: the employees in the order of their records, the rejected records
    /// by index.
    pub(crate) fn finish(self) -> HrSnapshot {
        let Self {
            fields,
            mut employees,
            employee_indexes,
            mut rejected,
            next_index,
            references,
            ..
        } = self;
        // Every record whose id could be read is an employee or a rejection carrying its id.
        let mut ids: Vec<&str> = employees
            .iter()
            .map(|e| e.id.as_str())
            .chain(rejected.iter().filter_map(|r| r.id.as_deref()))
            .collect();
        ids.sort_unstable();
        let duplicates: BTreeMap<String, usize> = ids
            .chunk_by(|a, b| a == b)
            .filter(|run| run.len() > 1)
            .map(|run| (run[0].to_string(), run.len()))
            .collect();
        drop(ids);
        if !duplicates.is_empty() {
            let duplicated = |id: &str| {
                duplicates.get(id).map(|n| {
                    format!("id appears {n} times in the HR data; every record with it is left out")
                })
            };
            for r in &mut rejected {
                if let Some(problem) = r.id.as_deref().and_then(duplicated) {
                    r.problem = problem;
                }
            }
            let mut unique = Vec::with_capacity(employees.len());
            for (employee, index) in employees.into_iter().zip(employee_indexes) {
                match duplicated(&employee.id) {
                    Some(problem) => rejected.push(RejectedRecord {
                        id: Some(employee.id),
                        index,
                        problem,
                    }),
                    None => unique.push(employee),
                }
            }
            employees = unique;
            rejected.sort_by_key(|r| r.index);
        }
        let warnings = resolve_references(&mut employees, &fields.references, &references);
        tracing::debug!(
            records = next_index,
            employees = employees.len(),
            rejected = rejected.len(),
            "HR records normalised"
        );
        HrSnapshot {
            employees,
            rejected,
            warnings,
            ..HrSnapshot::default()
        }
    }
}

/// Replaces each `[hr.references]` field's value by the id of the record it names (`indexes`,
/// one per reference, in order); a value that names no record, or several, is removed with a
/// warning. Returns the warnings.
fn resolve_references(
    employees: &mut [Employee],
    references: &BTreeMap<String, FieldPaths>,
    indexes: &[ReferenceIndex],
) -> Vec<String> {
    let mut warnings = Vec::new();
    for ((field, paths), index) in references.iter().zip(indexes) {
        for employee in employees.iter_mut() {
            let Some(value) = employee.fields.get_mut(field) else {
                continue;
            };
            let found = match index.get(value.as_str()) {
                Some(Some(id)) => {
                    value.clone_from(id);
                    continue;
                }
                Some(None) => "several HR records",
                None => "no HR record",
            };
            warnings.push(format!(
                "employee {}: {field} {} is the {paths} of {found}; {field} left empty",
                employee.id,
                quote(value)
            ));
            employee.fields.remove(field);
        }
    }
    warnings
}

/// Everything of an [`Employee`] but its id.
struct Details {
    hr_status: EmploymentStatus,
    status_source: String,
    hire_date: Option<NaiveDate>,
    termination_date: Option<NaiveDate>,
    fields: Fields,
}

impl Details {
    fn into_employee(self, id: String) -> Employee {
        Employee {
            id,
            hr_status: self.hr_status,
            status_source: self.status_source,
            hire_date: self.hire_date,
            termination_date: self.termination_date,
            fields: self.fields,
        }
    }
}

/// The shared names of the configured fields, in the order of `fields.paths`.
fn field_names(fields: &FieldsConfig) -> Vec<Name> {
    fields
        .paths
        .keys()
        .map(|name| Name::from(name.as_str()))
        .collect()
}

/// Reads one record whose id is known (and taken to be unique). All its problems are reported
/// together. `names` are [`field_names`] of `fields`.
fn read_employee(
    record: &Value,
    id: &str,
    (fields, names): (&FieldsConfig, &[Name]),
    status: &StatusConfig,
) -> Result<Details, String> {
    let mut problems = Vec::new();
    let mut values = Fields::with_capacity(names.len());
    for ((name, paths), shared) in fields.paths.iter().zip(names) {
        if is_date_field(name) {
            continue;
        }
        // The id was read from these very paths already.
        if name == ID {
            values.insert_named(shared.clone(), id.to_string());
            continue;
        }
        match read_text(record, paths) {
            Ok(Some(value)) => {
                values.insert_named(shared.clone(), value.into_owned());
            }
            Ok(None) => {}
            Err(problem) => problems.push(format!("{name}: {problem}")),
        }
    }
    let mut read_date = |name: &str| -> Option<NaiveDate> {
        let paths = fields.get(name)?;
        match read_text(record, paths) {
            Ok(Some(value)) => match fields.dates.read(&value) {
                DateValue::Date(date) => Some(date),
                DateValue::Null => None,
                DateValue::Unreadable => {
                    problems.push(format!(
                        "{name}: {} is not a date in any of the formats of hr.dates.formats",
                        quote(&value)
                    ));
                    None
                }
                DateValue::OutOfRange => {
                    problems.push(format!(
                        "{name}: {} is a date outside the years {} to {} hrsync accepts",
                        quote(&value),
                        YEARS.start(),
                        YEARS.end()
                    ));
                    None
                }
            },
            Ok(None) => None,
            Err(problem) => {
                problems.push(format!("{name}: {problem}"));
                None
            }
        }
    };
    let hire_date = read_date(HIRE_DATE);
    let termination_date = read_date(TERMINATION_DATE);

    let hr_status = match read_status(record, status) {
        Ok(Some(found)) => Some(found),
        Ok(None) => {
            problems.push(missing("status", Some(&status.path)));
            None
        }
        Err(problem) => {
            problems.push(problem);
            None
        }
    };

    match hr_status {
        Some((mapped, raw)) if problems.is_empty() => Ok(Details {
            hr_status: mapped,
            status_source: raw,
            hire_date,
            termination_date,
            fields: values,
        }),
        _ => Err(problems.join("; ")),
    }
}

/// The status and the raw value(s) it was read from. `Ok(None)`: nothing there. With
/// `multiple = "most_active"`, every value the first fruitful path selects must be listed, and
/// the most active of them wins (the raw values are kept, joined with ", ").
fn read_status(
    record: &Value,
    status: &StatusConfig,
) -> Result<Option<(EmploymentStatus, String)>, String> {
    let unlisted = |raw: &str| {
        format!(
            "status {} is not listed in [hr.status] (active, leave, pending, terminated); \
             hrsync does not guess what it means",
            quote(raw)
        )
    };
    if status.multiple == StatusMultiple::First {
        return match read_text(record, &status.path) {
            Ok(Some(raw)) => match status.map(&raw) {
                Some(mapped) => Ok(Some((mapped, raw.into_owned()))),
                None => Err(unlisted(&raw)),
            },
            Ok(None) => Ok(None),
            Err(problem) => Err(format!("status: {problem}")),
        };
    }
    for path in status.path.iter() {
        let mut found: Vec<(EmploymentStatus, Cow<'_, str>)> = Vec::new();
        for node in path.all(record) {
            let Some(raw) = scalar_text(node, path).map_err(|p| format!("status: {p}"))? else {
                continue;
            };
            match status.map(&raw) {
                Some(mapped) => found.push((mapped, raw)),
                None => return Err(unlisted(&raw)),
            }
        }
        let Some(best) = found.iter().map(|(mapped, _)| *mapped).min() else {
            continue;
        };
        let raw: Vec<&str> = found.iter().map(|(_, raw)| raw.as_ref()).collect();
        return Ok(Some((best, raw.join(", "))));
    }
    Ok(None)
}

/// One value `path` selected, as text (borrowed from the record when it is a string):
/// `Ok(None)` for null or an empty string; `Err` for a list, an object, a
/// [`refused_character`] or more than [`MAX_VALUE_CHARS`] characters.
fn scalar_text<'r>(node: &'r Value, path: &FieldPath) -> Result<Option<Cow<'r, str>>, String> {
    let text = match node {
        Value::Null => return Ok(None),
        Value::String(s) if s.is_empty() => return Ok(None),
        Value::String(s) => Cow::Borrowed(s.as_str()),
        Value::Number(n) => Cow::Owned(n.to_string()),
        Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Value::Array(_) => return Err(format!("{path} selects a list, not a single value")),
        Value::Object(_) => return Err(format!("{path} selects an object, not a single value")),
    };
    // Printable ASCII, by far the usual, has no refused character to look for.
    let printable_ascii = text.bytes().all(|b| (0x20..0x7f).contains(&b));
    if !printable_ascii {
        if let Some((c, kind)) = text
            .chars()
            .find_map(|c| refused_character(c).map(|k| (c, k)))
        {
            return Err(format!(
                "the value contains {kind} (U+{:04X})",
                u32::from(c)
            ));
        }
    }
    // A character is at least one byte: a short text needs no counting.
    if text.len() > MAX_VALUE_CHARS {
        let length = text.chars().count();
        if length > MAX_VALUE_CHARS {
            return Err(format!(
                "the value is {length} characters long, over the {MAX_VALUE_CHARS} hrsync accepts"
            ));
        }
    }
    Ok(Some(text))
}

/// What kind of character `c` is, when a value from HR may not hold it: a control character
/// (NUL, newline, escape, ...), or a character that is invisible or rearranges the text around
/// it: Unicode's format characters (general category Cf: bidi overrides and isolates such as
/// U+202E, zero-width spaces and joiners U+200B-U+200D, word joiner U+2060, U+FEFF, soft
/// hyphen, ...), the line and paragraph separators U+2028/U+2029, and the Hangul fillers, which
/// are letters that show as nothing.
///
/// Such a value is refused, like a control character, rather than stripped: stripping would
/// quietly turn the value into another one (`adm\u{200B}in` into `admin`, two distinct ids into
/// one), and the text an admin reviews in a plan, or a DN, would no longer be the text HR sent
/// nor show what it holds. Refusing leaves the record out, named, until HR corrects it. The cost
/// is a real name that uses a zero-width non-joiner (Persian, some Indic scripts) waiting for
/// that correction, visibly, which is the safe way round.
pub(crate) fn refused_character(c: char) -> Option<&'static str> {
    if c.is_control() {
        Some("a control character")
    } else if is_format_character(c) {
        Some("an invisible or text-reordering Unicode format character")
    } else if matches!(c, '\u{2028}' | '\u{2029}') {
        Some("a line or paragraph separator")
    } else if matches!(c, '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}') {
        Some("an invisible Hangul filler")
    } else {
        None
    }
}

/// Unicode general category Cf (format), as of Unicode 15.
fn is_format_character(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// The longest value hrsync takes from HR, in characters. Far above any real name, title or
/// address, and far below what makes a directory refuse the entry (a 64 KiB RDN) or store
/// garbage (a 200 KB title): such a value is an HR export gone wrong, and the record is left out
/// and named instead of failing at the server on every run or landing in the directory.
pub const MAX_VALUE_CHARS: usize = 1024;

/// The first value the paths give, as text. `Ok(None)`: nothing there. `Err`: a value that
/// cannot be used (a list or object, a [`refused_character`], or too long).
fn read_text<'r>(record: &'r Value, paths: &FieldPaths) -> Result<Option<Cow<'r, str>>, String> {
    for path in paths.iter() {
        let Some(node) = path.first(record) else {
            continue;
        };
        if let Some(text) = scalar_text(node, path)? {
            return Ok(Some(text));
        }
    }
    Ok(None)
}

/// The first value the paths give in `record`, as text, when there is a usable one (what
/// [`normalize`] would read there).
pub(crate) fn first_text(record: &Value, paths: &FieldPaths) -> Option<String> {
    read_text(record, paths).ok().flatten().map(Cow::into_owned)
}

fn missing(name: &str, paths: Option<&FieldPaths>) -> String {
    match paths {
        Some(paths) => format!("{name}: missing (nothing at {paths})"),
        None => format!("{name}: missing (hr.fields.{name} is not configured)"),
    }
}

/// A value for a message: quoted, escaped, and cut short.
fn quote(value: &str) -> String {
    const MAX: usize = 60;
    if value.chars().count() > MAX {
        let cut: String = value.chars().take(MAX).collect();
        format!("{cut:?}…")
    } else {
        format!("{value:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hr::HrConfig;
    use crate::model::EmploymentStatus;
    use serde_json::json;

    const CONFIG: &str = r#"
source = "file"
[file]
path = "hr.json"
records = "/employees"
[fields]
id = "$.id"
first_name = "$.firstName"
last_name = "$.lastName"
email = ["$.workEmail", "$.emails[?@.type=='work'].value"]
title = "$.jobTitle"
department = "$.department"
hire_date = "$.hireDate"
termination_date = "$.terminationDate"
cost_center = "$.costCenter"
[status]
path = ["$.status", "$.employmentStatus"]
active = ["Active"]
leave = ["On Leave"]
pending = ["Onboarding"]
terminated = ["Inactive", "Terminated"]
"#;

    fn config() -> HrConfig {
        toml::from_str(CONFIG).unwrap()
    }

    fn run(records: &[Value]) -> HrSnapshot {
        let config = config();
        assert!(config.validate().is_empty(), "{:?}", config.validate());
        normalize(records, &config.fields, &config.status)
    }

    fn person(id: &str) -> Value {
        json!({
            "id": id,
            "firstName": "Ada",
            "lastName": "Lovelace",
            "workEmail": "ada@example.org",
            "jobTitle": "Engineer",
            "department": "R&D",
            "hireDate": "2020-01-06",
            "terminationDate": "0000-00-00",
            "status": "Active"
        })
    }

    fn with(mut record: Value, key: &str, value: Value) -> Value {
        record[key] = value;
        record
    }

    fn only_employee(snapshot: &HrSnapshot) -> &Employee {
        assert!(snapshot.rejected.is_empty(), "{:?}", snapshot.rejected);
        assert_eq!(snapshot.employees.len(), 1);
        &snapshot.employees[0]
    }

    fn only_rejection(snapshot: &HrSnapshot) -> &RejectedRecord {
        assert!(snapshot.employees.is_empty(), "{:?}", snapshot.employees);
        assert_eq!(snapshot.rejected.len(), 1);
        &snapshot.rejected[0]
    }

    #[test]
    fn mapped_fields_become_strings_and_dates_stay_out_of_fields() {
        let snapshot = run(&[with(person("7"), "costCenter", json!(4711))]);
        let e = only_employee(&snapshot);
        assert_eq!(e.id, "7");
        assert_eq!(e.hr_status, EmploymentStatus::Active);
        assert_eq!(e.status_source, "Active");
        assert_eq!(e.hire_date, NaiveDate::from_ymd_opt(2020, 1, 6));
        assert_eq!(e.termination_date, None, "0000-00-00 means no date");
        let expected: BTreeMap<String, String> = [
            ("id", "7"),
            ("first_name", "Ada"),
            ("last_name", "Lovelace"),
            ("email", "ada@example.org"),
            ("title", "Engineer"),
            ("department", "R&D"),
            ("cost_center", "4711"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(e.fields.to_map(), expected);
    }

    #[test]
    fn fallback_paths_are_tried_in_order_and_filters_select_by_type() {
        let mut record = person("1");
        record["workEmail"] = json!("");
        record["emails"] = json!([
            {"type": "home", "value": "ada@home.example"},
            {"type": "work", "value": "ada@work.example"}
        ]);
        let snapshot = run(&[record]);
        assert_eq!(
            only_employee(&snapshot).field("email"),
            Some("ada@work.example")
        );

        let mut record = person("2");
        record.as_object_mut().unwrap().remove("workEmail");
        let snapshot = run(&[record]);
        assert_eq!(
            only_employee(&snapshot).field("email"),
            None,
            "no fallback matched: absent"
        );
    }

    #[test]
    fn a_path_matching_several_nodes_takes_the_first() {
        let mut record = person("1");
        record.as_object_mut().unwrap().remove("workEmail");
        record["emails"] = json!([
            {"type": "work", "value": "first@example.org"},
            {"type": "work", "value": "second@example.org"}
        ]);
        let snapshot = run(&[record]);
        assert_eq!(
            only_employee(&snapshot).field("email"),
            Some("first@example.org")
        );
    }

    #[test]
    fn null_and_empty_values_are_absent() {
        let record = with(
            with(person("1"), "jobTitle", json!(null)),
            "department",
            json!(""),
        );
        let snapshot = run(&[record]);
        let e = only_employee(&snapshot);
        assert!(!e.fields.contains_key("title"));
        assert!(!e.fields.contains_key("department"));
    }

    #[test]
    fn a_list_or_object_where_one_value_is_expected_rejects_the_record_naming_the_field() {
        let snapshot = run(&[with(person("5"), "jobTitle", json!(["a", "b"]))]);
        let r = only_rejection(&snapshot);
        assert_eq!(r.id.as_deref(), Some("5"));
        assert!(
            r.problem.starts_with("title: $.jobTitle selects a list"),
            "{}",
            r.problem
        );

        let snapshot = run(&[with(person("6"), "department", json!({"name": "R&D"}))]);
        assert!(
            only_rejection(&snapshot)
                .problem
                .contains("department: $.department selects an object")
        );
    }

    #[test]
    fn status_values_map_to_the_four_statuses() {
        let cases = [
            ("Active", EmploymentStatus::Active),
            ("on leave", EmploymentStatus::Leave),
            ("Onboarding", EmploymentStatus::Pending),
            ("Inactive", EmploymentStatus::Terminated),
            ("TERMINATED", EmploymentStatus::Terminated),
        ];
        for (raw, expected) in cases {
            let snapshot = run(&[with(person("1"), "status", json!(raw))]);
            let e = only_employee(&snapshot);
            assert_eq!(e.hr_status, expected, "{raw}");
            assert_eq!(e.status_source, raw, "the raw value is kept as sent");
        }
    }

    #[test]
    fn the_status_falls_back_to_the_second_path() {
        let mut record = person("1");
        record.as_object_mut().unwrap().remove("status");
        record["employmentStatus"] = json!("On Leave");
        let snapshot = run(&[record]);
        assert_eq!(only_employee(&snapshot).hr_status, EmploymentStatus::Leave);
    }

    #[test]
    fn most_active_takes_the_most_active_of_several_employments() {
        let mut config = config();
        config.status.path = FieldPaths::parse(&["$.jobs[*].status"]).unwrap();
        config.status.multiple = StatusMultiple::MostActive;
        let jobs = |statuses: &[&str]| {
            let jobs: Vec<Value> = statuses.iter().map(|s| json!({ "status": s })).collect();
            with(person("7"), "jobs", Value::Array(jobs))
        };
        let read =
            |config: &HrConfig, record: Value| normalize(&[record], &config.fields, &config.status);
        // A rehire: the old employment ended, the new one is active.
        let snapshot = read(&config, jobs(&["Terminated", "Active"]));
        let e = only_employee(&snapshot);
        assert_eq!(e.hr_status, EmploymentStatus::Active);
        assert_eq!(e.status_source, "Terminated, Active");
        assert_eq!(
            only_employee(&read(&config, jobs(&["On Leave", "Inactive"]))).hr_status,
            EmploymentStatus::Leave
        );
        assert_eq!(
            only_employee(&read(&config, jobs(&["Inactive", "Terminated"]))).hr_status,
            EmploymentStatus::Terminated
        );
        // One value nobody listed: the whole record is left alone, never half-read.
        let rejected = read(&config, jobs(&["Active", "Dormant"]));
        assert!(
            only_rejection(&rejected)
                .problem
                .contains("\"Dormant\" is not listed"),
            "{:?}",
            rejected.rejected
        );
        // No employment at all: the status is missing, not terminated.
        let rejected = read(&config, jobs(&[]));
        assert!(
            only_rejection(&rejected)
                .problem
                .contains("status: missing")
        );
        // With "first", only the first employment counts.
        config.status.multiple = StatusMultiple::First;
        assert_eq!(
            only_employee(&read(&config, jobs(&["Terminated", "Active"]))).hr_status,
            EmploymentStatus::Terminated
        );
    }

    #[test]
    fn an_unknown_status_is_rejected_never_guessed() {
        let snapshot = run(&[with(
            person("802"),
            "status",
            json!("Suspended pending review"),
        )]);
        let r = only_rejection(&snapshot);
        assert_eq!(r.id.as_deref(), Some("802"));
        assert!(
            r.problem
                .contains("\"Suspended pending review\" is not listed"),
            "{}",
            r.problem
        );
    }

    #[test]
    fn a_missing_status_is_rejected() {
        let mut record = person("9");
        record.as_object_mut().unwrap().remove("status");
        let snapshot = run(&[record]);
        let r = only_rejection(&snapshot);
        assert_eq!(r.id.as_deref(), Some("9"));
        assert!(r.problem.starts_with("status: missing"), "{}", r.problem);
    }

    #[test]
    fn a_missing_or_empty_id_is_rejected_without_an_id() {
        let mut no_id = person("x");
        no_id.as_object_mut().unwrap().remove("id");
        let snapshot = run(&[person("1"), no_id, with(person("x"), "id", json!(""))]);
        assert_eq!(snapshot.employees.len(), 1);
        assert_eq!(snapshot.rejected.len(), 2);
        for (r, index) in snapshot.rejected.iter().zip([1, 2]) {
            assert_eq!(r.id, None);
            assert_eq!(r.index, index);
            assert!(r.problem.starts_with("id: missing"), "{}", r.problem);
        }
    }

    #[test]
    fn numeric_ids_are_read_as_text_and_collide_with_string_ids() {
        let snapshot = run(&[with(person("x"), "id", json!(42))]);
        assert_eq!(only_employee(&snapshot).id, "42");
        assert_eq!(only_employee(&snapshot).field("id"), Some("42"));

        let snapshot = run(&[with(person("x"), "id", json!(42)), person("42")]);
        assert!(snapshot.employees.is_empty());
        assert_eq!(snapshot.rejected.len(), 2);
    }

    #[test]
    fn duplicate_ids_reject_every_record_with_that_id_and_keep_the_others() {
        let terminated = with(person("801"), "status", json!("Inactive"));
        let snapshot = run(&[
            person("100"),
            terminated,
            person("801"),
            person("200"),
            with(person("801"), "status", json!("nonsense")),
        ]);
        let kept: Vec<&str> = snapshot.employees.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(kept, ["100", "200"]);
        assert_eq!(snapshot.rejected.len(), 3);
        for (r, index) in snapshot.rejected.iter().zip([1, 2, 4]) {
            assert_eq!(r.id.as_deref(), Some("801"));
            assert_eq!(r.index, index);
            assert!(r.problem.starts_with("id appears 3 times"), "{}", r.problem);
        }
    }

    #[test]
    fn a_bad_date_rejects_the_record_naming_field_and_value() {
        let snapshot = run(&[with(person("3"), "hireDate", json!("31/12/2020"))]);
        let r = only_rejection(&snapshot);
        assert_eq!(r.id.as_deref(), Some("3"));
        assert_eq!(
            r.problem,
            "hire_date: \"31/12/2020\" is not a date in any of the formats of hr.dates.formats"
        );
    }

    /// Issue 16.10a: this OData date panicked in chrono and stopped the run for everyone.
    #[test]
    fn a_date_past_the_calendar_rejects_the_record_naming_field_and_value() {
        let snapshot = run(&[
            with(
                person("5"),
                "terminationDate",
                json!("/Date(8210266876799999+0001)/"),
            ),
            person("6"),
        ]);
        assert_eq!(snapshot.rejected.len(), 1, "{:?}", snapshot.rejected);
        let r = &snapshot.rejected[0];
        assert_eq!(r.id.as_deref(), Some("5"));
        assert_eq!(
            r.problem,
            "termination_date: \"/Date(8210266876799999+0001)/\" is a date outside the years 1 \
             to 9999 hrsync accepts"
        );
        let ids: Vec<&str> = snapshot.employees.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["6"]);
    }

    #[test]
    fn the_dates_are_kept_and_leave_hr_s_status_as_it_is() {
        // What a past termination date or a future hire date makes of the status is the
        // planner's decision, at its own `now` and in each employee's time zone.
        let snapshot = run(&[with(
            with(person("1"), "terminationDate", json!("2024-06-14")),
            "hireDate",
            json!("2024-06-16"),
        )]);
        let e = only_employee(&snapshot);
        assert_eq!(e.hr_status, EmploymentStatus::Active);
        assert_eq!(e.status_source, "Active");
        assert_eq!(e.termination_date, NaiveDate::from_ymd_opt(2024, 6, 14));
        assert_eq!(e.hire_date, NaiveDate::from_ymd_opt(2024, 6, 16));
        let snapshot = run(&[with(
            with(person("1"), "terminationDate", json!("2024-01-01")),
            "status",
            json!("On Leave"),
        )]);
        assert_eq!(only_employee(&snapshot).hr_status, EmploymentStatus::Leave);
    }

    #[test]
    fn control_characters_reject_the_record_naming_the_field() {
        for (key, field) in [
            ("lastName", "last_name"),
            ("jobTitle", "title"),
            ("status", "status"),
        ] {
            for bad in ["Love\u{0}lace", "two\nlines", "esc\u{1b}[31m"] {
                let snapshot = run(&[with(person("4"), key, json!(bad))]);
                let r = only_rejection(&snapshot);
                assert_eq!(r.id.as_deref(), Some("4"));
                assert!(
                    r.problem
                        .starts_with(&format!("{field}: the value contains a control character")),
                    "{}",
                    r.problem
                );
            }
        }
    }

    /// Issue 16.10b: these passed, and could reorder or hide text in a plan, a DN or a name.
    #[test]
    fn invisible_and_reordering_characters_reject_the_record_naming_the_field() {
        let refused = [
            ('\u{202E}', "format character"),
            ('\u{202A}', "format character"),
            ('\u{2066}', "format character"),
            ('\u{200B}', "format character"),
            ('\u{200C}', "format character"),
            ('\u{200D}', "format character"),
            ('\u{200E}', "format character"),
            ('\u{2060}', "format character"),
            ('\u{FEFF}', "format character"),
            ('\u{00AD}', "format character"),
            ('\u{061C}', "format character"),
            ('\u{E0041}', "format character"),
            ('\u{2028}', "line or paragraph separator"),
            ('\u{2029}', "line or paragraph separator"),
            ('\u{3164}', "Hangul filler"),
        ];
        for (key, field) in [
            ("lastName", "last_name"),
            ("jobTitle", "title"),
            ("status", "status"),
        ] {
            for (c, kind) in refused {
                let snapshot = run(&[with(person("4"), key, json!(format!("Love{c}lace")))]);
                let r = only_rejection(&snapshot);
                assert_eq!(r.id.as_deref(), Some("4"));
                let expected = format!("{field}: the value contains ");
                assert!(
                    r.problem.starts_with(&expected)
                        && r.problem.contains(kind)
                        && r.problem.contains(&format!("(U+{:04X})", u32::from(c))),
                    "{c:?}: {}",
                    r.problem
                );
            }
        }
        // An id with one is not echoed, as with a control character.
        let snapshot = run(&[with(person("x"), "id", json!("12\u{202E}3"))]);
        assert_eq!(only_rejection(&snapshot).id, None);
    }

    #[test]
    fn letters_marks_and_spaces_of_real_names_pass() {
        for name in [
            "Zoë Ångström",
            "José Ñúñez",
            "Nguyễn Thị Minh Khai",
            "Ødegård",
            "李小龍",
            "山田 太郎",
            "محمد",
            "שׁלום",
            "Åsa\u{00A0}Öberg",
            "O\u{0301}scar",
            "Ελένη",
            "Владимир",
        ] {
            let snapshot = run(&[with(person("4"), "lastName", json!(name))]);
            assert_eq!(
                only_employee(&snapshot).field("last_name"),
                Some(name),
                "{name:?}"
            );
        }
    }

    #[test]
    fn letters_marks_spaces_and_dashes_are_not_format_characters() {
        for c in [
            'a', 'é', ' ', '\u{00A0}', '\u{0301}', '\u{05BF}', '\u{0640}', '\u{2010}', '\u{2011}',
            '\u{3000}', '-', '\u{FE0F}',
        ] {
            assert_eq!(refused_character(c), None, "{c:?}");
        }
    }

    #[test]
    fn huge_values_reject_the_record_naming_the_field_and_the_length() {
        let at_limit = "x".repeat(MAX_VALUE_CHARS);
        let snapshot = run(&[with(person("4"), "lastName", json!(at_limit))]);
        assert_eq!(only_employee(&snapshot).id, "4");
        for (key, field) in [("lastName", "last_name"), ("jobTitle", "title")] {
            let snapshot = run(&[with(
                person("4"),
                key,
                json!("é".repeat(MAX_VALUE_CHARS + 1)),
            )]);
            let r = only_rejection(&snapshot);
            assert_eq!(r.id.as_deref(), Some("4"));
            assert_eq!(
                r.problem,
                format!("{field}: the value is 1025 characters long, over the 1024 hrsync accepts")
            );
        }
        let snapshot = run(&[with(person("x"), "id", json!("9".repeat(100_000)))]);
        let r = only_rejection(&snapshot);
        assert_eq!(r.id, None, "a huge id is not echoed");
        assert!(
            r.problem.starts_with("id: the value is 100000 characters"),
            "{}",
            r.problem
        );
    }

    #[test]
    fn an_id_with_a_control_character_is_rejected_without_echoing_it() {
        let snapshot = run(&[with(person("x"), "id", json!("12\u{0}3"))]);
        let r = only_rejection(&snapshot);
        assert_eq!(r.id, None);
        assert!(
            r.problem
                .starts_with("id: the value contains a control character"),
            "{}",
            r.problem
        );
    }

    #[test]
    fn several_problems_of_one_record_are_reported_together() {
        let record = with(
            with(person("11"), "hireDate", json!("soon")),
            "status",
            json!("??"),
        );
        let r = &run(&[record]).rejected[0];
        assert!(r.problem.contains("hire_date: \"soon\""), "{}", r.problem);
        assert!(r.problem.contains("status \"??\""), "{}", r.problem);
    }

    #[test]
    fn rejected_index_is_the_position_in_the_whole_input() {
        let records: Vec<Value> = (0..5)
            .map(|i| {
                if i == 3 {
                    with(person("3"), "status", json!("?"))
                } else {
                    person(&i.to_string())
                }
            })
            .collect();
        let snapshot = run(&records);
        assert_eq!(snapshot.employees.len(), 4);
        assert_eq!(snapshot.rejected[0].index, 3);
    }

    #[test]
    fn personio_shaped_records_read_nested_values() {
        let mut config = config();
        config.fields = toml::from_str::<HrConfig>(&CONFIG.replace(
            "[fields]\nid = \"$.id\"",
            "[fields]\nid = \"$.attributes.id.value\"\nmanager_id = \"$.attributes.supervisor.value.attributes.id.value\"",
        ))
        .unwrap()
        .fields;
        config.fields.paths.insert(
            "hire_date".into(),
            FieldPaths::parse(&["$.attributes.hire_date.value"]).unwrap(),
        );
        config.status.path = FieldPaths::parse(&["$.attributes.status.value"]).unwrap();
        config.status.active = vec!["active".into()];
        let record = json!({"type": "Employee", "attributes": {
            "id": {"label": "ID", "value": 1, "type": "integer"},
            "status": {"label": "Status", "value": "active"},
            "hire_date": {"value": "2014-11-09 00:00:00+01:00", "type": "date"},
            "supervisor": {"value": {"type": "Employee", "attributes": {"id": {"value": 2}}}}
        }});
        let snapshot = normalize(&[record], &config.fields, &config.status);
        let e = only_employee(&snapshot);
        assert_eq!(e.id, "1");
        assert_eq!(e.manager_id(), Some("2"));
        assert_eq!(e.hire_date, NaiveDate::from_ymd_opt(2014, 11, 9));
        assert_eq!(e.hr_status, EmploymentStatus::Active);
    }

    /// SCIM-shaped records: the id is the employee number, `manager` holds the manager's
    /// server-made resource id, and `[hr.references]` says so.
    fn scim_config() -> HrConfig {
        toml::from_str(
            "source = \"file\"\n[file]\npath = \"scim.json\"\nrecords = \"/Resources\"\n\
             [fields]\nid = \"$.employeeNumber\"\nscim_id = \"$.id\"\n\
             manager_id = \"$.manager.value\"\n[references]\nmanager_id = \"$.id\"\n\
             [status]\npath = \"$.active\"\nactive = [\"true\"]\nterminated = [\"false\"]\n",
        )
        .unwrap()
    }

    fn scim_user(scim_id: &str, number: &str, manager: Option<&str>) -> Value {
        let mut user = json!({"id": scim_id, "employeeNumber": number, "active": true});
        if let Some(manager) = manager {
            user["manager"] = json!({"value": manager});
        }
        user
    }

    fn managers(snapshot: &HrSnapshot) -> Vec<(&str, Option<&str>)> {
        snapshot
            .employees
            .iter()
            .map(|e| (e.id.as_str(), e.manager_id()))
            .collect()
    }

    #[test]
    fn a_reference_becomes_the_id_of_the_record_it_names_in_any_order() {
        let config = scim_config();
        assert_eq!(config.validate(), vec![]);
        let records = [
            // The report comes before the manager: references are resolved once all are read.
            scim_user("uuid-2", "E2", Some("uuid-1")),
            scim_user("uuid-1", "E1", None),
            scim_user("uuid-3", "E3", Some("uuid-2")),
        ];
        let expected = vec![("E2", Some("E1")), ("E1", None), ("E3", Some("E2"))];
        let snapshot = normalize(&records, &config.fields, &config.status);
        assert_eq!(managers(&snapshot), expected);
        assert_eq!(snapshot.warnings, Vec::<String>::new());
        assert_eq!(
            snapshot.employees[0].field("scim_id"),
            Some("uuid-2"),
            "the resource id stays readable"
        );
        for size in 1..=records.len() {
            let mut normaliser = Normaliser::new(&config.fields, &config.status);
            for page in records.chunks(size) {
                normaliser.read(page);
            }
            assert_eq!(normaliser.finish(), snapshot, "pages of {size}");
        }
    }

    #[test]
    fn a_reference_to_nobody_or_to_several_is_left_empty_with_a_warning_never_guessed() {
        let config = scim_config();
        let snapshot = normalize(
            &[
                scim_user("uuid-1", "E1", None),
                // Names no record: never kept as if it were an employee number.
                scim_user("uuid-2", "E2", Some("uuid-gone")),
                // Names an employee number, not a resource id: no record has it at $.id.
                scim_user("uuid-3", "E3", Some("E1")),
                // Two records (different people) share the resource id: neither is named.
                scim_user("uuid-twin", "E4", None),
                scim_user("uuid-twin", "E5", None),
                scim_user("uuid-6", "E6", Some("uuid-twin")),
                // A record rejected for its status is still the person its id says.
                with(scim_user("uuid-7", "E7", None), "active", json!("maybe")),
                scim_user("uuid-8", "E8", Some("uuid-7")),
            ],
            &config.fields,
            &config.status,
        );
        assert_eq!(
            managers(&snapshot),
            [
                ("E1", None),
                ("E2", None),
                ("E3", None),
                ("E4", None),
                ("E5", None),
                ("E6", None),
                ("E8", Some("E7")),
            ]
        );
        assert_eq!(
            snapshot.warnings,
            [
                "employee E2: manager_id \"uuid-gone\" is the $.id of no HR record; manager_id \
                 left empty",
                "employee E3: manager_id \"E1\" is the $.id of no HR record; manager_id left \
                 empty",
                "employee E6: manager_id \"uuid-twin\" is the $.id of several HR records; \
                 manager_id left empty",
            ]
        );
        assert_eq!(snapshot.rejected.len(), 1);
    }

    #[test]
    fn without_references_a_field_is_kept_as_read() {
        let mut config = scim_config();
        config.fields.references.clear();
        let snapshot = normalize(
            &[scim_user("uuid-2", "E2", Some("uuid-1"))],
            &config.fields,
            &config.status,
        );
        assert_eq!(managers(&snapshot), [("E2", Some("uuid-1"))]);
        assert!(snapshot.warnings.is_empty());
    }

    /// The whole-list algorithm [`Normaliser`] replaced: ids counted first, then each record
    /// read, or rejected when its id is duplicated. The oracle for reading page by page.
    fn whole_list(records: &[Value], fields: &FieldsConfig, status: &StatusConfig) -> HrSnapshot {
        let ids: Vec<Result<Option<String>, String>> = records
            .iter()
            .map(|record| {
                read_text(record, fields.get(ID).unwrap()).map(|id| id.map(Cow::into_owned))
            })
            .collect();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for id in ids.iter().flatten().flatten() {
            *counts.entry(id.as_str()).or_default() += 1;
        }
        let mut snapshot = HrSnapshot::default();
        for (index, (record, id)) in records.iter().zip(&ids).enumerate() {
            let outcome = match id {
                Ok(Some(id)) => match counts[id.as_str()] {
                    n if n > 1 => Err(format!(
                        "id appears {n} times in the HR data; every record with it is left out"
                    )),
                    _ => read_employee(record, id, (fields, &field_names(fields)), status)
                        .map(|details| details.into_employee(id.clone())),
                },
                Ok(None) => Err(missing(ID, fields.get(ID))),
                Err(problem) => Err(format!("{ID}: {problem}")),
            };
            match outcome {
                Ok(employee) => snapshot.employees.push(employee),
                Err(problem) => snapshot.rejected.push(RejectedRecord {
                    id: id.as_ref().ok().cloned().flatten(),
                    index,
                    problem,
                }),
            }
        }
        snapshot
    }

    /// Good records, duplicates within and across pages (also of a record that is otherwise
    /// unreadable), and records without a readable id, in a mixed order.
    fn mixed_records() -> Vec<Value> {
        let mut records = Vec::new();
        for i in 0..30 {
            records.push(match i % 10 {
                0 => person("dup-2"),
                1 => with(person("bad-status"), "status", json!("??")),
                2 => with(person("x"), "id", json!(null)),
                3 => with(person("x"), "id", json!(["a"])),
                4 if i < 20 => with(person("dup-3"), "hireDate", json!("soon")),
                5 if i == 5 => with(person("dup-bad"), "status", json!("??")),
                6 if i == 26 => person("dup-bad"),
                7 => with(person("dup-3"), "jobTitle", json!(7)),
                _ => person(&format!("p{i}")),
            });
        }
        records
    }

    #[test]
    fn pages_read_one_by_one_give_what_the_whole_list_gives() {
        let config = config();
        let records = mixed_records();
        let expected = whole_list(&records, &config.fields, &config.status);
        assert!(
            expected
                .rejected
                .iter()
                .any(|r| r.problem.contains("appears 5 times"))
        );
        assert!(
            expected
                .rejected
                .iter()
                .any(|r| r.problem.contains("appears 3 times"))
        );
        assert!(
            expected
                .rejected
                .iter()
                .any(|r| r.problem.contains("appears 2 times"))
        );
        assert!(expected.employees.len() > 5, "{expected:?}");
        assert_eq!(run(&records), expected);
        for size in 1..=records.len() {
            let mut normaliser = Normaliser::new(&config.fields, &config.status);
            for page in records.chunks(size) {
                normaliser.read(page);
            }
            assert_eq!(normaliser.finish(), expected, "pages of {size}");
        }
        let mut normaliser = Normaliser::new(&config.fields, &config.status);
        normaliser.read(&[]);
        normaliser.read(&records);
        normaliser.read(&[]);
        assert_eq!(normaliser.finish(), expected, "with empty pages");
    }

    #[test]
    fn cheap_text_checks_agree_with_counting_every_character() {
        let path = FieldPath::parse("$.x").unwrap();
        let values = [
            "plain".to_string(),
            "tab\there".to_string(),
            "del\u{7f}".to_string(),
            "c1 \u{85} control".to_string(),
            "é".repeat(600),
            "é".repeat(MAX_VALUE_CHARS + 1),
            "x".repeat(MAX_VALUE_CHARS),
            "x".repeat(MAX_VALUE_CHARS + 1),
            "ünïcödé ✓".to_string(),
            "gnp\u{202E}txt.exe".to_string(),
            "zero\u{200B}width".to_string(),
        ];
        for value in values {
            let refused = value
                .chars()
                .find_map(|c| refused_character(c).map(|k| (c, k)));
            let expected = if let Some((c, kind)) = refused {
                Err(format!(
                    "the value contains {kind} (U+{:04X})",
                    u32::from(c)
                ))
            } else if value.chars().count() > MAX_VALUE_CHARS {
                Err(format!(
                    "the value is {} characters long, over the {MAX_VALUE_CHARS} hrsync accepts",
                    value.chars().count()
                ))
            } else {
                Ok(Some(Cow::Borrowed(value.as_str())))
            };
            let node = json!(value);
            assert_eq!(scalar_text(&node, &path), expected, "{value:?}");
        }
        assert_eq!(scalar_text(&json!(true), &path), Ok(Some("true".into())));
        assert_eq!(scalar_text(&json!(-1.5), &path), Ok(Some("-1.5".into())));
    }
}
