//! Starter values still in place: what `hrsync init` wrote for the admin to replace (the
//! server, the base DN, the HR tenant), which `hrsync validate` names one by one, with its key,
//! until each is replaced. They are warnings, not problems: the starter validates as written.
//!
//! How a starter value is recognised, and why this way:
//!
//! - **It names the reserved top-level domain `.example`** (RFC 2606, RFC 6761): a host or an
//!   address domain ending in `.example` (`ldaps://ldap.your-company.example`,
//!   `svc-hrsync@your-company.example`), or a DN whose last component is `dc=example`
//!   (`ou=people,dc=your-company,dc=example`). No server, mailbox or AD domain can really be
//!   named there, so a real configuration never trips it. `example.com`, `example.org` and
//!   `example.test` are deliberately not markers: hrsync's own examples (`deploy/`,
//!   `mappings/`), its demo and its tests use them for working setups.
//! - **It says `CHANGE-ME`**, for the values that are a bare name rather than a host or a DN (a
//!   BambooHR subdomain, a Workday tenant, an API client id). Nobody's tenant is called that.
//!
//! Every string value of `hrsync.toml` (after the environment's overrides, so a value set
//! through `HRSYNC_DIRECTORY__URL` counts as replaced) and of each mapping file is looked at,
//! not a list of keys: a starter value is caught wherever the admin left it, and wherever a
//! later starter puts one. Comments are not values, so the commented-out examples of the
//! starter stay quiet.

use std::fmt;

/// What the starter writes where a bare name is to be filled in.
pub(crate) const CHANGE_ME: &str = "CHANGE-ME";

/// The reserved top-level domain the starter's hosts, addresses and DNs are under.
const RESERVED_TLD: &str = "example";

/// One starter value that is still there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placeholder {
    /// The mapping file it is in; `None` for `hrsync.toml`.
    pub(crate) file: Option<String>,
    /// The dotted key, as problems name keys: `directory.url`, `rule[0].ou`.
    pub(crate) key: String,
    pub(crate) value: String,
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        write!(
            f,
            "{} is still the starter value \"{}\": {}",
            self.key,
            self.value,
            hint(&self.key)
        )
    }
}

/// The starter values in `hrsync.toml`'s table (the file's `text` with the environment's
/// overrides), in the order of the file.
pub(crate) fn in_config(table: &toml::Table, text: &str) -> Vec<Placeholder> {
    let mut found = Vec::new();
    walk_table(table, "", &mut |key, value| {
        found.push(Placeholder {
            file: None,
            key,
            value: value.to_string(),
        });
    });
    in_file_order(&mut found, text);
    found
}

/// The starter values in the mapping files, `(path, text)` as the loader read them. A file
/// that is not TOML is skipped here: the mappings' own validation reports it.
pub(crate) fn in_mappings(files: &[(String, String)]) -> Vec<Placeholder> {
    let mut all = Vec::new();
    for (path, text) in files {
        let Ok(table) = text.parse::<toml::Table>() else {
            continue;
        };
        let mut found = Vec::new();
        walk_table(&table, "", &mut |key, value| {
            found.push(Placeholder {
                file: Some(path.clone()),
                key,
                value: value.to_string(),
            });
        });
        in_file_order(&mut found, text);
        all.append(&mut found);
    }
    all
}

/// Sorts `found` (in key order) by where each is written in `text`, as the admin reads the
/// file: the line `leaf = "value"`, else the value's first place. One the file does not hold as
/// written (set from the environment, or written with escapes) comes last.
fn in_file_order(found: &mut [Placeholder], text: &str) {
    found.sort_by_key(|p| {
        let quoted = format!("\"{}\"", p.value);
        let leaf = p.key.rsplit('.').next().unwrap_or(&p.key);
        text.find(&format!("{leaf} = {quoted}"))
            .or_else(|| text.find(&quoted))
            .unwrap_or(usize::MAX)
    });
}

/// Calls `found` with the dotted key and the value of every starter value under `table`.
fn walk_table(table: &toml::Table, prefix: &str, found: &mut dyn FnMut(String, &str)) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        walk_value(value, path, found);
    }
}

fn walk_value(value: &toml::Value, path: String, found: &mut dyn FnMut(String, &str)) {
    match value {
        toml::Value::String(text) if is_starter_value(text) => found(path, text),
        toml::Value::Table(table) => walk_table(table, &path, found),
        toml::Value::Array(values) => {
            for (i, value) in values.iter().enumerate() {
                walk_value(value, format!("{path}[{i}]"), found);
            }
        }
        _ => {}
    }
}

/// Whether `value` is (or holds) a starter value: see the module documentation.
pub(crate) fn is_starter_value(value: &str) -> bool {
    value.contains(CHANGE_ME) || names_reserved_host(value) || ends_in_reserved_dc(value)
}

/// A host name under `.example` anywhere in `value`: a run of host-name characters that ends
/// in `.example` after at least one label (`$.person.example`, a JSONPath, starts with a dot
/// and is no host).
fn names_reserved_host(value: &str) -> bool {
    value
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        .map(|run| run.trim_end_matches('.'))
        .any(|run| {
            !run.starts_with('.')
                && run
                    .len()
                    .checked_sub(RESERVED_TLD.len() + 1)
                    .is_some_and(|cut| {
                        cut > 0
                            && run.is_char_boundary(cut)
                            && run[cut..].eq_ignore_ascii_case(".example")
                    })
        })
}

/// A DN whose last component is `dc=example` (any case, spaces around `=` allowed).
fn ends_in_reserved_dc(value: &str) -> bool {
    value
        .rsplit(',')
        .next()
        .and_then(|last| last.split_once('='))
        .is_some_and(|(attribute, name)| {
            attribute.trim().eq_ignore_ascii_case("dc")
                && name.trim().eq_ignore_ascii_case(RESERVED_TLD)
        })
}

/// What to put in place of the starter value at `key`.
fn hint(key: &str) -> &'static str {
    let leaf = key
        .rsplit('.')
        .next()
        .map_or(key, |leaf| leaf.split('[').next().unwrap_or(leaf));
    match (key, leaf) {
        ("directory.url", _) => "set your directory server's URL",
        ("directory.bind_dn", _) => "set the service account hrsync binds as",
        ("directory.users_base", _) => "set the base DN your accounts are under",
        ("directory.openldap.password_policy", _) => {
            "set the DN of your password policy (slapd's ppolicy_default)"
        }
        ("hr.company_domain", _) => "set your company's BambooHR subdomain",
        ("hr.base_url", _) => "set your HR API's root URL",
        (_, "userPrincipalName") => "set your domain's user principal name suffix",
        (_, "default_ou" | "disabled_ou" | "ou") => {
            "set the OU in your directory (below directory.users_base)"
        }
        (_, "base") => "set the DN your groups are under",
        (_, "empty_group_placeholder") => "set a DN under your base (it need not exist)",
        _ if key.starts_with("hr.") => {
            "set your HR system's value (the comment above it in the file says which)"
        }
        _ => "set your own value (the comment above it in the file says which)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserved_domain_and_change_me_are_starter_values() {
        for value in [
            "ldaps://ldap.your-company.example",
            "ldap://ds1.your-company.example:389",
            "LDAPS://DC1.YOUR-COMPANY.EXAMPLE/",
            "https://idp.your-company.example/scim/v2",
            "svc-hrsync@your-company.example",
            "{first_name|initial}{unique}@your-company.example",
            "dc=your-company,dc=example",
            "OU=People,OU=Company,DC=your-company,DC=example",
            "cn=x, dc = Example",
            "CHANGE-ME",
            "CHANGE-ME.workday.com",
        ] {
            assert!(is_starter_value(value), "{value}");
        }
    }

    /// What real configurations, hrsync's own examples, its demo and its tests hold is not a
    /// starter value.
    #[test]
    fn real_values_and_the_other_example_domains_are_not() {
        for value in [
            "ldaps://ldap.example.org",
            "ldaps://dc1.example.com",
            "ldap://127.0.0.1:389",
            "svc-hrsync@example.com",
            "Administrator@example.test",
            "dc=example,dc=org",
            "DC=example,DC=com",
            "ou=people,dc=example,dc=net",
            "dc=example,dc=test",
            "https://api.bamboohr.com/api/gateway.php/acme/v1",
            "acme",
            "$.example",
            "$.person.example",
            "$['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'].employeeNumber",
            "{first_name} {last_name}",
            "Anyone whose title says Manager",
            "change-me later",
            ".example",
            "",
        ] {
            assert!(!is_starter_value(value), "{value}");
        }
    }

    #[test]
    fn each_is_named_with_its_key_and_file() {
        let table: toml::Table = toml::from_str(
            r#"
            mappings = "mappings"
            [directory]
            url = "ldaps://ldap.your-company.example"
            bind_password = { env = "HRSYNC_BIND_PASSWORD" }
            users_base = "dc=acme,dc=internal"
            [directory.protected]
            groups = ["cn=admins,dc=acme,dc=internal", "cn=x,dc=your-company,dc=example"]
            [hr]
            company_domain = "CHANGE-ME"
            "#,
        )
        .unwrap();
        let found: Vec<String> = in_config(&table, "")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            [
                "directory.protected.groups[1] is still the starter value \
                 \"cn=x,dc=your-company,dc=example\": set your own value (the comment above it in \
                 the file says which)",
                "directory.url is still the starter value \"ldaps://ldap.your-company.example\": \
                 set your directory server's URL",
                "hr.company_domain is still the starter value \"CHANGE-ME\": set your company's \
                 BambooHR subdomain",
            ]
        );
        let files = [
            (
                "m/groups.toml".to_string(),
                "[[rule]]\nname = \"a\"\nou = \"ou=a,dc=your-company,dc=example\"\n".to_string(),
            ),
            ("m/broken.toml".to_string(), "[[rule".to_string()),
        ];
        let found = in_mappings(&files);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].to_string(),
            "m/groups.toml: rule[0].ou is still the starter value \
             \"ou=a,dc=your-company,dc=example\": set the OU in your directory (below \
             directory.users_base)"
        );
    }

    /// Named in the order of the file, not of the keys, even when the values are the same.
    #[test]
    fn in_the_order_of_the_file() {
        let text = "[hr]\ntenant = \"CHANGE-ME\"\nhost = \"CHANGE-ME\"\n\
                    [directory]\nurl = \"ldaps://x.your-company.example\"\n";
        let table: toml::Table = toml::from_str(text).unwrap();
        let keys: Vec<String> = in_config(&table, text).into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["hr.tenant", "hr.host", "directory.url"]);
    }
}
