//! `[metrics]`: where the metrics of a run go (a textfile, a Pushgateway) and where
//! `hrsync run` serves them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::problem::ConfigProblem;

/// `[metrics]`: Prometheus text format.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetrics {
    /// Write the metrics of each run to this file, atomically (node_exporter textfile
    /// collector: a `.prom` file in its directory).
    textfile: Option<PathBuf>,
    /// Push the metrics of each run to this Pushgateway (`http://host:9091`).
    pushgateway: Option<String>,
    /// The Pushgateway job name (default `hrsync`).
    pushgateway_job: Option<String>,
    /// `hrsync run` only: serve `/metrics` and `/healthz` on this address (`127.0.0.1:9464`).
    listen: Option<String>,
    /// `/healthz` turns unhealthy after this many failed runs in a row (one failure, say a
    /// directory restarting, is retried by the next run and pages nobody).
    #[serde(default = "default_unhealthy_after_failures")]
    unhealthy_after_failures: u32,
}

fn default_unhealthy_after_failures() -> u32 {
    2
}

/// The validated `[metrics]`.
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    pub textfile: Option<PathBuf>,
    /// The full URL to push to (`.../metrics/job/NAME`).
    pub pushgateway: Option<String>,
    pub(crate) listen: Option<SocketAddr>,
    /// Failed runs in a row that make `/healthz` unhealthy.
    pub(crate) unhealthy_after_failures: u32,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            textfile: None,
            pushgateway: None,
            listen: None,
            unhealthy_after_failures: default_unhealthy_after_failures(),
        }
    }
}

impl RawMetrics {
    /// `dir` is the config file's directory, which a relative `textfile` is read against.
    pub(crate) fn validate(self, dir: &Path, problems: &mut Vec<ConfigProblem>) -> MetricsConfig {
        let mut out = MetricsConfig {
            textfile: self.textfile.map(|f| dir.join(f)),
            unhealthy_after_failures: self.unhealthy_after_failures,
            ..MetricsConfig::default()
        };
        if !(1..=100).contains(&self.unhealthy_after_failures) {
            problems.push(ConfigProblem::new(
                "metrics.unhealthy_after_failures",
                "must be 1 to 100",
            ));
        }
        if let Some(url) = self.pushgateway {
            out.pushgateway = pushgateway(&url, self.pushgateway_job.as_deref(), problems);
        }
        if let Some(listen) = self.listen {
            match listen.parse::<SocketAddr>() {
                Ok(addr) => out.listen = Some(addr),
                Err(_) => problems.push(ConfigProblem::new(
                    "metrics.listen",
                    format!("\"{listen}\" is not an address and port like 127.0.0.1:9464"),
                )),
            }
        }
        out
    }
}

/// The URL the metrics are pushed to, for the Pushgateway at `url` and the job name.
fn pushgateway(url: &str, job: Option<&str>, problems: &mut Vec<ConfigProblem>) -> Option<String> {
    let job = job.unwrap_or("hrsync");
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        problems.push(ConfigProblem::new(
            "metrics.pushgateway",
            format!("\"{url}\" must be an http:// or https:// URL"),
        ));
        None
    } else if job.is_empty() || job.contains('/') {
        problems.push(ConfigProblem::new(
            "metrics.pushgateway_job",
            "must be a non-empty name without '/'",
        ));
        None
    } else {
        Some(format!("{}/metrics/job/{job}", url.trim_end_matches('/')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(text: &str) -> (MetricsConfig, Vec<String>) {
        let raw: RawMetrics = toml::from_str(text).unwrap();
        let mut problems = Vec::new();
        let config = raw.validate(Path::new("/etc/hrsync"), &mut problems);
        (config, problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn the_job_name_ends_the_push_url_and_a_relative_textfile_is_read_against_the_config() {
        let (config, problems) = validate(
            "textfile = \"hrsync.prom\"\npushgateway = \"https://pg:9091\"\npushgateway_job = \"hr\"",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            config.textfile,
            Some(PathBuf::from("/etc/hrsync/hrsync.prom"))
        );
        assert_eq!(
            config.pushgateway.as_deref(),
            Some("https://pg:9091/metrics/job/hr")
        );
        assert_eq!(config.listen, None);
    }

    #[test]
    fn a_job_name_with_a_slash_is_refused() {
        for job in ["", "a/b"] {
            let (config, problems) = validate(&format!(
                "pushgateway = \"http://pg:9091\"\npushgateway_job = \"{job}\""
            ));
            assert_eq!(config.pushgateway, None);
            assert_eq!(
                problems,
                ["metrics.pushgateway_job: must be a non-empty name without '/'"]
            );
        }
    }
}
