//! Joiners, movers, leavers and rehires against a real slapd, each checked entry by entry, and
//! each followed by a plan that must be empty (idempotence).

use serde_json::json;

use crate::scenario::{Scenario, person, terminated};

const PASSWORD: &str = "Correct-Horse-9";

#[tokio::test(flavor = "multi_thread")]
async fn joiner_gets_account_in_role_ou_with_groups_and_no_password() {
    let s = Scenario::start("joiner").await;
    let mut ada = person("101", "Ada", "Lovelace", "Engineering", "Staff Engineer");
    ada["supervisorEId"] = json!("100");
    s.serve(&[
        person(
            "100",
            "Max",
            "Manager",
            "Engineering",
            "Head of Engineering",
        ),
        ada,
    ])
    .await;

    let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(plan.contains("joiner uid=ada.lovelace,"), "{plan}");
    assert!(
        plan.contains("rule \"engineering\""),
        "plan explains the rule:\n{plan}"
    );

    s.expect(&["apply"], 0);
    let dn = format!("uid=ada.lovelace,{}", s.ou("engineering"));
    let entry = s
        .dir
        .entry(&dn)
        .expect("joiner created in the engineering OU");
    assert_eq!(entry.first("cn"), Some("Ada Lovelace"));
    assert_eq!(entry.first("sn"), Some("Lovelace"));
    assert_eq!(entry.first("mail"), Some("ada.101@example.org"));
    assert_eq!(entry.first("title"), Some("Staff Engineer"));
    assert_eq!(entry.first("employeenumber"), Some("101"));
    assert_eq!(entry.first("departmentnumber"), Some("Engineering"));
    assert_eq!(
        entry.first("manager").map(str::to_lowercase),
        Some(format!("uid=max.manager,{}", s.ou("engineering")).to_lowercase()),
        "manager DN resolved from the HR manager id"
    );
    assert!(
        !entry.has("userpassword"),
        "a joiner has no usable password"
    );
    for group in ["staff", "engineering", "vpn"] {
        assert!(
            s.dir
                .group_members(&s.group(group))
                .contains(&dn.to_lowercase()),
            "{group} should have the joiner"
        );
    }
    assert!(
        !s.dir
            .group_members(&s.group("sales"))
            .contains(&dn.to_lowercase())
    );
    s.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn mover_changes_ou_groups_and_title_keeping_the_rdn() {
    let s = Scenario::start("mover").await;
    let old = s.dir.add_user(
        "grace.hopper",
        "201",
        Some(PASSWORD),
        "cn: Grace Hopper\nsn: Hopper\ntitle: Engineer",
    );
    // add_user puts accounts in ou=people; a real mover starts in their role's OU.
    let out = s.dir.ldapmodify(&format!(
        "dn: {old}\nchangetype: modrdn\nnewrdn: uid=grace.hopper\ndeleteoldrdn: 0\nnewsuperior: {}\n",
        s.ou("engineering")
    ));
    assert!(out.status.success(), "{out:?}");
    let old = format!("uid=grace.hopper,{}", s.ou("engineering"));
    for group in ["staff", "engineering", "vpn"] {
        s.add_member(group, &old);
    }
    s.serve(&[person(
        "201",
        "Grace",
        "Hopper",
        "Sales",
        "Account Executive",
    )])
    .await;

    let plan = s.expect(&["plan"], 0);
    assert!(plan.contains("mover "), "{plan}");
    s.expect(&["apply"], 0);

    let new = format!("uid=grace.hopper,{}", s.ou("sales"));
    assert!(s.dir.entry(&old).is_none(), "old DN gone");
    let entry = s.dir.entry(&new).expect("moved with a modify-DN, RDN kept");
    assert_eq!(entry.first("title"), Some("Account Executive"));
    assert_eq!(entry.first("departmentnumber"), Some("Sales"));
    let (old, new) = (old.to_lowercase(), new.to_lowercase());
    for group in ["engineering", "vpn"] {
        let members = s.dir.group_members(&s.group(group));
        assert!(
            !members.contains(&old) && !members.contains(&new),
            "{group}: {members:?}"
        );
    }
    for group in ["staff", "sales"] {
        let members = s.dir.group_members(&s.group(group));
        assert!(
            members.contains(&new),
            "{group} has the new DN: {members:?}"
        );
        assert!(
            !members.contains(&old),
            "{group} lost the stale DN: {members:?}"
        );
    }
    assert!(s.dir.can_bind(&new, PASSWORD), "a mover keeps working");
    s.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn leaver_is_locked_out_stripped_and_moved_and_rehire_reverses_it() {
    let s = Scenario::start("leaver").await;
    let original = s.dir.add_user(
        "bob.builder",
        "301",
        Some(PASSWORD),
        "cn: Bob Builder\nsn: Builder",
    );
    let dn = original.clone();
    for group in ["staff", "sales"] {
        s.add_member(group, &dn);
    }
    // A group hrsync does not manage: access granted by hand stays.
    let wiki = s.dir.add_group("wiki-admins", &[&dn]);
    s.serve(&[person("301", "Bob", "Builder", "Sales", "Rep")])
        .await;
    s.expect(&["apply"], 0);
    let dn = s.dir.search(s.base(), "(employeeNumber=301)", &["1.1"])[0]
        .dn
        .clone();
    assert!(
        s.dir.can_bind(&dn, PASSWORD),
        "bind works before the leaver is applied"
    );

    s.serve(&[terminated(person("301", "Bob", "Builder", "Sales", "Rep"))])
        .await;
    let plan = s.expect(&["plan"], 0);
    assert!(plan.contains("leaver "), "{plan}");
    assert!(
        plan.contains("\"Inactive\""),
        "the plan names the HR fact:\n{plan}"
    );
    s.expect(&["apply"], 0);

    let disabled = format!("uid=bob.builder,{}", s.dir.disabled_dn);
    let entry = s.dir.entry(&disabled).expect("moved to the disabled OU");
    assert_eq!(entry.first("pwdaccountlockedtime"), Some("000001010000Z"));
    assert!(
        !s.dir.can_bind(&disabled, PASSWORD),
        "a leaver must be locked out"
    );
    for group in ["staff", "sales"] {
        let members = s.dir.group_members(&s.group(group));
        assert!(
            !members.iter().any(|m| m.contains("bob.builder")),
            "{group}: {members:?}"
        );
    }
    // A leaver leaves hand-granted groups too (lifecycle.leaver_groups = "all"); Bob was the
    // wiki's only member, so the placeholder keeps it valid.
    assert_eq!(
        s.dir.group_members(&wiki),
        [format!("cn=empty-group-placeholder,{}", s.base()).to_lowercase()]
            .into_iter()
            .collect(),
        "the leaver left the hand-granted group"
    );
    let _ = original;
    s.assert_converged();

    // Rehired into another role: enabled, in the new role's OU and groups, not the old ones.
    s.serve(&[person("301", "Bob", "Builder", "Engineering", "Engineer")])
        .await;
    let plan = s.expect(&["plan"], 0);
    assert!(plan.contains("rehire "), "{plan}");
    s.expect(&["apply"], 0);
    let back = format!("uid=bob.builder,{}", s.ou("engineering"));
    let entry = s.dir.entry(&back).expect("rehire moved to the role OU");
    assert!(!entry.has("pwdaccountlockedtime"), "lock removed");
    assert!(s.dir.can_bind(&back, PASSWORD), "a rehire can bind again");
    for group in ["staff", "engineering", "vpn"] {
        assert!(
            s.dir
                .group_members(&s.group(group))
                .contains(&back.to_lowercase()),
            "{group}"
        );
    }
    assert!(
        !s.dir
            .group_members(&s.group("sales"))
            .iter()
            .any(|m| m.contains("bob.builder"))
    );
    s.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn removing_a_groups_last_member_uses_the_placeholder_and_never_fails() {
    let s = Scenario::start("lastmember").await;
    let dn = s.dir.add_user(
        "carol.last",
        "401",
        Some(PASSWORD),
        "cn: Carol Last\nsn: Last",
    );
    let out = s.dir.ldapmodify(&format!(
        "dn: {}\nchangetype: modify\nreplace: member\nmember: {dn}\n",
        s.group("sales")
    ));
    assert!(out.status.success(), "{out:?}");
    s.serve(&[terminated(person("401", "Carol", "Last", "Sales", "Rep"))])
        .await;

    s.expect(&["apply"], 0);
    let placeholder = format!("cn=empty-group-placeholder,{}", s.base()).to_lowercase();
    assert_eq!(
        s.dir.group_members(&s.group("sales")),
        [placeholder.clone()].into_iter().collect(),
        "the group keeps only the placeholder"
    );
    s.assert_converged();

    // A new salesperson arrives: the placeholder leaves once a real member is in.
    s.serve(&[
        terminated(person("401", "Carol", "Last", "Sales", "Rep")),
        person("402", "Dan", "New", "Sales", "Rep"),
    ])
    .await;
    s.expect(&["apply"], 0);
    let members = s.dir.group_members(&s.group("sales"));
    assert_eq!(members.len(), 1, "{members:?}");
    assert!(
        members.iter().all(|m| m.starts_with("uid=dan.new,")),
        "{members:?}"
    );
    s.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn ldif_output_applies_with_ldapmodify_and_then_nothing_is_pending() {
    let s = Scenario::start("ldif").await;
    let leaver = s.dir.add_user(
        "lee.leaver",
        "501",
        Some(PASSWORD),
        "cn: Lee Leaver\nsn: Leaver",
    );
    s.add_member("staff", &leaver);
    s.dir.add_user(
        "mo.mover",
        "502",
        None,
        "cn: Mo Mover\nsn: Mover\ntitle: Old",
    );
    s.serve(&[
        terminated(person("501", "Lee", "Leaver", "Sales", "Rep")),
        person("502", "Mo", "Mover", "Engineering", "Engineer"),
        person("503", "Zoë", "Ångström", "Sales", "Rep, Senior"),
    ])
    .await;

    let ldif = s.expect(&["plan", "--format", "ldif"], 0);
    let out = s.dir.ldapmodify(&ldif);
    assert!(
        out.status.success(),
        "ldapmodify refused hrsync's LDIF: {}\n{ldif}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.assert_converged();
    let zoe = format!("uid=zoe.angstrom,{}", s.ou("sales"));
    assert_eq!(
        s.dir.entry(&zoe).expect("created by LDIF").first("cn"),
        Some("Zoë Ångström")
    );
    assert!(
        !s.dir
            .can_bind(&format!("uid=lee.leaver,{}", s.dir.disabled_dn), PASSWORD)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn saved_plan_applies_as_reviewed_and_is_refused_after_drift() {
    let s = Scenario::start("savedplan").await;
    let dn = s.dir.add_user(
        "pat.plan",
        "601",
        None,
        "cn: Pat Plan\nsn: Plan\ntitle: Old",
    );
    s.serve(&[person("601", "Pat", "Plan", "Other", "New title")])
        .await;
    let saved = s.work.path().join("plan.json");
    let saved_arg = saved.to_str().expect("utf-8 path");

    s.expect(&["plan", "--out", saved_arg], 0);
    // Someone edits the account after the review: the saved plan no longer fits.
    s.dir.ldapmodify(&format!(
        "dn: {dn}\nchangetype: modify\nreplace: title\ntitle: Edited by hand\n"
    ));
    let out = s.hrsync(&["--log-format", "text", "apply", "--plan", saved_arg]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{dn}: the directory changed since the review: title changed\n      set_attribute"
        )),
        "{stderr}"
    );
    assert_eq!(
        s.dir.entry(&dn).unwrap().first("title"),
        Some("Edited by hand"),
        "nothing applied"
    );

    // Plan again, review, apply exactly that.
    s.expect(&["plan", "--out", saved_arg], 0);
    s.expect(&["apply", "--plan", saved_arg], 0);
    assert_eq!(s.dir.entry(&dn).unwrap().first("title"), Some("New title"));
    s.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_operation_fails_that_account_only_with_exit_3() {
    let s = Scenario::start("partial").await;
    // "vpn" is replaced by an entry that cannot hold members: adding one is an object class
    // violation, so every engineer's vpn membership fails while everything else applies.
    let out = s
        .dir
        .ldapmodify(&format!("dn: {}\nchangetype: delete\n", s.group("vpn")));
    assert!(out.status.success(), "{out:?}");
    s.dir.ldapadd(&format!(
        "dn: {}\nobjectClass: organizationalRole\ncn: vpn\n",
        s.group("vpn")
    ));
    s.serve(&[
        person("701", "Eng", "One", "Engineering", "Engineer"),
        person("702", "Sal", "Two", "Sales", "Rep"),
    ])
    .await;
    let out = s.hrsync(&["apply"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "! failed: add uid=eng.one,{}",
            s.ou("engineering")
        )) && stdout.contains("object class violation"),
        "the failure is named with its LDAP reason:\n{stdout}"
    );
    // The failed group add, and the joiner's last step (its mark's removal) that waits for it.
    assert!(stdout.contains("2 failed or not attempted"), "{stdout}");
    let sal = format!("uid=sal.two,{}", s.ou("sales"));
    assert!(s.dir.entry(&sal).is_some(), "the other account was applied");
    assert!(
        s.dir
            .group_members(&s.group("sales"))
            .contains(&sal.to_lowercase())
    );
    let eng = format!("uid=eng.one,{}", s.ou("engineering"));
    assert!(
        s.dir.entry(&eng).is_some(),
        "steps before the failure were applied"
    );
}
