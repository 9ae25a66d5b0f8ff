//! The records a source gives, and the one reader that turns them into a snapshot.
//!
//! A REST source's records are all JSON objects; a CSV export can also hold rows that do not fit
//! their header. Such a row is a [`Record::Malformed`], a value of its own rather than a record
//! carrying a marker, so no key an HR system might send has a meaning to hrsync.

use std::collections::BTreeSet;

use serde_json::Value;

use super::fields::{self, FieldPaths, FieldsConfig, StatusConfig};
use super::normalize::{Normaliser, refused_character};
use crate::model::{HrSnapshot, RejectedRecord};

/// One record as the source gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A JSON object: an API's record, a record of a JSON export, or a CSV row keyed by its
    /// header.
    Good(Value),
    /// A CSV row that does not fit its header. It is reported (by id when its id cell is
    /// readable) and left out, so its account is left alone; it never makes anyone a leaver.
    Malformed {
        /// The row's cells by position as far as the header goes, so that its id can be named.
        cells: Value,
        /// What is wrong, for the report.
        problem: String,
    },
}

impl Record {
    /// The record's JSON: a malformed row's cells as far as they could be read.
    pub fn value(&self) -> &Value {
        match self {
            Self::Good(value) | Self::Malformed { cells: value, .. } => value,
        }
    }

    /// [`Record::value`], taken.
    pub fn into_value(self) -> Value {
        match self {
            Self::Good(value) | Self::Malformed { cells: value, .. } => value,
        }
    }
}

/// [`normalize`](super::normalize) page by page, plus the malformed rows: a malformed row is read
/// like any record (so that an id it shares with another record is still a duplicate), then its
/// own rejection replaces whatever its record gave.
pub(crate) struct Reader<'c> {
    normaliser: Normaliser<'c>,
    id_paths: Option<&'c FieldPaths>,
    /// The malformed rows, each with its rejection.
    malformed: Vec<RejectedRecord>,
}

impl<'c> Reader<'c> {
    pub(crate) fn new(fields: &'c FieldsConfig, status: &'c StatusConfig) -> Self {
        Self {
            normaliser: Normaliser::new(fields, status),
            id_paths: fields.get(fields::ID),
            malformed: Vec::new(),
        }
    }

    /// Reads a page of well-formed records.
    pub(crate) fn read_page(&mut self, records: &[Value]) {
        self.normaliser.read(records);
    }

    /// Reads records of which some may be malformed.
    pub(crate) fn read(&mut self, records: &[Record]) {
        for record in records {
            if let Record::Malformed { cells, problem } = record {
                let id = self
                    .id_paths
                    .and_then(|paths| paths.iter().find_map(|p| p.first(cells)))
                    .and_then(Value::as_str)
                    .filter(|id| {
                        !id.is_empty() && !id.chars().any(|c| refused_character(c).is_some())
                    })
                    .map(str::to_string);
                self.malformed.push(RejectedRecord {
                    id,
                    index: self.normaliser.next_index(),
                    problem: problem.clone(),
                });
            }
            self.normaliser.read(std::slice::from_ref(record.value()));
        }
    }

    /// The snapshot: a malformed row's own rejection replaces whatever its record gave, and an
    /// employee with the id of a malformed row is left out too.
    pub(crate) fn finish(self) -> HrSnapshot {
        let mut snapshot = self.normaliser.finish();
        if self.malformed.is_empty() {
            return snapshot;
        }
        let indexes: BTreeSet<usize> = self.malformed.iter().map(|m| m.index).collect();
        let ids: BTreeSet<&str> = self
            .malformed
            .iter()
            .filter_map(|m| m.id.as_deref())
            .collect();
        snapshot.rejected.retain(|r| !indexes.contains(&r.index));
        snapshot.employees.retain(|e| !ids.contains(e.id.as_str()));
        drop(ids);
        snapshot.rejected.extend(self.malformed);
        snapshot.rejected.sort_by_key(|r| r.index);
        snapshot
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hr::{HrConfig, normalize};

    /// Normalise the whole list, then let each malformed row replace what its record gave: what
    /// the reader did before it read page by page.
    fn malformed_whole_list(records: &[Record], config: &HrConfig) -> HrSnapshot {
        let values: Vec<Value> = records.iter().map(|r| r.value().clone()).collect();
        let mut snapshot = normalize(&values, &config.fields, &config.status);
        for (index, record) in records.iter().enumerate() {
            let Record::Malformed { cells, problem } = record else {
                continue;
            };
            let id = config
                .fields
                .get(fields::ID)
                .and_then(|paths| paths.iter().find_map(|p| p.first(cells)))
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty() && !id.chars().any(char::is_control))
                .map(str::to_string);
            snapshot.rejected.retain(|r| r.index != index);
            if let Some(id) = &id {
                snapshot.employees.retain(|e| &e.id != id);
            }
            snapshot.rejected.push(RejectedRecord {
                id,
                index,
                problem: problem.to_string(),
            });
        }
        snapshot.rejected.sort_by_key(|r| r.index);
        snapshot
    }

    #[test]
    fn malformed_rows_read_page_by_page_are_reported_as_in_the_whole_list() {
        let config: HrConfig = toml::from_str(
            "source = \"file\"\n[file]\npath = \"x.csv\"\n[fields]\nid = [\"$.id\", \"$.alt\"]\n\
             name = \"$.name\"\n[status]\npath = \"$.status\"\nactive = [\"Active\"]\n",
        )
        .unwrap();
        let row = |id: &str, malformed: bool| {
            let cells = serde_json::json!({"id": id, "name": "N", "status": "Active"});
            if malformed {
                Record::Malformed {
                    cells,
                    problem: "row 3 has 2 cells, the header 3".into(),
                }
            } else {
                Record::Good(cells)
            }
        };
        let with = |record: Record, key: &str, value: &str| match record {
            Record::Good(mut cells) => {
                cells[key] = value.into();
                Record::Good(cells)
            }
            Record::Malformed { mut cells, problem } => {
                cells[key] = value.into();
                Record::Malformed { cells, problem }
            }
        };
        let mut records = Vec::new();
        for i in 0..24 {
            records.push(match i % 6 {
                // Malformed, and an id a good row also has (a duplicate anyway).
                0 => row("twin", i == 12),
                1 => row(&format!("m{i}"), true),
                // Malformed without a readable id on the first path, but one on the fallback.
                2 if i == 8 => with(row("", true), "alt", "alt-8"),
                3 => with(row(&format!("bad{i}"), false), "status", "??"),
                _ => row(&format!("ok{i}"), false),
            });
        }
        let expected = malformed_whole_list(&records, &config);
        assert!(
            expected
                .rejected
                .iter()
                .filter(|r| r.problem.starts_with("row 3"))
                .count()
                >= 5,
            "{expected:?}"
        );
        for size in 1..=records.len() {
            let mut reader = Reader::new(&config.fields, &config.status);
            for page in records.chunks(size) {
                reader.read(page);
            }
            assert_eq!(reader.finish(), expected, "pages of {size}");
        }
    }

    #[test]
    fn a_key_an_hr_system_sends_has_no_meaning_to_the_reader() {
        let config: HrConfig = toml::from_str(
            "source = \"rest\"\n[fields]\nid = \"$.id\"\n[status]\npath = \"$.status\"\n\
             active = [\"Active\"]\n",
        )
        .unwrap();
        let record = serde_json::json!({
            "id": "1", "status": "Active", "_hrsync_malformed_row": "spoofed"
        });
        let mut reader = Reader::new(&config.fields, &config.status);
        reader.read_page(&[record]);
        let snapshot = reader.finish();
        assert_eq!(snapshot.employees.len(), 1);
        assert_eq!(snapshot.rejected, []);
    }
}
