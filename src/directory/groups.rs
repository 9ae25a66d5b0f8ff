//! Every group an account is in, managed or not, for the access report (`hrsync report access`).
//!
//! One paged search under a base for every group (`groupOfNames` on OpenLDAP, `group` on Active
//! Directory) with its member attribute, inverted into member -> groups. Active Directory hands
//! out at most 1,500 values of `member` in a search and then a ranged attribute
//! (`member;range=0-1499`); the rest of such a group is read range by range until the server's
//! range ends in `*`. Read only: nothing here writes.

use std::collections::{BTreeMap, BTreeSet};

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{LdapError, Scope, SearchEntry};

use super::{Directory, DirectoryError, describe_rc};
use crate::dn::Dn;

/// The filter that finds groups: OpenLDAP's `groupOfNames` and Active Directory's `group`.
pub(crate) const GROUP_FILTER: &str = "(|(objectClass=groupOfNames)(objectClass=group))";

/// What the search found: how many groups were read, and member DN -> the groups it is a
/// direct member of.
pub type Memberships = (usize, BTreeMap<Dn, BTreeSet<Dn>>);

impl Directory {
    /// Reads every group under `base` with its `member_attribute` values and inverts it.
    /// Member values that are not DNs are left out with a log line (they cannot be accounts).
    pub async fn memberships(
        &mut self,
        base: &Dn,
        member_attribute: &str,
    ) -> Result<Memberships, DirectoryError> {
        let entries = self
            .paged_group_search(base, GROUP_FILTER, &[member_attribute])
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
            let mut values = Vec::new();
            for (name, found) in entry.attrs {
                let lower = name.to_ascii_lowercase();
                let Some(options) = lower.strip_prefix(&wanted) else {
                    continue;
                };
                if options.is_empty() {
                    values.extend(found);
                } else if let Some(range) = options.strip_prefix(";range=") {
                    values.extend(found);
                    if let Some(next) = next_range_start(range, &group, &name)? {
                        values.extend(self.rest_of_range(&group, member_attribute, next).await?);
                    }
                }
            }
            for value in values {
                match Dn::parse(&value) {
                    Ok(member) => {
                        by_member.entry(member).or_default().insert(group.clone());
                    }
                    Err(_) => {
                        tracing::debug!(group = %group, member = %value, "ignoring a member value that is not a DN")
                    }
                }
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

    /// The values of a ranged attribute from `start` on, one base read per range.
    async fn rest_of_range(
        &mut self,
        group: &Dn,
        member_attribute: &str,
        mut start: usize,
    ) -> Result<Vec<String>, DirectoryError> {
        let wanted = member_attribute.to_ascii_lowercase();
        let mut values = Vec::new();
        loop {
            let requested = format!("{member_attribute};range={start}-*");
            let (entries, _) = self
                .ldap
                .with_timeout(self.config.operation_timeout)
                .search(
                    group.as_str(),
                    Scope::Base,
                    "(objectClass=*)",
                    vec![requested.as_str()],
                )
                .await
                .and_then(|r| r.success())
                .map_err(|e| ldap_error("read group members of", group.as_str(), e))?;
            let Some(entry) = entries.into_iter().next() else {
                return Ok(values);
            };
            let mut next = None;
            for (name, found) in SearchEntry::construct(entry).attrs {
                let lower = name.to_ascii_lowercase();
                let Some(range) = lower
                    .strip_prefix(&wanted)
                    .and_then(|o| o.strip_prefix(";range="))
                else {
                    continue;
                };
                values.extend(found);
                next = next_range_start(range, group, &name)?;
            }
            match next {
                Some(next) if next > start => start = next,
                _ => return Ok(values),
            }
        }
    }

    /// A paged subtree search (Simple Paged Results), referrals dropped (`EntriesOnly` first:
    /// AD returns referrals when searching from the domain root).
    async fn paged_group_search(
        &mut self,
        base: &Dn,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<SearchEntry>, DirectoryError> {
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(self.config.page_size)),
        ];
        let fail = |e| ldap_error("search for groups under", base.as_str(), e);
        let mut stream = self
            .ldap
            .with_timeout(self.config.operation_timeout)
            .streaming_search_with(
                adapters,
                base.as_str(),
                Scope::Subtree,
                filter,
                attrs.to_vec(),
            )
            .await
            .map_err(fail)?;
        let mut entries = Vec::new();
        while let Some(entry) = stream.next().await.map_err(fail)? {
            entries.push(SearchEntry::construct(entry));
        }
        stream.finish().await.success().map_err(fail)?;
        Ok(entries)
    }
}

/// From `START-END` (an attribute option's range): `Some(END + 1)` when more values follow,
/// `None` when the range ends in `*` (the last one).
fn next_range_start(range: &str, group: &Dn, name: &str) -> Result<Option<usize>, DirectoryError> {
    let unreadable = || DirectoryError::Transport {
        operation: "read group members of",
        dn: group.to_string(),
        message: format!("unreadable range in attribute {name}"),
    };
    let (_, end) = range.split_once('-').ok_or_else(unreadable)?;
    if end == "*" {
        return Ok(None);
    }
    end.parse::<usize>()
        .map(|end| Some(end + 1))
        .map_err(|_| unreadable())
}

fn ldap_error(operation: &'static str, dn: &str, error: LdapError) -> DirectoryError {
    match error {
        LdapError::LdapResult { result } => DirectoryError::Operation {
            operation,
            dn: dn.to_string(),
            code: result.rc,
            message: describe_rc(result.rc, &result.text),
        },
        other => DirectoryError::Transport {
            operation,
            dn: dn.to_string(),
            message: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_say_where_the_next_one_starts() {
        let group = Dn::parse("cn=g,dc=example,dc=org").unwrap();
        assert_eq!(
            next_range_start("0-1499", &group, "member;range=0-1499").unwrap(),
            Some(1500)
        );
        assert_eq!(
            next_range_start("1500-*", &group, "member;range=1500-*").unwrap(),
            None
        );
        let err = next_range_start("x", &group, "member;range=x").unwrap_err();
        assert!(
            err.to_string()
                .contains("unreadable range in attribute member;range=x")
                && err.to_string().contains("cn=g,dc=example,dc=org"),
            "{err}"
        );
    }
}
