//! The file source: a JSON export of the HR system, for offline runs, replays and the demo.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use super::error::{HrError, Origin};
use super::{check_pointer, take_records};
use crate::config::ConfigProblem;

/// `[hr.file]`: read employees from a JSON file instead of an API.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The JSON export, such as `deploy/demo/hr.json`. A relative path is relative to the
    /// working directory unless the config loader rebases it (see
    /// [`super::HrConfig::resolve_relative_paths`]).
    pub path: PathBuf,
    /// JSON Pointer (RFC 6901) to the array of records: `/employees`, or `""` when the file
    /// is the array itself.
    pub records: String,
}

impl FileConfig {
    pub(crate) fn validate(&self, problems: &mut Vec<ConfigProblem>) {
        if self.path.as_os_str().is_empty() {
            problems.push(ConfigProblem::new("hr.file.path", "must name a JSON file"));
        }
        if let Err(message) = check_pointer(&self.records) {
            problems.push(ConfigProblem::new("hr.file.records", message));
        }
    }
}

pub(crate) async fn read_records(config: &FileConfig) -> Result<Vec<Value>, HrError> {
    let bytes = tokio::fs::read(&config.path)
        .await
        .map_err(|source| HrError::File {
            path: config.path.clone(),
            source,
        })?;
    let at = Origin::File(config.path.clone());
    let mut body: Value = serde_json::from_slice(&bytes).map_err(|e| HrError::NotJson {
        at: at.clone(),
        content_type: None,
        detail: e.to_string(),
    })?;
    let records = take_records(&mut body, &config.records, &at)?;
    tracing::info!(records = records.len(), path = %config.path.display(), "HR records read from file");
    Ok(records)
}
