//! Confirming an absence before an orphan loses its access (`lifecycle.disable_orphans`): a
//! record missing from one read may only mean that the read skipped it (a record deleted during
//! an offset-paged fetch shifts the pages). Either HR says, when asked for the employee alone,
//! that it has no such person (`HrSnapshot::single_reads`, filled by the run), or, for sources
//! that cannot be asked, a first run writes a mark with the time of its read and the next run
//! that still misses the record disables the account.

use super::*;
use crate::model::SingleRead;
use crate::plan::ABSENT_MARK_PREFIX;

/// What is known about an orphan's absence from HR.
pub(super) enum Absence {
    /// Confirmed, in these words: the account is deprovisioned now.
    Confirmed(String),
    /// Missing for the first time from a source that cannot be asked: the mark is written.
    FirstSeen,
    /// HR has the record, or could not say: the account is left as it is, with this warning.
    Unconfirmed(String),
}

impl Builder<'_> {
    /// What is known about the absence of employee `id`, whose account is `account`.
    pub(super) fn absence_of(&self, id: &str, account: &DirectoryAccount) -> Absence {
        let dn = &account.dn;
        match self.input.hr.single_reads.get(id) {
            Some(SingleRead::Absent) => {
                Absence::Confirmed("HR has no such employee when asked for them alone".into())
            }
            Some(SingleRead::Present) => Absence::Unconfirmed(format!(
                "employee {id}: missing from HR's list, but HR has the record when asked for it \
                 alone: the list read was incomplete; {dn} is left as it is"
            )),
            Some(SingleRead::Failed) => Absence::Unconfirmed(format!(
                "employee {id}: missing from HR's list and could not be read alone to confirm \
                 the absence; {dn} is left as it is"
            )),
            None => match self.absent_mark(account) {
                Some(mark) => Absence::Confirmed(format!(
                    "absent from HR {} and still absent now",
                    mark.get(ABSENT_MARK_PREFIX.len()..).unwrap_or(mark)
                )),
                None => Absence::FirstSeen,
            },
        }
    }

    /// The value of hrsync's absence mark on `account`, if it carries one.
    fn absent_mark<'b>(&self, account: &'b DirectoryAccount) -> Option<&'b str> {
        let key = self
            .input
            .policy
            .disabled_mark
            .attribute
            .to_ascii_lowercase();
        account.values(&key).iter().map(String::as_str).find(|v| {
            v.get(..ABSENT_MARK_PREFIX.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(ABSENT_MARK_PREFIX))
        })
    }

    /// The mark a first run that misses `id`'s record writes: the time of its read.
    pub(super) fn mark_absent(&self, id: &str) -> Change {
        let since = self
            .input
            .now
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Change {
            action: Action::AddValue {
                attribute: self.input.policy.disabled_mark.attribute.clone(),
                value: format!("{ABSENT_MARK_PREFIX}{since}"),
            },
            reason: Reason::new(
                format!(
                    "no HR record has {}={id}: absent from HR since {since}; disabled if still \
                     absent at the next run",
                    self.input.mappings.correlation.attribute
                ),
                "lifecycle.disable_orphans",
            ),
        }
    }

    /// Taking the absence mark off `account`: its record is back, or its absence confirmed.
    pub(super) fn unmark_absent(&self, account: &DirectoryAccount, why: &str) -> Option<Change> {
        let value = self.absent_mark(account)?;
        Some(Change {
            action: Action::RemoveValue {
                attribute: self.input.policy.disabled_mark.attribute.clone(),
                value: value.to_string(),
            },
            reason: Reason::fact(why.to_string()),
        })
    }
}
