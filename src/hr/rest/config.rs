//! `[hr.rest]`: the source's settings, their defaults and their validation.

use std::collections::BTreeMap;
use std::path::PathBuf;

use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::Value;

use crate::hr::check_pointer;
use crate::hr::oauth::{OAuth2Config, SamlBearerConfig, TokenRequestConfig};
use crate::hr::retry::RetryConfig;
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
    /// Moved to `[hr.limits] max_pages`, beside the other caps of a read; still read here only
    /// to say so.
    pub max_pages: Option<u64>,
    /// At most this many requests per minute to the API, evenly spaced (retries included):
    /// `300` is Deel's 5 per second and Personio's employee list limit, `50` HiBob's search.
    /// Default: no limit besides the API's own 429 answers, which are retried.
    pub requests_per_minute: Option<u32>,
    /// The URL that reads one employee, with `{id}` where the employee's id goes, such as
    /// `https://hr.example.com/api/v1/employees/{id}`: how hrsync confirms that an employee
    /// missing from the list is really gone before anything is done to their account. The id is
    /// percent-encoded (`/`, `?`, `#`, `%` and every other reserved character), so it can never
    /// change the host or the path's structure; an id of `.` or `..` is refused. Same origin as
    /// `url` (the credentials go with it). `GET`, with `headers` and `[hr.rest.auth]`; an
    /// answer of HTTP 404 means there is no such employee. Vendor presets read one employee
    /// their own way (see docs/src/hr/sources.md); this key overrides that.
    pub employee_url: Option<String>,
    /// JSON Pointer to the employee in `employee_url`'s answer: an object (the record), or an
    /// array of records (none: no such employee). Default `""`, the whole answer.
    pub employee_pointer: Option<String>,
    /// The URL that lists the employees changed since a time, with `{since}` where the time
    /// goes (RFC 3339, percent-encoded), such as a Workday report with an updated-since prompt
    /// (`https://.../customreport2/acme/ISU/Workers?Updated_Since={since}&format=json`): what
    /// the frequent `schedule.changes` run reads. Same origin as `url`, `GET`, with `headers`
    /// and `[hr.rest.auth]`. The BambooHR and SCIM presets have their own; this overrides it.
    pub changed_url: Option<String>,
    /// JSON Pointer to the records (or ids) in `changed_url`'s answer; default `records`.
    pub changed_pointer: Option<String>,
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

pub(super) fn default_connect_timeout_secs() -> u64 {
    10
}
pub(super) fn default_timeout_secs() -> u64 {
    30
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

    pub(super) fn to_reqwest(self) -> reqwest::Method {
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
    pub(super) fn values(&self) -> &[String] {
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
        /// fetch that ends with a different number of records is an error, not a short list,
        /// and so is a total that changes from one page to the next (records added or removed
        /// in HR while paging shift the offsets, so someone may have been skipped).
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
        /// JSON Pointer to the total number of records in each answer, if the API gives one
        /// (OData v2 with `$inlinecount=allpages`: `/d/__count`). When set, it must be the same
        /// on every page and equal to what arrived at the end.
        total_ptr: Option<String>,
    },
    /// Page number and page size query parameters (Gusto `page`/`per`). Stops at an empty
    /// page, a page shorter than `size`, or the last page the API announces
    /// (`total_pages_header` or `total_pages_ptr`); with a total, stopping before it is an
    /// error, never a short list, and so is a number of pages that changes from one page to the
    /// next.
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
        /// JSON Pointer to the total number of records in each answer, if the API gives one
        /// (BambooHR: `/meta/total`). When set, it must be the same on every page and equal to
        /// what arrived at the end.
        total_ptr: Option<String>,
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

pub(super) fn default_offset_param() -> String {
    "offset".into()
}
pub(super) fn default_limit_param() -> String {
    "limit".into()
}
pub(super) fn default_limit() -> u64 {
    100
}
pub(super) fn default_page_param() -> String {
    "page".into()
}
pub(super) fn default_size_param() -> String {
    "per_page".into()
}
pub(super) fn default_page_start() -> u64 {
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
        if self.max_pages.is_some() {
            problem(
                "max_pages",
                "has moved to [hr.limits] max_pages, with the other caps of an HR read".into(),
            );
        }
        if self.requests_per_minute == Some(0) {
            problem(
                "requests_per_minute",
                "must be at least 1 (leave it out for no limit)".into(),
            );
        }
        self.validate_auth(problems);
        self.validate_pagination(problems);
        self.validate_employee_url(problems);
        self.validate_changed_url(problems);
        self.retry.validate(problems);
    }

    /// `employee_url`: a URL with one `{id}` in its path or query, on the origin of `url`;
    /// `employee_pointer`: a JSON Pointer.
    fn validate_employee_url(&self, problems: &mut Vec<ConfigProblem>) {
        if let Some(Err(message)) = self.employee_pointer.as_deref().map(check_pointer) {
            problems.push(ConfigProblem::new("hr.rest.employee_pointer", message));
        }
        let Some(template) = &self.employee_url else {
            if self.employee_pointer.is_some() {
                problems.push(ConfigProblem::new(
                    "hr.rest.employee_pointer",
                    "is only read with hr.rest.employee_url",
                ));
            }
            return;
        };
        if let Err(message) = check_employee_url(template, &self.url) {
            problems.push(ConfigProblem::new("hr.rest.employee_url", message));
        }
    }

    /// `changed_url`: a URL with one `{since}` in its path or query, on the origin of `url`.
    fn validate_changed_url(&self, problems: &mut Vec<ConfigProblem>) {
        if let Some(Err(message)) = self.changed_pointer.as_deref().map(check_pointer) {
            problems.push(ConfigProblem::new("hr.rest.changed_pointer", message));
        }
        if let Some(template) = &self.changed_url
            && let Err(message) = check_template(template, SINCE_PLACEHOLDER, &self.url)
        {
            problems.push(ConfigProblem::new("hr.rest.changed_url", message));
        }
    }

    pub(super) fn validate_auth(&self, problems: &mut Vec<ConfigProblem>) {
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
    pub(super) fn token_url_ok(&self, url: &Url) -> Result<(), String> {
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
    pub(super) fn check_page_params(
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
    pub(super) fn check_cursor_param(&self, param: &str) -> Result<(), String> {
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

    pub(super) fn validate_pagination(&self, problems: &mut Vec<ConfigProblem>) {
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
                optional_pointer(total_ptr, "/total", &mut problem);
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
            PaginationConfig::Cursor {
                param,
                next_ptr,
                total_ptr,
            } => {
                if let Err(message) = self.check_cursor_param(param) {
                    problem("param", message);
                }
                if let Err(message) = answer_pointer("/meta/page/nextCursor")(next_ptr) {
                    problem("next_ptr", message);
                }
                optional_pointer(total_ptr, "/meta/total", &mut problem);
            }
            PaginationConfig::LinkHeader => {}
            PaginationConfig::NextUrl { ptr, total_ptr } => {
                if let Err(message) = answer_pointer("/_links/next/href")(ptr) {
                    problem("ptr", message);
                }
                optional_pointer(total_ptr, "/d/__count", &mut problem);
            }
        }
    }
}

/// The placeholder of the employee's id in `employee_url`.
pub(crate) const ID_PLACEHOLDER: &str = "{id}";

/// `employee_url` is a URL with exactly one `{id}`, in its path or query (never in the scheme,
/// the host or the fragment), on the origin of `url`, over https (or http to loopback, as for
/// `url`).
fn check_employee_url(template: &str, url: &str) -> Result<(), String> {
    check_template(template, ID_PLACEHOLDER, url)
}

/// The placeholder of the time in `changed_url`.
pub(crate) const SINCE_PLACEHOLDER: &str = "{since}";

/// A URL template with `placeholder` once, in its path or query, on the origin of `url`.
fn check_template(template: &str, placeholder: &str, url: &str) -> Result<(), String> {
    if template.matches(placeholder).count() != 1 {
        return Err(format!("must hold {placeholder} exactly once"));
    }
    let with = |id: &str| Url::parse(&template.replacen(placeholder, id, 1));
    let (Ok(one), Ok(other)) = (with("a"), with("b")) else {
        return Err(format!("is not a URL (with {placeholder} filled in)"));
    };
    scheme_and_host(&one)?;
    let in_fragment = one.fragment() != other.fragment();
    if one.origin() != other.origin() || in_fragment {
        return Err(format!("may hold {placeholder} only in its path or query"));
    }
    match Url::parse(url) {
        Ok(url) if url.origin() != one.origin() => Err(format!(
            "must be on the origin of hr.rest.url ({}): the credentials go with it",
            crate::hr::error::display_origin(&url)
        )),
        _ => Ok(()),
    }
}

/// The check of a pointer to a value inside each answer (a total, a cursor, a link): a JSON
/// Pointer, and not `""`, which would be the whole answer. `example` is shown when it is `""`.
pub(super) fn answer_pointer(example: &str) -> impl Fn(&str) -> Result<(), String> + '_ {
    move |ptr| {
        if ptr.is_empty() {
            return Err(format!("must point into the answer, such as \"{example}\""));
        }
        check_pointer(ptr)
    }
}

/// The check of an optional `total_ptr` ([`answer_pointer`]).
fn optional_pointer(
    total_ptr: &Option<String>,
    example: &str,
    problem: &mut impl FnMut(&str, String),
) {
    if let Some(Err(message)) = total_ptr.as_deref().map(answer_pointer(example)) {
        problem("total_ptr", message);
    }
}

/// An `https://` (or `http://`) URL with a host.
pub(super) fn scheme_and_host(url: &Url) -> Result<(), String> {
    if url.scheme() != "https" && url.scheme() != "http" {
        Err("must start with https:// (or http://)".into())
    } else if url.host_str().is_none() {
        Err("has no host".into())
    } else {
        Ok(())
    }
}

pub(super) fn url_query_has(url: &str, param: &str) -> bool {
    Url::parse(url).is_ok_and(|url| url.query_pairs().any(|(name, _)| name == param))
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    url.host_str().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}
