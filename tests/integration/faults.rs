//! Faults on either side of a run, each asserted on the directory account by account: the HR API
//! failing in the middle of a fetch, slapd stopped in the middle of an apply, hrsync killed in the
//! middle of an apply, the directory edited between plan and apply, and operations the server
//! refuses (access rules, a constraint).
//!
//! These tests judge behaviour (exit codes, the directory afterwards, what the output names), not
//! the exact LDAP operations hrsync sends, so they hold however apply groups its operations.

// Test helpers outside #[test] functions: failing loudly is their error handling.
#![allow(clippy::panic, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::scenario::{
    BIND_PASSWORD_ENV, HR_PATH, HR_TOKEN, HR_TOKEN_ENV, Scenario, person, terminated,
};

// ---------------------------------------------------------------------------------------------
// HR faults: nothing changes, exit 1.

/// Offset paging with a total, two records a page, short retries and a short timeout, so a
/// failing page is detected (and given up on) quickly.
const PAGED_HR: &str = r#"
[hr.rest.pagination]
type = "offset"
offset_param = "offset"
limit_param = "limit"
limit = 2
total_ptr = "/total"

[hr.rest.retry]
max_attempts = 2
initial_backoff_ms = 10
max_backoff_ms = 20
max_total_secs = 10
"#;

/// Three accounts in step with HR, a fourth person joining and the first one leaving: a fetch
/// that silently dropped a page would still find work to do, so "nothing changed" means the
/// failure stopped the run.
async fn hr_fault_world(name: &str) -> (Scenario, Vec<Value>) {
    let s = Scenario::start(name).await;
    s.write_config_with("", PAGED_HR);
    for (uid, id) in [("a.one", "1"), ("b.two", "2"), ("c.three", "3")] {
        let dn = s.dir.add_user(uid, id, None, "");
        s.add_member("staff", &dn);
    }
    let records = vec![
        terminated(person("1", "A", "One", "Sales", "Rep")),
        person("4", "New", "Joiner", "Sales", "Rep"),
        person("2", "B", "Two", "Sales", "Rep"),
        person("3", "C", "Three", "Sales", "Rep"),
        person("5", "Other", "Joiner", "Engineering", "Engineer"),
    ];
    (s, records)
}

fn page_body(records: &[Value], offset: usize) -> Value {
    let end = (offset + 2).min(records.len());
    json!({ "total": records.len(), "employees": records[offset.min(end)..end] })
}

/// Serves the first page properly and `fault` for the page at offset 2.
async fn serve_with_faulty_second_page(s: &Scenario, records: &[Value], fault: ResponseTemplate) {
    s.hr.reset().await;
    for offset in [0usize, 4] {
        Mock::given(method("GET"))
            .and(path(HR_PATH))
            .and(query_param("offset", offset.to_string().as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(page_body(records, offset)))
            .mount(&s.hr)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(HR_PATH))
        .and(query_param("offset", "2"))
        .respond_with(fault)
        .mount(&s.hr)
        .await;
}

/// `plan` and `apply` both exit 1 naming `expected` on stderr, and the directory is dumped
/// identical before and after.
fn assert_fetch_fails_without_change(s: &Scenario, what: &str, expected: &[&str]) {
    let before = s.dump();
    for command in [&["plan"][..], &["apply", "--allow-limit", "create"][..]] {
        let out = s.hrsync(command);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}: {command:?} must fail\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(
            stderr.contains("nothing was changed"),
            "{what}: says nothing changed: {stderr}"
        );
        for needle in expected {
            assert!(
                stderr.contains(needle),
                "{what}: the error names {needle:?}: {stderr}"
            );
        }
    }
    assert_eq!(s.dump(), before, "{what}: not a single change");
}

#[tokio::test(flavor = "multi_thread")]
async fn hr_5xx_timeout_or_empty_page_in_the_middle_changes_nothing_and_exits_1() {
    let (s, records) = hr_fault_world("hrfaults").await;

    // Sanity: the same world with a healthy second page has changes to make, so "no change"
    // below is the failure's doing.
    serve_with_faulty_second_page(
        &s,
        &records,
        ResponseTemplate::new(200).set_body_json(page_body(&records, 2)),
    )
    .await;
    let healthy = s.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        healthy.contains("new.joiner") && healthy.contains("other.joiner"),
        "{healthy}"
    );

    serve_with_faulty_second_page(
        &s,
        &records,
        ResponseTemplate::new(503).set_body_string("upstream unavailable"),
    )
    .await;
    assert_fetch_fails_without_change(&s, "503", &["503"]);

    serve_with_faulty_second_page(
        &s,
        &records,
        ResponseTemplate::new(500).set_body_string("internal error"),
    )
    .await;
    assert_fetch_fails_without_change(&s, "500", &["500"]);

    // Slower than the HR timeout, on every attempt.
    s.write_config_with("", &format!("{PAGED_HR}\n"));
    let config = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        config.replace("[hr.rest]\n", "[hr.rest]\ntimeout_secs = 1\n"),
    )
    .unwrap();
    serve_with_faulty_second_page(
        &s,
        &records,
        ResponseTemplate::new(200)
            .set_body_json(page_body(&records, 2))
            .set_delay(Duration::from_secs(3)),
    )
    .await;
    assert_fetch_fails_without_change(&s, "timeout", &["page 2"]);

    // An empty page where the total says more records follow: not the end of the list.
    serve_with_faulty_second_page(
        &s,
        &records,
        ResponseTemplate::new(200)
            .set_body_json(json!({ "total": records.len(), "employees": [] })),
    )
    .await;
    assert_fetch_fails_without_change(&s, "empty page", &["5"]);

    // The body is cut short: not JSON.
    let full = serde_json::to_string(&page_body(&records, 2)).unwrap();
    serve_with_faulty_second_page(
        &s,
        &records,
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/json")
            .set_body_string(&full[..full.len() / 2]),
    )
    .await;
    assert_fetch_fails_without_change(&s, "truncated JSON", &["page 2"]);
}

/// A raw HTTP server for what wiremock cannot do: a response whose body stops before its
/// Content-Length (the connection is cut mid-transfer). Every request for offset 2 gets that;
/// the others get `page`'s answer.
fn cutting_server(records: Vec<Value>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // Skip the headers.
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line == "\r\n" => break,
                    Ok(_) => {}
                }
            }
            let offset = if request_line.contains("offset=4") {
                4
            } else if request_line.contains("offset=2") {
                2
            } else {
                0
            };
            let body = serde_json::to_string(&page_body(&records, offset)).expect("json");
            let sent = if offset == 2 {
                &body[..body.len() / 2]
            } else {
                &body[..]
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(sent.as_bytes());
            let _ = stream.flush();
            // Dropping the stream closes the connection with the body incomplete.
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn hr_connection_cut_mid_body_changes_nothing_and_exits_1() {
    let (s, records) = hr_fault_world("hrcut").await;
    let url = cutting_server(records);
    let config = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(&s.config, config.replace(&s.hr.uri(), &url)).unwrap();
    assert!(std::fs::read_to_string(&s.config).unwrap().contains(&url));
    assert_fetch_fails_without_change(&s, "body cut short", &["page 2"]);
}

// ---------------------------------------------------------------------------------------------
// Faults in the middle of an apply.

const JOINERS: usize = 900;
const MOVERS: usize = 150;
const LEAVERS: usize = 150;

/// What one account must look like once hrsync has converged.
#[derive(Debug, Clone)]
struct Expected {
    /// Parent OU of the account (lowercase).
    ou: String,
    /// Managed groups (cn) the account must be in; all other managed groups it must not be.
    groups: BTreeSet<&'static str>,
    title: String,
    disabled: bool,
}

/// A company big enough that an apply takes seconds: JOINERS joiners, MOVERS sales reps who
/// move to engineering and LEAVERS who leave. Returns the HR records and the expected final
/// state by employee id.
async fn big_company(s: &Scenario) -> (Vec<Value>, BTreeMap<String, Expected>) {
    let mut records = Vec::new();
    let mut expected = BTreeMap::new();
    let mut ldif = String::new();
    let mut seeded = Vec::new();
    for i in 0..MOVERS + LEAVERS {
        let id = format!("{}", 5000 + i);
        let (first, last) = if i < MOVERS {
            ("Mover", format!("M{id}"))
        } else {
            ("Leaver", format!("L{id}"))
        };
        let uid = format!("{}.{}", first.to_lowercase(), last.to_lowercase());
        let dn = format!("uid={uid},{}", s.ou("sales"));
        ldif.push_str(&format!(
            "dn: {dn}\nobjectClass: inetOrgPerson\nuid: {uid}\nemployeeNumber: {id}\n\
             cn: {first} {last}\nsn: {last}\ngivenName: {first}\ntitle: Rep\n\
             departmentNumber: Sales\n\n"
        ));
        seeded.push(dn);
        if i < MOVERS {
            records.push(person(&id, first, &last, "Engineering", "Engineer"));
            expected.insert(
                id,
                Expected {
                    ou: s.ou("engineering").to_lowercase(),
                    groups: ["staff", "engineering", "vpn"].into(),
                    title: "Engineer".into(),
                    disabled: false,
                },
            );
        } else {
            records.push(terminated(person(&id, first, &last, "Sales", "Rep")));
            expected.insert(
                id,
                Expected {
                    ou: s.dir.disabled_dn.to_lowercase(),
                    groups: BTreeSet::new(),
                    title: "Rep".into(),
                    disabled: true,
                },
            );
        }
    }
    s.dir.ldapadd(&ldif);
    for group in ["staff", "sales"] {
        let mut change = format!("dn: {}\nchangetype: modify\nadd: member\n", s.group(group));
        for dn in &seeded {
            change.push_str(&format!("member: {dn}\n"));
        }
        let out = s.dir.ldapmodify(&change);
        assert!(out.status.success(), "{out:?}");
    }
    for i in 0..JOINERS {
        let id = format!("{}", 1000 + i);
        let engineering = i % 2 == 0;
        let (department, title, ou, groups): (_, _, _, BTreeSet<&'static str>) = if engineering {
            (
                "Engineering",
                "Engineer",
                "engineering",
                ["staff", "engineering", "vpn"].into(),
            )
        } else {
            ("Sales", "Rep", "sales", ["staff", "sales"].into())
        };
        records.push(person(&id, "Join", &format!("J{id}"), department, title));
        expected.insert(
            id,
            Expected {
                ou: s.ou(ou).to_lowercase(),
                groups,
                title: title.into(),
                disabled: false,
            },
        );
    }
    (records, expected)
}

const ALLOW_ALL: [&str; 8] = [
    "--allow-limit",
    "create",
    "--allow-limit",
    "disable",
    "--allow-limit",
    "group_removal",
    "--allow-limit",
    "move",
];

/// Every expected account exists exactly once, where it belongs, in exactly its managed groups,
/// with its title, locked exactly when it should be.
fn assert_company(s: &Scenario, expected: &BTreeMap<String, Expected>) {
    let entries = s.dir.search(
        s.base(),
        "(objectClass=inetOrgPerson)",
        &["employeeNumber", "title", "pwdAccountLockedTime"],
    );
    let mut by_id: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for entry in entries {
        let id = entry.first("employeeNumber").unwrap_or("").to_string();
        by_id.entry(id).or_default().push(entry);
    }
    let members: BTreeMap<&str, BTreeSet<String>> = ["staff", "engineering", "sales", "vpn"]
        .into_iter()
        .map(|g| (g, s.dir.group_members(&s.group(g))))
        .collect();
    let mut wrong = Vec::new();
    for (id, want) in expected {
        let Some(found) = by_id.get(id) else {
            wrong.push(format!("{id}: no account"));
            continue;
        };
        if found.len() != 1 {
            wrong.push(format!("{id}: {} accounts", found.len()));
            continue;
        }
        let entry = &found[0];
        let dn = entry.dn.to_lowercase();
        let parent = dn.split_once(',').map(|(_, p)| p).unwrap_or("");
        if parent != want.ou {
            wrong.push(format!("{id}: in {parent}, expected {}", want.ou));
        }
        for (group, holders) in &members {
            if holders.contains(&dn) != want.groups.contains(group) {
                wrong.push(format!(
                    "{id}: member of {group} is {}, expected {}",
                    holders.contains(&dn),
                    want.groups.contains(group)
                ));
            }
        }
        if entry.first("title") != Some(want.title.as_str()) {
            wrong.push(format!("{id}: title {:?}", entry.first("title")));
        }
        if entry.has("pwdAccountLockedTime") != want.disabled {
            wrong.push(format!("{id}: locked is {}", !want.disabled));
        }
    }
    // No member value points at nothing (an old DN left behind by a move cut short would
    // hand the group to whoever is created under that name later).
    let existing: BTreeSet<String> = by_id
        .values()
        .flatten()
        .map(|e| e.dn.to_lowercase())
        .chain([s.seed_member().to_lowercase()])
        .collect();
    for (group, holders) in &members {
        let dangling: Vec<_> = holders.difference(&existing).collect();
        assert!(
            dangling.is_empty(),
            "{group} holds values that are no entry: {dangling:?}"
        );
    }
    let extra: Vec<_> = by_id
        .keys()
        .filter(|id| !expected.contains_key(*id))
        .collect();
    assert!(extra.is_empty(), "accounts nobody asked for: {extra:?}");
    assert!(
        wrong.is_empty(),
        "{} account(s) wrong, first ones:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(30)].join("\n")
    );
}

/// Runs `hrsync apply` in the background with stdout and stderr in files (the plan of a big
/// company is larger than a pipe's buffer).
fn spawn_apply(s: &Scenario, args: &[&str], tag: &str) -> Child {
    let stdout = std::fs::File::create(s.work.path().join(format!("{tag}.out"))).unwrap();
    let stderr = std::fs::File::create(s.work.path().join(format!("{tag}.err"))).unwrap();
    Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .arg("--config")
        .arg(&s.config)
        .arg("apply")
        .args(args)
        .env(BIND_PASSWORD_ENV, &s.dir.admin_password)
        .env(HR_TOKEN_ENV, HR_TOKEN)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("spawn hrsync")
}

/// ADD requests in slapd's log so far.
fn adds_in_log(s: &Scenario) -> usize {
    let log = s.dir.log_file.clone().expect("own slapd has a log");
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(&log) {
        let _ = f.read_to_string(&mut text);
    }
    text.matches(" ADD dn=").count()
}

/// Waits until slapd's log shows `count` more ADD requests than `baseline` (the requests, not
/// their results: close enough to land a fault in the middle) and returns how many.
fn wait_for_adds(s: &Scenario, child: &mut Child, baseline: usize, count: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let adds = adds_in_log(s) - baseline;
        if adds >= count {
            return adds;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("hrsync ended ({status}) before {count} ADDs reached the server ({adds})");
        }
        assert!(Instant::now() < deadline, "only {adds} ADDs after 120 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until the run lease is gone or expired (at most 60 s): a run that was killed, or
/// lost its connection, could not release it (it expires after `lease_secs`).
fn wait_for_lease_expiry(s: &Scenario) {
    let dn = format!("cn=hrsync-lease,{}", s.base());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let expires = s.dir.entry(&dn).and_then(|e| {
            let value = e.first("description")?.to_string();
            let (_, at) = value.rsplit_once(" expires=")?;
            chrono::DateTime::parse_from_rfc3339(at).ok()
        });
        #[allow(clippy::disallowed_methods)]
        let now = chrono::Utc::now();
        match expires {
            Some(at) if at > now => {}
            _ => return,
        }
        assert!(Instant::now() < deadline, "the lease {dn} did not expire");
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn wait_with_timeout(child: &mut Child, secs: u64) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("hrsync did not finish within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The changes an apply named, from its output: applied (stderr log, one JSON line per change
/// that took effect) and failed or not attempted (the stdout report, one line each).
#[derive(Debug, Default)]
struct Reported {
    applied: BTreeSet<String>,
    failed: BTreeSet<String>,
    /// Sent, never answered: may or may not have taken effect.
    unanswered: BTreeSet<String>,
    not_attempted: BTreeSet<String>,
}

fn reported(dir: &Path, tag: &str) -> Reported {
    let stdout = std::fs::read_to_string(dir.join(format!("{tag}.out"))).unwrap();
    let stderr = std::fs::read_to_string(dir.join(format!("{tag}.err"))).unwrap();
    let mut r = Reported::default();
    for line in stderr.lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if event["target"] == "hrsync::apply" && event["level"] == "INFO" {
            if let Some(message) = event["fields"]["message"].as_str() {
                r.applied.insert(message.to_string());
            }
        }
    }
    for line in stdout.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("! failed: ") {
            // "description: error"; descriptions hold DNs with commas but no ": ".
            let description = rest.split_once(": ").map_or(rest, |(d, _)| d);
            r.failed.insert(description.to_string());
        } else if let Some(rest) = line
            .trim_start()
            .strip_prefix("! no answer (may or may not have taken effect; the next run checks): ")
        {
            let description = rest.split_once(": ").map_or(rest, |(d, _)| d);
            r.unanswered.insert(description.to_string());
        } else if let Some(rest) = line
            .trim_start()
            .strip_prefix("! not attempted (an earlier change of the account failed): ")
        {
            r.not_attempted.insert(rest.to_string());
        }
    }
    r
}

/// What the directory says about one reported change: `Some(true)` it took effect, `Some(false)`
/// it did not, `None` for changes this check does not judge. Creates and group additions are
/// judged: they are most of a big company's changes and their effect is unambiguous.
fn took_effect(s: &Scenario, description: &str) -> Option<bool> {
    if let Some(dn) = description.strip_prefix("create ") {
        return Some(s.dir.entry(dn).is_some());
    }
    let rest = description.strip_prefix("add ")?;
    let (member, group) = rest.split_once(" to ")?;
    let group_dn = group.trim();
    if !group_dn.starts_with("cn=") {
        return None;
    }
    Some(
        s.dir
            .group_members(group_dn)
            .contains(&member.to_lowercase()),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn slapd_stopped_mid_apply_exits_3_names_what_applied_and_the_next_run_converges() {
    let s = Scenario::start_own("slapdstop").await;
    // The run loses its connection with its lease: the next one waits for it to expire.
    s.write_config("lease_secs = 10");
    let (records, expected) = big_company(&s).await;
    s.serve(&records).await;

    let baseline = adds_in_log(&s);
    let mut child = spawn_apply(&s, &ALLOW_ALL, "first");
    let adds = wait_for_adds(&s, &mut child, baseline, 200);
    s.dir.stop();
    std::thread::sleep(Duration::from_millis(500));
    s.dir.restart();
    let status = wait_with_timeout(&mut child, 300);
    let first = reported(s.work.path(), "first");
    assert_eq!(
        status.code(),
        Some(3),
        "exit 3 after the server went away mid-apply ({adds} ADDs had reached it); {} applied, {} failed",
        first.applied.len(),
        first.failed.len()
    );
    assert!(
        !first.applied.is_empty(),
        "some changes applied before the stop"
    );
    assert!(!first.failed.is_empty(), "the stop failed some changes");
    let summary = std::fs::read_to_string(s.work.path().join("first.out")).unwrap();
    let counted = format!(
        "applied {} change(s), {} failed or not attempted",
        first.applied.len(),
        first.failed.len() + first.unanswered.len() + first.not_attempted.len()
    );
    assert!(
        summary.contains(&counted),
        "the summary counts what the lines name ({counted})"
    );
    eprintln!(
        "slapd stopped after {adds} ADDs: applied {}, failed {}, unanswered {}, not attempted {}",
        first.applied.len(),
        first.failed.len(),
        first.unanswered.len(),
        first.not_attempted.len()
    );
    assert!(first.applied.is_disjoint(&first.failed));
    assert!(first.applied.is_disjoint(&first.not_attempted));
    assert!(first.applied.is_disjoint(&first.unanswered));
    // Only what was in flight when the server went away can be in doubt: at most one change
    // per account being applied concurrently (directory.max_concurrent_accounts, default 8).
    assert!(
        first.unanswered.len() <= 8,
        "in doubt: {:?}",
        first.unanswered
    );

    // What the output says matches the directory, change by change.
    let mut mismatches = Vec::new();
    let mut judged = 0;
    for (description, claimed) in first.applied.iter().map(|d| (d, true)).chain(
        first
            .failed
            .iter()
            .chain(&first.not_attempted)
            .map(|d| (d, false)),
    ) {
        if let Some(effect) = took_effect(&s, description) {
            judged += 1;
            if effect != claimed {
                mismatches.push(format!(
                    "reported applied={claimed}, in the directory {effect}: {description}"
                ));
            }
        }
    }
    assert!(judged > 200, "only {judged} changes judged");
    assert!(
        mismatches.is_empty(),
        "the report disagrees with the directory:\n{}",
        mismatches.join("\n")
    );

    // The next run does the rest, and nothing the first run applied is applied again.
    wait_for_lease_expiry(&s);
    let second = spawn_apply(&s, &ALLOW_ALL, "second");
    let status = wait_with_timeout(&mut { second }, 300);
    let again = reported(s.work.path(), "second");
    assert_eq!(status.code(), Some(0), "second run: {again:?}");
    let twice: Vec<_> = first.applied.intersection(&again.applied).collect();
    assert!(twice.is_empty(), "applied twice: {twice:?}");
    assert_company(&s, &expected);
    s.assert_converged();
}

#[tokio::test(flavor = "multi_thread")]
async fn hrsync_killed_mid_apply_and_the_next_run_converges() {
    let s = Scenario::start_own("sigkill").await;
    s.write_config("lease_secs = 10");
    let (records, expected) = big_company(&s).await;
    s.serve(&records).await;

    let baseline = adds_in_log(&s);
    let mut child = spawn_apply(&s, &ALLOW_ALL, "killed");
    wait_for_adds(&s, &mut child, baseline, 200);
    // Child::kill is SIGKILL on Unix: no handler, no cleanup.
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "killed, not finished: {status}"
    );
    // Half done: some joiners exist, not all.
    let created = s.dir.search(s.base(), "(uid=join.*)", &["1.1"]).len();
    assert!(
        created > 0 && created < JOINERS,
        "{created} joiners created before the kill"
    );

    // The killed run's lease blocks the next run until it expires, then is taken over.
    let blocked = s.hrsync(&["apply"]);
    let stderr = String::from_utf8_lossy(&blocked.stderr);
    assert_eq!(blocked.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("another run holds the lease"), "{stderr}");
    wait_for_lease_expiry(&s);
    let second = spawn_apply(&s, &ALLOW_ALL, "after");
    let status = wait_with_timeout(&mut { second }, 300);
    let log = std::fs::read_to_string(s.work.path().join("after.err")).unwrap();
    assert!(log.contains("took over an expired run lease"), "taken over");
    assert_eq!(
        status.code(),
        Some(0),
        "{:?}",
        reported(s.work.path(), "after")
    );
    assert_company(&s, &expected);
    s.assert_converged();
}

// ---------------------------------------------------------------------------------------------
// Operations the server refuses.

const SERVICE_PASSWORD: &str = "svc-Pw-4b1e9d";

#[tokio::test(flavor = "multi_thread")]
async fn refused_by_an_access_rule_or_a_constraint_those_accounts_fail_the_rest_proceed_exit_3() {
    let s = Scenario::start_own("refused").await;
    // hrsync binds as a service account that may manage the test's subtree, except the sales
    // OU (read only), and slapd's constraint overlay refuses titles over 30 bytes.
    let service = format!("cn=hrsync-svc,{}", s.base());
    s.dir.ldapadd(&format!(
        "dn: {service}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n\
         cn: hrsync-svc\nuserPassword: {SERVICE_PASSWORD}\n"
    ));
    let sales = s.ou("sales");
    let base = s.base().to_string();
    s.dir.reconfigure(|conf| {
        let rules = format!(
            "access to dn.subtree=\"{sales}\"\n    by dn.exact=\"{service}\" read\n    by * break\n\
             access to dn.subtree=\"{base}\"\n    by dn.exact=\"{service}\" manage\n    by * break\n\n\
             access to attrs=userPassword\n"
        );
        let conf = conf
            .replacen("access to attrs=userPassword\n", &rules, 1)
            .replacen(
                "moduleload ppolicy\n",
                "moduleload ppolicy\nmoduleload constraint\n",
                1,
            );
        format!("{conf}\noverlay constraint\nconstraint_attribute title size 30\n")
    });
    let config = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        config.replace(
            &format!("bind_dn = \"{}\"", s.dir.admin_dn),
            &format!("bind_dn = \"{service}\""),
        ),
    )
    .unwrap();
    let long_title = "Principal Engineer, Platform Reliability"; // 40 bytes
    // Accounts already there, as the rules would have made them, so that only the title
    // changes below are pending for them: one sales rep and two engineers.
    let existing = |uid: &str, id: &str, first: &str, last: &str, dept: &str, title: &str| {
        let ou = dept.to_lowercase();
        let dn = format!("uid={uid},{}", s.ou(&ou));
        s.dir.ldapadd(&format!(
            "dn: {dn}\nobjectClass: inetOrgPerson\nuid: {uid}\nemployeeNumber: {id}\n\
             cn: {first} {last}\nsn: {last}\ngivenName: {first}\ntitle: {title}\n\
             mail: {}.{id}@example.org\ndepartmentNumber: {dept}\nemployeeType: Full-Time\n",
            first.to_lowercase()
        ));
        let groups: &[&str] = if ou == "sales" {
            &["staff", "sales"]
        } else {
            &["staff", "engineering", "vpn"]
        };
        for g in groups {
            s.add_member(g, &dn);
        }
        dn
    };
    let sal_old = existing("sal.old", "905", "Sal", "Old", "Sales", "Rep");
    let eng_long = existing("eng.long", "904", "Eng", "Long", "Engineering", "Engineer");
    let eng_ok = existing("eng.ok", "906", "Eng", "Ok", "Engineering", "Engineer");
    let records = [
        person("901", "Eng", "Fine", "Engineering", "Engineer"),
        person("902", "Sal", "Refused", "Sales", "Rep"),
        person("903", "Eng", "Verbose", "Engineering", long_title),
        person("904", "Eng", "Long", "Engineering", long_title),
        person("905", "Sal", "Old", "Sales", "Senior Rep"),
        person("906", "Eng", "Ok", "Engineering", "Staff Engineer"),
    ];
    s.serve(&records).await;
    let run = |tag: &str| {
        let out = s.hrsync_with_env(
            &[
                "apply",
                "--allow-limit",
                "create",
                "--allow-limit",
                "update",
            ],
            &[(BIND_PASSWORD_ENV, SERVICE_PASSWORD)],
        );
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(3),
            "{tag}: exit 3\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let stdout = run("first run");
    let failed_lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("! failed:"))
        .collect();
    let refused_create = format!("uid=sal.refused,{sales}");
    let verbose = format!("uid=eng.verbose,{}", s.ou("engineering"));
    for (dn, reason) in [
        (&refused_create, "insufficient access rights"),
        (&verbose, "constraint violation"),
        (&eng_long, "constraint violation"),
        (&sal_old, "insufficient access rights"),
    ] {
        assert!(
            failed_lines
                .iter()
                .any(|l| l.contains(dn.as_str()) && l.contains(reason)),
            "{dn} reported failed with {reason}:\n{stdout}"
        );
    }
    let fine = format!("uid=eng.fine,{}", s.ou("engineering"));
    for line in &failed_lines {
        assert!(
            !line.contains(&fine) && !line.contains(&eng_ok),
            "only the refused accounts fail: {line}"
        );
    }

    let check = |s: &Scenario| {
        // Applied: the joiner in engineering with its groups, the short title.
        assert!(s.dir.entry(&fine).is_some(), "eng.fine created");
        for g in ["staff", "engineering", "vpn"] {
            assert!(
                s.dir
                    .group_members(&s.group(g))
                    .contains(&fine.to_lowercase()),
                "eng.fine in {g}"
            );
        }
        assert_eq!(
            s.dir.entry(&eng_ok).unwrap().first("title"),
            Some("Staff Engineer")
        );
        // Refused: no account, no membership, the old values.
        assert!(s.dir.entry(&refused_create).is_none());
        assert!(
            s.dir
                .search(s.base(), "(employeeNumber=902)", &["1.1"])
                .is_empty()
        );
        assert_eq!(s.dir.entry(&sal_old).unwrap().first("title"), Some("Rep"));
        assert_eq!(
            s.dir.entry(&eng_long).unwrap().first("title"),
            Some("Engineer")
        );
        for g in ["staff", "sales"] {
            assert!(
                !s.dir
                    .group_members(&s.group(g))
                    .contains(&refused_create.to_lowercase()),
                "the refused joiner is in no group"
            );
        }
    };
    check(&s);
    // The account whose create was refused on its title: maybe created without it, never with
    // a wrong title, and never in groups without its account.
    let verbose_entry = s.dir.entry(&verbose);
    assert!(verbose_entry.is_none(), "{verbose_entry:?}");

    // Again: the same refusals, nothing else done or undone.
    let before = s.dump();
    let again = run("second run");
    assert!(again.contains("insufficient access rights") && again.contains("constraint violation"));
    assert_eq!(s.dump(), before, "a repeated run changes nothing");
    check(&s);
}

// ---------------------------------------------------------------------------------------------
// The directory changes between plan and apply.

#[tokio::test(flavor = "multi_thread")]
async fn drift_after_review_refuses_the_saved_plan_naming_each_account_and_a_fresh_apply_replans() {
    let s = Scenario::start("drift").await;
    let edited = s
        .dir
        .add_user("ed.ited", "401", None, "cn: Ed Ited\nsn: Ited\ntitle: Old");
    let deleted = s.dir.add_user(
        "del.eted",
        "402",
        None,
        "cn: Del Eted\nsn: Eted\ntitle: Old",
    );
    let untouched = s.dir.add_user(
        "un.touched",
        "404",
        None,
        "cn: Un Touched\nsn: Touched\ntitle: Old",
    );
    s.serve(&[
        person("401", "Ed", "Ited", "Sales", "New"),
        person("402", "Del", "Eted", "Sales", "New"),
        person("403", "Joi", "Ner", "Sales", "Rep"),
        person("404", "Un", "Touched", "Sales", "New"),
    ])
    .await;
    let saved = s.work.path().join("reviewed.json");
    let saved = saved.to_str().unwrap();
    s.expect(&["plan", "--out", saved], 0);

    // After the review: an admin edits one account, deletes another, and creates the joiner's
    // account by hand.
    assert!(
        s.dir
            .ldapmodify(&format!(
                "dn: {edited}\nchangetype: modify\nreplace: title\ntitle: By hand\n"
            ))
            .status
            .success()
    );
    assert!(
        s.dir
            .ldapmodify(&format!("dn: {deleted}\nchangetype: delete\n"))
            .status
            .success()
    );
    let by_hand = format!("uid=joi.ner,{}", s.ou("sales"));
    s.dir.ldapadd(&format!(
        "dn: {by_hand}\nobjectClass: inetOrgPerson\nuid: joi.ner\ncn: Joi Ner\nsn: Ner\nemployeeNumber: 403\n"
    ));
    let before = s.dump();
    let out = s.hrsync(&["apply", "--plan", saved]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for expected in [
        format!("{edited}: the directory changed since the review: title changed"),
        format!("{deleted}: the account no longer exists"),
        format!("{by_hand}: the directory changed since the review: an account exists now"),
    ] {
        assert!(stderr.contains(&expected), "names {expected:?}: {stderr}");
    }
    assert!(
        !stderr.contains(&format!("{untouched} ")),
        "the untouched account is not named: {stderr}"
    );
    assert_eq!(
        s.dump(),
        before,
        "nothing of the saved plan applied, not even the untouched account"
    );

    // A fresh apply plans against what is there now.
    s.expect(
        &[
            "apply",
            "--allow-limit",
            "create",
            "--allow-limit",
            "update",
        ],
        0,
    );
    // (Moved to the sales OU on the way.)
    for id in ["401", "404"] {
        let found = s
            .dir
            .search(s.base(), &format!("(employeeNumber={id})"), &["title"]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].first("title"), Some("New"), "{id}");
    }
    let joiner = s.dir.search(s.base(), "(employeeNumber=403)", &["title"]);
    assert_eq!(
        joiner.len(),
        1,
        "the hand-made account is adopted, not duplicated: {joiner:?}"
    );
    assert_eq!(joiner[0].first("title"), Some("Rep"));
    let recreated = s.dir.search(s.base(), "(employeeNumber=402)", &["title"]);
    assert_eq!(recreated.len(), 1, "{recreated:?}");
    s.assert_converged();
}

/// The state a move cut short leaves on OpenLDAP (the entry under its new DN, the groups still
/// listing the old one) is repaired by the next run: no value points at nothing afterwards,
/// and the old name hands no group to an account created under it later.
#[tokio::test(flavor = "multi_thread")]
async fn member_values_left_behind_by_a_move_cut_short_are_repaired_on_slapd() {
    let s = Scenario::start("stalemember").await;
    let old = format!("uid=ada.move,{}", s.ou("engineering"));
    let moved = format!("uid=ada.move,{}", s.ou("sales"));
    s.dir.ldapadd(&format!(
        "dn: {moved}\nobjectClass: inetOrgPerson\nuid: ada.move\nemployeeNumber: 31\n\
         cn: Ada Move\nsn: Move\ngivenName: Ada\ntitle: Rep\nmail: ada.31@example.org\n\
         departmentNumber: Sales\nemployeeType: Full-Time\n"
    ));
    // Kept group (staff) and dropped groups (engineering, vpn) still name the old DN; sales
    // already names the new one.
    for g in ["staff", "engineering", "vpn"] {
        s.add_member(g, &old);
    }
    s.add_member("sales", &moved);
    s.serve(&[person("31", "Ada", "Move", "Sales", "Rep")])
        .await;

    let plan = s.expect(&["plan"], 0);
    assert!(
        plan.contains(&format!("is no entry: a move of {moved}")),
        "{plan}"
    );
    s.expect(&["apply"], 0);
    let old_lower = old.to_lowercase();
    for g in ["staff", "engineering", "vpn", "sales"] {
        assert!(
            !s.dir.group_members(&s.group(g)).contains(&old_lower),
            "{g} no longer names the old DN"
        );
    }
    for (g, member) in [
        ("staff", true),
        ("sales", true),
        ("engineering", false),
        ("vpn", false),
    ] {
        assert_eq!(
            s.dir
                .group_members(&s.group(g))
                .contains(&moved.to_lowercase()),
            member,
            "{g}"
        );
    }
    s.assert_converged();
}

// ---------------------------------------------------------------------------------------------
// A stop, a hung directory and the run deadline: the apply stops starting changes, says why and
// what it left, exits 3, and the next run converges (issue 17, items 4 and 5).

fn send_sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM failed");
}

/// What a run that stopped starting changes must show: exit 3 within `secs`, the reason on
/// stdout, the changes left named on stdout and in the log, every change it reports as applied
/// in the directory and every one it left not there; then the next run does the rest without
/// applying anything twice.
fn assert_left_cleanly(
    s: &Scenario,
    child: &mut Child,
    secs: u64,
    reason: &str,
    expected: &BTreeMap<String, Expected>,
) {
    let started = Instant::now();
    let status = wait_with_timeout(child, secs);
    let took = started.elapsed();
    let stdout = std::fs::read_to_string(s.work.path().join("first.out")).unwrap();
    let stderr = std::fs::read_to_string(s.work.path().join("first.err")).unwrap();
    assert_eq!(
        status.code(),
        Some(3),
        "exit 3 ({status}) after {took:?}; stdout tail:\n{}\nstderr tail:\n{}",
        tail(&stdout),
        tail(&stderr)
    );
    let said = format!("! stopped starting changes: {reason}");
    assert!(
        stdout.contains(&said),
        "stdout names why:\n{}",
        tail(&stdout)
    );
    let left: Vec<&str> = stdout
        .lines()
        .filter_map(|l| {
            l.trim_start().strip_prefix(
                "! not attempted (hrsync stopped starting changes, see below; left for the next run): ",
            )
        })
        .collect();
    assert!(
        !left.is_empty(),
        "stdout names what was left:\n{}",
        tail(&stdout)
    );
    assert!(
        stderr.contains("left for the next run"),
        "the log names what was left"
    );
    let first = reported(s.work.path(), "first");
    assert!(!first.applied.is_empty(), "some changes applied before");
    let mut mismatches = Vec::new();
    for (description, claimed) in first
        .applied
        .iter()
        .map(|d| (d.as_str(), true))
        .chain(left.iter().map(|d| (*d, false)))
    {
        if took_effect(s, description).is_some_and(|effect| effect != claimed) {
            mismatches.push(format!("reported applied={claimed}: {description}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "the report disagrees with the directory:\n{}",
        mismatches.join("\n")
    );
    let mut second = spawn_apply(s, &ALLOW_ALL, "second");
    let status = wait_with_timeout(&mut second, 300);
    let again = reported(s.work.path(), "second");
    assert_eq!(status.code(), Some(0), "second run: {again:?}");
    let twice: Vec<_> = first.applied.intersection(&again.applied).collect();
    assert!(twice.is_empty(), "applied twice: {twice:?}");
    assert_company(s, expected);
    s.assert_converged();
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// SIGTERM, as systemd and a CronJob send at their deadline, in the middle of a big apply.
/// Before: the default action of SIGTERM killed hrsync (signal 15), with no report.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_apply_completes_what_is_in_flight_reports_what_was_left_and_exits_3() {
    let s = Scenario::start_own("sigterm").await;
    let (records, expected) = big_company(&s).await;
    s.serve(&records).await;
    let baseline = adds_in_log(&s);
    let mut child = spawn_apply(&s, &ALLOW_ALL, "first");
    wait_for_adds(&s, &mut child, baseline, 200);
    send_sigterm(&child);
    assert_left_cleanly(
        &s,
        &mut child,
        30,
        "a stop was requested (SIGTERM or SIGINT)",
        &expected,
    );
}

/// SIGTERM while the HR API has not answered yet: the read is cut short, nothing changes.
/// Before: killed by the signal.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_stuck_hr_read_exits_1_at_once_and_changes_nothing() {
    let s = Scenario::start("sigterm_read").await;
    Mock::given(method("GET"))
        .and(path(HR_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(60))
                .set_body_json(json!({"employees": [person("1", "A", "One", "Sales", "Rep")]})),
        )
        .mount(&s.hr)
        .await;
    let before = s.dump();
    let mut child = spawn_apply(&s, &[], "first");
    std::thread::sleep(Duration::from_millis(1500));
    let signalled = Instant::now();
    send_sigterm(&child);
    let status = wait_with_timeout(&mut child, 10);
    let stderr = std::fs::read_to_string(s.work.path().join("first.err")).unwrap();
    assert_eq!(status.code(), Some(1), "{status}\n{stderr}");
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "stopped {:?} after the signal",
        signalled.elapsed()
    );
    assert!(
        stderr.contains(
            "stopped (SIGTERM or SIGINT) while reading HR and the directory; nothing was changed"
        ),
        "{stderr}"
    );
    assert_eq!(s.dump(), before, "nothing changed");
}

/// A bind to a server that accepts the connection and never answers fails at the connect
/// timeout and says so. Before: it waited the operation timeout and said "cannot connect".
#[tokio::test(flavor = "multi_thread")]
async fn a_bind_to_a_hung_server_times_out_at_the_connect_timeout_and_says_so() {
    let s = Scenario::start("hung_bind").await;
    s.serve(&[person("1", "A", "One", "Sales", "Rep")]).await;
    let url = crate::support::hung_server();
    s.write_config(&format!(
        "url = \"{url}\"\nconnect_timeout_secs = 2\noperation_timeout_secs = 30"
    ));
    let started = Instant::now();
    let out = s.hrsync(&["apply"]);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(
        stderr.contains(&format!(
            "timed out after 2 s binding to {url} (directory.connect_timeout_secs)"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("cannot connect"), "{stderr}");
}

/// slapd freezes in the middle of a big apply (SIGSTOP: connections open, nothing answered).
/// After `max_consecutive_timeouts` operations in a row time out, no further change starts: the
/// run ends within a few operation timeouts, not one timeout per remaining change. Before: each
/// of the ~2,000 remaining operations waited its 2 s timeout, 8 at a time (over 8 minutes).
#[tokio::test(flavor = "multi_thread")]
async fn a_directory_hung_mid_apply_stops_the_apply_after_consecutive_timeouts_exit_3() {
    let s = Scenario::start_own("hung_apply").await;
    s.write_config("operation_timeout_secs = 2\nmax_consecutive_timeouts = 3\nlease_secs = 10");
    let (records, expected) = big_company(&s).await;
    s.serve(&records).await;
    let baseline = adds_in_log(&s);
    let mut child = spawn_apply(&s, &ALLOW_ALL, "first");
    wait_for_adds(&s, &mut child, baseline, 200);
    let paused = s.dir.pause();
    let frozen = Instant::now();
    let status = wait_with_timeout(&mut child, 60);
    let took = frozen.elapsed();
    drop(paused);
    // Up to 8 operations in flight time out together; a few rounds at most.
    assert!(
        took < Duration::from_secs(20),
        "ended {took:?} after the freeze"
    );
    let stdout = std::fs::read_to_string(s.work.path().join("first.out")).unwrap();
    assert_eq!(status.code(), Some(3), "{}", tail(&stdout));
    assert!(
        stdout.contains("operations in a row got no answer in time: the directory is not answering (directory.max_consecutive_timeouts)"),
        "{}",
        tail(&stdout)
    );
    assert!(
        stdout.contains("! no answer (may or may not have taken effect; the next run checks)"),
        "the operations in flight are reported as unanswered"
    );
    s.write_config("");
    // The lease could not be released against the frozen server.
    wait_for_lease_expiry(&s);
    let mut second = spawn_apply(&s, &ALLOW_ALL, "second");
    let status = wait_with_timeout(&mut second, 300);
    assert_eq!(
        status.code(),
        Some(0),
        "{:?}",
        reported(s.work.path(), "second")
    );
    assert_company(&s, &expected);
    s.assert_converged();
}

/// The run deadline: no change starts once it has passed (the changes in flight complete); what
/// is left is named and the next run converges. Before: no deadline existed (the key was refused as unknown).
#[tokio::test(flavor = "multi_thread")]
async fn the_run_deadline_stops_starting_changes_names_what_was_left_and_exits_3() {
    let s = Scenario::start_own("deadline").await;
    s.write_config("max_apply_secs = 1");
    let (records, expected) = big_company(&s).await;
    s.serve(&records).await;
    let baseline = adds_in_log(&s);
    let mut child = spawn_apply(&s, &ALLOW_ALL, "first");
    // The apply takes well under a second here: the server slows down for a moment (frozen
    // for less than the operation timeout), long enough for the deadline to pass.
    wait_for_adds(&s, &mut child, baseline, 200);
    let paused = s.dir.pause();
    std::thread::sleep(Duration::from_millis(1500));
    drop(paused);
    // The next run has no deadline to speak of.
    s.write_config("");
    assert_left_cleanly(
        &s,
        &mut child,
        60,
        "the run reached its deadline of 1 s (directory.max_apply_secs)",
        &expected,
    );
}
