//! One request of a fetch, with everything around it: pacing under `requests_per_minute`, the
//! credentials (and one fresh OAuth2 token when the API refuses the cached one), retries under
//! `[hr.rest.retry]`, the body read within `hr.limits.max_page_bytes`, and the error of an
//! answer that is not a 2xx, with the credentials taken out of its excerpt.

use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, LOCATION};
use secrecy::SecretString;
use serde_json::Value;

use super::auth::Auth;
use super::client::Session;
use super::config::HttpMethod;
use crate::hr::body::{BodyError, describe_cut, read_capped, read_prefix};
use crate::hr::error::{HrError, Origin, describe_reqwest, display_origin};
use crate::hr::retry::{
    Failure, is_retryable_error, is_retryable_status, retry_after, with_retries,
};

/// How much of an error answer's body is read, for the excerpt its error shows.
const ERROR_BODY_BYTES: usize = 64 * 1024;

/// What one request asks for, and how its errors name it.
pub(super) struct Target<'t> {
    pub(super) method: HttpMethod,
    pub(super) url: &'t Url,
    /// A JSON body, sent with a `POST`.
    pub(super) body: Option<&'t Value>,
    pub(super) at: Origin,
}

impl Session<'_> {
    /// Waits for the next request slot under `requests_per_minute`.
    pub(super) async fn pace(&self) {
        let Some(pacer) = &self.pacer else {
            return;
        };
        let mut next = pacer.next.lock().await;
        let now = tokio::time::Instant::now();
        if let Some(at) = *next {
            if at > now {
                tokio::time::sleep_until(at).await;
            }
        }
        *next = Some(next.map_or(now, |at| at.max(now)) + pacer.interval);
    }

    /// One page of the list: [`Session::send`] with the list's method.
    pub(super) async fn get(
        &self,
        url: &Url,
        body: Option<&Value>,
        page: u64,
    ) -> Result<(Value, HeaderMap), HrError> {
        let target = Target {
            method: self.config.method,
            url,
            body,
            at: self.origin(url, page),
        };
        self.send(&target).await
    }

    /// The parsed JSON answer of a 2xx response and its headers, or the reason there is none.
    /// Failures worth it are retried (`[hr.rest.retry]`); with OAuth2, a 401 fetches a new token
    /// once and tries again.
    pub(super) async fn send(&self, target: &Target<'_>) -> Result<(Value, HeaderMap), HrError> {
        let mut refreshed = false;
        loop {
            let token = match &self.auth {
                Auth::OAuth2(oauth) => Some(
                    oauth
                        .token(
                            &self.client,
                            (&self.config.retry, self.limits),
                            self.config.timeout_secs,
                        )
                        .await?,
                ),
                _ => None,
            };
            let result =
                with_retries(&self.config.retry, || self.attempt(target, token.as_ref())).await;
            match (result, &self.auth) {
                (Err(HrError::Credentials { status: 401, .. }), Auth::OAuth2(oauth))
                    if !refreshed =>
                {
                    tracing::info!(
                        at = %target.at,
                        "HR API refused the OAuth2 access token (HTTP 401); fetching a new one"
                    );
                    oauth.invalidate().await;
                    refreshed = true;
                }
                (result, _) => return result,
            }
        }
    }

    /// One attempt at one request.
    async fn attempt(
        &self,
        target: &Target<'_>,
        token: Option<&SecretString>,
    ) -> Result<(Value, HeaderMap), Failure> {
        let at = &target.at;
        let request = self.request(target, token);
        self.pace().await;
        let response = request.send().await.map_err(|e| {
            let retry = is_retryable_error(&e);
            let error = HrError::Transport {
                at: at.clone(),
                detail: describe_reqwest(e, self.config.timeout_secs),
                attempts: 1,
            };
            if retry {
                Failure::retryable(error, None)
            } else {
                Failure::fatal(error)
            }
        })?;
        let status = response.status();
        if !status.is_success() {
            let wait = retry_after(response.headers());
            let error = self
                .status_error(at.clone(), target.url, response, token)
                .await;
            return Err(if is_retryable_status(status) {
                Failure::retryable(error, wait)
            } else {
                Failure::fatal(error)
            });
        }
        let headers = response.headers().clone();
        let bytes = read_capped(response, self.limits.max_page_bytes)
            .await
            .map_err(|e| self.body_failure(e, at))?;
        tracing::debug!(%at, bytes = bytes.len(), status = status.as_u16(), "HR answer received");
        let body = serde_json::from_slice(&bytes).map_err(|e| {
            Failure::fatal(HrError::NotJson {
                at: at.clone(),
                content_type: headers
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                detail: e.to_string(),
            })
        })?;
        Ok((body, headers))
    }

    /// The request: method, URL, the configured headers (`Accept: application/json` unless one
    /// is set), the credentials and the body.
    fn request(
        &self,
        target: &Target<'_>,
        token: Option<&SecretString>,
    ) -> reqwest::RequestBuilder {
        let mut request = self
            .client
            .request(target.method.to_reqwest(), target.url.clone());
        if !self
            .config
            .headers
            .keys()
            .any(|name| name.eq_ignore_ascii_case(ACCEPT.as_str()))
        {
            request = request.header(ACCEPT, "application/json");
        }
        for (name, value) in &self.config.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        request = self.auth.apply(request, token);
        match target.body {
            Some(body) => request.json(body),
            None => request,
        }
    }

    /// Why a 2xx body could not be read: larger than `hr.limits.max_page_bytes` (final), or cut
    /// short by the connection, which is a transport failure like a failed connect and is
    /// retried as one.
    fn body_failure(&self, error: BodyError, at: &Origin) -> Failure {
        match error {
            BodyError::TooLarge { announced } => {
                Failure::fatal(self.limits.too_large(at.to_string(), announced))
            }
            BodyError::Cut(e) => Failure::retryable(
                HrError::Transport {
                    at: at.clone(),
                    detail: describe_cut(e, |e| describe_reqwest(e, self.config.timeout_secs)),
                    attempts: 1,
                },
                None,
            ),
        }
    }

    /// The error of a non-2xx answer. An excerpt of its body is kept for the statuses that have
    /// nothing better to say, with every credential taken out first (`token` is the current
    /// OAuth2 access token): a server may echo what it was sent.
    async fn status_error(
        &self,
        at: Origin,
        url: &Url,
        response: reqwest::Response,
        token: Option<&SecretString>,
    ) -> HrError {
        let status = response.status().as_u16();
        match status {
            401 | 403 => HrError::Credentials { at, status },
            404 => HrError::NotFound { at },
            300..=399 if response.headers().contains_key(LOCATION) => {
                let to = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|location| url.join(location).ok())
                    .map_or_else(|| "an unreadable Location".into(), |u| display_origin(&u));
                HrError::Redirect { at, status, to }
            }
            _ => {
                let body = read_prefix(response, ERROR_BODY_BYTES).await;
                HrError::Http {
                    at,
                    status,
                    body: self.auth.redactor(token).excerpt(&body),
                    attempts: 1,
                }
            }
        }
    }
}
