//! Random initial passwords for Active Directory accounts.
//!
//! AD will not enable an account without a password, and an account must never be enabled
//! without one. hrsync sets a long random password that nobody ever sees: it is not logged,
//! not in any plan and not returned; the employee gets in through the company's password reset
//! process (self-service reset, or the service desk setting a temporary password).

use secrecy::{ExposeSecret, SecretString};

/// Length of generated passwords: far above any domain's minimum.
const LENGTH: usize = 32;

/// Characters of each class AD's complexity rule counts; at least one of each is used.
const CLASSES: [&[u8]; 4] = [
    b"ABCDEFGHJKLMNPQRSTUVWXYZ",
    b"abcdefghijkmnopqrstuvwxyz",
    b"23456789",
    b"!#%+-.:=?@_~",
];

/// A random password from the OS's CSPRNG with every character class present.
pub(crate) fn random() -> Result<SecretString, String> {
    let all: Vec<u8> = CLASSES.concat();
    loop {
        let mut bytes = [0u8; LENGTH];
        getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a password: {e}"))?;
        // Rejection sampling keeps every character equally likely.
        let limit = 256 - 256 % all.len();
        let chars: String = bytes
            .iter()
            .filter(|b| usize::from(**b) < limit)
            .map(|b| char::from(all[usize::from(*b) % all.len()]))
            .collect();
        if chars.len() >= LENGTH - 8
            && CLASSES
                .iter()
                .all(|class| chars.bytes().any(|c| class.contains(&c)))
        {
            return Ok(SecretString::from(chars));
        }
    }
}

/// The value AD expects in `unicodePwd`: the password in double quotes, UTF-16LE.
pub(crate) fn unicode_pwd(password: &SecretString) -> Vec<u8> {
    format!("\"{}\"", password.expose_secret())
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_varied_and_different() {
        let a = random().unwrap();
        let b = random().unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
        let a = a.expose_secret();
        assert!(a.len() >= 24, "{}", a.len());
        for class in CLASSES {
            assert!(a.bytes().any(|c| class.contains(&c)));
        }
        assert_eq!(
            format!("{:?}", random().unwrap()),
            "SecretBox<str>([REDACTED])"
        );
    }

    #[test]
    fn unicode_pwd_is_quoted_utf16le() {
        let encoded = unicode_pwd(&SecretString::from("Ab1!"));
        assert_eq!(encoded, b"\"\0A\0b\x001\0!\0\"\0");
    }
}
