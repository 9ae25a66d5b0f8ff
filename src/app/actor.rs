//! Who is running hrsync, for the audit log's answer to "who": the OS user and the host, read
//! once per run. Neither is a proof (a root user can be anyone); they say which account and
//! machine to ask, as `sudo` and `git` records do.

use std::os::unix::fs::MetadataExt;

use crate::audit::Actor;

/// The user this process runs as, and this host.
pub(crate) fn current() -> Actor {
    Actor {
        user: os_user(),
        host: host_name(),
        plan: None,
    }
}

/// `user@host`, as a saved plan records who made it.
pub(crate) fn signature(actor: &Actor) -> String {
    format!("{}@{}", actor.user, actor.host)
}

/// The name of the effective user (its uid where `/etc/passwd` has no name for it, as in a
/// container running an arbitrary uid). `/proc/self` belongs to the effective user; the
/// environment's `USER` is only a fallback, since anyone can set it.
fn os_user() -> String {
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return std::env::var("USER").unwrap_or_else(|_| "unknown-user".to_string());
    };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| name_of(&passwd, uid))
        .unwrap_or_else(|| format!("uid {uid}"))
}

/// The name `passwd` (the `/etc/passwd` format) gives `uid`.
fn name_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id: u32 = fields.nth(1)?.parse().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_string())
    })
}

/// This machine's name.
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown-host".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_is_named_from_passwd_by_uid_and_never_from_a_forged_line() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n\
                      broken line\n\
                      hrsync:x:998:998::/var/lib/hrsync:/usr/sbin/nologin\n";
        assert_eq!(name_of(passwd, 0).as_deref(), Some("root"));
        assert_eq!(name_of(passwd, 998).as_deref(), Some("hrsync"));
        assert_eq!(name_of(passwd, 1000), None);
        let actor = current();
        assert!(!actor.user.is_empty() && !actor.host.is_empty());
        assert_eq!(signature(&actor), format!("{}@{}", actor.user, actor.host));
    }
}
