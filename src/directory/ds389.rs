//! What only 389 Directory Server needs: locks that are not on the entry, and plugins that
//! rewrite member values by themselves.
//!
//! Locks. 389 locks an account with `nsAccountLock: true` (hrsync's lock, and an admin's
//! `dsidm account lock`), but a role can lock it too: a locked role hands every member a
//! *virtual* `nsAccountLock: true`. Accounts are therefore read with the real-attributes-only
//! control, so that `disabled` means the entry's own lock, the one hrsync can set and delete;
//! the accounts a search without the control finds locked besides are locked elsewhere, which
//! hrsync reports and never counts on (a leaver still gets a lock of its own, which outlives
//! the role's). Lockouts after failed binds (`accountUnlockTime`) and account-policy
//! inactivity are the server's own and are never touched: deleting `nsAccountLock` lifts
//! neither.
//!
//! Member values. With the MemberOf plugin or the referential integrity plugin on, the server
//! rewrites `member` values when an entry moves; without them nothing does. hrsync rewrites
//! them itself only where the server will not (a second rewrite fails on a value that is gone,
//! and no rewrite leaves a stale DN), so it reads the plugins' configuration at every run.

use std::collections::{BTreeMap, BTreeSet};

use ldap3::Scope;
use ldap3::controls::RawControl;

use super::entry::Entry;
use super::{Directory, DirectoryError};
use crate::dn::Dn;
use crate::model::DirectoryAccount;

/// 389's "real attributes only" control: a search returns no virtual attribute (the
/// `nsAccountLock` a role gives, `nsRole`).
const REAL_ATTRIBUTES_ONLY: &str = "2.16.840.1.113730.3.4.17";

const MEMBEROF_PLUGIN: &str = "MemberOf Plugin";
const REFINT_PLUGIN: &str = "referential integrity postoperation";

/// Settings that scope a plugin or move its configuration elsewhere: with any of them, whether
/// a given group's values follow a move is more than hrsync reads, so it does not guess.
const SCOPE_SETTINGS: &[&str] = &[
    "memberofentryscope",
    "memberofentryscopeexcludesubtree",
    "nsslapd-pluginentryscope",
    "nsslapd-pluginexcludeentryscope",
    "nsslapd-plugincontainerscope",
    "nsslapd-pluginconfigarea",
];

/// What the server does to member values when an entry moves, as read from its plugins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Renames {
    /// Rewritten, by this plugin.
    Followed(&'static str),
    /// Left as they are: neither plugin rewrites the member attribute.
    Left,
    /// Not known from what the bind account may read, and why.
    Unknown(String),
}

impl Directory {
    /// Asks the next search for real attributes only.
    pub(super) fn real_attributes_only(&mut self) {
        self.ldap.with_controls(RawControl {
            ctype: REAL_ATTRIBUTES_ONLY.to_string(),
            // Critical: a server that ignored it would hand over a role's lock as the entry's.
            crit: true,
            val: None,
        });
    }

    /// Marks the accounts read by `filter` that a search without the real-attributes-only
    /// control finds locked although their own `nsAccountLock` is not set: a role locks them.
    pub(super) async fn mark_role_locks(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        accounts: &mut [DirectoryAccount],
    ) -> Result<(), DirectoryError> {
        if accounts.iter().all(|a| a.disabled) {
            return Ok(());
        }
        let filter = format!("(&{filter}(nsAccountLock=true))");
        let mut locked: BTreeMap<Dn, Vec<String>> = BTreeMap::new();
        self.search_paged_each(base, scope, &filter, &["nsRole"], |entry| {
            if let Ok(dn) = Dn::parse(&entry.dn) {
                locked.insert(dn, entry.values("nsRole").cloned().collect());
            }
        })
        .await?;
        for account in accounts.iter_mut().filter(|a| !a.disabled) {
            if let Some(roles) = locked.get(&account.dn) {
                account.locked_elsewhere = Some(role_lock(roles));
            }
        }
        Ok(())
    }

    /// Whether member values follow a move here, from `cn=plugins,cn=config`.
    pub(super) async fn renames(&mut self, member_attribute: &str) -> Renames {
        let filter = format!("(|(cn={MEMBEROF_PLUGIN})(cn={REFINT_PLUGIN}))");
        let attrs = [
            "cn",
            "nsslapd-pluginEnabled",
            "memberOfGroupAttr",
            "referint-membership-attr",
            "referint-update-delay",
        ]
        .into_iter()
        .chain(SCOPE_SETTINGS.iter().copied())
        .collect::<Vec<_>>();
        match self
            .search_paged("cn=plugins,cn=config", Scope::OneLevel, &filter, &attrs)
            .await
        {
            Ok(entries) => renames_by(&entries, member_attribute),
            Err(e) => Renames::Unknown(format!("reading cn=plugins,cn=config failed: {e}")),
        }
    }
}

/// Whether member values follow a move, from what the server's plugins say (`renames`) and the
/// setting (`configured`): the server where it could be read (with a warning when the setting
/// disagrees), else the setting, else an error naming it: a guess either way goes wrong (a
/// stale DN left in a group, or every mover's first apply failing on a value already gone).
pub(super) fn decide_renames(
    renames: Renames,
    configured: Option<bool>,
) -> Result<(bool, Option<String>), DirectoryError> {
    const KEY: &str = "directory.389ds.member_values_follow_renames";
    let (found, why) = match renames {
        Renames::Followed(plugin) => (true, format!("the {plugin} rewrites them")),
        Renames::Left => (
            false,
            "neither the MemberOf nor the referential integrity plugin rewrites them".to_string(),
        ),
        Renames::Unknown(why) => {
            return match configured {
                Some(follows) => Ok((follows, None)),
                None => Err(DirectoryError::Unknown(format!(
                    "cannot tell whether this 389 Directory Server rewrites member values when \
                     an account moves ({why}); set {KEY} (true where the MemberOf or referential \
                     integrity plugin is on for the member attribute), or let the bind account \
                     read cn=plugins,cn=config"
                ))),
            };
        }
    };
    let warning = configured.filter(|c| *c != found).map(|c| {
        format!(
            "{KEY} is {c}, but on this server member values {} a move ({why}): hrsync goes by \
             the server",
            if found { "follow" } else { "do not follow" }
        )
    });
    Ok((found, warning))
}

/// What a role lock is called in a plan: the locked role where `nsRole` names one.
fn role_lock(roles: &[String]) -> String {
    let named: Vec<&str> = roles
        .iter()
        .map(String::as_str)
        .filter(|r| !r.to_ascii_lowercase().starts_with("cn=nsdisabledrole,"))
        .filter(|r| {
            !r.to_ascii_lowercase()
                .starts_with("cn=nsmanageddisabledrole,")
        })
        .collect();
    if named.is_empty() {
        "locked by a 389-DS role or class of service (nsAccountLock is not on the entry)"
            .to_string()
    } else {
        format!(
            "locked by a 389-DS role (nsAccountLock is not on the entry; roles: {})",
            named.join("; ")
        )
    }
}

/// What the plugin entries say about member values on a move.
pub(crate) fn renames_by(entries: &[Entry], member_attribute: &str) -> Renames {
    let by_name: BTreeMap<String, &Entry> = entries
        .iter()
        .filter_map(|e| e.values("cn").next().map(|cn| (cn.to_ascii_lowercase(), e)))
        .collect();
    let (Some(memberof), Some(refint)) = (
        by_name.get(&MEMBEROF_PLUGIN.to_ascii_lowercase()),
        by_name.get(&REFINT_PLUGIN.to_ascii_lowercase()),
    ) else {
        return Renames::Unknown(
            "the bind account may not read the MemberOf and referential integrity plugin \
             entries under cn=plugins,cn=config"
                .to_string(),
        );
    };
    let enabled = |e: &Entry| {
        e.values("nsslapd-pluginEnabled")
            .any(|v| v.eq_ignore_ascii_case("on"))
    };
    let lists = |e: &Entry, attribute: &str| {
        e.values(attribute)
            .any(|v| v.eq_ignore_ascii_case(member_attribute))
    };
    let scoped = |e: &Entry| -> BTreeSet<&str> {
        SCOPE_SETTINGS
            .iter()
            .copied()
            .filter(|s| e.values(s).next().is_some())
            .collect()
    };
    let mut rewrites = Vec::new();
    for (plugin, entry, attribute) in [
        (MEMBEROF_PLUGIN, memberof, "memberOfGroupAttr"),
        (REFINT_PLUGIN, refint, "referint-membership-attr"),
    ] {
        if !enabled(entry) || !lists(entry, attribute) {
            continue;
        }
        let scope = scoped(entry);
        if !scope.is_empty() {
            return Renames::Unknown(format!(
                "the {plugin} is on and limited by {}, which hrsync does not evaluate",
                scope.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        let delay = entry
            .values("referint-update-delay")
            .next()
            .map_or("0", String::as_str);
        if plugin == REFINT_PLUGIN && delay.trim() != "0" {
            return Renames::Unknown(format!(
                "the {plugin} is on with referint-update-delay {delay}: it rewrites member values \
                 later, not with the move"
            ));
        }
        rewrites.push(plugin);
    }
    match rewrites.first() {
        Some(plugin) => Renames::Followed(plugin),
        None => Renames::Left,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(cn: &str, attrs: &[(&str, &str)]) -> Entry {
        let mut grouped: Vec<(String, Vec<String>)> =
            vec![("cn".to_string(), vec![cn.to_string()])];
        for (name, value) in attrs {
            match grouped.iter_mut().find(|(n, _)| n == name) {
                Some((_, values)) => values.push(value.to_string()),
                None => grouped.push((name.to_string(), vec![value.to_string()])),
            }
        }
        Entry {
            dn: format!("cn={cn},cn=plugins,cn=config"),
            attrs: grouped,
        }
    }

    // As a fresh 389-DS 2.3 instance has them (read with ldapsearch as Directory Manager).
    fn memberof(enabled: &str) -> Entry {
        plugin(
            MEMBEROF_PLUGIN,
            &[
                ("nsslapd-pluginEnabled", enabled),
                ("memberOfGroupAttr", "member"),
            ],
        )
    }

    fn refint(enabled: &str, delay: &str) -> Entry {
        plugin(
            REFINT_PLUGIN,
            &[
                ("nsslapd-pluginEnabled", enabled),
                ("referint-update-delay", delay),
                ("referint-membership-attr", "member"),
                ("referint-membership-attr", "uniquemember"),
                ("referint-membership-attr", "owner"),
                ("referint-membership-attr", "seeAlso"),
            ],
        )
    }

    #[test]
    fn values_follow_a_move_only_where_a_plugin_rewrites_the_member_attribute() {
        let both_off = [memberof("off"), refint("off", "0")];
        assert_eq!(renames_by(&both_off, "member"), Renames::Left);
        let memberof_on = [memberof("on"), refint("off", "0")];
        assert_eq!(
            renames_by(&memberof_on, "member"),
            Renames::Followed(MEMBEROF_PLUGIN)
        );
        let refint_on = [memberof("off"), refint("on", "0")];
        assert_eq!(
            renames_by(&refint_on, "member"),
            Renames::Followed(REFINT_PLUGIN)
        );
        // Neither rewrites uniqueMember... memberOf does not; refint lists it.
        assert_eq!(renames_by(&memberof_on, "uniqueMember"), Renames::Left);
        assert_eq!(
            renames_by(&refint_on, "uniqueMember"),
            Renames::Followed(REFINT_PLUGIN)
        );
    }

    #[test]
    fn a_delayed_or_scoped_plugin_or_an_unreadable_config_is_not_guessed() {
        let delayed = [memberof("off"), refint("on", "90")];
        assert!(
            matches!(renames_by(&delayed, "member"), Renames::Unknown(why) if why.contains("delay 90"))
        );
        let scoped = [
            plugin(
                MEMBEROF_PLUGIN,
                &[
                    ("nsslapd-pluginEnabled", "on"),
                    ("memberOfGroupAttr", "member"),
                    ("memberOfEntryScope", "ou=people,dc=example,dc=org"),
                ],
            ),
            refint("off", "0"),
        ];
        assert!(
            matches!(renames_by(&scoped, "member"), Renames::Unknown(why) if why.contains("memberofentryscope"))
        );
        // What a service account sees: nothing (389's default ACIs hide cn=config).
        assert!(matches!(renames_by(&[], "member"), Renames::Unknown(_)));
        assert!(matches!(
            renames_by(&[memberof("on")], "member"),
            Renames::Unknown(_)
        ));
    }

    #[test]
    fn a_role_lock_names_the_role_not_the_servers_own_disabled_roles() {
        let roles = [
            "cn=contractors,dc=example,dc=org".to_string(),
            "cn=nsdisabledrole,dc=example,dc=org".to_string(),
        ];
        let text = role_lock(&roles);
        assert!(text.contains("cn=contractors,dc=example,dc=org"), "{text}");
        assert!(!text.contains("nsdisabledrole"), "{text}");
        assert!(role_lock(&[]).contains("class of service"));
    }
}
