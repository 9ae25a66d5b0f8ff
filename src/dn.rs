//! Distinguished names that compare the way a directory compares them.
//!
//! Servers hand DNs back in whatever spelling they were stored with (`cn=A, ou=People` versus
//! `CN=a,OU=people`), and group `member` values are whatever the writer wrote. Comparing them as
//! strings would make hrsync add a member that is already there or miss one it should remove. A
//! [`Dn`] keeps the spelling it was given for display and for writing, and compares by a
//! normalised key: attribute types lower-cased, values unescaped, then lower-cased and re-escaped.
//! Lower-casing values is right for the naming attributes of people, groups and containers
//! (`cn`, `uid`, `ou`, `dc`, `o`, `l`), which all match case-insensitively.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string is not a DN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{input}' is not a valid DN: {reason}")]
pub struct DnError {
    pub input: String,
    pub reason: &'static str,
}

/// A parsed DN. Cloning is cheap (the text is shared): plans and snapshots hold the same DN in
/// many places, and a company-scale directory has hundreds of thousands of them.
#[derive(Clone)]
pub struct Dn {
    raw: Arc<str>,
    /// The comparison key; `None` when it is spelled exactly like `raw` (a lower-case DN without
    /// escapes or spaces, the usual case), so such a DN is one allocation.
    key: Option<Arc<str>>,
    /// Byte offset in `raw` where the parent DN starts (after the first unescaped comma), or
    /// `raw.len()` when the DN has a single RDN.
    parent_at: usize,
    /// The same offset in the key.
    key_parent_at: usize,
}

/// `value` escaped as an attribute value in a DN, the way RFC 4514 (section 2.4) writes a DN as
/// a string: `"` `+` `,` `;` `<` `>` `\` with a backslash before them, a space or `#` at the
/// start and a space at the end likewise, and NUL as `\00`. The value then reads back whole, as
/// one value. (A server may give the DN back spelled its own way, OpenLDAP as `\2C`: compare
/// DNs as [`Dn`]s, never as text.)
pub fn escape_value(value: &str) -> String {
    let last = value.chars().count().saturating_sub(1);
    let mut out = String::with_capacity(value.len() + 4);
    for (i, c) in value.chars().enumerate() {
        match c {
            '\0' => out.push_str("\\00"),
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            _ => out.push(c),
        }
    }
    out
}

/// One `type=value` pair of an RDN, value unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ava {
    pub attr: String,
    pub value: String,
}

impl Dn {
    /// Parses an RFC 4514 string DN.
    pub fn parse(input: &str) -> Result<Self, DnError> {
        let trimmed = input.trim();
        if let Some(dn) = Self::parse_plain(trimmed) {
            return Ok(dn);
        }
        let err = |reason| DnError {
            input: input.to_string(),
            reason,
        };
        if trimmed.is_empty() {
            return Err(err("it is empty"));
        }
        let (key, parent_at, key_parent_at) = Self::parse_general(trimmed).map_err(err)?;
        Ok(Self::from_parts(trimmed, key, parent_at, key_parent_at))
    }

    /// Any DN (trimmed, not empty): its key, and where the parent starts in the text and in the
    /// key (`usize::MAX` in the key for a single RDN).
    fn parse_general(dn: &str) -> Result<(String, usize, usize), &'static str> {
        let rdns = split_rdns(dn)?;
        let mut key = String::with_capacity(dn.len());
        let mut key_parent_at = None;
        for (i, (rdn, _)) in rdns.iter().enumerate() {
            if i > 0 {
                key.push(',');
                key_parent_at.get_or_insert(key.len());
            }
            let mut avas = parse_rdn(rdn)?;
            // Multi-valued RDNs compare regardless of the order their parts were written in.
            avas.sort_by(|a, b| (&a.attr, &a.value).cmp(&(&b.attr, &b.value)));
            for (j, ava) in avas.iter().enumerate() {
                if j > 0 {
                    key.push('+');
                }
                key.push_str(&ava.attr);
                key.push('=');
                key.push_str(&ldap3::dn_escape(ava.value.to_lowercase()));
            }
        }
        let parent_at = rdns.get(1).map_or(dn.len(), |(_, start)| *start);
        Ok((key, parent_at, key_parent_at.unwrap_or(usize::MAX)))
    }

    /// The common case without the general parser: `attr=value` RDNs joined by commas, where
    /// every byte is an ASCII letter, digit, `-`, `.`, `_` or `@`, or a single space inside a
    /// value (nothing to unescape or trim, no multi-valued RDNs). Its key is the lower-cased
    /// text, which is exactly what the general parser makes of it. Anything else returns `None`
    /// and takes the long way.
    fn parse_plain(input: &str) -> Option<Self> {
        let mut parent_at = None;
        // Per RDN: whether its `=` was seen, and how many bytes the type / value have.
        let (mut seen_eq, mut attr_len, mut value_len) = (false, 0usize, 0usize);
        let mut lower = true;
        for (i, b) in input.bytes().enumerate() {
            match b {
                b',' => {
                    if !seen_eq || attr_len == 0 || value_len == 0 {
                        return None;
                    }
                    parent_at.get_or_insert(i + 1);
                    (seen_eq, attr_len, value_len) = (false, 0, 0);
                }
                b'=' if !seen_eq => seen_eq = true,
                b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' => {
                    if seen_eq {
                        value_len += 1;
                    } else {
                        attr_len += 1;
                    }
                }
                b'A'..=b'Z' => {
                    lower = false;
                    if seen_eq {
                        value_len += 1;
                    } else {
                        attr_len += 1;
                    }
                }
                // Not in attribute types.
                b'_' | b'@' if seen_eq => value_len += 1,
                // Inside a value only (`CN=Ada Lovelace`): a leading or trailing space is
                // insignificant and would not be part of the key.
                b' ' if seen_eq
                    && value_len > 0
                    && !matches!(input.as_bytes().get(i + 1), None | Some(b',' | b' ')) =>
                {
                    value_len += 1
                }
                _ => return None,
            }
        }
        if !seen_eq || attr_len == 0 || value_len == 0 {
            return None;
        }
        let parent_at = parent_at.unwrap_or(input.len());
        let key = if lower {
            None
        } else {
            Some(Arc::from(input.to_ascii_lowercase()))
        };
        let raw: Arc<str> = Arc::from(input);
        Some(Self {
            key,
            raw,
            parent_at,
            key_parent_at: parent_at,
        })
    }

    fn from_parts(raw: &str, key: String, parent_at: usize, key_parent_at: usize) -> Self {
        let key_parent_at = key_parent_at.min(key.len());
        let key = (key != raw).then(|| Arc::from(key));
        Self {
            raw: Arc::from(raw),
            key,
            parent_at,
            key_parent_at,
        }
    }

    /// Builds `attr=value,parent` with `value` escaped: the way HR data enters an account's DN
    /// (the other is a template's `dn` filter, [`escape_value`]).
    pub fn child(attr: &str, value: &str, parent: &Dn) -> Result<Self, DnError> {
        Self::parse(&format!(
            "{attr}={},{}",
            ldap3::dn_escape(value),
            parent.as_str()
        ))
    }

    /// The DN as written, suitable for sending to a server.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The normalised comparison key.
    pub fn key(&self) -> &str {
        self.key.as_deref().unwrap_or(&self.raw)
    }

    /// The first RDN as written, for example `uid=jsmith` or `cn=Smith\, John`. An escaped
    /// space at its end (`cn=x\ `, how OpenLDAP writes a value's trailing space) is part of it.
    pub fn rdn(&self) -> &str {
        let mut rdn = &self.raw[..self.parent_at];
        if self.parent_at < self.raw.len() {
            rdn = trim_unescaped_spaces(rdn);
            rdn = rdn.strip_suffix(',').unwrap_or(rdn);
        }
        trim_unescaped_spaces(rdn)
    }

    /// The first RDN's attribute/value pairs, values unescaped.
    pub fn rdn_avas(&self) -> Vec<Ava> {
        parse_rdn(self.rdn()).unwrap_or_default()
    }

    /// The parent entry's DN, or `None` for a single-RDN DN.
    pub fn parent(&self) -> Option<Dn> {
        let rest = self.raw[self.parent_at..].trim();
        if rest.is_empty() {
            return None;
        }
        Dn::parse(rest).ok()
    }

    /// Whether `parent` is this DN's parent entry (without parsing anything).
    pub fn is_child_of(&self, parent: &Dn) -> bool {
        self.key().get(self.key_parent_at..) == Some(parent.key())
    }

    /// The same first RDN under another parent (`uid=j,ou=old` -> `uid=j,ou=new`), without
    /// parsing anything again.
    pub fn with_parent(&self, parent: &Dn) -> Dn {
        if self.is_child_of(parent) {
            return self.clone();
        }
        let key = self.key();
        let rdn_key = &key[..self.key_parent_at.min(key.len())];
        let rdn_key = rdn_key.strip_suffix(',').unwrap_or(rdn_key);
        let raw = format!("{},{}", self.rdn(), parent.as_str());
        let key = format!("{rdn_key},{}", parent.key());
        let (parent_at, key_parent_at) = (self.rdn().len() + 1, rdn_key.len() + 1);
        Self::from_parts(&raw, key, parent_at, key_parent_at)
    }

    /// Whether `self` is `base` or lies below it.
    pub fn is_within(&self, base: &Dn) -> bool {
        let (key, base) = (self.key(), base.key());
        key == base
            || (key.len() > base.len()
                && key.ends_with(base)
                && key.as_bytes()[key.len() - base.len() - 1] == b',')
    }
}

/// Splits a DN into RDN strings, each with the byte offset where it starts.
fn split_rdns(dn: &str) -> Result<Vec<(String, usize)>, &'static str> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    let mut chars = dn.char_indices().peekable();
    let mut in_quotes = false;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                current.push(c);
                match chars.next() {
                    Some((_, next)) => current.push(next),
                    None => return Err("it ends with a lone backslash"),
                }
            }
            '"' => {
                in_quotes = !in_quotes;
                current.push(c);
            }
            ',' | ';' if !in_quotes => {
                out.push((std::mem::take(&mut current), start));
                start = i + 1;
                // Skip spaces after the separator so the next RDN's offset points at its text.
                while let Some((j, ' ')) = chars.peek().copied() {
                    chars.next();
                    start = j + 1;
                }
            }
            _ => current.push(c),
        }
    }
    if in_quotes {
        return Err("it has an unterminated quote");
    }
    out.push((current, start));
    if out.iter().any(|(rdn, _)| rdn.trim().is_empty()) {
        return Err("it has an empty RDN");
    }
    Ok(out)
}

/// Parses one RDN (`cn=a+uid=b`) into unescaped attribute/value pairs.
fn parse_rdn(rdn: &str) -> Result<Vec<Ava>, &'static str> {
    let mut avas = Vec::new();
    let mut attr = String::new();
    let mut value = Vec::<u8>::new();
    let mut in_value = false;
    // Trailing spaces are insignificant unless escaped: track where the escaped part ends.
    let mut significant_len = 0;
    let bytes = rdn.as_bytes();
    let mut i = 0;
    let finish = |attr: &mut String,
                  value: &mut Vec<u8>,
                  significant_len: usize,
                  avas: &mut Vec<Ava>|
     -> Result<(), &'static str> {
        let name = attr.trim().to_ascii_lowercase();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == ';')
        {
            return Err("an attribute type is missing or malformed");
        }
        let keep = value.len().min(significant_len.max(trimmed_len(value)));
        value.truncate(keep);
        let text = String::from_utf8(std::mem::take(value)).map_err(|_| "a value is not UTF-8")?;
        avas.push(Ava {
            attr: name,
            value: text,
        });
        attr.clear();
        Ok(())
    };
    while i < bytes.len() {
        let b = bytes[i];
        if !in_value {
            if b == b'=' {
                in_value = true;
                // Leading spaces of a value are insignificant unless escaped.
                while i + 1 < bytes.len() && bytes[i + 1] == b' ' {
                    i += 1;
                }
                significant_len = 0;
            } else {
                attr.push(b as char);
            }
            i += 1;
            continue;
        }
        match b {
            b'\\' => {
                let next = *bytes.get(i + 1).ok_or("it ends with a lone backslash")?;
                if next.is_ascii_hexdigit() && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit) {
                    let hex =
                        std::str::from_utf8(&bytes[i + 1..i + 3]).map_err(|_| "bad escape")?;
                    value.push(u8::from_str_radix(hex, 16).map_err(|_| "bad hex escape")?);
                    i += 3;
                } else {
                    value.push(next);
                    i += 2;
                }
                significant_len = value.len();
            }
            b'+' => {
                finish(&mut attr, &mut value, significant_len, &mut avas)?;
                in_value = false;
                i += 1;
            }
            b'"' => i += 1,
            _ => {
                value.push(b);
                i += 1;
            }
        }
    }
    if !in_value {
        return Err("an RDN has no '='");
    }
    finish(&mut attr, &mut value, significant_len, &mut avas)?;
    Ok(avas)
}

/// `text` without the spaces at its end that no backslash escapes.
fn trim_unescaped_spaces(text: &str) -> &str {
    let mut end = text.len();
    while text[..end].ends_with(' ') {
        let before = &text[..end - 1];
        let backslashes = before.len() - before.trim_end_matches('\\').len();
        if backslashes % 2 == 1 {
            break;
        }
        end -= 1;
    }
    &text[..end]
}

fn trimmed_len(value: &[u8]) -> usize {
    value.len() - value.iter().rev().take_while(|b| **b == b' ').count()
}

impl PartialEq for Dn {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Dn {}
impl PartialOrd for Dn {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Dn {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(other.key())
    }
}
impl std::hash::Hash for Dn {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl fmt::Debug for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dn({:?})", self.raw)
    }
}

impl std::str::FromStr for Dn {
    type Err = DnError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dn::parse(s)
    }
}

impl Serialize for Dn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for Dn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Dn::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(s: &str) -> Dn {
        Dn::parse(s).unwrap()
    }

    #[test]
    fn spelling_differences_compare_equal() {
        assert_eq!(
            dn("CN=Smith\\, John, OU=People,dc=Example,dc=org"),
            dn("cn=smith\\, john,ou=people,dc=example,dc=org")
        );
        assert_eq!(dn("cn=a\\2Cb,dc=x"), dn("cn=a\\,b,dc=x"));
        assert_eq!(dn("cn= padded ,dc=x"), dn("cn=padded,dc=x"));
        assert_eq!(dn("cn=a+uid=b,dc=x"), dn("uid=b+cn=a,dc=x"));
    }

    #[test]
    fn different_entries_differ() {
        assert_ne!(dn("cn=a,dc=x"), dn("cn=b,dc=x"));
        assert_ne!(dn("cn=a,ou=p,dc=x"), dn("cn=a,dc=x"));
        assert_ne!(dn("cn=\\ a,dc=x"), dn("cn=a,dc=x"));
    }

    #[test]
    fn child_escapes_hostile_values_and_round_trips() {
        let parent = dn("ou=People,dc=example,dc=org");
        for value in [
            "Smith, John",
            "O'Brien",
            "a+b",
            "#1",
            " leading space",
            "trailing space ",
            "back\\slash",
            "*)(uid=*",
            "Zoë Ångström",
            "x=y;z<>\"",
        ] {
            let child = Dn::child("cn", value, &parent).unwrap();
            let avas = child.rdn_avas();
            assert_eq!(avas.len(), 1, "{value:?} must stay a single-valued RDN");
            assert_eq!(
                avas[0].value, value,
                "value must round-trip through {child}"
            );
            assert_eq!(child.parent().unwrap(), parent);
        }
    }

    #[test]
    fn an_escaped_trailing_space_stays_in_the_rdn() {
        let d = dn("cn=x\\ ,ou=People,dc=x");
        assert_eq!(d.rdn(), "cn=x\\ ");
        assert_eq!(d.rdn_avas()[0].value, "x ");
        assert_eq!(dn("cn=x\\\\ ,dc=x").rdn(), "cn=x\\\\");
        assert_eq!(dn("cn=a\\,b").rdn(), "cn=a\\,b");
    }

    #[test]
    fn escape_value_writes_rfc_4514_s_string_form() {
        assert_eq!(escape_value("x,ou=admins"), "x\\,ou=admins");
        assert_eq!(escape_value("#1 a+b "), "\\#1 a\\+b\\ ");
        assert_eq!(escape_value(" "), "\\ ");
        assert_eq!(escape_value("q\"<>;\\\0"), "q\\\"\\<\\>\\;\\\\\\00");
        assert_eq!(escape_value("Zoë Ångström"), "Zoë Ångström");
    }

    proptest::proptest! {
        /// Any value escaped into a DN comes back out whole, as the one value of the first RDN,
        /// under the parent it was put under.
        #[test]
        fn escaped_values_read_back_whole(value in "\\PC{1,40}|[ #,+;<>=\\\\\"a0]{1,12}") {
            let parent = dn("ou=roles,dc=example,dc=org");
            let text = format!("cn={},{}", escape_value(&value), parent.as_str());
            let parsed = Dn::parse(&text).unwrap();
            let avas = parsed.rdn_avas();
            proptest::prop_assert_eq!(avas.len(), 1, "{}", text);
            proptest::prop_assert_eq!(&avas[0].value, &value, "{}", text);
            proptest::prop_assert_eq!(parsed.parent(), Some(parent), "{}", text);
        }
    }

    #[test]
    fn parent_rdn_and_within() {
        let d = dn("uid=j,ou=Eng, ou=People,dc=x");
        assert_eq!(d.rdn(), "uid=j");
        assert_eq!(d.parent().unwrap(), dn("ou=eng,ou=people,dc=x"));
        assert!(d.is_within(&dn("ou=people,dc=x")));
        assert!(d.is_within(&d));
        assert!(!d.is_within(&dn("ou=ople,dc=x")));
        assert!(dn("dc=x").parent().is_none());
    }

    /// What the general parser makes of `input`, bypassing the fast path.
    fn general(input: &str) -> Option<(String, usize, usize)> {
        let (key, parent_at, key_parent_at) = Dn::parse_general(input).ok()?;
        let key_parent_at = key_parent_at.min(key.len());
        Some((key, parent_at, key_parent_at))
    }

    proptest::proptest! {
        /// The fast path for plain DNs agrees with the general parser on everything it accepts
        /// (and accepts nothing the general parser rejects).
        #[test]
        fn the_plain_fast_path_agrees_with_the_general_parser(
            input in proptest::prop_oneof![
                "[a-zA-Z0-9=,._@ +\\#-]{0,24}",
                "[a-zA-Z0-9=,._@-]{1,24}",
                "([a-zA-Z][a-zA-Z0-9.]{0,3}=[a-zA-Z0-9._@ -]{1,5},){0,3}[a-z]{1,3}=[a-zA-Z0-9 ]{1,4}",
            ]
        ) {
            if let Some(fast) = Dn::parse_plain(&input) {
                let (key, parent_at, key_parent_at) = general(&input)
                    .unwrap_or_else(|| panic!("{input:?}: only the fast path accepts it"));
                proptest::prop_assert_eq!(fast.key(), key.as_str());
                proptest::prop_assert_eq!(fast.parent_at, parent_at);
                proptest::prop_assert_eq!(fast.key_parent_at, key_parent_at);
            }
        }
    }

    #[test]
    fn plain_dns_take_the_fast_path_and_others_do_not() {
        for plain in [
            "uid=f1.l1,ou=people,dc=example,dc=org",
            "CN=Jo,DC=x",
            "cn=a_b@c",
            "CN=Ada Lovelace,OU=Users,DC=x",
        ] {
            assert!(Dn::parse_plain(plain).is_some(), "{plain}");
        }
        for other in [
            "cn=a ,dc=x",
            "cn= a,dc=x",
            "cn=a  b",
            "cn=a, dc=x",
            "cn=a\\,b,dc=x",
            "cn=a+uid=b,dc=x",
            "cn=#1",
            "cn=é,dc=x",
        ] {
            assert!(Dn::parse_plain(other).is_none(), "{other}");
        }
        // A lower-case DN shares one allocation for its text and its key.
        assert!(dn("uid=a,dc=x").key.is_none());
        assert_eq!(dn("UID=A,DC=x").key(), "uid=a,dc=x");
    }

    #[test]
    fn child_of_and_with_parent_work_on_the_keys() {
        let people = dn("OU=People,dc=x");
        let disabled = dn("ou=disabled,dc=x");
        for account in [
            dn("uid=J,ou=people,DC=x"),
            dn("cn=Smith\\, John, ou=People,dc=x"),
            dn("cn=a+uid=b,ou=people,dc=x"),
        ] {
            assert!(account.is_child_of(&people), "{account}");
            assert!(!account.is_child_of(&disabled), "{account}");
            let moved = account.with_parent(&disabled);
            let parsed = Dn::parse(moved.as_str()).unwrap();
            assert_eq!(moved, parsed);
            assert_eq!(moved.key(), parsed.key());
            assert_eq!(moved.rdn(), account.rdn());
            assert!(moved.is_child_of(&disabled));
            assert_eq!(moved.parent().unwrap(), disabled);
            assert_eq!(moved.with_parent(&people), account);
        }
        assert!(!dn("dc=x").is_child_of(&dn("dc=x")));
        assert!(!dn("uid=j,ou=people,dc=x").is_child_of(&dn("dc=x")));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [
            "", "   ", "cn", "cn=a,", ",cn=a", "cn=a\\", "=a", "cn=\"a", "c n=a",
        ] {
            assert!(Dn::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
