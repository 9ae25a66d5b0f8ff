//! Configuration: `hrsync.toml` parsed into raw serde structs (unknown keys rejected), then
//! validated into [`Config`], which the rest of the program trusts. Every problem names the file,
//! the key and what is allowed; validation reports all problems at once, not the first.
//!
//! Each adapter owns its table (`[directory]` in [`crate::directory`], `[hr]` in [`crate::hr`],
//! `[audit]`, `[metrics]`, `[hooks]` in theirs): this module reads the file, applies the
//! environment overlay ([`env`]), has each table validated by its owner, and checks what needs
//! several tables at once.
//!
//! Secrets are never in the file: `bind_password = { env = "..." }` or `{ file = "..." }`.

mod digest;
mod env;
pub(crate) mod events;
mod lifecycle;
mod limits;
mod operations;
pub(crate) mod placeholders;

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use events::{EventSource, EventsConfig};
pub use operations::{Operations, ScheduleConfig};

use crate::audit::config::RawAudit;
use crate::directory::DirectoryConfig;
use crate::directory::config::RawDirectory;
use crate::hooks::config::RawHooks;
use crate::hr::HrConfig;
use crate::mapping::Mappings;
use crate::metrics::config::RawMetrics;
use crate::plan::ConfigDigest;
use crate::plan::limits::Limits;
use crate::problem::{ConfigProblem, toml_problem};
use crate::secret::SecretRef;
use lifecycle::{RawLifecycle, RawOffboarding};
use limits::RawLimits;

/// The whole `hrsync.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    /// Directory of mapping files, relative to the config file. Default `mappings`.
    #[serde(default = "default_mappings")]
    mappings: PathBuf,
    directory: RawDirectory,
    hr: HrConfig,
    #[serde(default)]
    lifecycle: RawLifecycle,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    offboarding: RawOffboarding,
    /// `[schedule]`, `[audit]`, `[metrics]`, `[hooks]`: see [`operations`].
    schedule: Option<operations::RawSchedule>,
    audit: Option<RawAudit>,
    metrics: Option<RawMetrics>,
    hooks: Option<RawHooks>,
    /// `[events]`: see [`events`].
    events: Option<events::RawEvents>,
    #[serde(default)]
    plans: PlansConfig,
}

/// `[plans]`: saved plans (`plan --out`, `apply --plan`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlansConfig {
    /// A secret key (`{ env = "..." }` or `{ file = "..." }`, at least 32 characters): `plan
    /// --out` signs the plan with it (HMAC-SHA256) and `apply --plan` refuses a plan without a
    /// valid signature. For pipelines where the plan and the apply run in different jobs.
    pub signing_key: Option<SecretRef>,
}

fn default_mappings() -> PathBuf {
    PathBuf::from("mappings")
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub directory: DirectoryConfig,
    pub(crate) hr: HrConfig,
    pub mappings: Mappings,
    pub(crate) limits: Limits,
    /// Schedule, audit, metrics and hooks.
    pub operations: Operations,
    pub plans: PlansConfig,
    /// What plans made with this configuration carry, and saved plans are checked against.
    pub(crate) digest: ConfigDigest,
    /// Starter values of `hrsync init` not replaced yet, which `validate` names.
    pub(crate) placeholders: Vec<placeholders::Placeholder>,
}

pub(crate) use digest::{differences as digest_differences, hex};

impl Config {
    /// Reads and validates the config file and the mappings it points to. No network, no
    /// secrets read: this is what `hrsync validate` runs.
    ///
    /// Environment variables `HRSYNC_<TABLE>__<KEY>` (a double underscore between levels, so
    /// `HRSYNC_DIRECTORY__URL` or `HRSYNC_HR__FILE__PATH`) override keys of the file; values
    /// are read as TOML when they parse as such (`true`, `8`) and as strings otherwise. Secrets
    /// take `HRSYNC_<KEY>_FILE=/path`. See [`env`].
    pub fn load(path: &Path) -> Result<Self, Vec<ConfigProblem>> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![ConfigProblem::new("(file)", format!("cannot read: {e}")).in_file(&file)]
        })?;
        Self::parse_with_env(path, &text, std::env::vars())
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, Vec<ConfigProblem>> {
        Self::parse_with_env(path, text, std::iter::empty())
    }

    /// [`Config::parse`] with the environment's variables (`load` passes the process's).
    pub fn parse_with_env(
        path: &Path,
        text: &str,
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Self, Vec<ConfigProblem>> {
        let file = path.display().to_string();
        let in_file = |problems: Vec<ConfigProblem>| {
            problems
                .into_iter()
                .map(|p| p.in_file(&file))
                .collect::<Vec<_>>()
        };
        let (raw, table) = read_raw(text, env).map_err(in_file)?;
        Self::validate(path, raw, &table, text).map_err(in_file)
    }

    /// Each table validated by its owner, then the checks across tables. The problems come in
    /// the order of the tables' checks, every one of them, and none is lost to an earlier one.
    fn validate(
        path: &Path,
        mut raw: RawConfig,
        table: &toml::Table,
        text: &str,
    ) -> Result<Self, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        raw.hr.resolve_relative_paths(dir);
        let mapping_files = crate::mapping::read_dir(&dir.join(&raw.mappings));
        let digest = digest::of(table, mapping_files.as_deref().unwrap_or_default());
        let mut starter_values = placeholders::in_config(table, text);
        starter_values.extend(placeholders::in_mappings(
            mapping_files.as_deref().unwrap_or_default(),
        ));
        let mappings = mapping_files.and_then(|files| Mappings::from_files(&files));
        let directory = raw.directory.validate(&mut problems);
        problems.extend(raw.hr.validate());
        raw.lifecycle.check_prehire_days(&mut problems);
        let limits = raw.limits.into_limits(&mut problems);
        let mut operations = operations::validate(
            operations::RawOperations {
                schedule: raw.schedule,
                audit: raw.audit,
                metrics: raw.metrics,
                hooks: raw.hooks,
                events: raw.events,
            },
            raw.lifecycle.time_zone_name(),
            dir,
            &mut problems,
        );
        operations
            .hooks
            .refuse_secret_envs(&secret_env_names(table), &mut problems);
        let lifecycle = raw.lifecycle.validate(
            &raw.offboarding,
            mappings.as_ref().ok(),
            &raw.hr,
            &mut problems,
        );
        let mappings = match mappings {
            Ok(m) => Some(m),
            Err(mut found) => {
                problems.append(&mut found);
                None
            }
        };
        if let (Some(directory), Some(mappings)) = (&directory, &mappings) {
            cross_check(directory, mappings, &raw.hr, &mut problems);
        }
        check_event_sources(&operations, &raw.hr, &mut problems);
        match (directory, mappings) {
            (Some(mut directory), Some(mappings)) if problems.is_empty() => {
                lifecycle.apply_to(&mut directory);
                directory.policy.empty_group_placeholder =
                    mappings.groups.empty_group_placeholder.clone();
                Ok(Self {
                    path: path.to_path_buf(),
                    directory,
                    hr: raw.hr,
                    mappings,
                    limits,
                    operations,
                    plans: raw.plans,
                    digest,
                    placeholders: starter_values,
                })
            }
            _ => Err(problems),
        }
    }
}

/// Every variable the config reads a secret from: the string `env` keys of its tables, at any
/// depth (`bind_password = { env = "..." }`, HR credentials, webhook secrets). Any other `env`
/// key would be named here too, which only makes the hooks' allowlist stricter.
fn secret_env_names(table: &toml::Table) -> std::collections::BTreeSet<String> {
    fn walk(value: &toml::Value, out: &mut std::collections::BTreeSet<String>) {
        match value {
            toml::Value::Table(table) => {
                for (key, value) in table {
                    match value {
                        toml::Value::String(name) if key == "env" => {
                            out.insert(name.clone());
                        }
                        _ => walk(value, out),
                    }
                }
            }
            toml::Value::Array(values) => values.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = std::collections::BTreeSet::new();
    table.values().for_each(|v| walk(v, &mut out));
    out
}

/// The file as raw tables, with the environment's overrides applied. Variables that look meant
/// for hrsync but name nothing it reads are logged as warnings.
fn read_raw(
    text: &str,
    env: impl Iterator<Item = (String, String)>,
) -> Result<(RawConfig, toml::Table), Vec<ConfigProblem>> {
    let vars: Vec<(String, String)> = env
        .filter(|(name, _)| name.starts_with("HRSYNC_"))
        .collect();
    if let Ok(table) = text.parse::<toml::Table>() {
        for warning in env::unknown_variables(&table, &vars) {
            tracing::warn!("{warning}");
        }
    }
    if !vars.iter().any(|(name, _)| env::is_override(name)) {
        // Straight from the text, so errors keep their line and column.
        let raw = toml::from_str(text).map_err(|e| vec![toml_problem(&e, text)])?;
        let table = text.parse().map_err(|e| vec![toml_problem(&e, text)])?;
        Ok((raw, table))
    } else {
        env::parse_with_overrides::<RawConfig>(text, &vars)
    }
}

/// What events and the changes run need of the HR source: a read of one employee (and for the
/// changes run, a changes read), and for events a schedule whose full run catches what an
/// event missed.
fn check_event_sources(
    operations: &operations::Operations,
    hr: &HrConfig,
    problems: &mut Vec<ConfigProblem>,
) {
    if operations
        .schedule
        .as_ref()
        .is_some_and(|s| s.changes.is_some())
    {
        let why = crate::hr::can_read_changes(hr)
            .err()
            .or_else(|| crate::hr::one::lookup_problem(hr).err());
        if let Some(why) = why {
            problems.push(ConfigProblem::new(
                "schedule.changes",
                format!("not offered for this HR source: {why}"),
            ));
        }
    }
    if operations.events.is_some() {
        if let Err(why) = crate::hr::one::lookup_problem(hr) {
            problems.push(ConfigProblem::new(
                "events",
                format!(
                    "events only name employees, whom hrsync then reads from HR one by one, \
                     and this HR source cannot read one employee: {why}"
                ),
            ));
        }
        if operations.schedule.is_none() {
            problems.push(ConfigProblem::new(
                "events",
                "needs a [schedule] too: the scheduled full run is the safety net that \
                 catches everything an event missed",
            ));
        }
    }
}

/// Checks that need the directory settings, the mappings and the HR fields together.
fn cross_check(
    directory: &DirectoryConfig,
    mappings: &Mappings,
    hr: &HrConfig,
    problems: &mut Vec<ConfigProblem>,
) {
    for ou in mappings.all_ous() {
        if !ou.is_within(&directory.users_base) {
            problems.push(ConfigProblem::new(
                "mappings",
                format!(
                    "OU {ou} is not below directory.users_base ({}); hrsync would not find the accounts it puts there",
                    directory.users_base
                ),
            ));
        }
    }
    if directory.policy.groups_require_member
        && mappings.groups.empty_group_placeholder.is_none()
        && !mappings.managed_groups().is_empty()
    {
        problems.push(ConfigProblem::new(
            "mappings: groups.empty_group_placeholder",
            "must be set for OpenLDAP: a groupOfNames needs at least one member, so hrsync puts \
             this DN into a group before removing its last real member",
        ));
    }
    let known = hr.field_names();
    for (field, used_by) in mappings.fields_read() {
        if !known.contains(&field) {
            problems.push(ConfigProblem::new(
                format!("mappings: {used_by}"),
                format!(
                    "uses HR field \"{field}\", which [hr.fields] does not define (defined: {})",
                    known.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests;
