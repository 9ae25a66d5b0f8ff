//! Is this delivery from the HR system, and recent? Each source's signature is checked in
//! constant time (`aws_lc_rs::hmac::verify`) over the raw body before anything in it is read,
//! and the time it was sent must be within the replay window either way.
//!
//! The schemes, as their vendors document them (checked 2026-12-04):
//! - BambooHR (<https://documentation.bamboohr.com/docs/webhooks>): HTTPS only; each webhook
//!   has a private key, shown once when it is created; `X-BambooHR-Signature` is the hex
//!   HMAC-SHA256, with that key, of the raw body followed by the `X-BambooHR-Timestamp` header
//!   (the time the request was sent, Unix seconds). No delivery id: a replay is the same
//!   signature and timestamp again.
//! - HiBob (<https://apidocs.hibob.com/docs/working-with-webhooks>): `Bob-Signature` is the
//!   HMAC-SHA512 of the request payload with the webhook's secret, base64. No timestamp
//!   header and no event id: the signed payload's `triggeredAt` (ISO 8601; the documented
//!   example has no offset, read as UTC) is the time checked, once the signature holds. It is
//!   when the event happened, so a retry by HiBob later than the window is refused as stale
//!   (the next full run covers that employee). Bob checks a new listener with an unsigned "Ping test" POST, which must
//!   be answered 2xx (see `payload::is_ping`).
//! - Standard Webhooks (<https://www.standardwebhooks.com>, the spec in
//!   github.com/standard-webhooks/standard-webhooks): `webhook-id`, `webhook-timestamp` (Unix
//!   seconds) and `webhook-signature`, a space-separated list of `v1,<base64 HMAC-SHA256 of
//!   "{id}.{timestamp}.{body}">` (any one valid is enough; other versions are ignored); the
//!   secret is `whsec_` and the key in base64.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use aws_lc_rs::{digest, hmac};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hyper::HeaderMap;

/// How a source signs its deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    Bamboohr,
    Hibob,
    StandardWebhooks,
}

/// The key a source's secret gives: for Standard Webhooks the bytes the `whsec_` secret
/// encodes, for the others the secret as written. The error never quotes the secret.
pub fn key(scheme: Scheme, secret: &str) -> Result<Vec<u8>, String> {
    let secret = secret.trim();
    let key = match scheme {
        Scheme::StandardWebhooks => {
            let encoded = secret.strip_prefix("whsec_").ok_or(
                "a Standard Webhooks secret starts with whsec_ (followed by the key in base64)",
            )?;
            STANDARD
                .decode(encoded)
                .map_err(|_| "the part after whsec_ is not base64".to_string())?
        }
        Scheme::Bamboohr | Scheme::Hibob => secret.as_bytes().to_vec(),
    };
    if key.len() < 16 {
        return Err("the key is shorter than 16 bytes: copy the whole secret".to_string());
    }
    Ok(key)
}

/// A delivery whose signature and time hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// What tells this delivery from any other, for replay detection: the sender's id, or a
    /// digest of the signature and its time.
    pub delivery: String,
    pub sent_at: Option<DateTime<Utc>>,
}

/// Why a delivery is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    MissingHeader(&'static str),
    BadSignature,
    Stale { age_secs: i64 },
    Malformed(String),
}

impl Rejected {
    /// The metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_header",
            Self::BadSignature => "signature",
            Self::Stale { .. } => "stale",
            Self::Malformed(_) => "malformed",
        }
    }
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingHeader(name) => write!(f, "header {name} is missing"),
            Self::BadSignature => write!(f, "the signature does not match the body"),
            Self::Stale { age_secs } if *age_secs < 0 => {
                write!(f, "sent {} s in the future", -age_secs)
            }
            Self::Stale { age_secs } => write!(f, "sent {age_secs} s ago, outside the window"),
            Self::Malformed(what) => write!(f, "{what}"),
        }
    }
}

/// Checks a delivery of `scheme` signed with `key`: the signature over `body` (and what else
/// the scheme signs), then its time within `window` of `now`.
pub fn verify(
    scheme: Scheme,
    key: &[u8],
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
    window: Duration,
) -> Result<Verified, Rejected> {
    let verified = match scheme {
        Scheme::Bamboohr => bamboohr(key, headers, body)?,
        Scheme::Hibob => hibob(key, headers, body)?,
        Scheme::StandardWebhooks => standard(key, headers, body)?,
    };
    if let Some(sent) = verified.sent_at {
        let age = (now - sent).num_seconds();
        if age.unsigned_abs() > window.as_secs() {
            return Err(Rejected::Stale { age_secs: age });
        }
    }
    Ok(verified)
}

fn header<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<&'h str, Rejected> {
    let value = headers.get(name).ok_or(Rejected::MissingHeader(name))?;
    value
        .to_str()
        .map(str::trim)
        .map_err(|_| Rejected::Malformed(format!("header {name} is not text")))
}

fn unix_time(value: &str, name: &str) -> Result<DateTime<Utc>, Rejected> {
    value
        .parse::<i64>()
        .ok()
        .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0))
        .ok_or_else(|| Rejected::Malformed(format!("header {name} is not a Unix time")))
}

/// Whether `tag` is the HMAC of `message` with `key`, compared in constant time by aws-lc.
fn holds(algorithm: hmac::Algorithm, key: &[u8], message: &[&[u8]], tag: &[u8]) -> bool {
    hmac::verify(&hmac::Key::new(algorithm, key), &message.concat(), tag).is_ok()
}

/// A digest naming a delivery without an id of its own.
fn fingerprint(parts: &[&[u8]]) -> String {
    let mut context = digest::Context::new(&digest::SHA256);
    for part in parts {
        context.update(part);
        context.update(b"\0");
    }
    context
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn bamboohr(key: &[u8], headers: &HeaderMap, body: &[u8]) -> Result<Verified, Rejected> {
    let signature = header(headers, "x-bamboohr-signature")?;
    let timestamp = header(headers, "x-bamboohr-timestamp")?;
    let tag = decode_hex(signature)
        .ok_or_else(|| Rejected::Malformed("X-BambooHR-Signature is not hex".into()))?;
    if !holds(hmac::HMAC_SHA256, key, &[body, timestamp.as_bytes()], &tag) {
        return Err(Rejected::BadSignature);
    }
    Ok(Verified {
        delivery: fingerprint(&[b"bamboohr", &tag, timestamp.as_bytes()]),
        sent_at: Some(unix_time(timestamp, "X-BambooHR-Timestamp")?),
    })
}

fn hibob(key: &[u8], headers: &HeaderMap, body: &[u8]) -> Result<Verified, Rejected> {
    let signature = header(headers, "bob-signature")?;
    let tag = STANDARD
        .decode(signature)
        .map_err(|_| Rejected::Malformed("Bob-Signature is not base64".into()))?;
    if !holds(hmac::HMAC_SHA512, key, &[body], &tag) {
        return Err(Rejected::BadSignature);
    }
    // Signed, so its time can be read: `triggeredAt` (an unreadable body is the payload
    // reader's to refuse).
    let sent_at = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("triggeredAt")?.as_str().map(str::to_string))
        .map(|at| {
            // HiBob's documented example has no offset ("2025-01-08T13:06:26.915906"): UTC.
            DateTime::parse_from_rfc3339(&at)
                .map(|t| t.with_timezone(&Utc))
                .or_else(|_| {
                    chrono::NaiveDateTime::parse_from_str(&at, "%Y-%m-%dT%H:%M:%S%.f")
                        .map(|t| t.and_utc())
                })
                .map_err(|_| Rejected::Malformed("triggeredAt is not an ISO 8601 time".into()))
        })
        .transpose()?;
    Ok(Verified {
        delivery: fingerprint(&[b"hibob", &tag]),
        sent_at,
    })
}

fn standard(key: &[u8], headers: &HeaderMap, body: &[u8]) -> Result<Verified, Rejected> {
    let id = header(headers, "webhook-id")?;
    let timestamp = header(headers, "webhook-timestamp")?;
    let signatures = header(headers, "webhook-signature")?;
    if id.is_empty() || id.len() > 256 || id.contains('.') {
        return Err(Rejected::Malformed(
            "webhook-id is empty, too long or has a '.'".into(),
        ));
    }
    let message: [&[u8]; 5] = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body];
    let mut v1 = 0;
    for signature in signatures.split_whitespace() {
        let Some(encoded) = signature.strip_prefix("v1,") else {
            continue;
        };
        v1 += 1;
        let Ok(tag) = STANDARD.decode(encoded) else {
            continue;
        };
        if holds(hmac::HMAC_SHA256, key, &message, &tag) {
            return Ok(Verified {
                delivery: format!("standard:{id}"),
                sent_at: Some(unix_time(timestamp, "webhook-timestamp")?),
            });
        }
    }
    if v1 == 0 {
        return Err(Rejected::Malformed(
            "webhook-signature has no v1 signature".into(),
        ));
    }
    Err(Rejected::BadSignature)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || text.len() > 256 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The deliveries seen within the window, for replay detection; bounded in size.
pub struct Seen {
    window: Duration,
    capacity: usize,
    by_id: BTreeMap<String, DateTime<Utc>>,
    order: VecDeque<(DateTime<Utc>, String)>,
}

impl Seen {
    pub fn new(window: Duration, capacity: usize) -> Self {
        Self {
            window,
            capacity: capacity.max(1),
            by_id: BTreeMap::new(),
            order: VecDeque::new(),
        }
    }

    /// `true` the first time `delivery` is seen within the window (and remembers it).
    pub fn first(&mut self, delivery: &str, now: DateTime<Utc>) -> bool {
        let window = chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::MAX);
        while let Some((at, _)) = self.order.front() {
            if now - *at >= window || self.order.len() >= self.capacity {
                if let Some((at, id)) = self.order.pop_front()
                    && self.by_id.get(&id) == Some(&at)
                {
                    self.by_id.remove(&id);
                }
            } else {
                break;
            }
        }
        if self.by_id.contains_key(delivery) {
            return false;
        }
        self.by_id.insert(delivery.to_string(), now);
        self.order.push_back((now, delivery.to_string()));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(secs, 0).unwrap()
    }

    const WINDOW: Duration = Duration::from_secs(300);

    /// The Standard Webhooks specification's own test vector (the reference libraries' tests:
    /// secret, id, timestamp, payload and the signature they expect).
    #[test]
    fn standard_webhooks_verifies_the_specifications_test_vector() {
        let key = key(
            Scheme::StandardWebhooks,
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        )
        .unwrap();
        let body = br#"{"test": 2432232314}"#;
        let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let h = |signature: &str, id: &str| {
            headers(&[
                ("webhook-id", id),
                ("webhook-timestamp", "1614265330"),
                ("webhook-signature", signature),
            ])
        };
        let now = at(1_614_265_330 + 10);
        let ok = verify(
            Scheme::StandardWebhooks,
            &key,
            &h(good, "msg_p5jXN8AQM9LWM0D4loKWxJek"),
            body,
            now,
            WINDOW,
        );
        assert_eq!(
            ok.unwrap().delivery,
            "standard:msg_p5jXN8AQM9LWM0D4loKWxJek"
        );
        // A rotated secret: the second signature of the list is the valid one.
        let rotated = format!("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= {good}");
        assert!(
            verify(
                Scheme::StandardWebhooks,
                &key,
                &h(&rotated, "msg_p5jXN8AQM9LWM0D4loKWxJek"),
                body,
                now,
                WINDOW
            )
            .is_ok()
        );
        // Another id, another body, only a v2 signature, stale, future.
        let wrong = verify(
            Scheme::StandardWebhooks,
            &key,
            &h(good, "msg_other"),
            body,
            now,
            WINDOW,
        );
        assert_eq!(wrong.unwrap_err(), Rejected::BadSignature);
        let altered = verify(
            Scheme::StandardWebhooks,
            &key,
            &h(good, "msg_p5jXN8AQM9LWM0D4loKWxJek"),
            br#"{"test": 2432232315}"#,
            now,
            WINDOW,
        );
        assert_eq!(altered.unwrap_err(), Rejected::BadSignature);
        let v2 = verify(
            Scheme::StandardWebhooks,
            &key,
            &h(
                "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
            ),
            body,
            now,
            WINDOW,
        );
        assert_eq!(v2.unwrap_err().reason(), "malformed");
        for now in [at(1_614_265_330 + 301), at(1_614_265_330 - 301)] {
            let stale = verify(
                Scheme::StandardWebhooks,
                &key,
                &h(good, "msg_p5jXN8AQM9LWM0D4loKWxJek"),
                body,
                now,
                WINDOW,
            );
            assert_eq!(stale.unwrap_err().reason(), "stale");
        }
        let missing = verify(
            Scheme::StandardWebhooks,
            &key,
            &headers(&[("webhook-id", "x")]),
            body,
            now,
            WINDOW,
        );
        assert_eq!(
            missing.unwrap_err(),
            Rejected::MissingHeader("webhook-timestamp")
        );
    }

    /// BambooHR: the signature was computed independently of this code, with
    /// `printf '%s' '{"employees":[{"id":"1803"}]}1700000000' | openssl dgst -sha256 -hmac 'bamboo-key'`.
    #[test]
    fn bamboohr_signs_the_body_followed_by_the_timestamp() {
        let key = b"bamboo-key";
        let body = br#"{"employees":[{"id":"1803"}]}"#;
        let signature = "30bf39678aa33986fd131d5cb15520fc19d582c5c2ae0df1089c14af0aac6436";
        let h = |signature: &str, timestamp: &str| {
            headers(&[
                ("x-bamboohr-signature", signature),
                ("x-bamboohr-timestamp", timestamp),
            ])
        };
        let now = at(1_700_000_100);
        let ok = verify(
            Scheme::Bamboohr,
            key,
            &h(signature, "1700000000"),
            body,
            now,
            WINDOW,
        )
        .unwrap();
        assert_eq!(ok.sent_at, Some(at(1_700_000_000)));
        let upper = signature.to_uppercase();
        assert!(
            verify(
                Scheme::Bamboohr,
                key,
                &h(&upper, "1700000000"),
                body,
                now,
                WINDOW
            )
            .is_ok()
        );
        let shifted = verify(
            Scheme::Bamboohr,
            key,
            &h(signature, "1700000001"),
            body,
            now,
            WINDOW,
        );
        assert_eq!(
            shifted.unwrap_err(),
            Rejected::BadSignature,
            "the timestamp is signed"
        );
        let wrong_key = verify(
            Scheme::Bamboohr,
            b"other-key",
            &h(signature, "1700000000"),
            body,
            now,
            WINDOW,
        );
        assert_eq!(wrong_key.unwrap_err(), Rejected::BadSignature);
        let short = verify(
            Scheme::Bamboohr,
            key,
            &h(&signature[..62], "1700000000"),
            body,
            now,
            WINDOW,
        );
        assert_eq!(short.unwrap_err(), Rejected::BadSignature);
        let not_hex = verify(
            Scheme::Bamboohr,
            key,
            &h("zz", "1700000000"),
            body,
            now,
            WINDOW,
        );
        assert_eq!(not_hex.unwrap_err().reason(), "malformed");
        let stale = verify(
            Scheme::Bamboohr,
            key,
            &h(signature, "1700000000"),
            body,
            at(1_700_000_400),
            WINDOW,
        );
        assert_eq!(stale.unwrap_err().reason(), "stale");
        let unsigned = verify(
            Scheme::Bamboohr,
            key,
            &headers(&[("x-bamboohr-timestamp", "1")]),
            body,
            now,
            WINDOW,
        );
        assert_eq!(
            unsigned.unwrap_err(),
            Rejected::MissingHeader("x-bamboohr-signature")
        );
    }

    /// HiBob: base64 HMAC-SHA512 of the body, computed with `printf '%s' BODY | openssl dgst
    /// -sha512 -hmac 'hibob-secret' -binary | base64 -w0`.
    #[test]
    fn hibob_signs_the_body_with_sha512_in_base64() {
        let key = b"hibob-secret";
        let body = br#"{"type":"employee.left","data":{"employeeId":"1803"}}"#;
        let signature = "Eaer4bINyvTDZVsCMW17g9wM1s41sJXVNesuGd3Tk//TboYjNJPi969ehaJt0YyDuU0NqMM7HMHK/JhXvVu0Zw==";
        let now = at(1_700_000_000);
        let ok = verify(
            Scheme::Hibob,
            key,
            &headers(&[("bob-signature", signature)]),
            body,
            now,
            WINDOW,
        );
        assert_eq!(ok.unwrap().sent_at, None, "no triggeredAt in this body");
        let altered = verify(
            Scheme::Hibob,
            key,
            &headers(&[("bob-signature", signature)]),
            br#"{"type":"employee.left","data":{"employeeId":"1804"}}"#,
            now,
            WINDOW,
        );
        assert_eq!(altered.unwrap_err(), Rejected::BadSignature);
        // A signed triggeredAt an hour old is stale.
        let old = br#"{"type":"employee.left","triggeredAt":"2023-11-14T22:13:20Z","data":{"employeeId":"1803"}}"#;
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA512, key), old);
        let signed = STANDARD.encode(tag.as_ref());
        let stale = verify(
            Scheme::Hibob,
            key,
            &headers(&[("bob-signature", &signed)]),
            old,
            at(1_700_000_000 + 3600),
            WINDOW,
        );
        assert_eq!(stale.unwrap_err().reason(), "stale");
        let naive = br#"{"type":"employee.left","triggeredAt":"2023-11-14T22:13:20.915906","data":{"employeeId":"1803"}}"#;
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA512, key), naive);
        let signed_naive = STANDARD.encode(tag.as_ref());
        let read = verify(
            Scheme::Hibob,
            key,
            &headers(&[("bob-signature", &signed_naive)]),
            naive,
            at(1_700_000_030),
            WINDOW,
        );
        assert!(
            read.unwrap().sent_at.is_some(),
            "a time without an offset is UTC"
        );
        assert!(
            verify(
                Scheme::Hibob,
                key,
                &headers(&[("bob-signature", &signed)]),
                old,
                at(1_700_000_060),
                WINDOW
            )
            .is_ok()
        );
    }

    #[test]
    fn secrets_are_read_by_scheme_and_never_quoted() {
        assert_eq!(
            key(
                Scheme::StandardWebhooks,
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            )
            .unwrap()
            .len(),
            24
        );
        let error = key(Scheme::StandardWebhooks, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err();
        assert!(
            error.contains("whsec_") && !error.contains("MfKQ9"),
            "{error}"
        );
        assert!(key(Scheme::Bamboohr, "short").is_err());
    }

    #[test]
    fn a_delivery_is_new_once_within_the_window_and_the_memory_is_bounded() {
        let mut seen = Seen::new(Duration::from_secs(600), 3);
        assert!(seen.first("a", at(0)));
        assert!(!seen.first("a", at(10)), "a replay");
        assert!(seen.first("a", at(700)), "forgotten after the window");
        for (n, id) in ["b", "c", "d", "e"].iter().enumerate() {
            assert!(seen.first(id, at(700 + n as i64)));
        }
        assert!(seen.by_id.len() <= 3 && seen.order.len() <= 3);
    }
}
