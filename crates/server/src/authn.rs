//! Authentication of API requests: bearer tokens (and, per client and only over TLS or loopback,
//! HTTP Basic with the client's id and secret), turned into a [`Principal`] whose tenant scopes
//! every query.

use crate::state::{AppState, AuthState};
use auth::log_safe;
use auth::{AuthError, Principal};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use odata::{ErrorKind, ODataError};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Largest `Authorization` header accepted.
const MAX_AUTHORIZATION_BYTES: usize = 16 * 1024;

/// Who made the request, for the audit log line.
#[derive(Clone, Default, Debug)]
pub struct Audit {
    /// Tenant.
    pub tenant: String,
    /// Client application.
    pub client_id: String,
    /// Subject.
    pub subject: String,
}

/// A slot the middleware puts in every request, filled once the caller is known.
#[derive(Clone, Default)]
pub struct AuditSlot(pub Arc<Mutex<Option<Audit>>>);

/// An authenticated caller.
pub struct Authenticated(pub Principal);

/// A refused request: 401 with a `WWW-Authenticate` challenge, or 403.
pub struct Rejection {
    error: AuthError,
    authorization_uri: String,
    resource: String,
    scope: String,
}

fn quoted(s: &str) -> String {
    s.replace(['"', '\\', '\r', '\n'], " ")
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let (kind, message, params) = match &self.error {
            AuthError::Missing => (
                ErrorKind::Unauthorized,
                "Authentication is required: send an OAuth 2.0 bearer token.".to_string(),
                String::new(),
            ),
            AuthError::Forbidden(m) => (
                ErrorKind::Forbidden,
                m.clone(),
                format!(
                    r#", error="insufficient_scope", error_description="{}", scope="{}""#,
                    quoted(m),
                    quoted(&self.scope)
                ),
            ),
            AuthError::RateLimited(s) => (
                ErrorKind::Unauthorized,
                format!("Too many failed attempts; retry in {s} seconds."),
                r#", error="invalid_token", error_description="too many failed attempts""#
                    .to_string(),
            ),
            AuthError::Busy => (
                ErrorKind::Unavailable,
                "Too many credentials are being verified; retry shortly.".to_string(),
                String::new(),
            ),
            AuthError::Unavailable(m) => {
                tracing::error!(error = %m, "cannot validate tokens");
                (
                    ErrorKind::Unavailable,
                    "The token issuer's signing keys are unavailable; try again later.".to_string(),
                    String::new(),
                )
            }
            AuthError::Invalid(m) | AuthError::Config(m) => (
                ErrorKind::Unauthorized,
                format!("The bearer token was rejected: {m}."),
                format!(
                    r#", error="invalid_token", error_description="{}""#,
                    quoted(m)
                ),
            ),
        };
        let mut resp = crate::ApiError(ODataError::new(kind, message)).into_response();
        let challenge = format!(
            r#"Bearer realm="Device Warehouse", authorization_uri="{}", resource_id="{}"{params}"#,
            quoted(&self.authorization_uri),
            quoted(&self.resource)
        );
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        if let AuthError::RateLimited(s) = self.error {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
            *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        }
        if let AuthError::Busy = self.error {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

fn client_address(parts: &Parts) -> Option<SocketAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

/// The peer address of the connection, when the server records it.
pub struct PeerAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerAddr(client_address(parts)))
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = Rejection;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let auth = app.auth.clone();
        let settings = auth.validator.settings();
        let reject = |error| Rejection {
            error,
            authorization_uri: settings
                .authorization_uri
                .clone()
                .or_else(|| {
                    auth.service
                        .as_ref()
                        .map(|s| format!("{}/oauth2/authorize", s.issuer()))
                })
                .unwrap_or_default(),
            resource: settings.audiences.first().cloned().unwrap_or_default(),
            scope: settings.scope.clone(),
        };
        let query = parts.uri.query().unwrap_or("");
        if query.split('&').any(|p| {
            p.split('=')
                .next()
                .is_some_and(|n| n.eq_ignore_ascii_case("access_token"))
        }) {
            return Err(reject(AuthError::Invalid(
                "tokens in the query string are not accepted; send an Authorization header".into(),
            )));
        }
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(reject(AuthError::Missing));
        };
        if value.len() > MAX_AUTHORIZATION_BYTES {
            return Err(reject(AuthError::Invalid(
                "the Authorization header is too large".into(),
            )));
        }
        let value = value
            .to_str()
            .map_err(|_| {
                reject(AuthError::Invalid(
                    "the Authorization header is malformed".into(),
                ))
            })?
            .trim()
            .to_string();
        let (scheme, credentials) = value
            .split_once(' ')
            .map(|(s, c)| (s, c.trim()))
            .unwrap_or((value.as_str(), ""));
        let address = client_address(parts);
        let result = if scheme.eq_ignore_ascii_case("bearer") {
            if credentials.is_empty() {
                return Err(reject(AuthError::Missing));
            }
            if credentials.contains(' ') {
                return Err(reject(AuthError::Invalid(
                    "the Authorization header is malformed".into(),
                )));
            }
            match auth.validator.remembered(credentials) {
                // verified before: no signature to check, no thread to hand over to
                Some(p) => Ok(p),
                None => {
                    let token = credentials.to_string();
                    let a = auth.clone();
                    tokio::task::spawn_blocking(move || a.validator.validate(&token))
                        .await
                        .unwrap_or_else(|_| Err(AuthError::Invalid("internal error".into())))
                }
            }
        } else if scheme.eq_ignore_ascii_case("basic") {
            basic(&auth, &app.basic_verifications, credentials, address).await
        } else {
            Err(AuthError::Invalid(format!(
                "the {scheme} authentication scheme is not supported; use Bearer"
            )))
        };
        // tokens of the built-in issuer die with their client or user
        let result = result.and_then(|p| match &auth.service {
            Some(s) if s.issued(&p) && !s.still_registered(&p) => Err(AuthError::Invalid(
                "the client or user this token was issued to is no longer registered".into(),
            )),
            _ => Ok(p),
        });
        match result {
            Ok(p) => {
                if let Some(slot) = parts.extensions.get::<AuditSlot>() {
                    *slot.0.lock().expect("lock") = Some(Audit {
                        tenant: p.tenant.clone(),
                        client_id: p.client_id.clone().unwrap_or_default(),
                        subject: p.subject.clone(),
                    });
                }
                Ok(Authenticated(p))
            }
            Err(e) => {
                if !matches!(e, AuthError::Missing) {
                    tracing::warn!(reason = %log_safe(&e.to_string()), address = ?address, "request refused");
                }
                Err(reject(e))
            }
        }
    }
}

/// HTTP Basic with a client's id and secret, for BI tools that cannot do OAuth against the
/// built-in issuer. Only for clients that opt in, and only over TLS or from loopback. Credentials
/// verified lately are taken at once; others are verified on `gate` (503 when its queue is full).
async fn basic(
    auth: &Arc<AuthState>,
    gate: &crate::verification_gate::VerificationGate,
    credentials: &str,
    address: Option<SocketAddr>,
) -> Result<Principal, AuthError> {
    let service = auth
        .service
        .clone()
        .ok_or_else(|| AuthError::Invalid("Basic authentication is not enabled".into()))?;
    let loopback = address.is_some_and(|a| a.ip().is_loopback());
    if !auth.tls && !loopback {
        return Err(AuthError::Invalid(
            "Basic authentication is accepted only over TLS".into(),
        ));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| AuthError::Invalid("the Basic credentials are malformed".into()))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| AuthError::Invalid("the Basic credentials are malformed".into()))?;
    let client = match service.remembered_client(id, secret) {
        Some(client) => client,
        None => {
            let (id, secret) = (id.to_string(), secret.to_string());
            let addr = address.map(|a| a.ip().to_string()).unwrap_or_default();
            gate.run(move || service.authenticate_client(&id, &secret, &addr))
                .await
                .ok_or(AuthError::Busy)?
                .map_err(|e| match e.retry_after {
                    Some(s) => AuthError::RateLimited(s),
                    None => AuthError::Invalid("the client id or secret is not valid".into()),
                })?
        }
    };
    if !client.allow_basic {
        return Err(AuthError::Invalid(
            "this client may not use Basic authentication".into(),
        ));
    }
    Ok(Principal {
        tenant: client.tenant.clone(),
        subject: client.id.clone(),
        client_id: Some(client.id),
        issuer: "basic".into(),
    })
}
