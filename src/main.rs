//! The hrsync binary: parse arguments, load config, call into the library, map the outcome to
//! the exit code. Logs go to stderr; plans go to stdout.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use hrsync::cli::{Cli, Command, LogFormat, ReportCommand};
use hrsync::run::{self, Outcome, RunError};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hrsync: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(execute(cli)) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("hrsync: {e}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn execute(cli: Cli) -> Result<Outcome, RunError> {
    let config = run::load_config(&cli.config)?;
    // The one place hrsync reads the clock: the planner takes time as a parameter.
    #[allow(clippy::disallowed_methods)]
    let now = chrono::Utc::now();
    match cli.command {
        Command::Validate => {
            println!(
                "{}: configuration and mappings are valid ({} rule(s), {} managed group(s))",
                cli.config.display(),
                config.mappings.rules.len(),
                config.mappings.managed_groups().len()
            );
            Ok(Outcome::Success)
        }
        Command::Plan {
            format,
            out,
            detailed_exitcode,
            dump_hr,
        } => {
            let (plan, directory) =
                run::make_plan_dumping(&config, now, dump_hr.as_deref()).await?;
            directory.close().await;
            let steps = run::plan_steps(&config, &plan);
            print!("{}", run::render(&plan, &steps, format));
            if let Some(path) = out {
                run::save_plan(&plan, &path)?;
                tracing::info!(path = %path.display(), "plan saved");
            }
            Ok(if detailed_exitcode && plan.has_changes() {
                Outcome::ChangesPending
            } else {
                Outcome::Success
            })
        }
        Command::Offboard {
            employee_id,
            reason,
            format,
        } => run::offboard(&config, now, &employee_id, &reason, format).await,
        Command::Apply {
            plan: saved,
            format,
            allow_limits,
            out,
            dump_hr,
        } => {
            let (plan, directory) = match saved {
                None => {
                    let (plan, directory) =
                        run::make_plan_dumping(&config, now, dump_hr.as_deref()).await?;
                    if let Some(path) = &out {
                        run::save_plan(&plan, path)?;
                    }
                    let blocking: Vec<_> = plan
                        .limits_tripped
                        .iter()
                        .filter(|t| !allow_limits.contains(&t.kind))
                        .collect();
                    if !blocking.is_empty() {
                        directory.close().await;
                        print!(
                            "{}",
                            run::render(&plan, &run::plan_steps(&config, &plan), format)
                        );
                        for tripped in &blocking {
                            tracing::error!(
                                kind = tripped.kind.as_str(),
                                count = tripped.count,
                                "{tripped}"
                            );
                        }
                        println!(
                            "\nNothing applied: a safety limit tripped. Review the plan{}, then apply \
                             it with `hrsync apply --plan FILE`, or allow the kind with --allow-limit {}.",
                            out.as_ref().map_or(
                                " (save it with --out FILE)".to_string(),
                                |p| format!(" saved in {}", p.display())
                            ),
                            blocking
                                .iter()
                                .map(|t| t.kind.as_str())
                                .collect::<Vec<_>>()
                                .join(" --allow-limit ")
                        );
                        return Ok(Outcome::LimitTripped);
                    }
                    for tripped in &plan.limits_tripped {
                        tracing::warn!(
                            kind = tripped.kind.as_str(),
                            "{tripped}; allowed by --allow-limit"
                        );
                    }
                    (plan, directory)
                }
                Some(path) => {
                    let plan = run::load_saved_plan(&path, &config, now)?;
                    let saved_error = |message: String| RunError::SavedPlan {
                        path: path.display().to_string(),
                        message,
                    };
                    let unmanaged = run::unmanaged_groups_in(&plan, &config);
                    if !unmanaged.is_empty() {
                        return Err(saved_error(format!(
                            "names groups the mappings do not manage: {}",
                            unmanaged
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )));
                    }
                    let (directory, snapshot) = run::read_directory_only(&config).await?;
                    let drifted = run::drift(&plan, &snapshot, &config);
                    if !drifted.is_empty() {
                        directory.close().await;
                        return Err(saved_error(format!(
                            "the directory no longer matches the plan, nothing applied; plan again:\n  - {}",
                            drifted.join("\n  - ")
                        )));
                    }
                    (plan, directory)
                }
            };
            let steps = run::plan_steps(&config, &plan);
            print!("{}", run::render(&plan, &steps, format));
            let report = run::apply_steps(&config, &steps, &directory).await;
            directory.close().await;
            let summary = run::apply_summary(&report);
            println!("\n{summary}");
            tracing::info!(
                applied = report.applied(),
                failed = report.failed(),
                "apply finished"
            );
            Ok(if report.failed() > 0 {
                Outcome::PartialFailure
            } else {
                Outcome::Success
            })
        }
        Command::Explain {
            employee_id,
            format,
        } => {
            print!(
                "{}",
                hrsync::explain::run(&config, &employee_id, format, now).await?
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
                hrsync::report::run_access(&config, format, groups_base, now).await?
            );
            Ok(Outcome::Success)
        }
    }
}
