//! The plan as LDIF change records (RFC 2849) that `ldapmodify` applies as they are.

use std::fmt::Write;

use base64::Engine;

use crate::plan::ops::{LdapOp, Modification, Steps};
use crate::secret::is_secret_attribute;

pub(crate) fn ldif(steps: &Steps) -> String {
    let mut out = String::from("version: 1\n");
    for step in steps.iter() {
        out.push('\n');
        let _ = writeln!(out, "# {}", one_line(&step.description));
        if let LdapOp::Modify { mods, .. } = &step.op {
            if mods.contains(&Modification::RandomPassword) {
                // A password cannot be put in a file for review, and enabling an account
                // without one would leave it open or be refused: the step stays with hrsync.
                out.push_str(
                    "# left out: this step sets a random password and enables the account, which\n\
                     # only `hrsync apply` does; until then the account stays disabled\n",
                );
                continue;
            }
        }
        match &step.op {
            LdapOp::Add { dn, attributes } => add_record(&mut out, dn.as_str(), attributes),
            LdapOp::Modify { dn, mods } => modify_record(&mut out, dn.as_str(), mods),
            LdapOp::Rename {
                dn,
                new_rdn,
                new_superior,
            } => {
                line(&mut out, "dn", dn.as_str());
                out.push_str("changetype: modrdn\n");
                line(&mut out, "newrdn", new_rdn);
                out.push_str("deleteoldrdn: 1\n");
                line(&mut out, "newsuperior", new_superior.as_str());
            }
        }
    }
    out
}

/// An add record. A password attribute (see [`is_secret_attribute`]) is left out, saying so: a
/// plan never shows one, and the next `hrsync apply` sets it.
fn add_record(out: &mut String, dn: &str, attributes: &[(String, Vec<String>)]) {
    let (secret, shown): (Vec<_>, Vec<_>) = attributes
        .iter()
        .partition(|(name, _)| is_secret_attribute(name));
    for (name, _) in secret {
        let _ = writeln!(out, "{}", left_out(name));
    }
    line(out, "dn", dn);
    out.push_str("changetype: add\n");
    for (name, values) in shown {
        for value in values {
            line(out, name, value);
        }
    }
}

/// A modify record, without the modifications of password attributes (saying so); none at all
/// when those were all it had.
fn modify_record(out: &mut String, dn: &str, mods: &[Modification]) {
    let mut shown = Vec::new();
    for (verb, name, values) in mods.iter().filter_map(parts) {
        if is_secret_attribute(name) {
            let _ = writeln!(out, "{}", left_out(name));
        } else {
            shown.push((verb, name, values));
        }
    }
    if shown.is_empty() {
        return;
    }
    line(out, "dn", dn);
    out.push_str("changetype: modify\n");
    for (verb, name, values) in shown {
        let _ = writeln!(out, "{verb}: {name}");
        for value in values {
            line(out, name, value);
        }
        out.push_str("-\n");
    }
}

/// A modification as LDIF writes it: verb, attribute, values (a random password has none).
fn parts(modification: &Modification) -> Option<(&'static str, &str, &[String])> {
    match modification {
        Modification::Add(n, v) => Some(("add", n, v)),
        Modification::Delete(n, v) => Some(("delete", n, v)),
        Modification::Replace(n, v) => Some(("replace", n, v)),
        Modification::RandomPassword => None,
    }
}

fn left_out(attribute: &str) -> String {
    format!(
        "# left out: {}, a password attribute, whose value a plan never shows; `hrsync apply` \
         writes it",
        one_line(attribute)
    )
}

/// `name: value`, or `name:: base64` when the value is not a SAFE-STRING (RFC 2849): it starts
/// with a space, `:` or `<`, ends with a space, or holds anything outside printable ASCII.
fn line(out: &mut String, name: &str, value: &str) {
    let safe = !value.starts_with([' ', ':', '<'])
        && !value.ends_with(' ')
        && value.bytes().all(|b| (0x20..0x7f).contains(&b));
    if safe {
        let _ = writeln!(out, "{name}: {value}");
    } else {
        let encoded = base64::engine::general_purpose::STANDARD.encode(value.as_bytes());
        let _ = writeln!(out, "{name}:: {encoded}");
    }
}

/// A comment must stay on one line whatever a DN holds.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 16.10d: the LDIF plan carried password attributes in clear.
    #[test]
    fn password_attributes_are_left_out_saying_so() {
        let mut out = String::new();
        add_record(
            &mut out,
            "uid=ada,dc=ex",
            &[
                ("cn".to_string(), vec!["Ada".to_string()]),
                ("userPassword".to_string(), vec!["Winter2026!".to_string()]),
            ],
        );
        modify_record(
            &mut out,
            "uid=ada,dc=ex",
            &[Modification::Replace(
                "sambaNTPassword".into(),
                vec!["Winter2026!".into()],
            )],
        );
        modify_record(
            &mut out,
            "uid=ada,dc=ex",
            &[
                Modification::Replace("unicodePwd".into(), vec!["Winter2026!".into()]),
                Modification::Replace("title".into(), vec!["Lead".into()]),
            ],
        );
        assert!(!out.contains("Winter2026!"), "{out}");
        assert_eq!(
            out,
            "# left out: userPassword, a password attribute, whose value a plan never shows; \
             `hrsync apply` writes it\n\
             dn: uid=ada,dc=ex\nchangetype: add\ncn: Ada\n\
             # left out: sambaNTPassword, a password attribute, whose value a plan never shows; \
             `hrsync apply` writes it\n\
             # left out: unicodePwd, a password attribute, whose value a plan never shows; \
             `hrsync apply` writes it\n\
             dn: uid=ada,dc=ex\nchangetype: modify\nreplace: title\ntitle: Lead\n-\n"
        );
    }

    #[test]
    fn unsafe_values_are_base64() {
        let mut out = String::new();
        line(&mut out, "cn", " leading space");
        line(&mut out, "cn", "Zoë");
        line(&mut out, "cn", ":colon");
        line(&mut out, "cn", "plain, with comma");
        assert_eq!(
            out,
            "cn:: IGxlYWRpbmcgc3BhY2U=\ncn:: Wm/Dqw==\ncn:: OmNvbG9u\ncn: plain, with comma\n"
        );
    }
}
