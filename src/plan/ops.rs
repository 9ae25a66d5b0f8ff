//! A plan as LDAP operations, in the order they must run.
//!
//! Both `apply` and the LDIF renderer consume these, so the LDIF a reviewer reads is exactly what
//! `apply` sends. The order is: placeholder members into groups about to become empty, then each
//! account's changes in plan order (accounts are independent of each other), then placeholder
//! members out of groups that have real members again.

use crate::dn::Dn;

use super::{
    AccountPlan, Action, DisableMethod, GroupAction, PPOLICY_PERMANENT_LOCK, Plan, Policy,
};

/// One LDAP update operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LdapOp {
    Add {
        dn: Dn,
        attributes: Vec<(String, Vec<String>)>,
    },
    Modify {
        dn: Dn,
        mods: Vec<Modification>,
    },
    /// Modify-DN keeping the RDN value (`deleteoldrdn` false: the RDN does not change).
    Rename {
        dn: Dn,
        new_rdn: String,
        new_superior: Dn,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modification {
    Add(String, Vec<String>),
    /// Delete these values; an empty list deletes the attribute.
    Delete(String, Vec<String>),
    /// Replace all values; an empty list deletes the attribute.
    Replace(String, Vec<String>),
}

/// LDAP result codes that mean "already done" for a membership change: another writer (or the
/// server's refint overlay) got there first. Treating them as success lets a re-run converge.
pub const ATTRIBUTE_OR_VALUE_EXISTS: u32 = 20;
pub const NO_SUCH_ATTRIBUTE: u32 = 16;

/// An operation with what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub op: LdapOp,
    /// The employee the step belongs to, `None` for group-level steps.
    pub employee_id: Option<String>,
    /// One line saying what the step does, for logs and results.
    pub description: String,
    /// A result code that counts as success for this step (see above).
    pub already_done_code: Option<u32>,
}

/// The steps of a plan in three stages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Steps {
    pub before: Vec<Step>,
    /// One sequence per account; a failed step stops the rest of its account's sequence.
    pub accounts: Vec<Vec<Step>>,
    pub after: Vec<Step>,
}

impl Steps {
    pub fn len(&self) -> usize {
        self.before.len() + self.after.len() + self.accounts.iter().map(Vec::len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every step in execution order.
    pub fn iter(&self) -> impl Iterator<Item = &Step> {
        self.before
            .iter()
            .chain(self.accounts.iter().flatten())
            .chain(self.after.iter())
    }
}

pub fn steps(plan: &Plan, policy: &Policy, member_attribute: &str) -> Steps {
    let mut steps = Steps::default();
    for change in &plan.group_changes {
        let (stage, modification, verb, code) = match change.action {
            GroupAction::AddPlaceholder => (
                &mut steps.before,
                Modification::Add(
                    member_attribute.to_string(),
                    vec![change.member.to_string()],
                ),
                "add placeholder",
                ATTRIBUTE_OR_VALUE_EXISTS,
            ),
            GroupAction::RemovePlaceholder => (
                &mut steps.after,
                Modification::Delete(
                    member_attribute.to_string(),
                    vec![change.member.to_string()],
                ),
                "remove placeholder",
                NO_SUCH_ATTRIBUTE,
            ),
        };
        stage.push(Step {
            op: LdapOp::Modify {
                dn: change.group.clone(),
                mods: vec![modification],
            },
            employee_id: None,
            description: format!("{verb} {} in {}", change.member, change.group),
            already_done_code: Some(code),
        });
    }
    for account in &plan.accounts {
        steps
            .accounts
            .push(account_steps(account, policy, member_attribute));
    }
    steps
}

fn account_steps(account: &AccountPlan, policy: &Policy, member_attribute: &str) -> Vec<Step> {
    let mut current = account.dn.clone();
    let mut out = Vec::new();
    let member = |values: Vec<String>| (member_attribute.to_string(), values);
    for change in &account.changes {
        let (op, description, already_done_code) = match &change.action {
            Action::Create { dn, attributes } => {
                current = dn.clone();
                (
                    LdapOp::Add {
                        dn: dn.clone(),
                        attributes: attributes
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    },
                    format!("create {dn}"),
                    None,
                )
            }
            Action::Disable { method } => (
                LdapOp::Modify {
                    dn: current.clone(),
                    mods: vec![disable_mod(*method)],
                },
                format!("disable {current}"),
                None,
            ),
            Action::Enable => (
                LdapOp::Modify {
                    dn: current.clone(),
                    mods: vec![enable_mod(policy.disable)],
                },
                format!("enable {current}"),
                Some(NO_SUCH_ATTRIBUTE),
            ),
            Action::SetAttribute {
                attribute, after, ..
            } => (
                LdapOp::Modify {
                    dn: current.clone(),
                    mods: vec![Modification::Replace(attribute.clone(), after.clone())],
                },
                format!("set {attribute} of {current}"),
                None,
            ),
            Action::Move { to, .. } => {
                let op = LdapOp::Rename {
                    dn: current.clone(),
                    new_rdn: current.rdn().to_string(),
                    new_superior: to.parent().unwrap_or_else(|| to.clone()),
                };
                let description = format!("move {current} to {to}");
                current = to.clone();
                (op, description, None)
            }
            Action::AddToGroup { group } => {
                let (attr, values) = member(vec![current.to_string()]);
                (
                    LdapOp::Modify {
                        dn: group.clone(),
                        mods: vec![Modification::Add(attr, values)],
                    },
                    format!("add {current} to {group}"),
                    Some(ATTRIBUTE_OR_VALUE_EXISTS),
                )
            }
            Action::RemoveFromGroup { group } => {
                let (attr, values) = member(vec![current.to_string()]);
                (
                    LdapOp::Modify {
                        dn: group.clone(),
                        mods: vec![Modification::Delete(attr, values)],
                    },
                    format!("remove {current} from {group}"),
                    Some(NO_SUCH_ATTRIBUTE),
                )
            }
            // One modify, add before delete, so the group is never momentarily empty.
            Action::RenameMember { group, from, to } => (
                LdapOp::Modify {
                    dn: group.clone(),
                    mods: vec![
                        Modification::Add(member_attribute.to_string(), vec![to.to_string()]),
                        Modification::Delete(member_attribute.to_string(), vec![from.to_string()]),
                    ],
                },
                format!("rewrite member {from} as {to} in {group}"),
                None,
            ),
        };
        out.push(Step {
            op,
            employee_id: Some(account.employee_id.clone()),
            description,
            already_done_code,
        });
    }
    out
}

fn disable_mod(method: DisableMethod) -> Modification {
    match method {
        DisableMethod::PpolicyLock => Modification::Replace(
            "pwdAccountLockedTime".to_string(),
            vec![PPOLICY_PERMANENT_LOCK.to_string()],
        ),
    }
}

/// Removes only hrsync's permanent lock, never a temporary lockout the server set after failed
/// binds: re-enabling an account must not also forgive a password-guessing attack.
fn enable_mod(method: DisableMethod) -> Modification {
    match method {
        DisableMethod::PpolicyLock => Modification::Delete(
            "pwdAccountLockedTime".to_string(),
            vec![PPOLICY_PERMANENT_LOCK.to_string()],
        ),
    }
}
