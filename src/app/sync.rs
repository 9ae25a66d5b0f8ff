//! A reconcile of some employees alone: `hrsync sync ID...`, each batch of webhook events and
//! each changed-since run of `hrsync run`.
//!
//! Nothing an event says is trusted but the ids it names: each employee is read again from the
//! HR API ([`OneReader`]), their accounts and the groups listing them from the directory
//! ([`crate::directory::Directory::snapshot_of`]), and the plan is made by the same planner,
//! mappings, protection and per-run limits as a full run, scoped to them
//! ([`HrSnapshot::scope`]). It is executed through the same pipeline (lease, audit before
//! action, hooks, metrics), tagged with what started it.
//!
//! Per-run limits count accounts here: their percentages are of the whole directory, which a
//! targeted read does not see, so only full runs check them. Over time, the caller's disable
//! budget (`events.max_disables` within `events.window_secs`) bounds a stream of events.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use futures::StreamExt;

use super::pipeline::{self, Audience, Execution, Sides};
use super::{Outcome, RunError};
use crate::config::Config;
use crate::dn::Dn;
use crate::hr::{OneEmployee, OneReader};
use crate::metrics::RunMetrics;
use crate::model::{HrSnapshot, SingleRead};
use crate::plan::limits::Limits;
use crate::plan::{Action, Plan};

/// Employees read from HR at once: a burst of events is read in parallel, and the API's own
/// `requests_per_minute` still spaces the requests.
const HR_READS_IN_FLIGHT: usize = 8;

/// How many times a plan is made again after finding entries at the DNs it creates or moves
/// accounts to (each time the plan knows more of what is in use).
const REPLANS_MAX: usize = 5;

/// What to sync.
pub(crate) struct Request<'a> {
    pub(crate) ids: &'a BTreeSet<String>,
    pub(crate) now: DateTime<Utc>,
    /// At most this many accounts may be disabled (what the window limit has left); a plan
    /// that disables more applies nothing. `None`: no window.
    pub(crate) disable_budget: Option<usize>,
    /// Only show the plan.
    pub(crate) dry_run: bool,
}

/// What a sync did.
#[derive(Debug)]
pub(crate) struct Synced {
    pub(crate) outcome: Outcome,
    /// The ids HR could not be asked about (a failed read): nothing was done for them; the
    /// caller may try again later, and the next full run reconciles them anyway.
    pub(crate) unread: BTreeSet<String>,
    /// Accounts the plan disables (all of them applied or not: a failed disable is retried by
    /// the next run, and counting it keeps a window limit on the safe side).
    pub(crate) disables: usize,
}

/// Reads the employees `request.ids` from HR and their accounts from the directory, plans,
/// and (unless a dry run, a tripped limit or the disable budget says no) applies.
pub(crate) async fn sync(
    config: &Config,
    request: Request<'_>,
    audience: &Audience<'_>,
    execution: &Execution<'_>,
    metrics: &mut RunMetrics,
) -> Result<Synced, RunError> {
    let (hr, unread) = read_employees(config, request.ids).await?;
    let nothing = |unread| Synced {
        outcome: Outcome::Success,
        unread,
        disables: 0,
    };
    if hr.scope.as_ref().is_none_or(BTreeSet::is_empty) {
        return Ok(nothing(unread));
    }
    let now = request.now;
    let rejected = hr.rejected.len();
    let limits = counts_only(&config.limits);
    let work = async |directory: &mut crate::directory::Directory| {
        let plan = plan(config, directory, hr, now, &limits).await?;
        let disables = disables(&plan);
        metrics.record_plan(&plan, rejected);
        pipeline::announce(config, &plan, audience, execution.run_id, rejected, None)?;
        let synced = |outcome| Synced {
            outcome,
            unread: unread.clone(),
            disables,
        };
        if request.dry_run {
            return Ok(synced(Outcome::Success));
        }
        if let Some(budget) = request.disable_budget.filter(|budget| disables > *budget) {
            tracing::error!(
                run_id = execution.run_id,
                disables,
                budget,
                "the window limit (events.max_disables) would be passed: nothing applied"
            );
            metrics.record_planned(&plan);
            return Ok(synced(Outcome::LimitTripped));
        }
        let outcome =
            pipeline::carry_out(config, directory, &plan, audience, execution, metrics).await?;
        Ok(synced(outcome))
    };
    if request.dry_run {
        pipeline::with_directory(config, work).await
    } else {
        pipeline::with_lease(config, execution, work).await
    }
}

/// The employees `ids` as HR has them now, scoped to the ids HR answered for, and the ids it
/// could not be asked about. An id HR says it has no employee by is in the scope with its
/// absence confirmed (so the planner treats its account as a confirmed orphan).
pub(crate) async fn read_employees(
    config: &Config,
    ids: &BTreeSet<String>,
) -> Result<(HrSnapshot, BTreeSet<String>), RunError> {
    let reader = OneReader::open(&config.hr).await?;
    let reader = &reader;
    let reads: Vec<_> = ids
        .iter()
        .cloned()
        .map(|id: String| async move {
            let answer = reader.read(&id).await;
            (id, answer)
        })
        .collect();
    let mut answers = futures::stream::iter(reads).buffer_unordered(HR_READS_IN_FLIGHT);
    let mut hr = HrSnapshot::default();
    let mut scope = BTreeSet::new();
    let mut unread = BTreeSet::new();
    while let Some((id, answer)) = answers.next().await {
        match answer {
            Ok(OneEmployee::Found(employee)) => hr.employees.push(*employee),
            Ok(OneEmployee::Unreadable(rejected)) => {
                tracing::warn!(id = %id, problem = %rejected.problem, "HR record left out");
                hr.rejected.push(rejected);
            }
            Ok(OneEmployee::Absent) => {
                hr.single_reads.insert(id.clone(), SingleRead::Absent);
            }
            Err(error) => {
                tracing::warn!(id = %id, %error, "could not read the employee from HR");
                unread.insert(id);
                continue;
            }
        }
        scope.insert(id);
    }
    hr.employees.sort_by(|a, b| a.id.cmp(&b.id));
    hr.rejected.sort();
    hr.scope = Some(scope);
    Ok((hr, unread))
}

/// Reads the scoped employees' side of the directory and plans. A joiner's names are checked
/// against the unique values in use anywhere, and an entry found at a DN the plan creates or
/// moves an account to is added to what the planner knows, and the plan made again.
async fn plan(
    config: &Config,
    directory: &mut crate::directory::Directory,
    hr: HrSnapshot,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<Plan, RunError> {
    let mappings = &config.mappings;
    let scope = hr.scope.clone().unwrap_or_default();
    let (mut snapshot, guards) = directory.snapshot_of(mappings, &scope).await?;
    let correlated: BTreeSet<&str> = snapshot
        .accounts
        .iter()
        .filter_map(|a| a.correlation_id.as_deref())
        .collect();
    if hr
        .employees
        .iter()
        .any(|e| !correlated.contains(e.id.as_str()))
    {
        snapshot.taken = directory.unique_values_in_use(mappings).await?;
    }
    let mut sides = Sides {
        hr,
        records: Vec::new(),
        directory: snapshot,
    };
    let mut plan = pipeline::plan_within(config, &sides, now, limits);
    for _ in 0..REPLANS_MAX {
        let known: BTreeSet<&Dn> = sides.directory.accounts.iter().map(|a| &a.dn).collect();
        let unknown: BTreeSet<Dn> = destinations(&plan)
            .filter(|dn| !known.contains(dn))
            .cloned()
            .collect();
        if unknown.is_empty() {
            break;
        }
        let found = directory.accounts_at(mappings, &unknown, &guards).await?;
        if found.is_empty() {
            break;
        }
        sides.directory.accounts.extend(found);
        plan = pipeline::plan_within(config, &sides, now, limits);
    }
    Ok(plan)
}

/// The DNs a plan puts an account at: new accounts and moves' destinations.
fn destinations(plan: &Plan) -> impl Iterator<Item = &Dn> {
    plan.accounts.iter().flat_map(|account| {
        account
            .changes
            .iter()
            .filter_map(move |change| match &change.action {
                Action::Create { .. } => Some(&account.dn),
                Action::Move { to, .. } => Some(to),
                _ => None,
            })
    })
}

/// The accounts a plan disables.
pub(crate) fn disables(plan: &Plan) -> usize {
    plan.accounts
        .iter()
        .filter(|a| {
            a.changes
                .iter()
                .any(|c| matches!(c.action, Action::Disable { .. }))
        })
        .count()
}

/// The limits with their percentages left out (see the module's doc).
fn counts_only(limits: &Limits) -> Limits {
    let mut limits = limits.clone();
    for limit in limits.kinds.values_mut() {
        limit.percent = None;
    }
    limits
}
