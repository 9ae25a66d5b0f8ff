//! Member values left behind by a move that was cut short.
//!
//! Where member values do not follow a rename (OpenLDAP without refint), an apply cut short
//! between an account's move and the rewrite of its memberships leaves the old DN in the groups:
//! a dangling value that hands the group to whoever is later created under that name. Such a
//! value is a managed group's member that is no account, sits in an OU the mappings place
//! accounts in, and has the RDN of exactly one account elsewhere. For an account this plan
//! manages, it is rewritten as the account's DN before any other change, and taken out again
//! unless the account's role keeps the group; anything less certain is only reported.

use super::*;
use index::MemberOf;

/// Stale member values by the DN of the account whose move left them, each as (group, value).
type Stale = BTreeMap<Dn, Vec<(Dn, Dn)>>;

impl<'a> Builder<'a> {
    pub(super) fn repair_stale_members(&mut self) {
        if self.renames_followed() {
            return;
        }
        let stale = self.stale_members();
        if stale.is_empty() {
            return;
        }
        let in_hr: BTreeSet<&str> = self
            .input
            .hr
            .employees
            .iter()
            .map(|e| e.id.as_str())
            .collect();
        for (account_dn, values) in stale {
            let directory = self.input.directory;
            let Some(account) = directory.accounts.iter().find(|a| a.dn == account_dn) else {
                continue;
            };
            self.repair_account(account, values, &in_hr);
        }
    }

    /// The managed groups' members that are no entry, sit in an OU accounts are placed in, and
    /// have the RDN of exactly one account; values whose RDN several accounts have are warned
    /// about.
    fn stale_members(&mut self) -> Stale {
        // Accounts by lower-cased RDN, to find whose move a value was left behind by. Nearly
        // every member is an account, so this is only gathered for the first one that is not.
        let mut by_rdn: Option<BTreeMap<String, Vec<&DirectoryAccount>>> = None;
        let directory = self.input.directory;
        let mut stale = Stale::new();
        for (group, member) in self.members_not_entries() {
            let by_rdn = by_rdn.get_or_insert_with(|| accounts_by_rdn(directory));
            match by_rdn.get(&member.rdn().to_lowercase()).map(Vec::as_slice) {
                Some([account]) => stale
                    .entry(account.dn.clone())
                    .or_default()
                    .push((group.clone(), member.clone())),
                Some(several) => {
                    self.warnings.insert(format!(
                        "{member} in {group} is no entry and looks left behind by a move of \
                         one of {}; remove it by hand",
                        several
                            .iter()
                            .map(|a| a.dn.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                None => {}
            }
        }
        stale
    }

    /// The groups' members (managed groups and the others under the group bases) that are no
    /// entry and sit in an OU accounts are placed in, as (group, member), group by group, each
    /// group's members in order.
    fn members_not_entries(&self) -> Vec<(&'a Dn, &'a Dn)> {
        let ous: Vec<&Dn> = self.input.mappings.all_ous().collect();
        let mut not_entries = self.not_entries_in(&self.member_of, &ous);
        not_entries.extend(self.not_entries_in(&self.other_member_of, &ous));
        not_entries.sort();
        not_entries
    }

    /// [`Builder::members_not_entries`] of one index. `memberships` and the entries are both
    /// sorted by hash and DN, so one walk along both finds them without a search per member.
    fn not_entries_in(&self, memberships: &MemberOf<'a>, ous: &[&Dn]) -> Vec<(&'a Dn, &'a Dn)> {
        let mut not_entries: Vec<(&Dn, &Dn)> = Vec::new();
        let mut entries = self.entries().iter().peekable();
        for (hash, member, group) in &memberships.sorted {
            while entries
                .next_if(|(h, a)| (*h, &a.dn) < (*hash, *member))
                .is_some()
            {}
            let is_entry = entries
                .peek()
                .is_some_and(|(h, a)| h == hash && a.dn == **member);
            if !is_entry && ous.iter().any(|ou| member.is_child_of(ou)) {
                not_entries.push((*group, *member));
            }
        }
        not_entries
    }

    /// Repairs `account`'s stale `values` (group, value) when the plan manages the account,
    /// else warns about each; the repairs go before the account's other changes.
    fn repair_account(
        &mut self,
        account: &DirectoryAccount,
        values: Vec<(Dn, Dn)>,
        in_hr: &BTreeSet<&str>,
    ) {
        let account_dn = &account.dn;
        let planned = self.accounts.iter().position(|p| p.dn == *account_dn);
        let manageable = account.protected.is_none()
            && (planned.is_some()
                || account
                    .correlation_id
                    .as_deref()
                    .is_some_and(|id| in_hr.contains(id)));
        let mut repairs = Vec::new();
        let mut wanted_adds = BTreeSet::new();
        for (group, member) in values {
            let managed = self.memberships.contains_key(&group);
            let already = self
                .memberships
                .get(&group)
                .or_else(|| self.other_memberships.get(&group))
                .is_some_and(|m| m.contains(account_dn));
            if !manageable || already {
                self.warnings.insert(format!(
                    "{member} in {group} is no entry and looks left behind by a move of \
                     {account_dn}; remove it by hand"
                ));
                continue;
            }
            let reason = Reason::new(
                format!("{member} is no entry: a move of {account_dn} was cut short"),
                "member values follow the move",
            );
            repairs.push(Change {
                action: Action::RenameMember {
                    group: group.clone(),
                    from: member,
                    to: account_dn.clone(),
                },
                reason: reason.clone(),
            });
            // A group hrsync does not manage keeps its member (a leaver's plan takes it out
            // after the repair, where `lifecycle.leaver_groups` says so).
            let keeps = !managed
                || planned
                    .is_some_and(|i| self.accounts[i].changes.iter().any(|c| adds(c, &group)));
            if keeps {
                wanted_adds.insert(group);
            } else {
                repairs.push(Change {
                    action: Action::RemoveFromGroup { group },
                    reason,
                });
            }
        }
        if !repairs.is_empty() {
            self.put_repairs_first(account, planned, repairs, &wanted_adds);
        }
    }

    /// Puts `repairs` before the changes the plan has for `account` (its index in the plan's
    /// accounts, if it has any), or plans them as an update of their own.
    fn put_repairs_first(
        &mut self,
        account: &DirectoryAccount,
        planned: Option<usize>,
        mut repairs: Vec<Change>,
        wanted_adds: &BTreeSet<Dn>,
    ) {
        match planned {
            Some(i) => {
                let plan = &mut self.accounts[i];
                // The rewritten value is the membership the role wants: no add besides.
                plan.changes
                    .retain(|c| !wanted_adds.iter().any(|group| adds(c, group)));
                repairs.append(&mut plan.changes);
                plan.changes = repairs;
            }
            None => self.accounts.push(AccountPlan {
                employee_id: account.correlation_id.clone().unwrap_or_default(),
                lifecycle: Lifecycle::Update,
                dn: account.dn.clone(),
                before: Some(self.state_of(account)),
                changes: repairs,
            }),
        }
    }
}

/// Whether `change` adds the account to `group`.
fn adds(change: &Change, group: &Dn) -> bool {
    matches!(&change.action, Action::AddToGroup { group: g } if g == group)
}

/// Every account by its lower-cased RDN.
fn accounts_by_rdn(directory: &DirectorySnapshot) -> BTreeMap<String, Vec<&DirectoryAccount>> {
    let mut by_rdn: BTreeMap<String, Vec<&DirectoryAccount>> = BTreeMap::new();
    for account in &directory.accounts {
        by_rdn
            .entry(account.dn.rdn().to_lowercase())
            .or_default()
            .push(account);
    }
    by_rdn
}
