//! The status an employee has at a moment: HR's status corrected by the dates. The planner
//! decides it once per run, in each employee's time zone ([`Policy::effective`]); everything
//! that shows a status (the plan, `explain`, `report`) shows that decision.
//!
//! [`Policy::effective`]: super::Policy::effective

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use crate::model::EmploymentStatus;

/// An employee's status at a moment, from HR's status and dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effective {
    pub status: EmploymentStatus,
    /// A termination that has not happened yet: the moment it takes effect.
    pub leaves_at: Option<DateTime<Utc>>,
}

/// HR's status corrected by the dates, at `now`, in the employee's time zone `tz`: the rule
/// [`Policy::effective`](super::Policy::effective) applies, which is how the rest of hrsync asks.
///
/// - A termination date is the last working day: the person leaves at the end of it, that is at
///   the first instant of the next day in their time zone. From then on they are terminated
///   whatever HR's status says (a leaver whose status was not updated keeps no access); before
///   then they keep their status, even if HR already says terminated (not before), and the
///   plan shows the termination as scheduled.
/// - A termination date before the hire date belongs to an earlier employment (a rehire whose
///   record still carries the old date): it is ignored, and HR's status decides.
/// - An active person whose hire date has not begun in their time zone is pending.
pub fn effective_status<Tz: TimeZone>(
    hr: EmploymentStatus,
    hire_date: Option<NaiveDate>,
    termination_date: Option<NaiveDate>,
    now: DateTime<Utc>,
    tz: &Tz,
) -> Effective {
    let termination_date =
        termination_date.filter(|last_day| hire_date.is_none_or(|hired| *last_day >= hired));
    if let Some(last_day) = termination_date {
        let leaves_at = start_of_day(last_day.succ_opt().unwrap_or(last_day), tz);
        if now >= leaves_at {
            return Effective {
                status: EmploymentStatus::Terminated,
                leaves_at: None,
            };
        }
        let status = if hr == EmploymentStatus::Terminated {
            EmploymentStatus::Active
        } else {
            hr
        };
        return Effective {
            status: pending_if_not_started(status, hire_date, now, tz),
            leaves_at: Some(leaves_at),
        };
    }
    Effective {
        status: pending_if_not_started(hr, hire_date, now, tz),
        leaves_at: None,
    }
}

fn pending_if_not_started<Tz: TimeZone>(
    status: EmploymentStatus,
    hire_date: Option<NaiveDate>,
    now: DateTime<Utc>,
    tz: &Tz,
) -> EmploymentStatus {
    match hire_date {
        Some(start) if status == EmploymentStatus::Active && now < start_of_day(start, tz) => {
            EmploymentStatus::Pending
        }
        _ => status,
    }
}

/// The first instant of `date` in `tz`, in UTC. Where midnight does not exist (a DST gap), the
/// day starts at the first hour that does.
fn start_of_day<Tz: TimeZone>(date: NaiveDate, tz: &Tz) -> DateTime<Utc> {
    (0..24)
        .find_map(|hour| {
            date.and_hms_opt(hour, 0, 0)
                .and_then(|local| tz.from_local_datetime(&local).earliest())
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| date.and_time(chrono::NaiveTime::MIN).and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::Los_Angeles;
    use chrono_tz::Asia::Tokyo;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    use EmploymentStatus::*;

    #[test]
    fn a_leaver_goes_at_the_end_of_the_last_working_day_in_their_zone() {
        let last = Some(day("2026-11-27"));
        // Tokyo: 27 Nov ends at 15:00 UTC on the 27th.
        assert_eq!(
            effective_status(Active, None, last, at("2026-11-27T14:59:59Z"), &Tokyo).status,
            Active
        );
        assert_eq!(
            effective_status(Active, None, last, at("2026-11-27T15:00:00Z"), &Tokyo).status,
            Terminated
        );
        // Los Angeles: 27 Nov ends at 08:00 UTC on the 28th: not hours late, not before.
        let before = effective_status(Active, None, last, at("2026-11-28T07:59:59Z"), &Los_Angeles);
        assert_eq!(before.status, Active);
        assert_eq!(before.leaves_at, Some(at("2026-11-28T08:00:00Z")));
        assert_eq!(
            effective_status(Active, None, last, at("2026-11-28T08:00:00Z"), &Los_Angeles).status,
            Terminated
        );
    }

    #[test]
    fn hr_saying_terminated_early_is_not_acted_on_before_the_date() {
        let e = effective_status(
            Terminated,
            None,
            Some(day("2026-12-31")),
            at("2026-11-27T09:00:00Z"),
            &Utc,
        );
        assert_eq!(e.status, Active);
        assert_eq!(e.leaves_at, Some(at("2027-01-01T00:00:00Z")));
        // Without a date, HR's word is final.
        assert_eq!(
            effective_status(Terminated, None, None, at("2026-11-27T09:00:00Z"), &Utc).status,
            Terminated
        );
    }

    #[test]
    fn a_joiner_starts_at_the_beginning_of_the_hire_date_in_their_zone() {
        let hire = Some(day("2026-11-28"));
        // Tokyo's 28 Nov begins at 15:00 UTC on the 27th.
        assert_eq!(
            effective_status(Active, hire, None, at("2026-11-27T14:59:00Z"), &Tokyo).status,
            Pending
        );
        assert_eq!(
            effective_status(Active, hire, None, at("2026-11-27T15:00:00Z"), &Tokyo).status,
            Active
        );
        assert_eq!(
            effective_status(Leave, hire, None, at("2026-11-27T00:00:00Z"), &Utc).status,
            Leave
        );
    }

    #[test]
    fn a_termination_date_before_the_hire_date_is_an_earlier_employment_s() {
        let now = at("2026-11-27T09:00:00Z");
        let rehired = Some(day("2024-01-01"));
        let old_end = Some(day("2020-01-01"));
        // A rehire whose record still carries the old end date stays active...
        assert_eq!(
            effective_status(Active, rehired, old_end, now, &Utc).status,
            Active
        );
        // ...but HR saying terminated still means terminated.
        assert_eq!(
            effective_status(Terminated, rehired, old_end, now, &Utc).status,
            Terminated
        );
        // A termination on or after the hire date counts as before.
        assert_eq!(
            effective_status(Active, rehired, Some(day("2025-06-30")), now, &Utc).status,
            Terminated
        );
        assert_eq!(
            effective_status(Active, None, old_end, now, &Utc).status,
            Terminated
        );
    }

    /// The first and last days HR dates may name, and chrono's own limits beyond them, in zones
    /// east and west of UTC: decided, never a panic (issue 16.10a).
    #[test]
    fn the_calendar_s_edges_are_decided_without_a_panic() {
        let now = at("2026-11-27T09:00:00Z");
        let edges = [
            day("0001-01-01"),
            day("9999-12-31"),
            NaiveDate::MIN,
            NaiveDate::MAX,
        ];
        for date in edges {
            for hr in [Active, Terminated] {
                let _ = effective_status(hr, Some(date), Some(date), now, &Tokyo);
                let _ = effective_status(hr, Some(date), Some(date), now, &Los_Angeles);
                let _ = effective_status(hr, None, Some(date), now, &Utc);
            }
        }
        // SAP's "no end date" is a termination that has not happened.
        let far = effective_status(Active, None, Some(day("9999-12-31")), now, &Los_Angeles);
        assert_eq!(far.status, Active);
        assert!(far.leaves_at.is_some());
    }
}
