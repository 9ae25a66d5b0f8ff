//! `hrsync init`: a commented starter `hrsync.toml` and `mappings/` for one HR source and one
//! directory flavour. `hrsync validate` accepts them as written and names each starter value
//! still to replace (`crate::config::placeholders` says how they are recognised), so the
//! admin's first step is to make those warnings go away.
//!
//! Nothing is ever overwritten: when `hrsync.toml`, a mapping file the starter would write, or
//! any other `*.toml` in `mappings/` (hrsync would read it beside the starter's) is there
//! already, init writes nothing and names each one. Each file is created with `create_new`, so
//! one that appears between the check and the write is not overwritten either; the files
//! written by then are removed again.
//!
//! The templates are files under `init/`: `header.toml` and `footer.toml` around one
//! `directory/<flavour>.toml` and one `hr/<source>.toml`, and `mappings/<flavour>/`. The
//! mappings use only the HR fields every source defines (names, email, title, department,
//! location, manager), so any source goes with any flavour.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::ValueEnum;

use crate::app::{Outcome, RunError};

/// Where employees come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StarterHr {
    /// BambooHR (a custom report through the API)
    Bamboohr,
    /// Personio API v1
    Personio,
    /// HiBob (the people search)
    Hibob,
    /// Workday (a RaaS custom report)
    Workday,
    /// SAP SuccessFactors (OData v2)
    Successfactors,
    /// any SCIM 2.0 service provider
    Scim,
    /// a CSV export file
    Csv,
}

/// The directory the accounts are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StarterFlavour {
    /// OpenLDAP (slapd with the ppolicy overlay)
    Openldap,
    /// Active Directory (or a Samba AD DC)
    #[value(name = "active_directory", alias = "active-directory")]
    ActiveDirectory,
    /// 389 Directory Server (Red Hat Directory Server)
    #[value(name = "389ds")]
    Ds389,
}

impl StarterHr {
    fn name(self) -> &'static str {
        match self {
            Self::Bamboohr => "bamboohr",
            Self::Personio => "personio",
            Self::Hibob => "hibob",
            Self::Workday => "workday",
            Self::Successfactors => "successfactors",
            Self::Scim => "scim",
            Self::Csv => "csv",
        }
    }

    /// The `[hr]` part of `hrsync.toml`.
    fn template(self) -> &'static str {
        match self {
            Self::Bamboohr => include_str!("init/hr/bamboohr.toml"),
            Self::Personio => include_str!("init/hr/personio.toml"),
            Self::Hibob => include_str!("init/hr/hibob.toml"),
            Self::Workday => include_str!("init/hr/workday.toml"),
            Self::Successfactors => include_str!("init/hr/successfactors.toml"),
            Self::Scim => include_str!("init/hr/scim.toml"),
            Self::Csv => include_str!("init/hr/csv.toml"),
        }
    }
}

impl StarterFlavour {
    fn name(self) -> &'static str {
        match self {
            Self::Openldap => "openldap",
            Self::ActiveDirectory => "active_directory",
            Self::Ds389 => "389ds",
        }
    }

    /// The `[directory]` part of `hrsync.toml`.
    fn template(self) -> &'static str {
        match self {
            Self::Openldap => include_str!("init/directory/openldap.toml"),
            Self::ActiveDirectory => include_str!("init/directory/active_directory.toml"),
            Self::Ds389 => include_str!("init/directory/389ds.toml"),
        }
    }

    /// `mappings/account.toml` and `mappings/groups.toml`.
    fn mappings(self) -> [&'static str; 2] {
        match self {
            Self::Openldap => [
                include_str!("init/mappings/openldap/account.toml"),
                include_str!("init/mappings/openldap/groups.toml"),
            ],
            Self::ActiveDirectory => [
                include_str!("init/mappings/active_directory/account.toml"),
                include_str!("init/mappings/active_directory/groups.toml"),
            ],
            Self::Ds389 => [
                include_str!("init/mappings/389ds/account.toml"),
                include_str!("init/mappings/389ds/groups.toml"),
            ],
        }
    }
}

/// The configuration file, relative to the target directory.
const CONFIG: &str = "hrsync.toml";
/// The mappings directory, relative to the target directory (the config's default).
const MAPPINGS: &str = "mappings";

/// One file of the starter: its path relative to the target directory, and its text.
#[derive(Debug, Clone)]
pub(crate) struct StarterFile {
    pub(crate) path: PathBuf,
    pub(crate) text: String,
}

/// The starter's files for `hr` and `flavour`, config first.
pub(crate) fn starter(hr: StarterHr, flavour: StarterFlavour) -> Vec<StarterFile> {
    let config = format!(
        "# hrsync configuration, written by `hrsync init --preset {} --flavour {}`.\n{}{}{}{}",
        hr.name(),
        flavour.name(),
        include_str!("init/header.toml"),
        flavour.template(),
        hr.template(),
        include_str!("init/footer.toml"),
    );
    let [account, groups] = flavour.mappings();
    vec![
        StarterFile {
            path: PathBuf::from(CONFIG),
            text: config,
        },
        StarterFile {
            path: Path::new(MAPPINGS).join("account.toml"),
            text: account.to_string(),
        },
        StarterFile {
            path: Path::new(MAPPINGS).join("groups.toml"),
            text: groups.to_string(),
        },
    ]
}

/// Writes the starter into `dir` (made if missing), or nothing when any file is in the way.
pub(crate) fn run(dir: &Path, hr: StarterHr, flavour: StarterFlavour) -> Result<Outcome, RunError> {
    let files = starter(hr, flavour);
    let in_the_way = in_the_way(dir, &files);
    if !in_the_way.is_empty() {
        return Err(RunError::Init(refusal(&in_the_way)));
    }
    let written = write_all(dir, &files)?;
    for path in &written {
        println!("wrote {}", path.display());
    }
    print!("{}", next_steps(dir, &files[0].text));
    Ok(Outcome::Success)
}

/// Everything that stops init: the files it would write that exist in any form (a dangling
/// symbolic link too), the other mapping files hrsync would read beside the starter's, and a
/// `mappings` that is not a directory.
fn in_the_way(dir: &Path, files: &[StarterFile]) -> BTreeSet<PathBuf> {
    let mut found: BTreeSet<PathBuf> = files
        .iter()
        .map(|file| dir.join(&file.path))
        .filter(|path| std::fs::symlink_metadata(path).is_ok())
        .collect();
    let mappings = dir.join(MAPPINGS);
    match std::fs::metadata(&mappings) {
        Ok(metadata) if metadata.is_dir() => {
            if let Ok(entries) = std::fs::read_dir(&mappings) {
                found.extend(
                    entries
                        .filter_map(Result::ok)
                        .map(|entry| entry.path())
                        .filter(|path| path.extension().is_some_and(|x| x == "toml")),
                );
            }
        }
        Ok(_) => {
            found.insert(mappings);
        }
        Err(_) if std::fs::symlink_metadata(&mappings).is_ok() => {
            // A dangling symbolic link: creating the directory would fail halfway.
            found.insert(mappings);
        }
        Err(_) => {}
    }
    found
}

fn refusal(in_the_way: &BTreeSet<PathBuf>) -> String {
    let list: Vec<String> = in_the_way
        .iter()
        .map(|path| format!("  {}", path.display()))
        .collect();
    format!(
        "nothing was written, because these are there already (init overwrites nothing, and \
         writes no mappings beside other mapping files, which hrsync would read with them):\n{}\n\
         Move them away or choose another --dir.",
        list.join("\n")
    )
}

/// Creates the directories and every file, each new (never through an existing file or link).
/// On a failure the files written so far, and the directories made, are removed again.
fn write_all(dir: &Path, files: &[StarterFile]) -> Result<Vec<PathBuf>, RunError> {
    let mut made_dirs = Vec::new();
    let mut written = Vec::new();
    let result = (|| {
        for file in files {
            let path = dir.join(&file.path);
            if let Some(parent) = path.parent() {
                make_dirs(parent, &mut made_dirs)?;
            }
            write_new(&path, &file.text)?;
            written.push(path);
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(written),
        Err(error) => {
            for path in written.iter().rev() {
                let _ = std::fs::remove_file(path);
            }
            for made in made_dirs.iter().rev() {
                let _ = std::fs::remove_dir(made);
            }
            Err(error)
        }
    }
}

/// `create_dir_all`, remembering which directories it made (outermost first).
fn make_dirs(dir: &Path, made: &mut Vec<PathBuf>) -> Result<(), RunError> {
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|a| !a.as_os_str().is_empty() && std::fs::symlink_metadata(a).is_err())
        .collect();
    for path in missing.into_iter().rev() {
        std::fs::create_dir(path).map_err(|source| RunError::Output {
            path: path.display().to_string(),
            source,
        })?;
        made.push(path.to_path_buf());
    }
    Ok(())
}

fn write_new(path: &Path, text: &str) -> Result<(), RunError> {
    let failed = |source| RunError::Output {
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)
}

/// What to do now: replace the starter values, provide the secrets, and the three commands.
fn next_steps(dir: &Path, config: &str) -> String {
    let hrsync = if dir == Path::new(".") {
        "hrsync".to_string()
    } else {
        format!(
            "hrsync -c {}",
            shell_word(&dir.join(CONFIG).display().to_string())
        )
    };
    let (variables, files) = secrets(config);
    let mut secrets = Vec::new();
    if !variables.is_empty() {
        secrets.push(format!(
            "the environment variable{} {}",
            if variables.len() == 1 { "" } else { "s" },
            and_list(&variables)
        ));
    }
    if !files.is_empty() {
        secrets.push(format!(
            "the file{} {}",
            if files.len() == 1 { "" } else { "s" },
            and_list(&files)
        ));
    }
    format!(
        "\nNext:\n\
         \x20 1. Replace the starter values (each says CHANGE-ME or names your-company.example):\n\
         \x20    `{hrsync} validate` lists those still left, with their keys.\n\
         \x20 2. Provide the secrets hrsync reads: {}.\n\
         \x20 3. {hrsync} validate   checks the configuration and mappings offline\n\
         \x20 4. {hrsync} check      connects to HR and the directory; changes nothing\n\
         \x20 5. {hrsync} plan       the dry run: every change and why; changes nothing\n",
        secrets.join(" and ")
    )
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The starter's secret references: the environment variables and the files, in the order of
/// the file (the directory's first).
fn secrets(config: &str) -> (Vec<String>, Vec<String>) {
    fn walk(value: &toml::Value, variables: &mut Vec<String>, files: &mut Vec<String>) {
        match value {
            toml::Value::Table(table) => {
                for (key, value) in table {
                    match (key.as_str(), value) {
                        ("env", toml::Value::String(name)) => variables.push(name.clone()),
                        ("file", toml::Value::String(path)) => files.push(path.clone()),
                        _ => walk(value, variables, files),
                    }
                }
            }
            toml::Value::Array(values) => values.iter().for_each(|v| walk(v, variables, files)),
            _ => {}
        }
    }
    let (mut variables, mut files) = (Vec::new(), Vec::new());
    if let Ok(table) = config.parse::<toml::Table>() {
        for section in ["directory", "hr"] {
            if let Some(value) = table.get(section) {
                walk(value, &mut variables, &mut files);
            }
        }
    }
    (variables, files)
}

/// `word` quoted for a POSIX shell when it needs to be.
fn shell_word(word: &str) -> String {
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c));
    if plain && !word.is_empty() {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::config::placeholders::CHANGE_ME;

    fn every_starter() -> Vec<(StarterHr, StarterFlavour)> {
        let mut all = Vec::new();
        for hr in StarterHr::value_variants() {
            for flavour in StarterFlavour::value_variants() {
                all.push((*hr, *flavour));
            }
        }
        all
    }

    fn write(dir: &Path, files: &[StarterFile]) {
        for file in files {
            let path = dir.join(&file.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, &file.text).unwrap();
        }
    }

    /// The lines of the starter that hold a value to replace (comments aside).
    fn marked_lines(files: &[StarterFile]) -> usize {
        files
            .iter()
            .flat_map(|f| f.text.lines())
            .map(|line| line.split(" #").next().unwrap_or(line).trim())
            .filter(|line| !line.starts_with('#'))
            .filter(|line| {
                line.contains(CHANGE_ME)
                    || line.contains("your-company.example")
                    || line.to_ascii_lowercase().contains("dc=example\"")
            })
            .count()
    }

    /// Every starter validates as written, and every value it marks for replacing is named by
    /// validate: no more, no fewer.
    #[test]
    fn every_starter_validates_and_each_marked_value_is_named() {
        for (hr, flavour) in every_starter() {
            let dir = tempfile::tempdir().unwrap();
            let files = starter(hr, flavour);
            write(dir.path(), &files);
            let config = Config::parse(
                &dir.path().join(CONFIG),
                &std::fs::read_to_string(dir.path().join(CONFIG)).unwrap(),
            )
            .unwrap_or_else(|p| panic!("{hr:?} {flavour:?}: {p:#?}"));
            assert!(!config.placeholders.is_empty());
            assert_eq!(
                config.placeholders.len(),
                marked_lines(&files),
                "{hr:?} {flavour:?}: {:#?}",
                config.placeholders
            );
            assert!(config.placeholders.iter().any(|p| p.key == "directory.url"));
        }
    }

    /// With the starter values replaced, nothing is left to name, and it still validates.
    #[test]
    fn replaced_starter_values_are_no_longer_named() {
        for (hr, flavour) in every_starter() {
            let dir = tempfile::tempdir().unwrap();
            let files: Vec<StarterFile> = starter(hr, flavour)
                .into_iter()
                .map(|f| StarterFile {
                    text: f
                        .text
                        .replace(CHANGE_ME, "acme")
                        .replace("your-company.example", "acme.internal")
                        .replace("dc=your-company,dc=example", "dc=acme,dc=internal")
                        .replace("DC=your-company,DC=example", "DC=acme,DC=internal"),
                    path: f.path,
                })
                .collect();
            write(dir.path(), &files);
            let config = Config::parse(&dir.path().join(CONFIG), &files[0].text)
                .unwrap_or_else(|p| panic!("{hr:?} {flavour:?}: {p:#?}"));
            assert_eq!(config.placeholders, [], "{hr:?} {flavour:?}");
        }
    }

    /// A commented-out example line (`# [table]` or `# key = value`), uncommented.
    fn uncommented(line: &str) -> Option<&str> {
        let rest = line.strip_prefix("# ")?;
        let table = rest.starts_with('[')
            && rest.ends_with(']')
            && rest[1..rest.len() - 1]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        let key = rest.split_once(" = ").is_some_and(|(key, _)| {
            !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        });
        // StartTLS is for ldap:// URLs, and the starters' URLs are ldaps:// where it is
        // commented out.
        (table || key)
            .then_some(rest)
            .filter(|rest| !rest.starts_with("starttls"))
    }

    /// The examples in the starters' comments are right: uncommented, each starter still
    /// validates.
    #[test]
    fn every_commented_out_example_validates_when_uncommented() {
        for (hr, flavour) in every_starter() {
            let dir = tempfile::tempdir().unwrap();
            let mut files = starter(hr, flavour);
            let before = files[0].text.clone();
            files[0].text = before
                .lines()
                .map(|line| uncommented(line).unwrap_or(line))
                .collect::<Vec<_>>()
                .join("\n");
            assert_ne!(files[0].text, before, "{hr:?} {flavour:?} has examples");
            write(dir.path(), &files);
            if let Err(problems) = Config::parse(&dir.path().join(CONFIG), &files[0].text) {
                panic!("{hr:?} {flavour:?}: {problems:#?}\n{}", files[0].text);
            }
        }
    }

    /// Every credential of the starter is a secret reference, and the next steps name each.
    #[test]
    fn secrets_are_references_and_named_in_the_next_steps() {
        for (hr, flavour) in every_starter() {
            let text = &starter(hr, flavour)[0].text;
            let (variables, files) = secrets(text);
            assert_eq!(variables[0], "HRSYNC_BIND_PASSWORD");
            let hr_secrets = variables.len() - 1 + files.len();
            assert_eq!(hr_secrets, usize::from(hr != StarterHr::Csv), "{hr:?}");
            let steps = next_steps(Path::new("."), text);
            for name in variables.iter().chain(&files) {
                assert!(steps.contains(name.as_str()), "{steps}");
            }
        }
        assert_eq!(
            and_list(&["a".into(), "b".into(), "c".into()]),
            "a, b and c"
        );
    }

    /// A file that appears after the check (another process) is not overwritten, and what
    /// was written before it is removed again: nothing is left half-written.
    #[test]
    fn a_file_in_the_way_at_write_time_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("new");
        let files = starter(StarterHr::Scim, StarterFlavour::Ds389);
        std::fs::create_dir_all(target.join(MAPPINGS)).unwrap();
        let late = target.join(MAPPINGS).join("groups.toml");
        std::fs::write(&late, "# someone else's").unwrap();
        let error = write_all(&target, &files).unwrap_err();
        assert!(error.to_string().contains("groups.toml"), "{error}");
        assert_eq!(std::fs::read_to_string(&late).unwrap(), "# someone else's");
        assert!(!target.join(CONFIG).exists());
        assert!(!target.join(MAPPINGS).join("account.toml").exists());

        // A `mappings` that turned into a dangling link: the config written first goes again.
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        std::os::unix::fs::symlink("/nonexistent", other.join(MAPPINGS)).unwrap();
        assert!(write_all(&other, &files).is_err());
        assert!(!other.join(CONFIG).exists());
    }

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(
            shell_word("/etc/hrsync/hrsync.toml"),
            "/etc/hrsync/hrsync.toml"
        );
        assert_eq!(shell_word("my dir/hrsync.toml"), "'my dir/hrsync.toml'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
