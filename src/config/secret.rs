//! Where a secret comes from: a file (a mounted Kubernetes Secret, a systemd credential) or an
//! environment variable. Never the config file itself, so a config can be shared, reviewed and
//! committed without leaking anything.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

/// A reference to a secret. Exactly one of `file` and `env` must be set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// Path of a file holding the secret. One trailing newline is ignored.
    pub file: Option<PathBuf>,
    /// Name of an environment variable holding the secret.
    pub env: Option<String>,
}

/// Why a secret could not be read. Never carries the secret's value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{key}: set exactly one of `file` or `env`")]
    Ambiguous { key: String },
    #[error("{key}: cannot read secret file {path}: {source}")]
    File {
        key: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{key}: environment variable {var} is not set or not valid UTF-8")]
    Env { key: String, var: String },
    #[error("{key}: the secret is empty")]
    Empty { key: String },
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
                        source,
                    })?;
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
            });
        }
        Ok(SecretString::from(value))
    }
}

fn unreachable_ambiguous(key: &str) -> Result<String, SecretError> {
    Err(SecretError::Ambiguous {
        key: key.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn file_secret_drops_one_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\n").unwrap();
        let secret = SecretRef {
            file: Some(path),
            env: None,
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
            file: None,
            env: Some("HRSYNC_TEST_SURELY_UNSET_VAR".into()),
        }
        .resolve("hr.auth.token")
        .unwrap_err();
        assert!(err.to_string().contains("HRSYNC_TEST_SURELY_UNSET_VAR"));
    }
}
