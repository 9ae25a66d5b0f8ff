//! `hrsync offboard`: security's immediate offboarding of one account. Reads only the
//! directory (security cannot always wait for HR), plans the offboarding, prints it and
//! applies it. No limits: it is one account, named by a person.

use chrono::{DateTime, Utc};

use crate::app::clock::Clock;
use crate::app::cycle;
use crate::app::pipeline::{self, Audience, Execution, HrRead, Reading};
use crate::app::{Outcome, RunError};
use crate::config::Config;
use crate::plan::limits::Limits;
use crate::plan::{PlanInput, planner};
use crate::render::Format;

pub(crate) async fn run(
    config: &Config,
    now: DateTime<Utc>,
    clock: &Clock,
    employee_id: &str,
    reason: &str,
    format: Format,
) -> Result<Outcome, RunError> {
    let Some(hold_group) = &config.directory.hold_group else {
        return Err(RunError::Offboard(
            "offboarding.hold_group is not set: name the group that marks offboarded accounts"
                .to_string(),
        ));
    };
    if reason.trim().is_empty() {
        return Err(RunError::Offboard("--reason must say why".to_string()));
    }
    let run_id = cycle::new_run_id(now);
    let stop = crate::app::daemon::stop_on_signals()?;
    let execution = Execution::new(config, &run_id, Some(stop), clock);
    let reading = Reading::of(HrRead::Skip, now);
    pipeline::with_sides_until(config, reading, Some(&execution), async |directory, sides| {
        if !directory.exists(hold_group).await? {
            return Err(RunError::Offboard(format!(
                "the hold group {hold_group} (offboarding.hold_group) does not exist; create it first"
            )));
        }
        let input = PlanInput {
            hr: &sides.hr,
            directory: &sides.directory,
            mappings: &config.mappings,
            policy: &config.directory.policy,
            limits: &Limits::none(),
            now,
        };
        let plan = planner::offboard(&input, employee_id, reason, hold_group)
            .map_err(RunError::Offboard)?;
        print!(
            "{}",
            pipeline::render(&plan, &pipeline::plan_steps(config, &plan), format)
        );
        let executed = pipeline::execute(config, directory, &plan, &execution).await?;
        let audience = Audience::person(format, &[]);
        pipeline::report(&executed, &audience, &execution);
        tracing::warn!(
            employee = employee_id,
            reason,
            applied = executed.journal.applied(),
            failed = executed.journal.failed(),
            "offboarded"
        );
        Ok(executed.outcome())
    })
    .await
}
