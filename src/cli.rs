//! Command-line definitions.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::plan::limits::LimitKind;
use crate::render::Format;

/// Make an LDAP directory follow the HR system: joiners get accounts in the right OU with their
/// role's groups, movers follow their new role, leavers are disabled at once.
#[derive(Debug, Parser)]
#[command(name = "hrsync", version, about, long_about = None)]
pub struct Cli {
    /// The configuration file.
    #[arg(
        long,
        short,
        global = true,
        env = "HRSYNC_CONFIG",
        default_value = "hrsync.toml"
    )]
    pub config: PathBuf,

    /// Log format on stderr. `auto` is text on a terminal and JSON lines otherwise. RUST_LOG
    /// filters (default `info`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Auto,
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the configuration and mappings offline (no network) and report every problem.
    Validate,
    /// Dry run: read HR and the directory and print the changes. Never writes to the directory.
    Plan {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also save the plan as JSON, for `hrsync apply --plan FILE` after review.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Exit 2 when there are changes pending (0 when there are none).
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Plan and apply the changes (or apply a saved plan with --plan).
    Apply {
        /// Apply this saved plan instead of planning afresh. Refused if the directory no longer
        /// matches the state the plan recorded.
        #[arg(long)]
        plan: Option<PathBuf>,
        /// How to print the plan before applying it.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Apply even though the plan goes over this safety limit (repeatable). A saved plan
        /// given with --plan counts as approved and needs none.
        #[arg(long = "allow-limit", value_enum)]
        allow_limits: Vec<LimitKind>,
        /// Also save the plan as JSON (for review when a limit stops the run).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}
