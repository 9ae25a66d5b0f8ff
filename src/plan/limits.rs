//! Safety limits: how much one run may change before a person has to look.
//!
//! One bad HR export (an empty page, a filter that dropped a department) must never lock a
//! company out. Every kind of change has a limit, as an absolute count of accounts and as a
//! percentage of the accounts hrsync manages; a plan over any limit is applied not at all
//! (exit 4) until an admin allows that kind (`--allow-limit KIND`) or approves the saved plan.
//! `missing` counts accounts whose HR record vanished: they are never changed, but many of them
//! at once means the HR data is wrong, and then nothing else in that data can be trusted either.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Action, Plan};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum LimitKind {
    /// Accounts disabled.
    Disable,
    /// Accounts enabled again (returns, rehires, start dates): many at once undo many locks.
    Enable,
    /// Accounts removed from at least one managed group.
    GroupRemoval,
    /// Accounts moved to another OU.
    Move,
    /// Accounts created.
    Create,
    /// Accounts with attribute changes.
    Update,
    /// Managed accounts whose HR record is missing (orphans).
    Missing,
}

impl LimitKind {
    pub const ALL: [LimitKind; 7] = [
        Self::Disable,
        Self::Enable,
        Self::GroupRemoval,
        Self::Move,
        Self::Create,
        Self::Update,
        Self::Missing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Enable => "enable",
            Self::GroupRemoval => "group_removal",
            Self::Move => "move",
            Self::Create => "create",
            Self::Update => "update",
            Self::Missing => "missing",
        }
    }
}

/// One kind's limit. Either bound may be absent (no limit of that form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// At most this many accounts.
    pub count: Option<usize>,
    /// At most this percentage of the managed accounts.
    pub percent: Option<u32>,
}

/// All limits of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub kinds: BTreeMap<LimitKind, Limit>,
    /// A percentage only trips when at least this many accounts would change in that way (the
    /// count of the kind, not the number of managed accounts), so that a small directory can
    /// still lose its one leaver (1 of 10 is 10%), and a small directory losing most of its
    /// accounts at once is still stopped.
    pub percent_floor: usize,
    /// A saved plan older than this is refused by `apply --plan`.
    pub max_plan_age_hours: u32,
}

impl Default for Limits {
    /// Safe defaults: a normal day's churn passes, a broken export does not.
    fn default() -> Self {
        let limit = |count, percent| Limit {
            count: Some(count),
            percent: Some(percent),
        };
        Self {
            kinds: BTreeMap::from([
                (LimitKind::Disable, limit(50, 10)),
                (LimitKind::Enable, limit(50, 10)),
                (LimitKind::GroupRemoval, limit(100, 10)),
                (LimitKind::Move, limit(100, 10)),
                (LimitKind::Create, limit(200, 25)),
                (LimitKind::Update, limit(500, 50)),
                (LimitKind::Missing, limit(25, 5)),
            ]),
            percent_floor: 5,
            max_plan_age_hours: 24,
        }
    }
}

impl Limits {
    /// No limit of any kind: for plans that are compared or inspected rather than applied
    /// unattended (the planner's own tests, a plan shown piece by piece).
    pub fn none() -> Self {
        Self {
            kinds: BTreeMap::new(),
            ..Self::default()
        }
    }
}

/// A limit the plan goes over, with the accounts involved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrippedLimit {
    pub kind: LimitKind,
    pub count: usize,
    pub limit: Limit,
    pub managed_accounts: usize,
    /// Employee ids (or DNs for missing records) of the accounts counted.
    pub accounts: Vec<String>,
}

impl std::fmt::Display for TrippedLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut bounds = Vec::new();
        if let Some(count) = self.limit.count {
            bounds.push(format!("{count} account(s)"));
        }
        if let Some(percent) = self.limit.percent {
            bounds.push(format!("{percent}% of {} managed", self.managed_accounts));
        }
        write!(
            f,
            "limit `{}` tripped: {} account(s), over {}",
            self.kind.as_str(),
            self.count,
            bounds.join(" or ")
        )
    }
}

/// The limits `plan` goes over. Pure: the same plan and limits always give the same answer.
pub(crate) fn check(plan: &Plan, limits: &Limits) -> Vec<TrippedLimit> {
    let mut counted: BTreeMap<LimitKind, Vec<String>> = BTreeMap::new();
    for account in &plan.accounts {
        // A new AD account is created disabled and enabled at once: that is a creation, not
        // a lock lifted.
        let created = account
            .changes
            .iter()
            .any(|c| matches!(c.action, Action::Create { .. }));
        let mut kinds: Vec<LimitKind> = account
            .changes
            .iter()
            .filter_map(|c| match c.action {
                Action::Disable { .. } => Some(LimitKind::Disable),
                Action::Enable { .. } if !created => Some(LimitKind::Enable),
                Action::RemoveFromGroup { .. } => Some(LimitKind::GroupRemoval),
                Action::Move { .. } => Some(LimitKind::Move),
                Action::Create { .. } => Some(LimitKind::Create),
                Action::SetAttribute { .. } => Some(LimitKind::Update),
                _ => None,
            })
            .collect();
        kinds.sort();
        kinds.dedup();
        for kind in kinds {
            counted
                .entry(kind)
                .or_default()
                .push(account.employee_id.clone());
        }
    }
    counted.insert(
        LimitKind::Missing,
        plan.orphans.iter().map(|o| o.dn.to_string()).collect(),
    );
    let managed = plan.summary.directory_accounts;
    let mut tripped = Vec::new();
    for (kind, accounts) in counted {
        let Some(limit) = limits.kinds.get(&kind) else {
            continue;
        };
        let count = accounts.len();
        let over_count = limit.count.is_some_and(|max| count > max);
        let over_percent = limit.percent.is_some_and(|percent| {
            count >= limits.percent_floor && managed > 0 && count * 100 > percent as usize * managed
        });
        if over_count || over_percent {
            tripped.push(TrippedLimit {
                kind,
                count,
                limit: *limit,
                managed_accounts: managed,
                accounts,
            });
        }
    }
    tripped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dn::Dn;
    use crate::model::Reason;
    use crate::plan::{AccountPlan, Change, DisableMethod, Lifecycle, Orphan, Summary};

    fn plan(leavers: usize, orphans: usize, managed: usize) -> Plan {
        let leaver = |i: usize| AccountPlan {
            employee_id: i.to_string(),
            lifecycle: Lifecycle::Leaver,
            dn: Dn::parse(&format!("uid=u{i},dc=ex")).unwrap(),
            before: None,
            changes: vec![
                Change {
                    action: Action::Disable {
                        method: DisableMethod::PpolicyLock,
                        account_control: None,
                        expires: None,
                    },
                    reason: Reason::fact("x"),
                },
                Change {
                    action: Action::RemoveFromGroup {
                        group: Dn::parse("cn=a,dc=ex").unwrap(),
                    },
                    reason: Reason::fact("x"),
                },
                Change {
                    action: Action::RemoveFromGroup {
                        group: Dn::parse("cn=b,dc=ex").unwrap(),
                    },
                    reason: Reason::fact("x"),
                },
            ],
        };
        Plan {
            schema: crate::plan::PLAN_SCHEMA.into(),
            generated_at: chrono::DateTime::UNIX_EPOCH,
            summary: Summary {
                directory_accounts: managed,
                ..Summary::default()
            },
            accounts: (0..leavers).map(leaver).collect(),
            group_changes: vec![],
            skipped: vec![],
            orphans: (0..orphans)
                .map(|i| Orphan {
                    dn: Dn::parse(&format!("uid=o{i},dc=ex")).unwrap(),
                    correlation_id: i.to_string(),
                })
                .collect(),
            warnings: vec![],
            limits_tripped: vec![],
            scheduled: vec![],
            config: None,
        }
    }

    fn kinds(tripped: &[TrippedLimit]) -> Vec<LimitKind> {
        tripped.iter().map(|t| t.kind).collect()
    }

    #[test]
    fn a_normal_day_passes_and_small_directories_keep_their_leavers() {
        let limits = Limits::default();
        assert!(check(&plan(3, 0, 1000), &limits).is_empty());
        // 1 of 2 accounts is 50%, but under the percentage floor.
        assert!(check(&plan(1, 0, 2), &limits).is_empty());
    }

    #[test]
    fn counts_accounts_not_changes_and_names_them() {
        let limits = Limits {
            kinds: BTreeMap::from([(
                LimitKind::GroupRemoval,
                Limit {
                    count: Some(2),
                    percent: None,
                },
            )]),
            percent_floor: 5,
            max_plan_age_hours: 24,
        };
        // 2 accounts with 2 removals each: 2 accounts, not over 2.
        assert!(check(&plan(2, 0, 1000), &limits).is_empty());
        let tripped = check(&plan(3, 0, 1000), &limits);
        assert_eq!(kinds(&tripped), [LimitKind::GroupRemoval]);
        assert_eq!(tripped[0].accounts, ["0", "1", "2"]);
        assert_eq!(
            tripped[0].to_string(),
            "limit `group_removal` tripped: 3 account(s), over 2 account(s)"
        );
    }

    #[test]
    fn percentages_trip_above_the_floor() {
        let limits = Limits::default();
        // 10 of 100 disabled is 10%: not over 10%. 11 is.
        assert!(!kinds(&check(&plan(10, 0, 100), &limits)).contains(&LimitKind::Disable));
        assert!(kinds(&check(&plan(11, 0, 100), &limits)).contains(&LimitKind::Disable));
    }

    /// Issue 16.11: the floor is on the accounts counted, not on the managed accounts, as the
    /// Safety limits section of the book (docs/src/safety.md) says (and shows with these numbers).
    #[test]
    fn the_percentage_floor_counts_the_accounts_that_would_change() {
        let limits = Limits::default();
        // 4 of 20 is 20%, over 10%, but under the floor of 5 accounts; 5 of 20 trips.
        assert!(!kinds(&check(&plan(4, 0, 20), &limits)).contains(&LimitKind::Disable));
        assert!(kinds(&check(&plan(5, 0, 20), &limits)).contains(&LimitKind::Disable));
        // Below the floor in managed accounts is no exemption: 5 leavers is everyone.
        let everyone = check(&plan(5, 0, 5), &limits);
        assert!(kinds(&everyone).contains(&LimitKind::Disable));
        let page = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src/safety.md"),
        )
        .unwrap();
        let section = &page[page.find("\n## Safety limits\n").unwrap()..];
        let section = &section[..section[1..].find("\n## ").unwrap()];
        let prose = section.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            prose.contains(
                "with 20 managed accounts, 4 leavers (20%) pass the 10% `disable` limit and 5 trip it"
            ),
            "{prose}"
        );
    }

    #[test]
    fn an_empty_or_halved_hr_export_trips_missing() {
        let limits = Limits::default();
        assert_eq!(
            kinds(&check(&plan(0, 10, 10), &limits)),
            [LimitKind::Missing]
        );
        assert_eq!(
            kinds(&check(&plan(0, 50, 100), &limits)),
            [LimitKind::Missing]
        );
        assert!(
            check(&plan(0, 4, 100), &limits).is_empty(),
            "4% missing passes"
        );
    }
}
