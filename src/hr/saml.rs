//! A signed SAML 2.0 bearer assertion (RFC 7522) for SAP SuccessFactors' OAuth2 token endpoint,
//! made here rather than by SAP's `/oauth/idp`, which took the private key over the wire and has
//! been removed.
//!
//! The assertion is written directly in its exclusive canonical form (XML-DSig exc-c14n: no
//! declaration, no whitespace between elements, attributes in canonical order, namespace
//! declarations only where they are first used, empty elements as start and end tags), so the
//! bytes hashed are exactly the bytes a verifier canonicalises; every text and attribute value
//! is escaped. The signature is RSA-SHA256 over the canonical `SignedInfo`, enveloped, with the
//! certificate in `KeyInfo` when one is configured.

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use secrecy::{ExposeSecret, SecretString};

const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// Who the assertion speaks for and to.
pub(crate) struct AssertionParams<'a> {
    /// `Issuer` (SuccessFactors: `www.successfactors.com`).
    pub issuer: &'a str,
    /// `Audience` (SuccessFactors: `www.successfactors.com`).
    pub audience: &'a str,
    /// `Recipient`: the token endpoint's URL.
    pub recipient: &'a str,
    /// `NameID`: the API user's user id (or user name with `use_username`).
    pub name_id: &'a str,
    /// The OAuth client's API key, as the `api_key` attribute.
    pub api_key: &'a str,
    /// SuccessFactors' `use_username` attribute: `NameID` holds the user name, not the user id.
    pub use_username: bool,
    /// How long the assertion is valid.
    pub lifetime: Duration,
}

/// The private key (and certificate) an assertion is signed with.
pub(crate) struct Signer {
    key: RsaKeyPair,
    /// The certificate's DER, base64, for `KeyInfo`.
    certificate: Option<String>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    /// From a PEM private key (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`) and an optional
    /// PEM certificate. Errors name what is wrong, never the key.
    pub(crate) fn from_pem(
        private_key: &SecretString,
        certificate: Option<&str>,
    ) -> Result<Self, String> {
        let pem = private_key.expose_secret();
        let key = if let Some(der) = pem_block(pem, "PRIVATE KEY") {
            RsaKeyPair::from_pkcs8(&der)
        } else if let Some(der) = pem_block(pem, "RSA PRIVATE KEY") {
            RsaKeyPair::from_der(&der)
        } else {
            return Err(
                "the private key is not a PEM RSA key (-----BEGIN PRIVATE KEY----- or \
                 -----BEGIN RSA PRIVATE KEY-----)"
                    .into(),
            );
        }
        .map_err(|_| "the private key could not be read as an RSA key".to_string())?;
        let certificate = match certificate {
            None => None,
            Some(pem) => Some(
                pem_block(pem, "CERTIFICATE")
                    .map(|der| BASE64.encode(der))
                    .ok_or(
                        "the certificate is not a PEM certificate (-----BEGIN CERTIFICATE-----)",
                    )?,
            ),
        };
        Ok(Self { key, certificate })
    }

    /// A signed assertion issued at `now`, as XML text.
    pub(crate) fn assertion(
        &self,
        params: &AssertionParams<'_>,
        now: DateTime<Utc>,
    ) -> Result<String, String> {
        let id = format!("_{}", random_hex(16)?);
        let session = format!("_{}", random_hex(16)?);
        let issued = timestamp(now);
        let not_before = timestamp(now - Duration::minutes(5));
        let not_after = timestamp(now + params.lifetime);
        let open = format!(
            "<saml2:Assertion xmlns:saml2=\"{SAML}\" ID=\"{id}\" IssueInstant=\"{issued}\" \
             Version=\"2.0\">"
        );
        let issuer = format!(
            "<saml2:Issuer>{}</saml2:Issuer>",
            escape_text(params.issuer)
        );
        let rest = format!(
            "<saml2:Subject>\
             <saml2:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified\">{name_id}</saml2:NameID>\
             <saml2:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
             <saml2:SubjectConfirmationData NotOnOrAfter=\"{not_after}\" Recipient=\"{recipient}\"></saml2:SubjectConfirmationData>\
             </saml2:SubjectConfirmation>\
             </saml2:Subject>\
             <saml2:Conditions NotBefore=\"{not_before}\" NotOnOrAfter=\"{not_after}\">\
             <saml2:AudienceRestriction><saml2:Audience>{audience}</saml2:Audience></saml2:AudienceRestriction>\
             </saml2:Conditions>\
             <saml2:AuthnStatement AuthnInstant=\"{issued}\" SessionIndex=\"{session}\">\
             <saml2:AuthnContext>\
             <saml2:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml2:AuthnContextClassRef>\
             </saml2:AuthnContext>\
             </saml2:AuthnStatement>\
             <saml2:AttributeStatement>\
             <saml2:Attribute Name=\"api_key\"><saml2:AttributeValue>{api_key}</saml2:AttributeValue></saml2:Attribute>\
             <saml2:Attribute Name=\"use_username\"><saml2:AttributeValue>{use_username}</saml2:AttributeValue></saml2:Attribute>\
             </saml2:AttributeStatement>\
             </saml2:Assertion>",
            name_id = escape_text(params.name_id),
            recipient = escape_attribute(params.recipient),
            audience = escape_text(params.audience),
            api_key = escape_text(params.api_key),
            use_username = params.use_username,
        );
        // The enveloped-signature transform takes the Signature out again, so the digest is over
        // the assertion without it: exactly these bytes.
        let unsigned = format!("{open}{issuer}{rest}");
        let signature = self.signature(&id, &unsigned)?;
        // SAML's schema order: Issuer, Signature, Subject, ...
        Ok(format!("{open}{issuer}{signature}{rest}"))
    }

    /// The enveloped `ds:Signature` of the assertion `id` whose bytes without it are `unsigned`.
    fn signature(&self, id: &str, unsigned: &str) -> Result<String, String> {
        let digest = BASE64.encode(digest::digest(&digest::SHA256, unsigned.as_bytes()));
        let signed_info_body = format!(
            "<ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"></ds:CanonicalizationMethod>\
             <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"></ds:SignatureMethod>\
             <ds:Reference URI=\"#{id}\">\
             <ds:Transforms>\
             <ds:Transform Algorithm=\"{DSIG}enveloped-signature\"></ds:Transform>\
             <ds:Transform Algorithm=\"{EXC_C14N}\"></ds:Transform>\
             </ds:Transforms>\
             <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"></ds:DigestMethod>\
             <ds:DigestValue>{digest}</ds:DigestValue>\
             </ds:Reference>"
        );
        // Canonicalised on its own, SignedInfo carries the ds namespace it inherits in place.
        let signed_info_c14n =
            format!("<ds:SignedInfo xmlns:ds=\"{DSIG}\">{signed_info_body}</ds:SignedInfo>");
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signed_info_c14n.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "signing the SAML assertion failed".to_string())?;
        let key_info = self.certificate.as_ref().map_or_else(String::new, |cert| {
            format!(
                "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate>\
                 </ds:X509Data></ds:KeyInfo>"
            )
        });
        Ok(format!(
            "<ds:Signature xmlns:ds=\"{DSIG}\"><ds:SignedInfo>{signed_info_body}</ds:SignedInfo>\
             <ds:SignatureValue>{}</ds:SignatureValue>{key_info}</ds:Signature>",
            BASE64.encode(&signature)
        ))
    }
}

/// The DER inside the first `-----BEGIN {label}-----` block of `pem`, if any.
fn pem_block(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let body: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    BASE64.decode(body).ok()
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn random_hex(bytes: usize) -> Result<String, String> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|e| format!("no randomness for the assertion id: {e}"))?;
    Ok(buffer.iter().map(|b| format!("{b:02x}")).collect())
}

/// Text content as exc-c14n writes it.
fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

/// An attribute value as exc-c14n writes it.
fn escape_attribute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_as_canonical_xml() {
        assert_eq!(escape_text("a<b>&c\r"), "a&lt;b&gt;&amp;c&#xD;");
        assert_eq!(
            escape_attribute("x\"y&<\t\n"),
            "x&quot;y&amp;&lt;&#x9;&#xA;"
        );
    }

    #[test]
    fn a_key_that_is_not_pem_is_named_without_its_content() {
        let error = Signer::from_pem(&SecretString::from("hunter2-secret"), None)
            .err()
            .unwrap_or_default();
        assert!(error.contains("not a PEM RSA key"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }
}
