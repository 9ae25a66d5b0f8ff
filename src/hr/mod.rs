//! Reading HR: fetch every employee record from an HR API (or a JSON export) and normalise it
//! into [`Employee`](crate::model::Employee)s.
//!
//! Two rules shape everything here:
//! - **All or nothing.** A fetch that fails on any page is an error and yields no employees: a
//!   partial list would make the rest of the company look like leavers.
//! - **Unreadable is not absent.** A record without an id or a known status, or whose id appears
//!   twice, is reported (by id when it has one) and left out of the plan, so its account is left
//!   alone; it never turns into a leaver.
//!
//! The `[hr]` table of `hrsync.toml`:
//!
//! ```toml
//! [hr]
//! source = "rest"                 # "rest" or "file"
//!
//! [hr.rest]
//! url = "https://api.bamboohr.com/api/gateway.php/acme/v1/employees/directory"
//! records = "/employees"          # JSON Pointer to the array of records; "" = the whole answer
//!
//! [hr.rest.auth]                  # none | bearer | basic | header
//! type = "basic"
//! username = { env = "BAMBOOHR_API_KEY" }
//!
//! [hr.rest.pagination]            # none | offset | next_url
//! type = "none"
//!
//! [hr.fields]                     # field name -> JSONPath, or a list of fallbacks
//! id = "$.id"
//! first_name = "$.firstName"
//! email = ["$.workEmail", "$.emails[?@.type=='work'].value"]
//! hire_date = "$.hireDate"
//! termination_date = "$.terminationDate"
//!
//! [hr.status]
//! path = "$.status"
//! active = ["Active"]
//! terminated = ["Inactive"]
//!
//! [hr.dates]                      # optional; the defaults read the vendors' formats
//! null_values = ["0000-00-00", ""]
//! ```
//!
//! Each struct's doc comments document its keys. Vendor presets ([`presets`]) expand
//! `preset = "bamboohr"` and a few vendor keys into the same tables; further auth and pagination
//! kinds are variants of [`AuthConfig`] and [`PaginationConfig`].

mod body;
mod changes;
mod csv;
mod dates;
mod error;
mod fields;
mod file;
mod limits;
mod normalize;
mod oauth;
pub(crate) mod one;
pub mod presets;
mod record;
mod redact;
mod rest;
mod retry;
mod saml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use record::Reader;

pub use changes::{can_read_changes, read_changed};
pub use dates::DatesConfig;
pub use error::{HrError, Origin};
pub use fields::{FieldPath, FieldPaths, FieldsConfig, StatusConfig};
pub use file::{FileConfig, FileFormat};
pub use limits::LimitsConfig;
pub use normalize::normalize;
pub use one::{OneEmployee, OneReader, can_read_one, read_one};
pub use presets::{Preset, PresetParams};
pub use record::Record;
pub use rest::{AuthConfig, Credential, HttpMethod, PaginationConfig, QueryValue, RestConfig};
/// Shared with the other adapters that speak HTTP or check for a loopback host (hooks,
/// directory): one rule for what stays on this machine and what may follow a redirect.
pub(crate) use rest::{is_loopback, same_origin_redirects};

use crate::model::HrSnapshot;
use crate::problem::ConfigProblem;
use crate::secret::SecretRef;

/// `source` as written: which table the records come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SourceKind {
    /// An HR API: `[hr.rest]`.
    Rest,
    /// An export: `[hr.file]`.
    File,
}

impl SourceKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Rest => "rest",
            Self::File => "file",
        }
    }
}

/// Where the records come from, with the table that says how to read them.
#[derive(Debug, Clone)]
pub enum Source {
    /// An HR API: `source = "rest"` and `[hr.rest]` (or a preset's). Boxed: it is twenty times
    /// the size of a file's table.
    Rest(Box<RestConfig>),
    /// An export (JSON or CSV): `source = "file"` and `[hr.file]`.
    File(FileConfig),
}

impl Source {
    /// `"rest"` or `"file"`, as `source` is written.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Rest(_) => SourceKind::Rest.as_str(),
            Self::File(_) => SourceKind::File.as_str(),
        }
    }

    /// Where the records are read from, safe to print or write down: the API's URL without its
    /// query string, fragment or user info (any of which may hold a credential), or the file's
    /// path.
    pub fn location(&self) -> String {
        match self {
            Self::Rest(rest) => url_location(&rest.url),
            Self::File(file) => file.path.display().to_string(),
        }
    }
}

/// A URL as [`Source::location`] shows it: without query string, fragment or user info.
fn url_location(url: &str) -> String {
    reqwest::Url::parse(url).map_or_else(
        |_| "(not a URL)".to_string(),
        |url| error::display_url(&url),
    )
}

/// The `[hr]` table. See the module documentation for an example; the keys:
///
/// - `preset`: a vendor preset ([`Preset`]) that fills in everything below from a few vendor
///   ids and credentials written next to it in `[hr]`; the keys written below override the
///   preset's (see [`presets`]).
/// - `source`: `"rest"` (read `[hr.rest]`) or `"file"` (read `[hr.file]`); with a preset the
///   default is `"rest"`. Both tables may be written (a replay sets `source = "file"` over a
///   config made for the API); only the chosen one is kept.
/// - `[hr.rest]`: [`RestConfig`], with `[hr.rest.auth]` ([`AuthConfig`]) and
///   `[hr.rest.pagination]` ([`PaginationConfig`]).
/// - `[hr.file]`: [`FileConfig`].
/// - `[hr.fields]`: field name -> JSONPath ([`FieldsConfig`]).
/// - `[hr.references]`: field name -> the JSONPath, in the record the field names, of the value
///   it holds ([`FieldsConfig::references`]); such a field is replaced by that record's id.
/// - `[hr.status]`: [`StatusConfig`].
/// - `[hr.dates]`: [`DatesConfig`]; in this struct it lives in `fields.dates`, since it says how
///   the date fields are read.
/// - `[hr.limits]`: [`LimitsConfig`], caps on the bytes, records, pages and time of a read.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawHrConfig")]
pub struct HrConfig {
    /// Where the records come from; `None` only when the table the source needs is missing (or
    /// the preset could not build it), which `problems` then says.
    source: Option<Source>,
    /// The vendor preset this configuration was expanded from, if any.
    pub preset: Option<Preset>,
    pub fields: FieldsConfig,
    pub status: StatusConfig,
    pub limits: LimitsConfig,
    /// Problems found while reading the table: the preset's keys (or preset keys without a
    /// preset) and a missing source table, reported by [`HrConfig::validate`].
    problems: Vec<ConfigProblem>,
}

/// `[hr]` as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHrConfig {
    /// `"rest"` or `"file"`. Required without a preset; with one, default `"rest"`.
    source: Option<SourceKind>,
    /// A vendor preset: `bamboohr`, `personio`, `hibob`, `workday`, `successfactors`, `scim`.
    preset: Option<Preset>,
    /// BambooHR: the company's subdomain (`acme` in `acme.bamboohr.com`).
    company_domain: Option<String>,
    /// BambooHR: the API key, a secret reference (`{ env = "BAMBOOHR_API_KEY" }`).
    api_key: Option<SecretRef>,
    /// Personio, HiBob, SCIM: the API token, a secret reference.
    token: Option<SecretRef>,
    /// HiBob: the service user's id (plain, or a secret reference).
    service_user_id: Option<Credential>,
    /// Workday: the host, such as `wd2-impl-services1.workday.com`.
    host: Option<String>,
    /// Workday: the tenant.
    tenant: Option<String>,
    /// Workday: the report's owner, as in the report URL.
    owner: Option<String>,
    /// Workday: the report's name, as in the report URL.
    report: Option<String>,
    /// Workday, SuccessFactors (`user@companyId`): the user name (plain, or a secret reference).
    username: Option<Credential>,
    /// Workday, SuccessFactors: the password, a secret reference.
    password: Option<SecretRef>,
    /// SuccessFactors: the API server, such as `api4.successfactors.com`.
    api_server: Option<String>,
    /// Any preset: the API root, replacing the vendor's default (required for SCIM).
    base_url: Option<String>,
    /// Personio: the API client id; SuccessFactors: the OAuth client's API key.
    client_id: Option<Credential>,
    /// Personio: the API client secret, a secret reference.
    client_secret: Option<SecretRef>,
    /// SuccessFactors: the company id.
    company_id: Option<String>,
    /// SuccessFactors: the API user's user id.
    user_id: Option<String>,
    /// SuccessFactors: the OAuth client's PEM private key, a secret reference.
    private_key: Option<SecretRef>,
    /// SuccessFactors: the OAuth client's PEM certificate (a file).
    certificate: Option<std::path::PathBuf>,
    /// Workday: the API client's refresh token, a secret reference.
    refresh_token: Option<SecretRef>,
    /// For `source = "rest"`.
    rest: Option<toml::Table>,
    /// For `source = "file"`.
    file: Option<FileConfig>,
    /// Field name -> JSONPath (RFC 9535) into one record, or a list of fallbacks. `id` is
    /// required; the usual names are `first_name`, `last_name`, `email`, `title`, `department`,
    /// `location`, `employment_type`, `manager_id`, `hire_date`, `termination_date`, and any
    /// other name is a custom field for the mappings.
    #[serde(default)]
    fields: BTreeMap<String, FieldPaths>,
    /// A field of `[hr.fields]` -> the JSONPath, in the record the field names, of the value the
    /// field holds (see [`FieldsConfig::references`]).
    #[serde(default)]
    references: BTreeMap<String, FieldPaths>,
    status: Option<toml::Table>,
    dates: Option<toml::Table>,
    /// Caps on one read (`[hr.limits]`); the defaults suit any real company.
    #[serde(default)]
    limits: LimitsConfig,
}

impl TryFrom<RawHrConfig> for HrConfig {
    type Error = String;

    fn try_from(mut raw: RawHrConfig) -> Result<Self, String> {
        let params = raw.preset_params();
        match raw.preset {
            Some(preset) => Self::from_preset(preset, raw, &params),
            None => Self::without_preset(raw, &params),
        }
    }
}

impl RawHrConfig {
    /// The preset's keys, taken out of `[hr]`.
    fn preset_params(&mut self) -> PresetParams {
        PresetParams {
            company_domain: self.company_domain.take(),
            api_key: self.api_key.take(),
            token: self.token.take(),
            service_user_id: self.service_user_id.take(),
            host: self.host.take(),
            tenant: self.tenant.take(),
            owner: self.owner.take(),
            report: self.report.take(),
            username: self.username.take(),
            password: self.password.take(),
            api_server: self.api_server.take(),
            base_url: self.base_url.take(),
            client_id: self.client_id.take(),
            client_secret: self.client_secret.take(),
            company_id: self.company_id.take(),
            user_id: self.user_id.take(),
            private_key: self.private_key.take(),
            certificate: self.certificate.take(),
            refresh_token: self.refresh_token.take(),
        }
    }
}

impl HrConfig {
    /// `[hr]` without a preset: every table as written.
    fn without_preset(raw: RawHrConfig, params: &PresetParams) -> Result<Self, String> {
        let kind = raw.source.ok_or("missing field `source`")?;
        let rest = raw
            .rest
            .map(|table| RestConfig::deserialize(table).map_err(|e| format!("hr.rest: {e}")))
            .transpose()?;
        let mut problems = params.without_preset();
        let source = chosen(kind, rest, raw.file, false, &mut problems);
        let status = raw.status.ok_or("missing field `status`")?;
        let status = StatusConfig::deserialize(status).map_err(|e| format!("hr.status: {e}"))?;
        let dates = match raw.dates {
            Some(table) => DatesConfig::deserialize(table).map_err(|e| format!("hr.dates: {e}"))?,
            None => DatesConfig::default(),
        };
        Ok(Self {
            source,
            preset: None,
            fields: FieldsConfig {
                paths: raw.fields,
                references: raw.references,
                dates,
            },
            status,
            limits: raw.limits,
            problems,
        })
    }

    /// `[hr]` with a preset: the preset's tables, with the keys written in `[hr]` over them.
    fn from_preset(
        preset: Preset,
        raw: RawHrConfig,
        params: &PresetParams,
    ) -> Result<Self, String> {
        let kind = raw.source.unwrap_or(SourceKind::Rest);
        let mut expansion = presets::expand(preset, params, kind == SourceKind::Rest);
        let name = preset.as_str();
        let rest =
            match (expansion.rest.take(), raw.rest) {
                (Some(mut base), user) => {
                    if let Some(user) = user {
                        presets::merge_rest(&mut base, user);
                    }
                    Some(RestConfig::deserialize(base).map_err(|e| {
                        format!("hr.rest (preset = \"{name}\" with your keys): {e}")
                    })?)
                }
                // The preset's keys have problems (reported by validate), or the source is a file:
                // a user's [hr.rest] is still read, so that its own mistakes show too.
                (None, Some(user)) if kind == SourceKind::File => {
                    Some(RestConfig::deserialize(user).map_err(|e| format!("hr.rest: {e}"))?)
                }
                (None, _) => None,
            };
        let mut status = expansion.status;
        status.extend(raw.status.unwrap_or_default());
        let status = StatusConfig::deserialize(status)
            .map_err(|e| format!("hr.status (preset = \"{name}\" with your keys): {e}"))?;
        let mut dates = expansion.dates;
        dates.extend(raw.dates.unwrap_or_default());
        let dates = DatesConfig::deserialize(dates)
            .map_err(|e| format!("hr.dates (preset = \"{name}\" with your keys): {e}"))?;
        // A preset's reference says how to read the preset's own path of its field: a field the
        // user maps elsewhere keeps no reference unless the user writes one.
        let mut references = expansion.references;
        references.retain(|field, _| !raw.fields.contains_key(field));
        references.extend(raw.references);
        let mut paths = expansion.fields;
        paths.extend(raw.fields);
        let mut problems = expansion.problems;
        let preset_failed = !problems.is_empty();
        let source = chosen(kind, rest, raw.file, preset_failed, &mut problems);
        Ok(Self {
            source,
            preset: Some(preset),
            fields: FieldsConfig {
                paths,
                references,
                dates,
            },
            status,
            limits: raw.limits,
            problems,
        })
    }
}

/// The table `source` chooses. A missing one is a problem, unless it is `[hr.rest]` and the
/// preset's own problems (already in `problems`) are why it could not be built.
fn chosen(
    kind: SourceKind,
    rest: Option<RestConfig>,
    file: Option<FileConfig>,
    preset_failed: bool,
    problems: &mut Vec<ConfigProblem>,
) -> Option<Source> {
    let source = match kind {
        SourceKind::Rest => rest.map(|rest| Source::Rest(Box::new(rest))),
        SourceKind::File => file.map(Source::File),
    };
    let excused = preset_failed && kind == SourceKind::Rest;
    if source.is_none() && !excused {
        let kind = kind.as_str();
        problems.push(ConfigProblem::new(
            format!("hr.{kind}"),
            format!("is required with source = \"{kind}\""),
        ));
    }
    source
}

impl HrConfig {
    /// Where the records come from; `None` when the config has problems that say why.
    pub fn source(&self) -> Option<&Source> {
        self.source.as_ref()
    }

    /// The `[hr.rest]` table (a preset's, with the user's keys over it) when the source is an
    /// HR API.
    pub fn rest(&self) -> Option<&RestConfig> {
        match &self.source {
            Some(Source::Rest(rest)) => Some(rest),
            _ => None,
        }
    }

    /// Offline validation (no network, no secret read): every problem, with dotted keys
    /// relative to the file root, such as `hr.rest.pagination.limit`.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = self.problems.clone();
        match &self.source {
            Some(Source::Rest(rest)) => {
                rest.validate(&mut problems);
                if self.preset == Some(Preset::Personio) {
                    if let PaginationConfig::Offset { limit, .. } = &rest.pagination {
                        if *limit > 100 {
                            problems.push(ConfigProblem::new(
                            "hr.rest.pagination.limit",
                            "Personio v1 returns at most 100 employees per page; a larger limit \
                             would end the paging early",
                        ));
                        }
                    }
                }
            }
            Some(Source::File(file)) => file.validate(&mut problems),
            None => {}
        }
        self.fields.validate(&mut problems);
        self.status.validate(&mut problems);
        self.limits.validate(&mut problems);
        problems
    }

    /// The field names the mappings can use: every `[hr.fields]` key except the date fields,
    /// which become the employee's dates rather than text.
    pub fn field_names(&self) -> BTreeSet<String> {
        self.fields.text_field_names()
    }

    /// Makes relative paths (`hr.file.path`, `hr.rest.ca_file`) relative to `dir`, normally the
    /// directory of the config file, so the config works from any working directory.
    pub fn resolve_relative_paths(&mut self, dir: &Path) {
        let within = |path: &mut std::path::PathBuf| {
            if path.is_relative() {
                *path = dir.join(&*path);
            }
        };
        match &mut self.source {
            Some(Source::File(file)) => within(&mut file.path),
            Some(Source::Rest(rest)) => {
                if let Some(ca_file) = &mut rest.ca_file {
                    within(ca_file);
                }
                if let AuthConfig::SamlBearer(saml) = &mut rest.auth {
                    if let Some(certificate) = &mut saml.certificate {
                        within(certificate);
                    }
                }
            }
            None => {}
        }
    }
}

/// Fetches every record and normalises it. Any transport, HTTP or shape failure on any page is
/// an `Err`: never a partial list.
///
/// Each page is normalised as it arrives (while the next one is fetched) and its raw records are
/// dropped once read: at company scale the raw JSON would otherwise be the largest thing held.
pub async fn fetch(config: &HrConfig) -> Result<HrSnapshot, HrError> {
    let (snapshot, _) = read(config, false).await?;
    Ok(snapshot)
}

/// One page of raw records. The fetch keeps the page it last sent, to compare the next one with,
/// while the reader normalises it: they share it.
pub(crate) type Page = std::sync::Arc<Vec<Value>>;

/// Pages the fetch may run ahead of the normalising; a few pages of raw records at most are alive
/// at once.
const PAGES_IN_FLIGHT: usize = 2;

/// Reads HR: fetches every record and normalises it, the one path every command takes. Any transport, HTTP or shape
/// failure on any page is an `Err`: never a partial list. A malformed CSV row is reported and
/// left out. The records are also returned, as the source gave them, when `keep_records` (for
/// `--dump-hr`; an empty list otherwise).
pub async fn read(
    config: &HrConfig,
    keep_records: bool,
) -> Result<(HrSnapshot, Vec<Record>), HrError> {
    let source = checked(config)?;
    let (snapshot, records) = match source {
        Source::Rest(rest) => read_rest(rest, config, keep_records).await?,
        Source::File(file) => {
            let reading = file::read_records(file, &config.limits);
            let records =
                limits::within_deadline(&config.limits, || source.location(), reading).await?;
            let mut reader = Reader::new(&config.fields, &config.status);
            reader.read(&records);
            let kept = if keep_records { records } else { Vec::new() };
            (reader.finish(), kept)
        }
    };
    tracing::info!(
        employees = snapshot.employees.len(),
        rejected = snapshot.rejected.len(),
        "HR read"
    );
    Ok((snapshot, records))
}

/// Fetches the pages of a REST source and normalises each in a task of its own, so a page is
/// normalised while the next one is on its way.
async fn read_rest(
    rest: &RestConfig,
    config: &HrConfig,
    keep_records: bool,
) -> Result<(HrSnapshot, Vec<Record>), HrError> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Page>(PAGES_IN_FLIGHT);
    let (fields, status) = (config.fields.clone(), config.status.clone());
    let normalising = tokio::spawn(async move {
        let mut reader = Reader::new(&fields, &status);
        let mut kept = Vec::new();
        while let Some(page) = receiver.recv().await {
            reader.read_page(&page);
            if keep_records {
                kept.push(page);
            }
        }
        (reader.finish(), kept)
    });
    let stopped = |e: tokio::task::JoinError| {
        HrError::Config(format!("reading the HR records stopped unexpectedly: {e}"))
    };
    let fetching = rest::fetch_pages(rest, &config.limits, sender);
    let at = || url_location(&rest.url);
    if let Err(e) = limits::within_deadline(&config.limits, at, fetching).await {
        // All or nothing: what was read of the earlier pages is thrown away.
        normalising.abort();
        // The fetch also stops when the reading panicked (its pages had nowhere to go):
        // the panic is then the reason to report.
        return Err(match normalising.await {
            Err(join) if join.is_panic() => stopped(join),
            _ => e,
        });
    }
    let (snapshot, pages) = normalising.await.map_err(stopped)?;
    Ok((snapshot, join_pages(pages)))
}

/// The records of all pages, in order.
fn join_pages(pages: Vec<Page>) -> Vec<Record> {
    let mut records = Vec::with_capacity(pages.iter().map(|page| page.len()).sum());
    for page in pages {
        // The fetch has let go of every page by now: moved out, not copied.
        match std::sync::Arc::try_unwrap(page) {
            Ok(page) => records.extend(page.into_iter().map(Record::Good)),
            Err(shared) => records.extend(shared.iter().cloned().map(Record::Good)),
        }
    }
    records
}

/// The version of the `--dump-hr` format.
pub const DUMP_VERSION: u64 = 1;

/// The `--dump-hr` export of a successful fetch: `{"hrsync_dump": 1, "fetched_at", "source":
/// {kind, preset, url | path}, "records": [...]}`. It holds the records as the source returned
/// them and nothing else: no credentials, no headers, and the URL without its query string or
/// user info. A CSV source's malformed rows are listed beside the records (`"malformed":
/// [{"index", "problem"}]`, only when there are any). A file source with `records = "/records"`
/// reads it back (a replay), malformed rows included.
pub fn dump(
    config: &HrConfig,
    records: &[Record],
    fetched_at: chrono::DateTime<chrono::Utc>,
) -> Value {
    let mut source = serde_json::Map::new();
    if let Some(read) = config.source() {
        source.insert("kind".into(), read.kind().into());
    }
    if let Some(preset) = config.preset {
        source.insert("preset".into(), preset.as_str().into());
    }
    match config.source() {
        Some(read @ Source::Rest(_)) => {
            source.insert("url".into(), read.location().into());
        }
        Some(read @ Source::File(_)) => {
            source.insert("path".into(), read.location().into());
        }
        None => {}
    }
    let mut dump = serde_json::json!({
        "hrsync_dump": DUMP_VERSION,
        "fetched_at": fetched_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "source": source,
        "records": records.iter().map(Record::value).collect::<Vec<_>>(),
    });
    let malformed = file::dumped_malformed(records);
    if !malformed.is_empty() {
        dump[file::DUMP_MALFORMED] = Value::Array(malformed);
    }
    dump
}

/// The source to read, once the config has no problem: the problems otherwise.
fn checked(config: &HrConfig) -> Result<&Source, HrError> {
    let problems = config.validate();
    match config.source() {
        Some(source) if problems.is_empty() => Ok(source),
        _ => {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            Err(HrError::Config(list.join("; ")))
        }
    }
}

/// Checks a records pointer: `""` (the whole document) or `/...` (RFC 6901).
fn check_pointer(pointer: &str) -> Result<(), String> {
    if pointer.is_empty() || pointer.starts_with('/') {
        Ok(())
    } else {
        Err(format!(
            "{pointer:?} is not a JSON Pointer: it starts with / (such as \"/{pointer}\"), or is \
             \"\" for the whole document"
        ))
    }
}

/// Takes the array of records at `pointer` out of `body`.
fn take_records(body: &mut Value, pointer: &str, at: &Origin) -> Result<Vec<Value>, HrError> {
    let found = match body.pointer_mut(pointer) {
        Some(Value::Array(records)) => return Ok(std::mem::take(records)),
        Some(other) => describe_json(other),
        None => format!("nothing there; the answer is {}", describe_json(body)),
    };
    Err(HrError::Records {
        at: at.clone(),
        pointer: pointer.to_string(),
        found,
    })
}

/// What kind of JSON value this is, for error messages. An object's keys are named (they are
/// field names, not data); values never are.
fn describe_json(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(_) => "a number".into(),
        Value::String(_) => "a string".into(),
        Value::Array(items) => format!("an array of {}", items.len()),
        Value::Object(map) if map.is_empty() => "an empty object".into(),
        Value::Object(map) => {
            let keys: Vec<&str> = map.keys().take(10).map(String::as_str).collect();
            let more = if map.len() > 10 { ", ..." } else { "" };
            format!("an object with keys {}{more}", keys.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> HrConfig {
        toml::from_str(text).unwrap()
    }

    const FIELDS: &str =
        "[fields]\nid = \"$.id\"\n[status]\npath = \"$.status\"\nactive = [\"Active\"]\n";

    fn keys(config: &HrConfig) -> Vec<String> {
        config.validate().into_iter().map(|p| p.key).collect()
    }

    #[test]
    fn a_complete_rest_config_parses_and_validates() {
        let config = parse(
            r#"
source = "rest"
[rest]
url = "https://api.example.com/v1/employees"
method = "POST"
body = { showInactive = true, fields = ["root.id"] }
records = "/data"
query = { fields = "a,b", "attributes[]" = ["x", "y"] }
headers = { "X-Api-Version" = "1" }
connect_timeout_secs = 5
timeout_secs = 60
ca_file = "ca.pem"
[rest.auth]
type = "bearer"
token = { env = "HRSYNC_HR_TOKEN" }
[rest.pagination]
type = "offset"
limit = 50
start = 1
total_ptr = "/meta/total"
[fields]
id = "$.id"
cost_center = "$.costCenter"
[status]
path = "$.status"
active = ["Active"]
[dates]
formats = ["%d.%m.%Y"]
"#,
        );
        assert_eq!(config.validate(), vec![]);
        let rest = config.rest().unwrap();
        assert_eq!(rest.method, HttpMethod::Post);
        assert!(matches!(
            &rest.pagination,
            PaginationConfig::Offset { offset_param, limit: 50, start: 1, .. } if offset_param == "offset"
        ));
        assert_eq!(config.fields.dates.formats, ["%d.%m.%Y"]);
        assert_eq!(
            config.fields.dates.null_values,
            ["0000-00-00", ""],
            "defaults kept"
        );
        assert_eq!(
            config.field_names().into_iter().collect::<Vec<_>>(),
            ["cost_center", "id"]
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<HrConfig>(&format!(
            "source = \"file\"\n[file]\npath = \"x\"\nrecords = \"\"\nrecord = \"/x\"\n{FIELDS}"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `record`"), "{err}");
        let err = toml::from_str::<HrConfig>(&format!(
            "source = \"rest\"\n[rest]\nurl = \"https://h/\"\nrecords = \"\"\n[rest.auth]\ntype = \"bearer\"\ntokn = {{ env = \"X\" }}\n{FIELDS}"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("tokn"), "{err}");
    }

    #[test]
    fn basic_auth_takes_a_plain_or_secret_user_name() {
        let config = parse(&format!(
            "source = \"rest\"\n[rest]\nurl = \"https://h/\"\nrecords = \"\"\n[rest.auth]\ntype = \"basic\"\nusername = {{ env = \"KEY\" }}\n{FIELDS}"
        ));
        assert!(matches!(
            config.rest().unwrap().auth.clone(),
            AuthConfig::Basic {
                username: Credential::Secret(_),
                password: None
            }
        ));
        let config = parse(&format!(
            "source = \"rest\"\n[rest]\nurl = \"https://h/\"\nrecords = \"\"\n[rest.auth]\ntype = \"basic\"\nusername = \"svc\"\npassword = {{ file = \"/run/pw\" }}\n{FIELDS}"
        ));
        assert!(matches!(
            config.rest().unwrap().auth.clone(),
            AuthConfig::Basic { username: Credential::Plain(u), password: Some(_) } if u == "svc"
        ));
    }

    #[test]
    fn every_problem_is_reported_with_its_dotted_key() {
        let config = parse(
            r#"
source = "rest"
[rest]
url = "http://user:pw@hr.example.com/api?x=1"
records = "data"
headers = { Authorization = "Bearer abc", "bad header" = "x" }
timeout_secs = 0
[rest.auth]
type = "bearer"
token = { env = "A", file = "/b" }
[rest.pagination]
type = "offset"
limit = 0
offset_param = "page"
limit_param = "page"
total_ptr = "total"
[fields]
first_name = "$.firstName"
"bad name" = "$.x"
[status]
path = "$.status"
active = []
terminated = ["Gone", ""]
[dates]
formats = ["%Q"]
"#,
        );
        let keys = keys(&config);
        for expected in [
            "hr.rest.url",
            "hr.rest.records",
            "hr.rest.headers.Authorization",
            "hr.rest.headers.bad header",
            "hr.rest.timeout_secs",
            "hr.rest.auth.token",
            "hr.rest.pagination.limit",
            "hr.rest.pagination.limit_param",
            "hr.rest.pagination.total_ptr",
            "hr.fields.id",
            "hr.fields.bad name",
            "hr.status.active",
            "hr.status.terminated[1]",
            "hr.dates.formats[0]",
        ] {
            assert!(
                keys.iter().any(|k| k == expected),
                "{expected} missing in {keys:?}"
            );
        }
        // http:// with credentials to a remote host, and user info in the URL: two problems.
        assert_eq!(
            keys.iter().filter(|k| *k == "hr.rest.url").count(),
            2,
            "{keys:?}"
        );
    }

    #[test]
    fn plain_http_is_allowed_to_loopback_or_when_explicitly_dangerous() {
        let config = |url: &str, extra: &str| {
            parse(&format!(
                "source = \"rest\"\n[rest]\nurl = \"{url}\"\nrecords = \"\"\n{extra}\n[rest.auth]\ntype = \"bearer\"\ntoken = {{ env = \"T\" }}\n{FIELDS}"
            ))
        };
        assert!(keys(&config("http://127.0.0.1:8080/x", "")).is_empty());
        assert!(keys(&config("http://localhost/x", "")).is_empty());
        assert!(keys(&config("http://[::1]:80/x", "")).is_empty());
        assert_eq!(keys(&config("http://hr.internal/x", "")), ["hr.rest.url"]);
        assert!(keys(&config("http://hr.internal/x", "danger_allow_http = true")).is_empty());
    }

    #[test]
    fn paging_parameters_may_not_also_be_fixed_in_the_url_or_query() {
        let config = parse(&format!(
            "source = \"rest\"\n[rest]\nurl = \"https://h/e?offset=0\"\nrecords = \"\"\n\
             query = {{ limit = \"5\" }}\n[rest.pagination]\ntype = \"offset\"\n{FIELDS}"
        ));
        assert_eq!(
            keys(&config),
            [
                "hr.rest.pagination.offset_param",
                "hr.rest.pagination.limit_param"
            ]
        );
    }

    #[test]
    fn the_source_table_must_exist() {
        let problems = |text: &str| -> Vec<String> {
            let config = parse(&format!("{text}\n{FIELDS}"));
            assert!(config.source().is_none());
            config.validate().iter().map(ToString::to_string).collect()
        };
        assert_eq!(
            problems("source = \"rest\""),
            ["hr.rest: is required with source = \"rest\""]
        );
        // The other source's table is not a stand-in.
        assert_eq!(
            problems("source = \"file\"\n[rest]\nurl = \"https://h/\"\nrecords = \"\""),
            ["hr.file: is required with source = \"file\""]
        );
        // A preset builds [hr.rest], not [hr.file].
        assert_eq!(
            problems("preset = \"hibob\"\nsource = \"file\""),
            ["hr.file: is required with source = \"file\""]
        );
        // A preset that cannot build [hr.rest] says why, and only that.
        let config = parse("preset = \"bamboohr\"\n");
        assert!(config.source().is_none());
        assert_eq!(keys(&config), ["hr.company_domain", "hr.api_key"]);
    }

    #[tokio::test]
    async fn a_config_without_its_source_is_refused_with_the_reason() {
        let config = parse(&format!("source = \"file\"\n{FIELDS}"));
        let err = fetch(&config).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "[hr] configuration: hr.file: is required with source = \"file\"",
            "{err:?}"
        );
    }

    #[test]
    fn only_the_chosen_table_is_kept_and_its_location_holds_no_credential() {
        // A replay: source = "file" over a config written for the API.
        let config = parse(&format!(
            "source = \"file\"\n[file]\npath = \"dump.json\"\nrecords = \"/records\"\n\
             [rest]\nurl = \"https://u:p@h.example.com/v1/e?key=s3cret#x\"\nrecords = \"\"\n{FIELDS}"
        ));
        assert!(config.rest().is_none());
        let source = config.source().unwrap();
        assert_eq!(
            (source.kind(), source.location()),
            ("file", "dump.json".into())
        );
        let config = parse(&format!(
            "source = \"rest\"\n[rest]\nurl = \"https://u:p@h.example.com:8443/v1/e?key=s3cret#x\"\n\
             records = \"\"\n{FIELDS}"
        ));
        let source = config.source().unwrap();
        assert_eq!(
            (source.kind(), source.location()),
            ("rest", "https://h.example.com:8443/v1/e".into())
        );
    }

    #[test]
    fn relative_paths_are_rebased_on_the_config_directory() {
        let mut config = parse(&format!(
            "source = \"file\"\n[file]\npath = \"demo/hr.json\"\nrecords = \"\"\n{FIELDS}"
        ));
        config.resolve_relative_paths(Path::new("/etc/hrsync"));
        assert_eq!(
            match config.source() {
                Some(Source::File(file)) => file.path.clone(),
                other => panic!("not a file source: {other:?}"),
            },
            Path::new("/etc/hrsync/demo/hr.json")
        );
    }

    #[tokio::test]
    async fn an_invalid_config_is_refused_before_any_request() {
        let config = parse(&format!(
            "source = \"rest\"\n[rest]\nurl = \"https://h/\"\nrecords = \"x\"\n{FIELDS}"
        ));
        let err = fetch(&config).await.unwrap_err();
        assert!(matches!(err, HrError::Config(_)), "{err}");
        assert!(err.to_string().contains("hr.rest.records"), "{err}");
    }

    #[test]
    fn records_are_taken_at_the_pointer_or_the_error_says_what_is_there() {
        let at = Origin::File("x.json".into());
        let mut body = serde_json::json!({"data": [1, 2], "meta": {"total": 2}});
        assert_eq!(take_records(&mut body, "/data", &at).unwrap().len(), 2);
        let err = take_records(&mut body, "/employees", &at)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "HR export x.json: expected an array of records at records pointer \"/employees\", \
             found nothing there; the answer is an object with keys data, meta"
        );
        let err = take_records(&mut body, "", &at).unwrap_err().to_string();
        assert!(err.contains("at the top level (records = \"\")"), "{err}");
        let mut array = serde_json::json!([{"id": 1}]);
        assert_eq!(take_records(&mut array, "", &at).unwrap().len(), 1);
    }
}
