//! Every group under a base with its members, managed or not: for the access report (`hrsync
//! report access`), and for the groups a leaver leaves and a mover's value follows in.
//!
//! One paged search under a base for every group (`groupOfNames` on OpenLDAP, `group` on Active
//! Directory) with its member attribute, inverted into member -> groups. Active Directory hands
//! out at most 1,500 values of `member` in a search and then a ranged attribute
//! (`member;range=0-1499`); the rest of such a group is read range by range until the server's
//! range ends in `*`. Read only: nothing here writes.

use std::collections::{BTreeMap, BTreeSet};

use ldap3::Scope;

use super::{Directory, DirectoryError};
use crate::dn::Dn;
use crate::model::DirectoryGroup;

/// The filter that finds groups: OpenLDAP's `groupOfNames` and Active Directory's `group`.
pub(crate) const GROUP_FILTER: &str = "(|(objectClass=groupOfNames)(objectClass=group))";

/// What the search found: how many groups were read, and member DN -> the groups it is a
/// direct member of.
pub(crate) type Memberships = (usize, BTreeMap<Dn, BTreeSet<Dn>>);

impl Directory {
    /// Reads every group under `base` with its `member_attribute` values and inverts it.
    /// Member values that are not DNs are left out with a log line (they cannot be accounts).
    pub(crate) async fn memberships(
        &mut self,
        base: &Dn,
        member_attribute: &str,
    ) -> Result<Memberships, DirectoryError> {
        let groups = self.groups_under(base, member_attribute).await?;
        let mut by_member: BTreeMap<Dn, BTreeSet<Dn>> = BTreeMap::new();
        for group in &groups {
            for member in &group.members {
                by_member
                    .entry(member.clone())
                    .or_default()
                    .insert(group.dn.clone());
            }
        }
        tracing::debug!(
            groups = groups.len(),
            members = by_member.len(),
            base = %base,
            "read group memberships"
        );
        Ok((groups.len(), by_member))
    }

    /// Every group under `base` with all its `member_attribute` values (an Active Directory
    /// group's ranges read to the end). Member values that are not DNs are left out with a log
    /// line (they cannot be accounts).
    pub(crate) async fn groups_under(
        &mut self,
        base: &Dn,
        member_attribute: &str,
    ) -> Result<Vec<DirectoryGroup>, DirectoryError> {
        self.groups_matching(base, GROUP_FILTER, member_attribute)
            .await
    }

    /// [`Directory::groups_under`] for the groups under `base` that match `filter`.
    pub(crate) async fn groups_matching(
        &mut self,
        base: &Dn,
        filter: &str,
        member_attribute: &str,
    ) -> Result<Vec<DirectoryGroup>, DirectoryError> {
        let entries = self
            .search_paged(base.as_str(), Scope::Subtree, filter, &[member_attribute])
            .await?;
        let wanted = member_attribute.to_ascii_lowercase();
        let mut groups = Vec::with_capacity(entries.len());
        for entry in entries {
            let Ok(group) = Dn::parse(&entry.dn) else {
                tracing::warn!(dn = %entry.dn, "skipping a group whose DN cannot be parsed");
                continue;
            };
            let ranged = entry.attrs.iter().any(|(name, _)| {
                name.to_ascii_lowercase()
                    .strip_prefix(&wanted)
                    .is_some_and(|options| options.starts_with(";range="))
            });
            let members: BTreeSet<Dn> = if ranged {
                // A large AD group: the search gave only its first range; read it all.
                self.read_members(&group, member_attribute)
                    .await?
                    .unwrap_or_default()
            } else {
                entry
                    .values(member_attribute)
                    .filter_map(|value| match Dn::parse(value) {
                        Ok(member) => Some(member),
                        Err(_) => {
                            tracing::debug!(group = %group, member = %value, "ignoring a member value that is not a DN");
                            None
                        }
                    })
                    .collect()
            };
            groups.push(DirectoryGroup { dn: group, members });
        }
        Ok(groups)
    }
}
