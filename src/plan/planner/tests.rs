//! Unit tests of the pure planner: each lifecycle case, the safety properties, determinism, and
//! convergence (applying a plan to the snapshot and planning again yields nothing).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::*;
use crate::mapping::Mappings;
use crate::model::{DirectoryGroup, RejectedRecord};
use crate::plan::{DisableMethod, GroupAction, PPOLICY_PERMANENT_LOCK, Policy};

mod approval;

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
match = { department = ["Sales", "Presales"] }
groups = ["sales"]
ou = "ou=sales,ou=people,dc=ex"
"#;

fn mappings() -> Mappings {
    Mappings::from_files(&[("m.toml".into(), MAPPINGS.into())]).unwrap()
}

fn policy() -> Policy {
    Policy {
        disable: DisableMethod::PpolicyLock,
        expire_leavers: false,
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
        member_values_follow_renames: false,
        groups_require_member: true,
        empty_group_placeholder: Some(dn("cn=placeholder")),
    }
}

const LOCK: Action = Action::Disable {
    method: DisableMethod::PpolicyLock,
    account_control: None,
    expires: None,
};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap()
}

fn dn(s: &str) -> Dn {
    Dn::parse(s).unwrap()
}

fn employee(
    id: &str,
    first: &str,
    last: &str,
    department: &str,
    status: EmploymentStatus,
) -> Employee {
    let mut fields = BTreeMap::new();
    fields.insert("id".into(), id.into());
    fields.insert("first_name".into(), first.into());
    fields.insert("last_name".into(), last.into());
    fields.insert("department".into(), department.into());
    fields.insert("title".into(), format!("{department} person"));
    Employee {
        id: id.into(),
        hr_status: status,
        status_source: String::new(),
        hire_date: None,
        termination_date: None,
        fields: fields.into(),
    }
}

fn account(d: &str, id: &str, title: &str, disabled: bool) -> DirectoryAccount {
    let d = dn(d);
    let mut attributes = BTreeMap::new();
    let uid = d.rdn_avas()[0].value.clone();
    attributes.insert("uid".into(), vec![uid]);
    attributes.insert("employeenumber".into(), vec![id.into()]);
    attributes.insert("title".into(), vec![title.into()]);
    DirectoryAccount {
        dn: d,
        correlation_id: Some(id.into()),
        attributes: attributes.into(),
        disabled,
        account_control: None,
        password_set: true,
        protected: None,
        held: false,
        locked_elsewhere: None,
    }
}

/// A directory where every managed group exists; `members` lists (group cn, member DN).
fn directory(accounts: Vec<DirectoryAccount>, members: &[(&str, &str)]) -> DirectorySnapshot {
    let mut groups = BTreeMap::new();
    for cn in ["staff", "engineering", "vpn", "sales"] {
        let g = dn(&format!("cn={cn},ou=groups,dc=ex"));
        groups.insert(
            g.clone(),
            DirectoryGroup {
                dn: g,
                members: BTreeSet::from([dn("cn=someone-else,dc=ex")]),
            },
        );
    }
    for (cn, member) in members {
        let g = dn(&format!("cn={cn},ou=groups,dc=ex"));
        groups.get_mut(&g).unwrap().members.insert(dn(member));
    }
    DirectorySnapshot {
        accounts,
        groups,
        taken: BTreeMap::new(),
        warnings: Vec::new(),
        member_values_follow_renames: None,
    }
}

fn plan_for(hr: &HrSnapshot, dir: &DirectorySnapshot) -> Plan {
    let mappings = mappings();
    let policy = policy();
    plan(&PlanInput {
        hr,
        directory: dir,
        mappings: &mappings,
        policy: &policy,
        limits: &crate::plan::limits::Limits::none(),
        now: now(),
    })
}

fn hr(employees: Vec<Employee>) -> HrSnapshot {
    HrSnapshot {
        employees,
        rejected: vec![],
        ..Default::default()
    }
}

fn actions(plan: &Plan, id: &str) -> Vec<Action> {
    plan.accounts
        .iter()
        .find(|a| a.employee_id == id)
        .map(|a| a.changes.iter().map(|c| c.action.clone()).collect())
        .unwrap_or_default()
}

/// Applies a plan to a snapshot the way a directory would, for convergence tests.
fn simulate(plan: &Plan, dir: &DirectorySnapshot) -> DirectorySnapshot {
    let mut dir = dir.clone();
    for change in plan
        .group_changes
        .iter()
        .filter(|g| g.action == GroupAction::AddPlaceholder)
    {
        dir.groups
            .get_mut(&change.group)
            .unwrap()
            .members
            .insert(change.member.clone());
    }
    for account in &plan.accounts {
        let mut current = account.dn.clone();
        for change in &account.changes {
            let idx = dir.accounts.iter().position(|a| a.dn == current);
            match &change.action {
                Action::Create { dn, attributes } => {
                    let attributes: BTreeMap<String, Vec<String>> = attributes
                        .iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                        .collect();
                    dir.accounts.push(DirectoryAccount {
                        dn: dn.clone(),
                        correlation_id: attributes.get("employeenumber").map(|v| v[0].clone()),
                        attributes: attributes.into(),
                        disabled: false,
                        account_control: None,
                        password_set: true,
                        protected: None,
                        held: false,
                        locked_elsewhere: None,
                    });
                    current = dn.clone();
                }
                Action::Enable { .. } => dir.accounts[idx.unwrap()].disabled = false,
                Action::Disable { .. } => dir.accounts[idx.unwrap()].disabled = true,
                Action::SetAttribute {
                    attribute, after, ..
                } => {
                    let a = &mut dir.accounts[idx.unwrap()];
                    if after.is_empty() {
                        a.attributes.remove(&attribute.to_ascii_lowercase());
                    } else {
                        a.attributes
                            .insert(attribute.to_ascii_lowercase(), after.clone());
                    }
                }
                Action::Move { to, .. } => {
                    dir.accounts[idx.unwrap()].dn = to.clone();
                    current = to.clone();
                }
                Action::AddToGroup { group } => {
                    dir.groups
                        .entry(group.clone())
                        .or_insert_with(|| DirectoryGroup {
                            dn: group.clone(),
                            members: BTreeSet::new(),
                        })
                        .members
                        .insert(current.clone());
                }
                Action::RemoveFromGroup { group } => {
                    dir.groups.get_mut(group).unwrap().members.remove(&current);
                }
                Action::RenameMember { group, from, to } => {
                    let m = &mut dir.groups.get_mut(group).unwrap().members;
                    m.remove(from);
                    m.insert(to.clone());
                }
                Action::AddValue { attribute, value } => {
                    let a = &mut dir.accounts[idx.unwrap()];
                    let mut values = a.values(&attribute.to_ascii_lowercase()).to_vec();
                    values.push(value.clone());
                    a.attributes.insert(attribute.to_ascii_lowercase(), values);
                }
                Action::RemoveValue { attribute, value } => {
                    let a = &mut dir.accounts[idx.unwrap()];
                    let key = attribute.to_ascii_lowercase();
                    let values: Vec<String> = a
                        .values(&key)
                        .iter()
                        .filter(|v| *v != value)
                        .cloned()
                        .collect();
                    if values.is_empty() {
                        a.attributes.remove(&key);
                    } else {
                        a.attributes.insert(key, values);
                    }
                }
            }
        }
    }
    for change in plan
        .group_changes
        .iter()
        .filter(|g| g.action == GroupAction::RemovePlaceholder)
    {
        dir.groups
            .get_mut(&change.group)
            .unwrap()
            .members
            .remove(&change.member);
    }
    dir
}

#[test]
fn joiner_is_created_in_role_ou_with_role_and_birthright_groups() {
    let plan = plan_for(
        &hr(vec![employee(
            "7",
            "Zoë",
            "Ångström",
            "Engineering",
            EmploymentStatus::Active,
        )]),
        &directory(vec![], &[]),
    );
    let account = &plan.accounts[0];
    assert_eq!(account.lifecycle, Lifecycle::Joiner);
    assert_eq!(account.dn, dn("uid=zoe.angstrom,ou=eng,ou=people,dc=ex"));
    let Action::Create { attributes, .. } = &account.changes[0].action else {
        panic!("first change must create: {:?}", account.changes)
    };
    assert_eq!(attributes["cn"], ["Zoë Ångström"]);
    assert_eq!(attributes["employeeNumber"], ["7"]);
    assert_eq!(attributes["objectClass"].len(), 4);
    assert!(
        !attributes.contains_key("manager"),
        "no manager: attribute left out"
    );
    let groups: Vec<_> = actions(&plan, "7")
        .into_iter()
        .filter_map(|a| match a {
            Action::AddToGroup { group } => Some(group.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        groups,
        [
            "cn=engineering,ou=groups,dc=ex",
            "cn=staff,ou=groups,dc=ex",
            "cn=vpn,ou=groups,dc=ex"
        ]
    );
    assert_eq!(plan.summary.joiners, 1);
}

#[test]
fn mover_changes_groups_ou_and_title_and_rewrites_kept_memberships() {
    let old = "uid=ada.l,ou=eng,ou=people,dc=ex";
    let dir = directory(
        vec![account(old, "1", "Engineering person", false)],
        &[("staff", old), ("engineering", old), ("vpn", old)],
    );
    let plan = plan_for(
        &hr(vec![employee(
            "1",
            "Ada",
            "L",
            "Sales",
            EmploymentStatus::Active,
        )]),
        &dir,
    );
    let new = dn("uid=ada.l,ou=sales,ou=people,dc=ex");
    assert_eq!(plan.accounts[0].lifecycle, Lifecycle::Mover);
    let acts = actions(&plan, "1");
    assert!(acts.contains(&Action::SetAttribute {
        attribute: "title".into(),
        before: vec!["Engineering person".into()],
        after: vec!["Sales person".into()],
    }));
    let g = |cn: &str| dn(&format!("cn={cn},ou=groups,dc=ex"));
    let pos = |a: &Action| acts.iter().position(|x| x == a).unwrap();
    let mv = Action::Move {
        from: dn(old),
        to: new.clone(),
    };
    // Removals use the old DN, so they come before the move; additions after it.
    assert!(
        pos(&Action::RemoveFromGroup {
            group: g("engineering")
        }) < pos(&mv)
    );
    assert!(pos(&Action::RemoveFromGroup { group: g("vpn") }) < pos(&mv));
    assert!(pos(&mv) < pos(&Action::AddToGroup { group: g("sales") }));
    assert!(acts.contains(&Action::RenameMember {
        group: g("staff"),
        from: dn(old),
        to: new
    }));
    // The RDN is kept: uid is not touched even though the template is there.
    assert!(
        !acts
            .iter()
            .any(|a| matches!(a, Action::SetAttribute { attribute, .. } if attribute == "uid"))
    );
}

/// An apply cut short after a mover's modrdn and before the rewrite of its memberships leaves
/// the old DN in the groups (OpenLDAP does not follow renames). The next run rewrites each such
/// value as the account's DN, and takes it out of the groups the role no longer gives, so the
/// old name hands no group to whoever is created under it later.
#[test]
fn member_values_left_behind_by_a_cut_short_move_are_repaired_by_the_next_run() {
    let old = "uid=ada.l,ou=eng,ou=people,dc=ex";
    let moved = "uid=ada.l,ou=sales,ou=people,dc=ex";
    // Moved to sales; still listed under the old DN in staff (kept) and vpn (not kept).
    let dir = directory(
        vec![account(moved, "1", "Sales person", false)],
        &[("staff", old), ("vpn", old), ("sales", moved)],
    );
    let hr = hr(vec![employee(
        "1",
        "Ada",
        "L",
        "Sales",
        EmploymentStatus::Active,
    )]);
    let plan = plan_for(&hr, &dir);
    let g = |cn: &str| dn(&format!("cn={cn},ou=groups,dc=ex"));
    // (Attribute updates the test account needs aside.)
    let acts: Vec<Action> = actions(&plan, "1")
        .into_iter()
        .filter(|a| !matches!(a, Action::SetAttribute { .. }))
        .collect();
    assert_eq!(
        acts,
        vec![
            Action::RenameMember {
                group: g("staff"),
                from: dn(old),
                to: dn(moved)
            },
            Action::RenameMember {
                group: g("vpn"),
                from: dn(old),
                to: dn(moved)
            },
            Action::RemoveFromGroup { group: g("vpn") },
        ],
        "{plan:#?}"
    );
    let after = simulate(&plan, &dir);
    for cn in ["staff", "vpn", "sales", "engineering"] {
        assert!(!after.groups[&g(cn)].members.contains(&dn(old)), "{cn}");
    }
    assert!(after.groups[&g("staff")].members.contains(&dn(moved)));
    assert!(!after.groups[&g("vpn")].members.contains(&dn(moved)));
    assert!(!plan_for(&hr, &after).has_changes());

    // When the value cannot be pinned on one account, nothing is guessed: it is named.
    let twin = "uid=ada.l,ou=people,dc=ex";
    let mut other = account(twin, "2", "Other person", false);
    other.attributes.insert("cn".into(), vec!["Ada L".into()]);
    let dir = directory(
        vec![account(moved, "1", "Sales person", false), other],
        &[("staff", old), ("sales", moved), ("staff", moved)],
    );
    let plan = plan_for(&hr, &dir);
    assert!(
        actions(&plan, "1")
            .iter()
            .all(|a| matches!(a, Action::SetAttribute { .. })),
        "{plan:#?}"
    );
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains(&format!("{old} in {} is no entry", g("staff")))),
        "{:?}",
        plan.warnings
    );
}

#[test]
fn leaver_is_disabled_first_stripped_of_managed_groups_and_moved() {
    let d = "uid=bob.b,ou=sales,ou=people,dc=ex";
    let dir = directory(
        vec![account(d, "2", "Sales person", false)],
        &[("staff", d), ("sales", d)],
    );
    let mut bob = employee("2", "Bob", "B", "Sales", EmploymentStatus::Terminated);
    bob.status_source = "Inactive".into();
    let plan = plan_for(&hr(vec![bob]), &dir);
    let acts = actions(&plan, "2");
    assert_eq!(acts[0], LOCK, "lockout first");
    assert_eq!(
        acts[1..3],
        [
            Action::RemoveFromGroup {
                group: dn("cn=sales,ou=groups,dc=ex")
            },
            Action::RemoveFromGroup {
                group: dn("cn=staff,ou=groups,dc=ex")
            },
        ]
    );
    assert_eq!(
        acts[3],
        Action::Move {
            from: dn(d),
            to: dn("uid=bob.b,ou=disabled,dc=ex")
        }
    );
    assert_eq!(acts.len(), 4, "a leaver's attributes are not rewritten");
    assert_eq!(plan.accounts[0].lifecycle, Lifecycle::Leaver);
    assert!(plan.accounts[0].changes[0].reason.fact.contains("Inactive"));
}

#[test]
fn rehire_is_enabled_and_restored_for_the_current_role() {
    let d = "uid=cy.c,ou=disabled,dc=ex";
    let dir = directory(vec![account(d, "3", "Sales person", true)], &[]);
    let plan = plan_for(
        &hr(vec![employee(
            "3",
            "Cy",
            "C",
            "Engineering",
            EmploymentStatus::Active,
        )]),
        &dir,
    );
    assert_eq!(plan.accounts[0].lifecycle, Lifecycle::Rehire);
    let acts = actions(&plan, "3");
    assert!(matches!(acts[0], Action::Enable { .. }), "{acts:?}");
    assert!(acts.contains(&Action::Move {
        from: dn(d),
        to: dn("uid=cy.c,ou=eng,ou=people,dc=ex")
    }));
    assert!(acts.contains(&Action::AddToGroup {
        group: dn("cn=engineering,ou=groups,dc=ex")
    }));
    assert!(!acts.contains(&Action::AddToGroup {
        group: dn("cn=sales,ou=groups,dc=ex")
    }));
}

#[test]
fn missing_hr_record_is_an_orphan_and_never_a_leaver() {
    let d = "uid=x,ou=people,dc=ex";
    let dir = directory(vec![account(d, "9", "t", false)], &[("staff", d)]);
    let plan = plan_for(&hr(vec![]), &dir);
    assert!(!plan.has_changes());
    assert_eq!(
        plan.orphans,
        [Orphan {
            dn: dn(d),
            correlation_id: "9".into()
        }]
    );
}

#[test]
fn unreadable_or_duplicate_hr_records_protect_their_accounts() {
    let d = "uid=x,ou=people,dc=ex";
    let dir = directory(vec![account(d, "9", "t", false)], &[("staff", d)]);
    let snapshot = HrSnapshot {
        employees: vec![],
        rejected: vec![RejectedRecord {
            id: Some("9".into()),
            index: 0,
            problem: "id appears 2 times".into(),
        }],
        ..Default::default()
    };
    let plan = plan_for(&snapshot, &dir);
    assert!(!plan.has_changes());
    assert!(
        plan.orphans.is_empty(),
        "an unreadable record is not an orphan"
    );
    assert_eq!(plan.skipped.len(), 1);
    assert!(plan.skipped[0].reason.contains("id appears 2 times"));
    assert_eq!(plan.skipped[0].dn, Some(dn(d)));
}

#[test]
fn duplicate_correlation_values_in_the_directory_are_left_alone() {
    let dir = directory(
        vec![
            account("uid=a,ou=people,dc=ex", "5", "t", false),
            account("uid=b,ou=people,dc=ex", "5", "t", false),
        ],
        &[],
    );
    let plan = plan_for(
        &hr(vec![employee(
            "5",
            "A",
            "B",
            "Sales",
            EmploymentStatus::Terminated,
        )]),
        &dir,
    );
    assert!(!plan.has_changes());
    assert_eq!(plan.skipped.len(), 2);
}

#[test]
fn only_managed_attributes_are_touched_and_a_leaver_leaves_every_group() {
    let d = "uid=ada.l,ou=eng,ou=people,dc=ex";
    let mut acct = account(d, "1", "Engineering person", false);
    acct.attributes
        .insert("telephonenumber".into(), vec!["123".into()]);
    let mut dir = directory(vec![acct], &[("staff", d), ("engineering", d), ("vpn", d)]);
    let (unmanaged, alumni) = (
        dn("cn=wiki-admins,ou=groups,dc=ex"),
        dn("cn=alumni,ou=groups,dc=ex"),
    );
    for group in [&unmanaged, &alumni] {
        dir.groups.insert(
            group.clone(),
            DirectoryGroup {
                dn: group.clone(),
                members: BTreeSet::from([dn(d), dn("cn=someone-else,dc=ex")]),
            },
        );
    }
    let hr = hr(vec![employee(
        "1",
        "Ada",
        "L",
        "Sales",
        EmploymentStatus::Terminated,
    )]);
    let with = |policy: Policy| {
        let mappings = mappings();
        plan(&PlanInput {
            hr: &hr,
            directory: &dir,
            mappings: &mappings,
            policy: &policy,
            limits: &crate::plan::limits::Limits::none(),
            now: now(),
        })
    };
    let touches = |plan: &Plan, group: &Dn| {
        actions(plan, "1").iter().any(|a| {
            matches!(a, Action::RemoveFromGroup { group: g } | Action::AddToGroup { group: g } if g == group)
        })
    };
    // By default a leaver leaves every group that lists it, each with its reason.
    let all = with(policy());
    assert!(touches(&all, &unmanaged) && touches(&all, &alumni));
    assert!(all.accounts[0].changes.iter().any(|c| {
        matches!(&c.action, Action::RemoveFromGroup { group } if *group == unmanaged)
            && c.reason.rule.as_deref() == Some("lifecycle.leaver_groups = \"all\"")
    }));
    assert!(
        !actions(&all, "1")
            .iter()
            .any(|a| matches!(a, Action::SetAttribute { .. }))
    );
    // A list of groups to keep; or only the managed groups.
    let keep = with(Policy {
        leaver_keep_groups: BTreeSet::from([alumni.clone()]),
        ..policy()
    });
    assert!(touches(&keep, &unmanaged) && !touches(&keep, &alumni));
    let managed = with(Policy {
        leaver_groups: crate::plan::LeaverGroups::Managed,
        ..policy()
    });
    assert!(!touches(&managed, &unmanaged) && !touches(&managed, &alumni));
    // The groups it stays in follow its move to the disabled OU (no refint here).
    let moved = dn("uid=ada.l,ou=disabled,dc=ex");
    assert!(actions(&managed, "1").contains(&Action::RenameMember {
        group: alumni.clone(),
        from: dn(d),
        to: moved,
    }));
    // Converges: nothing left, in either mode.
    assert!(!plan_for(&hr, &simulate(&all, &dir)).has_changes());
}

/// A mover's value follows the move in a group hrsync does not manage (keeping access is not
/// granting it), and a new account never starts in a group by a value an earlier account left,
/// managed or not.
#[test]
fn a_movers_other_groups_follow_and_a_joiner_inherits_no_membership() {
    let d = "uid=bo.b,ou=eng,ou=people,dc=ex";
    let mut acct = account(d, "1", "Engineering person", false);
    acct.attributes.insert("cn".into(), vec!["Bo B".into()]);
    acct.attributes.insert("sn".into(), vec!["B".into()]);
    let mut dir = directory(vec![acct], &[("staff", d), ("engineering", d), ("vpn", d)]);
    let project = dn("cn=project-x,ou=groups,dc=ex");
    // The new hire's DN is still listed by an old membership, managed and not.
    let inherited = "uid=cy.c,ou=sales,ou=people,dc=ex";
    dir.groups.insert(
        project.clone(),
        DirectoryGroup {
            dn: project.clone(),
            members: BTreeSet::from([dn(d), dn(inherited)]),
        },
    );
    dir.groups
        .get_mut(&dn("cn=vpn,ou=groups,dc=ex"))
        .unwrap()
        .members
        .insert(dn(inherited));
    let hr = hr(vec![
        employee("1", "Bo", "B", "Sales", EmploymentStatus::Active),
        employee("2", "Cy", "C", "Sales", EmploymentStatus::Active),
    ]);
    let plan = plan_for(&hr, &dir);
    assert!(actions(&plan, "1").contains(&Action::RenameMember {
        group: project.clone(),
        from: dn(d),
        to: dn("uid=bo.b,ou=sales,ou=people,dc=ex"),
    }));
    let joiner = actions(&plan, "2");
    assert_eq!(
        joiner[0],
        Action::RemoveFromGroup {
            group: dn("cn=vpn,ou=groups,dc=ex")
        },
        "taken out before the entry exists: {joiner:?}"
    );
    assert_eq!(joiner[1], Action::RemoveFromGroup { group: project });
    assert!(matches!(joiner[2], Action::Create { .. }));
    assert!(!plan_for(&hr, &simulate(&plan, &dir)).has_changes());
}

#[test]
fn last_member_removal_gets_a_placeholder_first_and_it_goes_when_members_return() {
    let d = "uid=bob.b,ou=sales,ou=people,dc=ex";
    let mut dir = directory(
        vec![account(d, "2", "Sales person", false)],
        &[("sales", d)],
    );
    let sales = dn("cn=sales,ou=groups,dc=ex");
    dir.groups.get_mut(&sales).unwrap().members = BTreeSet::from([dn(d)]);
    let plan = plan_for(
        &hr(vec![employee(
            "2",
            "Bob",
            "B",
            "Sales",
            EmploymentStatus::Terminated,
        )]),
        &dir,
    );
    assert_eq!(plan.group_changes.len(), 1);
    assert_eq!(plan.group_changes[0].action, GroupAction::AddPlaceholder);
    assert_eq!(plan.group_changes[0].group, sales);

    let after = simulate(&plan, &dir);
    assert_eq!(
        after.groups[&sales].members,
        BTreeSet::from([dn("cn=placeholder")])
    );
    // A new salesperson arrives: the placeholder is removed after they are added.
    let plan = plan_for(
        &hr(vec![
            employee("2", "Bob", "B", "Sales", EmploymentStatus::Terminated),
            employee("4", "Dee", "D", "Sales", EmploymentStatus::Active),
        ]),
        &after,
    );
    assert_eq!(plan.group_changes.len(), 1);
    assert_eq!(plan.group_changes[0].action, GroupAction::RemovePlaceholder);
}

#[test]
fn naming_conflicts_skip_joiners_and_keep_leavers_in_place_but_disabled() {
    let taken = "uid=ann.a,ou=eng,ou=people,dc=ex";
    let mut unmanaged = account(taken, "x", "t", false);
    unmanaged.correlation_id = None;
    let leaver = "uid=ann.a,ou=sales,ou=people,dc=ex";
    let in_disabled = account("uid=ann.a,ou=disabled,dc=ex", "old", "t", true);
    let dir = directory(
        vec![unmanaged, account(leaver, "2", "t", false), in_disabled],
        &[],
    );
    let plan = plan_for(
        &hr(vec![
            employee("1", "Ann", "A", "Engineering", EmploymentStatus::Active),
            employee("2", "Ann", "A", "Sales", EmploymentStatus::Terminated),
        ]),
        &dir,
    );
    assert!(actions(&plan, "1").is_empty());
    assert!(
        plan.skipped
            .iter()
            .any(|s| s.employee_id.as_deref() == Some("1") && s.reason.contains("does not manage"))
    );
    // Locked where it is, with hrsync's mark: the disabled OU cannot say whose lock it is.
    assert_eq!(
        actions(&plan, "2"),
        [
            LOCK,
            Action::AddValue {
                attribute: "description".into(),
                value: crate::plan::DISABLED_MARK.into()
            }
        ]
    );
    assert!(plan.warnings.iter().any(|w| w.contains("not moving")));
}

#[test]
fn manager_dn_resolves_to_the_managers_final_dn_and_self_manager_is_refused() {
    let mut report = employee("11", "Rae", "R", "Sales", EmploymentStatus::Active);
    report.fields.insert("manager_id".into(), "10".into());
    let mut boss = employee("10", "Max", "M", "Engineering", EmploymentStatus::Active);
    boss.fields.insert("manager_id".into(), "10".into());
    let plan = plan_for(&hr(vec![report, boss]), &directory(vec![], &[]));
    let created = |id: &str| match &plan
        .accounts
        .iter()
        .find(|a| a.employee_id == id)
        .unwrap()
        .changes[0]
        .action
    {
        Action::Create { attributes, .. } => attributes.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        created("11")["manager"],
        ["uid=max.m,ou=eng,ou=people,dc=ex"]
    );
    assert!(!created("10").contains_key("manager"));
    assert!(plan.warnings.iter().any(|w| w.contains("own manager")));
}

#[test]
fn pending_and_terminated_without_account_create_nothing() {
    let mut starter = employee("20", "New", "Person", "Sales", EmploymentStatus::Pending);
    starter.hire_date = NaiveDate::from_ymd_opt(2027, 1, 4);
    let plan = plan_for(
        &hr(vec![
            starter,
            employee(
                "21",
                "Gone",
                "Person",
                "Sales",
                EmploymentStatus::Terminated,
            ),
        ]),
        &directory(vec![], &[]),
    );
    assert!(!plan.has_changes());
    assert!(plan.skipped[0].reason.contains("2027-01-04"));
}

#[test]
fn temporary_lockout_is_not_mistaken_for_disabled() {
    // The planner only sees `disabled` as the adapter decides it; the adapter counts only the
    // permanent value. This pins the constant the adapter and the ops share.
    assert_eq!(PPOLICY_PERMANENT_LOCK, "000001010000Z");
}

#[test]
fn a_mixed_company_converges_in_one_apply_and_planning_is_deterministic() {
    let a = "uid=ada.l,ou=eng,ou=people,dc=ex";
    let b = "uid=bob.b,ou=sales,ou=people,dc=ex";
    let c = "uid=cy.c,ou=disabled,dc=ex";
    let dir = directory(
        vec![
            account(a, "1", "Engineering person", false),
            account(b, "2", "Sales person", false),
            account(c, "3", "old", true),
        ],
        &[
            ("staff", a),
            ("engineering", a),
            ("vpn", a),
            ("staff", b),
            ("sales", b),
        ],
    );
    let mut people = vec![
        employee("1", "Ada", "L", "Sales", EmploymentStatus::Active),
        employee("2", "Bob", "B", "Sales", EmploymentStatus::Terminated),
        employee("3", "Cy", "C", "Engineering", EmploymentStatus::Active),
        employee("4", "Dee", "D", "Presales", EmploymentStatus::Active),
        employee("5", "Eve", "E", "Other", EmploymentStatus::Leave),
    ];
    people[0].fields.insert("manager_id".into(), "3".into());
    let first = plan_for(&hr(people.clone()), &dir);
    assert!(first.has_changes());
    people.reverse();
    let again = plan_for(&hr(people.clone()), &dir);
    assert_eq!(first, again, "input order must not change the plan");

    let after = simulate(&first, &dir);
    let second = plan_for(&hr(people), &after);
    assert!(
        !second.has_changes(),
        "second plan should be empty: {:#?}",
        second.accounts
    );
}

// --- Active Directory ------------------------------------------------------------------------

const AD_MAPPINGS: &str = r#"
[correlation]
attribute = "employeeID"
[account]
rdn_attribute = "cn"
object_classes = ["top", "person", "organizationalPerson", "user"]
default_ou = "ou=people,dc=ex"
disabled_ou = "ou=disabled,dc=ex"
unique_attributes = ["sAMAccountName", "userPrincipalName"]
[account.attributes]
cn = "{first_name} {last_name}{unique}"
sAMAccountName = "{first_name|initial|ascii|lower}{last_name|ascii|lower|alnum|max:18}{unique}"
userPrincipalName = "{first_name|initial|ascii|lower}{last_name|ascii|lower|alnum|max:18}{unique}@ex.test"
sn = "{last_name}"
title = "{title}"
[groups]
base = "ou=groups,dc=ex"
birthright = ["staff"]
"#;

fn ad_plan(hr: &HrSnapshot, dir: &DirectorySnapshot, expire_leavers: bool) -> Plan {
    let mappings = Mappings::from_files(&[("ad.toml".into(), AD_MAPPINGS.into())]).unwrap();
    let policy = Policy {
        disable: DisableMethod::UserAccountControl,
        expire_leavers,
        member_values_follow_renames: true,
        groups_require_member: false,
        empty_group_placeholder: None,
        required_attributes: vec!["cn".into()],
        prehire_days: 0,
        time_zone: chrono_tz::UTC,
        time_zone_field: None,
        leave_disable: false,
        leave_remove_groups: BTreeSet::new(),
        disable_orphans: false,
        leaver_groups: crate::plan::LeaverGroups::All,
        leaver_keep_groups: BTreeSet::new(),
        disabled_mark: crate::plan::Mark::disabled_in("description"),
    };
    plan(&PlanInput {
        hr,
        directory: dir,
        mappings: &mappings,
        policy: &policy,
        limits: &crate::plan::limits::Limits::none(),
        now: now(),
    })
}

fn ad_account(d: &str, id: &str, uac: u32, password_set: bool) -> DirectoryAccount {
    let mut a = account(d, id, "Sales person", uac & 2 != 0);
    a.correlation_id = Some(id.into());
    a.attributes.insert("employeeid".into(), vec![id.into()]);
    a.account_control = Some(uac);
    a.password_set = password_set;
    a
}

#[test]
fn ad_joiner_is_created_disabled_then_enabled_with_a_random_password() {
    let plan = ad_plan(
        &hr(vec![employee(
            "7",
            "John",
            "Smith",
            "Sales",
            EmploymentStatus::Active,
        )]),
        &directory(vec![], &[]),
        false,
    );
    assert!(plan.skipped.is_empty(), "{:?}", plan.skipped);
    let acts = actions(&plan, "7");
    let Action::Create { attributes, dn } = &acts[0] else {
        panic!("{acts:?}")
    };
    assert_eq!(dn, &self::dn("cn=John Smith,ou=people,dc=ex"));
    assert_eq!(attributes["userAccountControl"], ["514"]);
    assert_eq!(attributes["sAMAccountName"], ["jsmith"]);
    assert_eq!(attributes["employeeID"], ["7"]);
    assert!(
        !attributes
            .keys()
            .any(|k| k.eq_ignore_ascii_case("unicodePwd"))
    );
    assert_eq!(
        acts[1],
        Action::Enable {
            method: DisableMethod::UserAccountControl,
            account_control: Some(ControlChange {
                before: 514,
                after: 512
            }),
            set_password: true,
            clear_expiry: false,
        }
    );
}

#[test]
fn ad_second_jsmith_gets_a_numbered_name_deterministically() {
    // jsmith exists elsewhere in the domain (not even under the users base).
    let mut dir = directory(vec![], &[]);
    dir.taken.insert(
        "samaccountname".into(),
        BTreeSet::from(["jsmith".to_string()]),
    );
    let people = vec![
        employee("7", "John", "Smith", "Sales", EmploymentStatus::Active),
        employee("8", "Jane", "Smith", "Sales", EmploymentStatus::Active),
    ];
    let plan = ad_plan(&hr(people.clone()), &dir, false);
    let names = |plan: &Plan| -> Vec<(String, String, String)> {
        plan.accounts
            .iter()
            .map(|a| match &a.changes[0].action {
                Action::Create { dn, attributes } => (
                    dn.rdn().to_string(),
                    attributes["sAMAccountName"][0].clone(),
                    attributes["userPrincipalName"][0].clone(),
                ),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let got = names(&plan);
    assert!(
        got.contains(&(
            "cn=John Smith2".into(),
            "jsmith2".into(),
            "jsmith2@ex.test".into()
        )),
        "{got:?}"
    );
    assert!(
        got.contains(&(
            "cn=Jane Smith3".into(),
            "jsmith3".into(),
            "jsmith3@ex.test".into()
        )),
        "{got:?}"
    );
    let mut reversed = people;
    reversed.reverse();
    assert_eq!(
        names(&ad_plan(&hr(reversed), &dir, false)),
        got,
        "HR order does not matter"
    );
}

#[test]
fn ad_leaver_sets_bit_2_keeping_every_other_bit_and_can_expire() {
    // 66048 = NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD.
    let dir = directory(
        vec![ad_account("cn=Bob B,ou=people,dc=ex", "2", 66048, true)],
        &[],
    );
    let plan = ad_plan(
        &hr(vec![employee(
            "2",
            "Bob",
            "B",
            "Sales",
            EmploymentStatus::Terminated,
        )]),
        &dir,
        true,
    );
    let expected_filetime = ((now().timestamp() + 11_644_473_600) * 10_000_000).to_string();
    assert_eq!(
        actions(&plan, "2")[0],
        Action::Disable {
            method: DisableMethod::UserAccountControl,
            account_control: Some(ControlChange {
                before: 66048,
                after: 66050
            }),
            expires: Some(expected_filetime),
        }
    );
}

#[test]
fn ad_rehire_clears_bit_2_and_expiry_and_keeps_the_password() {
    let mut acct = ad_account("cn=Cy C,ou=disabled,dc=ex", "3", 66050, true);
    acct.attributes
        .insert("accountexpires".into(), vec!["134000000000000000".into()]);
    let plan = ad_plan(
        &hr(vec![employee(
            "3",
            "Cy",
            "C",
            "Sales",
            EmploymentStatus::Active,
        )]),
        &directory(vec![acct], &[]),
        true,
    );
    assert_eq!(
        actions(&plan, "3")[0],
        Action::Enable {
            method: DisableMethod::UserAccountControl,
            account_control: Some(ControlChange {
                before: 66050,
                after: 66048
            }),
            set_password: false,
            clear_expiry: true,
        }
    );
}

#[test]
fn protected_accounts_are_skipped_with_the_reason_whatever_hr_says() {
    let mut admin = ad_account("cn=Ada Admin,ou=people,dc=ex", "1", 512, true);
    admin.protected = Some("member of CN=Domain Admins,CN=Users,DC=ex".into());
    let d = admin.dn.clone();
    let dir = directory(vec![admin], &[("staff", "cn=Ada Admin,ou=people,dc=ex")]);
    for status in [EmploymentStatus::Terminated, EmploymentStatus::Active] {
        let plan = ad_plan(
            &hr(vec![employee("1", "Ada", "Admin", "Engineering", status)]),
            &dir,
            false,
        );
        assert!(!plan.has_changes(), "{status:?}: {:#?}", plan.accounts);
        assert_eq!(plan.skipped.len(), 1);
        assert_eq!(plan.skipped[0].dn, Some(d.clone()));
        assert!(
            plan.skipped[0].reason.contains("Domain Admins"),
            "{}",
            plan.skipped[0].reason
        );
    }
    // And a protected account without an HR record is not an orphan either.
    let plan = ad_plan(&hr(vec![]), &dir, false);
    assert!(plan.orphans.is_empty());
}

// --- Pre-hire accounts ---------------------------------------------------------------------

fn prehire_plan(hr: &HrSnapshot, dir: &DirectorySnapshot, days: i64) -> Plan {
    let mappings = mappings();
    let policy = Policy {
        prehire_days: days,
        ..policy()
    };
    plan(&PlanInput {
        hr,
        directory: dir,
        mappings: &mappings,
        policy: &policy,
        limits: &crate::plan::limits::Limits::none(),
        now: now(),
    })
}

fn starter(days_ahead: i64) -> Employee {
    let mut e = employee("30", "Pre", "Hire", "Sales", EmploymentStatus::Pending);
    e.hire_date = Some(now().date_naive() + chrono::Duration::days(days_ahead));
    e
}

#[test]
fn prehire_account_is_created_locked_with_its_groups_inside_the_window_only() {
    let dir = directory(vec![], &[]);
    let plan = prehire_plan(&hr(vec![starter(3)]), &dir, 7);
    let acts = actions(&plan, "30");
    let Action::Create { attributes, .. } = &acts[0] else {
        panic!("{acts:?}")
    };
    assert_eq!(
        attributes["pwdAccountLockedTime"],
        [PPOLICY_PERMANENT_LOCK],
        "locked from the start"
    );
    assert!(acts.contains(&Action::AddToGroup {
        group: dn("cn=sales,ou=groups,dc=ex")
    }));
    assert!(
        plan.accounts[0].changes[0]
            .reason
            .fact
            .contains("disabled until then")
    );

    let later = prehire_plan(&hr(vec![starter(10)]), &dir, 7);
    assert!(!later.has_changes());
    assert!(
        later.skipped[0].reason.contains("7 day(s) ahead"),
        "{:?}",
        later.skipped
    );
}

#[test]
fn prehire_account_is_enabled_on_the_start_date_as_a_joiner() {
    let mut locked = account(
        "uid=pre.hire,ou=sales,ou=people,dc=ex",
        "30",
        "Sales person",
        true,
    );
    locked
        .attributes
        .insert("cn".into(), vec!["Pre Hire".into()]);
    locked.attributes.insert("sn".into(), vec!["Hire".into()]);
    // As hrsync created it: locked, with its mark.
    locked.attributes.insert(
        "description".into(),
        vec![crate::plan::DISABLED_MARK.into()],
    );
    let dir = directory(
        vec![locked],
        &[
            ("staff", "uid=pre.hire,ou=sales,ou=people,dc=ex"),
            ("sales", "uid=pre.hire,ou=sales,ou=people,dc=ex"),
        ],
    );
    // Still before the start: nothing to do.
    let waiting = prehire_plan(&hr(vec![starter(2)]), &dir, 7);
    assert!(!waiting.has_changes(), "{:#?}", waiting.accounts);
    // The day comes: HR reports active.
    let mut started = employee("30", "Pre", "Hire", "Sales", EmploymentStatus::Active);
    started.hire_date = Some(now().date_naive());
    let plan = prehire_plan(&hr(vec![started]), &dir, 7);
    assert_eq!(plan.accounts[0].lifecycle, Lifecycle::Joiner);
    assert!(matches!(actions(&plan, "30")[0], Action::Enable { .. }));
}

#[test]
fn ad_prehire_is_created_disabled_and_given_a_password_on_the_start_date() {
    let mappings = Mappings::from_files(&[("ad.toml".into(), AD_MAPPINGS.into())]).unwrap();
    let policy = Policy {
        disable: DisableMethod::UserAccountControl,
        expire_leavers: false,
        member_values_follow_renames: true,
        groups_require_member: false,
        empty_group_placeholder: None,
        required_attributes: vec!["cn".into()],
        prehire_days: 14,
        time_zone: chrono_tz::UTC,
        time_zone_field: None,
        leave_disable: false,
        leave_remove_groups: BTreeSet::new(),
        disable_orphans: false,
        leaver_groups: crate::plan::LeaverGroups::All,
        leaver_keep_groups: BTreeSet::new(),
        disabled_mark: crate::plan::Mark::disabled_in("description"),
    };
    let run = |hr: &HrSnapshot, dir: &DirectorySnapshot| {
        plan(&PlanInput {
            hr,
            directory: dir,
            mappings: &mappings,
            policy: &policy,
            limits: &crate::plan::limits::Limits::none(),
            now: now(),
        })
    };
    let plan = run(&hr(vec![starter(5)]), &directory(vec![], &[]));
    let acts = actions(&plan, "30");
    assert!(
        matches!(&acts[0], Action::Create { attributes, .. } if attributes["userAccountControl"] == ["514"])
    );
    assert!(
        !acts.iter().any(|a| matches!(a, Action::Enable { .. })),
        "not enabled before the start"
    );

    let waiting = ad_account("cn=Pre Hire,ou=people,dc=ex", "30", 514, false);
    let plan = run(
        &hr(vec![employee(
            "30",
            "Pre",
            "Hire",
            "Other",
            EmploymentStatus::Active,
        )]),
        &directory(vec![waiting], &[]),
    );
    assert_eq!(
        actions(&plan, "30")[0],
        Action::Enable {
            method: DisableMethod::UserAccountControl,
            account_control: Some(ControlChange {
                before: 514,
                after: 512
            }),
            set_password: true,
            clear_expiry: false,
        }
    );
}

// --- Effective dates -------------------------------------------------------------------------

#[test]
fn terminations_take_effect_at_the_end_of_the_last_day_in_each_employees_zone() {
    // now() is 2026-11-27 09:00 UTC.
    let tokyo = "uid=to.kyo,ou=sales,ou=people,dc=ex";
    let la = "uid=l.a,ou=sales,ou=people,dc=ex";
    let dir = directory(
        vec![
            account(tokyo, "1", "Sales person", false),
            account(la, "2", "Sales person", false),
        ],
        &[("sales", tokyo), ("sales", la)],
    );
    let mut in_tokyo = employee("1", "To", "Kyo", "Sales", EmploymentStatus::Active);
    in_tokyo.termination_date = NaiveDate::from_ymd_opt(2026, 11, 27);
    in_tokyo
        .fields
        .insert("time_zone".into(), "Asia/Tokyo".into());
    let mut in_la = employee("2", "L", "A", "Sales", EmploymentStatus::Active);
    in_la.termination_date = NaiveDate::from_ymd_opt(2026, 11, 26);
    in_la
        .fields
        .insert("time_zone".into(), "America/Los_Angeles".into());

    let mappings = mappings();
    let policy = Policy {
        time_zone_field: Some("time_zone".into()),
        ..policy()
    };
    let plan = plan(&PlanInput {
        hr: &hr(vec![in_tokyo, in_la]),
        directory: &dir,
        mappings: &mappings,
        policy: &policy,
        limits: &crate::plan::limits::Limits::none(),
        now: now(),
    });
    // Tokyo's 27th ends at 15:00 UTC: not yet. LA's 26th ended at 08:00 UTC: gone.
    assert!(
        !actions(&plan, "1").iter().any(|a| matches!(
            a,
            Action::Disable { .. } | Action::Move { .. } | Action::RemoveFromGroup { .. }
        )),
        "{:?}",
        actions(&plan, "1")
    );
    assert_eq!(actions(&plan, "2")[0], LOCK);
    assert_eq!(plan.scheduled.len(), 1);
    assert_eq!(plan.scheduled[0].employee_id, "1");
    assert_eq!(
        plan.scheduled[0].leaves_at,
        Utc.with_ymd_and_hms(2026, 11, 27, 15, 0, 0).unwrap()
    );
    assert!(plan.scheduled[0].reason.contains("Asia/Tokyo"));
}

#[test]
fn an_unknown_time_zone_falls_back_with_a_warning() {
    let mut e = employee("1", "Ann", "A", "Sales", EmploymentStatus::Active);
    e.fields.insert("time_zone".into(), "Mars/Olympus".into());
    let mappings = mappings();
    let policy = Policy {
        time_zone_field: Some("time_zone".into()),
        ..policy()
    };
    let plan = plan(&PlanInput {
        hr: &hr(vec![e]),
        directory: &directory(vec![], &[]),
        mappings: &mappings,
        policy: &policy,
        limits: &crate::plan::limits::Limits::none(),
        now: now(),
    });
    assert!(
        plan.warnings.iter().any(|w| w.contains("Mars/Olympus")),
        "{:?}",
        plan.warnings
    );
}

// --- Leave of absence and orphans ------------------------------------------------------------

#[test]
fn leave_policy_disables_and_removes_listed_groups_and_return_restores_them() {
    let d = "uid=lea.v,ou=eng,ou=people,dc=ex";
    let mut acct = account(d, "1", "Engineering person", false);
    acct.attributes.insert("cn".into(), vec!["Lea V".into()]);
    acct.attributes.insert("sn".into(), vec!["V".into()]);
    let dir = directory(vec![acct], &[("staff", d), ("engineering", d), ("vpn", d)]);
    let mappings = mappings();
    let vpn = dn("cn=vpn,ou=groups,dc=ex");
    let policy = Policy {
        leave_disable: true,
        leave_remove_groups: BTreeSet::from([vpn.clone()]),
        ..policy()
    };
    let mut on_leave = employee("1", "Lea", "V", "Engineering", EmploymentStatus::Leave);
    on_leave.hire_date = NaiveDate::from_ymd_opt(2020, 1, 6);
    let plan_with = |e: &Employee, dir: &DirectorySnapshot| {
        plan(&PlanInput {
            hr: &hr(vec![e.clone()]),
            directory: dir,
            mappings: &mappings,
            policy: &policy,
            limits: &crate::plan::limits::Limits::none(),
            now: now(),
        })
    };
    let leave = plan_with(&on_leave, &dir);
    let acts = actions(&leave, "1");
    assert_eq!(acts[0], LOCK, "{acts:?}");
    assert!(acts.contains(&Action::RemoveFromGroup { group: vpn.clone() }));
    assert!(!acts.iter().any(|a| matches!(a, Action::RemoveFromGroup { group } if group.key().starts_with("cn=engineering"))));
    assert!(
        leave.accounts[0]
            .changes
            .iter()
            .any(|c| c.reason.rule.as_deref() == Some("lifecycle.leave_remove_groups"))
    );

    // Back from leave: enabled, VPN back, labelled a return (hired years ago).
    let after = simulate(&leave, &dir);
    let mut back = on_leave.clone();
    back.hr_status = EmploymentStatus::Active;
    let ret = plan_with(&back, &after);
    assert_eq!(ret.accounts[0].lifecycle, Lifecycle::Return);
    let acts = actions(&ret, "1");
    assert!(matches!(acts[0], Action::Enable { .. }));
    assert!(acts.contains(&Action::AddToGroup { group: vpn }));
    assert!(
        !plan_with(&back, &simulate(&ret, &after)).has_changes(),
        "converges"
    );
}

/// Only hrsync lifts hrsync's locks: an account an admin locked (no mark, not in the disabled
/// OU) stays locked whatever HR says, and the plan says so; a lock hrsync set (its mark) is
/// lifted on return, and the mark goes with it. Re-enables count against the `enable` limit.
#[test]
fn an_admins_lock_holds_and_only_hrsyncs_own_lock_is_lifted() {
    let d = "uid=lo.ck,ou=eng,ou=people,dc=ex";
    let mut locked = account(d, "1", "Engineering person", true);
    locked.attributes.insert("cn".into(), vec!["Lo Ck".into()]);
    locked.attributes.insert("sn".into(), vec!["Ck".into()]);
    let dir = directory(
        vec![locked.clone()],
        &[("staff", d), ("engineering", d), ("vpn", d)],
    );
    let mut active = employee("1", "Lo", "Ck", "Engineering", EmploymentStatus::Active);
    active.hire_date = NaiveDate::from_ymd_opt(2020, 1, 6);
    let hr = hr(vec![active]);
    let plan = plan_for(&hr, &dir);
    assert!(!plan.has_changes(), "{plan:#?}");
    assert!(plan.skipped.iter().any(|s| {
        s.employee_id.as_deref() == Some("1")
            && s.reason
                .starts_with("disabled outside hrsync while HR says active")
    }));
    // Someone HR says should work cannot: a warning, which the text plan shows before changes.
    assert_eq!(
        plan.warnings,
        [format!(
            "employee 1 cannot log in: {d} is locked outside hrsync while HR says active; left \
             alone (see skipped)"
        )]
    );

    locked.attributes.insert(
        "description".into(),
        vec!["on call".into(), crate::plan::DISABLED_MARK.into()],
    );
    let dir = directory(
        vec![locked],
        &[("staff", d), ("engineering", d), ("vpn", d)],
    );
    let plan = plan_for(&hr, &dir);
    assert_eq!(plan.accounts[0].lifecycle, Lifecycle::Return);
    let acts = actions(&plan, "1");
    assert!(matches!(acts[0], Action::Enable { .. }));
    assert_eq!(
        acts[1],
        Action::RemoveValue {
            attribute: "description".into(),
            value: crate::plan::DISABLED_MARK.into()
        },
        "only the mark goes; the admin's note stays"
    );
    let after = simulate(&plan, &dir);
    assert_eq!(after.accounts[0].values("description"), ["on call"]);
    assert!(!plan_for(&hr, &after).has_changes());
    let limits = crate::plan::limits::Limits::default();
    let tripped = crate::plan::limits::check(
        &plan,
        &crate::plan::limits::Limits {
            kinds: BTreeMap::from([(
                crate::plan::limits::LimitKind::Enable,
                crate::plan::limits::Limit {
                    count: Some(0),
                    percent: None,
                },
            )]),
            ..limits
        },
    );
    assert_eq!(tripped.len(), 1, "{tripped:?}");
}

/// On leave, the account stays where it is and gains nothing; what the role no longer gives
/// goes. Nobody on leave gets a new account.
#[test]
fn on_leave_an_account_is_not_made_moved_or_granted_but_loses_what_the_role_drops() {
    let d = "uid=kim.k,ou=eng,ou=people,dc=ex";
    let mut acct = account(d, "1", "Engineering person", false);
    acct.attributes.insert("cn".into(), vec!["Kim K".into()]);
    acct.attributes.insert("sn".into(), vec!["K".into()]);
    let dir = directory(vec![acct], &[("staff", d), ("engineering", d), ("vpn", d)]);
    // HR moved Kim to Sales during the leave; Lou starts on leave.
    let hr = hr(vec![
        employee("1", "Kim", "K", "Sales", EmploymentStatus::Leave),
        employee("2", "Lou", "L", "Sales", EmploymentStatus::Leave),
    ]);
    let plan = plan_for(&hr, &dir);
    assert!(actions(&plan, "2").is_empty(), "{plan:#?}");
    assert!(
        plan.skipped
            .iter()
            .any(|s| s.employee_id.as_deref() == Some("2")
                && s.reason == "on leave and without an account: it is made when they return")
    );
    let acts = actions(&plan, "1");
    assert!(
        !acts
            .iter()
            .any(|a| matches!(a, Action::Move { .. } | Action::AddToGroup { .. })),
        "{acts:?}"
    );
    for group in ["engineering", "vpn"] {
        let group = dn(&format!("cn={group},ou=groups,dc=ex"));
        assert!(
            acts.contains(&Action::RemoveFromGroup { group }),
            "{acts:?}"
        );
    }
    assert!(!acts.contains(&Action::RemoveFromGroup {
        group: dn("cn=staff,ou=groups,dc=ex")
    }));
    // Nothing more while the leave lasts.
    assert!(!plan_for(&hr, &simulate(&plan, &dir)).has_changes());
}

fn plan_orphans(hr: &HrSnapshot, dir: &DirectorySnapshot) -> Plan {
    let mappings = mappings();
    plan(&PlanInput {
        hr,
        directory: dir,
        mappings: &mappings,
        policy: &Policy {
            disable_orphans: true,
            ..policy()
        },
        limits: &crate::plan::limits::Limits::none(),
        now: now(),
    })
}

const ORPHAN: &str = "uid=or.phan,ou=sales,ou=people,dc=ex";

fn absent_mark() -> Action {
    Action::AddValue {
        attribute: "description".into(),
        value: "hrsync-absent-since=2026-11-27T09:00:00Z".into(),
    }
}

/// The orphan's account, as a first run that missed its record left it.
fn marked_orphan() -> DirectorySnapshot {
    let mut acct = account(ORPHAN, "9", "t", false);
    acct.attributes.insert(
        "description".into(),
        vec!["hrsync-absent-since=2026-11-26T09:00:00Z".into()],
    );
    directory(vec![acct], &[("sales", ORPHAN), ("staff", ORPHAN)])
}

fn assert_deprovisioned(acts: &[Action]) {
    assert_eq!(acts[0], LOCK, "locked first: {acts:?}");
    assert!(acts.contains(&Action::RemoveFromGroup {
        group: dn("cn=sales,ou=groups,dc=ex")
    }));
    assert!(acts.contains(&Action::Move {
        from: dn(ORPHAN),
        to: dn("uid=or.phan,ou=disabled,dc=ex")
    }));
}

#[test]
fn orphans_are_only_disabled_when_opted_in() {
    let dir = marked_orphan();
    assert!(!plan_for(&hr(vec![]), &dir).has_changes());
    let on = plan_orphans(&hr(vec![]), &dir);
    assert_deprovisioned(&actions(&on, "9"));
    assert_eq!(on.orphans.len(), 1, "still reported as an orphan");
    assert!(on.accounts[0].changes[0].reason.rule.as_deref() == Some("lifecycle.disable_orphans"));
}

/// Issue 17, item 1: a record missing from one read (a paged fetch that skipped it) must not
/// cost an active employee their access. The first run only marks the account, with the time.
#[test]
fn an_orphan_missing_from_one_read_is_only_marked() {
    let dir = directory(vec![account(ORPHAN, "9", "t", false)], &[("sales", ORPHAN)]);
    let first = plan_orphans(&hr(vec![]), &dir);
    assert_eq!(actions(&first, "9"), vec![absent_mark()]);
    assert_eq!(first.accounts[0].lifecycle, Lifecycle::Update);
    assert!(
        first.accounts[0].changes[0]
            .reason
            .fact
            .contains("absent from HR since 2026-11-27T09:00:00Z"),
        "{:?}",
        first.accounts[0].changes[0].reason
    );
    assert_eq!(
        first.orphans.len(),
        1,
        "counted by the missing limit all the same"
    );
    // Still absent at the next run: now deprovisioned, and the mark taken off with the lock.
    let second = plan_orphans(&hr(vec![]), &simulate(&first, &dir));
    let acts = actions(&second, "9");
    assert_deprovisioned(&acts);
    assert_eq!(
        acts[1],
        Action::RemoveValue {
            attribute: "description".into(),
            value: "hrsync-absent-since=2026-11-27T09:00:00Z".into()
        }
    );
    assert!(
        second.accounts[0].changes[0]
            .reason
            .fact
            .contains("still absent now")
    );
}

#[test]
fn a_record_back_at_the_next_read_takes_the_mark_off_and_nothing_else() {
    let mut ada = employee("9", "Or", "Phan", "Sales", EmploymentStatus::Active);
    ada.fields.insert("title".into(), "t".into());
    let dir = marked_orphan();
    let mut back = dir.clone();
    let acct = &mut back.accounts[0];
    for (k, v) in [("cn", "Or Phan"), ("sn", "Phan"), ("uid", "or.phan")] {
        acct.attributes.insert(k.into(), vec![v.into()]);
    }
    let plan = plan_orphans(&hr(vec![ada]), &back);
    assert_eq!(
        actions(&plan, "9"),
        vec![Action::RemoveValue {
            attribute: "description".into(),
            value: "hrsync-absent-since=2026-11-26T09:00:00Z".into()
        }]
    );
}

#[test]
fn an_absence_hr_confirms_alone_disables_at_once() {
    let dir = directory(vec![account(ORPHAN, "9", "t", false)], &[("sales", ORPHAN)]);
    let mut snapshot = hr(vec![]);
    snapshot
        .single_reads
        .insert("9".into(), crate::model::SingleRead::Absent);
    let plan = plan_orphans(&snapshot, &dir);
    assert_deprovisioned(&actions(&plan, "9"));
    assert!(!actions(&plan, "9").contains(&absent_mark()));
}

#[test]
fn an_absence_hr_denies_or_cannot_confirm_leaves_the_account_alone_and_warns() {
    use crate::model::SingleRead;
    // Marked by an earlier run too: HR's answer now wins over the mark.
    for dir in [
        directory(vec![account(ORPHAN, "9", "t", false)], &[("sales", ORPHAN)]),
        marked_orphan(),
    ] {
        for read in [SingleRead::Present, SingleRead::Failed] {
            let mut snapshot = hr(vec![]);
            snapshot.single_reads.insert("9".into(), read);
            let plan = plan_orphans(&snapshot, &dir);
            assert!(!plan.has_changes(), "{read:?}: {:?}", plan.accounts);
            assert!(
                plan.warnings
                    .iter()
                    .any(|w| w.contains("employee 9") && w.contains("left as it is")),
                "{read:?}: {:?}",
                plan.warnings
            );
        }
    }
}

#[test]
fn a_terminated_record_after_a_miss_is_a_leaver_and_loses_the_mark() {
    let ada = employee("9", "Or", "Phan", "Sales", EmploymentStatus::Terminated);
    let plan = plan_orphans(&hr(vec![ada]), &marked_orphan());
    let account = &plan.accounts[0];
    assert_eq!(account.lifecycle, Lifecycle::Leaver);
    assert_deprovisioned(&actions(&plan, "9"));
    assert!(actions(&plan, "9").contains(&Action::RemoveValue {
        attribute: "description".into(),
        value: "hrsync-absent-since=2026-11-26T09:00:00Z".into()
    }));
}

/// A saved plan that marks a first absence is approved by a fresh plan made later (the mark
/// carries each plan's time), and nothing else is.
#[test]
fn a_saved_absence_mark_is_approved_at_a_later_time() {
    let dir = directory(vec![account(ORPHAN, "9", "t", false)], &[("sales", ORPHAN)]);
    let saved = plan_orphans(&hr(vec![]), &dir);
    let mappings = mappings();
    let later = plan(&PlanInput {
        hr: &hr(vec![]),
        directory: &dir,
        mappings: &mappings,
        policy: &Policy {
            disable_orphans: true,
            ..policy()
        },
        limits: &crate::plan::limits::Limits::none(),
        now: now() + chrono::Duration::hours(1),
    });
    assert_ne!(saved, later);
    assert!(crate::plan::approval::verify(&saved, &later).is_ok());
    let mut forged = saved.clone();
    forged.accounts[0].changes[0].action = Action::AddValue {
        attribute: "description".into(),
        value: "hrsync-disabled".into(),
    };
    assert!(crate::plan::approval::verify(&forged, &later).is_err());
}

// --- Interrupted joiners (issue 17, item 6) --------------------------------------------------

fn joining() -> Action {
    Action::RemoveValue {
        attribute: "description".into(),
        value: crate::plan::JOINING_MARK.into(),
    }
}

#[test]
fn a_new_account_carries_the_joining_mark_until_its_last_step() {
    let ada = employee("1", "Ada", "L", "Engineering", EmploymentStatus::Active);
    let plan = plan_for(&hr(vec![ada]), &directory(vec![], &[]));
    let acts = actions(&plan, "1");
    let Action::Create { attributes, .. } = &acts[0] else {
        panic!("created first: {acts:?}")
    };
    assert_eq!(
        attributes["description"],
        vec!["hrsync-joining".to_string()]
    );
    assert_eq!(
        acts.last(),
        Some(&joining()),
        "after every group add: {acts:?}"
    );
}

/// Before the fix the next run called the account a mover: joiner hooks never fired.
#[test]
fn a_joiner_cut_off_after_its_create_is_finished_as_a_joiner() {
    let ada = employee("1", "Ada", "L", "Engineering", EmploymentStatus::Active);
    let plan = plan_for(&hr(vec![ada.clone()]), &directory(vec![], &[]));
    let mut cut = plan.clone();
    cut.accounts[0].changes.truncate(1);
    let after_create = simulate(&cut, &directory(vec![], &[]));
    let next = plan_for(&hr(vec![ada]), &after_create);
    assert_eq!(next.accounts[0].lifecycle, Lifecycle::Joiner);
    let acts = actions(&next, "1");
    for group in ["engineering", "staff", "vpn"] {
        assert!(acts.contains(&Action::AddToGroup {
            group: dn(&format!("cn={group},ou=groups,dc=ex"))
        }));
    }
    assert_eq!(acts.last(), Some(&joining()), "{acts:?}");
    // Done: nothing left, and the mark gone.
    let done = simulate(&next, &after_create);
    let ada = employee("1", "Ada", "L", "Engineering", EmploymentStatus::Active);
    assert!(!plan_for(&hr(vec![ada]), &done).has_changes());
}

#[test]
fn an_interrupted_joiner_that_hr_terminates_is_a_leaver() {
    let d = "uid=ada.l,ou=eng,ou=people,dc=ex";
    let mut acct = account(d, "1", "t", false);
    acct.attributes
        .insert("description".into(), vec!["hrsync-joining".into()]);
    let dir = directory(vec![acct], &[("staff", d)]);
    let ada = employee("1", "Ada", "L", "Engineering", EmploymentStatus::Terminated);
    let plan = plan_for(&hr(vec![ada]), &dir);
    assert_eq!(plan.accounts[0].lifecycle, Lifecycle::Leaver);
    let acts = actions(&plan, "1");
    assert_eq!(acts[0], LOCK);
    assert!(!acts.iter().any(|a| matches!(a, Action::AddToGroup { .. })));
}

#[test]
fn hrsync_marks_in_a_mapped_attribute_are_no_drift_and_survive_its_change() {
    let d = "uid=ada.l,ou=eng,ou=people,dc=ex";
    let mut acct = account(d, "1", "Engineering person", false);
    acct.attributes.insert(
        "description".into(),
        vec![
            "Engineering person".into(),
            "hrsync-absent-since=2026-11-26T09:00:00Z".into(),
        ],
    );
    let mappings = Mappings::from_files(&[(
        "m.toml".into(),
        MAPPINGS.replace(
            "title = \"{title}\"",
            "title = \"{title}\"\ndescription = \"{title}\"",
        ),
    )])
    .unwrap();
    let dir = directory(vec![acct], &[("staff", d), ("engineering", d), ("vpn", d)]);
    let mut ada = employee("1", "Ada", "L", "Engineering", EmploymentStatus::Active);
    ada.fields
        .insert("title".into(), "Engineering person".into());
    let plan_with_title = |ada: &Employee| {
        plan(&PlanInput {
            hr: &hr(vec![ada.clone()]),
            directory: &dir,
            mappings: &mappings,
            policy: &policy(),
            limits: &crate::plan::limits::Limits::none(),
            now: now(),
        })
    };
    let same = actions(&plan_with_title(&ada), "1");
    assert!(
        !same.iter().any(
            |a| matches!(a, Action::SetAttribute { attribute, .. } if attribute == "description")
        ),
        "{same:?}"
    );
    ada.fields.insert("title".into(), "Boss".into());
    let changed = actions(&plan_with_title(&ada), "1");
    let after = changed.iter().find_map(|a| match a {
        Action::SetAttribute {
            attribute, after, ..
        } if attribute == "description" => Some(after),
        _ => None,
    });
    assert_eq!(
        after,
        Some(&vec![
            "Boss".to_string(),
            "hrsync-absent-since=2026-11-26T09:00:00Z".to_string()
        ])
    );
}

// --- Offboarding -----------------------------------------------------------------------------

#[test]
fn offboard_disables_strips_and_holds_and_later_runs_respect_the_hold() {
    let d = "uid=ada.l,ou=eng,ou=people,dc=ex";
    let mut acct = account(d, "1", "Engineering person", false);
    acct.attributes.insert("cn".into(), vec!["Ada L".into()]);
    acct.attributes.insert("sn".into(), vec!["L".into()]);
    let dir = directory(vec![acct], &[("staff", d), ("engineering", d), ("vpn", d)]);
    let hold = dn("cn=hold,ou=groups,dc=ex");
    let mappings = mappings();
    let policy = policy();
    let input = PlanInput {
        hr: &hr(vec![]),
        directory: &dir,
        mappings: &mappings,
        policy: &policy,
        limits: &crate::plan::limits::Limits::none(),
        now: now(),
    };
    let plan = super::offboard(&input, "1", "stolen laptop", &hold).unwrap();
    let acts = actions(&plan, "1");
    assert_eq!(acts[0], LOCK, "locked first");
    assert_eq!(
        acts.iter()
            .filter(|a| matches!(a, Action::RemoveFromGroup { .. }))
            .count(),
        3
    );
    assert_eq!(acts.last(), Some(&Action::AddToGroup { group: hold }));
    assert!(
        plan.accounts[0].changes[0]
            .reason
            .fact
            .contains("stolen laptop")
    );
    assert!(super::offboard(&input, "nobody", "x", &dn("cn=hold,dc=ex")).is_err());

    // The next run: HR still says active, but the account is held.
    let mut after = simulate(&plan, &dir);
    after.accounts[0].held = true;
    let next = plan_for(
        &hr(vec![employee(
            "1",
            "Ada",
            "L",
            "Engineering",
            EmploymentStatus::Active,
        )]),
        &after,
    );
    assert!(!next.has_changes(), "{:#?}", next.accounts);
    assert!(next.skipped[0].reason.contains("offboarded"));
}

// --- Conversions -----------------------------------------------------------------------------

#[test]
fn a_conversion_under_a_new_id_takes_over_the_account_when_a_fallback_key_is_configured() {
    let d = "uid=ann.a,ou=sales,ou=people,dc=ex";
    let mut contractor = account(d, "c-1", "Sales person", false);
    contractor
        .attributes
        .insert("mail".into(), vec!["Ann@Example.org".into()]);
    let dir = directory(vec![contractor], &[("staff", d), ("sales", d)]);
    let mut employee_now = employee("e-9", "Ann", "A", "Sales", EmploymentStatus::Active);
    employee_now
        .fields
        .insert("email".into(), "ann@example.org".into());
    let old_record = employee("c-1", "Ann", "A", "Sales", EmploymentStatus::Terminated);
    let people = hr(vec![employee_now, old_record]);

    // Without a fallback key the person's account is disabled as the contractor's, and the
    // new id gets no account (its name is taken): the harm conversions cause.
    let plain = plan_for(&people, &dir);
    assert_eq!(actions(&plain, "c-1")[0], LOCK);
    assert!(actions(&plain, "e-9").is_empty());

    let correlation =
        "[correlation]\nfallback_hr_field = \"email\"\nfallback_attribute = \"mail\"\n";
    let mappings = Mappings::from_files(&[
        ("a.toml".into(), correlation.into()),
        ("m.toml".into(), MAPPINGS.into()),
    ])
    .unwrap();
    let policy = policy();
    let plan = plan(&PlanInput {
        hr: &people,
        directory: &dir,
        mappings: &mappings,
        policy: &policy,
        limits: &crate::plan::limits::Limits::none(),
        now: now(),
    });
    let acts = actions(&plan, "e-9");
    assert!(
        !acts
            .iter()
            .any(|a| matches!(a, Action::Create { .. } | Action::Disable { .. })),
        "{acts:?}"
    );
    assert!(acts.contains(&Action::SetAttribute {
        attribute: "employeeNumber".into(),
        before: vec!["c-1".into()],
        after: vec!["e-9".into()],
    }));
    assert!(
        actions(&plan, "c-1").is_empty(),
        "the old id is not a leaver"
    );
    assert!(
        plan.skipped
            .iter()
            .any(|s| s.employee_id.as_deref() == Some("c-1") && s.reason.contains("e-9"))
    );
    assert!(plan.orphans.is_empty());
}

/// At company scale nearly every account is already right, and the planner takes shortcuts for
/// that (nothing built for an account without changes, group sizes counted rather than
/// copied). A company in sync plans nothing at all; one mover in it still gets every change,
/// and the groups it empties their placeholder.
#[test]
fn a_company_in_sync_plans_nothing_and_one_mover_in_it_still_gets_every_change() {
    let mut people = vec![employee(
        "e-0",
        "Ada",
        "Eng",
        "Engineering",
        EmploymentStatus::Active,
    )];
    for i in 1..60 {
        let department = ["Sales", "Other"][i % 2];
        let mut e = employee(
            &format!("e-{i}"),
            "Bo",
            &format!("Person{i}"),
            department,
            EmploymentStatus::Active,
        );
        e.fields.insert("manager_id".into(), format!("e-{}", i / 2));
        people.push(e);
    }
    let mut hr_now = hr(people);
    let mut dir = directory(vec![], &[]);
    for group in dir.groups.values_mut() {
        group.members.clear();
        group.members.insert(dn("cn=placeholder"));
    }
    // Everyone joins; then some leave (disabled, out of their groups, in the disabled OU).
    for leavers in [false, true] {
        if leavers {
            for e in hr_now.employees.iter_mut().step_by(7).skip(1) {
                e.hr_status = EmploymentStatus::Terminated;
            }
        }
        for _ in 0..3 {
            dir = simulate(&plan_for(&hr_now, &dir), &dir);
        }
    }
    assert!(
        dir.accounts
            .iter()
            .any(|a| a.disabled && a.dn.is_within(&dn("ou=disabled,dc=ex")))
    );
    let in_sync = plan_for(&hr_now, &dir);
    assert!(!in_sync.has_changes(), "{:#?}", in_sync.accounts);
    assert_eq!(in_sync.summary.changes, 0);
    assert_eq!(in_sync.summary.directory_accounts, 60);

    // Ada, the only engineer, moves to sales: engineering and vpn lose their last member.
    let mut moved = hr_now.clone();
    moved.employees[0]
        .fields
        .insert("department".into(), "Sales".into());
    moved.employees[0]
        .fields
        .insert("title".into(), "Sales person".into());
    let plan = plan_for(&moved, &dir);
    let from = dn("uid=ada.eng,ou=eng,ou=people,dc=ex");
    let to = dn("uid=ada.eng,ou=sales,ou=people,dc=ex");
    let group = |cn: &str| dn(&format!("cn={cn},ou=groups,dc=ex"));
    assert_eq!(
        actions(&plan, "e-0"),
        vec![
            Action::SetAttribute {
                attribute: "title".into(),
                before: vec!["Engineering person".into()],
                after: vec!["Sales person".into()],
            },
            Action::RemoveFromGroup {
                group: group("engineering")
            },
            Action::RemoveFromGroup {
                group: group("vpn")
            },
            Action::Move {
                from: from.clone(),
                to: to.clone()
            },
            Action::RenameMember {
                group: group("staff"),
                from: from.clone(),
                to: to.clone()
            },
            Action::AddToGroup {
                group: group("sales")
            },
        ]
    );
    assert_eq!(
        actions(&plan, "e-1"),
        vec![Action::SetAttribute {
            attribute: "manager".into(),
            before: vec![from.to_string()],
            after: vec![to.to_string()],
        }],
        "the manager DN of Ada's report follows her"
    );
    assert_eq!(plan.accounts.len(), 2);
    let account = plan
        .accounts
        .iter()
        .find(|a| a.employee_id == "e-0")
        .unwrap();
    assert_eq!(account.lifecycle, Lifecycle::Mover);
    let read = dir.accounts.iter().find(|a| a.dn == from).unwrap();
    assert_eq!(account.before, Some(account_state(read, &dir, &mappings())));
    let placeholders: Vec<(Dn, GroupAction)> = plan
        .group_changes
        .iter()
        .map(|g| (g.group.clone(), g.action))
        .collect();
    assert_eq!(
        placeholders,
        vec![
            (group("engineering"), GroupAction::AddPlaceholder),
            (group("vpn"), GroupAction::AddPlaceholder),
        ]
    );
    assert!(!plan_for(&moved, &simulate(&plan, &dir)).has_changes());
}

/// The hash index over the memberships finds exactly what a walk over the groups finds, in
/// group order, also for DNs that differ only in case and for DNs whose hashes collide (forged
/// here: every hash 0 or 1, so runs hold several members).
#[test]
fn member_of_finds_each_members_groups_as_a_walk_does() {
    let groups: Vec<Dn> = (0..5)
        .map(|g| dn(&format!("cn=g{g},ou=groups,dc=ex")))
        .collect();
    let members: Vec<Dn> = (0..40)
        .map(|m| dn(&format!("uid=U{m},ou=people,dc=ex")))
        .collect();
    let memberships: Vec<(&Dn, &Dn)> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, group)| {
            members
                .iter()
                .enumerate()
                .filter(move |(m, _)| (m + g) % 3 != 0 && m % 7 != 6)
                .map(move |(_, member)| (member, group))
        })
        .collect();
    let walk = |member: &Dn| -> Vec<&Dn> {
        memberships
            .iter()
            .filter(|(m, _)| *m == member)
            .map(|(_, g)| *g)
            .collect()
    };
    let forged = |member: &Dn| DnHash(u64::from(member.as_str().len() % 2 == 0));
    let real = MemberOf::new(
        memberships
            .iter()
            .map(|(m, g)| (DnHash::of(m), *m, *g))
            .collect(),
    );
    let colliding = MemberOf::new(
        memberships
            .iter()
            .map(|(m, g)| (forged(m), *m, *g))
            .collect(),
    );
    let lower_case: Vec<Dn> = members
        .iter()
        .map(|m| dn(&m.as_str().to_lowercase()))
        .collect();
    let absent = dn("uid=nobody,ou=people,dc=ex");
    fn groups_of<'a>(run: &[(DnHash, &Dn, &'a Dn)]) -> Vec<&'a Dn> {
        run.iter().map(|(_, _, g)| *g).collect()
    }
    for member in members.iter().chain(&lower_case).chain([&absent]) {
        assert_eq!(groups_of(real.of(member)), walk(member), "{member}");
        assert_eq!(
            groups_of(colliding.run_of(forged(member), member)),
            walk(member),
            "{member}"
        );
    }
}

/// The final DNs by id answer as the map collected from the same (id, DN) pairs would: the
/// last DN given for an id, in any order, and nothing for an id not given.
#[test]
fn final_dns_answer_as_a_map_of_the_targets_would() {
    let dns: Vec<Dn> = (0..12)
        .map(|i| dn(&format!("uid=u{i},ou=people,dc=ex")))
        .collect();
    let ids = ["7", "3", "10", "3", "", "b", "7", "a", "1", "7", "zz", "10"];
    let pairs: Vec<(&str, &Dn)> = ids.iter().copied().zip(&dns).collect();
    let map: BTreeMap<&str, &Dn> = pairs.iter().copied().collect();
    let final_dns = FinalDns::from_pairs(pairs.iter().copied());
    for id in ids.iter().chain(&["0", "2", "4", "c", "zzz"]) {
        assert_eq!(final_dns.get(id), map.get(id).copied(), "{id:?}");
    }
}

// --- Properties over random companies --------------------------------------------------------

mod properties {
    use super::*;
    use crate::plan::limits::{self, LimitKind, Limits};
    use proptest::prelude::*;

    const DEPARTMENTS: [&str; 4] = ["Engineering", "Sales", "Presales", "Other"];
    const NAMES: [&str; 3] = ["Ann", "Bob", "Cy"];
    const OUS: [&str; 4] = [
        "ou=eng,ou=people,dc=ex",
        "ou=sales,ou=people,dc=ex",
        "ou=people,dc=ex",
        "ou=disabled,dc=ex",
    ];
    const GROUPS: [&str; 5] = ["staff", "engineering", "vpn", "sales", "wiki"];

    #[derive(Debug, Clone)]
    struct Person {
        status: EmploymentStatus,
        department: usize,
        first: usize,
        last: usize,
        manager: Option<usize>,
        in_hr: bool,
        /// (ou, disabled, protected, groups bitmask) when the directory has an account.
        account: Option<(usize, bool, bool, u8)>,
    }

    fn person() -> impl Strategy<Value = Person> {
        (
            prop_oneof![
                4 => Just(EmploymentStatus::Active),
                1 => Just(EmploymentStatus::Leave),
                1 => Just(EmploymentStatus::Pending),
                2 => Just(EmploymentStatus::Terminated),
            ],
            0..DEPARTMENTS.len(),
            0..NAMES.len(),
            0..NAMES.len(),
            proptest::option::of(0..8usize),
            proptest::bool::weighted(0.85),
            proptest::option::of((
                0..OUS.len(),
                any::<bool>(),
                proptest::bool::weighted(0.1),
                any::<u8>(),
            )),
        )
            .prop_map(
                |(status, department, first, last, manager, in_hr, account)| Person {
                    status,
                    department,
                    first,
                    last,
                    manager,
                    in_hr,
                    account,
                },
            )
    }

    /// HR and directory for a random company of up to 8 people, plus an unmanaged account and
    /// an unmanaged group.
    fn company(people: &[Person]) -> (HrSnapshot, DirectorySnapshot) {
        let mut employees = Vec::new();
        let mut accounts = Vec::new();
        let mut members: Vec<(String, String)> = Vec::new();
        for (i, p) in people.iter().enumerate() {
            let id = i.to_string();
            let (first, last) = (NAMES[p.first], format!("{}{}", NAMES[p.last], i % 3));
            if p.in_hr {
                let mut e = employee(&id, first, &last, DEPARTMENTS[p.department], p.status);
                if let Some(m) = p.manager {
                    e.fields.insert("manager_id".into(), m.to_string());
                }
                employees.push(e);
            }
            if let Some((ou, disabled, protected, groups)) = p.account {
                let uid = format!("{}.{}", first.to_lowercase(), last.to_lowercase());
                let dn = format!("uid={uid},{}", OUS[ou]);
                if accounts
                    .iter()
                    .any(|a: &DirectoryAccount| a.dn == super::dn(&dn))
                {
                    continue;
                }
                let mut a = account(&dn, &id, "old title", disabled);
                a.attributes
                    .insert("cn".into(), vec![format!("{first} {last}")]);
                a.attributes.insert("sn".into(), vec![last.clone()]);
                a.protected = protected.then(|| "test".to_string());
                for (g, cn) in GROUPS.iter().enumerate() {
                    if groups & (1 << g) != 0 {
                        members.push((cn.to_string(), dn.clone()));
                    }
                }
                accounts.push(a);
            }
        }
        let mut unmanaged = account("uid=service,ou=people,dc=ex", "x", "svc", false);
        unmanaged.correlation_id = None;
        accounts.push(unmanaged);
        members.push(("wiki".into(), "uid=service,ou=people,dc=ex".into()));
        let pairs: Vec<(&str, &str)> = members
            .iter()
            .map(|(g, m)| (g.as_str(), m.as_str()))
            .collect();
        let mut dir = directory(accounts, &[]);
        let wiki = super::dn("cn=wiki,ou=groups,dc=ex");
        dir.groups.insert(
            wiki.clone(),
            DirectoryGroup {
                dn: wiki,
                members: BTreeSet::new(),
            },
        );
        for (g, m) in pairs {
            dir.groups
                .get_mut(&super::dn(&format!("cn={g},ou=groups,dc=ex")))
                .unwrap()
                .members
                .insert(super::dn(m));
        }
        (hr(employees), dir)
    }

    /// The JSON Pointer of every value in `value` that holds no other: strings, numbers,
    /// booleans, nulls, and empty arrays and objects.
    fn leaves(value: &serde_json::Value, at: &str, out: &mut Vec<String>) {
        use serde_json::Value;
        match value {
            Value::Array(items) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    leaves(item, &format!("{at}/{i}"), out);
                }
            }
            Value::Object(fields) if !fields.is_empty() => {
                for (key, item) in fields {
                    let key = key.replace('~', "~0").replace('/', "~1");
                    leaves(item, &format!("{at}/{key}"), out);
                }
            }
            _ => out.push(at.to_string()),
        }
    }

    /// Changes a leaf as a hand editing the file would: text gains a letter, a number grows, a
    /// flag flips, an empty list or table gains an entry.
    fn edit(leaf: &mut serde_json::Value) {
        use serde_json::Value;
        *leaf = match leaf.take() {
            Value::String(text) => Value::String(format!("{text}x")),
            Value::Number(n) => Value::from(n.as_u64().map_or(1, |n| n + 1)),
            Value::Bool(flag) => Value::Bool(!flag),
            Value::Array(_) => serde_json::json!(["x"]),
            Value::Object(_) => serde_json::json!({"x": ["x"]}),
            Value::Null => Value::String("x".into()),
        };
    }

    proptest! {
        // Failing seeds are kept next to this file (the repository's top level stays clean).
        #![proptest_config(ProptestConfig {
            cases: 300,
            failure_persistence: Some(Box::new(
                proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
            )),
            ..ProptestConfig::default()
        })]

        /// One apply converges, except where a name was held by an account that the same plan
        /// moved away: the joiner (or the move) that wanted it waits, with the reason, and the
        /// next run completes it (two changes never race for one name), after which nothing is
        /// left.
        #[test]
        fn one_apply_converges_and_a_name_freed_by_it_is_taken_by_the_next(people in proptest::collection::vec(person(), 0..8)) {
            let (hr, dir) = company(&people);
            let first = plan_for(&hr, &dir);
            let after = simulate(&first, &dir);
            let second = plan_for(&hr, &after);
            let waited: BTreeSet<&str> = first
                .skipped
                .iter()
                .filter(|s| s.reason.contains("cannot name the new account"))
                .filter_map(|s| s.employee_id.as_deref())
                .collect();
            // Moves held back because the target name was still taken.
            let held_back: BTreeSet<String> = first
                .warnings
                .iter()
                .filter(|w| w.contains(": not moving "))
                .filter_map(|w| w.strip_prefix("employee ")?.split(':').next().map(str::to_string))
                .collect();
            for account in &second.accounts {
                let id = account.employee_id.as_str();
                let waited_joiner = account.lifecycle == Lifecycle::Joiner && waited.contains(id);
                let waited_move = held_back.contains(id)
                    && account.changes.iter().all(|c| matches!(c.action, Action::Move { .. } | Action::RenameMember { .. }));
                // ...and references to those accounts (the manager DN) follow them.
                let waited_reference = !(waited.is_empty() && held_back.is_empty())
                    && account.changes.iter().all(|c| matches!(&c.action, Action::SetAttribute { attribute, .. } if attribute == "manager"));
                prop_assert!(
                    waited_joiner || waited_move || waited_reference,
                    "first: {:#?}\nsecond: {:#?}", first.accounts, second.accounts
                );
            }
            let third = plan_for(&hr, &simulate(&second, &after));
            prop_assert!(!third.has_changes(), "third: {:#?}", third.accounts);
        }

        #[test]
        fn protected_and_unmanaged_accounts_are_never_touched_and_other_groups_only_lose_members(people in proptest::collection::vec(person(), 0..8)) {
            let (hr, dir) = company(&people);
            let plan = plan_for(&hr, &dir);
            let wiki = super::dn("cn=wiki,ou=groups,dc=ex");
            for account in &plan.accounts {
                let found = dir.accounts.iter().find(|a| a.dn == account.dn);
                prop_assert!(found.is_none_or(|a| a.protected.is_none() && a.correlation_id.is_some()),
                    "changed a protected or unmanaged account: {account:#?}");
                for change in &account.changes {
                    // A group hrsync does not manage: a leaver leaves it (or a joiner's
                    // inherited value goes), a mover's value follows the move; nobody joins it.
                    match &change.action {
                        Action::AddToGroup { group } => prop_assert!(*group != wiki, "{change:?}"),
                        Action::RemoveFromGroup { group } if *group == wiki => prop_assert!(
                            (account.lifecycle == Lifecycle::Leaver
                                && change.reason.rule.as_deref() == Some("lifecycle.leaver_groups = \"all\""))
                                || change.reason.rule.as_deref() == Some("an account arrives with its role's groups only"),
                            "{account:#?}"
                        ),
                        _ => {}
                    }
                }
            }
            prop_assert!(plan.group_changes.iter().all(|g| g.group != wiki || g.action == GroupAction::AddPlaceholder));
        }

        /// A plan saved as JSON is approved whole against the plan it was saved from; an edit
        /// of any one value of any account or change in the file (its DN, lifecycle, state
        /// before, an action's target or values, a reason) is refused. (The one value allowed
        /// to differ, an AD leaver's expiry time, does not occur here.)
        #[test]
        fn a_saved_plan_is_approved_whole_and_any_edit_of_it_is_refused(
            people in proptest::collection::vec(person(), 0..8),
            leaf in any::<proptest::sample::Index>(),
        ) {
            use crate::plan::approval::verify;
            let (hr, dir) = company(&people);
            let fresh = plan_for(&hr, &dir);
            let text = crate::render::json(&fresh);
            let saved: Plan = serde_json::from_str(&text).unwrap();
            let approved = verify(&saved, &fresh).unwrap();
            prop_assert_eq!(&approved.plan, &fresh);
            prop_assert!(approved.unreviewed.is_empty());

            let mut file: serde_json::Value = serde_json::from_str(&text).unwrap();
            let mut paths = Vec::new();
            leaves(&file["accounts"], "/accounts", &mut paths);
            leaves(&file["group_changes"], "/group_changes", &mut paths);
            if paths.is_empty() {
                return Ok(());
            }
            let path = &paths[leaf.index(paths.len())];
            edit(file.pointer_mut(path).unwrap());
            // An edit that makes the file no plan at all is refused when it is read.
            if let Ok(edited) = serde_json::from_value::<Plan>(file) {
                prop_assert!(verify(&edited, &fresh).is_err(), "the edit at {} was accepted", path);
            }
        }

        #[test]
        fn planning_is_deterministic(people in proptest::collection::vec(person(), 0..8)) {
            let (hr, dir) = company(&people);
            let mut reversed = hr.clone();
            reversed.employees.reverse();
            let mut shuffled_dir = dir.clone();
            shuffled_dir.accounts.reverse();
            prop_assert_eq!(plan_for(&hr, &dir), plan_for(&reversed, &shuffled_dir));
        }

        /// Planning accounts on two threads gives the plan, to the byte, that planning them on
        /// one does, wherever the halves split (every target count from 0 threads here).
        #[test]
        fn a_plan_made_on_two_threads_is_the_one_made_on_one(people in proptest::collection::vec(person(), 0..16), parallel_from in 0usize..4) {
            let (mut hr, dir) = company(&people);
            // Some joiners without a title the directory requires: skipped while planned.
            for e in hr.employees.iter_mut().step_by(3) {
                e.fields.insert("title".into(), String::new());
            }
            let mappings = mappings();
            let mut policy = policy();
            policy.required_attributes.push("title".into());
            policy.disable_orphans = true;
            let input = PlanInput { hr: &hr, directory: &dir, mappings: &mappings, policy: &policy, limits: &crate::plan::limits::Limits::none(), now: now() };
            let one = plan_with(&input, usize::MAX);
            let two = plan_with(&input, parallel_from);
            prop_assert_eq!(serde_json::to_string(&two).unwrap(), serde_json::to_string(&one).unwrap());
            prop_assert_eq!(two, one);
        }

        #[test]
        fn limits_trip_exactly_when_a_count_goes_over(people in proptest::collection::vec(person(), 0..8), max in 0usize..4) {
            let (hr, dir) = company(&people);
            let plan = plan_for(&hr, &dir);
            let tight = Limits {
                kinds: LimitKind::ALL.iter().map(|k| (*k, limits::Limit { count: Some(max), percent: None })).collect(),
                percent_floor: 5,
                max_plan_age_hours: 24,
            };
            let tripped = limits::check(&plan, &tight);
            let disabled = plan.accounts.iter().filter(|a| a.changes.iter().any(|c| matches!(c.action, Action::Disable { .. }))).count();
            prop_assert_eq!(tripped.iter().any(|t| t.kind == LimitKind::Disable), disabled > max);
            prop_assert_eq!(tripped.iter().any(|t| t.kind == LimitKind::Missing), plan.orphans.len() > max);
            // Every other kind too, each counted once per account however many such changes
            // it has.
            for (kind, is_kind) in [
                (LimitKind::GroupRemoval, (|a: &Action| matches!(a, Action::RemoveFromGroup { .. })) as fn(&Action) -> bool),
                (LimitKind::Move, |a| matches!(a, Action::Move { .. })),
                (LimitKind::Create, |a| matches!(a, Action::Create { .. })),
                (LimitKind::Update, |a| matches!(a, Action::SetAttribute { .. })),
            ] {
                let count = plan.accounts.iter().filter(|a| a.changes.iter().any(|c| is_kind(&c.action))).count();
                let trip = tripped.iter().find(|t| t.kind == kind);
                prop_assert_eq!(trip.is_some(), count > max, "{:?}: {} accounts, max {}", kind, count, max);
                if let Some(trip) = trip {
                    prop_assert_eq!(trip.count, count);
                }
            }
            // Without limits nothing trips; a limit never changes the plan itself.
            let none = Limits { kinds: BTreeMap::new(), percent_floor: 5, max_plan_age_hours: 24 };
            prop_assert!(limits::check(&plan, &none).is_empty());
        }

        /// An apply cut short anywhere (slapd stopped, hrsync killed: each account's changes
        /// done up to some point, the final placeholder clean-up maybe not at all) still
        /// converges, to exactly the state an uninterrupted apply reaches: nothing lost, nothing
        /// done twice. Once there, planning again is a fixed point (idempotence).
        #[test]
        fn an_interrupted_apply_converges_to_the_same_state_as_a_whole_one(
            people in proptest::collection::vec(person(), 0..8),
            cuts in proptest::collection::vec(0usize..6, 8),
            cleanup in any::<bool>(),
        ) {
            let (hr, dir) = company(&people);
            let whole = converge(&hr, &dir);
            let first = plan_for(&hr, &dir);
            let mut cut = first.clone();
            for (account, keep) in cut.accounts.iter_mut().zip(cuts.iter().cycle()) {
                account.changes.truncate(*keep);
            }
            if !cleanup {
                cut.group_changes.retain(|g| g.action != GroupAction::RemovePlaceholder);
            }
            // The rewrites of a moved account's value that the cut left undone, as (group, new DN).
            let cut_renames: BTreeSet<(String, String)> = first
                .accounts
                .iter()
                .zip(&cut.accounts)
                .filter(|(_, kept)| kept.changes.iter().any(|c| matches!(c.action, Action::Move { .. })))
                .flat_map(|(whole, kept)| whole.changes[kept.changes.len()..].iter())
                .filter_map(|c| match &c.action {
                    Action::RenameMember { group, to, .. } => Some((group.to_string(), to.to_string())),
                    _ => None,
                })
                .collect();
            let interrupted = converge(&hr, &simulate(&cut, &dir));
            let again = plan_for(&hr, &interrupted);
            let (accounts, groups) = state(&interrupted);
            let (mut whole_accounts, whole_groups) = state(&whole);
            // The one account difference allowed: an account cut between its lock and hrsync's
            // mark (the mark goes second, so that a refused mark never undoes a lock) stays
            // locked without the mark, as if someone else had locked it: hrsync never lifts
            // that lock, which is the safe side.
            for dn in locked_unmarked(&first, &cut) {
                let (attributes, _) = whole_accounts.get_mut(&dn).expect("the account is there");
                for values in attributes.values_mut() {
                    values.retain(|v| !v.eq_ignore_ascii_case(crate::plan::DISABLED_MARK));
                }
                attributes.retain(|_, values| !values.is_empty());
            }
            prop_assert_eq!(accounts, whole_accounts);
            // The one difference allowed: a value left behind by a cut-short move whose owner
            // cannot be told for certain (two accounts with its RDN) stays, and every plan
            // names it for an admin.
            for (group, members) in &groups {
                for member in members.difference(&whole_groups[group]) {
                    prop_assert!(
                        again.warnings.iter().any(|w| w.contains(&format!("{member} in {group} is no entry"))),
                        "{} left in {} unnamed: {:#?}", member, group, again.warnings
                    );
                }
                // A membership lost: only in a group hrsync does not manage (no rule gives it
                // back), where the cut fell between an account's move and the rewrite of its
                // value there (that value, when it cannot be pinned on one account, is named in
                // the next plan's warnings and never handed to anyone else).
                for lost in whole_groups[group].difference(members) {
                    prop_assert!(
                        !mappings().managed_groups().contains(&super::dn(group))
                            && cut_renames.contains(&(group.clone(), lost.clone())),
                        "{} lost {}", group, lost
                    );
                }
            }
            prop_assert!(!again.has_changes() && again.group_changes.is_empty(), "{:#?}", again);
            let ambiguous = again.warnings.iter().any(|w| w.contains("is no entry"));
            let mut rdns: Vec<String> = interrupted.accounts.iter().map(|a| a.dn.rdn().to_lowercase()).collect();
            let count = rdns.len();
            rdns.sort();
            rdns.dedup();
            prop_assert!(!ambiguous || rdns.len() < count, "only with an RDN shared between accounts");
            prop_assert_eq!(plan_for(&hr, &interrupted), again);
        }

        /// The planner compares each account against the snapshot through its own indexes
        /// (memberships sorted by member, attributes by lower-cased name); what it records as
        /// "before" must be what the general [`account_state`] reads from the snapshot.
        #[test]
        fn the_state_a_plan_records_is_the_account_as_read(people in proptest::collection::vec(person(), 0..8)) {
            let (hr, dir) = company(&people);
            let mappings = mappings();
            let applied = simulate(&plan_for(&hr, &dir), &dir);
            for snapshot in [&dir, &applied] {
                for account in &plan_for(&hr, snapshot).accounts {
                    let Some(before) = &account.before else { continue };
                    let read = snapshot
                        .accounts
                        .iter()
                        .find(|a| a.dn == account.dn)
                        .map(|a| account_state(a, snapshot, &mappings));
                    prop_assert_eq!(Some(before), read.as_ref(), "{:?}", account.dn);
                }
            }
        }

        /// The placeholder changes count each group's members after the plan from the changes
        /// alone; they must be what copying every group and applying the changes gives.
        #[test]
        fn placeholder_changes_match_copying_the_groups(
            people in proptest::collection::vec(person(), 0..8),
            emptied in any::<u8>(),
            with_placeholder in any::<u8>(),
        ) {
            let (hr, mut dir) = company(&people);
            for (i, group) in dir.groups.values_mut().enumerate() {
                if emptied & (1 << i) != 0 {
                    group.members.remove(&super::dn("cn=someone-else,dc=ex"));
                }
                if with_placeholder & (1 << i) != 0 {
                    group.members.insert(super::dn("cn=placeholder"));
                }
            }
            let plan = plan_for(&hr, &dir);
            prop_assert_eq!(&plan.group_changes, &placeholders_by_copying(&plan, &dir));
        }

        /// After convergence every account is what HR says, whatever the directory held
        /// before: active people (unprotected, nameable) have an enabled account in their
        /// role's groups, leavers' accounts are disabled and in no managed group, and the
        /// accounts HR does not know are exactly as they were.
        #[test]
        fn the_converged_directory_is_what_hr_says(people in proptest::collection::vec(person(), 0..8)) {
            let (hr, dir) = company(&people);
            let first = plan_for(&hr, &dir);
            let done = converge(&hr, &dir);
            let unnameable: BTreeSet<&str> = first
                .skipped
                .iter()
                .filter_map(|s| s.employee_id.as_deref())
                .collect();
            let managed = ["staff", "engineering", "vpn", "sales"];
            let groups_of = |d: &DirectorySnapshot, dn: &Dn| -> BTreeSet<String> {
                managed
                    .iter()
                    .filter(|g| d.groups[&super::dn(&format!("cn={g},ou=groups,dc=ex"))].members.contains(dn))
                    .map(|g| g.to_string())
                    .collect()
            };
            for e in &hr.employees {
                let mine: Vec<&DirectoryAccount> = done.accounts.iter().filter(|a| a.correlation_id.as_deref() == Some(e.id.as_str())).collect();
                prop_assert!(mine.len() <= 1 || unnameable.contains(e.id.as_str()), "{}: {} accounts", e.id, mine.len());
                let before: Vec<&DirectoryAccount> = dir.accounts.iter().filter(|a| a.correlation_id.as_deref() == Some(e.id.as_str())).collect();
                if before.iter().any(|a| a.protected.is_some()) || unnameable.contains(e.id.as_str()) {
                    continue;
                }
                // No dates: HR's status is the planner's.
                match e.hr_status {
                    EmploymentStatus::Active => {
                        prop_assert_eq!(mine.len(), 1, "active {} has an account", e.id);
                        let a = mine[0];
                        prop_assert!(!a.disabled, "active {} enabled", e.id);
                        let department = e.fields.get("department").map(String::as_str).unwrap_or("");
                        let mut want: BTreeSet<String> = ["staff".to_string()].into();
                        match department {
                            "Engineering" => { want.insert("engineering".into()); want.insert("vpn".into()); }
                            "Sales" | "Presales" => { want.insert("sales".into()); }
                            _ => {}
                        }
                        prop_assert_eq!(groups_of(&done, &a.dn), want, "groups of {}", e.id);
                    }
                    EmploymentStatus::Terminated => {
                        for a in &mine {
                            prop_assert!(a.disabled, "leaver {} disabled", e.id);
                            prop_assert!(groups_of(&done, &a.dn).is_empty(), "leaver {} in no managed group", e.id);
                        }
                    }
                    _ => {}
                }
            }
            let known: BTreeSet<&str> = hr.employees.iter().map(|e| e.id.as_str()).collect();
            for a in &dir.accounts {
                if a.correlation_id.as_deref().is_none_or(|id| !known.contains(id)) {
                    let now = done.accounts.iter().find(|b| b.dn == a.dn);
                    prop_assert_eq!(now, Some(a), "an account HR does not know is left as it was");
                    prop_assert_eq!(groups_of(&done, &a.dn), groups_of(&dir, &a.dn));
                }
            }
        }

        /// A record HR sent but hrsync could not read protects its account completely: no
        /// change, not an orphan, not a leaver, whatever the rest of the company does.
        #[test]
        fn an_unreadable_record_leaves_its_account_alone(
            people in proptest::collection::vec(person(), 1..8),
            unreadable in proptest::collection::vec(any::<bool>(), 8),
        ) {
            let (mut hr, dir) = company(&people);
            let hidden: BTreeSet<String> = hr
                .employees
                .iter()
                .zip(&unreadable)
                .filter(|(_, u)| **u)
                .map(|(e, _)| e.id.clone())
                .collect();
            hr.employees.retain(|e| !hidden.contains(&e.id));
            hr.rejected = hidden
                .iter()
                .enumerate()
                .map(|(index, id)| crate::model::RejectedRecord {
                    id: Some(id.clone()),
                    index,
                    problem: "status \"???\" is not listed".into(),
                })
                .collect();
            let plan = plan_for(&hr, &dir);
            for account in &plan.accounts {
                prop_assert!(!hidden.contains(&account.employee_id), "changed {}: {:#?}", account.employee_id, account);
            }
            for orphan in &plan.orphans {
                let id = dir.accounts.iter().find(|a| a.dn == orphan.dn).and_then(|a| a.correlation_id.clone());
                prop_assert!(id.is_none_or(|id| !hidden.contains(&id)), "{orphan:?} is no orphan");
            }
            let after = simulate(&plan, &dir);
            for a in dir.accounts.iter().filter(|a| a.correlation_id.as_ref().is_some_and(|id| hidden.contains(id))) {
                prop_assert_eq!(after.accounts.iter().find(|b| b.dn == a.dn), Some(a));
            }
        }
    }

    /// The placeholder changes worked out the long way: every managed group copied, the plan's
    /// membership changes applied to the copies, and the real members counted before, after,
    /// and in the worst order apply may take (every removal and rewrite before any addition).
    fn placeholders_by_copying(plan: &Plan, dir: &DirectorySnapshot) -> Vec<GroupChange> {
        let placeholder = policy().empty_group_placeholder.unwrap();
        let managed = mappings().managed_groups();
        // Every group: the managed ones all take part; another group only where the plan
        // changes its members, and then only to receive a placeholder.
        let before: BTreeMap<Dn, BTreeSet<Dn>> = dir
            .groups
            .iter()
            .map(|(g, group)| (g.clone(), group.members.clone()))
            .collect();
        let mut after = before.clone();
        let mut worst = before.clone();
        for account in &plan.accounts {
            let mut current = account.dn.clone();
            for change in &account.changes {
                match &change.action {
                    Action::Create { dn, .. } => current = dn.clone(),
                    Action::Move { to, .. } => current = to.clone(),
                    Action::AddToGroup { group } => {
                        after
                            .entry(group.clone())
                            .or_default()
                            .insert(current.clone());
                    }
                    Action::RemoveFromGroup { group } => {
                        after.entry(group.clone()).or_default().remove(&current);
                        worst.entry(group.clone()).or_default().remove(&current);
                    }
                    Action::RenameMember { group, from, to } => {
                        for members in [&mut after, &mut worst] {
                            let members = members.entry(group.clone()).or_default();
                            members.remove(from);
                            members.insert(to.clone());
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut changes = Vec::new();
        for (group, members) in &after {
            let Some(before) = before.get(group) else {
                continue;
            };
            let other = !managed.contains(group);
            if other && members == before {
                continue;
            }
            let real = |m: &BTreeSet<Dn>| m.iter().filter(|m| **m != placeholder).count();
            let has_placeholder = before.contains(&placeholder);
            let (real_before, real_after) = (real(before), real(members));
            let adding = !has_placeholder && real_before > 0 && real(&worst[group]) == 0;
            let mut actions = Vec::new();
            if adding {
                actions.push(GroupAction::AddPlaceholder);
            }
            if real_after > 0 && (has_placeholder || adding) && !other {
                actions.push(GroupAction::RemovePlaceholder);
            }
            for action in actions {
                let reason = match action {
                    GroupAction::AddPlaceholder if real_after == 0 => {
                        "the group's last member is removed and groupOfNames requires one"
                    }
                    GroupAction::AddPlaceholder => {
                        "every member the group has now is removed, and groupOfNames requires \
                         one at every moment, also before the new members are in"
                    }
                    GroupAction::RemovePlaceholder => "the group has real members again",
                };
                changes.push(GroupChange {
                    group: group.clone(),
                    action,
                    member: placeholder.clone(),
                    reason: Reason::new(reason, "groups.empty_group_placeholder"),
                });
            }
        }
        changes
    }

    /// Plans and applies until nothing is left (at most four runs: names freed by one run are
    /// taken by the next).
    fn converge(hr: &HrSnapshot, dir: &DirectorySnapshot) -> DirectorySnapshot {
        let mut dir = dir.clone();
        for _ in 0..4 {
            let plan = plan_for(hr, &dir);
            if !plan.has_changes() && plan.group_changes.is_empty() {
                break;
            }
            dir = simulate(&plan, &dir);
        }
        dir
    }

    /// A directory's content without the order it happens to be listed in.
    #[allow(clippy::type_complexity)]
    /// The final DNs of the accounts whose cut plan kept a lock but not the mark right after it.
    fn locked_unmarked(whole: &Plan, cut: &Plan) -> Vec<String> {
        whole
            .accounts
            .iter()
            .zip(&cut.accounts)
            .filter(|(whole, kept)| {
                let n = kept.changes.len();
                n > 0
                    && matches!(whole.changes[n - 1].action, Action::Disable { .. })
                    && whole.changes.get(n).is_some_and(|c| {
                        matches!(&c.action, Action::AddValue { value, .. }
                            if value.eq_ignore_ascii_case(crate::plan::DISABLED_MARK))
                    })
            })
            .map(|(whole, _)| {
                whole
                    .changes
                    .iter()
                    .rev()
                    .find_map(|c| match &c.action {
                        Action::Move { to, .. } => Some(to.to_string()),
                        _ => None,
                    })
                    .unwrap_or_else(|| whole.dn.to_string())
            })
            .collect()
    }

    /// Each account's attributes and lock by DN, and each group's members.
    type State = (
        BTreeMap<String, (BTreeMap<String, Vec<String>>, bool)>,
        BTreeMap<String, BTreeSet<String>>,
    );

    fn state(dir: &DirectorySnapshot) -> State {
        (
            dir.accounts
                .iter()
                .map(|a| (a.dn.to_string(), (a.attributes.to_map(), a.disabled)))
                .collect(),
            dir.groups
                .iter()
                .map(|(g, m)| {
                    (
                        g.to_string(),
                        m.members.iter().map(ToString::to_string).collect(),
                    )
                })
                .collect(),
        )
    }
}

/// A read of some employees alone (`hrsync sync`, an event) scoped to them.
fn scoped(employees: Vec<Employee>, scope: &[&str]) -> HrSnapshot {
    HrSnapshot {
        employees,
        scope: Some(scope.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    }
}

/// Issue 18: a targeted read knows nothing of the other employees, so their accounts must be
/// neither orphans nor marked absent, however drifted, and only the named leaver is changed.
#[test]
fn a_scoped_plan_changes_only_the_accounts_of_the_employees_read() {
    let leaver = "uid=lea.ver,ou=sales,ou=people,dc=ex";
    let drifted = "uid=dri.fted,ou=sales,ou=people,dc=ex";
    let dir = directory(
        vec![
            account(leaver, "1", "Sales person", false),
            account(drifted, "2", "wrong title", false),
            account(ORPHAN, "9", "t", false),
        ],
        &[("sales", leaver), ("staff", drifted), ("sales", ORPHAN)],
    );
    let hr = scoped(
        vec![employee(
            "1",
            "Lea",
            "Ver",
            "Sales",
            EmploymentStatus::Terminated,
        )],
        &["1"],
    );
    let plan = plan_orphans(&hr, &dir);
    assert_eq!(plan.accounts.len(), 1, "{:#?}", plan.accounts);
    assert_eq!(actions(&plan, "1")[0], LOCK);
    assert!(plan.orphans.is_empty(), "{:?}", plan.orphans);
    // The same snapshot as a full read: 2 and 9 are orphans, 9 is marked absent.
    let full = plan_orphans(&HrSnapshot { scope: None, ..hr }, &dir);
    assert_eq!(
        actions(&full, "9"),
        [absent_mark()],
        "a full read marks the orphan"
    );
}

/// An id HR says it has no employee by, read alone, is an orphan whose absence is confirmed.
#[test]
fn a_scoped_id_hr_has_no_record_of_is_deprovisioned_when_orphans_are() {
    let dir = directory(
        vec![
            account(ORPHAN, "9", "t", false),
            account("uid=x.y,ou=sales,ou=people,dc=ex", "8", "t", false),
        ],
        &[("sales", ORPHAN), ("staff", ORPHAN)],
    );
    let mut hr = scoped(vec![], &["9"]);
    hr.single_reads
        .insert("9".into(), crate::model::SingleRead::Absent);
    let on = plan_orphans(&hr, &dir);
    assert_deprovisioned(&actions(&on, "9"));
    assert!(actions(&on, "8").is_empty());
    assert!(
        !plan_for(&hr, &dir).has_changes(),
        "orphans left alone unless opted in"
    );
}

/// A joiner read alone is named against every entry the snapshot holds, in scope or not.
#[test]
fn a_scoped_joiner_is_named_against_accounts_outside_the_scope() {
    let other = "uid=ann.a,ou=eng,ou=people,dc=ex";
    let dir = directory(vec![account(other, "5", "t", false)], &[]);
    let hr = scoped(
        vec![employee(
            "1",
            "Ann",
            "A",
            "Engineering",
            EmploymentStatus::Active,
        )],
        &["1"],
    );
    let plan = plan_for(&hr, &dir);
    let created = plan.accounts.iter().find(|a| a.employee_id == "1");
    assert!(
        created.is_none_or(|a| a.dn != dn(other)),
        "the joiner took another person's DN: {plan:#?}"
    );
    assert!(actions(&plan, "5").is_empty());
}

/// With `correlation.fallback`, an employee without an account may own an old one: a read of
/// them alone cannot decide, so it creates nothing and says so.
#[test]
fn a_scoped_employee_without_an_account_waits_for_a_full_run_when_fallback_is_set() {
    let mappings = Mappings::from_files(&[(
        "m.toml".into(),
        format!(
            "{MAPPINGS}\n[correlation]\nattribute = \"employeeNumber\"\nfallback_attribute = \"mail\"\nfallback_hr_field = \"email\"\n"
        ),
    )])
    .unwrap();
    assert!(mappings.correlation.fallback.is_some());
    let dir = directory(vec![], &[]);
    let hr = scoped(
        vec![employee(
            "1",
            "Ann",
            "A",
            "Engineering",
            EmploymentStatus::Active,
        )],
        &["1"],
    );
    let plan = plan(&PlanInput {
        hr: &hr,
        directory: &dir,
        mappings: &mappings,
        policy: &policy(),
        limits: &crate::plan::limits::Limits::none(),
        now: now(),
    });
    assert!(!plan.has_changes(), "{plan:#?}");
    assert!(
        plan.skipped
            .iter()
            .any(|s| s.reason.contains("only a full run"))
    );
}

/// 389-DS: a role's lock (a virtual `nsAccountLock`, not on the entry) stops a login, and
/// hrsync can neither lift it nor count on it. An active employee's account under one is left
/// alone with the lock named, like an admin's own lock; a leaver under one still gets hrsync's
/// lock, which outlives the role's (an admin who unlocks the role must not let a leaver in).
#[test]
fn a_role_lock_holds_an_active_account_and_never_stands_in_for_a_leavers_lock() {
    let d = "uid=ro.le,ou=eng,ou=people,dc=ex";
    let mut role_locked = account(d, "1", "Engineering person", false);
    role_locked.locked_elsewhere = Some("locked by a 389-DS role (roles: cn=contractors)".into());
    let dir = directory(vec![role_locked], &[("staff", d), ("vpn", d)]);
    let active = hr(vec![employee(
        "1",
        "Ro",
        "Le",
        "Sales",
        EmploymentStatus::Active,
    )]);
    let plan = plan_for(&active, &dir);
    assert!(
        !plan.has_changes(),
        "a mover under a role lock is not moved: {plan:#?}"
    );
    assert!(plan.skipped.iter().any(|s| {
        s.employee_id.as_deref() == Some("1")
            && s.reason
                .starts_with("locked by a 389-DS role (roles: cn=contractors) while HR says active")
    }));

    let mut leaver = employee("1", "Ro", "Le", "Engineering", EmploymentStatus::Terminated);
    leaver.status_source = "Terminated".into();
    let plan = plan_for(&hr(vec![leaver]), &dir);
    let acts = actions(&plan, "1");
    assert!(
        matches!(acts[0], Action::Disable { .. }),
        "the leaver gets a lock of its own first: {acts:?}"
    );
    assert!(acts.contains(&Action::RemoveFromGroup {
        group: dn("cn=vpn,ou=groups,dc=ex")
    }));
}

/// Whether member values follow a move is what the server was found to do (389-DS's plugins),
/// whatever the policy assumed: a mover's kept memberships are rewritten by hrsync only where
/// the server will not, and a value left behind is repaired only there.
#[test]
fn the_servers_own_rename_rule_decides_whether_hrsync_rewrites_member_values() {
    let old = "uid=ada.l,ou=eng,ou=people,dc=ex";
    let mut dir = directory(
        vec![account(old, "1", "Engineering person", false)],
        &[("staff", old), ("engineering", old)],
    );
    let hr = hr(vec![employee(
        "1",
        "Ada",
        "L",
        "Sales",
        EmploymentStatus::Active,
    )]);
    let rewrites = |plan: &Plan| {
        actions(plan, "1")
            .iter()
            .filter(|a| matches!(a, Action::RenameMember { .. }))
            .count()
    };
    // The test policy says values do not follow: one rewrite (staff is kept).
    assert_eq!(rewrites(&plan_for(&hr, &dir)), 1);
    dir.member_values_follow_renames = Some(true);
    let plan = plan_for(&hr, &dir);
    assert_eq!(rewrites(&plan), 0, "{plan:#?}");
    assert!(
        actions(&plan, "1")
            .iter()
            .any(|a| matches!(a, Action::Move { .. }))
    );
    dir.member_values_follow_renames = Some(false);
    assert_eq!(rewrites(&plan_for(&hr, &dir)), 1);
}
