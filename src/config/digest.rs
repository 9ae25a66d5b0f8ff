//! What a plan was made with: a digest of the effective configuration (the file with the
//! environment's overrides, secrets only as the references they are) and of every mapping file,
//! with one short digest per key, so that `apply --plan` can refuse a plan made with another
//! configuration and name what changed.
//!
//! Keys are named to two levels in `hrsync.toml` (`directory.users_base`, `hr.rest`) and to one
//! in a mapping file (`groups.toml: groups`, `roles.toml: rule[2]`): enough to find the change,
//! few enough that the plan stays readable.

use std::collections::BTreeMap;

use aws_lc_rs::digest::{SHA256, digest};

use crate::plan::ConfigDigest;

/// Hex characters kept of each key's digest: 64 bits, to tell that a value changed (the
/// whole-configuration digest is the full SHA-256).
const KEY_DIGEST_LEN: usize = 16;

/// The digest of the effective configuration table and the mapping files `(name, text)`.
pub(super) fn of(config: &toml::Table, mapping_files: &[(String, String)]) -> ConfigDigest {
    let mut keys = BTreeMap::new();
    for (name, value) in config {
        match value {
            toml::Value::Table(table) if !table.is_empty() => {
                for (key, value) in table {
                    keys.insert(format!("{name}.{key}"), short(value));
                }
            }
            _ => {
                keys.insert(name.clone(), short(value));
            }
        }
    }
    for (path, text) in mapping_files {
        let file = std::path::Path::new(path)
            .file_name()
            .map_or_else(|| path.clone(), |f| f.to_string_lossy().into_owned());
        match text.parse::<toml::Table>() {
            Ok(table) => {
                for (name, value) in &table {
                    match value {
                        toml::Value::Array(items) if items.iter().all(toml::Value::is_table) => {
                            for (i, item) in items.iter().enumerate() {
                                keys.insert(format!("{file}: {name}[{i}]"), short(item));
                            }
                        }
                        _ => {
                            keys.insert(format!("{file}: {name}"), short(value));
                        }
                    }
                }
            }
            // A file that does not parse fails validation before any plan; its text still counts.
            Err(_) => {
                keys.insert(
                    format!("{file}:"),
                    hex(digest(&SHA256, text.as_bytes()).as_ref()),
                );
            }
        }
    }
    let whole = serde_json::to_vec(&keys).unwrap_or_default();
    ConfigDigest {
        digest: format!("sha256:{}", hex(digest(&SHA256, &whole).as_ref())),
        keys: keys
            .into_iter()
            .map(|(key, full)| (key, full[..KEY_DIGEST_LEN].to_string()))
            .collect(),
    }
}

/// What differs between the configuration a plan was made with and this one: each key added,
/// removed or changed, by name.
pub(crate) fn differences(was: &ConfigDigest, now: &ConfigDigest) -> Vec<String> {
    // Every key is compared even when the digests agree: a file whose keys were edited is not
    // taken at its word.
    let mut found = Vec::new();
    for (key, digest) in &was.keys {
        match now.keys.get(key) {
            None => found.push(format!("{key} (removed)")),
            Some(now) if now != digest => found.push(format!("{key} (changed)")),
            Some(_) => {}
        }
    }
    for key in now.keys.keys().filter(|k| !was.keys.contains_key(*k)) {
        found.push(format!("{key} (added)"));
    }
    if found.is_empty() && was.digest != now.digest {
        // The keys match but the whole does not: the file's digest was edited.
        found.push("the digest does not match its keys".to_string());
    }
    found
}

/// The full digest of one value, as hex.
fn short(value: &toml::Value) -> String {
    let text = serde_json::to_vec(value).unwrap_or_default();
    hex(digest(&SHA256, &text).as_ref())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    const CONFIG: &str = "mappings = \"m\"\n[directory]\nurl = \"ldap://h\"\nbind_password = { env = \"P\" }\n\
                          [directory.protected]\ndns = [\"uid=a\"]\n[hr]\nsource = \"file\"\n";
    const ROLES: &str =
        "[[rule]]\nname = \"a\"\ngroups = [\"x\"]\n[[rule]]\nname = \"b\"\ngroups = [\"y\"]\n";

    fn files(roles: &str) -> Vec<(String, String)> {
        vec![
            (
                "/etc/hrsync/m/groups.toml".into(),
                "[groups]\nbase = \"ou=g\"\n".into(),
            ),
            ("/etc/hrsync/m/roles.toml".into(), roles.into()),
        ]
    }

    #[test]
    fn the_same_configuration_gives_the_same_digest_wherever_it_lives() {
        let a = of(&table(CONFIG), &files(ROLES));
        let mut moved = files(ROLES);
        for (path, _) in &mut moved {
            *path = path.replace("/etc/hrsync", "/builds/job-2");
        }
        assert_eq!(a, of(&table(CONFIG), &moved));
        assert!(differences(&a, &a).is_empty());
        assert!(a.keys.contains_key("directory.protected"));
        assert!(a.keys.contains_key("roles.toml: rule[1]"));
    }

    #[test]
    fn a_change_is_named_by_key_and_file() {
        let was = of(&table(CONFIG), &files(ROLES));
        let config = CONFIG.replace("dns = [\"uid=a\"]", "dns = []");
        let roles = ROLES.replace("groups = [\"y\"]", "groups = [\"y\", \"admins\"]");
        let now = of(
            &table(&format!("{config}[limits]\npercent_floor = 1\n")),
            &files(&roles),
        );
        assert_eq!(
            differences(&was, &now),
            [
                "directory.protected (changed)",
                "roles.toml: rule[1] (changed)",
                "limits.percent_floor (added)"
            ]
        );
    }

    #[test]
    fn an_edited_digest_does_not_pass_for_its_keys() {
        let was = of(&table(CONFIG), &files(ROLES));
        let mut forged = was.clone();
        forged.digest = format!("sha256:{}", "0".repeat(64));
        assert_eq!(
            differences(&forged, &was),
            ["the digest does not match its keys"]
        );
    }

    #[test]
    fn a_secret_counts_only_as_its_reference() {
        let digest = of(&table(CONFIG), &files(ROLES));
        let text = serde_json::to_string(&digest).unwrap();
        assert!(!text.contains("\"P\""), "{text}");
        let other = CONFIG.replace("env = \"P\"", "env = \"Q\"");
        assert_eq!(
            differences(&digest, &of(&table(&other), &files(ROLES))),
            ["directory.bind_password (changed)"]
        );
    }
}
