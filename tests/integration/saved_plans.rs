//! Saved plans against someone who can write the plan file but not the config: `apply --plan`
//! applies a saved change only when a fresh plan (HR, the directory and the config as they are
//! now) holds it identically, and refuses the whole plan otherwise, naming what it refused.
//!
//! Each tampering test sets up a small company in step with HR (employees with passwords, a
//! protected admin in a protected group, an unmanaged service account, a lifecycle hook and an
//! audit log), makes a genuine change pending, saves the plan, edits the JSON the way an
//! attacker would, and checks that nothing at all happened: exit 1, "nothing applied", the
//! tampered DN named, the subtree byte for byte as it was (operational attributes included, so
//! even a write that changed no value shows in `entryCSN` / `modifyTimestamp`), no hook called
//! and no audit record written. Where the edit also needs a forged `before` state to get past a
//! drift check, the test forges it from the directory, as an attacker who can read it would.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::scenario::{Scenario, person, terminated};

/// The employees' own password.
const PASSWORD: &str = "Correct-Horse-9";
/// The protected admin's password.
const ROOT_PASSWORD: &str = "Root-Battery-Staple-2";
/// The unmanaged service account's password.
const SERVICE_PASSWORD: &str = "Svc-Backup-Tr0ub4dor-3";

/// Positions in [`Company::hr`].
const ADA: usize = 0;
const GRACE: usize = 1;
const BOB: usize = 2;

/// A company in step with HR, and the accounts an attacker would aim at.
struct Company {
    s: Scenario,
    /// What HR says now: Ada and Grace (Engineering), Bob (Sales), Root (Engineering, protected).
    hr: Vec<Value>,
    ada: String,
    grace: String,
    bob: String,
    /// The protected admin: an active employee in HR, member of [`Company::admins`].
    root: String,
    /// `cn=admins`: listed in `[directory.protected] groups`, not managed by the mappings.
    admins: String,
    /// `ou=admins` under the test's base, where a backdoor account would like to live.
    admins_ou: String,
    /// An account of no employee (no employeeNumber), with [`SERVICE_PASSWORD`].
    service: String,
    /// Where the lifecycle hook appends the events it receives.
    events: PathBuf,
    /// The audit log (`[audit] file`).
    audit: PathBuf,
}

/// The directory, the hook events and the audit log at one moment.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    entries: BTreeMap<String, Vec<String>>,
    events: String,
    audit: String,
}

async fn company(name: &str) -> Company {
    let s = Scenario::start(name).await;
    let base = s.base().to_string();
    s.dir.ldapadd(&format!(
        "dn: ou=services,{base}\nobjectClass: organizationalUnit\nou: services\n\n\
         dn: ou=admins,{base}\nobjectClass: organizationalUnit\nou: admins\n"
    ));
    let service = format!("uid=svc-backup,ou=services,{base}");
    s.dir.ldapadd(&format!(
        "dn: {service}\nobjectClass: inetOrgPerson\nuid: svc-backup\ncn: svc-backup\n\
         sn: backup\nuserPassword: {SERVICE_PASSWORD}\n"
    ));
    let admins = s.dir.add_group("admins", &[&s.seed_member()]);
    let root = s.dir.add_user(
        "root.admin",
        "900",
        Some(ROOT_PASSWORD),
        "cn: Root Admin\nsn: Admin",
    );
    s.add_member("admins", &root);
    s.add_member("staff", &root);

    let c = Company {
        ada: format!("uid=ada.lovelace,{}", s.ou("engineering")),
        grace: format!("uid=grace.hopper,{}", s.ou("engineering")),
        bob: format!("uid=bob.builder,{}", s.ou("sales")),
        admins_ou: format!("ou=admins,{base}"),
        events: s.work.path().join("events.jsonl"),
        audit: s.work.path().join("audit.jsonl"),
        hr: vec![
            person("101", "Ada", "Lovelace", "Engineering", "Engineer"),
            person("102", "Grace", "Hopper", "Engineering", "Engineer"),
            person("103", "Bob", "Builder", "Sales", "Rep"),
            person("900", "Root", "Admin", "Engineering", "SRE"),
        ],
        root,
        admins,
        service,
        s,
    };
    c.configure("", "");
    c.s.serve(&c.hr).await;
    c.s.expect(&["apply"], 0);
    for dn in [&c.ada, &c.grace, &c.bob] {
        c.set_password(dn, PASSWORD);
    }
    c.s.assert_converged();
    c
}

impl Company {
    /// Writes hrsync.toml: `cn=admins` protected (plus `protected`, more lines of
    /// `[directory.protected]`), limits that a handful of accounts cannot trip, the audit log, a
    /// command hook for every lifecycle event, and `tables` at the end.
    fn configure(&self, protected: &str, tables: &str) {
        self.s.write_config_with(
            &format!(
                "[directory.protected]\ngroups = [\"{}\"]\n{protected}",
                self.admins
            ),
            &format!(
                r#"
[limits]
create = {{ count = 50 }}
disable = {{ count = 50 }}
group_removal = {{ count = 50 }}
move = {{ count = 50 }}
update = {{ count = 50 }}

[audit]
file = "{audit}"

[[hooks.command]]
command = ["sh", "-c", "cat >> '{events}'"]

{tables}
"#,
                audit = self.audit.display(),
                events = self.events.display(),
            ),
        );
    }

    fn set_password(&self, dn: &str, password: &str) {
        let out = self.s.dir.ldapmodify(&format!(
            "dn: {dn}\nchangetype: modify\nreplace: userPassword\nuserPassword: {password}\n"
        ));
        assert!(
            out.status.success(),
            "cannot set the password of {dn}: {out:?}"
        );
    }

    /// HR with a genuine change pending: Ada gets a new title (an update), Grace moves to Sales
    /// (a mover, whose hook event a refused plan must not fire).
    fn changed_hr(&self) -> Vec<Value> {
        let mut hr = self.hr.clone();
        hr[ADA]["jobTitle"] = json!("Principal Engineer");
        hr[GRACE]["department"] = json!("Sales");
        hr[GRACE]["jobTitle"] = json!("Account Executive");
        hr
    }

    /// Grace's DN once she has moved.
    fn grace_in_sales(&self) -> String {
        format!("uid=grace.hopper,{}", self.s.ou("sales"))
    }

    /// Serves `hr`, saves the plan as `file` (`plan --out`, with `env`) and returns its path and
    /// its JSON.
    async fn review(&self, hr: &[Value], file: &str, env: &[(&str, &str)]) -> (PathBuf, Value) {
        self.s.serve(hr).await;
        let path = self.s.work.path().join(file);
        let out = self
            .s
            .hrsync_with_env(&["plan", "--out", path.to_str().expect("UTF-8 path")], env);
        assert_eq!(
            out.status.code(),
            Some(0),
            "plan --out: {}",
            output_text(&out)
        );
        let plan: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("the saved plan exists"))
                .expect("the saved plan is JSON");
        assert!(
            plan["accounts"].as_array().is_some_and(|a| !a.is_empty()),
            "a genuine change is pending: {plan:#}"
        );
        (path, plan)
    }

    /// Every entry of the test's subtree with its user and operational attributes (`*` and
    /// `+`: entryCSN and modifyTimestamp change on any write, even one that changes no value).
    fn full_dump(&self) -> BTreeMap<String, Vec<String>> {
        self.s
            .dir
            .search(self.s.base(), "(objectClass=*)", &["*", "+"])
            .into_iter()
            .map(|e| {
                let mut lines: Vec<String> = e
                    .attrs
                    .iter()
                    .flat_map(|(k, vs)| vs.iter().map(move |v| format!("{k}: {v}")))
                    .collect();
                lines.sort();
                (e.dn.to_lowercase(), lines)
            })
            .collect()
    }

    fn observe(&self) -> Observed {
        Observed {
            entries: self.full_dump(),
            events: std::fs::read_to_string(&self.events).unwrap_or_default(),
            audit: std::fs::read_to_string(&self.audit).unwrap_or_default(),
        }
    }

    /// `apply --plan path` with `env`: the exit code and stdout and stderr together.
    fn apply_saved(&self, path: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
        let out = self.s.hrsync_with_env(
            &["apply", "--plan", path.to_str().expect("UTF-8 path")],
            env,
        );
        (out.status.code(), output_text(&out))
    }

    /// Runs `apply --plan path` and insists that it was refused: exit 1, the output names every
    /// one of `needles` (case-insensitive: DNs, "nothing applied", a file name), and the
    /// directory, the hook events and the audit log are exactly as they were. Every failed
    /// expectation is reported at once, with the output. Returns the output.
    fn assert_refused(&self, path: &Path, env: &[(&str, &str)], needles: &[&str]) -> String {
        let before = self.observe();
        let (code, output) = self.apply_saved(path, env);
        let after = self.observe();
        let mut problems = Vec::new();
        if code != Some(1) {
            problems.push(format!("exit code {code:?}, expected 1"));
        }
        let lower = output.to_lowercase();
        for needle in needles {
            if !lower.contains(&needle.to_lowercase()) {
                problems.push(format!("the output does not name {needle:?}"));
            }
        }
        problems.extend(differences(&before, &after));
        assert!(
            problems.is_empty(),
            "apply --plan {}:\n  - {}\n--- output ---\n{output}",
            path.display(),
            problems.join("\n  - ")
        );
        output
    }

    /// The lines of the hook events file that are about `employee_id`.
    fn events_for(&self, employee_id: &str) -> Vec<Value> {
        std::fs::read_to_string(&self.events)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("each event is JSON"))
            .filter(|e| e["employee_id"] == employee_id)
            .collect()
    }

    fn title_of(&self, dn: &str) -> Option<String> {
        self.s
            .dir
            .entry(dn)
            .expect("the account exists")
            .first("title")
            .map(str::to_string)
    }

    fn is_member(&self, group: &str, dn: &str) -> bool {
        self.s.dir.group_members(group).contains(&dn.to_lowercase())
    }
}

fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// What changed between two observations, one line per entry, hook file or audit log.
fn differences(before: &Observed, after: &Observed) -> Vec<String> {
    let mut out = Vec::new();
    let dns: std::collections::BTreeSet<&String> =
        before.entries.keys().chain(after.entries.keys()).collect();
    for dn in dns {
        match (before.entries.get(dn), after.entries.get(dn)) {
            (Some(_), None) => out.push(format!("{dn} was deleted or renamed")),
            (None, Some(_)) => out.push(format!("{dn} was created")),
            (Some(b), Some(a)) if a != b => {
                let gone: Vec<&String> = b.iter().filter(|l| !a.contains(l)).collect();
                let new: Vec<&String> = a.iter().filter(|l| !b.contains(l)).collect();
                out.push(format!("{dn} was modified: -{gone:?} +{new:?}"));
            }
            _ => {}
        }
    }
    if before.events != after.events {
        out.push(format!(
            "hook events were fired: {}",
            after.events.trim_start_matches(before.events.as_str())
        ));
    }
    if before.audit != after.audit {
        out.push(format!(
            "audit records were written: {}",
            after.audit.trim_start_matches(before.audit.as_str())
        ));
    }
    out
}

fn write_plan(path: &Path, plan: &Value) {
    std::fs::write(
        path,
        serde_json::to_string_pretty(plan).expect("a plan serializes"),
    )
    .expect("write the plan");
}

fn same_dn(value: &Value, dn: &str) -> bool {
    value.as_str().is_some_and(|v| v.eq_ignore_ascii_case(dn))
}

/// The plan's account whose `dn` is `dn`.
fn account_mut<'a>(plan: &'a mut Value, dn: &str) -> &'a mut Value {
    let accounts = plan["accounts"]
        .as_array_mut()
        .expect("the plan has accounts");
    let index = accounts.iter().position(|a| same_dn(&a["dn"], dn));
    assert!(
        index.is_some(),
        "the plan has no account {dn}: {accounts:#?}"
    );
    &mut accounts[index.expect("checked above")]
}

fn changes_mut(account: &mut Value) -> &mut Vec<Value> {
    account["changes"]
        .as_array_mut()
        .expect("the account has changes")
}
fn zero_summary(plan: &mut Value) {
    let summary = plan["summary"]
        .as_object_mut()
        .expect("the plan has a summary");
    for (_, count) in summary.iter_mut() {
        *count = json!(0);
    }
}

// --- forged changes ----------------------------------------------------------------------------

/// What the attacker would like to log in with.
const ATTACKER_PASSWORD: &str = "Mallory-Was-Here-666";

/// The attributes the scenario's mappings manage (the templates, without the naming attribute),
/// as the planner records them in an account's `before`.
const MANAGED_ATTRIBUTES: [&str; 8] = [
    "cn",
    "sn",
    "givenName",
    "mail",
    "title",
    "departmentNumber",
    "employeeType",
    "manager",
];
/// The managed groups, in DN order (as `before.groups` lists them).
const MANAGED_GROUPS: [&str; 4] = ["engineering", "sales", "staff", "vpn"];

impl Company {
    /// The account's managed state as the planner would record it in `before`, read from the
    /// directory: what an attacker forging a plan for an account not in it would write.
    fn state_of(&self, dn: &str) -> Value {
        let entry = self.s.dir.entry(dn).expect("the account exists");
        let attributes: serde_json::Map<String, Value> = MANAGED_ATTRIBUTES
            .iter()
            .filter(|name| entry.has(name))
            .map(|name| (name.to_string(), json!(entry.values(name))))
            .collect();
        let groups: Vec<String> = MANAGED_GROUPS
            .iter()
            .map(|cn| self.s.group(cn))
            .filter(|g| self.s.dir.group_members(g).contains(&dn.to_lowercase()))
            .collect();
        json!({
            "dn": entry.dn,
            "disabled": entry.first("pwdAccountLockedTime") == Some("000001010000Z"),
            "attributes": attributes,
            "groups": groups,
        })
    }

    /// An account plan an attacker adds for an account that exists, with a `before` that matches
    /// the directory.
    fn forged_account(
        &self,
        employee_id: &str,
        lifecycle: &str,
        dn: &str,
        changes: Value,
    ) -> Value {
        json!({
            "employee_id": employee_id,
            "lifecycle": lifecycle,
            "dn": dn,
            "before": self.state_of(dn),
            "changes": changes,
        })
    }

    /// `dn` does not exist. If it does (the refusal failed), it is deleted first so that a test
    /// against a shared server leaves nothing behind outside its subtree.
    fn assert_absent(&self, dn: &str) {
        let existed = self.s.dir.entry(dn).is_some();
        if existed {
            let mut command = self.s.dir.admin_command("ldapdelete");
            command.arg(dn);
            let _ = command.output();
        }
        assert!(!existed, "{dn} was created");
    }
}

fn push_account(plan: &mut Value, account: Value) {
    plan["accounts"]
        .as_array_mut()
        .expect("the plan has accounts")
        .push(account);
}

/// A reason that reads like the planner's.
fn reason(fact: &str) -> Value {
    json!({ "fact": fact, "rule": "rule \"engineering\"" })
}

/// `userPassword` set to the attacker's password.
fn password_change() -> Value {
    json!({
        "action": "set_attribute",
        "attribute": "userPassword",
        "before": [],
        "after": [ATTACKER_PASSWORD],
        "reason": reason("department = \"Engineering\""),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_pointed_at_a_protected_group_to_write_its_members_is_refused() {
    let c = company("saved-admins-member").await;
    let (path, mut plan) = c.review(&c.changed_hr(), "saved.json", &[]).await;
    // Ada's update, aimed at cn=admins: "set member" puts Ada among the admins. `before` still
    // describes Ada, so the account looks unchanged since the review.
    let seed = c.s.seed_member();
    let account = account_mut(&mut plan, &c.ada);
    account["dn"] = json!(c.admins);
    account["changes"] = json!([{
        "action": "set_attribute",
        "attribute": "member",
        "before": [seed, c.root],
        "after": [seed, c.root, c.ada],
        "reason": reason("title = \"Principal Engineer\""),
    }]);
    write_plan(&path, &plan);

    c.assert_refused(&path, &[], &["nothing applied", &c.admins]);
    assert!(!c.is_member(&c.admins, &c.ada), "Ada is no admin");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_added_for_an_active_employee_is_refused() {
    let c = company("saved-password-employee").await;
    let (path, mut plan) = c.review(&c.changed_hr(), "saved.json", &[]).await;
    changes_mut(account_mut(&mut plan, &c.ada)).push(password_change());
    write_plan(&path, &plan);

    c.assert_refused(&path, &[], &["nothing applied", &c.ada]);
    assert!(c.s.dir.can_bind(&c.ada, PASSWORD), "Ada's password stands");
    assert!(!c.s.dir.can_bind(&c.ada, ATTACKER_PASSWORD));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_set_for_a_protected_account_is_refused() {
    let c = company("saved-password-protected").await;
    let (path, mut plan) = c.review(&c.changed_hr(), "saved.json", &[]).await;
    let forged = c.forged_account("900", "update", &c.root, json!([password_change()]));
    push_account(&mut plan, forged);
    write_plan(&path, &plan);

    c.assert_refused(&path, &[], &["nothing applied", &c.root]);
    assert!(c.s.dir.can_bind(&c.root, ROOT_PASSWORD));
    assert!(!c.s.dir.can_bind(&c.root, ATTACKER_PASSWORD));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_set_for_an_unmanaged_service_account_is_refused() {
    let c = company("saved-password-service").await;
    let (path, mut plan) = c.review(&c.changed_hr(), "saved.json", &[]).await;
    let forged = c.forged_account(
        "svc-backup",
        "update",
        &c.service,
        json!([password_change()]),
    );
    push_account(&mut plan, forged);
    write_plan(&path, &plan);

    c.assert_refused(&path, &[], &["nothing applied", &c.service]);
    assert!(c.s.dir.can_bind(&c.service, SERVICE_PASSWORD));
    assert!(
        !c.s.dir.can_bind(&c.service, ATTACKER_PASSWORD),
        "the attacker's password does not open the service account"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_joiner_creating_a_root_backdoor_is_refused() {
    let c = company("saved-backdoor").await;
    let (path, mut plan) = c.review(&c.changed_hr(), "saved.json", &[]).await;
    // One inside the subtree (ou=admins exists, so the add could succeed), one outside it.
    let inside = format!("uid=backdoor,{}", c.admins_ou);
    let tag =
        c.s.base()
            .split(',')
            .next()
            .and_then(|rdn| rdn.strip_prefix("ou="))
            .expect("the test base is an ou=")
            .to_string();
    let outside = format!("uid=backdoor-{tag},{}", c.s.dir.server_base_dn);
    for (id, dn) in [("6660", &inside), ("6661", &outside)] {
        push_account(
            &mut plan,
            json!({
                "employee_id": id,
                "lifecycle": "joiner",
                "dn": dn,
                "before": null,
                "changes": [
                    {
                        "action": "create",
                        "dn": dn,
                        "attributes": {
                            "objectClass": ["inetOrgPerson", "posixAccount"],
                            "uid": [dn.split(',').next().and_then(|r| r.strip_prefix("uid="))],
                            "cn": ["Back Door"],
                            "sn": ["Door"],
                            "uidNumber": ["0"],
                            "gidNumber": ["0"],
                            "homeDirectory": ["/root"],
                            "loginShell": ["/bin/sh"],
                            "userPassword": [ATTACKER_PASSWORD],
                        },
                        "reason": {
                            "fact": format!("status = active and no account has employeeNumber={id}"),
                            "rule": "joiner",
                        },
                    },
                    {
                        "action": "add_to_group",
                        "group": c.s.group("vpn"),
                        "reason": reason("department = \"Engineering\""),
                    },
                ],
            }),
        );
    }
    write_plan(&path, &plan);

    c.assert_refused(&path, &[], &["nothing applied", &inside, &outside]);
    c.assert_absent(&inside);
    c.assert_absent(&outside);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_move_of_an_unmanaged_account_into_a_managed_ou_is_refused() {
    let c = company("saved-move-service").await;
    let (path, mut plan) = c.review(&c.changed_hr(), "saved.json", &[]).await;
    let target = format!("uid=svc-backup,{}", c.s.ou("engineering"));
    let forged = c.forged_account(
        "svc-backup",
        "mover",
        &c.service,
        json!([{
            "action": "move",
            "from": c.service,
            "to": target,
            "reason": reason("department = \"Engineering\""),
        }]),
    );
    push_account(&mut plan, forged);
    write_plan(&path, &plan);

    c.assert_refused(&path, &[], &["nothing applied", &c.service]);
    c.assert_absent(&target);
    assert!(c.s.dir.can_bind(&c.service, SERVICE_PASSWORD));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leaver_turned_into_a_rehire_by_editing_its_changes_is_refused() {
    let c = company("saved-leaver-reenabled").await;
    let mut hr = c.hr.clone();
    hr[BOB] = terminated(hr[BOB].clone());
    let (path, mut plan) = c.review(&hr, "saved.json", &[]).await;
    let account = account_mut(&mut plan, &c.bob);
    assert_eq!(account["lifecycle"], "leaver", "{account:#}");
    let mut edited = 0;
    for change in changes_mut(account) {
        match change["action"].as_str() {
            Some("disable") => {
                *change = json!({
                    "action": "enable",
                    "method": change["method"],
                    "set_password": false,
                    "clear_expiry": false,
                    "reason": change["reason"],
                });
                edited += 1;
            }
            Some("remove_from_group") => {
                change["action"] = json!("add_to_group");
                edited += 1;
            }
            _ => {}
        }
    }
    assert!(
        edited >= 2,
        "a leaver is disabled and loses its groups: {plan:#}"
    );
    write_plan(&path, &plan);

    c.assert_refused(&path, &[], &["nothing applied", &c.bob]);
    assert!(c.s.dir.entry(&c.bob).is_some(), "Bob has not moved");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_rehire_of_a_disabled_leaver_is_refused() {
    let c = company("saved-forged-rehire").await;
    let mut hr = c.hr.clone();
    hr[BOB] = terminated(hr[BOB].clone());
    c.s.serve(&hr).await;
    c.s.expect(&["apply"], 0);
    let disabled = format!("uid=bob.builder,{}", c.s.dir.disabled_dn);
    assert!(!c.s.dir.can_bind(&disabled, PASSWORD), "Bob has left");

    // Bob stays terminated in HR; the attacker slips his return into an unrelated review.
    let mut hr = c.changed_hr();
    hr[BOB] = terminated(hr[BOB].clone());
    let (path, mut plan) = c.review(&hr, "saved.json", &[]).await;
    let back = c.bob.clone();
    let forged = c.forged_account(
        "103",
        "rehire",
        &disabled,
        json!([
            {"action": "enable", "method": "ppolicy_lock", "set_password": false,
             "clear_expiry": false, "reason": reason("status = active (\"Active\")")},
            {"action": "move", "from": disabled, "to": back,
             "reason": reason("department = \"Sales\"")},
            {"action": "add_to_group", "group": c.s.group("sales"),
             "reason": reason("department = \"Sales\"")},
            {"action": "add_to_group", "group": c.s.group("staff"),
             "reason": json!({"fact": "status = active", "rule": "birthright"})},
        ]),
    );
    push_account(&mut plan, forged);
    write_plan(&path, &plan);

    c.assert_refused(&path, &[], &["nothing applied", &disabled]);
    c.assert_absent(&c.bob);
    assert!(!c.s.dir.can_bind(&disabled, PASSWORD), "Bob stays locked");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_arbitrary_member_added_through_a_placeholder_change_is_refused() {
    let c = company("saved-placeholder").await;
    let (path, mut plan) = c.review(&c.changed_hr(), "saved.json", &[]).await;
    let vpn = c.s.group("vpn");
    plan["group_changes"]
        .as_array_mut()
        .expect("the plan has group_changes")
        .push(json!({
            "group": vpn,
            "action": "add_placeholder",
            "member": c.service,
            "reason": {"fact": "cn=vpn is about to lose its last member", "rule": "groups.empty_group_placeholder"},
        }));
    write_plan(&path, &plan);

    // Stricter reading: a group change has no account DN, so both the group and the member
    // it would add must be named.
    c.assert_refused(&path, &[], &["nothing applied", &vpn, &c.service]);
    assert!(!c.is_member(&vpn, &c.service));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_movers_changes_pointed_at_another_account_are_refused() {
    let c = company("saved-move-other").await;
    let (path, mut plan) = c.review(&c.changed_hr(), "saved.json", &[]).await;
    // Grace's move as printed (`from` still Grace), but the account is Ada's: applied, it would
    // rename Ada's entry into Sales.
    let account = account_mut(&mut plan, &c.grace);
    assert!(
        account["changes"].as_array().is_some_and(|cs| cs
            .iter()
            .any(|ch| ch["action"] == "move" && same_dn(&ch["from"], &c.grace))),
        "Grace is a mover: {account:#}"
    );
    account["dn"] = json!(c.ada);
    // Ada's own update goes, so that Ada's DN appears only in the tampered account.
    plan["accounts"]
        .as_array_mut()
        .expect("accounts")
        .retain(|a| !(a["employee_id"] == "101"));
    write_plan(&path, &plan);

    c.assert_refused(&path, &[], &["nothing applied", &c.ada]);
    assert!(c.s.dir.entry(&c.ada).is_some(), "Ada has not moved");
    c.assert_absent(&c.grace_in_sales());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rename_member_naming_other_dns_is_refused() {
    let c = company("saved-rename-member").await;
    let (path, mut plan) = c.review(&c.changed_hr(), "saved.json", &[]).await;
    let staff = c.s.group("staff");
    let account = account_mut(&mut plan, &c.grace);
    let changes = changes_mut(account);
    let rename = changes
        .iter_mut()
        .find(|ch| ch["action"] == "rename_member")
        .expect("Grace stays in staff, so her member value is rewritten after the move");
    // Rewrite Ada's membership into the service account's.
    rename["group"] = json!(staff);
    rename["from"] = json!(c.ada);
    rename["to"] = json!(c.service);
    write_plan(&path, &plan);

    c.assert_refused(&path, &[], &["nothing applied", &c.grace]);
    assert!(c.is_member(&staff, &c.ada));
    assert!(!c.is_member(&staff, &c.service));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zeroed_summary_does_not_hide_tampered_changes() {
    let c = company("saved-summary-tampered").await;
    let (path, mut plan) = c.review(&c.changed_hr(), "saved.json", &[]).await;
    for change in changes_mut(account_mut(&mut plan, &c.ada)) {
        if change["action"] == "set_attribute" && change["attribute"] == "title" {
            change["after"] = json!(["Chief Executive Officer"]);
        }
    }
    zero_summary(&mut plan);
    write_plan(&path, &plan);

    c.assert_refused(&path, &[], &["nothing applied", &c.ada]);
    assert_eq!(c.title_of(&c.ada).as_deref(), Some("Engineer"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_leaver_plan_for_a_protected_active_person_is_refused_and_fires_no_hook() {
    let c = company("saved-forged-leaver").await;
    let (path, mut plan) = c.review(&c.changed_hr(), "saved.json", &[]).await;
    let terminated_reason = json!({"fact": "status = terminated (\"Inactive\")", "rule": "leaver"});
    let forged = c.forged_account(
        "900",
        "leaver",
        &c.root,
        json!([
            {"action": "disable", "method": "ppolicy_lock", "reason": terminated_reason},
            {"action": "remove_from_group", "group": c.s.group("staff"), "reason": terminated_reason},
            {"action": "move", "from": c.root,
             "to": format!("uid=root.admin,{}", c.s.dir.disabled_dn), "reason": terminated_reason},
        ]),
    );
    push_account(&mut plan, forged);
    plan["summary"]["leavers"] = json!(1);
    write_plan(&path, &plan);

    let events = c.events_for("900").len();
    c.assert_refused(&path, &[], &["nothing applied", &c.root]);
    assert_eq!(c.events_for("900").len(), events, "no leaver event");
    assert!(
        c.s.dir.can_bind(&c.root, ROOT_PASSWORD),
        "the admin still works"
    );
    assert!(c.is_member(&c.s.group("staff"), &c.root));
}

// --- staleness: the plan was honest, the world moved on ------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_account_protected_after_the_review_is_refused() {
    let c = company("saved-protected-since").await;
    let (path, _) = c.review(&c.changed_hr(), "saved.json", &[]).await;
    c.s.add_member("admins", &c.ada);

    c.assert_refused(&path, &[], &["nothing applied", &c.ada]);
    assert_eq!(c.title_of(&c.ada).as_deref(), Some("Engineer"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_changed_in_hr_after_the_review_is_refused() {
    let c = company("saved-hr-since").await;
    let (path, _) = c.review(&c.changed_hr(), "saved.json", &[]).await;

    // Terminated since: the rules now make Ada a leaver, not a new title.
    let mut hr = c.changed_hr();
    hr[ADA] = terminated(hr[ADA].clone());
    c.s.serve(&hr).await;
    c.assert_refused(&path, &[], &["nothing applied", &c.ada]);

    // Retitled again since: the reviewed value is not the one the rules give now.
    let mut hr = c.changed_hr();
    hr[ADA]["jobTitle"] = json!("Staff Engineer");
    c.s.serve(&hr).await;
    c.assert_refused(&path, &[], &["nothing applied", &c.ada]);
    assert_eq!(c.title_of(&c.ada).as_deref(), Some("Engineer"));
    assert!(c.s.dir.can_bind(&c.ada, PASSWORD));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mapping_file_changed_after_the_review_is_refused_by_name() {
    let c = company("saved-mappings-since").await;
    let (path, plan) = c.review(&c.changed_hr(), "saved.json", &[]).await;
    assert!(
        plan["config"].is_object(),
        "a saved plan carries the digest of its config: {plan:#}"
    );
    // A rule nobody matches: the fresh plan is the same, only the mappings are not.
    let groups = c.s.work.path().join("mappings/groups.toml");
    let text = std::fs::read_to_string(&groups).expect("read groups.toml");
    std::fs::write(
        &groups,
        format!(
            "{text}\n[[rule]]\nname = \"marketing\"\nmatch = {{ department = \"Marketing\" }}\n\
             groups = [\"vpn\"]\n"
        ),
    )
    .expect("write groups.toml");

    c.assert_refused(&path, &[], &["groups.toml"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_changed_after_the_review_is_refused_by_key() {
    let c = company("saved-config-since").await;
    let (path, _) = c.review(&c.changed_hr(), "saved.json", &[]).await;
    // One more protected DN, of nobody in the plan: only the config differs.
    c.configure(
        &format!("dns = [\"uid=nobody,{}\"]\n", c.s.dir.people_dn),
        "",
    );

    c.assert_refused(&path, &[], &["directory.protected"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_from_the_future_is_refused() {
    let c = company("saved-future").await;
    let (path, mut plan) = c.review(&c.changed_hr(), "saved.json", &[]).await;
    let made =
        chrono::DateTime::parse_from_rfc3339(plan["generated_at"].as_str().expect("generated_at"))
            .expect("RFC 3339");
    plan["generated_at"] = json!((made + chrono::Duration::days(1)).to_rfc3339());
    write_plan(&path, &plan);

    c.assert_refused(&path, &[], &[]);
    // (A plan older than limits.max_plan_age_hours: limits.rs.)
}

// --- signing -------------------------------------------------------------------------------------

const KEY_ENV: &str = "HRSYNC_PLAN_KEY";
const KEY: &str = "plan-signing-key-0c4f2e8a9b7d6c5e";
const OTHER_KEY: &str = "some-other-key-11aa22bb33cc44dd55";
const SIGNING: &str = "[plans]\nsigning_key = { env = \"HRSYNC_PLAN_KEY\" }\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_plan_applies_unmodified() {
    let c = company("saved-signed").await;
    c.configure("", SIGNING);
    let env = [(KEY_ENV, KEY)];
    let (path, plan) = c.review(&c.changed_hr(), "saved.json", &env).await;
    assert!(
        plan["signature"].as_str().is_some_and(|s| !s.is_empty()),
        "plan --out signs: {plan:#}"
    );

    let (code, output) = c.apply_saved(&path, &env);
    assert_eq!(code, Some(0), "{output}");
    assert_eq!(c.title_of(&c.ada).as_deref(), Some("Principal Engineer"));
    assert!(c.s.dir.entry(&c.grace_in_sales()).is_some());
    let out = c.s.hrsync_with_env(&["plan", "--detailed-exitcode"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_without_a_valid_signature_is_refused() {
    let c = company("saved-signature-bad").await;
    let env = [(KEY_ENV, KEY)];

    // Signed before the key was configured: no signature at all.
    let (unsigned, _) = c.review(&c.changed_hr(), "unsigned.json", &[]).await;
    c.configure("", SIGNING);
    c.assert_refused(&unsigned, &env, &["signature"]);

    // The signature taken out.
    let (stripped, mut plan) = c.review(&c.changed_hr(), "stripped.json", &env).await;
    assert!(plan["signature"].is_string(), "{plan:#}");
    plan.as_object_mut()
        .expect("a plan is an object")
        .remove("signature");
    write_plan(&stripped, &plan);
    c.assert_refused(&stripped, &env, &["signature"]);

    // A change edited, the signature kept.
    let (edited, mut plan) = c.review(&c.changed_hr(), "edited.json", &env).await;
    for change in changes_mut(account_mut(&mut plan, &c.ada)) {
        if change["action"] == "set_attribute" && change["attribute"] == "title" {
            change["after"] = json!(["Chief Executive Officer"]);
        }
    }
    write_plan(&edited, &plan);
    c.assert_refused(&edited, &env, &["signature"]);

    // Signed with another key.
    let (other, _) = c
        .review(&c.changed_hr(), "other.json", &[(KEY_ENV, OTHER_KEY)])
        .await;
    c.assert_refused(&other, &env, &["signature"]);

    assert_eq!(c.title_of(&c.ada).as_deref(), Some("Engineer"));
}

// --- what a verified plan applies ---------------------------------------------------------------

impl Company {
    /// Audit records of changes (not their intents, not the runs' first and last lines)
    /// written from line `from` on.
    fn audit_since(&self, from: usize) -> Vec<Value> {
        std::fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .skip(from)
            .map(|l| serde_json::from_str::<Value>(l).expect("each audit line is JSON"))
            .filter(|r| r["event"] == "change")
            .collect()
    }

    fn audit_len(&self) -> usize {
        std::fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .count()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untampered_reviewed_plan_applies_and_converges() {
    let c = company("saved-untampered").await;
    let (path, _) = c.review(&c.changed_hr(), "saved.json", &[]).await;
    let audited = c.audit_len();

    let (code, output) = c.apply_saved(&path, &[]);
    assert_eq!(code, Some(0), "{output}");
    assert!(
        !output.to_lowercase().contains("nothing applied"),
        "{output}"
    );
    assert_eq!(c.title_of(&c.ada).as_deref(), Some("Principal Engineer"));
    assert!(c.s.dir.entry(&c.grace_in_sales()).is_some());
    assert!(c.is_member(&c.s.group("sales"), &c.grace_in_sales()));
    assert!(c.s.dir.can_bind(&c.grace_in_sales(), PASSWORD));
    // Hooks and audit for what was applied: Grace's move, Ada's title.
    let moved = c.events_for("102");
    assert!(
        moved.iter().any(|e| e["event"] == "mover"),
        "the mover's hook fired: {moved:?}"
    );
    let records = c.audit_since(audited);
    let accounts: std::collections::BTreeSet<String> = records
        .iter()
        .filter_map(|r| r["account"]["employee_id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        accounts,
        ["101", "102"].map(String::from).into(),
        "{records:#?}"
    );
    assert!(
        records.iter().all(|r| r["result"] == "applied"),
        "{records:#?}"
    );
    c.s.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_hr_made_after_the_review_is_listed_not_applied() {
    let c = company("saved-extra-change").await;
    let mut reviewed = c.hr.clone();
    reviewed[ADA]["jobTitle"] = json!("Principal Engineer");
    let (path, _) = c.review(&reviewed, "saved.json", &[]).await;

    // After the review, HR retitles Bob too: nobody has seen that change.
    let mut now = reviewed;
    now[BOB]["jobTitle"] = json!("Senior Rep");
    c.s.serve(&now).await;
    let audited = c.audit_len();
    let (code, output) = c.apply_saved(&path, &[]);
    assert_eq!(code, Some(0), "{output}");
    assert_eq!(c.title_of(&c.ada).as_deref(), Some("Principal Engineer"));
    assert_eq!(c.title_of(&c.bob).as_deref(), Some("Rep"), "not reviewed");
    let lower = output.to_lowercase();
    assert!(
        (lower.contains("not reviewed") || lower.contains("unreviewed"))
            && lower.contains(&c.bob.to_lowercase()),
        "the unreviewed change is listed: {output}"
    );
    let records = c.audit_since(audited);
    assert!(
        !records.is_empty() && records.iter().all(|r| r["account"]["employee_id"] == "101"),
        "audited: Ada's change only: {records:#?}"
    );

    let pending = c.s.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        pending.contains(&c.bob) && pending.contains("Senior Rep"),
        "Bob's title is still pending: {pending}"
    );
    assert!(!pending.contains(&c.ada), "Ada is done: {pending}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zeroed_summary_on_untampered_changes_is_printed_as_counted() {
    let c = company("saved-summary-zeroed").await;
    let (path, mut plan) = c.review(&c.changed_hr(), "saved.json", &[]).await;
    let changes = plan["summary"]["changes"].as_u64().expect("a count");
    assert!(changes > 0);
    zero_summary(&mut plan);
    write_plan(&path, &plan);

    let (code, output) = c.apply_saved(&path, &[]);
    assert_eq!(code, Some(0), "{output}");
    let summary = output
        .lines()
        .find(|l| l.starts_with("hrsync plan:"))
        .unwrap_or_else(|| panic!("no summary line:\n{output}"));
    assert!(
        summary.contains("1 mover(s)")
            && summary.contains("1 update(s)")
            && summary.contains(&format!("; {changes} change(s) in all")),
        "the summary is counted, not read from the file: {summary}\n{output}"
    );
    assert_eq!(c.title_of(&c.ada).as_deref(), Some("Principal Engineer"));
    c.s.assert_converged();
}

/// `apply --plan` records its counts like any apply (issue 20, item 8): the textfile shows the
/// approved plan's changes as applied and the accounts by lifecycle.
#[tokio::test(flavor = "multi_thread")]
async fn an_approved_plan_records_its_counts_in_the_metrics() {
    let s = Scenario::start("saved-metrics").await;
    let prom = s.work.path().join("hrsync.prom");
    s.write_config_with(
        "",
        &format!("[metrics]\ntextfile = \"{}\"\n", prom.display()),
    );
    s.serve(&[person("1301", "Met", "Rics", "Sales", "Rep")])
        .await;
    let plan = s.work.path().join("reviewed.json");
    s.expect(&["plan", "--out", plan.to_str().expect("UTF-8 path")], 0);
    assert!(!prom.exists(), "a plan writes no metrics");
    s.expect(&["apply", "--plan", plan.to_str().expect("UTF-8 path")], 0);
    let text = std::fs::read_to_string(&prom).expect("the textfile is written");
    for line in [
        "hrsync_run_changes{kind=\"create\",result=\"applied\"} 1",
        "hrsync_run_changes{kind=\"add_to_group\",result=\"applied\"} 2",
        "hrsync_run_changes{kind=\"disable\",result=\"applied\"} 0",
        "hrsync_run_accounts_changed{lifecycle=\"joiner\"} 1",
        "hrsync_run_hr_records 1",
        "hrsync_run_success 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
}
