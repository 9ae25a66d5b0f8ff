//! Why an HR fetch failed. Every error says where (method, URL without its query string, page
//! number, or the export file), what came back (HTTP status, what was found) and what was
//! expected. None carries a secret: URLs are shown as `scheme://host:port/path` only, so a token
//! in a query string or user info can never reach a message or a log.

use std::fmt;
use std::path::PathBuf;

use reqwest::Url;

use crate::secret::SecretError;

/// Where a piece of HR input came from: one page of an HTTP fetch, or an export file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Page {
        /// `GET` or `POST`.
        method: String,
        /// The URL without query string, fragment or user info.
        url: String,
        /// 1-based page number within this fetch.
        page: u64,
    },
    File(PathBuf),
    /// The request that looks up one employee.
    Lookup {
        /// `GET` or `POST`.
        method: String,
        /// The URL without query string, fragment or user info.
        url: String,
    },
}

impl Origin {
    pub(crate) fn page(method: &str, url: &Url, page: u64) -> Self {
        Self::Page {
            method: method.to_string(),
            url: display_url(url),
            page,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Page { method, url, page } => write!(f, "{method} {url} (page {page})"),
            Self::File(path) => write!(f, "HR export {}", path.display()),
            Self::Lookup { method, url } => write!(f, "{method} {url} (one employee)"),
        }
    }
}

/// `scheme://host[:port]/path`: what an admin needs to recognise the endpoint, and nothing that
/// could hold a credential (user info, query string, fragment).
pub(crate) fn display_url(url: &Url) -> String {
    format!("{}{}", display_origin(url), url.path())
}

/// `scheme://host[:port]`.
pub(crate) fn display_origin(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}", url.scheme()),
        (Some(host), None) => format!("{}://{host}", url.scheme()),
        (None, _) => format!("{}:", url.scheme()),
    }
}

/// A fetch that failed. Any of these means: no employees at all, nothing is changed.
#[derive(Debug, thiserror::Error)]
pub enum HrError {
    /// The configuration was not validated, or a problem only shows when it is used.
    #[error("[hr] configuration: {0}")]
    Config(String),

    #[error(transparent)]
    Secret(#[from] SecretError),

    #[error("cannot use CA file {path} (hr.rest.ca_file): {detail}")]
    CaFile { path: PathBuf, detail: String },

    #[error("cannot set up the HTTP client for the HR API: {0}")]
    Client(String),

    /// No HTTP answer: DNS, connection refused, TLS, timeout.
    #[error("could not reach the HR API: {at}: {detail}{}", gave_up(*attempts))]
    Transport {
        at: Origin,
        detail: String,
        /// How many attempts were made (see `[hr.rest.retry]`).
        attempts: u32,
    },

    /// 401 or 403.
    #[error(
        "HR API refused the credentials (HTTP {status}) for {at}: check [hr.rest.auth] (is the \
         token or API key current, and allowed to read employees?)"
    )]
    Credentials { at: Origin, status: u16 },

    #[error(
        "HR API answered HTTP 404 Not Found for {at}: check hr.rest.url (path, company domain or \
         tenant name)"
    )]
    NotFound { at: Origin },

    /// A redirect to another origin, which is never followed: the credentials would go with it.
    #[error(
        "HR API redirected {at} (HTTP {status}) to another origin ({to}); not followed, so \
         credentials never reach another host: point hr.rest.url at the final address"
    )]
    Redirect { at: Origin, status: u16, to: String },

    /// Any other status that is not 2xx. `body` is a short, cleaned excerpt of the answer.
    #[error("HR API answered HTTP {status} for {at}{}{}", after(*attempts), excerpt(body))]
    Http {
        at: Origin,
        status: u16,
        body: String,
        /// How many attempts were made (see `[hr.rest.retry]`).
        attempts: u32,
    },

    /// The API throttled (or was unavailable) and asked, with `Retry-After`, for a wait longer
    /// than the retry budget has left.
    #[error(
        "{source_error}; the API asks (Retry-After) to wait {wait_secs} s before trying again, \
         more than the {remaining_secs} s left of the retry budget \
         (hr.rest.retry.max_total_secs): try later, or raise the budget"
    )]
    RetryAfterTooLong {
        source_error: Box<HrError>,
        wait_secs: u64,
        remaining_secs: u64,
    },

    /// The OAuth2 token endpoint refused the client id and secret (HTTP 400 `invalid_client`,
    /// 401 or 403).
    #[error(
        "OAuth2 token endpoint refused the client credentials (HTTP {status}) at {url}{}: check \
         hr.rest.auth.client_id and client_secret (current, and allowed this grant and scope?)",
        excerpt(detail)
    )]
    OAuth2Refused {
        /// The token URL without query string.
        url: String,
        status: u16,
        /// The OAuth2 `error` (and description) from the answer, when there is one.
        detail: String,
    },

    /// Any other failure to get an OAuth2 access token: an unexpected status or answer.
    #[error("OAuth2 token endpoint {url}: {problem}")]
    OAuth2 { url: String, problem: String },

    #[error("{at}: not JSON ({detail}){}", content_type_note(content_type.as_deref()))]
    NotJson {
        at: Origin,
        /// The Content-Type the server sent (an HTML login page says a lot).
        content_type: Option<String>,
        detail: String,
    },

    /// The records pointer does not lead to an array.
    #[error(
        "{at}: expected an array of records at {}, found {found}",
        show_pointer(pointer)
    )]
    Records {
        at: Origin,
        pointer: String,
        found: String,
    },

    /// The pagination went wrong: a repeated or foreign next URL, too many pages, a missing
    /// total. Never a partial result.
    #[error("{at}: {problem}")]
    Pagination { at: Origin, problem: String },

    /// The API announced a total, and the pages held a different number of records.
    #[error(
        "incomplete fetch: {at} ended the pagination after {received} records, but the API's \
         total ({pointer}) says {expected}"
    )]
    Incomplete {
        at: Origin,
        pointer: String,
        expected: u64,
        received: u64,
    },

    /// The total the API announces (of records, or of pages) changed from one page to another:
    /// records were added or removed in HR while it was paged through, which shifts offset and
    /// page-number pages, so someone may have been skipped or read twice.
    #[error(
        "{at}: the API's total changed during the fetch: page 1 said {first}, this page says \
         {now} ({announced_at}); records were added or removed in HR while paging, so the pages \
         shifted and someone may have been skipped: the fetch is refused (the next run reads \
         again)"
    )]
    TotalChanged {
        at: Origin,
        /// Where the total is read, such as `pagination.total_ptr "/totalResults"`.
        announced_at: String,
        first: u64,
        now: u64,
    },

    /// A cap of `[hr.limits]` was passed: an answer, or the read as a whole, is larger or longer
    /// than any genuine HR read should be. Nothing of the read is used.
    #[error(
        "{at}: {what}, more than hr.limits.{key} = {limit} allows; the HR read stopped and \
         nothing is changed (if HR really holds this much, raise hr.limits.{key})"
    )]
    Limit {
        /// What was being read: a page, a token endpoint, an export, or the source.
        at: String,
        /// The key in `[hr.limits]`.
        key: &'static str,
        limit: u64,
        /// What passed the cap.
        what: String,
    },

    /// The source has no way to read one employee by id (see [`crate::hr::can_read_one`]).
    #[error("this HR source cannot read one employee by id: {why}")]
    CannotReadOne { why: String },

    /// An id that cannot be looked up as it is: empty, `.` or `..`, or holding a character no
    /// HR id hrsync reads may hold.
    #[error("cannot look up HR id {id:?}: {problem}")]
    LookupId { id: String, problem: String },

    /// The lookup of one employee answered with a record for someone else.
    #[error("{at}: {problem}")]
    LookupAnswer { at: Origin, problem: String },

    #[error("cannot read HR export {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn gave_up(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (gave up after {attempts} attempts)")
    } else {
        String::new()
    }
}

fn after(attempts: u32) -> String {
    if attempts > 1 {
        format!(", after {attempts} attempts")
    } else {
        String::new()
    }
}

impl HrError {
    /// Notes how many attempts led to this error (for the errors that carry the count).
    pub(crate) fn after_attempts(self, count: u32) -> Self {
        match self {
            Self::Transport { at, detail, .. } => Self::Transport {
                at,
                detail,
                attempts: count,
            },
            Self::Http {
                at, status, body, ..
            } => Self::Http {
                at,
                status,
                body,
                attempts: count,
            },
            other => other,
        }
    }
}

fn content_type_note(content_type: Option<&str>) -> String {
    content_type.map_or_else(String::new, |c| format!("; Content-Type: {c}"))
}

fn excerpt(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}

pub(crate) fn show_pointer(pointer: &str) -> String {
    if pointer.is_empty() {
        "the top level (records = \"\")".to_string()
    } else {
        format!("records pointer {pointer:?}")
    }
}

/// At most `max` characters of an error body, control characters replaced, for an error message.
pub(crate) fn clean_excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text
        .trim()
        .chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.trim().chars().count() > max {
        out.push('…');
    }
    out
}

/// A reqwest error with its causes, without the URL (which could hold a token in its query).
pub(crate) fn describe_reqwest(error: reqwest::Error, timeout_secs: u64) -> String {
    let error = error.without_url();
    if error.is_timeout() {
        return format!("no complete answer within {timeout_secs} s (hr.rest.timeout_secs)");
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_query_user_info_or_fragment() {
        let url = Url::parse("https://key:pw@api.example.com:8443/v1/employees?api_key=s3cret#x")
            .unwrap();
        assert_eq!(
            display_url(&url),
            "https://api.example.com:8443/v1/employees"
        );
        let at = Origin::page("GET", &url, 2);
        assert_eq!(
            at.to_string(),
            "GET https://api.example.com:8443/v1/employees (page 2)"
        );
    }

    #[test]
    fn excerpts_are_bounded_and_free_of_control_characters() {
        assert_eq!(clean_excerpt(b"  bad\ngateway\x00 ", 100), "bad gateway ");
        assert_eq!(clean_excerpt(b"abcdef", 3), "abc…");
    }
}
