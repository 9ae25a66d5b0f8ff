//! Command-line definitions.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

// One path per line: tests/layers.rs reads a `{...}` group as children of the first segment.
use crate::app::commands::init::StarterFlavour;
use crate::app::commands::init::StarterHr;
use crate::app::commands::report::OutputFormat;
use crate::dn::Dn;
use crate::plan::filter::Filter;
use crate::plan::filter::Only;
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
    /// Write a commented starter hrsync.toml and mappings/ for your HR system and directory.
    ///
    /// `hrsync validate` accepts them as written and names each starter value still to
    /// replace. Never overwrites: if a file it would write (or any mappings/*.toml) exists, it
    /// writes nothing and names them. Reads no configuration (--config is ignored).
    Init {
        /// The HR system employees are read from.
        #[arg(long, value_enum)]
        preset: StarterHr,
        /// The directory the accounts are in.
        #[arg(long, value_enum)]
        flavour: StarterFlavour,
        /// Where hrsync.toml and mappings/ are written (made if missing).
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
    },
    /// Check the configuration and mappings offline (no network) and report every problem.
    Validate,
    /// Dry run: read HR and the directory and print the changes. Never writes to the directory.
    Plan {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also save the plan as JSON (with --format html: as the approval page, and print the
        /// text plan), for `hrsync apply --plan FILE` after review.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Exit 2 when there are changes pending (0 when there are none).
        #[arg(long)]
        detailed_exitcode: bool,
        /// Also write the raw HR records (after a successful fetch) as a JSON dump, without
        /// credentials or query strings, for an offline replay (docs/src/hr/sources.md).
        #[arg(long, value_name = "FILE")]
        dump_hr: Option<PathBuf>,
        #[command(flatten)]
        shown: Shown,
    },
    /// Take an account out of use now, whatever HR says: disable it, remove it from every
    /// managed group and put it in `offboarding.hold_group`, so that no later run re-enables it
    /// until an admin takes it out of that group.
    Offboard {
        /// The employee's HR id (the value of the correlation attribute).
        employee_id: String,
        /// Why: shown in the plan and the logs.
        #[arg(long)]
        reason: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Plan and apply the changes (or apply a saved plan with --plan).
    Apply {
        /// Apply this saved plan (the JSON of `plan --out`, or the approval page of `plan
        /// --format html --out`) instead of planning afresh. Refused if the directory no longer
        /// matches the state the plan recorded.
        #[arg(long)]
        plan: Option<PathBuf>,
        /// Refuse the saved plan, applying nothing, unless its digest is this one (as the
        /// approval page shows it): the approval names exactly what is applied.
        #[arg(
            long,
            requires = "plan",
            value_name = "sha256:HEX",
            value_parser = crate::app::saved_plan::parse_digest
        )]
        digest: Option<String>,
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
        /// Also write the raw HR records (after a successful fetch) as a JSON dump, without
        /// credentials or query strings. Not with --plan, which reads no HR.
        #[arg(long, value_name = "FILE", conflicts_with = "plan")]
        dump_hr: Option<PathBuf>,
        /// Apply only these accounts (see `plan --only` and `--employee`): the rest of the plan
        /// is left for a later run, and the safety limits count only what is applied.
        #[command(flatten)]
        shown: Shown,
        /// Apply without asking. On a terminal, apply shows the plan and asks for `yes` first;
        /// when stdin or stdout is not a terminal (cron, CI, a pipe) it never asks.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Reconcile some employees now, alone: read each from the HR API by id, read their
    /// accounts and the groups listing them, plan with the same mappings, protection and
    /// limits as a full run, and apply. For an HR workflow step, or an admin who cannot wait
    /// for the next run. Exits 3 when an employee could not be read from HR (nothing is done
    /// for them).
    Sync {
        /// The employees' HR ids (the values of the correlation attribute).
        #[arg(required = true, value_name = "EMPLOYEE_ID")]
        employee_ids: Vec<String>,
        /// Only print the plan; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Apply even though the plan goes over this safety limit (repeatable).
        #[arg(long = "allow-limit", value_enum)]
        allow_limits: Vec<LimitKind>,
    },
    /// Show everything hrsync reads and decides for one employee, and why: the HR record, its
    /// normalisation, the rules, the desired and the found account, and the changes. Never
    /// writes.
    Explain {
        /// The employee's HR id (the value of the correlation attribute).
        employee_id: String,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Stay up and plan and apply on the `[schedule]` of the config, runs never overlapping,
    /// until SIGTERM or SIGINT (a change under way completes, no new one starts; exit 0).
    /// Serves `/metrics` and `/healthz` when `metrics.listen` is set.
    Run,
    /// Check connectivity and credentials to HR and the directory and report what was found.
    /// Changes nothing. Exits 1 naming the side that failed.
    Check,
    /// Reports for people. Never write.
    Report {
        #[command(subcommand)]
        report: ReportCommand,
    },
}

/// Which accounts of a plan to show (`plan`) or apply (`apply`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Shown {
    /// Only the accounts of these lifecycles (comma-separated or repeated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIFECYCLE")]
    pub only: Vec<Only>,
    /// Only this employee's account (the HR id; repeatable).
    #[arg(long = "employee", value_name = "ID")]
    pub employees: Vec<String>,
}

impl Shown {
    /// The accounts these options keep.
    pub fn filter(&self) -> Filter {
        Filter::new(&self.only, &self.employees)
    }
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// For the access review: per account, the access that does not follow from the person's
    /// role (groups outside the mappings, leavers' access, orphans, managed groups the rules do
    /// not give). Exits 0 whether or not there are findings.
    Access {
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
        /// Where to search for groups (default: directory.uniqueness_base, the domain).
        #[arg(long, value_name = "DN")]
        groups_base: Option<Dn>,
    },
}
