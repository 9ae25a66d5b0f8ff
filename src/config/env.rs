//! Configuration from the environment.
//!
//! - `HRSYNC_<TABLE>__<KEY>` (a double underscore between levels) overrides a key of the file:
//!   `HRSYNC_DIRECTORY__URL`, `HRSYNC_HR__FILE__PATH`. Values are read as TOML when they are an
//!   unambiguous TOML literal (`true`, `8`, `["a"]`) and as strings otherwise.
//! - A secret key set this way is never copied into the configuration: `HRSYNC_<PATH>_FILE=/path`
//!   makes the secret `{ file = "/path" }` (read when it is used), and `HRSYNC_<PATH>=value` makes
//!   it `{ env = "HRSYNC_<PATH>" }`, so the value stays in the environment and out of every error.
//! - A variable naming no key is an error that names the variable (and the closest key when one
//!   is close); any other `HRSYNC_*` variable hrsync does not read is reported as a warning, so a
//!   typo never passes silently.

use serde::de::DeserializeOwned;

use crate::problem::{ConfigProblem, toml_problem};
use crate::secret::ORIGIN_KEY;

/// Variables hrsync reads that are not configuration keys.
pub(crate) const KNOWN_VARIABLES: &[&str] = &["HRSYNC_CONFIG"];

/// Prefixes of variables that belong to something else (the test harness) and are not read by
/// the configuration.
pub(crate) const FOREIGN_PREFIXES: &[&str] = &["HRSYNC_TEST_"];

/// How a secret key may be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecretKind {
    /// A secret reference only (`SecretRef`): a value from the environment is kept there.
    Secret,
    /// Plain text or a secret reference (`Credential`): a value from the environment is plain.
    Credential,
}

/// Every key that holds a secret (dotted path, lower case), for the `_FILE` variants. A key
/// whose value in the file is a secret reference counts too, so a secret added later works
/// from the file before it is listed here; `every_secret_field_is_listed` (in this module's
/// tests) fails when a `SecretRef` or `Credential` field is missing.
pub(crate) const SECRET_KEYS: &[(&str, SecretKind)] = &[
    ("directory.bind_password", SecretKind::Secret),
    ("plans.signing_key", SecretKind::Secret),
    ("hr.api_key", SecretKind::Secret),
    ("hr.token", SecretKind::Secret),
    ("hr.password", SecretKind::Secret),
    ("hr.username", SecretKind::Credential),
    ("hr.service_user_id", SecretKind::Credential),
    ("hr.rest.auth.token", SecretKind::Secret),
    ("hr.rest.auth.password", SecretKind::Secret),
    ("hr.rest.auth.value", SecretKind::Secret),
    ("hr.rest.auth.client_secret", SecretKind::Secret),
    ("hr.rest.auth.username", SecretKind::Credential),
    ("hr.rest.auth.client_id", SecretKind::Credential),
    ("hr.rest.auth.refresh_token", SecretKind::Secret),
    ("hr.rest.auth.private_key", SecretKind::Secret),
    ("hr.client_id", SecretKind::Credential),
    ("hr.client_secret", SecretKind::Secret),
    ("hr.private_key", SecretKind::Secret),
    ("hr.refresh_token", SecretKind::Secret),
];

/// Secrets inside arrays of tables (`[[hooks.webhook]]`): the environment cannot address an
/// array element, so these are set in the file only (`{ file = ... }` or `{ env = ... }`).
/// Only the tests' scan for secret fields reads it; it stays beside [`SECRET_KEYS`] so that a
/// new secret is listed where the others are.
#[cfg(test)]
const SECRETS_IN_ARRAYS: &[&str] = &["hooks.webhook[].secret"];

/// Whether `name` is a configuration override (`HRSYNC_A__B`).
pub(crate) fn is_override(name: &str) -> bool {
    name.starts_with("HRSYNC_")
        && name.contains("__")
        && !FOREIGN_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// One override, understood.
#[derive(Debug, Clone)]
struct Override {
    variable: String,
    /// The key path, lower case.
    path: Vec<String>,
    value: toml::Value,
}

/// The dotted path an override variable names, and whether it is a `_FILE` secret variant.
fn understand(table: &toml::Table, variable: &str, value: &str) -> Override {
    let mut path: Vec<String> = variable
        .trim_start_matches("HRSYNC_")
        .split("__")
        .map(str::to_ascii_lowercase)
        .collect();
    let secret = |path: &[String]| secret_kind(table, path);
    if let Some(last) = path.last().cloned() {
        if let Some(base) = last.strip_suffix("_file") {
            let mut base_path = path.clone();
            if let Some(l) = base_path.last_mut() {
                *l = base.to_string();
            }
            if !base.is_empty() && secret(&base_path).is_some() {
                let mut reference = toml::Table::new();
                reference.insert("file".into(), toml::Value::String(value.to_string()));
                reference.insert(ORIGIN_KEY.into(), toml::Value::String(variable.to_string()));
                return Override {
                    variable: variable.to_string(),
                    path: base_path,
                    value: toml::Value::Table(reference),
                };
            }
        }
    }
    if secret(&path) == Some(SecretKind::Secret) {
        let mut reference = toml::Table::new();
        reference.insert("env".into(), toml::Value::String(variable.to_string()));
        return Override {
            variable: variable.to_string(),
            path,
            value: toml::Value::Table(reference),
        };
    }
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        // Only unambiguous TOML literals; "2026-01-01" stays the string it probably means.
        .filter(|v| !v.is_datetime() && !v.is_str())
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    if path.is_empty() {
        path.push(String::new());
    }
    Override {
        variable: variable.to_string(),
        path,
        value: parsed,
    }
}

/// Whether the key at `path` holds a secret: listed in [`SECRET_KEYS`], or a secret reference
/// (`{ file = ... }` / `{ env = ... }`) in the file.
fn secret_kind(table: &toml::Table, path: &[String]) -> Option<SecretKind> {
    let dotted = path.join(".");
    if let Some((_, kind)) = SECRET_KEYS.iter().find(|(k, _)| *k == dotted) {
        return Some(*kind);
    }
    match lookup(table, path)? {
        toml::Value::Table(t) if is_secret_reference(t) => Some(SecretKind::Secret),
        _ => None,
    }
}

fn is_secret_reference(table: &toml::Table) -> bool {
    !table.is_empty()
        && table
            .keys()
            .all(|k| k == "file" || k == "env" || k == ORIGIN_KEY)
}

fn lookup<'a>(table: &'a toml::Table, path: &[String]) -> Option<&'a toml::Value> {
    let (last, parents) = path.split_last()?;
    let mut current = table;
    for key in parents {
        current = current.get(key)?.as_table()?;
    }
    current.get(last)
}

/// Sets `table.a.b = value`, creating tables on the way. False when a parent is not a table.
fn set(table: &mut toml::Table, path: &[String], value: toml::Value) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut current = table;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(next) = entry else {
            return false;
        };
        current = next;
    }
    current.insert(last.clone(), value);
    true
}

/// Parses `text`, applies the overrides among `vars` and deserializes. Every override that names
/// no key is reported by its variable (with the closest key when one is close), not just the
/// first; other errors keep their line and column where there is one.
pub(super) fn parse_with_overrides<T: DeserializeOwned>(
    text: &str,
    vars: &[(String, String)],
) -> Result<(T, toml::Table), Vec<ConfigProblem>> {
    let base: toml::Table = toml::from_str(text).map_err(|e| vec![toml_problem(&e, text)])?;
    let mut active: Vec<Override> = vars
        .iter()
        .filter(|(name, _)| is_override(name))
        .map(|(name, value)| understand(&base, name, value))
        .collect();
    let mut problems = Vec::new();
    // Each round drops the override an unknown-field error points at; bounded by their number.
    for _ in 0..=active.len() {
        let mut table = base.clone();
        for o in &active {
            if !set(&mut table, &o.path, o.value.clone()) {
                problems.push(ConfigProblem::new(
                    o.variable.clone(),
                    format!(
                        "{} is not a table in the configuration, so it has no key {}",
                        o.path[..o.path.len() - 1].join("."),
                        o.path.last().map_or("", String::as_str)
                    ),
                ));
                return Err(problems);
            }
        }
        let error = match T::deserialize(table.clone()) {
            Ok(value) if problems.is_empty() => {
                for o in &active {
                    tracing::debug!(
                        variable = o.variable.as_str(),
                        "configuration key overridden from the environment"
                    );
                }
                return Ok((value, table));
            }
            Ok(_) => return Err(problems),
            Err(e) => e,
        };
        let message = error.message().trim_end().to_string();
        let culprit = unknown_field(&message).and_then(|field| {
            active
                .iter()
                .position(|o| o.path.contains(&field))
                .map(|i| (i, field))
        });
        match culprit {
            Some((i, field)) => {
                let o = active.remove(i);
                problems.push(unknown_key_problem(&o, &field, &message));
            }
            None => {
                let names: Vec<&str> = active.iter().map(|o| o.variable.as_str()).collect();
                let mut problem = toml_problem(&error, text);
                if !names.is_empty() && error.span().is_none() {
                    problem.message = format!(
                        "{} (with the environment overrides {})",
                        problem.message,
                        names.join(", ")
                    );
                }
                problems.push(problem);
                return Err(problems);
            }
        }
    }
    Err(problems)
}

/// The field of serde's "unknown field `x`, expected ..." message.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

/// The fields serde lists after "expected one of" / "expected".
fn expected_fields(message: &str) -> Vec<String> {
    let Some(at) = message.find("expected") else {
        return Vec::new();
    };
    message[at..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn unknown_key_problem(o: &Override, field: &str, message: &str) -> ConfigProblem {
    let depth = o.path.iter().position(|s| s == field).unwrap_or(0);
    let parent = o.path[..depth].join(".");
    let typed = field;
    let mut candidates = Vec::new();
    for f in expected_fields(message) {
        candidates.push(f.clone());
        candidates.push(format!("{f}_file"));
    }
    let suggestion = closest(typed, candidates.iter().map(String::as_str)).map(|best| {
        let mut path: Vec<String> = o.path[..depth].to_vec();
        path.push(best.to_string());
        format!("; did you mean {}?", variable_name(&path))
    });
    let place = if parent.is_empty() {
        "the configuration has".to_string()
    } else {
        format!("[{parent}] has")
    };
    ConfigProblem::new(
        o.variable.clone(),
        format!(
            "names no configuration key: {place} no key `{typed}`{}",
            suggestion.unwrap_or_default()
        ),
    )
}

/// `HRSYNC_A__B` for the path `a.b`.
fn variable_name(path: &[String]) -> String {
    format!(
        "HRSYNC_{}",
        path.iter()
            .map(|s| s.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join("__")
    )
}

/// The `HRSYNC_*` variables hrsync does not read, each as a warning that names it (and the
/// closest variable it does read, when one is close). Overrides are not judged here (a wrong one
/// is an error), nor are [`KNOWN_VARIABLES`], [`FOREIGN_PREFIXES`] and the variables the
/// configuration names in `{ env = "..." }`.
pub(crate) fn unknown_variables(table: &toml::Table, vars: &[(String, String)]) -> Vec<String> {
    let mut referenced = Vec::new();
    env_references(table, &mut referenced);
    let mut candidates: Vec<String> = KNOWN_VARIABLES.iter().map(|s| s.to_string()).collect();
    key_variables(table, &mut Vec::new(), &mut candidates);
    for (key, _) in SECRET_KEYS {
        let path: Vec<String> = key.split('.').map(str::to_string).collect();
        candidates.push(variable_name(&path));
        candidates.push(format!("{}_FILE", variable_name(&path)));
    }
    let mut warnings = Vec::new();
    for (name, _) in vars {
        if !name.starts_with("HRSYNC_")
            || is_override(name)
            || KNOWN_VARIABLES.contains(&name.as_str())
            || FOREIGN_PREFIXES.iter().any(|p| name.starts_with(p))
            || referenced.contains(name)
        {
            continue;
        }
        let hint = match closest(name, candidates.iter().map(String::as_str)) {
            Some(best) => format!("; did you mean {best}?"),
            None => "; a configuration key is HRSYNC_<TABLE>__<KEY>, with a double underscore \
                     between levels"
                .to_string(),
        };
        warnings.push(format!(
            "environment variable {name} is not one hrsync reads, it is ignored{hint}"
        ));
    }
    warnings
}

/// Every `env = "NAME"` value in the table: the variables secrets are read from.
fn env_references(table: &toml::Table, out: &mut Vec<String>) {
    for (key, value) in table {
        match value {
            toml::Value::String(s) if key == "env" => out.push(s.clone()),
            toml::Value::Table(t) => env_references(t, out),
            toml::Value::Array(items) => {
                for item in items {
                    if let toml::Value::Table(t) = item {
                        env_references(t, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The override variable of every key in the table (and the `_FILE` variant of its secrets).
fn key_variables(table: &toml::Table, path: &mut Vec<String>, out: &mut Vec<String>) {
    for (key, value) in table {
        path.push(key.clone());
        match value {
            toml::Value::Table(t) if is_secret_reference(t) => {
                out.push(variable_name(path));
                out.push(format!("{}_FILE", variable_name(path)));
            }
            toml::Value::Table(t) => key_variables(t, path, out),
            _ => out.push(variable_name(path)),
        }
        path.pop();
    }
}

/// The candidate closest to `typed` (case-insensitive edit distance), if it is close: at most
/// 3 edits, and fewer than a third of the name.
fn closest<'a>(typed: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let typed = typed.to_ascii_lowercase();
    candidates
        .map(|c| (distance(&typed, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d > 0 && *d <= 3 && *d * 3 < typed.len().max(1))
        .min_by_key(|(d, c)| (*d, c.len()))
        .map(|(_, c)| c)
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(row[j + 1])
            };
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    const FILE: &str = r#"
[directory]
url = "ldap://x"
ca_file = "/etc/ca.pem"
bind_password = { env = "LDAP_PW" }

[hr.rest.auth]
type = "bearer"
token = { env = "HRSYNC_DEMO_TOKEN" }

[hr.rest.query]
token = "not a secret, a query parameter"
"#;

    fn applied(list: &[(&str, &str)]) -> toml::Table {
        let base = table(FILE);
        let mut t = base.clone();
        for (k, v) in vars(list) {
            let o = understand(&base, &k, &v);
            assert!(set(&mut t, &o.path, o.value));
        }
        t
    }

    #[test]
    fn file_variant_makes_the_secret_a_file_reference_naming_its_variable() {
        let t = applied(&[(
            "HRSYNC_DIRECTORY__BIND_PASSWORD_FILE",
            "/run/secrets/ldap-password",
        )]);
        let secret = &t["directory"]["bind_password"];
        assert_eq!(secret["file"].as_str(), Some("/run/secrets/ldap-password"));
        assert!(
            secret.get("env").is_none(),
            "the file's env reference is replaced"
        );
        assert_eq!(
            secret[ORIGIN_KEY].as_str(),
            Some("HRSYNC_DIRECTORY__BIND_PASSWORD_FILE")
        );
        // Listed secrets need not be in the file.
        let t = applied(&[("HRSYNC_HR__REST__AUTH__CLIENT_SECRET_FILE", "/s")]);
        assert_eq!(
            t["hr"]["rest"]["auth"]["client_secret"]["file"].as_str(),
            Some("/s")
        );
    }

    #[test]
    fn a_key_that_ends_in_file_stays_a_plain_key() {
        let t = applied(&[("HRSYNC_DIRECTORY__CA_FILE", "/other/ca.pem")]);
        assert_eq!(t["directory"]["ca_file"].as_str(), Some("/other/ca.pem"));
        assert!(t["directory"].get("ca").is_none());
    }

    #[test]
    fn a_secret_value_stays_in_the_environment() {
        let t = applied(&[
            ("HRSYNC_DIRECTORY__BIND_PASSWORD", "hunter2-value"),
            ("HRSYNC_HR__REST__QUERY__TOKEN", "plain"),
        ]);
        let secret = &t["directory"]["bind_password"];
        assert_eq!(
            secret["env"].as_str(),
            Some("HRSYNC_DIRECTORY__BIND_PASSWORD")
        );
        assert!(!t.to_string().contains("hunter2-value"));
        // Same leaf name, but a query parameter, not a secret.
        assert_eq!(t["hr"]["rest"]["query"]["token"].as_str(), Some("plain"));
    }

    #[test]
    fn credentials_take_plain_values_and_file_variants() {
        let t = applied(&[("HRSYNC_HR__REST__AUTH__USERNAME", "svc-hrsync")]);
        assert_eq!(
            t["hr"]["rest"]["auth"]["username"].as_str(),
            Some("svc-hrsync")
        );
        let t = applied(&[("HRSYNC_HR__REST__AUTH__USERNAME_FILE", "/u")]);
        assert_eq!(
            t["hr"]["rest"]["auth"]["username"]["file"].as_str(),
            Some("/u")
        );
    }

    #[test]
    fn typed_values_and_strings() {
        let t = applied(&[
            ("HRSYNC_DIRECTORY__PAGE_SIZE", "42"),
            ("HRSYNC_DIRECTORY__STARTTLS", "true"),
            ("HRSYNC_HR__REST__QUERY__SINCE", "2026-01-01"),
            ("HRSYNC_DIRECTORY__URL", "ldaps://y"),
        ]);
        assert_eq!(t["directory"]["page_size"].as_integer(), Some(42));
        assert_eq!(t["directory"]["starttls"].as_bool(), Some(true));
        assert_eq!(
            t["hr"]["rest"]["query"]["since"].as_str(),
            Some("2026-01-01")
        );
        assert_eq!(t["directory"]["url"].as_str(), Some("ldaps://y"));
    }

    #[test]
    fn unknown_variables_are_named_with_the_closest_known_one() {
        let t = table(FILE);
        let warnings = unknown_variables(
            &t,
            &vars(&[
                ("HRSYNC_CONFG", "x"),
                ("HRSYNC_DIRECTORY_URL", "x"),
                ("HRSYNC_DIRECTORY_BIND_PASSWORD_FILE", "/x"),
                ("HRSYNC_SOMETHING_ELSE_ENTIRELY", "x"),
                // Known: not warned about.
                ("HRSYNC_CONFIG", "x"),
                ("HRSYNC_TEST_LDAP_URL", "x"),
                ("HRSYNC_DEMO_TOKEN", "referenced by the config"),
                ("HRSYNC_DIRECTORY__URL", "an override, judged elsewhere"),
                ("PATH", "/usr/bin"),
            ]),
        );
        assert_eq!(warnings.len(), 4, "{warnings:#?}");
        assert!(warnings[0].contains("HRSYNC_CONFG") && warnings[0].ends_with("HRSYNC_CONFIG?"));
        assert!(warnings[1].ends_with("did you mean HRSYNC_DIRECTORY__URL?"));
        assert!(warnings[2].ends_with("did you mean HRSYNC_DIRECTORY__BIND_PASSWORD_FILE?"));
        assert!(warnings[3].contains("HRSYNC_SOMETHING_ELSE_ENTIRELY is not one hrsync reads"));
        assert!(warnings[3].contains("double underscore"), "{}", warnings[3]);
        for w in &warnings {
            assert!(!w.contains("/x"), "values are not shown: {w}");
        }
    }

    #[test]
    fn closest_needs_to_be_close() {
        let c = ["HRSYNC_DIRECTORY__URL", "HRSYNC_CONFIG"];
        assert_eq!(
            closest("HRSYNC_DIRECTORY__URLL", c.into_iter()),
            Some("HRSYNC_DIRECTORY__URL")
        );
        assert_eq!(closest("HRSYNC_X", c.into_iter()), None);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn every_secret_field_is_listed() {
        // Each `SecretRef` or `Credential` field in the source is the last key of a listed path.
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![src.clone()];
        let mut fields = Vec::new();
        while let Some(path) = files.pop() {
            if path.is_dir() {
                for entry in std::fs::read_dir(&path).unwrap() {
                    files.push(entry.unwrap().path());
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines() {
                let line = ["pub(crate) ", "pub(super) ", "pub "]
                    .iter()
                    .fold(line.trim(), |line, vis| line.trim_start_matches(vis));
                let Some((name, ty)) = line.split_once(": ") else {
                    continue;
                };
                let ty = ty.trim_end_matches(',');
                let secret = ["SecretRef", "Credential"]
                    .iter()
                    .any(|t| ty == *t || ty == format!("Option<{t}>"));
                if secret && name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    fields.push((name.to_string(), path.display().to_string()));
                }
            }
        }
        assert!(fields.len() >= 10, "the scan found the fields: {fields:?}");
        for (name, file) in fields {
            assert!(
                SECRET_KEYS
                    .iter()
                    .map(|(k, _)| *k)
                    .chain(SECRETS_IN_ARRAYS.iter().copied())
                    .any(|k| k.rsplit('.').next() == Some(name.as_str())),
                "{file}: the secret field `{name}` is not in SECRET_KEYS or SECRETS_IN_ARRAYS \
                 (src/config/env.rs)"
            );
        }
    }
}
