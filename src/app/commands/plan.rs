//! `hrsync plan`: the dry run. Reads both sides, prints the plan, never writes to the directory.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::app::pipeline::{self, HrRead, Reading};
use crate::app::{Outcome, RunError, saved_plan};
use crate::config::Config;
use crate::plan::Plan;
use crate::plan::filter::Filter;
use crate::plan::ops::Steps;
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
    show_and_save(config, &plan, &steps, &args, note.as_deref())?;
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Outcome::ChangesPending
    } else {
        Outcome::Success
    })
}

/// Prints the plan (with `note`, what a filter left out) and saves it with `--out`. The approval page (`--format html`) embeds the
/// saved plan, signed when a key is set: it goes to the file when there is one (the text plan
/// is printed), to stdout otherwise.
fn show_and_save(
    config: &Config,
    plan: &Plan,
    steps: &Steps,
    args: &PlanArgs<'_>,
    note: Option<&str>,
) -> Result<(), RunError> {
    let page = args.format == Format::Html;
    let shown = |format| pipeline::render_shown(plan, steps, format, note);
    match args.out {
        Some(path) if page => {
            print!("{}", shown(Format::Text));
            saved_plan::save_page(config, plan, path)
        }
        Some(path) => {
            print!("{}", shown(args.format));
            saved_plan::save(config, plan, path)
        }
        None if page => {
            if let Some(note) = note {
                tracing::info!("{note}");
            }
            print!("{}", saved_plan::page(config, plan)?);
            Ok(())
        }
        None => {
            print!("{}", shown(args.format));
            Ok(())
        }
    }
}
