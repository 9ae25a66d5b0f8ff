//! Planning a leaver: the account disabled first, out of every managed group and every other
//! group under the group bases (`lifecycle.leaver_groups`), into the disabled OU. Orphans under `lifecycle.disable_orphans` are planned the same way.

use super::*;

impl<'a> Builder<'a> {
    /// A terminated employee's account, on its way to `target.dn` in the disabled OU.
    pub(super) fn plan_leaver(
        &self,
        target: &Target<'a>,
        account: &DirectoryAccount,
        planned: &mut Planned,
    ) {
        let employee = target.employee;
        let mut changes = self.leaver_changes(account, &target.dn, true, || {
            Reason::new(
                format!("status = {}", status_fact(employee, target.status)),
                "leaver",
            )
        });
        changes
            .extend(self.unmark_absent(account, &format!("HR has employee {} again", employee.id)));
        // Removing access wins over finishing a joiner: a leaver is a leaver.
        changes.extend(self.finish_joining(account));
        if !changes.is_empty() {
            planned
                .accounts
                .push(self.leaver_plan(&employee.id, account, changes));
        }
    }

    /// A leaver's changes: disabled first, out of every managed group and (with
    /// `lifecycle.leaver_groups = "all"`) every other group under the group bases, into
    /// `target` (the disabled OU, unless that name is taken). Empty when that is done already;
    /// `why` is only asked for when there is something to do. With `mark`, a lock that stays
    /// in place (the disabled OU's name taken) carries hrsync's mark, so a rehire may lift it;
    /// `hrsync offboard` locks without it.
    pub(super) fn leaver_changes(
        &self,
        account: &DirectoryAccount,
        target: &Dn,
        mark: bool,
        why: impl FnOnce() -> Reason,
    ) -> Vec<Change> {
        let managed: Vec<&Dn> = self.groups_of(account).collect();
        let (left, kept) = self.other_groups_left(&account.dn);
        let moving = account.dn != *target;
        if account.disabled && managed.is_empty() && left.is_empty() && !moving {
            return Vec::new();
        }
        let why = why();
        let mut changes = Vec::new();
        if !account.disabled {
            changes.push(Change {
                action: self.disable(account),
                reason: why.clone(),
            });
            // The disabled OU says whose lock it is; an account kept elsewhere needs the mark.
            if mark && !target.is_child_of(&self.input.mappings.account.disabled_ou) {
                changes.push(self.mark_disabled(&why));
            }
        }
        changes.extend(managed.into_iter().map(|group| Change {
            action: Action::RemoveFromGroup {
                group: group.clone(),
            },
            reason: why.clone(),
        }));
        changes.extend(left.into_iter().map(|group| Change {
            action: Action::RemoveFromGroup {
                group: group.clone(),
            },
            reason: Reason {
                rule: Some("lifecycle.leaver_groups = \"all\"".to_string()),
                ..why.clone()
            },
        }));
        if moving {
            changes.push(Change {
                action: Action::Move {
                    from: account.dn.clone(),
                    to: target.clone(),
                },
                reason: Reason {
                    rule: Some("account.disabled_ou".to_string()),
                    ..why
                },
            });
            // Right after the move: a membership change names the account where it is then.
            changes.extend(self.inherited_values(target, None));
            changes.extend(self.values_following(&account.dn, target, kept));
        }
        changes
    }

    /// The groups hrsync does not manage that list `dn`: those a leaver leaves, and those it
    /// stays in (`lifecycle.leaver_keep_groups`, or all of them with `leaver_groups =
    /// "managed"`).
    fn other_groups_left(&self, dn: &Dn) -> (Vec<&'a Dn>, Vec<&'a Dn>) {
        let policy = self.input.policy;
        self.other_groups_of(dn).partition(|group| {
            policy.leaver_groups == LeaverGroups::All && !policy.leaver_keep_groups.contains(*group)
        })
    }

    /// A leaver's plan, with the account as it was read.
    pub(super) fn leaver_plan(
        &self,
        employee_id: &str,
        account: &DirectoryAccount,
        changes: Vec<Change>,
    ) -> AccountPlan {
        AccountPlan {
            employee_id: employee_id.to_string(),
            lifecycle: Lifecycle::Leaver,
            dn: account.dn.clone(),
            before: Some(self.state_of(account)),
            changes,
        }
    }

    /// With `lifecycle.disable_orphans`, accounts without an HR record are treated as leavers,
    /// once their absence is confirmed (see `absence.rs`): until then the account keeps its
    /// access, and a first miss from a source that cannot be asked only writes the mark.
    pub(super) fn deprovision_orphans(&mut self) {
        if !self.input.policy.disable_orphans {
            return;
        }
        let disabled_ou = &self.input.mappings.account.disabled_ou;
        let (mut plans, mut warnings) = (Vec::new(), Vec::new());
        for orphan in &self.orphans {
            let Some(account) = self.entry_at(&orphan.dn) else {
                continue;
            };
            let mut target = account.dn.with_parent(disabled_ou);
            if target != account.dn && self.dn_in_use(&target) {
                target = account.dn.clone();
            }
            let id = &orphan.correlation_id;
            // An orphan with nothing left to take away needs no confirmation, mark or warning.
            let nothing_to_take = || {
                self.leaver_changes(account, &target, true, || Reason::fact(""))
                    .is_empty()
            };
            let confirmed = match self.absence_of(id, account) {
                absence::Absence::Confirmed(how) => how,
                absence::Absence::FirstSeen => {
                    if !nothing_to_take() {
                        let mut plan = self.leaver_plan(id, account, vec![self.mark_absent(id)]);
                        plan.lifecycle = Lifecycle::Update;
                        plans.push(plan);
                    }
                    continue;
                }
                absence::Absence::Unconfirmed(warning) => {
                    if !nothing_to_take() {
                        warnings.push(warning);
                    }
                    continue;
                }
            };
            let fact = format!(
                "no HR record has {}={id} ({confirmed})",
                self.input.mappings.correlation.attribute
            );
            let mut changes = self.leaver_changes(account, &target, true, || {
                Reason::new(fact.clone(), "lifecycle.disable_orphans")
            });
            if !changes.is_empty() {
                // Right after the lock, before a disabled mark: AD's `info` holds one value.
                let at = usize::from(matches!(changes[0].action, Action::Disable { .. }));
                if let Some(unmark) = self.unmark_absent(account, &fact) {
                    changes.insert(at, unmark);
                }
                plans.push(self.leaver_plan(id, account, changes));
            }
            self.claimed
                .insert(target, "an orphan moved to the disabled OU");
        }
        self.accounts.extend(plans);
        self.warnings.extend(warnings);
    }
}
