//! The file source: a JSON or CSV export of the HR system, or a dump written by
//! `--dump-hr`, for offline runs, replays and the demo.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::error::{HrError, Origin};
use super::limits::LimitsConfig;
use super::record::Record;
use super::{check_pointer, take_records};
use crate::problem::ConfigProblem;

/// `[hr.file]`: read employees from a file instead of an API.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The export, such as `deploy/demo/hr.json`. A relative path is relative to the
    /// working directory unless the config loader rebases it (see
    /// [`super::HrConfig::resolve_relative_paths`]).
    pub path: PathBuf,
    /// JSON Pointer (RFC 6901) to the array of records: `/employees`, `/records` for a dump
    /// written by `--dump-hr`, or `""` (the default) when the file is the array itself. Must be
    /// `""` for CSV.
    #[serde(default)]
    pub records: String,
    /// `"json"` or `"csv"`. Default: `"csv"` when the path ends in `.csv`, `"json"` otherwise.
    /// In a CSV file the header row names the columns and each row becomes a JSON object keyed
    /// by them, so `[hr.fields]` maps a column as `$.Column` (or `$['Column name']`).
    pub format: Option<FileFormat>,
}

/// The format of an export file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    Json,
    Csv,
}

impl FileConfig {
    /// The format: explicit, or from the file name's extension.
    pub fn format(&self) -> FileFormat {
        self.format.unwrap_or_else(|| {
            let csv = self
                .path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
            if csv {
                FileFormat::Csv
            } else {
                FileFormat::Json
            }
        })
    }

    pub(crate) fn validate(&self, problems: &mut Vec<ConfigProblem>) {
        if self.path.as_os_str().is_empty() {
            problems.push(ConfigProblem::new(
                "hr.file.path",
                "must name a JSON or CSV file",
            ));
        }
        if self.format() == FileFormat::Csv && !self.records.is_empty() {
            problems.push(ConfigProblem::new(
                "hr.file.records",
                "must be \"\" (or left out) for a CSV file: every row is a record",
            ));
        }
        if let Err(message) = check_pointer(&self.records) {
            problems.push(ConfigProblem::new("hr.file.records", message));
        }
    }
}

/// Reads the export's records, within the caps of `[hr.limits]`: `max_page_bytes` for the file,
/// `max_records` for its records.
pub(crate) async fn read_records(
    config: &FileConfig,
    limits: &LimitsConfig,
) -> Result<Vec<Record>, HrError> {
    let at = Origin::File(config.path.clone());
    let bytes = read_capped(&config.path, limits, &at).await?;
    let records = if config.format() == FileFormat::Csv {
        let records = super::csv::read(&config.path, &bytes)?;
        tracing::info!(records = records.len(), path = %config.path.display(), "HR records read from CSV file");
        records
    } else {
        read_json(config, &bytes, &at)?
    };
    limits.check_records(records.len() as u64, || at.to_string())?;
    Ok(records)
}

/// The file's bytes, or an error once there are more than `max_page_bytes`. The file is read
/// through the cap rather than by its size: a named pipe, a device or a file still being written
/// has none to trust.
async fn read_capped(path: &Path, limits: &LimitsConfig, at: &Origin) -> Result<Vec<u8>, HrError> {
    use tokio::io::AsyncReadExt;
    let failed = |source| HrError::File {
        path: path.to_path_buf(),
        source,
    };
    let file = tokio::fs::File::open(path).await.map_err(failed)?;
    let mut bytes = Vec::new();
    file.take(limits.max_page_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .await
        .map_err(failed)?;
    if bytes.len() as u64 > limits.max_page_bytes {
        return Err(HrError::Limit {
            at: at.to_string(),
            key: "max_page_bytes",
            limit: limits.max_page_bytes,
            what: format!("the file is larger than {} bytes", limits.max_page_bytes),
        });
    }
    Ok(bytes)
}

/// The records of a JSON export (or of a dump, malformed rows included).
fn read_json(config: &FileConfig, bytes: &[u8], at: &Origin) -> Result<Vec<Record>, HrError> {
    let mut body: Value = serde_json::from_slice(bytes).map_err(|e| HrError::NotJson {
        at: at.clone(),
        content_type: None,
        detail: e.to_string(),
    })?;
    let mut malformed = replayed_malformed(&body, &config.records);
    let records = take_records(&mut body, &config.records, at)?;
    tracing::info!(records = records.len(), path = %config.path.display(), "HR records read from file");
    let records =
        records
            .into_iter()
            .enumerate()
            .map(|(index, value)| match malformed.remove(&index) {
                Some(problem) => Record::Malformed {
                    cells: value,
                    problem,
                },
                None => Record::Good(value),
            });
    Ok(records.collect())
}

/// Where a dump (see [`super::dump`]) names the malformed CSV rows of its source: beside the
/// records, as `"malformed": [{"index", "problem"}]`, written only when there are any.
pub(crate) const DUMP_MALFORMED: &str = "malformed";

/// The malformed rows of the records, as a dump lists them.
pub(crate) fn dumped_malformed(records: &[Record]) -> Vec<Value> {
    let malformed = records.iter().enumerate().filter_map(|(index, record)| {
        let Record::Malformed { problem, .. } = record else {
            return None;
        };
        Some(serde_json::json!({"index": index, "problem": problem}))
    });
    malformed.collect()
}

/// The malformed rows a dump lists, by index, when `body` is a dump read at its records: a row
/// that was malformed when it was fetched is malformed on replay too, so a replay plans as the
/// live run did.
fn replayed_malformed(body: &Value, pointer: &str) -> BTreeMap<usize, String> {
    if pointer != "/records" || body.get("hrsync_dump").is_none() {
        return BTreeMap::new();
    }
    let listed = body.get(DUMP_MALFORMED).and_then(Value::as_array);
    let rows = listed.into_iter().flatten().filter_map(|row| {
        let index = usize::try_from(row.get("index")?.as_u64()?).ok()?;
        Some((index, row.get("problem")?.as_str()?.to_string()))
    });
    rows.collect()
}
