//! The run lease: one entry in the directory (`directory.lease_dn`) that says which run is
//! applying to it and until when, so that two runs against the same directory (a cron line and
//! a CronJob, two daemons, on any hosts) never apply at the same time.
//!
//! The entry holds one `description` value, `hrsync-lease holder=<who> expires=<RFC 3339>`.
//! Every step is atomic on the server, without a lock of our own:
//! - taking a free lease is an add, which fails with entryAlreadyExists (68) when another run
//!   holds it;
//! - taking over an expired lease (a killed run's) and renewing one's own are a modify that
//!   deletes the exact value read and adds the new one: it fails with noSuchAttribute (16)
//!   when another run changed the value first (compare-and-swap);
//! - releasing deletes the entry after checking it still holds our value, with time to spare
//!   before it expires: until then nobody else may take it over, so the check and the delete
//!   cannot be overtaken.
//!
//! Time is read from the clock handed in, never here.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use ldap3::{Ldap, Mod, Scope};
use tokio::sync::Mutex;

use super::{Directory, DirectoryError, Flavour};

/// A source of the current time.
pub type Now = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

const PREFIX: &str = "hrsync-lease holder=";
const EXPIRES: &str = " expires=";

/// The lease's value: who holds it and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseValue {
    pub holder: String,
    pub expires: DateTime<Utc>,
}

impl LeaseValue {
    fn encode(&self) -> String {
        format!(
            "{PREFIX}{}{EXPIRES}{}",
            self.holder,
            self.expires.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }

    fn decode(value: &str) -> Option<LeaseValue> {
        let rest = value.strip_prefix(PREFIX)?;
        let (holder, expires) = rest.rsplit_once(EXPIRES)?;
        let expires = DateTime::parse_from_rfc3339(expires)
            .ok()?
            .with_timezone(&Utc);
        Some(LeaseValue {
            holder: holder.to_string(),
            expires,
        })
    }
}

/// What an attempt to take the lease found.
#[derive(Debug)]
pub enum Acquired {
    /// This run holds the lease.
    Taken(Lease),
    /// Another run holds it, live.
    Held {
        dn: String,
        holder: String,
        expires: String,
    },
}

/// A lease this run holds: the value it wrote last.
#[derive(Debug)]
pub struct Lease {
    dn: String,
    value: String,
    expires: DateTime<Utc>,
    ttl: Duration,
}

impl Directory {
    /// Takes the run lease for `holder` until `now` + the lease time, or says who holds it.
    pub async fn acquire_lease(
        &self,
        holder: &str,
        now: DateTime<Utc>,
    ) -> Result<Acquired, DirectoryError> {
        let dn = self.config.lease_dn.to_string();
        let ttl = self.config.lease_ttl;
        let mine = LeaseValue {
            holder: holder.to_string(),
            expires: now + ttl,
        };
        let lease = Lease {
            dn: dn.clone(),
            value: mine.encode(),
            expires: mine.expires,
            ttl,
        };
        // Twice at most: a lease released between our add and our read is free again.
        for _ in 0..2 {
            if self.add_lease(&lease).await? {
                return Ok(Acquired::Taken(lease));
            }
            let Some(found) = self.read_lease(&dn).await? else {
                continue;
            };
            let Some(theirs) = LeaseValue::decode(&found) else {
                return Err(lease_error(
                    &dn,
                    format!(
                        "it holds a value hrsync cannot read ({found:?}); if no run is under \
                         way, delete the entry"
                    ),
                ));
            };
            if theirs.expires > now {
                return Ok(Acquired::Held {
                    dn,
                    holder: theirs.holder,
                    expires: theirs.expires.to_rfc3339_opts(SecondsFormat::Secs, true),
                });
            }
            if swap(&self.lease_ldap(), &dn, &found, &lease.value).await? {
                tracing::warn!(
                    lease = %dn,
                    previous_holder = %theirs.holder,
                    expired = %theirs.expires.to_rfc3339_opts(SecondsFormat::Secs, true),
                    "took over an expired run lease (its run ended without releasing it)"
                );
                return Ok(Acquired::Taken(lease));
            }
            // Another run swapped it first: read again, it is theirs now.
        }
        let found = self.read_lease(&dn).await?.unwrap_or_default();
        let theirs = LeaseValue::decode(&found);
        Ok(Acquired::Held {
            dn,
            holder: theirs
                .as_ref()
                .map_or_else(|| "another run".to_string(), |v| v.holder.clone()),
            expires: theirs.map_or_else(String::new, |v| {
                v.expires.to_rfc3339_opts(SecondsFormat::Secs, true)
            }),
        })
    }

    /// Renews `lease` every third of its time until `keeper` is told to release it; sets
    /// `lost` when another run took it over (this run was too slow to renew it).
    pub fn keep_lease(&self, lease: Lease, now: Now, lost: Arc<AtomicBool>) -> LeaseKeeper {
        let lease = Arc::new(Mutex::new(lease));
        let ldap = self.lease_ldap();
        let held = lease.clone();
        let task = tokio::spawn(async move {
            loop {
                let period = held.lock().await.ttl / 3;
                tokio::time::sleep(period).await;
                let mut lease = held.lock().await;
                match renew(&ldap, &mut lease, now()).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::error!(
                            lease = %lease.dn,
                            "the run lease was taken over by another run: starting no further change"
                        );
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    // The server did not answer: the apply finds out on its own; try again.
                    Err(e) => tracing::warn!(error = %e, "could not renew the run lease"),
                }
            }
        });
        LeaseKeeper {
            lease,
            task,
            ldap: self.lease_ldap(),
        }
    }

    async fn add_lease(&self, lease: &Lease) -> Result<bool, DirectoryError> {
        let class = match self.config.flavour {
            Flavour::Openldap | Flavour::Ds389 => "applicationProcess",
            Flavour::ActiveDirectory => "container",
        };
        let rdn_value = lease
            .dn
            .split_once(',')
            .map(|(rdn, _)| rdn)
            .and_then(|rdn| rdn.split_once('='))
            .map_or("hrsync-lease", |(_, v)| v);
        #[allow(clippy::disallowed_types)] // ldap3 takes HashSet; order is irrelevant.
        let attrs: Vec<(&str, std::collections::HashSet<&str>)> = vec![
            ("objectClass", [class].into_iter().collect()),
            ("cn", [rdn_value].into_iter().collect()),
            ("description", [lease.value.as_str()].into_iter().collect()),
        ];
        let result = self
            .lease_ldap()
            .op()
            .add(&lease.dn, attrs)
            .await
            .map_err(|e| DirectoryError::from_ldap("add", &lease.dn, e))?;
        match result.rc {
            0 => Ok(true),
            68 => Ok(false),
            rc => Err(lease_error(&lease.dn, super::describe_rc(rc, &result.text))),
        }
    }

    /// The lease's value, `None` when there is no lease entry.
    async fn read_lease(&self, dn: &str) -> Result<Option<String>, DirectoryError> {
        let result = self
            .lease_ldap()
            .op()
            .search(dn, Scope::Base, "(objectClass=*)", vec!["description"])
            .await
            .map_err(|e| DirectoryError::from_ldap("read", dn, e))?;
        if result.1.rc == 32 {
            return Ok(None);
        }
        let (entries, _) = result
            .success()
            .map_err(|e| DirectoryError::from_ldap("read", dn, e))?;
        let Some(entry) = entries.into_iter().next() else {
            return Ok(None);
        };
        let entry = ldap3::SearchEntry::construct(entry);
        let value = entry
            .attrs
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("description"))
            .and_then(|(_, values)| values.first().cloned());
        Ok(Some(value.unwrap_or_default()))
    }

    /// A handle for the lease's operations: a clone of the connection's, with the operation
    /// timeout (a clone of an `Ldap` has none, and a timeout is good for one operation only).
    fn lease_ldap(&self) -> Timed {
        Timed {
            ldap: self.ldap.clone(),
            timeout: self.config.operation_timeout,
        }
    }
}

/// The connection and the timeout each lease operation gets.
#[derive(Clone)]
struct Timed {
    ldap: Ldap,
    timeout: Duration,
}

impl Timed {
    /// A handle for one operation, with the timeout set.
    fn op(&self) -> Ldap {
        let mut ldap = self.ldap.clone();
        ldap.with_timeout(self.timeout);
        ldap
    }
}

/// Keeps a lease renewed while the run works; [`LeaseKeeper::release`] ends it.
pub struct LeaseKeeper {
    lease: Arc<Mutex<Lease>>,
    task: tokio::task::JoinHandle<()>,
    ldap: Timed,
}

impl LeaseKeeper {
    /// Stops renewing and deletes the lease entry if it still holds this run's value with time
    /// to spare (see the module's notes); otherwise leaves it to expire. Never fails the run:
    /// a lease left behind only delays the next run until it expires.
    pub async fn release(self, now: DateTime<Utc>) {
        self.task.abort();
        let lease = self.lease.lock().await;
        let spare = chrono::Duration::from_std(lease.ttl / 3).unwrap_or_default();
        if lease.expires - spare <= now {
            tracing::warn!(lease = %lease.dn, "the run lease is about to expire; leaving it to expire");
            return;
        }
        let ours = match self
            .ldap
            .op()
            .search(
                &lease.dn,
                Scope::Base,
                "(objectClass=*)",
                vec!["description"],
            )
            .await
            .and_then(|r| r.success())
        {
            Ok((entries, _)) => entries.into_iter().next().is_some_and(|e| {
                ldap3::SearchEntry::construct(e)
                    .attrs
                    .values()
                    .flatten()
                    .any(|v| *v == lease.value)
            }),
            Err(e) => {
                tracing::warn!(error = %e, lease = %lease.dn, "cannot read the run lease to release it; it expires on its own");
                return;
            }
        };
        if !ours {
            tracing::warn!(lease = %lease.dn, "the run lease is no longer this run's; left as it is");
            return;
        }
        if let Err(e) = self
            .ldap
            .op()
            .delete(&lease.dn)
            .await
            .and_then(|r| r.success())
        {
            tracing::warn!(error = %e, lease = %lease.dn, "cannot delete the run lease; it expires on its own");
        }
    }
}

/// Renews `lease` (compare-and-swap of its value); `false` when another run took it over.
async fn renew(
    ldap: &Timed,
    lease: &mut Lease,
    now: DateTime<Utc>,
) -> Result<bool, DirectoryError> {
    let holder = LeaseValue::decode(&lease.value).map_or_else(String::new, |v| v.holder);
    let next = LeaseValue {
        holder,
        expires: now + lease.ttl,
    };
    let value = next.encode();
    if !swap(ldap, &lease.dn, &lease.value, &value).await? {
        return Ok(false);
    }
    lease.value = value;
    lease.expires = next.expires;
    Ok(true)
}

/// Replaces `old` with `new` in one modify; `false` when `old` was no longer there (another run
/// changed the lease first) or the entry is gone.
async fn swap(ldap: &Timed, dn: &str, old: &str, new: &str) -> Result<bool, DirectoryError> {
    #[allow(clippy::disallowed_types)] // ldap3 takes HashSet; order is irrelevant.
    let mods = vec![
        Mod::Delete("description", [old].into_iter().collect()),
        Mod::Add("description", [new].into_iter().collect()),
    ];
    let result = ldap
        .op()
        .modify(dn, mods)
        .await
        .map_err(|e| DirectoryError::from_ldap("modify", dn, e))?;
    match result.rc {
        0 => Ok(true),
        16 | 32 => Ok(false),
        rc => Err(lease_error(dn, super::describe_rc(rc, &result.text))),
    }
}

fn lease_error(dn: &str, message: String) -> DirectoryError {
    DirectoryError::Lease {
        dn: dn.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_value_reads_back_as_written_and_junk_is_not_a_lease() {
        let value = LeaseValue {
            holder: "host=web-1 pid=42 run=20261203T101500Z-9f3a1c2e".into(),
            expires: DateTime::parse_from_rfc3339("2026-12-03T10:20:00Z")
                .unwrap()
                .with_timezone(&Utc),
        };
        let text = value.encode();
        assert_eq!(
            text,
            "hrsync-lease holder=host=web-1 pid=42 run=20261203T101500Z-9f3a1c2e \
             expires=2026-12-03T10:20:00Z"
        );
        assert_eq!(LeaseValue::decode(&text), Some(value));
        for junk in [
            "",
            "hrsync-lease holder=x",
            "hrsync-lease holder=x expires=tomorrow",
            "someone else's description",
        ] {
            assert_eq!(LeaseValue::decode(junk), None, "{junk}");
        }
    }
}
