//! Plans rendered for people (`text`), machines (`json`), `ldapmodify` (`ldif`) and approvers
//! (`html`, the approval page).

pub(crate) mod html;
mod ldif;
mod text;

pub(crate) use ldif::ldif;
pub(crate) use text::{Style, lifecycle_counts, text, text_styled};

/// A plan with every lifecycle, a tripped limit, a placeholder change, skips and an orphan.
#[cfg(test)]
pub(crate) use text::tests::every_lifecycle;

use crate::plan::Plan;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Ldif,
    /// The approval page: one self-contained HTML file for people who approve a plan, holding
    /// the saved plan and showing its digest (`apply --plan` takes it as it takes the JSON).
    Html,
}

/// The plan as pretty JSON (schema `hrsync.plan/v1`, docs/schema/plan.schema.json), [masked](Plan::masked):
/// no value of a password attribute.
pub(crate) fn json(plan: &Plan) -> String {
    // Serialising plain data with string keys cannot fail; fall back to an empty object rather
    // than panic if it ever did.
    serde_json::to_string_pretty(&*plan.masked()).unwrap_or_else(|_| "{}".to_string()) + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 16.10d: the text and JSON plans showed every value of a password attribute.
    #[test]
    fn no_password_value_is_in_the_text_or_json_plan() {
        let plan = crate::plan::masked::tests::plan_with_secrets("Winter2026!");
        let text = text(&plan);
        let json = json(&plan);
        for out in [&text, &json] {
            assert!(!out.contains("Winter2026!"), "{out}");
            assert!(out.contains("(hidden)"), "{out}");
        }
        assert!(
            text.contains("~ userPassword: \"(hidden)\" -> \"(hidden)\""),
            "{text}"
        );
        assert!(text.contains("~ title: \"Rep\" -> \"Lead\""), "{text}");
    }
}
