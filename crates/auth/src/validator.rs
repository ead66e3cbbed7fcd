//! Bearer-token validation against the built-in issuer and trusted OIDC providers.

use crate::{AuthError, AuthSettings, IssuerSettings, KeyRing, Principal};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use sha2::Digest;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Tokens larger than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Algorithms accepted: asymmetric only.
const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The built-in issuer as seen by the validator.
struct Builtin {
    issuer: String,
    keys: Arc<KeyRing>,
    token_lifetime: i64,
}

#[derive(Default)]
struct JwksCache {
    keys: HashMap<String, (DecodingKey, Option<Algorithm>)>,
    fetched: Option<Instant>,
}

struct Remote {
    settings: IssuerSettings,
    cache: Mutex<JwksCache>,
    /// Held while the JWKS is fetched: one fetch at a time per issuer.
    fetching: Mutex<()>,
}

/// Checks bearer tokens and turns them into principals.
pub struct Validator {
    settings: AuthSettings,
    builtin: Option<Builtin>,
    remotes: Vec<Remote>,
    verified: Mutex<HashMap<[u8; 32], Verified>>,
}

/// Tokens whose verification is remembered at once, at most. A client sends the same token
/// with every request until it expires, and verifying an ES256 or RS256 signature costs more
/// than answering a lookup by key (a third of the server's time under a key-lookup load).
pub const MAX_REMEMBERED_TOKENS: usize = 4096;

/// Longest time a verification is remembered, whatever the token's own lifetime: a signing
/// key withdrawn by its issuer stops being accepted within this time.
pub const REMEMBER_AT_MOST: Duration = Duration::from_secs(300);

/// A token verified earlier: its principal, until when it may be used without verifying again.
struct Verified {
    principal: Principal,
    /// Unix time after which the token is verified again (and refused once expired).
    until: i64,
}

fn invalid(msg: impl Into<String>) -> AuthError {
    AuthError::Invalid(msg.into())
}

fn http_get_json(url: &str) -> Result<Value, AuthError> {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent();
    let mut resp = agent
        .get(url)
        .call()
        .map_err(|e| AuthError::Unavailable(format!("cannot fetch {url}: {e}")))?;
    let body = resp
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_vec()
        .map_err(|e| AuthError::Unavailable(format!("cannot read {url}: {e}")))?;
    serde_json::from_slice(&body)
        .map_err(|e| AuthError::Unavailable(format!("{url} did not return JSON: {e}")))
}

impl Remote {
    fn jwks_uri(&self) -> Result<String, AuthError> {
        if let Some(u) = &self.settings.jwks_uri {
            return Ok(u.clone());
        }
        let discovery = match &self.settings.discovery_url {
            Some(u) => u.clone(),
            None if self.settings.issuer.contains("{tenantid}") => {
                return Err(AuthError::Config(format!(
                    "issuer {} is a template: set discovery_url or jwks_uri",
                    self.settings.issuer
                )))
            }
            None => format!(
                "{}/.well-known/openid-configuration",
                self.settings.issuer.trim_end_matches('/')
            ),
        };
        let doc = http_get_json(&discovery)?;
        doc["jwks_uri"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| AuthError::Unavailable(format!("{discovery} has no jwks_uri")))
    }

    /// The issuer's signing keys by key id, fetched from its JWKS (found by discovery unless
    /// configured); keys of types the validator cannot use are left out.
    fn fetch_keys(&self) -> Result<HashMap<String, (DecodingKey, Option<Algorithm>)>, AuthError> {
        let set: JwkSet =
            serde_json::from_value(http_get_json(&self.jwks_uri()?)?).map_err(|e| {
                AuthError::Unavailable(format!(
                    "JWKS of {} is malformed: {e}",
                    self.settings.issuer
                ))
            })?;
        Ok(set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone().unwrap_or_default();
                let alg = jwk
                    .common
                    .key_algorithm
                    .and_then(|a| a.to_string().parse::<Algorithm>().ok());
                DecodingKey::from_jwk(jwk).ok().map(|k| (kid, (k, alg)))
            })
            .collect())
    }

    /// The key for `kid`, refetching the JWKS (at most once per `min_refresh`) when unknown.
    /// The cache is locked only to look and to store: a fetch (up to its time-out) holds
    /// [`Remote::fetching`] instead, so tokens signed with known keys never wait for a slow
    /// issuer, while tokens with an unknown key wait for the fetch under way and use its keys.
    fn key(
        &self,
        kid: Option<&str>,
        min_refresh: Duration,
    ) -> Result<(DecodingKey, Option<Algorithm>), AuthError> {
        let lookup = |c: &JwksCache| match kid {
            Some(k) => c.keys.get(k).cloned(),
            None if c.keys.len() == 1 => c.keys.values().next().cloned(),
            None => None,
        };
        if let Some(k) = lookup(&self.cache.lock().expect("lock")) {
            return Ok(k);
        }
        let _fetching = self.fetching.lock().expect("lock");
        {
            // the keys a fetch that ended while this one waited brought
            let mut cache = self.cache.lock().expect("lock");
            if let Some(k) = lookup(&cache) {
                return Ok(k);
            }
            if cache.fetched.is_some_and(|t| t.elapsed() < min_refresh) {
                return Err(unpublished(kid));
            }
            cache.fetched = Some(Instant::now());
        }
        let fetched = self.fetch_keys();
        let outcome = if fetched.is_ok() { "ok" } else { "failed" };
        metrics::counter!("dw_jwks_fetches_total", "outcome" => outcome).increment(1);
        let keys = fetched?;
        tracing::info!(issuer = %self.settings.issuer, keys = keys.len(), "fetched signing keys");
        let mut cache = self.cache.lock().expect("lock");
        cache.keys = keys;
        lookup(&cache).ok_or_else(|| unpublished(kid))
    }
}

fn unpublished(kid: Option<&str>) -> AuthError {
    invalid(format!(
        "the token's signing key ({}) is not published by its issuer",
        kid.unwrap_or("no kid")
    ))
}

fn claim_str<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

impl Validator {
    /// A validator for `settings`, also trusting the built-in issuer when given.
    pub fn new(settings: AuthSettings, builtin: Option<(&str, Arc<KeyRing>, i64)>) -> Self {
        let remotes = settings
            .issuers
            .iter()
            .map(|s| Remote {
                settings: s.clone(),
                cache: Mutex::new(JwksCache::default()),
                fetching: Mutex::new(()),
            })
            .collect();
        Self {
            builtin: builtin.map(|(issuer, keys, token_lifetime)| Builtin {
                issuer: issuer.to_string(),
                keys,
                token_lifetime,
            }),
            settings,
            remotes,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// The principal of a token verified before and still remembered (see
    /// [`Validator::validate`]); `None` when it must be verified. Cheap: a hash and a lookup.
    pub fn remembered(&self, token: &str) -> Option<Principal> {
        self.remembered_by(&digest(token))
    }

    fn remembered_by(&self, digest: &[u8; 32]) -> Option<Principal> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.verified
            .lock()
            .expect("lock")
            .get(digest)
            .filter(|v| now < v.until)
            .map(|v| v.principal.clone())
    }

    /// Validates a bearer token. A token verified before is answered from memory (by the
    /// SHA-256 of its exact text) until its expiry, without the clock skew, and for at most
    /// [`REMEMBER_AT_MOST`].
    pub fn validate(&self, token: &str) -> Result<Principal, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid("the token is too large"));
        }
        let digest = digest(token);
        if let Some(p) = self.remembered_by(&digest) {
            return Ok(p);
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let (principal, expires) = self.verify(token)?;
        let until = expires.min(now + REMEMBER_AT_MOST.as_secs() as i64);
        let mut verified = self.verified.lock().expect("lock");
        if verified.len() >= MAX_REMEMBERED_TOKENS {
            verified.retain(|_, v| now < v.until);
            if verified.len() >= MAX_REMEMBERED_TOKENS {
                verified.clear();
            }
        }
        verified.insert(
            digest,
            Verified {
                principal: principal.clone(),
                until,
            },
        );
        Ok(principal)
    }

    /// Verifies a token: its principal and its expiry (Unix time).
    fn verify(&self, token: &str) -> Result<(Principal, i64), AuthError> {
        let header =
            decode_header(token).map_err(|_| invalid("the token is not a well-formed JWT"))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(invalid(format!(
                "tokens signed with {:?} are not accepted",
                header.alg
            )));
        }
        // Read the issuer without trusting anything yet, to pick the keys to verify with.
        let unverified = unverified_claims(token)?;
        let iss = claim_str(&unverified, "iss")
            .ok_or_else(|| invalid("the token has no issuer"))?
            .to_string();
        let validation = self.validation(header.alg, &iss)?;
        let (key, tenant_rule) = self.signing_key(&header, &iss, &unverified)?;
        let claims = decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| self.rejection(&e))?
            .claims;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if claims
            .get("iat")
            .and_then(Value::as_i64)
            .is_some_and(|iat| iat > now + self.settings.clock_skew_secs as i64)
        {
            return Err(invalid("the token was issued in the future"));
        }
        self.check_permission(&claims)?;
        let tenant = tenant_of(tenant_rule, &claims)?;
        let expires = claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
        Ok((
            Principal {
                tenant,
                subject: claim_str(&claims, "sub").unwrap_or("").to_string(),
                client_id: claim_str(&claims, "azp")
                    .or_else(|| claim_str(&claims, "appid"))
                    .or_else(|| claim_str(&claims, "client_id"))
                    .map(str::to_string),
                issuer: iss,
            },
            expires,
        ))
    }

    /// What a token signed with `alg` by issuer `iss` must satisfy: its algorithm, expiry and
    /// not-before with the configured clock skew, its issuer, one of the service's audiences.
    fn validation(&self, alg: Algorithm, iss: &str) -> Result<Validation, AuthError> {
        let mut validation = Validation::new(alg);
        validation.algorithms = vec![alg];
        validation.leeway = self.settings.clock_skew_secs;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.set_issuer(&[iss]);
        if self.settings.audiences.is_empty() {
            return Err(AuthError::Config("no audience is configured".into()));
        }
        validation.set_audience(&self.settings.audiences);
        Ok(validation)
    }

    /// The key to verify a token of issuer `iss` with, and how its tenant is found: the
    /// built-in issuer's keys (it signs as its base URL, or as `{base}/{tid}/v2.0` in Entra's
    /// layout for the token's own tenant), else a trusted remote issuer's JWKS.
    fn signing_key(
        &self,
        header: &jsonwebtoken::Header,
        iss: &str,
        unverified: &Map<String, Value>,
    ) -> Result<(DecodingKey, TenantRule<'_>), AuthError> {
        let builtin = self.builtin.as_ref().filter(|b| {
            b.issuer == iss
                || claim_str(unverified, "tid")
                    .is_some_and(|tid| crate::tenant_issuer(&b.issuer, tid) == iss)
        });
        if let Some(b) = builtin {
            let kid = header
                .kid
                .as_deref()
                .ok_or_else(|| invalid("the token has no key id"))?;
            let key = b
                .keys
                .decoding_key(kid, b.token_lifetime)
                .ok_or_else(|| invalid("the token's signing key is unknown"))?;
            if header.alg != Algorithm::ES256 {
                return Err(invalid("the token's algorithm does not match its key"));
            }
            return Ok((key, TenantRule::Direct));
        }
        let tid = |r: &Remote| {
            claim_str(unverified, &r.settings.tenant_claim)
                .unwrap_or("")
                .to_string()
        };
        let remote = self
            .remotes
            .iter()
            .find(|r| r.settings.issuer.replace("{tenantid}", &tid(r)) == iss)
            .ok_or_else(|| invalid("the token's issuer is not trusted"))?;
        let (key, alg) = remote.key(
            header.kid.as_deref(),
            Duration::from_secs(self.settings.jwks_min_refresh_secs),
        )?;
        if alg.is_some_and(|a| a != header.alg) {
            return Err(invalid("the token's algorithm does not match its key"));
        }
        Ok((key, TenantRule::Mapped(remote)))
    }

    /// Why a token failed verification, in words a client can act on.
    fn rejection(&self, e: &jsonwebtoken::errors::Error) -> AuthError {
        use jsonwebtoken::errors::ErrorKind as K;
        invalid(match e.kind() {
            K::ExpiredSignature => "the token has expired".to_string(),
            K::ImmatureSignature => "the token is not valid yet".to_string(),
            K::InvalidAudience => format!(
                "the token is not meant for this service (expected audience {})",
                self.settings.audiences.join(" or ")
            ),
            K::InvalidIssuer => "the token's issuer is not trusted".to_string(),
            K::InvalidSignature => "the token's signature is not valid".to_string(),
            K::MissingRequiredClaim(c) => format!("the token has no {c} claim"),
            K::Base64(_) | K::Json(_) | K::Utf8(_) | K::InvalidToken => {
                "the token is not a well-formed JWT".to_string()
            }
            _ => "the token is not valid".to_string(),
        })
    }

    /// Checks that the token grants the service's permission: the delegated scope (Entra ID
    /// writes `scp`, RFC 9068 providers such as Keycloak and Okta `scope`) or the app role.
    fn check_permission(&self, claims: &Map<String, Value>) -> Result<(), AuthError> {
        let has_scope = ["scp", "scope"]
            .iter()
            .filter_map(|c| claim_str(claims, c))
            .any(|scopes| scopes.split(' ').any(|s| s == self.settings.scope));
        let has_role = claims
            .get("roles")
            .and_then(Value::as_array)
            .is_some_and(|r| {
                r.iter()
                    .any(|v| v.as_str() == Some(self.settings.role.as_str()))
            });
        if has_scope || has_role {
            return Ok(());
        }
        Err(AuthError::Forbidden(format!(
            "the token does not grant the '{}' permission (delegated scope or app role)",
            self.settings.scope
        )))
    }
}

/// The key a verified token is remembered by.
fn digest(token: &str) -> [u8; 32] {
    sha2::Sha256::digest(token.as_bytes()).into()
}

/// How a verified token's tenant is found.
enum TenantRule<'a> {
    /// The built-in issuer's `tid` is the tenant.
    Direct,
    /// A remote issuer's tenant claim, mapped to a tenant of this service.
    Mapped(&'a Remote),
}

/// The tenant of a verified token's `claims`.
fn tenant_of(rule: TenantRule<'_>, claims: &Map<String, Value>) -> Result<String, AuthError> {
    match rule {
        TenantRule::Direct => Ok(claim_str(claims, "tid")
            .ok_or_else(|| AuthError::Forbidden("the token names no tenant".into()))?
            .to_string()),
        TenantRule::Mapped(remote) => {
            let tid = claim_str(claims, &remote.settings.tenant_claim)
                .ok_or_else(|| AuthError::Forbidden("the token names no tenant".into()))?;
            remote.settings.tenants.get(tid).cloned().ok_or_else(|| {
                AuthError::Forbidden(format!(
                    "directory tenant {tid} is not allowed on this service"
                ))
            })
        }
    }
}

fn unverified_claims(token: &str) -> Result<Map<String, Value>, AuthError> {
    use base64::Engine;
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| invalid("the token is not a well-formed JWT"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| invalid("the token is not a well-formed JWT"))?;
    serde_json::from_slice(&bytes).map_err(|_| invalid("the token is not a well-formed JWT"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Client, Registry, TokenService};

    /// A token service whose tokens live `lifetime` seconds, and a validator trusting it
    /// without clock skew.
    fn issuer_and_validator(lifetime: i64) -> (TokenService, Validator) {
        let keys = Arc::new(KeyRing::ephemeral().unwrap());
        let registry = Registry {
            clients: vec![Client {
                id: "app".into(),
                secret_hash: None,
                tenant: "acme".into(),
                roles: Vec::new(),
                redirect_uris: Vec::new(),
                allow_basic: false,
            }],
            users: Vec::new(),
        };
        let audiences = vec!["https://dw.example.com/".to_string()];
        let p = crate::DEFAULT_PERMISSION;
        let service = TokenService::new(
            "https://dw.example.com",
            &audiences,
            p,
            p,
            lifetime,
            keys.clone(),
            registry,
        );
        let settings = AuthSettings {
            audiences,
            clock_skew_secs: 0,
            ..AuthSettings::default()
        };
        let validator = Validator::new(settings, Some((service.issuer(), keys, lifetime.max(60))));
        (service, validator)
    }

    #[test]
    fn a_remembered_token_still_expires_on_time() {
        let (service, validator) = issuer_and_validator(1);
        let token = service.token_for_client("app").unwrap().access_token;
        assert_eq!(validator.validate(&token).unwrap().tenant, "acme");
        assert_eq!(
            validator.validate(&token).unwrap().tenant,
            "acme",
            "answered from memory"
        );
        std::thread::sleep(Duration::from_millis(2100));
        assert_eq!(
            validator.validate(&token),
            Err(AuthError::Invalid("the token has expired".into()))
        );
    }

    #[test]
    fn only_the_exact_token_is_remembered_and_memory_is_bounded() {
        let (service, validator) = issuer_and_validator(3600);
        let token = service.token_for_client("app").unwrap().access_token;
        validator.validate(&token).unwrap();
        // the same claims with another signature are verified, not remembered
        let (head, _) = token.rsplit_once('.').unwrap();
        let forged = format!("{head}.{}", "A".repeat(86));
        assert!(validator.validate(&forged).is_err());
        for _ in 0..MAX_REMEMBERED_TOKENS + 10 {
            let t = service.token_for_client("app").unwrap().access_token;
            validator.validate(&t).unwrap();
        }
        assert!(validator.verified.lock().unwrap().len() <= MAX_REMEMBERED_TOKENS);
    }
}
