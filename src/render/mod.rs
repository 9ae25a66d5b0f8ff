//! Plans rendered for people (`text`), machines (`json`) and `ldapmodify` (`ldif`).

mod ldif;
mod text;

pub(crate) use ldif::ldif;
pub(crate) use text::text;

use crate::plan::Plan;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Ldif,
}

/// The plan as pretty JSON (schema `hrsync.plan/v1`, see the README).
pub(crate) fn json(plan: &Plan) -> String {
    // Serialising plain data with string keys cannot fail; fall back to an empty object rather
    // than panic if it ever did.
    serde_json::to_string_pretty(plan).unwrap_or_else(|_| "{}".to_string()) + "\n"
}
