//! Planning a joiner: a new account, created with every attribute and put into its role's
//! groups.

use super::*;
use crate::plan::JOINING_MARK;

impl<'a> Builder<'a> {
    /// A new account at `target.dn`, enabled unless `hold` says why not.
    pub(super) fn plan_joiner(
        &self,
        target: &Target<'a>,
        role: &RoleAssignment,
        hold: Option<&Reason>,
        final_dns: &FinalDns,
        planned: &mut Planned,
    ) {
        let employee = target.employee;
        let Some(attributes) =
            self.new_account_attributes(employee, final_dns, &target.unique, planned)
        else {
            return;
        };
        let joiner = match hold {
            None => self.joiner_reason(target),
            Some(reason) => reason.clone(),
        };
        let uac = self.input.policy.disable == DisableMethod::UserAccountControl;
        let mut changes = self.inherited_values(&target.dn, Some(role));
        changes.push(Change {
            action: Action::Create {
                dn: target.dn.clone(),
                attributes: self.creation_attributes(employee, attributes, hold.is_some()),
            },
            reason: joiner.clone(),
        });
        if uac && hold.is_none() {
            changes.push(Change {
                action: Action::Enable {
                    method: DisableMethod::UserAccountControl,
                    account_control: Some(ControlChange {
                        before: CREATED_DISABLED,
                        after: UAC_NORMAL_ACCOUNT,
                    }),
                    set_password: true,
                    clear_expiry: false,
                },
                reason: joiner.clone(),
            });
        }
        for (group, reason) in &role.groups {
            if self.memberships.contains_key(group) {
                changes.push(Change {
                    action: Action::AddToGroup {
                        group: group.clone(),
                    },
                    reason: reason.clone(),
                });
            }
        }
        if self.marks_joiner(hold.is_some()) {
            changes.push(self.unmark_joining(&joiner));
        }
        planned.accounts.push(AccountPlan {
            employee_id: employee.id.clone(),
            lifecycle: Lifecycle::Joiner,
            dn: target.dn.clone(),
            before: None,
            changes,
        });
    }

    /// Whether a new account carries the joining mark until its last step. Not an Active
    /// Directory account created on hold: `info` holds one value, the disabled mark's (its
    /// start date's enable is a joiner's anyway).
    fn marks_joiner(&self, on_hold: bool) -> bool {
        !(on_hold && self.input.policy.disable == DisableMethod::UserAccountControl)
    }

    fn joining_value<'b>(&self, account: &'b DirectoryAccount) -> Option<&'b String> {
        let key = self
            .input
            .policy
            .disabled_mark
            .attribute
            .to_ascii_lowercase();
        account
            .values(&key)
            .iter()
            .find(|v| v.eq_ignore_ascii_case(JOINING_MARK))
    }

    /// The joiner's last step: the joining mark taken off. It waits for every step before it
    /// (see `ops::removes_access`), so it only goes once the groups were all added.
    fn unmark_joining(&self, reason: &Reason) -> Change {
        Change {
            action: Action::RemoveValue {
                attribute: self.input.policy.disabled_mark.attribute.clone(),
                value: JOINING_MARK.to_string(),
            },
            reason: Reason {
                rule: Some("hrsync marks a joiner until its last step".to_string()),
                ..reason.clone()
            },
        }
    }

    /// Taking the joining mark off an account found with it, as its plan's last step.
    pub(super) fn finish_joining(&self, account: &DirectoryAccount) -> Option<Change> {
        let value = self.joining_value(account)?;
        Some(Change {
            action: Action::RemoveValue {
                attribute: self.input.policy.disabled_mark.attribute.clone(),
                value: value.clone(),
            },
            reason: Reason::new(
                format!("{} carries {JOINING_MARK}", account.dn),
                "an interrupted joiner is finished as a joiner",
            ),
        })
    }

    fn joiner_reason(&self, target: &Target) -> Reason {
        Reason::new(
            format!(
                "status = {} and no account has {}={}",
                status_fact(target.employee, target.status),
                self.input.mappings.correlation.attribute,
                target.employee.id
            ),
            "joiner",
        )
    }

    /// The rendered attributes with what creating the entry also takes: the object classes,
    /// the correlation value and, by the disable method, the state it is created in.
    fn creation_attributes(
        &self,
        employee: &Employee,
        mut attributes: BTreeMap<String, Vec<String>>,
        on_hold: bool,
    ) -> BTreeMap<String, Vec<String>> {
        let mappings = self.input.mappings;
        attributes.insert(
            "objectClass".to_string(),
            mappings.account.object_classes.clone(),
        );
        attributes.insert(
            mappings.correlation.attribute.clone(),
            vec![employee.id.clone()],
        );
        // An account on hold is locked from the moment it exists (OpenLDAP and 389: the lock is
        // part of the add; AD: it is simply not enabled).
        if let Some((attribute, value)) = self.input.policy.disable.lock_value()
            && on_hold
        {
            attributes.insert(attribute.to_string(), vec![value.to_string()]);
        }
        if self.marks_joiner(on_hold) {
            let mark = &self.input.policy.disabled_mark;
            attributes
                .entry(mark.attribute.clone())
                .or_default()
                .push(JOINING_MARK.to_string());
        }
        // A account created on hold is hrsync's lock, to lift on the start date.
        if on_hold {
            let mark = &self.input.policy.disabled_mark;
            attributes
                .entry(mark.attribute.clone())
                .or_default()
                .push(mark.value.clone());
        }
        // Active Directory: created disabled, then given a random password and enabled, so
        // there is never an enabled account without a password.
        if self.input.policy.disable == DisableMethod::UserAccountControl {
            attributes.insert(
                "userAccountControl".to_string(),
                vec![CREATED_DISABLED.to_string()],
            );
        }
        attributes
    }

    /// Renders every attribute template for a new account, `{unique}` as `unique`. `None` (and
    /// a skip entry) when a value the directory requires would be empty. (An existing account's
    /// attributes are compared one by one in `attribute_changes`.)
    fn new_account_attributes(
        &self,
        employee: &Employee,
        final_dns: &FinalDns,
        unique: &str,
        planned: &mut Planned,
    ) -> Option<BTreeMap<String, Vec<String>>> {
        let mappings = self.input.mappings;
        let manager_dn = self.manager_dn(employee, final_dns, &mut planned.warnings);
        let mut out = BTreeMap::new();
        for (name, template) in &mappings.account.attributes {
            let rendered = template.render(|field| match field {
                MANAGER_DN => manager_dn.map(Dn::as_str),
                UNIQUE => Some(unique),
                _ => lookup(employee, field),
            });
            match rendered {
                Ok(value) => {
                    out.insert(name.clone(), vec![value]);
                }
                Err(missing)
                    if mappings.account.is_creation_only(name) || self.is_required(name) =>
                {
                    planned.skipped.push(skipped(
                        Some(&employee.id),
                        None,
                        format!(
                            "cannot create the account: {name} is required but HR field \"{}\" is empty",
                            missing.0
                        ),
                    ));
                    return None;
                }
                Err(_) => {}
            }
        }
        Some(out)
    }
}

/// `userAccountControl` of a new Active Directory account: a normal account, disabled.
const CREATED_DISABLED: u32 = UAC_NORMAL_ACCOUNT | UAC_ACCOUNTDISABLE;
