//! The plan as LDIF change records (RFC 2849) that `ldapmodify` applies as they are.

use std::fmt::Write;

use base64::Engine;

use crate::plan::ops::{LdapOp, Modification, Steps};

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
            LdapOp::Add { dn, attributes } => {
                line(&mut out, "dn", dn.as_str());
                out.push_str("changetype: add\n");
                for (name, values) in attributes {
                    for value in values {
                        line(&mut out, name, value);
                    }
                }
            }
            LdapOp::Modify { dn, mods } => {
                line(&mut out, "dn", dn.as_str());
                out.push_str("changetype: modify\n");
                for modification in mods {
                    let (verb, name, values) = match modification {
                        Modification::Add(n, v) => ("add", n, v),
                        Modification::Delete(n, v) => ("delete", n, v),
                        Modification::Replace(n, v) => ("replace", n, v),
                        Modification::RandomPassword => continue,
                    };
                    let _ = writeln!(out, "{verb}: {name}");
                    for value in values {
                        line(&mut out, name, value);
                    }
                    out.push_str("-\n");
                }
            }
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
