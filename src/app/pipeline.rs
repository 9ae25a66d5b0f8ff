//! One invocation of hrsync: read both sides, plan, render, maybe apply.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::apply::{ApplyReport, apply};
use crate::config::Config;
use crate::directory::Directory;
use crate::dn::Dn;
use crate::hr::{self, HrError};
use crate::model::DirectorySnapshot;
use crate::plan::ops::{Steps, steps};
use crate::plan::{PLAN_SCHEMA, Plan, PlanInput, plan, planner};
use crate::render::{self, Format};

use super::{Outcome, RunError};

pub fn load_config(path: &Path) -> Result<Config, RunError> {
    Config::load(path).map_err(|problems| {
        RunError::Config(
            problems
                .iter()
                .map(|p| format!("  - {p}"))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })
}

/// Reads HR and the directory and plans. Both reads must succeed completely.
pub async fn make_plan(config: &Config, now: DateTime<Utc>) -> Result<(Plan, Directory), RunError> {
    make_plan_dumping(config, now, None).await
}

/// [`make_plan`], and when `dump_hr` is given, writes the raw HR records there (see
/// [`hr::dump`]) once the HR fetch has succeeded.
pub async fn make_plan_dumping(
    config: &Config,
    now: DateTime<Utc>,
    dump_hr: Option<&Path>,
) -> Result<(Plan, Directory), RunError> {
    let (plan, directory, _) = make_plan_counting(config, now, dump_hr).await?;
    Ok((plan, directory))
}

/// [`make_plan_dumping`], also returning how many HR records were rejected (left alone).
pub async fn make_plan_counting(
    config: &Config,
    now: DateTime<Utc>,
    dump_hr: Option<&Path>,
) -> Result<(Plan, Directory, usize), RunError> {
    let password = config
        .directory
        .bind_password
        .resolve("directory.bind_password")?;
    // The HR side on a thread of its own: parsing and normalising the records then runs on the
    // other core while this thread decodes the directory. The raw records are kept only for a
    // dump: without one, each page's records are dropped as soon as they are normalised.
    let hr_config = config.hr.clone();
    let keep_records = dump_hr.is_some();
    let hr_task = on_own_thread("hrsync-hr", async move {
        hr::read(&hr_config, keep_records).await
    });
    let (hr_result, directory) = tokio::join!(hr_task, read_directory(config, &password));
    let (hr_snapshot, records) = hr_result
        .map_err(|e| HrError::Config(format!("the HR fetch stopped unexpectedly: {e}")))??;
    if let Some(path) = dump_hr {
        write_hr_dump(path, &hr::dump(&config.hr, &records, now))?;
        tracing::info!(path = %path.display(), records = records.len(), "HR records dumped");
    }
    drop(records);
    let (directory, snapshot) = directory?;
    for rejected in &hr_snapshot.rejected {
        tracing::warn!(
            id = rejected.id.as_deref().unwrap_or("(unknown)"),
            index = rejected.index,
            problem = %rejected.problem,
            "HR record left out"
        );
    }
    let plan = plan(&PlanInput {
        hr: &hr_snapshot,
        directory: &snapshot,
        mappings: &config.mappings,
        policy: &config.directory.policy,
        limits: &config.limits,
        now,
    });
    let rejected = hr_snapshot.rejected.len();
    // Freeing both snapshots (hundreds of thousands of allocations at company scale) is left to
    // another thread, so rendering and applying start at once.
    std::thread::spawn(move || drop((snapshot, hr_snapshot)));
    Ok((plan, directory, rejected))
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

/// Writes the HR dump readable by its owner only (it holds personal data), through a
/// temporary file renamed into place, so a reader never sees half a dump.
fn write_hr_dump(path: &Path, dump: &serde_json::Value) -> Result<(), RunError> {
    use std::io::Write;
    let output_error = |source: std::io::Error| RunError::Output {
        path: path.display().to_string(),
        source,
    };
    let text = serde_json::to_vec_pretty(dump).map_err(|e| output_error(e.into()))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(output_error)?;
    file.write_all(&text)
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(output_error)?;
    std::fs::rename(&tmp, path).map_err(output_error)
}

async fn read_directory(
    config: &Config,
    password: &secrecy::SecretString,
) -> Result<(Directory, DirectorySnapshot), RunError> {
    let mut directory = Directory::open(&config.directory, password).await?;
    let snapshot = directory.snapshot(&config.mappings).await?;
    Ok((directory, snapshot))
}

pub fn render(plan: &Plan, steps: &Steps, format: Format) -> String {
    match format {
        Format::Text => render::text(plan),
        Format::Json => render::json(plan),
        Format::Ldif => render::ldif(steps),
    }
}

pub fn save_plan(plan: &Plan, path: &Path) -> Result<(), RunError> {
    std::fs::write(path, render::json(plan)).map_err(|source| RunError::Output {
        path: path.display().to_string(),
        source,
    })
}

/// A saved plan, refused when it is not a plan, of another schema, or older than
/// `limits.max_plan_age_hours` at `now` (the directory and HR have moved on since the review).
pub fn load_saved_plan(path: &Path, config: &Config, now: DateTime<Utc>) -> Result<Plan, RunError> {
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
pub fn drift(plan: &Plan, snapshot: &DirectorySnapshot, config: &Config) -> Vec<String> {
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

/// The LDAP steps of a plan, in the order `apply` runs them (and the LDIF shows them).
pub fn plan_steps(config: &Config, plan: &Plan) -> Steps {
    steps(plan, &config.mappings.groups.member_attribute)
}

pub async fn apply_steps(config: &Config, steps: &Steps, directory: &Directory) -> ApplyReport {
    apply(directory, steps, config.directory.max_concurrent_accounts).await
}

/// Reads the directory only (for applying a saved plan).
pub async fn read_directory_only(
    config: &Config,
) -> Result<(Directory, DirectorySnapshot), RunError> {
    let password = config
        .directory
        .bind_password
        .resolve("directory.bind_password")?;
    read_directory(config, &password).await
}

/// What an apply did, for stdout: the failures one by one, then a summary line.
pub fn apply_summary(report: &ApplyReport) -> String {
    let mut out = String::new();
    for result in &report.results {
        let line = match &result.outcome {
            crate::apply::Outcome::Failed { error } => {
                format!("  ! failed: {}: {error}\n", result.description)
            }
            crate::apply::Outcome::Unanswered { error } => format!(
                "  ! no answer (may or may not have taken effect; the next run checks): {}: {error}\n",
                result.description
            ),
            crate::apply::Outcome::NotAttempted => format!(
                "  ! not attempted (an earlier change of the account failed): {}\n",
                result.description
            ),
            _ => continue,
        };
        out.push_str(&line);
    }
    out.push_str(&format!(
        "applied {} change(s), {} failed or not attempted",
        report.applied(),
        report.failed()
    ));
    out
}

/// Group DNs the saved plan names that are not managed by the current mappings: applying such a
/// plan would touch a group hrsync does not manage.
pub fn unmanaged_groups_in(plan: &Plan, config: &Config) -> Vec<Dn> {
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

/// `hrsync offboard`: reads only the directory (security cannot always wait for HR), plans the
/// offboarding of one account, prints it and applies it. No limits: it is one account, named by
/// a person.
pub async fn offboard(
    config: &Config,
    now: DateTime<Utc>,
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
    let (mut directory, snapshot) = read_directory_only(config).await?;
    if !directory.exists(hold_group).await? {
        directory.close().await;
        return Err(RunError::Offboard(format!(
            "the hold group {hold_group} (offboarding.hold_group) does not exist; create it first"
        )));
    }
    let hr = crate::model::HrSnapshot::default();
    let input = PlanInput {
        hr: &hr,
        directory: &snapshot,
        mappings: &config.mappings,
        policy: &config.directory.policy,
        limits: &config.limits,
        now,
    };
    let plan = match planner::offboard(&input, employee_id, reason, hold_group) {
        Ok(plan) => plan,
        Err(message) => {
            directory.close().await;
            return Err(RunError::Offboard(message));
        }
    };
    let steps = plan_steps(config, &plan);
    print!("{}", render(&plan, &steps, format));
    let report = apply_steps(config, &steps, &directory).await;
    directory.close().await;
    println!("\n{}", apply_summary(&report));
    let run_id = crate::app::cycle::new_run_id(now);
    let hooks = crate::app::cycle::after_apply(config, &plan, &report, &run_id, now).await;
    if let Some(line) = crate::app::cycle::hook_summary(&hooks) {
        println!("{line}");
    }
    tracing::warn!(
        employee = employee_id,
        reason,
        applied = report.applied(),
        failed = report.failed(),
        "offboarded"
    );
    Ok(if report.failed() > 0 {
        Outcome::PartialFailure
    } else {
        Outcome::Success
    })
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
