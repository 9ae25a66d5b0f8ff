//! `[directory]`: where the accounts live and how to reach them. Parsed into [`RawDirectory`]
//! (unknown keys rejected), then validated into [`DirectoryConfig`], which this adapter trusts.
//! The flavour also decides the planner's [`Policy`] for this directory; the `[lifecycle]` and
//! `[offboarding]` parts of it are filled in by the configuration loader.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::dn::Dn;
use crate::plan::{DisableMethod, LeaverGroups, Mark, Policy};
use crate::problem::ConfigProblem;
use crate::secret::SecretRef;

/// `[directory]`: where the accounts live and how to reach them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDirectory {
    /// `openldap`, `active_directory` or `389ds`.
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
    /// Bind over plain `ldap://` without StartTLS to a host other than this machine, sending
    /// the bind password (and every account read) in clear text. Refused unless this is set;
    /// when set, every connection logs a warning.
    #[serde(default)]
    danger_allow_cleartext_bind: bool,
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
    /// An apply starts no change after this many seconds; what is left is reported and left
    /// for the next run (exit code 3). 0: no deadline.
    #[serde(default = "default_max_apply_secs")]
    max_apply_secs: u64,
    /// After this many operations in a row got no answer within `operation_timeout_secs`, the
    /// apply starts no further change (the server is not answering; exit code 3).
    #[serde(default = "default_max_consecutive_timeouts")]
    max_consecutive_timeouts: u32,
    /// The entry whose holder is the one run that may apply to this directory (see
    /// docs/src/running.md, "Overlapping runs"). Default: `cn=hrsync-lease,` followed by `users_base`.
    lease_dn: Option<String>,
    /// How long a run's lease lasts without renewal (it is renewed every third of it): how long
    /// a killed run blocks the next one, at most.
    #[serde(default = "default_lease_secs")]
    lease_secs: u64,
    #[serde(default)]
    openldap: RawOpenLdap,
    #[serde(default)]
    active_directory: RawActiveDirectory,
    #[serde(default, rename = "389ds")]
    ds389: RawDs389,
    #[serde(default)]
    protected: RawProtected,
}

/// `[directory.389ds]`: 389 Directory Server specifics.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDs389 {
    /// Whether the server rewrites `member` values itself when an entry moves (its MemberOf or
    /// referential integrity plugin). hrsync reads this from `cn=plugins,cn=config` wherever
    /// the bind account may read it, and then this setting only has to agree; it is needed
    /// where the bind account may not (the usual case for a service account).
    member_values_follow_renames: Option<bool>,
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
fn default_max_apply_secs() -> u64 {
    3600
}
fn default_max_consecutive_timeouts() -> u32 {
    3
}
fn default_lease_secs() -> u64 {
    300
}
fn default_disable_method() -> DisableMethod {
    DisableMethod::PpolicyLock
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavour {
    Openldap,
    ActiveDirectory,
    /// 389 Directory Server (Red Hat Directory Server, FreeIPA's directory).
    #[serde(rename = "389ds")]
    Ds389,
}

impl Flavour {
    /// The name `directory.flavour` takes.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Openldap => "openldap",
            Self::ActiveDirectory => "active_directory",
            Self::Ds389 => "389ds",
        }
    }
}

/// Which accounts are never changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Protection {
    /// Accounts by DN, each with the reason shown in plans.
    pub(crate) dns: Vec<(Dn, String)>,
    pub(crate) groups: Vec<Dn>,
    /// LDAP filters, each with the reason shown in plans.
    pub(crate) filters: Vec<(String, String)>,
    /// Whether group membership is nested (AD's LDAP_MATCHING_RULE_IN_CHAIN) or direct.
    pub(crate) nested_groups: bool,
}

/// The validated `[directory]`.
#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    pub(crate) flavour: Flavour,
    pub(crate) url: String,
    pub(crate) starttls: bool,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) danger_skip_tls_verify: bool,
    pub(crate) danger_allow_cleartext_bind: bool,
    pub(crate) bind_dn: String,
    pub(crate) bind_password: SecretRef,
    pub(crate) users_base: Dn,
    pub(crate) user_filter: String,
    pub(crate) uniqueness_base: Dn,
    pub(crate) protected: Protection,
    /// Ranged retrieval of group members (AD), values per request.
    pub(crate) member_range_size: Option<usize>,
    pub(crate) connect_timeout: Duration,
    pub(crate) operation_timeout: Duration,
    pub(crate) page_size: i32,
    pub(crate) max_concurrent_accounts: usize,
    /// `max_apply_secs`; `None` for 0 (no deadline).
    pub(crate) max_apply: Option<Duration>,
    pub(crate) max_consecutive_timeouts: u32,
    pub(crate) lease_dn: Dn,
    pub(crate) lease_ttl: Duration,
    pub(crate) password_policy: Option<Dn>,
    /// 389-DS: `directory.389ds.member_values_follow_renames`, for when the plugins cannot be
    /// read (see [`crate::directory::Directory::renames_followed`]).
    pub(crate) renames_configured: Option<bool>,
    pub policy: Policy,
    /// `offboarding.hold_group`.
    pub(crate) hold_group: Option<Dn>,
    /// `lifecycle.group_bases`: where the groups a leaver leaves (and a mover's value follows
    /// in) are read, managed or not.
    pub(crate) group_bases: Vec<Dn>,
}

impl RawDirectory {
    /// Every problem is pushed onto `problems`, in the order of the keys' checks; `None` when a
    /// base DN the rest of the program needs is unusable.
    pub(crate) fn validate(self, problems: &mut Vec<ConfigProblem>) -> Option<DirectoryConfig> {
        let ad = self.flavour == Flavour::ActiveDirectory;
        let users_base = parse_dn(&self.users_base, "directory.users_base", problems);
        let upn = self.check_bind_dn(ad, problems);
        self.check_flavour_settings(ad, problems);
        let user_filter = self.user_filter.clone().unwrap_or_else(|| {
            if ad {
                "(&(objectCategory=person)(objectClass=user))".to_string()
            } else {
                "(objectClass=inetOrgPerson)".to_string()
            }
        });
        let domain = users_base.as_ref().map(domain_of);
        let uniqueness_base = match &self.uniqueness_base {
            Some(base) => parse_dn(base, "directory.uniqueness_base", problems),
            None => domain.clone(),
        };
        let protected = self.protection(ad, upn, domain.as_ref(), problems);
        let password_policy = self
            .openldap
            .password_policy
            .as_deref()
            .and_then(|p| parse_dn(p, "directory.openldap.password_policy", problems));
        self.check_connection(&user_filter, problems);
        let lease_dn = match &self.lease_dn {
            Some(dn) => parse_dn(dn, "directory.lease_dn", problems),
            None => users_base
                .as_ref()
                .and_then(|base| Dn::parse(&format!("cn=hrsync-lease,{base}")).ok()),
        };
        if self.lease_secs < 10 {
            problems.push(ConfigProblem::new(
                "directory.lease_secs",
                "must be at least 10 seconds",
            ));
        }
        let policy = self.policy();
        Some(DirectoryConfig {
            flavour: self.flavour,
            url: self.url,
            starttls: self.starttls,
            ca_file: self.ca_file,
            danger_skip_tls_verify: self.danger_skip_tls_verify,
            danger_allow_cleartext_bind: self.danger_allow_cleartext_bind,
            bind_dn: self.bind_dn,
            bind_password: self.bind_password,
            users_base: users_base?,
            user_filter,
            uniqueness_base: uniqueness_base?,
            protected,
            member_range_size: ad.then_some(self.active_directory.member_range_size),
            connect_timeout: Duration::from_secs(self.connect_timeout_secs),
            operation_timeout: Duration::from_secs(self.operation_timeout_secs),
            page_size: self.page_size,
            max_concurrent_accounts: self.max_concurrent_accounts,
            max_apply: (self.max_apply_secs > 0).then(|| Duration::from_secs(self.max_apply_secs)),
            max_consecutive_timeouts: self.max_consecutive_timeouts,
            lease_dn: lease_dn?,
            lease_ttl: Duration::from_secs(self.lease_secs),
            password_policy,
            renames_configured: self.ds389.member_values_follow_renames,
            hold_group: None,
            group_bases: Vec::new(),
            policy,
        })
    }

    /// `bind_dn` is a DN, or on AD a user principal name; returns whether it is the latter.
    fn check_bind_dn(&self, ad: bool, problems: &mut Vec<ConfigProblem>) -> bool {
        let upn = ad && self.bind_dn.contains('@') && !self.bind_dn.contains('=');
        if !upn && Dn::parse(&self.bind_dn).is_err() {
            problems.push(ConfigProblem::new(
                "directory.bind_dn",
                format!(
                    "\"{}\" is not a DN{}",
                    self.bind_dn,
                    if ad { " or a user principal name" } else { "" }
                ),
            ));
        }
        upn
    }

    /// The `[directory.openldap]` and `[directory.active_directory]` settings that only one
    /// flavour allows.
    fn check_flavour_settings(&self, ad: bool, problems: &mut Vec<ConfigProblem>) {
        if self.flavour == Flavour::Openldap
            && self.openldap.disable_method != DisableMethod::PpolicyLock
        {
            problems.push(ConfigProblem::new(
                "directory.openldap.disable_method",
                "OpenLDAP accounts are disabled with ppolicy_lock",
            ));
        }
        if ad && !(1..=1500).contains(&self.active_directory.member_range_size) {
            problems.push(ConfigProblem::new(
                "directory.active_directory.member_range_size",
                "must be 1 to 1500 (AD's MaxValRange)",
            ));
        }
    }

    /// `[directory.protected]`, plus the protections every directory gets unless `builtin` is
    /// off: the bind account, and on AD its administrators.
    fn protection(
        &self,
        ad: bool,
        upn: bool,
        domain: Option<&Dn>,
        problems: &mut Vec<ConfigProblem>,
    ) -> Protection {
        let mut protected = Protection {
            dns: Vec::new(),
            groups: Vec::new(),
            filters: Vec::new(),
            nested_groups: ad,
        };
        for (i, value) in self.protected.dns.iter().enumerate() {
            if let Some(d) = parse_dn(value, &format!("directory.protected.dns[{i}]"), problems) {
                protected
                    .dns
                    .push((d, "listed in directory.protected.dns".to_string()));
            }
        }
        for (i, value) in self.protected.groups.iter().enumerate() {
            let key = format!("directory.protected.groups[{i}]");
            if let Some(d) = parse_dn(value, &key, problems) {
                protected.groups.push(d);
            }
        }
        if let Some(filter) = &self.protected.filter {
            check_filter(filter, "directory.protected.filter", problems);
            protected.filters.push((
                filter.clone(),
                "matches directory.protected.filter".to_string(),
            ));
        }
        if self.protected.builtin {
            self.protect_bind_account(upn, &mut protected);
        }
        if ad && self.protected.builtin {
            protect_ad_administrators(domain, &mut protected);
        }
        protected
    }

    // The account hrsync binds as is never changed by it, whatever HR says about its owner:
    // hrsync must not lock itself out halfway through a run.
    fn protect_bind_account(&self, upn: bool, protected: &mut Protection) {
        let why = "the account hrsync binds as".to_string();
        match Dn::parse(&self.bind_dn) {
            Ok(bind) if !upn => protected.dns.push((bind, why)),
            _ => protected.filters.push((
                format!("(userPrincipalName={})", ldap3::ldap_escape(&self.bind_dn)),
                why,
            )),
        }
    }

    /// How to reach the server: the URL and TLS, the password reference, the user filter, paging,
    /// concurrency and timeouts.
    fn check_connection(&self, user_filter: &str, problems: &mut Vec<ConfigProblem>) {
        let url = self.url.to_ascii_lowercase();
        let ldaps = url.starts_with("ldaps://");
        if !ldaps && !url.starts_with("ldap://") {
            problems.push(ConfigProblem::new(
                "directory.url",
                format!("\"{}\" must start with ldap:// or ldaps://", self.url),
            ));
        }
        if ldaps && self.starttls {
            problems.push(ConfigProblem::new(
                "directory.starttls",
                "is for ldap:// URLs; an ldaps:// connection is already encrypted",
            ));
        }
        if cleartext_bind(&self.url, self.starttls) && !self.danger_allow_cleartext_bind {
            problems.push(ConfigProblem::new("directory.url", CLEARTEXT_BIND));
        }
        if self.bind_password.check("directory.bind_password").is_err() {
            problems.push(ConfigProblem::new(
                "directory.bind_password",
                "set exactly one of `file` or `env`",
            ));
        }
        check_filter(user_filter, "directory.user_filter", problems);
        if !(1..=100_000).contains(&self.page_size) {
            problems.push(ConfigProblem::new(
                "directory.page_size",
                "must be 1 to 100000",
            ));
        }
        if !(1..=64).contains(&self.max_concurrent_accounts) {
            problems.push(ConfigProblem::new(
                "directory.max_concurrent_accounts",
                "must be 1 to 64",
            ));
        }
        for (key, secs) in [
            ("directory.connect_timeout_secs", self.connect_timeout_secs),
            (
                "directory.operation_timeout_secs",
                self.operation_timeout_secs,
            ),
        ] {
            if secs == 0 {
                problems.push(ConfigProblem::new(key, "must be at least 1 second"));
            }
        }
        if self.max_consecutive_timeouts == 0 {
            problems.push(ConfigProblem::new(
                "directory.max_consecutive_timeouts",
                "must be at least 1",
            ));
        }
    }

    /// What the flavour means for the planner; the lifecycle settings are left at their
    /// defaults for the loader to fill in.
    fn policy(&self) -> Policy {
        let required = |names: &[&str]| names.iter().map(ToString::to_string).collect();
        let (disable, member_values_follow_renames, groups_require_member, required, mark) =
            match self.flavour {
                // Multi-valued on inetOrgPerson: the mark sits beside an admin's notes.
                Flavour::Openldap => (
                    self.openldap.disable_method,
                    self.openldap.refint,
                    true,
                    required(&["cn", "sn"]),
                    "description",
                ),
                // AD keeps member links pointing at moved entries and allows empty groups. It
                // keeps `description` single-valued on users; `info` (Notes) is free more
                // often. Single-valued too: where an admin wrote a note, the mark is refused
                // and hrsync then treats its own lock as someone else's (it stays locked).
                Flavour::ActiveDirectory => (
                    DisableMethod::UserAccountControl,
                    true,
                    false,
                    required(&["cn"]),
                    "info",
                ),
                // 389 allows empty groups. Whether member values follow a move depends on its
                // plugins, read from the server at each run; the setting is the fallback.
                Flavour::Ds389 => (
                    DisableMethod::NsAccountLock,
                    self.ds389.member_values_follow_renames.unwrap_or(false),
                    false,
                    required(&["cn", "sn"]),
                    "description",
                ),
            };
        Policy {
            disable,
            expire_leavers: self.flavour == Flavour::ActiveDirectory
                && self.active_directory.expire_leavers,
            member_values_follow_renames,
            groups_require_member,
            empty_group_placeholder: None,
            required_attributes: required,
            prehire_days: 0,
            time_zone: chrono_tz::UTC,
            time_zone_field: None,
            leave_disable: false,
            leave_remove_groups: BTreeSet::new(),
            disable_orphans: false,
            leaver_groups: LeaverGroups::All,
            leaver_keep_groups: BTreeSet::new(),
            disabled_mark: Mark::disabled_in(mark),
        }
    }
}

/// AD's built-in protections: members of the domain's administrator groups, and accounts that
/// AD itself marks as administrative.
fn protect_ad_administrators(domain: Option<&Dn>, protected: &mut Protection) {
    if let Some(domain) = domain {
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

fn parse_dn(value: &str, key: &str, problems: &mut Vec<ConfigProblem>) -> Option<Dn> {
    match Dn::parse(value) {
        Ok(dn) => Some(dn),
        Err(e) => {
            problems.push(ConfigProblem::new(key, e.to_string()));
            None
        }
    }
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

/// Why a plain-text bind to another host is refused, and the ways out.
pub(crate) const CLEARTEXT_BIND: &str = "is ldap:// without StartTLS to a host other than this \
     machine: the bind password and every account read would cross the network in clear text; \
     use ldaps://, set directory.starttls = true, or (lab only) set \
     directory.danger_allow_cleartext_bind = true";

/// Whether binding to `url` sends the password in clear text over the network: `ldap://`
/// without StartTLS to a host that is not this machine. Only `localhost` and loopback
/// addresses count as this machine; other names are not resolved, since what a name resolves
/// to can change after the check.
pub(crate) fn cleartext_bind(url: &str, starttls: bool) -> bool {
    let lower = url.to_ascii_lowercase();
    if !lower.starts_with("ldap://") || starttls {
        return false;
    }
    reqwest::Url::parse(url).map_or(true, |parsed| !crate::hr::is_loopback(&parsed))
}

impl DirectoryConfig {
    /// Whether connecting sends the bind password in clear text (see [`cleartext_bind`]).
    pub(crate) fn cleartext_bind(&self) -> bool {
        cleartext_bind(&self.url, self.starttls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(text: &str) -> (Option<DirectoryConfig>, Vec<String>) {
        let raw: RawDirectory = toml::from_str(text).unwrap();
        let mut problems = Vec::new();
        let config = raw.validate(&mut problems);
        (config, problems.iter().map(ToString::to_string).collect())
    }

    const AD: &str = r#"
flavour = "active_directory"
url = "ldaps://dc.example.com"
bind_dn = "svc-hrsync@example.com"
bind_password = { env = "PW" }
users_base = "OU=Staff,DC=example,DC=com"
"#;

    #[test]
    fn an_ad_bind_principal_is_protected_by_a_filter_and_the_domain_is_the_uniqueness_base() {
        let (config, problems) = validate(AD);
        assert!(problems.is_empty(), "{problems:?}");
        let config = config.unwrap();
        assert_eq!(
            config.uniqueness_base,
            Dn::parse("DC=example,DC=com").unwrap()
        );
        assert!(config.protected.nested_groups);
        assert!(
            config
                .protected
                .filters
                .iter()
                .any(|(f, why)| f == "(userPrincipalName=svc-hrsync@example.com)"
                    && why == "the account hrsync binds as")
        );
        assert_eq!(config.policy.disable, DisableMethod::UserAccountControl);
        assert_eq!(config.member_range_size, Some(1500));
        assert_eq!(
            config.user_filter,
            "(&(objectCategory=person)(objectClass=user))"
        );
    }

    #[test]
    fn settings_of_the_other_flavour_and_of_the_connection_are_checked() {
        let (_, ad) = validate(&format!(
            "{AD}starttls = true\nconnect_timeout_secs = 0\nmax_concurrent_accounts = 65\n\
             [active_directory]\nmember_range_size = 1501\n"
        ));
        assert_eq!(
            ad,
            [
                "directory.active_directory.member_range_size: must be 1 to 1500 (AD's MaxValRange)",
                "directory.starttls: is for ldap:// URLs; an ldaps:// connection is already encrypted",
                "directory.max_concurrent_accounts: must be 1 to 64",
                "directory.connect_timeout_secs: must be at least 1 second",
            ]
        );
        let (config, openldap) = validate(
            r#"
url = "ldap://ldap"
starttls = true
bind_dn = "svc@example.com"
bind_password = { env = "PW" }
users_base = "dc=example,dc=org"
user_filter = "(objectClass=person"
openldap = { disable_method = "user_account_control" }
protected = { filter = "uid=root" }
"#,
        );
        assert_eq!(
            openldap,
            [
                "directory.bind_dn: \"svc@example.com\" is not a DN",
                "directory.openldap.disable_method: OpenLDAP accounts are disabled with ppolicy_lock",
                "directory.protected.filter: \"uid=root\" is not an LDAP filter in balanced parentheses",
                "directory.user_filter: \"(objectClass=person\" is not an LDAP filter in balanced \
                 parentheses",
            ]
        );
        assert!(config.is_some(), "a bad bind DN still yields the settings");
    }

    /// The apply's bounds and the run lease: defaults, 0 as "no deadline", and what is refused.
    #[test]
    fn the_run_deadline_the_timeouts_in_a_row_and_the_lease_have_defaults_and_bounds() {
        let (config, problems) = validate(AD);
        assert!(problems.is_empty(), "{problems:?}");
        let config = config.unwrap();
        assert_eq!(config.max_apply, Some(Duration::from_secs(3600)));
        assert_eq!(config.max_consecutive_timeouts, 3);
        assert_eq!(
            config.lease_dn,
            Dn::parse("cn=hrsync-lease,OU=Staff,DC=example,DC=com").unwrap()
        );
        assert_eq!(config.lease_ttl, Duration::from_secs(300));
        let (config, _) = validate(&format!(
            "{AD}max_apply_secs = 0\nlease_dn = \"cn=lease,OU=Ops,DC=example,DC=com\"\n"
        ));
        let config = config.unwrap();
        assert_eq!(config.max_apply, None, "0: no deadline");
        assert_eq!(
            config.lease_dn,
            Dn::parse("cn=lease,OU=Ops,DC=example,DC=com").unwrap()
        );
        let (_, problems) = validate(&format!(
            "{AD}max_consecutive_timeouts = 0\nlease_secs = 9\nlease_dn = \"not a dn\"\n"
        ));
        assert_eq!(
            problems,
            [
                "directory.max_consecutive_timeouts: must be at least 1",
                "directory.lease_dn: 'not a dn' is not a valid DN: an RDN has no '='",
                "directory.lease_secs: must be at least 10 seconds",
            ]
        );
    }

    const DS389: &str = r#"
flavour = "389ds"
url = "ldap://ds.example.com"
starttls = true
bind_dn = "uid=hrsync,cn=sysaccounts,dc=example,dc=com"
bind_password = { env = "PW" }
users_base = "ou=people,dc=example,dc=com"
"#;

    #[test]
    fn a_389_directory_locks_with_ns_account_lock_and_allows_empty_groups() {
        let (config, problems) = validate(DS389);
        assert!(problems.is_empty(), "{problems:?}");
        let config = config.unwrap();
        assert_eq!(config.flavour, Flavour::Ds389);
        assert_eq!(config.policy.disable, DisableMethod::NsAccountLock);
        assert!(!config.policy.groups_require_member);
        assert_eq!(config.user_filter, "(objectClass=inetOrgPerson)");
        // Unknown until the server's plugins are read.
        assert_eq!(config.renames_configured, None);
        assert!(!config.policy.member_values_follow_renames);
        let (config, problems) = validate(&format!(
            "{DS389}[389ds]\nmember_values_follow_renames = true\n"
        ));
        assert!(problems.is_empty(), "{problems:?}");
        let config = config.unwrap();
        assert_eq!(config.renames_configured, Some(true));
        assert!(config.policy.member_values_follow_renames);
        // The OpenLDAP lock is not a 389 one: its table is refused, not silently ignored.
        let raw: Result<RawDirectory, _> =
            toml::from_str(&format!("{DS389}[389ds]\nrefint = true\n"));
        assert!(
            raw.unwrap_err()
                .to_string()
                .contains("unknown field `refint`")
        );
    }

    #[test]
    fn an_unusable_base_yields_no_settings() {
        let (config, problems) = validate(&AD.replace("OU=Staff,DC=example,DC=com", "not a dn"));
        assert!(config.is_none());
        assert!(
            problems[0].starts_with("directory.users_base: "),
            "{problems:?}"
        );
    }

    #[test]
    fn the_domain_is_the_trailing_dc_components() {
        let dn = |s| Dn::parse(s).unwrap();
        assert_eq!(
            domain_of(&dn("ou=people,dc=example,dc=org")),
            dn("dc=example,dc=org")
        );
        assert_eq!(domain_of(&dn("o=example")), dn("o=example"));
    }

    const OPENLDAP: &str = r#"
bind_dn = "cn=hrsync,dc=example,dc=com"
bind_password = { env = "PW" }
users_base = "ou=people,dc=example,dc=com"
"#;

    /// Issue 17.9: `ldap://` without StartTLS to another host sent the bind password in clear
    /// text, and was accepted without a word.
    #[test]
    fn a_cleartext_bind_to_another_host_is_refused_naming_the_key() {
        for url in [
            "ldap://ldap.example.com",
            "LDAP://10.0.0.5:389",
            "ldap://localhost.evil.com",
        ] {
            let (_, problems) = validate(&format!("url = \"{url}\"\n{OPENLDAP}"));
            assert_eq!(
                problems,
                [format!("directory.url: {CLEARTEXT_BIND}")],
                "{url}"
            );
        }
        let (_, ad) = validate(&AD.replace("ldaps://dc.example.com", "ldap://dc.example.com"));
        assert_eq!(ad, [format!("directory.url: {CLEARTEXT_BIND}")]);
    }

    #[test]
    fn a_cleartext_bind_is_fine_to_this_machine_with_starttls_or_when_allowed_loudly() {
        for extra in [
            "url = \"ldap://127.0.0.1:3890\"",
            "url = \"ldap://127.8.9.10\"",
            "url = \"ldap://localhost:389\"",
            "url = \"ldap://[::1]:389\"",
            "url = \"ldap://ldap.example.com\"\nstarttls = true",
            "url = \"ldaps://ldap.example.com\"",
            "url = \"ldap://ldap.example.com\"\ndanger_allow_cleartext_bind = true",
        ] {
            let (config, problems) = validate(&format!("{extra}\n{OPENLDAP}"));
            assert!(problems.is_empty(), "{extra}: {problems:?}");
            let config = config.expect("valid");
            assert_eq!(
                config.cleartext_bind(),
                extra.contains("danger_allow_cleartext_bind"),
                "{extra}"
            );
        }
    }
}
