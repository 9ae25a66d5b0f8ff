//! The human-readable plan: per account, each change with its before and after values and the
//! HR fact and mapping rule behind it.

use std::fmt::Write;

use crate::plan::{
    AccountPlan, Action, ControlChange, DisableMethod, GroupAction, PPOLICY_PERMANENT_LOCK, Plan,
};

pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    summary_text(&mut out, plan);
    for account in &plan.accounts {
        account_text(&mut out, account);
    }
    group_changes_text(&mut out, plan);
    scheduled_text(&mut out, plan);
    skipped_text(&mut out, plan);
    orphans_text(&mut out, plan);
    limits_text(&mut out, plan);
    warnings_text(&mut out, plan);
    out
}

// Writing to a String cannot fail: the results of write! are ignored deliberately throughout.

fn summary_text(out: &mut String, plan: &Plan) {
    let s = &plan.summary;
    let _ = writeln!(
        out,
        "hrsync plan: {} joiner(s), {} mover(s), {} leaver(s), {} rehire(s), {} update(s); \
         {} change(s) in all",
        s.joiners, s.movers, s.leavers, s.rehires, s.updates, s.changes
    );
    let _ = writeln!(
        out,
        "read {} HR record(s) and {} correlated directory account(s)",
        s.hr_records, s.directory_accounts
    );
    if !plan.has_changes() {
        let _ = writeln!(out, "\nNo changes: the directory matches HR.");
    }
}

fn group_changes_text(out: &mut String, plan: &Plan) {
    if plan.group_changes.is_empty() {
        return;
    }
    let _ = writeln!(out, "\ngroups");
    for change in &plan.group_changes {
        let verb = match change.action {
            GroupAction::AddPlaceholder => "+ placeholder",
            GroupAction::RemovePlaceholder => "- placeholder",
        };
        let _ = writeln!(out, "  {verb} {} in {}", change.member, change.group);
        let _ = writeln!(out, "      because {}", change.reason);
    }
}

fn scheduled_text(out: &mut String, plan: &Plan) {
    if plan.scheduled.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nscheduled (terminations still to come)");
    for scheduled in &plan.scheduled {
        let _ = writeln!(
            out,
            "  employee {} leaves at {}: {}",
            scheduled.employee_id,
            scheduled.leaves_at.format("%Y-%m-%d %H:%M UTC"),
            scheduled.reason
        );
    }
}

fn skipped_text(out: &mut String, plan: &Plan) {
    if plan.skipped.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nskipped (left as they are)");
    for skipped in &plan.skipped {
        let who = match (&skipped.employee_id, &skipped.dn) {
            (Some(id), Some(dn)) => format!("employee {id} ({dn})"),
            (Some(id), None) => format!("employee {id}"),
            (None, Some(dn)) => dn.to_string(),
            (None, None) => "record".to_string(),
        };
        let _ = writeln!(out, "  {who}: {}", skipped.reason);
    }
}

fn orphans_text(out: &mut String, plan: &Plan) {
    if plan.orphans.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\norphans (in the directory, not in HR; reported, not changed)"
    );
    for orphan in &plan.orphans {
        let _ = writeln!(out, "  {} (id {})", orphan.dn, orphan.correlation_id);
    }
}

/// How many of a tripped limit's accounts are named; the rest are counted.
const ACCOUNTS_SHOWN: usize = 20;

fn limits_text(out: &mut String, plan: &Plan) {
    if plan.limits_tripped.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nsafety limits tripped (apply refuses without approval)"
    );
    for tripped in &plan.limits_tripped {
        let _ = writeln!(out, "  ! {tripped}");
        let shown: Vec<&str> = tripped
            .accounts
            .iter()
            .take(ACCOUNTS_SHOWN)
            .map(String::as_str)
            .collect();
        let more = tripped.accounts.len().saturating_sub(shown.len());
        let _ = writeln!(
            out,
            "      accounts: {}{}",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
}

fn warnings_text(out: &mut String, plan: &Plan) {
    if plan.warnings.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nwarnings");
    for warning in &plan.warnings {
        let _ = writeln!(out, "  ! {warning}");
    }
}

fn account_text(out: &mut String, account: &AccountPlan) {
    let _ = writeln!(
        out,
        "\n{} {} (employee {})",
        account.lifecycle.as_str(),
        account.dn,
        account.employee_id
    );
    for change in &account.changes {
        action_text(out, &change.action);
        let _ = writeln!(out, "      because {}", change.reason);
    }
}

/// What one change does, in a line (a new entry: a line per attribute value besides).
fn action_text(out: &mut String, action: &Action) {
    match action {
        Action::Create { dn, attributes } => {
            let _ = writeln!(out, "  + create {dn}");
            for (name, values) in attributes {
                for value in values {
                    let _ = writeln!(out, "      {name}: {value}");
                }
            }
        }
        Action::Enable {
            account_control,
            set_password,
            clear_expiry,
            ..
        } => {
            let mut how = Vec::new();
            if *set_password {
                how.push("a new random password, never shown".to_string());
            }
            how.extend(account_control.map(control_text));
            if *clear_expiry {
                how.push("accountExpires -> never".to_string());
            }
            let _ = writeln!(out, "  ~ enable the account{}", parenthesised(&how));
        }
        Action::Disable {
            method,
            account_control,
            expires,
        } => {
            let mut how = Vec::new();
            if *method == DisableMethod::PpolicyLock {
                how.push(format!("pwdAccountLockedTime: {PPOLICY_PERMANENT_LOCK}"));
            }
            how.extend(account_control.map(control_text));
            if let Some(expires) = expires {
                how.push(format!("accountExpires -> {expires}"));
            }
            let _ = writeln!(out, "  ~ disable the account{}", parenthesised(&how));
        }
        Action::SetAttribute {
            attribute,
            before,
            after,
        } => {
            let _ = writeln!(out, "  ~ {attribute}: {} -> {}", show(before), show(after));
        }
        Action::Move { from, to } => {
            let _ = writeln!(out, "  > move {from} -> {to}");
        }
        Action::AddToGroup { group } => {
            let _ = writeln!(out, "  + group {group}");
        }
        Action::RemoveFromGroup { group } => {
            let _ = writeln!(out, "  - group {group}");
        }
        Action::RenameMember { group, .. } => {
            let _ = writeln!(out, "  ~ member value in {group} follows the move");
        }
    }
}

fn control_text(change: ControlChange) -> String {
    format!("userAccountControl {} -> {}", change.before, change.after)
}

fn show(values: &[String]) -> String {
    match values {
        [] => "(none)".to_string(),
        [one] => format!("{one:?}"),
        many => format!("{many:?}"),
    }
}

fn parenthesised(parts: &[String]) -> String {
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}
