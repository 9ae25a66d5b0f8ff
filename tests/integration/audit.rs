//! Audit before action (issue 17, item 8): the audit log is checked before the first change and
//! written as each change is applied. Each test breaks the log the way production does (a
//! directory replaced by a file, a volume that fills up, a process killed mid-apply, a path an
//! admin got wrong) and compares what the directory holds with what the log says.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::scenario::{BIND_PASSWORD_ENV, HR_TOKEN, HR_TOKEN_ENV, Scenario, person, terminated};

/// What a leavers' run must be allowed to do at once.
const LEAVER_LIMITS: [&str; 6] = [
    "--allow-limit",
    "disable",
    "--allow-limit",
    "group_removal",
    "--allow-limit",
    "move",
];

/// `count` engineers, ids from 5000 on.
fn engineers(count: usize) -> Vec<Value> {
    (0..count)
        .map(|i| {
            let id = (5000 + i).to_string();
            person(
                &id,
                "Ann",
                &format!("Leaver{i:04}"),
                "Engineering",
                "Engineer",
            )
        })
        .collect()
}

/// Writes the config with an audit file, a metrics textfile and `concurrency` operations at
/// once.
fn configure(s: &Scenario, audit: &Path, concurrency: usize) {
    s.write_config_with(
        &format!("max_concurrent_accounts = {concurrency}"),
        &format!(
            "[audit]\nfile = \"{}\"\n\n[metrics]\ntextfile = \"hrsync.prom\"\n",
            audit.display()
        ),
    );
}

/// `count` engineers created by hrsync (no audit log yet), then served as leavers.
async fn leavers(s: &Scenario, count: usize) -> Vec<Value> {
    let people = engineers(count);
    s.serve(&people).await;
    s.expect(&["apply", "--allow-limit", "create"], 0);
    let leaving: Vec<Value> = people.into_iter().map(terminated).collect();
    s.serve(&leaving).await;
    leaving
}

fn metric(s: &Scenario, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(s.work.path().join("hrsync.prom")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .map(str::to_string)
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Each line of the audit log as JSON (a line that is not JSON fails the test: records are
/// written whole).
fn audit_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a whole JSON record"))
        .collect()
}

/// What the directory shows of the leavers, by employee id: who is locked, who is in the
/// disabled OU, and each (employee, group) membership left.
struct Seen {
    locked: BTreeSet<String>,
    moved: BTreeSet<String>,
    members: BTreeSet<(String, String)>,
}

fn seen(s: &Scenario) -> Seen {
    let ids = |base: &str, filter: &str| -> BTreeSet<String> {
        s.dir
            .search(base, filter, &["employeeNumber"])
            .iter()
            .filter_map(|e| e.first("employeeNumber").map(str::to_string))
            .collect()
    };
    let mut members = BTreeSet::new();
    for cn in ["staff", "engineering", "vpn"] {
        let group = s.group(cn);
        let in_group = s.dir.group_members(&group);
        for entry in s
            .dir
            .search(s.base(), "(employeeNumber=*)", &["employeeNumber"])
        {
            if in_group.contains(&entry.dn.to_lowercase()) {
                let id = entry
                    .first("employeeNumber")
                    .unwrap_or_default()
                    .to_string();
                members.insert((id, group.to_lowercase()));
            }
        }
    }
    Seen {
        locked: ids(s.base(), "(&(employeeNumber=*)(pwdAccountLockedTime=*))"),
        moved: ids(&s.dir.disabled_dn, "(employeeNumber=*)"),
        members,
    }
}

/// The (event, change, employee id, group) of each audit line about a change.
fn told(records: &[Value]) -> BTreeSet<(String, String, String, String)> {
    records
        .iter()
        .filter(|r| r["event"] == "intent" || r["event"] == "change")
        .map(|r| {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (
                text(&r["event"]),
                text(&r["change"]),
                text(&r["account"]["employee_id"]),
                text(&r["group"]).to_lowercase(),
            )
        })
        .collect()
}

/// Whether the log tells of `change` (its intent or its result) for `id`, in `group`.
fn tells(
    told: &BTreeSet<(String, String, String, String)>,
    change: &str,
    id: &str,
    group: &str,
) -> bool {
    ["intent", "change"].iter().any(|event| {
        told.contains(&(
            event.to_string(),
            change.to_string(),
            id.to_string(),
            group.to_string(),
        ))
    })
}

/// Every access change the directory shows among `ids` is told by the records: each lock, each
/// move into the disabled OU, each group left.
fn assert_every_change_is_told(s: &Scenario, ids: &[String], records: &[Value]) -> Seen {
    let seen = seen(s);
    let told = told(records);
    for id in ids {
        if seen.locked.contains(id) {
            assert!(
                tells(&told, "disable", id, ""),
                "{id} is locked with no record of it"
            );
        }
        if seen.moved.contains(id) {
            assert!(
                tells(&told, "move", id, ""),
                "{id} was moved with no record of it"
            );
        }
        for cn in ["staff", "engineering", "vpn"] {
            let group = s.group(cn).to_lowercase();
            if !seen.members.contains(&(id.clone(), group.clone())) {
                assert!(
                    tells(&told, "remove_from_group", id, &group),
                    "{id} left {cn} with no record of it"
                );
            }
        }
    }
    seen
}

/// Before: an audit path hrsync could not write let every change apply with no record, exit 0
/// and metrics saying success. The path here has a file where its directory should be, which
/// stops root as well as anyone else.
#[tokio::test(flavor = "multi_thread")]
async fn an_unwritable_audit_path_stops_the_run_before_any_change() {
    let s = Scenario::start("audit-unwritable").await;
    let ids: Vec<String> = leavers(&s, 3)
        .await
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_string())
        .collect();
    std::fs::write(
        s.work.path().join("logs"),
        "a file where the directory was\n",
    )
    .expect("write file");
    let audit = s.work.path().join("logs/audit.jsonl");
    configure(&s, &audit, 2);
    let before = s.dump();

    let mut args = vec!["apply"];
    args.extend(LEAVER_LIMITS);
    let out = s.hrsync(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        stderr.contains(&format!(
            "the audit log {} cannot be written, so nothing was applied: Not a directory",
            audit.display()
        )),
        "the error names the path and the OS error:\n{stderr}"
    );
    assert_eq!(s.dump(), before, "the directory is unchanged");
    assert_eq!(metric(&s, "hrsync_run_success").as_deref(), Some("0"));
    assert_eq!(metric(&s, "hrsync_run_exit_code").as_deref(), Some("1"));
    assert_eq!(metric(&s, "hrsync_run_audit_failed").as_deref(), Some("1"));
    assert!(
        !stderr.contains(HR_TOKEN) && !stderr.contains(&s.dir.admin_password),
        "{stderr}"
    );

    // A directory this user may not create files in: mode 0555, or for root (whom mode bits
    // do not stop) an immutable directory.
    let locked = s.work.path().join("locked");
    std::fs::create_dir(&locked).expect("create dir");
    if lock_directory(&locked) {
        configure(&s, &locked.join("audit.jsonl"), 2);
        let out = s.hrsync(&args);
        unlock_directory(&locked);
        assert_eq!(out.status.code(), Some(1), "{}", show(&out));
        assert_eq!(s.dump(), before, "the directory is unchanged");
    } else {
        eprintln!("SKIPPED the read-only directory: as root without a working chattr");
    }

    // With a log it can write, the same run goes through.
    let audit = s.work.path().join("audit.jsonl");
    configure(&s, &audit, 2);
    s.expect(&args, 0);
    let records = audit_lines(&audit);
    let seen = assert_every_change_is_told(&s, &ids, &records);
    assert_eq!(seen.locked.len(), 3);
    assert_eq!(records[0]["event"], "run_started");
    assert_eq!(
        records.last().map(|r| r["event"].clone()),
        Some("run_finished".into())
    );
    assert_eq!(metric(&s, "hrsync_run_audit_failed").as_deref(), Some("0"));
}

/// Makes `dir` refuse new files to this user; false when nothing here can (root without
/// chattr).
fn lock_directory(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    if is_root() {
        Command::new("chattr")
            .arg("+i")
            .arg(dir)
            .output()
            .is_ok_and(|o| o.status.success())
    } else {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).expect("chmod");
        true
    }
}

fn unlock_directory(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if is_root() {
        let _ = Command::new("chattr").arg("-i").arg(dir).output();
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Before: every record was written after the apply, so a killed run left changes in the
/// directory and nothing in the log. Here hrsync is killed (SIGKILL) while it locks 600
/// leavers; every lock, move and group removal in the directory must have its record (its
/// result, or the intent written before it was sent), and at most the operations in flight may
/// lack their result.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_run_loses_at_most_the_changes_in_flight() {
    const CONCURRENCY: usize = 2;
    let s = Scenario::start("audit-killed").await;
    let ids: Vec<String> = leavers(&s, 600)
        .await
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_string())
        .collect();
    let audit = s.work.path().join("audit.jsonl");
    configure(&s, &audit, CONCURRENCY);

    let mut args = vec!["apply"];
    args.extend(LEAVER_LIMITS);
    let stdout = std::fs::File::create(s.work.path().join("apply.out")).expect("create");
    let stderr = std::fs::File::create(s.work.path().join("apply.err")).expect("create");
    let mut child = s
        .command(&args)
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .spawn()
        .expect("start hrsync apply");
    // Killed once the directory (not the log) shows some locks.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let locked = s
            .dir
            .search(s.base(), "(pwdAccountLockedTime=*)", &["1.1"])
            .len();
        if locked >= 40 || Instant::now() > deadline {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("hrsync ended before it was killed: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");

    let records = audit_lines(&audit);
    let seen = assert_every_change_is_told(&s, &ids, &records);
    assert!(seen.locked.len() >= 40, "{} locked", seen.locked.len());
    assert!(
        seen.locked.len() < ids.len(),
        "the kill came after the last lock: nothing was tested"
    );
    assert_eq!(records[0]["event"], "run_started");
    assert!(records.iter().all(|r| r["event"] != "run_finished"));
    // Results are written as they come back: only the operations in flight lack theirs.
    let told = told(&records);
    let unanswered: Vec<_> = told
        .iter()
        .filter(|(event, change, id, group)| {
            event == "intent"
                && !told.contains(&("change".into(), change.clone(), id.clone(), group.clone()))
        })
        .collect();
    assert!(
        unanswered.len() <= CONCURRENCY,
        "more intents without a result than operations in flight: {unanswered:?}"
    );
    // And the records are honest: each lock recorded as applied is in the directory.
    for record in records
        .iter()
        .filter(|r| r["event"] == "change" && r["change"] == "disable")
    {
        let id = record["account"]["employee_id"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(record["result"], "applied", "{record}");
        assert!(
            seen.locked.contains(id),
            "{id} recorded as locked, not locked"
        );
    }
}

/// hrsync under a file size limit that lets the audit log grow by `room` bytes (as a volume
/// filling up would), with SIGXFSZ ignored so that the write fails rather than the process.
fn apply_with_room(s: &Scenario, audit: &Path, room: u64) -> Output {
    let limit = std::fs::metadata(audit).map(|m| m.len()).unwrap_or(0) + room;
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("trap '' XFSZ; exec \"$@\"")
        .arg("sh")
        .arg("prlimit")
        .arg(format!("--fsize={limit}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_hrsync"))
        .arg("--config")
        .arg(&s.config)
        .arg("apply")
        .args(LEAVER_LIMITS)
        .env(BIND_PASSWORD_ENV, &s.dir.admin_password)
        .env(HR_TOKEN_ENV, HR_TOKEN)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    command.output().expect("run hrsync")
}

/// The records hrsync handed to its own log because the audit log did not take them.
fn not_written(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "audit record not written")
        .filter_map(|l| serde_json::from_str(l["fields"]["record"].as_str()?).ok())
        .collect()
}

/// Before: a log that filled up during the apply lost its records (written in one go at the
/// end), every change applied, and the run exited 0. Now the first record refused stops the
/// run from starting further changes: exit 3, metrics not success, and whatever was applied
/// is in the log or, for the few in flight, in hrsync's own log.
#[tokio::test(flavor = "multi_thread")]
async fn a_log_that_fills_up_stops_the_run_from_starting_further_changes() {
    let s = Scenario::start("audit-full").await;
    let ids: Vec<String> = leavers(&s, 40)
        .await
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_string())
        .collect();
    let audit = s.work.path().join("audit.jsonl");
    // Earlier runs' records, so that the limit is not the only thing in the file.
    let earlier = "{\"time\":\"2026-01-01T00:00:00.000Z\",\"run_id\":\"earlier\",\"event\":\"run_started\",\"changes\":0,\"accounts\":0}\n";
    std::fs::write(&audit, earlier.repeat(200)).expect("write");
    configure(&s, &audit, 2);

    let out = apply_with_room(&s, &audit, 2500);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(
        stdout.contains(&format!(
            "! cannot write the audit log {}: File too large",
            audit.display()
        )) && stdout.contains("hrsync started no change after that"),
        "{stdout}"
    );
    assert_eq!(metric(&s, "hrsync_run_success").as_deref(), Some("0"));
    assert_eq!(metric(&s, "hrsync_run_exit_code").as_deref(), Some("3"));
    assert_eq!(metric(&s, "hrsync_run_audit_failed").as_deref(), Some("1"));

    let text = std::fs::read_to_string(&audit).unwrap_or_default();
    assert!(
        text.starts_with(&earlier.repeat(200)),
        "earlier records kept"
    );
    // The records that fitted (the last may be cut short), and those hrsync's log holds.
    let mut records: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    records.extend(not_written(&stderr));
    let seen = assert_every_change_is_told(&s, &ids, &records);
    assert!(
        !seen.locked.is_empty() && seen.locked.len() <= 10,
        "the run stopped within the operations in flight: {} locked",
        seen.locked.len()
    );

    // With room again, the next run finishes the work, its records on lines of their own.
    let out = apply_with_room(&s, &audit, 10_000_000);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = std::fs::read_to_string(&audit).unwrap_or_default();
    let broken: Vec<&str> = text
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).is_err())
        .collect();
    assert!(broken.len() <= 1, "only the line cut short: {broken:?}");
    let records: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let seen = assert_every_change_is_told(&s, &ids, &records);
    assert_eq!(seen.locked.len(), ids.len());
    s.assert_converged();
}

/// `validate` and `check` test the audit path: each way an admin gets it wrong is named, exit
/// 1, and nothing is created. Before: both passed whatever the path.
#[tokio::test(flavor = "multi_thread")]
async fn validate_and_check_name_an_audit_path_a_run_could_not_write() {
    let s = Scenario::start("audit-check").await;
    s.serve(&[person("101", "Ada", "Lovelace", "Engineering", "Engineer")])
        .await;
    let work = s.work.path();
    std::fs::write(work.join("logs"), "a file where the directory was\n").expect("write");
    std::fs::create_dir(work.join("a-directory")).expect("mkdir");
    std::fs::write(work.join("elsewhere.jsonl"), "").expect("write");
    std::os::unix::fs::symlink(work.join("elsewhere.jsonl"), work.join("link.jsonl"))
        .expect("symlink");
    let cases: [(PathBuf, String); 4] = [
        (
            work.join("logs/audit.jsonl"),
            format!("{} is not a directory", work.join("logs").display()),
        ),
        (
            work.join("missing/audit.jsonl"),
            "does not exist".to_string(),
        ),
        (work.join("a-directory"), "is a directory".to_string()),
        (work.join("link.jsonl"), "is a symbolic link".to_string()),
    ];
    for (path, problem) in &cases {
        configure(&s, path, 2);
        let out = s.hrsync(&["validate"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "validate {}: {}",
            path.display(),
            show(&out)
        );
        assert!(
            stderr.contains("audit: ") && stderr.contains(problem.as_str()),
            "validate names {problem}: {stderr}"
        );
        let out = s.hrsync(&["check"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "check {}: {}",
            path.display(),
            show(&out)
        );
        assert!(
            stdout.contains("audit log: FAILED: ") && stdout.contains(problem.as_str()),
            "check names {problem}: {stdout}"
        );
        assert!(
            stdout.contains("HR: ok") && stdout.contains("directory: ok"),
            "{stdout}"
        );
    }
    assert!(!work.join("missing").exists());
    assert_eq!(
        std::fs::read_to_string(work.join("elsewhere.jsonl")).unwrap_or_default(),
        "",
        "nothing written through the link"
    );

    let good = work.join("audit.jsonl");
    configure(&s, &good, 2);
    let out = s.expect(&["validate"], 0);
    assert!(
        out.contains(&format!(
            "audit log: {} (created at the first run",
            good.display()
        )),
        "{out}"
    );
    let out = s.expect(&["check"], 0);
    assert!(out.contains("audit log: ok"), "{out}");
    assert!(!good.exists(), "validate and check create nothing");
}

/// The audit log answers "who" (issue 20, item 9): every run's first record names the OS user
/// and host, and an `apply --plan` also names the plan approved: its file, the digest that
/// `plan --out` logged when it was saved, and who made it.
#[tokio::test(flavor = "multi_thread")]
async fn the_audit_log_names_who_ran_and_which_approved_plan() {
    let s = Scenario::start("audit-actor").await;
    let log = s.work.path().join("audit.jsonl");
    s.write_config_with("", &format!("[audit]\nfile = \"{}\"\n", log.display()));
    s.serve(&[person("1401", "Ac", "Tor", "Sales", "Rep")])
        .await;
    let plan = s.work.path().join("reviewed.json");
    let out = s.hrsync(&["plan", "--out", plan.to_str().expect("UTF-8 path")]);
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let logged: Value = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("plan saved"))
        })
        .unwrap_or_else(|| panic!("plan --out logs the digest: {stderr}"));
    let digest = logged["fields"]["digest"]
        .as_str()
        .expect("digest")
        .to_string();
    assert!(digest.starts_with("sha256:"), "{digest}");

    s.expect(&["apply", "--plan", plan.to_str().expect("UTF-8 path")], 0);
    let records = audit_lines(&log);
    let started = &records[0];
    assert_eq!(started["event"], "run_started");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    let host = host.trim();
    // The tests run as root (tests/run.sh says so).
    assert_eq!(started["actor"]["user"], "root", "{started}");
    assert_eq!(started["actor"]["host"], host, "{started}");
    assert_eq!(
        started["actor"]["plan"]["digest"],
        digest.as_str(),
        "{started}"
    );
    assert_eq!(
        started["actor"]["plan"]["file"],
        plan.display().to_string().as_str()
    );
    assert_eq!(
        started["actor"]["plan"]["made_by"],
        format!("root@{host}").as_str()
    );

    // A run of its own names its user and no plan.
    s.serve(&[terminated(person("1401", "Ac", "Tor", "Sales", "Rep"))])
        .await;
    s.expect(&["apply"], 0);
    let records = audit_lines(&log);
    let second = records
        .iter()
        .filter(|r| r["event"] == "run_started")
        .nth(1)
        .expect("a second run");
    assert_eq!(second["actor"]["user"], "root");
    assert!(second["actor"].get("plan").is_none(), "{second}");
}
