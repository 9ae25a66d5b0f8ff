//! `hrsync check`: can hrsync reach and read both sides with its credentials? Reads HR and the
//! directory as a run would, changes nothing, and reports what it found. Fails (exit 1) naming
//! the side that did not work and why; the errors carry no secret.

use std::fmt::Write as _;

use ldap3::{Ldap, Scope};

use crate::app::{Outcome, RunError};
use crate::config::{Config, Flavour};
use crate::directory::Directory;
use crate::directory::entry::Entry;

/// What the HR side gave.
#[derive(Debug, Clone)]
pub struct HrFound {
    pub source: String,
    pub records: usize,
    pub employees: usize,
    pub rejected: usize,
}

/// What the directory side gave.
#[derive(Debug, Clone)]
pub struct DirectoryFound {
    pub url: String,
    pub server: String,
    pub naming_contexts: Vec<String>,
    pub bind_identity: String,
    pub accounts: usize,
    pub correlated: usize,
    pub groups_found: Vec<String>,
    pub groups_missing: Vec<String>,
    /// OpenLDAP: the configured password policy and whether it exists.
    pub password_policy: Option<(String, bool)>,
}

pub async fn run(config: &Config) -> Result<Outcome, RunError> {
    let (hr, directory) = tokio::join!(check_hr(config), check_directory(config));
    let mut out = String::new();
    let mut failures = Vec::new();
    match &hr {
        Ok(found) => {
            let _ = writeln!(out, "HR: ok");
            let _ = writeln!(out, "  source: {}", found.source);
            let _ = writeln!(
                out,
                "  records fetched: {} ({} employee(s), {} rejected and left alone)",
                found.records, found.employees, found.rejected
            );
        }
        Err(e) => {
            let _ = writeln!(out, "HR: FAILED: {e}");
            failures.push(format!("HR: {e}"));
        }
    }
    match &directory {
        Ok(found) => {
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
        Err(e) => {
            let _ = writeln!(out, "directory: FAILED: {e}");
            failures.push(format!("directory: {e}"));
        }
    }
    print!("{out}");
    if failures.is_empty() {
        Ok(Outcome::Success)
    } else {
        Err(RunError::Check(failures.join("; ")))
    }
}

async fn check_hr(config: &Config) -> Result<HrFound, String> {
    let (snapshot, records) = crate::hr::fetch_with_records(&config.hr)
        .await
        .map_err(|e| e.to_string())?;
    let kind = match config.hr.source {
        crate::hr::SourceKind::Rest => "rest",
        crate::hr::SourceKind::File => "file",
    };
    let source = match (&config.hr.preset, &config.hr.rest, &config.hr.file) {
        (Some(preset), _, _) => format!("{kind} (preset {})", preset.as_str()),
        (None, Some(rest), _) if config.hr.source == crate::hr::SourceKind::Rest => {
            format!("{kind} {}", without_query(&rest.url))
        }
        (None, _, Some(file)) => format!("{kind} {}", file.path.display()),
        _ => kind.to_string(),
    };
    Ok(HrFound {
        source,
        records: records.len(),
        employees: snapshot.employees.len(),
        rejected: snapshot.rejected.len(),
    })
}

/// A URL without its query string and user info (either may hold a credential).
fn without_query(url: &str) -> String {
    let base = url.split(['?', '#']).next().unwrap_or("");
    let Some((scheme, rest)) = base.split_once("://") else {
        return base.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}{path}")
}

async fn check_directory(config: &Config) -> Result<DirectoryFound, String> {
    let password = config
        .directory
        .bind_password
        .resolve("directory.bind_password")
        .map_err(|e| e.to_string())?;
    let mut directory = Directory::open(&config.directory, &password)
        .await
        .map_err(|e| e.to_string())?;
    let mut ldap = crate::directory::connect(&config.directory, &password)
        .await
        .map_err(|e| e.to_string())?;
    let (server, naming_contexts) = root_dse(&mut ldap, config).await;
    let bind_identity = who_am_i(&mut ldap).await.unwrap_or_else(|| {
        format!(
            "{} (the server does not answer Who am I?)",
            config.directory.bind_dn
        )
    });
    let _ = ldap.unbind().await;
    let result = async {
        let snapshot = directory
            .snapshot(&config.mappings)
            .await
            .map_err(|e| e.to_string())?;
        let managed = config.mappings.managed_groups();
        let (found, missing): (Vec<_>, Vec<_>) = managed
            .iter()
            .partition(|g| snapshot.groups.contains_key(*g));
        let password_policy = match (&config.directory.password_policy, config.directory.flavour) {
            (Some(policy), Flavour::Openldap) => {
                let exists = directory.exists(policy).await.map_err(|e| e.to_string())?;
                Some((policy.to_string(), exists))
            }
            _ => None,
        };
        Ok::<_, String>(DirectoryFound {
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
    }
    .await;
    directory.close().await;
    result
}

/// The server type from the root DSE: Active Directory (or Samba AD) by its capabilities,
/// OpenLDAP by its root DSE object class, else the vendor name.
async fn root_dse(ldap: &mut Ldap, config: &Config) -> (String, Vec<String>) {
    let attrs = vec![
        "objectClass",
        "vendorName",
        "vendorVersion",
        "supportedCapabilities",
        "namingContexts",
        "dnsHostName",
        "domainControllerFunctionality",
        "supportedLDAPVersion",
    ];
    let entry = match ldap
        .with_timeout(config.directory.operation_timeout)
        .search("", Scope::Base, "(objectClass=*)", attrs)
        .await
        .and_then(|r| r.success())
    {
        Ok((entries, _)) => match entries.into_iter().next().map(Entry::decode).transpose() {
            Ok(entry) => entry,
            Err(problem) => {
                return (
                    format!("unknown (root DSE malformed: {problem})"),
                    Vec::new(),
                );
            }
        },
        Err(e) => {
            return (format!("unknown (root DSE not readable: {e})"), Vec::new());
        }
    };
    let Some(entry) = entry else {
        return ("unknown (empty root DSE)".to_string(), Vec::new());
    };
    let get = |name: &str| -> Vec<String> { entry.values(name).cloned().collect() };
    let vendor = get("vendorName").into_iter().next();
    let version = get("vendorVersion").into_iter().next();
    let vendor_text = match (&vendor, &version) {
        (Some(v), Some(ver)) => format!("{v} {ver}"),
        (Some(v), None) => v.clone(),
        (None, Some(ver)) => ver.clone(),
        (None, None) => String::new(),
    };
    let server = if get("supportedCapabilities")
        .iter()
        .any(|c| c == "1.2.840.113556.1.4.800")
    {
        let host = get("dnsHostName").into_iter().next();
        let mut text = "Active Directory".to_string();
        if !vendor_text.is_empty() {
            text.push_str(&format!(" ({vendor_text})"));
        }
        if let Some(level) = get("domainControllerFunctionality").into_iter().next() {
            text.push_str(&format!(", DC functional level {level}"));
        }
        if let Some(host) = host {
            text.push_str(&format!(", host {host}"));
        }
        text
    } else if get("objectClass")
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
    let server = if expected {
        server
    } else {
        format!(
            "{server} (WARNING: directory.flavour is {:?})",
            config.directory.flavour
        )
    };
    (server, get("namingContexts"))
}

async fn who_am_i(ldap: &mut Ldap) -> Option<String> {
    let (exop, _) = ldap
        .extended(ldap3::exop::WhoAmI)
        .await
        .ok()?
        .success()
        .ok()?;
    let response: ldap3::exop::WhoAmIResp = exop.parse();
    let id = response.authzid;
    Some(match id.strip_prefix("dn:") {
        Some(dn) => dn.to_string(),
        None if id.is_empty() => "anonymous".to_string(),
        None => id,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_lose_their_query_and_user_info() {
        assert_eq!(
            super::without_query("https://u:p@hr.example.com/api?key=1"),
            "https://hr.example.com/api"
        );
        assert_eq!(
            super::without_query("https://hr.example.com/a@b?x=1"),
            "https://hr.example.com/a@b"
        );
    }
}
