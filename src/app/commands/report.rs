//! Read-only reviews: what `hrsync explain` and `hrsync report access` read, and the access
//! report itself.
//!
//! Both read HR and the directory exactly as `plan` does and make the same plan (the planner is
//! the one source of truth about what hrsync would do, each employee's status included); neither
//! ever writes. The access report is for the periodic access review that security and HR run
//! together: per account, every piece of access that does not follow from the person's role,
//! with the reason and what the next `hrsync apply` would do about it.
//!
//! Its JSON form (`hrsync report access --format json`) is a stable, versioned schema,
//! [`ACCESS_REPORT_SCHEMA`]; see docs/src/explain-and-review.md.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::app::RunError;
use crate::app::pipeline::{self, HrRead, Reading, Sides};
use crate::config::Config;
use crate::directory::Directory;
use crate::dn::Dn;
use crate::mapping::Mappings;
use crate::model::{DirectoryAccount, DirectorySnapshot, Employee, EmploymentStatus, HrSnapshot};
use crate::plan::{Action, Plan, Policy, planner};

/// Reads both sides through the pipeline (the very HR path `plan` takes, with HR's raw records),
/// plans, and hands what was read and planned, and the open directory, to `work`.
pub(crate) async fn with_inputs<T>(
    config: &Config,
    now: DateTime<Utc>,
    work: impl AsyncFnOnce(&mut Directory, Inputs) -> Result<T, RunError>,
) -> Result<T, RunError> {
    let reading = Reading::of(HrRead::WithRecords, now);
    pipeline::with_sides(config, reading, async |directory, sides| {
        let plan = pipeline::plan(config, &sides, now);
        let Sides {
            hr,
            records,
            directory: snapshot,
        } = sides;
        let inputs = Inputs {
            records,
            hr,
            directory: snapshot,
            plan,
        };
        work(directory, inputs).await
    })
    .await
}

/// `hrsync report access`: reads everything, including every group each account is in, and
/// renders the report. Never writes.
pub async fn run_access(
    config: &Config,
    format: OutputFormat,
    groups_base: Option<Dn>,
    now: DateTime<Utc>,
) -> Result<String, RunError> {
    let groups_base = groups_base.unwrap_or_else(|| config.directory.uniqueness_base.clone());
    let (inputs, (groups_read, memberships)) =
        with_inputs(config, now, async |directory, inputs| {
            let memberships = directory
                .memberships(&groups_base, &config.mappings.groups.member_attribute)
                .await?;
            Ok((inputs, memberships))
        })
        .await?;
    let report = access_report(&AccessInput {
        review: &inputs.review(config, now),
        memberships: &memberships,
        groups_base: &groups_base,
        groups_read,
        hold_group: config.directory.hold_group.as_ref(),
    });
    Ok(match format {
        OutputFormat::Text => access_text(&report),
        OutputFormat::Json => to_json(&report),
    })
}

/// The schema identifier of the access report. Bump the version on any incompatible change.
pub(crate) const ACCESS_REPORT_SCHEMA: &str = "hrsync.access-report/v1";

/// How `explain` and `report` print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// What [`with_inputs`] reads and plans, owned.
#[derive(Debug, Clone)]
pub(crate) struct Inputs {
    pub records: Vec<Value>,
    pub hr: HrSnapshot,
    pub directory: DirectorySnapshot,
    pub plan: Plan,
}

impl Inputs {
    pub(crate) fn review<'a>(&'a self, config: &'a Config, now: DateTime<Utc>) -> ReviewInput<'a> {
        ReviewInput {
            records: &self.records,
            hr: &self.hr,
            directory: &self.directory,
            plan: &self.plan,
            mappings: &config.mappings,
            policy: &config.directory.policy,
            now,
        }
    }
}

/// What `explain` and `report access` are made from: both sides as read, the plan made from
/// them, and the configuration the plan was made with. Pure data, no I/O: each review is a
/// function of it.
pub(crate) struct ReviewInput<'a> {
    /// The HR records as HR sent them (explain shows an employee's).
    pub records: &'a [Value],
    /// What the records normalised to: the employees and the rejected records.
    pub hr: &'a HrSnapshot,
    pub directory: &'a DirectorySnapshot,
    pub plan: &'a Plan,
    pub mappings: &'a Mappings,
    /// The policy the plan was made with: it decides each employee's status at `now`.
    pub policy: &'a Policy,
    /// The plan's `now`.
    pub now: DateTime<Utc>,
}

impl ReviewInput<'_> {
    /// The employee's status as the planner decides it: HR's status corrected by the dates in
    /// the employee's time zone, at the plan's time.
    pub(crate) fn status_of(&self, employee: &Employee) -> EmploymentStatus {
        self.policy.effective(employee, self.now).status
    }
}

/// Pretty JSON with a final newline. Serialising plain data with string keys cannot fail; fall
/// back to an empty object rather than panic if it ever did.
pub(crate) fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".to_string()) + "\n"
}

/// What the access report is made from. Pure data: the report is a function of it.
pub(crate) struct AccessInput<'a> {
    pub review: &'a ReviewInput<'a>,
    /// Every group found under `groups_base`, by member: member DN -> groups.
    pub memberships: &'a BTreeMap<Dn, BTreeSet<Dn>>,
    pub groups_base: &'a Dn,
    pub groups_read: usize,
    /// `offboarding.hold_group`: membership in it is hrsync's own mark of an offboarded
    /// account, not access, so it is no finding.
    pub hold_group: Option<&'a Dn>,
}

/// `hrsync report access --format json` (schema [`ACCESS_REPORT_SCHEMA`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct AccessReport {
    pub schema: String,
    pub generated_at: DateTime<Utc>,
    /// Where groups were searched for memberships outside the mappings.
    pub groups_base: Dn,
    pub groups_read: usize,
    pub summary: AccessSummary,
    /// Accounts with at least one finding, in DN order.
    pub accounts: Vec<AccountFindings>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct AccessSummary {
    /// Correlated accounts (those with the correlation attribute) that were reviewed.
    pub accounts_reviewed: usize,
    pub accounts_with_findings: usize,
    pub findings: usize,
    pub orphan: usize,
    pub leaver_enabled: usize,
    pub leaver_in_managed_group: usize,
    pub managed_group_not_from_role: usize,
    pub unmanaged_group: usize,
    pub disabled_outside_hrsync: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct AccountFindings {
    pub dn: Dn,
    /// The account's correlation value (the HR id it claims).
    pub employee_id: String,
    /// `active`, `leave`, `pending`, `terminated`; `not_in_hr` (an orphan) or `unreadable` (HR
    /// has a record with this id that could not be read).
    pub hr_status: String,
    pub disabled: bool,
    /// Offboarded with `hrsync offboard` (in `offboarding.hold_group`).
    pub held: bool,
    /// Why hrsync never changes this account, if it is protected.
    pub protected: Option<String>,
    /// In a fixed order: by kind (as listed in [`FindingKind`]), then group.
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Finding {
    pub kind: FindingKind,
    /// The group concerned (group findings only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<Dn>,
    /// Why this access does not follow from the person's role.
    pub reason: String,
    /// What the next `hrsync apply` does about it, or why it does nothing.
    pub next_apply: String,
}

/// The kinds of finding, in the order they are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FindingKind {
    /// A correlated account with no HR record.
    Orphan,
    /// HR says terminated and the account is not disabled.
    LeaverEnabled,
    /// HR says terminated and the account is still in a managed group.
    LeaverInManagedGroup,
    /// A managed group the rules do not give the person (a pending removal).
    ManagedGroupNotFromRole,
    /// A group the mappings do not name: no role grants it.
    UnmanagedGroup,
    /// HR says active, and the account is locked by someone else (an admin, an offboarding):
    /// hrsync leaves it locked.
    DisabledOutsideHrsync,
}

/// What HR says about an account's id.
enum HrSide<'a> {
    /// The employee, with their status as the planner decides it.
    Employee(&'a Employee, EmploymentStatus),
    Unreadable,
    Missing,
}

impl HrSide<'_> {
    fn status(&self) -> Option<EmploymentStatus> {
        match self {
            Self::Employee(_, status) => Some(*status),
            Self::Unreadable | Self::Missing => None,
        }
    }

    fn as_str(&self) -> &'static str {
        match self {
            Self::Employee(_, status) => status.as_str(),
            Self::Unreadable => "unreadable",
            Self::Missing => "not_in_hr",
        }
    }
}

pub(crate) fn access_report(input: &AccessInput) -> AccessReport {
    let review = input.review;
    let managed = review.mappings.managed_groups();
    let employees: BTreeMap<&str, &Employee> = review
        .hr
        .employees
        .iter()
        .map(|e| (e.id.as_str(), e))
        .collect();
    let unreadable: BTreeSet<&str> = review
        .hr
        .rejected
        .iter()
        .filter_map(|r| r.id.as_deref())
        .collect();
    let mut summary = AccessSummary::default();
    let mut accounts = Vec::new();
    for account in &review.directory.accounts {
        let Some(id) = account.correlation_id.as_deref() else {
            continue;
        };
        summary.accounts_reviewed += 1;
        let side = match employees.get(id) {
            Some(employee) => HrSide::Employee(employee, review.status_of(employee)),
            None if unreadable.contains(id) => HrSide::Unreadable,
            None => HrSide::Missing,
        };
        let findings = account_findings(input, account, id, &side, &managed);
        if findings.is_empty() {
            continue;
        }
        summary.count(&findings);
        accounts.push(AccountFindings {
            dn: account.dn.clone(),
            employee_id: id.to_string(),
            hr_status: side.as_str().to_string(),
            disabled: account.disabled,
            held: account.held,
            protected: account.protected.clone(),
            findings,
        });
    }
    accounts.sort_by(|a, b| a.dn.cmp(&b.dn).then(a.employee_id.cmp(&b.employee_id)));
    summary.accounts_with_findings = accounts.len();
    AccessReport {
        schema: ACCESS_REPORT_SCHEMA.to_string(),
        generated_at: review.now,
        groups_base: input.groups_base.clone(),
        groups_read: input.groups_read,
        summary,
        accounts,
    }
}

impl AccessSummary {
    fn count(&mut self, findings: &[Finding]) {
        for finding in findings {
            self.findings += 1;
            match finding.kind {
                FindingKind::Orphan => self.orphan += 1,
                FindingKind::LeaverEnabled => self.leaver_enabled += 1,
                FindingKind::LeaverInManagedGroup => self.leaver_in_managed_group += 1,
                FindingKind::ManagedGroupNotFromRole => self.managed_group_not_from_role += 1,
                FindingKind::UnmanagedGroup => self.unmanaged_group += 1,
                FindingKind::DisabledOutsideHrsync => self.disabled_outside_hrsync += 1,
            }
        }
    }
}

/// One account's findings, in a fixed order: by kind, then group.
fn account_findings(
    input: &AccessInput,
    account: &DirectoryAccount,
    id: &str,
    side: &HrSide,
    managed: &BTreeSet<Dn>,
) -> Vec<Finding> {
    let review = input.review;
    let state = planner::account_state(account, review.directory, review.mappings);
    let outlook = Outlook::new(review.plan, account, id);
    let mut findings = Vec::new();
    match side {
        HrSide::Missing => findings.push(orphan_finding(review, id, &state.groups, &outlook)),
        HrSide::Employee(employee, EmploymentStatus::Terminated) => {
            findings.extend(leaver_findings(employee, account, &state.groups, &outlook));
        }
        HrSide::Employee(employee, status) => {
            findings.extend(role_findings(
                review,
                employee,
                *status,
                &state.groups,
                &outlook,
            ));
            findings.extend(locked_by_someone_else(account, &outlook));
        }
        HrSide::Unreadable => {}
    }
    findings.extend(unmanaged_findings(input, account, side, managed));
    findings.sort_by(|a, b| a.kind.cmp(&b.kind).then(a.group.cmp(&b.group)));
    findings
}

/// An account HR says should be in use, locked by someone else: the planner leaves it alone
/// (see its skip reason), and a person should know.
fn locked_by_someone_else(account: &DirectoryAccount, outlook: &Outlook) -> Option<Finding> {
    let why = outlook.left_alone.as_deref()?;
    (account.disabled && why.starts_with(DISABLED_OUTSIDE)).then(|| Finding {
        kind: FindingKind::DisabledOutsideHrsync,
        group: None,
        reason: why.to_string(),
        next_apply: "nothing: hrsync lifts only the locks it set; enable it by hand if it should \
                     be"
        .to_string(),
    })
}

/// How the planner's skip reason for such an account begins.
const DISABLED_OUTSIDE: &str = "disabled outside hrsync";

/// A correlated account that no HR record claims.
fn orphan_finding(review: &ReviewInput, id: &str, groups: &[Dn], outlook: &Outlook) -> Finding {
    let groups = if groups.is_empty() {
        String::new()
    } else {
        format!(
            "; it is in managed group(s) {}",
            groups
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Finding {
        kind: FindingKind::Orphan,
        group: None,
        reason: format!(
            "no HR record has id {id} (the account's {}), so no role accounts for its \
             access{groups}",
            review.mappings.correlation.attribute
        ),
        next_apply: if let Some(why) = outlook.change(|a| matches!(a, Action::Disable { .. })) {
            format!("hrsync apply disables the account, its absence confirmed: {why}")
        } else if let Some(why) = outlook.change(|a| {
            matches!(a, Action::AddValue { value, .. }
                if value.starts_with(crate::plan::ABSENT_MARK_PREFIX))
        }) {
            format!("awaiting confirmation: hrsync apply only marks the account: {why}")
        } else {
            outlook.unplanned(
                "nothing: hrsync does not change an account without an HR record; disable \
                 or delete it by hand, or correct HR",
            )
        },
    }
}

/// A leaver keeps neither an enabled account nor any managed group.
fn leaver_findings(
    employee: &Employee,
    account: &DirectoryAccount,
    groups: &[Dn],
    outlook: &Outlook,
) -> Vec<Finding> {
    let left = leaver_fact(employee);
    let mut findings = Vec::new();
    if !account.disabled {
        findings.push(Finding {
            kind: FindingKind::LeaverEnabled,
            group: None,
            reason: format!("{left}, but the account is not disabled"),
            next_apply: outlook.planned(
                |a| matches!(a, Action::Disable { .. }),
                "disables the account",
            ),
        });
    }
    for group in groups {
        findings.push(Finding {
            kind: FindingKind::LeaverInManagedGroup,
            group: Some(group.clone()),
            reason: format!("{left}, and a leaver keeps no managed group"),
            next_apply: outlook.planned(
                |a| matches!(a, Action::RemoveFromGroup { group: g } if g == group),
                "removes the account from the group",
            ),
        });
    }
    findings
}

/// Managed groups the person's role does not give: the plan's pending removals, with its
/// reasons; for an account the plan leaves alone (protected, skipped), the role of an active
/// employee says what belongs.
fn role_findings(
    review: &ReviewInput,
    employee: &Employee,
    status: EmploymentStatus,
    groups: &[Dn],
    outlook: &Outlook,
) -> Vec<Finding> {
    let role = (status == EmploymentStatus::Active && outlook.actions.is_empty())
        .then(|| review.mappings.assign(employee, status));
    let mut findings = Vec::new();
    for group in groups {
        let removing = |a: &Action| matches!(a, Action::RemoveFromGroup { group: g } if g == group);
        let reason = match (outlook.change(removing), &role) {
            (Some(reason), _) => reason,
            (None, Some(role)) if !role.groups.contains_key(group) => format!(
                "no rule and no birthright gives this group to {}",
                planner::role_facts(employee)
            ),
            _ => continue,
        };
        findings.push(Finding {
            kind: FindingKind::ManagedGroupNotFromRole,
            group: Some(group.clone()),
            reason,
            next_apply: outlook.planned(removing, "removes the account from the group"),
        });
    }
    findings
}

/// Memberships in groups the mappings do not name (hrsync's own hold group aside).
fn unmanaged_findings(
    input: &AccessInput,
    account: &DirectoryAccount,
    side: &HrSide,
    managed: &BTreeSet<Dn>,
) -> Vec<Finding> {
    let whose = match (side, side.status()) {
        (_, Some(EmploymentStatus::Terminated)) => "; and the person has left",
        (HrSide::Missing, _) => "; and the account has no HR record",
        _ => "",
    };
    input
        .memberships
        .get(&account.dn)
        .into_iter()
        .flatten()
        .filter(|g| !managed.contains(*g) && Some(*g) != input.hold_group)
        .map(|group| Finding {
            kind: FindingKind::UnmanagedGroup,
            group: Some(group.clone()),
            reason: format!(
                "the mappings do not name this group, so no role grants it (it was granted by \
                 hand or by another tool){whose}"
            ),
            next_apply: "nothing: hrsync never changes a group the mappings do not name; \
                         remove the membership by hand, or add a rule that grants it"
                .to_string(),
        })
        .collect()
}

/// What the plan does (or why it does nothing) about one account.
struct Outlook<'a> {
    actions: Vec<(&'a Action, String)>,
    left_alone: Option<String>,
}

impl<'a> Outlook<'a> {
    fn new(plan: &'a Plan, account: &DirectoryAccount, id: &str) -> Self {
        let actions = plan
            .accounts
            .iter()
            .filter(|a| a.employee_id == id && a.dn == account.dn)
            .flat_map(|a| a.changes.iter())
            .map(|c| (&c.action, c.masked().reason.to_string()))
            .collect();
        let left_alone = plan
            .skipped
            .iter()
            .find(|s| {
                s.dn.as_ref() == Some(&account.dn)
                    || (s.dn.is_none() && s.employee_id.as_deref() == Some(id))
            })
            .map(|s| s.reason.clone())
            .or_else(|| {
                account
                    .protected
                    .as_ref()
                    .map(|why| format!("protected account ({why}); hrsync never changes it"))
            });
        Self {
            actions,
            left_alone,
        }
    }

    /// The reason of the planned change that `wanted` picks, if the plan has one.
    fn change(&self, wanted: impl Fn(&Action) -> bool) -> Option<String> {
        self.actions
            .iter()
            .find(|(a, _)| wanted(a))
            .map(|(_, reason)| reason.clone())
    }

    fn planned(&self, wanted: impl Fn(&Action) -> bool, does: &str) -> String {
        if self.change(wanted).is_some() {
            return format!("hrsync apply {does}");
        }
        self.unplanned("nothing is planned for it; run hrsync plan to see why")
    }

    fn unplanned(&self, otherwise: &str) -> String {
        match &self.left_alone {
            Some(why) => format!("nothing: {why}; fix it by hand"),
            None => otherwise.to_string(),
        }
    }
}

fn leaver_fact(employee: &Employee) -> String {
    let mut fact = "HR status = terminated".to_string();
    if !employee.status_source.is_empty() && employee.status_source != "terminated" {
        let _ = write!(fact, " ({:?})", employee.status_source);
    }
    if let Some(date) = employee.termination_date {
        let _ = write!(fact, ", termination date {date}");
    }
    fact
}

/// The access report for people: per account, each finding with its reason and what the next
/// apply does about it.
pub(crate) fn access_text(report: &AccessReport) -> String {
    let mut out = String::new();
    let s = &report.summary;
    // Writing to a String cannot fail: the results of write! are ignored deliberately.
    let _ = writeln!(
        out,
        "hrsync access report: {} finding(s) on {} of {} correlated account(s)",
        s.findings, s.accounts_with_findings, s.accounts_reviewed
    );
    let _ = writeln!(
        out,
        "groups read under {}: {} (memberships in groups elsewhere are not seen)",
        report.groups_base, report.groups_read
    );
    if report.accounts.is_empty() {
        let _ = writeln!(
            out,
            "\nNo findings: every reviewed account's access follows from its role."
        );
        return out;
    }
    let _ = writeln!(
        out,
        "{} orphan(s), {} leaver(s) still enabled, {} leaver membership(s) in managed groups, \
         {} managed group(s) not from the role, {} unmanaged group membership(s), {} account(s) \
         locked outside hrsync while HR says active",
        s.orphan,
        s.leaver_enabled,
        s.leaver_in_managed_group,
        s.managed_group_not_from_role,
        s.unmanaged_group,
        s.disabled_outside_hrsync
    );
    for account in &report.accounts {
        let hr = match account.hr_status.as_str() {
            "not_in_hr" => "not in HR".to_string(),
            "unreadable" => "HR record unreadable".to_string(),
            status => format!("HR: {status}"),
        };
        let _ = write!(
            out,
            "\n{} (employee {}; {hr}; {}",
            account.dn,
            account.employee_id,
            if account.disabled {
                "disabled"
            } else {
                "enabled"
            }
        );
        if account.held {
            let _ = write!(out, "; offboarded (held)");
        }
        if let Some(why) = &account.protected {
            let _ = write!(out, "; protected: {why}");
        }
        let _ = writeln!(out, ")");
        for finding in &account.findings {
            let group = finding
                .group
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            let what = match finding.kind {
                FindingKind::Orphan => "orphan: no HR record".to_string(),
                FindingKind::LeaverEnabled => "leaver still enabled".to_string(),
                FindingKind::LeaverInManagedGroup => {
                    format!("leaver still in managed group {group}")
                }
                FindingKind::ManagedGroupNotFromRole => {
                    format!("managed group {group} does not follow from the role")
                }
                FindingKind::UnmanagedGroup => format!("member of unmanaged group {group}"),
                FindingKind::DisabledOutsideHrsync => {
                    "disabled outside hrsync while HR says active".to_string()
                }
            };
            let _ = writeln!(out, "  ! {what}");
            let _ = writeln!(out, "      because {}", finding.reason);
            let _ = writeln!(out, "      next apply: {}", finding.next_apply);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{DirectoryGroup, RejectedRecord};
    use crate::plan::{AccountPlan, Change, Lifecycle, Summary};

    pub(crate) fn dn(s: &str) -> Dn {
        Dn::parse(s).unwrap()
    }

    fn mappings() -> Mappings {
        Mappings::from_files(&[(
            "m.toml".to_string(),
            r#"
[account]
default_ou = "ou=people,dc=x"
disabled_ou = "ou=disabled,dc=x"
[account.attributes]
uid = "{first_name}"
cn = "{first_name}"
sn = "{first_name}"
[groups]
base = "ou=groups,dc=x"
birthright = ["staff"]
[[rule]]
name = "engineering"
match = { department = "Engineering" }
groups = ["engineering"]
"#
            .to_string(),
        )])
        .unwrap()
    }

    /// Built from JSON so that the test does not depend on every field of the struct.
    fn employee(id: &str, department: &str, status: EmploymentStatus) -> Employee {
        serde_json::from_value(serde_json::json!({
            "id": id, "status": status, "hr_status": status, "status_source": "",
            "hire_date": null, "termination_date": null,
            "fields": { "department": department }
        }))
        .unwrap()
    }

    fn account(uid: &str, id: &str, disabled: bool) -> DirectoryAccount {
        serde_json::from_value(serde_json::json!({
            "dn": format!("uid={uid},ou=people,dc=x"), "correlation_id": id,
            "attributes": {}, "disabled": disabled, "held": false
        }))
        .unwrap()
    }

    /// UTC, so that a date's end is midnight UTC.
    impl FindingKind {
        /// The kind's name in the JSON.
        fn as_str(self) -> &'static str {
            match self {
                Self::Orphan => "orphan",
                Self::LeaverEnabled => "leaver_enabled",
                Self::LeaverInManagedGroup => "leaver_in_managed_group",
                Self::ManagedGroupNotFromRole => "managed_group_not_from_role",
                Self::UnmanagedGroup => "unmanaged_group",
                Self::DisabledOutsideHrsync => "disabled_outside_hrsync",
            }
        }
    }

    pub(crate) fn policy() -> Policy {
        Policy {
            disable: crate::plan::DisableMethod::PpolicyLock,
            expire_leavers: false,
            required_attributes: Vec::new(),
            prehire_days: 0,
            time_zone: chrono_tz::UTC,
            time_zone_field: None,
            leave_disable: false,
            leave_remove_groups: BTreeSet::new(),
            disable_orphans: false,
            leaver_groups: crate::plan::LeaverGroups::All,
            leaver_keep_groups: BTreeSet::new(),
            disabled_mark: crate::plan::Mark::disabled_in("description"),
            member_values_follow_renames: false,
            groups_require_member: false,
            empty_group_placeholder: None,
        }
    }

    pub(crate) fn empty_plan() -> Plan {
        serde_json::from_value(serde_json::json!({
            "schema": crate::plan::PLAN_SCHEMA, "generated_at": "2026-01-01T00:00:00Z",
            "summary": Summary::default(), "accounts": [], "group_changes": [], "skipped": [],
            "orphans": [], "warnings": []
        }))
        .unwrap()
    }

    #[test]
    fn findings_cover_leavers_orphans_role_drift_and_unmanaged_groups() {
        let mappings = mappings();
        let staff = dn("cn=staff,ou=groups,dc=x");
        let engineering = dn("cn=engineering,ou=groups,dc=x");
        let wiki = dn("cn=wiki-admins,ou=groups,dc=x");
        let ok = account("ok", "1", false);
        let leaver = account("gone", "2", false);
        let orphan = account("orphan", "3", true);
        let drifted = account("drift", "4", false);
        let unreadable = account("unreadable", "5", false);
        let directory = DirectorySnapshot {
            accounts: vec![
                ok.clone(),
                leaver.clone(),
                orphan.clone(),
                drifted.clone(),
                unreadable.clone(),
            ],
            groups: [
                (
                    staff.clone(),
                    DirectoryGroup {
                        dn: staff.clone(),
                        members: [ok.dn.clone(), leaver.dn.clone(), drifted.dn.clone()]
                            .into_iter()
                            .collect(),
                    },
                ),
                (
                    engineering.clone(),
                    DirectoryGroup {
                        dn: engineering.clone(),
                        members: [ok.dn.clone(), drifted.dn.clone()].into_iter().collect(),
                    },
                ),
            ]
            .into_iter()
            .collect(),
            taken: BTreeMap::new(),
            warnings: Vec::new(),
            member_values_follow_renames: None,
        };
        let hr = HrSnapshot {
            employees: vec![
                employee("1", "Engineering", EmploymentStatus::Active),
                employee("2", "Engineering", EmploymentStatus::Terminated),
                employee("4", "Sales", EmploymentStatus::Active),
            ],
            rejected: vec![RejectedRecord {
                id: Some("5".into()),
                index: 4,
                problem: "status \"?\" is not listed".into(),
            }],
            ..Default::default()
        };
        let mut plan = empty_plan();
        plan.accounts.push(AccountPlan {
            employee_id: "4".into(),
            lifecycle: Lifecycle::Mover,
            dn: drifted.dn.clone(),
            before: None,
            changes: vec![Change {
                action: Action::RemoveFromGroup {
                    group: engineering.clone(),
                },
                reason: crate::model::Reason::fact(
                    "no rule gives this group to department = \"Sales\"",
                ),
            }],
        });
        let mut memberships: BTreeMap<Dn, BTreeSet<Dn>> = BTreeMap::new();
        for member in [&ok.dn, &leaver.dn, &orphan.dn, &unreadable.dn] {
            memberships
                .entry(member.clone())
                .or_default()
                .insert(wiki.clone());
        }
        memberships
            .entry(ok.dn.clone())
            .or_default()
            .insert(staff.clone());
        // hrsync's own offboarding mark is not access.
        let hold = dn("cn=hrsync-hold,ou=groups,dc=x");
        memberships
            .entry(ok.dn.clone())
            .or_default()
            .insert(hold.clone());
        let base = dn("dc=x");
        let policy = policy();
        let review = ReviewInput {
            records: &[],
            hr: &hr,
            directory: &directory,
            plan: &plan,
            mappings: &mappings,
            policy: &policy,
            now: DateTime::default(),
        };
        let report = access_report(&AccessInput {
            review: &review,
            memberships: &memberships,
            groups_base: &base,
            groups_read: 3,
            hold_group: Some(&hold),
        });
        let kinds = |uid: &str| -> Vec<(&str, Option<String>)> {
            report
                .accounts
                .iter()
                .find(|a| a.dn.rdn() == format!("uid={uid}"))
                .map(|a| {
                    a.findings
                        .iter()
                        .map(|f| {
                            (
                                f.kind.as_str(),
                                f.group.as_ref().map(|g| g.rdn().to_string()),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        // A managed group the role gives is not a finding; an unmanaged one always is.
        assert_eq!(
            kinds("ok"),
            [("unmanaged_group", Some("cn=wiki-admins".into()))]
        );
        assert_eq!(
            kinds("gone"),
            [
                ("leaver_enabled", None),
                ("leaver_in_managed_group", Some("cn=staff".into())),
                ("unmanaged_group", Some("cn=wiki-admins".into())),
            ]
        );
        assert_eq!(
            kinds("orphan"),
            [
                ("orphan", None),
                ("unmanaged_group", Some("cn=wiki-admins".into()))
            ]
        );
        assert_eq!(
            kinds("drift"),
            [("managed_group_not_from_role", Some("cn=engineering".into()))]
        );
        // An unreadable record says nothing about the role: only unmanaged access is reported.
        assert_eq!(
            kinds("unreadable"),
            [("unmanaged_group", Some("cn=wiki-admins".into()))]
        );
        let drift = &report
            .accounts
            .iter()
            .find(|a| a.employee_id == "4")
            .unwrap()
            .findings[0];
        assert!(drift.reason.contains("department = \"Sales\""), "{drift:?}");
        assert_eq!(
            drift.next_apply,
            "hrsync apply removes the account from the group"
        );
        let gone = &report
            .accounts
            .iter()
            .find(|a| a.employee_id == "2")
            .unwrap()
            .findings[0];
        assert!(gone.next_apply.contains("nothing is planned"), "{gone:?}");
        assert_eq!(report.summary.accounts_reviewed, 5);
        assert_eq!(report.summary.accounts_with_findings, 5);
        assert_eq!(report.summary.findings, 8);
        let text = access_text(&report);
        assert!(text.contains("leaver still enabled"), "{text}");
        let json: Value = serde_json::from_str(&to_json(&report)).unwrap();
        assert_eq!(json["schema"], ACCESS_REPORT_SCHEMA);
        assert_eq!(
            json["accounts"][0]["findings"][0]["kind"],
            "managed_group_not_from_role"
        );
    }

    #[test]
    fn the_status_is_the_planners_in_its_time_zone_not_the_one_hr_normalised() {
        // The normaliser called the record active; the last working day has ended in UTC but
        // not yet in Los Angeles.
        let mut leaver = employee("2", "Engineering", EmploymentStatus::Active);
        leaver.termination_date = chrono::NaiveDate::from_ymd_opt(2026, 1, 1);
        let hr = HrSnapshot {
            employees: vec![leaver],
            rejected: Vec::new(),
            ..Default::default()
        };
        let directory = DirectorySnapshot {
            accounts: vec![account("gone", "2", false)],
            ..DirectorySnapshot::default()
        };
        let (mappings, plan, memberships, base) =
            (mappings(), empty_plan(), BTreeMap::new(), dn("dc=x"));
        let now = "2026-01-02T03:00:00Z".parse().unwrap();
        let report_in = |policy: &Policy| {
            access_report(&AccessInput {
                review: &ReviewInput {
                    records: &[],
                    hr: &hr,
                    directory: &directory,
                    plan: &plan,
                    mappings: &mappings,
                    policy,
                    now,
                },
                memberships: &memberships,
                groups_base: &base,
                groups_read: 0,
                hold_group: None,
            })
        };
        let utc = report_in(&policy());
        assert_eq!(utc.accounts.len(), 1, "{utc:?}");
        assert_eq!(utc.accounts[0].hr_status, "terminated");
        assert_eq!(utc.accounts[0].findings[0].kind, FindingKind::LeaverEnabled);

        let la = report_in(&Policy {
            time_zone: chrono_tz::America::Los_Angeles,
            ..policy()
        });
        assert!(
            la.accounts.is_empty(),
            "still working in Los Angeles: {la:?}"
        );
    }
}
