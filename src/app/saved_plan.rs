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
use crate::config::{Config, digest_differences, hex};
use crate::plan::{PLAN_SCHEMA, Plan};

/// The top-level key of the signature, beside the plan's own keys.
const SIGNATURE_KEY: &str = "signature";
/// What the signature's value starts with: the algorithm, then the hex MAC.
const SIGNATURE_PREFIX: &str = "hmac-sha256:";
/// The shortest signing key accepted: 256 bits of text.
const MIN_KEY_LEN: usize = 32;
/// How far ahead of this machine's clock a plan may have been made (another machine's clock).
const CLOCK_SKEW_MINUTES: i64 = 5;

/// Writes `plan` to `path` (owner-only, replacing the file whole), signed when a key is set.
pub(crate) fn save(config: &Config, plan: &Plan, path: &Path) -> Result<(), RunError> {
    let mut value = serde_json::to_value(plan).map_err(|e| RunError::Output {
        path: path.display().to_string(),
        source: e.into(),
    })?;
    if let Some(key) = signing_key(config, path)? {
        let signature = format!(
            "{SIGNATURE_PREFIX}{}",
            hex(hmac::sign(&key, &signed_bytes(&value)).as_ref())
        );
        if let Value::Object(fields) = &mut value {
            fields.insert(SIGNATURE_KEY.into(), Value::String(signature));
        }
    }
    files::write_private(path, &value)
}

/// Reads a saved plan back, refused (with why) unless it is signed as configured, of this
/// schema, not too old, not from the future, and made with this configuration.
pub(crate) fn load(config: &Config, path: &Path, now: DateTime<Utc>) -> Result<Plan, RunError> {
    let refused = |message: String| RunError::SavedPlan {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| refused(e.to_string()))?;
    let mut value: Value =
        serde_json::from_str(&text).map_err(|e| refused(format!("not a plan: {e}")))?;
    check_signature(config, path, &mut value)?;
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
    Ok(plan)
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
