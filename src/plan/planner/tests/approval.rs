//! A saved plan against a fresh one ([`crate::plan::approval::verify`]): made from the planner's
//! own plans, as `plan --out` and `apply --plan` make them, then edited as an attacker with the
//! file would.

use super::*;
use crate::plan::approval::{Approved, Refusal, verify};

/// A company of two with one pending change each: Ann moves to Sales, Bob has left.
fn company() -> (HrSnapshot, DirectorySnapshot) {
    let hr = hr(vec![
        employee("1", "Ann", "Lee", "Sales", EmploymentStatus::Active),
        employee(
            "2",
            "Bob",
            "Roe",
            "Engineering",
            EmploymentStatus::Terminated,
        ),
    ]);
    let dir = directory(
        vec![
            account(
                "uid=ann.lee,ou=eng,ou=people,dc=ex",
                "1",
                "Engineering person",
                false,
            ),
            account(
                "uid=bob.roe,ou=eng,ou=people,dc=ex",
                "2",
                "Engineering person",
                false,
            ),
        ],
        &[
            ("staff", "uid=ann.lee,ou=eng,ou=people,dc=ex"),
            ("engineering", "uid=ann.lee,ou=eng,ou=people,dc=ex"),
            ("staff", "uid=bob.roe,ou=eng,ou=people,dc=ex"),
            ("vpn", "uid=bob.roe,ou=eng,ou=people,dc=ex"),
        ],
    );
    (hr, dir)
}

/// The plan as `plan --out` writes it and `apply --plan` reads it back.
fn saved(plan: &Plan) -> Plan {
    serde_json::from_str(&crate::render::json(plan)).unwrap()
}

fn refused(saved: &Plan, fresh: &Plan) -> Vec<Refusal> {
    match verify(saved, fresh) {
        Ok(approved) => panic!("accepted: {:?}", approved.plan),
        Err(refusals) => refusals,
    }
}

fn approved(saved: &Plan, fresh: &Plan) -> Approved {
    match verify(saved, fresh) {
        Ok(approved) => approved,
        Err(refusals) => panic!("refused: {refusals:#?}"),
    }
}

fn account_of<'p>(plan: &'p mut Plan, id: &str) -> &'p mut AccountPlan {
    plan.accounts
        .iter_mut()
        .find(|a| a.employee_id == id)
        .unwrap()
}

#[test]
fn an_untouched_plan_is_approved_whole() {
    let (hr, dir) = company();
    let fresh = plan_for(&hr, &dir);
    assert!(fresh.summary.changes > 4, "{fresh:#?}");
    let approved = approved(&saved(&fresh), &fresh);
    assert_eq!(approved.plan, fresh);
    assert!(approved.unreviewed.is_empty());
}

#[test]
fn a_forged_password_change_is_refused_without_echoing_the_password() {
    let (hr, dir) = company();
    let fresh = plan_for(&hr, &dir);
    let mut file = saved(&fresh);
    account_of(&mut file, "1").changes.push(Change {
        action: Action::SetAttribute {
            attribute: "userPassword".into(),
            before: vec![],
            after: vec!["hunter2".into()],
        },
        reason: Reason::fact("title = \"Sales person\""),
    });
    let refusals = refused(&file, &fresh);
    assert_eq!(refusals.len(), 1, "{refusals:#?}");
    let line = refusals[0].to_string();
    assert_eq!(
        line,
        "uid=ann.lee,ou=eng,ou=people,dc=ex: set_attribute userPassword: the rules give no such \
         change now"
    );
    assert!(!line.contains("hunter2"));
}

#[test]
fn an_account_the_file_points_elsewhere_is_refused() {
    let (hr, dir) = company();
    let fresh = plan_for(&hr, &dir);
    // The leaver's changes, sent to a protected group instead.
    let mut file = saved(&fresh);
    account_of(&mut file, "2").dn = dn("cn=admins,ou=groups,dc=ex");
    let refusals = refused(&file, &fresh);
    assert!(!refusals.is_empty());
    assert!(refusals.iter().all(|r| r.dn == "cn=admins,ou=groups,dc=ex"
        && r.why == "employee 2's account is uid=bob.roe,ou=eng,ou=people,dc=ex now, not cn=admins,ou=groups,dc=ex"), "{refusals:#?}");
    // A forged account for nobody HR knows.
    let mut file = saved(&fresh);
    let mut backdoor = file.accounts[0].clone();
    backdoor.employee_id = "999".into();
    backdoor.dn = dn("uid=backdoor,ou=admins,dc=ex");
    file.accounts.push(backdoor);
    let refusals = refused(&file, &fresh);
    assert!(
        refusals.iter().all(|r| r
            .why
            .starts_with("the rules make no change to this account for employee 999")),
        "{refusals:#?}"
    );
}

#[test]
fn a_leaver_turned_back_into_an_active_account_is_refused() {
    let (hr, dir) = company();
    let fresh = plan_for(&hr, &dir);
    let mut file = saved(&fresh);
    let leaver = account_of(&mut file, "2");
    for change in &mut leaver.changes {
        change.action = match &change.action {
            Action::Disable { method, .. } => Action::Enable {
                method: *method,
                account_control: None,
                set_password: false,
                clear_expiry: false,
            },
            Action::RemoveFromGroup { group } => Action::AddToGroup {
                group: group.clone(),
            },
            other => other.clone(),
        };
    }
    let refusals = refused(&file, &fresh);
    let changes: Vec<&str> = refusals.iter().map(|r| r.change.as_str()).collect();
    assert!(changes.contains(&"enable"), "{changes:?}");
    assert!(
        changes.contains(&"add_to_group cn=vpn,ou=groups,dc=ex"),
        "{changes:?}"
    );
}

#[test]
fn a_relabelled_lifecycle_or_an_edited_reason_is_refused() {
    let (hr, dir) = company();
    let fresh = plan_for(&hr, &dir);
    // A mover relabelled a leaver would fire a forged leaver event.
    let mut file = saved(&fresh);
    account_of(&mut file, "1").lifecycle = Lifecycle::Leaver;
    let refusals = refused(&file, &fresh);
    assert!(
        refusals
            .iter()
            .all(|r| r.why == "saved as a leaver, a mover now"),
        "{refusals:#?}"
    );
    let mut file = saved(&fresh);
    account_of(&mut file, "1").changes[0].reason.fact = "approved by the CEO".into();
    let refusals = refused(&file, &fresh);
    assert_eq!(refusals.len(), 1);
    assert!(
        refusals[0].why.starts_with("the reason differs: now "),
        "{refusals:#?}"
    );
}

#[test]
fn a_directory_changed_since_the_review_refuses_the_account() {
    let (hr, dir) = company();
    let file = saved(&plan_for(&hr, &dir));
    let mut changed = dir.clone();
    changed.accounts[0]
        .attributes
        .insert("title".into(), vec!["Edited by hand".into()]);
    let fresh = plan_for(&hr, &changed);
    let refusals = refused(&file, &fresh);
    assert!(!refusals.is_empty());
    assert!(
        refusals
            .iter()
            .all(|r| r.dn == "uid=ann.lee,ou=eng,ou=people,dc=ex"
                && r.why == "the directory changed since the review: title changed"),
        "{refusals:#?}"
    );
}

#[test]
fn an_account_protected_since_the_review_is_refused_with_the_reason() {
    let (hr, dir) = company();
    let file = saved(&plan_for(&hr, &dir));
    let mut changed = dir.clone();
    changed.accounts[1].protected = Some("member of cn=admins,ou=groups,dc=ex".into());
    let fresh = plan_for(&hr, &changed);
    let refusals = refused(&file, &fresh);
    assert!(!refusals.is_empty());
    assert!(
        refusals
            .iter()
            .all(|r| r.dn == "uid=bob.roe,ou=eng,ou=people,dc=ex"
                && r.why.starts_with("left alone now: protected account")),
        "{refusals:#?}"
    );
}

#[test]
fn hr_changed_since_the_review_refuses_what_the_rules_no_longer_give() {
    let (hr, dir) = company();
    let file = saved(&plan_for(&hr, &dir));
    // Ann goes back to Engineering after all: her move is no longer what the rules give.
    let mut changed = hr.clone();
    changed.employees[0] = employee("1", "Ann", "Lee", "Engineering", EmploymentStatus::Active);
    let fresh = plan_for(&changed, &dir);
    let refusals = refused(&file, &fresh);
    assert!(
        refusals
            .iter()
            .any(|r| r.dn == "uid=ann.lee,ou=eng,ou=people,dc=ex"),
        "{refusals:#?}"
    );
    assert!(
        refusals
            .iter()
            .all(|r| r.dn != "uid=bob.roe,ou=eng,ou=people,dc=ex"),
        "{refusals:#?}"
    );
}

#[test]
fn fresh_changes_beyond_the_review_are_left_out_and_listed() {
    let (hr, dir) = company();
    let reviewed = plan_for(&hr, &dir);
    // Since the review, a third person joined.
    let mut grown = hr.clone();
    grown.employees.push(employee(
        "3",
        "Cy",
        "Poe",
        "Sales",
        EmploymentStatus::Active,
    ));
    let fresh = plan_for(&grown, &dir);
    let approved = approved(&saved(&reviewed), &fresh);
    assert!(approved.plan.accounts.iter().all(|a| a.employee_id != "3"));
    assert_eq!(approved.plan.summary.joiners, 0);
    assert_eq!(approved.plan.summary.changes, reviewed.summary.changes);
    assert_eq!(approved.plan.accounts, reviewed.accounts);
    assert!(
        approved
            .unreviewed
            .iter()
            .any(|l| l.change == "create uid=cy.poe,ou=sales,ou=people,dc=ex"),
        "{:#?}",
        approved.unreviewed
    );
}

#[test]
fn a_forged_group_change_is_refused() {
    let (hr, dir) = company();
    let fresh = plan_for(&hr, &dir);
    let mut file = saved(&fresh);
    file.group_changes.push(GroupChange {
        group: dn("cn=vpn,ou=groups,dc=ex"),
        action: GroupAction::AddPlaceholder,
        member: dn("uid=intruder,ou=people,dc=ex"),
        reason: Reason::fact("keeps the group valid"),
    });
    let refusals = refused(&file, &fresh);
    assert_eq!(
        refusals,
        [Refusal {
            dn: "cn=vpn,ou=groups,dc=ex".into(),
            change: "add_placeholder uid=intruder,ou=people,dc=ex".into(),
            why: "the rules give no such group change now".into(),
        }]
    );
}

#[test]
fn the_summary_in_the_file_counts_for_nothing() {
    let (hr, dir) = company();
    let fresh = plan_for(&hr, &dir);
    let mut file = saved(&fresh);
    file.summary.changes = 0;
    file.summary.leavers = 0;
    let approved = approved(&file, &fresh);
    assert_eq!(approved.plan.summary, fresh.summary);
}

#[test]
fn an_ad_leaver_expires_at_the_time_of_the_apply_not_of_the_review() {
    let hr = hr(vec![employee(
        "1",
        "Ann",
        "Lee",
        "Sales",
        EmploymentStatus::Terminated,
    )]);
    let dir = directory(
        vec![ad_account("CN=Ann Lee,OU=Sales,DC=ex", "1", 0x200, true)],
        &[],
    );
    let fresh = ad_plan(&hr, &dir, true);
    let expiry = |plan: &Plan| {
        plan.accounts[0]
            .changes
            .iter()
            .find_map(|c| match &c.action {
                Action::Disable { expires, .. } => expires.clone(),
                _ => None,
            })
    };
    assert!(expiry(&fresh).is_some(), "{fresh:#?}");
    let mut file = saved(&fresh);
    for change in &mut file.accounts[0].changes {
        if let Action::Disable { expires, .. } = &mut change.action {
            *expires = Some("133000000000000000".into());
        }
    }
    let approved = approved(&file, &fresh);
    assert_eq!(expiry(&approved.plan), expiry(&fresh));
    // Dropping the expiry is still an edit.
    for change in &mut file.accounts[0].changes {
        if let Action::Disable { expires, .. } = &mut change.action {
            *expires = None;
        }
    }
    refused(&file, &fresh);
}
