//! Which employees changed since a time, where the API can say: BambooHR's
//! `GET /v1/employees/changed?since=` (its OpenAPI document: `{"latest": ..., "employees":
//! {"<id>": {"id", "action": "Inserted|Updated|Deleted", "lastChanged"}}}`), a SCIM service's
//! `filter=meta.lastModified gt "<time>"` (RFC 7644 section 3.4.2.2), or any API's
//! `hr.rest.changed_url` (a Workday report with an updated-since prompt). With the list's
//! client, credentials, retries and rate.

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Url;
use serde_json::Value;

use super::client::Session;
use super::config::{HttpMethod, RestConfig, SINCE_PLACEHOLDER};
use super::request::Target;
use crate::hr::error::{HrError, Origin};
use crate::hr::fields::{FieldsConfig, ID};
use crate::hr::limits::LimitsConfig;
use crate::hr::normalize::first_text;
use crate::hr::presets::Preset;

/// Records asked for in one SCIM request: more changes than this since the last read are left
/// to the full run (the read fails, saying so), never half read.
const SCIM_COUNT: usize = 1000;

/// How the changes are asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Changes {
    /// BambooHR's changed-employees endpoint at this URL.
    Bamboohr(String),
    /// A URL template with `{since}`; the records at `pointer`, each one's id where the list's is.
    Template { template: String, pointer: String },
}

impl Changes {
    /// How `rest` (with `preset`) lists the employees changed since a time, or why it cannot.
    pub(crate) fn for_source(rest: &RestConfig, preset: Option<Preset>) -> Result<Self, String> {
        if let Some(template) = &rest.changed_url {
            return Ok(Self::Template {
                template: template.clone(),
                pointer: rest.changed_pointer.clone().unwrap_or(rest.records.clone()),
            });
        }
        match preset {
            Some(Preset::Bamboohr) => {
                let root = rest
                    .url
                    .strip_suffix("/reports/custom")
                    .ok_or("hr.rest.url is not the BambooHR preset's custom report")?;
                Ok(Self::Bamboohr(format!("{root}/employees/changed")))
            }
            Some(Preset::Scim) => Ok(Self::Template {
                template: format!(
                    "{}?filter=meta.lastModified%20gt%20%22{SINCE_PLACEHOLDER}%22&startIndex=1&count={SCIM_COUNT}",
                    rest.url
                ),
                pointer: "/Resources".to_string(),
            }),
            Some(Preset::Workday) => Err(
                "a Workday report says what changed only through a prompt of its own: set \
                 hr.rest.changed_url to the report's URL with the updated-since prompt = {since}"
                    .to_string(),
            ),
            Some(other) => Err(format!(
                "the {} API has no query for the employees changed since a time; use its \
                 webhooks ([events]) or the full schedule",
                other.as_str()
            )),
            None => Err(
                "set hr.rest.changed_url (and changed_pointer) to the API's changed-since query"
                    .to_string(),
            ),
        }
    }
}

/// The ids of the employees changed since `since`.
pub(crate) async fn changed_ids(
    (rest, limits): (&RestConfig, &LimitsConfig),
    changes: &Changes,
    fields: &FieldsConfig,
    since: DateTime<Utc>,
) -> Result<BTreeSet<String>, HrError> {
    let session = Session::open(rest, limits).await?;
    let time = since.to_rfc3339_opts(SecondsFormat::Secs, true);
    let (url, pointer) = match changes {
        Changes::Bamboohr(base) => {
            let mut url = parse(base)?;
            url.query_pairs_mut().append_pair("since", &time);
            (url, None)
        }
        Changes::Template { template, pointer } => {
            let encoded = super::one::percent_encode(&time);
            (
                parse(&template.replacen(SINCE_PLACEHOLDER, &encoded, 1))?,
                Some(pointer),
            )
        }
    };
    let at = Origin::page("GET", &url, 1);
    let target = Target {
        method: HttpMethod::Get,
        url: &url,
        body: None,
        at: at.clone(),
    };
    let (body, _) = session.send(&target).await?;
    match pointer {
        None => bamboohr_ids(&body, &at),
        Some(pointer) => template_ids(body, pointer, fields, &at),
    }
}

fn parse(url: &str) -> Result<Url, HrError> {
    Url::parse(url).map_err(|e| HrError::Config(format!("the changed-since URL: {e}")))
}

fn malformed(at: &Origin, found: String) -> HrError {
    HrError::Records {
        at: at.clone(),
        pointer: "/employees".to_string(),
        found,
    }
}

/// BambooHR's answer: the ids of its `employees` map (each entry's `id`, or its key).
fn bamboohr_ids(body: &Value, at: &Origin) -> Result<BTreeSet<String>, HrError> {
    let employees = body
        .get("employees")
        .ok_or_else(|| malformed(at, "no \"employees\" in the answer".into()))?;
    match employees {
        Value::Object(map) => Ok(map
            .iter()
            .map(|(key, entry)| match entry.get("id") {
                Some(Value::String(id)) => id.clone(),
                Some(Value::Number(id)) => id.to_string(),
                _ => key.clone(),
            })
            .collect()),
        // An empty result may come as [] from a PHP backend.
        Value::Array(list) if list.is_empty() => Ok(BTreeSet::new()),
        _ => Err(malformed(
            at,
            "\"employees\" is not an object of ids".into(),
        )),
    }
}

/// The records at `pointer`, each one's id read as the list reads it; a SCIM answer whose
/// `totalResults` says there are more than it holds is refused (see [`SCIM_COUNT`]).
fn template_ids(
    mut body: Value,
    pointer: &str,
    fields: &FieldsConfig,
    at: &Origin,
) -> Result<BTreeSet<String>, HrError> {
    let total = body.get("totalResults").and_then(Value::as_u64);
    let records = match body.pointer_mut(pointer) {
        Some(Value::Array(records)) => std::mem::take(records),
        None if total == Some(0) => Vec::new(),
        _ => {
            return Err(HrError::Records {
                at: at.clone(),
                pointer: pointer.to_string(),
                found: "no array of records there".into(),
            });
        }
    };
    if let Some(total) = total.filter(|t| *t as usize > records.len()) {
        return Err(HrError::Records {
            at: at.clone(),
            pointer: pointer.to_string(),
            found: format!(
                "{total} changed records, more than the {} of one answer: left to the full run",
                records.len()
            ),
        });
    }
    let id = fields
        .get(ID)
        .ok_or_else(|| HrError::Config("hr.fields.id is not configured".into()))?;
    records
        .iter()
        .map(|record| match record {
            Value::String(id) => Ok(id.clone()),
            _ => first_text(record, id).ok_or_else(|| HrError::Records {
                at: at.clone(),
                pointer: pointer.to_string(),
                found: format!("a record without an id at {id}"),
            }),
        })
        .collect()
}
