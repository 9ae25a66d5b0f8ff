//! Keeping `groupOfNames` valid: a group must keep one member at every moment, so the
//! configured placeholder goes in before a group can lose its last real member and comes out
//! once it has real members again.
//!
//! "Can lose" is not "loses at the end". `apply` runs the accounts side by side (round `k` runs
//! step `k` of every account) and a removal never waits for another account's addition
//! (removing access never waits), so when every member a group has now is removed, the group
//! may be empty for a moment even though new members replace them: the one member leaving a
//! team may be taken out before the two joining it are added, and a modify that takes out the
//! last member is refused (object class violation). So the placeholder goes in whenever no
//! present member of the group stays through the plan, whatever the membership at the end, and
//! then no order of the accounts' steps, and no failure of an addition, empties the group. A
//! member stays when no step removes it; a member value rewritten after a move stays (the
//! rewrite adds the new value and deletes the old one in one modify).
//!
//! Ordering the additions before the removals instead would make a leaver's removal wait on
//! someone else's addition, which may fail; merging them into one modify would need them in one
//! round. Groups that may be empty (Active Directory) need none of this
//! (`groups_require_member` is false there).

use super::*;

impl<'a> Builder<'a> {
    /// For each managed group, works out which of its members stay through the plan and its
    /// membership after it; if none stays, adds the placeholder first, and if the placeholder
    /// is (or goes) in and real members will be there at the end, removes it last.
    pub(super) fn plan_placeholders(&mut self) {
        let policy = self.input.policy;
        if !policy.groups_require_member {
            return;
        }
        let touched = touched_members(&self.accounts);
        let mut changes = Vec::new();
        // Every managed group, and the other groups this plan takes a member out of (a leaver
        // leaving a hand-granted group): hrsync leaves the others as it found them.
        let others = self
            .other_memberships
            .iter()
            .filter(|(group, _)| touched.contains_key(**group));
        for (group, before) in self.memberships.iter().chain(others) {
            let after = GroupAfter {
                before,
                touched: touched.get(*group),
            };
            let Some(placeholder) = &policy.empty_group_placeholder else {
                if after.members() == 0 {
                    self.warnings.insert(format!(
                        "group {group} would lose its last member and no \
                         groups.empty_group_placeholder is set; the removal will fail"
                    ));
                } else if after.may_become_empty(None) {
                    self.warnings.insert(format!(
                        "every member of group {group} is removed and no \
                         groups.empty_group_placeholder is set; the last removal fails if it \
                         runs before the new members are added"
                    ));
                }
                continue;
            };
            // hrsync takes a placeholder out only of the groups it manages: in another group
            // it may be somebody else's.
            let managed = self.memberships.contains_key(*group);
            changes.extend(
                placeholder_changes(group, placeholder, &after)
                    .into_iter()
                    .filter(|c| managed || c.action == GroupAction::AddPlaceholder),
            );
        }
        self.group_changes.extend(changes);
    }
}

/// What the plan does to one group's members.
#[derive(Default)]
struct Touched<'a> {
    /// Each member the plan adds or removes, with whether it is in the group after the plan
    /// (the last change wins, as it would in the group). Everyone else is as read, so the
    /// group's size after follows without copying its members.
    after: BTreeMap<&'a Dn, bool>,
    /// The members as read that a removal takes out at some point (following a rewrite of the
    /// value: a value rewritten and then removed is taken out).
    taken_out: BTreeSet<&'a Dn>,
}

/// What the plan does to each group's members, by group.
fn touched_members(accounts: &[AccountPlan]) -> BTreeMap<&Dn, Touched<'_>> {
    let mut touched: BTreeMap<&Dn, Touched> = BTreeMap::new();
    for account in accounts {
        let mut current = &account.dn;
        // The value as read that the account's value in a group was rewritten from, by group.
        let mut rewritten: Vec<(&Dn, &Dn)> = Vec::new();
        for change in &account.changes {
            match &change.action {
                Action::Create { dn, .. } => current = dn,
                Action::Move { to, .. } => current = to,
                Action::AddToGroup { group } => {
                    touched
                        .entry(group)
                        .or_default()
                        .after
                        .insert(current, true);
                }
                Action::RemoveFromGroup { group } => {
                    let read = rewritten
                        .iter()
                        .rev()
                        .find(|(g, _)| *g == group)
                        .map_or(current, |(_, from)| *from);
                    let members = touched.entry(group).or_default();
                    members.after.insert(current, false);
                    members.taken_out.insert(read);
                }
                Action::RenameMember { group, from, to } => {
                    let read = rewritten
                        .iter()
                        .rev()
                        .find(|(g, _)| *g == group)
                        .map_or(from, |(_, from)| *from);
                    rewritten.push((group, read));
                    let members = touched.entry(group).or_default();
                    members.after.insert(from, false);
                    members.after.insert(to, true);
                }
                _ => {}
            }
        }
    }
    touched
}

/// A group's membership after the plan: as read, but for the members the plan touches.
struct GroupAfter<'g> {
    before: &'g BTreeSet<Dn>,
    touched: Option<&'g Touched<'g>>,
}

impl GroupAfter<'_> {
    fn contains(&self, member: &Dn) -> bool {
        self.touched
            .and_then(|t| t.after.get(member))
            .copied()
            .unwrap_or_else(|| self.before.contains(member))
    }

    fn members(&self) -> isize {
        self.touched.map_or(0, |t| {
            t.after
                .iter()
                .filter(|(member, after)| **after != self.before.contains(**member))
                .map(|(_, after)| if *after { 1 } else { -1 })
                .sum::<isize>()
        }) + self.before.len() as isize
    }

    /// Whether the group has real members (not `placeholder`) now and none of them stays
    /// through the plan: in some order of the accounts' steps, the group is left without a
    /// real member for a moment.
    fn may_become_empty(&self, placeholder: Option<&Dn>) -> bool {
        let real = |member: &Dn| Some(member) != placeholder;
        let real_before = self.before.iter().filter(|m| real(m)).count();
        let taken_out = self.touched.map_or(0, |t| {
            t.taken_out
                .iter()
                .filter(|m| real(m) && self.before.contains(**m))
                .count()
        });
        real_before > 0 && taken_out == real_before
    }
}

/// The placeholder changes `group` needs: in before the accounts' changes when it could become
/// empty, out after them when it has real members at the end.
fn placeholder_changes(group: &Dn, placeholder: &Dn, after: &GroupAfter) -> Vec<GroupChange> {
    let has_placeholder = after.before.contains(placeholder);
    let real_after = after.members() - isize::from(after.contains(placeholder));
    let change = |action, why: &str| GroupChange {
        group: group.clone(),
        action,
        member: placeholder.clone(),
        reason: Reason::new(why, "groups.empty_group_placeholder"),
    };
    let mut changes = Vec::new();
    let adding = !has_placeholder && after.may_become_empty(Some(placeholder));
    if adding {
        changes.push(change(
            GroupAction::AddPlaceholder,
            if real_after == 0 {
                "the group's last member is removed and groupOfNames requires one"
            } else {
                "every member the group has now is removed, and groupOfNames requires one at \
                 every moment, also before the new members are in"
            },
        ));
    }
    if real_after > 0 && (has_placeholder || adding) {
        changes.push(change(
            GroupAction::RemovePlaceholder,
            "the group has real members again",
        ));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Lifecycle;

    fn dn(s: &str) -> Dn {
        Dn::parse(s).expect("test DN")
    }

    fn account(uid: &str, actions: Vec<Action>) -> AccountPlan {
        AccountPlan {
            employee_id: uid.into(),
            lifecycle: Lifecycle::Mover,
            dn: dn(&format!("uid={uid},ou=people,dc=ex")),
            before: None,
            changes: actions
                .into_iter()
                .map(|action| Change {
                    action,
                    reason: Reason::new("fact", "rule"),
                })
                .collect(),
        }
    }

    /// The placeholder changes of `group` (holding `members` as read) under `accounts`' changes.
    fn placeholders(members: &[&str], accounts: &[AccountPlan]) -> Vec<(GroupAction, String)> {
        let group = dn("cn=team,ou=groups,dc=ex");
        let before: BTreeSet<Dn> = members.iter().map(|m| dn(m)).collect();
        let touched = touched_members(accounts);
        let after = GroupAfter {
            before: &before,
            touched: touched.get(&group),
        };
        placeholder_changes(&group, &dn("cn=placeholder"), &after)
            .into_iter()
            .map(|c| (c.action, c.reason.fact))
            .collect()
    }

    fn team() -> Dn {
        dn("cn=team,ou=groups,dc=ex")
    }

    const A: &str = "uid=a,ou=people,dc=ex";
    const B: &str = "uid=b,ou=people,dc=ex";

    /// Issue 16: the one member leaving while two join. The group is not empty at the end, but
    /// apply may take the member out before adding the others: the placeholder goes in first
    /// and out last.
    #[test]
    fn a_group_whose_members_are_all_replaced_gets_the_placeholder_in_between() {
        let leaves = account("a", vec![Action::RemoveFromGroup { group: team() }]);
        let joins = |uid| account(uid, vec![Action::AddToGroup { group: team() }]);
        let changes = placeholders(&[A], &[leaves.clone(), joins("b"), joins("c")]);
        assert_eq!(
            changes.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
            [GroupAction::AddPlaceholder, GroupAction::RemovePlaceholder]
        );
        assert!(changes[0].1.contains("at every moment"), "{changes:?}");
        // The last member going with nobody joining: in, and it stays.
        assert_eq!(
            placeholders(&[A], std::slice::from_ref(&leaves)),
            [(
                GroupAction::AddPlaceholder,
                "the group's last member is removed and groupOfNames requires one".to_string()
            )]
        );
        // One member stays: the group is never empty, whatever the order.
        assert!(placeholders(&[A, B], &[leaves, joins("c")]).is_empty());
    }

    /// A member value rewritten after a move stays (one modify adds the new value and deletes
    /// the old); a value rewritten and then removed is taken out.
    #[test]
    fn a_rewritten_member_stays_and_a_rewritten_then_removed_one_does_not() {
        let moved = dn("uid=a,ou=eng,ou=people,dc=ex");
        let rewrite = Action::RenameMember {
            group: team(),
            from: dn(A),
            to: moved.clone(),
        };
        let mover = account(
            "a",
            vec![
                Action::Move {
                    from: dn(A),
                    to: moved.clone(),
                },
                rewrite.clone(),
            ],
        );
        assert!(placeholders(&[A], &[mover]).is_empty());
        // A stale value (a cut-short move) repaired and then taken out, while someone joins.
        let mut repaired = account(
            "a",
            vec![rewrite, Action::RemoveFromGroup { group: team() }],
        );
        repaired.dn = moved;
        let joins = account("b", vec![Action::AddToGroup { group: team() }]);
        assert_eq!(
            placeholders(&[A], &[repaired, joins])
                .iter()
                .map(|(a, _)| *a)
                .collect::<Vec<_>>(),
            [GroupAction::AddPlaceholder, GroupAction::RemovePlaceholder]
        );
    }

    /// A placeholder already in the group is only taken out, once real members are there at
    /// the end; a group of the placeholder alone stays as it is.
    #[test]
    fn a_placeholder_already_in_goes_when_real_members_are_there_at_the_end() {
        let placeholder = "cn=placeholder";
        let leaves = account("a", vec![Action::RemoveFromGroup { group: team() }]);
        let joins = account("b", vec![Action::AddToGroup { group: team() }]);
        assert_eq!(
            placeholders(&[placeholder, A], &[leaves.clone(), joins.clone()])
                .iter()
                .map(|(a, _)| *a)
                .collect::<Vec<_>>(),
            [GroupAction::RemovePlaceholder]
        );
        assert!(placeholders(&[placeholder, A], &[leaves]).is_empty());
        assert!(placeholders(&[placeholder], &[]).is_empty());
        assert_eq!(
            placeholders(&[placeholder], &[joins])
                .iter()
                .map(|(a, _)| *a)
                .collect::<Vec<_>>(),
            [GroupAction::RemovePlaceholder]
        );
    }
}
