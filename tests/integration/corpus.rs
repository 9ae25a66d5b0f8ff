//! The hostile HR corpus (tests/corpus): every file is served as the HR API's answer to the real
//! binary against a real slapd, and its expected outcome (tests/corpus/cases.toml) is asserted:
//! the exit code, which records are rejected and named, which accounts exist afterwards with
//! exactly which values, OU and groups, and that nothing else in the directory changed. No case
//! may panic.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Deserialize;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::scenario::{HR_PATH, Scenario};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// The HR answer, served byte for byte.
    file: String,
    /// Why the case is there.
    what: String,
    /// Exit code of `hrsync apply --allow-limit create`.
    exit: i32,
    /// Text the output (stdout and stderr) must contain: error messages, warnings.
    #[serde(default)]
    output: Vec<String>,
    /// Records rejected and named: the id and a part of the problem.
    #[serde(default)]
    rejected: Vec<Rejected>,
    /// Every account the case creates (keep.me aside, which always stays exactly as it was).
    #[serde(default)]
    accounts: Vec<Account>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rejected {
    id: String,
    problem: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Account {
    id: String,
    /// `sales`, `engineering` or `people` (the default OU).
    ou: String,
    /// The RDN value (uid), exactly.
    uid: String,
    /// Exactly these managed groups.
    groups: Vec<String>,
    /// Attribute values, exactly (one value each). `{sales}`, `{engineering}` and `{people}`
    /// stand for those OUs' DNs.
    #[serde(default)]
    attrs: BTreeMap<String, String>,
    /// Attributes that must be absent.
    #[serde(default)]
    absent: Vec<String>,
}

const MANAGED: [&str; 4] = ["staff", "engineering", "sales", "vpn"];

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_corpus_file_has_its_expected_outcome_and_nothing_panics() {
    check_corpus(None).await;
}

/// The same corpus against 389 Directory Server, whose schema checks and locks are its own.
#[tokio::test(flavor = "multi_thread")]
async fn ds389_every_corpus_file_has_its_expected_outcome_and_nothing_panics() {
    check_corpus(Some(crate::support::ds389::Plugins::None)).await;
}

/// Runs every case on slapd, or on 389-DS with these plugins.
async fn check_corpus(ds389: Option<crate::support::ds389::Plugins>) {
    let text = std::fs::read_to_string(corpus_dir().join("cases.toml")).expect("cases.toml");
    let manifest: Manifest = toml::from_str(&text).expect("cases.toml parses");
    // Every file in the corpus has a case, and every case a file.
    let files: BTreeSet<String> = std::fs::read_dir(corpus_dir())
        .expect("corpus dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name != "cases.toml" && name != "README.md")
        .collect();
    let cased: BTreeSet<String> = manifest.case.iter().map(|c| c.file.clone()).collect();
    assert_eq!(files, cased, "corpus files and cases.toml disagree");

    let mut failures = Vec::new();
    for case in &manifest.case {
        if let Err(problems) = run_case(case, ds389).await {
            failures.push(format!(
                "== {} ({}):\n{}",
                case.file,
                case.what,
                problems.join("\n")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases failed:\n{}",
        failures.len(),
        manifest.case.len(),
        failures.join("\n")
    );
}

async fn run_case(
    case: &Case,
    ds389: Option<crate::support::ds389::Plugins>,
) -> Result<(), Vec<String>> {
    let name = format!("corpus-{}", case.file.trim_end_matches(".json"));
    let s = match ds389 {
        Some(plugins) => Scenario::start_389(&name, plugins).await,
        None => Scenario::start(&name).await,
    };
    let keep = s.dir.add_user(
        "keep.me",
        "100",
        None,
        "cn: Keep Me\nsn: Me\ngivenName: Keep\ntitle: Rep",
    );
    s.add_member("staff", &keep);
    s.add_member("sales", &keep);
    let body = std::fs::read(corpus_dir().join(&case.file)).expect("corpus file");
    s.hr.reset().await;
    Mock::given(method("GET"))
        .and(path(HR_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .mount(&s.hr)
        .await;

    let mut problems = Vec::new();
    let keep_before = s.dir.entry(&keep);
    let before = s.dump();

    // A dry run first: never a panic, never a write.
    let plan = s.hrsync(&["plan"]);
    let plan_text = text_of(&plan);
    if plan.status.code() == Some(101) || plan_text.contains("panicked") {
        problems.push(format!("plan panicked:\n{plan_text}"));
    }
    if s.dump() != before {
        problems.push("plan wrote to the directory".into());
    }

    let out = s.hrsync(&["apply", "--allow-limit", "create"]);
    let output = text_of(&out);
    if out.status.code() != Some(case.exit) {
        problems.push(format!(
            "apply exited {:?}, expected {}",
            out.status.code(),
            case.exit
        ));
    }
    if output.contains("panicked") {
        problems.push("apply panicked".into());
    }
    for needle in &case.output {
        if !output.contains(needle.as_str()) {
            problems.push(format!("output lacks {needle:?}"));
        }
    }
    for rejected in &case.rejected {
        // Named where the operator looks: the plan's "skipped" list (the id) or the log
        // line that leaves the record out (id and problem).
        let named = output.lines().any(|l| {
            l.contains(&format!("{:?}", rejected.id)) && l.contains(rejected.problem.as_str())
        }) || output.lines().any(|l| {
            l.contains(&format!("employee {}", rejected.id))
                && l.contains(rejected.problem.as_str())
        });
        if !named {
            problems.push(format!(
                "record {} not named as rejected with {:?}",
                rejected.id, rejected.problem
            ));
        }
    }

    // The directory: keep.me untouched, exactly the expected accounts, exactly right.
    if s.dir.entry(&keep) != keep_before {
        problems.push(format!(
            "keep.me changed: {:?} -> {:?}",
            keep_before,
            s.dir.entry(&keep)
        ));
    }
    let members: BTreeMap<&str, BTreeSet<String>> = MANAGED
        .iter()
        .map(|g| (*g, s.dir.group_members(&s.group(g))))
        .collect();
    for g in ["staff", "sales"] {
        if !members[g].contains(&keep.to_lowercase()) {
            problems.push(format!("keep.me lost {g}"));
        }
    }
    let found = s
        .dir
        .search(s.base(), "(objectClass=inetOrgPerson)", &["*"]);
    let found_ids: BTreeSet<String> = found
        .iter()
        .filter(|e| !e.dn.eq_ignore_ascii_case(&keep))
        .map(|e| e.first("employeeNumber").unwrap_or("(none)").to_string())
        .collect();
    let expected_ids: BTreeSet<String> = case.accounts.iter().map(|a| a.id.clone()).collect();
    if found_ids != expected_ids {
        problems.push(format!("accounts {found_ids:?}, expected {expected_ids:?}"));
    }
    let ou = |name: &str| {
        if name == "people" {
            s.dir.people_dn.clone()
        } else {
            s.ou(name)
        }
    };
    let fill = |v: &str| {
        v.replace("{sales}", &ou("sales"))
            .replace("{engineering}", &ou("engineering"))
            .replace("{people}", &ou("people"))
    };
    for account in &case.accounts {
        let Some(entry) = found
            .iter()
            .find(|e| e.first("employeeNumber") == Some(account.id.as_str()))
        else {
            continue;
        };
        let dn = hrsync::dn::Dn::parse(&entry.dn).expect("server DN parses");
        let rdn = &dn.rdn_avas()[0];
        if !rdn.attr.eq_ignore_ascii_case("uid") || rdn.value != account.uid {
            problems.push(format!(
                "{}: RDN {}={:?}, expected uid={:?}",
                account.id, rdn.attr, rdn.value, account.uid
            ));
        }
        let parent = dn.parent().expect("has a parent");
        if parent != hrsync::dn::Dn::parse(&ou(&account.ou)).expect("ou DN") {
            problems.push(format!(
                "{}: in {parent}, expected {}",
                account.id, account.ou
            ));
        }
        let lower = entry.dn.to_lowercase();
        for g in MANAGED {
            let is = members[g].contains(&lower);
            let want = account.groups.iter().any(|w| w == g);
            if is != want {
                problems.push(format!("{}: member of {g} is {is}", account.id));
            }
        }
        for (attr, want) in &account.attrs {
            let want = fill(want);
            if entry.values(attr) != [want.clone()] {
                problems.push(format!(
                    "{}: {attr} is {:?}, expected {want:?}",
                    account.id,
                    entry.values(attr)
                ));
            }
        }
        for attr in &account.absent {
            if entry.has(attr) {
                problems.push(format!(
                    "{}: {attr} should be absent, is {:?}",
                    account.id,
                    entry.values(attr)
                ));
            }
        }
    }

    match case.exit {
        // Could not run: not a single change.
        1 if s.dump() != before => {
            problems.push("exit 1 but the directory changed".into());
        }
        // Applied: the next plan has nothing left to do.
        0 => {
            let again = s.hrsync(&["plan", "--detailed-exitcode"]);
            if again.status.code() != Some(0) {
                problems.push(format!(
                    "not converged after the apply:\n{}",
                    tail(&text_of(&again), 40)
                ));
            }
        }
        _ => {}
    }
    if !problems.is_empty() {
        problems.push(format!("--- apply output ---\n{}", tail(&output, 40)));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn text_of(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| {
            let cut: String = l.chars().take(400).collect();
            cut
        })
        .collect::<Vec<_>>()
        .join("\n")
}
