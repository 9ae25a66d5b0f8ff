//! `hrsync plan`: the dry run. Reads both sides, prints the plan, never writes to the directory.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::app::pipeline::{self, HrRead, Reading};
use crate::app::{Outcome, RunError};
use crate::config::Config;
use crate::render::Format;

pub(crate) struct PlanArgs<'a> {
    pub(crate) format: Format,
    pub(crate) out: Option<&'a Path>,
    pub(crate) detailed_exitcode: bool,
    pub(crate) dump_hr: Option<&'a Path>,
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
    let steps = pipeline::plan_steps(config, &plan);
    print!("{}", pipeline::render(&plan, &steps, args.format));
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
