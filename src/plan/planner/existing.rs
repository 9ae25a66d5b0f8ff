//! Planning an existing account of someone who should have one: enabled (or held disabled),
//! its attributes and groups following the role, in the role's OU.

use super::*;

impl<'a> Builder<'a> {
    /// The changes that bring `account` to what `role` (and `hold`) say. The common case at
    /// company scale is an account that is already as it should be, so everything is compared
    /// against the account as read, and what a plan records (the state before, values, reasons)
    /// is only built for a change.
    pub(super) fn plan_existing(
        &self,
        target: &Target<'a>,
        account: &DirectoryAccount,
        role: &RoleAssignment,
        hold: Option<&Reason>,
        final_dns: &FinalDns,
        planned: &mut Planned,
    ) {
        let employee = target.employee;
        if let Some(why) = self.someone_elses_lock(target, account, hold) {
            // Someone HR says should work cannot: said among the warnings, before the changes.
            planned.warnings.insert(format!(
                "employee {} cannot log in: {} is locked outside hrsync while HR says {}; left \
                 alone (see skipped)",
                employee.id,
                account.dn,
                status_fact(employee, target.status)
            ));
            planned
                .skipped
                .push(skipped(Some(&employee.id), Some(&account.dn), why));
            return;
        }
        let current_groups = self.member_of.of(&account.dn);
        let mut changes = Vec::new();
        let enabling = (account.disabled && hold.is_none())
            .then(|| self.lifecycle_of_enable(employee, account));
        if let Some(lifecycle) = enabling {
            let enable = self.enable_change(target, account, lifecycle);
            let unmark = self.unmark(account, &enable.reason);
            changes.push(enable);
            changes.extend(unmark);
        }
        changes.extend(self.correlation_change(employee, account));
        if let Some(reason) = hold.filter(|_| !account.disabled) {
            changes.push(Change {
                action: self.disable(account),
                reason: reason.clone(),
            });
            changes.push(self.mark_disabled(reason));
        }
        self.attribute_changes(employee, account, final_dns, planned, &mut changes);
        for (_, _, group) in current_groups {
            if !role.groups.contains_key(*group) {
                changes.push(self.removal(target, group));
            }
        }
        if account.dn != target.dn {
            self.move_changes(account, &target.dn, role, current_groups, &mut changes);
        }
        for (group, reason) in &role.groups {
            if !current_groups.iter().any(|(_, _, g)| *g == group)
                && self.memberships.contains_key(group)
            {
                changes.push(Change {
                    action: Action::AddToGroup {
                        group: group.clone(),
                    },
                    reason: reason.clone(),
                });
            }
        }
        changes
            .extend(self.unmark_absent(account, &format!("HR has employee {} again", employee.id)));
        // Last: it waits for every step before it, the group adds included.
        let joining = self.finish_joining(account);
        let lifecycle = match joining {
            Some(_) => Lifecycle::Joiner,
            None => enabling.unwrap_or_else(|| lifecycle_of_changes(&changes)),
        };
        changes.extend(joining);
        if changes.is_empty() {
            return;
        }
        planned.accounts.push(AccountPlan {
            employee_id: employee.id.clone(),
            lifecycle,
            dn: account.dn.clone(),
            before: Some(self.state_of(account)),
            changes,
        });
    }

    /// What enabling a disabled account is: a leaver in the disabled OU coming back (rehire);
    /// elsewhere, a pre-hire account whose start date has come (hired in the last 30 days, or
    /// never given a password: joiner), or someone back from leave (return).
    fn lifecycle_of_enable(&self, employee: &Employee, account: &DirectoryAccount) -> Lifecycle {
        let in_disabled_ou = account
            .dn
            .is_child_of(&self.input.mappings.account.disabled_ou);
        let today = self.input.now.date_naive();
        let recently_hired = !account.password_set
            || employee
                .hire_date
                .is_some_and(|h| (today - h).num_days() <= RECENT_START_DAYS);
        match (in_disabled_ou, recently_hired) {
            (true, _) => Lifecycle::Rehire,
            (false, true) => Lifecycle::Joiner,
            (false, false) => Lifecycle::Return,
        }
    }

    /// Enabling a disabled account, for the reason `lifecycle` gives.
    fn enable_change(
        &self,
        target: &Target,
        account: &DirectoryAccount,
        lifecycle: Lifecycle,
    ) -> Change {
        let rule = match lifecycle {
            Lifecycle::Rehire => "rehire",
            Lifecycle::Joiner => "joiner: the start date has come",
            _ => "return from leave",
        };
        Change {
            action: self.enable(account),
            reason: Reason::new(
                format!(
                    "status = {} but the account is disabled",
                    status_fact(target.employee, target.status)
                ),
                rule,
            ),
        }
    }

    /// An account taken over from an old id (see `conversions`) gets the new one.
    fn correlation_change(
        &self,
        employee: &Employee,
        account: &DirectoryAccount,
    ) -> Option<Change> {
        if account.correlation_id.as_deref() == Some(employee.id.as_str()) {
            return None;
        }
        let correlation = &self.input.mappings.correlation;
        let by = correlation
            .fallback
            .as_ref()
            .map_or_else(String::new, |f| f.attribute.clone());
        Some(Change {
            action: Action::SetAttribute {
                attribute: correlation.attribute.clone(),
                before: account.correlation_id.iter().cloned().collect(),
                after: vec![employee.id.clone()],
            },
            reason: Reason::new(
                format!("HR lists this person under a new id; the account matches by {by}"),
                "correlation.fallback_attribute",
            ),
        })
    }

    /// Each managed attribute whose value HR's record changes. For an existing account the
    /// naming attributes are not rendered (they never change after creation) and a missing
    /// field means "no value", except where the directory requires one.
    fn attribute_changes(
        &self,
        employee: &Employee,
        account: &DirectoryAccount,
        final_dns: &FinalDns,
        planned: &mut Planned,
        changes: &mut Vec<Change>,
    ) {
        let manager_dn = self.manager_dn(employee, final_dns, &mut planned.warnings);
        for attribute in &self.managed_attributes {
            let after = attribute
                .template
                .render(|field| match field {
                    MANAGER_DN => manager_dn.map(Dn::as_str),
                    UNIQUE => None,
                    _ => lookup(employee, field),
                })
                .ok();
            let after = after.as_slice();
            let read = account
                .attributes
                .get(&attribute.key)
                .map_or(&[][..], |v| v);
            // hrsync's marks share an attribute a mapping may manage: they are not its values.
            let (marks, current): (Vec<String>, Vec<String>) = read
                .iter()
                .cloned()
                .partition(|v| crate::plan::is_hrsync_mark(v));
            let current = current.as_slice();
            if after.is_empty() && attribute.required {
                if !current.is_empty() {
                    planned.warnings.insert(format!(
                        "employee {}: {} would become empty; it is required, so it is left as it is",
                        employee.id, attribute.name
                    ));
                }
                continue;
            }
            if !same_values(after, current)
                && !crate::mapping::same_dn_values(attribute.name, after, current)
            {
                let fields: Vec<_> = attribute.template.fields().collect();
                changes.push(Change {
                    action: Action::SetAttribute {
                        attribute: attribute.name.to_string(),
                        before: read.to_vec(),
                        after: after.iter().chain(&marks).cloned().collect(),
                    },
                    reason: Reason::new(
                        describe_fields(employee, &fields, final_dns),
                        format!(
                            "account.attributes.{} = \"{}\"",
                            attribute.name, attribute.template
                        ),
                    ),
                });
            }
        }
    }

    /// Taking the account out of a managed group its role does not give.
    fn removal(&self, target: &Target, group: &Dn) -> Change {
        let employee = target.employee;
        let reason = if target.status == EmploymentStatus::Leave
            && self.input.policy.leave_remove_groups.contains(group)
        {
            Reason::new(
                format!("status = {}", status_fact(employee, target.status)),
                "lifecycle.leave_remove_groups",
            )
        } else {
            Reason::fact(format!(
                "no rule gives this group to {}",
                role_facts(employee)
            ))
        };
        Change {
            action: Action::RemoveFromGroup {
                group: group.clone(),
            },
            reason,
        }
    }

    /// The move into the role's OU and, where member values do not follow a rename, the
    /// rewrite of the account's value in each group it stays in: the managed groups its role
    /// keeps, and every other group under the group bases (keeping access is not granting it).
    fn move_changes(
        &self,
        account: &DirectoryAccount,
        to: &Dn,
        role: &RoleAssignment,
        current_groups: &[(DnHash, &'a Dn, &'a Dn)],
        changes: &mut Vec<Change>,
    ) {
        changes.push(Change {
            action: Action::Move {
                from: account.dn.clone(),
                to: to.clone(),
            },
            reason: role.ou_reason.clone(),
        });
        // Right after the move: a membership change names the account where it is then.
        changes.extend(self.inherited_values(to, Some(role)));
        let kept = current_groups
            .iter()
            .map(|(_, _, group)| *group)
            .filter(|group| role.groups.contains_key(*group))
            .chain(self.other_groups_of(&account.dn))
            .collect();
        changes.extend(self.values_following(&account.dn, to, kept));
    }

    /// Why an account that should work is left alone: a lock hrsync did not set stops its
    /// login (an admin's, an offboarding, a 389 role's), and only its owner may lift it. An
    /// account on hold is locked by hrsync anyway.
    fn someone_elses_lock(
        &self,
        target: &Target<'a>,
        account: &DirectoryAccount,
        hold: Option<&Reason>,
    ) -> Option<String> {
        if hold.is_some() {
            return None;
        }
        let status = || status_fact(target.employee, target.status);
        if account.disabled && !self.locked_by_hrsync(account) {
            let status = status();
            return Some(format!(
                "disabled outside hrsync while HR says {status}: hrsync lifts only the locks it \
                 set (an admin's lock, an offboarding); enable it by hand if it should be"
            ));
        }
        account.locked_elsewhere.as_ref().map(|lock| {
            let status = status();
            format!(
                "{lock} while HR says {status}: a lock hrsync neither sets nor lifts; take the \
                 account out of it by hand if it should work"
            )
        })
    }

    /// Where member values do not follow a rename, the rewrite of an account's value from
    /// `from` to `to` in each of the `groups` it stays in.
    pub(super) fn values_following(&self, from: &Dn, to: &Dn, groups: Vec<&Dn>) -> Vec<Change> {
        if self.renames_followed() {
            return Vec::new();
        }
        groups
            .into_iter()
            .map(|group| Change {
                action: Action::RenameMember {
                    group: group.clone(),
                    from: from.clone(),
                    to: to.clone(),
                },
                reason: Reason::new(
                    "the account moved and stays in this group",
                    "member values follow the move",
                ),
            })
            .collect()
    }
}

/// The lifecycle of an enabled account's changes: a mover when its OU or groups change, an
/// update when only attributes do.
fn lifecycle_of_changes(changes: &[Change]) -> Lifecycle {
    let moves = changes.iter().any(|c| {
        matches!(
            c.action,
            Action::Move { .. } | Action::AddToGroup { .. } | Action::RemoveFromGroup { .. }
        )
    });
    if moves {
        Lifecycle::Mover
    } else {
        Lifecycle::Update
    }
}

/// A disabled account (outside the disabled OU) of someone hired this many days ago or less is
/// a joiner whose start date has come; of someone hired longer ago, a return from leave.
const RECENT_START_DAYS: i64 = 30;
