//! `hrsync explain` and `hrsync report access` against a real slapd: what they show, that they
//! exit as documented, that their JSON carries the documented schema ids, and that they never
//! write.

use serde_json::{Value, json};

use crate::scenario::{Scenario, person, terminated};

/// Moves an account made by `add_user` (in ou=people) into one of the role OUs, as if hrsync
/// had placed it there earlier. Returns the new DN.
fn move_to(s: &Scenario, dn: &str, uid: &str, ou: &str) -> String {
    let out = s.dir.ldapmodify(&format!(
        "dn: {dn}\nchangetype: modrdn\nnewrdn: uid={uid}\ndeleteoldrdn: 0\nnewsuperior: {}\n",
        s.ou(ou)
    ));
    assert!(out.status.success(), "{out:?}");
    format!("uid={uid},{}", s.ou(ou))
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text)
        .map_err(|e| format!("not JSON ({e}):\n{text}"))
        .expect("the output parses as JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_a_joiner_shows_the_record_the_rule_the_desired_dn_and_the_create() {
    let s = Scenario::start("explain-joiner").await;
    s.serve(&[
        person("101", "Ada", "Lovelace", "Engineering", "Staff Engineer"),
        person("102", "Sam", "Seller", "Sales", "Rep"),
    ])
    .await;
    let before = s.dump();
    let dn = format!("uid=ada.lovelace,{}", s.ou("engineering"));

    let text = s.expect(&["explain", "101"], 0);
    assert!(text.starts_with("employee 101: joiner"), "{text}");
    assert!(
        text.contains("HR record (1 with this id, of 2 read)")
            && text.contains("\"workEmail\": \"ada.101@example.org\""),
        "the raw HR record as read:\n{text}"
    );
    assert!(
        text.contains("status: active (HR value \"Active\")"),
        "normalised status and its source:\n{text}"
    );
    assert!(
        text.contains("+ rule \"engineering\" matched: department = \"Engineering\""),
        "the rule that matched:\n{text}"
    );
    assert!(
        text.contains(
            "- rule \"sales\" did not match: department = \"Engineering\"; the rule needs \"sales\""
        ),
        "the rule that did not, and the failed condition:\n{text}"
    );
    assert!(
        text.contains(&format!("dn: {dn}")),
        "the desired DN:\n{text}"
    );
    assert!(
        text.contains(&format!("+ create {dn}")),
        "the create change:\n{text}"
    );
    assert!(
        text.contains("directory account (as found)\n  (none)"),
        "no account yet:\n{text}"
    );

    let explained = json_of(&s.expect(&["explain", "101", "--format", "json"], 0));
    assert_eq!(explained["schema"], "hrsync.explain/v1");
    assert_eq!(explained["employee_id"], "101");
    assert_eq!(explained["hr"]["records_read"], 2);
    assert_eq!(explained["hr"]["records"][0]["id"], "101");
    assert_eq!(explained["hr"]["employee"]["status"], "active");
    assert_eq!(explained["rules"]["evaluated"][0]["name"], "engineering");
    assert_eq!(explained["rules"]["evaluated"][0]["matched"], true);
    assert_eq!(explained["rules"]["evaluated"][1]["matched"], false);
    assert_eq!(explained["desired"]["dn"], dn);
    assert_eq!(explained["desired"]["disabled"], false);
    assert_eq!(
        explained["desired"]["attributes"]["cn"],
        json!(["Ada Lovelace"])
    );
    assert_eq!(explained["directory"], json!([]));
    assert_eq!(explained["outcome"]["result"], "changes");
    assert_eq!(explained["outcome"]["lifecycle"], "joiner");
    assert_eq!(explained["outcome"]["changes"][0]["action"], "create");
    assert_eq!(
        explained["outcome"]["changes"][0]["reason"]["rule"],
        "joiner"
    );

    assert_eq!(s.dump(), before, "explain never writes");
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_a_mover_shows_the_account_as_found_and_each_change_with_its_reason() {
    let s = Scenario::start("explain-mover").await;
    let made = s.dir.add_user(
        "grace.hopper",
        "201",
        None,
        "cn: Grace Hopper\nsn: Hopper\ntitle: Engineer",
    );
    let old = move_to(&s, &made, "grace.hopper", "engineering");
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
    let before = s.dump();
    let new = format!("uid=grace.hopper,{}", s.ou("sales"));

    let text = s.expect(&["explain", "201"], 0);
    assert!(text.starts_with("employee 201: mover"), "{text}");
    let found = text
        .split("directory account (as found)")
        .nth(1)
        .and_then(|rest| rest.split("\nchanges").next())
        .unwrap_or_else(|| panic!("no directory section:\n{text}"))
        .to_lowercase();
    assert!(
        found.contains(&format!("dn: {old}").to_lowercase()),
        "the account where it is now:\n{text}"
    );
    assert!(
        found.contains("title: engineer") && found.contains("enabled"),
        "{text}"
    );
    for group in ["staff", "engineering", "vpn"] {
        assert!(
            found.contains(&format!("managed group {}", s.group(group)).to_lowercase()),
            "found in {group}:\n{text}"
        );
    }
    let changes = text
        .split("\nchanges (mover)\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no changes section:\n{text}"));
    let lower = changes.to_lowercase();
    assert!(
        lower.contains(&format!("> move {old} -> {new}").to_lowercase()),
        "{changes}"
    );
    assert!(
        lower.contains(&format!("- group {}", s.group("engineering")).to_lowercase())
            && lower.contains(&format!("+ group {}", s.group("sales")).to_lowercase()),
        "{changes}"
    );
    assert!(
        changes.contains("~ title: \"Engineer\" -> \"Account Executive\""),
        "{changes}"
    );
    assert!(
        changes.contains("because department = \"Sales\" (rule \"sales\")"),
        "every change carries its reason:\n{changes}"
    );
    let lines: Vec<&str> = changes.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if ["  +", "  -", "  ~", "  >"]
            .iter()
            .any(|p| line.starts_with(p))
        {
            assert!(
                lines
                    .get(i + 1)
                    .is_some_and(|l| l.starts_with("      because ")),
                "every change carries its reason: {line}\n{changes}"
            );
        }
    }

    let explained = json_of(&s.expect(&["explain", "201", "--format", "json"], 0));
    assert_eq!(explained["schema"], "hrsync.explain/v1");
    assert_eq!(
        explained["directory"][0]["dn"]
            .as_str()
            .map(str::to_lowercase),
        Some(old.to_lowercase())
    );
    assert_eq!(
        explained["desired"]["dn"].as_str().map(str::to_lowercase),
        Some(new.to_lowercase())
    );
    assert_eq!(explained["outcome"]["lifecycle"], "mover");
    assert!(
        explained["outcome"]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["action"] == "move"),
        "{explained}"
    );
    assert_eq!(s.dump(), before, "explain never writes");
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_an_unknown_id_exits_1_and_an_orphan_is_shown_as_one() {
    let s = Scenario::start("explain-unknown").await;
    s.serve(&[
        person("101", "Ada", "Lovelace", "Engineering", "Engineer"),
        person("102", "Sam", "Seller", "Sales", "Rep"),
    ])
    .await;

    let out = s.hrsync(&["explain", "999"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("employee 999 is not in the HR data (2 records read)"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing explained: {out:?}");

    let orphan = s
        .dir
        .add_user("olga.orphan", "777", None, "cn: Olga Orphan\nsn: Orphan");
    let text = s.expect(&["explain", "777"], 0);
    assert!(text.starts_with("employee 777: orphan"), "{text}");
    assert!(
        text.contains("HR record (0 with this id, of 2 read)\n  (none)"),
        "{text}"
    );
    assert!(
        text.to_lowercase()
            .contains(&format!("dn: {orphan}").to_lowercase()),
        "the orphan's account is shown:\n{text}"
    );
    let explained = json_of(&s.expect(&["explain", "777", "--format", "json"], 0));
    assert_eq!(explained["schema"], "hrsync.explain/v1");
    assert_eq!(explained["outcome"]["result"], "orphan");
    assert_eq!(explained["hr"]["employee"], Value::Null);
    assert_eq!(explained["rules"], Value::Null);
    assert_eq!(explained["desired"], Value::Null);
    assert_eq!(explained["outcome"]["changes"], json!([]));
    assert_eq!(
        explained["directory"][0]["dn"]
            .as_str()
            .map(str::to_lowercase),
        Some(orphan.to_lowercase())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn report_access_finds_unmanaged_groups_protected_leavers_orphans_and_role_drift() {
    let s = Scenario::start("report-access").await;
    s.serve(&[]).await;
    let empty = s.expect(&["report", "access"], 0);
    assert!(
        empty.contains("No findings"),
        "a directory without accounts has none:\n{empty}"
    );

    // Ada: in her role's groups, plus a group granted by hand.
    let ada = move_to(
        &s,
        &s.dir.add_user(
            "ada.lovelace",
            "401",
            None,
            "cn: Ada Lovelace\nsn: Lovelace",
        ),
        "ada.lovelace",
        "engineering",
    );
    for group in ["staff", "engineering", "vpn"] {
        s.add_member(group, &ada);
    }
    let wiki = s.dir.add_group("wiki-admins", &[&ada]);
    // Bob: left the company, but his account is protected, so hrsync does not disable it.
    let bob = s
        .dir
        .add_user("bob.builder", "402", None, "cn: Bob Builder\nsn: Builder");
    s.add_member("staff", &bob);
    // Olga: no HR record.
    let olga = s
        .dir
        .add_user("olga.orphan", "403", None, "cn: Olga Orphan\nsn: Orphan");
    // Carol: moved to Sales, still in the engineering group.
    let carol = move_to(
        &s,
        &s.dir
            .add_user("carol.chen", "404", None, "cn: Carol Chen\nsn: Chen"),
        "carol.chen",
        "sales",
    );
    for group in ["staff", "sales", "engineering"] {
        s.add_member(group, &carol);
    }
    // Dan: exactly his role's access.
    let dan = move_to(
        &s,
        &s.dir
            .add_user("dan.dealer", "405", None, "cn: Dan Dealer\nsn: Dealer"),
        "dan.dealer",
        "sales",
    );
    for group in ["staff", "sales"] {
        s.add_member(group, &dan);
    }
    s.write_config(&format!("[directory.protected]\ndns = [\"{bob}\"]"));
    let mut bob_hr = terminated(person("402", "Bob", "Builder", "Sales", "Rep"));
    bob_hr["terminationDate"] = json!("2021-06-30");
    s.serve(&[
        person("401", "Ada", "Lovelace", "Engineering", "Engineer"),
        bob_hr,
        person("404", "Carol", "Chen", "Sales", "Rep"),
        person("405", "Dan", "Dealer", "Sales", "Rep"),
    ])
    .await;
    let before = s.dump();

    let text = s.expect(&["report", "access"], 0);
    let lower = text.to_lowercase();
    // One block per account with findings, in DN order, each finding with its reason.
    let block = |dn: &str| -> String {
        let start = lower
            .find(&format!("\n{}", dn.to_lowercase()))
            .unwrap_or_else(|| panic!("no block for {dn}:\n{text}"));
        let rest = &lower[start + 1..];
        let end = rest.find("\n\n").unwrap_or(rest.len());
        rest[..end].to_string()
    };
    let ada_block = block(&ada);
    assert!(
        ada_block.contains(&format!("! member of unmanaged group {wiki}").to_lowercase())
            && ada_block.contains("because the mappings do not name this group"),
        "the hand-granted group:\n{text}"
    );
    assert_eq!(
        ada_block.matches("\n  ! ").count(),
        1,
        "her role's groups are no finding:\n{text}"
    );

    let bob_block = block(&bob);
    assert!(
        bob_block.contains("hr: terminated; enabled; protected: listed in directory.protected.dns"),
        "{text}"
    );
    assert!(
        bob_block.contains("! leaver still enabled")
            && bob_block.contains("because hr status = terminated (\"inactive\"), termination date 2021-06-30, but the account is not disabled"),
        "the protected leaver that can still log in:\n{text}"
    );
    assert!(
        bob_block
            .contains("next apply: nothing: protected account (listed in directory.protected.dns)"),
        "hrsync will not fix it, and says why:\n{text}"
    );
    assert!(
        bob_block.contains(
            &format!("! leaver still in managed group {}", s.group("staff")).to_lowercase()
        ),
        "{text}"
    );

    let olga_block = block(&olga);
    assert!(
        olga_block.contains("not in hr") && olga_block.contains("! orphan: no hr record"),
        "{text}"
    );

    let carol_block = block(&carol);
    assert!(
        carol_block.contains(
            &format!(
                "! managed group {} does not follow from the role",
                s.group("engineering")
            )
            .to_lowercase()
        ) && carol_block.contains("next apply: hrsync apply removes the account from the group"),
        "the pending removal:\n{text}"
    );
    assert!(
        !lower.contains(&dan.to_lowercase()),
        "an account whose access follows from its role is not listed:\n{text}"
    );
    let positions: Vec<usize> = [&ada, &bob, &carol, &olga]
        .iter()
        .map(|dn| lower.find(&format!("\n{}", dn.to_lowercase())).unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "accounts in DN order:\n{text}"
    );

    let report = json_of(&s.expect(&["report", "access", "--format", "json"], 0));
    assert_eq!(report["schema"], "hrsync.access-report/v1");
    let summary = &report["summary"];
    assert_eq!(summary["accounts_reviewed"], 5);
    assert_eq!(summary["accounts_with_findings"], 4);
    assert_eq!(summary["orphan"], 1);
    assert_eq!(summary["leaver_enabled"], 1);
    assert_eq!(summary["leaver_in_managed_group"], 1);
    assert_eq!(summary["managed_group_not_from_role"], 1);
    assert_eq!(summary["unmanaged_group"], 1);
    assert_eq!(summary["findings"], 5);
    let accounts = report["accounts"].as_array().unwrap();
    let dns: Vec<String> = accounts
        .iter()
        .map(|a| a["dn"].as_str().unwrap().to_lowercase())
        .collect();
    let mut in_order = dns.clone();
    in_order.sort();
    assert_eq!(dns, in_order, "accounts in DN order");
    let bob_json = accounts.iter().find(|a| a["employee_id"] == "402").unwrap();
    assert_eq!(bob_json["hr_status"], "terminated");
    assert_eq!(bob_json["disabled"], false);
    assert_eq!(bob_json["findings"][0]["kind"], "leaver_enabled");

    // Groups outside --groups-base are not seen.
    let narrow = s.expect(&["report", "access", "--groups-base", &s.dir.people_dn], 0);
    assert!(!narrow.contains("! member of unmanaged group"), "{narrow}");
    assert!(narrow.contains("leaver still enabled"), "{narrow}");

    assert_eq!(s.dump(), before, "report never writes");
}
