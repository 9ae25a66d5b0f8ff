//! `--only` and `--employee`: a plan cut down to some accounts.
//!
//! `plan` shows the cut-down plan (and saves it with `--out`, so what is approved is what was
//! shown); `apply` given the same options applies only those accounts. Either way the cut is
//! made here, once, on a whole plan the planner made: the planner never sees a filter, so a
//! filtered account's changes are exactly the ones an unfiltered run would make for it.

use std::collections::BTreeSet;

use super::{AccountPlan, Action, GroupAction, Lifecycle, Plan};
use crate::dn::Dn;

/// A lifecycle as `--only` names it: the plural an admin says ("only the leavers"); the
/// singular is accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Only {
    #[value(alias = "joiner")]
    Joiners,
    #[value(alias = "mover")]
    Movers,
    #[value(alias = "leaver")]
    Leavers,
    #[value(alias = "rehire")]
    Rehires,
    #[value(alias = "return")]
    Returns,
    #[value(alias = "update")]
    Updates,
}

impl Only {
    fn lifecycle(self) -> Lifecycle {
        match self {
            Self::Joiners => Lifecycle::Joiner,
            Self::Movers => Lifecycle::Mover,
            Self::Leavers => Lifecycle::Leaver,
            Self::Rehires => Lifecycle::Rehire,
            Self::Returns => Lifecycle::Return,
            Self::Updates => Lifecycle::Update,
        }
    }
}

/// Which accounts to keep: those of one of `lifecycles` (any when empty) and of one of
/// `employees` (any when empty). No filter at all keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    lifecycles: BTreeSet<Lifecycle>,
    employees: BTreeSet<String>,
}

impl Filter {
    pub fn new(only: &[Only], employees: &[String]) -> Self {
        Self {
            lifecycles: only.iter().map(|o| o.lifecycle()).collect(),
            employees: employees.iter().cloned().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lifecycles.is_empty() && self.employees.is_empty()
    }

    fn keeps(&self, account: &AccountPlan) -> bool {
        (self.lifecycles.is_empty() || self.lifecycles.contains(&account.lifecycle))
            && self.keeps_employee(Some(&account.employee_id))
    }

    fn keeps_employee(&self, id: Option<&String>) -> bool {
        self.employees.is_empty() || id.is_some_and(|id| self.employees.contains(id))
    }

    /// The filter in words: `leavers, employee 17`.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .lifecycles
            .iter()
            .map(|l| format!("{}s", l.as_str()))
            .collect();
        parts.extend(self.employees.iter().map(|id| format!("employee {id}")));
        parts.join(", ")
    }
}

impl Plan {
    /// The plan cut down to the accounts `filter` keeps, counted again.
    ///
    /// What belongs to no account follows the accounts kept: a skipped entry or a termination
    /// to come is kept when `--employee` names it (or names no one), an orphan only when no
    /// employee is named. Warnings stay: they are about the run. A placeholder member is added
    /// only where a kept account leaves the group (harmless even if others stay: the next full
    /// run takes it out again), and taken out only where a kept account joins it, so that no
    /// `groupOfNames` is ever left without a member. The safety limits are left to the caller,
    /// which counts them on what it applies.
    pub fn only(&self, filter: &Filter) -> Plan {
        if filter.is_empty() {
            return self.clone();
        }
        let accounts: Vec<AccountPlan> = self
            .accounts
            .iter()
            .filter(|a| filter.keeps(a))
            .cloned()
            .collect();
        let touched = |left: bool| -> BTreeSet<&Dn> {
            accounts
                .iter()
                .flat_map(|a| &a.changes)
                .filter_map(|c| match &c.action {
                    Action::RemoveFromGroup { group } if left => Some(group),
                    Action::AddToGroup { group } if !left => Some(group),
                    _ => None,
                })
                .collect()
        };
        let (left, joined) = (touched(true), touched(false));
        let group_changes = self
            .group_changes
            .iter()
            .filter(|c| match c.action {
                GroupAction::AddPlaceholder => left.contains(&c.group),
                GroupAction::RemovePlaceholder => joined.contains(&c.group),
            })
            .cloned()
            .collect();
        let mut plan = Plan {
            accounts,
            group_changes,
            skipped: self
                .skipped
                .iter()
                .filter(|s| filter.keeps_employee(s.employee_id.as_ref()))
                .cloned()
                .collect(),
            scheduled: self
                .scheduled
                .iter()
                .filter(|s| filter.keeps_employee(Some(&s.employee_id)))
                .cloned()
                .collect(),
            orphans: if filter.employees.is_empty() {
                self.orphans.clone()
            } else {
                Vec::new()
            },
            schema: self.schema.clone(),
            generated_at: self.generated_at,
            summary: self.summary.clone(),
            warnings: self.warnings.clone(),
            limits_tripped: self.limits_tripped.clone(),
            config: self.config.clone(),
        };
        plan.summary.skipped = plan.skipped.len();
        plan.summary.orphans = plan.orphans.len();
        plan.count();
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::every_lifecycle;

    fn dns(plan: &Plan) -> Vec<String> {
        plan.accounts
            .iter()
            .map(|a| format!("{} {}", a.lifecycle.as_str(), a.employee_id))
            .collect()
    }

    #[test]
    fn no_filter_keeps_the_plan_whole() {
        let plan = every_lifecycle();
        assert_eq!(plan.only(&Filter::default()), plan);
    }

    #[test]
    fn only_leavers_keeps_the_leaver_and_counts_again() {
        let plan = every_lifecycle();
        let cut = plan.only(&Filter::new(&[Only::Leavers], &[]));
        assert_eq!(dns(&cut), ["leaver 3"]);
        assert_eq!(
            (
                cut.summary.leavers,
                cut.summary.joiners,
                cut.summary.changes
            ),
            (1, 0, 4)
        );
        // The sales group's placeholder goes only when a kept account joins it: none does.
        assert!(cut.group_changes.is_empty(), "{:?}", cut.group_changes);
        // What belongs to no account stays: nobody was named.
        assert_eq!(cut.skipped, plan.skipped);
        assert_eq!(cut.orphans, plan.orphans);
        assert_eq!(cut.scheduled, plan.scheduled);
        assert_eq!(cut.warnings, plan.warnings);
    }

    #[test]
    fn a_kept_account_joining_a_group_keeps_the_placeholder_s_removal() {
        let plan = every_lifecycle();
        let movers = plan.only(&Filter::new(&[Only::Movers, Only::Updates], &[]));
        assert_eq!(dns(&movers), ["mover 2", "update 6"]);
        assert_eq!(movers.group_changes, plan.group_changes);
        assert_eq!(movers.summary.changes, 5 + 1 + 1);
    }

    #[test]
    fn an_employee_keeps_their_account_and_their_own_entries_only() {
        let plan = every_lifecycle();
        let di = plan.only(&Filter::new(&[], &["4".to_string()]));
        assert_eq!(dns(&di), ["rehire 4"]);
        assert_eq!(di.group_changes, plan.group_changes, "Di joins sales");
        assert!(di.skipped.is_empty() && di.orphans.is_empty() && di.scheduled.is_empty());
        assert_eq!((di.summary.skipped, di.summary.orphans), (0, 0));
        // Skipped and scheduled entries follow the employee named.
        let hal = plan.only(&Filter::new(&[], &["8".to_string(), "7".to_string()]));
        assert!(hal.accounts.is_empty() && !hal.has_changes());
        assert_eq!(hal.skipped.len(), 1);
        assert_eq!(hal.scheduled.len(), 1);
        // Both filters: the employee must also be of the lifecycle.
        let none = plan.only(&Filter::new(&[Only::Joiners], &["4".to_string()]));
        assert!(!none.has_changes());
    }

    #[test]
    fn the_filter_says_what_it_keeps() {
        let filter = Filter::new(&[Only::Leavers, Only::Joiners], &["17".into()]);
        assert_eq!(filter.describe(), "joiners, leavers, employee 17");
    }
}
