//! Where a secret comes from: a file (a mounted Kubernetes Secret, a systemd credential) or an
//! environment variable. Never the config file itself, so a config can be shared, reviewed and
//! committed without leaking anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::{Deserialize, Deserializer};

/// The key under which an environment override (`HRSYNC_..._FILE`) records its variable in the
/// reference it makes, so that errors and warnings name the variable. Not a key to write.
pub(crate) const ORIGIN_KEY: &str = "hrsync:variable";

/// A reference to a secret. Exactly one of `file` and `env` must be set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretRef {
    /// Path of a file holding the secret. One trailing newline is ignored.
    pub file: Option<PathBuf>,
    /// Name of an environment variable holding the secret.
    pub env: Option<String>,
    /// The environment variable that set this reference (`HRSYNC_DIRECTORY__BIND_PASSWORD_FILE`),
    /// named in errors and warnings.
    pub origin: Option<String>,
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, String>::deserialize(deserializer)?;
        let mut secret = SecretRef::default();
        for (key, value) in map {
            match key.as_str() {
                "file" => secret.file = Some(PathBuf::from(value)),
                "env" => secret.env = Some(value),
                ORIGIN_KEY => secret.origin = Some(value),
                other => {
                    return Err(serde::de::Error::unknown_field(other, &["file", "env"]));
                }
            }
        }
        Ok(secret)
    }
}

/// Why a secret could not be read. Never carries the secret's value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{key}: set exactly one of `file` or `env`")]
    Ambiguous { key: String },
    #[error("{key}: cannot read secret file {path}{}: {source}", from_variable(.origin))]
    File {
        key: String,
        path: PathBuf,
        /// The variable that named the file, if one did.
        origin: Option<String>,
        source: std::io::Error,
    },
    #[error("{key}: environment variable {var} is not set or not valid UTF-8")]
    Env { key: String, var: String },
    #[error("{key}: the secret is empty{}", from_variable(.origin))]
    Empty { key: String, origin: Option<String> },
}

fn from_variable(origin: &Option<String>) -> String {
    origin
        .as_ref()
        .map(|v| format!(" (set by {v})"))
        .unwrap_or_default()
}

impl SecretRef {
    /// Checks the reference offline (no file or environment access).
    pub fn check(&self, key: &str) -> Result<(), SecretError> {
        match (&self.file, &self.env) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            _ => Err(SecretError::Ambiguous {
                key: key.to_string(),
            }),
        }
    }

    /// Reads the secret. `key` names the config key in errors, for example `directory.bind_password`.
    pub fn resolve(&self, key: &str) -> Result<SecretString, SecretError> {
        self.check(key)?;
        let value = match (&self.file, &self.env) {
            (Some(path), _) => {
                let mut text =
                    std::fs::read_to_string(path).map_err(|source| SecretError::File {
                        key: key.to_string(),
                        path: path.clone(),
                        origin: self.origin.clone(),
                        source,
                    })?;
                if let Some(problem) = exposure(path) {
                    tracing::warn!(
                        key,
                        path = %path.display(),
                        variable = self.origin.as_deref().unwrap_or("(none)"),
                        "secret file {problem}: make it readable by hrsync's user only \
                         (chmod 0400, or 0440 with a group only hrsync is in)"
                    );
                }
                if text.ends_with('\n') {
                    text.pop();
                    if text.ends_with('\r') {
                        text.pop();
                    }
                }
                text
            }
            (None, Some(var)) => std::env::var(var).map_err(|_| SecretError::Env {
                key: key.to_string(),
                var: var.clone(),
            })?,
            (None, None) => unreachable_ambiguous(key)?,
        };
        if value.is_empty() {
            return Err(SecretError::Empty {
                key: key.to_string(),
                origin: self.origin.clone(),
            });
        }
        Ok(SecretString::from(value))
    }

    /// The reference as a TOML table (`{ file = ... }` or `{ env = ... }`, with its origin).
    pub fn to_toml(&self) -> toml::Value {
        let mut table = toml::Table::new();
        if let Some(file) = &self.file {
            table.insert(
                "file".into(),
                toml::Value::String(file.to_string_lossy().into_owned()),
            );
        }
        if let Some(env) = &self.env {
            table.insert("env".into(), toml::Value::String(env.clone()));
        }
        if let Some(origin) = &self.origin {
            table.insert(ORIGIN_KEY.into(), toml::Value::String(origin.clone()));
        }
        toml::Value::Table(table)
    }
}

/// Who else can read the secret file, if anyone should not: every user (world-readable), or a
/// group the hrsync process is not in. A group hrsync is in is fine: that is how a Kubernetes
/// `fsGroup` or a dedicated service group gives it access.
#[cfg(unix)]
fn exposure(path: &Path) -> Option<String> {
    let metadata = std::fs::metadata(path).ok()?;
    exposure_of(&metadata, &process_groups())
}

#[cfg(not(unix))]
fn exposure(_path: &Path) -> Option<String> {
    None
}

#[cfg(unix)]
fn exposure_of(metadata: &std::fs::Metadata, own_groups: &[u32]) -> Option<String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mode = metadata.permissions().mode();
    if mode & 0o004 != 0 {
        return Some(format!(
            "is readable by every user (mode {:04o})",
            mode & 0o7777
        ));
    }
    let gid = metadata.gid();
    if mode & 0o040 != 0 && !own_groups.contains(&gid) {
        return Some(format!(
            "is readable by group {gid}, which hrsync does not run in (mode {:04o})",
            mode & 0o7777
        ));
    }
    None
}

/// The process's real, effective and supplementary group ids (Linux: `/proc/self/status`).
/// Empty where that cannot be read, so that any group-readable file is reported.
#[cfg(unix)]
fn process_groups() -> Vec<u32> {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return Vec::new();
    };
    status
        .lines()
        .filter_map(|line| {
            line.strip_prefix("Gid:")
                .or_else(|| line.strip_prefix("Groups:"))
        })
        .flat_map(str::split_whitespace)
        .filter_map(|g| g.parse().ok())
        .collect()
}

fn unreachable_ambiguous(key: &str) -> Result<String, SecretError> {
    Err(SecretError::Ambiguous {
        key: key.to_string(),
    })
}

/// What the value of a secret attribute shows as in a plan (text, JSON, a saved plan), the
/// audit log, a hook's event and `explain`.
pub const HIDDEN: &str = "(hidden)";

/// Attributes that hold a secret (a password, a hash of one, a key) without saying so in their
/// name, lower-cased: `userPKCS12` (a private key), Kerberos keys, AD's stored credentials and
/// trust passwords.
const SECRET_ATTRIBUTES: [&str; 6] = [
    "userpkcs12",
    "krbprincipalkey",
    "krb5key",
    "supplementalcredentials",
    "trustauthincoming",
    "trustauthoutgoing",
];

/// Parts of a name that make it a secret attribute, lower-cased: `userPassword`,
/// `sambaNTPassword`, `sambaLMPassword`, `authPassword`, `msLAPS-Password`, `oathSecret`,
/// `pwdHistory` (OpenLDAP's old password hashes), `ntPwdHistory`.
const SECRET_NAME_PARTS: [&str; 4] = ["password", "secret", "pwdhistory", "privatekey"];

/// Whether the LDAP attribute `name` holds a secret, whose values must never leave the
/// directory adapter: the one decision of it, which every output that shows attribute values
/// asks. Case-insensitive, options ignored (`userPassword;binary`). Besides the names above,
/// any name ending in `pwd` (`unicodePwd`, `dBCSPwd`, LAPS's `ms-Mcs-AdmPwd`). A name that
/// only looks like one (`passwordExpirationTime`) is hidden too: hiding a value that was not
/// secret costs a reviewer a detail, showing a secret cannot be undone.
pub fn is_secret_attribute(name: &str) -> bool {
    let name = name
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    SECRET_ATTRIBUTES.contains(&name.as_str())
        || SECRET_NAME_PARTS.iter().any(|part| name.contains(part))
        || name.ends_with("pwd")
}

/// `values` as they may be shown for the attribute `name`: as they are, or, for a secret
/// attribute, [`HIDDEN`] (none stays none, so a removal still shows as one).
pub fn shown_values(name: &str, values: &[String]) -> Vec<String> {
    if values.is_empty() || !is_secret_attribute(name) {
        values.to_vec()
    } else {
        vec![HIDDEN.to_string()]
    }
}

/// Attributes by name as they may be shown: [`shown_values`] of each.
pub fn shown_attributes(
    attributes: &BTreeMap<String, Vec<String>>,
) -> BTreeMap<String, Vec<String>> {
    attributes
        .iter()
        .map(|(name, values)| (name.clone(), shown_values(name, values)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn password_attributes_are_secret_whatever_their_case_and_options() {
        for name in [
            "userPassword",
            "USERPASSWORD",
            "userPassword;binary",
            "unicodePwd",
            "sambaNTPassword",
            "sambaLMPassword",
            "sambaPasswordHistory",
            "userPKCS12",
            "authPassword",
            "pwdHistory",
            "ntPwdHistory",
            "lmPwdHistory",
            "dBCSPwd",
            "ms-Mcs-AdmPwd",
            "msLAPS-Password",
            "msLAPS-EncryptedPassword",
            "msDS-ManagedPassword",
            "krbPrincipalKey",
            "supplementalCredentials",
            "oathSecret",
        ] {
            assert!(is_secret_attribute(name), "{name}");
        }
        for name in [
            "cn",
            "mail",
            "title",
            "manager",
            "pwdAccountLockedTime",
            "pwdPolicySubentry",
            "pwdLastSet",
            "userAccountControl",
            "userCertificate",
            "sshPublicKey",
        ] {
            assert!(!is_secret_attribute(name), "{name}");
        }
        assert_eq!(
            shown_values("unicodePwd", &["\"s3cret\"".into(), "x".into()]),
            [HIDDEN]
        );
        assert_eq!(shown_values("unicodePwd", &[]), Vec::<String>::new());
        assert_eq!(shown_values("title", &["Rep".into()]), ["Rep"]);
    }

    #[test]
    fn file_secret_drops_one_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\n").unwrap();
        let secret = SecretRef {
            file: Some(path),
            ..SecretRef::default()
        }
        .resolve("directory.bind_password")
        .unwrap();
        assert_eq!(secret.expose_secret(), "s3cret");
    }

    #[test]
    fn both_or_neither_source_is_an_error_naming_the_key() {
        let err = SecretRef::default().resolve("hr.auth.token").unwrap_err();
        assert_eq!(
            err.to_string(),
            "hr.auth.token: set exactly one of `file` or `env`"
        );
    }

    #[test]
    fn missing_env_names_variable_not_value() {
        let err = SecretRef {
            env: Some("HRSYNC_TEST_SURELY_UNSET_VAR".into()),
            ..SecretRef::default()
        }
        .resolve("hr.auth.token")
        .unwrap_err();
        assert!(err.to_string().contains("HRSYNC_TEST_SURELY_UNSET_VAR"));
    }

    #[test]
    fn a_missing_file_names_key_path_and_variable_but_never_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent");
        let err = SecretRef {
            file: Some(path.clone()),
            origin: Some("HRSYNC_DIRECTORY__BIND_PASSWORD_FILE".into()),
            ..SecretRef::default()
        }
        .resolve("directory.bind_password")
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("directory.bind_password: cannot read secret file "));
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(
            err.contains("(set by HRSYNC_DIRECTORY__BIND_PASSWORD_FILE)"),
            "{err}"
        );

        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let err = SecretRef {
            file: Some(empty),
            origin: Some("HRSYNC_HR__TOKEN_FILE".into()),
            ..SecretRef::default()
        }
        .resolve("hr.token")
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "hr.token: the secret is empty (set by HRSYNC_HR__TOKEN_FILE)"
        );
    }

    #[test]
    fn the_origin_is_read_from_its_key_and_written_back() {
        let text =
            format!("token = {{ file = \"/run/x\", \"{ORIGIN_KEY}\" = \"HRSYNC_A__S_FILE\" }}");
        #[derive(Deserialize)]
        struct T {
            token: SecretRef,
        }
        let t: T = toml::from_str(&text).unwrap();
        assert_eq!(t.token.origin.as_deref(), Some("HRSYNC_A__S_FILE"));
        let back = SecretRef::deserialize(t.token.to_toml()).unwrap();
        assert_eq!(back, t.token);
        let err = toml::from_str::<T>("token = { fille = \"/x\" }")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("unknown field `fille`, expected `file` or `env`"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn group_and_world_readable_files_are_reported() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret").unwrap();
        let mode = |m: u32| {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m)).unwrap();
            std::fs::metadata(&path).unwrap()
        };
        let gid = mode(0o400).gid();
        assert_eq!(exposure_of(&mode(0o400), &[]), None);
        assert_eq!(exposure_of(&mode(0o600), &[]), None);
        let world = exposure_of(&mode(0o644), &[gid]).unwrap();
        assert!(
            world.contains("every user") && world.contains("0644"),
            "{world}"
        );
        // Group-readable: fine for a group hrsync runs in (fsGroup), reported otherwise.
        assert_eq!(exposure_of(&mode(0o440), &[gid]), None);
        let group = exposure_of(&mode(0o440), &[gid.wrapping_add(1)]).unwrap();
        assert!(group.contains(&format!("group {gid}")), "{group}");
        assert!(
            !process_groups().is_empty(),
            "Linux lists the process's groups"
        );
    }
}
