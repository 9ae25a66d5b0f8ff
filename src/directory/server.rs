//! What the server says about itself: its root DSE and who it takes hrsync to be.

use ldap3::Scope;

use super::entry::Entry;
use super::{Directory, DirectoryError, Flavour};

/// The root DSE's attributes that tell what kind of server this is, each with its values
/// (empty when the server does not publish it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RootDse {
    pub(crate) object_classes: Vec<String>,
    pub(crate) vendor_name: Option<String>,
    pub(crate) vendor_version: Option<String>,
    pub(crate) supported_capabilities: Vec<String>,
    pub(crate) supported_controls: Vec<String>,
    pub(crate) supported_extensions: Vec<String>,
    pub(crate) naming_contexts: Vec<String>,
    pub(crate) dns_host_name: Option<String>,
    pub(crate) domain_controller_functionality: Option<String>,
}

/// `LDAP_CAP_ACTIVE_DIRECTORY_OID`: only Active Directory (and Samba's AD DC) publish it.
const AD_CAPABILITY: &str = "1.2.840.113556.1.4.800";
/// The password policy request control: OpenLDAP publishes it once the ppolicy overlay is
/// loaded, and without that overlay `pwdAccountLockedTime` locks nobody out.
pub(crate) const PASSWORD_POLICY_CONTROL: &str = "1.3.6.1.4.1.42.2.27.8.5.1";
/// The extended operations under Netscape's arc (replication, `nsds5`...) that 389-DS, and Red
/// Hat Directory Server after it, publish and no other server here does.
const NETSCAPE_EXTENSIONS: &str = "2.16.840.1.113730.3.5.";

impl RootDse {
    /// Which flavour of directory this is, from what each publishes about itself: AD by its
    /// capability, 389-DS by its vendor (or Netscape's extended operations), OpenLDAP by its
    /// root DSE's object class. `None` for any other server.
    pub(crate) fn flavour(&self) -> Option<Flavour> {
        let vendor = |prefixes: &[&str]| {
            self.vendor_name
                .iter()
                .chain(&self.vendor_version)
                .any(|v| prefixes.iter().any(|p| v.starts_with(p)))
        };
        if self
            .supported_capabilities
            .iter()
            .any(|c| c == AD_CAPABILITY)
        {
            Some(Flavour::ActiveDirectory)
        } else if vendor(&["389 Project", "389-Directory/", "Red Hat-Directory/"])
            || self
                .supported_extensions
                .iter()
                .any(|e| e.starts_with(NETSCAPE_EXTENSIONS))
        {
            Some(Flavour::Ds389)
        } else if self
            .object_classes
            .iter()
            .any(|c| c.eq_ignore_ascii_case("OpenLDAProotDSE"))
        {
            Some(Flavour::Openldap)
        } else {
            None
        }
    }

    /// Whether the server offers the password policy control (OpenLDAP's ppolicy overlay).
    pub(crate) fn has_password_policy(&self) -> bool {
        self.supported_controls
            .iter()
            .any(|c| c == PASSWORD_POLICY_CONTROL)
    }
}

impl Directory {
    /// The root DSE; `None` when the server returns no entry for it.
    pub(crate) async fn root_dse(&mut self) -> Result<Option<RootDse>, DirectoryError> {
        let attrs = vec![
            "objectClass",
            "vendorName",
            "vendorVersion",
            "supportedCapabilities",
            "supportedControl",
            "supportedExtension",
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
            supported_controls: all("supportedControl"),
            supported_extensions: all("supportedExtension"),
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
        Some(match id.strip_prefix("dn:").map(str::trim_start) {
            Some(dn) => dn.to_string(),
            None if id.is_empty() => "anonymous".to_string(),
            None => id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dse(classes: &[&str], vendor: Option<(&str, &str)>) -> RootDse {
        RootDse {
            object_classes: classes.iter().map(ToString::to_string).collect(),
            vendor_name: vendor.map(|v| v.0.to_string()),
            vendor_version: vendor.map(|v| v.1.to_string()),
            ..RootDse::default()
        }
    }

    // What each server's root DSE said here (ldapsearch -b "" -s base '*' '+').
    #[test]
    fn each_supported_server_is_told_from_its_root_dse() {
        let mut openldap = dse(&["top", "OpenLDAProotDSE"], None);
        openldap.supported_controls = vec![
            "2.16.840.1.113730.3.4.18".to_string(),
            PASSWORD_POLICY_CONTROL.to_string(),
        ];
        assert_eq!(openldap.flavour(), Some(Flavour::Openldap));
        assert!(openldap.has_password_policy());
        openldap.supported_controls.pop();
        assert!(!openldap.has_password_policy());

        let mut ds389 = dse(
            &["top"],
            Some(("389 Project", "389-Directory/2.3.1 B2025.016.1616")),
        );
        // 389 offers the password policy control too: it is no way to tell the servers apart.
        ds389.supported_controls = vec![PASSWORD_POLICY_CONTROL.to_string()];
        assert_eq!(ds389.flavour(), Some(Flavour::Ds389));
        let rhds = dse(&["top"], Some(("Red Hat, Inc.", "Red Hat-Directory/12.4")));
        assert_eq!(rhds.flavour(), Some(Flavour::Ds389));
        let mut unbranded = dse(&["top"], None);
        unbranded.supported_extensions = vec!["2.16.840.1.113730.3.5.7".to_string()];
        assert_eq!(unbranded.flavour(), Some(Flavour::Ds389));

        let mut samba = dse(&["top"], None);
        samba.supported_capabilities = vec![AD_CAPABILITY.to_string()];
        assert_eq!(samba.flavour(), Some(Flavour::ActiveDirectory));

        assert_eq!(dse(&["top"], Some(("Acme", "1.0"))).flavour(), None);
    }
}
