//! `hrsync validate`: the configuration and the mappings checked offline, the audit log's path
//! (can a run append to it?), the schedule's next run times, and the starter values of `hrsync
//! init` still to replace.

use chrono::{DateTime, Utc};

use crate::app::{Outcome, RunError};
use crate::config::Config;
use crate::directory::Flavour;

pub(crate) fn run(
    config: &Config,
    config_path: &std::path::Path,
    now: DateTime<Utc>,
) -> Result<Outcome, RunError> {
    // A run refuses to change anything without its audit log: say so now, not at the first
    // run with changes.
    let audit = match &config.operations.audit {
        Some(sink) => Some(
            crate::audit::probe(sink)
                .map_err(|problem| RunError::Config(format!("  - audit: {problem}")))?,
        ),
        None => None,
    };
    if config.directory.cleartext_bind() {
        tracing::warn!(
            url = %config.directory.url,
            "the bind password will cross the network in clear text \
             (directory.danger_allow_cleartext_bind = true)"
        );
    }
    for warning in lock_warnings(config) {
        println!("warning: {warning}");
    }
    // `hrsync init`'s starter values: the file is valid with them, but they name no real server.
    for placeholder in &config.placeholders {
        println!("warning: {placeholder}");
    }
    println!(
        "{}: configuration and mappings are valid ({} rule(s), {} managed group(s))",
        config_path.display(),
        config.mappings.rules.len(),
        config.mappings.managed_groups().len()
    );
    if !config.placeholders.is_empty() {
        println!(
            "{} starter value(s) of `hrsync init` still to replace (the warnings above)",
            config.placeholders.len()
        );
    }
    match audit {
        Some(audit) => println!("audit log: {audit}"),
        None => println!("audit log: none ([audit] is not set: applied changes are not recorded)"),
    }
    if let Some(schedule) = &config.operations.schedule {
        let s = &schedule.schedule;
        let read_as = if s.converted == s.expression {
            String::new()
        } else {
            format!(" (read as \"{}\")", s.converted)
        };
        println!(
            "schedule \"{}\"{read_as} in {}; next runs:",
            s.expression, s.time_zone
        );
        for at in s.upcoming(now, 5) {
            println!(
                "  {} ({})",
                at.with_timezone(&s.time_zone)
                    .format("%a %Y-%m-%d %H:%M:%S %Z"),
                at.format("%Y-%m-%dT%H:%M:%SZ")
            );
        }
    }
    Ok(Outcome::Success)
}

/// What validate can tell offline about whether a leaver's lock will hold or a move be
/// followed; `check` and every run then ask the server.
fn lock_warnings(config: &Config) -> Vec<String> {
    let directory = &config.directory;
    match directory.flavour {
        Flavour::Openldap if directory.password_policy.is_none() => vec![
            "directory.openldap.password_policy is not set: a leaver's pwdAccountLockedTime \
             stops a login only where the ppolicy overlay is loaded and a policy applies; set it \
             to the ppolicy_default DN so each run checks it exists"
                .to_string(),
        ],
        Flavour::Ds389 if directory.renames_configured.is_none() => vec![
            "directory.389ds.member_values_follow_renames is not set: each run reads the \
             MemberOf and referential integrity plugins from cn=plugins,cn=config and stops \
             if the bind account may not read them"
                .to_string(),
        ],
        _ => Vec::new(),
    }
}
