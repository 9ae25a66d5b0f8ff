//! Looking up one employee at an HR API: how each source can (a URL with the id in its path, or
//! the list's own request narrowed by a filter on the id), and the requests themselves, with the
//! list's credentials, retries, caps and redaction.
//!
//! Whatever the way, the id goes in escaped for where it goes (percent-encoded in a URL, a JSON
//! string in a SCIM filter, a quoted literal in an OData filter, a JSON value in a HiBob
//! search), so an id can never change the host, the path, or what the filter asks.

use std::collections::BTreeSet;

use reqwest::Url;
use serde_json::Value;

use super::client::Session;
use super::config::{HttpMethod, ID_PLACEHOLDER, RestConfig};
use super::request::Target;
use crate::hr::error::{HrError, Origin, display_url};
use crate::hr::fields::{FieldPaths, FieldsConfig, ID};
use crate::hr::limits::LimitsConfig;
use crate::hr::normalize::first_text;
use crate::hr::presets::Preset;
use crate::hr::take_records;

/// How one employee is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// `GET` a URL made from `template` by putting the percent-encoded id where `{id}` is, plus
    /// `query`. HTTP 404 means there is no such employee. The record is at `pointer`: an object,
    /// or an array of records.
    Path {
        template: String,
        query: Vec<(String, String)>,
        pointer: String,
    },
    /// The list's request, narrowed by a filter comparing `key` with the id: the records that
    /// match are where the list's records are, and none means there is no such employee. Each
    /// record of the answer must hold the value at `paths` (where `key` is read in a record):
    /// an API that ignored the filter would otherwise make anyone look absent.
    Filter {
        kind: FilterKind,
        key: String,
        paths: FieldPaths,
    },
}

/// The filter languages of the APIs that take one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FilterKind {
    /// SCIM 2.0 (RFC 7644 section 3.4.2.2): `filter=<attribute> eq "<value>"`.
    Scim,
    /// OData v2: `$filter=<property> eq '<value>'`.
    OData,
    /// HiBob's people search: `"filters": [{"fieldPath", "operator": "equals", "values"}]`,
    /// on `root.id` or `root.email` only.
    HiBob,
}

impl Lookup {
    /// How `rest` (with `preset`, and the id read at `fields.id`) looks up one employee, or why
    /// it cannot.
    pub(crate) fn for_source(
        rest: &RestConfig,
        preset: Option<Preset>,
        fields: &FieldsConfig,
    ) -> Result<Lookup, String> {
        let id = fields.get(ID).ok_or("hr.fields.id is not configured")?;
        let lookup = match (&rest.employee_url, preset) {
            (Some(template), _) => Lookup::Path {
                template: template.clone(),
                query: Vec::new(),
                pointer: rest.employee_pointer.clone().unwrap_or_default(),
            },
            (None, Some(preset)) => preset_lookup(rest, preset, id)?,
            (None, None) => {
                return Err(
                    "set hr.rest.employee_url (and employee_pointer) to the API's \
                            single-employee endpoint"
                        .into(),
                );
            }
        };
        for (field, key) in &fields.references {
            if lookup.by_key(key, id).is_none() {
                return Err(format!(
                    "[hr.references] {field} names a record by {key}, which this API cannot \
                     look up, so the employee read alone would lack what the list gives"
                ));
            }
        }
        Ok(lookup)
    }

    /// The lookup of the records whose `key` (a field path) holds a value, for resolving a
    /// reference; `id` is the path of the id, which a path lookup finds by.
    pub(crate) fn by_key(&self, key: &FieldPaths, id: &FieldPaths) -> Option<Lookup> {
        match self {
            Self::Path { .. } => (key == id).then(|| self.clone()),
            Self::Filter { kind, .. } => Some(Self::Filter {
                kind: *kind,
                key: filter_key(*kind, key)?,
                paths: key.clone(),
            }),
        }
    }

    /// Whether the answer is the record at one id (a path lookup), rather than the records that
    /// matched a filter.
    pub(crate) fn is_path(&self) -> bool {
        matches!(self, Self::Path { .. })
    }
}

/// A preset's own way, checked against what the configuration made of the preset (a URL or an
/// id path the user replaced may no longer fit it).
fn preset_lookup(rest: &RestConfig, preset: Preset, id: &FieldPaths) -> Result<Lookup, String> {
    let own_id = match preset {
        Preset::Bamboohr => "$.id",
        Preset::Personio => "$.attributes.id.value",
        // The filters take whatever the id's path names, as far as the API can filter on it.
        Preset::Hibob | Preset::Scim | Preset::Successfactors | Preset::Workday => "",
    };
    if !own_id.is_empty() && id.to_string() != own_id {
        return Err(format!(
            "hr.fields.id is not the {} preset's ({own_id})",
            preset.as_str()
        ));
    }
    match preset {
        Preset::Bamboohr => bamboohr_lookup(rest),
        Preset::Personio => personio_lookup(rest),
        Preset::Hibob => {
            let body_ok = rest
                .body
                .as_ref()
                .is_some_and(|body| body.is_object() && body.get("filters").is_none());
            if rest.method != HttpMethod::Post || !body_ok {
                return Err(
                    "hr.rest is no longer the preset's people search (a POST whose \
                            body has no filters of its own)"
                        .into(),
                );
            }
            filter(FilterKind::HiBob, id)
        }
        Preset::Scim => filter(FilterKind::Scim, id),
        Preset::Successfactors => filter(FilterKind::OData, id),
        Preset::Workday => Err("a Workday report has no way to ask for one worker".into()),
    }
}

/// BambooHR's `GET /v1/employees/{id}`, asking for the custom report's fields, current values
/// only unless the report says otherwise.
fn bamboohr_lookup(rest: &RestConfig) -> Result<Lookup, String> {
    let root = rest
        .url
        .strip_suffix("/reports/custom")
        .ok_or("hr.rest.url is not the preset's custom report")?;
    let fields = rest
        .body
        .as_ref()
        .and_then(|body| body.get("fields"))
        .and_then(Value::as_array)
        .and_then(|fields| fields.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
        .ok_or("hr.rest.body has no list of fields")?;
    let current = match rest.query.get("onlyCurrent").map(|v| v.values()) {
        Some([value]) => value.clone(),
        _ => "true".to_string(),
    };
    Ok(Lookup::Path {
        template: format!("{root}/employees/{ID_PLACEHOLDER}"),
        query: vec![
            ("fields".into(), fields.join(",")),
            ("onlyCurrent".into(), current),
        ],
        pointer: String::new(),
    })
}

/// Personio v1's `GET /company/employees/{employee_id}`, with the list's query (its
/// `attributes[]`), the record at `/data`.
fn personio_lookup(rest: &RestConfig) -> Result<Lookup, String> {
    if !rest.url.ends_with("/company/employees") {
        return Err("hr.rest.url is not the preset's employee list".into());
    }
    let query = rest
        .query
        .iter()
        .flat_map(|(name, values)| values.values().iter().map(|v| (name.clone(), v.clone())))
        .collect();
    Ok(Lookup::Path {
        template: format!("{}/{ID_PLACEHOLDER}", rest.url),
        query,
        pointer: "/data".into(),
    })
}

fn filter(kind: FilterKind, id: &FieldPaths) -> Result<Lookup, String> {
    let key = filter_key(kind, id).ok_or_else(|| {
        format!("the API cannot filter on hr.fields.id ({id}); it takes one plain path")
    })?;
    Ok(Lookup::Filter {
        kind,
        key,
        paths: id.clone(),
    })
}

/// What a filter of `kind` compares for the field at `paths`: one path of member names, as the
/// API names it.
fn filter_key(kind: FilterKind, paths: &FieldPaths) -> Option<String> {
    let [path] = paths.0.as_slice() else {
        return None;
    };
    let names = path.member_names()?;
    let plain = |name: &str| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    match kind {
        // An extension's attribute is its schema URN, a colon, and the attribute path.
        FilterKind::Scim => match names.as_slice() {
            [urn, rest @ ..] if urn.starts_with("urn:") && !rest.is_empty() => rest
                .iter()
                .all(|n| plain(n))
                .then(|| format!("{urn}:{}", rest.join("."))),
            _ => names.iter().all(|n| plain(n)).then(|| names.join(".")),
        },
        FilterKind::OData => match names.as_slice() {
            [name] if plain(name) => Some((*name).to_string()),
            _ => None,
        },
        FilterKind::HiBob => match names.as_slice() {
            ["id"] => Some("root.id".into()),
            ["email"] => Some("root.email".into()),
            _ => None,
        },
    }
}

impl Session<'_> {
    /// The records `lookup` finds for `value` and where they came from, or `None` when the API
    /// says there are none.
    async fn look_up(
        &self,
        lookup: &Lookup,
        value: &str,
    ) -> Result<Option<(Vec<Value>, Origin)>, HrError> {
        check_value(value)?;
        match lookup {
            Lookup::Path {
                template,
                query,
                pointer,
            } => {
                let url = path_url(template, query, value)?;
                let at = lookup_origin(HttpMethod::Get, &url);
                let target = Target {
                    method: HttpMethod::Get,
                    url: &url,
                    body: None,
                    at: at.clone(),
                };
                match self.send(&target).await {
                    Ok((mut body, _)) => {
                        let records = records_at(&mut body, pointer, &at)?;
                        Ok((!records.is_empty()).then_some((records, at)))
                    }
                    Err(HrError::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            }
            Lookup::Filter { kind, key, paths } => {
                let found = self.filtered(*kind, key, value).await?;
                if let Some((records, at)) = &found {
                    all_match(records, paths, value, at)?;
                }
                Ok(found)
            }
        }
    }

    /// The list's request with a filter of `kind` comparing `key` with `value`.
    async fn filtered(
        &self,
        kind: FilterKind,
        key: &str,
        value: &str,
    ) -> Result<Option<(Vec<Value>, Origin)>, HrError> {
        let mut url = self.first.clone();
        let mut body = self.config.body.clone();
        match kind {
            FilterKind::Scim => {
                let literal = serde_json::Value::from(value).to_string();
                url.query_pairs_mut()
                    .append_pair("filter", &format!("{key} eq {literal}"));
            }
            FilterKind::OData => {
                let literal = value.replace('\'', "''");
                url.query_pairs_mut()
                    .append_pair("$filter", &format!("{key} eq '{literal}'"));
            }
            FilterKind::HiBob => {
                if let Some(Value::Object(body)) = &mut body {
                    body.insert(
                        "filters".into(),
                        serde_json::json!([{"fieldPath": key, "operator": "equals", "values": [value]}]),
                    );
                }
            }
        }
        let at = lookup_origin(self.config.method, &url);
        let target = Target {
            method: self.config.method,
            url: &url,
            body: body.as_ref(),
            at: at.clone(),
        };
        let (mut answer, _) = self.send(&target).await?;
        let records = take_records(&mut answer, &self.config.records, &at)?;
        Ok((!records.is_empty()).then_some((records, at)))
    }
}

/// Lookups of one employee after another over one client and one set of credentials (one
/// OAuth2 token for them all, one pace under `requests_per_minute`).
pub(crate) struct Lookups<'a> {
    session: Session<'a>,
    lookup: Lookup,
    fields: &'a FieldsConfig,
}

impl<'a> Lookups<'a> {
    /// Opens the client and reads the credentials (no request yet).
    pub(crate) async fn open(
        (rest, limits): (&'a RestConfig, &'a LimitsConfig),
        lookup: Lookup,
        fields: &'a FieldsConfig,
    ) -> Result<Lookups<'a>, HrError> {
        Ok(Self {
            session: Session::open(rest, limits).await?,
            lookup,
            fields,
        })
    }

    /// One employee's records, and after them the records its `[hr.references]` fields name
    /// (so that they resolve as in the list): `None` when the API has no such employee;
    /// otherwise the records and how many of them are the employee's own.
    pub(crate) async fn records(&self, id: &str) -> Result<Option<(Vec<Value>, usize)>, HrError> {
        let Some((mut records, at)) = self.session.look_up(&self.lookup, id).await? else {
            return Ok(None);
        };
        let own = records.len();
        if let Some(id_paths) = self.fields.get(ID) {
            if self.lookup.is_path() {
                answered_for(&records, id_paths, id, &at)?;
            }
            self.add_referenced(&mut records, id_paths).await?;
        }
        Ok(Some((records, own)))
    }

    /// Appends the records the references of `records` name. One whose id is already there is
    /// left out: it is the same record (a self-reference, or the employee's own).
    async fn add_referenced(
        &self,
        records: &mut Vec<Value>,
        id_paths: &FieldPaths,
    ) -> Result<(), HrError> {
        let own = records.len();
        for (field, key) in &self.fields.references {
            let by_key = self.lookup.by_key(key, id_paths);
            let (Some(paths), Some(by_key)) = (self.fields.get(field), by_key) else {
                continue;
            };
            let values: BTreeSet<String> = records[..own]
                .iter()
                .filter_map(|record| first_text(record, paths))
                .collect();
            for value in values {
                let named = self.session.look_up(&by_key, &value).await?;
                for record in named.map(|(named, _)| named).unwrap_or_default() {
                    let id_of = first_text(&record, id_paths);
                    let known = records.iter().any(|r| first_text(r, id_paths) == id_of);
                    if id_of.is_none() || !known {
                        records.push(record);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Every record a filter answered must hold the value it asked for at `paths` (ignoring case:
/// SCIM compares most attributes so, and so may OData). A record that does not means the API
/// ignored or misread the filter, and then the employee's absence from its answer says nothing.
fn all_match(
    records: &[Value],
    paths: &FieldPaths,
    value: &str,
    at: &Origin,
) -> Result<(), HrError> {
    let wanted = value.to_lowercase();
    let stray = records.iter().find(|record| {
        first_text(record, paths).is_none_or(|found| found.to_lowercase() != wanted)
    });
    match stray {
        Some(record) => Err(HrError::LookupAnswer {
            at: at.clone(),
            problem: format!(
                "asked for the records whose {paths} is {value:?}, the API answered with one \
                 whose {paths} is {}; it seems to ignore the filter, so the answer cannot say \
                 who is absent",
                first_text(record, paths)
                    .map_or_else(|| "missing".to_string(), |v| format!("{v:?}"))
            ),
        }),
        None => Ok(()),
    }
}

/// At an employee's own URL, the answer must be about that employee: an API that answers for
/// someone else (BambooHR reads id `0` as "the API key's own employee") is an error, not that
/// person's record.
fn answered_for(
    records: &[Value],
    id_paths: &FieldPaths,
    id: &str,
    at: &Origin,
) -> Result<(), HrError> {
    let other = records
        .iter()
        .filter_map(|record| first_text(record, id_paths))
        .find(|found| found != id);
    match other {
        Some(other) => Err(HrError::LookupAnswer {
            at: at.clone(),
            problem: format!(
                "asked for HR id {id:?}, the API answered with the record of {other:?}"
            ),
        }),
        None => Ok(()),
    }
}

/// An id (or a referenced value) that can be looked up: not empty, not `.` or `..` (which a
/// URL would read as a path step), without a character hrsync refuses in any HR value.
fn check_value(value: &str) -> Result<(), HrError> {
    let problem = if value.is_empty() {
        Some("it is empty".to_string())
    } else if value == "." || value == ".." {
        Some("a URL would read it as a step in the path".to_string())
    } else if value.chars().count() > crate::hr::normalize::MAX_VALUE_CHARS {
        Some("it is longer than any HR value hrsync reads".to_string())
    } else {
        value
            .chars()
            .find_map(crate::hr::normalize::refused_character)
            .map(|kind| format!("it contains {kind}"))
    };
    match problem {
        Some(problem) => Err(HrError::LookupId {
            id: value.to_string(),
            problem,
        }),
        None => Ok(()),
    }
}

/// `template` with `value` percent-encoded in place of `{id}` (every byte but ASCII letters,
/// digits, `-`, `.`, `_` and `~`), and `query` appended. The result must be exactly what the
/// template gives with an inert id: a URL parser that normalised anything (a `..` step) would
/// show here, and the id is refused rather than sent.
fn path_url(template: &str, query: &[(String, String)], value: &str) -> Result<Url, HrError> {
    const INERT: &str = "hrsyncidplaceholder";
    let encoded = percent_encode(value);
    let refused = |problem: String| HrError::LookupId {
        id: value.to_string(),
        problem,
    };
    let parse = |id: &str| {
        Url::parse(&template.replacen(ID_PLACEHOLDER, id, 1))
            .map_err(|e| refused(format!("hr.rest.employee_url does not make a URL: {e}")))
    };
    let mut url = parse(&encoded)?;
    let expected = parse(INERT)?.as_str().replacen(INERT, &encoded, 1);
    if url.as_str() != expected {
        return Err(refused("it would change the URL's structure".into()));
    }
    for (name, value) in query {
        url.query_pairs_mut().append_pair(name, value);
    }
    Ok(url)
}

/// Every byte of `value` but the unreserved characters of RFC 3986, as `%XX`.
pub(super) fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn lookup_origin(method: HttpMethod, url: &Url) -> Origin {
    Origin::Lookup {
        method: method.as_str().to_string(),
        url: display_url(url),
    }
}

/// The records at `pointer`: the object there (one record), or the array there.
fn records_at(body: &mut Value, pointer: &str, at: &Origin) -> Result<Vec<Value>, HrError> {
    if let Some(record @ Value::Object(_)) = body.pointer_mut(pointer) {
        return Ok(vec![record.take()]);
    }
    take_records(body, pointer, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_never_changes_the_host_or_the_path_structure() {
        let template = "https://hr.example.com/api/v1/employees/{id}?view=full";
        for (id, path) in [
            ("123", "/api/v1/employees/123"),
            ("../admin", "/api/v1/employees/..%2Fadmin"),
            ("x?y=1#z", "/api/v1/employees/x%3Fy%3D1%23z"),
            ("a/b", "/api/v1/employees/a%2Fb"),
            ("%2e%2e", "/api/v1/employees/%252e%252e"),
            ("@evil.example", "/api/v1/employees/%40evil.example"),
            ("j.doe", "/api/v1/employees/j.doe"),
            ("Zoë", "/api/v1/employees/Zo%C3%AB"),
        ] {
            let url = path_url(template, &[], id).unwrap();
            assert_eq!(url.host_str(), Some("hr.example.com"), "{id}");
            assert_eq!(url.path(), path, "{id}");
            assert_eq!(url.query(), Some("view=full"), "{id}");
        }
        for id in [".", ".."] {
            assert!(
                matches!(check_value(id), Err(HrError::LookupId { .. })),
                "{id}"
            );
        }
        assert!(check_value("a\u{202E}b").is_err());
        assert!(check_value("").is_err());
    }

    #[test]
    fn filter_keys_follow_each_apis_naming() {
        let paths = |text: &str| FieldPaths::parse(&[text]).unwrap();
        let enterprise =
            "$['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'].employeeNumber";
        assert_eq!(
            filter_key(FilterKind::Scim, &paths(enterprise)).as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber")
        );
        assert_eq!(
            filter_key(FilterKind::Scim, &paths("$.name.givenName")).as_deref(),
            Some("name.givenName")
        );
        assert_eq!(
            filter_key(FilterKind::Scim, &paths("$.emails[0].value")),
            None
        );
        assert_eq!(
            filter_key(FilterKind::OData, &paths("$.personIdExternal")).as_deref(),
            Some("personIdExternal")
        );
        assert_eq!(filter_key(FilterKind::OData, &paths("$.a.b")), None);
        assert_eq!(
            filter_key(FilterKind::HiBob, &paths("$.id")).as_deref(),
            Some("root.id")
        );
        assert_eq!(filter_key(FilterKind::HiBob, &paths("$.work.title")), None);
        let two = FieldPaths::parse(&["$.a", "$.b"]).unwrap();
        assert_eq!(filter_key(FilterKind::Scim, &two), None);
    }
}
