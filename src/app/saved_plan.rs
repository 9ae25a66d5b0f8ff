//! The saved-plan file: `plan --out FILE` and `apply --out FILE` write it, `apply --plan FILE`
//! reads it back.
//!
//! The file is the plan's JSON (schema `hrsync.plan/v1`) with the digest of the configuration it
//! was made with (`config`) and, when `[plans] signing_key` is set, an HMAC-SHA256 over the rest
//! (`signature`). Reading it back checks, in this order: the signature, the schema, the age
//! (`limits.max_plan_age_hours`; a plan from the future is refused), and that this configuration
//! is the one the plan was made with. What is then applied is decided by re-planning
//! ([`crate::plan::approval`]): the file never says what is applied, only what was approved.

use std::path::Path;

use aws_lc_rs::hmac;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde_json::Value;

use super::{RunError, files};
use crate::audit::PlanOrigin;
use crate::config::{Config, digest_differences, hex};
use crate::plan::{PLAN_SCHEMA, Plan};

/// The top-level key of the signature, beside the plan's own keys.
const SIGNATURE_KEY: &str = "signature";
/// Who made the plan (`user@host`), beside the plan's own fields.
const MADE_BY_KEY: &str = "made_by";
/// What the signature's value starts with: the algorithm, then the hex MAC.
const SIGNATURE_PREFIX: &str = "hmac-sha256:";
/// The shortest signing key accepted: 256 bits of text.
const MIN_KEY_LEN: usize = 32;
/// How far ahead of this machine's clock a plan may have been made (another machine's clock).
const CLOCK_SKEW_MINUTES: i64 = 5;

/// Writes `plan` to `path` (owner-only, replacing the file whole), signed when a key is set.
/// It is written [masked](Plan::masked), like every shown plan: a plan file travels (a shared
/// folder, a CI artifact), and approval compares masked plans.
pub(crate) fn save(config: &Config, plan: &Plan, path: &Path) -> Result<(), RunError> {
    let mut value = serde_json::to_value(&*plan.masked()).map_err(|e| RunError::Output {
        path: path.display().to_string(),
        source: e.into(),
    })?;
    // Who made it, inside what is signed: the approval names the reviewer's source.
    if let Value::Object(fields) = &mut value {
        let maker = super::actor::signature(&super::actor::current());
        fields.insert(MADE_BY_KEY.into(), Value::String(maker));
    }
    let digest = digest_of(&value);
    if let Some(key) = signing_key(config, path)? {
        let signature = format!(
            "{SIGNATURE_PREFIX}{}",
            hex(hmac::sign(&key, &signed_bytes(&value)).as_ref())
        );
        if let Value::Object(fields) = &mut value {
            fields.insert(SIGNATURE_KEY.into(), Value::String(signature));
        }
    }
    files::write_private_json(path, &value)?;
    tracing::info!(path = %path.display(), %digest, "plan saved: an approval names this digest, which apply --plan records");
    Ok(())
}

/// `sha256:` and the hex SHA-256 of a plan file's content without its signature: the same at
/// saving and at loading, whatever the file's whitespace (`Value` orders its keys).
fn digest_of(value: &Value) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &signed_bytes(value));
    format!("sha256:{}", hex(digest.as_ref()))
}

/// Reads a saved plan back, refused (with why) unless it is signed as configured, of this
/// schema, not too old, not from the future, and made with this configuration.
pub(crate) fn load(
    config: &Config,
    path: &Path,
    now: DateTime<Utc>,
) -> Result<(Plan, PlanOrigin), RunError> {
    let refused = |message: String| RunError::SavedPlan {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| refused(e.to_string()))?;
    let mut value: Value =
        serde_json::from_str(&text).map_err(|e| refused(format!("not a plan: {e}")))?;
    check_signature(config, path, &mut value)?;
    let origin = PlanOrigin {
        file: path.display().to_string(),
        digest: digest_of(&value),
        made_by: value
            .get(MADE_BY_KEY)
            .and_then(Value::as_str)
            .map(String::from),
    };
    let plan: Plan =
        serde_json::from_value(value).map_err(|e| refused(format!("not a plan: {e}")))?;
    if plan.schema != PLAN_SCHEMA {
        return Err(refused(format!(
            "schema {} is not {PLAN_SCHEMA}",
            plan.schema
        )));
    }
    check_age(&plan, config, now).map_err(refused)?;
    let Some(made_with) = &plan.config else {
        return Err(refused(
            "it does not say which configuration it was made with (made by an older hrsync, or \
             edited); plan again"
                .to_string(),
        ));
    };
    let changed = digest_differences(made_with, &config.digest);
    if !changed.is_empty() {
        return Err(refused(format!(
            "made with another configuration; nothing applied, plan again. What changed:\n  - {}",
            changed.join("\n  - ")
        )));
    }
    Ok((plan, origin))
}

/// Under `limits.max_plan_age_hours` old, and not made in the future.
fn check_age(plan: &Plan, config: &Config, now: DateTime<Utc>) -> Result<(), String> {
    let age = now - plan.generated_at;
    let max_hours = config.limits.max_plan_age_hours;
    if age > chrono::Duration::hours(i64::from(max_hours)) {
        return Err(format!(
            "made at {}, {} hour(s) ago, older than limits.max_plan_age_hours = {max_hours}; plan \
             again",
            plan.generated_at.format("%Y-%m-%d %H:%M UTC"),
            age.num_hours(),
        ));
    }
    if age < -chrono::Duration::minutes(CLOCK_SKEW_MINUTES) {
        return Err(format!(
            "made at {}, in the future: refused (check this machine's clock and the plan's \
             origin)",
            plan.generated_at.format("%Y-%m-%d %H:%M UTC"),
        ));
    }
    Ok(())
}

/// With a signing key, the file must carry a valid signature; without one, it must carry none
/// (it could not be checked). The signature is taken out of `value` either way.
fn check_signature(config: &Config, path: &Path, value: &mut Value) -> Result<(), RunError> {
    let refused = |message: &str| RunError::SavedPlan {
        path: path.display().to_string(),
        message: message.to_string(),
    };
    let signature = match value {
        Value::Object(fields) => fields.remove(SIGNATURE_KEY),
        _ => None,
    };
    let key = signing_key(config, path)?;
    match (key, signature) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(refused(
            "the plan is signed, but plans.signing_key is not set here to check the signature",
        )),
        (Some(_), None) => Err(refused(
            "the plan carries no signature, and plans.signing_key requires one",
        )),
        (Some(key), Some(signature)) => {
            let mac = signature
                .as_str()
                .and_then(|s| s.strip_prefix(SIGNATURE_PREFIX))
                .and_then(unhex)
                .ok_or_else(|| refused("the signature is not an hmac-sha256 signature"))?;
            hmac::verify(&key, &signed_bytes(value), &mac).map_err(|_| {
                refused(
                    "the signature does not match: the plan was changed after it was signed, \
                     or signed with another key",
                )
            })
        }
    }
}

/// The key `[plans] signing_key` names, ready to sign with.
fn signing_key(config: &Config, path: &Path) -> Result<Option<hmac::Key>, RunError> {
    let Some(reference) = &config.plans.signing_key else {
        return Ok(None);
    };
    let secret = reference.resolve("plans.signing_key")?;
    let bytes = secret.expose_secret().as_bytes();
    if bytes.len() < MIN_KEY_LEN {
        return Err(RunError::SavedPlan {
            path: path.display().to_string(),
            message: format!(
                "plans.signing_key is {} characters long; it needs at least {MIN_KEY_LEN} (for \
                 example `openssl rand -hex 32`)",
                bytes.len()
            ),
        });
    }
    Ok(Some(hmac::Key::new(hmac::HMAC_SHA256, bytes)))
}

/// What is signed: the plan's JSON without the signature, compact, keys in order. Reading a
/// pretty-printed file back and writing it compact gives the same bytes.
fn signed_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretRef;

    fn demo() -> Config {
        let path =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/demo/hrsync.toml");
        Config::load(&path).unwrap()
    }

    fn with_key(dir: &tempfile::TempDir, name: &str, key: &str) -> Config {
        let path = dir.path().join(name);
        std::fs::write(&path, key).unwrap();
        let mut config = demo();
        config.plans.signing_key = Some(SecretRef {
            file: Some(path),
            env: None,
            origin: None,
        });
        config
    }

    fn now() -> DateTime<Utc> {
        "2026-12-03T09:00:00Z".parse().unwrap()
    }

    /// An empty plan, made with `config` at `made`.
    fn plan(config: &Config, made: DateTime<Utc>) -> Plan {
        let mut plan = crate::app::commands::report::tests::empty_plan();
        plan.generated_at = made;
        plan.config = Some(config.digest.clone());
        plan
    }

    fn message(result: Result<(Plan, PlanOrigin), RunError>) -> String {
        match result {
            Ok(plan) => panic!("accepted: {plan:?}"),
            Err(RunError::SavedPlan { message, .. }) => message,
            Err(other) => panic!("{other}"),
        }
    }

    /// Edits the saved file as JSON.
    fn edit(path: &Path, change: impl FnOnce(&mut Value)) {
        let mut value: Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        change(&mut value);
        std::fs::write(path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
    }

    #[test]
    fn a_plan_reads_back_as_it_was_saved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        let config = demo();
        let saved = plan(&config, now());
        save(&config, &saved, &path).unwrap();
        let (loaded, origin) = load(&config, &path, now()).unwrap();
        assert_eq!(loaded, saved);
        // Who made it and its digest: the same digest however the file is laid out.
        let maker = super::super::actor::signature(&super::super::actor::current());
        assert_eq!(origin.made_by.as_deref(), Some(maker.as_str()));
        assert!(origin.digest.starts_with("sha256:") && origin.digest.len() == 7 + 64);
        let text = std::fs::read_to_string(&path).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        std::fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
        assert_eq!(load(&config, &path, now()).unwrap().1.digest, origin.digest);
        // Any edit is another digest.
        edit(&path, |v| v["made_by"] = Value::from("someone@else"));
        assert_ne!(load(&config, &path, now()).unwrap().1.digest, origin.digest);
    }

    #[test]
    fn a_signed_plan_reads_back_and_any_edit_or_other_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        let config = with_key(&dir, "key", &"k".repeat(40));
        let saved = plan(&config, now());
        save(&config, &saved, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"signature\": \"hmac-sha256:"), "{text}");
        assert_eq!(load(&config, &path, now()).unwrap().0, saved);

        // Who made it is signed too: a forged maker is refused.
        edit(&path, |v| v["made_by"] = Value::from("ceo@laptop"));
        assert!(message(load(&config, &path, now())).contains("the signature does not match"));
        save(&config, &saved, &path).unwrap();

        // One value edited, signature kept.
        edit(&path, |v| v["summary"]["changes"] = Value::from(7));
        assert!(message(load(&config, &path, now())).contains("the signature does not match"));
        // Signed with another key.
        let other = with_key(&dir, "other", &"o".repeat(40));
        save(&other, &saved, &path).unwrap();
        assert!(message(load(&config, &path, now())).contains("the signature does not match"));
        // No signature at all.
        save(&config, &saved, &path).unwrap();
        edit(&path, |v| {
            v.as_object_mut().unwrap().remove("signature");
        });
        assert!(message(load(&config, &path, now())).contains("carries no signature"));
        // Not a signature.
        edit(&path, |v| v["signature"] = Value::from("sha1:00"));
        assert!(message(load(&config, &path, now())).contains("not an hmac-sha256 signature"));
        // Signed, but this side has no key to check it with.
        save(&config, &saved, &path).unwrap();
        assert!(message(load(&demo(), &path, now())).contains("plans.signing_key is not set here"));
    }

    #[test]
    fn a_short_signing_key_is_refused_without_showing_it() {
        let dir = tempfile::tempdir().unwrap();
        let config = with_key(&dir, "key", "short-secret");
        let path = dir.path().join("plan.json");
        let text =
            message(save(&config, &plan(&config, now()), &path).map(|()| unreachable!("saved")));
        assert!(text.contains("at least 32"), "{text}");
        assert!(!text.contains("short-secret"), "{text}");
        assert!(!path.exists());
    }

    #[test]
    fn a_plan_too_old_or_from_the_future_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        let config = demo();
        save(
            &config,
            &plan(&config, now() - chrono::Duration::hours(25)),
            &path,
        )
        .unwrap();
        assert!(
            message(load(&config, &path, now()))
                .contains("older than limits.max_plan_age_hours = 24")
        );
        save(
            &config,
            &plan(&config, now() + chrono::Duration::hours(1)),
            &path,
        )
        .unwrap();
        assert!(message(load(&config, &path, now())).contains("in the future"));
        // A few minutes of clock difference between machines is not the future.
        save(
            &config,
            &plan(&config, now() + chrono::Duration::minutes(3)),
            &path,
        )
        .unwrap();
        assert!(load(&config, &path, now()).is_ok());
    }

    #[test]
    fn a_plan_made_with_another_configuration_is_refused_naming_the_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        let config = demo();
        let mut made_with = plan(&config, now());
        let digest = made_with.config.as_mut().unwrap();
        let (key, value) = digest
            .keys
            .iter_mut()
            .find(|(k, _)| k.as_str() == "directory.users_base")
            .unwrap();
        *value = "0000000000000000".into();
        let key = key.clone();
        save(&config, &made_with, &path).unwrap();
        let text = message(load(&config, &path, now()));
        assert!(text.contains(&format!("{key} (changed)")), "{text}");

        // A plan without a digest (older hrsync, or taken out).
        made_with.config = None;
        save(&config, &made_with, &path).unwrap();
        assert!(message(load(&config, &path, now())).contains("does not say which configuration"));
    }

    #[test]
    fn what_is_not_a_plan_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        std::fs::write(&path, "{\"schema\": \"hrsync.plan/v1\"}").unwrap();
        assert!(message(load(&demo(), &path, now())).starts_with("not a plan"));
        let config = demo();
        save(&config, &plan(&config, now()), &path).unwrap();
        edit(&path, |v| v["schema"] = Value::from("hrsync.plan/v9"));
        assert!(
            message(load(&config, &path, now()))
                .contains("schema hrsync.plan/v9 is not hrsync.plan/v1")
        );
    }
}
