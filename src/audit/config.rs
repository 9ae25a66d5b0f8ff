//! `[audit]`: where the JSON lines of applied changes go.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::problem::ConfigProblem;

/// `[audit]`: where the JSON lines of applied changes go.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAudit {
    /// Append to this file (created readable by its owner only).
    file: Option<PathBuf>,
    /// Write to standard output.
    #[serde(default)]
    stdout: bool,
}

/// The validated `[audit]`: the one place the audit log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditSink {
    File(PathBuf),
    Stdout,
}

impl std::fmt::Display for AuditSink {
    /// The sink as messages name it: the file's path, or `standard output`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Stdout => f.write_str("standard output"),
        }
    }
}

impl RawAudit {
    /// `dir` is the config file's directory, which a relative `file` is read against. `None`
    /// when no sink is set or the table is invalid (a problem is pushed then).
    pub(crate) fn validate(
        self,
        dir: &Path,
        problems: &mut Vec<ConfigProblem>,
    ) -> Option<AuditSink> {
        match (self.file, self.stdout) {
            (Some(file), false) => Some(AuditSink::File(dir.join(file))),
            (None, true) => Some(AuditSink::Stdout),
            (None, false) => None,
            (Some(_), true) => {
                problems.push(ConfigProblem::new(
                    "audit",
                    "set either `file` or `stdout = true`, not both",
                ));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(text: &str) -> (Option<AuditSink>, Vec<String>) {
        let raw: RawAudit = toml::from_str(text).unwrap();
        let mut problems = Vec::new();
        let sink = raw.validate(Path::new("/etc/hrsync"), &mut problems);
        (sink, problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn one_sink_or_none() {
        assert_eq!(
            validate("file = \"audit.jsonl\""),
            (
                Some(AuditSink::File(PathBuf::from("/etc/hrsync/audit.jsonl"))),
                vec![]
            )
        );
        assert_eq!(validate("stdout = true"), (Some(AuditSink::Stdout), vec![]));
        assert_eq!(validate(""), (None, vec![]));
        assert_eq!(
            validate("file = \"a.jsonl\"\nstdout = true"),
            (
                None,
                vec!["audit: set either `file` or `stdout = true`, not both".to_string()]
            )
        );
    }
}
