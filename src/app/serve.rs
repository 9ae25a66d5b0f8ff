//! The small HTTP server of `hrsync run`: `GET /metrics` (Prometheus text) and `GET /healthz`
//! (200 while the last run succeeded and no run is overdue, 503 otherwise). HTTP/1.1 by hand on
//! tokio, one request per connection: two read-only endpoints need no more.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

use chrono::{DateTime, Utc};

use super::clock::Clock;
use super::cycle::CycleReport;
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
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let state = state.clone();
            let clock = clock.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(10), handle(stream, state, clock))
                    .await;
            });
        }
    });
    Ok(local)
}

async fn handle(
    mut stream: TcpStream,
    state: Arc<Mutex<State>>,
    clock: Clock,
) -> std::io::Result<()> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
        if buffer.len() > 16 * 1024 {
            return respond(&mut stream, 431, "text/plain", "request too large\n", false).await;
        }
    }
    let head = String::from_utf8_lossy(&buffer);
    let mut request_line = head.lines().next().unwrap_or("").split_whitespace();
    let method = request_line.next().unwrap_or("");
    let target = request_line.next().unwrap_or("");
    let path = target.split('?').next().unwrap_or("");
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return respond(&mut stream, 405, "text/plain", "only GET\n", false).await;
    }
    match path {
        "/metrics" => {
            let state = state.lock().await;
            let totals = Totals {
                runs: state.runs.clone(),
                up: true,
            };
            let text = render(state.last.as_ref().map(|r| &r.metrics), Some(&totals));
            drop(state);
            respond(
                &mut stream,
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                &text,
                head_only,
            )
            .await
        }
        "/healthz" => {
            let (status, body) = health(&*state.lock().await, clock());
            respond(&mut stream, status, "application/json", &body, head_only).await
        }
        _ => respond(&mut stream, 404, "text/plain", "not found\n", head_only).await,
    }
}

/// 200 when the last run succeeded (or none has been due yet) and no run is overdue; 503
/// when the last run failed or a due run has not finished within the grace.
pub(crate) fn health(state: &State, now: chrono::DateTime<chrono::Utc>) -> (u16, String) {
    let last = state.last.as_ref();
    let overdue = state.due_by.is_some_and(|due_by| now > due_by);
    let (status, reason) = match last {
        Some(last) if !last.success() => (
            503,
            format!("the last run failed (exit code {})", last.exit_code),
        ),
        _ if overdue => (
            503,
            "a due run has not finished within schedule.grace_secs".to_string(),
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
            "error": l.error,
        })),
        "last_success": state.last_success.map(|t| t.to_rfc3339()),
        "next_due_by": state.due_by.map(|t| t.to_rfc3339()),
    });
    (status, format!("{body}\n"))
}

async fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &str,
    head_only: bool,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    };
    let mut response = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    if !head_only {
        response.push_str(body);
    }
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
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
            error: None,
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
        state.last = Some(report(3));
        let (status, body) = health(&state, at(10));
        assert_eq!(status, 503);
        assert!(body.contains("the last run failed (exit code 3)"));
    }
}
