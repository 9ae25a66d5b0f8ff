//! Reading the directory's side: every account under the users base, the managed groups, and
//! what the planner needs besides (protected and held accounts, unique values in use).

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use ldap3::Scope;

use super::{Directory, DirectoryError, GROUP_READS_IN_FLIGHT};
use crate::attributes::{Attributes, Names};
use crate::dn::Dn;
use crate::mapping::Mappings;
use crate::model::{DirectoryAccount, DirectoryGroup, DirectorySnapshot};
use crate::plan::{DisableMethod, PPOLICY_PERMANENT_LOCK, UAC_ACCOUNTDISABLE};

/// What decides an account's state as read: the flavour's attributes and who is protected or
/// held.
struct AccountReader<'a> {
    ad: bool,
    correlation: String,
    protected: &'a BTreeMap<Dn, String>,
    held: &'a BTreeSet<Dn>,
}

impl Directory {
    /// Reads every person entry under the users base, every managed group, the accounts that
    /// are protected, and the unique attribute values in use.
    pub(crate) async fn snapshot(
        &mut self,
        mappings: &Mappings,
    ) -> Result<DirectorySnapshot, DirectoryError> {
        let ad = self.config.policy.disable == DisableMethod::UserAccountControl;
        let wanted = wanted_attributes(mappings, ad);
        let attrs: Vec<&str> = wanted.iter().map(String::as_str).collect();
        let base = self.config.users_base.to_string();
        let filter = self.config.user_filter.clone();
        let protected = self.protected_accounts().await?;
        let held = match self.config.hold_group.clone() {
            Some(group) => self
                .read_members(&group, &mappings.groups.member_attribute)
                .await?
                .unwrap_or_default(),
            None => BTreeSet::new(),
        };
        let groups = self.spawn_group_reads(mappings);
        let reader = AccountReader {
            ad,
            correlation: mappings.correlation.attribute.to_ascii_lowercase(),
            protected: &protected,
            held: &held,
        };
        // Each entry becomes an account as it arrives: the raw entries of a 100k directory are
        // never all held at once.
        let mut accounts = Vec::new();
        let mut names = Names::default();
        self.search_paged_each(&base, Scope::Subtree, &filter, &attrs, |entry| {
            let Ok(dn) = Dn::parse(&entry.dn) else {
                tracing::warn!(dn = %entry.dn, "skipping an entry whose DN cannot be parsed");
                return;
            };
            let attributes = Attributes::from_named(
                entry
                    .attrs
                    .into_iter()
                    .map(|(name, values)| (names.lower(&name), values)),
            );
            accounts.push(reader.account(dn, attributes));
        })
        .await?;
        let groups = match groups.await {
            Ok(groups) => groups?,
            Err(e) => {
                return Err(DirectoryError::Transport {
                    operation: "read groups",
                    dn: self.config.users_base.to_string(),
                    message: format!("the group reader stopped unexpectedly: {e}"),
                });
            }
        };
        let taken = self.taken(&mappings.account.unique_attributes).await?;
        let warnings = self.disable_warnings().await?;
        tracing::debug!(
            accounts = accounts.len(),
            groups = groups.len(),
            protected = protected.len(),
            "read directory"
        );
        Ok(DirectorySnapshot {
            accounts,
            groups,
            taken,
            warnings,
        })
    }

    /// Starts reading the managed groups, over the same connection, a few at a time, while the
    /// accounts are read: one after the other, a directory across a WAN would cost a round trip
    /// per group (200 groups at 20 ms are 4 s), while many at once took CPU from the user
    /// search on a loopback slapd at 100k employees.
    fn spawn_group_reads(
        &self,
        mappings: &Mappings,
    ) -> tokio::task::JoinHandle<Result<BTreeMap<Dn, DirectoryGroup>, DirectoryError>> {
        let reader = self.clone();
        let member_attribute = mappings.groups.member_attribute.clone();
        let managed = mappings.managed_groups();
        tokio::spawn(async move {
            let reads = managed.into_iter().map(|group| {
                let (mut reader, member_attribute) = (reader.clone(), &member_attribute);
                async move {
                    let members = reader.read_members(&group, member_attribute).await?;
                    Ok::<_, DirectoryError>(
                        members.map(|members| DirectoryGroup { dn: group, members }),
                    )
                }
            });
            let mut reads = futures::stream::iter(reads).buffer_unordered(GROUP_READS_IN_FLIGHT);
            let mut groups = BTreeMap::new();
            while let Some(read) = reads.next().await {
                if let Some(group) = read? {
                    groups.insert(group.dn.clone(), group);
                }
            }
            Ok::<_, DirectoryError>(groups)
        })
    }
}

/// The attributes an account is read with: the managed ones, the correlation and naming
/// attributes, and those that say whether it is disabled.
fn wanted_attributes(mappings: &Mappings, ad: bool) -> BTreeSet<String> {
    let mut wanted: BTreeSet<String> = mappings
        .account
        .attributes
        .keys()
        .map(|a| a.to_ascii_lowercase())
        .collect();
    wanted.insert(mappings.correlation.attribute.to_ascii_lowercase());
    wanted.insert(mappings.account.rdn_attribute.to_ascii_lowercase());
    if let Some(fallback) = &mappings.correlation.fallback {
        wanted.insert(fallback.attribute.to_ascii_lowercase());
    }
    let state_attributes: &[&str] = if ad {
        &["useraccountcontrol", "pwdlastset", "accountexpires"]
    } else {
        &["pwdaccountlockedtime"]
    };
    wanted.extend(state_attributes.iter().map(|a| a.to_string()));
    wanted
}

impl AccountReader<'_> {
    fn account(&self, dn: Dn, attributes: Attributes) -> DirectoryAccount {
        let first = |name: &str| attributes.get(name).and_then(|v| v.first());
        let account_control = if self.ad {
            first("useraccountcontrol").and_then(|v| v.parse::<u32>().ok())
        } else {
            None
        };
        let disabled = match account_control {
            Some(uac) => uac & UAC_ACCOUNTDISABLE != 0,
            None => attributes
                .get("pwdaccountlockedtime")
                .is_some_and(|v| v.iter().any(|x| x == PPOLICY_PERMANENT_LOCK)),
        };
        let password_set = !self.ad || first("pwdlastset").is_some_and(|v| v != "0");
        let correlation_id = first(&self.correlation).cloned();
        DirectoryAccount {
            protected: self.protected.get(&dn).cloned(),
            held: self.held.contains(&dn),
            dn,
            correlation_id,
            attributes,
            disabled,
            account_control,
            password_set,
        }
    }
}
