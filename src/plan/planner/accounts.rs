//! The plan-accounts phase: every target's changes, planned by what the target is (a joiner, an
//! existing account, a leaver), and the actions and values they share.

use super::*;

impl<'a> Builder<'a> {
    /// An account must not arrive at a DN (created there, or moved there) into a membership
    /// nobody planned: a group value naming that DN, left by an earlier account of that name,
    /// would hand the group to the newcomer. Such values are taken out (before a creation, right
    /// after a move: a membership change names the account where it is at that point), in the
    /// managed groups `role` does not give (all of them for a leaver: `role` is `None`) and in
    /// every other group under the group bases. The value names no entry at planning time, so
    /// nobody loses anything; each removal is in the plan with its reason, for review.
    pub(super) fn inherited_values(&self, dn: &Dn, role: Option<&RoleAssignment>) -> Vec<Change> {
        let managed = self
            .member_of
            .of(dn)
            .iter()
            .map(|(_, _, group)| *group)
            .filter(|group| role.is_none_or(|role| !role.groups.contains_key(*group)));
        managed
            .chain(self.other_groups_of(dn))
            .map(|group| Change {
                action: Action::RemoveFromGroup {
                    group: group.clone(),
                },
                reason: Reason::new(
                    format!(
                        "{dn} is already a member value of this group, left by an earlier \
                         account of that name"
                    ),
                    "an account arrives with its role's groups only",
                ),
            })
            .collect()
    }

    /// Plans every target's account and adds what that finds to the plan.
    pub(super) fn plan_accounts(&mut self, targets: &[Target<'a>]) {
        let final_dns = FinalDns::new(targets);
        for planned in self.plan_targets(targets, &final_dns) {
            self.accounts.extend(planned.accounts);
            self.skipped.extend(planned.skipped);
            self.warnings.extend(planned.warnings);
        }
    }

    /// Plans every target's account, each on its own: one target's plan reads the others'
    /// final DNs but nothing else planning them finds. So above `self.parallel_from` targets,
    /// the first and the second half are planned on two threads, and the halves' findings, in
    /// that order, are what planning them one after another finds.
    fn plan_targets(&self, targets: &[Target<'a>], final_dns: &FinalDns) -> Vec<Planned> {
        let plan_all = |targets: &[Target<'a>]| {
            let mut planned = Planned::default();
            for target in targets {
                self.plan_account(target, final_dns, &mut planned);
            }
            planned
        };
        if targets.len() < self.parallel_from {
            return vec![plan_all(targets)];
        }
        let (first, second) = targets.split_at(targets.len() / 2);
        std::thread::scope(|scope| {
            let second = scope.spawn(|| plan_all(second));
            let first = plan_all(first);
            let second = second
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            vec![first, second]
        })
    }

    fn plan_account(&self, target: &Target<'a>, final_dns: &FinalDns, planned: &mut Planned) {
        match &target.intent {
            Intent::Provision {
                existing: None,
                role,
                hold,
            } => self.plan_joiner(target, role, hold.as_deref(), final_dns, planned),
            Intent::Provision {
                existing: Some(account),
                role,
                hold,
            } => self.plan_existing(target, account, role, hold.as_deref(), final_dns, planned),
            Intent::Deprovision { existing } => self.plan_leaver(target, existing, planned),
        }
    }

    pub(super) fn enable(&self, account: &DirectoryAccount) -> Action {
        let policy = self.input.policy;
        let expiry = account.values("accountExpires").first();
        Action::Enable {
            method: policy.disable,
            account_control: account.account_control.map(|before| ControlChange {
                before,
                after: before & !UAC_ACCOUNTDISABLE,
            }),
            set_password: !account.password_set,
            clear_expiry: policy.expire_leavers
                && expiry.is_some_and(|v| v != "0" && v != ACCOUNT_NEVER_EXPIRES),
        }
    }

    pub(super) fn disable(&self, account: &DirectoryAccount) -> Action {
        let policy = self.input.policy;
        Action::Disable {
            method: policy.disable,
            account_control: account.account_control.map(|before| ControlChange {
                before,
                after: before | UAC_ACCOUNTDISABLE,
            }),
            expires: policy
                .expire_leavers
                .then(|| filetime(self.input.now).to_string()),
        }
    }

    /// Attributes the directory cannot create an account without: a joiner missing one is
    /// skipped with the reason instead of failing mid-run, and an existing account keeps its
    /// value rather than losing it.
    pub(super) fn is_required(&self, attribute: &str) -> bool {
        self.input
            .policy
            .required_attributes
            .iter()
            .any(|r| r.eq_ignore_ascii_case(attribute))
    }

    /// The DN of the employee's manager's account, as it will be after the plan.
    pub(super) fn manager_dn<'d>(
        &self,
        employee: &Employee,
        final_dns: &FinalDns<'d>,
        warnings: &mut BTreeSet<String>,
    ) -> Option<&'d Dn> {
        let manager_id = employee.manager_id()?;
        if manager_id == employee.id {
            warnings.insert(format!(
                "employee {}: HR names the employee as their own manager; manager left unset",
                employee.id
            ));
            return None;
        }
        match final_dns.get(manager_id) {
            Some(dn) => Some(dn),
            None => {
                warnings.insert(format!(
                    "employee {}: manager {manager_id} has no account hrsync manages; manager left unset",
                    employee.id
                ));
                None
            }
        }
    }
}

/// `accountExpires` value meaning "never" (as is 0).
const ACCOUNT_NEVER_EXPIRES: &str = "9223372036854775807";

/// A time as a Windows FILETIME: 100-nanosecond intervals since 1601-01-01 UTC.
fn filetime(time: DateTime<Utc>) -> i64 {
    const EPOCH_DIFFERENCE_SECS: i64 = 11_644_473_600;
    (time.timestamp() + EPOCH_DIFFERENCE_SECS) * 10_000_000
        + i64::from(time.timestamp_subsec_nanos() / 100)
}
