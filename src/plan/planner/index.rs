//! The planner's indexes: accounts by correlation value, memberships by member, final DNs by
//! employee id. Each is a sorted vector searched in place of a map holding a list per key.

use super::*;

/// Where each target's account will be once the plan is applied, by employee id: what
/// `manager_dn` refers to.
pub(super) struct FinalDns<'t> {
    /// Sorted by id, stably, so of two targets with one id (HR rejects duplicates, but the
    /// planner does not count on it) the later comes last.
    by_id: Vec<(&'t str, &'t Dn)>,
}

impl<'t> FinalDns<'t> {
    /// The targets come in id order already, so the sort only checks that; a vector instead of
    /// a map is one allocation instead of a node per handful of employees.
    pub(super) fn new(targets: &'t [Target]) -> Self {
        Self::from_pairs(targets.iter().map(|t| (t.employee.id.as_str(), &t.dn)))
    }

    pub(super) fn from_pairs(pairs: impl Iterator<Item = (&'t str, &'t Dn)>) -> Self {
        let mut by_id: Vec<(&str, &Dn)> = pairs.collect();
        by_id.sort_by(|a, b| a.0.cmp(b.0));
        Self { by_id }
    }

    /// The final DN of the account of the employee `id`; of the last target with that id, as
    /// a map collected from the targets would hold.
    pub(super) fn get(&self, id: &str) -> Option<&'t Dn> {
        let end = self.by_id.partition_point(|(target, _)| *target <= id);
        let (target, dn) = self.by_id.get(end.checked_sub(1)?)?;
        (*target == id).then_some(*dn)
    }
}

/// The correlated accounts by correlation value: sorted once (stably, so accounts with the same
/// value stay in directory order) instead of a map with a list per account.
pub(super) struct ById<'a> {
    accounts: Vec<&'a DirectoryAccount>,
}

impl<'a> ById<'a> {
    /// The accounts correlated to an id in `scope` (all correlated accounts without one).
    pub(super) fn new(accounts: &'a [DirectoryAccount], scope: Option<&BTreeSet<String>>) -> Self {
        let mut accounts: Vec<&DirectoryAccount> = accounts
            .iter()
            .filter(|a| {
                a.correlation_id
                    .as_ref()
                    .is_some_and(|id| scope.is_none_or(|scope| scope.contains(id)))
            })
            .collect();
        accounts.sort_by(|a, b| a.correlation_id.cmp(&b.correlation_id));
        Self { accounts }
    }

    /// The accounts carrying `id`, in directory order.
    pub(super) fn get(&self, id: &str) -> &[&'a DirectoryAccount] {
        let start = self
            .accounts
            .partition_point(|a| a.correlation_id.as_deref() < Some(id));
        let len = self.accounts[start..]
            .iter()
            .take_while(|a| a.correlation_id.as_deref() == Some(id))
            .count();
        &self.accounts[start..start + len]
    }

    /// Each correlation value with its accounts, in value order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&'a str, &[&'a DirectoryAccount])> {
        self.accounts
            .chunk_by(|a, b| a.correlation_id == b.correlation_id)
            .map(|accounts| {
                (
                    accounts[0].correlation_id.as_deref().unwrap_or_default(),
                    accounts,
                )
            })
    }
}

/// A DN's hash, which the planner's DN indexes sort by first (then by the DN): comparing two
/// words instead of two texts elsewhere in memory, which at company scale made most of the
/// cost of sorting and searching by DN. Only the indexes see it; nothing iterates them in its
/// order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct DnHash(pub(super) u64);

impl DnHash {
    pub(super) fn of(dn: &Dn) -> Self {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        dn.hash(&mut hasher);
        Self(hasher.finish())
    }
}

/// Every membership in a managed group as read, by member.
pub(super) struct MemberOf<'a> {
    /// (member's [`DnHash`], member, managed group), sorted by hash, member and then group, so
    /// a member's groups are one run in group order, and there is no list per member to
    /// allocate.
    pub(super) sorted: Vec<(DnHash, &'a Dn, &'a Dn)>,
    /// Where each hash's run in `sorted` starts. Every account planned asks for its groups,
    /// and binary searches over `sorted` (2.4 MB at 100k members) missed the cache at nearly
    /// every step; this is one probe. A hash map is fine here (clippy.toml bans them for
    /// order's sake): it is only ever looked up, never iterated, so no order can leak from it
    /// into a plan.
    #[allow(clippy::disallowed_types)]
    starts: std::collections::HashMap<DnHash, usize>,
}

impl<'a> MemberOf<'a> {
    pub(super) fn new(mut sorted: Vec<(DnHash, &'a Dn, &'a Dn)>) -> Self {
        // Stable: the groups come in group order and stay so under each member.
        sorted.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        #[allow(clippy::disallowed_types)] // Lookup only; see the field.
        let mut starts = std::collections::HashMap::with_capacity(sorted.len());
        for (i, (hash, _, _)) in sorted.iter().enumerate() {
            starts.entry(*hash).or_insert(i);
        }
        Self { sorted, starts }
    }

    /// `member`'s memberships, in group order.
    pub(super) fn of(&self, member: &Dn) -> &[(DnHash, &'a Dn, &'a Dn)] {
        self.run_of(DnHash::of(member), member)
    }

    /// The run of `sorted` that is `member`'s (whose hash is `hash`). Two DNs with one hash
    /// share a run, each sorted by DN within it, so the member is looked for along it.
    pub(super) fn run_of(&self, hash: DnHash, member: &Dn) -> &[(DnHash, &'a Dn, &'a Dn)] {
        let Some(&hash_start) = self.starts.get(&hash) else {
            return &[];
        };
        let same_hash = self.sorted[hash_start..]
            .iter()
            .take_while(|(h, _, _)| *h == hash);
        let Some(offset) = same_hash.clone().position(|(_, m, _)| *m == member) else {
            return &[];
        };
        let start = hash_start + offset;
        let len = same_hash
            .skip(offset)
            .take_while(|(_, m, _)| *m == member)
            .count();
        &self.sorted[start..start + len]
    }
}
