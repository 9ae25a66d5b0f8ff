//! A configuration problem found while validating: which key, and what is wrong with it.

use std::fmt;

/// One thing wrong with the configuration or the mappings. `key` is the dotted path of the
/// offending key (`hr.rest.pagination.limit`, `rule[2].groups[0]`); the loader adds the file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigProblem {
    pub file: Option<String>,
    pub key: String,
    pub message: String,
}

impl ConfigProblem {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: None,
            key: key.into(),
            message: message.into(),
        }
    }

    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file.get_or_insert_with(|| file.into());
        self
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{file}: {}: {}", self.key, self.message),
            None => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

/// A TOML syntax or shape error (unknown key, wrong type) as a problem: "line L, column C"
/// and toml's own message, which for unknown keys lists the keys that are allowed.
pub fn toml_problem(error: &toml::de::Error, text: &str) -> ConfigProblem {
    let location = match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            let key = text[span.clone()].trim();
            if key.is_empty() || key.contains('\n') {
                format!("line {line}, column {column}")
            } else {
                format!("line {line}, column {column} ({key})")
            }
        }
        None => "(file)".to_string(),
    };
    ConfigProblem::new(location, error.message().trim_end())
}
