//! The target phase: for each employee, what should happen to their account (the [`Intent`])
//! and the DN it should end up at.

use super::*;

impl<'a> Builder<'a> {
    /// Every employee's target, in id order so that new accounts' names (jsmith, jsmith2) do
    /// not depend on the order HR listed people in. `employees` are sorted by id.
    pub(super) fn targets(
        &mut self,
        employees: Vec<Person<'a>>,
        by_id: &ById<'a>,
        excluded: &Excluded,
        conversions: &Conversions<'a>,
    ) -> Vec<Target<'a>> {
        let mut targets = Vec::with_capacity(employees.len());
        // Both sides in id order again: each employee's account is a step along the index,
        // where a search per employee missed the cache at nearly every step at company scale.
        let mut accounts_by_id = by_id.iter().peekable();
        for person in employees {
            let id = person.employee.id.as_str();
            if excluded.contains(id) {
                continue;
            }
            if let Some(new_id) = conversions.from.get(id) {
                self.skip(
                    Some(id),
                    None,
                    format!("converted: the account now belongs to employee {new_id}"),
                );
                continue;
            }
            while accounts_by_id
                .next_if(|(account_id, _)| *account_id < id)
                .is_some()
            {}
            let existing = accounts_by_id
                .peek()
                .filter(|(account_id, _)| *account_id == id)
                .and_then(|(_, accounts)| accounts.first().copied())
                .or_else(|| conversions.adopted.get(id).copied());
            if existing.is_none()
                && self.input.hr.scope.is_some()
                && self.input.mappings.correlation.fallback.is_some()
            {
                self.skip(
                    Some(id),
                    None,
                    "no account under this id, and correlation.fallback may make an existing \
                     account theirs: only a full run, which reads every employee, decides that"
                        .to_string(),
                );
                continue;
            }
            if let Some(target) = self.target(person, existing) {
                targets.push(target);
            }
        }
        targets
    }

    /// One employee's target, or `None` (with a skip entry where there is something to say)
    /// when their account is to be left as it is or there is none to make.
    fn target(
        &mut self,
        person: Person<'a>,
        existing: Option<&'a DirectoryAccount>,
    ) -> Option<Target<'a>> {
        let Person { employee, status } = person;
        if let Some(account) = existing.filter(|a| a.held) {
            if status != EmploymentStatus::Terminated {
                self.skip(
                    Some(&employee.id),
                    Some(&account.dn),
                    "offboarded (in offboarding.hold_group): stays disabled and without managed \
                     groups until an admin takes it out of that group"
                        .to_string(),
                );
                return None;
            }
        }
        match status {
            EmploymentStatus::Active => self.provision(person, existing, None),
            EmploymentStatus::Leave => {
                let hold = self.input.policy.leave_disable.then(|| {
                    Reason::new(
                        format!("status = {}", status_fact(employee, status)),
                        "lifecycle.leave = \"disable\"",
                    )
                });
                self.provision(person, existing, hold)
            }
            EmploymentStatus::Terminated => {
                let existing = existing?;
                Some(Target {
                    employee,
                    status,
                    dn: existing
                        .dn
                        .with_parent(&self.input.mappings.account.disabled_ou),
                    intent: Intent::Deprovision { existing },
                    unique: String::new(),
                })
            }
            EmploymentStatus::Pending => self.pending(person, existing),
        }
    }

    /// Someone who has not started yet: an account on hold within `lifecycle.prehire_days` of
    /// the start date, else nothing yet.
    fn pending(
        &mut self,
        person: Person<'a>,
        existing: Option<&'a DirectoryAccount>,
    ) -> Option<Target<'a>> {
        let employee = person.employee;
        let today = self.input.now.date_naive();
        let window = self.input.policy.prehire_days;
        match employee.hire_date {
            Some(start) if window > 0 && (start - today).num_days() <= window => {
                let hold = Reason::new(
                    format!("starts {start}; the account is disabled until then"),
                    "lifecycle.prehire_days",
                );
                self.provision(person, existing, Some(hold))
            }
            hire_date => {
                let starts =
                    hire_date.map_or_else(|| "a later date".to_string(), |d| d.to_string());
                let ahead = if window > 0 {
                    format!("accounts are made {window} day(s) ahead (lifecycle.prehire_days)")
                } else {
                    "no account is made before the start date (lifecycle.prehire_days = 0)"
                        .to_string()
                };
                self.skip(
                    Some(&employee.id),
                    existing.map(|a| &a.dn),
                    format!("not started yet (starts {starts}); {ahead}"),
                );
                None
            }
        }
    }

    /// The target of an employee whose account should exist in their role's OU (enabled, or
    /// disabled for the reason in `hold`).
    fn provision(
        &mut self,
        person: Person<'a>,
        existing: Option<&'a DirectoryAccount>,
        hold: Option<Reason>,
    ) -> Option<Target<'a>> {
        let Person { employee, status } = person;
        // The key is built in a reused buffer and only kept (allocated) for a new role.
        let mut key = (status, std::mem::take(&mut self.role_key));
        key.1.clear();
        key.1
            .extend(self.rule_fields.iter().map(|field| employee.field(field)));
        let mut role = match self.roles.get(&key) {
            Some(role) => {
                let role = role.clone();
                self.role_key = key.1;
                role
            }
            None => {
                let role = std::sync::Arc::new(self.input.mappings.assign(employee, status));
                self.roles.insert(key, role.clone());
                role
            }
        };
        let (dn, unique) = match (status, existing) {
            (EmploymentStatus::Leave, None) => {
                self.skip(
                    Some(&employee.id),
                    None,
                    "on leave and without an account: it is made when they return".to_string(),
                );
                return None;
            }
            // On leave, the account stays as it is: where it is, and with no group it does not
            // have (removals still happen: removing access never waits). A role changed
            // during the leave takes effect on return.
            (EmploymentStatus::Leave, Some(account)) => {
                let current: BTreeSet<&Dn> = self
                    .member_of
                    .of(&account.dn)
                    .iter()
                    .map(|(_, _, group)| *group)
                    .collect();
                let removed = &self.input.policy.leave_remove_groups;
                std::sync::Arc::make_mut(&mut role)
                    .groups
                    .retain(|group, _| current.contains(group) && !removed.contains(group));
                (account.dn.clone(), String::new())
            }
            (_, Some(account)) => (account.dn.with_parent(&role.ou), String::new()),
            (_, None) => self.name_new_account(employee, &role.ou)?,
        };
        Some(Target {
            employee,
            status,
            intent: Intent::Provision {
                existing,
                role,
                hold: hold.map(Box::new),
            },
            dn,
            unique,
        })
    }
}
