//! The lifecycle against a real AD domain controller (Samba AD DC, one per test, provisioned by
//! the harness): joiners with a random password, movers, leavers locked out by
//! userAccountControl, rehires, a 3,000-member group read in ranges, protected accounts,
//! referrals, TLS-only binds and LDIF.

// Test helpers outside #[test] functions: failing loudly is their error handling.
#![allow(clippy::panic, clippy::unwrap_used)]

use serde_json::Value;

use crate::scenario::{BIND_PASSWORD_ENV, Runner, person, terminated};
use crate::support::samba::TestDomain;

const PASSWORD: &str = "Correct-Horse-9!";

struct Ad {
    domain: TestDomain,
    run: Runner,
}

impl std::ops::Deref for Ad {
    type Target = Runner;
    fn deref(&self) -> &Runner {
        &self.run
    }
}

impl Ad {
    async fn start(name: &str) -> Ad {
        let name = name.to_string();
        let domain = tokio::task::spawn_blocking(move || TestDomain::start(&name))
            .await
            .expect("domain start panicked");
        let run = Runner::start(&domain.admin_password).await;
        let ad = Ad { domain, run };
        let ous: String = ["Engineering", "Sales"]
            .iter()
            .map(|ou| format!("dn: {}\nobjectClass: organizationalUnit\n\n", ad.ou(ou)))
            .collect();
        ad.domain.ldapadd(&ous);
        for cn in ["Staff", "Engineering", "Sales", "VPN"] {
            ad.domain.add_group(cn, &[]);
        }
        ad.write_mappings();
        ad.write_config("", 1500);
        ad
    }

    fn ou(&self, name: &str) -> String {
        format!("OU={name},{}", self.domain.people_dn)
    }

    fn group(&self, cn: &str) -> String {
        format!("CN={cn},{}", self.domain.groups_dn)
    }

    fn add_member(&self, cn: &str, member: &str) {
        let out = self.domain.ldapmodify(&format!(
            "dn: {}\nchangetype: modify\nadd: member\nmember: {member}\n",
            self.group(cn)
        ));
        assert!(out.status.success(), "cannot add {member} to {cn}: {out:?}");
    }

    fn members(&self, cn: &str) -> std::collections::BTreeSet<String> {
        self.domain.group_members(&self.group(cn))
    }

    fn uac(&self, dn: &str) -> u32 {
        let entry = self
            .domain
            .entry(dn)
            .unwrap_or_else(|| panic!("{dn} missing"));
        entry
            .first("userAccountControl")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{dn} has no userAccountControl"))
    }

    /// The one account with this employeeID, anywhere in the test's subtree.
    fn find(&self, id: &str) -> crate::support::Entry {
        let found = self.domain.search(
            &self.domain.base_dn,
            &format!("(employeeID={id})"),
            &["*", "pwdLastSet", "accountExpires"],
        );
        assert_eq!(found.len(), 1, "one account for employeeID {id}: {found:?}");
        found.into_iter().next().unwrap()
    }

    fn write_mappings(&self) {
        let dir = self.work.path().join("mappings");
        std::fs::create_dir_all(&dir).expect("mappings dir");
        let d = &self.domain;
        let text = format!(
            r#"
[correlation]
attribute = "employeeID"

[account]
rdn_attribute = "cn"
object_classes = ["top", "person", "organizationalPerson", "user"]
default_ou = "{people}"
disabled_ou = "{disabled}"
unique_attributes = ["sAMAccountName", "userPrincipalName"]

[account.attributes]
cn = "{{first_name}} {{last_name}}{{unique}}"
sAMAccountName = "{{first_name|initial|ascii|lower}}{{last_name|ascii|lower|alnum|max:17}}{{unique}}"
userPrincipalName = "{{first_name|initial|ascii|lower}}{{last_name|ascii|lower|alnum|max:17}}{{unique}}@example.test"
givenName = "{{first_name}}"
sn = "{{last_name}}"
title = "{{title}}"
department = "{{department}}"
mail = "{{email}}"
manager = "{{manager_dn}}"

[groups]
base = "{groups}"
birthright = ["Staff"]

[[rule]]
name = "engineering"
match = {{ department = "Engineering" }}
groups = ["Engineering", "VPN"]
ou = "{eng}"

[[rule]]
name = "sales"
match = {{ department = "Sales" }}
groups = ["Sales"]
ou = "{sales}"
"#,
            people = d.people_dn,
            disabled = d.disabled_dn,
            groups = d.groups_dn,
            eng = self.ou("Engineering"),
            sales = self.ou("Sales"),
        );
        std::fs::write(dir.join("ad.toml"), text).expect("write mappings");
    }

    /// hrsync.toml over LDAPS with the DC's CA; `directory_extra` may override the URL.
    fn write_config(&self, directory_extra: &str, range: usize) {
        let d = &self.domain;
        let url_line = if directory_extra.contains("url =") {
            String::new()
        } else {
            format!("url = \"{}\"\n", d.ldaps_url)
        };
        let base_line = if directory_extra.contains("users_base =") {
            String::new()
        } else {
            format!("users_base = \"{}\"\n", d.base_dn)
        };
        let text = format!(
            r#"
[directory]
flavour = "active_directory"
{url_line}{base_line}ca_file = "{ca}"
bind_dn = "{upn}"
bind_password = {{ env = "{BIND_PASSWORD_ENV}" }}
{directory_extra}

[directory.active_directory]
expire_leavers = true
member_range_size = {range}

{hr}
"#,
            ca = d.ca_file.display(),
            upn = d.admin_upn,
            hr = self.hr_config(),
        );
        std::fs::write(&self.config, text).expect("write config");
    }

    /// An enabled user with a password and the attributes HR will ask for, so that only what a
    /// test changes shows up in a plan.
    fn add_person(&self, sam: &str, record: &Value, ou: &str, groups: &[&str]) -> String {
        let s = |k: &str| record[k].as_str().unwrap_or_default().to_string();
        let cn = format!("{} {}", s("firstName"), s("lastName"));
        let dn = format!("CN={cn},{}", self.ou_dn(ou));
        let ldif = format!(
            "dn: {dn}\nobjectClass: user\nsAMAccountName: {sam}\nuserPrincipalName: {sam}@example.test\n\
             employeeID: {id}\ngivenName: {first}\nsn: {last}\ntitle: {title}\ndepartment: {dept}\n\
             mail: {mail}\nunicodePwd:: {pwd}\nuserAccountControl: 512\n",
            id = s("id"),
            first = s("firstName"),
            last = s("lastName"),
            title = s("jobTitle"),
            dept = s("department"),
            mail = s("workEmail"),
            pwd = crate::support::samba::unicode_pwd(PASSWORD),
        );
        self.domain.ldapadd(&ldif);
        for group in groups {
            self.add_member(group, &dn);
        }
        dn
    }

    fn ou_dn(&self, ou: &str) -> String {
        match ou {
            "People" => self.domain.people_dn.clone(),
            "Disabled" => self.domain.disabled_dn.clone(),
            other => self.ou(other),
        }
    }
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

#[tokio::test(flavor = "multi_thread")]
async fn ad_joiner_mover_leaver_and_rehire() {
    let ad = Ad::start("ad-lifecycle").await;
    let grace = person("201", "Grace", "Hopper", "Engineering", "Engineer");
    let bob = person("301", "Bob", "Builder", "Sales", "Rep");
    let grace_dn = ad.add_person(
        "ghopper",
        &grace,
        "Engineering",
        &["Staff", "Engineering", "VPN"],
    );
    let bob_dn = ad.add_person("bbuilder", &bob, "Sales", &["Staff", "Sales"]);
    // "alovelace" is taken elsewhere in the domain, outside the users base.
    ad.domain.ldapadd(&format!(
        "dn: CN=Someone Else,CN=Users,{}\nobjectClass: user\nsAMAccountName: alovelace\n",
        ad.domain.domain_dn
    ));
    assert!(
        ad.domain.can_bind(&bob_dn, PASSWORD),
        "the leaver can log in before"
    );
    let bob_uac = ad.uac(&bob_dn);

    ad.serve(&[
        person("101", "Ada", "Lovelace", "Engineering", "Engineer"),
        person("201", "Grace", "Hopper", "Sales", "Account Executive"),
        terminated(bob.clone()),
    ])
    .await;
    let plan = ad.expect(&["plan"], 0);
    assert!(
        plan.contains("a new random password, never shown"),
        "{plan}"
    );
    ad.expect(&["apply"], 0);

    // Joiner: numbered name because alovelace is taken; enabled with a password hrsync set.
    let ada = ad.find("101");
    assert_eq!(
        lower(&ada.dn),
        lower(&format!("CN=Ada Lovelace2,{}", ad.ou("Engineering")))
    );
    assert_eq!(ada.first("sAMAccountName"), Some("alovelace2"));
    assert_eq!(
        ada.first("userPrincipalName"),
        Some("alovelace2@example.test")
    );
    assert_eq!(ad.uac(&ada.dn), 512, "joiner enabled");
    assert_ne!(ada.first("pwdLastSet"), Some("0"), "joiner has a password");
    for group in ["Staff", "Engineering", "VPN"] {
        assert!(ad.members(group).contains(&lower(&ada.dn)), "{group}");
    }

    // Mover: new OU by modify-DN (RDN kept), new groups, old ones gone, still works.
    let grace_now = format!("CN=Grace Hopper,{}", ad.ou("Sales"));
    assert!(ad.domain.entry(&grace_dn).is_none());
    assert_eq!(ad.find("201").first("title"), Some("Account Executive"));
    assert!(ad.members("Sales").contains(&lower(&grace_now)));
    assert!(
        ad.members("Staff").contains(&lower(&grace_now)),
        "AD kept the link across the move"
    );
    assert!(
        !ad.members("Engineering")
            .iter()
            .any(|m| m.contains("grace"))
    );
    assert!(!ad.members("VPN").iter().any(|m| m.contains("grace")));
    assert!(ad.domain.can_bind(&grace_now, PASSWORD));

    // Leaver: bit 0x2 set with every other bit kept, expired, stripped, moved, locked out.
    let bob_now = format!("CN=Bob Builder,{}", ad.domain.disabled_dn);
    assert_eq!(ad.uac(&bob_now), bob_uac | 2);
    let expires = ad.find("301").first("accountExpires").map(str::to_string);
    assert!(
        expires
            .as_deref()
            .is_some_and(|v| v != "0" && v != "9223372036854775807"),
        "{expires:?}"
    );
    assert!(!ad.members("Staff").iter().any(|m| m.contains("bob")));
    assert!(!ad.members("Sales").iter().any(|m| m.contains("bob")));
    assert!(
        !ad.domain.can_bind(&bob_now, PASSWORD),
        "a leaver must be locked out"
    );
    ad.assert_converged();

    // Rehire into engineering: enabled again with the old bits, not expired, new role.
    ad.serve(&[
        person("101", "Ada", "Lovelace", "Engineering", "Engineer"),
        person("201", "Grace", "Hopper", "Sales", "Account Executive"),
        person("301", "Bob", "Builder", "Engineering", "Engineer"),
    ])
    .await;
    ad.expect(&["apply"], 0);
    let bob_back = format!("CN=Bob Builder,{}", ad.ou("Engineering"));
    assert_eq!(ad.uac(&bob_back), bob_uac);
    assert_eq!(ad.find("301").first("accountExpires"), Some("0"));
    assert!(
        ad.domain.can_bind(&bob_back, PASSWORD),
        "a rehire can log in again"
    );
    assert!(ad.members("VPN").contains(&lower(&bob_back)));
    assert!(!ad.members("Sales").iter().any(|m| m.contains("bob")));
    ad.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn ad_group_of_3000_members_is_read_in_ranges_and_changed() {
    let ad = Ad::start("ad-large").await;
    ad.write_config("", 500);
    let crowd = ad.domain.add_many_users("crowd", 3000);
    // One modify with 3,000 values, as an admin would bulk-load a group.
    let mut ldif = format!(
        "dn: {}\nchangetype: modify\nadd: member\n",
        ad.group("Staff")
    );
    for dn in &crowd {
        ldif.push_str(&format!("member: {dn}\n"));
    }
    let out = ad.domain.ldapmodify(&ldif);
    assert!(out.status.success(), "{out:?}");
    // Added after the crowd, so they sit past the first ranges.
    let stays = person("5001", "Stay", "Put", "Other", "Clerk");
    let leaves = person("5002", "Lea", "Ving", "Other", "Clerk");
    let stays_dn = ad.add_person("sput", &stays, "People", &["Staff"]);
    let leaves_dn = ad.add_person("lving", &leaves, "People", &["Staff"]);
    assert_eq!(ad.members("Staff").len(), 3002);

    ad.serve(&[
        stays.clone(),
        terminated(leaves.clone()),
        person("5003", "New", "Comer", "Other", "Clerk"),
    ])
    .await;
    let json = ad.expect(&["plan", "--format", "json"], 0);
    let plan: Value = serde_json::from_str(&json).unwrap();
    let of = |id: &str| {
        plan["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["employee_id"] == id)
            .cloned()
    };
    assert!(
        of("5001").is_none(),
        "5001 is already in Staff: all ranges were read: {:#}",
        of("5001").unwrap_or_default()
    );
    let leaver = of("5002").expect("5002 is a leaver");
    assert!(
        leaver["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["action"] == "remove_from_group"),
        "5002 found in Staff beyond the first range: {leaver:#}"
    );

    // The 3,000 have no HR record: far over the `missing` limit, which stops the run until
    // the admin says these orphans are expected.
    ad.expect(&["apply"], 4);
    ad.expect(&["apply", "--allow-limit", "missing"], 0);
    let members = ad.members("Staff");
    assert_eq!(members.len(), 3002, "3,000 + stays + joiner");
    assert!(members.contains(&lower(&stays_dn)));
    assert!(!members.contains(&lower(&leaves_dn)));
    assert!(!members.iter().any(|m| m.contains("lea ving")));
    assert!(members.iter().any(|m| m.starts_with("cn=new comer,")));
    ad.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn ad_protected_accounts_are_never_changed() {
    let ad = Ad::start("ad-protected").await;
    let domain = ad.domain.domain_dn.clone();
    let direct = person("401", "Dom", "Admin", "Sales", "Rep");
    let nested = person("402", "Nes", "Ted", "Sales", "Rep");
    let counted = person("403", "Count", "Ed", "Sales", "Rep");
    let glass = person("404", "Break", "Glass", "Sales", "Rep");
    let direct_dn = ad.add_person("dadmin", &direct, "Sales", &["Staff", "Sales"]);
    let nested_dn = ad.add_person("nted", &nested, "Sales", &["Staff", "Sales"]);
    let counted_dn = ad.add_person("cted", &counted, "Sales", &["Staff", "Sales"]);
    let glass_dn = ad.add_person("bglass", &glass, "Sales", &["Staff", "Sales"]);
    ad.write_config(
        "[directory.protected]\nfilter = \"(description=break-glass)\"",
        1500,
    );
    let modify = |dn: &str, change: &str| {
        let out = ad
            .domain
            .ldapmodify(&format!("dn: {dn}\nchangetype: modify\n{change}\n"));
        assert!(out.status.success(), "{out:?}");
    };
    modify(
        &format!("CN=Domain Admins,CN=Users,{domain}"),
        &format!("add: member\nmember: {direct_dn}"),
    );
    let leads = ad.domain.add_group("Helpdesk Leads", &[&nested_dn]);
    modify(
        &format!("CN=Administrators,CN=Builtin,{domain}"),
        &format!("add: member\nmember: {leads}"),
    );
    modify(&counted_dn, "replace: adminCount\nadminCount: 1");
    modify(&glass_dn, "replace: description\ndescription: break-glass");

    ad.serve(&[
        terminated(direct),
        terminated(nested),
        terminated(counted),
        terminated(glass),
    ])
    .await;
    let plan = ad.expect(&["plan", "--detailed-exitcode"], 0);
    for (id, why) in [
        ("401", "member of CN=Domain Admins"),
        ("402", "member of CN=Administrators"),
        ("403", "adminCount=1"),
        ("404", "matches directory.protected.filter"),
    ] {
        assert!(
            plan.lines().any(|l| l.contains(&format!("employee {id}"))
                && l.contains(why)
                && l.contains("protected account")),
            "{id} must be skipped as protected ({why}):\n{plan}"
        );
    }
    ad.expect(&["apply"], 0);
    for dn in [&direct_dn, &nested_dn, &counted_dn, &glass_dn] {
        assert_eq!(ad.uac(dn), 512, "{dn} untouched");
        assert!(ad.domain.can_bind(dn, PASSWORD), "{dn} can still log in");
        assert!(ad.members("Sales").contains(&lower(dn)));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ad_referrals_from_the_domain_root_are_ignored() {
    let ad = Ad::start("ad-referrals").await;
    let root = ad.domain.domain_dn.clone();
    let seen = ad
        .domain
        .search_with_referrals(&root, "(objectClass=user)", &["1.1"]);
    assert!(
        !seen.referrals.is_empty(),
        "the domain root must return referrals for this test to mean anything"
    );
    ad.write_config(&format!("users_base = \"{root}\""), 1500);
    ad.serve(&[person("601", "Ref", "Erral", "Sales", "Rep")])
        .await;
    let plan = ad.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(plan.contains("joiner cn=Ref Erral,"), "{plan}");
    ad.expect(&["apply"], 0);
    ad.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn ad_refuses_plain_ldap_binds_in_words_and_starttls_works() {
    let ad = Ad::start("ad-tls").await;
    ad.serve(&[]).await;
    ad.write_config(&format!("url = \"{}\"", ad.domain.ldap_url), 1500);
    let out = ad.hrsync(&["plan"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("strong(er) authentication required")
            && stderr.contains("use ldaps:// or starttls = true"),
        "{stderr}"
    );
    ad.write_config(
        &format!("url = \"{}\"\nstarttls = true", ad.domain.ldap_url),
        1500,
    );
    ad.expect(&["plan"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn ad_ldif_applies_with_ldapmodify_and_leaves_passwords_to_apply() {
    let ad = Ad::start("ad-ldif").await;
    let mover = person("701", "Mo", "Ver", "Engineering", "Engineer");
    let leaver = person("702", "Lee", "Ver", "Sales", "Rep");
    ad.add_person(
        "mver",
        &mover,
        "Engineering",
        &["Staff", "Engineering", "VPN"],
    );
    ad.add_person("lver", &leaver, "Sales", &["Staff", "Sales"]);
    ad.serve(&[
        person("701", "Mo", "Ver", "Sales", "Rep"),
        terminated(leaver),
        person("703", "Jo", "Iner", "Sales", "Rep"),
    ])
    .await;

    let ldif = ad.expect(&["plan", "--format", "ldif"], 0);
    assert!(
        !ldif.to_lowercase().contains("unicodepwd"),
        "no password in LDIF:\n{ldif}"
    );
    assert!(
        ldif.contains("# left out: this step sets a random password"),
        "{ldif}"
    );
    let out = ad.domain.ldapmodify(&ldif);
    assert!(
        out.status.success(),
        "ldapmodify refused hrsync's LDIF: {out:?}\n{ldif}"
    );
    assert!(
        !ad.domain
            .can_bind(&format!("CN=Lee Ver,{}", ad.domain.disabled_dn), PASSWORD)
    );
    let joiner = ad.find("703");
    assert_eq!(
        ad.uac(&joiner.dn) & 2,
        2,
        "created disabled, waiting for a password"
    );

    // What is left is exactly the joiner's password-and-enable step.
    let json = ad.expect(&["plan", "--format", "json"], 0);
    let plan: Value = serde_json::from_str(&json).unwrap();
    let accounts = plan["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 1, "{plan:#}");
    assert_eq!(accounts[0]["employee_id"], "703");
    assert_eq!(accounts[0]["changes"][0]["action"], "enable");
    assert_eq!(accounts[0]["changes"][0]["set_password"], true);
    ad.expect(&["apply"], 0);
    assert_eq!(ad.uac(&joiner.dn), 512);
    ad.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn ad_saved_plans_and_bad_records_behave_as_on_openldap() {
    let ad = Ad::start("ad-saved").await;
    let pat = person("801", "Pat", "Plan", "Sales", "Rep");
    let dup = person("802", "Dup", "Licate", "Sales", "Rep");
    let pat_dn = ad.add_person("pplan", &pat, "Sales", &["Staff", "Sales"]);
    let dup_dn = ad.add_person("dlicate", &dup, "Sales", &["Staff", "Sales"]);
    // 801 changes title; 802 appears twice (terminated and active): unreadable, left alone.
    ad.serve(&[
        person("801", "Pat", "Plan", "Sales", "Senior Rep"),
        terminated(dup.clone()),
        dup,
    ])
    .await;
    let saved = ad.work.path().join("plan.json");
    let saved = saved.to_str().unwrap();
    let plan = ad.expect(&["plan", "--out", saved], 0);
    assert!(
        plan.contains("employee 802") && plan.contains("appears 2 times"),
        "{plan}"
    );

    let out = ad.domain.ldapmodify(&format!(
        "dn: {pat_dn}\nchangetype: modify\nreplace: title\ntitle: Edited\n"
    ));
    assert!(out.status.success(), "{out:?}");
    let refused = ad.hrsync(&["apply", "--plan", saved]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!(
            "{pat_dn}: the directory changed since the review: title changed"
        )),
        "{stderr}"
    );
    assert_eq!(
        ad.find("801").first("title"),
        Some("Edited"),
        "nothing applied"
    );

    ad.expect(&["plan", "--out", saved], 0);
    ad.expect(&["apply", "--plan", saved], 0);
    assert_eq!(ad.find("801").first("title"), Some("Senior Rep"));
    assert_eq!(
        ad.uac(&dup_dn),
        512,
        "the unreadable record's account is untouched"
    );
    assert!(ad.members("Sales").contains(&lower(&dup_dn)));
    assert!(ad.domain.can_bind(&dup_dn, PASSWORD));
}

#[tokio::test(flavor = "multi_thread")]
async fn ad_prehire_account_waits_disabled_until_the_start_date() {
    let ad = Ad::start("ad-prehire").await;
    let config = std::fs::read_to_string(&ad.config).unwrap();
    std::fs::write(
        &ad.config,
        format!("{config}\n[lifecycle]\nprehire_days = 7\n"),
    )
    .unwrap();
    #[allow(clippy::disallowed_methods)] // the test pins dates relative to the real today
    let today = chrono::Utc::now().date_naive();
    let mut hire = person("901", "Pre", "Hire", "Sales", "Rep");
    hire["hireDate"] = Value::String((today + chrono::Duration::days(5)).to_string());
    ad.serve(&[hire.clone()]).await;

    ad.expect(&["apply"], 0);
    let account = ad.find("901");
    assert_eq!(
        ad.uac(&account.dn) & 2,
        2,
        "created disabled before the start date"
    );
    assert!(
        ad.members("Sales").contains(&lower(&account.dn)),
        "ready with its groups"
    );
    ad.assert_converged();

    hire["hireDate"] = Value::String(today.to_string());
    ad.serve(&[hire]).await;
    let plan = ad.expect(&["plan"], 0);
    assert!(
        plan.contains("joiner ") && plan.contains("start date has come"),
        "{plan}"
    );
    ad.expect(&["apply"], 0);
    let account = ad.find("901");
    assert_eq!(ad.uac(&account.dn), 512, "enabled on the start date");
    assert_ne!(
        account.first("pwdLastSet"),
        Some("0"),
        "with a password hrsync set"
    );
    ad.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn ad_check_reports_an_active_directory_server_and_changes_nothing() {
    let ad = Ad::start("ad-check").await;
    ad.serve(&[person("701", "Che", "Cker", "Sales", "Rep")])
        .await;
    let out = ad.expect(&["check"], 0);
    assert!(out.contains("HR: ok"), "{out}");
    assert!(out.contains("  server: Active Directory"), "{out}");
    assert!(!out.contains("WARNING"), "the flavour matches:\n{out}");
    assert!(out.contains("  bound as: "), "{out}");
    assert!(
        out.contains("  managed groups: 4 found, 0 missing"),
        "{out}"
    );
    assert!(
        !out.contains("password policy"),
        "an OpenLDAP matter:\n{out}"
    );
    // Nothing was created.
    ad.expect(&["plan", "--detailed-exitcode"], 2);
}

/// A change the DC refuses (a title over the schema's rangeUpper of 128, which Samba answers with
/// "invalid attribute syntax") fails that account only: reported with the LDAP result, the other joiner is created with its groups, exit 3, and
/// the next run reports the same failure without touching anything else.
#[tokio::test(flavor = "multi_thread")]
async fn ad_a_refused_change_fails_that_account_only_with_exit_3() {
    let ad = Ad::start("ad-refused").await;
    let long_title = "Principal ".repeat(15); // 150 characters
    ad.serve(&[
        person("851", "Fine", "Joiner", "Sales", "Rep"),
        person("852", "Long", "Title", "Sales", long_title.trim()),
    ])
    .await;
    let out = ad.hrsync(&["apply", "--allow-limit", "create"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let failed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("! failed:"))
        .collect();
    assert!(
        failed.len() == 1
            && failed[0].contains("create cn=Long Title,")
            && failed[0].contains("invalid attribute syntax")
            && failed[0].contains("'title'"),
        "only the long title fails, with the DC's reason:\n{stdout}"
    );
    let fine = ad.find("851");
    assert!(ad.members("Staff").contains(&lower(&fine.dn)));
    assert!(ad.members("Sales").contains(&lower(&fine.dn)));
    let none = ad
        .domain
        .search(&ad.domain.base_dn, "(employeeID=852)", &["1.1"]);
    assert!(
        none.is_empty(),
        "the refused account was not created: {none:?}"
    );

    let again = ad.hrsync(&["apply", "--allow-limit", "create"]);
    assert_eq!(again.status.code(), Some(3));
    assert_eq!(
        ad.find("851").dn,
        fine.dn,
        "the good account is left as it is"
    );
}

/// Only hrsync lifts hrsync's locks, on Active Directory too: an account an admin disabled
/// (ACCOUNTDISABLE set by hand, the password long set) stays disabled whatever HR says, and
/// the plan says so; a leaver hrsync disabled comes back when rehired.
#[tokio::test(flavor = "multi_thread")]
async fn ad_an_admins_disable_holds_and_hrsyncs_own_is_lifted() {
    let ad = Ad::start("ad-admin-lock").await;
    let kim = person("1101", "Kim", "Locked", "Sales", "Rep");
    let lee = person("1102", "Lee", "Left", "Sales", "Rep");
    let kim_dn = ad.add_person("klocked", &kim, "Sales", &["Staff", "Sales"]);
    ad.add_person("lleft", &lee, "Sales", &["Staff", "Sales"]);
    ad.serve(&[kim.clone(), terminated(lee.clone())]).await;
    ad.expect(&["apply"], 0);
    // The incident: an admin disables Kim's account.
    let out = ad.domain.ldapmodify(&format!(
        "dn: {kim_dn}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n"
    ));
    assert!(out.status.success(), "{out:?}");
    // Lee is rehired.
    ad.serve(&[kim, lee]).await;
    let plan = ad.expect(&["plan"], 0);
    assert!(
        plan.contains("disabled outside hrsync while HR says active"),
        "{plan}"
    );
    ad.expect(&["apply"], 0);
    assert_eq!(ad.uac(&kim_dn), 514, "the admin's disable holds");
    let lee_now = ad.find("1102");
    assert_eq!(
        lee_now.first("userAccountControl"),
        Some("512"),
        "hrsync's own lock is lifted: {lee_now:?}"
    );
    let again = ad.expect(&["plan", "--detailed-exitcode"], 0);
    assert!(again.contains("disabled outside hrsync"), "{again}");
}

/// The run lease on Active Directory (a `container` entry under `users_base`): a live lease
/// from another host blocks apply with exit 5, an expired one is taken over, and a finished run
/// leaves none (issue 17, item 7). Before: no lease.
#[tokio::test(flavor = "multi_thread")]
async fn ad_the_run_lease_blocks_a_second_run_and_an_expired_one_is_taken_over() {
    let ad = Ad::start("ad-lease").await;
    ad.serve(&[person("801", "Lea", "Se", "Sales", "Rep")])
        .await;
    let lease = format!("CN=hrsync-lease,{}", ad.domain.base_dn);
    let seed = |expires: &str| {
        ad.domain.ldapadd(&format!(
            "dn: {lease}\nobjectClass: container\n\
             description: hrsync-lease holder=host=dc-batch pid=77 run=R1 expires={expires}\n"
        ));
    };
    seed("2099-01-01T00:00:00Z");
    let out = ad.hrsync(&["apply"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("host=dc-batch pid=77 run=R1, until 2099-01-01T00:00:00Z"),
        "{stderr}"
    );
    ad.expect(&["plan", "--detailed-exitcode"], 2);

    let out = ad.domain.ldapmodify(&format!(
        "dn: {lease}\nchangetype: modify\nreplace: description\n\
         description: hrsync-lease holder=host=dc-batch pid=77 run=R1 expires=2020-01-01T00:00:00Z\n"
    ));
    assert!(out.status.success(), "{out:?}");
    let out = ad.hrsync(&["apply"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("took over an expired run lease"),
        "{stderr}"
    );
    assert!(ad.domain.entry(&lease).is_none(), "lease released");
    ad.expect(&["plan", "--detailed-exitcode"], 0);
}

/// `hrsync sync` on AD (issue 18): a leaver read alone is locked out (a real bind fails with
/// data 533), stripped and moved, and a joiner read alone is named against a sAMAccountName
/// taken outside the users base, as a full run names them; an account nobody named is left.
#[tokio::test(flavor = "multi_thread")]
async fn ad_sync_locks_a_leaver_and_names_a_joiner_like_a_full_run() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let ad = Ad::start("ad-sync").await;
    let grace = person("201", "Grace", "Hopper", "Engineering", "Engineer");
    let bob = person("301", "Bob", "Builder", "Sales", "Rep");
    let grace_dn = ad.add_person("ghopper", &grace, "Engineering", &["Staff", "Engineering"]);
    let bob_dn = ad.add_person("bbuilder", &bob, "Sales", &["Staff", "Sales"]);
    ad.domain.ldapadd(&format!(
        "dn: CN=Someone Else,CN=Users,{}\nobjectClass: user\nsAMAccountName: alovelace\n",
        ad.domain.domain_dn
    ));
    let config = std::fs::read_to_string(&ad.config).unwrap();
    let single = format!(
        "records = \"/employees\"\nemployee_url = \"{}/one/{{id}}\"",
        ad.hr.uri()
    );
    std::fs::write(
        &ad.config,
        config.replacen("records = \"/employees\"", &single, 1),
    )
    .unwrap();
    for record in [
        terminated(bob.clone()),
        person("101", "Ada", "Lovelace", "Engineering", "Engineer"),
    ] {
        let id = record["id"].as_str().unwrap().to_string();
        Mock::given(method("GET"))
            .and(path(format!("/one/{id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(record))
            .mount(&ad.hr)
            .await;
    }
    let grace_before = ad.domain.entry(&grace_dn).unwrap();
    ad.expect(&["sync", "301", "101"], 0);

    let bob_now = format!("CN=Bob Builder,{}", ad.domain.disabled_dn);
    assert!(ad.domain.entry(&bob_dn).is_none(), "moved");
    let refused = ad.domain.bind_result(&bob_now, PASSWORD).unwrap_err();
    assert!(
        refused.contains("data 533"),
        "disabled, not a wrong password: {refused}"
    );
    assert!(!ad.members("Staff").iter().any(|m| m.contains("bob")));
    assert!(!ad.members("Sales").iter().any(|m| m.contains("bob")));
    let ada = ad.find("101");
    assert_eq!(
        ada.first("sAMAccountName"),
        Some("alovelace2"),
        "named past the taken one"
    );
    assert_eq!(ad.uac(&ada.dn), 512);
    assert!(ad.members("Engineering").contains(&lower(&ada.dn)));
    assert_eq!(
        ad.domain.entry(&grace_dn).unwrap().attrs,
        grace_before.attrs,
        "an account nobody named is not touched"
    );
}
