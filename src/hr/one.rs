//! Reading one employee by id: how an absence is confirmed before anything is done to an account
//! whose person is missing from the list (a record can go missing from an offset-paged read when
//! HR changes under it), and how a webhook's employee is re-read.
//!
//! The record goes through exactly the list's normalisation (same fields, same status mapping,
//! same references), so an employee read alone equals the same employee read in the list.
//! Only an answer in which HR itself says there is no such employee is [`OneEmployee::Absent`]:
//! any failure (a time-out, a refusal, an answer about someone else) is an error, never an
//! absence.

use super::error::HrError;
use super::limits::within_deadline;
use super::normalize::normalize;
use super::rest::{Lookup, Lookups, RestConfig};
use super::{HrConfig, Source, checked, url_location};
use crate::model::{Employee, HrSnapshot, RejectedRecord};

/// What HR says about one id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OneEmployee {
    /// HR has a record with that id, read as the list would read it.
    Found(Box<Employee>),
    /// HR has a record with that id (or one it answered for that id) that cannot be read, as
    /// the list would reject it: the account is left alone, never treated as a leaver.
    Unreadable(RejectedRecord),
    /// HR says there is no such employee: HTTP 404 at the employee's own URL, or a filter on
    /// the id that matches no record.
    Absent,
}

/// Whether [`read_one`] can read an employee of this source: an API whose preset (BambooHR,
/// Personio, HiBob, SCIM, SuccessFactors) has a way to ask for one employee, or whose
/// `hr.rest.employee_url` is set. Not a Workday report, not an export file, and not a source
/// whose `[hr.references]` name records by something the API cannot look up.
pub fn can_read_one(config: &HrConfig) -> bool {
    lookup(config).is_ok()
}

/// Why [`read_one`] cannot read an employee of this source, if it cannot.
pub(crate) fn lookup_problem(config: &HrConfig) -> Result<(), String> {
    lookup(config).map(|_| ()).map_err(|e| e.to_string())
}

/// Reads the employee whose HR id is `id`, with the list's credentials, retries and
/// `[hr.limits]` (the lookup within `max_fetch_secs`), and normalises it as the list would. A
/// failure of any kind is an `Err`, never [`OneEmployee::Absent`]. To read several, open a
/// [`OneReader`] once.
pub async fn read_one(config: &HrConfig, id: &str) -> Result<OneEmployee, HrError> {
    OneReader::open(config).await?.read(id).await
}

/// Reads employees one at a time over one client and one set of credentials: one OAuth2 token
/// for them all (a token endpoint may allow a few a minute), and `requests_per_minute` kept
/// across them. What confirms many absences in one run.
pub struct OneReader<'c> {
    config: &'c HrConfig,
    rest: &'c RestConfig,
    lookups: Lookups<'c>,
}

impl<'c> OneReader<'c> {
    /// Opens the client and reads the credentials; an `Err` when the source cannot read one
    /// employee ([`can_read_one`]) or its credentials cannot be read.
    pub async fn open(config: &'c HrConfig) -> Result<OneReader<'c>, HrError> {
        let (rest, lookup) = lookup(config)?;
        let lookups = Lookups::open((rest, &config.limits), lookup, &config.fields).await?;
        Ok(Self {
            config,
            rest,
            lookups,
        })
    }

    /// [`read_one`] with this reader's client and credentials.
    pub async fn read(&self, id: &str) -> Result<OneEmployee, HrError> {
        let config = self.config;
        let reading = self.lookups.records(id);
        let at = || url_location(&self.rest.url);
        let Some((records, own)) = within_deadline(&config.limits, at, reading).await? else {
            return Ok(OneEmployee::Absent);
        };
        let snapshot = normalize(&records, &config.fields, &config.status);
        Ok(pick(snapshot, id, own))
    }
}

/// The source's API and how it looks up one employee, or why it cannot.
fn lookup(config: &HrConfig) -> Result<(&RestConfig, Lookup), HrError> {
    let source = checked(config)?;
    let Source::Rest(rest) = source else {
        return Err(HrError::CannotReadOne {
            why: "an export file lists everyone or no one".into(),
        });
    };
    let lookup = Lookup::for_source(rest, config.preset, &config.fields)
        .map_err(|why| HrError::CannotReadOne { why })?;
    Ok((rest, lookup))
}

/// The employee `id` in `snapshot`, whose first `own` records are the lookup's answer (the rest
/// are records its references name): found, unreadable (its record, or a record of the answer
/// whose id cannot be read), or absent.
fn pick(snapshot: HrSnapshot, id: &str, own: usize) -> OneEmployee {
    for warning in &snapshot.warnings {
        tracing::warn!(%warning, "HR record read alone");
    }
    let HrSnapshot {
        employees,
        rejected,
        ..
    } = snapshot;
    if let Some(employee) = employees.into_iter().find(|e| e.id == id) {
        return OneEmployee::Found(Box::new(employee));
    }
    let unreadable = rejected
        .iter()
        .position(|r| r.id.as_deref() == Some(id))
        .or_else(|| {
            rejected
                .iter()
                .position(|r| r.id.is_none() && r.index < own)
        });
    match unreadable {
        Some(position) => OneEmployee::Unreadable(rejected[position].clone()),
        None => OneEmployee::Absent,
    }
}
