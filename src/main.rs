//! The hrsync binary: parse the arguments, start logging and the runtime, hand the command to
//! [`hrsync::app::run`], and map its outcome to the exit code. Logs go to stderr; plans go to
//! stdout.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use hrsync::cli::{Cli, LogFormat};

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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage(&e),
    };
    let json = init_logging(cli.log_format);
    // One thread drives the directory connections and their decoding, and the work on the results
    // follows on the same thread: handing each search entry from a worker thread to another woke a
    // thread per entry, and those wake-ups cost a fifth of a 100k-employee plan's CPU time. The HR
    // read runs on a thread of its own (`app::pipeline::read_hr`), the planner splits across threads.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            fatal(json, &format!("cannot start the async runtime: {e}"));
            return ExitCode::from(hrsync::app::RunError::EXIT_CODE);
        }
    };
    let result = runtime.block_on(hrsync::app::run(cli));
    if let Err(e) = &result {
        fatal(json, &e.to_string());
    }
    ExitCode::from(hrsync::app::exit_code(&result))
}

/// `--help` and `--version` print and exit 0; anything clap refuses exits
/// [`hrsync::app::USAGE_EXIT_CODE`] with clap's message (logging is not set up yet: the
/// message is for the person who typed the command).
fn usage(error: &clap::Error) -> ExitCode {
    let _ = error.print();
    if error.use_stderr() {
        ExitCode::from(hrsync::app::USAGE_EXIT_CODE)
    } else {
        ExitCode::SUCCESS
    }
}

/// The error that ends the run, said once: as a log line when the logs are JSON (a collector
/// reads stderr line by line and must find JSON only), as plain text otherwise.
fn fatal(json: bool, message: &str) {
    if json {
        tracing::error!("{message}");
    } else {
        hrsync::progress::clear();
        eprintln!("hrsync: {message}");
    }
}

/// Sets up logging on stderr and says whether its lines are JSON.
fn init_logging(format: LogFormat) -> bool {
    use tracing_subscriber::prelude::*;
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    // The progress display (a terminal and text logs only: JSON logs are for a machine, even
    // on a terminal) sees hrsync's own debug events (HR pages read) whatever RUST_LOG says;
    // the log lines follow RUST_LOG.
    let progress = (!json && hrsync::progress::enabled()).then(|| {
        hrsync::progress::ProgressLayer::new().with_filter(tracing_subscriber::filter::filter_fn(
            |m| m.target().starts_with("hrsync") && *m.level() <= tracing::Level::DEBUG,
        ))
    });
    let text = (!json).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(hrsync::progress::colour())
            .with_filter(filter())
    });
    let json_layer = json.then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter(filter())
    });
    tracing_subscriber::registry()
        .with(progress)
        .with(text)
        .with(json_layer)
        .init();
    json
}
