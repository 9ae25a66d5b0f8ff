//! The one pipeline every command runs through: read both sides ([`with_sides`]), plan
//! ([`plan`]), execute the plan ([`execute`]: steps, the audit log opened, the apply recorded as
//! it goes, journal, hooks), and for `hrsync apply` and each run of `hrsync run`, the whole of
//! it with the safety limits in between ([`reconcile`]).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::apply::{Control, Deadline, Halt, StepWatcher, apply_with};
use crate::audit::{AuditReport, Recorder};
use crate::config::Config;
use crate::directory::Directory;
use crate::directory::lease::{Acquired, LeaseKeeper};
use crate::hooks::HookReport;
use crate::hr::{self, HrError};
use crate::journal::Journal;
use crate::metrics::RunMetrics;
use crate::model::{DirectorySnapshot, HrSnapshot};
use crate::plan::filter::Filter;
use crate::plan::limits::LimitKind;
use crate::plan::ops::{Step, Steps, steps};
use crate::plan::{Plan, PlanInput};
use crate::render::Format;

use super::clock::Clock;
use super::files;
use super::{Outcome, RunError};

/// How much of HR a command reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HrRead {
    /// None: `offboard` and a saved plan act on the directory alone.
    Skip,
    Employees,
    /// The employees and HR's raw records (`explain`, `check`, `--dump-hr`).
    WithRecords,
}

/// What a command reads before it acts.
#[derive(Debug, Clone, Copy)]
pub struct Reading<'a> {
    pub hr: HrRead,
    /// Where to write the raw HR records once the HR read has succeeded (`--dump-hr`).
    pub dump_hr: Option<&'a Path>,
    pub now: DateTime<Utc>,
}

impl Reading<'_> {
    pub fn of(hr: HrRead, now: DateTime<Utc>) -> Self {
        Reading {
            hr,
            dump_hr: None,
            now,
        }
    }
}

/// Both sides as read.
#[derive(Debug, Default)]
pub struct Sides {
    pub hr: HrSnapshot,
    /// HR's raw records, only when [`HrRead::WithRecords`] (or a dump) asked for them.
    pub records: Vec<Value>,
    pub directory: DirectorySnapshot,
}

impl Sides {
    /// Frees both snapshots on another thread: at company scale that is hundreds of thousands
    /// of allocations, and rendering and applying need not wait for them.
    pub fn drop_in_background(self) {
        std::thread::spawn(move || drop(self));
    }
}

/// Opens the directory, reads what `reading` asks for from both sides (HR on a thread of its
/// own, beside the directory), hands the directory and what was read to `work`, and closes the
/// connection whatever `work` returns. Every command reads through here, so `plan`, `explain`
/// and `report` see exactly the same employees and rejections. Both reads must succeed
/// completely.
pub async fn with_sides<T>(
    config: &Config,
    reading: Reading<'_>,
    work: impl AsyncFnOnce(&mut Directory, Sides) -> Result<T, RunError>,
) -> Result<T, RunError> {
    with_sides_until(config, reading, None, work).await
}

/// [`with_sides`] for a run that applies: it takes the run lease first (see
/// [`crate::directory::lease`]; [`RunError::LeaseHeld`] when another run holds it), keeps it
/// renewed while `work` runs and releases it at the end, and the reads are cut short when the
/// run's stop is set ([`RunError::Stopped`]): a stop must not wait for a stuck HR API or
/// directory, and nothing has been changed yet. `plan` and the other read-only commands take
/// no lease ([`with_sides`]).
pub(crate) async fn with_sides_until<T>(
    config: &Config,
    reading: Reading<'_>,
    run: Option<&Execution<'_>>,
    work: impl AsyncFnOnce(&mut Directory, Sides) -> Result<T, RunError>,
) -> Result<T, RunError> {
    let read = async |directory: &mut Directory| {
        let stop = run.and_then(|r| r.stop.as_ref());
        {
            let reads = async {
                tokio::join!(
                    read_hr(config, reading),
                    directory.snapshot(&config.mappings)
                )
            };
            let (hr, snapshot) = tokio::select! {
                sides = reads => sides,
                () = stop_requested(stop) => return Err(RunError::Stopped),
            };
            let (hr, records) = hr?;
            let mut sides = Sides {
                hr,
                records,
                directory: snapshot?,
            };
            if reading.hr != HrRead::Skip {
                super::absence::confirm(config, &mut sides).await;
            }
            work(directory, sides).await
        }
    };
    match run {
        Some(run) => with_lease(config, run, read).await,
        None => with_directory(config, read).await,
    }
}

/// Opens the directory for a run that applies: takes the run lease first (see
/// [`crate::directory::lease`]; [`RunError::LeaseHeld`] when another run holds it), keeps it
/// renewed while `work` runs, and releases it at the end.
pub(crate) async fn with_lease<T>(
    config: &Config,
    run: &Execution<'_>,
    work: impl AsyncFnOnce(&mut Directory) -> Result<T, RunError>,
) -> Result<T, RunError> {
    with_directory(config, async |directory| {
        let keeper = take_lease(directory, run).await?;
        let result = work(directory).await;
        keeper.release((run.clock)()).await;
        result
    })
    .await
}

/// Takes the run lease for `run` and keeps it renewed; who holds it, when another run does.
async fn take_lease(directory: &Directory, run: &Execution<'_>) -> Result<LeaseKeeper, RunError> {
    let holder = format!(
        "host={} pid={} run={}",
        super::actor::host_name(),
        std::process::id(),
        run.run_id
    );
    match directory.acquire_lease(&holder, (run.clock)()).await? {
        Acquired::Taken(lease) => {
            tracing::debug!(holder = %holder, "run lease taken");
            Ok(directory.keep_lease(lease, run.clock.clone(), run.lease_lost.clone()))
        }
        Acquired::Held {
            dn,
            holder,
            expires,
        } => Err(RunError::LeaseHeld {
            dn,
            holder,
            expires,
        }),
    }
}

/// Returns once `stop` is set (never without one). A flag looked at every 100 ms: the
/// signal handler only sets it, and a tenth of a second is nothing beside a stuck read.
pub(crate) async fn stop_requested(stop: Option<&Arc<AtomicBool>>) {
    let Some(stop) = stop else {
        return std::future::pending().await;
    };
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Opens the directory with the configured credentials, lends it to `work` and closes it.
pub async fn with_directory<T>(
    config: &Config,
    work: impl AsyncFnOnce(&mut Directory) -> Result<T, RunError>,
) -> Result<T, RunError> {
    let password = config
        .directory
        .bind_password
        .resolve("directory.bind_password")?;
    Directory::with(&config.directory, &password, work).await
}

/// The HR side of [`with_sides`]: every employee and every rejected record, and the raw
/// records when `reading` asks for them (or for a dump, which is written here).
pub async fn read_hr(
    config: &Config,
    reading: Reading<'_>,
) -> Result<(HrSnapshot, Vec<Value>), RunError> {
    if reading.hr == HrRead::Skip {
        return Ok((HrSnapshot::default(), Vec::new()));
    }
    let keep_records = reading.hr == HrRead::WithRecords || reading.dump_hr.is_some();
    let hr_config = config.hr.clone();
    // Parsing and normalising the records runs on the other core while this thread decodes
    // the directory.
    let (hr, records) = on_own_thread("hrsync-hr", async move {
        hr::read(&hr_config, keep_records).await
    })
    .await
    .map_err(|e| HrError::Config(format!("the HR fetch stopped unexpectedly: {e}")))??;
    if let Some(path) = reading.dump_hr {
        files::write_private_json(path, &hr::dump(&config.hr, &records, reading.now))?;
        tracing::info!(path = %path.display(), records = records.len(), "HR records dumped");
    }
    for rejected in &hr.rejected {
        tracing::warn!(
            id = rejected.id.as_deref().unwrap_or("(unknown)"),
            index = rejected.index,
            problem = %rejected.problem,
            "HR record left out"
        );
    }
    let records = if reading.hr == HrRead::WithRecords {
        records.into_iter().map(hr::Record::into_value).collect()
    } else {
        Vec::new()
    };
    Ok((hr, records))
}

/// Runs `work` to completion on a thread of its own, with a runtime of its own, so its CPU work
/// runs beside the caller's rather than taking turns with it on one thread.
async fn on_own_thread<T: Send + 'static>(
    name: &str,
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, String> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let _ = sender.send(runtime.map(|runtime| runtime.block_on(work)));
        })
        .map_err(|e| e.to_string())?;
    match receiver.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("its thread stopped".to_string()),
    }
}

/// The whole plan of both sides at `now`: changes, limits tripped and warnings included, and
/// the configuration it was made with.
pub fn plan(config: &Config, sides: &Sides, now: DateTime<Utc>) -> Plan {
    plan_within(config, sides, now, &config.limits)
}

/// [`plan`] checked against `limits` rather than the configured ones.
pub(crate) fn plan_within(
    config: &Config,
    sides: &Sides,
    now: DateTime<Utc>,
    limits: &crate::plan::limits::Limits,
) -> Plan {
    let mut plan = crate::plan::plan(&PlanInput {
        hr: &sides.hr,
        directory: &sides.directory,
        mappings: &config.mappings,
        policy: &config.directory.policy,
        limits,
        now,
    });
    plan.config = Some(config.digest.clone());
    plan
}

/// The LDAP steps of a plan: what `apply` runs (see [`crate::plan::ops`] for the order) and the
/// LDIF shows.
pub fn plan_steps(config: &Config, plan: &Plan) -> Steps {
    steps(plan, &config.mappings.groups.member_attribute)
}

/// How one execution runs.
pub(crate) struct Execution<'a> {
    pub(crate) run_id: &'a str,
    /// Set by a signal: no step starts any more (see [`Control::stop`]).
    pub(crate) stop: Option<Arc<AtomicBool>>,
    /// No step starts after this (`directory.max_apply_secs`, counted from the run's start).
    pub(crate) deadline: Option<Deadline>,
    /// Set when another run took the run lease over (this one failed to renew it in time): no
    /// step starts any more.
    pub(crate) lease_lost: Arc<AtomicBool>,
    pub(crate) clock: &'a Clock,
    /// What started a run other than its schedule or a command (`event:bamboohr`, `changes`,
    /// `sync`): written into its audit records and hook calls.
    pub(crate) trigger: Option<&'a str>,
    /// Who runs it (and for `apply --plan`, the plan approved): written into its audit records.
    pub(crate) actor: crate::audit::Actor,
}

impl<'a> Execution<'a> {
    /// A run's execution, its deadline counted from now.
    pub(crate) fn new(
        config: &Config,
        run_id: &'a str,
        stop: Option<Arc<AtomicBool>>,
        clock: &'a Clock,
    ) -> Self {
        Execution {
            run_id,
            stop,
            deadline: config.directory.max_apply.map(Deadline::after),
            lease_lost: Arc::new(AtomicBool::new(false)),
            clock,
            trigger: None,
            actor: super::actor::current(),
        }
    }

    pub(crate) fn stop_requested(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst))
    }
}

/// What an execution did: every change with its outcome, what became of its audit records, and
/// what the hooks did.
pub(crate) struct Executed<'p> {
    pub(crate) journal: Journal<'p>,
    /// `None` when no audit log is configured or there was nothing to apply.
    pub(crate) audit: Option<AuditReport>,
    pub(crate) hooks: HookReport,
    /// Why the apply stopped starting changes before the end (a stop, the deadline, a hung
    /// server, the audit log), if it did.
    pub(crate) halted: Option<Halt>,
}

impl Executed<'_> {
    /// Partial failure when a change failed or went unanswered, or when the apply stopped
    /// starting changes before the end (a stop, the deadline, a hung server, the audit log) and
    /// left some for the next run: the run did not do its work, and a scheduler must see it.
    pub(crate) fn outcome(&self) -> Outcome {
        let failed = self.journal.results().iter().any(|r| {
            matches!(
                r.outcome,
                crate::apply::Outcome::Failed { .. } | crate::apply::Outcome::Unanswered { .. }
            )
        });
        let left = self.halted.is_some()
            && self
                .journal
                .results()
                .iter()
                .any(|r| r.outcome == crate::apply::Outcome::NotAttempted);
        if failed || left || self.audit_failure().is_some() {
            Outcome::PartialFailure
        } else {
            Outcome::Success
        }
    }

    /// Why the audit log stopped taking records, if it did.
    pub(crate) fn audit_failure(&self) -> Option<&str> {
        self.audit.as_ref().and_then(|a| a.failure.as_deref())
    }
}

/// Applies `plan` (with the progress display on a terminal), recording each change in the
/// audit log as it goes, then calls the hooks. How `apply`, `apply --plan`, `run` and
/// `offboard` all execute.
///
/// Audit before action: the audit log is opened and takes the run's first record before the
/// first change, or nothing is applied ([`RunError::Audit`]). Should it stop taking records
/// during the apply, no further change starts and the outcome is a partial failure. A failing
/// hook is logged and reported; it never undoes anything, loses no audit record (they are
/// all written by then) and does not change the outcome.
pub(crate) async fn execute<'p>(
    config: &Config,
    directory: &Directory,
    plan: &'p Plan,
    execution: &Execution<'_>,
) -> Result<Executed<'p>, RunError> {
    let steps = plan_steps(config, plan);
    let audit = open_audit(config, plan, &steps, execution)?;
    let progress = crate::progress::Progress::steps(steps.len());
    let watchers = Watchers {
        audit: audit.as_ref(),
        progress: progress.as_ref().map(|p| p.callback()),
    };
    let control = Control {
        stop: execution.stop.clone(),
        on_step: Some(&watchers),
        deadline: execution.deadline,
        lease_lost: Some(execution.lease_lost.clone()),
        max_consecutive_timeouts: Some(config.directory.max_consecutive_timeouts),
    };
    let report = apply_with(
        directory,
        &steps,
        config.directory.max_concurrent_accounts,
        &control,
    )
    .await;
    drop(progress);
    let halted = report.halted;
    let journal = Journal::new(plan, report);
    let audit = audit.map(|recorder| recorder.finish(&journal));
    let hooks = fire_hooks(config, &journal, execution, (execution.clock)()).await;
    Ok(Executed {
        journal,
        audit,
        hooks,
        halted,
    })
}

/// [`execute`], with what it did (or why it could not start) counted in `metrics`.
pub(crate) async fn execute_counted<'p>(
    config: &Config,
    directory: &Directory,
    plan: &'p Plan,
    execution: &Execution<'_>,
    metrics: &mut RunMetrics,
) -> Result<Executed<'p>, RunError> {
    let executed = execute(config, directory, plan, execution).await;
    match &executed {
        Ok(executed) => {
            metrics.record_applied(&executed.journal);
            metrics.hook_calls = executed.hooks.calls;
            metrics.hook_failures = executed.hooks.failures.len() as u64;
            metrics.audit_failed = executed.audit_failure().is_some();
        }
        Err(error) => {
            metrics.record_planned(plan);
            metrics.audit_failed = matches!(error, RunError::Audit { .. });
        }
    }
    executed
}

/// The run's audit log, open and holding the run's first record; `None` when none is
/// configured or there is nothing to apply (a run that changes nothing writes no record).
fn open_audit<'a>(
    config: &'a Config,
    plan: &'a Plan,
    steps: &Steps,
    execution: &'a Execution<'a>,
) -> Result<Option<Recorder<'a>>, RunError> {
    let Some(sink) = &config.operations.audit else {
        return Ok(None);
    };
    if steps.is_empty() {
        return Ok(None);
    }
    let now: &'a (dyn Fn() -> DateTime<Utc> + Send + Sync) = &**execution.clock;
    Recorder::start(
        sink,
        plan,
        (execution.run_id, execution.trigger, &execution.actor),
        now,
    )
    .map(Some)
    .map_err(|e| RunError::Audit {
        sink: sink.to_string(),
        error: e.to_string(),
    })
}

/// Everything that follows an apply step by step: the audit log and the progress display.
struct Watchers<'a> {
    audit: Option<&'a Recorder<'a>>,
    progress: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl StepWatcher for Watchers<'_> {
    fn sending(&self, steps: &[&Step]) {
        if let Some(audit) = self.audit {
            audit.sending(steps);
        }
    }

    fn stepped(&self, step: &Step, outcome: &crate::apply::Outcome) {
        if let Some(audit) = self.audit {
            audit.stepped(step, outcome);
        }
        if let Some(progress) = &self.progress {
            progress();
        }
    }

    fn halted(&self) -> bool {
        self.audit.is_some_and(|audit| audit.halted())
    }
}

/// The hooks of an execution, after the apply (they are notifications of what was done).
async fn fire_hooks(
    config: &Config,
    journal: &Journal<'_>,
    execution: &Execution<'_>,
    time: DateTime<Utc>,
) -> HookReport {
    let events = crate::hooks::events(journal, execution.run_id, execution.trigger, time);
    let hooks = crate::hooks::fire(&config.operations.hooks, &events).await;
    if !hooks.failures.is_empty() {
        tracing::warn!(
            failed = hooks.failures.len(),
            calls = hooks.calls,
            "some hook calls failed; the directory changes stand"
        );
    }
    hooks
}

/// Who is watching a reconcile: a person at `hrsync apply` (the plan and the results are
/// printed) or nobody (`hrsync run`: everything goes to the log).
pub(crate) enum Audience<'a> {
    Person {
        format: Format,
        /// The limit kinds the person allowed (`--allow-limit`).
        allow_limits: &'a [LimitKind],
        /// Where the plan is saved (`--out`).
        out: Option<&'a Path>,
        /// Only the accounts it keeps are applied (`--only`, `--employee`).
        filter: Option<&'a Filter>,
        /// Ask for `yes` before applying: `apply` on a terminal without `--yes`.
        confirm: bool,
    },
    Log,
}

impl Audience<'_> {
    /// A person's command that applies everything and asks nothing (`sync`, `offboard`).
    pub(crate) fn person(format: Format, allow_limits: &[LimitKind]) -> Audience<'_> {
        Audience::Person {
            format,
            allow_limits,
            out: None,
            filter: None,
            confirm: false,
        }
    }

    fn filter(&self) -> Option<&Filter> {
        match self {
            Audience::Person { filter, .. } => *filter,
            Audience::Log => None,
        }
    }
}

/// Whether a filtered plan is shown (`plan`) or applied (`apply`): the note says what becomes
/// of the accounts left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    Shown,
    Applied,
}

/// `plan` cut down to the accounts `filter` keeps ([`Plan::only`]), with the safety limits
/// counted again on what is left (what `apply` with the same filter would apply), and a line
/// saying what was left out. Without a filter: the plan as it is and no line.
pub(crate) fn cut(
    config: &Config,
    plan: Plan,
    filter: Option<&Filter>,
    cut: Cut,
) -> (Plan, Option<String>) {
    let Some(filter) = filter.filter(|f| !f.is_empty()) else {
        return (plan, None);
    };
    let mut kept = plan.only(filter);
    kept.limits_tripped = crate::plan::limits::check(&kept, &config.limits);
    let counts = format!(
        "{} of {} account(s), {} of {} change(s)",
        kept.accounts.len(),
        plan.accounts.len(),
        kept.summary.changes,
        plan.summary.changes
    );
    let note = match cut {
        Cut::Shown => format!(
            "shown: only {} ({counts}); `hrsync apply` applies them all unless given the same \
             --only/--employee",
            filter.describe()
        ),
        Cut::Applied => format!(
            "applying only {} ({counts}); the rest is left for a later run",
            filter.describe()
        ),
    };
    (kept, Some(note))
}

/// `hrsync apply` and each run of `hrsync run`: read, plan, stop at a tripped safety limit,
/// execute. `metrics` is filled in on the way.
pub(crate) async fn reconcile(
    config: &Config,
    reading: Reading<'_>,
    audience: &Audience<'_>,
    execution: &Execution<'_>,
    metrics: &mut RunMetrics,
) -> Result<Outcome, RunError> {
    let now = reading.now;
    with_sides_until(
        config,
        reading,
        Some(execution),
        async |directory, sides| {
            let rejected = sides.hr.rejected.len();
            let (plan, note) = cut(
                config,
                plan(config, &sides, now),
                audience.filter(),
                Cut::Applied,
            );
            metrics.record_plan(&plan, rejected);
            sides.drop_in_background();
            announce(
                config,
                &plan,
                audience,
                execution.run_id,
                rejected,
                note.as_deref(),
            )?;
            carry_out(config, directory, &plan, audience, execution, metrics).await
        },
    )
    .await
}

/// What follows a plan once it is announced, for every reconcile (`apply`, `run`, `sync`,
/// events): stop at a tripped safety limit or a stop, skip an empty plan in the log, else
/// execute and report.
pub(crate) async fn carry_out(
    config: &Config,
    directory: &Directory,
    plan: &Plan,
    audience: &Audience<'_>,
    execution: &Execution<'_>,
    metrics: &mut RunMetrics,
) -> Result<Outcome, RunError> {
    if let Some(outcome) = refuse_over_limits(plan, audience) {
        metrics.record_planned(plan);
        return Ok(outcome);
    }
    if execution.stop_requested() {
        metrics.record_planned(plan);
        return Ok(stopped_before_applying(plan, audience));
    }
    if matches!(audience, Audience::Person { confirm: true, .. }) && plan.has_changes() {
        if let Err(refusal) = super::confirm::ask(config, plan, execution).await {
            metrics.record_planned(plan);
            return Err(refusal);
        }
    }
    if matches!(audience, Audience::Log) && !plan.has_changes() {
        tracing::info!(run_id = execution.run_id, "no changes");
        return Ok(Outcome::Success);
    }
    let executed = execute_counted(config, directory, plan, execution, metrics).await?;
    report(&executed, audience, execution);
    Ok(executed.outcome())
}

/// A stop that came while the sides were read: nothing was applied, the whole plan is left for
/// the next run (exit code 3 when that is some work).
pub(crate) fn stopped_before_applying(plan: &Plan, audience: &Audience<'_>) -> Outcome {
    super::cycle::log_left_over(&Journal::unapplied(plan));
    if !plan.has_changes() {
        return Outcome::Success;
    }
    if let Audience::Person { .. } = audience {
        println!(
            "\nNothing applied: {}; the {} change(s) above are left for the next run",
            Halt::Stopped,
            plan.summary.changes
        );
    }
    Outcome::PartialFailure
}

/// Shows the plan: printed and saved for a person (with `note`, what a filter left out), summed
/// up in the log otherwise.
pub(crate) fn announce(
    config: &Config,
    plan: &Plan,
    audience: &Audience<'_>,
    run_id: &str,
    rejected: usize,
    note: Option<&str>,
) -> Result<(), RunError> {
    match audience {
        Audience::Person { format, out, .. } => {
            if let Some(path) = out {
                super::saved_plan::save(config, plan, path)?;
            }
            print!(
                "{}",
                render_shown(plan, &plan_steps(config, plan), *format, note)
            );
        }
        Audience::Log => log_plan(plan, run_id, rejected),
    }
    Ok(())
}

fn log_plan(plan: &Plan, run_id: &str, rejected: usize) {
    let summary = &plan.summary;
    tracing::info!(
        run_id,
        joiners = summary.joiners,
        movers = summary.movers,
        leavers = summary.leavers,
        rehires = summary.rehires,
        returns = summary.returns,
        updates = summary.updates,
        changes = summary.changes,
        hr_records = summary.hr_records,
        hr_rejected = rejected,
        directory_accounts = summary.directory_accounts,
        "planned"
    );
    for warning in &plan.warnings {
        tracing::warn!(run_id, "{warning}");
    }
}

/// [`Outcome::LimitTripped`] when the plan goes over a limit the audience did not allow;
/// the tripped limits are logged either way.
pub(crate) fn refuse_over_limits(plan: &Plan, audience: &Audience<'_>) -> Option<Outcome> {
    let allowed: &[LimitKind] = match audience {
        Audience::Person { allow_limits, .. } => allow_limits,
        Audience::Log => &[],
    };
    let (blocking, allowed): (Vec<_>, Vec<_>) = plan
        .limits_tripped
        .iter()
        .partition(|t| !allowed.contains(&t.kind));
    for tripped in &allowed {
        tracing::warn!(
            kind = tripped.kind.as_str(),
            "{tripped}; allowed by --allow-limit"
        );
    }
    if blocking.is_empty() {
        return None;
    }
    for tripped in &blocking {
        match audience {
            Audience::Person { .. } => tracing::error!(
                kind = tripped.kind.as_str(),
                count = tripped.count,
                "{tripped}"
            ),
            Audience::Log => tracing::error!(
                kind = tripped.kind.as_str(),
                count = tripped.count,
                "{tripped}; nothing applied: review the plan and apply it with `hrsync apply`"
            ),
        }
    }
    if let Audience::Person { out, .. } = audience {
        println!(
            "\nNothing applied: a safety limit tripped. Review the plan{}, then apply it with \
             `hrsync apply --plan FILE`, or allow the kind with --allow-limit {}.",
            out.map_or(" (save it with --out FILE)".to_string(), |p| format!(
                " saved in {}",
                p.display()
            )),
            blocking
                .iter()
                .map(|t| t.kind.as_str())
                .collect::<Vec<_>>()
                .join(" --allow-limit ")
        );
    }
    Some(Outcome::LimitTripped)
}

/// What an execution did: printed for a person, logged otherwise.
pub(crate) fn report(executed: &Executed<'_>, audience: &Audience<'_>, execution: &Execution<'_>) {
    let journal = &executed.journal;
    let audit_failure = executed.audit_failure();
    // The audit log's own failure is told below, with what became of its records.
    let halt = executed.halted.filter(|h| *h != Halt::Watcher);
    if executed.halted.is_some() || audit_failure.is_some() {
        super::cycle::log_left_over(journal);
    }
    if let Some(halt) = halt {
        tracing::error!(run_id = execution.run_id, "{}", halt_summary(halt, journal));
    }
    if let Audience::Person { .. } = audience {
        println!(
            "\n{}",
            apply_summary(
                journal,
                executed.halted.is_some() || audit_failure.is_some()
            )
        );
        if let Some(halt) = halt {
            println!("! {}", halt_summary(halt, journal));
        }
        if let Some(failure) = audit_failure {
            println!("{}", audit_summary(failure));
        }
        if let Some(line) = hook_summary(&executed.hooks) {
            println!("{line}");
        }
    }
    if let Some(failure) = audit_failure {
        tracing::error!(run_id = execution.run_id, "{}", audit_summary(failure));
    }
    tracing::info!(
        run_id = execution.run_id,
        applied = journal.applied(),
        failed = journal.failed(),
        audit_records = executed.audit.as_ref().map_or(0, |a| a.written),
        "apply finished"
    );
}

/// Why the apply stopped starting changes, and how many it left.
fn halt_summary(halt: Halt, journal: &Journal<'_>) -> String {
    let left = journal
        .results()
        .iter()
        .filter(|r| r.outcome == crate::apply::Outcome::NotAttempted)
        .count();
    format!(
        "stopped starting changes: {halt}; {left} change(s) not attempted, left for the next run"
    )
}

/// What an audit log that stopped taking records did to the run.
fn audit_summary(failure: &str) -> String {
    format!(
        "! {failure}: hrsync started no change after that; the records it could not write are in \
         its log (\"audit record not written\"), and the changes not attempted are left for the \
         next run"
    )
}

pub(crate) fn render(plan: &Plan, steps: &Steps, format: Format) -> String {
    match format {
        Format::Text => crate::render::text(plan),
        Format::Json => crate::render::json(plan),
        Format::Ldif => crate::render::ldif(steps),
        // The page of what apply, sync and offboard apply: a record, not signed (a page to
        // approve comes from `plan --format html`).
        Format::Html => super::saved_plan::Saved::unsigned(plan).page(plan),
    }
}

/// [`render`] for stdout: the text plan in colour on a terminal (not with `NO_COLOR`) and with
/// `note` under its counts; the other formats are for machines, so `note` goes to the log.
pub(crate) fn render_shown(
    plan: &Plan,
    steps: &Steps,
    format: Format,
    note: Option<&str>,
) -> String {
    if format != Format::Text {
        if let Some(note) = note {
            tracing::info!("{note}");
        }
        return render(plan, steps, format);
    }
    let style = crate::render::Style {
        colour: crate::progress::stdout_colour(),
        note,
    };
    crate::render::text_styled(plan, style)
}

/// What an apply did, for stdout: the failures one by one, then a summary line. `halted`: the
/// apply stopped starting changes (a stop, the deadline, a hung server, the audit log), so the
/// changes not attempted were left for that reason (or for an earlier failure of their
/// account).
pub(crate) fn apply_summary(journal: &Journal<'_>, halted: bool) -> String {
    let not_attempted = if halted {
        "not attempted (hrsync stopped starting changes, see below; left for the next run)"
    } else {
        "not attempted (an earlier change of the account failed)"
    };
    let mut out = String::new();
    for result in journal.results() {
        let line = match &result.outcome {
            crate::apply::Outcome::Failed { error } => {
                format!("  ! failed: {}: {error}\n", result.description)
            }
            crate::apply::Outcome::Unanswered { error } => format!(
                "  ! no answer (may or may not have taken effect; the next run checks): {}: {error}\n",
                result.description
            ),
            crate::apply::Outcome::NotAttempted => {
                format!("  ! {not_attempted}: {}\n", result.description)
            }
            _ => continue,
        };
        out.push_str(&line);
    }
    out.push_str(&format!(
        "applied {} change(s), {} failed or not attempted",
        journal.applied(),
        journal.failed()
    ));
    out
}

/// The summary line of failed hooks, for stdout.
pub(crate) fn hook_summary(hooks: &HookReport) -> Option<String> {
    if hooks.failures.is_empty() {
        return None;
    }
    let mut out = format!(
        "{} of {} hook call(s) failed (the directory changes stand):",
        hooks.failures.len(),
        hooks.calls
    );
    for failure in &hooks.failures {
        out.push_str(&format!("\n  ! hook {failure}"));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::on_own_thread;

    #[tokio::test]
    async fn work_on_its_own_thread_hands_back_its_result() {
        let caller = std::thread::current().id();
        let (result, elsewhere) = on_own_thread("test-worker", async move {
            tokio::task::yield_now().await;
            (6 * 7, std::thread::current().id() != caller)
        })
        .await
        .unwrap();
        assert_eq!(result, 42);
        assert!(elsewhere, "the work ran on the caller's thread");
    }

    #[tokio::test]
    async fn a_panic_on_its_own_thread_is_an_error_not_a_hang() {
        let outcome = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            on_own_thread("test-worker", async { panic!("deliberate") }),
        )
        .await
        .expect("the caller was left waiting");
        let error: Result<(), String> = outcome;
        assert_eq!(error.unwrap_err(), "its thread stopped");
    }
}
