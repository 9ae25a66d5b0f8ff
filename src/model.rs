//! The domain types that flow through hrsync: what HR says about a person, what the directory
//! holds, and what the mappings say the account should be.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::attributes::{Attributes, Fields};
use crate::dn::Dn;

/// A person's employment status, normalised from whatever the HR system calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmploymentStatus {
    /// Working: the account should exist, be enabled and carry the role's groups.
    Active,
    /// On leave of absence. The account is kept as it is (a policy for leave is a later issue).
    Leave,
    /// Hired but not started yet: no account is created before the start date.
    Pending,
    /// Gone: the account is disabled, stripped of managed groups and moved to the disabled OU.
    Terminated,
}

impl EmploymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Leave => "leave",
            Self::Pending => "pending",
            Self::Terminated => "terminated",
        }
    }
}

impl std::fmt::Display for EmploymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One HR record after normalisation: every value is a plain string taken from the configured
/// field path, and the status has been decided.
///
/// `fields` holds every mapped field by its canonical name (`id`, `first_name`, `last_name`,
/// `email`, `title`, `department`, `location`, `employment_type`, `manager_id`, plus any custom
/// name the configuration adds). Templates in the mappings refer to these names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Employee {
    pub id: String,
    /// The status that decides what happens: HR's status corrected by the dates (see
    /// [`effective_status`]).
    pub status: EmploymentStatus,
    /// HR's own status, before the dates were taken into account; the planner re-decides
    /// `status` from it in each employee's time zone.
    pub hr_status: EmploymentStatus,
    /// The raw status value(s) as HR sent them, for explaining decisions.
    pub status_source: String,
    pub hire_date: Option<NaiveDate>,
    pub termination_date: Option<NaiveDate>,
    pub fields: Fields,
}

impl Employee {
    /// A mapped field's value, or `None` when HR sent nothing (or an empty string) for it.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn manager_id(&self) -> Option<&str> {
        self.field("manager_id")
    }
}

/// An HR record that could not be read. It is reported and left out of the plan; the account it
/// belongs to (if the id is known) is left exactly as it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RejectedRecord {
    /// The record's HR id when it could be read, so the account can be protected from changes.
    pub id: Option<String>,
    /// Where the record was: its position in the HR response (0-based, across pages).
    pub index: usize,
    pub problem: String,
}

/// Everything read from HR in one fetch: the complete list or nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HrSnapshot {
    pub employees: Vec<Employee>,
    pub rejected: Vec<RejectedRecord>,
}

/// An account as it is in the directory now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryAccount {
    pub dn: Dn,
    /// Value of the correlation attribute (for example `employeeNumber`), if the entry has one.
    pub correlation_id: Option<String>,
    /// Attribute values by lower-cased attribute name. Only the attributes hrsync manages (and
    /// the correlation and naming attributes) are read.
    pub attributes: Attributes,
    /// Whether the account is disabled by the configured method.
    pub disabled: bool,
    /// Active Directory's `userAccountControl`, when the flavour has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_control: Option<u32>,
    /// Whether the account has ever had a password (AD: `pwdLastSet` is not 0). An account
    /// without one gets a random password when hrsync enables it.
    #[serde(default = "yes")]
    pub password_set: bool,
    /// Why the account must never be changed (an administrator, a protected group), if it must
    /// not. Decided by the directory adapter from the flavour's protection rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<String>,
    /// Offboarded by `hrsync offboard` (a member of the hold group): never re-enabled or given
    /// groups until an admin takes it out of that group.
    #[serde(default)]
    pub held: bool,
}

fn yes() -> bool {
    true
}

impl DirectoryAccount {
    pub fn values(&self, attribute: &str) -> &[String] {
        self.attributes.get(attribute).unwrap_or(&[])
    }
}

/// A group named in the mappings, as found in the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryGroup {
    pub dn: Dn,
    /// Every member, managed or not.
    pub members: BTreeSet<Dn>,
}

/// What the directory holds, as far as hrsync is concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectorySnapshot {
    /// Every person entry under the managed bases, correlated or not.
    pub accounts: Vec<DirectoryAccount>,
    /// The managed groups that exist, by DN. A managed group missing here does not exist.
    pub groups: BTreeMap<Dn, DirectoryGroup>,
    /// Values of the unique attributes already in use anywhere in the directory, by lower-cased
    /// attribute name, values lower-cased (these attributes match case-insensitively).
    #[serde(default)]
    pub taken: BTreeMap<String, BTreeSet<String>>,
    /// What the directory adapter found that makes its changes less than they seem (a disable
    /// method that locks nobody out); the planner puts these into the plan's warnings.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// Why a change is in a plan: the HR fact behind it and the mapping rule that turned the fact
/// into this change. Every change carries one, so a plan can explain itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Reason {
    /// What HR says, for example `department = "Engineering"` or `status = terminated ("Inactive")`.
    pub fact: String,
    /// The mapping rule or setting that applied, for example `rule "engineering"` or `birthright`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl Reason {
    pub fn new(fact: impl Into<String>, rule: impl Into<String>) -> Self {
        Self {
            fact: fact.into(),
            rule: Some(rule.into()),
        }
    }

    pub fn fact(fact: impl Into<String>) -> Self {
        Self {
            fact: fact.into(),
            rule: None,
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.rule {
            Some(rule) => write!(f, "{} ({rule})", self.fact),
            None => f.write_str(&self.fact),
        }
    }
}

/// An employee's status at a moment, from HR's status and dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effective {
    pub status: EmploymentStatus,
    /// A termination that has not happened yet: the moment it takes effect.
    pub leaves_at: Option<DateTime<Utc>>,
}

/// HR's status corrected by the dates, at `now`, in the employee's time zone `tz`.
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
pub fn start_of_day<Tz: TimeZone>(date: NaiveDate, tz: &Tz) -> DateTime<Utc> {
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
}
