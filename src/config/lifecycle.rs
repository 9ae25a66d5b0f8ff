//! `[lifecycle]` and `[offboarding]`: when accounts come and go. These are settings of the
//! planner's [`Policy`](crate::plan::Policy), not of an adapter, and they are checked against the mappings and the HR
//! fields, so the loader validates them.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::directory::DirectoryConfig;
use crate::dn::Dn;
use crate::hr::HrConfig;
use crate::mapping::Mappings;
use crate::plan::LeaverGroups;
use crate::problem::ConfigProblem;

/// `[offboarding]`: immediate offboarding by security (`hrsync offboard`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOffboarding {
    /// The group that marks offboarded accounts (it must exist; for OpenLDAP with the
    /// placeholder as a member). Every run leaves its members disabled and without managed
    /// groups until an admin removes them from it. It must not be a managed group.
    hold_group: Option<String>,
}

/// `[lifecycle]`: when accounts come and go.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLifecycle {
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
    /// Which groups a leaver leaves: `all` (default: every group under `group_bases` that lists
    /// the account, managed or not) or `managed` (only the groups the mappings manage).
    #[serde(default)]
    leaver_groups: RawLeaverGroups,
    /// Groups (DNs) a leaver stays in whatever `leaver_groups` says (an alumni list, say).
    #[serde(default)]
    leaver_keep_groups: Vec<String>,
    /// Where the groups a leaver leaves, and a mover's value follows in, are read (DNs; each
    /// is searched for `groupOfNames` and `group` entries). Default: the OUs the managed groups
    /// are in.
    group_bases: Option<Vec<String>>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawLeaverGroups {
    #[default]
    All,
    Managed,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum LeavePolicy {
    #[default]
    Keep,
    Disable,
}

/// The validated `[lifecycle]` and `[offboarding]`.
pub(super) struct LifecycleSettings {
    prehire_days: u32,
    time_zone: chrono_tz::Tz,
    time_zone_field: Option<String>,
    leave_disable: bool,
    leave_remove_groups: BTreeSet<Dn>,
    disable_orphans: bool,
    hold_group: Option<Dn>,
    leaver_groups: LeaverGroups,
    leaver_keep_groups: BTreeSet<Dn>,
    group_bases: Vec<Dn>,
}

impl RawLifecycle {
    /// The zone the `[schedule]` falls back to; checked by [`RawLifecycle::validate`].
    pub(super) fn time_zone_name(&self) -> Option<&str> {
        self.time_zone.as_deref()
    }

    pub(super) fn check_prehire_days(&self, problems: &mut Vec<ConfigProblem>) {
        if self.prehire_days > 365 {
            problems.push(ConfigProblem::new(
                "lifecycle.prehire_days",
                "must be 0 to 365",
            ));
        }
    }

    /// Everything but `prehire_days` (checked earlier, with the other numbers); `mappings` is
    /// `None` when they did not load, and the checks against them are then skipped.
    pub(super) fn validate(
        self,
        offboarding: &RawOffboarding,
        mappings: Option<&Mappings>,
        hr: &HrConfig,
        problems: &mut Vec<ConfigProblem>,
    ) -> LifecycleSettings {
        let time_zone = self.parse_time_zone(problems);
        let hold_group = offboarding.hold_group(mappings, problems);
        let leave_remove_groups = self.leave_remove_groups(mappings, problems);
        let leaver_keep_groups = dns(
            &self.leaver_keep_groups,
            "lifecycle.leaver_keep_groups",
            problems,
        );
        let group_bases = match &self.group_bases {
            Some(bases) => dns(bases, "lifecycle.group_bases", problems)
                .into_iter()
                .collect(),
            None => mappings.map(default_group_bases).unwrap_or_default(),
        };
        if let Some(field) = &self.time_zone_field {
            if !hr.field_names().contains(field) {
                problems.push(ConfigProblem::new(
                    "lifecycle.time_zone_field",
                    format!("\"{field}\" is not a field in [hr.fields]"),
                ));
            }
        }
        LifecycleSettings {
            prehire_days: self.prehire_days,
            time_zone,
            time_zone_field: self.time_zone_field,
            leave_disable: self.leave == LeavePolicy::Disable,
            leave_remove_groups,
            disable_orphans: self.disable_orphans,
            hold_group,
            leaver_groups: match self.leaver_groups {
                RawLeaverGroups::All => LeaverGroups::All,
                RawLeaverGroups::Managed => LeaverGroups::Managed,
            },
            leaver_keep_groups,
            group_bases,
        }
    }

    fn parse_time_zone(&self, problems: &mut Vec<ConfigProblem>) -> chrono_tz::Tz {
        match self.time_zone.as_deref() {
            None => chrono_tz::UTC,
            Some(name) => name.parse().unwrap_or_else(|_| {
                problems.push(ConfigProblem::new(
                    "lifecycle.time_zone",
                    format!("\"{name}\" is not an IANA time zone (like Europe/Berlin or America/New_York)"),
                ));
                chrono_tz::UTC
            }),
        }
    }

    fn leave_remove_groups(
        &self,
        mappings: Option<&Mappings>,
        problems: &mut Vec<ConfigProblem>,
    ) -> BTreeSet<Dn> {
        let mut groups = BTreeSet::new();
        for (i, group) in self.leave_remove_groups.iter().enumerate() {
            let key = format!("lifecycle.leave_remove_groups[{i}]");
            match Dn::parse(group) {
                Ok(dn) => {
                    if let Some(m) = mappings {
                        if !m.managed_groups().contains(&dn) {
                            problems.push(ConfigProblem::new(
                                &key,
                                format!("{dn} is not a group the mappings manage"),
                            ));
                        }
                    }
                    groups.insert(dn);
                }
                Err(e) => problems.push(ConfigProblem::new(&key, e.to_string())),
            }
        }
        groups
    }
}

/// DNs from the file, each problem under `key[i]`.
fn dns(values: &[String], key: &str, problems: &mut Vec<ConfigProblem>) -> BTreeSet<Dn> {
    let mut dns = BTreeSet::new();
    for (i, value) in values.iter().enumerate() {
        match Dn::parse(value) {
            Ok(dn) => {
                dns.insert(dn);
            }
            Err(e) => problems.push(ConfigProblem::new(format!("{key}[{i}]"), e.to_string())),
        }
    }
    dns
}

/// The OUs the managed groups are in, each once (a base inside another is left out: the outer
/// search finds its groups).
fn default_group_bases(mappings: &Mappings) -> Vec<Dn> {
    let parents: BTreeSet<Dn> = mappings
        .managed_groups()
        .iter()
        .filter_map(Dn::parent)
        .collect();
    parents
        .iter()
        .filter(|base| {
            !parents
                .iter()
                .any(|other| other != *base && base.is_within(other))
        })
        .cloned()
        .collect()
}

impl RawOffboarding {
    fn hold_group(
        &self,
        mappings: Option<&Mappings>,
        problems: &mut Vec<ConfigProblem>,
    ) -> Option<Dn> {
        let group = self.hold_group.as_deref()?;
        match Dn::parse(group) {
            Ok(dn) => {
                if let Some(m) = mappings {
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
        }
    }
}

impl LifecycleSettings {
    /// Fills in the lifecycle part of the directory's policy (the flavour decided the rest) and
    /// the hold group.
    pub(super) fn apply_to(self, directory: &mut DirectoryConfig) {
        let policy = &mut directory.policy;
        policy.prehire_days = i64::from(self.prehire_days);
        policy.time_zone = self.time_zone;
        policy.time_zone_field = self.time_zone_field;
        policy.leave_disable = self.leave_disable;
        policy.leave_remove_groups = self.leave_remove_groups;
        policy.disable_orphans = self.disable_orphans;
        policy.leaver_groups = self.leaver_groups;
        policy.leaver_keep_groups = self.leaver_keep_groups;
        directory.hold_group = self.hold_group;
        directory.group_bases = self.group_bases;
    }
}
