//! `hrsync apply`: plan and apply, or apply a saved, reviewed plan (`--plan FILE`).

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::app::clock::Clock;
use crate::app::cycle::{self, Reconciled};
use crate::app::pipeline::{self, Audience, Execution, HrRead, Reading};
use crate::app::saved_plan;
use crate::app::{Outcome, RunError};
use crate::config::Config;
use crate::metrics::RunMetrics;
use crate::plan::Plan;
use crate::plan::approval::{self, Approved, Listed, Refusal};
use crate::plan::filter::Filter;
use crate::plan::limits::LimitKind;
use crate::render::Format;

pub(crate) struct ApplyArgs<'a> {
    pub(crate) saved: Option<&'a Path>,
    /// The approved digest of the saved plan (`--digest`): any other file is refused.
    pub(crate) digest: Option<&'a str>,
    pub(crate) format: Format,
    pub(crate) allow_limits: &'a [LimitKind],
    pub(crate) out: Option<&'a Path>,
    pub(crate) dump_hr: Option<&'a Path>,
    /// Only the accounts it keeps are applied.
    pub(crate) filter: &'a Filter,
    /// `--yes`: do not ask on a terminal.
    pub(crate) yes: bool,
}

pub(crate) async fn run(
    config: &Config,
    now: DateTime<Utc>,
    clock: &Clock,
    args: ApplyArgs<'_>,
) -> Result<Outcome, RunError> {
    let run_id = cycle::new_run_id(now);
    let stop = crate::app::daemon::stop_on_signals()?;
    let mut execution = Execution::new(config, &run_id, Some(stop), clock);
    let audience = Audience::Person {
        format: args.format,
        allow_limits: args.allow_limits,
        out: args.out,
        filter: Some(args.filter),
        confirm: crate::app::confirm::wanted(args.yes),
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
                pipeline::reconcile(config, reading, &audience, &execution, metrics).await
            }
            Some(path) => apply_saved(config, path, now, &args, &mut execution, metrics).await,
        },
    )
    .await;
    result
}

/// Applies a saved, reviewed plan: reads both sides, plans afresh, and applies the fresh plan's
/// changes that the saved one also holds ([`approval::verify`]); anything in the file the fresh
/// plan does not hold refuses it whole, and so does a file whose digest is not the approved one
/// (`--digest`). What is printed, applied, audited and sent to hooks is the fresh plan's.
/// `--only` and `--employee` cut the approved plan further.
async fn apply_saved(
    config: &Config,
    path: &Path,
    now: DateTime<Utc>,
    args: &ApplyArgs<'_>,
    execution: &mut Execution<'_>,
    metrics: &mut RunMetrics,
) -> Result<Outcome, RunError> {
    let (saved, origin) = saved_plan::load(config, path, now)?;
    if let Some(approved) = args.digest {
        saved_plan::check_digest(&origin, approved, path)?;
    }
    execution.actor.plan = Some(origin);
    let execution = &*execution;
    let reading = Reading::of(HrRead::Employees, now);
    pipeline::with_sides_until(
        config,
        reading,
        Some(execution),
        async |directory, sides| {
            let fresh = pipeline::plan(config, &sides, now);
            metrics.record_plan(&fresh, sides.hr.rejected.len());
            sides.drop_in_background();
            let Approved { plan, unreviewed } =
                approval::verify(&saved, &fresh).map_err(|refusals| RunError::SavedPlan {
                    path: path.display().to_string(),
                    message: refused(&refusals),
                })?;
            let (mut plan, note) =
                pipeline::cut(config, plan, Some(args.filter), pipeline::Cut::Applied);
            // Only the approved changes count against the limits (and are approved past them).
            plan.limits_tripped = crate::plan::limits::check(&plan, &config.limits);
            let steps = pipeline::plan_steps(config, &plan);
            print!(
                "{}",
                pipeline::render_shown(&plan, &steps, args.format, note.as_deref())
            );
            announce_approval(&plan, &unreviewed);
            // The review approved the limits: none is refused here, and nothing is saved again.
            let audience = &Audience::Person {
                format: args.format,
                allow_limits: &[],
                out: None,
                filter: Some(args.filter),
                confirm: crate::app::confirm::wanted(args.yes),
            };
            if execution.stop_requested() {
                metrics.record_planned(&plan);
                return Ok(pipeline::stopped_before_applying(&plan, audience));
            }
            if matches!(audience, Audience::Person { confirm: true, .. }) && plan.has_changes() {
                if let Err(refusal) = crate::app::confirm::ask(config, &plan, execution).await {
                    metrics.record_planned(&plan);
                    return Err(refusal);
                }
            }
            let executed =
                pipeline::execute_counted(config, directory, &plan, execution, metrics).await?;
            pipeline::report(&executed, audience, execution);
            Ok(executed.outcome())
        },
    )
    .await
}

/// Why a saved plan is refused: each of its changes the fresh plan does not hold.
fn refused(refusals: &[Refusal]) -> String {
    let mut message = format!(
        "refused, nothing applied: {} change(s) in it are not what hrsync would do now (plan \
         again and review):",
        refusals.len()
    );
    // Grouped by account and reason: a stale account's changes share one.
    let mut previous: Option<(&str, &str)> = None;
    for refusal in refusals {
        let group = (refusal.dn.as_str(), refusal.why.as_str());
        if previous != Some(group) {
            message.push_str(&format!("\n  - {}: {}", refusal.dn, refusal.why));
            previous = Some(group);
        }
        message.push_str(&format!("\n      {}", refusal.change));
    }
    message
}

/// What the review approves beyond the limits, and what it does not cover.
fn announce_approval(plan: &Plan, unreviewed: &[Listed]) {
    for tripped in &plan.limits_tripped {
        tracing::warn!(
            kind = tripped.kind.as_str(),
            "{tripped}; approved by the reviewed plan"
        );
    }
    if unreviewed.is_empty() {
        return;
    }
    println!(
        "\nNot applied, not reviewed: {} change(s) planned now that the reviewed plan does not \
         hold (review them in a new plan):",
        unreviewed.len()
    );
    for listed in unreviewed {
        println!("  - {listed}");
    }
}
