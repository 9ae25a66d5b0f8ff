//! Retries for HR API requests: connection errors, timeouts, answers cut short (a reset or a
//! close before the body is complete), HTTP 429 and 5xx (except 501) are tried again with
//! exponential backoff and full jitter, honouring `Retry-After`, within a bounded number of
//! attempts and a bounded time. Anything else (401, 403, 404, other 4xx, a body that arrived
//! whole and is not what was expected) fails at once: trying again cannot fix it.

use std::future::Future;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{DATE, HeaderMap, RETRY_AFTER};
use serde::Deserialize;

use super::error::HrError;
use crate::problem::ConfigProblem;

/// `[hr.rest.retry]`: how hard to try when the HR API is briefly unavailable or throttles.
/// Connection errors, timeouts, answers cut short, HTTP 429 and HTTP 5xx (but not 501) are
/// retried; every other failure ends the fetch at once.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts per request, the first one included. Default 4; 1 turns retries off.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Upper bound of the wait before the first retry, in milliseconds. Default 500. Each
    /// further retry doubles the bound, up to `max_backoff_ms`; the actual wait is a random
    /// time below the bound ("full jitter"), so many clients do not retry in step.
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    /// Largest bound for one wait, in milliseconds. Default 10000. A `Retry-After` from the
    /// server is honoured as given, within `max_total_secs`.
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// Seconds one request may take with all its retries and waits. Default 60. A server that
    /// asks (with `Retry-After`) to wait longer than what is left ends the fetch with an error
    /// that names the wait.
    #[serde(default = "default_max_total_secs")]
    pub max_total_secs: u64,
}

fn default_max_attempts() -> u32 {
    4
}
fn default_initial_backoff_ms() -> u64 {
    500
}
fn default_max_backoff_ms() -> u64 {
    10_000
}
fn default_max_total_secs() -> u64 {
    60
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: default_max_attempts(),
            initial_backoff_ms: default_initial_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
            max_total_secs: default_max_total_secs(),
        }
    }
}

impl RetryConfig {
    pub(crate) fn validate(&self, problems: &mut Vec<ConfigProblem>) {
        if self.max_attempts == 0 {
            problems.push(ConfigProblem::new(
                "hr.rest.retry.max_attempts",
                "must be at least 1 (1 = no retries)",
            ));
        }
        if self.max_total_secs == 0 {
            problems.push(ConfigProblem::new(
                "hr.rest.retry.max_total_secs",
                "must be at least 1 second",
            ));
        }
        if self.max_backoff_ms < self.initial_backoff_ms {
            problems.push(ConfigProblem::new(
                "hr.rest.retry.max_backoff_ms",
                "must not be smaller than initial_backoff_ms",
            ));
        }
    }

    /// The random wait before retry number `retry` (1 = the first retry).
    fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u64
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u64::MAX);
        let bound = self
            .initial_backoff_ms
            .saturating_mul(factor)
            .min(self.max_backoff_ms);
        let random = getrandom::u64().unwrap_or(u64::MAX);
        let millis = if bound == 0 { 0 } else { random % (bound + 1) };
        Duration::from_millis(millis)
    }
}

/// Why one attempt failed, and whether another may succeed.
pub(crate) struct Failure {
    pub error: HrError,
    /// `None`: do not retry. `Some(None)`: retry after a backoff. `Some(Some(wait))`: the
    /// server asked for this wait (`Retry-After`).
    pub retry: Option<Option<Duration>>,
}

impl Failure {
    pub(crate) fn fatal(error: HrError) -> Self {
        Self { error, retry: None }
    }

    pub(crate) fn retryable(error: HrError, after: Option<Duration>) -> Self {
        Self {
            error,
            retry: Some(after),
        }
    }
}

/// Whether an HTTP status is worth another attempt: 429 and 5xx other than 501.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || (status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED)
}

/// Whether a reqwest error sending a request (no answer) is worth another attempt. A body cut
/// short is always worth one: see `body::read_capped`.
pub(crate) fn is_retryable_error(error: &reqwest::Error) -> bool {
    !(error.is_builder() || error.is_redirect() || error.is_decode())
}

/// The wait a `Retry-After` header asks for: delay-seconds, or an HTTP-date measured against
/// the answer's own `Date` header (the server's clock, so clock skew does not matter; without
/// a `Date`, the usual backoff applies).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = |value: &str| chrono::DateTime::parse_from_rfc2822(value.trim()).ok();
    let until = date(value)?;
    let now = date(headers.get(DATE)?.to_str().ok()?)?;
    Some((until - now).to_std().unwrap_or(Duration::ZERO))
}

/// Runs `attempt` until it succeeds, fails for good, or the attempts or time run out. The
/// error that ends it is the last failure, with the number of attempts noted.
pub(crate) async fn with_retries<T, F, Fut>(
    config: &RetryConfig,
    mut attempt: F,
) -> Result<T, HrError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let started = Instant::now();
    let budget = Duration::from_secs(config.max_total_secs);
    let mut attempts: u32 = 1;
    loop {
        let failure = match attempt().await {
            Ok(value) => return Ok(value),
            Err(failure) => failure,
        };
        let Some(asked) = failure.retry else {
            return Err(failure.error);
        };
        if attempts >= config.max_attempts {
            return Err(failure.error.after_attempts(attempts));
        }
        let remaining = budget.saturating_sub(started.elapsed());
        let wait = match asked {
            Some(wait) if wait > remaining => {
                return Err(HrError::RetryAfterTooLong {
                    source_error: Box::new(failure.error.after_attempts(attempts)),
                    wait_secs: wait.as_secs_f64().ceil() as u64,
                    remaining_secs: remaining.as_secs(),
                });
            }
            Some(wait) => wait,
            None => config.backoff(attempts),
        };
        if wait >= remaining {
            return Err(failure.error.after_attempts(attempts));
        }
        tracing::warn!(
            attempt = attempts,
            wait_ms = wait.as_millis() as u64,
            error = %failure.error,
            "HR API request failed; retrying"
        );
        tokio::time::sleep(wait).await;
        attempts += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_is_bounded_and_grows() {
        let config = RetryConfig {
            max_attempts: 10,
            initial_backoff_ms: 100,
            max_backoff_ms: 1000,
            max_total_secs: 60,
        };
        for _ in 0..50 {
            assert!(config.backoff(1) <= Duration::from_millis(100));
            assert!(config.backoff(3) <= Duration::from_millis(400));
            assert!(config.backoff(40) <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&headers), None, "no Date to measure against");
        headers.insert(
            DATE,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:07 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(30)));
        headers.insert(
            DATE,
            HeaderValue::from_static("Sun, 06 Nov 1994 09:00:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn statuses() {
        assert!(is_retryable_status(StatusCode::TOO_MANY_REQUESTS));
        assert!(is_retryable_status(StatusCode::SERVICE_UNAVAILABLE));
        assert!(!is_retryable_status(StatusCode::NOT_IMPLEMENTED));
        assert!(!is_retryable_status(StatusCode::UNAUTHORIZED));
        assert!(!is_retryable_status(StatusCode::BAD_REQUEST));
    }
}
