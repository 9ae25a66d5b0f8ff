//! Credentials read from their secrets, ready to be put on requests.

use reqwest::RequestBuilder;
use reqwest::header::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use super::config::{AuthConfig, Credential};
use crate::hr::error::HrError;
use crate::hr::oauth::OAuth2;
use crate::hr::redact::Redactor;
/// Credentials read from their secrets, ready to be put on requests.
pub(super) enum Auth {
    None,
    Bearer(SecretString),
    Basic {
        username: SecretString,
        password: Option<SecretString>,
    },
    Header {
        name: HeaderName,
        value: HeaderValue,
    },
    OAuth2(Box<OAuth2>),
}

impl Auth {
    pub(super) fn resolve(config: &AuthConfig) -> Result<Self, HrError> {
        Ok(match config {
            AuthConfig::None => Self::None,
            AuthConfig::Bearer { token } => Self::Bearer(token.resolve("hr.rest.auth.token")?),
            AuthConfig::Basic { username, password } => Self::Basic {
                username: match username {
                    Credential::Plain(user) => SecretString::from(user.clone()),
                    Credential::Secret(secret) => secret.resolve("hr.rest.auth.username")?,
                },
                password: password
                    .as_ref()
                    .map(|p| p.resolve("hr.rest.auth.password"))
                    .transpose()?,
            },
            AuthConfig::Oauth2(oauth) => Self::OAuth2(Box::new(OAuth2::resolve(oauth)?)),
            AuthConfig::TokenRequest(request) => {
                Self::OAuth2(Box::new(OAuth2::resolve_token_request(request)?))
            }
            AuthConfig::SamlBearer(saml) => {
                Self::OAuth2(Box::new(OAuth2::resolve_saml_bearer(saml)?))
            }
            AuthConfig::Header { name, value } => {
                let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    HrError::Config(format!("hr.rest.auth.name: {name:?} is not a header name"))
                })?;
                let secret = value.resolve("hr.rest.auth.value")?;
                let mut value = HeaderValue::from_str(secret.expose_secret()).map_err(|_| {
                    HrError::Config(
                        "hr.rest.auth.value: the secret is not a valid header value".into(),
                    )
                })?;
                value.set_sensitive(true);
                Self::Header { name, value }
            }
        })
    }

    /// Puts the credentials on a request; `token` is the current OAuth2 access token.
    pub(super) fn apply(
        &self,
        request: RequestBuilder,
        token: Option<&SecretString>,
    ) -> RequestBuilder {
        match self {
            Self::None => request,
            Self::OAuth2(_) => match token {
                Some(token) => request.bearer_auth(token.expose_secret()),
                None => request,
            },
            Self::Bearer(token) => request.bearer_auth(token.expose_secret()),
            Self::Basic { username, password } => request.basic_auth(
                username.expose_secret(),
                password.as_ref().map(|p| p.expose_secret()),
            ),
            Self::Header { name, value } => request.header(name.clone(), value.clone()),
        }
    }

    /// What to take out of anything the API sends back before it reaches an error or a log:
    /// every configured credential, and `token`, the current OAuth2 access token.
    pub(super) fn redactor(&self, token: Option<&SecretString>) -> Redactor {
        let mut redactor = Redactor::default();
        match self {
            Self::None => {}
            Self::Bearer(token) => redactor.add(token.expose_secret()),
            Self::Basic { username, password } => redactor.add_basic(
                username.expose_secret(),
                password.as_ref().map(|p| p.expose_secret()),
            ),
            Self::Header { value, .. } => {
                if let Ok(value) = value.to_str() {
                    redactor.add(value);
                }
            }
            Self::OAuth2(oauth) => oauth.add_secrets(&mut redactor),
        }
        if let Some(token) = token {
            redactor.add(token.expose_secret());
        }
        redactor
    }
}
