//! Reading the directory's side for some employees alone (`hrsync sync`, an event): their
//! accounts by the correlation attribute, the groups that list them (with every member, so that
//! the planner sees a group its last member leaves), the managed groups that exist, and who is
//! protected or held, as a full read would have found them. Every other account is left unread,
//! so a read of one employee costs a few searches, not a read of the whole directory.
//!
//! What a read of a few accounts cannot know is added on request: the unique values in use
//! ([`Directory::unique_values_in_use`], for a joiner's names) and the entries at DNs a plan
//! wants to create or move to ([`Directory::accounts_at`]).

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use ldap3::ldap_escape;

use super::groups::GROUP_FILTER;
use super::snapshot::Guards;
use super::{Directory, DirectoryError};
use crate::dn::Dn;
use crate::mapping::Mappings;
use crate::model::{DirectoryAccount, DirectoryGroup, DirectorySnapshot};

/// Correlation values (or member DNs) per search filter: a filter of a few hundred terms is
/// small for any server, and a burst of a thousand events costs a handful of searches.
const TERMS_PER_SEARCH: usize = 200;

/// Managed groups whose existence is checked at once.
const EXISTENCE_READS_IN_FLIGHT: usize = 8;

impl Directory {
    /// The directory as far as the employees `ids` are concerned (see the module's doc), and
    /// who is protected or held, for [`Directory::accounts_at`].
    pub(crate) async fn snapshot_of(
        &mut self,
        mappings: &Mappings,
        ids: &BTreeSet<String>,
    ) -> Result<(DirectorySnapshot, Guards), DirectoryError> {
        let guards = self.guards(mappings).await?;
        let reader = self.account_reader(mappings, &guards);
        let correlation = &mappings.correlation.attribute;
        let mut accounts = Vec::new();
        let ids: Vec<&String> = ids.iter().collect();
        for chunk in ids.chunks(TERMS_PER_SEARCH) {
            let terms: String = chunk
                .iter()
                .map(|id| format!("({correlation}={})", ldap_escape(id.as_str())))
                .collect();
            let filter = format!("(&{}(|{terms}))", self.config.user_filter);
            self.read_accounts(mappings, &reader, &filter, None, &mut accounts)
                .await?;
        }
        let dns: Vec<Dn> = accounts.iter().map(|a| a.dn.clone()).collect();
        let groups = self.groups_of(mappings, &dns).await?;
        let (warnings, member_values_follow_renames) = self.server_facts(mappings).await?;
        tracing::debug!(
            accounts = accounts.len(),
            groups = groups.len(),
            "read the directory for {} employee(s)",
            ids.len()
        );
        let snapshot = DirectorySnapshot {
            accounts,
            groups,
            taken: BTreeMap::new(),
            warnings,
            member_values_follow_renames,
        };
        Ok((snapshot, guards))
    }

    /// The values of the unique attributes in use anywhere, as a full read finds them: what
    /// naming a joiner needs.
    pub(crate) async fn unique_values_in_use(
        &mut self,
        mappings: &Mappings,
    ) -> Result<BTreeMap<String, BTreeSet<String>>, DirectoryError> {
        self.taken(&mappings.account.unique_attributes).await
    }

    /// The accounts at `dns` (those that exist and match the user filter), read as a full read
    /// would read them (`guards` from [`Directory::snapshot_of`]): what a targeted plan that
    /// creates or moves an account to one of those DNs must know is there.
    pub(crate) async fn accounts_at(
        &mut self,
        mappings: &Mappings,
        dns: &BTreeSet<Dn>,
        guards: &Guards,
    ) -> Result<Vec<DirectoryAccount>, DirectoryError> {
        let reader = self.account_reader(mappings, guards);
        let filter = self.config.user_filter.clone();
        let mut accounts = Vec::new();
        for dn in dns {
            self.read_accounts(mappings, &reader, &filter, Some(dn), &mut accounts)
                .await?;
        }
        Ok(accounts)
    }

    /// The groups a targeted plan needs: every group under the group bases that lists one of
    /// `dns` or the empty-group placeholder, with all its members; the managed groups outside
    /// the bases, read whole as a full read reads them; and the other managed groups, which
    /// list none of them, as existing (with no members read: the plan only adds to them).
    async fn groups_of(
        &mut self,
        mappings: &Mappings,
        dns: &[Dn],
    ) -> Result<BTreeMap<Dn, DirectoryGroup>, DirectoryError> {
        let member_attribute = mappings.groups.member_attribute.as_str();
        let managed = mappings.managed_groups();
        let outside: BTreeSet<Dn> = managed
            .iter()
            .filter(|group| !self.config.group_bases.iter().any(|b| group.is_within(b)))
            .cloned()
            .collect();
        let mut groups = super::snapshot::join_reads(
            self.spawn_group_reads(outside, member_attribute).await,
            &self.config.users_base,
        )?;
        let mut members: Vec<&Dn> = dns.iter().collect();
        let placeholder = self.config.policy.empty_group_placeholder.clone();
        members.extend(placeholder.as_ref());
        let hold = self.config.hold_group.clone();
        for base in self.config.group_bases.clone() {
            for chunk in members.chunks(TERMS_PER_SEARCH) {
                let terms: String = chunk
                    .iter()
                    .map(|dn| format!("({member_attribute}={})", ldap_escape(dn.as_str())))
                    .collect();
                let filter = format!("(&{GROUP_FILTER}(|{terms}))");
                for group in self
                    .groups_matching(&base, &filter, member_attribute)
                    .await?
                {
                    if Some(&group.dn) != hold.as_ref() {
                        groups.insert(group.dn.clone(), group);
                    }
                }
            }
        }
        let unread: Vec<Dn> = managed
            .into_iter()
            .filter(|group| !groups.contains_key(group))
            .collect();
        let reads = unread.into_iter().map(|group| {
            let mut reader = self.clone();
            async move { (reader.exists(&group).await, group) }
        });
        let mut reads = futures::stream::iter(reads).buffer_unordered(EXISTENCE_READS_IN_FLIGHT);
        while let Some((exists, group)) = reads.next().await {
            if exists? {
                groups.insert(
                    group.clone(),
                    DirectoryGroup {
                        dn: group,
                        members: BTreeSet::new(),
                    },
                );
            }
        }
        Ok(groups)
    }
}
