//! Bad HR data never becomes a wrong change: a failed fetch changes nothing, an unreadable record
//! leaves its account alone, and hostile values are escaped wherever they reach a DN or filter.

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::scenario::{HR_PATH, Scenario, person, terminated};

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_page_in_the_middle_of_the_fetch_changes_nothing_and_exits_1() {
    let s = Scenario::start("hrfail").await;
    s.write_config_with(
        "",
        "[hr.rest.pagination]\ntype = \"offset\"\noffset_param = \"offset\"\nlimit_param = \"limit\"\nlimit = 2\n",
    );
    // Three people in the directory; HR's first page would make two of them look like the whole
    // company if the failed second page were ignored.
    for (uid, id) in [("a.one", "1"), ("b.two", "2"), ("c.three", "3")] {
        let dn = s.dir.add_user(uid, id, None, "");
        s.add_member("staff", &dn);
    }
    let page = |records: Vec<Value>| {
        ResponseTemplate::new(200).set_body_json(json!({ "employees": records }))
    };
    Mock::given(method("GET"))
        .and(path(HR_PATH))
        .and(query_param("offset", "0"))
        .respond_with(page(vec![
            terminated(person("1", "A", "One", "Sales", "Rep")),
            person("4", "New", "Joiner", "Sales", "Rep"),
        ]))
        .mount(&s.hr)
        .await;
    Mock::given(method("GET"))
        .and(path(HR_PATH))
        .and(query_param("offset", "2"))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream timeout"))
        .mount(&s.hr)
        .await;

    let before = s.dump();
    for command in [&["plan"][..], &["apply"][..]] {
        let out = s.hrsync(command);
        assert_eq!(out.status.code(), Some(1), "{command:?} must fail: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("500"),
            "the error names the HTTP status: {stderr}"
        );
    }
    assert_eq!(s.dump(), before, "not a single change after a failed fetch");
}

#[tokio::test(flavor = "multi_thread")]
async fn unreadable_records_are_reported_by_id_and_their_accounts_left_alone() {
    let s = Scenario::start("badrecords").await;
    for (uid, id) in [("dup.licate", "801"), ("odd.status", "802")] {
        let dn = s.dir.add_user(uid, id, None, "");
        s.add_member("staff", &dn);
    }
    let mut odd = person("802", "Odd", "Status", "Sales", "Rep");
    odd["status"] = json!("Suspended pending review");
    let mut no_id = person("x", "No", "Id", "Sales", "Rep");
    no_id.as_object_mut().unwrap().remove("id");
    s.serve(&[
        terminated(person("801", "Dup", "Licate", "Sales", "Rep")),
        person("801", "Dup", "Licate", "Sales", "Rep"),
        odd,
        no_id,
        person("803", "Good", "Record", "Sales", "Rep"),
    ])
    .await;
    let protected = |s: &Scenario| {
        s.dump()
            .into_iter()
            .filter(|(dn, _)| {
                dn.starts_with("uid=dup.licate")
                    || dn.starts_with("uid=odd.status")
                    || dn.starts_with("cn=staff")
            })
            .map(|(dn, lines)| {
                (
                    dn,
                    lines
                        .into_iter()
                        .filter(|l| !l.contains("good.record"))
                        .collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>()
    };
    let before = protected(&s);

    let out = s.hrsync(&["apply"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("employee 801"),
        "duplicate id reported:\n{stdout}"
    );
    assert!(
        stdout.contains("employee 802"),
        "unknown status reported:\n{stdout}"
    );
    assert!(
        stderr.contains("Suspended pending review") || stdout.contains("Suspended pending review"),
        "the bad value is named"
    );
    assert_eq!(
        protected(&s),
        before,
        "accounts of unreadable records untouched"
    );
    assert!(
        s.dir
            .entry(&format!("uid=good.record,{}", s.ou("sales")))
            .is_some(),
        "the good record still proceeds"
    );
}

/// Names and ids that break naive DN or filter building.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_values_are_escaped_and_land_exactly_right() {
    let s = Scenario::start("hostile").await;
    // Name accounts by cn, so HR names go straight into DNs.
    let mappings = s.work.path().join("mappings/account.toml");
    let text = std::fs::read_to_string(&mappings).unwrap();
    let text = text
        .replace("[account]\n", "[account]\nrdn_attribute = \"cn\"\n")
        .replace(
            "uid = \"{first_name|ascii|lower|alnum}.{last_name|ascii|lower|alnum}\"\n",
            "",
        );
    std::fs::write(&mappings, text).unwrap();
    // An unrelated account that a filter injection such as "*)(uid=*" would reach.
    let bystander = s.dir.add_user("bystander", "zzz", None, "title: untouched");
    let people: Vec<(&str, &str, &str)> = vec![
        ("a+b", "John", "Smith, Jr"),
        ("#1", "Seán", "O'Brien"),
        ("*)(uid=*", " leading space", "Space"),
        ("back\\slash", "Back\\slash", "Zoë Ångström"),
        ("x=y,dc=evil", "a+b", "#1 <tag>;"),
    ];
    let records: Vec<Value> = people
        .iter()
        .map(|(id, first, last)| person(id, first, last, "Sales", "Rep"))
        .collect();
    s.serve(&records).await;
    let bystander_before = s.dir.entry(&bystander);

    // Five new accounts next to one managed account is over the `create` limit: allowed here.
    s.expect(&["apply", "--allow-limit", "create"], 0);
    for (id, first, last) in &people {
        let filter = format!("(employeeNumber={})", ldap3::ldap_escape(*id));
        let found = s.dir.search(
            s.base(),
            &filter,
            &["cn", "sn", "givenName", "employeeNumber"],
        );
        assert_eq!(
            found.len(),
            1,
            "exactly one account for id {id:?}: {found:?}"
        );
        let entry = &found[0];
        let cn = format!("{first} {last}");
        assert_eq!(entry.first("cn"), Some(cn.as_str()), "cn of {id:?}");
        assert_eq!(entry.first("sn"), Some(*last));
        assert_eq!(entry.first("givenname"), Some(*first));
        assert_eq!(entry.first("employeenumber"), Some(*id));
        let parsed = hrsync::dn::Dn::parse(&entry.dn).expect("server DN parses");
        assert_eq!(
            parsed.rdn_avas()[0].value.trim_start(),
            cn.trim_start(),
            "RDN of {id:?} is the cn: {}",
            entry.dn
        );
        assert_eq!(
            parsed.parent().unwrap(),
            hrsync::dn::Dn::parse(&s.ou("sales")).unwrap(),
            "{id:?} is in the sales OU, not somewhere a comma in the name pointed"
        );
    }
    let sales: Vec<_> = s
        .dir
        .search(&s.ou("sales"), "(objectClass=inetOrgPerson)", &["1.1"]);
    assert_eq!(sales.len(), people.len(), "nothing else was created");
    assert_eq!(
        s.dir.entry(&bystander),
        bystander_before,
        "bystander untouched"
    );
    s.assert_converged();

    // And they leave cleanly too: everyone at once is over the safety limits, so it needs the
    // admin's explicit go-ahead.
    let leavers: Vec<Value> = records.into_iter().map(terminated).collect();
    s.serve(&leavers).await;
    s.expect(&["apply"], 4);
    s.expect(
        &[
            "apply",
            "--allow-limit",
            "disable",
            "--allow-limit",
            "group_removal",
            "--allow-limit",
            "move",
        ],
        0,
    );
    let disabled = s.dir.search(
        &s.dir.disabled_dn,
        "(pwdAccountLockedTime=000001010000Z)",
        &["1.1"],
    );
    assert_eq!(disabled.len(), people.len());
    assert_eq!(
        s.dir.entry(&bystander),
        bystander_before,
        "bystander still untouched"
    );
    s.assert_converged();
}

/// Issue 16.10a: an OData date past the end of chrono's calendar panicked while reading HR, and
/// every run stopped with an error blaming the configuration. Now the record is left out, named
/// by id and field, and everyone else is planned and applied.
#[tokio::test(flavor = "multi_thread")]
async fn a_date_past_the_calendar_leaves_out_its_record_only() {
    let s = Scenario::start("baddate").await;
    let existing = s.dir.add_user("far.future", "902", None, "title: Rep");
    s.add_member("staff", &existing);
    let mut joiner = person("901", "Far", "Joiner", "Sales", "Rep");
    joiner["hireDate"] = json!("/Date(8210266876799999+0001)/");
    let mut leaver = terminated(person("902", "Far", "Future", "Sales", "Rep"));
    leaver["terminationDate"] = json!("/Date(-9223372036854775808)/");
    s.serve(&[
        joiner,
        leaver,
        person("903", "Good", "Record", "Sales", "Rep"),
    ])
    .await;
    let untouched = s.dir.entry(&existing);

    let plan = s.expect(&["plan"], 0);
    for (id, field) in [("901", "hire_date"), ("902", "termination_date")] {
        let line = plan
            .lines()
            .find(|l| l.contains(&format!("employee {id}")))
            .unwrap_or_else(|| panic!("employee {id} is not reported:\n{plan}"));
        assert!(
            line.contains(&format!("{field}: \"/Date(")) && line.contains("outside the years"),
            "the field and the value are named: {line}"
        );
    }
    s.expect(&["apply"], 0);
    assert_eq!(
        s.dir.entry(&existing),
        untouched,
        "902's account is left alone"
    );
    assert!(
        s.dir
            .search(s.base(), "(employeeNumber=901)", &["1.1"])
            .is_empty(),
        "no account for the unreadable joiner"
    );
    assert!(
        s.dir
            .entry(&format!("uid=good.record,{}", s.ou("sales")))
            .is_some(),
        "the good record is applied"
    );
}

/// Issue 16.10b: a right-to-left override (or any invisible format character) in a name passed
/// normalisation and reached `cn`, `sn` and the plan's text, where it reverses what follows it.
#[tokio::test(flavor = "multi_thread")]
async fn a_name_with_a_bidi_override_makes_no_account_and_is_named() {
    let s = Scenario::start("bidi").await;
    s.serve(&[
        person("911", "Eve", "Admin\u{202E}nimda", "Sales", "Rep"),
        person("912", "Zero", "Wi\u{200B}dth", "Sales", "Rep"),
        person("913", "Good", "Record", "Sales", "Rep"),
    ])
    .await;
    let out = s.hrsync(&["apply"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for (id, code) in [("911", "U+202E"), ("912", "U+200B")] {
        let line = stdout
            .lines()
            .find(|l| l.contains(&format!("employee {id}")))
            .unwrap_or_else(|| panic!("employee {id} is not reported:\n{stdout}"));
        assert!(
            line.contains("last_name: the value contains") && line.contains(code),
            "{line}"
        );
    }
    assert!(
        !stdout.contains('\u{202E}') && !stdout.contains('\u{200B}'),
        "the plan does not print them"
    );
    for (dn, lines) in s.dump() {
        assert!(
            !dn.contains('\u{202E}') && !lines.iter().any(|l| l.contains('\u{202E}')),
            "{dn}: {lines:?}"
        );
        assert!(!lines.iter().any(|l| l.contains('\u{200B}')), "{dn}");
    }
    for id in ["911", "912"] {
        let filter = format!("(employeeNumber={id})");
        assert!(s.dir.search(s.base(), &filter, &["1.1"]).is_empty(), "{id}");
    }
    assert!(
        s.dir
            .entry(&format!("uid=good.record,{}", s.ou("sales")))
            .is_some()
    );
}

/// The scenario's account mapping with `line` added to `[account.attributes]`.
fn with_account_attribute(s: &Scenario, line: &str) {
    let path = s.work.path().join("mappings/account.toml");
    let text = std::fs::read_to_string(&path).expect("read the account mapping");
    let text = text.replace(
        "[account.attributes]\n",
        &format!("[account.attributes]\n{line}\n"),
    );
    std::fs::write(&path, text).expect("write the account mapping");
}

/// Issue 16.10c: a title pasted raw into `seeAlso` named another entry (`cn=x,ou=admins,...`).
/// With `{title|dn}` it is one escaped value under `ou=roles`; without it `validate` refuses the
/// mapping, naming the key.
#[tokio::test(flavor = "multi_thread")]
async fn an_hr_value_in_a_dn_valued_attribute_is_escaped_or_refused() {
    let s = Scenario::start("dnvalue").await;
    let roles = format!("ou=roles,{}", s.base());
    s.serve(&[person("921", "Dee", "Enn", "Sales", "x,ou=admins")])
        .await;

    with_account_attribute(&s, &format!("seeAlso = \"cn={{title}},{roles}\""));
    let out = s.hrsync(&["validate"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("account.attributes.seeAlso") && all.contains("{title|dn}"),
        "{all}"
    );
    s.expect(&["plan"], 1);
    assert!(
        s.dir
            .search(s.base(), "(employeeNumber=921)", &["1.1"])
            .is_empty()
    );

    let path = s.work.path().join("mappings/account.toml");
    let text = std::fs::read_to_string(&path).expect("read the account mapping");
    std::fs::write(&path, text.replace("cn={title},", "cn={title|dn},")).expect("write");
    s.expect(&["validate"], 0);
    s.expect(&["apply"], 0);
    let found = s
        .dir
        .search(s.base(), "(employeeNumber=921)", &["seeAlso", "title"]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].first("title"), Some("x,ou=admins"));
    let see_also = found[0].first("seealso").expect("seeAlso is written");
    let dn = hrsync::dn::Dn::parse(see_also).expect("seeAlso is a DN");
    assert_eq!(dn.rdn_avas()[0].value, "x,ou=admins", "{see_also}");
    assert_eq!(
        dn.parent().expect("a parent").as_str().to_lowercase(),
        roles.to_lowercase(),
        "one entry under ou=roles, not under ou=admins: {see_also}"
    );
    s.assert_converged();
}
