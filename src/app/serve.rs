//! The endpoints of `hrsync run`: `GET /metrics` (Prometheus text) and `GET /healthz` (200 while
//! the last run succeeded and no run is overdue, 503 otherwise), served by [`super::http`] with
//! its connection cap and timeouts. Both are unauthenticated: they show counts, times and exit
//! codes, never a message from HR or the directory (which can quote a server's answer).

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use chrono::{DateTime, Utc};

use super::clock::Clock;
use super::cycle::CycleReport;
use super::http::{self, Reply, reply};
use crate::metrics::{Totals, render};

/// What `/healthz` and `/metrics` show between runs.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The last run that finished.
    pub(crate) last: Option<CycleReport>,
    /// When the last successful run finished.
    pub(crate) last_success: Option<DateTime<Utc>>,
    /// Runs by result since the start (`success`, `failure`), for counters.
    pub(crate) runs: std::collections::BTreeMap<&'static str, u64>,
    /// When the next run must have finished to count as on time (its due time plus the grace).
    pub(crate) due_by: Option<DateTime<Utc>>,
    /// A run is under way.
    pub(crate) running: bool,
    /// Failed runs since the last success.
    pub(crate) failures_in_a_row: u32,
    /// `metrics.unhealthy_after_failures`: how many of those make `/healthz` unhealthy.
    pub(crate) unhealthy_after_failures: u32,
    /// With `[events]`: the endpoint's counters, and whether processing is paused.
    pub(crate) events: Option<Arc<std::sync::Mutex<crate::metrics::EventTotals>>>,
}

/// Binds `addr` (an error when it cannot) and serves in the background.
pub(crate) async fn start(
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    clock: Clock,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, "serving /metrics and /healthz");
    let handle = move |request: Request<Incoming>| {
        let state = state.clone();
        let clock = clock.clone();
        async move { answer(&request, &state, &clock).await }
    };
    tokio::spawn(http::serve(listener, http::Limits::default(), handle));
    Ok(local)
}

/// Why the last run failed, in the words `/healthz` may show: the exit code, the side that
/// failed and when.
fn failure(last: &CycleReport) -> String {
    let side = last
        .failed
        .map(|side| format!(", {side} failed"))
        .unwrap_or_default();
    format!(
        "the last run failed (exit code {}{side}) at {}",
        last.exit_code,
        last.finished.to_rfc3339()
    )
}

async fn answer(request: &Request<Incoming>, state: &Mutex<State>, clock: &Clock) -> Reply {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "only GET\n".to_string(),
        );
    }
    match request.uri().path() {
        "/metrics" => {
            let state = state.lock().await;
            let totals = Totals {
                runs: state.runs.clone(),
                up: true,
                events: state
                    .events
                    .as_deref()
                    .map(|e| super::events::worker::lock(e).clone()),
            };
            let text = render(state.last.as_ref().map(|r| &r.metrics), Some(&totals));
            drop(state);
            reply(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                text,
            )
        }
        "/healthz" => {
            let (status, body) = health(&*state.lock().await, clock());
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            reply(status, "application/json", body)
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_string(),
        ),
    }
}

/// 200 when the last run succeeded (or none has been due yet) and no run is overdue; 503
/// when the last run failed or a due run has not finished within the grace.
pub(crate) fn health(state: &State, now: chrono::DateTime<chrono::Utc>) -> (u16, String) {
    let last = state.last.as_ref();
    let overdue = state.due_by.is_some_and(|due_by| now > due_by);
    let events = state
        .events
        .as_deref()
        .map(|e| super::events::worker::lock(e).clone());
    let paused = events.as_ref().filter(|e| e.paused);
    let (status, reason) = match last {
        _ if paused.is_some() => (
            503,
            format!(
                "event processing is paused: {} account(s) disabled by events within \
                 events.window_secs tripped events.max_disables; review the audit log, then \
                 send SIGHUP (or restart) to resume",
                paused.map_or(0, |e| e.disables_in_window)
            ),
        ),
        Some(last)
            if !last.success()
                && state.failures_in_a_row >= state.unhealthy_after_failures.max(1) =>
        {
            (
                503,
                format!(
                    "{} ({} failed run(s) in a row; metrics.unhealthy_after_failures is {})",
                    failure(last),
                    state.failures_in_a_row,
                    state.unhealthy_after_failures
                ),
            )
        }
        _ if overdue => (
            503,
            "a due run has not finished within schedule.grace_secs".to_string(),
        ),
        Some(last) if !last.success() => (
            200,
            format!(
                "{} ({} of {} failed runs in a row before unhealthy)",
                failure(last),
                state.failures_in_a_row,
                state.unhealthy_after_failures
            ),
        ),
        Some(_) => (200, "the last run succeeded".to_string()),
        None => (200, "no run has been due yet".to_string()),
    };
    let body = serde_json::json!({
        "status": if status == 200 { "ok" } else { "unhealthy" },
        "reason": reason,
        "running": state.running,
        "last_run": last.map(|l| serde_json::json!({
            "run_id": l.run_id,
            "started": l.started.to_rfc3339(),
            "finished": l.finished.to_rfc3339(),
            "exit_code": l.exit_code,
            "failed": l.failed,
        })),
        "last_success": state.last_success.map(|t| t.to_rfc3339()),
        "next_due_by": state.due_by.map(|t| t.to_rfc3339()),
        "events": events.as_ref().map(|e| serde_json::json!({
            "paused": e.paused,
            "pending": e.pending,
            "window_disables": e.disables_in_window,
        })),
    });
    (status, format!("{body}\n"))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::app::cycle::CycleReport;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_790_000_000 + seconds, 0).unwrap()
    }

    fn report(exit_code: u8) -> CycleReport {
        CycleReport {
            run_id: "r".to_string(),
            started: at(0),
            finished: at(5),
            exit_code,
            failed: None,
            metrics: Default::default(),
        }
    }

    #[test]
    fn healthy_until_a_run_fails_or_is_overdue() {
        let mut state = State {
            due_by: Some(at(600)),
            ..State::default()
        };
        assert_eq!(health(&state, at(10)).0, 200, "no run due yet");
        assert_eq!(health(&state, at(601)).0, 503, "the first run is overdue");
        state.last = Some(report(0));
        assert_eq!(health(&state, at(10)).0, 200);
        let (status, body) = health(&state, at(700));
        assert_eq!(status, 503);
        assert!(body.contains("has not finished within schedule.grace_secs"));
        // One failure is not yet unhealthy (the default is two in a row); the second is.
        state.unhealthy_after_failures = 2;
        state.last = Some(report(3));
        state.failures_in_a_row = 1;
        let (status, body) = health(&state, at(10));
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("the last run failed (exit code 3)"), "{body}");
        assert!(body.contains("1 of 2 failed runs in a row"), "{body}");
        state.failures_in_a_row = 2;
        let (status, body) = health(&state, at(10));
        assert_eq!(status, 503);
        assert!(body.contains("the last run failed (exit code 3)"));
        assert!(body.contains("2 failed run(s) in a row"), "{body}");
        // A success starts the count again.
        state.last = Some(report(0));
        state.failures_in_a_row = 0;
        assert_eq!(health(&state, at(10)).0, 200);
        // With 1, the first failure is unhealthy, as before.
        state.unhealthy_after_failures = 1;
        state.last = Some(report(1));
        state.failures_in_a_row = 1;
        assert_eq!(health(&state, at(10)).0, 503);
    }
}
