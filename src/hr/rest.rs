//! The generic REST JSON source: one HTTP(S) endpoint, an auth method, a records pointer and a
//! pagination style. Vendor presets and further auth or pagination kinds are more variants of
//! [`AuthConfig`] and [`PaginationConfig`].
//!
//! A fetch is all or nothing: any failure on any page is an error and no record is returned, so
//! a half-read company can never make the other half look like leavers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, LINK, LOCATION,
};
use reqwest::{Certificate, Client, RequestBuilder, Url, redirect};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::mpsc;

use super::error::{HrError, Origin, clean_excerpt, describe_reqwest, display_origin};
use super::oauth::{OAuth2, OAuth2Config, SamlBearerConfig, TokenRequestConfig};
use super::retry::{
    Failure, RetryConfig, is_retryable_error, is_retryable_status, retry_after, with_retries,
};
use super::{Page, check_pointer, describe_json, take_records};
use crate::problem::ConfigProblem;
use crate::secret::SecretRef;

/// `[hr.rest]`: an HR API that answers JSON over HTTPS (or HTTP on loopback).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestConfig {
    /// The endpoint that lists employees, such as
    /// `https://api.bamboohr.com/api/gateway.php/acme/v1/employees/directory`. It may carry a
    /// query string (`?format=json`), but never credentials: use `[hr.rest.auth]`.
    pub url: String,
    /// `GET` (default) or `POST`.
    #[serde(default)]
    pub method: HttpMethod,
    /// JSON body sent with `POST` (as `Content-Type: application/json`), written as a TOML
    /// table, for example `body = { showInactive = true, fields = ["root.id", "root.email"] }`.
    pub body: Option<Value>,
    /// JSON Pointer (RFC 6901) to the array of records in each answer: `/employees`, `/data`,
    /// `/d/results`, or `""` when the answer itself is the array.
    pub records: String,
    /// Extra query parameters sent with the first request (a next URL carries its own). A list
    /// repeats the parameter: `query = { "attributes[]" = ["first_name", "last_name"] }`.
    #[serde(default)]
    pub query: BTreeMap<String, QueryValue>,
    /// Extra request headers, such as `{ "X-Gusto-API-Version" = "2025-06-15" }`. Not for
    /// credentials: an `Authorization` header here is refused, use `[hr.rest.auth]`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Seconds to wait for a connection. Default 10.
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u64,
    /// Seconds one request (one page, including its body) may take. Default 30.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// PEM file with extra CA certificates to trust, besides the system's (a company CA in front
    /// of an on-premises HR system). TLS certificates are always verified.
    pub ca_file: Option<PathBuf>,
    /// Accept any TLS certificate. Only for a lab; anyone on the path can then read the token.
    #[serde(default)]
    pub danger_accept_invalid_certs: bool,
    /// Allow `http://` with credentials to a host other than loopback. The credentials and every
    /// employee's data then cross the network in clear text.
    #[serde(default)]
    pub danger_allow_http: bool,
    /// Upper bound on pages in one fetch, a guard against an API that never stops paging.
    /// Default 100000.
    #[serde(default = "default_max_pages")]
    pub max_pages: u64,
    /// At most this many requests per minute to the API, evenly spaced (retries included):
    /// `300` is Deel's 5 per second and Personio's employee list limit, `50` HiBob's search.
    /// Default: no limit besides the API's own 429 answers, which are retried.
    pub requests_per_minute: Option<u32>,
    /// `[hr.rest.auth]`: how requests authenticate ([`AuthConfig`]). Default: none.
    #[serde(default)]
    pub auth: AuthConfig,
    /// `[hr.rest.pagination]`: how to get every page ([`PaginationConfig`]). Default: none.
    #[serde(default)]
    pub pagination: PaginationConfig,
    /// `[hr.rest.retry]`: retries of failed requests ([`RetryConfig`]). The defaults (4
    /// attempts, 0.5 s to 10 s backoff, 60 s per request) suit most APIs.
    #[serde(default)]
    pub retry: RetryConfig,
}

fn default_connect_timeout_secs() -> u64 {
    10
}
fn default_timeout_secs() -> u64 {
    30
}
fn default_max_pages() -> u64 {
    100_000
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Get,
    Post,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }

    fn to_reqwest(self) -> reqwest::Method {
        match self {
            Self::Get => reqwest::Method::GET,
            Self::Post => reqwest::Method::POST,
        }
    }
}

/// A query parameter's value: one string, or a list to repeat the parameter.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged, expecting = "a string or a list of strings")]
pub enum QueryValue {
    One(String),
    Many(Vec<String>),
}

impl QueryValue {
    fn values(&self) -> &[String] {
        match self {
            Self::One(value) => std::slice::from_ref(value),
            Self::Many(values) => values,
        }
    }
}

/// `[hr.rest.auth]`: how requests prove who they are. Secrets come from `{ env = "VAR" }` or
/// `{ file = "/path" }`, never from this file, and are sent as headers marked sensitive.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// No credentials (an API behind a gateway that authenticates by network).
    #[default]
    None,
    /// `Authorization: Bearer <token>` (Rippling, Deel, Gusto, a Personio token, SCIM).
    Bearer {
        /// The token: `{ env = "VAR" }` or `{ file = "/path" }`.
        token: SecretRef,
    },
    /// HTTP basic auth. BambooHR: the API key is the user name and the password is ignored
    /// (conventionally `x`): `username = { env = "BAMBOOHR_API_KEY" }`, `password` left out
    /// or pointing at a file or variable holding `x`. HiBob: service user id and token.
    Basic {
        /// The user name: plain text (`username = "svc-hrsync"`), or a secret reference when the
        /// user name is itself the secret (`username = { env = "BAMBOOHR_API_KEY" }`).
        username: Credential,
        /// The password; left out, an empty password is sent.
        password: Option<SecretRef>,
    },
    /// A custom header carrying a secret, such as `name = "X-API-Key"`.
    Header {
        /// The header's name, such as `X-API-Key`.
        name: String,
        /// The header's value: `{ env = "VAR" }` or `{ file = "/path" }`.
        value: SecretRef,
    },
    /// OAuth2 client credentials or refresh token: `token_url`, `client_id`, `client_secret`,
    /// `grant`, `refresh_token`, optional `scope`, `encoding` (`"form"` or `"json"`),
    /// `token_ptr` and `expires_ptr`. See [`OAuth2Config`].
    Oauth2(OAuth2Config),
    /// A vendor's own token request (Personio v1 `POST /auth`): `url`, `client_id`,
    /// `client_secret`, `encoding`, `token_ptr`. See [`TokenRequestConfig`].
    TokenRequest(TokenRequestConfig),
    /// OAuth2 SAML bearer assertion signed with the client's private key (SAP
    /// SuccessFactors): `token_url`, `client_id`, `company_id`, `user_id`, `private_key`. See
    /// [`SamlBearerConfig`].
    SamlBearer(SamlBearerConfig),
}

/// A value that is either plain text in the config or a reference to a secret.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(
    untagged,
    expecting = "a plain string, or a secret reference { env = \"VAR\" } / { file = \"/path\" }"
)]
pub enum Credential {
    Plain(String),
    Secret(SecretRef),
}

/// `[hr.rest.pagination]`: how to get every page. Whatever the style, the pages are fetched
/// one after the other and joined; a failure on any page fails the whole fetch.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum PaginationConfig {
    /// One request returns everyone (BambooHR directory, HiBob search, Workday RaaS).
    #[default]
    None,
    /// Offset and limit query parameters (Personio v1, Deel, Rippling v1, SCIM). Stops at an
    /// empty page, a page shorter than `limit`, or when `total_ptr` says everything is there.
    Offset {
        /// Name of the offset parameter. Default `offset` (SCIM: `startIndex`).
        #[serde(default = "default_offset_param")]
        offset_param: String,
        /// Name of the page size parameter. Default `limit` (SCIM: `count`).
        #[serde(default = "default_limit_param")]
        limit_param: String,
        /// Records per page. Default 100. Keep it within the API's maximum: a server that
        /// silently returns fewer than asked ends the paging early, which only `total_ptr` can
        /// catch.
        #[serde(default = "default_limit")]
        limit: u64,
        /// Offset of the first record: 0 (default), or 1 for SCIM's `startIndex`.
        #[serde(default)]
        start: u64,
        /// JSON Pointer to the total number of records in each answer (`/totalResults`,
        /// `/metadata/total_elements`, `/page/total_rows`). Strongly recommended: when set, a
        /// fetch that ends with a different number of records is an error, not a short list.
        total_ptr: Option<String>,
        /// Where the two parameters go: `"query"` (default) or `"body"`, as numbers in the JSON
        /// body of a `POST` (BambooHR Datasets v2: `page`, `pageSize`).
        #[serde(rename = "in", default)]
        location: ParamLocation,
    },
    /// Each answer links to the next page (BambooHR `/_links/next/href`, Personio v2
    /// `/_meta/links/next/href`, Rippling `/next_link`, SuccessFactors `/d/__next`). The link
    /// may be relative. It must stay on the origin of `url` (scheme, host and port): a link
    /// elsewhere is refused, because the credentials would go with it.
    NextUrl {
        /// JSON Pointer to the next page's URL; missing, null or empty ends the paging. OData:
        /// `/@odata.nextLink` (v4) or `/d/__next` (v2).
        ptr: String,
    },
    /// Page number and page size query parameters (Gusto `page`/`per`). Stops at an empty
    /// page, a page shorter than `size`, or the last page the API announces
    /// (`total_pages_header` or `total_pages_ptr`); with a total, stopping before it is an
    /// error, never a short list.
    Page {
        /// Name of the page number parameter. Default `page`.
        #[serde(default = "default_page_param")]
        page_param: String,
        /// Name of the page size parameter. Default `per_page` (Gusto: `per`).
        #[serde(default = "default_size_param")]
        size_param: String,
        /// Records per page. Default 100; keep it within the API's maximum.
        #[serde(default = "default_limit")]
        size: u64,
        /// Number of the first page: 1 (default) or 0.
        #[serde(default = "default_page_start")]
        start: u64,
        /// Response header holding the number of pages, such as `X-Total-Pages` (Gusto).
        total_pages_header: Option<String>,
        /// JSON Pointer to the number of pages in each answer, such as `/meta/totalPages`.
        total_pages_ptr: Option<String>,
        /// Where the two parameters go: `"query"` (default) or `"body"` (see `offset`).
        #[serde(rename = "in", default)]
        location: ParamLocation,
    },
    /// An opaque cursor from each answer is sent back as a parameter to get the next page
    /// (BambooHR `/api/v1/employees`: `param = "page[after]"`, `next_ptr =
    /// "/meta/page/nextCursor"`). A missing, null or empty cursor ends the paging; a cursor seen
    /// before is an error.
    Cursor {
        /// Name of the query parameter that carries the cursor, such as `cursor` or
        /// `page[after]`.
        param: String,
        /// JSON Pointer to the next cursor in each answer.
        next_ptr: String,
    },
    /// RFC 8288 `Link: <https://…?page=2>; rel="next"` response headers (GitHub style). The
    /// same origin rule as `next_url` applies; no `rel="next"` ends the paging.
    LinkHeader,
}

/// Where paging parameters are sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamLocation {
    /// In the query string.
    #[default]
    Query,
    /// As numbers in the JSON body (`POST` only).
    Body,
}

fn default_offset_param() -> String {
    "offset".into()
}
fn default_limit_param() -> String {
    "limit".into()
}
fn default_limit() -> u64 {
    100
}
fn default_page_param() -> String {
    "page".into()
}
fn default_size_param() -> String {
    "per_page".into()
}
fn default_page_start() -> u64 {
    1
}

impl RestConfig {
    pub(crate) fn validate(&self, problems: &mut Vec<ConfigProblem>) {
        let mut problem = |key: &str, message: String| {
            problems.push(ConfigProblem::new(format!("hr.rest.{key}"), message));
        };
        match Url::parse(&self.url) {
            Err(e) => problem("url", format!("is not a URL: {e}")),
            Ok(url) => {
                if let Err(message) = scheme_and_host(&url) {
                    problem("url", message);
                }
                if !url.username().is_empty() || url.password().is_some() {
                    problem(
                        "url",
                        "must not carry credentials (user:password@): use [hr.rest.auth]".into(),
                    );
                }
                let sends_credentials = !matches!(self.auth, AuthConfig::None);
                if url.scheme() == "http"
                    && sends_credentials
                    && !is_loopback(&url)
                    && !self.danger_allow_http
                {
                    problem(
                        "url",
                        "is http:// and [hr.rest.auth] sends credentials: they and every \
                         employee's data would cross the network in clear text; use https:// \
                         (or set danger_allow_http = true)"
                            .into(),
                    );
                }
            }
        }
        if self.method == HttpMethod::Get && self.body.is_some() {
            problem("body", "is only sent with method = \"POST\"".into());
        }
        if let Err(message) = check_pointer(&self.records) {
            problem("records", message);
        }
        for (name, value) in &self.headers {
            match HeaderName::from_bytes(name.as_bytes()) {
                Err(_) => problem(
                    &format!("headers.{name}"),
                    "is not an HTTP header name".into(),
                ),
                Ok(header) if header == AUTHORIZATION => problem(
                    &format!("headers.{name}"),
                    "credentials belong in [hr.rest.auth], where they come from a secret".into(),
                ),
                Ok(_) => {}
            }
            if HeaderValue::from_str(value).is_err() {
                problem(
                    &format!("headers.{name}"),
                    "is not a valid header value (visible ASCII only)".into(),
                );
            }
        }
        for (key, secs) in [
            ("connect_timeout_secs", self.connect_timeout_secs),
            ("timeout_secs", self.timeout_secs),
        ] {
            if secs == 0 {
                problem(key, "must be at least 1 second".into());
            }
        }
        if self.max_pages == 0 {
            problem("max_pages", "must be at least 1".into());
        }
        if self.requests_per_minute == Some(0) {
            problem(
                "requests_per_minute",
                "must be at least 1 (leave it out for no limit)".into(),
            );
        }
        self.validate_auth(problems);
        self.validate_pagination(problems);
        self.retry.validate(problems);
    }

    fn validate_auth(&self, problems: &mut Vec<ConfigProblem>) {
        let mut check = |key: &str, secret: &SecretRef| {
            let key = format!("hr.rest.auth.{key}");
            if let Err(e) = secret.check(&key) {
                problems.push(ConfigProblem::new(key, e.to_string()));
            }
        };
        match &self.auth {
            AuthConfig::None => {}
            AuthConfig::Bearer { token } => check("token", token),
            AuthConfig::Basic { username, password } => {
                if let Credential::Secret(secret) = username {
                    check("username", secret);
                }
                if let Some(password) = password {
                    check("password", password);
                }
            }
            AuthConfig::Oauth2(oauth) => oauth.validate(problems, |url| self.token_url_ok(url)),
            AuthConfig::TokenRequest(request) => {
                request.validate(problems, |url| self.token_url_ok(url));
            }
            AuthConfig::SamlBearer(saml) => saml.validate(problems, |url| self.token_url_ok(url)),
            AuthConfig::Header { name, value } => {
                check("value", value);
                if HeaderName::from_bytes(name.as_bytes()).is_err() {
                    problems.push(ConfigProblem::new(
                        "hr.rest.auth.name",
                        format!("{name:?} is not an HTTP header name"),
                    ));
                }
            }
        }
        if let AuthConfig::Basic {
            username: Credential::Plain(user),
            ..
        } = &self.auth
        {
            if user.is_empty() || user.contains(':') {
                problems.push(ConfigProblem::new(
                    "hr.rest.auth.username",
                    "must be non-empty and without ':'",
                ));
            }
        }
    }

    /// The scheme rules for a token endpoint, shared with `hr.rest.url`.
    fn token_url_ok(&self, url: &Url) -> Result<(), String> {
        scheme_and_host(url)?;
        if url.scheme() == "http" && !is_loopback(url) && !self.danger_allow_http {
            Err(
                "is http://: the credentials would cross the network in clear text; use \
                 https:// (or set hr.rest.danger_allow_http = true)"
                    .into(),
            )
        } else {
            Ok(())
        }
    }

    /// The checks offset and page-number paging share: a page size of at least 1, two
    /// distinct, non-empty parameter names that hrsync alone sets, and, for parameters in the
    /// body, a `POST` whose body is a JSON object.
    fn check_page_params(
        &self,
        (size_key, size): (&str, u64),
        (position_key, position): (&str, &String),
        (count_key, count): (&str, &String),
        location: ParamLocation,
        problem: &mut impl FnMut(&str, String),
    ) {
        if size == 0 {
            problem(size_key, "must be at least 1".into());
        }
        for (key, param) in [(position_key, position), (count_key, count)] {
            let also_set = match location {
                ParamLocation::Query => (self.query.contains_key(param)
                    || url_query_has(&self.url, param))
                .then_some("hr.rest.query or hr.rest.url"),
                ParamLocation::Body => self
                    .body
                    .as_ref()
                    .is_some_and(|body| body.get(param).is_some())
                    .then_some("hr.rest.body"),
            };
            if param.is_empty() {
                problem(key, "must not be empty".into());
            } else if let Some(place) = also_set {
                problem(
                    key,
                    format!("{param:?} is also set in {place}; hrsync sets it per page"),
                );
            }
        }
        if position == count {
            problem(count_key, format!("must differ from {position_key}"));
        }
        if location == ParamLocation::Body {
            if self.method != HttpMethod::Post {
                problem(
                    "in",
                    "\"body\" needs method = \"POST\" (a GET sends no body)".into(),
                );
            }
            if self.body.as_ref().is_some_and(|body| !body.is_object()) {
                problem(
                    "in",
                    "\"body\" needs hr.rest.body to be a table, to put the parameters in".into(),
                );
            }
        }
    }

    /// The cursor's query parameter: hrsync sets it per page, so it is not fixed anywhere else.
    fn check_cursor_param(&self, param: &str) -> Result<(), String> {
        if param.is_empty() {
            return Err("must not be empty".into());
        }
        if self.query.contains_key(param) || url_query_has(&self.url, param) {
            return Err(format!(
                "{param:?} is also set in hr.rest.query or hr.rest.url; hrsync sets it per page"
            ));
        }
        Ok(())
    }

    fn validate_pagination(&self, problems: &mut Vec<ConfigProblem>) {
        let mut problem = |key: &str, message: String| {
            problems.push(ConfigProblem::new(
                format!("hr.rest.pagination.{key}"),
                message,
            ));
        };
        match &self.pagination {
            PaginationConfig::None => {}
            PaginationConfig::Offset {
                offset_param,
                limit_param,
                limit,
                total_ptr,
                location,
                ..
            } => {
                self.check_page_params(
                    ("limit", *limit),
                    ("offset_param", offset_param),
                    ("limit_param", limit_param),
                    *location,
                    &mut problem,
                );
                if let Some(Err(message)) = total_ptr.as_deref().map(answer_pointer("/total")) {
                    problem("total_ptr", message);
                }
            }
            PaginationConfig::Page {
                page_param,
                size_param,
                size,
                total_pages_header,
                total_pages_ptr,
                location,
                ..
            } => {
                self.check_page_params(
                    ("size", *size),
                    ("page_param", page_param),
                    ("size_param", size_param),
                    *location,
                    &mut problem,
                );
                if let Some(name) = total_pages_header {
                    if HeaderName::from_bytes(name.as_bytes()).is_err() {
                        problem(
                            "total_pages_header",
                            format!("{name:?} is not an HTTP header name"),
                        );
                    }
                }
                if let Some(ptr) = total_pages_ptr {
                    if total_pages_header.is_some() {
                        problem(
                            "total_pages_ptr",
                            "set total_pages_header or total_pages_ptr, not both".into(),
                        );
                    }
                    if let Err(message) = answer_pointer("/meta/totalPages")(ptr) {
                        problem("total_pages_ptr", message);
                    }
                }
            }
            PaginationConfig::Cursor { param, next_ptr } => {
                if let Err(message) = self.check_cursor_param(param) {
                    problem("param", message);
                }
                if let Err(message) = answer_pointer("/meta/page/nextCursor")(next_ptr) {
                    problem("next_ptr", message);
                }
            }
            PaginationConfig::LinkHeader => {}
            PaginationConfig::NextUrl { ptr } => {
                if let Err(message) = answer_pointer("/_links/next/href")(ptr) {
                    problem("ptr", message);
                }
            }
        }
    }
}

/// The check of a pointer to a value inside each answer (a total, a cursor, a link): a JSON
/// Pointer, and not `""`, which would be the whole answer. `example` is shown when it is `""`.
fn answer_pointer(example: &str) -> impl Fn(&str) -> Result<(), String> + '_ {
    move |ptr| {
        if ptr.is_empty() {
            return Err(format!("must point into the answer, such as \"{example}\""));
        }
        check_pointer(ptr)
    }
}

/// An `https://` (or `http://`) URL with a host.
fn scheme_and_host(url: &Url) -> Result<(), String> {
    if url.scheme() != "https" && url.scheme() != "http" {
        Err("must start with https:// (or http://)".into())
    } else if url.host_str().is_none() {
        Err("has no host".into())
    } else {
        Ok(())
    }
}

fn url_query_has(url: &str, param: &str) -> bool {
    Url::parse(url).is_ok_and(|url| url.query_pairs().any(|(name, _)| name == param))
}

fn is_loopback(url: &Url) -> bool {
    url.host_str().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

/// Credentials read from their secrets, ready to be put on requests.
enum Auth {
    None,
    Bearer(SecretString),
    Basic {
        username: SecretString,
        password: Option<SecretString>,
    },
    Header {
        name: HeaderName,
        value: HeaderValue,
    },
    OAuth2(Box<OAuth2>),
}

impl Auth {
    fn resolve(config: &AuthConfig) -> Result<Self, HrError> {
        Ok(match config {
            AuthConfig::None => Self::None,
            AuthConfig::Bearer { token } => Self::Bearer(token.resolve("hr.rest.auth.token")?),
            AuthConfig::Basic { username, password } => Self::Basic {
                username: match username {
                    Credential::Plain(user) => SecretString::from(user.clone()),
                    Credential::Secret(secret) => secret.resolve("hr.rest.auth.username")?,
                },
                password: password
                    .as_ref()
                    .map(|p| p.resolve("hr.rest.auth.password"))
                    .transpose()?,
            },
            AuthConfig::Oauth2(oauth) => Self::OAuth2(Box::new(OAuth2::resolve(oauth)?)),
            AuthConfig::TokenRequest(request) => {
                Self::OAuth2(Box::new(OAuth2::resolve_token_request(request)?))
            }
            AuthConfig::SamlBearer(saml) => {
                Self::OAuth2(Box::new(OAuth2::resolve_saml_bearer(saml)?))
            }
            AuthConfig::Header { name, value } => {
                let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    HrError::Config(format!("hr.rest.auth.name: {name:?} is not a header name"))
                })?;
                let secret = value.resolve("hr.rest.auth.value")?;
                let mut value = HeaderValue::from_str(secret.expose_secret()).map_err(|_| {
                    HrError::Config(
                        "hr.rest.auth.value: the secret is not a valid header value".into(),
                    )
                })?;
                value.set_sensitive(true);
                Self::Header { name, value }
            }
        })
    }

    /// Puts the credentials on a request; `token` is the current OAuth2 access token.
    fn apply(&self, request: RequestBuilder, token: Option<&SecretString>) -> RequestBuilder {
        match self {
            Self::None => request,
            Self::OAuth2(_) => match token {
                Some(token) => request.bearer_auth(token.expose_secret()),
                None => request,
            },
            Self::Bearer(token) => request.bearer_auth(token.expose_secret()),
            Self::Basic { username, password } => request.basic_auth(
                username.expose_secret(),
                password.as_ref().map(|p| p.expose_secret()),
            ),
            Self::Header { name, value } => request.header(name.clone(), value.clone()),
        }
    }
}

/// One fetch: the client, the credentials and the settings.
struct Session<'a> {
    config: &'a RestConfig,
    client: Client,
    auth: Auth,
    /// `url` with the configured query parameters: the first page.
    first: Url,
    /// Spaces requests out under `requests_per_minute`.
    pacer: Option<Pacer>,
}

/// Request spacing: one request per `interval`, the next one not before `next`.
struct Pacer {
    interval: Duration,
    next: tokio::sync::Mutex<Option<tokio::time::Instant>>,
}

/// Reads every page and sends its records to `pages`, in order, each page as it arrives. Any
/// failure fails the whole fetch: the receiver must then discard every page it was sent.
pub(crate) async fn fetch_pages(
    config: &RestConfig,
    pages: mpsc::Sender<Page>,
) -> Result<(), HrError> {
    let mut pages = Pager::new(pages);
    let session = Session::open(config).await?;
    let count = session.all_pages(&mut pages).await?;
    tracing::info!(
        records = pages.received,
        pages = count,
        "HR records fetched"
    );
    Ok(())
}

impl<'a> Session<'a> {
    /// The client, credentials and first URL of a fetch.
    async fn open(config: &'a RestConfig) -> Result<Self, HrError> {
        let mut first = Url::parse(&config.url)
            .map_err(|e| HrError::Config(format!("hr.rest.url is not a URL: {e}")))?;
        for (name, value) in &config.query {
            for value in value.values() {
                first.query_pairs_mut().append_pair(name, value);
            }
        }
        Ok(Session {
            config,
            client: build_client(config).await?,
            auth: Auth::resolve(&config.auth)?,
            first,
            pacer: config
                .requests_per_minute
                .filter(|n| *n > 0)
                .map(|n| Pacer {
                    interval: Duration::from_secs(60) / n,
                    next: tokio::sync::Mutex::new(None),
                }),
        })
    }

    /// Every page, in the source's paging style; returns how many pages there were.
    async fn all_pages(&self, pages: &mut Pager) -> Result<u64, HrError> {
        let config = self.config;
        let count = match &config.pagination {
            PaginationConfig::None => {
                let (mut body, _) = self.get(&self.first, config.body.as_ref(), 1).await?;
                let at = self.origin(&self.first, 1);
                pages
                    .send(take_records(&mut body, &config.records, &at)?, &at)
                    .await?;
                1
            }
            PaginationConfig::Offset {
                offset_param,
                limit_param,
                limit,
                start,
                total_ptr,
                location,
            } => {
                self.offset_pages(
                    pages,
                    OffsetParams {
                        offset_param,
                        limit_param,
                        limit: *limit,
                        start: *start,
                        total_ptr: total_ptr.as_deref(),
                        location: *location,
                    },
                )
                .await?
            }
            PaginationConfig::NextUrl { ptr } => {
                self.linked_pages(pages, NextLink::Ptr(ptr)).await?
            }
            PaginationConfig::LinkHeader => self.linked_pages(pages, NextLink::Header).await?,
            PaginationConfig::Page {
                page_param,
                size_param,
                size,
                start,
                total_pages_header,
                total_pages_ptr,
                location,
            } => {
                let total = match (total_pages_header, total_pages_ptr) {
                    (Some(name), _) => Some(PageTotal::Header(name)),
                    (None, Some(ptr)) => Some(PageTotal::Ptr(ptr)),
                    (None, None) => None,
                };
                self.numbered_pages(
                    pages,
                    PageParams {
                        page_param,
                        size_param,
                        size: *size,
                        start: *start,
                        total,
                        location: *location,
                    },
                )
                .await?
            }
            PaginationConfig::Cursor { param, next_ptr } => {
                self.cursor_pages(pages, param, next_ptr).await?
            }
        };
        Ok(count)
    }
}

async fn build_client(config: &RestConfig) -> Result<Client, HrError> {
    let mut builder = Client::builder()
        .connect_timeout(Duration::from_secs(config.connect_timeout_secs))
        .timeout(Duration::from_secs(config.timeout_secs))
        .redirect(same_origin_redirects())
        .user_agent(concat!("hrsync/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &config.ca_file {
        let ca_error = |detail: String| HrError::CaFile {
            path: path.clone(),
            detail,
        };
        let pem = tokio::fs::read(path)
            .await
            .map_err(|e| ca_error(e.to_string()))?;
        let certs = Certificate::from_pem_bundle(&pem).map_err(|e| ca_error(e.to_string()))?;
        if certs.is_empty() {
            return Err(ca_error("no PEM certificate in it".into()));
        }
        builder = builder.tls_certs_merge(certs);
    }
    if config.danger_accept_invalid_certs {
        tracing::warn!(
            "TLS certificate verification is OFF for the HR API (hr.rest.danger_accept_invalid_certs)"
        );
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder
        .build()
        .map_err(|e| HrError::Client(describe_reqwest(e, config.timeout_secs)))
}

/// Redirects are followed only within the origin they start from (at most 10); a redirect to
/// another origin is returned as it is and becomes an [`HrError::Redirect`].
fn same_origin_redirects() -> redirect::Policy {
    redirect::Policy::custom(|attempt| {
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if attempt.previous().len() > 10 {
            attempt.error("more than 10 redirects")
        } else if same_origin {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// Where the next page's link is: a JSON Pointer into the body, or the `Link` header.
#[derive(Clone, Copy)]
enum NextLink<'a> {
    Ptr(&'a str),
    Header,
}

/// Where the number of pages is announced.
enum PageTotal<'a> {
    Header(&'a str),
    Ptr(&'a str),
}

struct PageParams<'a> {
    page_param: &'a str,
    size_param: &'a str,
    size: u64,
    start: u64,
    total: Option<PageTotal<'a>>,
    location: ParamLocation,
}

struct OffsetParams<'a> {
    offset_param: &'a str,
    limit_param: &'a str,
    limit: u64,
    start: u64,
    total_ptr: Option<&'a str>,
    location: ParamLocation,
}

impl Session<'_> {
    /// The URL and body of one page, with the paging parameters in the query string or in the
    /// JSON body.
    fn page_target(
        &self,
        location: ParamLocation,
        params: [(&str, u64); 2],
    ) -> (Url, Option<Value>) {
        let mut url = self.first.clone();
        let mut body = self.config.body.clone();
        match location {
            ParamLocation::Query => {
                for (name, value) in params {
                    url.query_pairs_mut().append_pair(name, &value.to_string());
                }
            }
            ParamLocation::Body => {
                let mut object = match body.take() {
                    Some(Value::Object(object)) => object,
                    _ => serde_json::Map::new(),
                };
                for (name, value) in params {
                    object.insert(name.to_string(), Value::from(value));
                }
                body = Some(Value::Object(object));
            }
        }
        (url, body)
    }

    /// Waits for the next request slot under `requests_per_minute`.
    async fn pace(&self) {
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

    fn origin(&self, url: &Url, page: u64) -> Origin {
        Origin::page(self.config.method.as_str(), url, page)
    }

    fn too_many_pages(&self, url: &Url, page: u64) -> HrError {
        HrError::Pagination {
            at: self.origin(url, page),
            problem: format!(
                "more than {} pages (hr.rest.max_pages); stopped rather than page forever",
                self.config.max_pages
            ),
        }
    }

    /// One page: the parsed JSON answer of a 2xx response and its headers, or the reason there
    /// is none. Failures worth it are retried (`[hr.rest.retry]`); with OAuth2, a 401 fetches a
    /// new token once and tries the page again.
    async fn get(
        &self,
        url: &Url,
        body: Option<&Value>,
        page: u64,
    ) -> Result<(Value, HeaderMap), HrError> {
        let mut refreshed = false;
        loop {
            let token = match &self.auth {
                Auth::OAuth2(oauth) => Some(
                    oauth
                        .token(&self.client, &self.config.retry, self.config.timeout_secs)
                        .await?,
                ),
                _ => None,
            };
            let result = with_retries(&self.config.retry, || {
                self.attempt(url, body, page, token.as_ref())
            })
            .await;
            match (result, &self.auth) {
                (Err(HrError::Credentials { status: 401, .. }), Auth::OAuth2(oauth))
                    if !refreshed =>
                {
                    tracing::info!(
                        page,
                        "HR API refused the OAuth2 access token (HTTP 401); fetching a new one"
                    );
                    oauth.invalidate().await;
                    refreshed = true;
                }
                (result, _) => return result,
            }
        }
    }

    /// One attempt at one page.
    async fn attempt(
        &self,
        url: &Url,
        body: Option<&Value>,
        page: u64,
        token: Option<&SecretString>,
    ) -> Result<(Value, HeaderMap), Failure> {
        let at = self.origin(url, page);
        let mut request = self
            .client
            .request(self.config.method.to_reqwest(), url.clone());
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
        if let Some(body) = body {
            request = request.json(body);
        }
        self.pace().await;
        let transport = |e: reqwest::Error| {
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
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            let wait = retry_after(response.headers());
            let error = self.status_error(at.clone(), url, response).await;
            return Err(if is_retryable_status(status) {
                Failure::retryable(error, wait)
            } else {
                Failure::fatal(error)
            });
        }
        let headers = response.headers().clone();
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response.bytes().await.map_err(transport)?;
        tracing::debug!(
            page,
            bytes = bytes.len(),
            status = status.as_u16(),
            "HR page received"
        );
        let body = serde_json::from_slice(&bytes).map_err(|e| {
            Failure::fatal(HrError::NotJson {
                at,
                content_type,
                detail: e.to_string(),
            })
        })?;
        Ok((body, headers))
    }

    async fn status_error(&self, at: Origin, url: &Url, response: reqwest::Response) -> HrError {
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
                let body = response
                    .bytes()
                    .await
                    .map(|b| clean_excerpt(&b, 200))
                    .unwrap_or_default();
                HrError::Http {
                    at,
                    status,
                    body,
                    attempts: 1,
                }
            }
        }
    }

    async fn offset_pages(
        &self,
        pages: &mut Pager,
        params: OffsetParams<'_>,
    ) -> Result<u64, HrError> {
        let mut offset = params.start;
        let mut page = 1;
        loop {
            let (url, request_body) = self.page_target(
                params.location,
                [
                    (params.offset_param, offset),
                    (params.limit_param, params.limit),
                ],
            );
            if page > self.config.max_pages {
                return Err(self.too_many_pages(&url, page));
            }
            let at = self.origin(&url, page);
            let (mut body, _) = self.get(&url, request_body.as_ref(), page).await?;
            let total = match params.total_ptr {
                Some(ptr) => Some((ptr, read_count(&body, ptr, &at)?)),
                None => None,
            };
            let records = take_records(&mut body, &self.config.records, &at)?;
            let count = records.len() as u64;
            tracing::debug!(page, offset, records = count, "HR page read");
            self.append_page(pages, records, &at).await?;
            let received = pages.received;
            let done = count == 0
                || count < params.limit
                || total.is_some_and(|(_, total)| received >= total);
            if done {
                if let Some((pointer, expected)) = total {
                    if received != expected {
                        return Err(HrError::Incomplete {
                            at,
                            pointer: pointer.to_string(),
                            expected,
                            received,
                        });
                    }
                }
                return Ok(page);
            }
            offset += count;
            page += 1;
        }
    }

    async fn numbered_pages(
        &self,
        pages: &mut Pager,
        params: PageParams<'_>,
    ) -> Result<u64, HrError> {
        let mut number = params.start;
        let mut page = 1;
        loop {
            let (url, request_body) = self.page_target(
                params.location,
                [
                    (params.page_param, number),
                    (params.size_param, params.size),
                ],
            );
            if page > self.config.max_pages {
                return Err(self.too_many_pages(&url, page));
            }
            let at = self.origin(&url, page);
            let (mut body, headers) = self.get(&url, request_body.as_ref(), page).await?;
            let total = page_total(params.total.as_ref(), &body, &headers, &at)?;
            let records = take_records(&mut body, &self.config.records, &at)?;
            let count = records.len() as u64;
            tracing::debug!(page, number, records = count, "HR page read");
            self.append_page(pages, records, &at).await?;
            let last_by_total = total.as_ref().is_some_and(|(_, total)| page >= *total);
            if count == 0 || count < params.size || last_by_total {
                if let Some((source, total)) = total {
                    if page < total {
                        return Err(HrError::Pagination {
                            at,
                            problem: format!(
                                "incomplete fetch: the API announces {total} pages ({source}), \
                                 but page {page} holds {count} records of {}; the rest is \
                                 missing",
                                params.size
                            ),
                        });
                    }
                    if page > total && count > 0 {
                        return Err(HrError::Pagination {
                            at,
                            problem: format!(
                                "incomplete fetch: the API announces {total} pages ({source}), \
                                 but page {page} holds records"
                            ),
                        });
                    }
                }
                return Ok(page);
            }
            number += 1;
            page += 1;
        }
    }

    async fn cursor_pages(
        &self,
        pages: &mut Pager,
        param: &str,
        next_ptr: &str,
    ) -> Result<u64, HrError> {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut cursor: Option<String> = None;
        let mut page = 1;
        loop {
            let mut url = self.first.clone();
            if let Some(cursor) = &cursor {
                url.query_pairs_mut().append_pair(param, cursor);
            }
            if page > self.config.max_pages {
                return Err(self.too_many_pages(&url, page));
            }
            let at = self.origin(&url, page);
            let (mut body, _) = self.get(&url, self.config.body.as_ref(), page).await?;
            let next = match body.pointer(next_ptr) {
                None | Some(Value::Null) => None,
                Some(Value::String(next)) if next.trim().is_empty() => None,
                Some(Value::String(next)) => Some(next.clone()),
                Some(Value::Number(next)) => Some(next.to_string()),
                Some(other) => {
                    return Err(HrError::Pagination {
                        at,
                        problem: format!(
                            "expected the next cursor (a string) at pagination.next_ptr \
                             {next_ptr:?}, found {}",
                            describe_json(other)
                        ),
                    });
                }
            };
            let records = take_records(&mut body, &self.config.records, &at)?;
            tracing::debug!(page, records = records.len(), "HR page read");
            self.append_page(pages, records, &at).await?;
            let Some(next) = next else {
                return Ok(page);
            };
            if !seen.insert(next.clone()) {
                return Err(HrError::Pagination {
                    at,
                    problem: format!(
                        "the API returned a cursor (at {next_ptr:?}) it had returned before; it \
                         would page forever"
                    ),
                });
            }
            cursor = Some(next);
            page += 1;
        }
    }

    /// Pages that link to the next one, by a URL in the body or an RFC 8288 `Link` header.
    async fn linked_pages(&self, pages: &mut Pager, link: NextLink<'_>) -> Result<u64, HrError> {
        let mut visited: BTreeMap<String, u64> = BTreeMap::new();
        let mut url = self.first.clone();
        let mut page = 1;
        loop {
            if page > self.config.max_pages {
                return Err(self.too_many_pages(&url, page));
            }
            let at = self.origin(&url, page);
            if let Some(earlier) = visited.insert(url.to_string(), page) {
                return Err(HrError::Pagination {
                    at,
                    problem: format!(
                        "the next link leads back to page {earlier}; the API would page forever"
                    ),
                });
            }
            let (mut body, headers) = self.get(&url, self.config.body.as_ref(), page).await?;
            let next = match link {
                NextLink::Header => next_link(&headers),
                NextLink::Ptr(ptr) => match body.pointer(ptr) {
                    None | Some(Value::Null) => None,
                    Some(Value::String(href)) if href.trim().is_empty() => None,
                    Some(Value::String(href)) => Some(href.trim().to_string()),
                    Some(other) => {
                        return Err(HrError::Pagination {
                            at,
                            problem: format!(
                                "expected the next page's URL (a string) at pagination.ptr \
                                 {ptr:?}, found {}",
                                describe_json(other)
                            ),
                        });
                    }
                },
            };
            let records = take_records(&mut body, &self.config.records, &at)?;
            tracing::debug!(page, records = records.len(), "HR page read");
            self.append_page(pages, records, &at).await?;
            let Some(href) = next else {
                return Ok(page);
            };
            let next_url = url.join(&href).map_err(|e| HrError::Pagination {
                at: at.clone(),
                problem: format!(
                    "the next link ({}) is not a URL: {e}",
                    match link {
                        NextLink::Ptr(ptr) => format!("at {ptr:?}"),
                        NextLink::Header => "in the Link header".to_string(),
                    }
                ),
            })?;
            if next_url.origin() != self.first.origin() {
                return Err(HrError::Pagination {
                    at,
                    problem: format!(
                        "the next link points to another origin ({}) than hr.rest.url ({}); \
                         refused, so the credentials never reach another host",
                        display_origin(&next_url),
                        display_origin(&self.first)
                    ),
                });
            }
            url = next_url;
            page += 1;
        }
    }

    /// Hands a page's records on. An API that ignores the paging parameters sends the same page
    /// again and again; joined, every record would appear many times, so a page that repeats the
    /// one before is an error, caught at the second copy.
    async fn append_page(
        &self,
        pages: &mut Pager,
        records: Vec<Value>,
        at: &Origin,
    ) -> Result<(), HrError> {
        if !records.is_empty() && pages.previous.as_deref() == Some(&records) {
            return Err(HrError::Pagination {
                at: at.clone(),
                problem: format!(
                    "this page holds exactly the records of the page before; the API seems to \
                     ignore the paging ({})",
                    match &self.config.pagination {
                        PaginationConfig::Offset { offset_param, .. } =>
                            format!("does it understand the parameter {offset_param:?}?"),
                        _ => "check hr.rest.pagination".to_string(),
                    }
                ),
            });
        }
        pages.send(records, at).await
    }
}

/// Where a fetch's pages go: each accepted page is sent on as it arrives (to be normalised while
/// the next one is fetched), and the last one is kept to compare the next with.
pub(crate) struct Pager {
    sink: mpsc::Sender<Page>,
    /// The page before, shared with the receiver (which may still be reading it).
    previous: Option<Page>,
    /// Records sent so far, across pages.
    received: u64,
}

impl Pager {
    pub(crate) fn new(sink: mpsc::Sender<Page>) -> Self {
        Self {
            sink,
            previous: None,
            received: 0,
        }
    }

    async fn send(&mut self, records: Vec<Value>, at: &Origin) -> Result<(), HrError> {
        self.received += records.len() as u64;
        let page = Arc::new(records);
        // The receiver only goes away when it failed, which its owner reports; this error is a
        // fallback so that the fetch stops rather than fetching pages nobody reads.
        self.sink
            .send(Arc::clone(&page))
            .await
            .map_err(|_| HrError::Pagination {
                at: at.clone(),
                problem: "the records of this page could not be handed on to be read".into(),
            })?;
        self.previous = Some(page);
        Ok(())
    }
}

/// The number of pages the API announces for a numbered page, and where it said so.
fn page_total(
    total: Option<&PageTotal<'_>>,
    body: &Value,
    headers: &HeaderMap,
    at: &Origin,
) -> Result<Option<(String, u64)>, HrError> {
    let total = match total {
        None => None,
        Some(PageTotal::Ptr(ptr)) => Some((
            format!("pagination.total_pages_ptr {ptr:?}"),
            read_count(body, ptr, at)?,
        )),
        Some(PageTotal::Header(name)) => {
            let value = headers.get(*name).and_then(|v| v.to_str().ok());
            match value.and_then(|v| v.trim().parse::<u64>().ok()) {
                Some(total) => Some((format!("response header {name}"), total)),
                None => {
                    return Err(HrError::Pagination {
                        at: at.clone(),
                        problem: format!(
                            "expected the number of pages in the response header {name} \
                                 (pagination.total_pages_header), found {}",
                            if value.is_some() {
                                "something that is not a number"
                            } else {
                                "no such header"
                            }
                        ),
                    });
                }
            }
        }
    };
    Ok(total)
}

/// The target of the first `rel="next"` link in the RFC 8288 `Link` headers, if any.
fn next_link(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(LINK) {
        let Ok(mut rest) = value.to_str() else {
            continue;
        };
        while let Some(open) = rest.find('<') {
            let after_open = &rest[open + 1..];
            let close = after_open.find('>')?;
            let target = after_open[..close].trim();
            let after_close = &after_open[close + 1..];
            let params_end = after_close.find('<').unwrap_or(after_close.len());
            let params = &after_close[..params_end];
            let is_next = params.split(';').any(|param| {
                param
                    .trim()
                    .trim_end_matches(',')
                    .split_once('=')
                    .is_some_and(|(name, value)| {
                        name.trim().eq_ignore_ascii_case("rel")
                            && value
                                .trim()
                                .trim_matches('"')
                                .split_whitespace()
                                .any(|rel| rel.eq_ignore_ascii_case("next"))
                    })
            });
            if is_next && !target.is_empty() {
                return Some(target.to_string());
            }
            rest = &after_close[params_end..];
        }
    }
    None
}

/// A count at `ptr`: a non-negative integer, or a string holding one.
fn read_count(body: &Value, ptr: &str, at: &Origin) -> Result<u64, HrError> {
    let found = body.pointer(ptr);
    let count = match found {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    count.ok_or_else(|| HrError::Pagination {
        at: at.clone(),
        problem: format!(
            "expected the total number of records at pagination.total_ptr {ptr:?}, found {}",
            found.map_or_else(|| "nothing".to_string(), describe_json)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(LINK, HeaderValue::from_static(value));
        }
        headers
    }

    fn problems(text: &str) -> Vec<String> {
        let config: RestConfig = match toml::from_str(text) {
            Ok(config) => config,
            Err(e) => return vec![format!("parse: {e}")],
        };
        let mut problems = Vec::new();
        config.validate(&mut problems);
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn new_auth_pagination_and_retry_settings_are_validated() {
        let base = "url = \"https://api.example.com/v1/people\"\nrecords = \"/data\"\n";
        assert_eq!(
            problems(&format!(
                "{base}[auth]\ntype = \"oauth2\"\ntoken_url = \"https://login.example.com/t\"\n\
                 client_id = \"id\"\nclient_secret = {{ env = \"S\" }}\n\
                 [pagination]\ntype = \"cursor\"\nparam = \"page[after]\"\n\
                 next_ptr = \"/meta/page/nextCursor\"\n"
            )),
            Vec::<String>::new()
        );
        let found = problems(&format!(
            "{base}[auth]\ntype = \"oauth2\"\ntoken_url = \"http://login.example.com/t\"\n\
             client_id = \"id\"\nclient_secret = {{ env = \"S\" }}\ntoken_ptr = \"token\"\n\
             [pagination]\ntype = \"page\"\nsize = 0\ntotal_pages_header = \"X-Total\"\n\
             total_pages_ptr = \"/pages\"\n[retry]\nmax_attempts = 0\n"
        ))
        .join("\n");
        for key in [
            "hr.rest.auth.token_url",
            "hr.rest.auth.token_ptr",
            "hr.rest.pagination.size",
            "hr.rest.pagination.total_pages_ptr",
            "hr.rest.retry.max_attempts",
        ] {
            assert!(found.contains(key), "{key} missing in:\n{found}");
        }
        let found = problems(&format!(
            "{base}query = {{ cursor = \"x\" }}\n[pagination]\ntype = \"cursor\"\n\
             param = \"cursor\"\nnext_ptr = \"\"\n"
        ))
        .join("\n");
        assert!(found.contains("hr.rest.pagination.param"), "{found}");
        assert!(found.contains("hr.rest.pagination.next_ptr"), "{found}");
    }

    #[test]
    fn link_headers_give_the_next_target() {
        assert_eq!(
            next_link(&links(&[
                r#"<https://a.example/x?page=1>; rel="first", <https://a.example/x?page=3>; rel="next""#
            ])),
            Some("https://a.example/x?page=3".into())
        );
        assert_eq!(
            next_link(&links(&[
                r#"</x?page=1>; rel=prev"#,
                r#"</x?page=2>; rel="next last""#
            ])),
            Some("/x?page=2".into())
        );
        assert_eq!(next_link(&links(&[r#"</x?page=1>; rel="prev""#])), None);
        assert_eq!(next_link(&HeaderMap::new()), None);
    }
}
