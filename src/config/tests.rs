use super::*;
use crate::directory::Flavour;
use crate::dn::Dn;
use crate::plan::DisableMethod;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The first TOML code blocks of the book's configuration page and HR sources page, joined: the
/// documented example must stay a valid configuration (`tests/docs.rs` validates every block
/// through the binary too).
fn readme_config() -> String {
    let mut blocks = Vec::new();
    for page in ["docs/src/configuration.md", "docs/src/hr/sources.md"] {
        let text = std::fs::read_to_string(repo().join(page)).unwrap();
        let heading = if page.ends_with("sources.md") {
            "## The generic engine"
        } else {
            "## An annotated example"
        };
        let section = &text[text.find(heading).unwrap()..];
        let start = section.find("```toml\n").unwrap() + "```toml\n".len();
        let end = section[start..].find("```").unwrap();
        blocks.push(section[start..start + end].to_string());
    }
    // The first block ends with a short [hr] table that the second block spells out.
    let first = blocks[0].split("[hr]").next().unwrap().to_string();
    first + &blocks[1]
}

fn problems(text: &str) -> Vec<String> {
    Config::parse(&repo().join("hrsync.toml"), text)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_documented_example_is_a_valid_configuration() {
    let config = Config::parse(&repo().join("hrsync.toml"), &readme_config())
        .unwrap_or_else(|p| panic!("the documented example is invalid: {p:#?}"));
    assert_eq!(
        config.directory.users_base,
        Dn::parse("dc=example,dc=org").unwrap()
    );
    assert!(config.hr.field_names().contains("cost_center"));
    assert!(
        config.directory.protected.dns.iter().any(|(dn, why)| *dn
            == Dn::parse("cn=hrsync,ou=services,dc=example,dc=org").unwrap()
            && why.contains("binds as")),
        "the bind account is protected by default"
    );
}

#[test]
fn the_demo_configuration_is_valid() {
    let config = Config::load(&repo().join("deploy/demo/hrsync.toml"))
        .unwrap_or_else(|p| panic!("demo config invalid: {p:#?}"));
    assert!(config.directory.starttls);
    assert_eq!(
        config.directory.policy.empty_group_placeholder,
        Some(Dn::parse("cn=empty-group-placeholder,dc=example,dc=org").unwrap())
    );
}

#[test]
fn environment_overrides_keys_with_double_underscores_only() {
    let text = readme_config();
    let env = [
        ("HRSYNC_DIRECTORY__URL", "ldap://127.0.0.1:3389"),
        ("HRSYNC_DIRECTORY__PAGE_SIZE", "42"),
        ("HRSYNC_DIRECTORY__OPENLDAP__REFINT", "true"),
        ("HRSYNC_HR__REST__QUERY__SINCE", "2026-01-01"),
        // Not overrides: no double underscore.
        ("HRSYNC_CONFIG", "elsewhere.toml"),
        ("HRSYNC_DEMO_BIND_PASSWORD", "x"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let config =
        Config::parse_with_env(&repo().join("hrsync.toml"), &text, env.into_iter()).unwrap();
    assert_eq!(config.directory.url, "ldap://127.0.0.1:3389");
    assert_eq!(config.directory.page_size, 42);
    assert!(config.directory.policy.member_values_follow_renames);
    let since = config.hr.rest().unwrap().query.get("since");
    assert!(
        format!("{since:?}").contains("2026-01-01"),
        "a date-like value stays a string: {since:?}"
    );

    let typo = [("HRSYNC_DIRECTORY__URLL".to_string(), "x".to_string())];
    let err =
        Config::parse_with_env(&repo().join("hrsync.toml"), &text, typo.into_iter()).unwrap_err();
    assert!(err[0].to_string().contains("urll"), "{err:?}");
}

#[test]
fn directory_problems_are_all_reported_with_their_keys() {
    let text = readme_config()
        .replace(
            "url = \"ldaps://ldap.example.org\"",
            "url = \"http://ldap\"",
        )
        .replace(
            "users_base = \"dc=example,dc=org\"",
            "users_base = \"ou=people,dc=example,dc=org\"",
        )
        .replace("page_size = 500", "page_size = 0")
        .replace(
            "bind_password = { file = \"/run/secrets/ldap-password\" }",
            "bind_password = { }",
        );
    let found = problems(&text).join("\n");
    for expected in [
        "directory.url: \"http://ldap\" must start with ldap:// or ldaps://",
        "directory.page_size: must be 1 to 100000",
        "directory.bind_password: set exactly one of `file` or `env`",
        "OU ou=disabled,dc=example,dc=org is not below directory.users_base",
    ] {
        assert!(
            found.contains(expected),
            "missing {expected:?} in:\n{found}"
        );
    }
    assert!(
        found.contains("hrsync.toml: "),
        "problems name the file:\n{found}"
    );
}

#[test]
fn unknown_keys_name_the_line_and_the_allowed_keys() {
    let text = readme_config().replace("starttls = false", "start_tls = false");
    let found = problems(&text).join("\n");
    assert!(found.contains("start_tls"), "{found}");
    assert!(found.contains("expected one of"), "{found}");
    assert!(found.contains("line "), "{found}");
}

#[test]
fn mappings_must_only_use_fields_hr_defines() {
    let text = readme_config().replace("department = \"$.department\"\n", "");
    let found = problems(&text).join("\n");
    assert!(
        found.contains("uses HR field \"department\", which [hr.fields] does not define"),
        "{found}"
    );
}

#[test]
fn the_active_directory_example_is_valid() {
    let config = Config::load(&repo().join("deploy/active-directory/hrsync.toml"))
        .unwrap_or_else(|p| panic!("AD example invalid: {p:#?}"));
    assert_eq!(config.directory.flavour, Flavour::ActiveDirectory);
    assert_eq!(
        config.directory.policy.disable,
        DisableMethod::UserAccountControl
    );
    assert!(config.directory.policy.member_values_follow_renames);
    assert!(!config.directory.policy.groups_require_member);
    assert_eq!(
        config.directory.uniqueness_base,
        Dn::parse("DC=example,DC=com").unwrap(),
        "names are unique across the domain by default"
    );
    let protected: Vec<String> = config
        .directory
        .protected
        .groups
        .iter()
        .map(|g| g.to_string())
        .collect();
    assert!(
        protected.contains(&"CN=Domain Admins,CN=Users,DC=example,DC=com".to_string()),
        "{protected:?}"
    );
    assert!(
        protected.contains(&"CN=Tier0 Admins,OU=Groups,OU=Company,DC=example,DC=com".to_string())
    );
    assert!(
        config
            .directory
            .protected
            .filters
            .iter()
            .any(|(f, _)| f == "(adminCount=1)")
    );
    assert_eq!(config.directory.member_range_size, Some(1500));
}

#[test]
fn unique_suffix_outside_creation_only_attributes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("m")).unwrap();
    for file in ["account.toml", "groups.toml"] {
        let text =
            std::fs::read_to_string(repo().join("mappings/active-directory").join(file)).unwrap();
        let text = text.replace("title = \"{title}\"", "title = \"{title}{unique}\"");
        std::fs::write(dir.path().join("m").join(file), text).unwrap();
    }
    let err = Mappings::load_dir(&dir.path().join("m")).unwrap_err();
    assert!(
        err.iter().any(|p| p
            .to_string()
            .contains("account.attributes.title: uses {unique}")),
        "{err:?}"
    );
}

fn with_env(vars: &[(&str, &str)]) -> Result<Config, Vec<ConfigProblem>> {
    let env = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<Vec<_>>();
    Config::parse_with_env(
        &repo().join("hrsync.toml"),
        &readme_config(),
        env.into_iter(),
    )
}

#[test]
fn file_variants_of_secrets_replace_the_reference_and_are_read_when_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ldap-password");
    std::fs::write(&path, "from-the-file\n").unwrap();
    let config = with_env(&[(
        "HRSYNC_DIRECTORY__BIND_PASSWORD_FILE",
        path.to_str().unwrap(),
    )])
    .unwrap();
    let secret = &config.directory.bind_password;
    assert_eq!(secret.file.as_deref(), Some(path.as_path()));
    assert_eq!(
        secret.origin.as_deref(),
        Some("HRSYNC_DIRECTORY__BIND_PASSWORD_FILE")
    );
    // Read at use time: a rotated secret is picked up without reloading the config.
    std::fs::write(&path, "rotated\n").unwrap();
    use secrecy::ExposeSecret;
    assert_eq!(
        secret
            .resolve("directory.bind_password")
            .unwrap()
            .expose_secret(),
        "rotated"
    );
    // The HR token of the documented example, through its _FILE variant.
    let config = with_env(&[("HRSYNC_HR__REST__AUTH__USERNAME_FILE", "/run/secrets/key")]).unwrap();
    let auth = format!("{:?}", config.hr.rest().unwrap().auth);
    assert!(auth.contains("/run/secrets/key"), "{auth}");
}

#[test]
fn a_secret_given_as_a_value_is_read_from_its_variable_and_never_copied() {
    let config = with_env(&[("HRSYNC_DIRECTORY__BIND_PASSWORD", "pw-value-7f3a")]).unwrap();
    assert_eq!(
        config.directory.bind_password.env.as_deref(),
        Some("HRSYNC_DIRECTORY__BIND_PASSWORD")
    );
    assert_eq!(config.directory.bind_password.file, None);
    assert!(!format!("{config:?}").contains("pw-value-7f3a"));
}

#[test]
fn overrides_naming_no_key_are_errors_naming_the_variable_and_the_closest_key() {
    let problems: Vec<String> = with_env(&[
        ("HRSYNC_DIRECTORY__BIND_PASWORD", "secret-value-1b2c"),
        ("HRSYNC_DIRECTORY__BIND_PASWORD_FILE", "/run/secrets/x"),
        ("HRSYNC_LIFECYCLE__PREHIRE_DAY", "3"),
        ("HRSYNC_DIRECTORY__URL", "ldap://127.0.0.1:389"),
    ])
    .unwrap_err()
    .iter()
    .map(ToString::to_string)
    .collect();
    let all = problems.join("\n");
    assert_eq!(problems.len(), 3, "every unknown one is reported:\n{all}");
    for expected in [
        "HRSYNC_DIRECTORY__BIND_PASWORD: names no configuration key: [directory] has no key \
         `bind_pasword`; did you mean HRSYNC_DIRECTORY__BIND_PASSWORD?",
        "HRSYNC_DIRECTORY__BIND_PASWORD_FILE: names no configuration key: [directory] has no key \
         `bind_pasword_file`; did you mean HRSYNC_DIRECTORY__BIND_PASSWORD_FILE?",
        "HRSYNC_LIFECYCLE__PREHIRE_DAY: names no configuration key: [lifecycle] has no key \
         `prehire_day`; did you mean HRSYNC_LIFECYCLE__PREHIRE_DAYS?",
    ] {
        assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
    }
    assert!(!all.contains("secret-value-1b2c"), "{all}");
    assert!(
        all.contains("hrsync.toml: "),
        "problems name the file:\n{all}"
    );
}

#[test]
fn the_groups_a_leaver_leaves_are_configured_by_dn_and_default_to_the_managed_groups_ous() {
    let config = Config::parse(&repo().join("hrsync.toml"), &readme_config()).unwrap();
    assert_eq!(
        config.directory.group_bases,
        [Dn::parse("ou=groups,dc=example,dc=org").unwrap()]
    );
    assert_eq!(
        config.directory.policy.leaver_keep_groups,
        std::collections::BTreeSet::from([
            Dn::parse("cn=alumni,ou=groups,dc=example,dc=org").unwrap()
        ])
    );
    // Left out, the bases are where the managed groups are.
    let text = readme_config().replace("group_bases = [\"ou=groups,dc=example,dc=org\"]", "");
    let config = Config::parse(&repo().join("hrsync.toml"), &text).unwrap();
    assert!(!config.directory.group_bases.is_empty());
    for group in config.mappings.managed_groups() {
        assert!(
            config
                .directory
                .group_bases
                .iter()
                .any(|base| group.is_within(base)),
            "{group}"
        );
    }
    let text = readme_config()
        .replace("\"cn=alumni,ou=groups,dc=example,dc=org\"", "\"not a dn\"")
        .replace("leaver_groups = \"all\"", "leaver_groups = \"some\"");
    let found = problems(&text);
    assert!(
        found
            .iter()
            .any(|p| p.contains("unknown variant `some`, expected `all` or `managed`")),
        "{found:?}"
    );
    let text = readme_config().replace("\"cn=alumni,ou=groups,dc=example,dc=org\"", "\"not a dn\"");
    let found = problems(&text);
    assert!(
        found
            .iter()
            .any(|p| p.contains("lifecycle.leaver_keep_groups[0]")),
        "{found:?}"
    );
}

/// Issue 17.10: a hook's allowlist named the variable the bind password is read from, under a
/// name no pattern catches, and the hook got the password.
#[test]
fn the_hook_allowlist_refuses_a_variable_the_config_reads_a_secret_from() {
    let text = readme_config().replace(
        "bind_password = { file = \"/run/secrets/ldap-password\" }",
        "bind_password = { env = \"LDAP_BIND\" }",
    ) + "\n[hooks]\nenv_allow = [\"LDAP_BIND\", \"TICKET_QUEUE\"]\n";
    assert!(text.contains("env = \"LDAP_BIND\""));
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].ends_with(
            "hooks.env_allow: \"LDAP_BIND\" is where the config reads a secret from: hooks \
             never get it"
        ),
        "{found:?}"
    );
}

/// Issue 18: events and the changes run only name employees, whom hrsync then reads from HR
/// one by one: a source that cannot (an export file) is refused with the reason, and events
/// need the scheduled full run as their safety net.
#[test]
fn events_and_the_changes_run_are_refused_for_a_source_that_cannot_read_one_employee() {
    let demo = std::fs::read_to_string(repo().join("deploy/demo/hrsync.toml")).unwrap();
    let text = format!(
        "{demo}\n[schedule]\ncron = \"0 * * * *\"\nchanges = \"*/2 * * * *\"\n\n[events]\n\
         listen = \"127.0.0.1:8080\"\n[[events.source]]\nname = \"bamboohr\"\nkind = \
         \"bamboohr\"\nsecret = {{ env = \"K\" }}\n"
    );
    let found = Config::parse(&repo().join("deploy/demo/hrsync.toml"), &text)
        .err()
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        found.contains("schedule.changes: not offered for this HR source"),
        "{found}"
    );
    assert!(
        found.contains("events: events only name employees"),
        "{found}"
    );
    let no_schedule = format!(
        "{demo}\n[events]\nlisten = \"127.0.0.1:8080\"\n[[events.source]]\nname = \"b\"\n\
         kind = \"bamboohr\"\nsecret = {{ env = \"K\" }}\n"
    );
    let found = Config::parse(&repo().join("deploy/demo/hrsync.toml"), &no_schedule)
        .err()
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(found.contains("needs a [schedule] too"), "{found}");
}
