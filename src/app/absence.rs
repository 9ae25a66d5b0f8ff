//! Confirming with HR that an employee missing from its list is really gone, before the planner
//! may disable their account (`lifecycle.disable_orphans`; the rules are in
//! `plan/planner/absence.rs`). A record missing from one read may only mean that the read skipped
//! it: where the source can read one employee ([`hr::can_read_one`]), each such employee is asked
//! for alone and HR's answer goes to the planner; sources that cannot be asked confirm by a second
//! run instead (the absence mark the planner writes).

use std::collections::BTreeSet;

use super::pipeline::Sides;
use crate::config::Config;
use crate::hr::{self, OneEmployee, OneReader};
use crate::model::{DirectorySnapshot, HrSnapshot, SingleRead};

/// At most this many employees missing from HR's list are asked for one by one per run: a list
/// that lost thousands of records trips the `missing` limit anyway, and asking for each would
/// hammer the HR API. The ones not asked stay unconfirmed (left as they are, with a warning).
const SINGLE_READS_MAX: usize = 100;

/// Asks HR for each enabled account's employee that the list left out, and records what HR
/// answered in `sides.hr.single_reads`. A read that fails confirms nothing.
pub(super) async fn confirm(config: &Config, sides: &mut Sides) {
    if !config.directory.policy.disable_orphans || !hr::can_read_one(&config.hr) {
        return;
    }
    let candidates = candidates(&sides.hr, &sides.directory);
    if candidates.is_empty() {
        return;
    }
    let reader = match OneReader::open(&config.hr).await {
        Ok(reader) => Some(reader),
        Err(error) => {
            tracing::warn!(%error, "cannot read single employees to confirm absences");
            None
        }
    };
    for (n, id) in candidates.into_iter().enumerate() {
        let answer = match &reader {
            Some(reader) if n < SINGLE_READS_MAX => ask(reader, &id).await,
            _ => SingleRead::Failed,
        };
        sides.hr.single_reads.insert(id, answer);
    }
}

async fn ask(reader: &OneReader<'_>, id: &str) -> SingleRead {
    match reader.read(id).await {
        Ok(OneEmployee::Absent) => SingleRead::Absent,
        Ok(OneEmployee::Found(_) | OneEmployee::Unreadable(..)) => SingleRead::Present,
        Err(error) => {
            // HrError names the endpoint and the status; bodies are redacted of credentials.
            tracing::warn!(id, %error, "could not read one employee to confirm an absence");
            SingleRead::Failed
        }
    }
}

/// The correlation values of enabled accounts that no HR record (read or rejected) claims: the
/// employees whose absence could cost them access. Accounts already disabled are not asked
/// about on every run.
fn candidates(hr: &HrSnapshot, directory: &DirectorySnapshot) -> Vec<String> {
    let listed: BTreeSet<&str> = hr
        .employees
        .iter()
        .map(|e| e.id.as_str())
        .chain(hr.rejected.iter().filter_map(|r| r.id.as_deref()))
        .collect();
    let missing: BTreeSet<&str> = directory
        .accounts
        .iter()
        .filter(|a| !a.disabled)
        .filter_map(|a| a.correlation_id.as_deref())
        .filter(|id| !listed.contains(id))
        .collect();
    missing.into_iter().map(str::to_string).collect()
}
