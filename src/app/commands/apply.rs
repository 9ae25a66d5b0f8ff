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
            Some(path) => {
                let (digest, format) = (args.digest, args.format);
                apply_saved(config, path, digest, now, format, &mut execution, metrics).await
            }
        },
    )
    .await;
    result
}

/// Applies a saved, reviewed plan: reads both sides, plans afresh, and applies the fresh plan's
/// changes that the saved one also holds ([`approval::verify`]); anything in the file the fresh
/// plan does not hold refuses it whole, and so does a file whose digest is not the approved one
/// (`--digest`). What is printed, applied, audited and sent to hooks is the fresh plan's.
async fn apply_saved(
    config: &Config,
    path: &Path,
    digest: Option<&str>,
    now: DateTime<Utc>,
    format: Format,
    execution: &mut Execution<'_>,
    metrics: &mut RunMetrics,
) -> Result<Outcome, RunError> {
    let (saved, origin) = saved_plan::load(config, path, now)?;
    if let Some(approved) = digest {
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
            let Approved {
                mut plan,
                unreviewed,
            } = approval::verify(&saved, &fresh).map_err(|refusals| RunError::SavedPlan {
                path: path.display().to_string(),
                message: refused(&refusals),
            })?;
            // Only the approved changes count against the limits (and are approved past them).
            plan.limits_tripped = crate::plan::limits::check(&plan, &config.limits);
            print!(
                "{}",
                pipeline::render(&plan, &pipeline::plan_steps(config, &plan), format)
            );
            announce_approval(&plan, &unreviewed);
            let audience = Audience::Person {
                format,
                allow_limits: &[],
                out: None,
            };
            if execution.stop_requested() {
                metrics.record_planned(&plan);
                return Ok(pipeline::stopped_before_applying(&plan, &audience));
            }
            let executed =
                pipeline::execute_counted(config, directory, &plan, execution, metrics).await?;
            pipeline::report(&executed, &audience, execution);
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
