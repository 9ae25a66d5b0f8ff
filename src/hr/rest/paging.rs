//! The pagination styles: next links (in the body or the `Link` header), page numbers and
//! offsets, with the page totals compared as the pages come.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use reqwest::Url;
use reqwest::header::{HeaderMap, LINK};
use serde_json::Value;
use tokio::sync::mpsc;

use super::client::Session;
use super::config::{PaginationConfig, ParamLocation};
use crate::hr::error::{HrError, Origin, display_origin};
use crate::hr::limits::LimitsConfig;
use crate::hr::{Page, describe_json, take_records};
/// Where the next page's link is: a JSON Pointer into the body, or the `Link` header.
#[derive(Clone, Copy)]
pub(super) enum NextLink<'a> {
    Ptr(&'a str),
    Header,
}

/// Where the number of pages is announced.
pub(super) enum PageTotal<'a> {
    Header(&'a str),
    Ptr(&'a str),
}

pub(super) struct PageParams<'a> {
    pub(super) page_param: &'a str,
    pub(super) size_param: &'a str,
    pub(super) size: u64,
    pub(super) start: u64,
    pub(super) total: Option<PageTotal<'a>>,
    pub(super) location: ParamLocation,
}

pub(super) struct OffsetParams<'a> {
    pub(super) offset_param: &'a str,
    pub(super) limit_param: &'a str,
    pub(super) limit: u64,
    pub(super) start: u64,
    pub(super) total_ptr: Option<&'a str>,
    pub(super) location: ParamLocation,
}

impl Session<'_> {
    /// The URL and body of one page, with the paging parameters in the query string or in the
    /// JSON body.
    pub(super) fn page_target(
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

    pub(super) fn origin(&self, url: &Url, page: u64) -> Origin {
        Origin::page(self.config.method.as_str(), url, page)
    }

    pub(super) fn too_many_pages(&self, url: &Url, page: u64) -> HrError {
        HrError::Limit {
            at: self.origin(url, page).to_string(),
            key: "max_pages",
            limit: self.limits.max_pages,
            what: format!(
                "page {page} was next: the API has not stopped paging after {} pages",
                page - 1
            ),
        }
    }

    pub(super) async fn offset_pages(
        &self,
        pages: &mut Pager,
        params: OffsetParams<'_>,
    ) -> Result<u64, HrError> {
        let mut offset = params.start;
        let mut page = 1;
        let mut announced = AnnouncedTotal::default();
        loop {
            let (url, request_body) = self.page_target(
                params.location,
                [
                    (params.offset_param, offset),
                    (params.limit_param, params.limit),
                ],
            );
            let mut fetched = self.fetch_page(url, request_body.as_ref(), page).await?;
            let at = fetched.at.clone();
            let total = announced.records(params.total_ptr, &fetched.body, &at)?;
            let count = self.hand_on(pages, &mut fetched).await?;
            let received = pages.received;
            let done = count == 0
                || count < params.limit
                || total.is_some_and(|(_, total)| received >= total);
            if done {
                all_received(total, received, &at)?;
                return Ok(page);
            }
            offset += count;
            page += 1;
        }
    }

    pub(super) async fn numbered_pages(
        &self,
        pages: &mut Pager,
        params: PageParams<'_>,
    ) -> Result<u64, HrError> {
        let mut number = params.start;
        let mut page = 1;
        let mut announced = AnnouncedTotal::default();
        loop {
            let (url, request_body) = self.page_target(
                params.location,
                [
                    (params.page_param, number),
                    (params.size_param, params.size),
                ],
            );
            let mut fetched = self.fetch_page(url, request_body.as_ref(), page).await?;
            let at = fetched.at.clone();
            let total = page_total(params.total.as_ref(), &fetched.body, &fetched.headers, &at)?;
            if let Some((announced_at, total)) = &total {
                announced.check(*total, announced_at, &at)?;
            }
            let count = self.hand_on(pages, &mut fetched).await?;
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

    pub(super) async fn cursor_pages(
        &self,
        pages: &mut Pager,
        (param, next_ptr): (&str, &str),
        total_ptr: Option<&str>,
    ) -> Result<u64, HrError> {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut cursor: Option<String> = None;
        let mut page = 1;
        let mut announced = AnnouncedTotal::default();
        loop {
            let mut url = self.first.clone();
            if let Some(cursor) = &cursor {
                url.query_pairs_mut().append_pair(param, cursor);
            }
            let mut fetched = self
                .fetch_page(url, self.config.body.as_ref(), page)
                .await?;
            let at = fetched.at.clone();
            let next = match fetched.body.pointer(next_ptr) {
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
            let total = announced.records(total_ptr, &fetched.body, &at)?;
            self.hand_on(pages, &mut fetched).await?;
            let Some(next) = next else {
                all_received(total, pages.received, &at)?;
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
    pub(super) async fn linked_pages(
        &self,
        pages: &mut Pager,
        link: NextLink<'_>,
        total_ptr: Option<&str>,
    ) -> Result<u64, HrError> {
        let mut visited: BTreeMap<String, u64> = BTreeMap::new();
        let mut url = self.first.clone();
        let mut page = 1;
        let mut announced = AnnouncedTotal::default();
        loop {
            if let Some(earlier) = visited.insert(url.to_string(), page) {
                return Err(HrError::Pagination {
                    at: self.origin(&url, page),
                    problem: format!(
                        "the next link leads back to page {earlier}; the API would page forever"
                    ),
                });
            }
            let mut fetched = self
                .fetch_page(url.clone(), self.config.body.as_ref(), page)
                .await?;
            let at = fetched.at.clone();
            let next = match link {
                NextLink::Header => next_link(&fetched.headers),
                NextLink::Ptr(ptr) => match fetched.body.pointer(ptr) {
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
            let total = announced.records(total_ptr, &fetched.body, &at)?;
            self.hand_on(pages, &mut fetched).await?;
            let Some(href) = next else {
                all_received(total, pages.received, &at)?;
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

    /// Requests page number `page` (counted from 1), within `hr.limits.max_pages`. What tells where
    /// the next page is (a total, a cursor, a link) is read from the answer before its records
    /// are handed on with [`Session::hand_on`].
    async fn fetch_page(
        &self,
        url: Url,
        body: Option<&Value>,
        page: u64,
    ) -> Result<Fetched, HrError> {
        if page > self.limits.max_pages {
            return Err(self.too_many_pages(&url, page));
        }
        let (body, headers) = self.get(&url, body, page).await?;
        Ok(Fetched {
            at: self.origin(&url, page),
            page,
            body,
            headers,
        })
    }

    /// Takes the records out of a fetched page and hands them on; the number of records.
    async fn hand_on(&self, pages: &mut Pager, fetched: &mut Fetched) -> Result<u64, HrError> {
        let records = take_records(&mut fetched.body, &self.config.records, &fetched.at)?;
        let count = records.len() as u64;
        tracing::debug!(page = fetched.page, records = count, "HR page read");
        self.append_page(pages, records, &fetched.at).await?;
        Ok(count)
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

/// One page's answer, before its records are taken out.
struct Fetched {
    at: Origin,
    page: u64,
    body: Value,
    headers: HeaderMap,
}

/// Where a fetch's pages go: each accepted page is sent on as it arrives (to be normalised while
/// the next one is fetched), and the last one is kept to compare the next with.
pub(crate) struct Pager {
    pub(super) sink: mpsc::Sender<Page>,
    /// The caps of `[hr.limits]`: `max_records` is checked as the pages come.
    limits: LimitsConfig,
    /// The page before, shared with the receiver (which may still be reading it).
    pub(super) previous: Option<Page>,
    /// Records sent so far, across pages.
    pub(super) received: u64,
}

impl Pager {
    pub(crate) fn new(sink: mpsc::Sender<Page>, limits: LimitsConfig) -> Self {
        Self {
            sink,
            limits,
            previous: None,
            received: 0,
        }
    }

    pub(super) async fn send(&mut self, records: Vec<Value>, at: &Origin) -> Result<(), HrError> {
        self.received += records.len() as u64;
        self.limits
            .check_records(self.received, || at.to_string())?;
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

/// The total an API announces on each page (of records, or of pages). Every page must announce
/// the first page's: a total that changes means records were added or removed in HR while it
/// was paged through, and offset and page-number pages shift when that happens, so someone may
/// have been skipped or read twice. Even where the pages do not shift (a cursor), the total the
/// end is checked against must be one the API stood by.
#[derive(Default)]
pub(super) struct AnnouncedTotal {
    first: Option<u64>,
}

impl AnnouncedTotal {
    /// Notes this page's total, announced at `announced_at`; an error if it is not the first
    /// page's.
    pub(super) fn check(
        &mut self,
        now: u64,
        announced_at: &str,
        at: &Origin,
    ) -> Result<(), HrError> {
        match self.first {
            Some(first) if first != now => Err(HrError::TotalChanged {
                at: at.clone(),
                announced_at: announced_at.to_string(),
                first,
                now,
            }),
            _ => {
                self.first = Some(now);
                Ok(())
            }
        }
    }

    /// The total number of records at `total_ptr` in this page's answer (when the paging has
    /// one), checked against the first page's.
    fn records<'p>(
        &mut self,
        total_ptr: Option<&'p str>,
        body: &Value,
        at: &Origin,
    ) -> Result<Option<(&'p str, u64)>, HrError> {
        let Some(ptr) = total_ptr else {
            return Ok(None);
        };
        let total = read_count(body, ptr, at)?;
        self.check(total, &format!("pagination.total_ptr {ptr:?}"), at)?;
        Ok(Some((ptr, total)))
    }
}

/// At the end of the paging: every record the API's total announced arrived, no more, no fewer.
fn all_received(total: Option<(&str, u64)>, received: u64, at: &Origin) -> Result<(), HrError> {
    match total {
        Some((pointer, expected)) if expected != received => Err(HrError::Incomplete {
            at: at.clone(),
            pointer: pointer.to_string(),
            expected,
            received,
        }),
        _ => Ok(()),
    }
}

/// The number of pages the API announces for a numbered page, and where it said so.
pub(super) fn page_total(
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
pub(super) fn next_link(headers: &HeaderMap) -> Option<String> {
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
pub(super) fn read_count(body: &Value, ptr: &str, at: &Origin) -> Result<u64, HrError> {
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
