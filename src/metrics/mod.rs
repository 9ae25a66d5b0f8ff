//! Metrics of a run in the Prometheus text format: written atomically to a file for the
//! node_exporter textfile collector, pushed to a Pushgateway, and served on `/metrics` by
//! `hrsync run`. The names are an API (see docs/src/observability.md, "Metrics").

pub(crate) mod config;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::journal::Journal;
use crate::plan::Plan;

pub(crate) use config::MetricsConfig;

/// What one run did, in numbers.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunMetrics {
    /// Changes by (kind, result): kind is the plan action (`create`, `add_to_group`...) or the
    /// group action (`add_placeholder`...), result `applied`, `already_done`, `failed`,
    /// `not_attempted`, or `planned` when nothing was applied.
    pub(crate) changes: BTreeMap<(String, &'static str), u64>,
    /// Accounts with changes, by lifecycle (`joiner`, `mover`...).
    pub(crate) accounts: BTreeMap<&'static str, u64>,
    /// Accounts read from the directory.
    pub(crate) accounts_seen: Option<u64>,
    pub(crate) hr_records: Option<u64>,
    pub(crate) hr_rejected: Option<u64>,
    pub(crate) limits_tripped: u64,
    pub(crate) hook_calls: u64,
    pub(crate) hook_failures: u64,
    /// The audit log could not be opened (nothing was applied) or stopped taking records (no
    /// change started after that).
    pub(crate) audit_failed: bool,
    pub(crate) started: Option<DateTime<Utc>>,
    pub(crate) duration_seconds: f64,
    pub(crate) exit_code: u8,
    pub(crate) success: bool,
    /// The end of the last successful run, this one or an earlier one.
    pub(crate) last_success: Option<DateTime<Utc>>,
}

impl RunMetrics {
    /// Counts from the plan (accounts, HR) and, when the plan was applied, the results.
    pub(crate) fn record_plan(&mut self, plan: &Plan, hr_rejected: usize) {
        self.accounts_seen = Some(plan.summary.directory_accounts as u64);
        self.hr_records = Some(plan.summary.hr_records as u64);
        self.hr_rejected = Some(hr_rejected as u64);
        self.limits_tripped = plan.limits_tripped.len() as u64;
        for account in &plan.accounts {
            *self.accounts.entry(account.lifecycle.as_str()).or_default() += 1;
        }
    }

    /// The changes of a plan that was not applied, each counted as `planned`.
    pub(crate) fn record_planned(&mut self, plan: &Plan) {
        for entry in Journal::unapplied(plan).entries() {
            self.count(entry.kind(), "planned");
        }
    }

    /// What became of each change of an applied plan.
    pub(crate) fn record_applied(&mut self, journal: &Journal) {
        for entry in journal.entries() {
            self.count(entry.kind(), entry.result());
        }
    }

    fn count(&mut self, kind: &str, result: &'static str) {
        *self.changes.entry((kind.to_string(), result)).or_default() += 1;
    }
}

/// Counters of a long-running `hrsync run`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Totals {
    pub(crate) runs: BTreeMap<&'static str, u64>,
    pub(crate) up: bool,
    /// With `[events]`: what the events endpoint took, refused and did.
    pub(crate) events: Option<EventTotals>,
}

/// Counters of the events endpoint and its worker (see `crate::events`).
#[derive(Debug, Clone, Default)]
pub(crate) struct EventTotals {
    /// The configured sources, so that each has its series from the start (at 0).
    pub(crate) sources: Vec<String>,
    /// Deliveries accepted (202), by source.
    pub(crate) accepted: BTreeMap<String, u64>,
    /// Deliveries refused, by source and reason (see [`REJECT_REASONS`]).
    pub(crate) rejected: BTreeMap<(String, &'static str), u64>,
    /// Employees synced because of events, by result (`success`, `failure`, `given_up`).
    pub(crate) employees: BTreeMap<&'static str, u64>,
    /// Employees waiting to be synced.
    pub(crate) pending: usize,
    /// Accounts disabled by events within the window (`events.window_secs`).
    pub(crate) disables_in_window: usize,
    /// Event processing is paused: the window limit tripped.
    pub(crate) paused: bool,
}

/// Why the events endpoint refuses a delivery: each has its series.
pub(crate) const REJECT_REASONS: [&str; 8] = [
    "unknown_source",
    "method",
    "too_large",
    "missing_header",
    "signature",
    "stale",
    "replay",
    "malformed",
];

/// Results of an employee synced because of events.
const EMPLOYEE_RESULTS: [&str; 3] = ["success", "failure", "given_up"];

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn timestamp(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// The metrics of the last run (and, in `hrsync run`, the totals) as Prometheus text.
pub(crate) fn render(run: Option<&RunMetrics>, totals: Option<&Totals>) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "hrsync_build_info",
        "gauge",
        "Always 1; the labels say which hrsync this is.",
    );
    let _ = writeln!(
        out,
        "hrsync_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(run) = run {
        render_run(&mut out, run);
    }
    if let Some(totals) = totals {
        family(
            &mut out,
            "hrsync_runs_total",
            "counter",
            "Runs since hrsync run started, by result.",
        );
        for result in ["success", "failure"] {
            let _ = writeln!(
                out,
                "hrsync_runs_total{{result=\"{result}\"}} {}",
                totals.runs.get(result).copied().unwrap_or(0)
            );
        }
        family(&mut out, "hrsync_up", "gauge", "1 while hrsync run is up.");
        let _ = writeln!(out, "hrsync_up {}", u64::from(totals.up));
        if let Some(events) = &totals.events {
            render_events(&mut out, events);
        }
    }
    out
}

/// The events endpoint's series, each source and reason present from the start.
fn render_events(out: &mut String, events: &EventTotals) {
    family(
        out,
        "hrsync_events_accepted_total",
        "counter",
        "Webhook deliveries accepted (signature, time and body checked), by source.",
    );
    for source in &events.sources {
        let _ = writeln!(
            out,
            "hrsync_events_accepted_total{{source=\"{}\"}} {}",
            escape(source),
            events.accepted.get(source).copied().unwrap_or(0)
        );
    }
    family(
        out,
        "hrsync_events_rejected_total",
        "counter",
        "Webhook deliveries refused, by source and reason; none changed anything.",
    );
    let mut sources: Vec<&str> = events.sources.iter().map(String::as_str).collect();
    for (source, _) in events.rejected.keys() {
        if !sources.contains(&source.as_str()) {
            sources.push(source);
        }
    }
    for source in sources {
        for reason in REJECT_REASONS {
            let _ = writeln!(
                out,
                "hrsync_events_rejected_total{{source=\"{}\",reason=\"{reason}\"}} {}",
                escape(source),
                events
                    .rejected
                    .get(&(source.to_string(), reason))
                    .copied()
                    .unwrap_or(0)
            );
        }
    }
    family(
        out,
        "hrsync_events_employees_total",
        "counter",
        "Employees synced because of events, by result (given_up: HR could not be read after \
         every retry; left to the next full run).",
    );
    for result in EMPLOYEE_RESULTS {
        let _ = writeln!(
            out,
            "hrsync_events_employees_total{{result=\"{result}\"}} {}",
            events.employees.get(result).copied().unwrap_or(0)
        );
    }
    for (name, help, value) in [
        (
            "hrsync_events_pending",
            "Employees named by events and not yet synced.",
            events.pending,
        ),
        (
            "hrsync_events_window_disables",
            "Accounts disabled by events within events.window_secs.",
            events.disables_in_window,
        ),
        (
            "hrsync_events_paused",
            "1 when event processing is paused (the window limit tripped) until SIGHUP or a \
             restart.",
            usize::from(events.paused),
        ),
    ] {
        family(out, name, "gauge", help);
        let _ = writeln!(out, "{name} {value}");
    }
}

fn render_run(out: &mut String, run: &RunMetrics) {
    render_changes(out, run);
    render_counts(out, run);
    render_times(out, run);
}

/// Changes by kind and result, accounts by lifecycle.
fn render_changes(out: &mut String, run: &RunMetrics) {
    family(
        out,
        "hrsync_run_changes",
        "gauge",
        "Changes of the last run by kind and result.",
    );
    // Every kind and result, at 0 when the run had none: a dashboard's series never vanish.
    for kind in crate::plan::Action::NAMES {
        for result in crate::journal::RESULTS {
            let count = run
                .changes
                .get(&(kind.to_string(), result))
                .copied()
                .unwrap_or(0);
            let _ = writeln!(
                out,
                "hrsync_run_changes{{kind=\"{kind}\",result=\"{result}\"}} {count}"
            );
        }
    }
    family(
        out,
        "hrsync_run_accounts_changed",
        "gauge",
        "Accounts with changes in the last run, by lifecycle.",
    );
    for lifecycle in crate::plan::Lifecycle::ALL.map(crate::plan::Lifecycle::as_str) {
        let count = run.accounts.get(lifecycle).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "hrsync_run_accounts_changed{{lifecycle=\"{lifecycle}\"}} {count}"
        );
    }
}

/// What was read, and how the run ended.
fn render_counts(out: &mut String, run: &RunMetrics) {
    for (name, help, value) in [
        (
            "hrsync_run_accounts_seen",
            "Accounts read from the directory in the last run.",
            run.accounts_seen,
        ),
        (
            "hrsync_run_hr_records",
            "HR records read in the last run (rejected ones included).",
            run.hr_records,
        ),
        (
            "hrsync_run_hr_records_rejected",
            "HR records that could not be read in the last run (left alone).",
            run.hr_rejected,
        ),
    ] {
        // 0 when the run never got to read it: the series never vanish.
        family(out, name, "gauge", help);
        let _ = writeln!(out, "{name} {}", value.unwrap_or(0));
    }
    for (name, help, value) in [
        (
            "hrsync_run_limits_tripped",
            "Safety limits the last run's plan went over.",
            run.limits_tripped,
        ),
        (
            "hrsync_run_hook_calls",
            "Hook calls made in the last run.",
            run.hook_calls,
        ),
        (
            "hrsync_run_hook_failures",
            "Hook calls of the last run that failed (after their retries).",
            run.hook_failures,
        ),
        (
            "hrsync_run_audit_failed",
            "1 when the last run's audit log could not be written (the run stopped before its first change, or started none after the failure), 0 otherwise.",
            u64::from(run.audit_failed),
        ),
        (
            "hrsync_run_exit_code",
            "The exit code the last run would have (0 ok, 1 could not run, 3 some changes failed, 4 limit tripped).",
            u64::from(run.exit_code),
        ),
        (
            "hrsync_run_success",
            "1 when the last run succeeded (exit code 0), 0 otherwise.",
            u64::from(run.success),
        ),
    ] {
        family(out, name, "gauge", help);
        let _ = writeln!(out, "{name} {value}");
    }
}

/// How long the run took, when it started, and when the last good one finished.
fn render_times(out: &mut String, run: &RunMetrics) {
    family(
        out,
        "hrsync_run_duration_seconds",
        "gauge",
        "How long the last run took.",
    );
    let _ = writeln!(
        out,
        "hrsync_run_duration_seconds {:.3}",
        run.duration_seconds
    );
    if let Some(started) = run.started {
        family(
            out,
            "hrsync_last_run_timestamp_seconds",
            "gauge",
            "When the last run started (Unix time).",
        );
        let _ = writeln!(
            out,
            "hrsync_last_run_timestamp_seconds {:.3}",
            timestamp(started)
        );
    }
    if let Some(success) = run.last_success {
        family(
            out,
            "hrsync_last_success_timestamp_seconds",
            "gauge",
            "When the last successful run finished (Unix time).",
        );
        let _ = writeln!(
            out,
            "hrsync_last_success_timestamp_seconds {:.3}",
            timestamp(success)
        );
    }
}

/// The `hrsync_last_success_timestamp_seconds` of an earlier textfile, so that a failed run
/// keeps the time of the last good one.
pub(crate) fn previous_success(path: &Path) -> Option<DateTime<Utc>> {
    let text = std::fs::read_to_string(path).ok()?;
    let value = text
        .lines()
        .find_map(|l| l.strip_prefix("hrsync_last_success_timestamp_seconds "))?;
    let seconds: f64 = value.trim().parse().ok()?;
    DateTime::<Utc>::from_timestamp_millis((seconds * 1000.0) as i64)
}

/// Writes the textfile through a temporary file in the same directory renamed into place, so
/// the collector never reads half a file, the way plans and dumps are written (an unguessable
/// temporary name created exclusively, no link followed, another user's file or a link at
/// `path` refused); mode 0644, as the collector usually runs as another user and the metrics
/// hold no personal data.
pub(crate) fn write_textfile(path: &Path, text: &str) -> std::io::Result<()> {
    crate::files::replace(path, text.as_bytes(), TEXTFILE_MODE)
}

/// The textfile's mode: readable by the collector.
const TEXTFILE_MODE: u32 = 0o644;

/// Pushes to the Pushgateway with PUT (replacing the group's earlier metrics).
pub(crate) async fn push(url: &str, text: String) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .put(url)
        .header("content-type", "text/plain; version=0.0.4")
        .body(text)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("the Pushgateway answered {}", response.status()))
    }
}

/// Writes and pushes as configured; problems are logged, never fatal (the directory work is
/// done by then).
pub(crate) async fn publish(config: &MetricsConfig, run: &RunMetrics) {
    let text = render(Some(run), None);
    if let Some(path) = &config.textfile {
        match write_textfile(path, &text) {
            Ok(()) => tracing::debug!(path = %path.display(), "metrics written"),
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "cannot write the metrics file")
            }
        }
    }
    if let Some(url) = &config.pushgateway {
        match push(url, text).await {
            Ok(()) => tracing::debug!("metrics pushed"),
            Err(e) => tracing::error!(error = %e, "cannot push the metrics to the Pushgateway"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text_and_reads_back_the_last_success() {
        let mut run = RunMetrics::default();
        run.changes.insert(("create".to_string(), "applied"), 2);
        run.changes
            .insert(("add_to_group".to_string(), "failed"), 1);
        run.accounts.insert("joiner", 2);
        run.hr_records = Some(10);
        run.hr_rejected = Some(1);
        run.accounts_seen = Some(7);
        run.duration_seconds = 1.5;
        run.exit_code = 3;
        run.audit_failed = true;
        let success = DateTime::<Utc>::from_timestamp(1_790_000_000, 250_000_000).unwrap();
        run.last_success = Some(success);
        let text = render(Some(&run), None);
        for line in [
            "hrsync_run_changes{kind=\"create\",result=\"applied\"} 2",
            "hrsync_run_changes{kind=\"add_to_group\",result=\"failed\"} 1",
            "hrsync_run_accounts_changed{lifecycle=\"joiner\"} 2",
            "hrsync_run_hr_records 10",
            "hrsync_run_hr_records_rejected 1",
            "hrsync_run_accounts_seen 7",
            "hrsync_run_duration_seconds 1.500",
            "hrsync_run_exit_code 3",
            "hrsync_run_audit_failed 1",
            "hrsync_run_success 0",
            "hrsync_last_success_timestamp_seconds 1790000000.250",
            "# TYPE hrsync_run_changes gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        assert!(!text.contains("hrsync_runs_total"));
        assert!(
            text.lines().any(|l| l
                == format!(
                    "hrsync_build_info{{version=\"{}\"}} 1",
                    env!("CARGO_PKG_VERSION")
                )),
            "{text}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hrsync.prom");
        write_textfile(&path, &text).unwrap();
        assert_eq!(previous_success(&path), Some(success));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["hrsync.prom"], "no temporary file is left");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o7777, TEXTFILE_MODE);
        }
    }

    /// A run that changed nothing (or never got to read) still has every series, at 0: a
    /// dashboard's panels and an alert's `absent()` never see them vanish.
    #[test]
    fn a_run_with_nothing_of_a_kind_still_has_its_series_at_zero() {
        let text = render(Some(&RunMetrics::default()), None);
        for kind in crate::plan::Action::NAMES {
            for result in crate::journal::RESULTS {
                let line = format!("hrsync_run_changes{{kind=\"{kind}\",result=\"{result}\"}} 0");
                assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
            }
        }
        for lifecycle in ["joiner", "mover", "leaver", "rehire", "return", "update"] {
            let line = format!("hrsync_run_accounts_changed{{lifecycle=\"{lifecycle}\"}} 0");
            assert!(text.lines().any(|l| l == line), "{line} missing");
        }
        for line in [
            "hrsync_run_accounts_seen 0",
            "hrsync_run_hr_records 0",
            "hrsync_run_hr_records_rejected 0",
            "hrsync_run_limits_tripped 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
    }
}
