//! The human-readable plan: what matters first (the counts, then the tripped safety limits and
//! the warnings), then per account each change with its before and after values and the HR fact
//! and mapping rule behind it.

use std::fmt::Write;

use crate::plan::{
    AccountPlan, Action, ControlChange, DisableMethod, GroupAction, Lifecycle, Plan, Summary,
};

/// How the text is dressed: `colour` for a terminal, `note` (a line under the counts) for what
/// a filter left out.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Style<'a> {
    pub(crate) colour: bool,
    pub(crate) note: Option<&'a str>,
}

/// The plan for people, [masked](Plan::masked): no value of a password attribute.
pub(crate) fn text(plan: &Plan) -> String {
    text_styled(plan, Style::default())
}

/// [`text`], dressed as `style` says.
pub(crate) fn text_styled(plan: &Plan, style: Style<'_>) -> String {
    let plan = &*plan.masked();
    let paint = Paint(style.colour);
    let mut out = String::new();
    summary_text(&mut out, plan, paint);
    if let Some(note) = style.note {
        let _ = writeln!(out, "{note}");
    }
    limits_text(&mut out, plan, paint);
    warnings_text(&mut out, plan, paint);
    for account in &plan.accounts {
        account_text(&mut out, account, paint);
    }
    group_changes_text(&mut out, plan);
    scheduled_text(&mut out, plan);
    skipped_text(&mut out, plan);
    orphans_text(&mut out, plan);
    out
}

/// ANSI colour for a terminal, or nothing.
#[derive(Debug, Clone, Copy)]
struct Paint(bool);

impl Paint {
    const BOLD: &str = "1";
    const RED: &str = "31";
    const GREEN: &str = "32";
    const YELLOW: &str = "33";
    const CYAN: &str = "36";
    /// A lock: what takes a person's access away.
    const LOCK: &str = "1;31";
    /// A lock lifted.
    const UNLOCK: &str = "1;32";

    fn paint(self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

// Writing to a String cannot fail: the results of write! are ignored deliberately throughout.

fn summary_text(out: &mut String, plan: &Plan, paint: Paint) {
    let s = &plan.summary;
    let counts = format!(
        "hrsync plan: {}; {} change(s) in all",
        lifecycle_counts(s),
        s.changes
    );
    let _ = writeln!(out, "{}", paint.paint(Paint::BOLD, &counts));
    if let Some(effects) = effects_text(plan) {
        let _ = writeln!(out, "{effects}");
    }
    let _ = writeln!(
        out,
        "read {} HR record(s) and {} correlated directory account(s)",
        s.hr_records, s.directory_accounts
    );
    if !plan.has_changes() {
        let _ = writeln!(out, "\nNo changes: the directory matches HR.");
    }
}

/// The accounts per lifecycle: `1 joiner(s), 0 mover(s), ...`, every lifecycle even at 0.
pub(crate) fn lifecycle_counts(s: &Summary) -> String {
    Lifecycle::ALL
        .iter()
        .map(|l| format!("{} {}(s)", s.of(*l), l.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the changes do, counted by kind: `1 creation(s), 2 enable(s), ...`. Only the kinds
/// the plan has; `None` for a plan without changes.
fn effects_text(plan: &Plan) -> Option<String> {
    const WORDS: [(&str, &str); 10] = [
        ("create", "creation(s)"),
        ("enable", "enable(s)"),
        ("disable", "disable(s)"),
        ("move", "move(s)"),
        ("add_to_group", "group addition(s)"),
        ("remove_from_group", "group removal(s)"),
        ("rename_member", "member value rewrite(s)"),
        ("set_attribute", "attribute change(s)"),
        ("add_value", "value addition(s)"),
        ("remove_value", "value removal(s)"),
    ];
    let mut counts = [0usize; WORDS.len()];
    for change in plan.accounts.iter().flat_map(|a| &a.changes) {
        if let Some(i) = WORDS
            .iter()
            .position(|(name, _)| *name == change.action.name())
        {
            counts[i] += 1;
        }
    }
    let mut parts: Vec<String> = WORDS
        .iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|((_, words), n)| format!("{n} {words}"))
        .collect();
    if !plan.group_changes.is_empty() {
        parts.push(format!(
            "{} placeholder change(s)",
            plan.group_changes.len()
        ));
    }
    (!parts.is_empty()).then(|| format!("  {}", parts.join(", ")))
}

fn group_changes_text(out: &mut String, plan: &Plan) {
    if plan.group_changes.is_empty() {
        return;
    }
    let _ = writeln!(out, "\ngroups");
    for change in &plan.group_changes {
        let verb = match change.action {
            GroupAction::AddPlaceholder => "+ placeholder",
            GroupAction::RemovePlaceholder => "- placeholder",
        };
        let _ = writeln!(out, "  {verb} {} in {}", change.member, change.group);
        let _ = writeln!(out, "      because {}", change.reason);
    }
}

fn scheduled_text(out: &mut String, plan: &Plan) {
    if plan.scheduled.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nscheduled (terminations still to come)");
    for scheduled in &plan.scheduled {
        let _ = writeln!(
            out,
            "  employee {} leaves at {}: {}",
            scheduled.employee_id,
            scheduled.leaves_at.format("%Y-%m-%d %H:%M UTC"),
            scheduled.reason
        );
    }
}

fn skipped_text(out: &mut String, plan: &Plan) {
    if plan.skipped.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nskipped (left as they are)");
    for skipped in &plan.skipped {
        let who = match (&skipped.employee_id, &skipped.dn) {
            (Some(id), Some(dn)) => format!("employee {id} ({dn})"),
            (Some(id), None) => format!("employee {id}"),
            (None, Some(dn)) => dn.to_string(),
            (None, None) => "record".to_string(),
        };
        let _ = writeln!(out, "  {who}: {}", skipped.reason);
    }
}

fn orphans_text(out: &mut String, plan: &Plan) {
    if plan.orphans.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\norphans (in the directory, not in HR; reported, not changed)"
    );
    for orphan in &plan.orphans {
        let _ = writeln!(out, "  {} (id {})", orphan.dn, orphan.correlation_id);
    }
}

/// How many of a tripped limit's accounts are named; the rest are counted.
const ACCOUNTS_SHOWN: usize = 20;

fn limits_text(out: &mut String, plan: &Plan, paint: Paint) {
    if plan.limits_tripped.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nsafety limits tripped (apply refuses without approval)"
    );
    for tripped in &plan.limits_tripped {
        let _ = writeln!(
            out,
            "{}",
            paint.paint(Paint::RED, &format!("  ! {tripped}"))
        );
        let shown: Vec<&str> = tripped
            .accounts
            .iter()
            .take(ACCOUNTS_SHOWN)
            .map(String::as_str)
            .collect();
        let more = tripped.accounts.len().saturating_sub(shown.len());
        let _ = writeln!(
            out,
            "      accounts: {}{}",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
}

fn warnings_text(out: &mut String, plan: &Plan, paint: Paint) {
    if plan.warnings.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nwarnings");
    for warning in &plan.warnings {
        let _ = writeln!(
            out,
            "{}",
            paint.paint(Paint::YELLOW, &format!("  ! {warning}"))
        );
    }
}

fn account_text(out: &mut String, account: &AccountPlan, paint: Paint) {
    let head = format!(
        "{} {} (employee {})",
        account.lifecycle.as_str(),
        account.dn,
        account.employee_id
    );
    let _ = writeln!(out, "\n{}", paint.paint(Paint::BOLD, &head));
    for change in &account.changes {
        let (colour, line) = action_line(&change.action);
        let _ = writeln!(out, "{}", paint.paint(colour, &line));
        if let Action::Create { attributes, .. } = &change.action {
            for (name, values) in attributes {
                for value in values {
                    let _ = writeln!(out, "      {name}: {value}");
                }
            }
        }
        let _ = writeln!(out, "      because {}", change.reason);
    }
}

/// What one change does, in a line, and its colour on a terminal: green gives, red takes away,
/// bold for the lock itself.
fn action_line(action: &Action) -> (&'static str, String) {
    match action {
        Action::Create { dn, .. } => (Paint::GREEN, format!("  + create {dn}")),
        Action::Enable {
            account_control,
            set_password,
            clear_expiry,
            ..
        } => {
            let how = enable_how(*account_control, *set_password, *clear_expiry);
            let line = format!("  ~ enable the account{}", parenthesised(&how));
            (Paint::UNLOCK, line)
        }
        Action::Disable {
            method,
            account_control,
            expires,
        } => {
            let how = disable_how(*method, *account_control, expires.as_deref());
            let line = format!("  ~ disable the account{}", parenthesised(&how));
            (Paint::LOCK, line)
        }
        Action::SetAttribute {
            attribute,
            before,
            after,
        } => (
            Paint::YELLOW,
            format!("  ~ {attribute}: {} -> {}", show(before), show(after)),
        ),
        Action::Move { from, to } => (Paint::CYAN, format!("  > move {from} -> {to}")),
        Action::AddToGroup { group } => (Paint::GREEN, format!("  + group {group}")),
        Action::RemoveFromGroup { group } => (Paint::RED, format!("  - group {group}")),
        Action::RenameMember { group, from, to } => (
            Paint::YELLOW,
            format!("  ~ member of {group}: {from} -> {to} (follows the move)"),
        ),
        Action::AddValue { attribute, value } => {
            (Paint::GREEN, format!("  + {attribute}: {value:?}"))
        }
        Action::RemoveValue { attribute, value } => {
            (Paint::RED, format!("  - {attribute}: {value:?}"))
        }
    }
}

/// What enabling writes besides lifting the lock.
pub(super) fn enable_how(
    account_control: Option<ControlChange>,
    set_password: bool,
    clear_expiry: bool,
) -> Vec<String> {
    let mut how = Vec::new();
    if set_password {
        how.push("a new random password, never shown".to_string());
    }
    how.extend(account_control.map(control_text));
    if clear_expiry {
        how.push("accountExpires -> never".to_string());
    }
    how
}

/// What disabling writes.
pub(super) fn disable_how(
    method: DisableMethod,
    account_control: Option<ControlChange>,
    expires: Option<&str>,
) -> Vec<String> {
    let mut how = Vec::new();
    if let Some((attribute, value)) = method.lock_value() {
        how.push(format!("{attribute}: {value}"));
    }
    how.extend(account_control.map(control_text));
    if let Some(expires) = expires {
        how.push(format!("accountExpires -> {expires}"));
    }
    how
}

fn control_text(change: ControlChange) -> String {
    format!("userAccountControl {} -> {}", change.before, change.after)
}

pub(super) fn show(values: &[String]) -> String {
    match values {
        [] => "(none)".to_string(),
        [one] => format!("{one:?}"),
        many => format!("{many:?}"),
    }
}

pub(super) fn parenthesised(parts: &[String]) -> String {
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! The text plan, written out: made by the planner from a small HR and directory fixture
    //! that has every lifecycle, so a change on either side shows here.

    use std::collections::{BTreeMap, BTreeSet};

    use chrono::{NaiveDate, TimeZone, Utc};

    use super::*;
    use crate::dn::Dn;
    use crate::mapping::Mappings;
    use crate::model::{
        DirectoryAccount, DirectoryGroup, DirectorySnapshot, Employee, EmploymentStatus,
        HrSnapshot, RejectedRecord,
    };
    use crate::plan::limits::{Limit, LimitKind, Limits};
    use crate::plan::{Lifecycle, PlanInput, Policy, plan};

    const MAPPINGS: &str = r#"
[account]
default_ou = "ou=people,dc=ex"
disabled_ou = "ou=disabled,dc=ex"
[account.attributes]
uid = "{first_name|ascii|lower|alnum}.{last_name|ascii|lower|alnum}"
cn = "{first_name} {last_name}"
sn = "{last_name}"
title = "{title}"
manager = "{manager_dn}"

[groups]
base = "ou=groups,dc=ex"
birthright = ["staff"]
empty_group_placeholder = "cn=placeholder"

[[rule]]
name = "engineering"
match = { department = "Engineering" }
groups = ["engineering", "vpn"]
ou = "ou=eng,ou=people,dc=ex"

[[rule]]
name = "sales"
match = { department = "Sales" }
groups = ["sales"]
ou = "ou=sales,ou=people,dc=ex"
"#;

    fn dn(s: &str) -> Dn {
        Dn::parse(s).unwrap()
    }

    fn policy() -> Policy {
        Policy {
            disable: DisableMethod::PpolicyLock,
            expire_leavers: false,
            member_values_follow_renames: false,
            groups_require_member: true,
            empty_group_placeholder: Some(dn("cn=placeholder")),
            required_attributes: vec!["cn".into(), "sn".into()],
            prehire_days: 0,
            time_zone: chrono_tz::UTC,
            time_zone_field: None,
            leave_disable: false,
            leave_remove_groups: BTreeSet::new(),
            disable_orphans: false,
            leaver_groups: crate::plan::LeaverGroups::All,
            leaver_keep_groups: BTreeSet::new(),
            disabled_mark: crate::plan::Mark::disabled_in("description"),
        }
    }

    /// (id, first name, last name, department, HR's status).
    fn employee(
        (id, first, last, department, status): (&str, &str, &str, &str, EmploymentStatus),
    ) -> Employee {
        let fields: BTreeMap<String, String> = [
            ("id", id),
            ("first_name", first),
            ("last_name", last),
            ("department", department),
            ("title", department),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Employee {
            id: id.into(),
            hr_status: status,
            status_source: String::new(),
            hire_date: None,
            termination_date: None,
            fields: fields.into(),
        }
    }

    /// An account as hrsync would have made it for `e`, at `at`.
    fn account_of(e: &Employee, at: &str, disabled: bool) -> DirectoryAccount {
        let field = |name: &str| e.field(name).unwrap_or_default().to_string();
        let attributes: BTreeMap<String, Vec<String>> = [
            ("uid", dn(at).rdn_avas()[0].value.clone()),
            ("employeenumber", e.id.clone()),
            (
                "cn",
                format!("{} {}", field("first_name"), field("last_name")),
            ),
            ("sn", field("last_name")),
            ("title", field("title")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), vec![v]))
        .collect();
        DirectoryAccount {
            dn: dn(at),
            correlation_id: Some(e.id.clone()),
            attributes: attributes.into(),
            disabled,
            account_control: None,
            password_set: true,
            protected: None,
            held: false,
            locked_elsewhere: None,
        }
    }

    /// Every lifecycle, a skipped and a protected account, an orphan, a pending joiner, a
    /// termination to come, a manager nobody has, a group that gets real members again, and
    /// a limit on disabling that the leaver trips.
    pub(crate) fn every_lifecycle() -> Plan {
        use EmploymentStatus::*;
        let eng = "ou=eng,ou=people,dc=ex";
        let ada = employee(("1", "Ada", "Lovelace", "Engineering", Active));
        let bob = employee(("2", "Bob", "Stone", "Sales", Active));
        let mut cy = employee(("3", "Cy", "Young", "Engineering", Terminated));
        cy.status_source = "Inactive".into();
        let di = employee(("4", "Di", "Prince", "Sales", Active));
        let mut ed = employee(("5", "Ed", "Nash", "Engineering", Active));
        ed.hire_date = NaiveDate::from_ymd_opt(2015, 1, 1);
        let mut flo = employee(("6", "Flo", "Rida", "Engineering", Active));
        flo.fields.insert("manager_id".into(), "99".into());
        let mut gus = employee(("7", "Gus", "Grand", "Engineering", Active));
        gus.termination_date = NaiveDate::from_ymd_opt(2026, 12, 31);
        let ivy = employee(("9", "Ivy", "Root", "Engineering", Active));
        let mut jo = employee(("11", "Jo", "March", "Sales", Active));
        jo.hire_date = NaiveDate::from_ymd_opt(2026, 12, 15);
        let hal = employee(("8", "Hal", "Eight", "Engineering", Active));
        let old = employee(("10", "Old", "Timer", "Engineering", Active));

        let mut flo_account = account_of(&flo, &format!("uid=flo.rida,{eng}"), false);
        flo_account
            .attributes
            .insert("title".into(), vec!["Intern".into()]);
        let mut ivy_account = account_of(&ivy, &format!("uid=ivy.root,{eng}"), false);
        ivy_account.protected = Some("member of cn=admins,dc=ex".into());
        let accounts = vec![
            account_of(&bob, &format!("uid=bob.stone,{eng}"), false),
            account_of(&cy, &format!("uid=cy.young,{eng}"), false),
            account_of(&di, "uid=di.prince,ou=disabled,dc=ex", true),
            {
                // Disabled by hrsync for a leave: its mark says so.
                let mut ed = account_of(&ed, &format!("uid=ed.nash,{eng}"), true);
                ed.attributes.insert(
                    "description".into(),
                    vec![crate::plan::DISABLED_MARK.into()],
                );
                ed
            },
            flo_account,
            account_of(&gus, &format!("uid=gus.grand,{eng}"), false),
            account_of(&hal, &format!("uid=hal.eight,{eng}"), false),
            ivy_account,
            account_of(&old, "uid=old.timer,ou=people,dc=ex", false),
        ];
        let members = |cn: &str, uids: &[&str]| -> (Dn, DirectoryGroup) {
            let group = dn(&format!("cn={cn},ou=groups,dc=ex"));
            let members = uids
                .iter()
                .map(|uid| match *uid {
                    "placeholder" => dn("cn=placeholder"),
                    uid => dn(&format!("uid={uid},{eng}")),
                })
                .collect();
            (group.clone(), DirectoryGroup { dn: group, members })
        };
        let directory = DirectorySnapshot {
            accounts,
            groups: BTreeMap::from([
                members(
                    "staff",
                    &["bob.stone", "cy.young", "ed.nash", "flo.rida", "gus.grand"],
                ),
                members(
                    "engineering",
                    &["bob.stone", "cy.young", "ed.nash", "flo.rida", "gus.grand"],
                ),
                members("vpn", &["bob.stone", "ed.nash", "flo.rida", "gus.grand"]),
                members("sales", &["placeholder"]),
            ]),
            taken: BTreeMap::new(),
            warnings: vec!["ppolicy is not loaded: a lock does not stop a bind".into()],
            member_values_follow_renames: None,
        };
        let hr = HrSnapshot {
            employees: vec![ada, bob, cy, di, ed, flo, gus, ivy, jo],
            rejected: vec![RejectedRecord {
                id: Some("8".into()),
                index: 9,
                problem: "status \"?\" is not listed".into(),
            }],
            ..Default::default()
        };
        let mut limits = Limits::none();
        limits.kinds.insert(
            LimitKind::Disable,
            Limit {
                count: Some(0),
                percent: None,
            },
        );
        let mappings = Mappings::from_files(&[("m.toml".into(), MAPPINGS.into())]).unwrap();
        plan(&PlanInput {
            hr: &hr,
            directory: &directory,
            mappings: &mappings,
            policy: &policy(),
            limits: &limits,
            now: Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap(),
        })
    }

    #[test]
    fn a_plan_with_every_lifecycle_reads_as_written_here() {
        let plan = every_lifecycle();
        let lifecycles: BTreeSet<Lifecycle> = plan.accounts.iter().map(|a| a.lifecycle).collect();
        assert_eq!(lifecycles.len(), 6, "{lifecycles:?}");
        let text = text(&plan);
        assert_eq!(text, EVERY_LIFECYCLE);
    }

    const EVERY_LIFECYCLE: &str = r#"hrsync plan: 1 joiner(s), 1 mover(s), 1 leaver(s), 1 rehire(s), 1 return(s), 1 update(s); 22 change(s) in all
  1 creation(s), 2 enable(s), 1 disable(s), 3 move(s), 6 group addition(s), 4 group removal(s), 1 member value rewrite(s), 1 attribute change(s), 2 value removal(s), 1 placeholder change(s)
read 10 HR record(s) and 9 correlated directory account(s)

safety limits tripped (apply refuses without approval)
  ! limit `disable` tripped: 1 account(s), over 0 account(s)
      accounts: 3

warnings
  ! employee 6: manager 99 has no account hrsync manages; manager left unset
  ! ppolicy is not loaded: a lock does not stop a bind

joiner uid=ada.lovelace,ou=eng,ou=people,dc=ex (employee 1)
  + create uid=ada.lovelace,ou=eng,ou=people,dc=ex
      cn: Ada Lovelace
      description: hrsync-joining
      employeeNumber: 1
      objectClass: top
      objectClass: person
      objectClass: organizationalPerson
      objectClass: inetOrgPerson
      sn: Lovelace
      title: Engineering
      uid: ada.lovelace
      because status = active and no account has employeeNumber=1 (joiner)
  + group cn=engineering,ou=groups,dc=ex
      because department = "Engineering" (rule "engineering")
  + group cn=staff,ou=groups,dc=ex
      because status = active (birthright group)
  + group cn=vpn,ou=groups,dc=ex
      because department = "Engineering" (rule "engineering")
  - description: "hrsync-joining"
      because status = active and no account has employeeNumber=1 (hrsync marks a joiner until its last step)

mover uid=bob.stone,ou=eng,ou=people,dc=ex (employee 2)
  - group cn=engineering,ou=groups,dc=ex
      because no rule gives this group to title = "Sales", department = "Sales"
  - group cn=vpn,ou=groups,dc=ex
      because no rule gives this group to title = "Sales", department = "Sales"
  > move uid=bob.stone,ou=eng,ou=people,dc=ex -> uid=bob.stone,ou=sales,ou=people,dc=ex
      because department = "Sales" (rule "sales")
  ~ member of cn=staff,ou=groups,dc=ex: uid=bob.stone,ou=eng,ou=people,dc=ex -> uid=bob.stone,ou=sales,ou=people,dc=ex (follows the move)
      because the account moved and stays in this group (member values follow the move)
  + group cn=sales,ou=groups,dc=ex
      because department = "Sales" (rule "sales")

leaver uid=cy.young,ou=eng,ou=people,dc=ex (employee 3)
  ~ disable the account (pwdAccountLockedTime: 000001010000Z)
      because status = terminated ("Inactive") (leaver)
  - group cn=engineering,ou=groups,dc=ex
      because status = terminated ("Inactive") (leaver)
  - group cn=staff,ou=groups,dc=ex
      because status = terminated ("Inactive") (leaver)
  > move uid=cy.young,ou=eng,ou=people,dc=ex -> uid=cy.young,ou=disabled,dc=ex
      because status = terminated ("Inactive") (account.disabled_ou)

rehire uid=di.prince,ou=disabled,dc=ex (employee 4)
  ~ enable the account
      because status = active but the account is disabled (rehire)
  > move uid=di.prince,ou=disabled,dc=ex -> uid=di.prince,ou=sales,ou=people,dc=ex
      because department = "Sales" (rule "sales")
  + group cn=sales,ou=groups,dc=ex
      because department = "Sales" (rule "sales")
  + group cn=staff,ou=groups,dc=ex
      because status = active (birthright group)

return uid=ed.nash,ou=eng,ou=people,dc=ex (employee 5)
  ~ enable the account
      because status = active but the account is disabled (return from leave)
  - description: "hrsync-disabled"
      because status = active but the account is disabled (return from leave)

update uid=flo.rida,ou=eng,ou=people,dc=ex (employee 6)
  ~ title: "Intern" -> "Engineering"
      because title = "Engineering" (account.attributes.title = "{title}")

groups
  - placeholder cn=placeholder in cn=sales,ou=groups,dc=ex
      because the group has real members again (groups.empty_group_placeholder)

scheduled (terminations still to come)
  employee 7 leaves at 2027-01-01 00:00 UTC: termination_date = 2026-12-31 (last working day, UTC); leaves at its end

skipped (left as they are)
  employee 11: not started yet (starts 2026-12-15); no account is made before the start date (lifecycle.prehire_days = 0)
  employee 8 (uid=hal.eight,ou=eng,ou=people,dc=ex): HR record could not be read (status "?" is not listed); account left as it is
  employee 9 (uid=ivy.root,ou=eng,ou=people,dc=ex): protected account (member of cn=admins,dc=ex); hrsync never changes it

orphans (in the directory, not in HR; reported, not changed)
  uid=old.timer,ou=people,dc=ex (id 10)
"#;

    fn groups(members: &[&str]) -> BTreeMap<Dn, DirectoryGroup> {
        ["staff", "engineering", "vpn", "sales"]
            .into_iter()
            .map(|cn| {
                let group = dn(&format!("cn={cn},ou=groups,dc=ex"));
                let members = members.iter().map(|m| dn(m)).collect();
                (group.clone(), DirectoryGroup { dn: group, members })
            })
            .collect()
    }

    /// Active Directory: a joiner created disabled then enabled with a password, a leaver
    /// disabled with an expiry, a rehire enabled with a new password and the expiry cleared.
    fn active_directory() -> Plan {
        use EmploymentStatus::*;
        let ada = employee(("1", "Ada", "Lovelace", "Engineering", Active));
        let cy = employee(("3", "Cy", "Young", "Engineering", Terminated));
        let di = employee(("4", "Di", "Prince", "Sales", Active));
        let mut cy_account = account_of(&cy, "uid=cy.young,ou=disabled,dc=ex", false);
        cy_account.account_control = Some(0x200);
        let mut di_account = account_of(&di, "uid=di.prince,ou=disabled,dc=ex", true);
        di_account.account_control = Some(0x202);
        di_account.password_set = false;
        di_account
            .attributes
            .insert("accountExpires".into(), vec!["134000000000000000".into()]);
        let directory = DirectorySnapshot {
            accounts: vec![cy_account, di_account],
            groups: groups(&["cn=someone-else,dc=ex"]),
            taken: BTreeMap::new(),
            warnings: Vec::new(),
            member_values_follow_renames: None,
        };
        let hr = HrSnapshot {
            employees: vec![ada, cy, di],
            rejected: Vec::new(),
            ..Default::default()
        };
        let policy = Policy {
            disable: DisableMethod::UserAccountControl,
            expire_leavers: true,
            member_values_follow_renames: true,
            groups_require_member: false,
            empty_group_placeholder: None,
            required_attributes: vec!["cn".into()],
            ..policy()
        };
        let mappings = Mappings::from_files(&[("m.toml".into(), MAPPINGS.into())]).unwrap();
        plan(&PlanInput {
            hr: &hr,
            directory: &directory,
            mappings: &mappings,
            policy: &policy,
            limits: &Limits::none(),
            now: Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap(),
        })
    }

    #[test]
    fn active_directory_s_account_control_and_expiry_are_shown() {
        let text = text(&active_directory());
        assert_eq!(text, ACTIVE_DIRECTORY);
    }

    const ACTIVE_DIRECTORY: &str = r#"hrsync plan: 1 joiner(s), 0 mover(s), 1 leaver(s), 1 rehire(s), 0 return(s), 0 update(s); 11 change(s) in all
  1 creation(s), 2 enable(s), 1 disable(s), 1 move(s), 5 group addition(s), 1 value removal(s)
read 3 HR record(s) and 2 correlated directory account(s)

joiner uid=ada.lovelace,ou=eng,ou=people,dc=ex (employee 1)
  + create uid=ada.lovelace,ou=eng,ou=people,dc=ex
      cn: Ada Lovelace
      description: hrsync-joining
      employeeNumber: 1
      objectClass: top
      objectClass: person
      objectClass: organizationalPerson
      objectClass: inetOrgPerson
      sn: Lovelace
      title: Engineering
      uid: ada.lovelace
      userAccountControl: 514
      because status = active and no account has employeeNumber=1 (joiner)
  ~ enable the account (a new random password, never shown, userAccountControl 514 -> 512)
      because status = active and no account has employeeNumber=1 (joiner)
  + group cn=engineering,ou=groups,dc=ex
      because department = "Engineering" (rule "engineering")
  + group cn=staff,ou=groups,dc=ex
      because status = active (birthright group)
  + group cn=vpn,ou=groups,dc=ex
      because department = "Engineering" (rule "engineering")
  - description: "hrsync-joining"
      because status = active and no account has employeeNumber=1 (hrsync marks a joiner until its last step)

leaver uid=cy.young,ou=disabled,dc=ex (employee 3)
  ~ disable the account (userAccountControl 512 -> 514, accountExpires -> 134402436000000000)
      because status = terminated (leaver)

rehire uid=di.prince,ou=disabled,dc=ex (employee 4)
  ~ enable the account (a new random password, never shown, userAccountControl 514 -> 512, accountExpires -> never)
      because status = active but the account is disabled (rehire)
  > move uid=di.prince,ou=disabled,dc=ex -> uid=di.prince,ou=sales,ou=people,dc=ex
      because department = "Sales" (rule "sales")
  + group cn=sales,ou=groups,dc=ex
      because department = "Sales" (rule "sales")
  + group cn=staff,ou=groups,dc=ex
      because status = active (birthright group)
"#;

    #[test]
    fn a_plan_without_changes_says_so() {
        let mappings = Mappings::from_files(&[("m.toml".into(), MAPPINGS.into())]).unwrap();
        let directory = DirectorySnapshot {
            groups: groups(&["cn=someone-else,dc=ex"]),
            ..DirectorySnapshot::default()
        };
        let plan = plan(&PlanInput {
            hr: &HrSnapshot::default(),
            directory: &directory,
            mappings: &mappings,
            policy: &policy(),
            limits: &Limits::none(),
            now: Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap(),
        });
        assert_eq!(
            text(&plan),
            "hrsync plan: 0 joiner(s), 0 mover(s), 0 leaver(s), 0 rehire(s), 0 return(s), 0 update(s); \
             0 change(s) in all\n\
             read 0 HR record(s) and 0 correlated directory account(s)\n\
             \n\
             No changes: the directory matches HR.\n"
        );
    }
}
