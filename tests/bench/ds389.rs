//! 389 Directory Server for the scale benchmark: a throwaway instance
//! (tests/389ds/start-389ds.sh, access log off, MemberOf and referential integrity off as 389
//! ships them) bulk-loaded offline with `dsctl INSTANCE ldif2db`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::company::{self, Result, SUFFIX};

pub const ADMIN_DN: &str = "cn=Directory Manager";

pub struct Ds389 {
    pub dir: PathBuf,
    pub url: String,
    pub password: String,
    pub instance: String,
    /// Seconds the offline load took (stop, ldif2db, start).
    pub load_seconds: f64,
}

/// The suffix entry and the OUs: `ldif2db` replaces the whole backend, so the seed must bring
/// them (company::write_seed writes only the accounts and the groups).
pub fn write_seed(path: &Path, n: usize) -> Result<()> {
    let accounts = path.with_extension("accounts.ldif");
    company::write_seed(&accounts, n, None)?;
    let mut text = format!("dn: {SUFFIX}\nobjectClass: top\nobjectClass: domain\ndc: example\n\n");
    for ou in ["people", "disabled", "groups"] {
        text.push_str(&format!(
            "dn: ou={ou},{SUFFIX}\nobjectClass: top\nobjectClass: organizationalUnit\nou: {ou}\n\n"
        ));
    }
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut out = std::fs::File::create(path).map_err(io)?;
    std::io::Write::write_all(&mut out, text.as_bytes()).map_err(io)?;
    let mut input = std::fs::File::open(&accounts).map_err(io)?;
    std::io::copy(&mut input, &mut out).map_err(io)?;
    std::fs::remove_file(&accounts).map_err(io)
}

fn dsctl(instance: &str, args: &[&str]) -> Result<()> {
    let out = Command::new("dsctl")
        .env("PATH", company::path_with_sbin())
        .arg(instance)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("dsctl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "dsctl {instance} {args:?} failed: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Ds389 {
    /// A new instance in `dir`, loaded with `seed` (see [`write_seed`]), with `settings`
    /// (`(entry DN, attribute, value)`) applied to cn=config before the load, and an equality
    /// index on nsAccountLock when `index_lock`.
    pub fn start(
        dir: &Path,
        seed: &Path,
        settings: &[(&str, &str, &str)],
        index_lock: bool,
    ) -> Result<Ds389> {
        let value =
            company::start_server("tests/389ds/start-389ds.sh", dir, &[("ACCESS_LOG", "0")])?;
        let mut ds = Ds389 {
            dir: dir.to_path_buf(),
            url: value("LDAP_URL")?,
            password: value("ADMIN_PASSWORD")?,
            instance: value("INSTANCE")?,
            load_seconds: 0.0,
        };
        for (dn, attr, value) in settings {
            ds.set(dn, attr, value)?;
        }
        // ldif2db runs as the server's user: the LDIF goes where 389 keeps its own.
        let started = Instant::now();
        let ldif = PathBuf::from(format!(
            "/var/lib/dirsrv/slapd-{}/ldif/seed.ldif",
            ds.instance
        ));
        std::fs::copy(seed, &ldif).map_err(|e| format!("{}: {e}", ldif.display()))?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&ldif, std::fs::Permissions::from_mode(0o644))
                .map_err(|e| e.to_string())?;
        }
        // An equality index on nsAccountLock, as an admin running hrsync should add: hrsync
        // looks for role-locked accounts with (&(objectClass=inetOrgPerson)(nsAccountLock=true)),
        // which 389 does not index by default (0.30 s unindexed at 100,000 accounts, 0.02 s
        // indexed). Added before the load, so ldif2db builds it.
        if index_lock {
            let out = Command::new("dsconf")
                .env("PATH", company::path_with_sbin())
                .args([
                    &ds.instance,
                    "backend",
                    "index",
                    "add",
                    "--attr",
                    "nsAccountLock",
                ])
                .args(["--index-type", "eq", "userroot"])
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("dsconf: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "dsconf backend index add nsAccountLock failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        dsctl(&ds.instance, &["stop"])?;
        let ldif_arg = ldif.to_string_lossy().into_owned();
        dsctl(&ds.instance, &["ldif2db", "userroot", &ldif_arg])?;
        let _ = std::fs::remove_file(&ldif);
        dsctl(&ds.instance, &["start"])?;
        ds.load_seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "389-DS {} loaded with {} in {:.1} s",
            ds.instance,
            seed.display(),
            ds.load_seconds
        );
        Ok(ds)
    }

    /// Sets one attribute of a cn=config entry over LDAP (the server is running).
    pub fn set(&self, dn: &str, attr: &str, value: &str) -> Result<()> {
        let password = self.password_file()?;
        let mut child = Command::new("ldapmodify")
            .env("LDAPNOINIT", "1")
            .args(["-x", "-H", &self.url, "-D", ADMIN_DN])
            .arg("-y")
            .arg(&password)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("ldapmodify: {e}"))?;
        if let Some(stdin) = child.stdin.as_mut() {
            std::io::Write::write_all(
                stdin,
                format!("dn: {dn}\nchangetype: modify\nreplace: {attr}\n{attr}: {value}\n")
                    .as_bytes(),
            )
            .map_err(|e| e.to_string())?;
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("setting {attr} on {dn}: {status}"))
        }
    }

    pub fn password_file(&self) -> Result<PathBuf> {
        company::password_file(&self.dir, &self.password)
    }

    pub fn stop(&self) {
        let _ = Command::new(company::repo().join("tests/389ds/stop-389ds.sh"))
            .env("PATH", company::path_with_sbin())
            .arg(&self.dir)
            .stdout(Stdio::null())
            .status();
    }
}

impl Drop for Ds389 {
    fn drop(&mut self) {
        self.stop();
    }
}
