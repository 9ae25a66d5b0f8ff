//! Each employee's status at the planner's `now`, in their own time zone.

use super::*;

/// What deciding every employee's status at `now` gives.
pub(super) struct EffectiveHr {
    /// The employees whose status at `now` differs from the one in the snapshot, with that
    /// status, by their position in `hr.employees`. Everyone else is planned from the snapshot
    /// as it is: at company scale only a handful of people change status on a given day, and
    /// copying all of them would make the planner mostly an allocator.
    pub changed: Vec<(usize, Employee)>,
    /// The terminations still to come, by time and id.
    pub scheduled: Vec<Scheduled>,
    /// Unreadable time zones.
    pub warnings: Vec<String>,
}

/// Every employee's status decided at `now` in their own time zone, the terminations still to
/// come, and warnings about unreadable time zones.
pub(super) fn effective_hr(input: &PlanInput) -> EffectiveHr {
    let policy = input.policy;
    let mut warnings = Vec::new();
    let mut scheduled = Vec::new();
    let mut changed = Vec::new();
    for (i, employee) in input.hr.employees.iter().enumerate() {
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
        if effective.status != employee.status {
            changed.push((
                i,
                Employee {
                    status: effective.status,
                    ..employee.clone()
                },
            ));
        }
    }
    scheduled.sort_by(|a, b| (a.leaves_at, &a.employee_id).cmp(&(b.leaves_at, &b.employee_id)));
    EffectiveHr {
        changed,
        scheduled,
        warnings,
    }
}

/// The employees as of `now`: the snapshot's, with the changed ones in their place.
pub(super) fn employees_now<'a>(
    hr: &'a HrSnapshot,
    changed: &'a [(usize, Employee)],
) -> Vec<&'a Employee> {
    let mut employees: Vec<&Employee> = hr.employees.iter().collect();
    for (i, employee) in changed {
        employees[*i] = employee;
    }
    employees
}
