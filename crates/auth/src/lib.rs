//! OAuth 2.0 for Device Warehouse: who is calling, for which tenant, with which permission.
//!
//! * [`Validator`] checks bearer tokens (JWTs) from the built-in issuer or any trusted OIDC
//!   provider (Entra ID v1 and v2, Keycloak, Okta, ...): signature with keys found through OIDC
//!   discovery and cached (refetched, rate-limited, when an unknown `kid` appears, so issuer key
//!   rotation needs no restart), issuer, audience, lifetime with clock skew, and the permission
//!   (delegated scope in `scp` or app role in `roles`). Only asymmetric algorithms are accepted,
//!   which rules out `alg=none` and HS256-with-the-public-key confusion by construction.
//! * The tenant comes only from a validated claim, mapped through configuration; nothing the
//!   client writes elsewhere can choose it.
//! * [`TokenService`] is the built-in issuer for standalone installs: client credentials and
//!   authorization code with PKCE (with an OpenID Connect ID token on request), ES256-signed
//!   tokens, Argon2id-hashed secrets, rate-limited failures; published under its own root
//!   endpoints and under Entra ID's layout (`/{tenant}/v2.0/...`, [`Layout`]) so MSAL and
//!   Azure.Identity use it with an authority like `https://dw.example.com/{tenant}`.
//!
//! The crate has no HTTP server code; the server maps its results to responses.
#![deny(missing_docs)]

mod keys;
mod layout;
mod limiter;
mod log_safe;
mod oauth_error;
mod registry;
mod scopes;
pub mod secrets;
mod service;
mod validator;
mod verified;

pub use keys::KeyRing;
pub use layout::{tenant_issuer, Layout, ANY_TENANT};
pub use limiter::{address_key, FailureLimiter};
pub use log_safe::{log_safe, LogSafe, MAX_LOGGED_CHARS};
pub use oauth_error::OAuthError;
pub use registry::{Client, ClientKind, Registry, User};
pub use service::{TokenResponse, TokenService};
pub use validator::Validator;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Default delegated scope and app role that grant access, as in Intune.
pub const DEFAULT_PERMISSION: &str = "get_data_warehouse";

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Warehouse tenant the caller may read.
    pub tenant: String,
    /// `sub` of the token.
    pub subject: String,
    /// Client application (`azp` or `appid`).
    pub client_id: Option<String>,
    /// Issuer of the token.
    pub issuer: String,
}

/// Why a request is not authenticated or not allowed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// No credentials were sent.
    #[error("authentication required")]
    Missing,
    /// The credentials are not valid (RFC 6750 `invalid_token`).
    #[error("{0}")]
    Invalid(String),
    /// Valid credentials without the permission or tenant (`insufficient_scope`).
    #[error("{0}")]
    Forbidden(String),
    /// Too many failed attempts.
    #[error("too many failed attempts; retry in {0} seconds")]
    RateLimited(u64),
    /// Too many credentials wait to be verified (answered 503 with `Retry-After`).
    #[error("too many credentials are being verified")]
    Busy,
    /// Signing keys of the issuer could not be fetched.
    #[error("{0}")]
    Unavailable(String),
    /// Bad configuration or key files.
    #[error("{0}")]
    Config(String),
}

/// A trusted external issuer (OIDC provider).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IssuerSettings {
    /// Expected `iss`. `{tenantid}` stands for the token's tenant claim, as in Entra ID
    /// (`https://login.microsoftonline.com/{tenantid}/v2.0`, `https://sts.windows.net/{tenantid}/`).
    pub issuer: String,
    /// OIDC discovery document URL; default `{issuer}/.well-known/openid-configuration`.
    #[serde(default)]
    pub discovery_url: Option<String>,
    /// JWKS URL, skipping discovery.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Claim naming the caller's directory tenant.
    #[serde(default = "default_tenant_claim")]
    pub tenant_claim: String,
    /// Allowed directory tenants (claim value) and the warehouse tenant each reads.
    #[serde(default)]
    pub tenants: BTreeMap<String, String>,
}

fn default_tenant_claim() -> String {
    "tid".into()
}

/// Resource-server settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthSettings {
    /// Accepted audiences (`aud`): the service's base URL and/or its app ID URI.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Delegated scope (in `scp`) that grants access.
    #[serde(default = "default_permission")]
    pub scope: String,
    /// App role (in `roles`) that grants access.
    #[serde(default = "default_permission")]
    pub role: String,
    /// Allowed clock difference for `exp`, `nbf` and `iat`, in seconds.
    #[serde(default = "default_skew")]
    pub clock_skew_secs: u64,
    /// Sign-in authority announced in 401 challenges (Power BI and Excel read it).
    #[serde(default)]
    pub authorization_uri: Option<String>,
    /// Trusted external issuers.
    #[serde(default)]
    pub issuers: Vec<IssuerSettings>,
    /// Least time between two JWKS fetches of one issuer, in seconds.
    #[serde(default = "default_refresh")]
    pub jwks_min_refresh_secs: u64,
}

fn default_permission() -> String {
    DEFAULT_PERMISSION.into()
}
fn default_skew() -> u64 {
    300
}
fn default_refresh() -> u64 {
    30
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            audiences: Vec::new(),
            scope: default_permission(),
            role: default_permission(),
            clock_skew_secs: default_skew(),
            authorization_uri: None,
            issuers: Vec::new(),
            jwks_min_refresh_secs: default_refresh(),
        }
    }
}

/// Bounds on the files the auth crate reads: the client registry (thousands of clients and
/// users) and the signing keys (a handful of PEM keys).
pub const MAX_REGISTRY_BYTES: u64 = 16 << 20;
/// See [`MAX_REGISTRY_BYTES`].
pub const MAX_KEY_FILE_BYTES: u64 = 1 << 20;
