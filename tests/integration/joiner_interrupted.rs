//! Issue 17, item 6, against a real slapd: a joiner whose apply was cut off between its create
//! and its group adds was called a mover by the next run, so joiner hooks never fired and the
//! audit log said mover. The create now carries `hrsync-joining`, taken off by the joiner's
//! last step; a run that finds it finishes the account as a joiner.

use serde_json::Value;

use crate::scenario::{Scenario, person};

/// The change records of an LDIF plan, without comments.
fn records(ldif: &str) -> Vec<String> {
    ldif.split("\n\n")
        .map(|block| {
            block
                .lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|block| block.contains("changetype:"))
        .collect()
}

fn description(s: &Scenario, dn: &str) -> Vec<String> {
    s.dir
        .entry(dn)
        .map(|e| e.values("description").to_vec())
        .unwrap_or_default()
}

/// Before the fix: the second run's plan said "mover" and no joiner hook fired.
#[tokio::test(flavor = "multi_thread")]
async fn a_joiner_cut_off_after_its_create_is_finished_as_a_joiner_with_its_hook_and_audit() {
    let s = Scenario::start("joiner-cut").await;
    s.serve(&[person("1801", "Jo", "Iner", "Engineering", "Engineer")])
        .await;
    let dn = format!("uid=jo.iner,{}", s.ou("engineering"));
    // The first apply stops right after the create (as a kill or a server stop would).
    let ldif = s.expect(&["plan", "--format", "ldif"], 0);
    let create = records(&ldif)
        .into_iter()
        .find(|r| r.contains("changetype: add"))
        .expect("a create in the LDIF");
    let out = s.dir.ldapmodify(&format!("{create}\n"));
    assert!(out.status.success(), "{out:?}\n{create}");

    let plan: Value =
        serde_json::from_str(&s.expect(&["plan", "--format", "json"], 0)).expect("plan JSON");
    assert_eq!(plan["accounts"][0]["lifecycle"], "joiner", "{plan}");
    assert!(description(&s, &dn).contains(&"hrsync-joining".to_string()));

    let events = s.work.path().join("events.jsonl");
    s.write_config_with(
        "",
        &format!(
            "[audit]\nfile = \"audit.jsonl\"\n\n[[hooks.command]]\ncommand = [\"sh\", \"-c\", \"cat >> '{}'\"]\n",
            events.display()
        ),
    );
    s.expect(&["apply"], 0);
    let events = std::fs::read_to_string(&events).expect("the hook ran");
    let event: Value =
        serde_json::from_str(events.lines().next().expect("one event")).expect("event JSON");
    assert_eq!(event["event"], "joiner", "{events}");
    assert_eq!(event["employee_id"], "1801", "{events}");
    let audit = std::fs::read_to_string(s.work.path().join("audit.jsonl")).expect("audit log");
    let changes: Vec<Value> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["event"] == "change")
        .collect();
    assert!(!changes.is_empty(), "{audit}");
    assert!(
        changes.iter().all(|r| r["lifecycle"] == "joiner"),
        "{audit}"
    );
    for cn in ["staff", "engineering", "vpn"] {
        assert!(
            s.dir
                .group_members(&s.group(cn))
                .contains(&dn.to_lowercase()),
            "in {cn}"
        );
    }
    assert!(description(&s, &dn).is_empty(), "the mark is gone");
    s.assert_converged();
}

/// The joiner's LDIF, mark and all, still applies with ldapmodify in file order.
#[tokio::test(flavor = "multi_thread")]
async fn a_joiner_s_ldif_with_its_mark_applies_with_ldapmodify_and_converges() {
    let s = Scenario::start("joiner-ldif").await;
    s.serve(&[person("1802", "Li", "Dif", "Engineering", "Engineer")])
        .await;
    let ldif = s.expect(&["plan", "--format", "ldif"], 0);
    let out = s.dir.ldapmodify(&ldif);
    assert!(out.status.success(), "{out:?}\n{ldif}");
    let dn = format!("uid=li.dif,{}", s.ou("engineering"));
    assert!(description(&s, &dn).is_empty(), "the mark is gone");
    assert!(
        s.dir
            .group_members(&s.group("vpn"))
            .contains(&dn.to_lowercase())
    );
    s.assert_converged();
}
