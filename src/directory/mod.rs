//! The directory adapter: reads a [`DirectorySnapshot`] and executes [`LdapOp`]s over ldap3.
//!
//! Everything here is I/O; the decisions are made in `plan`.

pub(crate) mod config;
mod connect;
mod ds389;
pub(crate) mod entry;
mod groups;
pub(crate) mod lease;
mod password;
mod server;
mod snapshot;
mod targeted;

use std::collections::{BTreeMap, BTreeSet};

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapError, Mod, Scope};
use secrecy::SecretString;

use crate::dn::Dn;
use crate::plan::ops::{LdapOp, Modification};

pub use config::{DirectoryConfig, Flavour};
use connect::connect;
use entry::Entry;
pub(crate) use server::RootDse;

/// Managed groups read at once while the accounts are read (each is a search of its own; see
/// [`Directory::snapshot`]).
const GROUP_READS_IN_FLIGHT: usize = 3;

/// A directory failure, with the operation, the DN and the LDAP result code where there is one.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("bind as {bind_dn} refused: {message}")]
    Bind { bind_dn: String, message: String },
    #[error("{operation} {dn} failed: {message} (LDAP result {code})")]
    Operation {
        operation: &'static str,
        dn: String,
        code: u32,
        message: String,
    },
    #[error("{operation} {dn} failed: {message}")]
    Transport {
        operation: &'static str,
        dn: String,
        message: String,
    },
    /// The request was sent but no answer came back (connection lost, timeout): it may or may
    /// not have taken effect.
    #[error("{operation} {dn}: no answer from the server: {message}")]
    Unanswered {
        operation: &'static str,
        dn: String,
        message: String,
        /// The operation timeout ran out (rather than the connection ending).
        timed_out: bool,
    },
    /// The server is another kind of directory than `directory.flavour` says: each locks an
    /// account its own way, and another's lock stops no login.
    #[error(
        "directory.flavour is {configured}, but the server at {url} is {found}: a lock written \
         the {configured} way would not stop a login there; set directory.flavour = \"{found}\""
    )]
    WrongFlavour {
        url: String,
        configured: &'static str,
        found: &'static str,
    },
    /// The server does something the plan depends on that hrsync cannot find out, and the
    /// configuration does not say either.
    #[error("{0}")]
    Unknown(String),
    /// The run lease (`directory.lease_dn`) cannot be taken, read or written.
    #[error(
        "the run lease {dn} (directory.lease_dn): {message}; the bind account must be able to \
         create, change and delete this entry"
    )]
    Lease { dn: String, message: String },
    /// The server accepted the connection but did not answer in time: a hung server, not an
    /// unreachable one.
    #[error("timed out after {secs} s {during} {url} (directory.connect_timeout_secs): {why}")]
    TimedOut {
        during: &'static str,
        url: String,
        secs: u64,
        /// What it likely means.
        why: &'static str,
    },
}

impl DirectoryError {
    /// The LDAP result code, when the server answered.
    pub fn code(&self) -> Option<u32> {
        match self {
            Self::Operation { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the operation may have taken effect although it did not succeed: it was sent and
    /// its answer never came.
    pub fn unanswered(&self) -> bool {
        matches!(self, Self::Unanswered { .. })
    }

    /// Whether the operation got no answer within the operation timeout.
    pub fn timed_out(&self) -> bool {
        matches!(
            self,
            Self::Unanswered {
                timed_out: true,
                ..
            }
        )
    }

    fn from_ldap(operation: &'static str, dn: &str, error: LdapError) -> Self {
        match error {
            LdapError::LdapResult { result } => Self::Operation {
                operation,
                dn: dn.to_string(),
                code: result.rc,
                message: describe_rc(result.rc, &result.text),
            },
            // Not OpSend: that one means the request never left this process.
            other @ (LdapError::ResultRecv { .. }
            | LdapError::Timeout { .. }
            | LdapError::Io { .. }) => Self::Unanswered {
                operation,
                dn: dn.to_string(),
                timed_out: matches!(other, LdapError::Timeout { .. }),
                message: other.to_string(),
            },
            other => Self::Transport {
                operation,
                dn: dn.to_string(),
                message: other.to_string(),
            },
        }
    }
}

/// The result code's name plus the server's text, so an admin can act on it.
pub(crate) fn describe_rc(rc: u32, text: &str) -> String {
    let name = match rc {
        8 => {
            "strong(er) authentication required: the server refuses simple binds without TLS; use ldaps:// or starttls = true"
        }
        16 => "no such attribute",
        19 => "constraint violation",
        20 => "attribute or value exists",
        21 => "invalid attribute syntax",
        32 => "no such object",
        34 => "invalid DN syntax",
        49 => "invalid credentials",
        50 => "insufficient access rights",
        53 => "unwilling to perform",
        64 => "naming violation",
        65 => "object class violation",
        68 => "entry already exists",
        _ => "error",
    };
    if text.trim().is_empty() {
        name.to_string()
    } else {
        format!("{name}: {}", text.trim())
    }
}

/// An open, bound connection. `Ldap` handles are cheap clones multiplexed over one connection,
/// which is what lets `apply` pipeline operations.
#[derive(Clone)]
pub struct Directory {
    ldap: Ldap,
    config: DirectoryConfig,
}

impl Directory {
    /// Opens and binds a connection, lends it to `work`, and closes it (an unbind) whatever
    /// `work` returns. The only way to have a `Directory`: no path can leave a connection open.
    pub async fn with<T, E: From<DirectoryError>>(
        config: &DirectoryConfig,
        password: &SecretString,
        work: impl AsyncFnOnce(&mut Directory) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut directory = Self {
            ldap: connect(config, password).await?,
            config: config.clone(),
        };
        let result = work(&mut directory).await;
        directory.close().await;
        result
    }

    /// What the server does that the plan depends on: why disabling an account here might not
    /// lock anybody out (warnings), and on 389-DS whether member values follow a move.
    async fn server_facts(
        &mut self,
        mappings: &crate::mapping::Mappings,
    ) -> Result<(Vec<String>, Option<bool>), DirectoryError> {
        // `None` where the root DSE cannot be read: the checks that need it are then skipped.
        let dse = self.root_dse().await.ok().flatten();
        let configured = self.config.flavour;
        if let Some(found) = dse.as_ref().and_then(RootDse::flavour)
            && found != configured
        {
            return Err(DirectoryError::WrongFlavour {
                url: self.config.url.clone(),
                configured: configured.as_str(),
                found: found.as_str(),
            });
        }
        match configured {
            Flavour::Openldap => Ok((self.disable_warnings(dse.as_ref()).await?, None)),
            Flavour::ActiveDirectory => Ok((Vec::new(), None)),
            Flavour::Ds389 => {
                let renames = self.renames(&mappings.groups.member_attribute).await;
                let (follows, warning) =
                    ds389::decide_renames(renames, self.config.renames_configured)?;
                Ok((warning.into_iter().collect(), Some(follows)))
            }
        }
    }

    /// Why disabling an account here might not lock anybody out: on OpenLDAP,
    /// `pwdAccountLockedTime` stops a bind only where a password policy applies.
    async fn disable_warnings(
        &mut self,
        dse: Option<&RootDse>,
    ) -> Result<Vec<String>, DirectoryError> {
        if let Some(dse) = dse
            && !dse.has_password_policy()
        {
            return Ok(vec![
                "the server offers no password policy control: the ppolicy overlay is not \
                 loaded, so pwdAccountLockedTime locks nobody out and disabled accounts can \
                 still bind"
                    .to_string(),
            ]);
        }
        Ok(match self.config.password_policy.clone() {
            Some(policy) if !self.exists(&policy).await? => vec![format!(
                "password policy {policy} (directory.openldap.password_policy) does not exist: \
                 pwdAccountLockedTime locks nobody out without a policy, so disabled accounts could still bind"
            )],
            Some(_) => Vec::new(),
            None => vec![
                "directory.openldap.password_policy is not set: hrsync cannot check that a password \
                 policy applies, and without one pwdAccountLockedTime does not stop a bind"
                    .to_string(),
            ],
        })
    }

    /// Accounts under the users base that must never be changed, with the reason.
    async fn protected_accounts(&mut self) -> Result<BTreeMap<Dn, String>, DirectoryError> {
        let protection = self.config.protected.clone();
        let base = self.config.users_base.to_string();
        let mut protected = BTreeMap::new();
        for (dn, why) in &protection.dns {
            protected.insert(dn.clone(), why.clone());
        }
        for group in &protection.groups {
            let mut groups = vec![group.clone()];
            if protection.nested_groups {
                groups.extend(self.groups_nested_in(group).await?);
            }
            for each in &groups {
                for member in self.read_members(each, "member").await?.unwrap_or_default() {
                    protected
                        .entry(member)
                        .or_insert_with(|| format!("member of {group}"));
                }
            }
        }
        for (filter, reason) in protection.filters {
            let filter = format!("(&{}{filter})", self.config.user_filter);
            for entry in self
                .search_paged(&base, Scope::Subtree, &filter, &["1.1"])
                .await?
            {
                if let Ok(dn) = Dn::parse(&entry.dn) {
                    protected.entry(dn).or_insert_with(|| reason.clone());
                }
            }
        }
        Ok(protected)
    }

    /// The groups nested in `group`, at any depth (AD's LDAP_MATCHING_RULE_IN_CHAIN, asked of
    /// groups only): with their direct members and the group's own, the members of `group`
    /// as the in-chain rule counts them. Asked of every account instead, the rule is evaluated
    /// once per account: 0.22 s per group at 3,000 accounts on Samba, against 0.03 s this way.
    async fn groups_nested_in(&mut self, group: &Dn) -> Result<Vec<Dn>, DirectoryError> {
        let filter = format!(
            "(&(objectClass=group)(memberOf:1.2.840.113556.1.4.1941:={}))",
            ldap3::ldap_escape(group.as_str())
        );
        let base = self.config.uniqueness_base.to_string();
        Ok(self
            .search_paged(&base, Scope::Subtree, &filter, &["1.1"])
            .await?
            .into_iter()
            .filter_map(|entry| Dn::parse(&entry.dn).ok())
            .collect())
    }

    /// Values of the unique attributes in use anywhere under the uniqueness base, lower-cased.
    async fn taken(
        &mut self,
        unique: &[String],
    ) -> Result<BTreeMap<String, BTreeSet<String>>, DirectoryError> {
        let mut taken: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        if unique.is_empty() {
            return Ok(taken);
        }
        let filter = format!(
            "(|{})",
            unique
                .iter()
                .map(|a| format!("({a}=*)"))
                .collect::<String>()
        );
        let attrs: Vec<&str> = unique.iter().map(String::as_str).collect();
        let base = self.config.uniqueness_base.to_string();
        for entry in self
            .search_paged(&base, Scope::Subtree, &filter, &attrs)
            .await?
        {
            for (name, values) in entry.attrs {
                taken
                    .entry(name.to_ascii_lowercase())
                    .or_default()
                    .extend(values.iter().map(|v| v.to_lowercase()));
            }
        }
        Ok(taken)
    }

    /// A group's members, or `None` when the group does not exist. With a range size (AD), the
    /// values are read range by range (`member;range=0-1499`, then `member;range=1500-2999`, ...)
    /// until the server answers with a range ending in `*`: AD hands out at most 1,500 values
    /// of a large attribute any other way.
    async fn read_members(
        &mut self,
        group: &Dn,
        member_attribute: &str,
    ) -> Result<Option<BTreeSet<Dn>>, DirectoryError> {
        let mut members = BTreeSet::new();
        let mut start = 0usize;
        loop {
            let requested = match self.config.member_range_size {
                Some(size) => format!("{member_attribute};range={start}-{}", start + size - 1),
                None => member_attribute.to_string(),
            };
            let result = self
                .ldap
                .with_timeout(self.config.operation_timeout)
                .search(
                    group.as_str(),
                    Scope::Base,
                    "(objectClass=*)",
                    vec![requested.as_str()],
                )
                .await
                .map_err(|e| DirectoryError::from_ldap("read group", group.as_str(), e))?;
            if result.1.rc == 32 {
                return Ok(None);
            }
            let (entries, _) = result
                .success()
                .map_err(|e| DirectoryError::from_ldap("read group", group.as_str(), e))?;
            let Some(entry) = entries.into_iter().next() else {
                return Ok(None);
            };
            let entry = Entry::decode_for(entry, "read group", group.as_str())?;
            let mut next = None;
            for (name, values) in entry.attrs {
                let lower = name.to_ascii_lowercase();
                let Some(options) = lower.strip_prefix(&member_attribute.to_ascii_lowercase())
                else {
                    continue;
                };
                // "" (all values), or ";range=START-END" / ";range=START-*".
                if let Some(end) = options
                    .strip_prefix(";range=")
                    .and_then(|r| r.split_once('-'))
                    .map(|(_, end)| end)
                {
                    if end != "*" {
                        let end: usize = end.parse().map_err(|_| DirectoryError::Transport {
                            operation: "read group",
                            dn: group.to_string(),
                            message: format!("unreadable range in attribute {name}"),
                        })?;
                        next = Some(end + 1);
                    }
                } else if !options.is_empty() {
                    continue;
                }
                for value in values {
                    match Dn::parse(&value) {
                        Ok(dn) => {
                            members.insert(dn);
                        }
                        Err(_) => {
                            tracing::warn!(group = %group, member = %value, "ignoring a member value that is not a DN")
                        }
                    }
                }
            }
            match next {
                Some(next) if next > start => start = next,
                _ => return Ok(Some(members)),
            }
        }
    }

    async fn search_paged(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<Entry>, DirectoryError> {
        let mut entries = Vec::new();
        self.search_paged_each(base, scope, filter, attrs, |entry| entries.push(entry))
            .await?;
        Ok(entries)
    }

    /// A paged search handing each entry to `each` as it arrives.
    async fn search_paged_each(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        mut each: impl FnMut(Entry),
    ) -> Result<(), DirectoryError> {
        // EntriesOnly first: referrals (which AD returns from the domain root) are dropped
        // instead of failing the decoding.
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(self.config.page_size)),
        ];
        let fail = |e| DirectoryError::from_ldap("search", base, e);
        let mut stream = self
            .ldap
            .with_timeout(self.config.operation_timeout)
            .streaming_search_with(adapters, base, scope, filter, attrs.to_vec())
            .await
            .map_err(fail)?;
        while let Some(entry) = stream.next().await.map_err(fail)? {
            each(Entry::decode_for(entry, "search", base)?);
        }
        stream.finish().await.success().map_err(fail)?;
        Ok(())
    }

    /// Whether an entry exists (used to check that the password policy is really there).
    pub async fn exists(&mut self, dn: &Dn) -> Result<bool, DirectoryError> {
        let result = self
            .ldap
            .with_timeout(self.config.operation_timeout)
            .search(dn.as_str(), Scope::Base, "(objectClass=*)", vec!["1.1"])
            .await
            .map_err(|e| DirectoryError::from_ldap("read", dn.as_str(), e))?;
        match result.1.rc {
            0 => Ok(!result.0.is_empty()),
            32 => Ok(false),
            _ => result
                .success()
                .map(|_| true)
                .map_err(|e| DirectoryError::from_ldap("read", dn.as_str(), e)),
        }
    }

    /// Executes one operation. A non-zero result code is an error (ldap3 does not make it one).
    pub async fn execute(&self, op: &LdapOp) -> Result<(), DirectoryError> {
        let mut ldap = self.ldap.clone();
        ldap.with_timeout(self.config.operation_timeout);
        match op {
            LdapOp::Add { dn, attributes } => {
                #[allow(clippy::disallowed_types)] // ldap3 takes HashSet; order is irrelevant.
                let attrs: Vec<(&str, std::collections::HashSet<&str>)> = attributes
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect()))
                    .collect();
                ldap.add(dn.as_str(), attrs)
                    .await
                    .and_then(|r| r.success())
                    .map(drop)
                    .map_err(|e| DirectoryError::from_ldap("add", dn.as_str(), e))
            }
            LdapOp::Modify { dn, mods } => {
                let mods = to_ldap3_mods(mods).map_err(|message| DirectoryError::Transport {
                    operation: "modify",
                    dn: dn.to_string(),
                    message,
                })?;
                ldap.modify(dn.as_str(), mods)
                    .await
                    .and_then(|r| r.success())
                    .map(drop)
                    .map_err(|e| DirectoryError::from_ldap("modify", dn.as_str(), e))
            }
            LdapOp::Rename {
                dn,
                new_rdn,
                new_superior,
            } => ldap
                .modifydn(dn.as_str(), new_rdn, true, Some(new_superior.as_str()))
                .await
                .and_then(|r| r.success())
                .map(drop)
                .map_err(|e| DirectoryError::from_ldap("modify DN", dn.as_str(), e)),
        }
    }

    async fn close(mut self) {
        if let Err(e) = self.ldap.unbind().await {
            tracing::debug!(error = %e, "unbind failed");
        }
    }
}

/// An operation's modifications in ldap3's form, as bytes: a new password is binary
/// (`unicodePwd` is UTF-16LE). The password is made here, at the last moment, and lives only in
/// the request.
#[allow(clippy::disallowed_types)] // ldap3's API takes HashSet; order on the wire is irrelevant.
fn to_ldap3_mods(mods: &[Modification]) -> Result<Vec<Mod<Vec<u8>>>, String> {
    fn set(values: &[String]) -> std::collections::HashSet<Vec<u8>> {
        values.iter().map(|v| v.as_bytes().to_vec()).collect()
    }
    let bytes = |a: &str| a.as_bytes().to_vec();
    mods.iter()
        .map(|m| {
            Ok(match m {
                Modification::Add(a, v) => Mod::Add(bytes(a), set(v)),
                Modification::Delete(a, v) => Mod::Delete(bytes(a), set(v)),
                Modification::Replace(a, v) => Mod::Replace(bytes(a), set(v)),
                Modification::RandomPassword => {
                    let password = password::random()?;
                    Mod::Replace(
                        bytes("unicodePwd"),
                        [password::unicode_pwd(&password)].into_iter().collect(),
                    )
                }
            })
        })
        .collect()
}
