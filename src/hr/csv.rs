//! CSV exports: the header row names the columns, and every other row becomes a JSON object
//! keyed by those names, so `[hr.fields]` maps columns with the same JSONPaths as JSON records:
//! `$.Email` or, for a name with spaces or punctuation, `$['Work Email']`. Every value is a
//! string; an empty cell is an empty string, which the fields read as absent.
//!
//! A row with a different number of cells than the header is malformed: its cells are kept by
//! position as far as the header goes (so its id can be named), and it is a
//! [`Record::Malformed`]; [`super::read`] then reports it and leaves it out, so its account is left
//! alone. It never makes anyone a leaver, and the other rows are read normally. A header that
//! names a column twice, or an empty header, fails the whole read.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::error::HrError;
use super::record::Record;

fn invalid(path: &Path, message: String) -> HrError {
    HrError::File {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, message),
    }
}

/// Reads a CSV export (UTF-8, with or without a byte order mark) into one record per row.
pub(crate) fn read(path: &Path, bytes: &[u8]) -> Result<Vec<Record>, HrError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| invalid(path, format!("the header row is not CSV: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if headers.is_empty() || headers.iter().all(String::is_empty) {
        return Err(invalid(path, "the header row is empty".into()));
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, name) in headers.iter().enumerate() {
        if name.is_empty() {
            return Err(invalid(path, format!("column {} has no name", i + 1)));
        }
        if let Some(first) = seen.insert(name, i) {
            return Err(invalid(
                path,
                format!(
                    "the header row names column {name:?} twice (columns {} and {}): which one \
                     holds the value would be a guess",
                    first + 1,
                    i + 1
                ),
            ));
        }
    }
    let mut records = Vec::new();
    for (row, result) in reader.records().enumerate() {
        records.push(row_record(&headers, row + 2, result));
    }
    Ok(records)
}

/// The record of the CSV row on `line`: malformed when its cells do not match the header.
fn row_record(
    headers: &[String],
    line: usize,
    result: Result<csv::StringRecord, csv::Error>,
) -> Record {
    let record = match result {
        Ok(record) => record,
        Err(e) => {
            return Record::Malformed {
                cells: Value::Object(Map::new()),
                problem: format!("CSV row {line} cannot be read ({e}); the row is left out"),
            };
        }
    };
    let mut object = Map::new();
    for (name, value) in headers.iter().zip(record.iter()) {
        object.insert(name.clone(), Value::String(value.to_string()));
    }
    if record.len() == headers.len() {
        return Record::Good(Value::Object(object));
    }
    Record::Malformed {
        cells: Value::Object(object),
        problem: format!(
            "CSV row {line} has {} cells where the header has {}; the row is left out",
            record.len(),
            headers.len()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read_str(text: &str) -> Result<Vec<Record>, HrError> {
        read(Path::new("hr.csv"), text.as_bytes())
    }

    fn good(value: Value) -> Record {
        Record::Good(value)
    }

    #[test]
    fn quoted_cells_keep_commas_quotes_and_newlines() {
        let records = read_str(
            "id,name,title\n1,\"Lovelace, Ada\",\"Lead\nEngineer\"\n2,\"Say \"\"hi\"\"\",x\n",
        )
        .unwrap();
        assert_eq!(
            records,
            [
                good(json!({"id": "1", "name": "Lovelace, Ada", "title": "Lead\nEngineer"})),
                good(json!({"id": "2", "name": "Say \"hi\"", "title": "x"}))
            ]
        );
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_column_name() {
        let records = read(
            Path::new("hr.csv"),
            b"\xEF\xBB\xBFid,status\r\n7,Active\r\n",
        )
        .unwrap();
        assert_eq!(records, [good(json!({"id": "7", "status": "Active"}))]);
    }

    #[test]
    fn a_malformed_row_is_marked_and_the_others_are_read() {
        let records = read_str("id,status\n1,Active\n2\n3,Active,extra\n4,Inactive\n").unwrap();
        assert_eq!(records.len(), 4);
        assert_eq!(records[0], good(json!({"id": "1", "status": "Active"})));
        let Record::Malformed { cells, problem } = &records[1] else {
            panic!("{:?}", records[1]);
        };
        assert_eq!(cells, &json!({"id": "2"}), "its id can still be named");
        assert!(problem.contains("row 3 has 1 cells"), "{problem}");
        assert!(matches!(&records[2], Record::Malformed { .. }));
        assert_eq!(records[3], good(json!({"id": "4", "status": "Inactive"})));
    }

    #[test]
    fn a_duplicate_column_name_fails_the_read() {
        let err = read_str("id,email,Email,email\n1,a,b,c\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("names column \"email\" twice (columns 2 and 4)"),
            "{err}"
        );
        assert!(read_str("").is_err(), "no header at all");
    }
}
