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
    pub(crate) naming_contexts: Vec<String>,
    pub(crate) bind_identity: String,
    pub(crate) accounts: usize,
    pub(crate) correlated: usize,
    pub(crate) groups_found: Vec<String>,
    pub(crate) groups_missing: Vec<String>,
    /// OpenLDAP: the configured password policy and whether it exists.
    pub(crate) password_policy: Option<(String, bool)>,
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
    match &found.password_policy {
        Some((dn, true)) => {
            let _ = writeln!(out, "  password policy: {dn} exists");
        }
        Some((dn, false)) => {
            let _ = writeln!(
                out,
                "  password policy: {dn} DOES NOT EXIST (disabled accounts could still bind)"
            );
        }
        None if config.directory.flavour == Flavour::Openldap => {
            let _ = writeln!(
                out,
                "  password policy: not configured (directory.openldap.password_policy)"
            );
        }
        None => {}
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
        let (server, naming_contexts) = match directory.root_dse().await {
            Ok(Some(dse)) => (server_kind(&dse, config), dse.naming_contexts),
            Ok(None) => ("unknown (empty root DSE)".to_string(), Vec::new()),
            Err(e) => (format!("unknown (root DSE not readable: {e})"), Vec::new()),
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
        })
    })
    .await
    .map_err(|e| match e {
        // "directory: FAILED: ..." already names the side.
        RunError::Directory(e) => e.to_string(),
        other => other.to_string(),
    })
}

/// The server type from the root DSE: Active Directory (or Samba AD) by its capabilities,
/// OpenLDAP by its root DSE object class, else the vendor name; with a warning when that is
/// not the configured flavour.
fn server_kind(dse: &RootDse, config: &Config) -> String {
    let vendor_text = match (&dse.vendor_name, &dse.vendor_version) {
        (Some(v), Some(ver)) => format!("{v} {ver}"),
        (Some(v), None) => v.clone(),
        (None, Some(ver)) => ver.clone(),
        (None, None) => String::new(),
    };
    let server = if dse
        .supported_capabilities
        .iter()
        .any(|c| c == "1.2.840.113556.1.4.800")
    {
        let mut text = "Active Directory".to_string();
        if !vendor_text.is_empty() {
            text.push_str(&format!(" ({vendor_text})"));
        }
        if let Some(level) = &dse.domain_controller_functionality {
            text.push_str(&format!(", DC functional level {level}"));
        }
        if let Some(host) = &dse.dns_host_name {
            text.push_str(&format!(", host {host}"));
        }
        text
    } else if dse
        .object_classes
        .iter()
        .any(|c| c.eq_ignore_ascii_case("OpenLDAProotDSE"))
    {
        if vendor_text.is_empty() {
            "OpenLDAP".to_string()
        } else {
            format!("OpenLDAP ({vendor_text})")
        }
    } else if !vendor_text.is_empty() {
        vendor_text
    } else {
        "unknown LDAP server".to_string()
    };
    let expected = match config.directory.flavour {
        Flavour::Openldap => !server.starts_with("Active Directory"),
        Flavour::ActiveDirectory => server.starts_with("Active Directory"),
    };
    if expected {
        server
    } else {
        format!(
            "{server} (WARNING: directory.flavour is {:?})",
            config.directory.flavour
        )
    }
}
