//! The company the benchmarks run against, on loopback only: N employees in 200 roles, the
//! slapd loaded with their accounts and role groups (tests/slapd/start-slapd.sh), the HR API
//! serving them BambooHR-shaped, and hrsync's configuration for both. Shared by `scale` (the
//! scheduled run) and `events` (a leaver locked after a webhook).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, RwLock};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const PAGE: usize = 1_000;
pub const ROLES: usize = 200;
pub const SUFFIX: &str = "dc=example,dc=org";
pub const PEOPLE: &str = "ou=people,dc=example,dc=org";
pub const DISABLED: &str = "ou=disabled,dc=example,dc=org";
pub const GROUPS: &str = "ou=groups,dc=example,dc=org";
pub const PASSWORD_ENV: &str = "HRSYNC_BENCH_BIND_PASSWORD";
pub const TERMINATED_ON: &str = "2024-01-31";

pub type Result<T> = std::result::Result<T, String>;

// --- the company --------------------------------------------------------------------------

/// Employee `i` (0-based): id, names, role before and after, and whether they leave.
pub struct Person {
    pub id: String,
    pub first: String,
    pub last: String,
    pub role: usize,
    pub new_role: usize,
    pub leaves: bool,
}

pub fn person(i: usize) -> Person {
    let role = i % ROLES;
    // One in ten moves to another role, one in a hundred leaves (never both): exactly N/10 and
    // N/100 for N a multiple of 200, spread so that no group loses more than 11 of its members.
    let k = (i / ROLES * 37 + i) % 100;
    let moves = k < 10;
    Person {
        id: format!("{:07}", i + 1),
        first: format!("F{i}"),
        last: format!("L{i}"),
        role,
        new_role: if moves { (role + 7) % ROLES } else { role },
        leaves: k == 10,
    }
}

impl Person {
    pub fn uid(&self) -> String {
        format!("{}.{}", self.first, self.last).to_lowercase()
    }
    pub fn dn(&self) -> String {
        format!("uid={},{PEOPLE}", self.uid())
    }
    pub fn mail(&self) -> String {
        format!("{}@example.org", self.uid())
    }
}

pub fn title(role: usize) -> String {
    format!("Role {role:03}")
}

pub fn group_dn(role: usize) -> String {
    format!("cn=role-{role:03},{GROUPS}")
}

/// The directory before any change: every account active in its role's group, with
/// `password` as every account's userPassword when given (to try a person's bind).
pub fn write_seed(path: &Path, n: usize, password: Option<&str>) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = BufWriter::new(file);
    let mut members: Vec<Vec<String>> = vec![Vec::new(); ROLES];
    let io = |e: std::io::Error| e.to_string();
    for i in 0..n {
        let p = person(i);
        writeln!(
            out,
            "dn: {}\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\n\
             objectClass: inetOrgPerson\nuid: {}\ncn: {} {}\nsn: {}\ngivenName: {}\nmail: {}\n\
             title: {}\nemployeeNumber: {}",
            p.dn(),
            p.uid(),
            p.first,
            p.last,
            p.last,
            p.first,
            p.mail(),
            title(p.role),
            p.id
        )
        .map_err(io)?;
        if let Some(password) = password {
            writeln!(out, "userPassword: {password}\n").map_err(io)?;
        } else {
            writeln!(out).map_err(io)?;
        }
        members[p.role].push(p.dn());
    }
    for (role, members) in members.iter().enumerate() {
        writeln!(
            out,
            "dn: {}\nobjectClass: groupOfNames\ncn: role-{role:03}",
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

// --- the HR API ---------------------------------------------------------------------------

/// Employee `p`'s BambooHR-shaped record in `role`, with HR's `status` and termination date
/// (`0000-00-00`: none, as BambooHR writes it).
pub fn record(p: &Person, role: usize, status: &str, termination: &str) -> serde_json::Value {
    serde_json::json!({
        "id": p.id,
        "firstName": p.first,
        "lastName": p.last,
        "workEmail": p.mail(),
        "jobTitle": title(role),
        "department": format!("Department {:02}", role % 20),
        "location": "London",
        "status": status,
        "hireDate": "2020-01-06",
        "terminationDate": termination,
    })
}

/// What the HR API serves: the list's pages, and single employees by id (`/employees/{id}`;
/// 404 for an id it has none for).
#[derive(Default)]
pub struct HrApi {
    pub pages: RwLock<Arc<Vec<Vec<u8>>>>,
    pub total: RwLock<usize>,
    pub singles: RwLock<std::collections::BTreeMap<String, Arc<Vec<u8>>>>,
}

impl HrApi {
    pub fn set(&self, pages: Vec<Vec<u8>>, total: usize) {
        if let Ok(mut p) = self.pages.write() {
            *p = Arc::new(pages);
        }
        if let Ok(mut t) = self.total.write() {
            *t = total;
        }
    }

    /// Serves `record` as employee `id`'s single read.
    pub fn set_one(&self, id: &str, record: &serde_json::Value) {
        if let Ok(mut singles) = self.singles.write() {
            singles.insert(
                id.to_string(),
                Arc::new(serde_json::to_vec(record).unwrap_or_default()),
            );
        }
    }
}

pub async fn serve(listener: tokio::net::TcpListener, hr: Arc<HrApi>) {
    while let Ok((socket, _)) = listener.accept().await {
        let _ = socket.set_nodelay(true);
        tokio::spawn(connection(socket, hr.clone()));
    }
}

/// HTTP/1.1 with keep-alive, GET only: `/employees?offset=K` gives the page holding record K
/// (past the end, an empty page); `/employees/{id}` the employee alone, or 404.
async fn connection(mut socket: tokio::net::TcpStream, hr: Arc<HrApi>) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => buffer.extend_from_slice(&chunk[..read]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
        buffer.drain(..end);
        let target = head.split_whitespace().nth(1).unwrap_or("/");
        let offset: usize = target
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or("")
            .split('&')
            .find_map(|kv| kv.strip_prefix("offset="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let path = target.split('?').next().unwrap_or("");
        let (status, body) = match path.strip_prefix("/employees/") {
            Some(id) => match hr.singles.read().ok().and_then(|s| s.get(id).cloned()) {
                Some(body) => ("200 OK", body.to_vec()),
                None => ("404 Not Found", b"{}".to_vec()),
            },
            None => {
                let pages = hr.pages.read().map(|p| p.clone()).unwrap_or_default();
                let total = hr.total.read().map(|t| *t).unwrap_or(0);
                match pages.get(offset / PAGE) {
                    Some(page) if offset % PAGE == 0 => ("200 OK", page.clone()),
                    _ => (
                        "200 OK",
                        format!("{{\"total\":{total},\"employees\":[]}}").into_bytes(),
                    ),
                }
            }
        };
        let body = body.as_slice();
        let header = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if socket.write_all(header.as_bytes()).await.is_err()
            || socket.write_all(body).await.is_err()
        {
            return;
        }
    }
}

// --- slapd --------------------------------------------------------------------------------

pub struct Slapd {
    pub dir: PathBuf,
    pub url: String,
    pub password: String,
}

impl Slapd {
    pub fn start(dir: &Path, seed: &Path) -> Result<Slapd> {
        let seed = seed.display().to_string();
        let value = start_server(
            "tests/slapd/start-slapd.sh",
            dir,
            &[("SLAPD_LOGLEVEL", "none"), ("SEED_LDIF", &seed)],
        )?;
        Ok(Slapd {
            dir: dir.to_path_buf(),
            url: value("LDAP_URL")?,
            password: value("ADMIN_PASSWORD")?,
        })
    }

    pub fn password_file(&self) -> Result<PathBuf> {
        password_file(&self.dir, &self.password)
    }

    pub fn stop(&self) {
        let _ = Command::new(repo().join("tests/slapd/stop-slapd.sh"))
            .arg(&self.dir)
            .status();
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `password` in `dir/bind-password` (mode 0600), for the LDAP tools' `-y`.
pub fn password_file(dir: &Path, password: &str) -> Result<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join("bind-password");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| e.to_string())?;
    file.write_all(password.as_bytes())
        .map_err(|e| e.to_string())?;
    Ok(path)
}

/// Runs one of the tests' start scripts (`script`, from the repository root) on `dir` with
/// `env`, watched by this process, and returns what it printed, by key.
pub fn start_server(
    script: &str,
    dir: &Path,
    env: &[(&str, &str)],
) -> Result<impl Fn(&str) -> Result<String> + use<>> {
    let path = repo().join(script);
    let out = Command::new(&path)
        .arg(dir)
        .envs(env.iter().copied())
        .env("PATH", path_with_sbin())
        .env("WATCH_PID", std::process::id().to_string())
        .env("START_TIMEOUT", "60")
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if !out.status.success() {
        return Err(format!("{script} failed: {}", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let script = script.to_string();
    Ok(move |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}='")))
            .and_then(|v| v.strip_suffix('\''))
            .map(str::to_string)
            .ok_or_else(|| format!("{script} did not print {key}"))
    })
}

/// `PATH` with the sbin directories the servers' tools live in (not on every user's PATH).
pub fn path_with_sbin() -> String {
    format!(
        "{}:/usr/sbin:/sbin",
        std::env::var("PATH").unwrap_or_default()
    )
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// --- hrsync -------------------------------------------------------------------------------

/// hrsync's configuration for the slapd of [`Slapd::start`].
pub fn write_config(dir: &Path, ldap_url: &str, hr_port: u16) -> Result<PathBuf> {
    write_config_with(
        dir,
        hr_port,
        &openldap_mappings(),
        &format!(
            r#"[directory]
flavour = "openldap"
url = "{ldap_url}"
bind_dn = "cn=admin,{SUFFIX}"
bind_password = {{ env = "{PASSWORD_ENV}" }}
users_base = "{SUFFIX}"
page_size = {PAGE}

[directory.openldap]
disable_method = "ppolicy_lock"
password_policy = "cn=default,ou=policies,{SUFFIX}"
"#
        ),
    )
}

/// The mappings (without the role rules) for an OpenLDAP-like directory: inetOrgPerson
/// accounts named by uid, groupOfNames groups; with the empty-group placeholder slapd's
/// groupOfNames needs when `placeholder`.
pub fn ldap_mappings(placeholder: bool) -> String {
    let placeholder = if placeholder {
        format!("empty_group_placeholder = \"cn=empty-group-placeholder,{SUFFIX}\"\n")
    } else {
        String::new()
    };
    format!(
        r#"[correlation]
attribute = "employeeNumber"

[account]
rdn_attribute = "uid"
object_classes = ["top", "person", "organizationalPerson", "inetOrgPerson"]
default_ou = "{PEOPLE}"
disabled_ou = "{DISABLED}"

[account.attributes]
uid = "{{first_name|lower}}.{{last_name|lower}}"
cn = "{{first_name}} {{last_name}}"
sn = "{{last_name}}"
givenName = "{{first_name}}"
mail = "{{email}}"
title = "{{title}}"

[groups]
base = "{GROUPS}"
{placeholder}member_attribute = "member"
"#
    )
}

fn openldap_mappings() -> String {
    ldap_mappings(true)
}

/// hrsync's configuration: `mappings` (everything but the role rules, which are added here),
/// `directory` (the `[directory]` tables), and the HR API on `hr_port`.
pub fn write_config_with(
    dir: &Path,
    hr_port: u16,
    mappings_head: &str,
    directory: &str,
) -> Result<PathBuf> {
    let mappings = dir.join("mappings");
    std::fs::create_dir_all(&mappings).map_err(|e| e.to_string())?;
    let mut rules = String::new();
    for role in 0..ROLES {
        rules.push_str(&format!(
            "[[rule]]\nname = \"role-{role:03}\"\nmatch = {{ title = \"{}\" }}\ngroups = [\"role-{role:03}\"]\n\n",
            title(role)
        ));
    }
    let text = format!("{mappings_head}\n{rules}");
    std::fs::write(mappings.join("mappings.toml"), text).map_err(|e| e.to_string())?;
    let config = dir.join("hrsync.toml");
    let big = "{ count = 10000000, percent = 100 }";
    std::fs::write(
        &config,
        format!(
            r#"mappings = "mappings"

{directory}
[hr]
source = "rest"

[hr.rest]
url = "http://127.0.0.1:{hr_port}/employees"
records = "/employees"

[hr.rest.pagination]
type = "offset"
limit = {PAGE}
total_ptr = "/total"

[hr.fields]
id = "$.id"
first_name = "$.firstName"
last_name = "$.lastName"
email = "$.workEmail"
title = "$.jobTitle"
department = "$.department"
location = "$.location"
hire_date = "$.hireDate"
termination_date = "$.terminationDate"

[hr.status]
path = "$.status"
active = ["Active"]
terminated = ["Inactive"]

[limits]
disable = {big}
group_removal = {big}
move = {big}
update = {big}
"#
        ),
    )
    .map_err(|e| e.to_string())?;
    Ok(config)
}
