//! A test world: a directory subtree with the role OUs and groups, an HR API (wiremock) serving
//! BambooHR-shaped records, a config directory with `hrsync.toml` and mappings, and a way to run
//! the hrsync binary against all of it.

use std::path::PathBuf;
use std::process::Output;

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::TestDirectory;

/// The secrets' environment variables. Each hrsync run is its own process, so the names can be
/// shared between tests.
pub const BIND_PASSWORD_ENV: &str = "HRSYNC_IT_BIND_PASSWORD";
pub const HR_TOKEN_ENV: &str = "HRSYNC_IT_HR_TOKEN";
pub const HR_TOKEN: &str = "hr-token-7f3a9c1e5b2d4f60";
pub const HR_PATH: &str = "/api/gateway.php/acme/v1/reports/employees";

/// The HR side and the hrsync side of a test: the HR mock, a config directory, and running the
/// binary. Shared by the OpenLDAP [`Scenario`] and the Active Directory scenario.
pub struct Runner {
    pub hr: MockServer,
    pub work: tempfile::TempDir,
    pub config: PathBuf,
    bind_password: String,
}

pub struct Scenario {
    pub dir: TestDirectory,
    run: Runner,
    /// On a 389 Directory Server (`directory.flavour = "389ds"`) rather than slapd.
    ds389: bool,
}

impl std::ops::Deref for Scenario {
    type Target = Runner;
    fn deref(&self) -> &Runner {
        &self.run
    }
}

/// A BambooHR custom-report record (the fields of `hr-apis.md`), active unless changed.
pub fn person(id: &str, first: &str, last: &str, department: &str, title: &str) -> Value {
    json!({
        "id": id,
        "employeeNumber": id,
        "firstName": first,
        "lastName": last,
        // mail is an IA5 (ASCII) string in the directory schema: keep the address ASCII even
        // when the name is not.
        "workEmail": format!(
            "{}.{id}@example.org",
            first
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_lowercase()
        ),
        "jobTitle": title,
        "department": department,
        "location": "London",
        "employmentHistoryStatus": "Full-Time",
        "status": "Active",
        "supervisorEId": null,
        "hireDate": "2020-01-06",
        "terminationDate": "0000-00-00"
    })
}

pub fn terminated(mut record: Value) -> Value {
    record["status"] = json!("Inactive");
    record["employmentHistoryStatus"] = json!("Terminated");
    record["terminationDate"] = json!("2026-10-30");
    record
}

impl Scenario {
    pub async fn start(name: &str) -> Scenario {
        let name = name.to_string();
        let dir = tokio::task::spawn_blocking(move || TestDirectory::start(&name))
            .await
            .expect("directory start panicked");
        Scenario::with_directory(dir).await
    }

    /// Like [`Scenario::start`], always on a slapd of the test's own (never an external
    /// server), for tests that stop, restart or reconfigure the server.
    pub async fn start_own(name: &str) -> Scenario {
        let name = name.to_string();
        let dir = tokio::task::spawn_blocking(move || TestDirectory::start_own(&name))
            .await
            .expect("directory start panicked");
        Scenario::with_directory(dir).await
    }

    /// Like [`Scenario::start`], on the test binary's 389 Directory Server with these plugins
    /// (tests/support/ds389.rs): the config says `flavour = "389ds"` and StartTLS, and the
    /// mappings have no empty-group placeholder (389 allows empty groups).
    pub async fn start_389(name: &str, plugins: crate::support::ds389::Plugins) -> Scenario {
        let name = name.to_string();
        let dir =
            tokio::task::spawn_blocking(move || crate::support::ds389::directory(&name, plugins))
                .await
                .expect("389-DS start panicked");
        let run = Runner::start(&dir.admin_password).await;
        Scenario::with_parts(dir, run, true)
    }

    async fn with_directory(dir: TestDirectory) -> Scenario {
        let run = Runner::start(&dir.admin_password).await;
        Scenario::with_parts(dir, run, false)
    }

    fn with_parts(dir: TestDirectory, run: Runner, ds389: bool) -> Scenario {
        let scenario = Scenario { dir, run, ds389 };
        scenario.seed_directory();
        scenario.write_mappings();
        scenario.write_config("");
        scenario
    }

    pub fn base(&self) -> &str {
        &self.dir.base_dn
    }

    pub fn ou(&self, name: &str) -> String {
        format!("ou={name},{}", self.dir.people_dn)
    }

    pub fn group(&self, cn: &str) -> String {
        format!("cn={cn},{}", self.dir.groups_dn)
    }

    /// Puts `member` into the scenario's group `cn`, as an admin would by hand.
    pub fn add_member(&self, cn: &str, member: &str) {
        let out = self.dir.ldapmodify(&format!(
            "dn: {}\nchangetype: modify\nadd: member\nmember: {member}\n",
            self.group(cn)
        ));
        assert!(out.status.success(), "cannot add {member} to {cn}: {out:?}");
    }

    /// A member that is not an account, so that no group ever becomes empty unless a test
    /// wants it to.
    pub fn seed_member(&self) -> String {
        format!("cn=seed,{}", self.base())
    }

    fn seed_directory(&self) {
        let mut ldif = String::new();
        for ou in ["engineering", "sales"] {
            ldif.push_str(&format!(
                "dn: {}\nobjectClass: organizationalUnit\nou: {ou}\n\n",
                self.ou(ou)
            ));
        }
        self.dir.ldapadd(&ldif);
        for cn in ["staff", "engineering", "sales", "vpn"] {
            self.dir.add_group(cn, &[&self.seed_member()]);
        }
    }

    fn write_mappings(&self) {
        let dir = self.work.path().join("mappings");
        std::fs::create_dir_all(&dir).expect("mappings dir");
        let account = format!(
            r#"
[account]
default_ou = "{people}"
disabled_ou = "{disabled}"
[account.attributes]
uid = "{{first_name|ascii|lower|alnum}}.{{last_name|ascii|lower|alnum}}"
cn = "{{first_name}} {{last_name}}"
sn = "{{last_name}}"
givenName = "{{first_name}}"
mail = "{{email}}"
title = "{{title}}"
departmentNumber = "{{department}}"
employeeType = "{{employment_type}}"
manager = "{{manager_dn}}"
"#,
            people = self.dir.people_dn,
            disabled = self.dir.disabled_dn,
        );
        let groups = format!(
            r#"
[groups]
base = "{groups}"
birthright = ["staff"]
{placeholder}

[[rule]]
name = "engineering"
match = {{ department = "Engineering" }}
groups = ["engineering", "vpn"]
ou = "{eng}"

[[rule]]
name = "sales"
match = {{ department = "Sales" }}
groups = ["sales"]
ou = "{sales}"
"#,
            groups = self.dir.groups_dn,
            placeholder = if self.ds389 {
                String::new()
            } else {
                format!(
                    "empty_group_placeholder = \"cn=empty-group-placeholder,{}\"",
                    self.base()
                )
            },
            eng = self.ou("engineering"),
            sales = self.ou("sales"),
        );
        std::fs::write(dir.join("account.toml"), account).expect("write mappings");
        std::fs::write(dir.join("groups.toml"), groups).expect("write mappings");
    }

    /// Writes hrsync.toml; `directory_extra` is appended to the [directory] table (for TLS
    /// settings, say) and may override the URL.
    pub fn write_config(&self, directory_extra: &str) {
        self.write_config_with(directory_extra, "");
    }

    /// Like [`Scenario::write_config`], with `hr_tables` appended at the end (for example an
    /// `[hr.rest.pagination]` table).
    pub fn write_config_with(&self, directory_extra: &str, hr_tables: &str) {
        let url_line = if directory_extra.contains("url =") {
            String::new()
        } else {
            format!("url = \"{}\"\n", self.dir.url)
        };
        let flavour = if self.ds389 {
            let ca = self.dir.ca_file.as_ref().expect("389-DS has our CA");
            format!(
                "flavour = \"389ds\"\nstarttls = true\nca_file = \"{}\"\n",
                ca.display()
            )
        } else {
            String::new()
        };
        let flavour_table = if self.ds389 {
            String::new()
        } else {
            format!(
                "[directory.openldap]\npassword_policy = \"cn=default,ou=policies,{}\"\n",
                self.dir.server_base_dn
            )
        };
        let text = format!(
            r#"
[directory]
{flavour}{url_line}bind_dn = "{admin}"
bind_password = {{ env = "{BIND_PASSWORD_ENV}" }}
users_base = "{base}"
{directory_extra}

{flavour_table}

{hr}
{hr_tables}
"#,
            admin = self.dir.admin_dn,
            base = self.base(),
            hr = self.hr_config(),
        );
        std::fs::write(&self.config, text).expect("write config");
    }

    /// Every entry under the test's subtree, as (dn, sorted attribute lines), for "nothing else
    /// changed" comparisons.
    pub fn dump(&self) -> Vec<(String, Vec<String>)> {
        let mut entries: Vec<(String, Vec<String>)> = self
            .dir
            .search(
                self.base(),
                "(objectClass=*)",
                &[
                    "*",
                    if self.ds389 {
                        "nsAccountLock"
                    } else {
                        "pwdAccountLockedTime"
                    },
                ],
            )
            .into_iter()
            .map(|e| {
                let mut lines: Vec<String> = e
                    .attrs
                    .iter()
                    .flat_map(|(k, vs)| vs.iter().map(move |v| format!("{k}: {v}")))
                    .collect();
                lines.sort();
                (e.dn.to_lowercase(), lines)
            })
            .collect();
        entries.sort();
        entries
    }
}

impl Runner {
    /// The `[hr]` tables: the mock's BambooHR-shaped report with a bearer token.
    pub fn hr_config(&self) -> String {
        format!(
            r#"[hr]
source = "rest"

[hr.rest]
url = "{hr}{HR_PATH}"
records = "/employees"

[hr.rest.auth]
type = "bearer"
token = {{ env = "{HR_TOKEN_ENV}" }}

[hr.fields]
id = "$.id"
first_name = "$.firstName"
last_name = "$.lastName"
email = "$.workEmail"
title = "$.jobTitle"
department = "$.department"
location = "$.location"
employment_type = "$.employmentHistoryStatus"
manager_id = "$.supervisorEId"
hire_date = "$.hireDate"
termination_date = "$.terminationDate"

[hr.status]
path = "$.status"
active = ["Active"]
terminated = ["Inactive"]
"#,
            hr = self.hr.uri()
        )
    }

    pub async fn start(bind_password: &str) -> Runner {
        let hr = MockServer::start().await;
        let work = tempfile::tempdir().expect("temp dir");
        let config = work.path().join("hrsync.toml");
        Runner {
            hr,
            work,
            config,
            bind_password: bind_password.to_string(),
        }
    }

    /// Serves these records (replacing whatever was served before), BambooHR report shape.
    pub async fn serve(&self, employees: &[Value]) {
        self.hr.reset().await;
        Mock::given(method("GET"))
            .and(path(HR_PATH))
            .and(header(
                "authorization",
                format!("Bearer {HR_TOKEN}").as_str(),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "fields": [
                    {"id": "firstName", "type": "text", "name": "First name"},
                    {"id": "status", "type": "status", "name": "Status"}
                ],
                "employees": employees,
            })))
            .mount(&self.hr)
            .await;
    }

    /// Runs hrsync with the scenario's config and secrets.
    pub fn hrsync(&self, args: &[&str]) -> Output {
        self.hrsync_with_env(args, &[])
    }

    pub fn hrsync_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = self.command(args);
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().expect("run hrsync")
    }

    /// The hrsync command with the scenario's config and secrets, not started (for a process
    /// that stays up, like `hrsync run`).
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_hrsync"));
        command
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env(BIND_PASSWORD_ENV, &self.bind_password)
            .env(HR_TOKEN_ENV, HR_TOKEN)
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null());
        command
    }

    /// Runs hrsync and insists on an exit code, showing the output when it differs.
    pub fn expect(&self, args: &[&str], code: i32) -> String {
        let output = self.hrsync(args);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert_eq!(
            output.status.code(),
            Some(code),
            "hrsync {args:?} exited {:?}, expected {code}\nstdout:\n{stdout}\nstderr:\n{}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// `hrsync plan --detailed-exitcode` must find nothing to do.
    pub fn assert_converged(&self) {
        let out = self.expect(&["plan", "--detailed-exitcode"], 0);
        assert!(out.contains("No changes"), "{out}");
    }
}
