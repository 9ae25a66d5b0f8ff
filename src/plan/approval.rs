//! A reviewed plan is an approval, not a script.
//!
//! `hrsync apply --plan FILE` does not apply what the file says. It plans afresh from what HR,
//! the directory and the config say now, and [`verify`] compares the two: the changes of the
//! fresh plan that the saved one also holds, identically (same account, same DN, same lifecycle,
//! same state before, same operation with the same values and reason), are the approved plan.
//! Everything that is applied, printed, audited and sent to hooks is built from that approved
//! plan, so no DN, attribute or value is ever taken from the file. A saved change the fresh plan
//! does not hold refuses the whole plan, with why; fresh changes the saved plan does not hold
//! are left out, to be reviewed on their own.
//!
//! One value is allowed to differ: the expiry time Active Directory leavers get
//! (`Disable.expires`) is the time of the plan that disables them, so the fresh plan's is used.

use super::{AccountPlan, Action, Change, Plan};
use crate::dn::Dn;

/// The saved plan, verified: the fresh plan cut down to the reviewed changes.
#[derive(Debug)]
pub struct Approved {
    /// What is applied: the fresh plan's own changes (values, order, reasons) that the review
    /// saw, with its summary counted again.
    pub plan: Plan,
    /// Changes the fresh plan has that the review did not see: not applied.
    pub unreviewed: Vec<Listed>,
}

/// A change the saved plan holds and the fresh plan does not, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The account (or group) as the file names it.
    pub dn: String,
    /// The change in a few words, as the file gives it (no attribute values: a forged
    /// `userPassword` is not echoed).
    pub change: String,
    pub why: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.dn, self.change, self.why)
    }
}

/// A fresh change, named for a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub dn: String,
    pub change: String,
}

impl std::fmt::Display for Listed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.dn, self.change)
    }
}

/// Compares the saved plan with a fresh one made now. `Ok`: every saved change is in the
/// fresh plan. `Err`: every saved change that is not, with why; nothing may be applied.
pub fn verify(saved: &Plan, fresh: &Plan) -> Result<Approved, Vec<Refusal>> {
    let mut refusals = Vec::new();
    let mut taken = Taken::new(fresh);
    // A saved plan shows no password value (see `Plan::masked`), so the plans are compared as
    // shown: a password change is approved by its attribute and account, and its value is the
    // fresh plan's, never the file's. Masking keeps every account and change in its place.
    let (saved, approved_from) = (saved.masked(), fresh);
    let fresh = &*fresh.masked();
    for account in &saved.accounts {
        match find_account(fresh, account) {
            Ok(index) => {
                refusals.extend(match_account(
                    account,
                    &fresh.accounts[index],
                    index,
                    &mut taken,
                ));
            }
            Err(why) => refusals.extend(account.changes.iter().map(|change| Refusal {
                dn: account.dn.to_string(),
                change: change.action.summary(),
                why: why.clone(),
            })),
        }
    }
    for change in &saved.group_changes {
        let found = fresh
            .group_changes
            .iter()
            .enumerate()
            .position(|(i, fresh)| !taken.groups[i] && fresh == change);
        match found {
            Some(i) => taken.groups[i] = true,
            None => refusals.push(Refusal {
                dn: change.group.to_string(),
                change: format!("{} {}", change.action.name(), change.member),
                why: "the rules give no such group change now".to_string(),
            }),
        }
    }
    if !refusals.is_empty() {
        return Err(refusals);
    }
    Ok(taken.approved(approved_from))
}

/// Which of the fresh plan's changes the saved plan holds.
struct Taken {
    /// By account (as in the fresh plan), by change.
    accounts: Vec<Vec<bool>>,
    groups: Vec<bool>,
}

impl Taken {
    fn new(fresh: &Plan) -> Self {
        Self {
            accounts: fresh
                .accounts
                .iter()
                .map(|a| vec![false; a.changes.len()])
                .collect(),
            groups: vec![false; fresh.group_changes.len()],
        }
    }

    /// The fresh plan with the taken changes only; the rest listed as unreviewed.
    fn approved(self, fresh: &Plan) -> Approved {
        let mut unreviewed = Vec::new();
        let mut accounts = Vec::new();
        for (account, taken) in fresh.accounts.iter().zip(&self.accounts) {
            let (kept, left): (Vec<_>, Vec<_>) = account
                .changes
                .iter()
                .zip(taken)
                .partition(|(_, taken)| **taken);
            unreviewed.extend(left.into_iter().map(|(change, _)| Listed {
                dn: account.dn.to_string(),
                change: change.action.summary(),
            }));
            if !kept.is_empty() {
                accounts.push(AccountPlan {
                    changes: kept.into_iter().map(|(change, _)| change.clone()).collect(),
                    ..account.clone()
                });
            }
        }
        let (group_changes, left): (Vec<_>, Vec<_>) = fresh
            .group_changes
            .iter()
            .zip(&self.groups)
            .partition(|(_, taken)| **taken);
        unreviewed.extend(left.into_iter().map(|(change, _)| Listed {
            dn: change.group.to_string(),
            change: format!("{} {}", change.action.name(), change.member),
        }));
        let mut plan = Plan {
            accounts,
            group_changes: group_changes.into_iter().map(|(c, _)| c.clone()).collect(),
            ..fresh.clone()
        };
        plan.count();
        Approved { plan, unreviewed }
    }
}

/// The fresh plan's account for a saved one (same employee, same DN), or why there is none.
fn find_account(fresh: &Plan, saved: &AccountPlan) -> Result<usize, String> {
    if let Some(index) = fresh
        .accounts
        .iter()
        .position(|a| a.employee_id == saved.employee_id && a.dn == saved.dn)
    {
        return Ok(index);
    }
    if let Some(other) = fresh
        .accounts
        .iter()
        .find(|a| a.employee_id == saved.employee_id)
    {
        return Err(match (&saved.before, &other.before) {
            (Some(_), None) => format!(
                "the account no longer exists (the rules would create {} now)",
                other.dn
            ),
            _ => format!(
                "employee {}'s account is {} now, not {}",
                saved.employee_id, other.dn, saved.dn
            ),
        });
    }
    let skipped = fresh.skipped.iter().find(|s| {
        s.employee_id.as_deref() == Some(saved.employee_id.as_str())
            || s.dn.as_ref() == Some(&saved.dn)
    });
    Err(match skipped {
        Some(skipped) => format!("left alone now: {}", skipped.reason),
        None => format!(
            "the rules make no change to this account for employee {} now (HR, the directory \
             or the file changed)",
            saved.employee_id
        ),
    })
}

/// The saved account's changes against the fresh account's, taking those that match.
fn match_account(
    saved: &AccountPlan,
    fresh: &AccountPlan,
    index: usize,
    taken: &mut Taken,
) -> Vec<Refusal> {
    let refuse_all = |why: String| -> Vec<Refusal> {
        saved
            .changes
            .iter()
            .map(|change| Refusal {
                dn: saved.dn.to_string(),
                change: change.action.summary(),
                why: why.clone(),
            })
            .collect()
    };
    if saved.before != fresh.before {
        return refuse_all(format!(
            "the directory changed since the review: {}",
            state_difference(saved, fresh)
        ));
    }
    if saved.lifecycle != fresh.lifecycle {
        return refuse_all(format!(
            "saved as a {}, a {} now",
            saved.lifecycle.as_str(),
            fresh.lifecycle.as_str()
        ));
    }
    let mut refusals = Vec::new();
    let taken = &mut taken.accounts[index];
    for change in &saved.changes {
        let found = fresh
            .changes
            .iter()
            .enumerate()
            .position(|(i, fresh)| !taken[i] && same_change(change, fresh));
        match found {
            Some(i) => taken[i] = true,
            None => refusals.push(Refusal {
                dn: saved.dn.to_string(),
                change: change.action.summary(),
                why: why_not(change, fresh),
            }),
        }
    }
    refusals
}

/// Equal, but for the expiry time of a disable, which is the time of each plan.
fn same_change(saved: &Change, fresh: &Change) -> bool {
    match (&saved.action, &fresh.action) {
        (
            Action::Disable {
                method,
                account_control,
                expires,
            },
            Action::Disable {
                method: fresh_method,
                account_control: fresh_control,
                expires: fresh_expires,
            },
        ) => {
            method == fresh_method
                && account_control == fresh_control
                && expires.is_some() == fresh_expires.is_some()
                && saved.reason == fresh.reason
        }
        // The absence mark carries the time of its plan, and so does its reason.
        (
            Action::AddValue { attribute, value },
            Action::AddValue {
                attribute: fresh_attribute,
                value: fresh_value,
            },
        ) if is_absent_mark(value) && is_absent_mark(fresh_value) => {
            attribute == fresh_attribute && saved.reason.rule == fresh.reason.rule
        }
        _ => saved == fresh,
    }
}

fn is_absent_mark(value: &str) -> bool {
    value.starts_with(super::ABSENT_MARK_PREFIX)
}

/// Why the fresh account has no change like this saved one.
fn why_not(saved: &Change, fresh: &AccountPlan) -> String {
    let alike = fresh
        .changes
        .iter()
        .find(|c| c.action.summary() == saved.action.summary());
    match alike {
        Some(alike) if alike.action == saved.action => {
            format!("the reason differs: now {}", alike.reason)
        }
        Some(_) => "the rules now give other values for it".to_string(),
        None => "the rules give no such change now".to_string(),
    }
}

/// What differs between the state a saved account was reviewed in and the state now.
fn state_difference(saved: &AccountPlan, fresh: &AccountPlan) -> String {
    let (Some(was), Some(now)) = (&saved.before, &fresh.before) else {
        // Equal states never get here: one of the two is missing.
        return match saved.before {
            None => "an account exists now where this one was to be created".to_string(),
            Some(_) => "the account no longer exists".to_string(),
        };
    };
    let mut what = Vec::new();
    if was.dn != now.dn {
        what.push(format!("its DN is {}", now.dn));
    }
    if was.disabled != now.disabled {
        what.push(if now.disabled { "disabled" } else { "enabled" }.to_string());
    }
    let names: std::collections::BTreeSet<&String> =
        was.attributes.keys().chain(now.attributes.keys()).collect();
    for name in names {
        if was.attributes.get(name) != now.attributes.get(name) {
            what.push(format!("{name} changed"));
        }
    }
    if was.groups != now.groups {
        what.push(group_difference(&was.groups, &now.groups));
    }
    what.join(", ")
}

/// Groups joined and left, by DN.
fn group_difference(was: &[Dn], now: &[Dn]) -> String {
    let joined: Vec<String> = now
        .iter()
        .filter(|g| !was.contains(g))
        .map(ToString::to_string)
        .collect();
    let left: Vec<String> = was
        .iter()
        .filter(|g| !now.contains(g))
        .map(ToString::to_string)
        .collect();
    let mut what = Vec::new();
    if !joined.is_empty() {
        what.push(format!("now in {}", joined.join(", ")));
    }
    if !left.is_empty() {
        what.push(format!("no longer in {}", left.join(", ")));
    }
    what.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::masked::tests::plan_with_secrets;

    /// A saved plan holds no password value, so it is compared masked; what is approved is the
    /// fresh plan's own change, with its real value.
    #[test]
    fn a_masked_saved_plan_approves_the_fresh_changes_with_their_values() {
        let fresh = plan_with_secrets("Winter2026!");
        let saved: Plan =
            serde_json::from_str(&serde_json::to_string(&*fresh.masked()).unwrap()).unwrap();
        let approved = verify(&saved, &fresh).unwrap();
        assert_eq!(approved.plan.accounts, fresh.accounts);
        assert!(approved.unreviewed.is_empty());

        // A password value edited into the file is neither approved nor echoed: the value
        // applied is the fresh plan's.
        let mut forged = saved.clone();
        if let Action::SetAttribute { after, .. } = &mut forged.accounts[0].changes[1].action {
            *after = vec!["Forged!".to_string()];
        }
        let approved = verify(&forged, &fresh).unwrap();
        assert_eq!(
            approved.plan.accounts[0].changes[1],
            fresh.accounts[0].changes[1]
        );

        // A password change the rules do not give is refused, without its value.
        let mut added = saved;
        let mut extra = added.accounts[0].changes[1].clone();
        if let Action::SetAttribute { attribute, .. } = &mut extra.action {
            *attribute = "unicodePwd".to_string();
        }
        added.accounts[0].changes.push(extra);
        let refusals = verify(&added, &fresh).unwrap_err();
        assert_eq!(refusals.len(), 1, "{refusals:?}");
        assert_eq!(refusals[0].change, "set_attribute unicodePwd");
        assert!(!format!("{refusals:?}").contains("Winter2026!"));
    }
}
