//! Opening and binding the LDAP connection: TLS, timeouts, and errors an admin can act on.

use std::sync::Arc;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use secrecy::{ExposeSecret, SecretString};

use super::{DirectoryConfig, DirectoryError, describe_rc};

pub(crate) async fn connect(
    config: &DirectoryConfig,
    password: &SecretString,
) -> Result<Ldap, DirectoryError> {
    let connect_error = |message: String| DirectoryError::Connect {
        url: config.url.clone(),
        message,
    };
    // Validation refuses this already; checked again here because the password is about to
    // leave, and said at every connection when an admin allowed it.
    if config.cleartext_bind() {
        if !config.danger_allow_cleartext_bind {
            return Err(connect_error(format!(
                "refused to bind: directory.url {}",
                super::config::CLEARTEXT_BIND
            )));
        }
        tracing::warn!(
            url = %config.url,
            "the bind password crosses the network in clear text \
             (directory.danger_allow_cleartext_bind = true)"
        );
    }
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(config.connect_timeout)
        .set_starttls(config.starttls);
    if config.danger_skip_tls_verify {
        tracing::warn!("TLS certificate verification is OFF (directory.danger_skip_tls_verify)");
        settings = settings.set_no_tls_verify(true);
    } else if let Some(ca_file) = &config.ca_file {
        settings = settings.set_config(Arc::new(tls_config(ca_file).map_err(connect_error)?));
    }
    // The whole opening, TLS handshake included, and then the bind, each get the connect
    // timeout: a server that accepts connections and never answers (hung, or stopped) must
    // fail the run in seconds, saying so, not after the operation timeout as "cannot connect".
    let timed_out = |during| DirectoryError::TimedOut {
        during,
        url: config.url.clone(),
        secs: config.connect_timeout.as_secs(),
        why: match during {
            "connecting to" if config.starttls => {
                "the server accepted the connection and did not answer: a hung server, or an \
                 LDAPS port in directory.url, which does not answer a StartTLS request"
            }
            _ => "the server accepted the connection and did not answer: a hung server",
        },
    };
    let (conn, mut ldap) = tokio::time::timeout(
        config.connect_timeout,
        LdapConnAsync::with_settings(settings, &config.url),
    )
    .await
    .map_err(|_| timed_out("connecting to"))?
    .map_err(|e| match e {
        ldap3::LdapError::Timeout { .. } => timed_out("connecting to"),
        e => connect_error(with_way_out(e.to_string(), config)),
    })?;
    tokio::spawn(async move {
        if let Err(e) = conn.drive().await {
            tracing::warn!(error = %e, "LDAP connection ended with an error");
        }
    });
    let result = ldap
        .with_timeout(config.connect_timeout)
        .simple_bind(&config.bind_dn, password.expose_secret())
        .await
        .map_err(|e| match e {
            ldap3::LdapError::Timeout { .. } => timed_out("binding to"),
            e => connect_error(with_way_out(e.to_string(), config)),
        })?;
    if result.rc != 0 {
        let mut message = describe_rc(result.rc, &result.text);
        if result.rc == 49 {
            message.push_str(
                " (check directory.bind_dn and the password directory.bind_password points at)",
            );
        }
        return Err(DirectoryError::Bind {
            bind_dn: config.bind_dn.clone(),
            message,
        });
    }
    tracing::debug!(url = %config.url, bind_dn = %config.bind_dn, "bound to the directory");
    Ok(ldap)
}

/// `message` (ldap3's, or rustls' or the OS's through it) with what to check, for the failures
/// an admin meets setting hrsync up: the wrong port for the scheme, a CA this machine does not
/// trust, a certificate for another name, nothing listening, a name that does not resolve.
fn with_way_out(message: String, config: &DirectoryConfig) -> String {
    let ldaps = config.url.to_ascii_lowercase().starts_with("ldaps://");
    let ca = match &config.ca_file {
        Some(path) => format!(
            "the CA in directory.ca_file ({}) did not sign it",
            path.display()
        ),
        None => "set directory.ca_file to the PEM file of the CA that signed it (the system's \
                 trusted CAs did not)"
            .to_string(),
    };
    let way_out = if message.contains("handshake eof") && ldaps {
        "the server closed the TLS handshake: directory.url is ldaps:// but its port looks like \
         a plain LDAP port (usually 389); use the LDAPS port (usually 636), or ldap:// with \
         directory.starttls = true"
            .to_string()
    } else if message.contains("channel closed") && !ldaps {
        "the server closed the connection at the first request: directory.url is ldap:// but \
         its port looks like an LDAPS port (usually 636); use ldaps:// for it, or the plain LDAP \
         port (usually 389)"
            .to_string()
    } else if message.contains("UnknownIssuer") || message.contains("BadSignature") {
        format!("the server's certificate is not trusted: {ca}")
    } else if message.contains("NotValidForName") || message.contains("not valid for name") {
        "the server's certificate does not name the host in directory.url: use the name (or \
         address) the certificate was issued for"
            .to_string()
    } else if message.contains("Connection refused") {
        "nothing listens there: check the host and port in directory.url, and that the server \
         is running"
            .to_string()
    } else if message.contains("failed to lookup address") {
        "the host name in directory.url does not resolve".to_string()
    } else {
        return message;
    };
    format!("{message}: {way_out}")
}

/// A rustls client config trusting only the CA certificates in `ca_file`.
fn tls_config(ca_file: &std::path::Path) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_file)
        .map_err(|e| format!("cannot read CA file {}: {e}", ca_file.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("bad certificate in {}: {e}", ca_file.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("unusable CA certificate in {}: {e}", ca_file.display()))?;
    }
    if roots.is_empty() {
        return Err(format!(
            "no certificate found in CA file {}",
            ca_file.display()
        ));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 17.9: a config that skipped validation still never sends the password in clear
    /// text to another host: the refusal comes before any connection.
    #[tokio::test]
    async fn connect_refuses_a_cleartext_bind_to_another_host() {
        let raw: super::super::config::RawDirectory = toml::from_str(
            r#"
url = "ldap://ldap.invalid:389"
bind_dn = "cn=hrsync,dc=example,dc=com"
bind_password = { env = "PW" }
users_base = "dc=example,dc=com"
"#,
        )
        .unwrap();
        let config = raw.validate(&mut Vec::new()).unwrap();
        let password = SecretString::from("pw-never-sent-5e1");
        let error = connect(&config, &password).await.unwrap_err().to_string();
        assert!(
            error.starts_with("cannot connect to ldap://ldap.invalid:389: refused to bind: directory.url is ldap:// without StartTLS"),
            "{error}"
        );
        assert!(!error.contains("pw-never-sent"), "{error}");
    }
}
