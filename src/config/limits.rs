//! `[limits]`: how much one run may change. The limits themselves are the planner's
//! ([`Limits`]); this is only how the file spells them.

use serde::Deserialize;

use crate::plan::limits::{Limit, LimitKind, Limits};
use crate::problem::ConfigProblem;

/// `[limits]`: how much one run may change (see docs/src/safety.md, "Safety limits"). Each kind is
/// `{ count = N, percent = P }`; a kind left out keeps its default, a bound left out is no bound.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    /// A percentage only trips once at least this many accounts would change in that way
    /// (default 5).
    percent_floor: Option<usize>,
    /// `apply --plan FILE` refuses a plan older than this (default 24).
    max_plan_age_hours: Option<u32>,
    disable: Option<Limit>,
    enable: Option<Limit>,
    group_removal: Option<Limit>,
    #[serde(rename = "move")]
    moves: Option<Limit>,
    create: Option<Limit>,
    update: Option<Limit>,
    missing: Option<Limit>,
}

impl RawLimits {
    pub(super) fn into_limits(self, problems: &mut Vec<ConfigProblem>) -> Limits {
        let mut limits = Limits::default();
        if let Some(floor) = self.percent_floor {
            limits.percent_floor = floor;
        }
        if let Some(hours) = self.max_plan_age_hours {
            limits.max_plan_age_hours = hours;
        }
        for (kind, limit) in [
            (LimitKind::Disable, self.disable),
            (LimitKind::Enable, self.enable),
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
