//! What the server says about itself: its root DSE and who it takes hrsync to be.

use ldap3::Scope;

use super::entry::Entry;
use super::{Directory, DirectoryError};

/// The root DSE's attributes that tell what kind of server this is, each with its values
/// (empty when the server does not publish it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RootDse {
    pub(crate) object_classes: Vec<String>,
    pub(crate) vendor_name: Option<String>,
    pub(crate) vendor_version: Option<String>,
    pub(crate) supported_capabilities: Vec<String>,
    pub(crate) naming_contexts: Vec<String>,
    pub(crate) dns_host_name: Option<String>,
    pub(crate) domain_controller_functionality: Option<String>,
}

impl Directory {
    /// The root DSE; `None` when the server returns no entry for it.
    pub(crate) async fn root_dse(&mut self) -> Result<Option<RootDse>, DirectoryError> {
        let attrs = vec![
            "objectClass",
            "vendorName",
            "vendorVersion",
            "supportedCapabilities",
            "namingContexts",
            "dnsHostName",
            "domainControllerFunctionality",
            "supportedLDAPVersion",
        ];
        let transport = |e: ldap3::LdapError| DirectoryError::from_ldap("read the root DSE", "", e);
        let (entries, _) = self
            .ldap
            .with_timeout(self.config.operation_timeout)
            .search("", Scope::Base, "(objectClass=*)", attrs)
            .await
            .and_then(|r| r.success())
            .map_err(transport)?;
        let Some(entry) = entries.into_iter().next() else {
            return Ok(None);
        };
        let entry = Entry::decode_for(entry, "read the root DSE", "")?;
        let all = |name: &str| -> Vec<String> { entry.values(name).cloned().collect() };
        let first = |name: &str| entry.values(name).next().cloned();
        Ok(Some(RootDse {
            object_classes: all("objectClass"),
            vendor_name: first("vendorName"),
            vendor_version: first("vendorVersion"),
            supported_capabilities: all("supportedCapabilities"),
            naming_contexts: all("namingContexts"),
            dns_host_name: first("dnsHostName"),
            domain_controller_functionality: first("domainControllerFunctionality"),
        }))
    }

    /// The identity the server bound hrsync as (the "Who am I?" operation, RFC 4532): a DN, or
    /// `anonymous`. `None` when the server does not answer it.
    pub(crate) async fn who_am_i(&mut self) -> Option<String> {
        let (exop, _) = self
            .ldap
            .with_timeout(self.config.operation_timeout)
            .extended(ldap3::exop::WhoAmI)
            .await
            .ok()?
            .success()
            .ok()?;
        let response: ldap3::exop::WhoAmIResp = exop.parse();
        let id = response.authzid;
        Some(match id.strip_prefix("dn:") {
            Some(dn) => dn.to_string(),
            None if id.is_empty() => "anonymous".to_string(),
            None => id,
        })
    }
}
