//! The domain types that flow through hrsync: what HR says about a person, what the directory
//! holds, and what the mappings say the account should be.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
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
    pub(crate) fn as_str(self) -> &'static str {
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
/// field path, HR's status as mapped, and the dates. What the status is at a given moment (the
/// dates can make an active person pending or terminated) is the planner's decision, made once
/// per run: [`Policy::effective`](crate::plan::Policy::effective).
///
/// `fields` holds every mapped field by its canonical name (`id`, `first_name`, `last_name`,
/// `email`, `title`, `department`, `location`, `employment_type`, `manager_id`, plus any custom
/// name the configuration adds). Templates in the mappings refer to these names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Employee {
    pub id: String,
    /// HR's own status, mapped: what HR says, before the dates are taken into account.
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
    /// What reading HR found that makes a record less than it seems, though it is still used (a
    /// reference to another record that names nobody, so the field was left empty); the planner
    /// puts these into the plan's warnings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Employees missing from the list whom HR was then asked about one by one, by id, and what
    /// it answered: how the planner confirms an absence before it disables an orphan
    /// (`lifecycle.disable_orphans`). Filled by the run after the list read, for the sources
    /// that can read one employee; empty otherwise (the absence is then confirmed by a second
    /// run, see docs/src/how-it-decides.md, "Orphans").
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub single_reads: BTreeMap<String, SingleRead>,
    /// `Some` when this is not HR's list but a read of these employees alone (`hrsync sync`, an
    /// event): the planner plans only the accounts correlated to them, and every other account
    /// in the directory snapshot is there only so that names and DNs in use are known. An id
    /// here without a record is one HR said it has no employee by (see `single_reads`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<BTreeSet<String>>,
}

/// What HR answered when asked for one employee whom its list left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SingleRead {
    /// HR has no such employee: the absence is confirmed.
    Absent,
    /// HR has the employee (readable or not): the list read missed them, so it was incomplete.
    Present,
    /// The read failed: nothing is confirmed.
    Failed,
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
    /// A lock that stops a login although the disable method's own attribute is not set, and
    /// that hrsync therefore can neither lift nor count on: on 389-DS, an `nsAccountLock` the
    /// entry gets from a role. What it is, for the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_elsewhere: Option<String>,
}

fn yes() -> bool {
    true
}

impl DirectoryAccount {
    pub(crate) fn values(&self, attribute: &str) -> &[String] {
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
    /// The managed groups that exist, and every other group under the group bases
    /// (`lifecycle.group_bases`, the hold group left out), by DN. A managed group missing here
    /// does not exist.
    pub groups: BTreeMap<Dn, DirectoryGroup>,
    /// Values of the unique attributes already in use anywhere in the directory, by lower-cased
    /// attribute name, values lower-cased (these attributes match case-insensitively).
    #[serde(default)]
    pub taken: BTreeMap<String, BTreeSet<String>>,
    /// What the directory adapter found that makes its changes less than they seem (a disable
    /// method that locks nobody out); the planner puts these into the plan's warnings.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Whether the server itself rewrites member values when an entry moves, where the adapter
    /// found out from the server (389-DS's plugins); `None` leaves it to the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_values_follow_renames: Option<bool>,
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
    pub(crate) fn new(fact: impl Into<String>, rule: impl Into<String>) -> Self {
        Self {
            fact: fact.into(),
            rule: Some(rule.into()),
        }
    }

    pub(crate) fn fact(fact: impl Into<String>) -> Self {
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
