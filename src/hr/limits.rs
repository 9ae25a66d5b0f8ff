//! `[hr.limits]`: how much one HR read may hold and how long it may take. An HR system (or
//! something between it and hrsync) that answers without end (a body of gigabytes, next links
//! that never stop, a trickle that never finishes) must end the run with a clear error, not
//! exhaust the machine or hold the schedule: each cap stops the read, the run exits 1, and
//! nothing is changed.
//!
//! The defaults sit far above any real company and far below what the machine can hold: see
//! each key.

use std::time::Duration;

use serde::Deserialize;

use super::error::HrError;
use crate::problem::ConfigProblem;

/// `[hr.limits]`: caps on one HR read, for every source (an API, an export file); the
/// single-employee reads that confirm an absence have the byte cap and the deadline.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// The largest body hrsync reads, in bytes: each page of an API, each token answer, and an
    /// export file. Default 268435456 (256 MiB). A body is read as it streams in and dropped
    /// the moment it passes the cap (at once when its `Content-Length` says so). A parsed page
    /// takes about four times its size in memory, so the default keeps the worst page near
    /// 1 GiB; it holds about 600,000 employees of a source that answers everyone at once
    /// (BambooHR's report, HiBob's search, a Workday report) or of an export, and raising it is
    /// the way to read more in one answer.
    #[serde(default = "default_max_page_bytes")]
    pub max_page_bytes: u64,
    /// The most records one read may return, all pages together. Default 2000000: twice the
    /// largest employers there are. Each employee takes about 1.6 KB once read, so the default
    /// stops a runaway source near 3 GB; set it to about twice the company to stop one sooner.
    #[serde(default = "default_max_records")]
    pub max_records: u64,
    /// The most pages one read may request, a guard against an API that pages forever.
    /// Default 100000.
    #[serde(default = "default_max_pages")]
    pub max_pages: u64,
    /// Seconds the whole HR read may take, every page, token request, retry and wait included.
    /// Default 1800 (30 minutes: a million employees at Personio's or Deel's rate limits). A
    /// stuck or trickling source ends the run instead of holding the schedule.
    #[serde(default = "default_max_fetch_secs")]
    pub max_fetch_secs: u64,
}

fn default_max_page_bytes() -> u64 {
    256 * 1024 * 1024
}
fn default_max_records() -> u64 {
    2_000_000
}
fn default_max_pages() -> u64 {
    100_000
}
fn default_max_fetch_secs() -> u64 {
    1800
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_page_bytes: default_max_page_bytes(),
            max_records: default_max_records(),
            max_pages: default_max_pages(),
            max_fetch_secs: default_max_fetch_secs(),
        }
    }
}

impl LimitsConfig {
    pub(crate) fn validate(&self, problems: &mut Vec<ConfigProblem>) {
        for (key, value, unit) in [
            ("max_page_bytes", self.max_page_bytes, "byte"),
            ("max_records", self.max_records, "record"),
            ("max_pages", self.max_pages, "page"),
            ("max_fetch_secs", self.max_fetch_secs, "second"),
        ] {
            if value == 0 {
                problems.push(ConfigProblem::new(
                    format!("hr.limits.{key}"),
                    format!("must be at least 1 {unit}"),
                ));
            }
        }
    }

    /// The deadline of a whole read.
    pub(crate) fn fetch_deadline(&self) -> Duration {
        Duration::from_secs(self.max_fetch_secs)
    }

    /// The error of a read that ran past [`LimitsConfig::max_fetch_secs`]; `at` says what was
    /// being read.
    pub(crate) fn too_slow(&self, at: String) -> HrError {
        HrError::Limit {
            at,
            key: "max_fetch_secs",
            limit: self.max_fetch_secs,
            what: format!(
                "the HR read was not finished after {} s",
                self.max_fetch_secs
            ),
        }
    }

    /// The error of a body of more than [`LimitsConfig::max_page_bytes`]: `announced` is its
    /// `Content-Length`, when that is what told.
    pub(crate) fn too_large(&self, at: String, announced: Option<u64>) -> HrError {
        HrError::Limit {
            at,
            key: "max_page_bytes",
            limit: self.max_page_bytes,
            what: match announced {
                Some(length) => format!("the answer announces {length} bytes (Content-Length)"),
                None => format!(
                    "the answer went on past {} bytes and was dropped",
                    self.max_page_bytes
                ),
            },
        }
    }

    /// `Err` once more than [`LimitsConfig::max_records`] records have been read.
    pub(crate) fn check_records(
        &self,
        read: u64,
        at: impl FnOnce() -> String,
    ) -> Result<(), HrError> {
        if read <= self.max_records {
            return Ok(());
        }
        Err(HrError::Limit {
            at: at(),
            key: "max_records",
            limit: self.max_records,
            what: format!("{read} records have arrived so far"),
        })
    }
}

/// Runs `read` within the deadline of [`LimitsConfig::max_fetch_secs`].
pub(crate) async fn within_deadline<T>(
    limits: &LimitsConfig,
    at: impl FnOnce() -> String,
    read: impl Future<Output = Result<T, HrError>>,
) -> Result<T, HrError> {
    match tokio::time::timeout(limits.fetch_deadline(), read).await {
        Ok(result) => result,
        Err(_) => Err(limits.too_slow(at())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_refused_for_every_cap_naming_the_key() {
        let limits: LimitsConfig = toml::from_str(
            "max_page_bytes = 0\nmax_records = 0\nmax_pages = 0\nmax_fetch_secs = 0\n",
        )
        .unwrap();
        let mut problems = Vec::new();
        limits.validate(&mut problems);
        let keys: Vec<String> = problems.into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "hr.limits.max_page_bytes",
                "hr.limits.max_records",
                "hr.limits.max_pages",
                "hr.limits.max_fetch_secs"
            ]
        );
        let mut problems = Vec::new();
        LimitsConfig::default().validate(&mut problems);
        assert!(problems.is_empty());
    }

    #[test]
    fn a_record_over_the_cap_names_the_key_and_the_cap() {
        let limits = LimitsConfig {
            max_records: 3,
            ..LimitsConfig::default()
        };
        assert!(limits.check_records(3, || "x".into()).is_ok());
        let err = limits
            .check_records(4, || "GET x (page 2)".into())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "GET x (page 2): 4 records have arrived so far, more than hr.limits.max_records = 3 \
             allows; the HR read stopped and nothing is changed (if HR really holds this much, \
             raise hr.limits.max_records)"
        );
    }
}
