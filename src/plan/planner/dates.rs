//! Each employee's status at the planner's `now`, in their own time zone.

use super::*;

/// The HR snapshot with every employee's status decided at `now` in their own time zone, the
/// terminations still to come, and warnings about unreadable time zones.
pub(super) fn effective_hr(input: &PlanInput) -> (HrSnapshot, Vec<Scheduled>, Vec<String>) {
    let policy = input.policy;
    let mut warnings = Vec::new();
    let mut scheduled = Vec::new();
    let employees = input
        .hr
        .employees
        .iter()
        .map(|employee| {
            let (zone, warning) = policy.time_zone_of(employee);
            warnings.extend(warning);
            let effective = policy.effective(employee, input.now);
            if let (Some(at), Some(last_day)) = (effective.leaves_at, employee.termination_date) {
                scheduled.push(Scheduled {
                    employee_id: employee.id.clone(),
                    leaves_at: at,
                    reason: format!(
                        "termination_date = {last_day} (last working day, {zone}); leaves at its end"
                    ),
                });
            }
            Employee {
                status: effective.status,
                ..employee.clone()
            }
        })
        .collect();
    scheduled.sort_by(|a, b| (a.leaves_at, &a.employee_id).cmp(&(b.leaves_at, &b.employee_id)));
    (
        HrSnapshot {
            employees,
            rejected: input.hr.rejected.clone(),
        },
        scheduled,
        warnings,
    )
}
