//! The employees changed since a time, for the frequent `schedule.changes` run of `hrsync
//! run`: only sources whose API can say (see `rest::changes`) offer it.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::error::HrError;
use super::limits::within_deadline;
use super::rest::{Changes, changed_ids};
use super::{HrConfig, Source, checked, url_location};

/// Whether this source can list the employees changed since a time; why not, when it cannot.
pub fn can_read_changes(config: &HrConfig) -> Result<(), String> {
    changes(config).map(|_| ())
}

fn changes(config: &HrConfig) -> Result<Changes, String> {
    let Source::Rest(rest) = checked(config).map_err(|e| e.to_string())? else {
        return Err("an export file says nothing of what changed".to_string());
    };
    Changes::for_source(rest, config.preset)
}

/// The ids of the employees changed since `since`, within `[hr.limits] max_fetch_secs`.
pub async fn read_changed(
    config: &HrConfig,
    since: DateTime<Utc>,
) -> Result<BTreeSet<String>, HrError> {
    let changes = changes(config).map_err(HrError::Config)?;
    let Ok(Source::Rest(rest)) = checked(config) else {
        return Err(HrError::Config("not an API source".to_string()));
    };
    let at = || url_location(&rest.url);
    let reading = changed_ids((rest, &config.limits), &changes, &config.fields, since);
    within_deadline(&config.limits, at, reading).await
}
