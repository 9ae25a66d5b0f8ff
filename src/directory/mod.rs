//! The directory adapter: reads a [`DirectorySnapshot`] and executes [`LdapOp`]s over ldap3.
//!
//! Everything here is I/O; the decisions are made in `plan`.

mod connect;

use std::collections::{BTreeMap, BTreeSet};

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapError, Mod, Scope, SearchEntry};
use secrecy::SecretString;

use crate::config::DirectoryConfig;
use crate::dn::Dn;
use crate::mapping::Mappings;
use crate::model::{DirectoryAccount, DirectoryGroup, DirectorySnapshot};
use crate::plan::ops::{LdapOp, Modification};
use crate::plan::{DisableMethod, PPOLICY_PERMANENT_LOCK};

pub use connect::connect;

/// A directory failure, with the operation, the DN and the LDAP result code where there is one.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("bind as {bind_dn} refused: {message}")]
    Bind { bind_dn: String, message: String },
    #[error("{operation} {dn} failed: {message} (LDAP result {code})")]
    Operation {
        operation: &'static str,
        dn: String,
        code: u32,
        message: String,
    },
    #[error("{operation} {dn} failed: {message}")]
    Transport {
        operation: &'static str,
        dn: String,
        message: String,
    },
}

impl DirectoryError {
    /// The LDAP result code, when the server answered.
    pub fn code(&self) -> Option<u32> {
        match self {
            Self::Operation { code, .. } => Some(*code),
            _ => None,
        }
    }

    fn from_ldap(operation: &'static str, dn: &str, error: LdapError) -> Self {
        match error {
            LdapError::LdapResult { result } => Self::Operation {
                operation,
                dn: dn.to_string(),
                code: result.rc,
                message: describe_rc(result.rc, &result.text),
            },
            other => Self::Transport {
                operation,
                dn: dn.to_string(),
                message: other.to_string(),
            },
        }
    }
}

/// The result code's name plus the server's text, so an admin can act on it.
pub(crate) fn describe_rc(rc: u32, text: &str) -> String {
    let name = match rc {
        8 => {
            "strong(er) authentication required: the server refuses simple binds without TLS; use ldaps:// or starttls = true"
        }
        16 => "no such attribute",
        19 => "constraint violation",
        20 => "attribute or value exists",
        21 => "invalid attribute syntax",
        32 => "no such object",
        34 => "invalid DN syntax",
        49 => "invalid credentials",
        50 => "insufficient access rights",
        53 => "unwilling to perform",
        64 => "naming violation",
        65 => "object class violation",
        68 => "entry already exists",
        _ => "error",
    };
    if text.trim().is_empty() {
        name.to_string()
    } else {
        format!("{name}: {}", text.trim())
    }
}

/// An open, bound connection. `Ldap` handles are cheap clones multiplexed over one connection,
/// which is what lets `apply` pipeline operations.
#[derive(Clone)]
pub struct Directory {
    ldap: Ldap,
    config: DirectoryConfig,
}

impl Directory {
    pub async fn open(
        config: &DirectoryConfig,
        password: &SecretString,
    ) -> Result<Self, DirectoryError> {
        let ldap = connect(config, password).await?;
        Ok(Self {
            ldap,
            config: config.clone(),
        })
    }

    /// Reads every person entry under the users base and every managed group.
    pub async fn snapshot(
        &mut self,
        mappings: &Mappings,
    ) -> Result<DirectorySnapshot, DirectoryError> {
        let correlation = mappings.correlation.attribute.to_ascii_lowercase();
        let mut wanted: BTreeSet<String> = mappings
            .account
            .attributes
            .keys()
            .map(|a| a.to_ascii_lowercase())
            .collect();
        wanted.insert(correlation.clone());
        wanted.insert(mappings.account.rdn_attribute.to_ascii_lowercase());
        let disable_attribute = match self.config.policy.disable {
            DisableMethod::PpolicyLock => "pwdaccountlockedtime",
        };
        wanted.insert(disable_attribute.to_string());
        let attrs: Vec<&str> = wanted.iter().map(String::as_str).collect();

        let base = self.config.users_base.to_string();
        let entries = self
            .search_paged(
                &base,
                Scope::Subtree,
                &self.config.user_filter.clone(),
                &attrs,
            )
            .await?;
        let mut accounts = Vec::with_capacity(entries.len());
        for entry in entries {
            let Ok(dn) = Dn::parse(&entry.dn) else {
                tracing::warn!(dn = %entry.dn, "skipping an entry whose DN cannot be parsed");
                continue;
            };
            let attributes: BTreeMap<String, Vec<String>> = entry
                .attrs
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect();
            let disabled = attributes
                .get(disable_attribute)
                .is_some_and(|v| v.iter().any(|x| x == PPOLICY_PERMANENT_LOCK));
            let correlation_id = attributes
                .get(&correlation)
                .and_then(|v| v.first())
                .cloned();
            accounts.push(DirectoryAccount {
                dn,
                correlation_id,
                attributes,
                disabled,
            });
        }

        let member_attribute = &mappings.groups.member_attribute;
        let mut groups = BTreeMap::new();
        for group in mappings.managed_groups() {
            if let Some(members) = self.read_members(&group, member_attribute).await? {
                groups.insert(group.clone(), DirectoryGroup { dn: group, members });
            }
        }
        tracing::debug!(
            accounts = accounts.len(),
            groups = groups.len(),
            "read directory"
        );
        Ok(DirectorySnapshot { accounts, groups })
    }

    /// A group's members, or `None` when the group does not exist.
    async fn read_members(
        &mut self,
        group: &Dn,
        member_attribute: &str,
    ) -> Result<Option<BTreeSet<Dn>>, DirectoryError> {
        let result = self
            .ldap
            .with_timeout(self.config.operation_timeout)
            .search(
                group.as_str(),
                Scope::Base,
                "(objectClass=*)",
                vec![member_attribute],
            )
            .await
            .map_err(|e| DirectoryError::from_ldap("read group", group.as_str(), e))?;
        if result.1.rc == 32 {
            return Ok(None);
        }
        let (entries, _) = result
            .success()
            .map_err(|e| DirectoryError::from_ldap("read group", group.as_str(), e))?;
        let Some(entry) = entries.into_iter().next() else {
            return Ok(None);
        };
        let entry = SearchEntry::construct(entry);
        let mut members = BTreeSet::new();
        for (name, values) in entry.attrs {
            if !name.eq_ignore_ascii_case(member_attribute) {
                continue;
            }
            for value in values {
                match Dn::parse(&value) {
                    Ok(dn) => {
                        members.insert(dn);
                    }
                    Err(_) => {
                        tracing::warn!(group = %group, member = %value, "ignoring a member value that is not a DN")
                    }
                }
            }
        }
        Ok(Some(members))
    }

    async fn search_paged(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<SearchEntry>, DirectoryError> {
        // EntriesOnly first: referrals (which AD returns from the domain root) are dropped
        // instead of making SearchEntry::construct panic.
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(self.config.page_size)),
        ];
        let fail = |e| DirectoryError::from_ldap("search", base, e);
        let mut stream = self
            .ldap
            .with_timeout(self.config.operation_timeout)
            .streaming_search_with(adapters, base, scope, filter, attrs.to_vec())
            .await
            .map_err(fail)?;
        let mut entries = Vec::new();
        while let Some(entry) = stream.next().await.map_err(fail)? {
            entries.push(SearchEntry::construct(entry));
        }
        stream.finish().await.success().map_err(fail)?;
        Ok(entries)
    }

    /// Whether an entry exists (used to check that the password policy is really there).
    pub async fn exists(&mut self, dn: &Dn) -> Result<bool, DirectoryError> {
        let result = self
            .ldap
            .with_timeout(self.config.operation_timeout)
            .search(dn.as_str(), Scope::Base, "(objectClass=*)", vec!["1.1"])
            .await
            .map_err(|e| DirectoryError::from_ldap("read", dn.as_str(), e))?;
        match result.1.rc {
            0 => Ok(!result.0.is_empty()),
            32 => Ok(false),
            _ => result
                .success()
                .map(|_| true)
                .map_err(|e| DirectoryError::from_ldap("read", dn.as_str(), e)),
        }
    }

    /// Executes one operation. A non-zero result code is an error (ldap3 does not make it one).
    pub async fn execute(&self, op: &LdapOp) -> Result<(), DirectoryError> {
        let mut ldap = self.ldap.clone();
        ldap.with_timeout(self.config.operation_timeout);
        match op {
            LdapOp::Add { dn, attributes } => {
                #[allow(clippy::disallowed_types)] // ldap3 takes HashSet; order is irrelevant.
                let attrs: Vec<(&str, std::collections::HashSet<&str>)> = attributes
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect()))
                    .collect();
                ldap.add(dn.as_str(), attrs)
                    .await
                    .and_then(|r| r.success())
                    .map(drop)
                    .map_err(|e| DirectoryError::from_ldap("add", dn.as_str(), e))
            }
            LdapOp::Modify { dn, mods } => {
                let mods: Vec<Mod<&str>> = mods.iter().map(to_ldap3_mod).collect();
                ldap.modify(dn.as_str(), mods)
                    .await
                    .and_then(|r| r.success())
                    .map(drop)
                    .map_err(|e| DirectoryError::from_ldap("modify", dn.as_str(), e))
            }
            LdapOp::Rename {
                dn,
                new_rdn,
                new_superior,
            } => ldap
                .modifydn(dn.as_str(), new_rdn, false, Some(new_superior.as_str()))
                .await
                .and_then(|r| r.success())
                .map(drop)
                .map_err(|e| DirectoryError::from_ldap("modify DN", dn.as_str(), e)),
        }
    }

    pub async fn close(mut self) {
        if let Err(e) = self.ldap.unbind().await {
            tracing::debug!(error = %e, "unbind failed");
        }
    }
}

#[allow(clippy::disallowed_types)] // ldap3's API takes HashSet; order on the wire is irrelevant.
fn to_ldap3_mod(m: &Modification) -> Mod<&str> {
    #[allow(clippy::disallowed_types)]
    fn set(v: &[String]) -> std::collections::HashSet<&str> {
        v.iter().map(String::as_str).collect()
    }
    match m {
        Modification::Add(a, v) => Mod::Add(a.as_str(), set(v)),
        Modification::Delete(a, v) => Mod::Delete(a.as_str(), set(v)),
        Modification::Replace(a, v) => Mod::Replace(a.as_str(), set(v)),
    }
}
