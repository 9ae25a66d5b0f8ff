//! OAuth2 client credentials (RFC 6749 §4.4): an access token fetched from the token endpoint,
//! kept in memory for the run, fetched again shortly before it expires or when the API refuses
//! it. The client secret and the token are never logged and never part of an error.

use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Client, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::error::{HrError, clean_excerpt, describe_reqwest, display_url};
use super::rest::Credential;
use super::retry::{
    Failure, RetryConfig, is_retryable_error, is_retryable_status, retry_after, with_retries,
};
use super::{check_pointer, describe_json};
use crate::config::{ConfigProblem, SecretRef};

/// `[hr.rest.auth] type = "oauth2"`: the OAuth2 client credentials grant. hrsync asks
/// `token_url` for an access token, sends it as `Authorization: Bearer`, keeps it for the run,
/// and asks for a new one shortly before it expires (60 s, or a tenth of its lifetime if that
/// is shorter) or once when the API answers 401.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Config {
    /// The token endpoint, such as `https://login.example.com/oauth2/token`. `https://`
    /// (`http://` only on loopback, or with `danger_allow_http`).
    pub token_url: String,
    /// The client id: plain text, or a secret reference `{ env = "VAR" }` / `{ file = "…" }`.
    pub client_id: Credential,
    /// The client secret: `{ env = "VAR" }` or `{ file = "/path" }`.
    pub client_secret: SecretRef,
    /// Space-separated scopes to ask for, if the API wants any (`scope = "employees:read"`).
    pub scope: Option<String>,
    /// How the token request is encoded: `"form"` (default,
    /// `application/x-www-form-urlencoded` as RFC 6749 says) or `"json"`.
    #[serde(default)]
    pub encoding: TokenEncoding,
    /// JSON Pointer to the access token in the token endpoint's answer. Default
    /// `/access_token`.
    #[serde(default = "default_token_ptr")]
    pub token_ptr: String,
    /// JSON Pointer to the token's lifetime in seconds. Default `/expires_in`. When the answer
    /// has none, the token is kept until the API refuses it.
    #[serde(default = "default_expires_ptr")]
    pub expires_ptr: String,
}

/// The encoding of the token request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEncoding {
    /// `application/x-www-form-urlencoded` (RFC 6749).
    #[default]
    Form,
    /// `application/json`.
    Json,
}

fn default_token_ptr() -> String {
    "/access_token".into()
}
fn default_expires_ptr() -> String {
    "/expires_in".into()
}

impl OAuth2Config {
    /// `url_ok` checks the scheme rules shared with `hr.rest.url`.
    pub(crate) fn validate(
        &self,
        problems: &mut Vec<ConfigProblem>,
        url_ok: impl Fn(&Url) -> Result<(), String>,
    ) {
        let mut problem = |key: &str, message: String| {
            problems.push(ConfigProblem::new(format!("hr.rest.auth.{key}"), message));
        };
        match Url::parse(&self.token_url) {
            Err(e) => problem("token_url", format!("is not a URL: {e}")),
            Ok(url) => {
                if let Err(message) = url_ok(&url) {
                    problem("token_url", message);
                }
            }
        }
        if let Credential::Secret(secret) = &self.client_id {
            if let Err(e) = secret.check("hr.rest.auth.client_id") {
                problem("client_id", e.to_string());
            }
        } else if matches!(&self.client_id, Credential::Plain(id) if id.is_empty()) {
            problem("client_id", "must not be empty".into());
        }
        if let Err(e) = self.client_secret.check("hr.rest.auth.client_secret") {
            problem("client_secret", e.to_string());
        }
        for (key, ptr) in [
            ("token_ptr", &self.token_ptr),
            ("expires_ptr", &self.expires_ptr),
        ] {
            if ptr.is_empty() {
                problem(
                    key,
                    "must point into the token answer, such as \"/access_token\"".into(),
                );
            } else if let Err(message) = check_pointer(ptr) {
                problem(key, message);
            }
        }
    }
}

/// A token and when to replace it.
struct Token {
    value: SecretString,
    refresh_at: Option<Instant>,
}

/// The resolved client credentials and the cached token.
pub(crate) struct OAuth2 {
    token_url: Url,
    client_id: SecretString,
    client_secret: SecretString,
    scope: Option<String>,
    encoding: TokenEncoding,
    token_ptr: String,
    expires_ptr: String,
    cached: Mutex<Option<Token>>,
}

impl OAuth2 {
    pub(crate) fn resolve(config: &OAuth2Config) -> Result<Self, HrError> {
        let token_url = Url::parse(&config.token_url)
            .map_err(|e| HrError::Config(format!("hr.rest.auth.token_url is not a URL: {e}")))?;
        Ok(Self {
            token_url,
            client_id: match &config.client_id {
                Credential::Plain(id) => SecretString::from(id.clone()),
                Credential::Secret(secret) => secret.resolve("hr.rest.auth.client_id")?,
            },
            client_secret: config.client_secret.resolve("hr.rest.auth.client_secret")?,
            scope: config.scope.clone(),
            encoding: config.encoding,
            token_ptr: config.token_ptr.clone(),
            expires_ptr: config.expires_ptr.clone(),
            cached: Mutex::new(None),
        })
    }

    /// The current access token: the cached one while it is fresh, otherwise a new one.
    pub(crate) async fn token(
        &self,
        client: &Client,
        retry: &RetryConfig,
        timeout_secs: u64,
    ) -> Result<SecretString, HrError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref() {
            if token.refresh_at.is_none_or(|at| Instant::now() < at) {
                return Ok(token.value.clone());
            }
            tracing::debug!("OAuth2 access token about to expire; fetching a new one");
        }
        let token = with_retries(retry, || self.request_token(client, timeout_secs)).await?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    /// Forgets the cached token (the API refused it), so the next call fetches a new one.
    pub(crate) async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    fn url(&self) -> String {
        display_url(&self.token_url)
    }

    async fn request_token(&self, client: &Client, timeout_secs: u64) -> Result<Token, Failure> {
        let mut params: Vec<(&str, &str)> = vec![
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.expose_secret()),
            ("client_secret", self.client_secret.expose_secret()),
        ];
        if let Some(scope) = &self.scope {
            params.push(("scope", scope));
        }
        let request = client
            .post(self.token_url.clone())
            .header(ACCEPT, "application/json");
        let request = match self.encoding {
            TokenEncoding::Json => {
                let body: serde_json::Map<String, Value> = params
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), json!(v)))
                    .collect();
                request.json(&Value::Object(body))
            }
            TokenEncoding::Form => request
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form_encode(&params)),
        };
        let started = Instant::now();
        let response = request.send().await.map_err(|e| {
            let retry = is_retryable_error(&e);
            let error = HrError::OAuth2 {
                url: self.url(),
                problem: format!(
                    "could not get an access token: {}",
                    describe_reqwest(e, timeout_secs)
                ),
            };
            if retry {
                Failure::retryable(error, None)
            } else {
                Failure::fatal(error)
            }
        })?;
        let status = response.status();
        let wait = retry_after(response.headers());
        let bytes = response.bytes().await.map_err(|e| {
            Failure::retryable(
                HrError::OAuth2 {
                    url: self.url(),
                    problem: format!(
                        "the answer was cut short: {}",
                        describe_reqwest(e, timeout_secs)
                    ),
                },
                None,
            )
        })?;
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        if !status.is_success() {
            let oauth_error = body
                .as_ref()
                .and_then(|b| b.get("error"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            let description = body
                .as_ref()
                .and_then(|b| b.get("error_description"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            let detail = clean_excerpt(
                format!("{oauth_error} {description}").trim().as_bytes(),
                200,
            );
            let refused = matches!(status.as_u16(), 401 | 403)
                || (status.as_u16() == 400
                    && matches!(oauth_error, "invalid_client" | "unauthorized_client"));
            if refused {
                return Err(Failure::fatal(HrError::OAuth2Refused {
                    url: self.url(),
                    status: status.as_u16(),
                    detail,
                }));
            }
            let error = HrError::OAuth2 {
                url: self.url(),
                problem: format!(
                    "answered HTTP {}{}",
                    status.as_u16(),
                    if detail.is_empty() {
                        String::new()
                    } else {
                        format!(": {detail}")
                    }
                ),
            };
            return Err(if is_retryable_status(status) {
                Failure::retryable(error, wait)
            } else {
                Failure::fatal(error)
            });
        }
        let fatal = |problem: String| {
            Failure::fatal(HrError::OAuth2 {
                url: self.url(),
                problem,
            })
        };
        let Some(body) = body else {
            return Err(fatal("the answer is not JSON".into()));
        };
        let value = match body.pointer(&self.token_ptr) {
            Some(Value::String(token)) if !token.trim().is_empty() => {
                SecretString::from(token.trim().to_string())
            }
            found => {
                return Err(fatal(format!(
                    "expected the access token (a string) at hr.rest.auth.token_ptr {:?}, found {}",
                    self.token_ptr,
                    found.map_or_else(
                        || format!("nothing there; the answer is {}", describe_json(&body)),
                        describe_json
                    )
                )));
            }
        };
        let lifetime = match body.pointer(&self.expires_ptr) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(_) => None,
        };
        if lifetime.is_none()
            && body
                .pointer(&self.expires_ptr)
                .is_some_and(|v| !v.is_null())
        {
            return Err(fatal(format!(
                "expected the token's lifetime in seconds at hr.rest.auth.expires_ptr {:?}, \
                 found {}",
                self.expires_ptr,
                body.pointer(&self.expires_ptr)
                    .map_or_else(|| "nothing".to_string(), describe_json)
            )));
        }
        let refresh_at = lifetime.map(|secs| {
            let margin = (secs / 10).min(60);
            started + Duration::from_secs(secs.saturating_sub(margin))
        });
        tracing::debug!(expires_in = lifetime, "OAuth2 access token received");
        Ok(Token { value, refresh_at })
    }
}

/// `application/x-www-form-urlencoded`, through the URL parser's serializer.
fn form_encode(params: &[(&str, &str)]) -> String {
    let mut url = match Url::parse("http://localhost/") {
        Ok(url) => url,
        Err(_) => return String::new(),
    };
    url.query_pairs_mut().extend_pairs(params.iter().copied());
    url.query().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_encoded() {
        assert_eq!(
            form_encode(&[("a", "b c"), ("s", "x&y=z")]),
            "a=b+c&s=x%26y%3Dz"
        );
    }
}
