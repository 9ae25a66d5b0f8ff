//! The application layer: configuration loading, the one pipeline every command runs through,
//! one module per command, and the daemon with its HTTP endpoints. `main` hands the parsed
//! command line to [`run`] and maps what comes back to the exit code.

mod absence;
mod actor;
pub(crate) mod clock;
pub(crate) mod commands;
mod confirm;
pub(crate) mod cycle;
pub(crate) mod daemon;
mod events;
pub(crate) mod files;
mod http;
mod outcome;
pub mod pipeline;
pub(crate) mod saved_plan;
pub(crate) mod serve;
pub(crate) mod sync;

use std::path::Path;

pub use outcome::{Outcome, RunError, USAGE_EXIT_CODE, exit_code};

use crate::cli::{Cli, Command, ReportCommand};
use crate::config::Config;
use commands::{apply, check, explain, offboard, plan, report, validate};

/// Runs the command `cli` names.
pub async fn run(cli: Cli) -> Result<Outcome, RunError> {
    // The one command that needs no configuration: it writes one.
    if let Command::Init {
        preset,
        flavour,
        dir,
    } = &cli.command
    {
        return commands::init::run(dir, *preset, *flavour);
    }
    let config = load_config(&cli.config)?;
    if !config.placeholders.is_empty() && !matches!(cli.command, Command::Validate) {
        // An untouched starter otherwise fails later, as a host that does not resolve.
        tracing::warn!(
            count = config.placeholders.len(),
            "the configuration still holds starter values of `hrsync init` (`hrsync validate` \
             names each one)"
        );
    }
    dispatch(cli.command, &cli.config, config).await
}

/// Hands `command` to its module, with the loaded configuration (read from `path`).
async fn dispatch(command: Command, path: &Path, config: Config) -> Result<Outcome, RunError> {
    let clock = clock::wall();
    let now = clock();
    match command {
        // Dispatched above, before any configuration is read.
        Command::Init {
            preset,
            flavour,
            dir,
        } => commands::init::run(&dir, preset, flavour),
        Command::Validate => validate::run(&config, path, now),
        Command::Run => daemon::run(config, clock).await,
        Command::Check => check::run(&config, now).await,
        Command::Plan {
            format,
            out,
            detailed_exitcode,
            dump_hr,
            shown,
        } => {
            let filter = shown.filter();
            let args = plan::PlanArgs {
                format,
                out: out.as_deref(),
                detailed_exitcode,
                dump_hr: dump_hr.as_deref(),
                filter: &filter,
            };
            plan::run(&config, now, args).await
        }
        Command::Offboard {
            employee_id,
            reason,
            format,
        } => offboard::run(&config, now, &clock, &employee_id, &reason, format).await,
        Command::Apply {
            plan: saved,
            digest,
            format,
            allow_limits,
            out,
            dump_hr,
            shown,
            yes,
        } => {
            let filter = shown.filter();
            let args = apply::ApplyArgs {
                saved: saved.as_deref(),
                digest: digest.as_deref(),
                format,
                allow_limits: &allow_limits,
                out: out.as_deref(),
                dump_hr: dump_hr.as_deref(),
                filter: &filter,
                yes,
            };
            apply::run(&config, now, &clock, args).await
        }
        Command::Sync {
            employee_ids,
            dry_run,
            format,
            allow_limits,
        } => {
            let args = commands::sync::SyncArgs {
                ids: &employee_ids,
                dry_run,
                format,
                allow_limits: &allow_limits,
            };
            commands::sync::run(&config, now, &clock, args).await
        }
        Command::Explain {
            employee_id,
            format,
        } => {
            print!(
                "{}",
                explain::run(&config, &employee_id, format, now).await?
            );
            Ok(Outcome::Success)
        }
        Command::Report {
            report:
                ReportCommand::Access {
                    format,
                    groups_base,
                },
        } => {
            print!(
                "{}",
                report::run_access(&config, format, groups_base, now).await?
            );
            Ok(Outcome::Success)
        }
    }
}

/// `hrsync.toml` and its mappings, validated; every problem is reported at once.
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
