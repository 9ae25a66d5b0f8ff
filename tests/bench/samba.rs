//! Samba AD DC for the scale benchmark: a throwaway domain controller
//! (tests/samba/start-samba.sh, log level 0) with the company under OU=Company, loaded with
//! Samba's Python bindings straight into its sam.ldb while it runs (see [`Samba::start`]).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::company::{self, Person, ROLES, Result, person, title};

pub const COMPANY: &str = "OU=Company,DC=example,DC=test";
pub const ADMIN_UPN: &str = "Administrator@example.test";
/// userAccountControl of a seeded account: NORMAL_ACCOUNT | PASSWD_NOTREQD, enabled, no
/// password (setting 10,000 passwords would mostly measure Samba's key derivation).
pub const UAC_SEEDED: u32 = 0x200 | 0x20;

pub fn people() -> String {
    format!("OU=People,{COMPANY}")
}
pub fn disabled() -> String {
    format!("OU=Disabled,{COMPANY}")
}
pub fn groups() -> String {
    format!("OU=Groups,{COMPANY}")
}
pub fn cn(p: &Person) -> String {
    format!("{} {}", p.first, p.last)
}
pub fn user_dn(p: &Person) -> String {
    format!("CN={},{}", cn(p), people())
}
pub fn group_dn(role: usize) -> String {
    format!("CN=role-{role:03},{}", groups())
}
pub fn sam(p: &Person) -> String {
    format!("{}{}", &p.first[..1], p.last).to_lowercase()
}

/// The OUs, N accounts (as the mappings of [`mappings`] name them) and 200 role groups.
pub fn write_seed(path: &Path, n: usize) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = BufWriter::new(file);
    let io = |e: std::io::Error| e.to_string();
    for ou in [COMPANY.to_string(), people(), disabled(), groups()] {
        writeln!(out, "dn: {ou}\nobjectClass: organizationalUnit\n").map_err(io)?;
    }
    let mut members: Vec<Vec<String>> = vec![Vec::new(); ROLES];
    for i in 0..n {
        let p = person(i);
        writeln!(
            out,
            "dn: {}\nobjectClass: user\nsAMAccountName: {sam}\nuserPrincipalName: {sam}@example.test\n\
             employeeID: {}\ngivenName: {}\nsn: {}\nmail: {}\ntitle: {}\nuserAccountControl: {UAC_SEEDED}\n",
            user_dn(&p),
            p.id,
            p.first,
            p.last,
            p.mail(),
            title(p.role),
            sam = sam(&p),
        )
        .map_err(io)?;
        members[p.role].push(user_dn(&p));
    }
    for (role, members) in members.iter().enumerate() {
        writeln!(
            out,
            "dn: {}\nobjectClass: group\nsAMAccountName: role-{role:03}",
            group_dn(role)
        )
        .map_err(io)?;
        for m in members {
            writeln!(out, "member: {m}").map_err(io)?;
        }
        writeln!(out).map_err(io)?;
    }
    out.flush().map_err(io)
}

/// The mappings (without the role rules) for the AD accounts of [`write_seed`], as
/// mappings/active-directory names them.
pub fn mappings() -> String {
    format!(
        r#"[correlation]
attribute = "employeeID"

[account]
rdn_attribute = "cn"
object_classes = ["top", "person", "organizationalPerson", "user"]
default_ou = "{people}"
disabled_ou = "{disabled}"
unique_attributes = ["sAMAccountName", "userPrincipalName"]

[account.attributes]
cn = "{{first_name}} {{last_name}}{{unique}}"
sAMAccountName = "{{first_name|initial|ascii|lower}}{{last_name|ascii|lower|alnum|max:17}}{{unique}}"
userPrincipalName = "{{first_name|initial|ascii|lower}}{{last_name|ascii|lower|alnum|max:17}}{{unique}}@example.test"
givenName = "{{first_name}}"
sn = "{{last_name}}"
mail = "{{email}}"
title = "{{title}}"

[groups]
base = "{groups}"
"#,
        people = people(),
        disabled = disabled(),
        groups = groups(),
    )
}

/// Adds an LDIF file to a sam.ldb: argv = smb.conf, sam.ldb, LDIF.
const LOAD_PY: &str = r#"
import sys
from samba.samdb import SamDB
from samba.param import LoadParm
from samba.auth import system_session
lp = LoadParm()
lp.load(sys.argv[1])
db = SamDB(url=sys.argv[2], session_info=system_session(), lp=lp)
records = [r for r in open(sys.argv[3]).read().split("\n\n") if r.strip()]
for start in range(0, len(records), 1000):
    db.transaction_start()
    db.add_ldif("\n\n".join(records[start:start + 1000]))
    db.transaction_commit()
"#;

pub struct Samba {
    pub dir: PathBuf,
    pub url: String,
    pub password: String,
    pub ca_file: PathBuf,
    /// Seconds the load took.
    pub load_seconds: f64,
    /// How it was loaded.
    pub load_method: String,
}

impl Samba {
    /// A new DC in `dir` loaded with `seed`. `HRSYNC_BENCH_SAMBA_LOAD=ldapadd` loads over LDAPS
    /// (one ldapadd, one connection) instead of Samba's Python bindings on sam.ldb.
    pub fn start(dir: &Path, seed: &Path) -> Result<Samba> {
        let value = company::start_server(
            "tests/samba/start-samba.sh",
            dir,
            &[("SAMBA_LOGLEVEL", "0")],
        )?;
        let mut samba = Samba {
            dir: dir.to_path_buf(),
            url: value("LDAPS_URL")?,
            password: value("ADMIN_PASSWORD")?,
            ca_file: PathBuf::from(value("CA_FILE")?),
            load_seconds: 0.0,
            load_method: String::new(),
        };
        let conf = value("CONF_FILE")?;
        let method = std::env::var("HRSYNC_BENCH_SAMBA_LOAD").unwrap_or_else(|_| "samdb".into());
        let started = Instant::now();
        let status = if method == "ldapadd" {
            let password = samba.password_file()?;
            Command::new("ldapadd")
                .env("LDAPCONF", "/dev/null")
                .env("LDAPTLS_CACERT", &samba.ca_file)
                .env("LDAPTLS_REQCERT", "demand")
                .args(["-x", "-H", &samba.url, "-D", ADMIN_UPN])
                .arg("-y")
                .arg(&password)
                .arg("-f")
                .arg(seed)
                .stdout(Stdio::null())
                .status()
        } else {
            // Straight into sam.ldb while samba runs (LMDB takes one writer at a time; this is
            // how `samba-tool user add` works locally too), through Samba's own Python bindings
            // (ldbadd is in ldb-tools, which tests/samba/install-deps.sh does not install), 1,000
            // records per transaction.
            Command::new("/usr/bin/python3")
                .arg("-c")
                .arg(LOAD_PY)
                .arg(&conf)
                .arg(dir.join("dc/private/sam.ldb"))
                .arg(seed)
                .stdout(Stdio::null())
                .status()
        }
        .map_err(|e| format!("{method}: {e}"))?;
        if !status.success() {
            return Err(format!("loading Samba with {method} failed: {status}"));
        }
        samba.load_seconds = started.elapsed().as_secs_f64();
        samba.load_method = method;
        eprintln!(
            "Samba loaded with {} by {} in {:.1} s",
            seed.display(),
            samba.load_method,
            samba.load_seconds
        );
        Ok(samba)
    }

    pub fn password_file(&self) -> Result<PathBuf> {
        company::password_file(&self.dir, &self.password)
    }

    pub fn stop(&self) {
        let _ = Command::new(company::repo().join("tests/samba/stop-samba.sh"))
            .env("PATH", company::path_with_sbin())
            .arg(&self.dir)
            .stdout(Stdio::null())
            .status();
    }
}

impl Drop for Samba {
    fn drop(&mut self) {
        self.stop();
    }
}
