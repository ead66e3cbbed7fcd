//! The built-in OAuth 2.0 token service (RFC 6749 with PKCE, RFC 7636).

use crate::layout::Layout;
use crate::oauth_error::OAuthError;
use crate::scopes::{self, Flow, Requested};
use crate::verified::VerifiedCredentials;
use crate::{address_key, secrets, Client, FailureLimiter, KeyRing, Registry, User};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, Header};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// A successful token response.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TokenResponse {
    /// The JWT.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Lifetime in seconds.
    pub expires_in: i64,
    /// Granted scope (delegated tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// OpenID Connect ID token, when `openid` was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Entra's `client_info` (Base64url JSON of `uid` and `utid`), when the request asked for it
    /// with `client_info=1`: MSAL keys its account cache with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_info: Option<String>,
}

struct PendingCode {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    username: String,
    requested: Requested,
    nonce: Option<String>,
    issued: Instant,
    signed_in_at: i64,
}

/// A checked authorization request.
struct Authorization {
    client: Client,
    redirect_uri: String,
    requested: Requested,
}

/// What a token carries besides its lifetime and id.
struct Grant<'a> {
    issuer: String,
    audience: &'a str,
    subject: &'a str,
    tenant: &'a str,
    client_id: &'a str,
    access: Access<'a>,
}

/// The permission a token carries.
enum Access<'a> {
    /// A user's token: the delegated scope, in `scp`.
    Delegated(&'a str),
    /// An application's token: app roles, in `roles`.
    App(&'a [String]),
}

/// The built-in issuer.
pub struct TokenService {
    issuer: String,
    audiences: Vec<String>,
    scope: String,
    role: String,
    lifetime: i64,
    keys: Arc<KeyRing>,
    registry: RwLock<Registry>,
    limiter: FailureLimiter,
    address_limiter: FailureLimiter,
    codes: Mutex<HashMap<String, PendingCode>>,
    verified: VerifiedCredentials,
    /// Per user, the addresses they signed in from lately ([`FAMILIAR_ADDRESSES`]).
    familiar: Mutex<HashMap<String, VecDeque<String>>>,
}

/// Addresses remembered per user as ones they sign in from: there, their sign-in is limited by
/// their own failures at that address, not by those of others elsewhere against their name.
pub const FAMILIAR_ADDRESSES: usize = 8;

/// Failed authentications allowed per client or user within [`FAILURE_WINDOW`] (and per user at
/// an address they signed in from before).
pub const FAILURES_PER_NAME: usize = 5;
/// Failed authentications with names that are no one's allowed per source address (IPv6: per
/// /64) within [`FAILURE_WINDOW`]: trying many made-up names from one address does not escape
/// the limit, and does not block the clients and users that address serves.
pub const FAILURES_PER_ADDRESS: usize = 20;
/// The window of the failure limits.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

const CODE_LIFETIME: Duration = Duration::from_secs(120);

/// Characters of a client-supplied name repeated in an error description.
const MAX_NAME_ECHO: usize = 100;

/// The 429 of a client whose failures reached their limit.
fn too_many_client_failures(wait: Duration) -> OAuthError {
    let mut e = OAuthError::new(
        429,
        "invalid_client",
        "too many failed attempts; try again later",
    );
    e.retry_after = Some(wait.as_secs());
    e
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

impl TokenService {
    /// A token service issuing as `issuer` (its root layout; `{issuer}/{tenant}/v2.0` in Entra's
    /// layout) for `audiences` (the first unless a request names another with
    /// `{resource}/.default`): user tokens carry `scope` in `scp`, app-only tokens carry `role`
    /// in `roles`.
    pub fn new(
        issuer: &str,
        audiences: &[String],
        scope: &str,
        role: &str,
        lifetime: i64,
        keys: Arc<KeyRing>,
        registry: Registry,
    ) -> Self {
        Self {
            issuer: issuer.trim_end_matches('/').to_string(),
            audiences: audiences.to_vec(),
            scope: scope.to_string(),
            role: role.to_string(),
            lifetime,
            keys,
            registry: RwLock::new(registry),
            limiter: FailureLimiter::new(FAILURES_PER_NAME, FAILURE_WINDOW),
            address_limiter: FailureLimiter::new(FAILURES_PER_ADDRESS, FAILURE_WINDOW),
            codes: Mutex::new(HashMap::new()),
            verified: VerifiedCredentials::default(),
            familiar: Mutex::new(HashMap::new()),
        }
    }

    /// The issuer identifier (`iss`) of the root layout, the base of Entra's layout.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Longest lifetime of an issued token, in seconds.
    pub fn lifetime(&self) -> i64 {
        self.lifetime
    }

    /// The signing keys.
    pub fn keys(&self) -> &Arc<KeyRing> {
        &self.keys
    }

    /// Replaces the clients and users (after `dw clients add` on a running server, a restart or
    /// a reload calls this).
    pub fn set_registry(&self, registry: Registry) {
        *self.registry.write().expect("lock") = registry;
    }

    /// Whether a tenant segment of Entra's layout names a tenant this issuer serves (one with a
    /// client or a user), or any tenant.
    pub fn serves(&self, layout: Layout) -> bool {
        match layout {
            Layout::Root => true,
            Layout::Tenant(_) if layout.is_any_tenant() => true,
            Layout::Tenant(t) => {
                let registry = self.registry.read().expect("lock");
                registry.clients.iter().any(|c| c.tenant == t)
                    || registry.users.iter().any(|u| u.tenant == t)
            }
        }
    }

    fn check_layout(&self, layout: Layout) -> Result<(), OAuthError> {
        match layout {
            Layout::Tenant(t) if !self.serves(layout) => Err(OAuthError::new(
                400,
                "invalid_tenant",
                format!(
                    "tenant '{}' has no clients or users on this issuer",
                    t.chars().take(MAX_NAME_ECHO).collect::<String>()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The OIDC discovery document of a layout; 400 `invalid_tenant` for a tenant it does not
    /// serve.
    pub fn discovery(&self, layout: Layout) -> Result<serde_json::Value, OAuthError> {
        self.check_layout(layout)?;
        let base = &self.issuer;
        let mut scopes = vec![self.scope.clone(), "openid".into(), "profile".into()];
        scopes.extend(
            self.audiences
                .first()
                .map(|a| format!("{}/.default", a.trim_end_matches('/'))),
        );
        Ok(serde_json::json!({
            "issuer": layout.announced_issuer(base),
            "authorization_endpoint": layout.authorize_url(base),
            "token_endpoint": layout.token_url(base),
            "jwks_uri": layout.keys_url(base),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["client_credentials", "authorization_code"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "claims_supported": ["iss", "aud", "sub", "tid", "azp", "iat", "nbf", "exp", "nonce", "auth_time", "preferred_username", "name", "ver"],
            "scopes_supported": scopes,
        }))
    }

    /// The JWKS document of a layout (the same keys in both); 400 `invalid_tenant` for a tenant
    /// it does not serve.
    pub fn jwks(&self, layout: Layout) -> Result<serde_json::Value, OAuthError> {
        self.check_layout(layout)?;
        Ok(self.keys.jwks(self.lifetime))
    }

    fn sign(&self, claims: &serde_json::Value) -> String {
        let (kid, key) = self.keys.current();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid);
        encode(&header, claims, &key).expect("ES256 signing with a valid key succeeds")
    }

    fn access_token(&self, grant: &Grant) -> String {
        let t = now();
        let mut claims = serde_json::json!({
            "iss": grant.issuer,
            "aud": grant.audience,
            "sub": grant.subject,
            "tid": grant.tenant,
            "azp": grant.client_id,
            "iat": t,
            "nbf": t,
            "exp": t + self.lifetime,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        match grant.access {
            Access::Delegated(scope) => claims["scp"] = scope.into(),
            Access::App(roles) => claims["roles"] = roles.into(),
        }
        self.sign(&claims)
    }

    /// The OpenID Connect ID token of a user's sign-in (audience: the client).
    fn id_token(&self, grant: &Grant, pending: &PendingCode) -> String {
        let t = now();
        let mut claims = serde_json::json!({
            "ver": "2.0",
            "iss": grant.issuer,
            "aud": grant.client_id,
            "sub": grant.subject,
            "tid": grant.tenant,
            "iat": t,
            "nbf": t,
            "exp": t + self.lifetime,
            "auth_time": pending.signed_in_at,
        });
        if let Some(nonce) = &pending.nonce {
            claims["nonce"] = nonce.as_str().into();
        }
        if pending.requested.profile {
            claims["preferred_username"] = grant.subject.into();
            claims["name"] = grant.subject.into();
        }
        self.sign(&claims)
    }

    /// An app-only token for a configured client, without checking a secret (for `dw token`).
    pub fn token_for_client(&self, client_id: &str) -> Result<TokenResponse, OAuthError> {
        let client = self.client(client_id).ok_or_else(|| {
            OAuthError::new(400, "invalid_client", format!("no client '{client_id}'"))
        })?;
        let audience = self.audiences.first().cloned().unwrap_or_default();
        Ok(self.app_token(&client, Layout::Root, &audience))
    }

    fn app_token(&self, client: &Client, layout: Layout, audience: &str) -> TokenResponse {
        let roles = if client.roles.is_empty() {
            vec![self.role.clone()]
        } else {
            client.roles.clone()
        };
        let grant = Grant {
            issuer: layout.issuer(&self.issuer, &client.tenant),
            audience,
            subject: &client.id,
            tenant: &client.tenant,
            client_id: &client.id,
            access: Access::App(&roles),
        };
        TokenResponse {
            access_token: self.access_token(&grant),
            token_type: "Bearer",
            expires_in: self.lifetime,
            scope: None,
            id_token: None,
            client_info: None,
        }
    }

    /// Whether this issuer issued the principal's token, under either layout (the validator
    /// trusted its signature).
    pub fn issued(&self, principal: &crate::Principal) -> bool {
        principal.issuer == self.issuer
            || principal.issuer == crate::tenant_issuer(&self.issuer, &principal.tenant)
    }

    /// Whether the client (and, for a user's token, the user) a token of this issuer was
    /// issued to is still registered for its tenant: removing a client or a user revokes its
    /// tokens at once, not when they expire.
    pub fn still_registered(&self, principal: &crate::Principal) -> bool {
        let registry = self.registry.read().expect("lock");
        let Some(client_id) = principal.client_id.as_deref() else {
            return false;
        };
        let app_only = principal.subject == client_id;
        // an app-only token reads its client's tenant; a user's token its user's
        let client_ok = registry
            .clients
            .iter()
            .any(|c| c.id == client_id && (!app_only || c.tenant == principal.tenant));
        let user_ok = app_only
            || registry
                .users
                .iter()
                .any(|u| u.username == principal.subject && u.tenant == principal.tenant);
        client_ok && user_ok
    }

    fn client(&self, id: &str) -> Option<Client> {
        self.registry
            .read()
            .expect("lock")
            .clients
            .iter()
            .find(|c| c.id == id)
            .cloned()
    }

    fn user(&self, name: &str) -> Option<User> {
        self.registry
            .read()
            .expect("lock")
            .users
            .iter()
            .find(|u| u.username == name)
            .cloned()
    }

    /// The client `id` when `secret` is its secret and was verified lately: a hash and a
    /// lookup, no Argon2 ([`crate::verified`]).
    pub fn remembered_client(&self, id: &str, secret: &str) -> Option<Client> {
        let client = self.client(id)?;
        let hash = client.secret_hash.as_deref()?;
        self.verified
            .knows("client", id, secret, hash)
            .then_some(client)
    }

    /// Authenticates a client by id and secret. A known client's secret is always checked: it
    /// was generated (256 random bits), so it cannot be guessed however many tries are made,
    /// and a correct one is never refused for failures others made against its id; failures
    /// past [`FAILURES_PER_NAME`] are answered 429. Ids that are no one's are limited per
    /// address ([`FAILURES_PER_ADDRESS`]) before anything is hashed.
    pub fn authenticate_client(
        &self,
        id: &str,
        secret: &str,
        address: &str,
    ) -> Result<Client, OAuthError> {
        if let Some(c) = self.remembered_client(id, secret) {
            return Ok(c);
        }
        let client = self.client(id);
        let Some((client, hash)) = client.and_then(|c| c.secret_hash.clone().map(|h| (c, h)))
        else {
            let address_key = address_key(address);
            self.address_limiter
                .check(&address_key)
                .map_err(too_many_client_failures)?;
            // as long as a known client's check, so the answer's time tells nothing
            secrets::verify_secret(secret, secrets::dummy_hash());
            self.address_limiter.failed(&address_key);
            tracing::warn!(client_id = %crate::log_safe(id), address = %address, "failed client authentication: unknown client");
            return Err(OAuthError::new(
                401,
                "invalid_client",
                "client authentication failed",
            ));
        };
        let key = format!("client:{id}");
        if secrets::verify_secret(secret, &hash) {
            self.verified.remember("client", id, secret, &hash);
            return Ok(client);
        }
        self.limiter.failed(&key);
        tracing::warn!(client_id = %crate::log_safe(id), address = %address, "failed client authentication");
        self.limiter.check(&key).map_err(too_many_client_failures)?;
        Err(OAuthError::new(
            401,
            "invalid_client",
            "client authentication failed",
        ))
    }

    /// Whether `address` is one `username` signed in from lately.
    fn is_familiar(&self, username: &str, address: &str) -> bool {
        self.familiar
            .lock()
            .expect("lock")
            .get(username)
            .is_some_and(|list| list.iter().any(|a| a == address))
    }

    /// Records that `username` signed in from `address` (the last [`FAMILIAR_ADDRESSES`]).
    fn remember_familiar(&self, username: &str, address: &str) {
        let mut familiar = self.familiar.lock().expect("lock");
        let list = familiar.entry(username.to_string()).or_default();
        list.retain(|a| a != address);
        list.push_back(address.to_string());
        if list.len() > FAMILIAR_ADDRESSES {
            list.pop_front();
        }
    }

    /// Checks a user's password for the sign-in page: `Err` with the page's message when it
    /// is wrong or the attempt is limited. A password verified lately is taken at once. For a
    /// known user, attempts from an address they signed in from lately count their failures
    /// there; from anywhere else, the failures against their name; unknown names count against
    /// the address.
    fn check_password(
        &self,
        username: &str,
        password: &str,
        address: &str,
    ) -> Result<User, String> {
        const LIMITED: &str = "Too many failed attempts; wait a minute and try again.";
        const WRONG: &str = "The user name or password is not correct.";
        let user = self.user(username);
        if let Some(u) = user.as_ref().filter(|u| {
            self.verified
                .knows("user", username, password, &u.password_hash)
        }) {
            return Ok(u.clone());
        }
        let Some(u) = user else {
            let address_key = address_key(address);
            if self.address_limiter.check(&address_key).is_err() {
                return Err(LIMITED.into());
            }
            secrets::verify_secret(password, secrets::dummy_hash());
            self.address_limiter.failed(&address_key);
            tracing::warn!(username = %crate::log_safe(username), address = %address, "failed sign-in: unknown user");
            return Err(WRONG.into());
        };
        let address_key = address_key(address);
        let (name_key, here_key) = (
            format!("user:{username}"),
            format!("user:{username}@{address_key}"),
        );
        let familiar = self.is_familiar(username, &address_key);
        let limit = if familiar { &here_key } else { &name_key };
        if self.limiter.check(limit).is_err() {
            return Err(LIMITED.into());
        }
        if !secrets::verify_secret(password, &u.password_hash) {
            self.limiter.failed(&name_key);
            if familiar {
                self.limiter.failed(&here_key);
            }
            tracing::warn!(username = %crate::log_safe(username), address = %address, "failed sign-in");
            return Err(WRONG.into());
        }
        // the count against the name stays: another's failures are not forgiven by this success
        self.limiter.succeeded(&here_key);
        self.remember_familiar(username, &address_key);
        self.verified
            .remember("user", username, password, &u.password_hash);
        Ok(u)
    }

    /// The token endpoint of `layout`. `basic` is the client's id and secret from an
    /// `Authorization: Basic` header (client_secret_basic); `form` is the request body.
    pub fn token(
        &self,
        form: &HashMap<String, String>,
        basic: Option<(String, String)>,
        address: &str,
        layout: Layout,
    ) -> Result<TokenResponse, OAuthError> {
        self.check_layout(layout)?;
        let grant = form
            .get("grant_type")
            .ok_or_else(|| OAuthError::new(400, "invalid_request", "grant_type is required"))?;
        if form.contains_key("client_assertion") {
            return Err(OAuthError::new(
                400,
                "invalid_client",
                "client assertions (certificate credentials) are not supported; use a client secret",
            ));
        }
        let (client_id, secret) = match (basic, form.get("client_id"), form.get("client_secret")) {
            (Some((id, s)), body_id, None) => {
                if body_id.is_some_and(|b| *b != id) {
                    return Err(OAuthError::new(
                        400,
                        "invalid_request",
                        "client_id differs from the authenticated client",
                    ));
                }
                (id, Some(s))
            }
            (Some(_), _, Some(_)) => {
                return Err(OAuthError::new(
                    400,
                    "invalid_request",
                    "use one client authentication method",
                ))
            }
            (None, Some(id), s) => (id.clone(), s.cloned()),
            (None, None, _) => {
                return Err(OAuthError::new(
                    401,
                    "invalid_client",
                    "client authentication is required",
                ))
            }
        };
        let mut response = match grant.as_str() {
            "client_credentials" => {
                let secret = secret.ok_or_else(|| {
                    OAuthError::new(401, "invalid_client", "client authentication is required")
                })?;
                let client = self.authenticate_client(&client_id, &secret, address)?;
                Self::check_client_tenant(&client, layout)?;
                let requested = scopes::read(
                    form.get("scope").map(String::as_str),
                    Flow::App,
                    &self.role,
                    &self.audiences,
                )?;
                self.app_token(&client, layout, &requested.audience)
            }
            "authorization_code" => {
                self.redeem_code(form, &client_id, secret.as_deref(), address, layout)?
            }
            other => {
                return Err(OAuthError::new(
                    400,
                    "unsupported_grant_type",
                    format!("grant_type '{other}' is not supported"),
                ))
            }
        };
        if form.get("client_info").map(String::as_str) != Some("1") {
            response.client_info = None;
        }
        Ok(response)
    }

    fn check_client_tenant(client: &Client, layout: Layout) -> Result<(), OAuthError> {
        match layout {
            Layout::Tenant(t) if !layout.admits(&client.tenant) => Err(OAuthError::new(
                400,
                "unauthorized_client",
                format!("client '{}' is not registered in tenant '{t}'", client.id),
            )),
            _ => Ok(()),
        }
    }

    /// The authorization code grant: the client (authenticated unless public), the code, the
    /// PKCE verifier; a user's token, with an ID token when `openid` was asked for.
    fn redeem_code(
        &self,
        form: &HashMap<String, String>,
        client_id: &str,
        secret: Option<&str>,
        address: &str,
        layout: Layout,
    ) -> Result<TokenResponse, OAuthError> {
        let client = match secret {
            Some(s) => self.authenticate_client(client_id, s, address)?,
            None => {
                let c = self.client(client_id).ok_or_else(|| {
                    OAuthError::new(401, "invalid_client", "client authentication failed")
                })?;
                if c.secret_hash.is_some() {
                    return Err(OAuthError::new(
                        401,
                        "invalid_client",
                        "this client must authenticate",
                    ));
                }
                c
            }
        };
        let code = form
            .get("code")
            .ok_or_else(|| OAuthError::new(400, "invalid_request", "code is required"))?;
        let verifier = form.get("code_verifier").ok_or_else(|| {
            OAuthError::new(400, "invalid_request", "code_verifier is required (PKCE)")
        })?;
        let pending = self
            .codes
            .lock()
            .expect("lock")
            .remove(code)
            .ok_or_else(|| {
                OAuthError::new(400, "invalid_grant", "the code is unknown, used or expired")
            })?;
        if pending.issued.elapsed() > CODE_LIFETIME
            || pending.client_id != client.id
            || form.get("redirect_uri") != Some(&pending.redirect_uri)
        {
            return Err(OAuthError::new(
                400,
                "invalid_grant",
                "the code does not match this client or redirect_uri, or has expired",
            ));
        }
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if challenge != pending.challenge {
            return Err(OAuthError::new(
                400,
                "invalid_grant",
                "code_verifier does not match the code_challenge",
            ));
        }
        let user = self
            .user(&pending.username)
            .filter(|u| layout.admits(&u.tenant))
            .ok_or_else(|| {
                OAuthError::new(
                    400,
                    "invalid_grant",
                    "the user no longer exists in this tenant",
                )
            })?;
        let grant = Grant {
            issuer: layout.issuer(&self.issuer, &user.tenant),
            audience: &pending.requested.audience,
            subject: &user.username,
            tenant: &user.tenant,
            client_id: &client.id,
            access: Access::Delegated(&self.scope),
        };
        let requested = &pending.requested;
        let mut granted: Vec<String> = vec![requested
            .resource_scope
            .clone()
            .unwrap_or_else(|| self.scope.clone())];
        granted.extend(requested.openid.then(|| "openid".to_string()));
        granted.extend(requested.profile.then(|| "profile".to_string()));
        let client_info = serde_json::json!({ "uid": user.username, "utid": user.tenant });
        Ok(TokenResponse {
            access_token: self.access_token(&grant),
            token_type: "Bearer",
            expires_in: self.lifetime,
            scope: Some(granted.join(" ")),
            id_token: requested.openid.then(|| self.id_token(&grant, &pending)),
            client_info: Some(URL_SAFE_NO_PAD.encode(client_info.to_string())),
        })
    }

    /// Checks an authorization request of `layout`: the client, its redirect URI, PKCE, and the
    /// scope. The client may be of another tenant (one sign-in application serves every tenant's
    /// users); the user signing in must be of the layout's tenant.
    fn check_authorize(
        &self,
        q: &HashMap<String, String>,
        layout: Layout,
    ) -> Result<Authorization, OAuthError> {
        self.check_layout(layout)?;
        let client_id = q
            .get("client_id")
            .ok_or_else(|| OAuthError::new(400, "invalid_request", "client_id is required"))?;
        let client = self
            .client(client_id)
            .ok_or_else(|| OAuthError::new(400, "invalid_client", "unknown client"))?;
        let redirect = q
            .get("redirect_uri")
            .ok_or_else(|| OAuthError::new(400, "invalid_request", "redirect_uri is required"))?;
        if !client.allows_redirect(redirect) {
            return Err(OAuthError::new(
                400,
                "invalid_request",
                "redirect_uri is not registered for this client",
            ));
        }
        if q.get("response_type").map(String::as_str) != Some("code") {
            return Err(OAuthError::new(
                400,
                "unsupported_response_type",
                "response_type must be code",
            ));
        }
        if q.get("code_challenge_method").map(String::as_str) != Some("S256")
            || q.get("code_challenge").is_none_or(|c| c.len() < 43)
        {
            return Err(OAuthError::new(
                400,
                "invalid_request",
                "PKCE with code_challenge_method=S256 is required",
            ));
        }
        if q.get("response_mode").is_some_and(|m| m != "query") {
            return Err(OAuthError::new(
                400,
                "invalid_request",
                "response_mode must be query",
            ));
        }
        let requested = scopes::read(
            q.get("scope").map(String::as_str),
            Flow::Delegated,
            &self.scope,
            &self.audiences,
        )?;
        Ok(Authorization {
            client,
            redirect_uri: redirect.clone(),
            requested,
        })
    }

    /// The sign-in page for an authorization request of `layout`.
    pub fn sign_in_page(
        &self,
        q: &HashMap<String, String>,
        message: Option<&str>,
        layout: Layout,
    ) -> Result<String, OAuthError> {
        let authorization = self.check_authorize(q, layout)?;
        let hidden: String = [
            "client_id",
            "redirect_uri",
            "response_type",
            "response_mode",
            "scope",
            "state",
            "nonce",
            "code_challenge",
            "code_challenge_method",
        ]
        .iter()
        .filter_map(|k| {
            q.get(*k).map(|v| {
                format!(
                    r#"<input type="hidden" name="{k}" value="{}">"#,
                    html_escape(v)
                )
            })
        })
        .collect();
        let message = message
            .map(|m| format!(r#"<p class="error" role="alert">{}</p>"#, html_escape(m)))
            .unwrap_or_default();
        let login_hint = q
            .get("login_hint")
            .or_else(|| q.get("username"))
            .map(|u| format!(r#" value="{}""#, html_escape(u)))
            .unwrap_or_default();
        Ok(format!(
            r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Device Warehouse</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/reports/app.css"></head>
<body><header class="bar"><span class="product">Device Warehouse</span></header>
<main class="sign-in"><h1>Sign in</h1>
<p>to the tenant <strong>{}</strong>: {} wants to read its device warehouse data.</p>{message}
<form method="post" action="authorize">{hidden}
<p><label for="username">User name</label><input id="username" name="username" autocomplete="username"{login_hint} required></p>
<p><label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Sign in</button></p></form></main></body></html>"#,
            html_escape(&authorization.client.tenant),
            html_escape(&authorization.client.id)
        ))
    }

    /// Handles the sign-in form of `layout`: on success, the URL to redirect the browser to (with
    /// `code`); a message for the page when the user cannot sign in.
    pub fn sign_in(
        &self,
        form: &HashMap<String, String>,
        address: &str,
        layout: Layout,
    ) -> Result<Result<String, String>, OAuthError> {
        let authorization = self.check_authorize(form, layout)?;
        let username = form.get("username").cloned().unwrap_or_default();
        let password = form.get("password").cloned().unwrap_or_default();
        let user = match self.check_password(&username, &password, address) {
            Ok(user) => user,
            Err(message) => return Ok(Err(message)),
        };
        if !layout.admits(&user.tenant) {
            return Ok(Err("This user does not belong to this tenant.".into()));
        }
        let code = secrets::generate_secret();
        let mut codes = self.codes.lock().expect("lock");
        codes.retain(|_, c| c.issued.elapsed() < CODE_LIFETIME);
        codes.insert(
            code.clone(),
            PendingCode {
                client_id: authorization.client.id,
                redirect_uri: authorization.redirect_uri.clone(),
                challenge: form.get("code_challenge").cloned().unwrap_or_default(),
                username,
                requested: authorization.requested,
                nonce: form.get("nonce").cloned(),
                issued: Instant::now(),
                signed_in_at: now(),
            },
        );
        let mut url = authorization.redirect_uri;
        url.push(if url.contains('?') { '&' } else { '?' });
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("code", &code);
        if let Some(state) = form.get("state") {
            q.append_pair("state", state);
        }
        url.push_str(&q.finish());
        Ok(Ok(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClientKind;

    fn service() -> (TokenService, String) {
        let mut registry = Registry::default();
        registry.set_user("ann", "correct horse", "t");
        let secret = registry
            .add_client("reporting", "t", Vec::new(), ClientKind::Confidential)
            .unwrap()
            .unwrap();
        let keys = Arc::new(KeyRing::ephemeral().unwrap());
        let audience = ["http://127.0.0.1:8080/".to_string()];
        let s = TokenService::new(
            "http://127.0.0.1:8080",
            &audience,
            "s",
            "r",
            3600,
            keys,
            registry,
        );
        (s, secret)
    }

    #[test]
    fn a_user_keeps_signing_in_while_others_fail_against_their_name() {
        let (s, _) = service();
        let (home, attacker, office) = ("192.0.2.1", "198.51.100.9", "203.0.113.5");
        assert!(s.check_password("ann", "correct horse", home).is_ok());
        // failures against her name from elsewhere are limited there ...
        let attempts: Vec<_> = (0..8)
            .map(|_| s.check_password("ann", "guess", attacker).unwrap_err())
            .collect();
        assert!(attempts[7].contains("Too many"), "{attempts:?}");
        // ... and do not refuse her password, where she signs in and elsewhere
        assert!(s.check_password("ann", "correct horse", home).is_ok());
        assert!(s.check_password("ann", "correct horse", office).is_ok());
        // made-up names from her address count against the address, not against her
        for i in 0..25 {
            assert!(s.check_password(&format!("nobody{i}"), "x", home).is_err());
        }
        assert!(s
            .check_password("nobody", "x", home)
            .unwrap_err()
            .contains("Too many"));
        assert!(s.check_password("ann", "correct horse", home).is_ok());
    }

    #[test]
    fn remembered_credentials_follow_the_registry() {
        let (s, secret) = service();
        assert!(s.remembered_client("reporting", &secret).is_none());
        assert!(s
            .authenticate_client("reporting", &secret, "192.0.2.1")
            .is_ok());
        assert!(s.remembered_client("reporting", &secret).is_some());
        assert!(s.remembered_client("reporting", "other").is_none());
        assert!(s
            .check_password("ann", "correct horse", "192.0.2.1")
            .is_ok());
        // a password changed or a client removed is not taken from memory
        let mut registry = Registry::default();
        registry.set_user("ann", "new password", "t");
        s.set_registry(registry);
        assert!(s.remembered_client("reporting", &secret).is_none());
        assert!(s
            .check_password("ann", "correct horse", "192.0.2.1")
            .is_err());
        assert!(s.check_password("ann", "new password", "192.0.2.1").is_ok());
    }
}
