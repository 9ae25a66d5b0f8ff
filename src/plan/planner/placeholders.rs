//! Keeping `groupOfNames` valid: a group must keep one member, so the configured placeholder
//! goes in before a group loses its last real member and comes out once it has real members
//! again.

use super::*;

impl<'a> Builder<'a> {
    /// For each managed group, works out its membership after the plan; if no real member would
    /// remain, adds the placeholder first, and if the placeholder is there but real members
    /// will be, removes it last.
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
                }
                continue;
            };
            let change = placeholder_change(group, placeholder, &after);
            // hrsync takes a placeholder out only of the groups it manages: in another group
            // it may be somebody else's.
            let managed = self.memberships.contains_key(*group);
            changes.extend(change.filter(|c| managed || c.action == GroupAction::AddPlaceholder));
        }
        self.group_changes.extend(changes);
    }
}

/// Each member the plan adds or removes, by group, with whether it is in the group after the
/// plan (the last change wins, as it would in the group). Everyone else is as read, so the
/// groups' sizes after follow without copying their members.
fn touched_members(accounts: &[AccountPlan]) -> BTreeMap<&Dn, BTreeMap<&Dn, bool>> {
    let mut touched: BTreeMap<&Dn, BTreeMap<&Dn, bool>> = BTreeMap::new();
    for account in accounts {
        let mut current = &account.dn;
        for change in &account.changes {
            match &change.action {
                Action::Create { dn, .. } => current = dn,
                Action::Move { to, .. } => current = to,
                Action::AddToGroup { group } => {
                    touched.entry(group).or_default().insert(current, true);
                }
                Action::RemoveFromGroup { group } => {
                    touched.entry(group).or_default().insert(current, false);
                }
                Action::RenameMember { group, from, to } => {
                    let members = touched.entry(group).or_default();
                    members.insert(from, false);
                    members.insert(to, true);
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
    touched: Option<&'g BTreeMap<&'g Dn, bool>>,
}

impl GroupAfter<'_> {
    fn contains(&self, member: &Dn) -> bool {
        self.touched
            .and_then(|t| t.get(member))
            .copied()
            .unwrap_or_else(|| self.before.contains(member))
    }

    fn members(&self) -> isize {
        self.touched.map_or(0, |t| {
            t.iter()
                .filter(|(member, after)| **after != self.before.contains(**member))
                .map(|(_, after)| if *after { 1 } else { -1 })
                .sum::<isize>()
        }) + self.before.len() as isize
    }
}

/// The placeholder change `group` needs, if any.
fn placeholder_change(group: &Dn, placeholder: &Dn, after: &GroupAfter) -> Option<GroupChange> {
    let has_placeholder = after.before.contains(placeholder);
    let real_after = after.members() - isize::from(after.contains(placeholder));
    let real_before = after.before.len() - usize::from(has_placeholder);
    let (action, why) = if real_after == 0 && !has_placeholder && real_before > 0 {
        (
            GroupAction::AddPlaceholder,
            "the group's last member is removed and groupOfNames requires one",
        )
    } else if real_after > 0 && has_placeholder {
        (
            GroupAction::RemovePlaceholder,
            "the group has real members again",
        )
    } else {
        return None;
    };
    Some(GroupChange {
        group: group.clone(),
        action,
        member: placeholder.clone(),
        reason: Reason::new(why, "groups.empty_group_placeholder"),
    })
}
