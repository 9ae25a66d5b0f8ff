//! `hrsync offboard`: the plan that takes one account out of use now.

use super::*;

/// `hrsync offboard`: the changes that take an account out of use now, whatever HR says:
/// disabled first, out of every managed group, and into `hold_group` so that no later run
/// re-enables it until an admin takes it out. The account is found by its correlation value.
pub(crate) fn offboard(
    input: &PlanInput,
    employee_id: &str,
    reason: &str,
    hold_group: &Dn,
) -> Result<Plan, String> {
    let attribute = &input.mappings.correlation.attribute;
    let found: Vec<&DirectoryAccount> = input
        .directory
        .accounts
        .iter()
        .filter(|a| a.correlation_id.as_deref() == Some(employee_id))
        .collect();
    let account = match found.as_slice() {
        [one] => *one,
        [] => return Err(format!("no account has {attribute}={employee_id}")),
        many => {
            return Err(format!(
                "{} accounts have {attribute}={employee_id}; resolve the duplicate by hand",
                many.len()
            ));
        }
    };
    if let Some(why) = &account.protected {
        return Err(format!(
            "{} is a protected account ({why}); hrsync never changes it",
            account.dn
        ));
    }
    // No employees: this plan is about the one account, whatever HR says.
    let mut builder = Builder::new(input, Vec::new());
    let why = Reason::new(format!("offboarded now: {reason}"), "hrsync offboard");
    // Unmarked: an offboarded account's lock is security's, never lifted by a later run.
    let mut changes = builder.leaver_changes(account, &account.dn, false, || why.clone());
    if !account.held {
        changes.push(Change {
            action: Action::AddToGroup {
                group: hold_group.clone(),
            },
            reason: why,
        });
    }
    if !changes.is_empty() {
        let plan = builder.leaver_plan(employee_id, account, changes);
        builder.accounts.push(plan);
    }
    builder.plan_placeholders();
    Ok(builder.finish())
}
