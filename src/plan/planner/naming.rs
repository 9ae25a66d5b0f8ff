//! Naming new accounts and keeping names unique: the `{unique}` suffix, DN conflicts, and the
//! names already in use in the directory.

use super::*;

impl<'a> Builder<'a> {
    /// Names a new account: its DN and the `{unique}` suffix that makes its naming and unique
    /// attributes free. The first free candidate of "", "2", "3", ... wins; templates without
    /// `{unique}` have only the one candidate. `None` (and a skip entry) when no name is free or
    /// a naming field is empty.
    pub(super) fn name_new_account(
        &mut self,
        employee: &Employee,
        ou: &Dn,
    ) -> Option<(Dn, String)> {
        let account = &self.input.mappings.account;
        let naming: Vec<(&String, &Template)> = account
            .attributes
            .iter()
            .filter(|(name, _)| account.is_creation_only(name))
            .collect();
        let uses_suffix = naming.iter().any(|(_, t)| t.fields().any(|f| f == UNIQUE));
        let attempts = if uses_suffix { MAX_NAME_ATTEMPTS } else { 1 };
        let mut last_conflict = String::new();
        for attempt in 1..=attempts {
            let suffix = if attempt == 1 {
                String::new()
            } else {
                attempt.to_string()
            };
            let values = self.naming_values(employee, &naming, &suffix)?;
            let rdn_value = values
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(&account.rdn_attribute))
                .map(|(_, v)| v.clone())?;
            let dn = Dn::child(&account.rdn_attribute, &rdn_value, ou).ok()?;
            match self.name_conflict(&dn, &values) {
                Some(conflict) => last_conflict = conflict,
                None => {
                    let names_in_use = self.names_in_use();
                    for (name, value) in values {
                        names_in_use.insert((name, value.to_lowercase()));
                    }
                    self.claimed
                        .insert(dn.clone(), "a new account of this plan is to be there");
                    return Some((dn, suffix));
                }
            }
        }
        self.skip(
            Some(&employee.id),
            None,
            format!(
                "cannot name the new account: {last_conflict}{}",
                if uses_suffix {
                    format!(" after {MAX_NAME_ATTEMPTS} tries with {{unique}}")
                } else {
                    "; add {unique} to the naming templates to get a numbered alternative"
                        .to_string()
                }
            ),
        );
        None
    }

    /// The naming attributes' values with `{unique}` as `suffix`, as (lower-cased attribute,
    /// value). `None` (and a skip entry) when a naming field is empty.
    fn naming_values(
        &mut self,
        employee: &Employee,
        naming: &[(&String, &Template)],
        suffix: &str,
    ) -> Option<Vec<(String, String)>> {
        let mut values = Vec::with_capacity(naming.len());
        for (name, template) in naming {
            let rendered = template.render(|f| {
                if f == UNIQUE {
                    Some(suffix)
                } else {
                    lookup(employee, f)
                }
            });
            match rendered {
                Ok(value) => values.push((name.to_ascii_lowercase(), value)),
                Err(missing) => {
                    self.skip(
                        Some(&employee.id),
                        None,
                        format!(
                            "cannot name the new account: HR field \"{}\" is empty (account.attributes.{name})",
                            missing.0
                        ),
                    );
                    return None;
                }
            }
        }
        Some(values)
    }

    /// Why a new account cannot have `dn` and the naming `values`, if it cannot: a unique
    /// value is taken, or something is or will be at the DN.
    fn name_conflict(&mut self, dn: &Dn, values: &[(String, String)]) -> Option<String> {
        let rdn_attribute = &self.input.mappings.account.rdn_attribute;
        let names_in_use = self.names_in_use();
        let unique_taken = values.iter().find(|(name, value)| {
            !name.eq_ignore_ascii_case(rdn_attribute)
                && names_in_use.contains(&(name.clone(), value.to_lowercase()))
        });
        match (unique_taken, self.occupant_at(dn)) {
            (Some((name, value)), _) => Some(format!("{name} \"{value}\" is taken")),
            (None, Some(occupant)) => Some(format!("{dn}: {occupant}")),
            (None, None) => None,
        }
    }

    /// Two accounts may not end up at the same DN, and no account may land on an entry that is
    /// already there. A joiner that would collide is skipped; an existing account that would
    /// collide stays where it is (a leaver is still disabled and stripped of its groups).
    pub(super) fn resolve_conflicts(&mut self, mut targets: Vec<Target<'a>>) -> Vec<Target<'a>> {
        let moving = |target: &Target| {
            current_dn(&target.intent).is_none_or(|current| *current != target.dn)
        };
        // How many targets end up at each DN a target moves to (or is created at); only those
        // DNs can be in conflict, and on a quiet day there are few.
        let mut claims: BTreeMap<Dn, usize> = targets
            .iter()
            .filter(|t| moving(t))
            .map(|t| (t.dn.clone(), 0))
            .collect();
        if !claims.is_empty() {
            for target in &targets {
                if let Some(n) = claims.get_mut(&target.dn) {
                    *n += 1;
                }
            }
        }
        // In place: at company scale the targets are a large vector, and nearly all are kept.
        targets.retain_mut(|target| {
            let current = current_dn(&target.intent);
            if !moving(target) {
                return true;
            }
            let conflict = if claims.get(&target.dn).copied().unwrap_or(0) > 1 {
                Some("another employee's account would have the same DN".to_string())
            } else {
                self.entry_at(&target.dn)
                    .map(|o| occupant(o, &self.input.mappings.correlation.attribute))
            };
            let Some(conflict) = conflict else {
                return true;
            };
            match current {
                None => {
                    self.skip(
                        Some(&target.employee.id),
                        Some(&target.dn),
                        format!("cannot create {}: {conflict}", target.dn),
                    );
                    false
                }
                Some(current) => {
                    self.warnings.insert(format!(
                        "employee {}: not moving {current} to {}: {conflict}",
                        target.employee.id, target.dn
                    ));
                    target.dn = current.clone();
                    true
                }
            }
        });
        targets
    }
}

/// What stands at an account's DN, for conflict messages.
pub(super) fn occupant(account: &DirectoryAccount, attribute: &str) -> String {
    match &account.correlation_id {
        Some(id) => format!("an entry with {attribute}={id} is already there"),
        None => "an entry hrsync does not manage is already there".to_string(),
    }
}

/// How many `{unique}` suffixes are tried before a joiner is skipped.
pub(super) const MAX_NAME_ATTEMPTS: usize = 100;

impl Builder<'_> {
    /// The unique attribute values in use, gathered on first use (see the field).
    fn names_in_use(&mut self) -> &mut BTreeSet<(String, String)> {
        let input = self.input;
        self.names_in_use.get_or_insert_with(|| names_in_use(input))
    }
}

/// Unique attribute values in use: what the adapter found anywhere in the directory, plus the
/// values of the accounts in the snapshot.
fn names_in_use(input: &PlanInput) -> BTreeSet<(String, String)> {
    let unique = &input.mappings.account.unique_attributes;
    let mut names = BTreeSet::new();
    for attribute in unique {
        let key = attribute.to_ascii_lowercase();
        for value in input.directory.taken.get(&key).into_iter().flatten() {
            names.insert((key.clone(), value.to_lowercase()));
        }
        for account in &input.directory.accounts {
            for value in account.values(attribute) {
                names.insert((key.clone(), value.to_lowercase()));
            }
        }
    }
    names
}
