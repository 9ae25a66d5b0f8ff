//! Each employee's status at the planner's `now`, in their own time zone: the one place in a run
//! where it is decided (see [`Policy::effective`]).

use super::*;

/// An employee with the status the planner decided for them at `now`. The employee is
/// borrowed from the snapshot: at company scale copying every record would make the planner
/// mostly an allocator.
#[derive(Clone, Copy)]
pub(super) struct Person<'a> {
    pub(super) employee: &'a Employee,
    pub(super) status: EmploymentStatus,
}

/// What deciding every employee's status at `now` gives.
pub(super) struct EffectiveHr<'a> {
    /// Every employee with their status, in HR's order.
    pub(super) people: Vec<Person<'a>>,
    /// The terminations still to come, by time and id.
    pub(super) scheduled: Vec<Scheduled>,
    /// Unreadable time zones.
    pub(super) warnings: Vec<String>,
}

/// Every employee's status decided at `now` in their own time zone, the terminations still to
/// come, and warnings about unreadable time zones.
pub(super) fn effective_hr<'a>(input: &PlanInput<'a>) -> EffectiveHr<'a> {
    let policy = input.policy;
    let mut warnings = Vec::new();
    let mut scheduled = Vec::new();
    let mut people = Vec::with_capacity(input.hr.employees.len());
    for employee in &input.hr.employees {
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
        people.push(Person {
            employee,
            status: effective.status,
        });
    }
    scheduled.sort_by(|a, b| (a.leaves_at, &a.employee_id).cmp(&(b.leaves_at, &b.employee_id)));
    EffectiveHr {
        people,
        scheduled,
        warnings,
    }
}
