//! Every group an account is in, managed or not, for the access report (`hrsync report access`).
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
        let entries = self
            .search_paged(
                base.as_str(),
                Scope::Subtree,
                GROUP_FILTER,
                &[member_attribute],
            )
            .await?;
        let wanted = member_attribute.to_ascii_lowercase();
        let mut groups_read = 0;
        let mut by_member: BTreeMap<Dn, BTreeSet<Dn>> = BTreeMap::new();
        for entry in entries {
            let Ok(group) = Dn::parse(&entry.dn) else {
                tracing::warn!(dn = %entry.dn, "skipping a group whose DN cannot be parsed");
                continue;
            };
            groups_read += 1;
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
            for member in members {
                by_member.entry(member).or_default().insert(group.clone());
            }
        }
        tracing::debug!(
            groups = groups_read,
            members = by_member.len(),
            base = %base,
            "read group memberships"
        );
        Ok((groups_read, by_member))
    }
}
