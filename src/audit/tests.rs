use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::log::Log;
use super::*;
use crate::apply::{ApplyReport, Outcome, StepResult, StepWatcher};
use crate::dn::Dn;
use crate::journal::{Journal, Subject};
use crate::model::Reason;
use crate::plan::ops::{ChangeRef, Step, steps};
use crate::plan::{AccountPlan, Action, Change, Lifecycle, Plan, Summary};

/// Who runs the tests' runs.
static ACTOR: std::sync::LazyLock<crate::audit::Actor> =
    std::sync::LazyLock::new(|| crate::audit::Actor {
        user: "ops".to_string(),
        host: "host-1".to_string(),
        plan: None,
    });

fn dn(s: &str) -> Dn {
    Dn::parse(s).unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(seconds, 0).unwrap()
}

fn clock() -> DateTime<Utc> {
    at(1_790_000_100)
}

/// A joiner: created (with a password attribute), added to a group, given a title.
fn plan() -> Plan {
    let reason = Reason::new("department = \"Engineering\"", "rule \"engineering\"");
    let change = |action| Change {
        action,
        reason: reason.clone(),
    };
    Plan {
        schema: crate::plan::PLAN_SCHEMA.to_string(),
        generated_at: at(1_790_000_000),
        summary: Summary::default(),
        accounts: vec![AccountPlan {
            employee_id: "101".to_string(),
            lifecycle: Lifecycle::Joiner,
            dn: dn("uid=ada,ou=eng,dc=example,dc=org"),
            before: None,
            changes: vec![
                change(Action::Create {
                    dn: dn("uid=ada,ou=eng,dc=example,dc=org"),
                    attributes: BTreeMap::from([
                        ("cn".to_string(), vec!["Ada".to_string()]),
                        ("userPassword".to_string(), vec!["s3cret".to_string()]),
                    ]),
                }),
                change(Action::AddToGroup {
                    group: dn("cn=eng,ou=groups,dc=example,dc=org"),
                }),
                change(Action::SetAttribute {
                    attribute: "title".into(),
                    before: vec![],
                    after: vec!["Engineer".into()],
                }),
            ],
        }],
        group_changes: vec![],
        skipped: vec![],
        orphans: vec![],
        warnings: vec![],
        limits_tripped: vec![],
        scheduled: vec![],
        config: None,
    }
}

fn change_record(plan: &Plan, change: usize, outcome: Option<&Outcome>) -> Value {
    let subject = Subject::of(plan, ChangeRef::Account { account: 0, change }).unwrap();
    serde_json::to_value(AuditRecord::change(subject, outcome, "run-1", "T")).unwrap()
}

#[test]
fn a_change_record_says_what_became_of_the_change_and_holds_no_password() {
    let plan = plan();
    let first = change_record(&plan, 0, Some(&Outcome::Applied));
    assert_eq!(first["event"], "change");
    assert_eq!(first["change"], "create");
    assert_eq!(first["result"], "applied");
    assert_eq!(first["run_id"], "run-1");
    assert_eq!(first["lifecycle"], "joiner");
    assert_eq!(first["account"]["employee_id"], "101");
    assert_eq!(first["before"], Value::Null);
    assert_eq!(first["after"]["attributes"]["cn"], json!(["Ada"]));
    assert_eq!(
        first["after"]["attributes"]["userPassword"],
        json!(["(hidden)"])
    );
    assert_eq!(first["reason"]["rule"], "rule \"engineering\"");
    assert!(first.get("error").is_none());
    let failed = Outcome::Failed {
        error: "insufficient access".to_string(),
    };
    let second = change_record(&plan, 1, Some(&failed));
    assert_eq!(second["change"], "add_to_group");
    assert_eq!(second["group"], "cn=eng,ou=groups,dc=example,dc=org");
    assert_eq!(second["result"], "failed");
    assert_eq!(second["error"], "insufficient access");
    assert_eq!(change_record(&plan, 2, None)["result"], "not_attempted");
    assert!(!first.to_string().contains("s3cret"));
}

/// Issue 16.10d: `set_attribute userPassword` was logged in clear, and only three names
/// were masked, in new entries only.
#[test]
fn no_password_value_is_logged_in_any_change_kind() {
    let plan = crate::plan::masked::tests::plan_with_secrets("Winter2026!");
    let journal = Journal::unapplied(&plan);
    let values: Vec<Value> = journal
        .entries()
        .flat_map(|e| {
            [
                AuditRecord::change(e.subject, None, "run-5", "T"),
                AuditRecord::intent(e.subject, "run-5", "T"),
            ]
        })
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    let text = serde_json::to_string(&values).unwrap();
    assert!(!text.contains("Winter2026!"), "{text}");
    let values: Vec<&Value> = values.iter().filter(|v| v["event"] == "change").collect();
    // create: each password attribute, whatever its case.
    assert_eq!(values[0]["change"], "create");
    let created = &values[0]["after"]["attributes"];
    assert_eq!(created["userPassword"], json!(["(hidden)"]));
    assert_eq!(created["UNICODEPWD"], json!(["(hidden)"]));
    assert_eq!(created["cn"], json!(["Ada"]));
    // set_attribute: before and after, and the HR value in the reason.
    assert_eq!(values[1]["change"], "set_attribute");
    assert_eq!(values[1]["before"], json!({"userPassword": ["(hidden)"]}));
    assert_eq!(values[1]["after"], json!({"userPassword": ["(hidden)"]}));
    assert_eq!(values[1]["reason"]["fact"], "(hidden)");
    assert_eq!(
        values[1]["reason"]["rule"],
        "account.attributes.userPassword"
    );
    assert_eq!(values[2]["before"], json!({"sambaNTPassword": []}));
    assert_eq!(values[2]["after"], json!({"sambaNTPassword": ["(hidden)"]}));
    // Anything else as it is.
    assert_eq!(values[3]["before"], json!({"title": ["Rep"]}));
    assert_eq!(values[3]["after"], json!({"title": ["Lead"]}));
    assert_eq!(values[3]["reason"]["fact"], "hr_field = \"Lead\"");
}

/// A sink that keeps what it is given and refuses anything past `budget` bytes, as a full disk
/// does (a write that would cross the limit is cut short there, then refused).
#[derive(Clone)]
struct Sink {
    bytes: Arc<Mutex<Vec<u8>>>,
    budget: usize,
}

impl Sink {
    fn new(budget: usize) -> Self {
        Self {
            bytes: Arc::default(),
            budget,
        }
    }

    fn lines(&self) -> Vec<Value> {
        String::from_utf8(self.bytes.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or(Value::String(l.to_string())))
            .collect()
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut bytes = self.bytes.lock().unwrap();
        let room = self.budget.saturating_sub(bytes.len());
        if room == 0 {
            return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
        }
        let taken = room.min(buf.len());
        bytes.extend_from_slice(&buf[..taken]);
        Ok(taken)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn recorder<'a>(plan: &'a Plan, sink: &Sink) -> std::io::Result<Recorder<'a>> {
    let log = Log::to_writer(Box::new(sink.clone()));
    Recorder::started(
        log,
        "audit.jsonl".to_string(),
        plan,
        ("run-7", None, &ACTOR),
        &clock,
    )
}

fn result(step: &Step, outcome: Outcome) -> StepResult {
    StepResult {
        change: step.change,
        employee_id: step.employee_id.clone(),
        description: step.description.clone(),
        outcome,
    }
}

/// The records reach the sink as the apply goes, not at its end: the run's first record before
/// anything is sent, an access change's intent before it is sent (once, even when it is sent
/// again after a refused merge), each result as it comes back.
#[test]
fn records_reach_the_log_as_the_apply_goes() {
    let plan = plan();
    let steps = steps(&plan, "member");
    let [create, join, title] = &steps.accounts[0][..] else {
        panic!("three steps: {steps:?}");
    };
    let sink = Sink::new(usize::MAX);
    let recorder = recorder(&plan, &sink).unwrap();
    let events = |sink: &Sink| -> Vec<(String, String)> {
        sink.lines()
            .iter()
            .map(|l| {
                let what = l["change"].as_str().or(l["changes"].as_u64().map(|_| ""));
                (
                    l["event"].as_str().unwrap_or_default().to_string(),
                    what.unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let started = sink.lines();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["event"], "run_started");
    assert_eq!(started[0]["changes"], 3);
    assert_eq!(started[0]["run_id"], "run-7");
    assert_eq!(started[0]["time"], "2026-09-21T14:15:00.000Z");

    recorder.sending(&[create]);
    assert_eq!(
        events(&sink).last().unwrap(),
        &("intent".into(), "create".into())
    );
    recorder.stepped(create, &Outcome::Applied);
    assert_eq!(
        events(&sink).last().unwrap(),
        &("change".into(), "create".into())
    );
    recorder.sending(&[join]);
    recorder.sending(&[join]);
    recorder.sending(&[title]);
    recorder.stepped(join, &Outcome::Applied);
    recorder.stepped(title, &Outcome::Applied);
    assert!(!recorder.halted());
    let report = ApplyReport {
        results: [create, join, title]
            .iter()
            .map(|s| result(s, Outcome::Applied))
            .collect(),
        ..Default::default()
    };
    let journal = Journal::new(&plan, report);
    let audit = recorder.finish(&journal);
    assert_eq!(
        audit,
        AuditReport {
            written: 7,
            failure: None
        }
    );
    let seen = events(&sink);
    let expected: Vec<(String, String)> = [
        ("run_started", ""),
        ("intent", "create"),
        ("change", "create"),
        // Announced once though sent twice; a title has no intent.
        ("intent", "add_to_group"),
        ("change", "add_to_group"),
        ("change", "set_attribute"),
        ("run_finished", ""),
    ]
    .iter()
    .map(|(e, c)| (e.to_string(), c.to_string()))
    .collect();
    assert_eq!(seen, expected);
    let last = sink.lines().pop().unwrap();
    assert_eq!(last["results"], json!({"applied": 3}));
    assert!(
        sink.lines()
            .iter()
            .all(|l| l.get("result").is_none() == (l["event"] != "change"))
    );
}

/// Issue 17, item 8: a log that stops taking records (a full disk) let the whole plan apply
/// with nothing recorded. Now the recorder halts the apply at the first record refused, says
/// why, and the records it cannot write are handed to hrsync's own log.
#[test]
fn a_log_that_stops_taking_records_halts_the_apply() {
    let plan = plan();
    let steps = steps(&plan, "member");
    let [create, join, _] = &steps.accounts[0][..] else {
        panic!("three steps: {steps:?}");
    };
    let first_line = {
        let sink = Sink::new(usize::MAX);
        drop(recorder(&plan, &sink).unwrap());
        sink.bytes.lock().unwrap().len()
    };
    // Room for the first record and a few bytes of the next.
    let sink = Sink::new(first_line + 10);
    let recorder = recorder(&plan, &sink).unwrap();
    recorder.sending(&[create]);
    assert!(recorder.halted(), "the intent could not be written");
    recorder.stepped(create, &Outcome::NotAttempted);
    recorder.sending(&[join]);
    let audit = recorder.finish(&Journal::unapplied(&plan));
    let failure = audit.failure.expect("the failure is reported");
    assert!(
        failure.starts_with("cannot write the audit log audit.jsonl: ")
            && failure.contains("No space left on device"),
        "{failure}"
    );
    assert_eq!(audit.written, 1);
    assert_eq!(sink.bytes.lock().unwrap().len(), first_line + 10);

    // Nothing to write at all: the run does not start.
    let error = recorder_error(&plan, Sink::new(0));
    assert!(error.contains("No space left on device"), "{error}");
}

fn recorder_error(plan: &Plan, sink: Sink) -> String {
    match recorder(plan, &sink) {
        Ok(_) => panic!("a log that takes nothing was accepted"),
        Err(e) => e.to_string(),
    }
}

#[cfg(unix)]
#[test]
fn the_file_is_appended_private_and_a_line_cut_short_is_ended() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = AuditSink::File(path.clone());
    let plan = plan();
    for _ in 0..2 {
        let recorder = Recorder::start(&sink, &plan, ("run-3", None, &ACTOR), &clock).unwrap();
        recorder.finish(&Journal::unapplied(&plan));
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 4);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // A record cut short by a full disk.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(b"{\"time\":\"2026-").unwrap();
    let recorder = Recorder::start(&sink, &plan, ("run-4", None, &ACTOR), &clock).unwrap();
    recorder.finish(&Journal::unapplied(&plan));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "{text}");
    assert_eq!(lines[4], "{\"time\":\"2026-");
    for line in lines.iter().take(4).chain(&lines[5..]) {
        serde_json::from_str::<Value>(line).unwrap();
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_link_another_users_log_or_a_device_is_refused_and_left_as_it_was() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let plan = plan();
    let start = |path: &std::path::Path| match Recorder::start(
        &AuditSink::File(path.to_path_buf()),
        &plan,
        ("run-4", None, &ACTOR),
        &clock,
    ) {
        Ok(_) => panic!("{} was accepted", path.display()),
        Err(e) => e.to_string(),
    };
    let target = dir.path().join("elsewhere");
    std::fs::write(&target, "kept\n").unwrap();
    let link = dir.path().join("audit.jsonl");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let err = start(&link);
    assert!(err.contains("is a symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "kept\n");
    let err = start(std::path::Path::new("/dev/null"));
    assert!(err.contains("/dev/null is not a regular file"), "{err}");

    if rustix::process::geteuid().as_raw() != 0 {
        eprintln!("SKIPPED the other user's log: needs root to chown (CI runs as root)");
        return;
    }
    let theirs = dir.path().join("theirs.jsonl");
    std::fs::write(&theirs, "theirs\n").unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let err = start(&theirs);
    assert!(err.contains("belongs to another user (uid 65534)"), "{err}");
    assert_eq!(std::fs::read_to_string(&theirs).unwrap(), "theirs\n");
    assert_eq!(std::fs::metadata(&theirs).unwrap().uid(), 65534);
}

/// `validate` and `check` look at the audit path without writing: what a run would refuse is
/// named, and nothing is created.
#[cfg(target_os = "linux")]
#[test]
fn the_probe_names_what_stands_in_the_way_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let probe_file = |path: std::path::PathBuf| probe(&AuditSink::File(path));
    let fine = root.join("audit.jsonl");
    let said = probe_file(fine.clone()).unwrap();
    assert!(said.contains("created at the first run"), "{said}");
    assert!(!fine.exists(), "the probe created the log");
    std::fs::write(&fine, "").unwrap();
    assert!(probe_file(fine.clone()).unwrap().contains("appended to"));
    assert_eq!(std::fs::read(&fine).unwrap(), b"");

    let refused = |path: std::path::PathBuf, expected: &str| {
        let error = probe_file(path.clone()).expect_err("refused");
        assert!(error.contains(expected), "{}: {error}", path.display());
    };
    refused(root.join("missing/audit.jsonl"), "does not exist");
    std::fs::write(root.join("logs"), "a file where the directory was").unwrap();
    refused(
        root.join("logs/audit.jsonl"),
        &format!("{} is not a directory", root.join("logs").display()),
    );
    std::fs::create_dir(root.join("a-directory")).unwrap();
    refused(root.join("a-directory"), "is a directory");
    std::os::unix::fs::symlink(&fine, root.join("link.jsonl")).unwrap();
    refused(root.join("link.jsonl"), "is a symbolic link");
    refused("/dev/null".into(), "is not a regular file");
    assert_eq!(probe(&AuditSink::Stdout).unwrap(), "standard output");

    // Permission bits do not stop root: as root, the directory is made immutable instead
    // (where chattr works), which stops root too.
    let locked = root.join("locked");
    std::fs::create_dir(&locked).unwrap();
    if lock_directory(&locked) {
        refused(locked.join("audit.jsonl"), "cannot create audit.jsonl in");
        unlock_directory(&locked);
    } else {
        eprintln!("SKIPPED the unwritable directory: neither mode bits nor chattr stop root here");
    }
    let mut names: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["a-directory", "audit.jsonl", "link.jsonl", "locked", "logs"],
        "nothing was created"
    );
    assert_eq!(std::fs::read_dir(&locked).unwrap().count(), 0);
}

/// Makes `dir` refuse new files to this user: mode 0555, or as root `chattr +i`. False when
/// neither works.
#[cfg(target_os = "linux")]
fn lock_directory(dir: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    if rustix::process::geteuid().as_raw() != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        return true;
    }
    std::process::Command::new("chattr")
        .arg("+i")
        .arg(dir)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[cfg(target_os = "linux")]
fn unlock_directory(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::process::Command::new("chattr")
        .arg("-i")
        .arg(dir)
        .output();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}
