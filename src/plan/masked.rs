//! Plans as they may be shown: every value of a secret attribute (a password, a hash of one;
//! see [`is_secret_attribute`]) replaced by [`HIDDEN`], wherever a plan holds one: in a new
//! entry's attributes, in a `set_attribute`'s values before and after and in its reason, and in
//! an account's state as read. Every output that shows a plan or its changes (text, JSON, a
//! saved plan, the audit log, hook events, `explain`, `report`) shows it masked; only the
//! operations that apply it ([`super::ops`]) read the values.
//!
//! A plan without a secret attribute, the usual case, is borrowed as it is.

use std::borrow::Cow;

use super::{AccountPlan, AccountState, Action, Change, Plan};
use crate::model::Reason;
use crate::secret::{HIDDEN, is_secret_attribute, shown_attributes, shown_values};

impl Plan {
    /// The plan as it may be shown (see the module).
    pub fn masked(&self) -> Cow<'_, Plan> {
        if !self.accounts.iter().any(AccountPlan::holds_secret) {
            return Cow::Borrowed(self);
        }
        Cow::Owned(Plan {
            accounts: self.accounts.iter().map(AccountPlan::masked).collect(),
            ..self.clone()
        })
    }
}

impl AccountPlan {
    fn holds_secret(&self) -> bool {
        self.changes.iter().any(Change::holds_secret)
            || self
                .before
                .as_ref()
                .is_some_and(|state| state.attributes.keys().any(|a| is_secret_attribute(a)))
    }

    fn masked(&self) -> AccountPlan {
        AccountPlan {
            before: self.before.as_ref().map(AccountState::masked),
            changes: self
                .changes
                .iter()
                .map(|change| change.masked().into_owned())
                .collect(),
            ..self.clone()
        }
    }
}

impl AccountState {
    fn masked(&self) -> AccountState {
        AccountState {
            attributes: shown_attributes(&self.attributes),
            ..self.clone()
        }
    }
}

impl Change {
    /// Whether the change writes a secret attribute.
    fn holds_secret(&self) -> bool {
        match &self.action {
            Action::Create { attributes, .. } => {
                attributes.keys().any(|name| is_secret_attribute(name))
            }
            Action::SetAttribute { attribute, .. } => is_secret_attribute(attribute),
            _ => false,
        }
    }

    /// The change as it may be shown: a new entry's secret attributes and a secret attribute's
    /// values before and after as [`HIDDEN`]; the reason of setting one names the template but
    /// shows neither the HR values it read nor the template's text (which may be the secret).
    pub fn masked(&self) -> Cow<'_, Change> {
        if !self.holds_secret() {
            return Cow::Borrowed(self);
        }
        let (action, reason) = match &self.action {
            Action::Create { dn, attributes } => (
                Action::Create {
                    dn: dn.clone(),
                    attributes: shown_attributes(attributes),
                },
                self.reason.clone(),
            ),
            Action::SetAttribute {
                attribute,
                before,
                after,
            } => (
                Action::SetAttribute {
                    attribute: attribute.clone(),
                    before: shown_values(attribute, before),
                    after: shown_values(attribute, after),
                },
                masked_reason(&self.reason),
            ),
            other => (other.clone(), self.reason.clone()),
        };
        Cow::Owned(Change { action, reason })
    }
}

/// `userPassword = "{initial_password}"` set from `initial_password = "..."`: the fact holds the
/// HR value and the rule the template, either of which may be the secret. The rule keeps the
/// key that names the template.
fn masked_reason(reason: &Reason) -> Reason {
    Reason {
        fact: HIDDEN.to_string(),
        rule: reason
            .rule
            .as_ref()
            .map(|rule| rule.split(" = ").next().unwrap_or_default().to_string()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::dn::Dn;
    use crate::plan::{Lifecycle, Summary};
    use std::collections::BTreeMap;

    fn dn(s: &str) -> Dn {
        Dn::parse(s).unwrap()
    }

    fn set(attribute: &str, before: &[&str], after: &[&str]) -> Change {
        Change {
            action: Action::SetAttribute {
                attribute: attribute.into(),
                before: before.iter().map(|v| v.to_string()).collect(),
                after: after.iter().map(|v| v.to_string()).collect(),
            },
            reason: Reason::new(
                format!("hr_field = {:?}", after.join(",")),
                format!("account.attributes.{attribute} = \"{{hr_field}}\""),
            ),
        }
    }

    /// A plan with one account whose state and changes hold `secret` in every place a plan can.
    pub(crate) fn plan_with_secrets(secret: &str) -> Plan {
        let account = dn("uid=ada,ou=eng,dc=example,dc=org");
        Plan {
            schema: crate::plan::PLAN_SCHEMA.to_string(),
            generated_at: chrono::DateTime::UNIX_EPOCH,
            summary: Summary::default(),
            accounts: vec![AccountPlan {
                employee_id: "101".into(),
                lifecycle: Lifecycle::Update,
                dn: account.clone(),
                before: Some(AccountState {
                    dn: account.clone(),
                    disabled: false,
                    attributes: BTreeMap::from([
                        ("sambaNTPassword".to_string(), vec![secret.to_string()]),
                        ("title".to_string(), vec!["Rep".to_string()]),
                    ]),
                    groups: vec![],
                }),
                changes: vec![
                    Change {
                        action: Action::Create {
                            dn: account,
                            attributes: BTreeMap::from([
                                ("cn".to_string(), vec!["Ada".to_string()]),
                                ("userPassword".to_string(), vec![secret.to_string()]),
                                ("UNICODEPWD".to_string(), vec![secret.to_string()]),
                            ]),
                        },
                        reason: Reason::fact("status = active"),
                    },
                    set("userPassword", &[secret], &[secret]),
                    set("sambaNTPassword", &[], &[secret]),
                    set("title", &["Rep"], &["Lead"]),
                ],
            }],
            group_changes: vec![],
            skipped: vec![],
            orphans: vec![],
            warnings: vec![],
            limits_tripped: vec![],
            scheduled: vec![],
            config: None,
        }
    }

    #[test]
    fn every_secret_value_of_a_plan_is_hidden_and_everything_else_kept() {
        let plan = plan_with_secrets("Winter2026!");
        let masked = plan.masked();
        let text = serde_json::to_string(&*masked).unwrap();
        assert!(!text.contains("Winter2026!"), "{text}");
        let account = &masked.accounts[0];
        let before = &account.before.as_ref().unwrap().attributes;
        assert_eq!(before["sambaNTPassword"], [HIDDEN]);
        assert_eq!(before["title"], ["Rep"]);
        let Action::Create { attributes, .. } = &account.changes[0].action else {
            panic!("create first")
        };
        assert_eq!(attributes["userPassword"], [HIDDEN]);
        assert_eq!(attributes["UNICODEPWD"], [HIDDEN]);
        assert_eq!(attributes["cn"], ["Ada"]);
        assert_eq!(
            account.changes[1].action,
            set("userPassword", &[HIDDEN], &[HIDDEN]).action
        );
        assert_eq!(
            account.changes[1].reason,
            Reason::new(HIDDEN, "account.attributes.userPassword")
        );
        assert_eq!(
            account.changes[2].action,
            set("sambaNTPassword", &[], &[HIDDEN]).action
        );
        assert_eq!(
            account.changes[3], plan.accounts[0].changes[3],
            "title shown as it is"
        );
        // Masking what is masked changes nothing more.
        assert_eq!(masked.masked().as_ref(), masked.as_ref());
    }

    #[test]
    fn a_plan_without_secrets_is_borrowed_as_it_is() {
        let mut plan = plan_with_secrets("x");
        plan.accounts[0].before = None;
        plan.accounts[0].changes = vec![set("title", &["Rep"], &["Lead"])];
        assert!(matches!(plan.masked(), Cow::Borrowed(_)));
    }
}
