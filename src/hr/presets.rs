//! Vendor presets: `[hr] preset = "bamboohr"` and a few vendor ids and credentials expand into
//! the generic configuration (`[hr.rest]`, `[hr.fields]`, `[hr.status]`, `[hr.dates]`) exactly
//! as a user would write it by hand, following the vendors' documented APIs (hr-apis.md).
//!
//! Keys the user writes in `[hr.rest]`, `[hr.fields]`, `[hr.status]` and `[hr.dates]` override
//! the preset's, key by key. Inside `[hr.rest]`, the `query` and `headers` tables are merged per
//! parameter; `auth` and `pagination` are merged per key when their `type` stays the preset's,
//! and replaced as a whole when the user names another `type`; `body` is replaced as a whole.
//!
//! | preset | keys in `[hr]` |
//! |---|---|
//! | `bamboohr` | `company_domain`, `api_key` (secret) |
//! | `personio` | `client_id`, `client_secret` (secret), or `token` (secret: a pre-issued token) |
//! | `hibob` | `service_user_id`, `token` (secret) |
//! | `workday` | `host`, `tenant`, `owner`, `report`, and `username`, `password` (secret) of an integration system user, or an API client's `client_id`, `client_secret` (secret), `refresh_token` (secret) |
//! | `successfactors` | `api_server`, `company_id`, `client_id` (the OAuth client's API key), `user_id`, `private_key` (secret), optional `certificate`; or (Basic auth, which SAP is retiring) `api_server`, `username` (`user@companyId`), `password` (secret) |
//! | `scim` | `base_url`, `token` (secret) |
//!
//! Every preset also takes `base_url`, the API root, which replaces the vendor's default (a
//! sandbox, a proxy, or a test server).

use std::collections::BTreeMap;

use reqwest::Url;
use serde::Deserialize;

use super::fields::FieldPaths;
use super::rest::Credential;
use crate::problem::ConfigProblem;
use crate::secret::SecretRef;

/// The HR systems hrsync knows the API of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// BambooHR: custom report (`POST /reports/custom?format=JSON&onlyCurrent=true`), every
    /// status, current values only (a job change dated in the future shows on its date), Basic
    /// auth with the API key as the user name.
    Bamboohr,
    /// Personio API v1: `GET /company/employees`, offset/limit (at most 100 per page), checked
    /// against `metadata.total_elements`, at most 250 requests a minute (Personio allows 300).
    /// The bearer token comes from `POST /auth` with the client id and secret (cached for the
    /// run, renewed when refused), or is given pre-issued as `token`.
    Personio,
    /// HiBob: `POST /people/search` with `showInactive` and `humanReadable`, one answer for
    /// everyone, Basic auth with the service user id and token.
    Hibob,
    /// Workday RaaS: a custom report as JSON (`?format=json`), records at `/Report_Entry`,
    /// Basic auth as an integration system user, or OAuth2 with an API client's refresh token. The column names are the report's: the
    /// preset's are the usual aliases, override them in `[hr.fields]` and `[hr.status]`.
    Workday,
    /// SAP SuccessFactors OData v2: `/PerPerson` with the employment, job and status
    /// navigations expanded, records at `/d/results`, next page at `/d/__next`, `/Date(ms)/`
    /// dates. The status is the most active of all the person's employments (a rehire or a
    /// global assignment is active); the other fields come from the active employment when
    /// there is one. OAuth2 with a SAML bearer assertion signed by hrsync with the client's
    /// private key, or Basic auth as `user@companyId` (which SAP is retiring).
    Successfactors,
    /// SCIM 2.0 `/Users`: `startIndex` from 1 and `count`, checked against `totalResults`;
    /// `active` true/false as the status; the id is the enterprise extension's `employeeNumber`
    /// (the resource's own `id` is `scim_id`); department and manager from the enterprise
    /// extension, the manager's SCIM `id` turned into their employee number
    /// (`[hr.references]`).
    Scim,
}

impl Preset {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bamboohr => "bamboohr",
            Self::Personio => "personio",
            Self::Hibob => "hibob",
            Self::Workday => "workday",
            Self::Successfactors => "successfactors",
            Self::Scim => "scim",
        }
    }

    /// The sets of `[hr]` keys this preset can work with, each complete on its own (besides
    /// `base_url`, which every preset takes and which makes `company_domain`, `host` and
    /// `api_server` unnecessary). The first set is the recommended one.
    fn key_sets(self) -> &'static [&'static [&'static str]] {
        match self {
            Self::Bamboohr => &[&["company_domain", "api_key"]],
            Self::Personio => &[&["client_id", "client_secret"], &["token"]],
            Self::Hibob => &[&["service_user_id", "token"]],
            Self::Workday => &[
                &["host", "tenant", "owner", "report", "username", "password"],
                &[
                    "host",
                    "tenant",
                    "owner",
                    "report",
                    "client_id",
                    "client_secret",
                    "refresh_token",
                ],
            ],
            Self::Successfactors => &[
                &[
                    "api_server",
                    "company_id",
                    "client_id",
                    "user_id",
                    "private_key",
                ],
                &["api_server", "username", "password"],
            ],
            Self::Scim => &[&["base_url", "token"]],
        }
    }

    /// Keys the preset reads when they are there.
    fn optional_keys(self) -> &'static [&'static str] {
        match self {
            Self::Successfactors => &["certificate"],
            _ => &[],
        }
    }

    /// The preset's generic configuration, without url and auth (those depend on the keys).
    fn template(self) -> &'static str {
        match self {
            Self::Bamboohr => BAMBOOHR,
            Self::Personio => PERSONIO,
            Self::Hibob => HIBOB,
            Self::Workday => WORKDAY,
            Self::Successfactors => SUCCESSFACTORS,
            Self::Scim => SCIM,
        }
    }
}

/// The vendor ids and credentials written directly in `[hr]` next to `preset`. Secrets are
/// references (`{ env = "VAR" }` or `{ file = "/path" }`), never values.
#[derive(Debug, Clone, Default)]
pub struct PresetParams {
    /// BambooHR: the company's subdomain (`acme` in `acme.bamboohr.com`).
    pub company_domain: Option<String>,
    /// BambooHR: the API key, sent as the Basic auth user name.
    pub api_key: Option<SecretRef>,
    /// Personio (a pre-issued bearer token), HiBob (the service user's token), SCIM (bearer).
    pub token: Option<SecretRef>,
    /// HiBob: the service user's id.
    pub service_user_id: Option<Credential>,
    /// Workday: the host, such as `wd2-impl-services1.workday.com`.
    pub host: Option<String>,
    /// Workday: the tenant.
    pub tenant: Option<String>,
    /// Workday: the report's owner, as in the report URL.
    pub owner: Option<String>,
    /// Workday: the report's name, as in the report URL.
    pub report: Option<String>,
    /// Workday (integration system user), SuccessFactors (`user@companyId`).
    pub username: Option<Credential>,
    /// Workday, SuccessFactors: the password.
    pub password: Option<SecretRef>,
    /// SuccessFactors: the API server, such as `api4.successfactors.com`.
    pub api_server: Option<String>,
    /// Any preset: the API root, replacing the vendor's default; required for SCIM.
    pub base_url: Option<String>,
    /// Personio: the API client id; SuccessFactors: the OAuth client's API key.
    pub client_id: Option<Credential>,
    /// Personio: the API client secret.
    pub client_secret: Option<SecretRef>,
    /// SuccessFactors: the company id.
    pub company_id: Option<String>,
    /// SuccessFactors: the API user's user id, named in the SAML assertion.
    pub user_id: Option<String>,
    /// SuccessFactors: the OAuth client's private key (PEM), a secret reference.
    pub private_key: Option<SecretRef>,
    /// SuccessFactors: the OAuth client's X.509 certificate (PEM file), sent in the signature.
    pub certificate: Option<std::path::PathBuf>,
    /// Workday: the API client's refresh token, a secret reference.
    pub refresh_token: Option<SecretRef>,
}

impl PresetParams {
    /// The keys that are set, by name.
    fn set_keys(&self) -> Vec<&'static str> {
        [
            ("company_domain", self.company_domain.is_some()),
            ("api_key", self.api_key.is_some()),
            ("token", self.token.is_some()),
            ("service_user_id", self.service_user_id.is_some()),
            ("host", self.host.is_some()),
            ("tenant", self.tenant.is_some()),
            ("owner", self.owner.is_some()),
            ("report", self.report.is_some()),
            ("username", self.username.is_some()),
            ("password", self.password.is_some()),
            ("api_server", self.api_server.is_some()),
            ("base_url", self.base_url.is_some()),
            ("client_id", self.client_id.is_some()),
            ("client_secret", self.client_secret.is_some()),
            ("company_id", self.company_id.is_some()),
            ("user_id", self.user_id.is_some()),
            ("private_key", self.private_key.is_some()),
            ("certificate", self.certificate.is_some()),
            ("refresh_token", self.refresh_token.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect()
    }

    /// Problems for keys written without a preset.
    pub(crate) fn without_preset(&self) -> Vec<ConfigProblem> {
        self.set_keys()
            .into_iter()
            .map(|key| {
                ConfigProblem::new(
                    format!("hr.{key}"),
                    "is only read with hr.preset (bamboohr, personio, hibob, workday, \
                     successfactors, scim)",
                )
            })
            .collect()
    }
}

/// What a preset expands into, before the user's own keys are merged over it.
#[derive(Debug, Clone)]
pub(crate) struct Expansion {
    /// `[hr.rest]`, or `None` when a key it needs is missing or wrong (see `problems`), or when
    /// the source is not REST.
    pub rest: Option<toml::Table>,
    pub fields: BTreeMap<String, FieldPaths>,
    pub references: BTreeMap<String, FieldPaths>,
    pub status: toml::Table,
    pub dates: toml::Table,
    /// Problems with the preset's keys, named `hr.<key>`.
    pub problems: Vec<ConfigProblem>,
}

/// Expands `preset` with `params`. `rest` says whether the REST part is wanted (with
/// `source = "file"`, a preset only lends its fields, status and dates: a replay needs no
/// credentials).
pub(crate) fn expand(preset: Preset, params: &PresetParams, rest: bool) -> Expansion {
    let mut problems = Vec::new();
    let Template {
        fields,
        references,
        status,
        dates,
        rest: mut rest_table,
    } = template(preset, &mut problems);
    // Keys: required ones present, unknown ones refused, values well-formed.
    let set = params.set_keys();
    let chosen = chosen_keys(preset, &set);
    check_key_names(preset, &set, chosen, &mut problems);
    let base_url = params
        .base_url
        .as_deref()
        .map(|url| url.trim_end_matches('/'));
    if let Some(url) = base_url {
        check_base_url(url, &mut problems);
    }
    if rest {
        check_required(preset, &set, chosen, base_url.is_some(), &mut problems);
    }
    check_values(params, &mut problems);
    let rest = (rest && problems.is_empty())
        .then(|| connection(preset, params, base_url))
        .flatten()
        .map(|(url, auth)| {
            rest_table.insert("url".into(), toml::Value::String(url));
            rest_table.insert("auth".into(), toml::Value::Table(auth));
            rest_table
        });
    Expansion {
        rest,
        fields,
        references,
        status,
        dates,
        problems,
    }
}

/// The tables of a preset's built-in template.
struct Template {
    fields: BTreeMap<String, FieldPaths>,
    references: BTreeMap<String, FieldPaths>,
    status: toml::Table,
    dates: toml::Table,
    rest: toml::Table,
}

/// Parses the preset's template; a broken template is an internal error, reported as a problem.
fn template(preset: Preset, problems: &mut Vec<ConfigProblem>) -> Template {
    let name = preset.as_str();
    let mut template: toml::Table = match toml::from_str(preset.template()) {
        Ok(table) => table,
        Err(e) => {
            problems.push(ConfigProblem::new(
                "hr.preset",
                format!("internal error in the {name} preset: {e}"),
            ));
            toml::Table::new()
        }
    };
    let mut paths = |key: &str| {
        let mut paths = BTreeMap::new();
        if let Some(toml::Value::Table(table)) = template.remove(key) {
            for (field, value) in table {
                match FieldPaths::deserialize(value) {
                    Ok(found) => {
                        paths.insert(field, found);
                    }
                    Err(e) => problems.push(ConfigProblem::new(
                        "hr.preset",
                        format!("internal error in the {name} preset, {key}.{field}: {e}"),
                    )),
                }
            }
        }
        paths
    };
    let fields = paths("fields");
    let references = paths("references");
    let mut take = |key: &str| match template.remove(key) {
        Some(toml::Value::Table(table)) => table,
        _ => toml::Table::new(),
    };
    let status = take("status");
    let dates = take("dates");
    let rest = take("rest");
    Template {
        fields,
        references,
        status,
        dates,
        rest,
    }
}

/// The key set the user went for: the one with the most of its keys written (the first on a
/// tie, the recommended one).
fn chosen_keys(preset: Preset, set: &[&str]) -> &'static [&'static str] {
    let key_sets = preset.key_sets();
    key_sets
        .iter()
        .copied()
        .max_by_key(|keys| {
            let written = keys.iter().filter(|k| set.contains(k)).count();
            (
                written,
                std::cmp::Reverse(key_sets.iter().position(|s| s == keys)),
            )
        })
        .unwrap_or(&[])
}

/// Keys the preset does not take at all, and keys of another key set than the chosen one.
fn check_key_names(
    preset: Preset,
    set: &[&'static str],
    chosen: &[&str],
    problems: &mut Vec<ConfigProblem>,
) {
    let name = preset.as_str();
    let key_sets = preset.key_sets();
    let known = |key: &str| {
        key == "base_url"
            || preset.optional_keys().contains(&key)
            || key_sets.iter().any(|keys| keys.contains(&key))
    };
    for key in set {
        if !known(key) {
            let mut takes: Vec<&str> = key_sets
                .iter()
                .flat_map(|keys| keys.iter().copied())
                .collect();
            takes.extend(preset.optional_keys());
            takes.sort_unstable();
            takes.dedup();
            problems.push(ConfigProblem::new(
                format!("hr.{key}"),
                format!(
                    "is not used by preset = \"{name}\", which takes {} (and base_url)",
                    takes.join(", ")
                ),
            ));
        } else if *key != "base_url"
            && !chosen.contains(key)
            && !preset.optional_keys().contains(key)
        {
            problems.push(ConfigProblem::new(
                format!("hr.{key}"),
                format!(
                    "does not go with {}: preset = \"{name}\" takes either {}",
                    chosen.join(", "),
                    key_sets
                        .iter()
                        .map(|keys| keys.join(", "))
                        .collect::<Vec<_>>()
                        .join(", or ")
                ),
            ));
        }
    }
}

/// `base_url` is the API root: a URL without a query string or fragment.
fn check_base_url(url: &str, problems: &mut Vec<ConfigProblem>) {
    match Url::parse(url) {
        Ok(parsed) if parsed.query().is_none() && parsed.fragment().is_none() => {}
        Ok(_) => problems.push(ConfigProblem::new(
            "hr.base_url",
            "is the API root, without a query string or fragment",
        )),
        Err(e) => problems.push(ConfigProblem::new(
            "hr.base_url",
            format!("is not a URL: {e}"),
        )),
    }
}

/// Every key of the chosen set is written, but for the host-like keys when `base_url` replaces
/// the default root they only build.
fn check_required(
    preset: Preset,
    set: &[&str],
    chosen: &[&str],
    has_base_url: bool,
    problems: &mut Vec<ConfigProblem>,
) {
    for key in chosen {
        let covered = has_base_url && matches!(*key, "company_domain" | "host" | "api_server");
        if !set.contains(key) && !covered {
            problems.push(ConfigProblem::new(
                format!("hr.{key}"),
                format!(
                    "is required with preset = \"{}\" ({})",
                    preset.as_str(),
                    describe(key)
                ),
            ));
        }
    }
}

/// The values: names that go into URLs are plain names, secrets can be read, user names are
/// usable.
fn check_values(params: &PresetParams, problems: &mut Vec<ConfigProblem>) {
    for (key, value) in [
        ("company_domain", &params.company_domain),
        ("host", &params.host),
        ("tenant", &params.tenant),
        ("owner", &params.owner),
        ("report", &params.report),
        ("api_server", &params.api_server),
        ("company_id", &params.company_id),
    ] {
        if let Some(value) = value {
            let bad = value.is_empty()
                || value
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "/?#@%\\".contains(c));
            if bad {
                problems.push(ConfigProblem::new(
                    format!("hr.{key}"),
                    format!(
                        "{value:?} must be a plain name, without spaces, '/', '?', '#', '@' or '%' \
                         ({})",
                        describe(key)
                    ),
                ));
            }
        }
    }
    for (key, secret) in [
        ("api_key", &params.api_key),
        ("token", &params.token),
        ("password", &params.password),
        ("client_secret", &params.client_secret),
        ("private_key", &params.private_key),
        ("refresh_token", &params.refresh_token),
    ] {
        if let Some(secret) = secret {
            let key = format!("hr.{key}");
            if let Err(e) = secret.check(&key) {
                problems.push(ConfigProblem::new(key, e.to_string()));
            }
        }
    }
    for (key, credential) in [
        ("service_user_id", &params.service_user_id),
        ("username", &params.username),
        ("client_id", &params.client_id),
    ] {
        match credential {
            Some(Credential::Secret(secret)) => {
                let key = format!("hr.{key}");
                if let Err(e) = secret.check(&key) {
                    problems.push(ConfigProblem::new(key, e.to_string()));
                }
            }
            Some(Credential::Plain(user)) if user.is_empty() || user.contains(':') => problems
                .push(ConfigProblem::new(
                    format!("hr.{key}"),
                    "must be non-empty and without ':'",
                )),
            _ => {}
        }
    }
}

/// What a preset key is, for messages.
fn describe(key: &str) -> &'static str {
    match key {
        "company_domain" => "the company's BambooHR subdomain, such as \"acme\"",
        "api_key" => "a secret reference to the API key, such as { env = \"BAMBOOHR_API_KEY\" }",
        "token" => "a secret reference to the API token, such as { env = \"HR_TOKEN\" }",
        "service_user_id" => "the service user's id",
        "host" => "the Workday host name, such as \"wd2-impl-services1.workday.com\"",
        "tenant" => "the Workday tenant name",
        "owner" => "the user name that owns the report, as in its URL",
        "report" => "the report's name, as in its URL",
        "username" => "the user name (SuccessFactors: user@companyId)",
        "password" => "a secret reference to the password, such as { file = \"/run/secrets/hr\" }",
        "api_server" => "the SuccessFactors API server, such as \"api4.successfactors.com\"",
        "base_url" => "the API root, such as \"https://example.com/scim/v2\"",
        "client_id" => "the API client id (SuccessFactors: the OAuth client's API key)",
        "client_secret" => {
            "a secret reference to the client secret, such as { env = \"HR_CLIENT_SECRET\" }"
        }
        "company_id" => "the SuccessFactors company id",
        "refresh_token" => "a secret reference to the Workday API client's refresh token",
        "user_id" => "the SuccessFactors API user's user id",
        "private_key" => {
            "a secret reference to the OAuth client's PEM private key, such as { file = \"/run/secrets/sf-key.pem\" }"
        }
        _ => "see the docs, HR sources",
    }
}

/// The URL and `[hr.rest.auth]` table. `None` only if a required key is missing (reported
/// before this is called).
fn connection(
    preset: Preset,
    params: &PresetParams,
    base_url: Option<&str>,
) -> Option<(String, toml::Table)> {
    Some((
        records_url(preset, params, base_url)?,
        auth(preset, params, base_url)?,
    ))
}

/// The records endpoint: the API root (`base_url`, or the vendor's default) and the path.
fn records_url(preset: Preset, params: &PresetParams, base_url: Option<&str>) -> Option<String> {
    let root = |default: String| base_url.map_or(default, str::to_string);
    Some(match preset {
        Preset::Bamboohr => format!(
            "{}/reports/custom",
            root(format!(
                "https://api.bamboohr.com/api/gateway.php/{}/v1",
                params.company_domain.as_deref().unwrap_or_default()
            ))
        ),
        Preset::Personio => format!(
            "{}/company/employees",
            root("https://api.personio.de/v1".into())
        ),
        Preset::Hibob => format!("{}/people/search", root("https://api.hibob.com/v1".into())),
        Preset::Workday => format!(
            "{}/ccx/service/customreport2/{}/{}/{}",
            root(format!(
                "https://{}",
                params.host.as_deref().unwrap_or_default()
            )),
            params.tenant.as_deref()?,
            params.owner.as_deref()?,
            params.report.as_deref()?
        ),
        Preset::Successfactors => format!(
            "{}/PerPerson",
            root(format!(
                "https://{}/odata/v2",
                params.api_server.as_deref().unwrap_or_default()
            ))
        ),
        Preset::Scim => format!("{}/Users", base_url?),
    })
}

/// The `[hr.rest.auth]` table for the preset's credentials.
fn auth(preset: Preset, params: &PresetParams, base_url: Option<&str>) -> Option<toml::Table> {
    let root = |default: String| base_url.map_or(default, str::to_string);
    let mut auth = toml::Table::new();
    let mut put = |key: &str, value: toml::Value| {
        auth.insert(key.to_string(), value);
    };
    match preset {
        Preset::Bamboohr => {
            put("type", "basic".into());
            put("username", secret_value(params.api_key.as_ref()?));
        }
        Preset::Personio if params.token.is_none() => {
            put("type", "token_request".into());
            put(
                "url",
                format!("{}/auth", root("https://api.personio.de/v1".into())).into(),
            );
            put("client_id", credential_value(params.client_id.as_ref()?));
            put(
                "client_secret",
                secret_value(params.client_secret.as_ref()?),
            );
        }
        Preset::Personio | Preset::Scim => {
            put("type", "bearer".into());
            put("token", secret_value(params.token.as_ref()?));
        }
        Preset::Successfactors if params.private_key.is_some() => {
            saml_bearer(params, &root, &mut put)?;
        }
        Preset::Hibob => {
            put("type", "basic".into());
            put(
                "username",
                credential_value(params.service_user_id.as_ref()?),
            );
            put("password", secret_value(params.token.as_ref()?));
        }
        Preset::Workday if params.refresh_token.is_some() => {
            workday_refresh(params, &root, &mut put)?;
        }
        Preset::Workday | Preset::Successfactors => {
            put("type", "basic".into());
            put("username", credential_value(params.username.as_ref()?));
            put("password", secret_value(params.password.as_ref()?));
        }
    }
    Some(auth)
}

/// SuccessFactors with a private key: a signed SAML assertion exchanged at its token endpoint.
fn saml_bearer(
    params: &PresetParams,
    root: &dyn Fn(String) -> String,
    put: &mut dyn FnMut(&str, toml::Value),
) -> Option<()> {
    let odata_root = root(format!(
        "https://{}/odata/v2",
        params.api_server.as_deref().unwrap_or_default()
    ));
    let server = odata_root
        .strip_suffix("/odata/v2")
        .unwrap_or(&odata_root)
        .to_string();
    put("type", "saml_bearer".into());
    put("token_url", format!("{server}/oauth/token").into());
    put("client_id", credential_value(params.client_id.as_ref()?));
    put("company_id", params.company_id.clone()?.into());
    put("user_id", params.user_id.clone()?.into());
    put("private_key", secret_value(params.private_key.as_ref()?));
    if let Some(certificate) = &params.certificate {
        put(
            "certificate",
            certificate.to_string_lossy().into_owned().into(),
        );
    }
    Some(())
}

/// Workday with a refresh token: OAuth 2.0 at the tenant's token endpoint.
fn workday_refresh(
    params: &PresetParams,
    root: &dyn Fn(String) -> String,
    put: &mut dyn FnMut(&str, toml::Value),
) -> Option<()> {
    let server = root(format!(
        "https://{}",
        params.host.as_deref().unwrap_or_default()
    ));
    put("type", "oauth2".into());
    put("grant", "refresh_token".into());
    put(
        "token_url",
        format!("{server}/ccx/oauth2/{}/token", params.tenant.as_deref()?).into(),
    );
    put("client_id", credential_value(params.client_id.as_ref()?));
    put(
        "client_secret",
        secret_value(params.client_secret.as_ref()?),
    );
    put(
        "refresh_token",
        secret_value(params.refresh_token.as_ref()?),
    );
    Some(())
}

fn secret_value(secret: &SecretRef) -> toml::Value {
    secret.to_toml()
}

fn credential_value(credential: &Credential) -> toml::Value {
    match credential {
        Credential::Plain(text) => toml::Value::String(text.clone()),
        Credential::Secret(secret) => secret_value(secret),
    }
}

/// Merges the user's `[hr.rest]` over the preset's (see the module documentation).
pub(crate) fn merge_rest(base: &mut toml::Table, user: toml::Table) {
    for (key, value) in user {
        let merged = match (key.as_str(), base.get_mut(&key), value) {
            ("query" | "headers", Some(toml::Value::Table(base)), toml::Value::Table(user)) => {
                base.extend(user);
                None
            }
            ("auth" | "pagination", Some(toml::Value::Table(base)), toml::Value::Table(user)) => {
                let same_type = user.get("type").is_none_or(|t| base.get("type") == Some(t));
                if same_type {
                    base.extend(user);
                } else {
                    *base = user;
                }
                None
            }
            (_, _, value) => Some(value),
        };
        if let Some(value) = merged {
            base.insert(key, value);
        }
    }
}

const BAMBOOHR: &str = r#"
[rest]
method = "POST"
records = "/employees"
# onlyCurrent=true (BambooHR's default, written out so that nothing else can be meant): the
# values in effect today. With false, the report gives the future-dated rows of the history
# tables (a transfer next month, a new title), and hrsync would apply them early.
query = { format = "JSON", onlyCurrent = "true" }
body = { title = "hrsync", fields = ["id", "employeeNumber", "firstName", "lastName", "workEmail", "jobTitle", "department", "division", "location", "employmentHistoryStatus", "supervisorEId", "hireDate", "terminationDate", "status"] }
[rest.pagination]
type = "none"
[fields]
id = "$.id"
employee_number = "$.employeeNumber"
first_name = "$.firstName"
last_name = "$.lastName"
email = "$.workEmail"
title = "$.jobTitle"
department = "$.department"
division = "$.division"
location = "$.location"
employment_type = "$.employmentHistoryStatus"
manager_id = "$.supervisorEId"
hire_date = "$.hireDate"
termination_date = "$.terminationDate"
[status]
path = "$.status"
active = ["Active"]
terminated = ["Inactive"]
[dates]
formats = ["%Y-%m-%d"]
null_values = ["0000-00-00", ""]
"#;

const PERSONIO: &str = r#"
[rest]
records = "/data"
requests_per_minute = 250
[rest.pagination]
type = "offset"
offset_param = "offset"
limit_param = "limit"
limit = 100
start = 0
total_ptr = "/metadata/total_elements"
[fields]
id = "$.attributes.id.value"
first_name = "$.attributes.first_name.value"
last_name = "$.attributes.last_name.value"
email = "$.attributes.email.value"
title = "$.attributes.position.value"
department = "$.attributes.department.value.attributes.name"
location = "$.attributes.office.value.attributes.name"
employment_type = "$.attributes.employment_type.value"
manager_id = "$.attributes.supervisor.value.attributes.id.value"
hire_date = "$.attributes.hire_date.value"
termination_date = "$.attributes.termination_date.value"
[status]
path = "$.attributes.status.value"
active = ["active"]
leave = ["leave"]
pending = ["onboarding"]
terminated = ["inactive"]
[dates]
formats = ["%Y-%m-%d %H:%M:%S%:z", "rfc3339", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d"]
null_values = [""]
"#;

const HIBOB: &str = r#"
[rest]
method = "POST"
records = "/employees"
body = { showInactive = true, humanReadable = "REPLACE", fields = ["root.id", "root.firstName", "root.surname", "root.email", "work.title", "work.department", "work.site", "work.startDate", "work.reportsTo", "internal.status", "internal.lifecycleStatus", "internal.terminationDate"] }
[rest.pagination]
type = "none"
[fields]
id = "$.id"
first_name = "$.firstName"
last_name = "$.surname"
email = "$.email"
title = "$.work.title"
department = "$.work.department"
location = "$.work.site"
manager_id = "$.work.reportsTo.id"
manager_email = "$.work.reportsTo.email"
hire_date = "$.work.startDate"
termination_date = "$.internal.terminationDate"
# The lifecycle status says what happens (HiBob's help centre: Hired before the start date,
# Employed, Garden leave from the last day at work until the termination date, Terminated);
# internal.status (Active/Inactive) is only a fallback, and Inactive there means "on leave or
# terminated", so it counts as leave, never as a leaver. Garden leave is leave: [lifecycle]
# leave decides what the account keeps, and the termination date makes the person a leaver.
[status]
path = ["$.internal.lifecycleStatus", "$.internal.status"]
active = ["Employed", "Active"]
pending = ["Hired"]
leave = ["Leave", "Garden leave", "Inactive"]
terminated = ["Terminated"]
[dates]
formats = ["%Y-%m-%d", "%d/%m/%Y", "rfc3339"]
null_values = [""]
"#;

const WORKDAY: &str = r#"
[rest]
records = "/Report_Entry"
query = { format = "json" }
[rest.pagination]
type = "none"
[fields]
id = "$.Employee_ID"
first_name = "$.First_Name"
last_name = "$.Last_Name"
email = "$['Email_-_Primary_Work']"
title = "$.Business_Title"
department = "$.Supervisory_Organization"
location = "$.Location"
manager_id = "$.Manager_ID"
hire_date = "$.Hire_Date"
termination_date = "$.Termination_Date"
[status]
path = "$.Active_Status"
active = ["1"]
terminated = ["0"]
[dates]
formats = ["%Y-%m-%d", "%Y-%m-%d%:z", "rfc3339"]
null_values = [""]
"#;

const SUCCESSFACTORS: &str = r#"
[rest]
records = "/d/results"
query = { "$format" = "json", "$expand" = "personalInfoNav,emailNav,employmentNav/userNav,employmentNav/jobInfoNav/emplStatusNav,employmentNav/jobInfoNav/departmentNav,employmentNav/jobInfoNav/locationNav", customPageSize = "100" }
[rest.pagination]
type = "next_url"
ptr = "/d/__next"
# A person can have several employments (a rehire keeps the old one, a global assignment adds
# one and makes the home one dormant). The fields come from the employment whose current job is
# active, else from the first; the status is the most active of all of them.
[fields]
id = "$.personIdExternal"
user_id = ["$.employmentNav.results[?@.jobInfoNav.results[0].emplStatusNav.externalCode == 'A'].userId", "$.employmentNav.results[0].userId"]
username = ["$.employmentNav.results[?@.jobInfoNav.results[0].emplStatusNav.externalCode == 'A'].userNav.username", "$.employmentNav.results[0].userNav.username"]
first_name = "$.personalInfoNav.results[0].firstName"
last_name = "$.personalInfoNav.results[0].lastName"
email = ["$.employmentNav.results[?@.jobInfoNav.results[0].emplStatusNav.externalCode == 'A'].userNav.email", "$.employmentNav.results[0].userNav.email", "$.emailNav.results[?@.isPrimary == true].emailAddress"]
title = ["$.employmentNav.results[?@.jobInfoNav.results[0].emplStatusNav.externalCode == 'A'].jobInfoNav.results[0].jobTitle", "$.employmentNav.results[0].jobInfoNav.results[0].jobTitle"]
department = ["$.employmentNav.results[?@.jobInfoNav.results[0].emplStatusNav.externalCode == 'A'].jobInfoNav.results[0].departmentNav.name_localized", "$.employmentNav.results[?@.jobInfoNav.results[0].emplStatusNav.externalCode == 'A'].jobInfoNav.results[0].departmentNav.name", "$.employmentNav.results[0].jobInfoNav.results[0].departmentNav.name_localized", "$.employmentNav.results[0].jobInfoNav.results[0].departmentNav.name"]
location = ["$.employmentNav.results[?@.jobInfoNav.results[0].emplStatusNav.externalCode == 'A'].jobInfoNav.results[0].locationNav.name", "$.employmentNav.results[0].jobInfoNav.results[0].locationNav.name"]
manager_id = ["$.employmentNav.results[?@.jobInfoNav.results[0].emplStatusNav.externalCode == 'A'].jobInfoNav.results[0].managerId", "$.employmentNav.results[0].jobInfoNav.results[0].managerId"]
hire_date = ["$.employmentNav.results[?@.jobInfoNav.results[0].emplStatusNav.externalCode == 'A'].startDate", "$.employmentNav.results[0].startDate"]
# The active employment's end date, else an on-leave one's, else the first's. For a rehire the
# last is the old employment's, before the hire date read above: hrsync ignores a termination
# date before the hire date, so the old end date cannot make the person a leaver.
termination_date = ["$.employmentNav.results[?@.jobInfoNav.results[0].emplStatusNav.externalCode == 'A'].endDate", "$.employmentNav.results[?@.jobInfoNav.results[0].emplStatusNav.externalCode == 'U' || @.jobInfoNav.results[0].emplStatusNav.externalCode == 'P' || @.jobInfoNav.results[0].emplStatusNav.externalCode == 'S' || @.jobInfoNav.results[0].emplStatusNav.externalCode == 'F'].endDate", "$.employmentNav.results[0].endDate"]
[status]
path = "$.employmentNav.results[*].jobInfoNav.results[0].emplStatusNav.externalCode"
multiple = "most_active"
active = ["A"]
leave = ["U", "P", "S", "F"]
# D (dormant): an employment put to sleep, such as the home one during a global assignment; the
# active host employment wins over it. Alone, nobody works there any more.
terminated = ["T", "R", "O", "D"]
[dates]
formats = ["odata", "rfc3339", "%Y-%m-%d"]
null_values = [""]
"#;

const SCIM: &str = r#"
[rest]
records = "/Resources"
[rest.pagination]
type = "offset"
offset_param = "startIndex"
limit_param = "count"
limit = 100
start = 1
total_ptr = "/totalResults"
# The person's id is the employee number of the enterprise extension (RFC 7643 section 4.3), the
# value the directory's correlation attribute (employeeNumber) holds. The resource's own "id" is
# made by the SCIM server, means nothing to the directory, and stays as scim_id. A user without
# an employee number (a service account) is reported and left out, never a joiner under another
# id. A provider that keeps the HR number in externalId instead: [hr.fields] id = "$.externalId".
[fields]
id = "$['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'].employeeNumber"
scim_id = "$.id"
external_id = "$.externalId"
username = "$.userName"
first_name = "$.name.givenName"
last_name = "$.name.familyName"
email = ["$.emails[?@.primary == true].value", "$.emails[?@.type == 'work'].value", "$.emails[0].value"]
title = "$.title"
location = ["$.addresses[?@.type == 'work'].locality", "$.addresses[?@.primary == true].locality"]
employment_type = "$.userType"
employee_number = "$['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'].employeeNumber"
department = "$['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'].department"
manager_id = "$['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'].manager.value"
# manager.value is the manager's SCIM resource id (RFC 7643 section 4.3): hrsync replaces it by
# the id (employee number) of the user whose "id" it is.
[references]
manager_id = "$.id"
[status]
path = "$.active"
active = ["true"]
terminated = ["false"]
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hr::{AuthConfig, HrConfig, PaginationConfig};

    fn parse(text: &str) -> HrConfig {
        toml::from_str(text).unwrap()
    }

    fn keys(config: &HrConfig) -> Vec<String> {
        config.validate().into_iter().map(|p| p.key).collect()
    }

    fn valid(text: &str) -> HrConfig {
        let config = parse(text);
        assert_eq!(config.validate(), vec![], "{text}");
        config
    }

    #[test]
    fn every_template_parses() {
        for preset in [
            Preset::Bamboohr,
            Preset::Personio,
            Preset::Hibob,
            Preset::Workday,
            Preset::Successfactors,
            Preset::Scim,
        ] {
            let expansion = expand(preset, &PresetParams::default(), false);
            assert!(expansion.problems.is_empty(), "{:?}", expansion.problems);
            assert!(expansion.fields.contains_key("id"), "{preset:?}");
        }
    }

    #[test]
    fn bamboohr_expands_to_the_custom_report() {
        let config = valid(
            "preset = \"bamboohr\"\ncompany_domain = \"acme\"\napi_key = { env = \"BAMBOOHR_API_KEY\" }\n",
        );
        let rest = config.rest().unwrap();
        assert_eq!(
            rest.url,
            "https://api.bamboohr.com/api/gateway.php/acme/v1/reports/custom"
        );
        assert_eq!(rest.method, crate::hr::HttpMethod::Post);
        assert_eq!(rest.records, "/employees");
        assert!(matches!(
            &rest.auth,
            AuthConfig::Basic {
                username: Credential::Secret(_),
                password: None
            }
        ));
        assert!(
            rest.body.as_ref().unwrap()["fields"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!("employmentHistoryStatus"))
        );
        assert_eq!(
            config.fields.get("email").unwrap().to_string(),
            "$.workEmail"
        );
        assert_eq!(config.status.terminated, ["Inactive"]);
        assert_eq!(config.fields.dates.null_values, ["0000-00-00", ""]);
        // Only the values in effect today: BambooHR's onlyCurrent=false would hand over job
        // changes dated in the future, which hrsync would apply early.
        assert_eq!(
            rest.query.get("onlyCurrent"),
            Some(&crate::hr::QueryValue::One("true".into()))
        );
    }

    #[test]
    fn personio_expands_to_offset_pages_of_at_most_100() {
        let config = valid("preset = \"personio\"\ntoken = { file = \"/run/secrets/personio\" }\n");
        let rest = config.rest().unwrap();
        assert_eq!(rest.url, "https://api.personio.de/v1/company/employees");
        assert!(matches!(&rest.auth, AuthConfig::Bearer { .. }));
        assert!(matches!(
            &rest.pagination,
            PaginationConfig::Offset { limit: 100, start: 0, total_ptr: Some(p), .. }
                if p == "/metadata/total_elements"
        ));
        assert_eq!(config.status.leave, ["leave"]);
        let config = parse(
            "preset = \"personio\"\ntoken = { env = \"T\" }\n[rest.pagination]\nlimit = 200\n",
        );
        assert_eq!(keys(&config), ["hr.rest.pagination.limit"]);
    }

    #[test]
    fn hibob_expands_to_the_people_search() {
        let config = valid(
            "preset = \"hibob\"\nservice_user_id = \"SERVICE-123\"\ntoken = { env = \"HIBOB_TOKEN\" }\n",
        );
        let rest = config.rest().unwrap();
        assert_eq!(rest.url, "https://api.hibob.com/v1/people/search");
        assert_eq!(rest.body.as_ref().unwrap()["humanReadable"], "REPLACE");
        assert_eq!(rest.body.as_ref().unwrap()["showInactive"], true);
        assert!(matches!(
            &rest.auth,
            AuthConfig::Basic { username: Credential::Plain(u), password: Some(_) } if u == "SERVICE-123"
        ));
        assert_eq!(
            config.status.path.to_string(),
            "$.internal.lifecycleStatus, $.internal.status"
        );
    }

    #[test]
    fn workday_with_an_api_client_uses_the_refresh_token_grant() {
        let config = valid(
            r#"
preset = "workday"
host = "wd2-impl-services1.workday.com"
tenant = "acme"
owner = "ISU_hrsync"
report = "hrsync_workers"
client_id = "NjQ5ZjQ"
client_secret = { env = "WORKDAY_CLIENT_SECRET" }
refresh_token = { file = "/run/secrets/workday-refresh-token" }
"#,
        );
        let rest = config.rest().unwrap();
        match &rest.auth {
            AuthConfig::Oauth2(oauth) => {
                assert_eq!(
                    oauth.token_url,
                    "https://wd2-impl-services1.workday.com/ccx/oauth2/acme/token"
                );
                assert_eq!(oauth.grant, crate::hr::oauth::Grant::RefreshToken);
                assert!(oauth.refresh_token.is_some());
            }
            other => panic!("expected oauth2, got {other:?}"),
        }
        // Mixing the two ways is named.
        let config = parse(
            "preset = \"workday\"\nhost = \"h\"\ntenant = \"t\"\nowner = \"o\"\nreport = \"r\"\n\
             username = \"u\"\npassword = { env = \"P\" }\nrefresh_token = { env = \"R\" }\n",
        );
        assert_eq!(keys(&config), ["hr.refresh_token"]);
    }

    #[test]
    fn workday_expands_to_the_report_url_and_its_columns_can_be_overridden() {
        let config = valid(
            r#"
preset = "workday"
host = "wd2-impl-services1.workday.com"
tenant = "acme"
owner = "ISU_hrsync"
report = "hrsync_workers"
username = "ISU_hrsync"
password = { env = "WORKDAY_PASSWORD" }
[fields]
id = "$.Worker_ID"
[status]
path = "$.Worker_Status"
active = ["Active"]
terminated = ["Terminated"]
"#,
        );
        let rest = config.rest().unwrap();
        assert_eq!(
            rest.url,
            "https://wd2-impl-services1.workday.com/ccx/service/customreport2/acme/ISU_hrsync/hrsync_workers"
        );
        assert_eq!(rest.records, "/Report_Entry");
        assert_eq!(config.fields.get("id").unwrap().to_string(), "$.Worker_ID");
        assert_eq!(
            config.fields.get("title").unwrap().to_string(),
            "$.Business_Title",
            "the preset's other columns stay"
        );
        assert_eq!(config.status.active, ["Active"]);
    }

    #[test]
    fn successfactors_expands_to_odata_with_next_links() {
        let config = valid(
            "preset = \"successfactors\"\napi_server = \"api4.successfactors.com\"\nusername = \"hrsync@ACME\"\npassword = { env = \"SF_PASSWORD\" }\n",
        );
        let rest = config.rest().unwrap();
        assert_eq!(
            rest.url,
            "https://api4.successfactors.com/odata/v2/PerPerson"
        );
        assert_eq!(rest.records, "/d/results");
        assert!(
            matches!(&rest.pagination, PaginationConfig::NextUrl { ptr, .. } if ptr == "/d/__next")
        );
        assert_eq!(config.status.leave, ["U", "P", "S", "F"]);
        assert_eq!(config.fields.dates.formats[0], "odata");
    }

    #[test]
    fn scim_expands_to_start_index_paging() {
        let config = valid(
            "preset = \"scim\"\nbase_url = \"https://idp.example.com/scim/v2/\"\ntoken = { env = \"SCIM_TOKEN\" }\n",
        );
        let rest = config.rest().unwrap();
        assert_eq!(rest.url, "https://idp.example.com/scim/v2/Users");
        assert!(matches!(
            &rest.pagination,
            PaginationConfig::Offset { start: 1, offset_param, limit_param, .. }
                if offset_param == "startIndex" && limit_param == "count"
        ));
        assert_eq!(config.status.active, ["true"]);
        // Correlated on the employee number, not on the server-made resource id; the manager's
        // resource id is turned into their employee number.
        let enterprise = "$['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User']";
        assert_eq!(
            config.fields.get("id").unwrap().to_string(),
            format!("{enterprise}.employeeNumber")
        );
        assert_eq!(config.fields.get("scim_id").unwrap().to_string(), "$.id");
        assert_eq!(
            config
                .fields
                .references
                .get("manager_id")
                .unwrap()
                .to_string(),
            "$.id"
        );
    }

    #[test]
    fn a_field_mapped_elsewhere_drops_the_presets_reference_unless_written_again() {
        let base = "preset = \"scim\"\nbase_url = \"https://idp.example.com/scim/v2\"\n\
                    token = { env = \"T\" }\n";
        let config = valid(&format!("{base}[fields]\nid = \"$.externalId\"\n"));
        assert!(
            config.fields.references.contains_key("manager_id"),
            "another id keeps the manager's reference"
        );
        let config = valid(&format!(
            "{base}[fields]\nmanager_id = \"$.managerEmployeeNumber\"\n"
        ));
        assert!(
            config.fields.references.is_empty(),
            "the preset's path is gone"
        );
        let config = valid(&format!(
            "{base}[fields]\nmanager_id = \"$.boss\"\n[references]\nmanager_id = \"$.userName\"\n"
        ));
        assert_eq!(
            config
                .fields
                .references
                .get("manager_id")
                .unwrap()
                .to_string(),
            "$.userName"
        );
    }

    #[test]
    fn preset_key_problems_are_named() {
        let config = parse(
            "preset = \"bamboohr\"\napi_key = { env = \"A\", file = \"/b\" }\ntenant = \"x\"\n",
        );
        assert_eq!(
            keys(&config),
            ["hr.tenant", "hr.company_domain", "hr.api_key"],
            "{:?}",
            config.validate()
        );
        let config = parse(
            "preset = \"workday\"\nhost = \"a/b\"\ntenant = \"t\"\nowner = \"o\"\nreport = \"r\"\nusername = \"u\"\npassword = { env = \"P\" }\n",
        );
        assert_eq!(keys(&config), ["hr.host"]);
        let config = parse("preset = \"scim\"\ntoken = { env = \"T\" }\n");
        assert_eq!(keys(&config), ["hr.base_url"]);
    }

    #[test]
    fn preset_keys_without_a_preset_are_problems() {
        let config = parse(
            "source = \"file\"\ncompany_domain = \"acme\"\n[file]\npath = \"x.json\"\nrecords = \"\"\n[fields]\nid = \"$.id\"\n[status]\npath = \"$.s\"\nactive = [\"a\"]\n",
        );
        assert_eq!(keys(&config), ["hr.company_domain"]);
    }

    #[test]
    fn user_keys_override_the_presets() {
        let config = valid(
            r#"
preset = "bamboohr"
company_domain = "acme"
api_key = { env = "K" }
[rest]
timeout_secs = 120
query = { format = "json" }
[rest.auth]
type = "bearer"
token = { env = "OAUTH_TOKEN" }
[fields]
cost_center = "$.customCostCenter"
[status]
leave = ["On Leave"]
"#,
        );
        let rest = config.rest().unwrap();
        assert_eq!(rest.timeout_secs, 120);
        assert!(matches!(&rest.auth, AuthConfig::Bearer { .. }), "replaced");
        assert_eq!(
            rest.query.get("format"),
            Some(&crate::hr::QueryValue::One("json".into()))
        );
        assert_eq!(
            rest.query.get("onlyCurrent"),
            Some(&crate::hr::QueryValue::One("true".into())),
            "the preset's other parameters stay"
        );
        assert!(config.fields.get("cost_center").is_some());
        assert!(config.fields.get("email").is_some());
        assert_eq!(config.status.leave, ["On Leave"]);
        assert_eq!(config.status.active, ["Active"]);
    }

    #[test]
    fn a_preset_with_a_file_source_needs_no_credentials() {
        let config = valid(
            "preset = \"hibob\"\nsource = \"file\"\n[file]\npath = \"dump.json\"\nrecords = \"/records\"\n",
        );
        assert!(config.rest().is_none());
        assert!(config.fields.get("email").is_some());
    }

    #[test]
    fn a_wrong_override_is_a_parse_error_naming_the_key() {
        let err = toml::from_str::<HrConfig>(
            "preset = \"personio\"\ntoken = { env = \"T\" }\n[rest]\ntimeout = 3\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("timeout"), "{err}");
    }
}
