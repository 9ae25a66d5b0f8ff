//! One fetch: the HTTP client (TLS, timeouts, same-origin redirects), the credentials, and
//! the session that sends each request with its retries.

use std::time::Duration;

use reqwest::{Certificate, Client, Url, redirect};
use tokio::sync::mpsc;

use super::auth::Auth;
use super::config::{PaginationConfig, RestConfig};
use super::paging::{NextLink, OffsetParams, PageParams, PageTotal, Pager};
use crate::hr::error::{HrError, describe_reqwest};
use crate::hr::limits::LimitsConfig;
use crate::hr::{Page, take_records};
/// One fetch: the client, the credentials and the settings.
pub(super) struct Session<'a> {
    pub(super) config: &'a RestConfig,
    /// The caps of `[hr.limits]`.
    pub(super) limits: &'a LimitsConfig,
    pub(super) client: Client,
    pub(super) auth: Auth,
    /// `url` with the configured query parameters: the first page.
    pub(super) first: Url,
    /// Spaces requests out under `requests_per_minute`.
    pub(super) pacer: Option<Pacer>,
}

/// Request spacing: one request per `interval`, the next one not before `next`.
pub(super) struct Pacer {
    pub(super) interval: Duration,
    pub(super) next: tokio::sync::Mutex<Option<tokio::time::Instant>>,
}

/// Reads every page and sends its records to `pages`, in order, each page as it arrives. Any
/// failure fails the whole fetch: the receiver must then discard every page it was sent.
pub(crate) async fn fetch_pages(
    config: &RestConfig,
    limits: &LimitsConfig,
    pages: mpsc::Sender<Page>,
) -> Result<(), HrError> {
    let mut pages = Pager::new(pages, limits.clone());
    let session = Session::open(config, limits).await?;
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
    pub(super) async fn open(
        config: &'a RestConfig,
        limits: &'a LimitsConfig,
    ) -> Result<Self, HrError> {
        let mut first = Url::parse(&config.url)
            .map_err(|e| HrError::Config(format!("hr.rest.url is not a URL: {e}")))?;
        for (name, value) in &config.query {
            for value in value.values() {
                first.query_pairs_mut().append_pair(name, value);
            }
        }
        Ok(Session {
            config,
            limits,
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
    pub(super) async fn all_pages(&self, pages: &mut Pager) -> Result<u64, HrError> {
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
            PaginationConfig::NextUrl { ptr, total_ptr } => {
                self.linked_pages(pages, NextLink::Ptr(ptr), total_ptr.as_deref())
                    .await?
            }
            PaginationConfig::LinkHeader => {
                self.linked_pages(pages, NextLink::Header, None).await?
            }
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
            PaginationConfig::Cursor {
                param,
                next_ptr,
                total_ptr,
            } => {
                self.cursor_pages(pages, (param, next_ptr), total_ptr.as_deref())
                    .await?
            }
        };
        Ok(count)
    }
}

pub(super) async fn build_client(config: &RestConfig) -> Result<Client, HrError> {
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
pub(crate) fn same_origin_redirects() -> redirect::Policy {
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
