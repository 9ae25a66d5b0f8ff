//! A real SCIM 2.0 service provider for the tests: `scim2-server` from PyPI, an RFC 7643/7644
//! server that keeps its resources in memory (installed by `tests/scim/install-deps.sh`).
//!
//! [`ScimServer::start`] runs one per test on a free loopback port, with its own bearer token,
//! and waits until it answers; it is stopped on drop, and also when the test process dies (a
//! watcher process stops it then). Users are created, replaced and deleted through the server's
//! own SCIM API, as an identity provider would, never through hrsync.
//!
//! Everything here panics on failure with the server's log: a failed setup step must stop the
//! test loudly, never let it pass vacuously.

// Each test binary uses a different subset of the helpers.
#![allow(dead_code)]
// Panicking with a clear message is this module's error handling (see above).
#![allow(clippy::panic)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// The SCIM media type (RFC 7644 section 3.1).
const SCIM_JSON: &str = "application/scim+json";

/// Attempts at starting the server: a free port found by binding can be taken by someone else
/// before the server binds it.
const START_ATTEMPTS: usize = 3;

/// How long the server may take to answer after it was started (Python imports included).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// One running `scim2-server`.
pub struct ScimServer {
    server: Child,
    watcher: Option<Child>,
    /// The SCIM root, `http://127.0.0.1:PORT/v2`: `[hr] base_url` of the SCIM preset.
    pub base_url: String,
    /// The bearer token the server accepts.
    pub token: String,
    client: reqwest::Client,
    /// The server's log (stdout and stderr), printed when a test fails.
    log: PathBuf,
    _dir: TempDir,
}

impl ScimServer {
    /// Starts a server on a free loopback port and waits until it answers an authenticated
    /// request.
    pub async fn start() -> ScimServer {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client");
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix("hrsync-scim-")
                .tempdir()
                .expect("a temp dir for scim2-server");
            let port = free_port();
            let token = format!("scim-test-token-{}-{port}", std::process::id());
            let log = dir.path().join("scim2-server.log");
            let server = spawn(port, &token, &log);
            let watcher = watch(server.id());
            // In the struct at once: its drop stops the server whatever happens next.
            let mut started = ScimServer {
                server,
                watcher,
                base_url: format!("http://127.0.0.1:{port}/v2"),
                token,
                client: client.clone(),
                log,
                _dir: dir,
            };
            match started.wait_until_ready().await {
                Ok(()) => return started,
                Err(why) => {
                    failures.push(format!("{why}\n{}", started.log_text()));
                    started.stop();
                }
            }
        }
        panic!(
            "could not start scim2-server ({START_ATTEMPTS} attempts; is it installed? \
             tests/scim/install-deps.sh installs it):\n{}",
            failures.join("\n---\n")
        );
    }

    /// Polls the server until it answers `GET /v2/ServiceProviderConfig` with the token, or
    /// gives up when it exits or [`START_TIMEOUT`] passes.
    async fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.server.try_wait() {
                return Err(format!("scim2-server exited with {status}"));
            }
            let answer = self
                .client
                .get(format!("{}/ServiceProviderConfig", self.base_url))
                .bearer_auth(&self.token)
                .send()
                .await;
            match answer {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) if Instant::now() > deadline => {
                    return Err(format!(
                        "scim2-server answered {} to GET /v2/ServiceProviderConfig",
                        response.status()
                    ));
                }
                Err(e) if Instant::now() > deadline => {
                    return Err(format!("scim2-server did not answer: {e}"));
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// `POST /v2/Users` with `user` (a SCIM User resource); returns the created resource, with
    /// the `id` the server gave it.
    pub async fn create_user(&self, user: &Value) -> Value {
        let response = self
            .client
            .post(format!("{}/Users", self.base_url))
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, SCIM_JSON)
            .body(user.to_string())
            .send()
            .await
            .expect("POST /v2/Users reached scim2-server");
        self.expect_json(response, reqwest::StatusCode::CREATED, "POST /v2/Users")
            .await
    }

    /// `PUT /v2/Users/{id}` with `user`: replaces the resource (how an identity provider marks a
    /// user inactive); returns the resource as the server keeps it.
    pub async fn replace_user(&self, id: &str, user: &Value) -> Value {
        let response = self
            .client
            .put(format!("{}/Users/{id}", self.base_url))
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, SCIM_JSON)
            .body(user.to_string())
            .send()
            .await
            .expect("PUT /v2/Users/{id} reached scim2-server");
        self.expect_json(response, reqwest::StatusCode::OK, "PUT /v2/Users/{id}")
            .await
    }

    /// `DELETE /v2/Users/{id}` (204).
    pub async fn delete_user(&self, id: &str) {
        let response = self
            .client
            .delete(format!("{}/Users/{id}", self.base_url))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("DELETE /v2/Users/{id} reached scim2-server");
        let status = response.status();
        assert_eq!(
            status,
            reqwest::StatusCode::NO_CONTENT,
            "DELETE /v2/Users/{id}: {}\n{}",
            response.text().await.unwrap_or_default(),
            self.log_text()
        );
    }

    /// `GET /v2/{path}` (a query string included), as JSON, whatever the status.
    pub async fn get(&self, path: &str) -> (reqwest::StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}/{path}", self.base_url))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("GET reached scim2-server");
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    async fn expect_json(
        &self,
        response: reqwest::Response,
        expected: reqwest::StatusCode,
        what: &str,
    ) -> Value {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(status, expected, "{what}: {text}\n{}", self.log_text());
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"))
    }

    /// The server's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        if let Some(watcher) = &mut self.watcher {
            let _ = watcher.kill();
            let _ = watcher.wait();
        }
    }
}

impl Drop for ScimServer {
    fn drop(&mut self) {
        // Never panic here: a panic while a failed test unwinds aborts the whole test binary.
        if std::thread::panicking() {
            eprintln!("--- scim2-server log ---\n{}", self.log_text());
        }
        self.stop();
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// The `scim2-server` of the environment `tests/scim/install-deps.sh` makes
/// (`HRSYNC_SCIM_VENV`, default `${XDG_CACHE_HOME:-$HOME/.cache}/hrsync/scim2-server`), or else
/// the one on PATH.
fn program() -> PathBuf {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let venv = non_empty("HRSYNC_SCIM_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            non_empty("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| non_empty("HOME").map(|home| PathBuf::from(home).join(".cache")))
                .map(|cache| cache.join("hrsync").join("scim2-server"))
        });
    venv.map(|venv| venv.join("bin").join("scim2-server"))
        .filter(|program| program.is_file())
        .unwrap_or_else(|| PathBuf::from("scim2-server"))
}

/// `scim2-server --hostname 127.0.0.1 --port PORT --bearer-token TOKEN`, its output to `log`.
fn spawn(port: u16, token: &str, log: &std::path::Path) -> Child {
    let output = std::fs::File::create(log).expect("create the scim2-server log");
    let errors = output.try_clone().expect("clone the log handle");
    Command::new(program())
        .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
        .args(["--bearer-token", token])
        .stdin(Stdio::null())
        .stdout(output)
        .stderr(errors)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run scim2-server ({e}); tests/scim/install-deps.sh installs it \
                 (python3 -m pip install scim2-server)"
            )
        })
}

/// A watcher that stops the server `server` once this test process is gone (even after a
/// SIGKILL, when no drop runs), and exits by itself once the server is gone.
fn watch(server: u32) -> Option<Child> {
    Command::new("bash")
        .arg("-c")
        .arg(
            "while kill -0 \"$1\" 2>/dev/null && kill -0 \"$2\" 2>/dev/null; do sleep 0.5; done; \
             kill \"$2\" 2>/dev/null; exit 0",
        )
        .arg("scim-watch")
        .arg(std::process::id().to_string())
        .arg(server.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}
