//! deploy/: every manifest parses and has the properties the docs promise (docs/src/running.md:
//! no overlapping runs, exit codes 2 and 4 fail the Job at once, read-only and non-root
//! everywhere, secrets as files), and the configuration each one mounts passes `hrsync validate` exactly as it is
//! mounted. The compose trial's directory (its own slapd set-up) is started for real, without a
//! container engine, and hrsync applies the trial's HR file to it through the trial's config.
//!
//! The container image itself cannot be built here (no container engine in CI); the Dockerfile
//! is checked for its structure only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_norway::Value;
use tempfile::TempDir;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn deploy(path: &str) -> PathBuf {
    repo().join("deploy").join(path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| unreachable!("{}: {e}", path.display()))
}

/// Every YAML document in a file.
fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = read(path);
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| {
            serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| unreachable!("{} does not parse: {e}", path.display()))
        })
        .collect()
}

fn yaml(path: &Path) -> Value {
    let mut docs = yaml_documents(path);
    assert_eq!(docs.len(), 1, "{}: one document", path.display());
    docs.remove(0)
}

/// `value.a.b.c` for "a.b.c"; numbers index sequences.
fn at<'a>(value: &'a Value, path: &str) -> &'a Value {
    let mut current = value;
    for key in path.split('.') {
        current = match key.parse::<usize>() {
            Ok(i) => current.get(i),
            Err(_) => current.get(key),
        }
        .unwrap_or_else(|| unreachable!("no {path} (at {key}) in {value:?}"));
    }
    current
}

fn text_at<'a>(value: &'a Value, path: &str) -> &'a str {
    at(value, path)
        .as_str()
        .unwrap_or_else(|| unreachable!("{path} is not a string"))
}

fn seq<'a>(value: &'a Value, path: &str) -> &'a Vec<Value> {
    at(value, path)
        .as_sequence()
        .unwrap_or_else(|| unreachable!("{path} is not a list"))
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Runs the built hrsync with exactly this environment (plus PATH), no inherited HRSYNC_*.
fn hrsync(args: &[&str], env: &[(String, String)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hrsync"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run hrsync")
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `hrsync validate` passes, with no warning about the environment.
fn assert_validates(config: &Path, env: &[(String, String)]) -> String {
    let out = hrsync(
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "--log-format",
            "text",
            "validate",
        ],
        env,
    );
    assert!(out.status.success(), "{}: {}", config.display(), show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("WARN"),
        "validate warned about {}: {stderr}",
        config.display()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// --- every manifest ---------------------------------------------------------------------------

/// The example configurations of the other directories validate as they are, each with its
/// flavour's own mappings: the 389-DS one without an empty-group placeholder (389 allows empty
/// groups) and with the rename rule set, so validate has nothing to warn about.
#[test]
fn the_active_directory_and_389_examples_validate_with_their_own_mappings() {
    let out = assert_validates(&deploy("active-directory/hrsync.toml"), &[]);
    assert!(
        out.contains("configuration and mappings are valid"),
        "{out}"
    );
    let out = assert_validates(&deploy("389ds/hrsync.toml"), &[]);
    assert!(
        out.contains("configuration and mappings are valid"),
        "{out}"
    );
    assert!(!out.contains("warning:"), "{out}");
    let config = read(&deploy("389ds/hrsync.toml"));
    assert!(config.contains("flavour = \"389ds\""));
    assert!(config.contains("mappings = \"../../mappings/389ds\""));
    let groups = read(&repo().join("mappings/389ds/groups.toml"));
    assert!(
        !groups
            .lines()
            .any(|l| l.trim_start().starts_with("empty_group_placeholder")),
        "389 needs no placeholder"
    );
}

#[test]
fn every_yaml_file_under_deploy_parses() {
    let mut files = Vec::new();
    all_files(&deploy(""), &mut files);
    let yaml_files: Vec<&PathBuf> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    assert!(yaml_files.len() >= 6, "{yaml_files:?}");
    for path in yaml_files {
        let docs = yaml_documents(path);
        assert!(!docs.is_empty(), "{}: empty", path.display());
        for doc in docs {
            assert!(doc.is_mapping(), "{}: not a mapping", path.display());
        }
    }
}

// --- Kubernetes -------------------------------------------------------------------------------

struct Kubernetes {
    cronjob: Value,
    configmap: Value,
    secret: Value,
}

fn kubernetes() -> Kubernetes {
    let dir = deploy("kubernetes");
    let kustomization = yaml(&dir.join("kustomization.yaml"));
    let resources: Vec<&str> = seq(&kustomization, "resources")
        .iter()
        .map(|r| r.as_str().expect("resource path"))
        .collect();
    // Every manifest in the directory is tied in, and nothing listed is missing, but for the
    // example Secret: `kubectl apply -k` must never overwrite the real one with placeholders.
    let mut manifests: Vec<String> = std::fs::read_dir(&dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml" && n != "secret.example.yaml")
        .collect();
    manifests.sort();
    let mut listed: Vec<String> = resources.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(listed, manifests, "kustomization.yaml resources");

    let mut by_kind = BTreeMap::new();
    for name in &resources {
        for doc in yaml_documents(&dir.join(name)) {
            let kind = text_at(&doc, "kind").to_string();
            assert!(
                by_kind.insert(kind.clone(), doc).is_none(),
                "one {kind} expected"
            );
        }
    }
    assert!(
        !by_kind.contains_key("Secret"),
        "the kustomization applies no Secret"
    );
    let mut take = |kind: &str| {
        by_kind
            .remove(kind)
            .unwrap_or_else(|| unreachable!("no {kind}"))
    };
    let secret = yaml_documents(&dir.join("secret.example.yaml"))
        .into_iter()
        .next()
        .unwrap_or_else(|| unreachable!("secret.example.yaml is empty"));
    assert_eq!(text_at(&secret, "kind"), "Secret");
    Kubernetes {
        cronjob: take("CronJob"),
        configmap: take("ConfigMap"),
        secret,
    }
}

/// The pods carry Kubernetes' recommended labels, so dashboards and policies can select them.
#[test]
fn the_pods_carry_the_recommended_labels() {
    let k = kubernetes();
    let labels = at(&k.cronjob, "spec.jobTemplate.spec.template.metadata.labels");
    for key in ["name", "instance", "component", "part-of", "managed-by"] {
        let label = format!("app.kubernetes.io/{key}");
        assert!(
            labels
                .get(label.as_str())
                .and_then(Value::as_str)
                .is_some_and(|v| !v.is_empty()),
            "{label} on the pod template: {labels:?}"
        );
    }
    assert_eq!(
        labels.get("app.kubernetes.io/name").and_then(Value::as_str),
        Some("hrsync")
    );
}

fn container(k: &Kubernetes) -> &Value {
    let containers = seq(&k.cronjob, "spec.jobTemplate.spec.template.spec.containers");
    assert_eq!(containers.len(), 1);
    &containers[0]
}

/// The container's environment as name/value pairs (only literal values).
fn container_env(k: &Kubernetes) -> Vec<(String, String)> {
    let c = container(k);
    c.get("env")
        .and_then(Value::as_sequence)
        .map(|env| {
            env.iter()
                .map(|e| {
                    assert!(
                        e.get("valueFrom").is_none(),
                        "secrets are mounted as files, never put in the environment: {e:?}"
                    );
                    (
                        text_at(e, "name").to_string(),
                        text_at(e, "value").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// mountPath of the volume with this kind (`configMap`, `secret`).
fn mount_of(k: &Kubernetes, kind: &str) -> (String, Value) {
    let pod = at(&k.cronjob, "spec.jobTemplate.spec.template.spec");
    let volume = seq(pod, "volumes")
        .iter()
        .find(|v| v.get(kind).is_some())
        .unwrap_or_else(|| unreachable!("no {kind} volume"))
        .clone();
    let name = text_at(&volume, "name");
    let mount = seq(container(k), "volumeMounts")
        .iter()
        .find(|m| text_at(m, "name") == name)
        .unwrap_or_else(|| unreachable!("volume {name} is not mounted"));
    assert_eq!(
        at(mount, "readOnly").as_bool(),
        Some(true),
        "{name} mounted read-only"
    );
    (text_at(mount, "mountPath").to_string(), volume)
}

#[test]
fn the_cronjob_never_overlaps_and_fails_at_once_on_exit_codes_2_4_and_64() {
    let k = kubernetes();
    let spec = at(&k.cronjob, "spec");
    assert_eq!(text_at(spec, "concurrencyPolicy"), "Forbid");
    assert!(text_at(spec, "timeZone").contains('/'), "an IANA zone");
    assert_eq!(text_at(spec, "schedule").split_whitespace().count(), 5);
    assert!(at(spec, "startingDeadlineSeconds").as_u64().is_some());
    let job = at(spec, "jobTemplate.spec");
    assert!(
        at(job, "activeDeadlineSeconds")
            .as_u64()
            .is_some_and(|s| s > 0)
    );
    assert!(at(job, "backoffLimit").as_u64().is_some());
    assert_eq!(
        text_at(job, "template.spec.restartPolicy"),
        "Never",
        "podFailurePolicy requires restartPolicy Never"
    );

    let mut actions: BTreeMap<u64, String> = BTreeMap::new();
    for rule in seq(job, "podFailurePolicy.rules") {
        let Some(on) = rule.get("onExitCodes") else {
            continue;
        };
        assert_eq!(text_at(on, "operator"), "In");
        assert_eq!(text_at(on, "containerName"), text_at(container(&k), "name"));
        for code in seq(on, "values") {
            let code = code.as_u64().expect("exit code");
            assert!(
                actions
                    .insert(code, text_at(rule, "action").to_string())
                    .is_none(),
                "exit code {code} in two rules"
            );
        }
    }
    // 2 (changes pending) and 4 (a safety limit tripped) give the same answer on every retry.
    assert_eq!(actions.get(&2).map(String::as_str), Some("FailJob"));
    assert_eq!(actions.get(&4).map(String::as_str), Some("FailJob"));
    // 64 (a usage error: the manifest's arguments are wrong) fails the same way every time.
    assert_eq!(actions.get(&64).map(String::as_str), Some("FailJob"));
    // 1 (could not run) and 3 (some changes failed) may succeed on a retry.
    for code in [1, 3] {
        assert_ne!(actions.get(&code).map(String::as_str), Some("FailJob"));
    }
}

#[test]
fn the_pod_is_non_root_read_only_and_without_capabilities() {
    let k = kubernetes();
    let pod = at(&k.cronjob, "spec.jobTemplate.spec.template.spec");
    let pod_security = at(pod, "securityContext");
    assert_eq!(at(pod_security, "runAsNonRoot").as_bool(), Some(true));
    assert!(
        at(pod_security, "runAsUser")
            .as_u64()
            .is_some_and(|u| u > 0)
    );
    assert_eq!(
        text_at(pod_security, "seccompProfile.type"),
        "RuntimeDefault"
    );
    assert_eq!(
        at(pod, "automountServiceAccountToken").as_bool(),
        Some(false)
    );
    let c = container(&k);
    let security = at(c, "securityContext");
    assert_eq!(at(security, "readOnlyRootFilesystem").as_bool(), Some(true));
    assert_eq!(
        at(security, "allowPrivilegeEscalation").as_bool(),
        Some(false)
    );
    assert_eq!(at(security, "runAsNonRoot").as_bool(), Some(true));
    let dropped: Vec<&str> = seq(security, "capabilities.drop")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(dropped, ["ALL"]);
    for kind in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                at(c, &format!("resources.{kind}.{resource}")).is_string(),
                "resources.{kind}.{resource}"
            );
        }
    }
}

#[test]
fn secrets_are_mounted_as_files_and_every_reference_points_into_the_mount() {
    let k = kubernetes();
    let (secrets_dir, volume) = mount_of(&k, "secret");
    let secret_name = text_at(&volume, "secret.secretName");
    assert_eq!(text_at(&k.secret, "metadata.name"), secret_name);
    // 0440 at most: the owner and fsGroup.
    let mode = at(&volume, "secret.defaultMode")
        .as_u64()
        .expect("defaultMode");
    assert_eq!(mode & 0o037, 0, "defaultMode {mode:o}");
    let keys: Vec<String> = at(&k.secret, "stringData")
        .as_mapping()
        .expect("stringData")
        .iter()
        .map(|(key, value)| {
            assert!(
                value.as_str().is_some_and(|v| v.contains("CHANGE-ME")),
                "placeholders only in the example Secret"
            );
            key.as_str().expect("key").to_string()
        })
        .collect();

    // Every secret file the pod is told about is a key of the Secret, and every key is used.
    let config = k
        .configmap
        .get("data")
        .and_then(|d| d.get("hrsync.toml"))
        .and_then(Value::as_str)
        .expect("hrsync.toml in the ConfigMap");
    let mut referenced = Vec::new();
    for line in config.lines() {
        if let Some(at) = line.find("{ file = \"") {
            let rest = &line[at + 10..];
            referenced.push(rest[..rest.find('"').expect("quote")].to_string());
        }
    }
    for (name, value) in container_env(&k) {
        if name.ends_with("_FILE") {
            referenced.push(value);
        }
    }
    assert!(referenced.len() >= 2, "{referenced:?}");
    for path in &referenced {
        let key = path
            .strip_prefix(&format!("{secrets_dir}/"))
            .unwrap_or_else(|| unreachable!("{path} is not in the secret mount {secrets_dir}"));
        assert!(keys.iter().any(|k| k == key), "no key {key} in the Secret");
    }
    for key in &keys {
        assert!(
            referenced
                .iter()
                .any(|p| p == &format!("{secrets_dir}/{key}")),
            "the Secret's key {key} is never used"
        );
    }
}

/// Lays the ConfigMap out as the pod sees it; returns the temp dir and the config's path in it.
fn mounted_configmap(k: &Kubernetes) -> (TempDir, PathBuf) {
    let (mount, volume) = mount_of(k, "configMap");
    assert_eq!(
        text_at(&volume, "configMap.name"),
        text_at(&k.configmap, "metadata.name")
    );
    let data = at(&k.configmap, "data").as_mapping().expect("data");
    let items = seq(&volume, "configMap.items");
    let item_keys: Vec<&str> = items.iter().map(|i| text_at(i, "key")).collect();
    let data_keys: Vec<&str> = data.keys().map(|k| k.as_str().expect("key")).collect();
    let mut a = item_keys.clone();
    a.sort();
    let mut b = data_keys.clone();
    b.sort();
    assert_eq!(a, b, "every ConfigMap key is mounted, and only those");

    let root = tempfile::tempdir().expect("tempdir");
    for item in items {
        let target = root
            .path()
            .join(mount.trim_start_matches('/'))
            .join(text_at(item, "path"));
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        let content = data
            .get(text_at(item, "key"))
            .and_then(Value::as_str)
            .expect("data value");
        std::fs::write(&target, content).expect("write");
    }
    let env = container_env(k);
    let config = env
        .iter()
        .find(|(n, _)| n == "HRSYNC_CONFIG")
        .map(|(_, v)| v.clone())
        .expect("HRSYNC_CONFIG set");
    let config = root.path().join(config.trim_start_matches('/'));
    assert!(config.is_file(), "HRSYNC_CONFIG names a mounted file");
    (root, config)
}

#[test]
fn the_mounted_kubernetes_config_is_valid_with_the_pods_environment() {
    let k = kubernetes();
    let (_root, config) = mounted_configmap(&k);
    let env: Vec<(String, String)> = container_env(&k)
        .into_iter()
        .filter(|(n, _)| n != "HRSYNC_CONFIG")
        .collect();
    let out = assert_validates(&config, &env);
    assert!(
        out.contains("configuration and mappings are valid"),
        "{out}"
    );
    // The container runs one apply (the CronJob schedules it).
    let args: Vec<&str> = seq(container(&k), "args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(args.last(), Some(&"apply"), "{args:?}");
}

// --- systemd ----------------------------------------------------------------------------------

/// section -> (key, value) in order; a simple reading of the unit file format.
fn unit(path: &Path) -> BTreeMap<String, Vec<(String, String)>> {
    let mut sections: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut current = None;
    for (n, line) in read(path).lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            assert!(line.ends_with(']'), "{}:{}: {line}", path.display(), n + 1);
            current = Some(line[1..line.len() - 1].to_string());
            continue;
        }
        let section = current
            .clone()
            .unwrap_or_else(|| unreachable!("{}:{}: outside a section", path.display(), n + 1));
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| unreachable!("{}:{}: not key=value: {line}", path.display(), n + 1));
        assert!(
            key.chars().all(|c| c.is_ascii_alphanumeric()),
            "{}:{}: key {key}",
            path.display(),
            n + 1
        );
        sections
            .entry(section)
            .or_default()
            .push((key.to_string(), value.to_string()));
    }
    sections
}

fn values<'a>(
    unit: &'a BTreeMap<String, Vec<(String, String)>>,
    section: &str,
    key: &str,
) -> Vec<&'a str> {
    unit.get(section)
        .map(|entries| {
            entries
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// The `Environment=` variables of the service, and the `$CREDENTIALS_DIRECTORY` (%d) names.
fn service_environment(
    service: &BTreeMap<String, Vec<(String, String)>>,
) -> (Vec<(String, String)>, Vec<String>) {
    let env = values(service, "Service", "Environment")
        .iter()
        .map(|v| {
            let (name, value) = v.split_once('=').expect("NAME=value");
            (name.to_string(), value.to_string())
        })
        .collect();
    let credentials = values(service, "Service", "LoadCredential")
        .iter()
        .map(|v| v.split_once(':').expect("name:path").0.to_string())
        .collect();
    (env, credentials)
}

#[test]
fn the_systemd_units_are_hardened_and_read_secrets_as_credentials() {
    let service = unit(&deploy("systemd/hrsync.service"));
    let timer = unit(&deploy("systemd/hrsync.timer"));
    let one = |key: &str| {
        let v = values(&service, "Service", key);
        assert_eq!(v.len(), 1, "{key}: {v:?}");
        v[0].to_string()
    };
    assert_eq!(one("Type"), "oneshot");
    assert!(one("ExecStart").ends_with(" apply"), "{}", one("ExecStart"));
    assert!(
        one("DynamicUser") == "yes" || !values(&service, "Service", "User").is_empty(),
        "a dedicated or dynamic user"
    );
    for (key, value) in [
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
    ] {
        assert_eq!(one(key), value, "{key}");
    }
    let (env, credentials) = service_environment(&service);
    assert!(credentials.len() >= 2, "{credentials:?}");
    let file_vars: Vec<&(String, String)> =
        env.iter().filter(|(n, _)| n.ends_with("_FILE")).collect();
    assert_eq!(
        file_vars.len(),
        credentials.len(),
        "one variable per credential"
    );
    for (name, value) in file_vars {
        let credential = value
            .strip_prefix("%d/")
            .unwrap_or_else(|| unreachable!("{name} must point into $CREDENTIALS_DIRECTORY (%d)"));
        assert!(
            credentials.iter().any(|c| c == credential),
            "{name}: no LoadCredential={credential}"
        );
    }

    assert!(!values(&timer, "Timer", "OnCalendar").is_empty());
    assert_eq!(values(&timer, "Timer", "Persistent"), ["true"]);
    assert_eq!(values(&timer, "Timer", "RandomizedDelaySec").len(), 1);
    assert_eq!(values(&timer, "Timer", "Unit"), ["hrsync.service"]);
    assert_eq!(values(&timer, "Install", "WantedBy"), ["timers.target"]);
}

#[test]
fn systemd_analyze_verify_accepts_the_units_where_it_is_installed() {
    let Ok(probe) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed: the units were only parsed");
        return;
    };
    assert!(probe.status.success());
    // verify checks that ExecStart's program exists: point it at the binary under test.
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["hrsync.service", "hrsync.timer", "hrsync-events.service"] {
        let text = read(&deploy("systemd").join(name))
            .replace("/usr/local/bin/hrsync", env!("CARGO_BIN_EXE_hrsync"));
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.path().join("hrsync.service"))
        .arg(dir.path().join("hrsync.timer"))
        .arg(dir.path().join("hrsync-events.service"))
        .output()
        .expect("systemd-analyze");
    assert!(out.status.success(), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("hrsync.service") && !stderr.contains("hrsync.timer"),
        "systemd-analyze complained: {stderr}"
    );
}

// --- cron -------------------------------------------------------------------------------------

#[test]
fn the_crontab_line_has_five_time_fields_flock_and_a_log() {
    let text = read(&deploy("cron/hrsync.cron"));
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let (assignments, jobs): (Vec<&str>, Vec<&str>) = lines.iter().partition(|l| {
        l.split_whitespace()
            .next()
            .is_some_and(|w| w.contains('=') && !w.starts_with('*'))
    });
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let fields: Vec<&str> = jobs[0].split_whitespace().collect();
    for field in &fields[..5] {
        assert!(
            field
                .chars()
                .all(|c| c.is_ascii_digit() || "*/,-".contains(c)),
            "time field {field}"
        );
    }
    let command = fields[6..].join(" ");
    assert!(fields[5] == "hrsync", "the user field: {}", fields[5]);
    assert!(command.starts_with("flock -n "), "{command}");
    assert!(command.contains(" apply"), "{command}");
    assert!(
        command.contains(">>") && command.contains("2>&1"),
        "logged: {command}"
    );

    // The variables it sets are ones hrsync reads: validate the Kubernetes example config with
    // them (the paths need not exist for validate).
    let env: Vec<(String, String)> = assignments
        .iter()
        .filter_map(|l| l.split_once('='))
        .filter(|(n, _)| n.starts_with("HRSYNC_") && *n != "HRSYNC_CONFIG")
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    assert!(env.iter().any(|(n, _)| n.ends_with("_FILE")));
    let (_root, config) = mounted_configmap(&kubernetes());
    assert_validates(&config, &env);
    let (service_env, _) = service_environment(&unit(&deploy("systemd/hrsync.service")));
    let service_env: Vec<(String, String)> = service_env
        .into_iter()
        .filter(|(n, _)| n.starts_with("HRSYNC_"))
        .map(|(n, v)| (n, v.replace("%d", "/run/credentials/hrsync.service")))
        .collect();
    assert_validates(&config, &service_env);
}

// --- container --------------------------------------------------------------------------------

#[test]
fn the_dockerfile_is_multi_stage_locked_and_non_root() {
    let text = read(&deploy("container/Dockerfile"));
    let instructions: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let froms: Vec<&&str> = instructions
        .iter()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert!(froms.len() >= 2, "multi-stage: {froms:?}");
    assert!(froms[0].ends_with(" AS build"), "{}", froms[0]);
    assert!(
        text.contains("cargo build --release --locked"),
        "built from Cargo.lock"
    );
    let last_from = instructions
        .iter()
        .rposition(|l| l.starts_with("FROM "))
        .expect("FROM");
    let runtime = &instructions[last_from..];
    assert!(runtime.iter().any(|l| l.starts_with("COPY --from=build ")));
    let user = runtime
        .iter()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the runtime stage sets USER");
    let uid: u32 = user
        .split(':')
        .next()
        .and_then(|u| u.parse().ok())
        .expect("a numeric USER, so runAsNonRoot can check it");
    assert!(uid > 0, "USER {user}");
    let entrypoint = runtime
        .iter()
        .find_map(|l| l.strip_prefix("ENTRYPOINT "))
        .expect("ENTRYPOINT");
    assert!(
        entrypoint.starts_with('['),
        "exec form, no shell: {entrypoint}"
    );
    assert!(!text.contains("HEALTHCHECK"), "a CronJob needs none");
    let base = text
        .lines()
        .find_map(|l| l.strip_prefix("ARG RUNTIME_IMAGE="))
        .expect("runtime image");
    assert!(
        base.contains("distroless") || base.contains("-slim"),
        "{base}"
    );

    // The build context is the repository: target/ and .git must not be sent.
    let ignore = read(&repo().join(".dockerignore"));
    let rules: Vec<&str> = ignore
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(rules.first(), Some(&"*"), "allowlist: {rules:?}");
    for needed in ["!Cargo.toml", "!Cargo.lock", "!src/"] {
        assert!(rules.contains(&needed), "{needed} in .dockerignore");
    }
}

// --- compose trial ----------------------------------------------------------------------------

fn compose() -> Value {
    yaml(&deploy("compose/compose.yaml"))
}

/// Lays out the hrsync service's bind mounts (files and directories, relative to compose.yaml)
/// under a temp root as the container sees them. Named volumes are left out.
fn mounted_compose(service: &Value) -> TempDir {
    let root = tempfile::tempdir().expect("tempdir");
    for volume in seq(service, "volumes") {
        let spec = volume.as_str().expect("short volume syntax");
        let parts: Vec<&str> = spec.split(':').collect();
        assert!(parts.len() == 3 && parts[2] == "ro", "read-only: {spec}");
        if !parts[0].starts_with('.') {
            continue; // a named volume
        }
        let source = deploy("compose").join(parts[0]);
        let target = root.path().join(parts[1].trim_start_matches('/'));
        copy(&source, &target);
    }
    root
}

fn copy(source: &Path, target: &Path) {
    std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
    if source.is_dir() {
        std::fs::create_dir_all(target).expect("mkdir");
        for entry in std::fs::read_dir(source).expect("read_dir") {
            let entry = entry.expect("entry");
            copy(&entry.path(), &target.join(entry.file_name()));
        }
    } else {
        std::fs::copy(source, target)
            .unwrap_or_else(|e| unreachable!("{} -> {}: {e}", source.display(), target.display()));
    }
}

fn service_env(service: &Value) -> Vec<(String, String)> {
    at(service, "environment")
        .as_mapping()
        .expect("environment as a mapping")
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().expect("name").to_string(),
                v.as_str().expect("value").to_string(),
            )
        })
        .collect()
}

#[test]
fn the_compose_trial_runs_hrsync_on_its_schedule_locked_down_with_a_valid_config() {
    let compose = compose();
    let hrsync_service = at(&compose, "services.hrsync");
    let openldap = at(&compose, "services.openldap");
    assert_eq!(
        text_at(hrsync_service, "build.dockerfile"),
        "deploy/container/Dockerfile"
    );
    assert!(
        deploy("compose")
            .join(text_at(openldap, "build"))
            .join("Dockerfile")
            .is_file()
    );
    assert_eq!(
        text_at(hrsync_service, "depends_on.openldap.condition"),
        "service_healthy"
    );
    assert_eq!(at(hrsync_service, "read_only").as_bool(), Some(true));
    assert_eq!(text_at(hrsync_service, "user"), "65532:65532");
    assert_eq!(
        seq(hrsync_service, "cap_drop")
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>(),
        ["ALL"]
    );
    let command: Vec<&str> = seq(hrsync_service, "command")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(command.last(), Some(&"run"), "stays up: {command:?}");
    // The secret is a file, shared by both services.
    for service in [hrsync_service, openldap] {
        assert_eq!(
            seq(service, "secrets")
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>(),
            ["ldap-admin-password"]
        );
    }
    let secret_file = text_at(&compose, "secrets.ldap-admin-password.file");
    assert!(deploy("compose").join(secret_file).is_file());

    let root = mounted_compose(hrsync_service);
    let mut env = service_env(hrsync_service);
    let config = env
        .iter()
        .position(|(n, _)| n == "HRSYNC_CONFIG")
        .map(|i| env.remove(i).1)
        .expect("HRSYNC_CONFIG");
    let config = root.path().join(config.trim_start_matches('/'));
    let out = assert_validates(&config, &env);
    assert!(
        out.contains("configuration and mappings are valid"),
        "{out}"
    );
    assert!(
        out.contains("next runs"),
        "validate shows the schedule: {out}"
    );
    let text = read(&config);
    assert!(text.contains("bind_password = { file = \"/run/secrets/ldap-admin-password\" }"));
}

/// The trial's slapd, started with its own entrypoint outside a container.
struct TrialDirectory {
    child: std::process::Child,
    _data: TempDir,
    port: u16,
    ca: PathBuf,
}

impl Drop for TrialDirectory {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn start_trial_directory(password_file: &Path) -> TrialDirectory {
    let data = tempfile::tempdir().expect("tempdir");
    let seed = data.path().join("seed");
    std::fs::create_dir(&seed).expect("mkdir");
    std::fs::copy(deploy("demo/directory.ldif"), seed.join("directory.ldif")).expect("seed");
    let port = free_port();
    let log = std::fs::File::create(data.path().join("slapd.log")).expect("log");
    let child = Command::new("sh")
        .arg(deploy("compose/openldap/entrypoint.sh"))
        .env(
            "PATH",
            format!(
                "{}:/usr/sbin:/sbin",
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("TRIAL_HOME", deploy("compose/openldap"))
        .env("LDAP_DATA", data.path().join("data"))
        .env("PUBLIC_DIR", data.path().join("public"))
        .env("SEED_DIR", &seed)
        .env("ADMIN_PASSWORD_FILE", password_file)
        .env("SLAPD_URLS", format!("ldap://127.0.0.1:{port}/"))
        .env("SLAPD_USER", "")
        .env("SLAPD_LOGLEVEL", "none")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start the trial's slapd (slapd must be installed: tests/slapd/install-deps.sh)");
    let ca = data.path().join("public/ca.pem");
    let mut directory = TrialDirectory {
        child,
        _data: data,
        port,
        ca,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() && directory.ca.is_file() {
            return directory;
        }
        if let Ok(Some(status)) = directory.child.try_wait() {
            let log = read(&directory._data.path().join("slapd.log"));
            unreachable!("the trial's slapd exited ({status}):\n{log}");
        }
        assert!(
            Instant::now() < deadline,
            "the trial's slapd did not answer on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_trial_directory_and_config_work_together_and_secrets_come_from_files() {
    let compose = compose();
    let hrsync_service = at(&compose, "services.hrsync");
    let root = mounted_compose(hrsync_service);
    let config = root.path().join("etc/hrsync/hrsync.toml");
    // The trial's password, as compose mounts it: with the host file's mode (0644 in git).
    let secrets = tempfile::tempdir().expect("tempdir");
    let password_file = secrets.path().join("ldap-admin-password");
    std::fs::copy(deploy("compose/ldap-admin-password.txt"), &password_file).expect("copy");
    let password = read(&password_file);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o644))
        .expect("chmod");
    let directory = start_trial_directory(&password_file);
    // hrsync reads the CA as another user, in another container.
    let mode = std::fs::metadata(&directory.ca)
        .expect("ca")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644, "the trial's CA is readable by hrsync");

    // What differs from the container: where slapd listens and where its CA and the secret are
    // (the certificate names "openldap" and "localhost").
    let env = |extra: &[(&str, &str)]| {
        let mut env = vec![
            (
                "HRSYNC_DIRECTORY__URL".to_string(),
                format!("ldap://localhost:{}", directory.port),
            ),
            (
                "HRSYNC_DIRECTORY__CA_FILE".to_string(),
                directory.ca.display().to_string(),
            ),
            (
                "HRSYNC_DIRECTORY__BIND_PASSWORD_FILE".to_string(),
                password_file.display().to_string(),
            ),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    };
    let config_arg = config.to_str().expect("utf-8");
    let run = |args: &[&str], env: &[(String, String)]| {
        let mut all = vec!["--config", config_arg, "--log-format", "text"];
        all.extend_from_slice(args);
        hrsync(&all, env)
    };

    let mut outputs = Vec::new();
    let out = run(&["apply"], &env(&[("HRSYNC_DIRECTORY_URL", "typo")]));
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("0 failed"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The file's mode is reported, naming the variable and the path, never the content.
    assert!(
        stderr.contains("secret file is readable by every user (mode 0644)")
            && stderr.contains("HRSYNC_DIRECTORY__BIND_PASSWORD_FILE")
            && stderr.contains(&password_file.display().to_string()),
        "{stderr}"
    );
    // A misspelt variable is named, with the one that was meant.
    assert!(
        stderr.contains(
            "environment variable HRSYNC_DIRECTORY_URL is not one hrsync reads, it is ignored; \
             did you mean HRSYNC_DIRECTORY__URL?"
        ),
        "{stderr}"
    );
    outputs.push(out);
    // Converged: nothing left to do.
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o400))
        .expect("chmod");
    let out = run(&["plan", "--detailed-exitcode"], &env(&[]));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("readable by"),
        "0400 is fine: {}",
        show(&out)
    );
    outputs.push(out);

    // A secret file that is not there: exit 1, naming the variable and the path.
    let missing = secrets.path().join("absent");
    let out = run(
        &["plan"],
        &env(&[(
            "HRSYNC_DIRECTORY__BIND_PASSWORD_FILE",
            missing.to_str().expect("utf-8"),
        )]),
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "directory.bind_password: cannot read secret file {} (set by \
             HRSYNC_DIRECTORY__BIND_PASSWORD_FILE)",
            missing.display()
        )),
        "{stderr}"
    );
    outputs.push(out);
    // The secret itself is in no output.
    for out in &outputs {
        for stream in [&out.stdout, &out.stderr] {
            assert!(!String::from_utf8_lossy(stream).contains(password.trim()));
        }
    }
}

// --- the documentation's Deploying section -----------------------------------------------------

#[test]
fn the_docs_deploying_section_references_every_deployment() {
    let page = read(&repo().join("docs/src/running.md"));
    let start = page.find("\n## Deploying\n").expect("a Deploying section");
    let section = &page[start..];
    let section = &section[..section[1..].find("\n## ").map_or(section.len(), |i| i + 1)];
    for reference in [
        "deploy/container/Dockerfile",
        "deploy/kubernetes",
        "deploy/systemd/",
        "deploy/cron/hrsync.cron",
        "deploy/compose/compose.yaml",
        "HRSYNC_DIRECTORY__BIND_PASSWORD_FILE",
        "_FILE",
        "did you mean",
    ] {
        assert!(
            section.contains(reference),
            "docs/src/running.md Deploying: {reference}"
        );
    }
    for path in [
        "deploy/container/Dockerfile",
        "deploy/kubernetes/kustomization.yaml",
        "deploy/systemd/hrsync.service",
        "deploy/systemd/hrsync.timer",
        "deploy/cron/hrsync.cron",
        "deploy/compose/compose.yaml",
    ] {
        assert!(repo().join(path).is_file(), "{path}");
    }
}

// --- event mode (issue 18) ---------------------------------------------------------------------

/// The event-mode Deployment runs with exactly the CronJob's pod and container security, one
/// replica replaced (never rolled: two daemons would apply at once), never restarted because
/// `/healthz` says a pause is in force, and the kustomization holds no Secret.
#[test]
fn the_event_mode_deployment_has_the_cronjobs_security_and_never_two_pods() {
    let k = kubernetes();
    let dir = deploy("kubernetes/events");
    let deployment = yaml(&dir.join("deployment.yaml"));
    let pod = at(&deployment, "spec.template.spec");
    let cron_pod = at(&k.cronjob, "spec.jobTemplate.spec.template.spec");
    for key in [
        "securityContext",
        "automountServiceAccountToken",
        "enableServiceLinks",
        "volumes",
    ] {
        assert_eq!(at(pod, key), at(cron_pod, key), "{key}");
    }
    let containers = seq(pod, "containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert_eq!(
        at(c, "securityContext"),
        at(container(&k), "securityContext")
    );
    assert_eq!(at(c, "volumeMounts"), at(container(&k), "volumeMounts"));
    let args: Vec<&str> = seq(c, "args").iter().filter_map(Value::as_str).collect();
    assert_eq!(args.last(), Some(&"run"));
    assert_eq!(at(&deployment, "spec.replicas").as_u64(), Some(1));
    assert_eq!(text_at(&deployment, "spec.strategy.type"), "Recreate");
    assert!(
        at(c, "livenessProbe").get("httpGet").is_none(),
        "a liveness probe on /healthz would restart away a pause"
    );
    assert_eq!(text_at(c, "readinessProbe.httpGet.path"), "/healthz");

    let kustomization = yaml(&dir.join("kustomization.yaml"));
    for resource in seq(&kustomization, "resources") {
        let name = resource.as_str().unwrap_or_default();
        assert!(
            !name.contains("secret"),
            "{name}: no Secret from the repository"
        );
        for doc in yaml_documents(&dir.join(name)) {
            assert_ne!(text_at(&doc, "kind"), "Secret", "{name}");
        }
    }
    let ingress = yaml(&dir.join("ingress.example.yaml"));
    let paths = seq(at(&seq(&ingress, "spec.rules")[0], "http"), "paths");
    assert_eq!(paths.len(), 1);
    assert_eq!(text_at(&paths[0], "path"), "/events/");
    assert_eq!(text_at(&paths[0], "backend.service.port.name"), "events");
}

/// The event-mode unit: `hrsync run`, restarted on failure, SIGHUP on reload (resume), and
/// every hardening setting of the one-shot unit.
#[test]
fn the_event_mode_systemd_unit_runs_the_daemon_as_hardened_as_the_timer_one() {
    let oneshot = unit(&deploy("systemd/hrsync.service"));
    let events = unit(&deploy("systemd/hrsync-events.service"));
    let one = |u: &BTreeMap<String, Vec<(String, String)>>, key: &str| -> String {
        let v = values(u, "Service", key);
        assert_eq!(v.len(), 1, "{key}: {v:?}");
        v[0].to_string()
    };
    assert_eq!(one(&events, "Type"), "exec");
    assert!(one(&events, "ExecStart").ends_with(" run"));
    assert!(one(&events, "ExecReload").contains("-HUP"));
    assert_eq!(one(&events, "Restart"), "on-failure");
    for key in [
        "DynamicUser",
        "ProtectSystem",
        "ProtectHome",
        "PrivateTmp",
        "PrivateDevices",
        "NoNewPrivileges",
        "CapabilityBoundingSet",
        "RestrictAddressFamilies",
        "SystemCallFilter",
        "MemoryDenyWriteExecute",
        "UMask",
        "StateDirectory",
        // The audit log's directory the docs recommend, /var/log/hrsync, is writable.
        "LogsDirectory",
    ] {
        assert_eq!(
            values(&events, "Service", key),
            values(&oneshot, "Service", key),
            "{key}"
        );
    }
    assert_eq!(one(&events, "LogsDirectory"), "hrsync");
}
