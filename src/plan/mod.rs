//! Plans: what would change in the directory, and why.
//!
//! A [`Plan`] is the whole contract between deciding and doing. The planner ([`planner::plan`]) is
//! a pure function of the HR snapshot, the directory snapshot, the mappings, the directory policy
//! and the time; it performs no I/O and reads no clock, so the same inputs always give the same
//! plan. [`ops`] turns a plan into the LDAP operations that both `apply` and the LDIF renderer
//! use, so what is previewed is exactly what is applied.
//!
//! The JSON form of a plan (`hrsync plan --format json`, `--out FILE`) is a stable, versioned
//! schema, published as `docs/schema/plan.schema.json` (which `schema_tests` and the
//! integration tests hold these types to): see also docs/src/plans.md.

pub mod approval;
pub mod filter;
pub mod limits;
pub(crate) mod masked;
pub mod ops;
pub(crate) mod planner;
#[cfg(test)]
mod schema_tests;
mod status;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dn::Dn;
use crate::model::{Employee, Reason};

pub use planner::{PlanInput, plan};
pub use status::{Effective, effective_status};

/// The schema identifier written into every plan. Bump the version on any incompatible change.
pub(crate) const PLAN_SCHEMA: &str = "hrsync.plan/v1";

/// How the directory behaves, as far as planning is concerned. Comes from the directory flavour
/// and its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub disable: DisableMethod,
    /// Active Directory: also set `accountExpires` to the time of the plan when disabling a
    /// leaver (and clear it when re-enabling).
    pub expire_leavers: bool,
    /// Whether the server rewrites group `member` values when an entry is renamed (OpenLDAP with
    /// the refint overlay; Active Directory always). When false, hrsync rewrites them itself.
    pub member_values_follow_renames: bool,
    /// Whether a group must keep at least one member (`groupOfNames`). When true, hrsync puts the
    /// configured placeholder into a group before removing its last real member.
    pub groups_require_member: bool,
    pub empty_group_placeholder: Option<Dn>,
    /// Attributes a new account cannot be created without (besides the naming attribute).
    pub required_attributes: Vec<String>,
    /// How many days before the start date a joiner's account is created, disabled until the
    /// start date (`lifecycle.prehire_days`; 0: created on the start date).
    pub prehire_days: i64,
    /// The time zone dates are read in (`lifecycle.time_zone`), unless the HR field named by
    /// `time_zone_field` gives the employee's own.
    pub time_zone: chrono_tz::Tz,
    pub time_zone_field: Option<String>,
    /// Disable the accounts of employees on leave (`lifecycle.leave = "disable"`).
    pub leave_disable: bool,
    /// Managed groups taken away for the time of a leave (`lifecycle.leave_remove_groups`).
    pub leave_remove_groups: BTreeSet<Dn>,
    /// Disable (and strip, and move) accounts whose HR record is missing
    /// (`lifecycle.disable_orphans`); guarded by the `missing` limit.
    pub disable_orphans: bool,
    /// Which groups a leaver leaves (`lifecycle.leaver_groups`).
    pub leaver_groups: LeaverGroups,
    /// Groups a leaver stays in whatever `leaver_groups` says (`lifecycle.leaver_keep_groups`:
    /// an alumni list, say).
    pub leaver_keep_groups: BTreeSet<Dn>,
    /// How hrsync marks an account it disabled, so that any later run (on any machine) knows
    /// the lock is its own to lift: a value added to an attribute of the entry. A disabled
    /// account without the mark (and outside the disabled OU) was locked by someone else and
    /// is never re-enabled by hrsync.
    pub disabled_mark: Mark,
}

/// A value hrsync adds to an attribute of an entry, and recognises there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// As written in the directory (`description`); compared case-insensitively.
    pub attribute: String,
    pub value: String,
}

impl Mark {
    /// `hrsync-disabled` in `attribute`.
    pub fn disabled_in(attribute: &str) -> Self {
        Self {
            attribute: attribute.to_string(),
            value: DISABLED_MARK.to_string(),
        }
    }
}

/// The value hrsync marks the accounts it disabled with.
pub const DISABLED_MARK: &str = "hrsync-disabled";

/// How hrsync marks an account whose HR record was missing from a read it could not confirm
/// otherwise, followed by the time of that read (`hrsync-absent-since=2026-12-03T10:00:00Z`), in
/// the attribute of [`Policy::disabled_mark`]. The next run that still misses the record
/// disables the account; a run that finds it again takes the mark off.
pub const ABSENT_MARK_PREFIX: &str = "hrsync-absent-since=";

/// How hrsync marks an account it creates until the joiner's last step (after its group adds):
/// a later run that finds the mark finishes the account as a joiner (its hooks and audit say
/// joiner), however the first apply was cut off. In the attribute of [`Policy::disabled_mark`].
pub const JOINING_MARK: &str = "hrsync-joining";

/// Whether `value` is one of hrsync's marks, which no mapping manages: a comparison of a mapped
/// attribute that holds a mark leaves the mark out, and a change of it keeps the mark.
pub(crate) fn is_hrsync_mark(value: &str) -> bool {
    value.eq_ignore_ascii_case(DISABLED_MARK)
        || value.eq_ignore_ascii_case(JOINING_MARK)
        || value
            .get(..ABSENT_MARK_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(ABSENT_MARK_PREFIX))
}

/// Which groups a leaver leaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LeaverGroups {
    /// Every group under the group bases that lists the account, managed or not: a leaver keeps
    /// no access, however it was granted.
    #[default]
    All,
    /// Only the groups the mappings manage.
    Managed,
}

impl Policy {
    /// The employee's time zone: their own (from `time_zone_field`) or the configured one. The
    /// second value says why their own could not be used, when it could not.
    pub(crate) fn time_zone_of(&self, employee: &Employee) -> (chrono_tz::Tz, Option<String>) {
        let Some(name) = self
            .time_zone_field
            .as_deref()
            .and_then(|field| employee.field(field))
        else {
            return (self.time_zone, None);
        };
        match name.parse::<chrono_tz::Tz>() {
            Ok(tz) => (tz, None),
            Err(_) => (
                self.time_zone,
                Some(format!(
                    "employee {}: time zone {name:?} is not an IANA zone; using {}",
                    employee.id, self.time_zone
                )),
            ),
        }
    }

    /// The employee's status at `now` in their time zone (see [`effective_status`]): the one
    /// decision of it. The planner makes it for everyone once per plan; `explain` and `report`
    /// show the same.
    pub fn effective(&self, employee: &Employee, now: DateTime<Utc>) -> Effective {
        let (zone, _) = self.time_zone_of(employee);
        effective_status(
            employee.hr_status,
            employee.hire_date,
            employee.termination_date,
            now,
            &zone,
        )
    }
}

/// How an account is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisableMethod {
    /// OpenLDAP ppolicy: `pwdAccountLockedTime: 000001010000Z` locks the account permanently
    /// (when a password policy applies to the entry); deleting that value unlocks it.
    PpolicyLock,
    /// Active Directory: bit 0x2 (ACCOUNTDISABLE) of `userAccountControl`, every other bit kept.
    /// New accounts are created disabled, then given a random password and enabled.
    UserAccountControl,
    /// 389 Directory Server: `nsAccountLock: true` on the entry (what `dsidm account lock`
    /// writes); a bind then fails with result 53 whatever the password. Deleting it unlocks,
    /// but never a lock given by a role or a password-policy lockout, which live elsewhere.
    NsAccountLock,
}

impl DisableMethod {
    /// The attribute and value that lock an account, for the methods that lock with one (AD's
    /// is a bit of `userAccountControl`).
    pub(crate) fn lock_value(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::PpolicyLock => Some(("pwdAccountLockedTime", PPOLICY_PERMANENT_LOCK)),
            Self::NsAccountLock => Some(("nsAccountLock", NS_ACCOUNT_LOCKED)),
            Self::UserAccountControl => None,
        }
    }

    /// Whether `values` of the lock attribute hold this method's lock. ppolicy's permanent lock
    /// is one exact value (any other is a lockout after failed binds, the server's own); 389
    /// reads `nsAccountLock` case-insensitively.
    pub(crate) fn is_locked_by(self, values: &[String]) -> bool {
        match self {
            Self::PpolicyLock => values.iter().any(|v| v == PPOLICY_PERMANENT_LOCK),
            Self::NsAccountLock => values.iter().any(|v| v.eq_ignore_ascii_case("true")),
            Self::UserAccountControl => false,
        }
    }
}

/// The value of `pwdAccountLockedTime` that means "locked by an administrator, permanently".
/// Other values are temporary lockouts set by the server after failed binds; hrsync leaves
/// those alone.
pub(crate) const PPOLICY_PERMANENT_LOCK: &str = "000001010000Z";

/// The value of `nsAccountLock` that locks a 389-DS account; `dsidm` reads exactly this one as
/// "directly locked" (the server itself takes any case).
pub(crate) const NS_ACCOUNT_LOCKED: &str = "true";

/// `userAccountControl` bits hrsync uses.
pub(crate) const UAC_ACCOUNTDISABLE: u32 = 0x2;
pub(crate) const UAC_NORMAL_ACCOUNT: u32 = 0x200;

/// A change of `userAccountControl`, recorded with both values so the plan shows exactly which
/// bit moves and a saved plan can be checked against the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlChange {
    pub before: u32,
    pub after: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Always [`PLAN_SCHEMA`].
    pub schema: String,
    /// When the plan was made (the planner's `now`).
    pub generated_at: DateTime<Utc>,
    pub summary: Summary,
    /// Accounts with at least one change, in DN order.
    pub accounts: Vec<AccountPlan>,
    /// Changes to groups that belong to no single account (placeholder members).
    pub group_changes: Vec<GroupChange>,
    /// Employees and accounts deliberately left alone, with the reason.
    pub skipped: Vec<Skipped>,
    /// Correlated directory accounts with no HR record. Reported, never changed.
    pub orphans: Vec<Orphan>,
    pub warnings: Vec<String>,
    /// Safety limits this plan goes over (see [`limits`]); filled in by the run, not the planner.
    #[serde(default)]
    pub limits_tripped: Vec<limits::TrippedLimit>,
    /// Terminations dated in the future, for accounts that exist: what will happen, and when.
    #[serde(default)]
    pub scheduled: Vec<Scheduled>,
    /// The configuration and mappings the plan was made with; filled in by the run. A saved
    /// plan is only applied with the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigDigest>,
}

/// A digest of the effective configuration and mapping files, and a short one per key, so that
/// a difference can be named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigDigest {
    /// `sha256:` and the hex digest of the whole.
    pub digest: String,
    /// Key (`directory.users_base`, `roles.toml: rule[2]`) -> the first 16 hex characters of
    /// its value's digest.
    pub keys: BTreeMap<String, String>,
}

/// A termination that has not taken effect yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduled {
    pub employee_id: String,
    /// The end of the last working day in the employee's time zone.
    pub leaves_at: DateTime<Utc>,
    pub reason: String,
}

impl Plan {
    /// Whether applying the plan would change anything.
    pub fn has_changes(&self) -> bool {
        !self.accounts.is_empty() || !self.group_changes.is_empty()
    }

    /// Counts the changes and lifecycles into the summary (what was read and left alone is
    /// counted by the planner).
    pub(crate) fn count(&mut self) {
        let summary = &mut self.summary;
        (summary.joiners, summary.movers, summary.leavers) = (0, 0, 0);
        (summary.rehires, summary.returns, summary.updates) = (0, 0, 0);
        summary.changes = self.group_changes.len();
        for account in &self.accounts {
            summary.changes += account.changes.len();
            match account.lifecycle {
                Lifecycle::Joiner => summary.joiners += 1,
                Lifecycle::Mover => summary.movers += 1,
                Lifecycle::Leaver => summary.leavers += 1,
                Lifecycle::Rehire => summary.rehires += 1,
                Lifecycle::Return => summary.returns += 1,
                Lifecycle::Update => summary.updates += 1,
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub joiners: usize,
    pub movers: usize,
    pub leavers: usize,
    pub rehires: usize,
    #[serde(default)]
    pub returns: usize,
    pub updates: usize,
    pub changes: usize,
    pub skipped: usize,
    pub orphans: usize,
    pub hr_records: usize,
    pub directory_accounts: usize,
}

impl Summary {
    /// How many accounts of `lifecycle` the plan has.
    pub fn of(&self, lifecycle: Lifecycle) -> usize {
        match lifecycle {
            Lifecycle::Joiner => self.joiners,
            Lifecycle::Mover => self.movers,
            Lifecycle::Leaver => self.leavers,
            Lifecycle::Rehire => self.rehires,
            Lifecycle::Return => self.returns,
            Lifecycle::Update => self.updates,
        }
    }
}

/// What is happening to a person, in HR's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// New account.
    Joiner,
    /// Role change: new OU and/or different role groups (and maybe attributes).
    Mover,
    /// Disabled, stripped of managed groups, moved to the disabled OU.
    Leaver,
    /// A disabled account re-enabled for its current role.
    Rehire,
    /// Back from a leave during which the account was disabled.
    Return,
    /// Attribute changes only.
    Update,
}

impl Lifecycle {
    /// Every lifecycle, for series that must exist even at 0.
    pub(crate) const ALL: [Lifecycle; 6] = [
        Self::Joiner,
        Self::Mover,
        Self::Leaver,
        Self::Rehire,
        Self::Return,
        Self::Update,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Joiner => "joiner",
            Self::Mover => "mover",
            Self::Leaver => "leaver",
            Self::Rehire => "rehire",
            Self::Return => "return",
            Self::Update => "update",
        }
    }
}

/// The changes to one account, in the order they are applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountPlan {
    pub employee_id: String,
    pub lifecycle: Lifecycle,
    /// The account's DN now (for a joiner: the DN it will be created with).
    pub dn: Dn,
    /// The account as it was read, for drift detection when a saved plan is applied.
    /// `None` for a joiner (the DN must still be free).
    pub before: Option<AccountState>,
    pub changes: Vec<Change>,
}

/// The parts of an account that hrsync manages, as read from the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    pub dn: Dn,
    pub disabled: bool,
    /// Managed attributes by name as written in the mappings (absent = no value).
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Managed groups the account is a member of.
    pub groups: Vec<Dn>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    #[serde(flatten)]
    pub action: Action,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Create the entry with these attributes (object classes included).
    Create {
        dn: Dn,
        attributes: BTreeMap<String, Vec<String>>,
    },
    Enable {
        method: DisableMethod,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account_control: Option<ControlChange>,
        /// The account has never had a password: a random one is set first (it is never shown;
        /// the employee gets in through the company's password reset process).
        #[serde(default)]
        set_password: bool,
        /// Active Directory: `accountExpires` is reset to "never".
        #[serde(default)]
        clear_expiry: bool,
    },
    Disable {
        method: DisableMethod,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account_control: Option<ControlChange>,
        /// Active Directory: `accountExpires` is set to this value (a FILETIME: the plan's time).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires: Option<String>,
    },
    /// Replace every value of an attribute; an empty `after` removes the attribute.
    SetAttribute {
        attribute: String,
        before: Vec<String>,
        after: Vec<String>,
    },
    /// Rename the entry into another OU, keeping its RDN.
    Move {
        from: Dn,
        to: Dn,
    },
    AddToGroup {
        group: Dn,
    },
    RemoveFromGroup {
        group: Dn,
    },
    /// After a move, replace the account's old DN by its new one in a group it stays in.
    RenameMember {
        group: Dn,
        from: Dn,
        to: Dn,
    },
    /// Add one value to an attribute, leaving its other values alone: hrsync's mark on an
    /// account it disabled (see [`Policy::disabled_mark`]).
    AddValue {
        attribute: String,
        value: String,
    },
    /// Delete one value of an attribute, leaving its other values alone.
    RemoveValue {
        attribute: String,
        value: String,
    },
}

impl Action {
    /// The change in a few words, for lists: `set_attribute title`, `add_to_group cn=...`,
    /// `move uid=a,ou=x -> uid=a,ou=y`. Attribute values are left out (a list of refused
    /// changes must not echo a forged password).
    pub fn summary(&self) -> String {
        let name = self.name();
        match self {
            Self::Create { dn, .. } => format!("{name} {dn}"),
            Self::SetAttribute { attribute, .. } => format!("{name} {attribute}"),
            Self::Move { from, to } => format!("{name} {from} -> {to}"),
            Self::AddToGroup { group } | Self::RemoveFromGroup { group } => {
                format!("{name} {group}")
            }
            Self::RenameMember { group, from, to } => format!("{name} in {group}: {from} -> {to}"),
            Self::AddValue { attribute, .. } | Self::RemoveValue { attribute, .. } => {
                format!("{name} {attribute}")
            }
            Self::Enable { .. } | Self::Disable { .. } => name.to_string(),
        }
    }

    /// The action's name, as the plan's JSON, the audit log and the metrics write it.
    /// Every change's name ([`Action::name`], then [`GroupAction::name`]), for series that must
    /// exist even at 0.
    pub(crate) const NAMES: [&'static str; 12] = [
        "create",
        "enable",
        "disable",
        "set_attribute",
        "move",
        "add_to_group",
        "remove_from_group",
        "rename_member",
        "add_value",
        "remove_value",
        "add_placeholder",
        "remove_placeholder",
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Self::Create { .. } => "create",
            Self::Enable { .. } => "enable",
            Self::Disable { .. } => "disable",
            Self::SetAttribute { .. } => "set_attribute",
            Self::Move { .. } => "move",
            Self::AddToGroup { .. } => "add_to_group",
            Self::RemoveFromGroup { .. } => "remove_from_group",
            Self::RenameMember { .. } => "rename_member",
            Self::AddValue { .. } => "add_value",
            Self::RemoveValue { .. } => "remove_value",
        }
    }
}

/// A group-level change that keeps a `groupOfNames` valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupChange {
    pub group: Dn,
    pub action: GroupAction,
    pub member: Dn,
    pub reason: Reason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupAction {
    /// Applied before the account changes: the group is about to lose its last real member.
    AddPlaceholder,
    /// Applied after the account changes: the group has real members again.
    RemovePlaceholder,
}

impl GroupAction {
    pub fn name(self) -> &'static str {
        match self {
            Self::AddPlaceholder => "add_placeholder",
            Self::RemovePlaceholder => "remove_placeholder",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Skipped {
    pub employee_id: Option<String>,
    pub dn: Option<Dn>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Orphan {
    pub dn: Dn,
    pub correlation_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The metrics print a series for every name in [`Action::NAMES`]: each change a plan can
    /// hold is one of them, so none of its series is missing before its first occurrence.
    #[test]
    fn every_change_name_is_listed_once() {
        let dn = |s: &str| Dn::parse(s).unwrap();
        let actions = [
            Action::Create {
                dn: dn("uid=a,dc=x"),
                attributes: BTreeMap::new(),
            },
            Action::Enable {
                method: DisableMethod::NsAccountLock,
                account_control: None,
                set_password: false,
                clear_expiry: false,
            },
            Action::Disable {
                method: DisableMethod::NsAccountLock,
                account_control: None,
                expires: None,
            },
            Action::SetAttribute {
                attribute: "title".into(),
                before: Vec::new(),
                after: Vec::new(),
            },
            Action::Move {
                from: dn("uid=a,dc=x"),
                to: dn("uid=a,dc=y"),
            },
            Action::AddToGroup { group: dn("cn=g") },
            Action::RemoveFromGroup { group: dn("cn=g") },
            Action::RenameMember {
                group: dn("cn=g"),
                from: dn("uid=a,dc=x"),
                to: dn("uid=a,dc=y"),
            },
            Action::AddValue {
                attribute: "description".into(),
                value: "v".into(),
            },
            Action::RemoveValue {
                attribute: "description".into(),
                value: "v".into(),
            },
        ];
        let mut names: Vec<&str> = actions.iter().map(Action::name).collect();
        names.extend(
            [GroupAction::AddPlaceholder, GroupAction::RemovePlaceholder].map(GroupAction::name),
        );
        assert_eq!(names, Action::NAMES);
    }
}
