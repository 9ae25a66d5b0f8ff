//! Issue 16: the order in which `apply` runs the accounts' changes, against a real slapd.
//!
//! - A `groupOfNames` whose present members all leave while others join must never be emptied
//!   on the way, whatever order the accounts' changes run in: the first apply of such a drift
//!   succeeds (and so does its LDIF, run by `ldapmodify` in file order), and nothing is left.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::scenario::{Scenario, person};

/// Everyone in these tests keeps one title, so that a move changes only the OU, the groups and
/// `departmentNumber`.
const TITLE: &str = "Analyst";

/// The people `(id, first, last)` in `department`, as HR lists them.
fn people(names: &[(String, String, String)], department: &str) -> Vec<Value> {
    names
        .iter()
        .map(|(id, first, last)| person(id, first, last, department, TITLE))
        .collect()
}

fn names(list: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    list.iter()
        .map(|(id, first, last)| (id.to_string(), first.to_string(), last.to_string()))
        .collect()
}

/// The lower-cased DN `uid` has in `ou`.
fn account(s: &Scenario, uid: &str, ou: &str) -> String {
    format!("uid={uid},{}", s.ou(ou)).to_lowercase()
}

/// Takes the seed member (not an account) out of `cn`, so that the group's members are exactly
/// the accounts hrsync put there.
fn without_seed(s: &Scenario, cn: &str) {
    let out = s.dir.ldapmodify(&format!(
        "dn: {}\nchangetype: modify\ndelete: member\nmember: {}\n",
        s.group(cn),
        s.seed_member()
    ));
    assert!(
        out.status.success(),
        "cannot take the seed out of {cn}: {out:?}"
    );
}

/// Amy is the only member of sales; Ben and Cat are engineers. Returns the drift that issue 16
/// is about, served by HR: Amy moves to engineering while Ben and Cat move to sales. The plan's
/// final membership of sales is {Ben, Cat}: not empty.
async fn one_member_out_two_in(s: &Scenario) {
    let amy = names(&[("1601", "Amy", "Alone")]);
    let others = names(&[("1602", "Ben", "Bright"), ("1603", "Cat", "Clever")]);
    let mut before = people(&amy, "Sales");
    before.extend(people(&others, "Engineering"));
    s.serve(&before).await;
    s.expect(&["apply"], 0);
    without_seed(s, "sales");
    assert_eq!(
        s.dir.group_members(&s.group("sales")),
        BTreeSet::from([account(s, "amy.alone", "sales")]),
        "Amy is the only member of sales"
    );
    let mut after = people(&amy, "Engineering");
    after.extend(people(&others, "Sales"));
    s.serve(&after).await;
}

/// The apply's report on stdout names no failed, unanswered or skipped change.
fn assert_nothing_failed(out: &str) {
    assert!(
        !out.contains("! failed")
            && !out.contains("! not attempted")
            && !out.contains("! no answer"),
        "nothing failed:\n{out}"
    );
    assert!(out.contains(", 0 failed or not attempted"), "{out}");
}

fn assert_swapped(s: &Scenario) {
    assert_eq!(
        s.dir.group_members(&s.group("sales")),
        BTreeSet::from([
            account(s, "ben.bright", "sales"),
            account(s, "cat.clever", "sales")
        ]),
        "sales holds exactly its new members, and no placeholder"
    );
    let engineering = s.dir.group_members(&s.group("engineering"));
    assert!(
        engineering.contains(&account(s, "amy.alone", "engineering")),
        "{engineering:?}"
    );
    assert!(
        !engineering
            .iter()
            .any(|m| m.contains("ben.bright") || m.contains("cat.clever")),
        "{engineering:?}"
    );
}

/// Issue 16, item 1: slapd refused to take Amy out of sales before Ben and Cat were in (object
/// class violation), the first apply exited 3 and only a second one converged.
#[tokio::test(flavor = "multi_thread")]
async fn issue_16_the_only_member_leaving_while_two_join_applies_at_the_first_attempt() {
    let s = Scenario::start("order-one-out-two-in").await;
    one_member_out_two_in(&s).await;
    // `apply` prints the plan it applies.
    let out = s.expect(&["apply"], 0);
    assert_nothing_failed(&out);
    let placeholder = format!("cn=empty-group-placeholder,{}", s.base());
    for sign in ["+", "-"] {
        assert!(
            out.contains(&format!(
                "{sign} placeholder {placeholder} in {}",
                s.group("sales")
            )),
            "the placeholder goes in first and out last:\n{out}"
        );
    }
    assert_swapped(&s);
    s.assert_converged();
}

/// Issue 16, item 1: the LDIF of the same plan, run by `ldapmodify` in file order (account
/// after account), works as it is and leaves nothing pending.
#[tokio::test(flavor = "multi_thread")]
async fn issue_16_the_ldif_of_a_replaced_membership_applies_with_ldapmodify_in_file_order() {
    let s = Scenario::start("order-ldif").await;
    one_member_out_two_in(&s).await;
    let ldif = s.expect(&["plan", "--format", "ldif"], 0);
    let out = s.dir.ldapmodify(&ldif);
    assert!(
        out.status.success(),
        "ldapmodify refused hrsync's LDIF: {}\n{ldif}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_swapped(&s);
    s.assert_converged();
}

/// Issue 16, item 1, at a larger scale: every member of sales, engineering and vpn is replaced
/// at once (25 people swap departments with 25 others). No group is empty at the end, and none
/// may be on the way: apply merges the removals of one round into one modify per group, which
/// would take out every member at once.
#[tokio::test(flavor = "multi_thread")]
async fn issue_16_groups_whose_whole_membership_is_replaced_apply_at_the_first_attempt() {
    let s = Scenario::start("order-replace-all").await;
    let team = |first: &str, from: usize| -> Vec<(String, String, String)> {
        (from..from + 25)
            .map(|i| {
                (
                    format!("{}", 1700 + i),
                    first.to_string(),
                    format!("Person{i}"),
                )
            })
            .collect()
    };
    let (sellers, engineers) = (team("Sel", 0), team("Eng", 25));
    let mut before = people(&sellers, "Sales");
    before.extend(people(&engineers, "Engineering"));
    s.serve(&before).await;
    s.expect(&["apply"], 0);
    for cn in ["sales", "engineering", "vpn"] {
        without_seed(&s, cn);
        assert_eq!(s.dir.group_members(&s.group(cn)).len(), 25, "{cn}");
    }
    let mut after = people(&sellers, "Engineering");
    after.extend(people(&engineers, "Sales"));
    s.serve(&after).await;

    let out = s.expect(
        &[
            "apply",
            "--allow-limit",
            "move",
            "--allow-limit",
            "group_removal",
            "--allow-limit",
            "update",
        ],
        0,
    );
    assert_nothing_failed(&out);
    let uids = |list: &[(String, String, String)], ou: &str| -> BTreeSet<String> {
        list.iter()
            .map(|(_, first, last)| {
                account(
                    &s,
                    &format!("{}.{}", first.to_lowercase(), last.to_lowercase()),
                    ou,
                )
            })
            .collect()
    };
    assert_eq!(
        s.dir.group_members(&s.group("sales")),
        uids(&engineers, "sales")
    );
    for cn in ["engineering", "vpn"] {
        assert_eq!(
            s.dir.group_members(&s.group(cn)),
            uids(&sellers, "engineering"),
            "{cn}"
        );
    }
    s.assert_converged();
}
