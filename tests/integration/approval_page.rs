//! The approval page (`plan --format html --out plan.html`) against a real slapd and a real
//! browser: a plan with every lifecycle, a tripped limit, a warning and hostile HR names is
//! saved as the page; headless Chromium (Debian's `chromium`, installed by
//! tests/chromium/install-deps.sh; this test fails without it) loads it, and the DOM after its
//! script ran shows the names as text, runs no script from a name, and hides what the filters
//! (set from the URL's fragment, as a linked view) leave out. A screenshot is kept at
//! `<target dir>/test-artefacts/approval-page.png`. Then the page is applied with
//! `apply --plan plan.html --digest ...`, after an edited page and a wrong digest were refused
//! with nothing applied. The page printed to PDF is kept beside the screenshot
//! (`approval-page.pdf`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use crate::scenario::{Scenario, person, terminated};

const CHROMIUM: &str = "/usr/bin/chromium";
/// How long one headless Chromium run may take before the test gives up on it.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

/// A name that would mark the document if its script ran.
const SCRIPT_NAME: &str =
    "<script>document.documentElement.setAttribute('data-pwned','1')</script>";
/// A name that would retitle the document if it became an element.
const IMG_NAME: &str = "<img src=x onerror=\"document.title='pwned'\">";
/// A surname that would end a script block.
const CLOSING_NAME: &str = "</script><script>document.title='pwned2'</script>";
/// A title with a line separator (U+2028), which ends a line in older JavaScript; HR values
/// with one are refused, so it is set in the directory, where the plan reads it.
const SEPARATED_TITLE: &str = "Rep\u{2028}Team Lead";

/// hrsync.toml for the scenario: leave disables, limits a handful of accounts cannot trip
/// except `disable`, which trips above `disable_limit`.
fn configure(s: &Scenario, disable_limit: usize) {
    s.write_config("");
    let config = std::fs::read_to_string(&s.config).expect("read config");
    let config = config.replace(
        "active = [\"Active\"]",
        "active = [\"Active\"]\nleave = [\"On Leave\"]",
    );
    let tables = format!(
        "[lifecycle]\nleave = \"disable\"\n\n[limits]\ncreate = {{ count = 50 }}\n\
         disable = {{ count = {disable_limit} }}\nenable = {{ count = 50 }}\n\
         group_removal = {{ count = 50 }}\nmove = {{ count = 50 }}\nupdate = {{ count = 50 }}\n"
    );
    std::fs::write(&s.config, format!("{config}\n{tables}")).expect("write config");
}

fn with_status(mut record: Value, status: &str) -> Value {
    record["status"] = json!(status);
    record
}

/// A company where the next plan holds every lifecycle: Grace moves to Sales, Lee leaves (over
/// the `disable` limit of 0), Rea (a leaver before) is rehired, Tia returns from a leave, Uma's
/// title changes (from one an admin set with a line separator), and two hostile joiners arrive, one with a manager nobody has (a warning).
async fn every_lifecycle() -> Scenario {
    let s = Scenario::start("approval-page").await;
    configure(&s, 50);
    let grace = person("201", "Grace", "Hopper", "Engineering", "Engineer");
    let lee = person("202", "Lee", "Leaver", "Sales", "Rep");
    let rea = person("203", "Rea", "Hire", "Sales", "Rep");
    let tia = person("204", "Tia", "Return", "Engineering", "Engineer");
    let uma = person("205", "Uma", "Update", "Sales", "Rep");
    s.serve(&[
        grace.clone(),
        lee.clone(),
        rea.clone(),
        tia.clone(),
        uma.clone(),
    ])
    .await;
    s.expect(&["apply"], 0);
    s.serve(&[
        grace.clone(),
        lee.clone(),
        terminated(rea.clone()),
        with_status(tia.clone(), "On Leave"),
        uma.clone(),
    ])
    .await;
    s.expect(&["apply"], 0);
    s.assert_converged();
    let uma_dn = format!("uid=uma.update,{}", s.ou("sales"));
    let out = s.dir.ldapmodify(&format!(
        "dn: {uma_dn}\nchangetype: modify\nreplace: title\ntitle:: {}\n",
        BASE64.encode(SEPARATED_TITLE)
    ));
    assert!(out.status.success(), "{out:?}");

    configure(&s, 0);
    let mut scripter = person("206", SCRIPT_NAME, CLOSING_NAME, "Engineering", "Engineer");
    scripter["workEmail"] = json!("scripter.206@example.org");
    let mut imager = person("207", IMG_NAME, "Imager", "Sales", "Rep");
    imager["workEmail"] = json!("imager.207@example.org");
    imager["supervisorEId"] = json!("999");
    let mut moved = grace;
    moved["department"] = json!("Sales");
    moved["jobTitle"] = json!("Account Executive");
    let mut retitled = uma;
    retitled["jobTitle"] = json!("Senior Rep");
    s.serve(&[moved, terminated(lee), rea, tia, retitled, scripter, imager])
        .await;
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn the_approval_page_shows_every_lifecycle_safely_filters_and_applies_as_approved() {
    let s = every_lifecycle().await;
    let page_path = s.work.path().join("plan.html");
    let page_arg = page_path.to_str().expect("utf-8 path");
    let stdout = s.expect(&["plan", "--format", "html", "--out", page_arg], 0);
    // With --out, the page goes to the file and the text plan to stdout.
    for lifecycle in ["joiner", "mover", "leaver", "rehire", "return", "update"] {
        assert!(
            stdout.contains(&format!("\n{lifecycle} uid=")),
            "{lifecycle}:\n{stdout}"
        );
    }
    assert!(stdout.contains("limit `disable` tripped"), "{stdout}");
    assert!(!stdout.contains("<!DOCTYPE html>"), "{stdout}");
    let page = std::fs::read_to_string(&page_path).expect("the page was written");
    let digest = shown_digest(&page);
    the_page_is_self_contained(&page);
    // Without --out, the page goes to stdout.
    let printed = s.expect(&["plan", "--format", "html"], 0);
    assert!(printed.starts_with("<!DOCTYPE html>") && printed.contains("id=\"plan-digest\""));

    in_the_browser(&page_path, &page);
    applied_only_as_approved(&s, &page_path, &page, &digest);
}

/// The digest the page shows.
fn shown_digest(page: &str) -> String {
    let start = page
        .find("id=\"plan-digest\">")
        .expect("the page shows the digest")
        + "id=\"plan-digest\">".len();
    let digest = &page[start..start + page[start..].find('<').expect("digest ends")];
    assert!(
        digest.starts_with("sha256:") && digest.len() == 7 + 64,
        "{digest}"
    );
    digest.to_string()
}

/// No request is possible: a CSP that allows none, and no element that would make one.
fn the_page_is_self_contained(page: &str) {
    assert!(
        page.contains(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src &#39;none&#39;; \
             style-src &#39;sha256-"
        ),
        "{page}"
    );
    assert!(!page.contains("http://") && !page.contains("https://"));
    for tag in start_tags(page) {
        for attribute in tag.attributes.keys() {
            assert!(
                attribute != "src" && attribute != "href" && !attribute.starts_with("on"),
                "<{} {attribute}>",
                tag.name
            );
        }
        assert!(
            !["img", "link", "iframe", "object", "embed", "base", "form"]
                .contains(&tag.name.as_str()),
            "<{}>",
            tag.name
        );
    }
    // The hostile names are in the page, as text.
    assert!(page.contains(
        "&lt;script&gt;document.documentElement.setAttribute(&#39;data-pwned&#39;,&#39;1&#39;)&lt;/script&gt;"
    ));
    assert!(page.contains("&lt;img src=x onerror=&quot;document.title=&#39;pwned&#39;&quot;&gt;"));
    // The embedded plan cannot end its block: its `<` are escapes.
    let block_at = page
        .find("<script type=\"application/json\" id=\"hrsync-plan\">")
        .expect("the plan is embedded");
    let block = &page[block_at..];
    let block = &block[..block.find("</script>").expect("the block ends")];
    assert!(block.contains("\\u003c/script\\u003e\\u003cscript\\u003edocument.title="));
    assert!(block.contains("\"Rep\\u2028Team Lead\""), "{block}");
    assert!(!block.contains('\u{2028}'));
}

/// What the browser shows: the page as loaded, then filtered through the URL's fragment.
fn in_the_browser(page_path: &Path, page: &str) {
    let url = format!("file://{}", page_path.display());
    let work = tempfile::tempdir().expect("temp dir");
    let dom = chromium(work.path(), &["--dump-dom", &url]);
    nothing_from_a_name_ran(&dom, page);
    let accounts = accounts(&dom);
    assert_eq!(accounts.len(), 7, "{accounts:#?}");
    assert!(accounts.iter().all(|a| a.visible), "{accounts:#?}");
    assert!(
        dom.contains("Showing 7 of 7 account(s)."),
        "the page's own script ran (its CSP hash is right):\n{dom}"
    );
    // The names as the approver reads them.
    assert!(dom.contains(&format!("<span class=\"name\">{}", html_text(SCRIPT_NAME))));
    assert!(dom.contains(&html_text(IMG_NAME)));

    let leavers = accounts_filtered(work.path(), &url, "lifecycle=leaver", &dom);
    assert_eq!(visible_ids(&leavers), ["202"], "{leavers:#?}");
    let sales = accounts_filtered(work.path(), &url, "department=Sales", &dom);
    for account in &sales {
        let in_sales = account.departments.iter().any(|d| d == "Sales");
        assert_eq!(account.visible, in_sales, "{account:#?}");
    }
    // Grace moved from Engineering to Sales; Tia stays in Engineering.
    assert!(visible_ids(&sales).contains(&"201".to_string()));
    assert!(!visible_ids(&sales).contains(&"204".to_string()));
    let vpn = accounts
        .iter()
        .flat_map(|a| a.groups.iter())
        .find(|g| g.starts_with("cn=vpn,"))
        .expect("a change touches the vpn group")
        .clone();
    let fragment = format!("group={}", percent_encoded(&vpn));
    let in_vpn = accounts_filtered(work.path(), &url, &fragment, &dom);
    for account in &in_vpn {
        assert_eq!(
            account.visible,
            account.groups.contains(&vpn),
            "{account:#?}"
        );
    }
    assert!(visible_ids(&in_vpn).len() >= 2, "{in_vpn:#?}");
    let hopper = accounts_filtered(work.path(), &url, "q=HOPPER", &dom);
    assert_eq!(visible_ids(&hopper), ["201"]);
    let both = accounts_filtered(
        work.path(),
        &url,
        "lifecycle=joiner,leaver&department=Sales",
        &dom,
    );
    assert_eq!(visible_ids(&both), ["202", "207"]);

    screenshot(work.path(), &url);
}

/// The dump of the page filtered by `fragment`: no name's script ran there either, the other
/// lifecycles' sections are hidden when they hold no shown account.
fn accounts_filtered(work: &Path, url: &str, fragment: &str, unfiltered: &str) -> Vec<Account> {
    let dom = chromium(work, &["--dump-dom", &format!("{url}#{fragment}")]);
    nothing_from_a_name_ran(&dom, unfiltered);
    let accounts = accounts(&dom);
    let shown = accounts.iter().filter(|a| a.visible).count();
    assert!(
        dom.contains(&format!("Showing {shown} of 7 account(s)")),
        "{fragment}: {dom}"
    );
    assert!(shown < 7, "{fragment} hides some accounts");
    for section in start_tags(&dom).into_iter().filter(|t| t.name == "section") {
        let Some(lifecycle) = section.attributes.get("data-lifecycle") else {
            continue;
        };
        let any_shown = accounts
            .iter()
            .any(|a| &a.lifecycle == lifecycle && a.visible);
        assert_eq!(
            !section.attributes.contains_key("hidden"),
            any_shown,
            "{fragment}: section {lifecycle}"
        );
    }
    accounts
}

/// The title is the page's own, the document root carries no attribute a name's script would
/// set, and no image (the page has none) was made from a name.
fn nothing_from_a_name_ran(dom: &str, page: &str) {
    let title = |html: &str| {
        let start = html.find("<title>").expect("a title") + "<title>".len();
        html[start..start + html[start..].find("</title>").expect("title ends")].to_string()
    };
    assert_eq!(title(dom), title(page), "nothing retitled the page");
    assert!(!title(dom).contains("pwned"));
    let tags = start_tags(dom);
    let root = tags
        .iter()
        .find(|t| t.name == "html")
        .expect("the document root");
    assert!(
        !root.attributes.contains_key("data-pwned"),
        "a name's script ran: {root:?}"
    );
    assert!(
        !tags.iter().any(|t| t.name == "img"),
        "an image from a name"
    );
    assert_eq!(
        tags.iter().filter(|t| t.name == "script").count(),
        2,
        "the plan and the filter script only"
    );
}

fn screenshot(work: &Path, url: &str) {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target dir")
        .join("test-artefacts");
    std::fs::create_dir_all(&target).expect("create the artefacts dir");
    let png = target.join("approval-page.png");
    let _ = std::fs::remove_file(&png);
    chromium(
        work,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,2000",
            url,
        ],
    );
    let bytes = std::fs::read(&png).expect("the screenshot was written");
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 20_000,
        "{png:?}"
    );
    eprintln!("approval page screenshot: {}", png.display());
    // Printed (the page's print style: no filter controls), kept beside the screenshot.
    let pdf = target.join("approval-page.pdf");
    let _ = std::fs::remove_file(&pdf);
    chromium(
        work,
        &[
            &format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer",
            url,
        ],
    );
    let bytes = std::fs::read(&pdf).expect("the PDF was written");
    assert!(
        bytes.starts_with(b"%PDF-") && bytes.len() > 20_000,
        "{pdf:?}"
    );
}

/// Runs headless Chromium with `args`, in a profile of its own, and returns its stdout. Fails
/// (rather than skips) when Chromium is missing: tests/run.sh installs it.
fn chromium(work: &Path, args: &[&str]) -> String {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the approval page is tested in a real browser; run \
         tests/chromium/install-deps.sh (tests/run.sh does)"
    );
    let profile = tempfile::tempdir_in(work).expect("profile dir");
    let out_path = work.join(format!("chromium-{}.out", std::process::id()));
    let out = std::fs::File::create(&out_path).expect("chromium output file");
    let err = std::fs::File::create(work.join("chromium.err")).expect("chromium error file");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--mute-audio",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start chromium");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        let timed_out = started.elapsed() > BROWSER_TIMEOUT;
        if timed_out {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert!(
            !timed_out,
            "chromium {args:?} took over {BROWSER_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = std::fs::read_to_string(work.join("chromium.err")).unwrap_or_default();
    assert!(status.success(), "chromium {args:?}: {status}\n{stderr}");
    std::fs::read_to_string(&out_path).expect("chromium output")
}

/// An account as the browser left it.
#[derive(Debug)]
struct Account {
    employee: String,
    lifecycle: String,
    departments: Vec<String>,
    groups: Vec<String>,
    visible: bool,
}

fn accounts(dom: &str) -> Vec<Account> {
    let list = |tag: &Tag, name: &str| -> Vec<String> {
        let text = tag.attributes.get(name).expect("a data list");
        serde_json::from_str(text).expect("a JSON list")
    };
    start_tags(dom)
        .into_iter()
        .filter(|t| t.name == "article")
        .map(|t| Account {
            employee: t.attributes["data-employee"].clone(),
            lifecycle: t.attributes["data-lifecycle"].clone(),
            departments: list(&t, "data-departments"),
            groups: list(&t, "data-groups"),
            visible: !t.attributes.contains_key("hidden"),
        })
        .collect()
}

fn visible_ids(accounts: &[Account]) -> Vec<String> {
    let mut ids: Vec<String> = accounts
        .iter()
        .filter(|a| a.visible)
        .map(|a| a.employee.clone())
        .collect();
    ids.sort();
    ids
}

/// A start tag: its name and attributes (values unescaped).
#[derive(Debug)]
struct Tag {
    name: String,
    attributes: BTreeMap<String, String>,
}

/// Every start tag of `html`, read the simple way that serialised HTML allows: attribute values
/// are double-quoted (a `"` inside is `&quot;`), and text holds no `<` (it is `&lt;`). Where
/// escaping failed, a name's markup reads as the tags it would make, which the checks catch.
fn start_tags(html: &str) -> Vec<Tag> {
    let mut tags = Vec::new();
    for (at, _) in html.match_indices('<') {
        let rest = &html[at + 1..];
        if !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        let name_end = rest.find([' ', '>', '/', '\n']).unwrap_or(rest.len());
        let mut attributes = BTreeMap::new();
        let mut inside = &rest[name_end..];
        loop {
            inside = inside.trim_start_matches([' ', '\n', '/']);
            if inside.is_empty() || inside.starts_with('>') {
                break;
            }
            let end = inside.find(['=', ' ', '>', '\n']).unwrap_or(inside.len());
            let name = inside[..end].to_ascii_lowercase();
            inside = &inside[end..];
            let mut value = String::new();
            // Double-quoted as serialised HTML has them; single-quoted or bare if whatever
            // made the page was not careful (each value taken whole, so the loop goes on).
            if let Some(quoted) = inside.strip_prefix("=\"") {
                let close = quoted.find('"').unwrap_or(quoted.len());
                value = unescape(&quoted[..close]);
                inside = quoted.get(close + 1..).unwrap_or("");
            } else if let Some(quoted) = inside.strip_prefix("='") {
                let close = quoted.find('\'').unwrap_or(quoted.len());
                value = unescape(&quoted[..close]);
                inside = quoted.get(close + 1..).unwrap_or("");
            } else if let Some(bare) = inside.strip_prefix('=') {
                let close = bare.find([' ', '>', '\n']).unwrap_or(bare.len());
                value = unescape(&bare[..close]);
                inside = &bare[close..];
            }
            attributes.insert(name, value);
        }
        tags.push(Tag {
            name: rest[..name_end].to_ascii_lowercase(),
            attributes,
        });
    }
    tags
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `text` as Chromium serialises it in an element: `&`, `<`, `>` escaped, quotes as they are.
fn html_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An edited page and a wrong digest are refused with nothing applied; the page as approved,
/// with its digest, applies, and the directory then matches HR.
fn applied_only_as_approved(s: &Scenario, page_path: &Path, page: &str, digest: &str) {
    let before = s.dump();
    let refused = |path: &PathBuf, extra: &[&str], expected: &[&str]| {
        let mut args = vec!["apply", "--plan", path.to_str().expect("utf-8 path")];
        args.extend_from_slice(extra);
        let output = s.hrsync(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        for text in expected {
            assert!(stderr.contains(text), "{args:?}: {text:?} not in\n{stderr}");
        }
        assert_eq!(s.dump(), before, "{args:?} changed the directory");
    };

    // The embedded plan edited: Uma's new title forged, the page left as it was.
    let forged_title = page.replacen("\"Senior Rep\"", "\"Forged Title\"", 1);
    assert_ne!(forged_title, page);
    let forged = s.work.path().join("forged.html");
    std::fs::write(&forged, &forged_title).expect("write");
    refused(&forged, &[], &["not the page of the plan it embeds"]);
    // What the page shows edited: the leaver's removal from a group hidden.
    let hidden = page.replacen("Remove from group", "Keep group", 1);
    assert_ne!(hidden, page);
    std::fs::write(&forged, &hidden).expect("write");
    refused(&forged, &[], &["not the page of the plan it embeds"]);
    // A second embedded plan.
    let twice = page.replacen(
        "</body>",
        "<script type=\"application/json\" id=\"hrsync-plan\">{}</script></body>",
        1,
    );
    std::fs::write(&forged, &twice).expect("write");
    refused(&forged, &[], &["more than one embedded plan"]);
    // The genuine page, but not the approved digest.
    let other = format!("sha256:{}", "0".repeat(64));
    let path = page_path.to_path_buf();
    refused(
        &path,
        &["--digest", &other],
        &[
            &format!("its digest is {digest}, not the approved {other}"),
            "nothing applied",
        ],
    );
    // --digest without --plan is a usage error.
    let output = s.hrsync(&["apply", "--digest", digest]);
    assert_eq!(output.status.code(), Some(64), "{output:?}");
    assert_eq!(s.dump(), before);

    let out = s.expect(
        &[
            "apply",
            "--plan",
            path.to_str().expect("utf-8"),
            "--digest",
            digest,
        ],
        0,
    );
    assert!(out.contains("leaver uid=lee.leaver,"), "{out}");
    let joiner = s
        .dir
        .search(s.base(), "(employeeNumber=206)", &["cn", "sn"]);
    assert_eq!(joiner.len(), 1, "the hostile joiner was created");
    assert_eq!(
        joiner[0].first("sn"),
        Some(CLOSING_NAME),
        "the name is stored as HR gave it"
    );
    let lee = format!("uid=lee.leaver,{}", s.dir.disabled_dn);
    assert!(
        s.dir.entry(&lee).is_some(),
        "the leaver moved to the disabled OU"
    );
    let uma = s.dir.search(s.base(), "(employeeNumber=205)", &["title"]);
    assert_eq!(uma[0].first("title"), Some("Senior Rep"));
    s.assert_converged();
    // apply prints the page of what it applies, too (unsigned: a record, not for approval).
    let printed = s.expect(&["apply", "--format", "html"], 0);
    assert!(printed.starts_with("<!DOCTYPE html>"), "{printed}");
    assert!(
        printed.contains("No changes: the directory matches HR."),
        "{printed}"
    );
}
