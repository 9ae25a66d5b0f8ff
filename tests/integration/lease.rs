//! The run lease against slapd (issue 17, item 7): two runs against one directory never apply
//! at the same time, whichever host they run on; a run killed with its lease blocks the next
//! only until the lease expires; `plan` takes none.

// Test helpers outside #[test] functions: failing loudly is their error handling.
#![allow(clippy::panic, clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::Duration;

use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::scenario::{BIND_PASSWORD_ENV, HR_PATH, HR_TOKEN, HR_TOKEN_ENV, Scenario, person};

fn lease_dn(s: &Scenario) -> String {
    format!("cn=hrsync-lease,{}", s.base())
}

/// A process that must not outlive a failed test.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A lease entry as another hrsync would have left it.
fn seed_lease(s: &Scenario, holder: &str, expires: &str) {
    s.dir.ldapadd(&format!(
        "dn: {}\nobjectClass: applicationProcess\ncn: hrsync-lease\n\
         description: hrsync-lease holder={holder} expires={expires}\n",
        lease_dn(s)
    ));
}

/// Before: no lease; both runs applied.
#[tokio::test(flavor = "multi_thread")]
async fn a_live_lease_from_another_host_blocks_apply_with_exit_5_but_not_plan() {
    let s = Scenario::start("lease_live").await;
    s.serve(&[person("101", "Ada", "Lovelace", "Engineering", "Engineer")])
        .await;
    seed_lease(
        &s,
        "host=batch-7 pid=4242 run=20991231T000000Z-0badf00d",
        "2099-12-31T23:00:00Z",
    );
    let before = s.dump();
    let out = s.hrsync(&["apply"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "another run holds the lease {}: host=batch-7 pid=4242 run=20991231T000000Z-0badf00d, \
             until 2099-12-31T23:00:00Z; nothing was done",
            lease_dn(&s)
        )),
        "{stderr}"
    );
    assert_eq!(
        s.dump(),
        before,
        "nothing changed, the lease left as it was"
    );
    // A dry run reads only: it takes no lease and is not blocked.
    s.expect(&["plan"], 0);
}

/// A run killed while holding the lease left it behind; once expired, the next run takes it
/// over, applies, and leaves no lease behind. Before: no lease.
#[tokio::test(flavor = "multi_thread")]
async fn an_expired_lease_is_taken_over_and_a_finished_run_leaves_no_lease() {
    let s = Scenario::start("lease_expired").await;
    s.serve(&[person("101", "Ada", "Lovelace", "Engineering", "Engineer")])
        .await;
    seed_lease(
        &s,
        "host=gone pid=1 run=20200101T000000Z-00000000",
        "2020-01-01T00:05:00Z",
    );
    let out = s.hrsync(&["apply"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("took over an expired run lease"),
        "{stderr}"
    );
    assert!(
        stderr.contains("host=gone"),
        "the log names the previous holder"
    );
    let dn = format!("uid=ada.lovelace,{}", s.ou("engineering"));
    assert!(s.dir.entry(&dn).is_some(), "applied");
    assert!(s.dir.entry(&lease_dn(&s)).is_none(), "lease released");
    // A plain run takes and releases it too.
    s.expect(&["apply"], 0);
    assert!(s.dir.entry(&lease_dn(&s)).is_none(), "lease released");
}

/// Two applies started together against one directory: one applies, the other exits 5 and
/// changes nothing; each account is created once. HR answers slowly, so the first run still
/// holds the lease when the second asks. Before: both applied (spurious failures and doubled
/// audit records).
#[tokio::test(flavor = "multi_thread")]
async fn two_applies_started_together_one_applies_the_other_exits_5() {
    let s = Scenario::start("lease_two").await;
    let employees: Vec<_> = (0..40)
        .map(|i| {
            person(
                &format!("{}", 300 + i),
                "Twin",
                &format!("T{i}"),
                "Sales",
                "Rep",
            )
        })
        .collect();
    Mock::given(method("GET"))
        .and(path(HR_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(2))
                .set_body_json(serde_json::json!({
                    "fields": [],
                    "employees": employees,
                })),
        )
        .mount(&s.hr)
        .await;
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_hrsync"))
            .arg("--config")
            .arg(&s.config)
            .args(["apply", "--allow-limit", "create"])
            .env(BIND_PASSWORD_ENV, &s.dir.admin_password)
            .env(HR_TOKEN_ENV, HR_TOKEN)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hrsync")
    };
    let (a, b) = (spawn(), spawn());
    let outputs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let mut codes: Vec<Option<i32>> = outputs.iter().map(|o| o.status.code()).collect();
    codes.sort();
    let logs: Vec<String> = outputs
        .iter()
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .collect();
    assert_eq!(codes, [Some(0), Some(5)], "{logs:?}");
    let blocked = outputs
        .iter()
        .position(|o| o.status.code() == Some(5))
        .unwrap();
    assert!(logs[blocked].contains("another run holds the lease"));
    assert!(
        !logs[blocked].contains("\"target\":\"hrsync::apply\""),
        "the blocked run applied nothing"
    );
    let created = s.dir.search(s.base(), "(uid=twin.*)", &["1.1"]).len();
    assert_eq!(created, 40, "each account created once");
    assert!(s.dir.entry(&lease_dn(&s)).is_none(), "lease released");
    s.assert_converged();
}

/// A bind account that may not create the lease entry: the run stops before reading anything,
/// with an error that names the entry and what the account needs. Before: no lease.
#[tokio::test(flavor = "multi_thread")]
async fn a_bind_account_that_cannot_create_the_lease_gets_a_clear_error() {
    let s = Scenario::start_own("lease_rights").await;
    s.serve(&[person("101", "Ada", "Lovelace", "Engineering", "Engineer")])
        .await;
    let service = format!("cn=hrsync-svc,{}", s.base());
    s.dir.ldapadd(&format!(
        "dn: {service}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n\
         cn: hrsync-svc\nuserPassword: svc-Pw-lease\n"
    ));
    let lease = lease_dn(&s);
    let base = s.base().to_string();
    s.dir.reconfigure(|conf| {
        let rules = format!(
            "access to dn.exact=\"{lease}\"\n    by dn.exact=\"{service}\" read\n    by * break\n\
             access to dn.subtree=\"{base}\"\n    by dn.exact=\"{service}\" manage\n    by * break\n\n\
             access to attrs=userPassword\n"
        );
        conf.replacen("access to attrs=userPassword\n", &rules, 1)
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
    let out = s.hrsync_with_env(&["apply"], &[(BIND_PASSWORD_ENV, "svc-Pw-lease")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the run lease {lease} (directory.lease_dn): insufficient access rights"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("the bind account must be able to create, change and delete this entry"),
        "{stderr}"
    );
    let dn = format!("uid=ada.lovelace,{}", s.ou("engineering"));
    assert!(s.dir.entry(&dn).is_none(), "nothing applied");
}

/// `hrsync run` whose due run finds another run's live lease skips that run with a warning and
/// stays up (its metrics show exit code 5); once the lease is gone, the next due run applies.
/// Before: no lease.
#[tokio::test(flavor = "multi_thread")]
async fn hrsync_run_skips_a_run_while_another_holds_the_lease_and_applies_once_it_is_gone() {
    let s = Scenario::start("lease_daemon").await;
    s.serve(&[person("101", "Ada", "Lovelace", "Engineering", "Engineer")])
        .await;
    seed_lease(
        &s,
        "host=other pid=9 run=20991231T000000Z-00000009",
        "2099-12-31T23:00:00Z",
    );
    s.write_config_with(
        "",
        "\n[schedule]\ncron = \"* * * * * *\"\n\n[metrics]\ntextfile = \"hrsync.prom\"\n",
    );
    let log = s.work.path().join("run.log");
    let mut child = KillOnDrop(
        s.command(&["--log-format", "json", "run"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start hrsync run"),
    );
    let textfile = s.work.path().join("hrsync.prom");
    let metrics_show =
        |line: &str| std::fs::read_to_string(&textfile).is_ok_and(|t| t.lines().any(|l| l == line));
    let waited = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "never: {what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    waited("a skipped run", &|| metrics_show("hrsync_run_exit_code 5"));
    let dn = format!("uid=ada.lovelace,{}", s.ou("engineering"));
    assert!(
        s.dir.entry(&dn).is_none(),
        "nothing applied while the lease is held"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("run skipped: another run holds the lease"),
        "{text}"
    );
    // The other run finishes and releases its lease.
    let out = s
        .dir
        .admin_command("ldapdelete")
        .arg(lease_dn(&s))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    waited("the joiner created", &|| s.dir.entry(&dn).is_some());
    let _ = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status();
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a clean stop");
}
