//! The mappings: how an HR record becomes a directory account.
//!
//! Mappings live in TOML files in one directory (`mappings/` by default) so that the account
//! layout, the birthright groups and the role rules can be reviewed and changed separately. Each
//! file may hold any of the tables below; `[correlation]`, `[account]` and `[groups]` may appear
//! in only one file each, and `[[rule]]` entries are read in file-name order.
//!
//! Access follows the job role, never the person: every group comes from a rule that matched an HR
//! field, or from the birthright list. Only groups named here are managed; hrsync never adds to or
//! removes from any other group.

mod load;
pub use load::read_dir;
mod rules;
pub mod template;

use std::collections::{BTreeMap, BTreeSet};

use crate::dn::Dn;
pub use rules::{ConditionResult, Pattern, RoleAssignment, RuleEvaluation};
pub use template::{Filter, MissingField, Template};

/// The template variable that resolves to the manager's account DN (from the HR `manager_id`).
pub const MANAGER_DN: &str = "manager_dn";

/// The template variable that makes a new account's names unique: empty for the first account
/// with a name, then `2`, `3`, ... (`jsmith`, `jsmith2`). Only in the naming attribute's and
/// `unique_attributes`' templates, which are set at creation and never changed.
pub const UNIQUE: &str = "unique";

/// Attributes whose values are DNs, lower-cased: the DN-syntax attributes of the schemas hrsync
/// writes to (OpenLDAP's core, cosine, inetorgperson and ppolicy; Active Directory's user).
/// An HR value pasted into one raw could name another entry: `cn={title},ou=roles` with the
/// title `x,ou=admins` is `cn=x,ou=admins,ou=roles`.
const DN_VALUED_ATTRIBUTES: [&str; 15] = [
    "aliasedobjectname",
    "assistant",
    "associatedname",
    "distinguishedname",
    "ditredirect",
    "documentauthor",
    "managedby",
    "manager",
    "member",
    "owner",
    "pwdpolicysubentry",
    "roleoccupant",
    "secretary",
    "seealso",
    "uniquemember",
];

/// Whether the attribute `name` holds DNs (see [`DN_VALUED_ATTRIBUTES`]); case-insensitive.
pub fn is_dn_valued(name: &str) -> bool {
    DN_VALUED_ATTRIBUTES.contains(&name.to_ascii_lowercase().as_str())
}

/// Whether `a` and `b`, values of the attribute `name`, are the same DNs spelled differently: a
/// server gives a DN back in its own spelling (OpenLDAP writes `cn=x\,ou=y` as
/// `cn=x\2Cou\3Dy`), and a DN-valued attribute must not look changed on every run for it.
/// False for an attribute that does not hold DNs, and for a value that is not a DN.
pub fn same_dn_values(name: &str, a: &[String], b: &[String]) -> bool {
    if a.len() != b.len() || !is_dn_valued(name) {
        return false;
    }
    let dns = |values: &[String]| -> Option<BTreeSet<Dn>> {
        values.iter().map(|v| Dn::parse(v).ok()).collect()
    };
    match (dns(a), dns(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Validated mappings.
#[derive(Debug, Clone)]
pub struct Mappings {
    pub correlation: Correlation,
    pub account: AccountMapping,
    pub groups: GroupSettings,
    pub rules: Vec<Rule>,
}

/// How an HR record finds its directory account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correlation {
    /// The directory attribute holding HR's `id` (`employeeNumber`).
    pub attribute: String,
    /// A second key for conversions (contractor to employee and back, which HR systems often
    /// record under a new id): when no account has the new id, the account whose fallback
    /// `attribute` holds the employee's fallback `hr_field` is taken over, provided its old id
    /// belongs to nobody active in HR.
    pub fallback: Option<Fallback>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    pub hr_field: String,
    pub attribute: String,
}

/// What an account looks like.
#[derive(Debug, Clone)]
pub struct AccountMapping {
    /// The naming attribute (`uid`): set when the account is created and never changed after,
    /// because renaming an account breaks every system that remembers the user name.
    pub rdn_attribute: String,
    pub object_classes: Vec<String>,
    pub default_ou: Dn,
    pub disabled_ou: Dn,
    /// Attribute templates, keyed by the attribute name as written in the mappings.
    pub attributes: BTreeMap<String, Template>,
    /// Attributes whose values must be unique in the directory (`sAMAccountName`,
    /// `userPrincipalName`). Like the naming attribute, they are set when the account is created
    /// and never changed.
    pub unique_attributes: Vec<String>,
}

impl AccountMapping {
    /// Whether hrsync sets `attribute` only at creation (the naming and unique attributes).
    pub fn is_creation_only(&self, attribute: &str) -> bool {
        attribute.eq_ignore_ascii_case(&self.rdn_attribute)
            || self
                .unique_attributes
                .iter()
                .any(|u| u.eq_ignore_ascii_case(attribute))
    }
}

#[derive(Debug, Clone)]
pub struct GroupSettings {
    /// Groups every active employee belongs to.
    pub birthright: Vec<Dn>,
    /// The attribute that lists a group's members (`member` for groupOfNames).
    pub member_attribute: String,
    /// A value that keeps a `groupOfNames` valid when hrsync removes its last real member.
    pub empty_group_placeholder: Option<Dn>,
}

/// A role rule: when every condition matches, the employee gets `groups` and (for the first
/// matching rule that has one) lives in `ou`.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    /// Field name -> accepted patterns. All fields must match; any pattern of a field may.
    pub conditions: BTreeMap<String, Vec<Pattern>>,
    pub groups: Vec<Dn>,
    pub ou: Option<Dn>,
}

impl Mappings {
    /// Every group hrsync manages: the birthright groups and every group a rule names.
    pub fn managed_groups(&self) -> BTreeSet<Dn> {
        self.groups
            .birthright
            .iter()
            .chain(self.rules.iter().flat_map(|r| r.groups.iter()))
            .cloned()
            .collect()
    }

    /// The attributes hrsync keeps up to date (every template except the creation-only ones).
    pub fn managed_attributes(&self) -> impl Iterator<Item = (&str, &Template)> {
        self.account
            .attributes
            .iter()
            .filter(|(name, _)| !self.account.is_creation_only(name))
            .map(|(name, t)| (name.as_str(), t))
    }

    /// Every OU an account can be placed in.
    pub fn all_ous(&self) -> impl Iterator<Item = &Dn> {
        [&self.account.default_ou, &self.account.disabled_ou]
            .into_iter()
            .chain(self.rules.iter().filter_map(|r| r.ou.as_ref()))
    }

    /// HR field names the mappings read (templates and rule conditions), for cross-checking
    /// against the HR source's configured fields.
    pub fn fields_read(&self) -> BTreeMap<String, String> {
        let mut fields = BTreeMap::new();
        fields.insert("id".to_string(), "correlation (HR's id)".to_string());
        if let Some(fallback) = &self.correlation.fallback {
            fields.insert(
                fallback.hr_field.clone(),
                "correlation.fallback_hr_field".to_string(),
            );
        }
        for (attr, template) in &self.account.attributes {
            for field in template.fields() {
                fields
                    .entry(field.to_string())
                    .or_insert_with(|| format!("account.attributes.{attr}"));
            }
        }
        for rule in &self.rules {
            for field in rule.conditions.keys() {
                fields
                    .entry(field.clone())
                    .or_insert_with(|| format!("rule \"{}\".match", rule.name));
            }
        }
        fields.remove(MANAGER_DN);
        fields.remove(UNIQUE);
        fields
    }
}

#[cfg(test)]
mod tests;
