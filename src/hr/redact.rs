//! What an HR server sends back in an error may hold the credentials it was sent: a debugging
//! gateway that echoes the request, a framework's error page that dumps its headers, a token
//! endpoint that repeats the form it refused. Before any of it goes into an error or a log line,
//! [`Redactor::excerpt`] takes out the configured credentials' values and anything shaped like
//! a credential, and only then keeps a short excerpt. Redacting first matters: a secret cut in
//! half by the excerpt's end would no longer be found, and its first half would show.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use secrecy::{ExposeSecret, SecretString};

use super::error::clean_excerpt;

/// What a credential is replaced with.
pub(crate) const REDACTED: &str = "[REDACTED]";

/// The longest excerpt of an error body, in characters, the ellipsis included.
pub(crate) const EXCERPT_CHARS: usize = 200;

/// A configured value shorter than this is not looked for: it would match ordinary text, and a
/// credential this short protects nothing (BambooHR's ignored password is conventionally `x`).
const SHORTEST_SECRET: usize = 4;

/// Names after which a value is a credential whatever it is: `"access_token": "…"`,
/// `client_secret=…`, `Authorization: …`. Matched ignoring case, anywhere in a word, so
/// `x-api-key` and `refresh_token` are covered by `api-key` and `token`.
const CREDENTIAL_NAMES: [&str; 10] = [
    "token",
    "secret",
    "password",
    "passwd",
    "api_key",
    "api-key",
    "apikey",
    "authorization",
    "assertion",
    "cookie",
];

/// Authentication schemes whose next word is a credential: `Bearer eyJ…`, `Basic dXNl…`.
const SCHEMES: [&str; 5] = ["bearer", "basic", "token", "digest", "negotiate"];

/// The values to take out of text from an HR server: the credentials as configured, and how
/// they travel (in a form, in JSON, as HTTP basic auth).
#[derive(Default)]
pub(crate) struct Redactor {
    values: Vec<SecretString>,
}

impl Redactor {
    /// Looks for `secret` (and its URL-encoded and JSON-escaped forms) from now on.
    pub(crate) fn add(&mut self, secret: &str) {
        if secret.chars().count() < SHORTEST_SECRET {
            return;
        }
        let mut forms = vec![secret.to_string()];
        let encoded: String = url_encoded(secret);
        let escaped = serde_json::to_string(secret).unwrap_or_default();
        let escaped = escaped.trim_matches('"');
        for form in [encoded, escaped.to_string(), escaped.replace('/', "\\/")] {
            if !forms.contains(&form) {
                forms.push(form);
            }
        }
        self.values
            .extend(forms.into_iter().map(SecretString::from));
    }

    /// Looks for HTTP basic credentials: each part, and the two as the header carries them.
    pub(crate) fn add_basic(&mut self, username: &str, password: Option<&str>) {
        self.add(username);
        if let Some(password) = password {
            self.add(password);
        }
        let pair = format!("{username}:{}", password.unwrap_or_default());
        self.add(&BASE64.encode(pair));
    }

    /// `body` with every credential taken out, cleaned of control characters and cut to
    /// [`EXCERPT_CHARS`].
    pub(crate) fn excerpt(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let redacted = self.redact(&text);
        clean_excerpt(redacted.as_bytes(), EXCERPT_CHARS - 1)
    }

    /// `text` with the configured values and anything shaped like a credential replaced by
    /// [`REDACTED`].
    pub(crate) fn redact(&self, text: &str) -> String {
        // Longest first, so that a value containing another is taken out whole.
        let mut values: Vec<&str> = self.values.iter().map(|v| v.expose_secret()).collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let mut out = text.to_string();
        for value in values {
            if out.contains(value) {
                out = out.replace(value, REDACTED);
            }
        }
        redact_shapes(&out)
    }
}

/// `value` as `application/x-www-form-urlencoded` writes it.
fn url_encoded(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Takes out what looks like a credential whatever its value: a word after an authentication
/// scheme (`Bearer …`), and a value after a credential's name (`"access_token": "…"`,
/// `password=…`).
pub(crate) fn redact_shapes(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while at < text.len() {
        let Some(value) = credential_at(text, &lower, at) else {
            at += lower[at..].chars().next().map_or(1, char::len_utf8);
            continue;
        };
        out.push_str(&text[copied..value.start]);
        out.push_str(REDACTED);
        copied = value.end;
        at = value.end.max(at + 1);
    }
    out.push_str(&text[copied..]);
    out
}

/// The byte range of a credential's value introduced at `at` in `text` (`lower` is the text in
/// ASCII lower case, so its byte positions are the text's), if a scheme or a credential's name
/// starts there.
fn credential_at(text: &str, lower: &str, at: usize) -> Option<std::ops::Range<usize>> {
    let word_start = at == 0 || !is_word(lower.as_bytes()[at - 1]);
    if word_start {
        if let Some(value) = after_scheme(text, lower, at) {
            return Some(value);
        }
    }
    let rest = &lower[at..];
    CREDENTIAL_NAMES
        .iter()
        .find(|name| rest.starts_with(*name))
        .and_then(|name| value_after_name(text, lower, at + name.len()))
}

/// The token after an authentication scheme at `at` (`Bearer eyJ…`), when it looks like one:
/// "Basic authentication failed" names a scheme, it does not carry a credential.
fn after_scheme(text: &str, lower: &str, at: usize) -> Option<std::ops::Range<usize>> {
    let rest = &lower[at..];
    let scheme = SCHEMES.iter().find(|scheme| rest.starts_with(*scheme))?;
    let after = &rest[scheme.len()..];
    let gap = after.len() - after.trim_start_matches([' ', '\t']).len();
    if gap == 0 {
        return None;
    }
    let start = at + scheme.len() + gap;
    let end = start + token_length(&lower[start..]);
    let token = &text[start..end];
    (looks_like_credential(token) && token != REDACTED).then_some(start..end)
}

/// Whether a word is more likely a credential than prose: it holds a digit or a symbol, or a
/// capital letter after its first letter (base64 does, words seldom do).
fn looks_like_credential(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .enumerate()
            .any(|(i, c)| !c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_uppercase()))
}

/// The value after a credential's name ending at `from`: the rest of the name, a closing
/// quote, `:` or `=`, blanks, and an optional opening quote, then the value up to its closing
/// quote or the next delimiter. An unquoted value that starts with a scheme (`Authorization:
/// Token abc`) runs on to the token after it.
fn value_after_name(text: &str, lower: &str, from: usize) -> Option<std::ops::Range<usize>> {
    let bytes = lower.as_bytes();
    let mut i = from;
    while i < bytes.len() && (is_word(bytes[i]) || bytes[i] == b'-') {
        i += 1;
    }
    while i < bytes.len() && matches!(bytes[i], b'"' | b'\'' | b' ' | b'\t') {
        i += 1;
    }
    if i >= bytes.len() || !matches!(bytes[i], b':' | b'=') {
        return None;
    }
    i += 1;
    while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
        i += 1;
    }
    let quote = bytes.get(i).copied().filter(|b| matches!(b, b'"' | b'\''));
    let start = i + usize::from(quote.is_some());
    let end = match quote {
        Some(quote) => quoted_end(bytes, start, quote),
        None => match after_scheme(text, lower, start) {
            Some(token) => token.end,
            None => start + unquoted_length(&lower[start..]),
        },
    };
    (end > start && &text[start..end] != REDACTED).then_some(start..end)
}

/// The end of a quoted value starting at `start`: its closing quote (a backslash escapes one),
/// or the end of the text.
fn quoted_end(bytes: &[u8], start: usize, quote: u8) -> usize {
    let mut i = start;
    while i < bytes.len() && bytes[i] != quote {
        i += if bytes[i] == b'\\' { 2 } else { 1 };
    }
    i.min(bytes.len())
}

/// The length of an unquoted value: up to a blank, a separator or a bracket.
fn unquoted_length(text: &str) -> usize {
    text.find(|c: char| c.is_whitespace() || ",;&}])\"'<>".contains(c))
        .unwrap_or(text.len())
}

/// The length of a token after a scheme: base64, base64url and the usual token characters.
fn token_length(text: &str) -> usize {
    text.find(|c: char| !(c.is_ascii_alphanumeric() || "-._~+/=".contains(c)))
        .unwrap_or(text.len())
}

fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(values: &[&str]) -> Redactor {
        let mut redactor = Redactor::default();
        for value in values {
            redactor.add(value);
        }
        redactor
    }

    #[test]
    fn configured_values_are_taken_out_in_every_form_they_travel_in() {
        let redactor = redactor(&["s3cr3t/Tok+en=="]);
        for body in [
            "echo: s3cr3t/Tok+en==",
            "form: x=s3cr3t%2FTok%2Ben%3D%3D",
            "json: {\"x\": \"s3cr3t\\/Tok+en==\"}",
        ] {
            let out = redactor.redact(body);
            assert!(!out.contains("s3cr3t"), "{body} -> {out}");
            assert!(out.contains(REDACTED), "{out}");
        }
        let mut basic = Redactor::default();
        basic.add_basic("SERVICE-USER-1", Some("hibob-token-42"));
        let header = format!("Basic {}", BASE64.encode("SERVICE-USER-1:hibob-token-42"));
        let out = basic.redact(&format!("you sent authorization={header}"));
        assert!(!out.contains(&header[6..]), "{out}");
    }

    #[test]
    fn credential_shapes_are_taken_out_whatever_their_value() {
        let cases = [
            ("Authorization: Bearer eyJhbGciOi.J9x-y_z", "eyJhbGciOi"),
            ("{\"access_token\":\"at-123456\",\"x\":1}", "at-123456"),
            ("{\"refresh_token\" : \"rt 7 8\"}", "rt 7 8"),
            ("client_secret=cs-998877&grant_type=x", "cs-998877"),
            ("password: hunter2hunter2", "hunter2"),
            ("X-API-Key: k-445566", "k-445566"),
            ("header was 'basic dXNlcjpwYXNz'", "dXNlcjpwYXNz"),
            ("token=abc.def", "abc.def"),
        ];
        for (text, secret) in cases {
            let out = redact_shapes(text);
            assert!(!out.contains(secret), "{text} -> {out}");
            assert!(out.contains(REDACTED), "{text} -> {out}");
        }
        // Ordinary words are left alone.
        for text in [
            "the token expired",
            "invalid password",
            "Basic authentication failed",
        ] {
            assert_eq!(redact_shapes(text), text);
        }
        assert_eq!(
            redact_shapes("{\"error\":\"invalid_grant\",\"token\":\"x1\"}"),
            "{\"error\":\"invalid_grant\",\"token\":\"[REDACTED]\"}"
        );
    }

    #[test]
    fn the_excerpt_is_redacted_before_it_is_cut_and_stays_short() {
        let token = "T".repeat(40);
        let body = format!("{}{token}{}", "a".repeat(180), "b".repeat(500));
        let out = redactor(&[&token]).excerpt(body.as_bytes());
        assert!(!out.contains("TTTT"), "{out}");
        assert!(
            out.chars().count() <= EXCERPT_CHARS,
            "{}",
            out.chars().count()
        );
    }

    #[test]
    fn short_values_are_not_looked_for() {
        assert_eq!(redactor(&["x"]).redact("max x"), "max x");
    }
}
