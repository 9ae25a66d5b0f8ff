//! Reading the directory's side: every account under the users base, the managed groups and the
//! other groups under the group bases, and
//! what the planner needs besides (protected and held accounts, unique values in use).

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use ldap3::Scope;

use super::{Directory, DirectoryError, Flavour, GROUP_READS_IN_FLIGHT};
use crate::attributes::{Attributes, Names};
use crate::dn::Dn;
use crate::mapping::Mappings;
use crate::model::{DirectoryAccount, DirectoryGroup, DirectorySnapshot};
use crate::plan::{DisableMethod, UAC_ACCOUNTDISABLE};

/// What decides an account's state as read: the flavour's attributes and who is protected or
/// held.
pub(super) struct AccountReader<'a> {
    method: DisableMethod,
    correlation: String,
    guards: &'a Guards,
}

/// The accounts that are protected (with the reason) and held (in the hold group), read once per
/// run: a targeted read that reads more accounts later (see `Directory::accounts_at`) reuses
/// them.
#[derive(Debug, Default)]
pub(crate) struct Guards {
    protected: BTreeMap<Dn, String>,
    held: BTreeSet<Dn>,
}

impl Directory {
    /// Reads every person entry under the users base, every managed group, the accounts that
    /// are protected, and the unique attribute values in use.
    pub(crate) async fn snapshot(
        &mut self,
        mappings: &Mappings,
    ) -> Result<DirectorySnapshot, DirectoryError> {
        let filter = self.config.user_filter.clone();
        let guards = self.guards(mappings).await?;
        let managed = mappings.managed_groups();
        let member_attribute = mappings.groups.member_attribute.as_str();
        let outside_bases: BTreeSet<Dn> = managed
            .iter()
            .filter(|group| {
                !self
                    .config
                    .group_bases
                    .iter()
                    .any(|base| group.is_within(base))
            })
            .cloned()
            .collect();
        let groups = self.spawn_group_reads(outside_bases, member_attribute);
        let reader = self.account_reader(mappings, &guards);
        let mut accounts = Vec::new();
        self.read_accounts(mappings, &reader, &filter, None, &mut accounts)
            .await?;
        let mut groups = join_reads(groups.await, &self.config.users_base)?;
        self.read_group_bases(&managed, member_attribute, &mut groups)
            .await?;
        let taken = self.taken(&mappings.account.unique_attributes).await?;
        let (warnings, member_values_follow_renames) = self.server_facts(mappings).await?;
        tracing::debug!(
            accounts = accounts.len(),
            groups = groups.len(),
            protected = guards.protected.len(),
            "read directory"
        );
        Ok(DirectorySnapshot {
            accounts,
            groups,
            taken,
            warnings,
            member_values_follow_renames,
        })
    }

    /// The accounts `filter` finds under the users base (or the entry at `at`; one that does
    /// not exist finds nothing), appended to `accounts`. Each entry becomes an account as it
    /// arrives: the raw entries of a 100k directory are never all held at once.
    pub(super) async fn read_accounts(
        &mut self,
        mappings: &Mappings,
        reader: &AccountReader<'_>,
        filter: &str,
        at: Option<&Dn>,
        accounts: &mut Vec<DirectoryAccount>,
    ) -> Result<(), DirectoryError> {
        let wanted = self.account_attributes(mappings);
        let attrs: Vec<&str> = wanted.iter().map(String::as_str).collect();
        let (base, scope) = match at {
            Some(dn) => (dn.to_string(), Scope::Base),
            None => (self.config.users_base.to_string(), Scope::Subtree),
        };
        let ds389 = self.config.flavour == Flavour::Ds389;
        if ds389 {
            self.real_attributes_only();
        }
        let first = accounts.len();
        let mut names = Names::default();
        let read = self
            .search_paged_each(&base, scope, filter, &attrs, |entry| {
                accounts.extend(reader.entry(entry, &mut names));
            })
            .await;
        match read {
            Err(error) if at.is_some() && error.code() == Some(32) => return Ok(()),
            other => other?,
        }
        if ds389 {
            self.mark_role_locks(&base, scope, filter, &mut accounts[first..])
                .await?;
        }
        Ok(())
    }

    /// The attributes an account is read with (see [`wanted_attributes`]), hrsync's mark
    /// among them.
    pub(super) fn account_attributes(&self, mappings: &Mappings) -> BTreeSet<String> {
        let mut wanted = wanted_attributes(mappings, self.config.policy.disable);
        // hrsync's mark on the accounts it disabled (see `Policy::disabled_mark`).
        wanted.insert(
            self.config
                .policy
                .disabled_mark
                .attribute
                .to_ascii_lowercase(),
        );
        wanted
    }

    /// The protected accounts with the reason, and the held ones (in the hold group).
    pub(super) async fn guards(&mut self, mappings: &Mappings) -> Result<Guards, DirectoryError> {
        let protected = self.protected_accounts().await?;
        let held = match self.config.hold_group.clone() {
            Some(group) => self
                .read_members(&group, &mappings.groups.member_attribute)
                .await?
                .unwrap_or_default(),
            None => BTreeSet::new(),
        };
        Ok(Guards { protected, held })
    }

    /// How an entry read becomes an account.
    pub(super) fn account_reader<'a>(
        &self,
        mappings: &Mappings,
        guards: &'a Guards,
    ) -> AccountReader<'a> {
        AccountReader {
            method: self.config.policy.disable,
            correlation: mappings.correlation.attribute.to_ascii_lowercase(),
            guards,
        }
    }

    /// Reads the groups. The managed groups outside the group bases are read one by one, a
    /// few at a time, over the same connection while the accounts are read (one after the
    /// other, a directory across a WAN would cost a round trip per group, while many at once
    /// took CPU from the user search on a loopback slapd at 100k employees). Every group under
    /// the group bases (`lifecycle.group_bases`: the groups a leaver leaves and a mover's value
    /// follows in) comes from one paged search per base once the accounts are read: a server
    /// keeps one paged search per connection. A managed group the bases' search did not find
    /// (another object class) is read on its own. The hold group is left out: only an admin
    /// takes an account out of it.
    pub(super) fn spawn_group_reads(
        &self,
        groups: BTreeSet<Dn>,
        member_attribute: &str,
    ) -> tokio::task::JoinHandle<Result<BTreeMap<Dn, DirectoryGroup>, DirectoryError>> {
        let reader = self.clone();
        let member_attribute = member_attribute.to_string();
        tokio::spawn(async move {
            let reads = groups.into_iter().map(|group| {
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

    /// Every group under the group bases (the hold group left out), and then the managed
    /// groups within them that the search did not find.
    async fn read_group_bases(
        &mut self,
        managed: &BTreeSet<Dn>,
        member_attribute: &str,
        groups: &mut BTreeMap<Dn, DirectoryGroup>,
    ) -> Result<(), DirectoryError> {
        let hold = self.config.hold_group.clone();
        for base in self.config.group_bases.clone() {
            for group in self.groups_under(&base, member_attribute).await? {
                if Some(&group.dn) != hold.as_ref() {
                    groups.insert(group.dn.clone(), group);
                }
            }
        }
        let missed: BTreeSet<Dn> = managed
            .iter()
            .filter(|group| !groups.contains_key(*group))
            .cloned()
            .collect();
        let found = self.spawn_group_reads(missed, member_attribute).await;
        groups.extend(join_reads(found, &self.config.users_base)?);
        Ok(())
    }
}

/// The result of a spawned group read, or why there is none.
pub(super) fn join_reads(
    joined: Result<Result<BTreeMap<Dn, DirectoryGroup>, DirectoryError>, tokio::task::JoinError>,
    users_base: &Dn,
) -> Result<BTreeMap<Dn, DirectoryGroup>, DirectoryError> {
    match joined {
        Ok(groups) => groups,
        Err(e) => Err(DirectoryError::Transport {
            operation: "read groups",
            dn: users_base.to_string(),
            message: format!("the group reader stopped unexpectedly: {e}"),
        }),
    }
}

/// The attributes an account is read with: the managed ones, the correlation and naming
/// attributes, and those that say whether it is disabled.
fn wanted_attributes(mappings: &Mappings, method: DisableMethod) -> BTreeSet<String> {
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
    match method.lock_value() {
        Some((attribute, _)) => {
            wanted.insert(attribute.to_ascii_lowercase());
        }
        None => {
            wanted.extend(["useraccountcontrol", "pwdlastset", "accountexpires"].map(String::from))
        }
    }
    wanted
}

impl AccountReader<'_> {
    /// The account an entry is, unless its DN cannot be parsed (then logged and left out).
    pub(super) fn entry(
        &self,
        entry: super::entry::Entry,
        names: &mut Names,
    ) -> Option<DirectoryAccount> {
        let Ok(dn) = Dn::parse(&entry.dn) else {
            tracing::warn!(dn = %entry.dn, "skipping an entry whose DN cannot be parsed");
            return None;
        };
        let attributes = Attributes::from_named(
            entry
                .attrs
                .into_iter()
                .map(|(name, values)| (names.lower(&name), values)),
        );
        Some(self.account(dn, attributes))
    }

    fn account(&self, dn: Dn, attributes: Attributes) -> DirectoryAccount {
        let first = |name: &str| attributes.get(name).and_then(|v| v.first());
        let ad = self.method == DisableMethod::UserAccountControl;
        let account_control = if ad {
            first("useraccountcontrol").and_then(|v| v.parse::<u32>().ok())
        } else {
            None
        };
        let disabled = match (account_control, self.method.lock_value()) {
            (Some(uac), _) => uac & UAC_ACCOUNTDISABLE != 0,
            (None, Some((attribute, _))) => attributes
                .get(&attribute.to_ascii_lowercase())
                .is_some_and(|values| self.method.is_locked_by(values)),
            (None, None) => false,
        };
        let password_set = !ad || first("pwdlastset").is_some_and(|v| v != "0");
        let correlation_id = first(&self.correlation).cloned();
        DirectoryAccount {
            protected: self.guards.protected.get(&dn).cloned(),
            held: self.guards.held.contains(&dn),
            locked_elsewhere: None,
            dn,
            correlation_id,
            attributes,
            disabled,
            account_control,
            password_set,
        }
    }
}
