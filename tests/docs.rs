//! The documentation, README.md and the mdBook under `docs/`, checked against the code so that
//! it cannot drift from it:
//!
//! - every ```` ```toml ```` block passes the real `hrsync validate` (the convention below);
//! - every page under `docs/src/` is in `SUMMARY.md`, and every relative link of the book and
//!   the README names a file that exists, and a heading of that page when it has an anchor;
//! - `mdbook build docs` succeeds, when mdbook is installed (it is optional: without it the
//!   test says so and passes).
//!
//! # How a TOML block is validated
//!
//! By its first line:
//!
//! - `# hrsync.toml`: a whole configuration. It is written as `hrsync.toml` beside the base
//!   mappings (below) in `mappings/`, and validated as it is.
//! - `# mappings/NAME.toml`: a mapping file. It is put in the base's `mappings/`, replacing the
//!   base's file of that name, and validated with the base configuration. The line may name the
//!   directory flavour of the base configuration: `# mappings/account.toml (active_directory)`.
//! - anything else: a fragment of `hrsync.toml`, merged over the base configuration (tables
//!   merged key by key, any other value, arrays of tables included, replaced) and validated.
//!   The base is the one of the `directory.flavour` the fragment sets (OpenLDAP when it sets
//!   none), and a fragment whose `[hr]` sets `source` or `preset` describes another HR source:
//!   it replaces the base's `[hr]` whole.
//!
//! The base configuration ([`base_config`]) reads BambooHR through its preset (with a custom
//! `cost_center` field) and has the base mappings ([`BASE_ACCOUNT`], [`BASE_GROUPS`]), whose OUs
//! and groups are under the configuration's `users_base`.
//!
//! `validate` looks at the audit log's path on this machine: an absolute `[audit] file` (the
//! recommended `/var/log/hrsync/audit.jsonl` does not exist on a test machine) is pointed into
//! the temporary directory with `HRSYNC_AUDIT__FILE`, the documented environment override.
//!
//! A block that is deliberately not a valid configuration (one that shows an error) is preceded
//! by the line `<!-- not validated: WHY -->`; the test lists them. Keep them rare. A block whose
//! info string starts with `toml` but is not exactly `toml` fails the test, so that no block
//! escapes validation by its spelling.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| unreachable!("{}: {e}", path.display()))
}

/// README.md and every page of the book, as (path relative to the repository, text).
fn documents() -> Vec<(PathBuf, String)> {
    let mut pages = vec![PathBuf::from("README.md")];
    let mut found = Vec::new();
    markdown_files(&repo().join("docs/src"), &mut found);
    found.sort();
    pages.extend(found.into_iter().map(|p| {
        p.strip_prefix(repo())
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| unreachable!("{} is in the repository", p.display()))
    }));
    pages
        .into_iter()
        .map(|p| {
            let text = read(&repo().join(&p));
            (p, text)
        })
        .collect()
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| unreachable!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "md") {
            out.push(path);
        }
    }
}

/// One fenced code block.
#[derive(Debug)]
struct Block {
    file: PathBuf,
    /// The line of the opening fence, from 1.
    line: usize,
    info: String,
    text: String,
    /// The reason of a `<!-- not validated: ... -->` line just before the fence.
    not_validated: Option<String>,
}

impl Block {
    fn place(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

/// The fenced code blocks of a Markdown text, fences indented (in a list) or not.
fn blocks(file: &Path, text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        let Some(info) = trimmed.strip_prefix("```") else {
            i += 1;
            continue;
        };
        let indent = lines[i].len() - trimmed.len();
        let previous = lines[..i].iter().rev().find(|l| !l.trim().is_empty());
        let not_validated = previous.and_then(|l| {
            l.trim()
                .strip_prefix("<!-- not validated:")
                .and_then(|rest| rest.strip_suffix("-->"))
                .map(|why| why.trim().to_string())
        });
        let start = i;
        let mut body = Vec::new();
        i += 1;
        while i < lines.len() && !lines[i].trim_start().starts_with("```") {
            let line = lines[i];
            let cut = line.len() - line.trim_start().len();
            body.push(&line[cut.min(indent)..]);
            i += 1;
        }
        assert!(
            i < lines.len(),
            "{}:{}: unclosed code block",
            file.display(),
            start + 1
        );
        out.push(Block {
            file: file.to_path_buf(),
            line: start + 1,
            info: info.trim().to_string(),
            text: body.join("\n") + "\n",
            not_validated,
        });
        i += 1;
    }
    out
}

/// The base configuration's directory part, per flavour.
fn base_directory(flavour: &str) -> &'static str {
    match flavour {
        "active_directory" => {
            r#"
[directory]
flavour = "active_directory"
url = "ldaps://dc1.example.org"
bind_dn = "svc-hrsync@example.org"
bind_password = { file = "/run/secrets/ldap-password" }
users_base = "dc=example,dc=org"
"#
        }
        "389ds" => {
            r#"
[directory]
flavour = "389ds"
url = "ldaps://ldap.example.org"
bind_dn = "uid=hrsync,cn=sysaccounts,dc=example,dc=org"
bind_password = { file = "/run/secrets/ldap-password" }
users_base = "dc=example,dc=org"

[directory.389ds]
member_values_follow_renames = true
"#
        }
        _ => {
            r#"
[directory]
flavour = "openldap"
url = "ldaps://ldap.example.org"
bind_dn = "cn=hrsync,ou=services,dc=example,dc=org"
bind_password = { file = "/run/secrets/ldap-password" }
users_base = "dc=example,dc=org"

[directory.openldap]
password_policy = "cn=default,ou=policies,dc=example,dc=org"
"#
        }
    }
}

const BASE_HR: &str = r#"
[hr]
preset = "bamboohr"
company_domain = "acme"
api_key = { env = "BAMBOOHR_API_KEY" }

[hr.fields]
cost_center = "$.customCostCenter"
"#;

/// The base configuration for `flavour`, as a table.
fn base_config(flavour: &str) -> toml::Table {
    let text = format!(
        "mappings = \"mappings\"\n{}{BASE_HR}",
        base_directory(flavour)
    );
    text.parse()
        .unwrap_or_else(|e| unreachable!("the base configuration: {e}"))
}

/// The base mappings: the HR fields every preset defines, one rule, one birthright group. Their
/// OUs and groups are under the configuration's `users_base` (`{base}`), whatever it is.
const BASE_ACCOUNT: &str = r#"
[account]
default_ou = "ou=people,{base}"
disabled_ou = "ou=disabled,{base}"

[account.attributes]
uid = "{first_name|ascii|lower|alnum}.{last_name|ascii|lower|alnum}"
cn = "{first_name} {last_name}"
sn = "{last_name}"
mail = "{email}"
title = "{title}"
"#;

const BASE_ACCOUNT_AD: &str = r#"
[correlation]
attribute = "employeeID"

[account]
rdn_attribute = "cn"
object_classes = ["top", "person", "organizationalPerson", "user"]
default_ou = "OU=People,{base}"
disabled_ou = "OU=Disabled,{base}"
unique_attributes = ["sAMAccountName", "userPrincipalName"]

[account.attributes]
cn = "{first_name} {last_name}{unique}"
sn = "{last_name}"
sAMAccountName = "{first_name|ascii|lower|alnum|initial}{last_name|ascii|lower|alnum|max:18}{unique}"
userPrincipalName = "{first_name|ascii|lower|alnum|initial}{last_name|ascii|lower|alnum|max:18}{unique}@example.org"
"#;

const BASE_GROUPS: &str = r#"
[groups]
base = "ou=groups,{base}"
birthright = ["staff"]
empty_group_placeholder = "cn=empty-group-placeholder,{base}"

[[rule]]
name = "engineering"
match = { department = "Engineering" }
groups = ["engineering", "vpn"]
ou = "ou=engineering,ou=people,{base}"
"#;

/// `over` merged into `base`: tables key by key, anything else replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(mine)), toml::Value::Table(theirs)) => merge(mine, theirs),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// What a block is, by its first line.
enum Kind {
    Whole,
    Mapping { name: String, flavour: String },
    Fragment,
}

fn kind(block: &Block) -> Kind {
    let first = block.text.lines().next().unwrap_or_default().trim();
    if first == "# hrsync.toml" {
        return Kind::Whole;
    }
    if let Some(rest) = first.strip_prefix("# mappings/") {
        let (name, flavour) = match rest.split_once(" (") {
            Some((name, flavour)) => (name, flavour.trim_end_matches(')')),
            None => (rest, "openldap"),
        };
        assert!(
            name.ends_with(".toml") && !name.contains('/'),
            "{}: a mapping block's first line is `# mappings/NAME.toml`, not {first:?}",
            block.place()
        );
        return Kind::Mapping {
            name: name.to_string(),
            flavour: flavour.to_string(),
        };
    }
    Kind::Fragment
}

/// Writes the files for `block` into `dir` and returns the config path and the environment.
fn lay_out(block: &Block, dir: &Path) -> Result<(PathBuf, Vec<(String, String)>), String> {
    let parsed: toml::Table = block.text.parse().map_err(|e| format!("not TOML: {e}"))?;
    let mappings = dir.join("mappings");
    std::fs::create_dir_all(&mappings).map_err(|e| e.to_string())?;
    let write = |path: PathBuf, text: &str| std::fs::write(path, text).map_err(|e| e.to_string());
    let (config, flavour) = match kind(block) {
        Kind::Whole => (parsed, None),
        Kind::Mapping { name, flavour } => {
            write(mappings.join(name), &block.text)?;
            (base_config(&flavour), Some(flavour))
        }
        Kind::Fragment => {
            let flavour = parsed
                .get("directory")
                .and_then(|d| d.get("flavour"))
                .and_then(toml::Value::as_str)
                .unwrap_or("openldap")
                .to_string();
            let mut config = base_config(&flavour);
            let new_source = parsed
                .get("hr")
                .and_then(toml::Value::as_table)
                .is_some_and(|hr| hr.contains_key("source") || hr.contains_key("preset"));
            if new_source {
                config.remove("hr");
            }
            merge(&mut config, parsed);
            (config, Some(flavour))
        }
    };
    let ad = flavour.as_deref() == Some("active_directory")
        || config
            .get("directory")
            .and_then(|d| d.get("flavour"))
            .and_then(toml::Value::as_str)
            == Some("active_directory");
    let users_base = config
        .get("directory")
        .and_then(|d| d.get("users_base"))
        .and_then(toml::Value::as_str)
        .unwrap_or("dc=example,dc=org");
    for (name, text) in [
        (
            "account.toml",
            if ad { BASE_ACCOUNT_AD } else { BASE_ACCOUNT },
        ),
        ("groups.toml", BASE_GROUPS),
    ] {
        if !mappings.join(name).exists() {
            write(mappings.join(name), &text.replace("{base}", users_base))?;
        }
    }
    let mut env = Vec::new();
    let audit_file = config
        .get("audit")
        .and_then(|a| a.get("file"))
        .and_then(toml::Value::as_str);
    if audit_file.is_some_and(|f| Path::new(f).is_absolute()) {
        env.push((
            "HRSYNC_AUDIT__FILE".to_string(),
            dir.join("audit.jsonl").display().to_string(),
        ));
    }
    let path = dir.join("hrsync.toml");
    let text = match kind(block) {
        Kind::Whole => block.text.clone(),
        _ => toml::to_string(&config).map_err(|e| e.to_string())?,
    };
    write(path.clone(), &text)?;
    Ok((path, env))
}

fn validate(config: &Path, env: &[(String, String)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hrsync"));
    command
        .args(["--log-format", "text", "--config"])
        .arg(config)
        .arg("validate")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run hrsync validate")
}

/// Below this many TOML blocks, the extraction has lost some (a broken fence, a page gone).
const MIN_TOML_BLOCKS: usize = 40;

#[test]
fn every_toml_example_in_the_docs_passes_hrsync_validate() {
    let mut validated = 0;
    let mut skipped = Vec::new();
    let mut failures = Vec::new();
    for (file, text) in documents() {
        for block in blocks(&file, &text) {
            if block.info != "toml" {
                assert!(
                    !block.info.starts_with("toml"),
                    "{}: ```{} is not checked; write ```toml (and `<!-- not validated: why -->` \
                     before it if it must not be valid)",
                    block.place(),
                    block.info
                );
                continue;
            }
            if let Some(why) = &block.not_validated {
                skipped.push(format!("{}: {why}", block.place()));
                continue;
            }
            let dir = TempDir::new().expect("temp dir");
            let outcome = lay_out(&block, dir.path()).and_then(|(config, env)| {
                let out = validate(&config, &env);
                if out.status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    ))
                }
            });
            match outcome {
                Ok(()) => validated += 1,
                Err(why) => failures.push(format!(
                    "{}: this block does not pass hrsync validate:\n```toml\n{}```\n{why}",
                    block.place(),
                    block.text
                )),
            }
        }
    }
    println!("{validated} TOML block(s) validated");
    println!("{} TOML block(s) marked as not validated:", skipped.len());
    for line in &skipped {
        println!("  {line}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        validated >= MIN_TOML_BLOCKS,
        "only {validated} TOML blocks found and validated, fewer than {MIN_TOML_BLOCKS}: has the \
         extraction or a page broken?"
    );
    assert!(
        skipped.len() <= 3,
        "keep the blocks that are not validated rare: {skipped:#?}"
    );
}

/// The test's own convention holds: a block it lays out as each kind is read as that kind, a
/// broken example fails, and the floor is not met by an empty book.
#[test]
fn the_toml_check_catches_a_broken_example() {
    let dir = TempDir::new().expect("temp dir");
    let broken = Block {
        file: PathBuf::from("x.md"),
        line: 1,
        info: "toml".into(),
        text: "[directory]\nurll = \"ldaps://x\"\n".into(),
        not_validated: None,
    };
    let (config, env) = lay_out(&broken, dir.path()).expect("laid out");
    let out = validate(&config, &env);
    assert!(!out.status.success(), "a misspelt key fails validate");
    let dir = TempDir::new().expect("temp dir");
    let mapping = Block {
        text: "# mappings/groups.toml\n[[rule]]\nname = \"x\"\nmatch = { departmnt = \"A\" }\ngroups = [\"cn=x,dc=example,dc=org\"]\n"
            .into(),
        ..broken
    };
    let (config, env) = lay_out(&mapping, dir.path()).expect("laid out");
    let out = validate(&config, &env);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("departmnt"),
        "a mapping block is validated as a mapping file: {out:?}"
    );
    let markdown = "text\n<!-- not validated: shows an error -->\n\n```toml\nx = 1\n```\n  ```toml\n  [a]\n  b = 2\n  ```\n";
    let found = blocks(Path::new("x.md"), markdown);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].not_validated.as_deref(), Some("shows an error"));
    assert_eq!(found[1].text, "[a]\nb = 2\n");
    assert_eq!(found[1].line, 7);
}

/// The link check sees links in prose only, and names headings as mdbook does.
#[test]
fn the_link_check_reads_links_and_headings_as_mdbook_does() {
    let text = "see [a](b.md#c), not `[x](y.md)`\n```sh\n[z](w.md)\n```\n[d](e.md)\n";
    assert_eq!(
        links(text),
        [(1, "b.md#c".to_string()), (5, "e.md".to_string())]
    );
    let headings = anchors(
        "# Audit log (`[audit]`)\n## Removing a group's last member\n## Events\n## Events\n",
    );
    for id in [
        "audit-log-audit",
        "removing-a-groups-last-member",
        "events",
        "events-1",
    ] {
        assert!(headings.contains(id), "{id}: {headings:?}");
    }
}

/// mdbook's heading ids: lower case, letters, digits, `-` and `_` kept, white space made `-`,
/// anything else dropped; a repeated id gets `-1`, `-2`, ...
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code || !line.starts_with('#') {
            continue;
        }
        let heading = line.trim_start_matches('#').trim();
        let id: String = heading
            .chars()
            .filter_map(|c| match c {
                c if c.is_alphanumeric() || c == '_' || c == '-' => Some(c.to_lowercase().next()?),
                c if c.is_whitespace() => Some('-'),
                _ => None,
            })
            .collect();
        let n = seen.entry(id.clone()).or_insert(0);
        out.insert(if *n == 0 {
            id.clone()
        } else {
            format!("{id}-{n}")
        });
        *n += 1;
    }
    out
}

/// The targets of the Markdown links `[text](target)` outside code blocks and code spans.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_code = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        // Code spans hold examples, not links.
        let prose: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, s)| s)
            .collect::<Vec<_>>()
            .join(" ");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            out.push((n + 1, after[..end].to_string()));
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn every_relative_link_names_a_file_and_heading_that_exist() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for (file, text) in documents() {
        let dir = repo().join(&file);
        let dir = dir.parent().unwrap_or(Path::new("."));
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let resolved = if path.is_empty() {
                repo().join(&file)
            } else {
                dir.join(path)
            };
            checked += 1;
            if !resolved.exists() {
                broken.push(format!("{}:{line}: {target}: no such file", file.display()));
                continue;
            }
            if let Some(anchor) = anchor
                && resolved.extension().is_some_and(|x| x == "md")
                && !anchors(&read(&resolved)).contains(anchor)
            {
                broken.push(format!(
                    "{}:{line}: {target}: no such heading",
                    file.display()
                ));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(checked >= 50, "only {checked} relative links found");
}

#[test]
fn every_page_of_the_book_is_in_the_summary() {
    let src = repo().join("docs/src");
    let summary = read(&src.join("SUMMARY.md"));
    let listed: BTreeSet<PathBuf> = links(&summary)
        .into_iter()
        .map(|(_, target)| PathBuf::from(target.split('#').next().unwrap_or_default()))
        .collect();
    let mut pages = Vec::new();
    markdown_files(&src, &mut pages);
    let missing: Vec<String> = pages
        .iter()
        .filter_map(|p| p.strip_prefix(&src).ok())
        .filter(|p| *p != Path::new("SUMMARY.md") && !listed.contains(*p))
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "pages under docs/src that SUMMARY.md does not list (mdbook would not build them): {missing:?}"
    );
    assert!(pages.len() >= 20, "only {} pages", pages.len());
}

/// The README is the front page: it says how to install, the two commands, a minimal
/// configuration, and links into the book.
#[test]
fn the_readme_is_a_front_page() {
    let readme = read(&repo().join("README.md"));
    for needle in [
        "## Install",
        "cargo install --path .",
        "deploy/demo/demo.sh",
        "tests/run.sh",
        "# hrsync.toml",
        "hrsync init",
        "docs/src/getting-started.md",
    ] {
        assert!(readme.contains(needle), "README: {needle}");
    }
    let lines = readme.lines().count();
    assert!(
        lines < 250,
        "the README is a front page, not the manual: {lines} lines"
    );
}

#[test]
fn the_book_builds_with_mdbook_when_it_is_installed() {
    let version = Command::new("mdbook").arg("--version").output();
    let Ok(version) = version else {
        // Straight to stderr: libtest would swallow a println! of a passing test, and the
        // person running the suite must see that the book was not built.
        let _ = writeln!(
            std::io::stderr(),
            "\nmdbook not installed: book not built (cargo install mdbook); the pages, links and \
             TOML examples were still checked"
        );
        return;
    };
    println!(
        "building the book with {}",
        String::from_utf8_lossy(&version.stdout).trim()
    );
    let dest = TempDir::new().expect("temp dir");
    let out = Command::new("mdbook")
        .arg("build")
        .arg(repo().join("docs"))
        .arg("--dest-dir")
        .arg(dest.path())
        .output()
        .expect("run mdbook");
    assert!(
        out.status.success(),
        "mdbook build docs failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dest.path().join("index.html").is_file(), "no index.html");
}
