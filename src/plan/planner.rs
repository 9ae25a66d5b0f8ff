//! The planner: a pure function from (HR, directory, mappings, policy, now) to a [`Plan`].
//!
//! It runs as a list of phases (see `Builder::run`), each in its own file:
//! 1. correlate and skip (`correlate.rs`): the accounts by correlation value, refusing anything
//!    ambiguous (duplicate correlation values) and leaving alone the accounts of unreadable HR
//!    records and protected accounts;
//! 2. convert and orphans (`correlate.rs`): accounts taken over under a new id, and accounts no
//!    HR record claims;
//! 3. target (`target.rs`) and resolve conflicts (`naming.rs`): an intent per employee
//!    (provision, deprovision or leave alone) and the DN each account should end up at;
//! 4. plan accounts: a joiner (`joiner.rs`), an existing account (`existing.rs`) or a leaver
//!    (`leaver.rs`), whose attributes may refer to other accounts' final DNs (`manager_dn`);
//! 5. the orphans' deprovisioning (`leaver.rs`), the repair of member values a cut-short move
//!    left behind (`stale.rs`), and the placeholder changes that keep groups valid
//!    (`placeholders.rs`).
//!
//! Safety properties it keeps, each pinned by a test:
//! - an account is only ever changed because of its own, readable HR record: a missing record
//!   (orphan) or an unreadable one is reported and the account left as it is;
//! - only managed groups (named in the mappings) and managed attributes are touched;
//! - a leaver is disabled first, before anything else happens to the account.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::dn::Dn;
use crate::mapping::{MANAGER_DN, Mappings, RoleAssignment, Template, UNIQUE};
use crate::model::{
    DirectoryAccount, DirectorySnapshot, Employee, EmploymentStatus, HrSnapshot, Reason,
};

use super::limits::{self, Limits};
use super::{
    AccountPlan, AccountState, Action, Change, ControlChange, DisableMethod, GroupAction,
    GroupChange, LeaverGroups, Lifecycle, Orphan, PLAN_SCHEMA, Plan, Policy, Scheduled, Skipped,
    Summary, UAC_ACCOUNTDISABLE, UAC_NORMAL_ACCOUNT,
};

/// Everything the planner needs. Nothing else influences a plan.
#[derive(Clone, Copy)]
pub struct PlanInput<'a> {
    pub hr: &'a HrSnapshot,
    pub directory: &'a DirectorySnapshot,
    pub mappings: &'a Mappings,
    pub policy: &'a Policy,
    /// The safety limits the plan is checked against; what it goes over is part of the plan.
    pub limits: &'a Limits,
    pub now: DateTime<Utc>,
}

/// What should happen to one employee's account.
enum Intent<'a> {
    /// Active (or on leave): the account exists, is enabled, and follows the role. With `hold`
    /// (a pre-hire before the start date, or leave with `lifecycle.leave = "disable"`), it exists
    /// and follows the role but stays disabled, for that reason.
    Provision {
        existing: Option<&'a DirectoryAccount>,
        /// Shared by everyone in the same role (see `Builder::roles`).
        role: std::sync::Arc<RoleAssignment>,
        /// Boxed: rare, and every target would carry its size (at company scale, the targets
        /// are a large vector whose pages are all new).
        hold: Option<Box<Reason>>,
    },
    /// Terminated and the account exists.
    Deprovision { existing: &'a DirectoryAccount },
}

struct Target<'a> {
    employee: &'a Employee,
    /// The employee's status at `now`.
    status: EmploymentStatus,
    intent: Intent<'a>,
    /// Where the account will be once the plan is applied.
    dn: Dn,
    /// The `{unique}` suffix chosen for a new account's names ("" or "2", "3", ...).
    unique: String,
}

pub fn plan(input: &PlanInput) -> Plan {
    plan_with(input, PARALLEL_FROM)
}

/// [`plan`], planning accounts on two threads from `parallel_from` targets on (see
/// [`Builder::plan_targets`]): tests set it to check that where it makes no difference.
fn plan_with(input: &PlanInput, parallel_from: usize) -> Plan {
    let EffectiveHr {
        people,
        scheduled,
        warnings,
    } = effective_hr(input);
    let mut builder = Builder::new(input, people);
    builder.parallel_from = parallel_from;
    builder.warnings.extend(warnings);
    builder.warnings.extend(input.hr.warnings.iter().cloned());
    builder
        .warnings
        .extend(input.directory.warnings.iter().cloned());
    builder.run();
    let mut plan = builder.finish();
    plan.scheduled = with_accounts(scheduled, input.directory);
    plan.limits_tripped = limits::check(&plan, input.limits);
    plan
}

/// The terminations to come of leavers who still have an account to take away.
fn with_accounts(scheduled: Vec<Scheduled>, directory: &DirectorySnapshot) -> Vec<Scheduled> {
    if scheduled.is_empty() {
        return scheduled;
    }
    let correlated: BTreeSet<&str> = directory
        .accounts
        .iter()
        .filter_map(|a| a.correlation_id.as_deref())
        .collect();
    scheduled
        .into_iter()
        .filter(|s| correlated.contains(s.employee_id.as_str()))
        .collect()
}

struct Builder<'a> {
    input: &'a PlanInput<'a>,
    /// The employees with their status at `now` (see [`effective_hr`]), in HR's order.
    employees: Vec<Person<'a>>,
    skipped: Vec<Skipped>,
    warnings: BTreeSet<String>,
    accounts: Vec<AccountPlan>,
    group_changes: Vec<GroupChange>,
    orphans: Vec<Orphan>,
    /// Managed group -> members, as read.
    memberships: BTreeMap<&'a Dn, &'a BTreeSet<Dn>>,
    /// Every managed membership as read, by member (see [`MemberOf`]).
    member_of: MemberOf<'a>,
    /// The other groups under the group bases (not managed): group -> members, as read.
    other_memberships: BTreeMap<&'a Dn, &'a BTreeSet<Dn>>,
    /// Every membership of those other groups, by member: what a leaver leaves besides the
    /// managed groups, and where a mover's value follows the move.
    other_member_of: MemberOf<'a>,
    /// The attributes hrsync keeps up to date, in the mappings' order.
    managed_attributes: Vec<ManagedAttribute<'a>>,
    /// The fields any rule looks at.
    rule_fields: BTreeSet<&'a str>,
    /// Role assignments by what [`Mappings::assign`] reads (the status and the fields rules
    /// look at): everyone in the same role shares one evaluation of the rules.
    roles: BTreeMap<(EmploymentStatus, Vec<Option<&'a str>>), std::sync::Arc<RoleAssignment>>,
    /// The buffer `provision` looks `roles` up with.
    role_key: Vec<Option<&'a str>>,
    managed_groups: BTreeSet<Dn>,
    /// Values of unique attributes in use (directory) or given to a new account in this plan,
    /// as (lower-cased attribute, lower-cased value). Only naming a new account needs them, so
    /// they are gathered when the first joiner is named (see [`Builder::names_in_use`]).
    names_in_use: Option<BTreeSet<(String, String)>>,
    /// The directory's entries by [`DnHash`], for "what is at this DN" (see
    /// [`Builder::entry_at`]). Moves, new accounts, orphans and the search for stale members
    /// ask; a plan with none of them (member values that follow renames, nobody moving or
    /// joining) never sorts it, so it is sorted on first use.
    entries: std::sync::OnceLock<Vec<(DnHash, &'a DirectoryAccount)>>,
    /// DNs this plan puts an entry at that is not there yet (a new account, an orphan moved
    /// to the disabled OU), with what will be there.
    claimed: BTreeMap<Dn, &'static str>,
    /// From how many targets their accounts are planned on two threads (see
    /// [`Builder::plan_targets`]); [`PARALLEL_FROM`] but in tests.
    parallel_from: usize,
}

/// Below this many targets, a second thread saves less than it costs to start, and a plan
/// made on one thread is the simpler one to follow in a debugger.
const PARALLEL_FROM: usize = 2_000;

/// What planning targets' accounts finds (see [`Builder::plan_targets`]), kept apart from the
/// builder's so that targets can be planned on several threads and the findings merged.
#[derive(Default)]
struct Planned {
    accounts: Vec<AccountPlan>,
    skipped: Vec<Skipped>,
    warnings: BTreeSet<String>,
}

/// A skip entry.
fn skipped(id: Option<&str>, dn: Option<&Dn>, reason: String) -> Skipped {
    Skipped {
        employee_id: id.map(str::to_string),
        dn: dn.cloned(),
        reason,
    }
}

/// A managed attribute (see [`Mappings::managed_attributes`]) with what comparing it against
/// every account needs, worked out once.
struct ManagedAttribute<'a> {
    /// As written in the mappings.
    name: &'a str,
    /// Lower-cased: how [`DirectoryAccount::attributes`] is keyed.
    key: String,
    template: &'a Template,
    /// The directory cannot do without it (see [`Builder::is_required`]).
    required: bool,
}

impl<'a> Builder<'a> {
    fn new(input: &'a PlanInput<'a>, employees: Vec<Person<'a>>) -> Self {
        let managed_groups = input.mappings.managed_groups();
        let (mut memberships, mut other_memberships) = (BTreeMap::new(), BTreeMap::new());
        let (mut member_of, mut other_member_of) = (Vec::new(), Vec::new());
        for (dn, group) in &input.directory.groups {
            let (by_group, by_member) = if managed_groups.contains(dn) {
                (&mut memberships, &mut member_of)
            } else {
                (&mut other_memberships, &mut other_member_of)
            };
            by_group.insert(dn, &group.members);
            by_member.extend(
                group
                    .members
                    .iter()
                    .map(|member| (DnHash::of(member), member, dn)),
            );
        }
        let member_of = MemberOf::new(member_of);
        let other_member_of = MemberOf::new(other_member_of);
        let rule_fields = input
            .mappings
            .rules
            .iter()
            .flat_map(|rule| rule.conditions.keys().map(String::as_str))
            .collect();
        let mut builder = Self {
            input,
            employees,
            member_of,
            other_memberships,
            other_member_of,
            managed_attributes: Vec::new(),
            rule_fields,
            roles: BTreeMap::new(),
            role_key: Vec::new(),
            skipped: Vec::new(),
            warnings: BTreeSet::new(),
            accounts: Vec::new(),
            group_changes: Vec::new(),
            orphans: Vec::new(),
            memberships,
            managed_groups,
            names_in_use: None,
            entries: std::sync::OnceLock::new(),
            claimed: BTreeMap::new(),
            parallel_from: PARALLEL_FROM,
        };
        builder.managed_attributes = input
            .mappings
            .managed_attributes()
            .map(|(name, template)| ManagedAttribute {
                name,
                key: name.to_ascii_lowercase(),
                template,
                required: builder.is_required(name),
            })
            .collect();
        builder
    }

    /// The managed groups `account` is in, as read, in group order.
    fn groups_of(&self, account: &DirectoryAccount) -> impl Iterator<Item = &'a Dn> + '_ {
        self.member_of
            .of(&account.dn)
            .iter()
            .map(|(_, _, group)| *group)
    }

    /// Whether the server rewrites member values itself when an account moves: as found on the
    /// server where the directory adapter could tell, otherwise as configured.
    fn renames_followed(&self) -> bool {
        self.input
            .directory
            .member_values_follow_renames
            .unwrap_or(self.input.policy.member_values_follow_renames)
    }

    /// Whether hrsync disabled `account`: its mark is on the entry, it sits disabled in the
    /// disabled OU (a leaver), or it never had a password (Active Directory: created disabled
    /// by hrsync, waiting for its start date). A lock hrsync may lift; any other is someone
    /// else's.
    fn locked_by_hrsync(&self, account: &DirectoryAccount) -> bool {
        let mark = &self.input.policy.disabled_mark;
        account
            .values(&mark.attribute.to_ascii_lowercase())
            .iter()
            .any(|v| v.eq_ignore_ascii_case(&mark.value))
            || account
                .dn
                .is_child_of(&self.input.mappings.account.disabled_ou)
            || !account.password_set
    }

    /// The mark that says hrsync disabled an account, added after its lock (never in the same
    /// operation: a refused mark must not undo a lock).
    fn mark_disabled(&self, reason: &Reason) -> Change {
        let mark = &self.input.policy.disabled_mark;
        Change {
            action: Action::AddValue {
                attribute: mark.attribute.clone(),
                value: mark.value.clone(),
            },
            reason: Reason {
                rule: Some("hrsync marks the accounts it disables".to_string()),
                ..reason.clone()
            },
        }
    }

    /// Taking hrsync's mark off an account it enables again.
    fn unmark(&self, account: &DirectoryAccount, reason: &Reason) -> Option<Change> {
        let mark = &self.input.policy.disabled_mark;
        let key = mark.attribute.to_ascii_lowercase();
        let value = account
            .values(&key)
            .iter()
            .find(|v| v.eq_ignore_ascii_case(&mark.value))?;
        Some(Change {
            action: Action::RemoveValue {
                attribute: mark.attribute.clone(),
                value: value.clone(),
            },
            reason: reason.clone(),
        })
    }

    /// The groups under the group bases that list `dn` and that hrsync does not manage.
    fn other_groups_of(&self, dn: &Dn) -> impl Iterator<Item = &'a Dn> + '_ {
        self.other_member_of
            .of(dn)
            .iter()
            .map(|(_, _, group)| *group)
    }

    /// The directory entry at `dn`, if there is one (a directory holds each DN once; should a
    /// snapshot hold one twice, the first is taken).
    fn entry_at(&self, dn: &Dn) -> Option<&'a DirectoryAccount> {
        let entries = self.entries();
        let hash = DnHash::of(dn);
        let at = entries.partition_point(|(h, a)| (*h, &a.dn) < (hash, dn));
        entries
            .get(at)
            .filter(|(_, a)| a.dn == *dn)
            .map(|(_, a)| *a)
    }

    /// The directory's entries by hash and DN (stably, so of two entries at one DN the first
    /// comes first), sorted on first use.
    fn entries(&self) -> &[(DnHash, &'a DirectoryAccount)] {
        self.entries.get_or_init(|| {
            let mut entries: Vec<(DnHash, &DirectoryAccount)> = self
                .input
                .directory
                .accounts
                .iter()
                .map(|a| (DnHash::of(&a.dn), a))
                .collect();
            entries.sort_by(|a, b| (a.0, &a.1.dn).cmp(&(b.0, &b.1.dn)));
            entries
        })
    }

    /// Whether an entry is at `dn`, or this plan puts one there.
    fn dn_in_use(&self, dn: &Dn) -> bool {
        self.claimed.contains_key(dn) || self.entry_at(dn).is_some()
    }

    /// What is or will be at `dn`, for conflict messages.
    fn occupant_at(&self, dn: &Dn) -> Option<String> {
        match self.claimed.get(dn) {
            Some(what) => Some((*what).to_string()),
            None => self
                .entry_at(dn)
                .map(|a| occupant(a, &self.input.mappings.correlation.attribute)),
        }
    }

    /// The phases, in order. Each adds its findings (changes, skips, orphans, warnings) to the
    /// builder; the later ones read what the earlier ones decided.
    fn run(&mut self) {
        self.warn_missing_groups();
        let by_id = ById::new(&self.input.directory.accounts, self.input.hr.scope.as_ref());
        let ambiguous = self.correlate(&by_id);
        let excluded = self.skip_unusable(&by_id, ambiguous);
        let mut employees = std::mem::take(&mut self.employees);
        employees.sort_by(|a, b| a.employee.id.cmp(&b.employee.id));
        let conversions = self.conversions(&employees, &by_id, &excluded);
        self.find_orphans(&employees, &by_id, &excluded, &conversions);
        let targets = self.targets(employees, &by_id, &excluded, &conversions);
        let targets = self.resolve_conflicts(targets);
        self.plan_accounts(&targets);
        self.deprovision_orphans();
        if self.input.hr.scope.is_none() {
            // Only a full read tells a stale member value from another person's account.
            self.repair_stale_members();
        }
        self.plan_placeholders();
    }

    fn skip(&mut self, id: Option<&str>, dn: Option<&Dn>, reason: String) {
        self.skipped.push(skipped(id, dn, reason));
    }

    fn state_of(&self, account: &DirectoryAccount) -> AccountState {
        let groups = self.groups_of(account).cloned().collect();
        state_with_groups(account, self.input.mappings, groups)
    }

    fn finish(mut self) -> Plan {
        self.accounts
            .sort_by(|a, b| a.dn.cmp(&b.dn).then(a.employee_id.cmp(&b.employee_id)));
        self.skipped.sort();
        self.skipped.dedup();
        self.orphans.sort();
        let summary = Summary {
            skipped: self.skipped.len(),
            orphans: self.orphans.len(),
            hr_records: self.input.hr.employees.len() + self.input.hr.rejected.len(),
            directory_accounts: self
                .input
                .directory
                .accounts
                .iter()
                .filter(|a| a.correlation_id.is_some())
                .count(),
            ..Summary::default()
        };
        let mut plan = Plan {
            schema: PLAN_SCHEMA.to_string(),
            generated_at: self.input.now,
            summary,
            accounts: self.accounts,
            group_changes: self.group_changes,
            skipped: self.skipped,
            orphans: self.orphans,
            warnings: self.warnings.into_iter().collect(),
            limits_tripped: Vec::new(),
            scheduled: Vec::new(),
            config: None,
        };
        plan.count();
        plan
    }
}

/// The managed part of an account as the directory holds it: what a plan records as "before"
/// and what a saved plan is checked against.
pub(crate) fn account_state(
    account: &DirectoryAccount,
    directory: &DirectorySnapshot,
    mappings: &Mappings,
) -> AccountState {
    let managed = mappings.managed_groups();
    let groups = directory
        .groups
        .iter()
        .filter(|(dn, group)| managed.contains(*dn) && group.members.contains(&account.dn))
        .map(|(dn, _)| dn.clone())
        .collect();
    state_with_groups(account, mappings, groups)
}

/// [`account_state`] with the account's managed groups already known.
fn state_with_groups(
    account: &DirectoryAccount,
    mappings: &Mappings,
    groups: Vec<Dn>,
) -> AccountState {
    let attributes = mappings
        .managed_attributes()
        .filter_map(|(name, _)| {
            let values = account.values(name);
            (!values.is_empty()).then(|| (name.to_string(), values.to_vec()))
        })
        .collect();
    AccountState {
        dn: account.dn.clone(),
        disabled: account.disabled,
        attributes,
        groups,
    }
}

fn current_dn<'b>(intent: &'b Intent) -> Option<&'b Dn> {
    match intent {
        Intent::Provision { existing, .. } => existing.map(|a| &a.dn),
        Intent::Deprovision { existing } => Some(&existing.dn),
    }
}

fn lookup<'e>(employee: &'e Employee, field: &str) -> Option<&'e str> {
    if field == "id" {
        return Some(employee.id.as_str());
    }
    employee.field(field)
}

/// Whether two lists of values are the same regardless of order (a directory keeps no order).
fn same_values(a: &[String], b: &[String]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a == b {
        return true;
    }
    let (mut a, mut b): (Vec<_>, Vec<_>) = (a.iter().collect(), b.iter().collect());
    a.sort();
    b.sort();
    a == b
}

/// The status as a fact for a reason: the planner's decision, with HR's own value when it
/// says something else.
fn status_fact(employee: &Employee, status: EmploymentStatus) -> String {
    if employee.status_source.is_empty() || employee.status_source == status.as_str() {
        status.to_string()
    } else {
        format!("{status} ({:?})", employee.status_source)
    }
}

fn describe_fields(employee: &Employee, fields: &[&str], final_dns: &FinalDns) -> String {
    if fields.is_empty() {
        return "fixed value".to_string();
    }
    fields
        .iter()
        .map(|f| {
            if *f == MANAGER_DN {
                match employee.manager_id() {
                    Some(id) => format!(
                        "manager_id = {id:?} ({})",
                        final_dns
                            .get(id)
                            .map_or("no account".to_string(), |d| d.to_string())
                    ),
                    None => "manager_id is empty".to_string(),
                }
            } else {
                match lookup(employee, f) {
                    Some(v) => format!("{f} = {v:?}"),
                    None => format!("{f} is empty"),
                }
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The HR facts rules usually match on, for "no rule gives ... to ...".
pub(crate) fn role_facts(employee: &Employee) -> String {
    let facts: Vec<String> = ["title", "department", "location", "employment_type"]
        .iter()
        .filter_map(|f| employee.field(f).map(|v| format!("{f} = {v:?}")))
        .collect();
    if facts.is_empty() {
        format!("employee {}", employee.id)
    } else {
        facts.join(", ")
    }
}

mod absence;
mod accounts;
mod correlate;
mod dates;
mod existing;
mod index;
mod joiner;
mod leaver;
mod naming;
mod offboard;
mod placeholders;
mod stale;
mod target;

use correlate::{Conversions, Excluded};
use dates::{EffectiveHr, Person, effective_hr};
use index::{ById, DnHash, FinalDns, MemberOf};
use naming::occupant;
pub(crate) use offboard::offboard;

#[cfg(test)]
mod tests;
