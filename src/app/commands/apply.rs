//! `hrsync apply`: plan and apply, or apply a saved, reviewed plan (`--plan FILE`).

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::app::clock::Clock;
use crate::app::cycle::{self, Reconciled};
use crate::app::pipeline::{self, Audience, Execution, HrRead, Reading};
use crate::app::{Outcome, RunError};
use crate::config::Config;
use crate::dn::Dn;
use crate::metrics::RunMetrics;
use crate::model::DirectorySnapshot;
use crate::plan::limits::LimitKind;
use crate::plan::{PLAN_SCHEMA, Plan, planner};
use crate::render::Format;

pub(crate) struct ApplyArgs<'a> {
    pub(crate) saved: Option<&'a Path>,
    pub(crate) format: Format,
    pub(crate) allow_limits: &'a [LimitKind],
    pub(crate) out: Option<&'a Path>,
    pub(crate) dump_hr: Option<&'a Path>,
}

pub(crate) async fn run(
    config: &Config,
    now: DateTime<Utc>,
    clock: &Clock,
    args: ApplyArgs<'_>,
) -> Result<Outcome, RunError> {
    let run_id = cycle::new_run_id(now);
    let execution = Execution {
        run_id: &run_id,
        stop: None,
        clock,
    };
    let previous_success = config
        .operations
        .metrics
        .textfile
        .as_deref()
        .and_then(crate::metrics::previous_success);
    let Reconciled { result, .. } = cycle::counted(
        config,
        now,
        clock,
        previous_success,
        async |metrics| match args.saved {
            None => {
                let reading = Reading {
                    hr: HrRead::Employees,
                    dump_hr: args.dump_hr,
                    now,
                };
                let audience = Audience::Person {
                    format: args.format,
                    allow_limits: args.allow_limits,
                    out: args.out,
                };
                pipeline::reconcile(config, reading, &audience, &execution, metrics).await
            }
            Some(path) => apply_saved(config, path, now, args.format, &execution, metrics).await,
        },
    )
    .await;
    result
}

/// Applies a saved plan after checking that it only touches managed groups and that the
/// directory has not moved since it was made.
async fn apply_saved(
    config: &Config,
    path: &Path,
    now: DateTime<Utc>,
    format: Format,
    execution: &Execution<'_>,
    metrics: &mut RunMetrics,
) -> Result<Outcome, RunError> {
    let plan = load_saved_plan(path, config, now)?;
    let saved_error = |message: String| RunError::SavedPlan {
        path: path.display().to_string(),
        message,
    };
    let unmanaged = unmanaged_groups_in(&plan, config);
    if !unmanaged.is_empty() {
        return Err(saved_error(format!(
            "names groups the mappings do not manage: {}",
            unmanaged
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let reading = Reading::of(HrRead::Skip, now);
    pipeline::with_sides(config, reading, async |directory, sides| {
        let drifted = drift(&plan, &sides.directory, config);
        if !drifted.is_empty() {
            return Err(saved_error(format!(
                "the directory no longer matches the plan, nothing applied; plan again:\n  - {}",
                drifted.join("\n  - ")
            )));
        }
        print!(
            "{}",
            pipeline::render(&plan, &pipeline::plan_steps(config, &plan), format)
        );
        let executed = pipeline::execute(config, directory, &plan, execution).await;
        metrics.record_applied(&executed.journal);
        metrics.hook_calls = executed.hooks.calls;
        metrics.hook_failures = executed.hooks.failures.len() as u64;
        let audience = Audience::Person {
            format,
            allow_limits: &[],
            out: None,
        };
        pipeline::report(&executed, &audience, execution);
        Ok(executed.outcome())
    })
    .await
}

/// A saved plan, refused when it is not a plan, of another schema, or older than
/// `limits.max_plan_age_hours` at `now` (the directory and HR have moved on since the review).
pub(crate) fn load_saved_plan(
    path: &Path,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Plan, RunError> {
    let plan = read_saved_plan(path)?;
    let age = now - plan.generated_at;
    let max = chrono::Duration::hours(i64::from(config.limits.max_plan_age_hours));
    if age > max {
        return Err(RunError::SavedPlan {
            path: path.display().to_string(),
            message: format!(
                "made at {}, {} hour(s) ago, older than limits.max_plan_age_hours = {}; plan again",
                plan.generated_at.format("%Y-%m-%d %H:%M UTC"),
                age.num_hours(),
                config.limits.max_plan_age_hours
            ),
        });
    }
    if age < -chrono::Duration::minutes(5) {
        return Err(RunError::SavedPlan {
            path: path.display().to_string(),
            message: "made in the future: check this machine's clock".to_string(),
        });
    }
    Ok(plan)
}

fn read_saved_plan(path: &Path) -> Result<Plan, RunError> {
    let saved_error = |message: String| RunError::SavedPlan {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| saved_error(e.to_string()))?;
    let plan: Plan =
        serde_json::from_str(&text).map_err(|e| saved_error(format!("not a plan: {e}")))?;
    if plan.schema != PLAN_SCHEMA {
        return Err(saved_error(format!(
            "schema {} is not {PLAN_SCHEMA}",
            plan.schema
        )));
    }
    Ok(plan)
}

/// Accounts whose directory state differs from what the saved plan recorded.
fn drift(plan: &Plan, snapshot: &DirectorySnapshot, config: &Config) -> Vec<String> {
    let mut drifted = Vec::new();
    let by_dn: std::collections::BTreeMap<&Dn, &crate::model::DirectoryAccount> =
        snapshot.accounts.iter().map(|a| (&a.dn, a)).collect();
    for account in &plan.accounts {
        let found = by_dn
            .get(match &account.before {
                Some(before) => &before.dn,
                None => &account.dn,
            })
            .copied();
        match (&account.before, found) {
            (None, Some(_)) => drifted.push(format!("{} now exists", account.dn)),
            (None, None) => {}
            (Some(before), None) => drifted.push(format!("{} no longer exists", before.dn)),
            (Some(before), Some(found)) => {
                let now = planner::account_state(found, snapshot, &config.mappings);
                if &now != before {
                    drifted.push(format!("{} changed since the plan was made", before.dn));
                }
            }
        }
    }
    for change in &plan.group_changes {
        if !snapshot.groups.contains_key(&change.group) {
            drifted.push(format!("group {} no longer exists", change.group));
        }
    }
    drifted
}

/// Group DNs the saved plan names that are not managed by the current mappings: applying such a
/// plan would touch a group hrsync does not manage.
fn unmanaged_groups_in(plan: &Plan, config: &Config) -> Vec<Dn> {
    let managed = config.mappings.managed_groups();
    let mut out: Vec<Dn> = plan
        .accounts
        .iter()
        .flat_map(|a| a.changes.iter())
        .filter_map(|c| match &c.action {
            crate::plan::Action::AddToGroup { group }
            | crate::plan::Action::RemoveFromGroup { group }
            | crate::plan::Action::RenameMember { group, .. } => Some(group.clone()),
            _ => None,
        })
        .chain(plan.group_changes.iter().map(|g| g.group.clone()))
        .filter(|g| !managed.contains(g))
        .collect();
    out.sort();
    out.dedup();
    out
}
