//! `hrsync check`: can hrsync reach and read both sides with its credentials, and append to its
//! audit log? Reads HR and the directory as a run would, looks at the audit log's path without
//! writing to it, changes nothing, and reports what it found. Fails (exit 1) naming what did
//! not work and why; the errors carry no secret.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::app::pipeline::{self, HrRead, Reading};
use crate::app::{Outcome, RunError};
use crate::config::Config;
use crate::directory::{Flavour, RootDse};

/// What the HR side gave.
#[derive(Debug, Clone)]
pub(crate) struct HrFound {
    pub(crate) source: String,
    pub(crate) records: usize,
    pub(crate) employees: usize,
    pub(crate) rejected: usize,
}

/// What the directory side gave.
#[derive(Debug, Clone)]
pub(crate) struct DirectoryFound {
    pub(crate) url: String,
    pub(crate) server: String,
    /// OpenLDAP: whether the lock can stop a login at all.
    pub(crate) lock: Option<String>,
    pub(crate) naming_contexts: Vec<String>,
    pub(crate) bind_identity: String,
    pub(crate) accounts: usize,
    pub(crate) correlated: usize,
    pub(crate) groups_found: Vec<String>,
    pub(crate) groups_missing: Vec<String>,
    /// OpenLDAP: the configured password policy and whether it exists.
    pub(crate) password_policy: Option<(String, bool)>,
    /// 389-DS: whether the server rewrites member values on a move, as found.
    pub(crate) renames: Option<bool>,
    /// What makes the directory's changes less than they seem (as in every plan).
    pub(crate) warnings: Vec<String>,
}

pub(crate) async fn run(config: &Config, now: DateTime<Utc>) -> Result<Outcome, RunError> {
    let (hr, directory) = tokio::join!(check_hr(config, now), check_directory(config));
    let mut out = String::new();
    let mut failures = Vec::new();
    match &hr {
        Ok(found) => hr_lines(&mut out, found),
        Err(e) => {
            let _ = writeln!(out, "HR: FAILED: {e}");
            failures.push(format!("HR: {e}"));
        }
    }
    match &directory {
        Ok(found) => directory_lines(&mut out, found, config),
        Err(e) => {
            let _ = writeln!(out, "directory: FAILED: {e}");
            failures.push(format!("directory: {e}"));
        }
    }
    match config.operations.audit.as_ref().map(crate::audit::probe) {
        Some(Ok(found)) => {
            let _ = writeln!(out, "audit log: ok\n  {found}");
        }
        Some(Err(problem)) => {
            let _ = writeln!(out, "audit log: FAILED: {problem}");
            failures.push(format!("audit log: {problem}"));
        }
        None => {
            let _ = writeln!(
                out,
                "audit log: not configured (applied changes are not recorded)"
            );
        }
    }
    print!("{out}");
    if failures.is_empty() {
        Ok(Outcome::Success)
    } else {
        Err(RunError::Check(failures.join("; ")))
    }
}

fn hr_lines(out: &mut String, found: &HrFound) {
    let _ = writeln!(out, "HR: ok");
    let _ = writeln!(out, "  source: {}", found.source);
    let _ = writeln!(
        out,
        "  records fetched: {} ({} employee(s), {} rejected and left alone)",
        found.records, found.employees, found.rejected
    );
}

fn directory_lines(out: &mut String, found: &DirectoryFound, config: &Config) {
    let _ = writeln!(out, "directory: ok");
    let _ = writeln!(out, "  url: {}", found.url);
    let _ = writeln!(out, "  server: {}", found.server);
    if let Some(lock) = &found.lock {
        let _ = writeln!(out, "  {lock}");
    }
    if !found.naming_contexts.is_empty() {
        let _ = writeln!(
            out,
            "  naming contexts: {}",
            found.naming_contexts.join("; ")
        );
    }
    let _ = writeln!(out, "  bound as: {}", found.bind_identity);
    let _ = writeln!(
        out,
        "  accounts under {}: {} ({} with an HR id)",
        config.directory.users_base, found.accounts, found.correlated
    );
    let _ = writeln!(
        out,
        "  managed groups: {} found, {} missing",
        found.groups_found.len(),
        found.groups_missing.len()
    );
    for group in &found.groups_missing {
        let _ = writeln!(out, "    missing: {group}");
    }
    // A missing or unset policy is one of the warnings below, as in every plan.
    if let Some((dn, true)) = &found.password_policy {
        let _ = writeln!(out, "  password policy: {dn} exists");
    }
    match found.renames {
        Some(true) => {
            let _ = writeln!(
                out,
                "  member values on a move: rewritten by the server (its MemberOf or referential integrity plugin)"
            );
        }
        Some(false) => {
            let _ = writeln!(
                out,
                "  member values on a move: rewritten by hrsync (no plugin of the server does)"
            );
        }
        None => {}
    }
    for warning in &found.warnings {
        let _ = writeln!(out, "  WARNING: {warning}");
    }
}

async fn check_hr(config: &Config, now: DateTime<Utc>) -> Result<HrFound, String> {
    let (snapshot, records) = pipeline::read_hr(config, Reading::of(HrRead::WithRecords, now))
        .await
        .map_err(|e| e.to_string())?;
    // The read succeeded, so the source is there.
    let source = match (config.hr.source(), config.hr.preset) {
        (Some(source), Some(preset)) => format!("{} (preset {})", source.kind(), preset.as_str()),
        (Some(source), None) => format!("{} {}", source.kind(), source.location()),
        (None, _) => "(none)".to_string(),
    };
    Ok(HrFound {
        source,
        records: records.len(),
        employees: snapshot.employees.len(),
        rejected: snapshot.rejected.len(),
    })
}

async fn check_directory(config: &Config) -> Result<DirectoryFound, String> {
    pipeline::with_directory(config, async |directory| {
        let (server, lock, naming_contexts) = match directory.root_dse().await {
            Ok(Some(dse)) => (
                server_kind(&dse, config),
                lock_line(Some(&dse), config),
                dse.naming_contexts,
            ),
            Ok(None) => (
                "unknown (empty root DSE)".to_string(),
                lock_line(None, config),
                Vec::new(),
            ),
            Err(e) => (
                format!("unknown (root DSE not readable: {e})"),
                lock_line(None, config),
                Vec::new(),
            ),
        };
        let bind_identity = directory.who_am_i().await.unwrap_or_else(|| {
            format!(
                "{} (the server does not answer Who am I?)",
                config.directory.bind_dn
            )
        });
        let snapshot = directory.snapshot(&config.mappings).await?;
        let managed = config.mappings.managed_groups();
        let (found, missing): (Vec<_>, Vec<_>) = managed
            .iter()
            .partition(|g| snapshot.groups.contains_key(*g));
        let password_policy = match (&config.directory.password_policy, config.directory.flavour) {
            (Some(policy), Flavour::Openldap) => {
                Some((policy.to_string(), directory.exists(policy).await?))
            }
            _ => None,
        };
        Ok(DirectoryFound {
            url: config.directory.url.clone(),
            server,
            lock,
            naming_contexts,
            bind_identity,
            accounts: snapshot.accounts.len(),
            correlated: snapshot
                .accounts
                .iter()
                .filter(|a| a.correlation_id.is_some())
                .count(),
            groups_found: found.iter().map(ToString::to_string).collect(),
            groups_missing: missing.iter().map(ToString::to_string).collect(),
            password_policy,
            renames: snapshot.member_values_follow_renames,
            warnings: snapshot.warnings,
        })
    })
    .await
    .map_err(|e| match e {
        // "directory: FAILED: ..." already names the side.
        RunError::Directory(e) => e.to_string(),
        other => other.to_string(),
    })
}

/// The server type from the root DSE (see [`RootDse::flavour`]), with its vendor's words, and a
/// warning when that is not the configured flavour.
fn server_kind(dse: &RootDse, config: &Config) -> String {
    let vendor_text = match (&dse.vendor_name, &dse.vendor_version) {
        (Some(v), Some(ver)) => format!("{v} {ver}"),
        (Some(v), None) => v.clone(),
        (None, Some(ver)) => ver.clone(),
        (None, None) => String::new(),
    };
    let found = dse.flavour();
    let mut server = match found {
        Some(Flavour::ActiveDirectory) => "Active Directory",
        Some(Flavour::Ds389) => "389 Directory Server",
        Some(Flavour::Openldap) => "OpenLDAP",
        None if vendor_text.is_empty() => "unknown LDAP server",
        None => "",
    }
    .to_string();
    match (server.is_empty(), vendor_text.is_empty()) {
        (true, _) => server = vendor_text,
        (false, false) => server.push_str(&format!(" ({vendor_text})")),
        (false, true) => {}
    }
    if let Some(level) = &dse.domain_controller_functionality {
        server.push_str(&format!(", DC functional level {level}"));
    }
    if let Some(host) = &dse.dns_host_name {
        server.push_str(&format!(", host {host}"));
    }
    let configured = config.directory.flavour;
    match found {
        Some(found) if found != configured => format!(
            "{server} (WARNING: directory.flavour is {}, but this server is {}: set \
             directory.flavour = \"{}\")",
            configured.as_str(),
            found.as_str(),
            found.as_str()
        ),
        None => format!(
            "{server} (WARNING: not recognisably {}; hrsync supports OpenLDAP, Active \
             Directory and 389 Directory Server)",
            configured.as_str()
        ),
        _ => server,
    }
}

/// On OpenLDAP, whether the ppolicy overlay a leaver's lock needs is loaded (the server then
/// offers the password policy control). Without it, the warnings below say so, as every plan
/// does.
fn lock_line(dse: Option<&RootDse>, config: &Config) -> Option<String> {
    if config.directory.flavour != Flavour::Openldap {
        return None;
    }
    match dse {
        Some(dse) if dse.has_password_policy() => {
            Some("lock: the ppolicy overlay is loaded".to_string())
        }
        Some(_) => None,
        None => Some("lock: unknown (the root DSE could not be read)".to_string()),
    }
}
