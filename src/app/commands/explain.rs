//! `hrsync explain EMPLOYEE_ID`: everything hrsync knows and decides about one employee, and
//! why. It reads HR and the directory exactly as `plan` does and makes the same full plan, then
//! shows the part of it that concerns this employee: the HR record as read, how it was
//! normalised (or why it was rejected), the rules that matched and those that did not (with the
//! condition that failed), the account hrsync wants, the account the directory has, and each
//! change with its reason. Never writes.
//!
//! Everything shown is a decision made elsewhere, read back: the rules' verdicts are the
//! mappings' own evaluator's, the status is the planner's, and the desired account is the
//! planner's changes applied to the account as read.
//!
//! Its JSON form (`--format json`) is a stable, versioned schema, [`EXPLAIN_SCHEMA`]; see
//! docs/src/explain-and-review.md.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::app::RunError;
use crate::app::commands::report::{self, OutputFormat, ReviewInput};
use crate::config::Config;
use crate::dn::Dn;
use crate::hr::FieldsConfig;
use crate::mapping::{ConditionResult, Mappings, Pattern, Rule};
use crate::model::{DirectoryAccount, Employee, EmploymentStatus, Reason};
use crate::plan::{
    AccountPlan, AccountState, Action, Change, DisableMethod, Lifecycle, Scheduled,
    UAC_ACCOUNTDISABLE, planner,
};
use crate::secret::shown_attributes;

/// Reads everything, explains one employee, renders. An id that neither HR nor the directory
/// knows is an error (exit 1).
pub async fn run(
    config: &Config,
    employee_id: &str,
    format: OutputFormat,
    now: DateTime<Utc>,
) -> Result<String, RunError> {
    let inputs = report::with_inputs(config, now, async |_, inputs| Ok(inputs)).await?;
    let explanation = explain(&ExplainInput {
        review: &inputs.review(config, now),
        employee_id,
        fields: &config.hr.fields,
    })
    .map_err(RunError::Lookup)?;
    Ok(match format {
        OutputFormat::Text => text(&explanation),
        OutputFormat::Json => report::to_json(&explanation),
    })
}

/// The schema identifier of `explain --format json`. Bump the version on any incompatible
/// change.
pub(crate) const EXPLAIN_SCHEMA: &str = "hrsync.explain/v1";

/// What an explanation is made from. Pure data: the explanation is a function of it.
pub(crate) struct ExplainInput<'a> {
    pub review: &'a ReviewInput<'a>,
    pub employee_id: &'a str,
    /// `[hr.fields]`: where a raw record keeps its id.
    pub fields: &'a FieldsConfig,
}

/// `hrsync explain --format json` (schema [`EXPLAIN_SCHEMA`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Explanation {
    pub schema: String,
    pub generated_at: DateTime<Utc>,
    pub employee_id: String,
    pub hr: HrPart,
    /// How the mappings place the employee; `None` when no record with the id could be read.
    pub rules: Option<RulesPart>,
    /// The account once the plan is applied; `None` when hrsync has or makes no account for the
    /// employee (see `outcome`).
    pub desired: Option<AccountView>,
    /// Directory entries whose correlation attribute holds the id, as read (managed attributes
    /// and managed groups only). More than one is a duplicate hrsync refuses to act on.
    pub directory: Vec<FoundAccount>,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct HrPart {
    /// How many records HR returned in all.
    pub records_read: usize,
    /// The raw record(s) with this id, exactly as HR sent them (more than one: a duplicate id).
    pub records: Vec<Value>,
    /// The record after normalisation, when it could be read.
    pub employee: Option<Normalised>,
    /// Why the record(s) with this id were left out, when they were.
    pub rejected: Vec<Rejection>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Normalised {
    /// The status that decides what happens.
    pub status: EmploymentStatus,
    /// HR's status value as sent.
    pub status_source: String,
    /// Set when the dates changed HR's status (a past termination date, a future hire date).
    pub status_note: Option<String>,
    pub hire_date: Option<NaiveDate>,
    pub termination_date: Option<NaiveDate>,
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Rejection {
    /// Position of the record in HR's response (0-based, across pages).
    pub index: usize,
    pub problem: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RulesPart {
    /// Whether the role decides the account: false for a leaver (no managed groups, the
    /// disabled OU, whatever the rules say).
    pub applied: bool,
    pub note: Option<String>,
    /// Every rule, in mapping order, with whether it matched and why (not).
    pub evaluated: Vec<RuleMatch>,
    pub birthright: Vec<Dn>,
    /// The OU the role places the account in, and why.
    pub ou: Dn,
    pub ou_reason: Reason,
    /// The managed groups the role gives, each with its reason.
    pub groups: Vec<GroupGrant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RuleMatch {
    pub name: String,
    pub matched: bool,
    /// Matched: the facts that matched (`department = "Engineering"`). Not matched: every
    /// condition that failed and what the rule needs.
    pub detail: String,
    pub groups: Vec<Dn>,
    pub ou: Option<Dn>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct GroupGrant {
    pub group: Dn,
    pub reason: Reason,
    /// Whether the group exists in the directory (hrsync does not create groups).
    pub exists: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct AccountView {
    pub dn: Dn,
    pub disabled: bool,
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Managed groups.
    pub groups: Vec<Dn>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct FoundAccount {
    pub dn: Dn,
    pub disabled: bool,
    /// Why hrsync never changes it, if it is protected.
    pub protected: Option<String>,
    /// Managed attributes.
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Managed groups the account is a member of.
    pub groups: Vec<Dn>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Outcome {
    pub result: OutcomeKind,
    pub lifecycle: Option<Lifecycle>,
    /// One line for people.
    pub summary: String,
    /// The plan's changes to the account, in the order they are applied (as in the plan JSON).
    pub changes: Vec<Change>,
    /// Why the employee or account is left as it is, when it is.
    pub skipped: Vec<String>,
    /// Plan warnings about this employee.
    pub warnings: Vec<String>,
    /// A termination dated in the future: when it takes effect.
    pub scheduled: Option<Scheduled>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OutcomeKind {
    /// The plan changes the account.
    Changes,
    /// The account is as it should be.
    NoChanges,
    /// hrsync deliberately leaves the employee or account alone (see `skipped`).
    Skipped,
    /// A directory account has the id and HR has no record: reported, never changed.
    Orphan,
    /// Terminated and without an account: nothing to do.
    Ignored,
}

/// The explanation, or the message for an id that neither side knows.
pub(crate) fn explain(input: &ExplainInput) -> Result<Explanation, String> {
    let found = Found::of(input)?;
    let review = input.review;
    let outcome = outcome(input, &found);
    let desired = desired(input, &found, &outcome);
    let status = found.employee.map(|e| review.status_of(e));
    Ok(Explanation {
        schema: EXPLAIN_SCHEMA.to_string(),
        generated_at: review.now,
        employee_id: input.employee_id.to_string(),
        hr: HrPart {
            records_read: review.records.len(),
            records: found.records,
            employee: found.employee.zip(status).map(|(e, s)| normalised(e, s)),
            rejected: found.rejected,
        },
        rules: found
            .employee
            .zip(status)
            .map(|(e, s)| rules_part(e, s, review)),
        desired,
        directory: found
            .accounts
            .iter()
            .map(|a| found_account(a, review))
            .collect(),
        outcome,
    })
}

/// Everything either side holds under the id.
struct Found<'a> {
    records: Vec<Value>,
    employee: Option<&'a Employee>,
    rejected: Vec<Rejection>,
    accounts: Vec<&'a DirectoryAccount>,
}

impl<'a> Found<'a> {
    fn of(input: &ExplainInput<'a>) -> Result<Self, String> {
        let id = input.employee_id;
        let review = input.review;
        let found = Self {
            records: review
                .records
                .iter()
                .filter(|r| record_id(r, input.fields).as_deref() == Some(id))
                .cloned()
                .collect(),
            employee: review.hr.employees.iter().find(|e| e.id == id),
            rejected: review
                .hr
                .rejected
                .iter()
                .filter(|r| r.id.as_deref() == Some(id))
                .map(|r| Rejection {
                    index: r.index,
                    problem: r.problem.clone(),
                })
                .collect(),
            accounts: review
                .directory
                .accounts
                .iter()
                .filter(|a| a.correlation_id.as_deref() == Some(id))
                .collect(),
        };
        if !found.in_hr() && found.accounts.is_empty() {
            return Err(format!(
                "employee {id} is not in the HR data ({} records read), and no directory account has {}={id}",
                review.records.len(),
                review.mappings.correlation.attribute
            ));
        }
        Ok(found)
    }

    /// Whether HR has anything under the id, readable or not.
    fn in_hr(&self) -> bool {
        self.employee.is_some() || !self.rejected.is_empty() || !self.records.is_empty()
    }
}

fn found_account(account: &DirectoryAccount, review: &ReviewInput) -> FoundAccount {
    let state = planner::account_state(account, review.directory, review.mappings);
    FoundAccount {
        dn: account.dn.clone(),
        disabled: account.disabled,
        protected: account.protected.clone(),
        attributes: shown_attributes(&state.attributes),
        groups: state.groups,
    }
}

/// The plan's part for the employee: its changes, skips, warnings and schedule, and the one
/// line that sums them up.
fn outcome(input: &ExplainInput, found: &Found) -> Outcome {
    let id = input.employee_id;
    let plan = input.review.plan;
    let account_plans = account_plans(input, id);
    let changes: Vec<Change> = account_plans
        .iter()
        .flat_map(|a| a.changes.iter().map(|c| c.masked().into_owned()))
        .collect();
    let skipped: Vec<String> = plan
        .skipped
        .iter()
        .filter(|s| {
            s.employee_id.as_deref() == Some(id)
                || s.dn
                    .as_ref()
                    .is_some_and(|dn| found.accounts.iter().any(|a| &a.dn == dn))
        })
        .map(|s| s.reason.clone())
        .collect();
    let prefix = format!("employee {id}:");
    let lifecycle = account_plans.first().map(|a| a.lifecycle);
    let (result, summary) = verdict(input, found, lifecycle, &changes, &skipped);
    Outcome {
        result,
        lifecycle,
        summary,
        changes,
        skipped,
        warnings: plan
            .warnings
            .iter()
            .filter(|w| w.starts_with(&prefix))
            .cloned()
            .collect(),
        scheduled: plan.scheduled.iter().find(|s| s.employee_id == id).cloned(),
    }
}

fn account_plans<'a>(input: &ExplainInput<'a>, id: &str) -> Vec<&'a AccountPlan> {
    input
        .review
        .plan
        .accounts
        .iter()
        .filter(|a| a.employee_id == id)
        .collect()
}

/// What the plan does about the employee, and the line that says so.
fn verdict(
    input: &ExplainInput,
    found: &Found,
    lifecycle: Option<Lifecycle>,
    changes: &[Change],
    skipped: &[String],
) -> (OutcomeKind, String) {
    let id = input.employee_id;
    if !found.in_hr()
        && let Some(verdict) = absence_verdict(changes)
    {
        return verdict;
    }
    let terminated = found
        .employee
        .is_some_and(|e| input.review.status_of(e) == EmploymentStatus::Terminated);
    if !changes.is_empty() {
        let lifecycle = lifecycle.map_or("update", Lifecycle::as_str);
        (
            OutcomeKind::Changes,
            format!("{lifecycle}: {} change(s) planned", changes.len()),
        )
    } else if !found.in_hr() {
        let also = if skipped.is_empty() {
            String::new()
        } else {
            format!(" ({})", skipped.join("; "))
        };
        (
            OutcomeKind::Orphan,
            format!(
                "orphan: a directory account has {}={id} but HR has no record; it is \
                 reported in every plan and never changed{also}",
                input.review.mappings.correlation.attribute
            ),
        )
    } else if !skipped.is_empty() {
        (
            OutcomeKind::Skipped,
            format!("left as it is: {}", skipped.join("; ")),
        )
    } else if found.accounts.is_empty() && terminated {
        (
            OutcomeKind::Ignored,
            "terminated and without an account: nothing to do".to_string(),
        )
    } else {
        (
            OutcomeKind::NoChanges,
            "no changes: the account is as HR and the mappings say it should be".to_string(),
        )
    }
}

/// The account once the plan is applied: the planner's changes applied to the account it read,
/// or the one account found when the plan leaves it as it is.
fn desired(input: &ExplainInput, found: &Found, outcome: &Outcome) -> Option<AccountView> {
    let review = input.review;
    let before = match outcome.result {
        OutcomeKind::Changes => account_plans(input, input.employee_id)
            .first()
            .and_then(|a| a.before.clone()),
        OutcomeKind::NoChanges => match found.accounts.as_slice() {
            [one] => Some(planner::account_state(
                one,
                review.directory,
                review.mappings,
            )),
            _ => None,
        },
        _ => return None,
    };
    state_after(before.as_ref(), &outcome.changes).map(AccountView::from)
}

fn normalised(employee: &Employee, status: EmploymentStatus) -> Normalised {
    Normalised {
        status,
        status_source: employee.status_source.clone(),
        status_note: status_note(employee, status),
        hire_date: employee.hire_date,
        termination_date: employee.termination_date,
        fields: employee.fields.to_map(),
    }
}

/// Why the planner's status (`status`) differs from the one HR's value maps to, if it does.
fn status_note(employee: &Employee, status: EmploymentStatus) -> Option<String> {
    let mapped = employee.hr_status;
    if mapped == status {
        return None;
    }
    let mut dates = Vec::new();
    if let Some(d) = employee.hire_date {
        dates.push(format!("hire date {d}"));
    }
    if let Some(d) = employee.termination_date {
        dates.push(format!("termination date {d}"));
    }
    Some(format!(
        "HR's value {:?} means {mapped}; the dates ({}) make it {status}",
        employee.status_source,
        dates.join(", "),
    ))
}

fn rules_part(employee: &Employee, status: EmploymentStatus, review: &ReviewInput) -> RulesPart {
    let role = review.mappings.assign(employee, status);
    let (applied, note) = role_note(status);
    RulesPart {
        applied,
        note: note.map(str::to_string),
        evaluated: evaluate_rules(review.mappings, employee),
        birthright: review.mappings.groups.birthright.clone(),
        ou: role.ou,
        ou_reason: role.ou_reason,
        groups: role
            .groups
            .into_iter()
            .map(|(group, reason)| GroupGrant {
                exists: review.directory.groups.contains_key(&group),
                group,
                reason,
            })
            .collect(),
    }
}

/// Whether the role decides the account at this status, and what to know about it.
fn role_note(status: EmploymentStatus) -> (bool, Option<&'static str>) {
    match status {
        EmploymentStatus::Terminated => (
            false,
            Some(
                "status terminated: a leaver gets no role, whatever the rules say: no managed \
                 groups, and the account goes to account.disabled_ou",
            ),
        ),
        EmploymentStatus::Pending => (
            true,
            Some(
                "status pending: the role applies once the account is made (on the start date, \
                 or lifecycle.prehire_days before it)",
            ),
        ),
        EmploymentStatus::Leave => (
            true,
            Some(
                "status leave: groups in lifecycle.leave_remove_groups are taken away for the \
                 leave, and with lifecycle.leave = \"disable\" the account is disabled; the \
                 changes below show what applies",
            ),
        ),
        EmploymentStatus::Active => (true, None),
    }
}

/// Every rule applied to the employee by the mappings' own evaluator: whether it matched, and
/// if not, each condition that failed and what it needs.
pub(crate) fn evaluate_rules(mappings: &Mappings, employee: &Employee) -> Vec<RuleMatch> {
    mappings
        .rules
        .iter()
        .map(|rule| rule_match(rule, employee))
        .collect()
}

fn rule_match(rule: &Rule, employee: &Employee) -> RuleMatch {
    let evaluation = rule.evaluate(employee);
    let detail = if !evaluation.matched {
        evaluation
            .conditions
            .iter()
            .filter(|c| !c.matched)
            .map(failed_condition)
            .collect::<Vec<_>>()
            .join("; ")
    } else if evaluation.conditions.is_empty() {
        "the rule has no conditions".to_string()
    } else {
        evaluation.facts()
    };
    RuleMatch {
        name: rule.name.clone(),
        matched: evaluation.matched,
        detail,
        groups: rule.groups.clone(),
        ou: rule.ou.clone(),
    }
}

fn failed_condition(condition: &ConditionResult) -> String {
    let needs = needs(condition.patterns);
    match condition.value {
        None => format!("{} is empty; the rule needs {needs}", condition.field),
        Some(value) => format!("{} = {value:?}; the rule needs {needs}", condition.field),
    }
}

/// A raw record's id, read through `[hr.fields] id` the way normalisation reads it (a string,
/// or a number or boolean as its text; the first path that gives a value).
fn record_id(record: &Value, fields: &FieldsConfig) -> Option<String> {
    fields
        .get("id")?
        .iter()
        .find_map(|path| match path.first(record)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
}

/// `"sales"`, or `one of "sales", "marketing"` (patterns are compared ignoring case, and shown
/// lower-cased).
fn needs(patterns: &[Pattern]) -> String {
    let shown: Vec<String> = patterns.iter().map(pattern_text).collect();
    match shown.as_slice() {
        [one] => one.clone(),
        _ => format!("one of {}", shown.join(", ")),
    }
}

/// A pattern as quoted text.
fn pattern_text(pattern: &Pattern) -> String {
    format!("{:?}", pattern.as_str())
}

/// The account once `changes` are applied to `before` (or to the entry a Create makes), read
/// straight off the planner's changes.
pub(crate) fn state_after(
    before: Option<&AccountState>,
    changes: &[Change],
) -> Option<AccountState> {
    let mut state = before.cloned();
    for change in changes {
        if let Action::Create { dn, attributes } = &change.action {
            state = Some(AccountState {
                dn: dn.clone(),
                disabled: created_disabled(attributes),
                attributes: attributes.clone(),
                groups: Vec::new(),
            });
        } else if let Some(state) = state.as_mut() {
            apply_action(state, &change.action);
        }
    }
    state.map(|mut state| {
        state.groups.sort();
        state.groups.dedup();
        state
    })
}

/// What one change does to the managed part of an account.
fn apply_action(state: &mut AccountState, action: &Action) {
    match action {
        Action::Enable { .. } => state.disabled = false,
        Action::Disable { .. } => state.disabled = true,
        Action::SetAttribute {
            attribute, after, ..
        } => {
            if after.is_empty() {
                state.attributes.remove(attribute);
            } else {
                state.attributes.insert(attribute.clone(), after.clone());
            }
        }
        Action::Move { to, .. } => state.dn = to.clone(),
        Action::AddToGroup { group } => state.groups.push(group.clone()),
        Action::RemoveFromGroup { group } => state.groups.retain(|g| g != group),
        // A member value follows its account's move, and hrsync's mark is not a managed
        // attribute: the managed part of the account is unchanged.
        Action::Create { .. }
        | Action::RenameMember { .. }
        | Action::AddValue { .. }
        | Action::RemoveValue { .. } => {}
    }
}

impl From<AccountState> for AccountView {
    /// The account as it may be shown: no value of a password attribute.
    fn from(state: AccountState) -> Self {
        Self {
            dn: state.dn,
            disabled: state.disabled,
            attributes: shown_attributes(&state.attributes),
            groups: state.groups,
        }
    }
}

/// Whether an entry created with these attributes starts disabled (a pre-hire account on
/// OpenLDAP or 389 carries the lock; on AD every account is created with ACCOUNTDISABLE set).
fn created_disabled(attributes: &BTreeMap<String, Vec<String>>) -> bool {
    let locks = [DisableMethod::PpolicyLock, DisableMethod::NsAccountLock];
    attributes.iter().any(|(name, values)| {
        locks.iter().any(|method| {
            method
                .lock_value()
                .is_some_and(|(lock, _)| name.eq_ignore_ascii_case(lock))
                && method.is_locked_by(values)
        }) || (name.eq_ignore_ascii_case("userAccountControl")
            && values
                .iter()
                .any(|v| v.parse::<u32>().is_ok_and(|u| u & UAC_ACCOUNTDISABLE != 0)))
    })
}

/// One change, one line.
fn describe(action: &Action) -> String {
    match action {
        Action::Create { dn, .. } => format!("+ create {dn} (attributes: see the desired account)"),
        Action::Enable { set_password, .. } => {
            if *set_password {
                "~ enable the account (with a new random password, never shown)".to_string()
            } else {
                "~ enable the account".to_string()
            }
        }
        Action::Disable { method, .. } => match method.lock_value() {
            Some((attribute, value)) => format!("~ disable the account ({attribute}: {value})"),
            None => "~ disable the account (userAccountControl ACCOUNTDISABLE)".to_string(),
        },
        Action::SetAttribute {
            attribute,
            before,
            after,
        } => format!("~ {attribute}: {} -> {}", show(before), show(after)),
        Action::Move { from, to } => format!("> move {from} -> {to}"),
        Action::AddToGroup { group } => format!("+ group {group}"),
        Action::RemoveFromGroup { group } => format!("- group {group}"),
        Action::RenameMember { group, from, to } => {
            format!("~ member of {group}: {from} -> {to} (follows the move)")
        }
        Action::AddValue { attribute, value } => format!("+ {attribute}: {value:?}"),
        Action::RemoveValue { attribute, value } => format!("- {attribute}: {value:?}"),
    }
}

fn show(values: &[String]) -> String {
    match values {
        [] => "(none)".to_string(),
        [one] => format!("{one:?}"),
        many => format!("{many:?}"),
    }
}

// Writing to a String cannot fail: the results of write! below are ignored deliberately.

/// The explanation for people.
pub(crate) fn text(e: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "employee {}: {}", e.employee_id, e.outcome.summary);
    hr_lines(&mut out, &e.hr);
    if let Some(n) = &e.hr.employee {
        normalised_lines(&mut out, n);
    }
    if let Some(rules) = &e.rules {
        rules_lines(&mut out, rules);
    }
    let _ = writeln!(out, "\ndesired account (once the plan is applied)");
    match &e.desired {
        Some(view) => account_lines(&mut out, &view.dn, view.disabled, None, view),
        None => {
            let _ = writeln!(out, "  (none: {})", e.outcome.summary);
        }
    }
    let _ = writeln!(out, "\ndirectory account (as found)");
    if e.directory.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for found in &e.directory {
        let view = AccountView {
            dn: found.dn.clone(),
            disabled: found.disabled,
            attributes: found.attributes.clone(),
            groups: found.groups.clone(),
        };
        account_lines(
            &mut out,
            &found.dn,
            found.disabled,
            found.protected.as_deref(),
            &view,
        );
    }
    outcome_lines(&mut out, &e.outcome);
    out
}

fn hr_lines(out: &mut String, hr: &HrPart) {
    let _ = writeln!(
        out,
        "\nHR record ({} with this id, of {} read)",
        hr.records.len(),
        hr.records_read
    );
    if hr.records.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for record in &hr.records {
        let pretty = serde_json::to_string_pretty(record).unwrap_or_else(|_| record.to_string());
        for line in pretty.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    for rejected in &hr.rejected {
        let _ = writeln!(
            out,
            "  ! rejected (record {}): {}",
            rejected.index, rejected.problem
        );
    }
}

fn normalised_lines(out: &mut String, n: &Normalised) {
    let _ = writeln!(out, "\nnormalised");
    let _ = writeln!(
        out,
        "  status: {} (HR value {:?})",
        n.status, n.status_source
    );
    if let Some(note) = &n.status_note {
        let _ = writeln!(out, "    {note}");
    }
    let date = |d: Option<NaiveDate>| d.map_or("(none)".to_string(), |d| d.to_string());
    let _ = writeln!(out, "  hire_date: {}", date(n.hire_date));
    let _ = writeln!(out, "  termination_date: {}", date(n.termination_date));
    for (name, value) in &n.fields {
        let _ = writeln!(out, "  {name}: {value}");
    }
}

fn rules_lines(out: &mut String, rules: &RulesPart) {
    let _ = writeln!(out, "\nrules");
    if let Some(note) = &rules.note {
        let _ = writeln!(out, "  ({note})");
    }
    for rule in &rules.evaluated {
        if rule.matched {
            let mut gives: Vec<String> = rule.groups.iter().map(ToString::to_string).collect();
            if let Some(ou) = &rule.ou {
                gives.push(format!("ou {ou}"));
            }
            let _ = writeln!(
                out,
                "  + rule \"{}\" matched: {}; gives {}",
                rule.name,
                rule.detail,
                gives.join(", ")
            );
        } else {
            let _ = writeln!(
                out,
                "  - rule \"{}\" did not match: {}",
                rule.name, rule.detail
            );
        }
    }
    let _ = writeln!(out, "  OU {}", rules.ou);
    let _ = writeln!(out, "      because {}", rules.ou_reason);
    for grant in &rules.groups {
        let missing = if grant.exists {
            ""
        } else {
            " (does not exist in the directory: skipped)"
        };
        let _ = writeln!(out, "  group {}{missing}", grant.group);
        let _ = writeln!(out, "      because {}", grant.reason);
    }
}

fn outcome_lines(out: &mut String, o: &Outcome) {
    let _ = writeln!(
        out,
        "\nchanges{}",
        o.lifecycle
            .map(|l| format!(" ({})", l.as_str()))
            .unwrap_or_default()
    );
    if o.changes.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for change in &o.changes {
        let _ = writeln!(out, "  {}", describe(&change.action));
        let _ = writeln!(out, "      because {}", change.reason);
    }
    for reason in &o.skipped {
        let _ = writeln!(out, "  skipped: {reason}");
    }
    if let Some(scheduled) = &o.scheduled {
        let _ = writeln!(
            out,
            "  scheduled: leaves at {} ({})",
            scheduled.leaves_at.to_rfc3339(),
            scheduled.reason
        );
    }
    for warning in &o.warnings {
        let _ = writeln!(out, "  ! {warning}");
    }
}

fn account_lines(
    out: &mut String,
    dn: &Dn,
    disabled: bool,
    protected: Option<&str>,
    view: &AccountView,
) {
    let _ = writeln!(out, "  dn: {dn}");
    let _ = writeln!(out, "  {}", if disabled { "disabled" } else { "enabled" });
    if let Some(why) = protected {
        let _ = writeln!(out, "  protected: {why}");
    }
    for (name, values) in &view.attributes {
        for value in values {
            let _ = writeln!(out, "  {name}: {value}");
        }
    }
    if view.groups.is_empty() {
        let _ = writeln!(out, "  managed groups: (none)");
    }
    for group in &view.groups {
        let _ = writeln!(out, "  managed group {group}");
    }
}

/// An orphan's planned changes under `lifecycle.disable_orphans`, in the words of its state:
/// awaiting confirmation (only the absence mark is written) or confirmed (disabled).
fn absence_verdict(changes: &[Change]) -> Option<(OutcomeKind, String)> {
    let disable = changes
        .iter()
        .find(|c| matches!(c.action, Action::Disable { .. }));
    if let Some(disable) = disable {
        return Some((
            OutcomeKind::Changes,
            format!(
                "orphan, absence confirmed: leaver: {} change(s) planned ({})",
                changes.len(),
                disable.reason
            ),
        ));
    }
    changes.iter().find_map(|c| match &c.action {
        Action::AddValue { value, .. } if value.starts_with(crate::plan::ABSENT_MARK_PREFIX) => {
            Some((
                OutcomeKind::Changes,
                format!(
                    "orphan awaiting confirmation: {}; only the mark is written now \
                     (lifecycle.disable_orphans)",
                    c.reason.fact
                ),
            ))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PPOLICY_PERMANENT_LOCK;

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
[[rule]]
name = "engineering"
match = { department = "Engineering", location = ["London", "Berlin"] }
groups = ["engineering"]
ou = "ou=eng,dc=x"
[[rule]]
name = "everyone"
match = { department = "*" }
groups = ["all"]
"#
            .to_string(),
        )])
        .unwrap()
    }

    fn employee(fields: serde_json::Value) -> Employee {
        serde_json::from_value(serde_json::json!({
            "id": "1", "status": "active", "hr_status": "active", "status_source": "Active",
            "hire_date": null, "termination_date": null, "fields": fields
        }))
        .unwrap()
    }

    #[test]
    fn rules_say_what_matched_and_which_condition_failed() {
        let m = mappings();
        let sales = evaluate_rules(
            &m,
            &employee(serde_json::json!({"department": "Sales", "location": "Paris"})),
        );
        assert_eq!(sales[0].name, "engineering");
        assert!(!sales[0].matched);
        assert_eq!(
            sales[0].detail,
            "department = \"Sales\"; the rule needs \"engineering\"; location = \"Paris\"; \
             the rule needs one of \"london\", \"berlin\""
        );
        assert!(sales[1].matched);
        assert_eq!(sales[1].detail, "department = \"Sales\"");

        let no_location = evaluate_rules(
            &m,
            &employee(serde_json::json!({"department": "Engineering"})),
        );
        assert_eq!(
            no_location[0].detail,
            "location is empty; the rule needs one of \"london\", \"berlin\""
        );

        let eng = employee(serde_json::json!({"department": "engineering", "location": "Berlin"}));
        let matched = evaluate_rules(&m, &eng);
        assert!(matched[0].matched);
        assert_eq!(
            matched[0].detail,
            "department = \"engineering\", location = \"Berlin\""
        );
        // The same verdicts as the mappings themselves.
        let role = m.assign(&eng, EmploymentStatus::Active);
        assert_eq!(role.ou.as_str(), "ou=eng,dc=x");
        assert_eq!(role.groups.len(), 2);
    }

    #[test]
    fn the_desired_account_is_the_state_after_the_changes() {
        let dn = |s: &str| Dn::parse(s).unwrap();
        let before = AccountState {
            dn: dn("uid=a,ou=eng,dc=x"),
            disabled: false,
            attributes: [("title".to_string(), vec!["Engineer".to_string()])]
                .into_iter()
                .collect(),
            groups: vec![dn("cn=engineering,dc=x"), dn("cn=staff,dc=x")],
        };
        let change = |action| Change {
            action,
            reason: Reason::fact("test"),
        };
        let after = state_after(
            Some(&before),
            &[
                change(Action::SetAttribute {
                    attribute: "title".into(),
                    before: vec!["Engineer".into()],
                    after: vec!["Rep".into()],
                }),
                change(Action::RemoveFromGroup {
                    group: dn("cn=engineering,dc=x"),
                }),
                change(Action::Move {
                    from: dn("uid=a,ou=eng,dc=x"),
                    to: dn("uid=a,ou=sales,dc=x"),
                }),
                change(Action::AddToGroup {
                    group: dn("cn=sales,dc=x"),
                }),
            ],
        )
        .unwrap();
        assert_eq!(after.dn.as_str(), "uid=a,ou=sales,dc=x");
        assert_eq!(after.attributes["title"], ["Rep"]);
        assert_eq!(
            after.groups,
            [dn("cn=sales,dc=x"), dn("cn=staff,dc=x")],
            "sorted managed groups"
        );
        assert!(!after.disabled);

        let created = state_after(
            None,
            &[change(Action::Create {
                dn: dn("uid=b,ou=eng,dc=x"),
                attributes: [(
                    "pwdAccountLockedTime".to_string(),
                    vec![PPOLICY_PERMANENT_LOCK.to_string()],
                )]
                .into_iter()
                .collect(),
            })],
        )
        .unwrap();
        assert!(created.disabled, "a pre-hire account is created locked");
        assert!(state_after(None, &[]).is_none());
    }

    #[test]
    fn the_status_shown_is_the_planners_at_the_plans_time() {
        let m = mappings();
        let mut e =
            employee(serde_json::json!({"department": "Engineering", "location": "Berlin"}));
        e.termination_date = NaiveDate::from_ymd_opt(2026, 1, 1);
        let hr = crate::model::HrSnapshot {
            employees: vec![e],
            rejected: Vec::new(),
            ..Default::default()
        };
        let directory = crate::model::DirectorySnapshot::default();
        let plan = report::tests::empty_plan();
        let policy = report::tests::policy();
        let explain_at = |now: &str| {
            let review = ReviewInput {
                records: &[],
                hr: &hr,
                directory: &directory,
                plan: &plan,
                mappings: &m,
                policy: &policy,
                now: now.parse().unwrap(),
            };
            explain(&ExplainInput {
                review: &review,
                employee_id: "1",
                fields: &FieldsConfig {
                    paths: BTreeMap::new(),
                    references: BTreeMap::new(),
                    dates: Default::default(),
                },
            })
            .unwrap()
        };

        let working = explain_at("2026-01-01T23:00:00Z");
        let n = working.hr.employee.as_ref().unwrap();
        assert_eq!(n.status, EmploymentStatus::Active);
        assert_eq!(n.status_note, None);
        assert!(working.rules.as_ref().unwrap().applied);

        // HR's record still says active; the last working day has ended.
        let left = explain_at("2026-01-02T00:00:00Z");
        let n = left.hr.employee.as_ref().unwrap();
        assert_eq!(n.status, EmploymentStatus::Terminated);
        assert_eq!(
            n.status_note.as_deref(),
            Some(
                "HR's value \"Active\" means active; the dates (termination date 2026-01-01) \
                 make it terminated"
            )
        );
        let rules = left.rules.as_ref().unwrap();
        assert!(!rules.applied);
        assert_eq!(left.outcome.result, OutcomeKind::Ignored);
        assert!(text(&left).contains("status: terminated (HR value \"Active\")"));
    }
}
