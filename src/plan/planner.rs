//! The planner: a pure function from (HR, directory, mappings, policy, now) to a [`Plan`].
//!
//! It decides in three passes:
//! 1. an intent per employee (provision, deprovision or leave alone) and the DN each account
//!    should end up at, refusing anything ambiguous (duplicate correlation values, naming
//!    conflicts) rather than guessing;
//! 2. the desired attributes, which may refer to other accounts' final DNs (`manager_dn`);
//! 3. the changes per account, then the placeholder changes that keep groups valid.
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
use crate::plan::PPOLICY_PERMANENT_LOCK;

use super::limits::{self, Limits};
use super::{
    AccountPlan, AccountState, Action, Change, ControlChange, DisableMethod, GroupAction,
    GroupChange, Lifecycle, Orphan, PLAN_SCHEMA, Plan, Policy, Scheduled, Skipped, Summary,
    UAC_ACCOUNTDISABLE, UAC_NORMAL_ACCOUNT,
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
/// [`Builder::plan_accounts`]): tests set it to check that where it makes no difference.
fn plan_with(input: &PlanInput, parallel_from: usize) -> Plan {
    let EffectiveHr {
        changed,
        scheduled,
        warnings,
    } = effective_hr(input);
    let mut builder = Builder::new(input, employees_now(input.hr, &changed));
    builder.parallel_from = parallel_from;
    builder.warnings.extend(warnings);
    builder
        .warnings
        .extend(input.directory.warnings.iter().cloned());
    builder.run();
    let mut plan = builder.finish();
    // Only leavers who still have an account to take away.
    if !scheduled.is_empty() {
        let correlated: BTreeSet<&str> = input
            .directory
            .accounts
            .iter()
            .filter_map(|a| a.correlation_id.as_deref())
            .collect();
        plan.scheduled = scheduled
            .into_iter()
            .filter(|s| correlated.contains(s.employee_id.as_str()))
            .collect();
    }
    plan.limits_tripped = limits::check(&plan, input.limits);
    plan
}

struct Builder<'a> {
    input: &'a PlanInput<'a>,
    /// The employees with their status at `now` (see [`effective_hr`]), in HR's order.
    employees: Vec<&'a Employee>,
    skipped: Vec<Skipped>,
    warnings: BTreeSet<String>,
    accounts: Vec<AccountPlan>,
    group_changes: Vec<GroupChange>,
    orphans: Vec<Orphan>,
    /// Managed group -> members, as read.
    memberships: BTreeMap<&'a Dn, &'a BTreeSet<Dn>>,
    /// Every managed membership as read, by member (see [`MemberOf`]).
    member_of: MemberOf<'a>,
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
    /// [`Builder::plan_accounts`]); [`PARALLEL_FROM`] but in tests.
    parallel_from: usize,
}

/// Below this many targets, a second thread saves less than it costs to start, and a plan
/// made on one thread is the simpler one to follow in a debugger.
const PARALLEL_FROM: usize = 2_000;

/// What planning targets' accounts finds (see [`Builder::plan_accounts`]), kept apart from the
/// builder's so that targets can be planned on several threads and the findings merged.
#[derive(Default)]
struct Planned {
    accounts: Vec<AccountPlan>,
    skipped: Vec<Skipped>,
    warnings: BTreeSet<String>,
}

/// Where each target's account will be once the plan is applied, by employee id: what
/// `manager_dn` refers to.
struct FinalDns<'t> {
    /// Sorted by id, stably, so of two targets with one id (HR rejects duplicates, but the
    /// planner does not count on it) the later comes last.
    by_id: Vec<(&'t str, &'t Dn)>,
}

impl<'t> FinalDns<'t> {
    /// The targets come in id order already, so the sort only checks that; a vector instead of
    /// a map is one allocation instead of a node per handful of employees.
    fn new(targets: &'t [Target]) -> Self {
        Self::from_pairs(targets.iter().map(|t| (t.employee.id.as_str(), &t.dn)))
    }

    fn from_pairs(pairs: impl Iterator<Item = (&'t str, &'t Dn)>) -> Self {
        let mut by_id: Vec<(&str, &Dn)> = pairs.collect();
        by_id.sort_by(|a, b| a.0.cmp(b.0));
        Self { by_id }
    }

    /// The final DN of the account of the employee `id`; of the last target with that id, as
    /// a map collected from the targets would hold.
    fn get(&self, id: &str) -> Option<&'t Dn> {
        let end = self.by_id.partition_point(|(target, _)| *target <= id);
        let (target, dn) = self.by_id.get(end.checked_sub(1)?)?;
        (*target == id).then_some(*dn)
    }
}

/// A skip entry.
fn skipped(id: Option<&str>, dn: Option<&Dn>, reason: String) -> Skipped {
    Skipped {
        employee_id: id.map(str::to_string),
        dn: dn.cloned(),
        reason,
    }
}

/// The correlated accounts by correlation value: sorted once (stably, so accounts with the same
/// value stay in directory order) instead of a map with a list per account.
struct ById<'a> {
    accounts: Vec<&'a DirectoryAccount>,
}

impl<'a> ById<'a> {
    fn new(accounts: &'a [DirectoryAccount]) -> Self {
        let mut accounts: Vec<&DirectoryAccount> = accounts
            .iter()
            .filter(|a| a.correlation_id.is_some())
            .collect();
        accounts.sort_by(|a, b| a.correlation_id.cmp(&b.correlation_id));
        Self { accounts }
    }

    /// The accounts carrying `id`, in directory order.
    fn get(&self, id: &str) -> &[&'a DirectoryAccount] {
        let start = self
            .accounts
            .partition_point(|a| a.correlation_id.as_deref() < Some(id));
        let len = self.accounts[start..]
            .iter()
            .take_while(|a| a.correlation_id.as_deref() == Some(id))
            .count();
        &self.accounts[start..start + len]
    }

    /// Each correlation value with its accounts, in value order.
    fn iter(&self) -> impl Iterator<Item = (&'a str, &[&'a DirectoryAccount])> {
        self.accounts
            .chunk_by(|a, b| a.correlation_id == b.correlation_id)
            .map(|accounts| {
                (
                    accounts[0].correlation_id.as_deref().unwrap_or_default(),
                    accounts,
                )
            })
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
    fn new(input: &'a PlanInput<'a>, employees: Vec<&'a Employee>) -> Self {
        let managed_groups = input.mappings.managed_groups();
        let mut memberships = BTreeMap::new();
        let mut member_of = Vec::new();
        for (dn, group) in &input.directory.groups {
            if managed_groups.contains(dn) {
                memberships.insert(dn, &group.members);
                member_of.extend(
                    group
                        .members
                        .iter()
                        .map(|member| (DnHash::of(member), member, dn)),
                );
            }
        }
        let member_of = MemberOf::new(member_of);
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

    fn run(&mut self) {
        let input = self.input;
        for group in &self.managed_groups {
            if !self.memberships.contains_key(group) {
                self.warnings.insert(format!(
                    "group {group} is named in the mappings but does not exist in the directory; \
                     hrsync does not create groups, so memberships in it are skipped"
                ));
            }
        }

        // Directory side: correlation index, refusing ambiguity.
        let by_id = ById::new(&input.directory.accounts);
        let attribute = &input.mappings.correlation.attribute;
        let ambiguous: BTreeSet<&str> = by_id
            .iter()
            .filter(|(_, accounts)| accounts.len() > 1)
            .map(|(id, _)| id)
            .collect();
        for id in &ambiguous {
            let accounts = by_id.get(id);
            for account in accounts {
                self.skip(
                    Some(id),
                    Some(&account.dn),
                    format!(
                        "{} directory entries carry {attribute}={id}; resolve the duplicate by hand",
                        accounts.len()
                    ),
                );
            }
        }

        // HR side: ids that could not be read protect their accounts.
        let mut unreadable: BTreeMap<&str, &str> = BTreeMap::new();
        for rejected in &input.hr.rejected {
            if let Some(id) = &rejected.id {
                unreadable
                    .entry(id.as_str())
                    .or_insert(rejected.problem.as_str());
            }
        }
        for (id, problem) in &unreadable {
            let dn = by_id.get(id).first().map(|a| &a.dn);
            self.skip(
                Some(id),
                dn,
                format!("HR record could not be read ({problem}); account left as it is"),
            );
        }

        // Protected accounts (administrators, protected groups): never changed, whatever HR says.
        let mut protected: BTreeSet<&str> = BTreeSet::new();
        for (id, accounts) in by_id.iter() {
            for account in accounts {
                if let Some(why) = &account.protected {
                    protected.insert(id);
                    self.skip(
                        Some(id),
                        Some(&account.dn),
                        format!("protected account ({why}); hrsync never changes it"),
                    );
                }
            }
        }

        // Conversions: an employee under a new id takes over the account of their old id.
        let mut employees = std::mem::take(&mut self.employees);
        employees.sort_by(|a, b| a.id.cmp(&b.id));
        let excluded = |id: &str| {
            ambiguous.contains(id) || unreadable.contains_key(id) || protected.contains(id)
        };
        let adopted = self.conversions(&employees, &by_id, &excluded);
        let converted_from: BTreeMap<&str, &str> = adopted
            .iter()
            .filter_map(|(new, account)| {
                account
                    .correlation_id
                    .as_deref()
                    .map(|old| (old, new.as_str()))
            })
            .collect();

        // Orphans: correlated accounts HR does not know. Both sides are in id order, so whether
        // HR knows an id is a walk along the employees, not a lookup.
        let mut hr_ids = employees.iter().map(|e| e.id.as_str()).peekable();
        for (id, accounts) in by_id.iter() {
            while hr_ids.next_if(|hr_id| *hr_id < id).is_some() {}
            let in_hr = hr_ids.peek() == Some(&id);
            if !in_hr && !excluded(id) && !converted_from.contains_key(id) {
                for account in accounts {
                    self.orphans.push(Orphan {
                        dn: account.dn.clone(),
                        correlation_id: id.to_string(),
                    });
                }
            }
        }

        // Pass 1: intents and target DNs, in id order so that new accounts' names (jsmith,
        // jsmith2) do not depend on the order HR listed people in.
        let mut targets = Vec::with_capacity(employees.len());
        // Both sides in id order again: each employee's account is a step along the index,
        // where a search per employee missed the cache at nearly every step at company scale.
        let mut accounts_by_id = by_id.iter().peekable();
        for employee in employees {
            let id = employee.id.as_str();
            if ambiguous.contains(id) || unreadable.contains_key(id) || protected.contains(id) {
                continue;
            }
            if let Some(new_id) = converted_from.get(id) {
                self.skip(
                    Some(id),
                    None,
                    format!("converted: the account now belongs to employee {new_id}"),
                );
                continue;
            }
            while accounts_by_id
                .next_if(|(account_id, _)| *account_id < id)
                .is_some()
            {}
            let existing = accounts_by_id
                .peek()
                .filter(|(account_id, _)| *account_id == id)
                .and_then(|(_, accounts)| accounts.first().copied())
                .or_else(|| adopted.get(id).copied());
            if let Some(target) = self.target(employee, existing) {
                targets.push(target);
            }
        }
        let targets = self.resolve_conflicts(targets);

        // Pass 2 and 3: attributes and changes.
        let final_dns = FinalDns::new(&targets);
        for planned in self.plan_accounts(&targets, &final_dns) {
            self.accounts.extend(planned.accounts);
            self.skipped.extend(planned.skipped);
            self.warnings.extend(planned.warnings);
        }
        self.deprovision_orphans();
        self.repair_stale_members();
        self.plan_placeholders();
    }

    /// Where member values do not follow a rename (OpenLDAP without refint), an apply cut short
    /// between an account's move and the rewrite of its memberships leaves the old DN in the
    /// groups: a dangling value that hands the group to whoever is later created under that
    /// name. Such a value is a managed group's member that is no account, sits in an OU the
    /// mappings place accounts in, and has the RDN of exactly one account elsewhere. For an
    /// account this plan manages, it is rewritten as the account's DN before any other change,
    /// and taken out again unless the account's role keeps the group; anything less certain
    /// is only reported.
    fn repair_stale_members(&mut self) {
        if self.input.policy.member_values_follow_renames {
            return;
        }
        let directory = self.input.directory;
        let ous: Vec<&Dn> = self.input.mappings.all_ous().collect();
        // Accounts by lower-cased RDN, to find whose move a value was left behind by. Nearly
        // every member is an account, so this is only gathered for the first one that is not.
        let mut by_rdn: Option<BTreeMap<String, Vec<&DirectoryAccount>>> = None;
        // The members that are no entry: `member_of` and the entries are both sorted by hash
        // and DN, so one walk along both finds them without a search per member. Then group by
        // group, each group's members in order, as the groups are read.
        let mut not_entries: Vec<(&Dn, &Dn)> = Vec::new();
        let mut entries = self.entries().iter().peekable();
        for (hash, member, group) in &self.member_of.sorted {
            while entries
                .next_if(|(h, a)| (*h, &a.dn) < (*hash, *member))
                .is_some()
            {}
            let is_entry = entries
                .peek()
                .is_some_and(|(h, a)| h == hash && a.dn == **member);
            if !is_entry && ous.iter().any(|ou| member.is_child_of(ou)) {
                not_entries.push((group, member));
            }
        }
        not_entries.sort();
        let mut stale: BTreeMap<Dn, Vec<(Dn, Dn)>> = BTreeMap::new();
        for (group, member) in not_entries {
            let by_rdn = by_rdn.get_or_insert_with(|| {
                let mut by_rdn: BTreeMap<String, Vec<&DirectoryAccount>> = BTreeMap::new();
                for account in &directory.accounts {
                    by_rdn
                        .entry(account.dn.rdn().to_lowercase())
                        .or_default()
                        .push(account);
                }
                by_rdn
            });
            match by_rdn.get(&member.rdn().to_lowercase()).map(Vec::as_slice) {
                Some([account]) => stale
                    .entry(account.dn.clone())
                    .or_default()
                    .push((group.clone(), member.clone())),
                Some(several) => {
                    self.warnings.insert(format!(
                        "{member} in {group} is no entry and looks left behind by a move of \
                         one of {}; remove it by hand",
                        several
                            .iter()
                            .map(|a| a.dn.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                None => {}
            }
        }
        if stale.is_empty() {
            return;
        }
        let in_hr: BTreeSet<&str> = self
            .input
            .hr
            .employees
            .iter()
            .map(|e| e.id.as_str())
            .collect();
        for (account_dn, values) in stale {
            let Some(account) = directory.accounts.iter().find(|a| a.dn == account_dn) else {
                continue;
            };
            let planned = self.accounts.iter().position(|p| p.dn == account_dn);
            let manageable = account.protected.is_none()
                && (planned.is_some()
                    || account
                        .correlation_id
                        .as_deref()
                        .is_some_and(|id| in_hr.contains(id)));
            let mut repairs = Vec::new();
            let mut wanted_adds = BTreeSet::new();
            for (group, member) in values {
                let already = self
                    .memberships
                    .get(&group)
                    .is_some_and(|m| m.contains(&account_dn));
                if !manageable || already {
                    self.warnings.insert(format!(
                        "{member} in {group} is no entry and looks left behind by a move of \
                         {account_dn}; remove it by hand"
                    ));
                    continue;
                }
                let reason = Reason::new(
                    format!("{member} is no entry: a move of {account_dn} was cut short"),
                    "member values follow the move",
                );
                repairs.push(Change {
                    action: Action::RenameMember {
                        group: group.clone(),
                        from: member,
                        to: account_dn.clone(),
                    },
                    reason: reason.clone(),
                });
                let keeps = planned.is_some_and(|i| {
                    self.accounts[i].changes.iter().any(
                        |c| matches!(&c.action, Action::AddToGroup { group: g } if *g == group),
                    )
                });
                if keeps {
                    wanted_adds.insert(group);
                } else {
                    repairs.push(Change {
                        action: Action::RemoveFromGroup { group },
                        reason,
                    });
                }
            }
            if repairs.is_empty() {
                continue;
            }
            match planned {
                Some(i) => {
                    let plan = &mut self.accounts[i];
                    plan.changes.retain(|c| {
                        !matches!(&c.action, Action::AddToGroup { group } if wanted_adds.contains(group))
                    });
                    repairs.append(&mut plan.changes);
                    plan.changes = repairs;
                }
                None => self.accounts.push(AccountPlan {
                    employee_id: account.correlation_id.clone().unwrap_or_default(),
                    lifecycle: Lifecycle::Update,
                    dn: account_dn.clone(),
                    before: Some(self.state_of(account)),
                    changes: repairs,
                }),
            }
        }
    }

    /// With `correlation.fallback_*`: for each employee without an account under their id, the
    /// one account whose fallback attribute holds their fallback field and whose own id belongs
    /// to nobody active in HR. Several candidates: the employee is skipped, never guessed.
    fn conversions(
        &mut self,
        employees: &[&'a Employee],
        by_id: &ById<'a>,
        excluded: &dyn Fn(&str) -> bool,
    ) -> BTreeMap<String, &'a DirectoryAccount> {
        let mut adopted = BTreeMap::new();
        let Some(fallback) = &self.input.mappings.correlation.fallback else {
            return adopted;
        };
        let active: BTreeSet<&str> = employees
            .iter()
            .filter(|e| e.status != EmploymentStatus::Terminated)
            .map(|e| e.id.as_str())
            .collect();
        let mut taken: BTreeSet<&Dn> = BTreeSet::new();
        for employee in employees {
            let id = employee.id.as_str();
            if employee.status == EmploymentStatus::Terminated
                || !by_id.get(id).is_empty()
                || excluded(id)
            {
                continue;
            }
            let Some(value) = employee.field(&fallback.hr_field) else {
                continue;
            };
            let candidates: Vec<&'a DirectoryAccount> = self
                .input
                .directory
                .accounts
                .iter()
                .filter(|a| {
                    a.correlation_id
                        .as_deref()
                        .is_some_and(|old| !active.contains(old) && !excluded(old))
                        && a.protected.is_none()
                        && a.values(&fallback.attribute)
                            .iter()
                            .any(|v| v.eq_ignore_ascii_case(value))
                })
                .collect();
            match candidates.as_slice() {
                [] => {}
                [account] if taken.insert(&account.dn) => {
                    adopted.insert(id.to_string(), *account);
                }
                _ => self.skip(
                    Some(id),
                    None,
                    format!(
                        "{} accounts could be this employee's by {}={value:?}; resolve by hand",
                        candidates.len(),
                        fallback.attribute
                    ),
                ),
            }
        }
        adopted
    }

    fn skip(&mut self, id: Option<&str>, dn: Option<&Dn>, reason: String) {
        self.skipped.push(skipped(id, dn, reason));
    }

    fn target(
        &mut self,
        employee: &'a Employee,
        existing: Option<&'a DirectoryAccount>,
    ) -> Option<Target<'a>> {
        let mappings = self.input.mappings;
        if let Some(account) = existing.filter(|a| a.held) {
            if employee.status != EmploymentStatus::Terminated {
                self.skip(
                    Some(&employee.id),
                    Some(&account.dn),
                    "offboarded (in offboarding.hold_group): stays disabled and without managed \
                     groups until an admin takes it out of that group"
                        .to_string(),
                );
                return None;
            }
        }
        match employee.status {
            EmploymentStatus::Active => self.provision(employee, existing, None),
            EmploymentStatus::Leave => {
                let hold = self.input.policy.leave_disable.then(|| {
                    Reason::new(
                        format!("status = {}", status_fact(employee)),
                        "lifecycle.leave = \"disable\"",
                    )
                });
                self.provision(employee, existing, hold)
            }
            EmploymentStatus::Terminated => {
                let existing = existing?;
                Some(Target {
                    employee,
                    dn: existing.dn.with_parent(&mappings.account.disabled_ou),
                    intent: Intent::Deprovision { existing },
                    unique: String::new(),
                })
            }
            EmploymentStatus::Pending => {
                let today = self.input.now.date_naive();
                let window = self.input.policy.prehire_days;
                match employee.hire_date {
                    Some(start) if window > 0 && (start - today).num_days() <= window => {
                        let hold = Reason::new(
                            format!("starts {start}; the account is disabled until then"),
                            "lifecycle.prehire_days",
                        );
                        self.provision(employee, existing, Some(hold))
                    }
                    hire_date => {
                        let starts =
                            hire_date.map_or_else(|| "a later date".to_string(), |d| d.to_string());
                        let ahead = if window > 0 {
                            format!(
                                "accounts are made {window} day(s) ahead (lifecycle.prehire_days)"
                            )
                        } else {
                            "no account is made before the start date (lifecycle.prehire_days = 0)"
                                .to_string()
                        };
                        self.skip(
                            Some(&employee.id),
                            existing.map(|a| &a.dn),
                            format!("not started yet (starts {starts}); {ahead}"),
                        );
                        None
                    }
                }
            }
        }
    }

    /// The target of an employee whose account should exist in their role's OU (enabled, or
    /// disabled for the reason in `hold`).
    fn provision(
        &mut self,
        employee: &'a Employee,
        existing: Option<&'a DirectoryAccount>,
        hold: Option<Reason>,
    ) -> Option<Target<'a>> {
        // The key is built in a reused buffer and only kept (allocated) for a new role.
        let mut key = (employee.status, std::mem::take(&mut self.role_key));
        key.1.clear();
        key.1
            .extend(self.rule_fields.iter().map(|field| employee.field(field)));
        let mut role = match self.roles.get(&key) {
            Some(role) => {
                let role = role.clone();
                self.role_key = key.1;
                role
            }
            None => {
                let role = std::sync::Arc::new(self.input.mappings.assign(employee));
                self.roles.insert(key, role.clone());
                role
            }
        };
        if employee.status == EmploymentStatus::Leave {
            std::sync::Arc::make_mut(&mut role)
                .groups
                .retain(|group, _| !self.input.policy.leave_remove_groups.contains(group));
        }
        let (dn, unique) = match existing {
            Some(account) => (account.dn.with_parent(&role.ou), String::new()),
            None => self.name_new_account(employee, &role.ou)?,
        };
        Some(Target {
            employee,
            intent: Intent::Provision {
                existing,
                role,
                hold: hold.map(Box::new),
            },
            dn,
            unique,
        })
    }

    /// Plans every target's account (pass 2 and 3), each on its own: one target's plan reads
    /// the others' final DNs but nothing else planning them finds. So above
    /// `self.parallel_from` targets, the first and the second half are planned on two threads,
    /// and the halves' findings, in that order, are what planning them one after another
    /// finds.
    fn plan_accounts(&self, targets: &[Target<'a>], final_dns: &FinalDns) -> Vec<Planned> {
        let plan_all = |targets: &[Target<'a>]| {
            let mut planned = Planned::default();
            for target in targets {
                self.plan_account(target, final_dns, &mut planned);
            }
            planned
        };
        if targets.len() < self.parallel_from {
            return vec![plan_all(targets)];
        }
        let (first, second) = targets.split_at(targets.len() / 2);
        std::thread::scope(|scope| {
            let second = scope.spawn(|| plan_all(second));
            let first = plan_all(first);
            let second = second
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            vec![first, second]
        })
    }

    fn plan_account(&self, target: &Target<'a>, final_dns: &FinalDns, planned: &mut Planned) {
        let employee = target.employee;
        let mut changes = Vec::new();
        let account_plan = match &target.intent {
            Intent::Provision {
                existing: None,
                role,
                hold,
            } => {
                let Some(attributes) =
                    self.new_account_attributes(employee, final_dns, &target.unique, planned)
                else {
                    return;
                };
                let mut all = attributes;
                let mappings = self.input.mappings;
                all.insert(
                    "objectClass".to_string(),
                    mappings.account.object_classes.clone(),
                );
                all.insert(
                    mappings.correlation.attribute.clone(),
                    vec![employee.id.clone()],
                );
                let joiner = match hold {
                    None => Reason::new(
                        format!(
                            "status = {} and no account has {}={}",
                            status_fact(employee),
                            mappings.correlation.attribute,
                            employee.id
                        ),
                        "joiner",
                    ),
                    Some(reason) => Reason::clone(reason),
                };
                // An account on hold is locked from the moment it exists (OpenLDAP: the lock is
                // part of the add; AD: it is simply not enabled).
                if hold.is_some() && self.input.policy.disable == DisableMethod::PpolicyLock {
                    all.insert(
                        "pwdAccountLockedTime".to_string(),
                        vec![PPOLICY_PERMANENT_LOCK.to_string()],
                    );
                }
                // Active Directory: created disabled, then given a random password and enabled,
                // so there is never an enabled account without a password.
                let created_disabled = UAC_NORMAL_ACCOUNT | UAC_ACCOUNTDISABLE;
                let uac = self.input.policy.disable == DisableMethod::UserAccountControl;
                if uac {
                    all.insert(
                        "userAccountControl".to_string(),
                        vec![created_disabled.to_string()],
                    );
                }
                changes.push(Change {
                    action: Action::Create {
                        dn: target.dn.clone(),
                        attributes: all,
                    },
                    reason: joiner.clone(),
                });
                if uac && hold.is_none() {
                    changes.push(Change {
                        action: Action::Enable {
                            method: DisableMethod::UserAccountControl,
                            account_control: Some(ControlChange {
                                before: created_disabled,
                                after: UAC_NORMAL_ACCOUNT,
                            }),
                            set_password: true,
                            clear_expiry: false,
                        },
                        reason: joiner,
                    });
                }
                for (group, reason) in &role.groups {
                    if self.memberships.contains_key(group) {
                        changes.push(Change {
                            action: Action::AddToGroup {
                                group: group.clone(),
                            },
                            reason: reason.clone(),
                        });
                    }
                }
                AccountPlan {
                    employee_id: employee.id.clone(),
                    lifecycle: Lifecycle::Joiner,
                    dn: target.dn.clone(),
                    before: None,
                    changes,
                }
            }
            Intent::Provision {
                existing: Some(account),
                role,
                hold,
            } => {
                // The common case at company scale is an account that is already as it should
                // be, so everything is compared against the account as read, and what a plan
                // records (the state before, values, reasons) is only built for a change.
                let manager_dn = self.manager_dn(employee, final_dns, &mut planned.warnings);
                let current_groups = self.member_of.of(&account.dn);
                let enabling = (account.disabled && hold.is_none())
                    .then(|| self.lifecycle_of_enable(employee, account));
                if let Some(lifecycle) = enabling {
                    let rule = match lifecycle {
                        Lifecycle::Rehire => "rehire",
                        Lifecycle::Joiner => "joiner: the start date has come",
                        _ => "return from leave",
                    };
                    changes.push(Change {
                        action: self.enable(account),
                        reason: Reason::new(
                            format!(
                                "status = {} but the account is disabled",
                                status_fact(employee)
                            ),
                            rule,
                        ),
                    });
                }
                if account.correlation_id.as_deref() != Some(employee.id.as_str()) {
                    let correlation = &self.input.mappings.correlation;
                    let by = correlation
                        .fallback
                        .as_ref()
                        .map_or_else(String::new, |f| f.attribute.clone());
                    changes.push(Change {
                        action: Action::SetAttribute {
                            attribute: correlation.attribute.clone(),
                            before: account.correlation_id.iter().cloned().collect(),
                            after: vec![employee.id.clone()],
                        },
                        reason: Reason::new(
                            format!(
                                "HR lists this person under a new id; the account matches by {by}"
                            ),
                            "correlation.fallback_attribute",
                        ),
                    });
                }
                if let Some(reason) = hold.as_ref().filter(|_| !account.disabled) {
                    changes.push(Change {
                        action: self.disable(account),
                        reason: Reason::clone(reason),
                    });
                }
                for attribute in &self.managed_attributes {
                    // For an existing account the naming attributes are not rendered (they
                    // never change after creation) and a missing field means "no value".
                    let after = attribute
                        .template
                        .render(|field| match field {
                            MANAGER_DN => manager_dn.map(Dn::as_str),
                            UNIQUE => None,
                            _ => lookup(employee, field),
                        })
                        .ok();
                    let after = after.as_slice();
                    let current = account.attributes.get(&attribute.key).unwrap_or(&[]);
                    if after.is_empty() && attribute.required {
                        if !current.is_empty() {
                            planned.warnings.insert(format!(
                                "employee {}: {} would become empty; it is required, so it is left as it is",
                                employee.id, attribute.name
                            ));
                        }
                        continue;
                    }
                    if !same_values(after, current) {
                        let fields: Vec<_> = attribute.template.fields().collect();
                        changes.push(Change {
                            action: Action::SetAttribute {
                                attribute: attribute.name.to_string(),
                                before: current.to_vec(),
                                after: after.to_vec(),
                            },
                            reason: Reason::new(
                                describe_fields(employee, &fields, final_dns),
                                format!(
                                    "account.attributes.{} = \"{}\"",
                                    attribute.name, attribute.template
                                ),
                            ),
                        });
                    }
                }
                for (_, _, group) in current_groups {
                    if !role.groups.contains_key(*group) {
                        changes.push(Change {
                            action: Action::RemoveFromGroup {
                                group: (*group).clone(),
                            },
                            reason: if employee.status == EmploymentStatus::Leave
                                && self.input.policy.leave_remove_groups.contains(*group)
                            {
                                Reason::new(
                                    format!("status = {}", status_fact(employee)),
                                    "lifecycle.leave_remove_groups",
                                )
                            } else {
                                Reason::fact(format!(
                                    "no rule gives this group to {}",
                                    role_facts(employee)
                                ))
                            },
                        });
                    }
                }
                let moving = account.dn != target.dn;
                if moving {
                    changes.push(Change {
                        action: Action::Move {
                            from: account.dn.clone(),
                            to: target.dn.clone(),
                        },
                        reason: role.ou_reason.clone(),
                    });
                    if !self.input.policy.member_values_follow_renames {
                        for (_, _, group) in current_groups
                            .iter()
                            .filter(|(_, _, g)| role.groups.contains_key(*g))
                        {
                            changes.push(Change {
                                action: Action::RenameMember {
                                    group: (*group).clone(),
                                    from: account.dn.clone(),
                                    to: target.dn.clone(),
                                },
                                reason: Reason::new(
                                    "the account moved and stays in this group",
                                    "member values follow the move",
                                ),
                            });
                        }
                    }
                }
                for (group, reason) in &role.groups {
                    if !current_groups.iter().any(|(_, _, g)| *g == group)
                        && self.memberships.contains_key(group)
                    {
                        changes.push(Change {
                            action: Action::AddToGroup {
                                group: group.clone(),
                            },
                            reason: reason.clone(),
                        });
                    }
                }
                if changes.is_empty() {
                    return;
                }
                let lifecycle = if let Some(lifecycle) = enabling {
                    lifecycle
                } else if changes.iter().any(|c| {
                    matches!(
                        c.action,
                        Action::Move { .. }
                            | Action::AddToGroup { .. }
                            | Action::RemoveFromGroup { .. }
                    )
                }) {
                    Lifecycle::Mover
                } else {
                    Lifecycle::Update
                };
                AccountPlan {
                    employee_id: employee.id.clone(),
                    lifecycle,
                    dn: account.dn.clone(),
                    before: Some(self.state_of(account)),
                    changes,
                }
            }
            Intent::Deprovision { existing: account } => {
                let changes = self.leaver_changes(account, &target.dn, || {
                    Reason::new(format!("status = {}", status_fact(employee)), "leaver")
                });
                if changes.is_empty() {
                    return;
                }
                self.leaver_plan(&employee.id, account, changes)
            }
        };
        if !account_plan.changes.is_empty() {
            planned.accounts.push(account_plan);
        }
    }

    /// What enabling a disabled account is: a leaver in the disabled OU coming back (rehire);
    /// elsewhere, a pre-hire account whose start date has come (hired in the last 30 days, or
    /// never given a password: joiner), or someone back from leave (return).
    fn lifecycle_of_enable(&self, employee: &Employee, account: &DirectoryAccount) -> Lifecycle {
        let in_disabled_ou = account
            .dn
            .is_child_of(&self.input.mappings.account.disabled_ou);
        let today = self.input.now.date_naive();
        let recently_hired = !account.password_set
            || employee
                .hire_date
                .is_some_and(|h| (today - h).num_days() <= RECENT_START_DAYS);
        match (in_disabled_ou, recently_hired) {
            (true, _) => Lifecycle::Rehire,
            (false, true) => Lifecycle::Joiner,
            (false, false) => Lifecycle::Return,
        }
    }

    /// A leaver's changes: disabled first, out of every managed group, into `target` (the
    /// disabled OU, unless that name is taken). Empty when that is done already; `why` is only
    /// asked for when there is something to do.
    fn leaver_changes(
        &self,
        account: &DirectoryAccount,
        target: &Dn,
        why: impl FnOnce() -> Reason,
    ) -> Vec<Change> {
        let mut groups = self.groups_of(account).peekable();
        let moving = account.dn != *target;
        if account.disabled && groups.peek().is_none() && !moving {
            return Vec::new();
        }
        let why = why();
        let mut changes = Vec::new();
        if !account.disabled {
            changes.push(Change {
                action: self.disable(account),
                reason: why.clone(),
            });
        }
        for group in groups {
            changes.push(Change {
                action: Action::RemoveFromGroup {
                    group: group.clone(),
                },
                reason: why.clone(),
            });
        }
        if moving {
            changes.push(Change {
                action: Action::Move {
                    from: account.dn.clone(),
                    to: target.clone(),
                },
                reason: Reason {
                    rule: Some("account.disabled_ou".to_string()),
                    ..why
                },
            });
        }
        changes
    }

    /// A leaver's plan, with the account as it was read.
    fn leaver_plan(
        &self,
        employee_id: &str,
        account: &DirectoryAccount,
        changes: Vec<Change>,
    ) -> AccountPlan {
        AccountPlan {
            employee_id: employee_id.to_string(),
            lifecycle: Lifecycle::Leaver,
            dn: account.dn.clone(),
            before: Some(self.state_of(account)),
            changes,
        }
    }

    /// With `lifecycle.disable_orphans`, accounts without an HR record are treated as leavers.
    fn deprovision_orphans(&mut self) {
        if !self.input.policy.disable_orphans {
            return;
        }
        let disabled_ou = &self.input.mappings.account.disabled_ou;
        let mut plans = Vec::new();
        for orphan in &self.orphans {
            let Some(account) = self.entry_at(&orphan.dn) else {
                continue;
            };
            let mut target = account.dn.with_parent(disabled_ou);
            if target != account.dn && self.dn_in_use(&target) {
                target = account.dn.clone();
            }
            let changes = self.leaver_changes(account, &target, || {
                Reason::new(
                    format!(
                        "no HR record has {}={}",
                        self.input.mappings.correlation.attribute, orphan.correlation_id
                    ),
                    "lifecycle.disable_orphans",
                )
            });
            if !changes.is_empty() {
                plans.push(self.leaver_plan(&orphan.correlation_id, account, changes));
            }
            self.claimed
                .insert(target, "an orphan moved to the disabled OU");
        }
        self.accounts.extend(plans);
    }

    fn enable(&self, account: &DirectoryAccount) -> Action {
        let policy = self.input.policy;
        let expiry = account.values("accountExpires").first();
        Action::Enable {
            method: policy.disable,
            account_control: account.account_control.map(|before| ControlChange {
                before,
                after: before & !UAC_ACCOUNTDISABLE,
            }),
            set_password: !account.password_set,
            clear_expiry: policy.expire_leavers
                && expiry.is_some_and(|v| v != "0" && v != ACCOUNT_NEVER_EXPIRES),
        }
    }

    fn disable(&self, account: &DirectoryAccount) -> Action {
        let policy = self.input.policy;
        Action::Disable {
            method: policy.disable,
            account_control: account.account_control.map(|before| ControlChange {
                before,
                after: before | UAC_ACCOUNTDISABLE,
            }),
            expires: policy
                .expire_leavers
                .then(|| filetime(self.input.now).to_string()),
        }
    }

    /// Renders every attribute template for a new account, `{unique}` as `unique`. `None` (and a
    /// skip entry) when a value the directory requires would be empty. (An existing account's
    /// attributes are compared one by one in `plan_account`.)
    fn new_account_attributes(
        &self,
        employee: &Employee,
        final_dns: &FinalDns,
        unique: &str,
        planned: &mut Planned,
    ) -> Option<BTreeMap<String, Vec<String>>> {
        let mappings = self.input.mappings;
        let manager_dn = self.manager_dn(employee, final_dns, &mut planned.warnings);
        let mut out = BTreeMap::new();
        for (name, template) in &mappings.account.attributes {
            let rendered = template.render(|field| match field {
                MANAGER_DN => manager_dn.map(Dn::as_str),
                UNIQUE => Some(unique),
                _ => lookup(employee, field),
            });
            match rendered {
                Ok(value) => {
                    out.insert(name.clone(), vec![value]);
                }
                Err(missing)
                    if mappings.account.is_creation_only(name) || self.is_required(name) =>
                {
                    planned.skipped.push(skipped(
                        Some(&employee.id),
                        None,
                        format!(
                            "cannot create the account: {name} is required but HR field \"{}\" is empty",
                            missing.0
                        ),
                    ));
                    return None;
                }
                Err(_) => {}
            }
        }
        Some(out)
    }

    /// Attributes the directory cannot create an account without: a joiner missing one is
    /// skipped with the reason instead of failing mid-run, and an existing account keeps its
    /// value rather than losing it.
    fn is_required(&self, attribute: &str) -> bool {
        self.input
            .policy
            .required_attributes
            .iter()
            .any(|r| r.eq_ignore_ascii_case(attribute))
    }

    /// The DN of the employee's manager's account, as it will be after the plan.
    fn manager_dn<'d>(
        &self,
        employee: &Employee,
        final_dns: &FinalDns<'d>,
        warnings: &mut BTreeSet<String>,
    ) -> Option<&'d Dn> {
        let manager_id = employee.manager_id()?;
        if manager_id == employee.id {
            warnings.insert(format!(
                "employee {}: HR names the employee as their own manager; manager left unset",
                employee.id
            ));
            return None;
        }
        match final_dns.get(manager_id) {
            Some(dn) => Some(dn),
            None => {
                warnings.insert(format!(
                    "employee {}: manager {manager_id} has no account hrsync manages; manager left unset",
                    employee.id
                ));
                None
            }
        }
    }

    fn state_of(&self, account: &DirectoryAccount) -> AccountState {
        let groups = self.groups_of(account).cloned().collect();
        state_with_groups(account, self.input.mappings, groups)
    }

    /// A `groupOfNames` must keep one member. For each managed group, work out its membership
    /// after the plan; if no real member would remain, add the placeholder first, and if the
    /// placeholder is there but real members will be, remove it last.
    fn plan_placeholders(&mut self) {
        let policy = self.input.policy;
        if !policy.groups_require_member {
            return;
        }
        // Each member the plan adds or removes, by group, with whether it is in the group
        // after the plan (the last change wins, as it would in the group). Everyone else is as
        // read, so the groups' sizes after follow without copying their members.
        let mut touched: BTreeMap<&Dn, BTreeMap<&Dn, bool>> = BTreeMap::new();
        for account in &self.accounts {
            let mut current = &account.dn;
            for change in &account.changes {
                match &change.action {
                    Action::Create { dn, .. } => current = dn,
                    Action::Move { to, .. } => current = to,
                    Action::AddToGroup { group } => {
                        touched.entry(group).or_default().insert(current, true);
                    }
                    Action::RemoveFromGroup { group } => {
                        touched.entry(group).or_default().insert(current, false);
                    }
                    Action::RenameMember { group, from, to } => {
                        let members = touched.entry(group).or_default();
                        members.insert(from, false);
                        members.insert(to, true);
                    }
                    _ => {}
                }
            }
        }
        for (group, before) in &self.memberships {
            let touched = touched.get(*group);
            let is_member_after = |member: &Dn| {
                touched
                    .and_then(|t| t.get(member))
                    .copied()
                    .unwrap_or_else(|| before.contains(member))
            };
            let members_after = touched.map_or(0, |t| {
                t.iter()
                    .filter(|(member, after)| **after != before.contains(**member))
                    .map(|(_, after)| if *after { 1 } else { -1 })
                    .sum::<isize>()
            }) + before.len() as isize;
            let Some(placeholder) = &policy.empty_group_placeholder else {
                if members_after == 0 {
                    self.warnings.insert(format!(
                        "group {group} would lose its last member and no \
                         groups.empty_group_placeholder is set; the removal will fail"
                    ));
                }
                continue;
            };
            let has_placeholder = before.contains(placeholder);
            let real_after = members_after - isize::from(is_member_after(placeholder));
            let real_before = before.len() - usize::from(has_placeholder);
            if real_after == 0 && !has_placeholder && real_before > 0 {
                self.group_changes.push(GroupChange {
                    group: (*group).clone(),
                    action: GroupAction::AddPlaceholder,
                    member: placeholder.clone(),
                    reason: Reason::new(
                        "the group's last member is removed and groupOfNames requires one",
                        "groups.empty_group_placeholder",
                    ),
                });
            } else if real_after > 0 && has_placeholder {
                self.group_changes.push(GroupChange {
                    group: (*group).clone(),
                    action: GroupAction::RemovePlaceholder,
                    member: placeholder.clone(),
                    reason: Reason::new(
                        "the group has real members again",
                        "groups.empty_group_placeholder",
                    ),
                });
            }
        }
    }

    fn finish(mut self) -> Plan {
        self.accounts
            .sort_by(|a, b| a.dn.cmp(&b.dn).then(a.employee_id.cmp(&b.employee_id)));
        self.skipped.sort();
        self.skipped.dedup();
        self.orphans.sort();
        let mut summary = Summary {
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
            changes: self.group_changes.len(),
            ..Summary::default()
        };
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
        Plan {
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
        }
    }
}

/// The managed part of an account as the directory holds it: what a plan records as "before"
/// and what a saved plan is checked against.
pub fn account_state(
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

/// A DN's hash, which the planner's DN indexes sort by first (then by the DN): comparing two
/// words instead of two texts elsewhere in memory, which at company scale made most of the
/// cost of sorting and searching by DN. Only the indexes see it; nothing iterates them in its
/// order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct DnHash(u64);

impl DnHash {
    fn of(dn: &Dn) -> Self {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        dn.hash(&mut hasher);
        Self(hasher.finish())
    }
}

/// Every membership in a managed group as read, by member.
struct MemberOf<'a> {
    /// (member's [`DnHash`], member, managed group), sorted by hash, member and then group, so
    /// a member's groups are one run in group order, and there is no list per member to
    /// allocate.
    sorted: Vec<(DnHash, &'a Dn, &'a Dn)>,
    /// Where each hash's run in `sorted` starts. Every account planned asks for its groups,
    /// and binary searches over `sorted` (2.4 MB at 100k members) missed the cache at nearly
    /// every step; this is one probe. A hash map is fine here (clippy.toml bans them for
    /// order's sake): it is only ever looked up, never iterated, so no order can leak from it
    /// into a plan.
    #[allow(clippy::disallowed_types)]
    starts: std::collections::HashMap<DnHash, usize>,
}

impl<'a> MemberOf<'a> {
    fn new(mut sorted: Vec<(DnHash, &'a Dn, &'a Dn)>) -> Self {
        // Stable: the groups come in group order and stay so under each member.
        sorted.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        #[allow(clippy::disallowed_types)] // Lookup only; see the field.
        let mut starts = std::collections::HashMap::with_capacity(sorted.len());
        for (i, (hash, _, _)) in sorted.iter().enumerate() {
            starts.entry(*hash).or_insert(i);
        }
        Self { sorted, starts }
    }

    /// `member`'s memberships, in group order.
    fn of(&self, member: &Dn) -> &[(DnHash, &'a Dn, &'a Dn)] {
        self.run_of(DnHash::of(member), member)
    }

    /// The run of `sorted` that is `member`'s (whose hash is `hash`). Two DNs with one hash
    /// share a run, each sorted by DN within it, so the member is looked for along it.
    fn run_of(&self, hash: DnHash, member: &Dn) -> &[(DnHash, &'a Dn, &'a Dn)] {
        let Some(&hash_start) = self.starts.get(&hash) else {
            return &[];
        };
        let same_hash = self.sorted[hash_start..]
            .iter()
            .take_while(|(h, _, _)| *h == hash);
        let Some(offset) = same_hash.clone().position(|(_, m, _)| *m == member) else {
            return &[];
        };
        let start = hash_start + offset;
        let len = same_hash
            .skip(offset)
            .take_while(|(_, m, _)| *m == member)
            .count();
        &self.sorted[start..start + len]
    }
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

/// A disabled account (outside the disabled OU) of someone hired this many days ago or less is
/// a joiner whose start date has come; of someone hired longer ago, a return from leave.
const RECENT_START_DAYS: i64 = 30;

/// `accountExpires` value meaning "never" (as is 0).
const ACCOUNT_NEVER_EXPIRES: &str = "9223372036854775807";

/// A time as a Windows FILETIME: 100-nanosecond intervals since 1601-01-01 UTC.
fn filetime(time: DateTime<Utc>) -> i64 {
    const EPOCH_DIFFERENCE_SECS: i64 = 11_644_473_600;
    (time.timestamp() + EPOCH_DIFFERENCE_SECS) * 10_000_000
        + i64::from(time.timestamp_subsec_nanos() / 100)
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

fn status_fact(employee: &Employee) -> String {
    if employee.status_source.is_empty() || employee.status_source == employee.status.as_str() {
        employee.status.to_string()
    } else {
        format!("{} ({:?})", employee.status, employee.status_source)
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

mod dates;
mod naming;
mod offboard;

use dates::{EffectiveHr, effective_hr, employees_now};
use naming::occupant;
pub use offboard::offboard;

#[cfg(test)]
mod tests;
