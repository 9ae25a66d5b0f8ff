//! `POST /events/<source>`: where HR systems deliver their webhooks.
//!
//! Each delivery is checked in this order, and refused at the first check it fails with a 4xx,
//! a log line and `hrsync_events_rejected_total{source,reason}`, having changed nothing: a
//! configured source (404), `POST` (405), the body within `events.max_body_bytes` (413), the
//! source's signature over the body and its timestamp within `events.replay_window_secs`
//! (400 for a missing or unreadable header, 401 for a wrong signature or a stale time), a
//! delivery not seen within the window (409), and a payload of the vendor's documented shape
//! naming employee ids (400). Only then are the ids queued, and the answer (202) goes out at
//! once: the sync happens after, in the worker ([`super::worker`]), from HR's own records.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};

use crate::app::http::{Reply, reply};
use crate::config::EventsConfig;
use crate::events::queue::Queue;
use crate::events::verify::{self, Rejected, Scheme, Seen};
use crate::metrics::EventTotals;

/// Distinct deliveries remembered for replay detection (within the window): far beyond any
/// HR system's rate, small in memory (an id and a time each).
const SEEN_CAPACITY: usize = 100_000;

/// One configured sender, its key read.
struct Source {
    kind: Scheme,
    key: Vec<u8>,
    employee_ids: Option<serde_json_path::JsonPath>,
}

/// What answers the deliveries.
pub(crate) struct Endpoint {
    sources: BTreeMap<String, Source>,
    max_body_bytes: usize,
    replay_window: Duration,
    seen: Mutex<Seen>,
    queue: Arc<Queue>,
    totals: Arc<Mutex<EventTotals>>,
    clock: crate::app::clock::Clock,
}

impl Endpoint {
    /// The endpoint of `config`, the sources' keys read now (an error names the source whose
    /// secret cannot be read).
    pub(crate) fn new(
        config: &EventsConfig,
        queue: Arc<Queue>,
        totals: Arc<Mutex<EventTotals>>,
        clock: crate::app::clock::Clock,
    ) -> Result<Self, String> {
        let mut sources = BTreeMap::new();
        for source in &config.sources {
            sources.insert(
                source.name.clone(),
                Source {
                    kind: source.kind,
                    key: source.key()?,
                    employee_ids: source.employee_ids.clone(),
                },
            );
        }
        Ok(Self {
            sources,
            max_body_bytes: config.max_body_bytes,
            replay_window: config.replay_window,
            seen: Mutex::new(Seen::new(config.replay_window * 2, SEEN_CAPACITY)),
            queue,
            totals,
            clock,
        })
    }

    /// The answer to one request.
    pub(crate) async fn answer(&self, request: Request<Incoming>) -> Reply {
        let found = request
            .uri()
            .path()
            .strip_prefix("/events/")
            .and_then(|name| self.sources.get_key_value(name));
        let Some((name, source)) = found else {
            // Not counted under the path's name: a scanner must not make up label values.
            return self.refuse(
                "unknown",
                "unknown_source",
                StatusCode::NOT_FOUND,
                "no such source",
            );
        };
        if request.method() != Method::POST {
            return self.refuse(name, "method", StatusCode::METHOD_NOT_ALLOWED, "only POST");
        }
        match self.read_body(name, request).await {
            Ok((headers, body)) => self.accept(name, source, &headers, &body),
            Err(refused) => refused,
        }
    }

    /// The request's headers and body, unless the body is over `max_body_bytes` (by its
    /// Content-Length, or while it is read) or cannot be read.
    async fn read_body(
        &self,
        name: &str,
        request: Request<Incoming>,
    ) -> Result<(hyper::HeaderMap, hyper::body::Bytes), Reply> {
        let declared = request
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|length| length > self.max_body_bytes as u64) {
            return Err(self.too_large(name));
        }
        let (parts, body) = request.into_parts();
        match Limited::new(body, self.max_body_bytes).collect().await {
            Ok(body) => Ok((parts.headers, body.to_bytes())),
            Err(error) if error.is::<http_body_util::LengthLimitError>() => {
                Err(self.too_large(name))
            }
            Err(_) => Err(self.refuse(name, "malformed", StatusCode::BAD_REQUEST, "body not read")),
        }
    }

    /// A delivery read whole: verified, new, and naming employees in the source's documented
    /// shape, or refused with the reason; the employees are queued.
    fn accept(
        &self,
        name: &str,
        source: &Source,
        headers: &hyper::HeaderMap,
        body: &[u8],
    ) -> Reply {
        if source.kind == Scheme::Hibob && crate::events::payload::is_ping(body) {
            tracing::info!(source = %name, "HiBob's connection check answered");
            return reply(StatusCode::OK, "text/plain", "ok\n".to_string());
        }
        let now = (self.clock)();
        let verified = match verify::verify(
            source.kind,
            &source.key,
            headers,
            body,
            now,
            self.replay_window,
        ) {
            Ok(verified) => verified,
            Err(rejected) => return self.rejected(name, &rejected),
        };
        if !self.first(&verified.delivery, now) {
            return self.refuse(
                name,
                "replay",
                StatusCode::CONFLICT,
                "this delivery was received before",
            );
        }
        let ids = match crate::events::payload::employee_ids(
            source.kind,
            body,
            source.employee_ids.as_ref(),
        ) {
            Ok(ids) => ids,
            Err(problem) => {
                tracing::warn!(source = %name, %problem, "event refused: payload not understood");
                return self.refuse(
                    name,
                    "malformed",
                    StatusCode::BAD_REQUEST,
                    "payload not understood",
                );
            }
        };
        self.queue.push(name, &ids, Instant::now());
        {
            let mut totals = self.lock_totals();
            *totals.accepted.entry(name.to_string()).or_default() += 1;
            totals.pending = self.queue.len();
        }
        tracing::info!(source = %name, employees = ids.len(), "event accepted");
        reply(
            StatusCode::ACCEPTED,
            "application/json",
            format!("{}\n", serde_json::json!({ "accepted": ids.len() })),
        )
    }

    /// Whether `delivery` is new within the window (and remembers it).
    fn first(&self, delivery: &str, now: DateTime<Utc>) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .first(delivery, now)
    }

    fn too_large(&self, name: &str) -> Reply {
        self.refuse(
            name,
            "too_large",
            StatusCode::PAYLOAD_TOO_LARGE,
            "body over events.max_body_bytes",
        )
    }

    fn rejected(&self, name: &str, rejected: &Rejected) -> Reply {
        let status = match rejected {
            Rejected::BadSignature | Rejected::Stale { .. } => StatusCode::UNAUTHORIZED,
            Rejected::MissingHeader(_) | Rejected::Malformed(_) => StatusCode::BAD_REQUEST,
        };
        tracing::warn!(source = %name, reason = rejected.reason(), "event refused: {rejected}");
        self.count(name, rejected.reason());
        reply(
            status,
            "text/plain",
            format!("refused: {}\n", rejected.reason()),
        )
    }

    /// A refusal for `reason`, logged and counted; the body says no more than the reason.
    fn refuse(&self, name: &str, reason: &'static str, status: StatusCode, why: &str) -> Reply {
        tracing::warn!(source = %name, reason, "event refused: {why}");
        self.count(name, reason);
        reply(status, "text/plain", format!("refused: {why}\n"))
    }

    fn count(&self, name: &str, reason: &'static str) {
        *self
            .lock_totals()
            .rejected
            .entry((name.to_string(), reason))
            .or_default() += 1;
    }

    fn lock_totals(&self) -> std::sync::MutexGuard<'_, EventTotals> {
        self.totals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
