//! The first phases: which account is whose (correlate), which ids the plan must leave alone
//! (skip), which accounts move to an employee's new id (convert), and which accounts no HR
//! record claims (orphans).

use super::*;

/// The ids whose accounts no phase after `skip` may change, each with the skip entry that says
/// why already made.
pub(super) struct Excluded<'a> {
    /// Carried by more than one directory entry.
    pub(super) ambiguous: BTreeSet<&'a str>,
    /// Ids of HR records that could not be read, with the first problem found.
    pub(super) unreadable: BTreeMap<&'a str, &'a str>,
    /// Carried by a protected account (an administrator, a member of a protected group).
    pub(super) protected: BTreeSet<&'a str>,
}

impl Excluded<'_> {
    pub(super) fn contains(&self, id: &str) -> bool {
        self.ambiguous.contains(id)
            || self.unreadable.contains_key(id)
            || self.protected.contains(id)
    }
}

/// With `correlation.fallback_*`, the accounts employees take over from their old ids.
pub(super) struct Conversions<'a> {
    /// The account each employee (by new id) takes over.
    pub(super) adopted: BTreeMap<&'a str, &'a DirectoryAccount>,
    /// Old id -> new id.
    pub(super) from: BTreeMap<&'a str, &'a str>,
}

impl<'a> Builder<'a> {
    /// Warns about managed groups that do not exist: hrsync does not create groups.
    pub(super) fn warn_missing_groups(&mut self) {
        for group in &self.managed_groups {
            if !self.memberships.contains_key(group) {
                self.warnings.insert(format!(
                    "group {group} is named in the mappings but does not exist in the directory; \
                     hrsync does not create groups, so memberships in it are skipped"
                ));
            }
        }
    }

    /// Correlate: the directory's accounts by correlation value. An id carried by several
    /// entries is refused (skipped), never guessed.
    pub(super) fn correlate(&mut self, by_id: &ById<'a>) -> BTreeSet<&'a str> {
        let attribute = &self.input.mappings.correlation.attribute;
        let ambiguous: BTreeSet<&str> = by_id
            .iter()
            .filter(|(_, accounts)| accounts.len() > 1)
            .map(|(id, _)| id)
            .collect();
        for id in &ambiguous {
            let accounts = by_id.get(id);
            for account in accounts {
                self.skip(
                    Some(id),
                    Some(&account.dn),
                    format!(
                        "{} directory entries carry {attribute}={id}; resolve the duplicate by hand",
                        accounts.len()
                    ),
                );
            }
        }
        ambiguous
    }

    /// Skip: the ids the plan leaves alone besides the ambiguous ones. An HR record that could
    /// not be read protects its account; a protected account is never changed, whatever HR
    /// says.
    pub(super) fn skip_unusable(
        &mut self,
        by_id: &ById<'a>,
        ambiguous: BTreeSet<&'a str>,
    ) -> Excluded<'a> {
        let mut unreadable: BTreeMap<&str, &str> = BTreeMap::new();
        for rejected in &self.input.hr.rejected {
            if let Some(id) = &rejected.id {
                unreadable
                    .entry(id.as_str())
                    .or_insert(rejected.problem.as_str());
            }
        }
        for (id, problem) in &unreadable {
            let dn = by_id.get(id).first().map(|a| &a.dn);
            self.skip(
                Some(id),
                dn,
                format!("HR record could not be read ({problem}); account left as it is"),
            );
        }
        let mut protected: BTreeSet<&str> = BTreeSet::new();
        for (id, accounts) in by_id.iter() {
            for account in accounts {
                if let Some(why) = &account.protected {
                    protected.insert(id);
                    self.skip(
                        Some(id),
                        Some(&account.dn),
                        format!("protected account ({why}); hrsync never changes it"),
                    );
                }
            }
        }
        Excluded {
            ambiguous,
            unreadable,
            protected,
        }
    }

    /// Convert: with `correlation.fallback_*`, for each employee without an account under their
    /// id, the one account whose fallback attribute holds their fallback field and whose own id
    /// belongs to nobody active in HR. Several candidates: the employee is skipped, never
    /// guessed.
    pub(super) fn conversions(
        &mut self,
        employees: &[Person<'a>],
        by_id: &ById<'a>,
        excluded: &Excluded,
    ) -> Conversions<'a> {
        let mut adopted = BTreeMap::new();
        // A read of some employees alone cannot tell whose an old id is (see `targets`).
        let fallback = match self.input.hr.scope {
            Some(_) => None,
            None => self.input.mappings.correlation.fallback.as_ref(),
        };
        if let Some(fallback) = fallback {
            let active: BTreeSet<&str> = employees
                .iter()
                .filter(|p| p.status != EmploymentStatus::Terminated)
                .map(|p| p.employee.id.as_str())
                .collect();
            let mut taken: BTreeSet<&Dn> = BTreeSet::new();
            for &Person { employee, status } in employees {
                let id = employee.id.as_str();
                if status == EmploymentStatus::Terminated
                    || !by_id.get(id).is_empty()
                    || excluded.contains(id)
                {
                    continue;
                }
                let Some(value) = employee.field(&fallback.hr_field) else {
                    continue;
                };
                let candidates = self.conversion_candidates(fallback, value, &active, excluded);
                match candidates.as_slice() {
                    [] => {}
                    [account] if taken.insert(&account.dn) => {
                        adopted.insert(id, *account);
                    }
                    _ => self.skip(
                        Some(id),
                        None,
                        format!(
                            "{} accounts could be this employee's by {}={value:?}; resolve by hand",
                            candidates.len(),
                            fallback.attribute
                        ),
                    ),
                }
            }
        }
        let from = adopted
            .iter()
            .filter_map(|(new, account)| account.correlation_id.as_deref().map(|old| (old, *new)))
            .collect();
        Conversions { adopted, from }
    }

    /// The accounts an employee whose fallback field is `value` could be converted from.
    fn conversion_candidates(
        &self,
        fallback: &crate::mapping::Fallback,
        value: &str,
        active: &BTreeSet<&str>,
        excluded: &Excluded,
    ) -> Vec<&'a DirectoryAccount> {
        self.input
            .directory
            .accounts
            .iter()
            .filter(|a| {
                a.correlation_id
                    .as_deref()
                    .is_some_and(|old| !active.contains(old) && !excluded.contains(old))
                    && a.protected.is_none()
                    && a.values(&fallback.attribute)
                        .iter()
                        .any(|v| v.eq_ignore_ascii_case(value))
            })
            .collect()
    }

    /// Orphans: correlated accounts HR does not know. Both sides are in id order, so whether
    /// HR knows an id is a walk along the employees, not a lookup.
    pub(super) fn find_orphans(
        &mut self,
        employees: &[Person<'a>],
        by_id: &ById<'a>,
        excluded: &Excluded,
        conversions: &Conversions,
    ) {
        let mut hr_ids = employees.iter().map(|p| p.employee.id.as_str()).peekable();
        for (id, accounts) in by_id.iter() {
            while hr_ids.next_if(|hr_id| *hr_id < id).is_some() {}
            let in_hr = hr_ids.peek() == Some(&id);
            if !in_hr && !excluded.contains(id) && !conversions.from.contains_key(id) {
                for account in accounts {
                    self.orphans.push(Orphan {
                        dn: account.dn.clone(),
                        correlation_id: id.to_string(),
                    });
                }
            }
        }
    }
}
