//! `hrsync plan`: the dry run. Reads both sides, prints the plan, never writes to the directory.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::app::pipeline::{self, HrRead, Reading};
use crate::app::{Outcome, RunError};
use crate::config::Config;
use crate::plan::filter::Filter;
use crate::render::Format;

pub(crate) struct PlanArgs<'a> {
    pub(crate) format: Format,
    pub(crate) out: Option<&'a Path>,
    pub(crate) detailed_exitcode: bool,
    pub(crate) dump_hr: Option<&'a Path>,
    /// Only the accounts it keeps are shown (and saved).
    pub(crate) filter: &'a Filter,
}

pub(crate) async fn run(
    config: &Config,
    now: DateTime<Utc>,
    args: PlanArgs<'_>,
) -> Result<Outcome, RunError> {
    let reading = Reading {
        hr: HrRead::Employees,
        dump_hr: args.dump_hr,
        now,
    };
    let plan = pipeline::with_sides(config, reading, async |_, sides| {
        let plan = pipeline::plan(config, &sides, now);
        sides.drop_in_background();
        Ok(plan)
    })
    .await?;
    // What is saved is what is shown: a saved plan approves what its reviewer saw.
    let (plan, note) = pipeline::cut(config, plan, Some(args.filter), pipeline::Cut::Shown);
    let steps = pipeline::plan_steps(config, &plan);
    print!(
        "{}",
        pipeline::render_shown(&plan, &steps, args.format, note.as_deref())
    );
    if let Some(path) = args.out {
        crate::app::saved_plan::save(config, &plan, path)?;
        tracing::info!(path = %path.display(), "plan saved");
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Outcome::ChangesPending
    } else {
        Outcome::Success
    })
}
