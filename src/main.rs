//! The hrsync binary: parse arguments, load config, call into the library, map the outcome to
//! the exit code. Logs go to stderr; plans go to stdout.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use std::sync::Arc;

use hrsync::app::daemon::Clock;
use hrsync::app::pipeline as run;
use hrsync::app::{Outcome, RunError};
use hrsync::cli::{Cli, Command, LogFormat, ReportCommand};
use hrsync::metrics::RunMetrics;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's malloc: a reconcile makes millions of small allocations from
/// several threads, where glibc's per-thread arenas spend much of the time locking,
/// consolidating and growing heaps (a third of a 100k-employee no-op plan's CPU time, measured
/// with perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keeps the kernel from backing hrsync's heap with transparent huge pages. A run touches its
/// memory once, in small pieces, and is gone a second later: it gains nothing from huge pages, and
/// the first touch of each one (2 MB zeroed at once, from memory the kernel often has to find or
/// compact first) is slow. On the 2-core test VM, between runs a few seconds apart as a schedule
/// makes them, a 100k-employee no-op plan spent 0.7 s in the kernel with them and 0.35 s without,
/// and its peak memory fell from 193 to 180 MB. A kernel that refuses is not worth failing for.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

fn main() -> ExitCode {
    no_huge_pages();
    let cli = Cli::parse();
    init_logging(cli.log_format);
    // One thread drives the directory connections and their decoding, and the work on the results
    // follows on the same thread: handing each search entry from a worker thread to another woke a
    // thread per entry, and those wake-ups cost a fifth of a 100k-employee plan's CPU time. The HR
    // read runs on a thread of its own (`run::make_plan`), the planner splits across threads.
    let runtime = match tokio::runtime::Builder::new_current_thread()
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
    use tracing_subscriber::prelude::*;
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    // The progress display (a terminal only) sees hrsync's own debug events (HR pages read)
    // whatever RUST_LOG says; the log lines follow RUST_LOG.
    let progress = hrsync::progress::enabled().then(|| {
        hrsync::progress::ProgressLayer::new().with_filter(tracing_subscriber::filter::filter_fn(
            |m| m.target().starts_with("hrsync") && *m.level() <= tracing::Level::DEBUG,
        ))
    });
    let text = (!json).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter())
    });
    let json = json.then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter(filter())
    });
    tracing_subscriber::registry()
        .with(progress)
        .with(text)
        .with(json)
        .init();
}

/// The wall clock, for `hrsync run` and the after-apply work.
fn clock() -> Clock {
    // The one place hrsync reads the clock: everything else takes time as a parameter.
    #[allow(clippy::disallowed_methods)]
    Arc::new(chrono::Utc::now)
}

async fn execute(cli: Cli) -> Result<Outcome, RunError> {
    let config = run::load_config(&cli.config)?;
    let clock = clock();
    let now = clock();
    match cli.command {
        Command::Validate => {
            println!(
                "{}: configuration and mappings are valid ({} rule(s), {} managed group(s))",
                cli.config.display(),
                config.mappings.rules.len(),
                config.mappings.managed_groups().len()
            );
            if let Some(schedule) = &config.operations.schedule {
                let s = &schedule.schedule;
                let read_as = if s.converted == s.expression {
                    String::new()
                } else {
                    format!(" (read as \"{}\")", s.converted)
                };
                println!(
                    "schedule \"{}\"{read_as} in {}; next runs:",
                    s.expression, s.time_zone
                );
                for at in s.upcoming(now, 5) {
                    println!(
                        "  {} ({})",
                        at.with_timezone(&s.time_zone)
                            .format("%a %Y-%m-%d %H:%M:%S %Z"),
                        at.format("%Y-%m-%dT%H:%M:%SZ")
                    );
                }
            }
            Ok(Outcome::Success)
        }
        Command::Run => hrsync::app::daemon::run(config, clock).await,
        Command::Check => hrsync::app::commands::check::run(&config).await,
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
            let run_id = hrsync::app::cycle::new_run_id(now);
            let mut metrics = RunMetrics {
                started: Some(now),
                ..RunMetrics::default()
            };
            let args = ApplyArgs {
                saved,
                format,
                allow_limits,
                out,
                dump_hr,
            };
            let result = apply(&config, now, &clock, args, &run_id, &mut metrics).await;
            let settings = &config.operations.metrics;
            if settings.textfile.is_some() || settings.pushgateway.is_some() {
                let finished = clock();
                metrics.duration_seconds = (finished - now).num_milliseconds() as f64 / 1000.0;
                metrics.exit_code = match &result {
                    Ok(outcome) => outcome.exit_code(),
                    Err(_) => 1,
                };
                metrics.success = metrics.exit_code == 0;
                metrics.last_success = if metrics.success {
                    Some(finished)
                } else {
                    settings
                        .textfile
                        .as_deref()
                        .and_then(hrsync::metrics::previous_success)
                };
                hrsync::metrics::publish(settings, &metrics).await;
            }
            result
        }
        Command::Explain {
            employee_id,
            format,
        } => {
            print!(
                "{}",
                hrsync::app::commands::explain::run(&config, &employee_id, format, now).await?
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
                hrsync::app::commands::report::run_access(&config, format, groups_base, now)
                    .await?
            );
            Ok(Outcome::Success)
        }
    }
}

struct ApplyArgs {
    saved: Option<std::path::PathBuf>,
    format: hrsync::render::Format,
    allow_limits: Vec<hrsync::plan::limits::LimitKind>,
    out: Option<std::path::PathBuf>,
    dump_hr: Option<std::path::PathBuf>,
}

/// `hrsync apply`: plan (or load a saved plan), apply, then audit and hooks; `metrics` is filled
/// in on the way.
async fn apply(
    config: &hrsync::config::Config,
    now: chrono::DateTime<chrono::Utc>,
    clock: &Clock,
    args: ApplyArgs,
    run_id: &str,
    metrics: &mut RunMetrics,
) -> Result<Outcome, RunError> {
    let ApplyArgs {
        saved,
        format,
        allow_limits,
        out,
        dump_hr,
    } = args;
    let (plan, directory) = match saved {
        None => {
            let (plan, directory, rejected) =
                run::make_plan_counting(config, now, dump_hr.as_deref()).await?;
            metrics.record_plan(&plan, rejected);
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
                metrics.record_planned(&plan);
                print!(
                    "{}",
                    run::render(&plan, &run::plan_steps(config, &plan), format)
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
                    out.as_ref()
                        .map_or(" (save it with --out FILE)".to_string(), |p| format!(
                            " saved in {}",
                            p.display()
                        )),
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
            let plan = run::load_saved_plan(&path, config, now)?;
            let saved_error = |message: String| RunError::SavedPlan {
                path: path.display().to_string(),
                message,
            };
            let unmanaged = run::unmanaged_groups_in(&plan, config);
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
            let (directory, snapshot) = run::read_directory_only(config).await?;
            let drifted = run::drift(&plan, &snapshot, config);
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
    let steps = run::plan_steps(config, &plan);
    print!("{}", run::render(&plan, &steps, format));
    let report = hrsync::app::cycle::apply_observed(config, &directory, &steps, None).await;
    directory.close().await;
    metrics.record_results(&plan, &report);
    let summary = run::apply_summary(&report);
    println!("\n{summary}");
    let hooks = hrsync::app::cycle::after_apply(config, &plan, &report, run_id, clock()).await;
    metrics.hook_calls = hooks.calls;
    metrics.hook_failures = hooks.failures.len() as u64;
    if let Some(line) = hrsync::app::cycle::hook_summary(&hooks) {
        println!("{line}");
    }
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
