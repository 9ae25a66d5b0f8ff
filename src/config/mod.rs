//! Configuration: `hrsync.toml` parsed into raw serde structs (unknown keys rejected), then
//! validated into [`Config`], which the rest of the program trusts. Every problem names the file,
//! the key and what is allowed; validation reports all problems at once, not the first.
//!
//! Secrets are never in the file: `bind_password = { env = "..." }` or `{ file = "..." }`.

pub mod env;
mod operations;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use crate::problem::ConfigProblem;
pub use crate::secret::{SecretError, SecretRef};
pub use operations::{
    AuditSink, CommandHookConfig, HooksConfig, MetricsConfig, Operations, ScheduleConfig,
    WebhookConfig,
};

use crate::dn::Dn;
use crate::hr::HrConfig;
use crate::mapping::Mappings;
use crate::plan::limits::{Limit, LimitKind, Limits};
use crate::plan::{DisableMethod, Policy};
use crate::problem::toml_problem;

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
    audit: Option<operations::RawAudit>,
    metrics: Option<operations::RawMetrics>,
    hooks: Option<operations::RawHooks>,
}

/// `[offboarding]`: immediate offboarding by security (`hrsync offboard`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffboarding {
    /// The group that marks offboarded accounts (it must exist; for OpenLDAP with the
    /// placeholder as a member). Every run leaves its members disabled and without managed
    /// groups until an admin removes them from it. It must not be a managed group.
    hold_group: Option<String>,
}

/// `[limits]`: how much one run may change (see the README, "Safety limits"). Each kind is
/// `{ count = N, percent = P }`; a kind left out keeps its default, a bound left out is no bound.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    percent_floor: Option<usize>,
    /// `apply --plan FILE` refuses a plan older than this (default 24).
    max_plan_age_hours: Option<u32>,
    disable: Option<Limit>,
    group_removal: Option<Limit>,
    #[serde(rename = "move")]
    moves: Option<Limit>,
    create: Option<Limit>,
    update: Option<Limit>,
    missing: Option<Limit>,
}

impl RawLimits {
    fn into_limits(self, problems: &mut Vec<ConfigProblem>) -> Limits {
        let mut limits = Limits::default();
        if let Some(floor) = self.percent_floor {
            limits.percent_floor = floor;
        }
        if let Some(hours) = self.max_plan_age_hours {
            limits.max_plan_age_hours = hours;
        }
        for (kind, limit) in [
            (LimitKind::Disable, self.disable),
            (LimitKind::GroupRemoval, self.group_removal),
            (LimitKind::Move, self.moves),
            (LimitKind::Create, self.create),
            (LimitKind::Update, self.update),
            (LimitKind::Missing, self.missing),
        ] {
            let Some(limit) = limit else { continue };
            if limit.percent.is_some_and(|p| p > 100) {
                problems.push(ConfigProblem::new(
                    format!("limits.{}.percent", kind.as_str()),
                    "must be 0 to 100",
                ));
            }
            limits.kinds.insert(kind, limit);
        }
        limits
    }
}

/// `[lifecycle]`: when accounts come and go.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLifecycle {
    /// Create a joiner's account this many days before the start date, disabled until the start
    /// date (with its role's groups, ready for day one). 0: create it on the start date.
    #[serde(default)]
    prehire_days: u32,
    /// The IANA time zone HR's dates are in (`Europe/Berlin`): a termination takes effect at
    /// the end of the last working day there, a start at the beginning of the first. Default UTC.
    time_zone: Option<String>,
    /// An HR field holding each employee's own IANA time zone, used instead where it is set.
    time_zone_field: Option<String>,
    /// What happens to the account of someone on leave: `keep` it as it is (default) or
    /// `disable` it until they return.
    #[serde(default)]
    leave: LeavePolicy,
    /// Managed groups (DNs) taken away while someone is on leave and given back on return.
    #[serde(default)]
    leave_remove_groups: Vec<String>,
    /// Disable, strip and move accounts whose HR record is missing (orphans). Off by default:
    /// a missing record is more often an HR export problem than a leaver. Guarded by the
    /// `missing` limit.
    #[serde(default)]
    disable_orphans: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum LeavePolicy {
    #[default]
    Keep,
    Disable,
}

fn default_mappings() -> PathBuf {
    PathBuf::from("mappings")
}

/// `[directory]`: where the accounts live and how to reach them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDirectory {
    /// `openldap` or `active_directory`.
    #[serde(default = "default_flavour")]
    flavour: Flavour,
    /// `ldap://host:port` or `ldaps://host:port`.
    url: String,
    /// Upgrade an `ldap://` connection with StartTLS before binding.
    #[serde(default)]
    starttls: bool,
    /// PEM file of the CA that signed the server certificate (instead of the system roots).
    ca_file: Option<PathBuf>,
    /// Turn TLS certificate verification off. Only for a lab; never in production.
    #[serde(default)]
    danger_skip_tls_verify: bool,
    /// The DN to bind as; Active Directory also takes a user principal name (`svc@example.com`).
    bind_dn: String,
    bind_password: SecretRef,
    /// Base under which accounts are searched. Every OU in the mappings must lie below it.
    users_base: String,
    /// LDAP filter that selects person entries under `users_base`. Default per flavour:
    /// `(objectClass=inetOrgPerson)`, or `(&(objectCategory=person)(objectClass=user))` for AD.
    user_filter: Option<String>,
    /// Where the values of `account.unique_attributes` must be unique. Default: the `dc=`
    /// components of `users_base` (the whole domain).
    uniqueness_base: Option<String>,
    #[serde(default = "default_connect_timeout")]
    connect_timeout_secs: u64,
    #[serde(default = "default_operation_timeout")]
    operation_timeout_secs: u64,
    /// Page size of searches (Simple Paged Results).
    #[serde(default = "default_page_size")]
    page_size: i32,
    /// How many accounts are changed at once over the connection.
    #[serde(default = "default_concurrency")]
    max_concurrent_accounts: usize,
    #[serde(default)]
    openldap: RawOpenLdap,
    #[serde(default)]
    active_directory: RawActiveDirectory,
    #[serde(default)]
    protected: RawProtected,
}

/// `[directory.active_directory]`: Active Directory specifics.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawActiveDirectory {
    /// Also set `accountExpires` to the time of the run when disabling a leaver (cleared again
    /// on rehire).
    #[serde(default)]
    expire_leavers: bool,
    /// How many `member` values to ask for per request when reading a group. AD hands out at
    /// most 1,500 (MaxValRange) and then only ranged `member;range=...` answers.
    #[serde(default = "default_member_range_size")]
    member_range_size: usize,
}

impl Default for RawActiveDirectory {
    fn default() -> Self {
        Self {
            expire_leavers: false,
            member_range_size: default_member_range_size(),
        }
    }
}

fn default_member_range_size() -> usize {
    1500
}

/// `[directory.protected]`: accounts hrsync never changes, whatever HR says.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProtected {
    /// Include the flavour's built-in protections (AD: `adminCount=1` and the members, direct
    /// or nested, of Domain Admins, Enterprise Admins, Schema Admins and Administrators).
    #[serde(default = "yes")]
    builtin: bool,
    /// Accounts by DN.
    #[serde(default)]
    dns: Vec<String>,
    /// Members of these groups (nested membership counts on AD).
    #[serde(default)]
    groups: Vec<String>,
    /// Accounts matching this LDAP filter.
    filter: Option<String>,
}

impl Default for RawProtected {
    fn default() -> Self {
        Self {
            builtin: true,
            dns: Vec::new(),
            groups: Vec::new(),
            filter: None,
        }
    }
}

fn yes() -> bool {
    true
}

/// `[directory.openldap]`: OpenLDAP specifics.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOpenLdap {
    /// How leavers are disabled: `ppolicy_lock` sets `pwdAccountLockedTime: 000001010000Z`.
    #[serde(default = "default_disable_method")]
    disable_method: DisableMethod,
    /// DN of the default password policy (slapd's `ppolicy_default`). The lock only takes effect
    /// where a policy applies, so hrsync checks this entry exists and warns when it does not.
    password_policy: Option<String>,
    /// Set when the refint overlay rewrites `member` values on rename; hrsync then does not.
    #[serde(default)]
    refint: bool,
}

impl Default for RawOpenLdap {
    fn default() -> Self {
        Self {
            disable_method: default_disable_method(),
            password_policy: None,
            refint: false,
        }
    }
}

fn default_flavour() -> Flavour {
    Flavour::Openldap
}
fn default_connect_timeout() -> u64 {
    10
}
fn default_operation_timeout() -> u64 {
    60
}
fn default_page_size() -> i32 {
    500
}
fn default_concurrency() -> usize {
    8
}
fn default_disable_method() -> DisableMethod {
    DisableMethod::PpolicyLock
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavour {
    Openldap,
    ActiveDirectory,
}

/// Which accounts are never changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Protection {
    /// Accounts by DN, each with the reason shown in plans.
    pub dns: Vec<(Dn, String)>,
    pub groups: Vec<Dn>,
    /// LDAP filters, each with the reason shown in plans.
    pub filters: Vec<(String, String)>,
    /// Whether group membership is nested (AD's LDAP_MATCHING_RULE_IN_CHAIN) or direct.
    pub nested_groups: bool,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub directory: DirectoryConfig,
    pub hr: HrConfig,
    pub mappings: Mappings,
    pub limits: Limits,
    /// Schedule, audit, metrics and hooks.
    pub operations: Operations,
}

#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    pub flavour: Flavour,
    pub url: String,
    pub starttls: bool,
    pub ca_file: Option<PathBuf>,
    pub danger_skip_tls_verify: bool,
    pub bind_dn: String,
    pub bind_password: SecretRef,
    pub users_base: Dn,
    pub user_filter: String,
    pub uniqueness_base: Dn,
    pub protected: Protection,
    /// Ranged retrieval of group members (AD), values per request.
    pub member_range_size: Option<usize>,
    pub connect_timeout: Duration,
    pub operation_timeout: Duration,
    pub page_size: i32,
    pub max_concurrent_accounts: usize,
    pub password_policy: Option<Dn>,
    pub policy: Policy,
    /// `offboarding.hold_group`.
    pub hold_group: Option<Dn>,
}

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

    pub fn parse_with_env(
        path: &Path,
        text: &str,
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Self, Vec<ConfigProblem>> {
        let file = path.display().to_string();
        let vars: Vec<(String, String)> = env
            .filter(|(name, _)| name.starts_with("HRSYNC_"))
            .collect();
        if let Ok(table) = text.parse::<toml::Table>() {
            for warning in env::unknown_variables(&table, &vars) {
                tracing::warn!("{warning}");
            }
        }
        let parsed = if !vars.iter().any(|(name, _)| env::is_override(name)) {
            // Straight from the text, so errors keep their line and column.
            toml::from_str(text).map_err(|e| vec![toml_problem(&e, text)])
        } else {
            env::parse_with_overrides::<RawConfig>(text, &vars)
        };
        let mut raw: RawConfig = parsed.map_err(|problems| {
            problems
                .into_iter()
                .map(|p| p.in_file(&file))
                .collect::<Vec<_>>()
        })?;
        let mut problems = Vec::new();
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let mappings_dir = dir.join(&raw.mappings);
        raw.hr.resolve_relative_paths(dir);
        let mappings = Mappings::load_dir(&mappings_dir);
        let directory = validate_directory(raw.directory, &mut problems);
        problems.extend(raw.hr.validate());

        if raw.lifecycle.prehire_days > 365 {
            problems.push(ConfigProblem::new(
                "lifecycle.prehire_days",
                "must be 0 to 365",
            ));
        }
        let limits = raw.limits.into_limits(&mut problems);
        let operations = operations::validate(
            operations::RawOperations {
                schedule: raw.schedule.take(),
                audit: raw.audit.take(),
                metrics: raw.metrics.take(),
                hooks: raw.hooks.take(),
            },
            raw.lifecycle.time_zone.as_deref(),
            dir,
            &mut problems,
        );
        let time_zone = match raw.lifecycle.time_zone.as_deref() {
            None => chrono_tz::UTC,
            Some(name) => name.parse().unwrap_or_else(|_| {
                problems.push(ConfigProblem::new(
                    "lifecycle.time_zone",
                    format!("\"{name}\" is not an IANA time zone (like Europe/Berlin or America/New_York)"),
                ));
                chrono_tz::UTC
            }),
        };
        let hold_group = raw
            .offboarding
            .hold_group
            .as_deref()
            .and_then(|g| match Dn::parse(g) {
                Ok(dn) => {
                    if let Ok(m) = &mappings {
                        if m.managed_groups().contains(&dn) {
                            problems.push(ConfigProblem::new(
                                "offboarding.hold_group",
                                "must not be a group the mappings manage",
                            ));
                        }
                    }
                    Some(dn)
                }
                Err(e) => {
                    problems.push(ConfigProblem::new("offboarding.hold_group", e.to_string()));
                    None
                }
            });
        let mut leave_remove_groups = BTreeSet::new();
        for (i, group) in raw.lifecycle.leave_remove_groups.iter().enumerate() {
            let key = format!("lifecycle.leave_remove_groups[{i}]");
            match Dn::parse(group) {
                Ok(dn) => {
                    if let Ok(m) = &mappings {
                        if !m.managed_groups().contains(&dn) {
                            problems.push(ConfigProblem::new(
                                &key,
                                format!("{dn} is not a group the mappings manage"),
                            ));
                        }
                    }
                    leave_remove_groups.insert(dn);
                }
                Err(e) => problems.push(ConfigProblem::new(&key, e.to_string())),
            }
        }
        if let Some(field) = &raw.lifecycle.time_zone_field {
            if !raw.hr.field_names().contains(field) {
                problems.push(ConfigProblem::new(
                    "lifecycle.time_zone_field",
                    format!("\"{field}\" is not a field in [hr.fields]"),
                ));
            }
        }
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
        for p in &mut problems {
            if p.file.is_none() {
                p.file = Some(file.clone());
            }
        }
        match (directory, mappings) {
            (Some(mut directory), Some(mappings)) if problems.is_empty() => {
                directory.policy.prehire_days = i64::from(raw.lifecycle.prehire_days);
                directory.policy.time_zone = time_zone;
                directory.policy.time_zone_field = raw.lifecycle.time_zone_field.clone();
                directory.policy.leave_disable = raw.lifecycle.leave == LeavePolicy::Disable;
                directory.policy.leave_remove_groups = leave_remove_groups;
                directory.policy.disable_orphans = raw.lifecycle.disable_orphans;
                directory.hold_group = hold_group;
                directory.policy.empty_group_placeholder =
                    mappings.groups.empty_group_placeholder.clone();
                Ok(Self {
                    path: path.to_path_buf(),
                    directory,
                    hr: raw.hr,
                    mappings,
                    limits,
                    operations,
                })
            }
            _ => Err(problems),
        }
    }
}

fn validate_directory(
    raw: RawDirectory,
    problems: &mut Vec<ConfigProblem>,
) -> Option<DirectoryConfig> {
    let dn = |value: &str, key: &str, problems: &mut Vec<ConfigProblem>| match Dn::parse(value) {
        Ok(dn) => Some(dn),
        Err(e) => {
            problems.push(ConfigProblem::new(key, e.to_string()));
            None
        }
    };
    let users_base = dn(&raw.users_base, "directory.users_base", problems);
    let ad = raw.flavour == Flavour::ActiveDirectory;
    let upn = ad && raw.bind_dn.contains('@') && !raw.bind_dn.contains('=');
    if !upn && Dn::parse(&raw.bind_dn).is_err() {
        problems.push(ConfigProblem::new(
            "directory.bind_dn",
            format!(
                "\"{}\" is not a DN{}",
                raw.bind_dn,
                if ad { " or a user principal name" } else { "" }
            ),
        ));
    }
    if !ad && raw.openldap.disable_method != DisableMethod::PpolicyLock {
        problems.push(ConfigProblem::new(
            "directory.openldap.disable_method",
            "OpenLDAP accounts are disabled with ppolicy_lock",
        ));
    }
    if ad && !(1..=1500).contains(&raw.active_directory.member_range_size) {
        problems.push(ConfigProblem::new(
            "directory.active_directory.member_range_size",
            "must be 1 to 1500 (AD's MaxValRange)",
        ));
    }
    let user_filter = raw.user_filter.clone().unwrap_or_else(|| {
        if ad {
            "(&(objectCategory=person)(objectClass=user))".to_string()
        } else {
            "(objectClass=inetOrgPerson)".to_string()
        }
    });
    let domain = users_base.as_ref().map(domain_of);
    let uniqueness_base = match &raw.uniqueness_base {
        Some(base) => dn(base, "directory.uniqueness_base", problems),
        None => domain.clone(),
    };
    let mut protected = Protection {
        dns: Vec::new(),
        groups: Vec::new(),
        filters: Vec::new(),
        nested_groups: ad,
    };
    for (i, value) in raw.protected.dns.iter().enumerate() {
        if let Some(d) = dn(value, &format!("directory.protected.dns[{i}]"), problems) {
            protected
                .dns
                .push((d, "listed in directory.protected.dns".to_string()));
        }
    }
    for (i, value) in raw.protected.groups.iter().enumerate() {
        if let Some(d) = dn(value, &format!("directory.protected.groups[{i}]"), problems) {
            protected.groups.push(d);
        }
    }
    if let Some(filter) = &raw.protected.filter {
        check_filter(filter, "directory.protected.filter", problems);
        protected.filters.push((
            filter.clone(),
            "matches directory.protected.filter".to_string(),
        ));
    }
    // The account hrsync binds as is never changed by it, whatever HR says about its owner:
    // hrsync must not lock itself out halfway through a run.
    if raw.protected.builtin {
        let why = "the account hrsync binds as".to_string();
        match Dn::parse(&raw.bind_dn) {
            Ok(bind) if !upn => protected.dns.push((bind, why)),
            _ => protected.filters.push((
                format!("(userPrincipalName={})", ldap3::ldap_escape(&raw.bind_dn)),
                why,
            )),
        }
    }
    if ad && raw.protected.builtin {
        if let Some(domain) = &domain {
            for group in [
                "CN=Domain Admins,CN=Users",
                "CN=Enterprise Admins,CN=Users",
                "CN=Schema Admins,CN=Users",
                "CN=Administrators,CN=Builtin",
            ] {
                if let Ok(d) = Dn::parse(&format!("{group},{domain}")) {
                    protected.groups.push(d);
                }
            }
        }
        protected.filters.push((
            "(adminCount=1)".to_string(),
            "adminCount=1: an administrative account".to_string(),
        ));
    }
    let password_policy = raw
        .openldap
        .password_policy
        .as_deref()
        .and_then(|p| dn(p, "directory.openldap.password_policy", problems));
    let url = raw.url.to_ascii_lowercase();
    let ldaps = url.starts_with("ldaps://");
    if !ldaps && !url.starts_with("ldap://") {
        problems.push(ConfigProblem::new(
            "directory.url",
            format!("\"{}\" must start with ldap:// or ldaps://", raw.url),
        ));
    }
    if ldaps && raw.starttls {
        problems.push(ConfigProblem::new(
            "directory.starttls",
            "is for ldap:// URLs; an ldaps:// connection is already encrypted",
        ));
    }
    if raw.bind_password.check("directory.bind_password").is_err() {
        problems.push(ConfigProblem::new(
            "directory.bind_password",
            "set exactly one of `file` or `env`",
        ));
    }
    check_filter(&user_filter, "directory.user_filter", problems);
    if !(1..=100_000).contains(&raw.page_size) {
        problems.push(ConfigProblem::new(
            "directory.page_size",
            "must be 1 to 100000",
        ));
    }
    if !(1..=64).contains(&raw.max_concurrent_accounts) {
        problems.push(ConfigProblem::new(
            "directory.max_concurrent_accounts",
            "must be 1 to 64",
        ));
    }
    for (key, secs) in [
        ("directory.connect_timeout_secs", raw.connect_timeout_secs),
        (
            "directory.operation_timeout_secs",
            raw.operation_timeout_secs,
        ),
    ] {
        if secs == 0 {
            problems.push(ConfigProblem::new(key, "must be at least 1 second"));
        }
    }
    Some(DirectoryConfig {
        flavour: raw.flavour,
        url: raw.url,
        starttls: raw.starttls,
        ca_file: raw.ca_file,
        danger_skip_tls_verify: raw.danger_skip_tls_verify,
        bind_dn: raw.bind_dn,
        bind_password: raw.bind_password,
        users_base: users_base?,
        user_filter,
        uniqueness_base: uniqueness_base?,
        protected,
        member_range_size: ad.then_some(raw.active_directory.member_range_size),
        connect_timeout: Duration::from_secs(raw.connect_timeout_secs),
        operation_timeout: Duration::from_secs(raw.operation_timeout_secs),
        page_size: raw.page_size,
        max_concurrent_accounts: raw.max_concurrent_accounts,
        password_policy,
        hold_group: None,
        policy: match raw.flavour {
            Flavour::Openldap => Policy {
                disable: raw.openldap.disable_method,
                expire_leavers: false,
                member_values_follow_renames: raw.openldap.refint,
                groups_require_member: true,
                empty_group_placeholder: None,
                required_attributes: vec!["cn".to_string(), "sn".to_string()],
                prehire_days: 0,
                time_zone: chrono_tz::UTC,
                time_zone_field: None,
                leave_disable: false,
                leave_remove_groups: BTreeSet::new(),
                disable_orphans: false,
            },
            // AD keeps member links pointing at moved entries and allows empty groups.
            Flavour::ActiveDirectory => Policy {
                disable: DisableMethod::UserAccountControl,
                expire_leavers: raw.active_directory.expire_leavers,
                member_values_follow_renames: true,
                groups_require_member: false,
                empty_group_placeholder: None,
                required_attributes: vec!["cn".to_string()],
                prehire_days: 0,
                time_zone: chrono_tz::UTC,
                time_zone_field: None,
                leave_disable: false,
                leave_remove_groups: BTreeSet::new(),
                disable_orphans: false,
            },
        },
    })
}

fn check_filter(filter: &str, key: &str, problems: &mut Vec<ConfigProblem>) {
    let balanced = filter.chars().try_fold(0i32, |depth, c| match c {
        '(' => Some(depth + 1),
        ')' if depth > 0 => Some(depth - 1),
        ')' => None,
        _ => Some(depth),
    }) == Some(0);
    if !(filter.starts_with('(') && filter.ends_with(')') && balanced) {
        problems.push(ConfigProblem::new(
            key,
            format!("\"{filter}\" is not an LDAP filter in balanced parentheses"),
        ));
    }
}

/// The `dc=` components at the end of a DN (the domain's naming context), or the DN itself when
/// it has none.
fn domain_of(dn: &Dn) -> Dn {
    let mut current = Some(dn.clone());
    while let Some(candidate) = current {
        let all_dc = candidate.key().split(',').all(|rdn| rdn.starts_with("dc="));
        if all_dc {
            return candidate;
        }
        current = candidate.parent();
    }
    dn.clone()
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
