//! The saved-plan file: `plan --out FILE` and `apply --out FILE` write it, `apply --plan FILE`
//! reads it back.
//!
//! The file is the plan's JSON (schema `hrsync.plan/v1`) with the digest of the configuration it
//! was made with (`config`) and, when `[plans] signing_key` is set, an HMAC-SHA256 over the rest
//! (`signature`). `plan --format html` writes the same value embedded in the approval page
//! ([`crate::render::html`]), which `apply --plan` reads as well; a page must be exactly the page
//! of the plan it embeds. The plan's digest (SHA-256 of the content without the signature) is the
//! same for both forms: an approval names it, and `apply --plan FILE --digest ...` refuses any
//! other. Reading it back checks, in this order: the signature, the page, the schema, the age
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

/// A plan as it is saved: the [masked](Plan::masked) plan's JSON with who made it, the digest
/// of that, and the signature over it when `[plans] signing_key` is set. Built once, and written
/// as JSON (`plan --out`) or as the approval page (`plan --format html`), which embeds the very
/// same value and shows the digest.
pub(crate) struct Saved {
    /// The plan's JSON and `made_by`: what is digested and signed.
    content: Value,
    signature: Option<String>,
    digest: String,
}

impl Saved {
    /// `plan` as saved with `config`, signed when a key is set; `place` names where it goes,
    /// for an error.
    pub(crate) fn new(config: &Config, plan: &Plan, place: &str) -> Result<Saved, RunError> {
        let content = content_of(plan).map_err(|e| RunError::Output {
            path: place.to_string(),
            source: e.into(),
        })?;
        let signature = match signing_key(config, place)? {
            Some(key) => {
                let mac = hmac::sign(&key, &signed_bytes(&content));
                Some(format!("{SIGNATURE_PREFIX}{}", hex(mac.as_ref())))
            }
            None => None,
        };
        Ok(Saved {
            digest: digest_of(&content),
            content,
            signature,
        })
    }

    /// `plan` as saved without a signature, whatever the configuration says: for the page that
    /// `apply`, `sync` and `offboard` print of what they apply, which nobody applies again.
    pub(crate) fn unsigned(plan: &Plan) -> Saved {
        // Serialising plain data with string keys cannot fail; an empty object rather than a
        // panic if it ever did.
        let content = content_of(plan).unwrap_or_else(|_| Value::Object(Default::default()));
        Saved {
            digest: digest_of(&content),
            content,
            signature: None,
        }
    }

    /// What a plan file holds: the content, and the signature beside the plan's own keys.
    fn file_value(&self) -> Value {
        let mut value = self.content.clone();
        if let (Value::Object(fields), Some(signature)) = (&mut value, &self.signature) {
            fields.insert(SIGNATURE_KEY.into(), Value::String(signature.clone()));
        }
        value
    }

    /// The approval page of `plan` (the plan this was made of), embedding this saved plan.
    pub(crate) fn page(&self, plan: &Plan) -> String {
        crate::render::html::page(plan, &self.file_value(), &self.digest)
    }

    /// Writes it to `path` (owner-only, replacing the file whole): as the approval page of
    /// `plan` when `page`, as JSON otherwise.
    fn write(&self, plan: &Plan, path: &Path, page: bool) -> Result<(), RunError> {
        if page {
            files::write_private(path, self.page(plan).as_bytes())?;
        } else {
            files::write_private_json(path, &self.file_value())?;
        }
        tracing::info!(
            path = %path.display(),
            digest = %self.digest,
            "plan saved: an approval names this digest, which apply --plan records (and checks, \
             given --digest)"
        );
        Ok(())
    }
}

/// The masked plan's JSON, with who made it: inside what is digested and signed, so that the
/// approval names the reviewer's source.
fn content_of(plan: &Plan) -> Result<Value, serde_json::Error> {
    let mut content = serde_json::to_value(&*plan.masked())?;
    if let Value::Object(fields) = &mut content {
        let maker = super::actor::signature(&super::actor::current());
        fields.insert(MADE_BY_KEY.into(), Value::String(maker));
    }
    Ok(content)
}

/// Writes `plan` to `path` as JSON (owner-only, replacing the file whole), signed when a key is
/// set. It is written [masked](Plan::masked), like every shown plan: a plan file travels (a
/// shared folder, a CI artifact), and approval compares masked plans.
pub(crate) fn save(config: &Config, plan: &Plan, path: &Path) -> Result<(), RunError> {
    Saved::new(config, plan, &path.display().to_string())?.write(plan, path, false)
}

/// Like [`save`], as the approval page (`plan --format html --out FILE`).
pub(crate) fn save_page(config: &Config, plan: &Plan, path: &Path) -> Result<(), RunError> {
    Saved::new(config, plan, &path.display().to_string())?.write(plan, path, true)
}

/// The approval page of `plan` as [`save_page`] would write it (`plan --format html` without
/// `--out`).
pub(crate) fn page(config: &Config, plan: &Plan) -> Result<String, RunError> {
    Ok(Saved::new(config, plan, "the approval page")?.page(plan))
}

/// `sha256:` and the hex SHA-256 of a plan file's content without its signature: the same at
/// saving and at loading, whatever the file's whitespace (`Value` orders its keys), and the same
/// for a JSON file and the approval page of one plan.
fn digest_of(value: &Value) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &signed_bytes(value));
    format!("sha256:{}", hex(digest.as_ref()))
}

/// A saved plan as read from its file: the content, its signature taken out, and whether it was
/// an approval page.
struct Read {
    content: Value,
    signature: Option<Value>,
    page: bool,
}

impl Read {
    /// Reads the JSON file, or the plan embedded in an approval page.
    fn parse(text: &str) -> Result<Read, String> {
        let page = crate::render::html::is_page(text);
        let json = if page {
            crate::render::html::embedded_plan(text)?
        } else {
            text
        };
        let mut content: Value =
            serde_json::from_str(json).map_err(|e| format!("not a plan: {e}"))?;
        let signature = match &mut content {
            Value::Object(fields) => fields.remove(SIGNATURE_KEY),
            _ => None,
        };
        Ok(Read {
            content,
            signature,
            page,
        })
    }
}

/// Reads a saved plan back (its JSON file, or an approval page), refused (with why) unless it is
/// signed as configured, shows what it embeds (a page), is of this schema, not too old, not from
/// the future, and made with this configuration.
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
    let read = Read::parse(&text).map_err(refused)?;
    check_signature(config, path, &read.content, read.signature.as_ref())?;
    let origin = PlanOrigin {
        file: path.display().to_string(),
        digest: digest_of(&read.content),
        made_by: read
            .content
            .get(MADE_BY_KEY)
            .and_then(Value::as_str)
            .map(String::from),
    };
    let plan: Plan = serde_json::from_value(read.content.clone())
        .map_err(|e| refused(format!("not a plan: {e}")))?;
    if read.page {
        check_page(&text, &plan, &read, &origin.digest).map_err(refused)?;
    }
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

/// An approval page must be exactly the page of the plan it embeds: what the approver saw is
/// what is applied. A page edited by hand (or saved again by a browser) is refused.
fn check_page(text: &str, plan: &Plan, read: &Read, digest: &str) -> Result<(), String> {
    let mut value = read.content.clone();
    if let (Value::Object(fields), Some(signature)) = (&mut value, &read.signature) {
        fields.insert(SIGNATURE_KEY.into(), signature.clone());
    }
    if crate::render::html::page(plan, &value, digest) == text {
        return Ok(());
    }
    Err(
        "the approval page is not the page of the plan it embeds: it was changed after hrsync \
         wrote it (what it shows may not be what it holds); plan again"
            .to_string(),
    )
}

/// Refuses a saved plan whose digest is not `approved` (`apply --plan FILE --digest ...`): the
/// approval names one plan, and a file that is not that plan is not applied.
pub(crate) fn check_digest(
    origin: &PlanOrigin,
    approved: &str,
    path: &Path,
) -> Result<(), RunError> {
    if origin.digest.eq_ignore_ascii_case(approved) {
        return Ok(());
    }
    Err(RunError::SavedPlan {
        path: path.display().to_string(),
        message: format!(
            "its digest is {}, not the approved {approved}: this is not the plan that was \
             approved; nothing applied",
            origin.digest
        ),
    })
}

/// `--digest`'s value: `sha256:` and 64 hex digits (the prefix may be left out), lower-cased.
pub(crate) fn parse_digest(text: &str) -> Result<String, String> {
    let hex = text.trim();
    let hex = hex.strip_prefix("sha256:").unwrap_or(hex);
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(format!("sha256:{}", hex.to_ascii_lowercase()))
    } else {
        Err(
            "expected sha256: and 64 hex digits, as the approval page and the log of `plan \
             --out` show it"
                .to_string(),
        )
    }
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

/// With a signing key, the file must carry a valid signature over `content`; without one, it
/// must carry none (it could not be checked).
fn check_signature(
    config: &Config,
    path: &Path,
    content: &Value,
    signature: Option<&Value>,
) -> Result<(), RunError> {
    let refused = |message: &str| RunError::SavedPlan {
        path: path.display().to_string(),
        message: message.to_string(),
    };
    let key = signing_key(config, &path.display().to_string())?;
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
            hmac::verify(&key, &signed_bytes(content), &mac).map_err(|_| {
                refused(
                    "the signature does not match: the plan was changed after it was signed, \
                     or signed with another key",
                )
            })
        }
    }
}

/// The key `[plans] signing_key` names, ready to sign with; `place` names the plan's file for an
/// error.
fn signing_key(config: &Config, place: &str) -> Result<Option<hmac::Key>, RunError> {
    let Some(reference) = &config.plans.signing_key else {
        return Ok(None);
    };
    let secret = reference.resolve("plans.signing_key")?;
    let bytes = secret.expose_secret().as_bytes();
    if bytes.len() < MIN_KEY_LEN {
        return Err(RunError::SavedPlan {
            path: place.to_string(),
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

    /// The every-lifecycle plan of the text renderer's tests, made with `config` at `made`.
    fn busy(config: &Config, made: DateTime<Utc>) -> Plan {
        let mut plan = crate::render::every_lifecycle();
        plan.generated_at = made;
        plan.config = Some(config.digest.clone());
        plan
    }

    /// The page's embedded JSON, edited by `change` as JSON and put back (escaped like hrsync
    /// does it), the rest of the page untouched.
    fn edit_embedded(page: &str, change: impl FnOnce(&mut Value)) -> String {
        let block = crate::render::html::embedded_plan(page).unwrap();
        let mut value: Value = serde_json::from_str(block).unwrap();
        change(&mut value);
        let json = serde_json::to_string_pretty(&value)
            .unwrap()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026");
        page.replace(block, &format!("\n{json}\n"))
    }

    #[test]
    fn an_approval_page_reads_back_like_the_json_file_with_the_same_digest() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (json, html) = (dir.path().join("plan.json"), dir.path().join("plan.html"));
        let config = demo();
        let plan = busy(&config, now());
        save(&config, &plan, &json).unwrap();
        save_page(&config, &plan, &html).unwrap();
        let mode = std::fs::metadata(&html).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a page holds personal data like the JSON");
        let (from_json, json_origin) = load(&config, &json, now()).unwrap();
        let (from_page, page_origin) = load(&config, &html, now()).unwrap();
        assert_eq!(from_page, from_json);
        assert_eq!(from_page, *plan.masked());
        assert_eq!(page_origin.digest, json_origin.digest);
        let text = std::fs::read_to_string(&html).unwrap();
        assert!(text.contains(&format!("id=\"plan-digest\">{}</code>", page_origin.digest)));
        // Printed to stdout, the page is the file's.
        assert_eq!(page(&config, &plan).unwrap(), text);

        // Signed: the page embeds the signature, and reads back.
        let signed = with_key(&dir, "key", &"k".repeat(40));
        save_page(&signed, &plan, &html).unwrap();
        let text = std::fs::read_to_string(&html).unwrap();
        assert!(text.contains("\"signature\": \"hmac-sha256:"));
        assert_eq!(
            load(&signed, &html, now()).unwrap().1.digest,
            json_origin.digest
        );
    }

    #[test]
    fn an_edited_approval_page_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.html");
        let config = demo();
        save_page(&config, &busy(&config, now()), &path).unwrap();
        let page = std::fs::read_to_string(&path).unwrap();
        let edited = |text: &str| {
            std::fs::write(&path, text).unwrap();
            message(load(&config, &path, now()))
        };

        // What it shows: a group add hidden from the approver.
        let hidden = page.replacen(
            "Add to group <strong>vpn</strong>",
            "Note <strong>vpn</strong>",
            1,
        );
        assert_ne!(hidden, page);
        assert!(edited(&hidden).contains("not the page of the plan it embeds"));
        // What it holds: a group added that the page does not show.
        let forged = edit_embedded(&page, |v| {
            v["accounts"][0]["changes"][1]["group"] = Value::from("cn=admins,dc=ex");
        });
        assert!(edited(&forged).contains("not the page of the plan it embeds"));
        // A second plan beside the first, and none at all.
        let block = crate::render::html::embedded_plan(&page).unwrap();
        let twice = page.replace(
            "</body>",
            &format!(
                "<script type=\"application/json\" id=\"hrsync-plan\">{block}</script></body>"
            ),
        );
        assert!(edited(&twice).contains("more than one embedded plan"));
        assert!(
            edited("<!DOCTYPE html><p>approved</p>").contains("without hrsync's embedded plan")
        );
        // Not a page hrsync could have written, whatever it embeds.
        assert!(edited(&format!("<!--x-->{page}")).contains("not the page"));
        std::fs::write(&path, &page).unwrap();
        assert!(load(&config, &path, now()).is_ok());
    }

    /// Someone who rebuilds a whole consistent page around an edited plan (with hrsync's own
    /// renderer) meets the signature; without a key, its digest is not the approved one (and the
    /// re-planning refuses what a fresh plan does not hold, see `plan::approval`).
    #[test]
    fn a_rebuilt_page_is_refused_by_its_signature_or_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.html");
        let rebuild = |config: &Config| {
            let page = std::fs::read_to_string(&path).unwrap();
            let block = crate::render::html::embedded_plan(&page).unwrap();
            let mut value: Value = serde_json::from_str(block).unwrap();
            value["accounts"][0]["changes"][1]["group"] = Value::from("cn=admins,dc=ex");
            let mut content = value.clone();
            content.as_object_mut().unwrap().remove(SIGNATURE_KEY);
            let plan: Plan = serde_json::from_value(content.clone()).unwrap();
            let forged = crate::render::html::page(&plan, &value, &digest_of(&content));
            std::fs::write(&path, forged).unwrap();
            load(config, &path, now())
        };
        let signed = with_key(&dir, "key", &"k".repeat(40));
        save_page(&signed, &busy(&signed, now()), &path).unwrap();
        assert!(message(rebuild(&signed)).contains("the signature does not match"));

        let config = demo();
        save_page(&config, &busy(&config, now()), &path).unwrap();
        let (_, approved) = load(&config, &path, now()).unwrap();
        let (_, origin) = rebuild(&config).unwrap();
        let refused = check_digest(&origin, &approved.digest, &path).unwrap_err();
        let RunError::SavedPlan { message, .. } = refused else {
            panic!("{refused}")
        };
        assert!(
            message.contains(&origin.digest) && message.contains(&approved.digest),
            "{message}"
        );
        assert!(message.contains("not the plan that was approved; nothing applied"));
        assert!(check_digest(&approved, &approved.digest.to_uppercase(), &path).is_ok());
    }

    #[test]
    fn a_digest_is_sha256_and_64_hex_digits() {
        let hex = "AB".repeat(32);
        let expected = format!("sha256:{}", hex.to_lowercase());
        assert_eq!(parse_digest(&format!("sha256:{hex}")).unwrap(), expected);
        assert_eq!(parse_digest(&hex).unwrap(), expected);
        for bad in [
            "",
            "sha256:",
            "sha256:abc",
            "md5:00",
            &"g".repeat(64),
            &"a".repeat(65),
        ] {
            assert!(parse_digest(bad).is_err(), "{bad}");
        }
    }
}
