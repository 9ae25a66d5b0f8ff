//! Access tokens from a token endpoint, kept in memory for the run, fetched again shortly before
//! they expire or when the API refuses them. Four ways to ask for one:
//! - OAuth2 client credentials (RFC 6749 §4.4), `type = "oauth2"`;
//! - OAuth2 refresh token (RFC 6749 §6), `type = "oauth2"` with `grant = "refresh_token"`
//!   (Workday's API clients);
//! - a vendor's own token request, `type = "token_request"`: client id and secret posted to a
//!   URL, the token read from the answer (Personio v1's `POST /auth`);
//! - OAuth2 SAML 2.0 bearer assertion (RFC 7522), `type = "saml_bearer"`: an assertion signed
//!   here with the client's private key (SAP SuccessFactors).
//!
//! Client secrets, refresh tokens, private keys, assertions and access tokens are never logged
//! and never part of an error.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Client, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::body::{BodyError, describe_cut, read_capped};
use super::error::{HrError, describe_reqwest, display_url};
use super::limits::LimitsConfig;
use super::redact::Redactor;
use super::rest::Credential;
use super::retry::{
    Failure, RetryConfig, is_retryable_error, is_retryable_status, retry_after, with_retries,
};
use super::saml::{AssertionParams, Signer};
use super::{check_pointer, describe_json};
use crate::problem::ConfigProblem;
use crate::secret::SecretRef;

/// `[hr.rest.auth] type = "oauth2"`: the OAuth2 client credentials grant (default) or the
/// refresh token grant. hrsync asks `token_url` for an access token, sends it as
/// `Authorization: Bearer`, keeps it for the run, and asks for a new one shortly before it
/// expires (60 s, or a tenth of its lifetime if that is shorter) or once when the API answers
/// 401.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Config {
    /// The token endpoint, such as `https://login.example.com/oauth2/token`. `https://`
    /// (`http://` only on loopback, or with `danger_allow_http`).
    pub token_url: String,
    /// The client id: plain text, or a secret reference `{ env = "VAR" }` / `{ file = "…" }`.
    pub client_id: Credential,
    /// The client secret: `{ env = "VAR" }` or `{ file = "/path" }`. Required for client
    /// credentials; with a refresh token, sent when given (confidential clients such as
    /// Workday's).
    pub client_secret: Option<SecretRef>,
    /// `"client_credentials"` (default) or `"refresh_token"`.
    #[serde(default)]
    pub grant: Grant,
    /// With `grant = "refresh_token"`: the refresh token, a secret reference. A token endpoint
    /// that rotates refresh tokens hands out a new one with each access token; hrsync uses it
    /// for the rest of the run but cannot write it back to the secret, so configure the client
    /// without rotation (Workday: a non-expiring refresh token for an integration system user).
    pub refresh_token: Option<SecretRef>,
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

/// The OAuth2 grant `type = "oauth2"` uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    #[default]
    ClientCredentials,
    RefreshToken,
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
        check_common(
            problems,
            ("token_url", &self.token_url),
            &self.client_id,
            url_ok,
        );
        check_pointers(
            problems,
            [
                ("token_ptr", &self.token_ptr),
                ("expires_ptr", &self.expires_ptr),
            ],
        );
        let mut problem = |key: &str, message: String| {
            problems.push(ConfigProblem::new(format!("hr.rest.auth.{key}"), message));
        };
        match (&self.client_secret, self.grant) {
            (Some(secret), _) => {
                if let Err(e) = secret.check("hr.rest.auth.client_secret") {
                    problem("client_secret", e.to_string());
                }
            }
            (None, Grant::ClientCredentials) => problem(
                "client_secret",
                "is required with the client credentials grant: a secret reference such as \
                 { env = \"HR_CLIENT_SECRET\" }"
                    .into(),
            ),
            (None, Grant::RefreshToken) => {}
        }
        match (&self.refresh_token, self.grant) {
            (Some(token), Grant::RefreshToken) => {
                if let Err(e) = token.check("hr.rest.auth.refresh_token") {
                    problem("refresh_token", e.to_string());
                }
            }
            (None, Grant::RefreshToken) => problem(
                "refresh_token",
                "is required with grant = \"refresh_token\": a secret reference such as \
                 { file = \"/run/secrets/hr-refresh-token\" }"
                    .into(),
            ),
            (Some(_), Grant::ClientCredentials) => problem(
                "refresh_token",
                "is only used with grant = \"refresh_token\"".into(),
            ),
            (None, Grant::ClientCredentials) => {}
        }
    }
}

/// `[hr.rest.auth] type = "token_request"`: a vendor's own token endpoint that takes a client id
/// and secret and answers a bearer token (Personio v1: `POST https://api.personio.de/v1/auth`,
/// token at `/data/token`, stable for 24 hours). Cached and renewed like an OAuth2 token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequestConfig {
    /// The token endpoint (`POST`).
    pub url: String,
    /// The client id: plain text, or a secret reference.
    pub client_id: Credential,
    /// The client secret: `{ env = "VAR" }` or `{ file = "/path" }`.
    pub client_secret: SecretRef,
    /// `"json"` (default: `{"client_id": …, "client_secret": …}`) or `"form"`.
    #[serde(default = "json_encoding")]
    pub encoding: TokenEncoding,
    /// JSON Pointer to the token in the answer. Default `/data/token` (Personio).
    #[serde(default = "default_request_token_ptr")]
    pub token_ptr: String,
    /// JSON Pointer to the token's lifetime in seconds, if the answer has one. Default
    /// `/expires_in`; without it the token is kept until the API refuses it.
    #[serde(default = "default_expires_ptr")]
    pub expires_ptr: String,
}

fn json_encoding() -> TokenEncoding {
    TokenEncoding::Json
}
fn default_request_token_ptr() -> String {
    "/data/token".into()
}

/// `[hr.rest.auth] type = "saml_bearer"`: the OAuth2 SAML 2.0 bearer assertion grant (RFC 7522)
/// as SAP SuccessFactors implements it. hrsync signs a short-lived assertion for the API user
/// with the OAuth client's private key (registered in SuccessFactors with its X.509
/// certificate), posts it to `token_url` with the company id and the client's API key, and uses
/// the access token it gets. The private key never leaves this process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlBearerConfig {
    /// The token endpoint, `https://{api_server}/oauth/token`.
    pub token_url: String,
    /// The OAuth client's API key (SuccessFactors' client id).
    pub client_id: Credential,
    /// The company id.
    pub company_id: String,
    /// The API user the assertion speaks for: its user id (or its user name with
    /// `use_username = true`).
    pub user_id: String,
    /// The private key, PEM (`PRIVATE KEY` or `RSA PRIVATE KEY`): a secret reference.
    pub private_key: SecretRef,
    /// The client's X.509 certificate (PEM file) to put in the signature's `KeyInfo`. Optional:
    /// SuccessFactors checks the signature against the certificate it holds for the client.
    pub certificate: Option<std::path::PathBuf>,
    /// `user_id` is the user name, not the user id. Default false.
    #[serde(default)]
    pub use_username: bool,
    /// The assertion's issuer. Default `www.successfactors.com`.
    #[serde(default = "default_sf_party")]
    pub issuer: String,
    /// The assertion's audience. Default `www.successfactors.com`.
    #[serde(default = "default_sf_party")]
    pub audience: String,
    /// How long an assertion is valid, in seconds. Default 600.
    #[serde(default = "default_assertion_lifetime")]
    pub assertion_lifetime_secs: u64,
}

fn default_sf_party() -> String {
    "www.successfactors.com".into()
}
fn default_assertion_lifetime() -> u64 {
    600
}

/// The checks all token configurations share.
fn check_common(
    problems: &mut Vec<ConfigProblem>,
    (url_key, url): (&str, &str),
    client_id: &Credential,
    url_ok: impl Fn(&Url) -> Result<(), String>,
) {
    let mut problem = |key: &str, message: String| {
        problems.push(ConfigProblem::new(format!("hr.rest.auth.{key}"), message));
    };
    match Url::parse(url) {
        Err(e) => problem(url_key, format!("is not a URL: {e}")),
        Ok(url) => {
            if let Err(message) = url_ok(&url) {
                problem(url_key, message);
            }
        }
    }
    match client_id {
        Credential::Secret(secret) => {
            if let Err(e) = secret.check("hr.rest.auth.client_id") {
                problem("client_id", e.to_string());
            }
        }
        Credential::Plain(id) if id.is_empty() => problem("client_id", "must not be empty".into()),
        Credential::Plain(_) => {}
    }
}

fn check_pointers(problems: &mut Vec<ConfigProblem>, pointers: [(&str, &String); 2]) {
    for (key, ptr) in pointers {
        let message = if ptr.is_empty() {
            Some("must point into the token answer, such as \"/access_token\"".to_string())
        } else {
            check_pointer(ptr).err()
        };
        if let Some(message) = message {
            problems.push(ConfigProblem::new(format!("hr.rest.auth.{key}"), message));
        }
    }
}

impl TokenRequestConfig {
    pub(crate) fn validate(
        &self,
        problems: &mut Vec<ConfigProblem>,
        url_ok: impl Fn(&Url) -> Result<(), String>,
    ) {
        check_common(problems, ("url", &self.url), &self.client_id, url_ok);
        if let Err(e) = self.client_secret.check("hr.rest.auth.client_secret") {
            problems.push(ConfigProblem::new(
                "hr.rest.auth.client_secret",
                e.to_string(),
            ));
        }
        check_pointers(
            problems,
            [
                ("token_ptr", &self.token_ptr),
                ("expires_ptr", &self.expires_ptr),
            ],
        );
    }
}

impl SamlBearerConfig {
    pub(crate) fn validate(
        &self,
        problems: &mut Vec<ConfigProblem>,
        url_ok: impl Fn(&Url) -> Result<(), String>,
    ) {
        check_common(
            problems,
            ("token_url", &self.token_url),
            &self.client_id,
            url_ok,
        );
        let mut problem = |key: &str, message: &str| {
            problems.push(ConfigProblem::new(format!("hr.rest.auth.{key}"), message));
        };
        if let Err(e) = self.private_key.check("hr.rest.auth.private_key") {
            problem("private_key", &e.to_string());
        }
        for (key, value) in [
            ("company_id", &self.company_id),
            ("user_id", &self.user_id),
            ("issuer", &self.issuer),
            ("audience", &self.audience),
        ] {
            if value.trim().is_empty() || value.chars().any(char::is_control) {
                problem(key, "must be non-empty, without control characters");
            }
        }
        if !(60..=3600).contains(&self.assertion_lifetime_secs) {
            problem(
                "assertion_lifetime_secs",
                "must be between 60 and 3600 seconds (a bearer assertion is short-lived)",
            );
        }
    }
}

/// A token and when to replace it.
struct Token {
    value: SecretString,
    refresh_at: Option<Instant>,
}

/// What a token request sends, with its secrets read.
enum Request {
    ClientCredentials {
        client_id: SecretString,
        client_secret: SecretString,
        scope: Option<String>,
    },
    RefreshToken {
        client_id: SecretString,
        client_secret: Option<SecretString>,
        /// The configured refresh token, replaced for the rest of the run when the endpoint
        /// rotates it.
        refresh_token: std::sync::Mutex<SecretString>,
        scope: Option<String>,
    },
    /// Client id and secret only, no `grant_type` (a vendor's own token request).
    Plain {
        client_id: SecretString,
        client_secret: SecretString,
    },
    SamlBearer {
        client_id: SecretString,
        company_id: String,
        user_id: String,
        use_username: bool,
        issuer: String,
        audience: String,
        lifetime: chrono::Duration,
        signer: Signer,
    },
}

/// A token source with its secrets read, and the cached token.
pub(crate) struct OAuth2 {
    token_url: Url,
    request: Request,
    encoding: TokenEncoding,
    token_ptr: String,
    expires_ptr: String,
    cached: Mutex<Option<Token>>,
}

fn parse_url(key: &str, url: &str) -> Result<Url, HrError> {
    Url::parse(url).map_err(|e| HrError::Config(format!("hr.rest.auth.{key} is not a URL: {e}")))
}

fn resolve_credential(credential: &Credential, key: &str) -> Result<SecretString, HrError> {
    Ok(match credential {
        Credential::Plain(text) => SecretString::from(text.clone()),
        Credential::Secret(secret) => secret.resolve(key)?,
    })
}

impl OAuth2 {
    fn with(token_url: Url, request: Request, encoding: TokenEncoding, ptrs: (&str, &str)) -> Self {
        Self {
            token_url,
            request,
            encoding,
            token_ptr: ptrs.0.to_string(),
            expires_ptr: ptrs.1.to_string(),
            cached: Mutex::new(None),
        }
    }

    pub(crate) fn resolve(config: &OAuth2Config) -> Result<Self, HrError> {
        let client_id = resolve_credential(&config.client_id, "hr.rest.auth.client_id")?;
        let client_secret = config
            .client_secret
            .as_ref()
            .map(|s| s.resolve("hr.rest.auth.client_secret"))
            .transpose()?;
        let request = match (config.grant, client_secret, &config.refresh_token) {
            (Grant::ClientCredentials, Some(client_secret), _) => Request::ClientCredentials {
                client_id,
                client_secret,
                scope: config.scope.clone(),
            },
            (Grant::RefreshToken, client_secret, Some(token)) => Request::RefreshToken {
                client_id,
                client_secret,
                refresh_token: std::sync::Mutex::new(token.resolve("hr.rest.auth.refresh_token")?),
                scope: config.scope.clone(),
            },
            (Grant::ClientCredentials, None, _) => {
                return Err(HrError::Config(
                    "hr.rest.auth.client_secret is required with the client credentials grant"
                        .into(),
                ));
            }
            (Grant::RefreshToken, _, None) => {
                return Err(HrError::Config(
                    "hr.rest.auth.refresh_token is required with grant = \"refresh_token\"".into(),
                ));
            }
        };
        Ok(Self::with(
            parse_url("token_url", &config.token_url)?,
            request,
            config.encoding,
            (&config.token_ptr, &config.expires_ptr),
        ))
    }

    pub(crate) fn resolve_token_request(config: &TokenRequestConfig) -> Result<Self, HrError> {
        let request = Request::Plain {
            client_id: resolve_credential(&config.client_id, "hr.rest.auth.client_id")?,
            client_secret: config.client_secret.resolve("hr.rest.auth.client_secret")?,
        };
        Ok(Self::with(
            parse_url("url", &config.url)?,
            request,
            config.encoding,
            (&config.token_ptr, &config.expires_ptr),
        ))
    }

    pub(crate) fn resolve_saml_bearer(config: &SamlBearerConfig) -> Result<Self, HrError> {
        let private_key = config.private_key.resolve("hr.rest.auth.private_key")?;
        let certificate = match &config.certificate {
            None => None,
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                HrError::Config(format!(
                    "hr.rest.auth.certificate: cannot read {}: {e}",
                    path.display()
                ))
            })?),
        };
        let signer = Signer::from_pem(&private_key, certificate.as_deref())
            .map_err(|problem| HrError::Config(format!("hr.rest.auth: {problem}")))?;
        let request = Request::SamlBearer {
            client_id: resolve_credential(&config.client_id, "hr.rest.auth.client_id")?,
            company_id: config.company_id.clone(),
            user_id: config.user_id.clone(),
            use_username: config.use_username,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            lifetime: chrono::Duration::seconds(
                i64::try_from(config.assertion_lifetime_secs).unwrap_or(600),
            ),
            signer,
        };
        Ok(Self::with(
            parse_url("token_url", &config.token_url)?,
            request,
            TokenEncoding::Form,
            ("/access_token", "/expires_in"),
        ))
    }

    /// The form or JSON parameters of one token request. Secrets are in it: it lives only as
    /// long as the request is built.
    fn params(&self) -> Result<Vec<(&'static str, String)>, HrError> {
        let mut params: Vec<(&'static str, String)> = Vec::new();
        match &self.request {
            Request::ClientCredentials {
                client_id,
                client_secret,
                scope,
            } => {
                params.push(("grant_type", "client_credentials".into()));
                params.push(("client_id", client_id.expose_secret().to_string()));
                params.push(("client_secret", client_secret.expose_secret().to_string()));
                if let Some(scope) = scope {
                    params.push(("scope", scope.clone()));
                }
            }
            Request::RefreshToken {
                client_id,
                client_secret,
                refresh_token,
                scope,
            } => {
                params.push(("grant_type", "refresh_token".into()));
                let token = match refresh_token.lock() {
                    Ok(token) => token.expose_secret().to_string(),
                    Err(poisoned) => poisoned.into_inner().expose_secret().to_string(),
                };
                params.push(("refresh_token", token));
                params.push(("client_id", client_id.expose_secret().to_string()));
                if let Some(secret) = client_secret {
                    params.push(("client_secret", secret.expose_secret().to_string()));
                }
                if let Some(scope) = scope {
                    params.push(("scope", scope.clone()));
                }
            }
            Request::Plain {
                client_id,
                client_secret,
            } => {
                params.push(("client_id", client_id.expose_secret().to_string()));
                params.push(("client_secret", client_secret.expose_secret().to_string()));
            }
            Request::SamlBearer {
                client_id,
                company_id,
                user_id,
                use_username,
                issuer,
                audience,
                lifetime,
                signer,
            } => {
                let recipient = self.token_url.to_string();
                let assertion = self.signed_assertion(
                    signer,
                    &AssertionParams {
                        issuer,
                        audience,
                        recipient: &recipient,
                        name_id: user_id,
                        api_key: client_id.expose_secret(),
                        use_username: *use_username,
                        lifetime: *lifetime,
                    },
                )?;
                params.push((
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:saml2-bearer".into(),
                ));
                params.push(("company_id", company_id.clone()));
                params.push(("client_id", client_id.expose_secret().to_string()));
                params.push(("assertion", BASE64.encode(assertion)));
            }
        }
        Ok(params)
    }

    /// A SAML bearer assertion signed now.
    fn signed_assertion(
        &self,
        signer: &Signer,
        params: &AssertionParams<'_>,
    ) -> Result<String, HrError> {
        // The assertion's validity is the wall-clock time of signing, not the run's "now": a
        // token renewed late in a long fetch needs a fresh assertion. It reaches no plan and no
        // decision.
        #[allow(clippy::disallowed_methods)]
        let now = chrono::Utc::now();
        signer
            .assertion(params, now)
            .map_err(|problem| HrError::OAuth2 {
                url: self.url(),
                problem,
            })
    }

    /// Keeps a rotated refresh token for the rest of the run.
    fn keep_refresh_token(&self, body: &Value) {
        let Request::RefreshToken { refresh_token, .. } = &self.request else {
            return;
        };
        let Some(new) = body.get("refresh_token").and_then(Value::as_str) else {
            return;
        };
        let mut current = match refresh_token.lock() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        };
        if new.trim().is_empty() || new == current.expose_secret() {
            return;
        }
        tracing::warn!(
            "the token endpoint rotated the refresh token; hrsync uses the new one for this run \
             but cannot store it, so the next run will present the old one: configure the OAuth \
             client without refresh token rotation"
        );
        *current = SecretString::from(new.to_string());
    }

    /// The current access token: the cached one while it is fresh, otherwise a new one, whose
    /// answer may be at most `limits.max_page_bytes` long.
    pub(crate) async fn token(
        &self,
        client: &Client,
        (retry, limits): (&RetryConfig, &LimitsConfig),
        timeout_secs: u64,
    ) -> Result<SecretString, HrError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref() {
            if token.refresh_at.is_none_or(|at| Instant::now() < at) {
                return Ok(token.value.clone());
            }
            tracing::debug!("OAuth2 access token about to expire; fetching a new one");
        }
        let token =
            with_retries(retry, || self.request_token(client, limits, timeout_secs)).await?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    /// Adds the secrets this token source sends (client id and secret, refresh token) to what
    /// `redactor` takes out of answers.
    pub(crate) fn add_secrets(&self, redactor: &mut Redactor) {
        match &self.request {
            Request::ClientCredentials {
                client_id,
                client_secret,
                ..
            }
            | Request::Plain {
                client_id,
                client_secret,
            } => {
                redactor.add(client_id.expose_secret());
                redactor.add(client_secret.expose_secret());
            }
            Request::RefreshToken {
                client_id,
                client_secret,
                refresh_token,
                ..
            } => {
                redactor.add(client_id.expose_secret());
                if let Some(secret) = client_secret {
                    redactor.add(secret.expose_secret());
                }
                match refresh_token.lock() {
                    Ok(token) => redactor.add(token.expose_secret()),
                    Err(poisoned) => redactor.add(poisoned.into_inner().expose_secret()),
                }
            }
            // The assertion is made anew for each request; its shape (`assertion=…`) is what is
            // looked for. The private key never leaves the process.
            Request::SamlBearer { client_id, .. } => redactor.add(client_id.expose_secret()),
        }
    }

    /// Forgets the cached token (the API refused it), so the next call fetches a new one.
    pub(crate) async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    fn url(&self) -> String {
        display_url(&self.token_url)
    }

    async fn request_token(
        &self,
        client: &Client,
        limits: &LimitsConfig,
        timeout_secs: u64,
    ) -> Result<Token, Failure> {
        let params = self.params().map_err(Failure::fatal)?;
        let request = self.token_request(client, &params);
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
        let bytes = read_capped(response, limits.max_page_bytes)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge { announced } => {
                    Failure::fatal(limits.too_large(self.url(), announced))
                }
                BodyError::Cut(e) => Failure::retryable(
                    HrError::OAuth2 {
                        url: self.url(),
                        problem: describe_cut(e, |e| describe_reqwest(e, timeout_secs)),
                    },
                    None,
                ),
            })?;
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        if !status.is_success() {
            return Err(self.refusal(status, body.as_ref(), wait));
        }
        self.read_token(body, started).map_err(Failure::fatal)
    }

    /// The token request: the grant's parameters as JSON or as a form, as the endpoint wants.
    fn token_request(&self, client: &Client, params: &[(&str, String)]) -> reqwest::RequestBuilder {
        let request = client
            .post(self.token_url.clone())
            .header(ACCEPT, "application/json");
        match self.encoding {
            TokenEncoding::Json => {
                let body: serde_json::Map<String, Value> = params
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), json!(v)))
                    .collect();
                request.json(&Value::Object(body))
            }
            TokenEncoding::Form => request
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form_encode(params)),
        }
    }

    /// What a failed answer means: credentials refused (fatal, named as such), a passing
    /// failure (retried), or anything else (fatal).
    fn refusal(
        &self,
        status: reqwest::StatusCode,
        body: Option<&Value>,
        wait: Option<Duration>,
    ) -> Failure {
        let oauth_error = body
            .and_then(|b| b.get("error"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let description = body
            .and_then(|b| b.get("error_description"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut redactor = Redactor::default();
        self.add_secrets(&mut redactor);
        let detail = redactor.excerpt(format!("{oauth_error} {description}").trim().as_bytes());
        let refused = matches!(status.as_u16(), 401 | 403)
            || (status.as_u16() == 400
                && matches!(oauth_error, "invalid_client" | "unauthorized_client"));
        if refused {
            return Failure::fatal(HrError::OAuth2Refused {
                url: self.url(),
                status: status.as_u16(),
                detail,
            });
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
        if is_retryable_status(status) {
            Failure::retryable(error, wait)
        } else {
            Failure::fatal(error)
        }
    }

    /// The access token and its lifetime from a successful answer (an answer without them is a
    /// fatal error); a refresh token it carries is kept for the next request.
    fn read_token(&self, body: Option<Value>, started: Instant) -> Result<Token, HrError> {
        let fatal = |problem: String| HrError::OAuth2 {
            url: self.url(),
            problem,
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
        self.keep_refresh_token(&body);
        tracing::debug!(expires_in = lifetime, "access token received");
        Ok(Token { value, refresh_at })
    }
}

/// `application/x-www-form-urlencoded`, through the URL parser's serializer.
fn form_encode<V: AsRef<str>>(params: &[(&str, V)]) -> String {
    let mut url = match Url::parse("http://localhost/") {
        Ok(url) => url,
        Err(_) => return String::new(),
    };
    url.query_pairs_mut()
        .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_ref())));
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
