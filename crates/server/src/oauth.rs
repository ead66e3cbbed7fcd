//! The built-in token service's HTTP endpoints: OIDC discovery, JWKS, token, authorize, under
//! the root layout (`/.well-known/openid-configuration`, `/oauth2/...`) and Entra ID's layout
//! below a tenant segment (`/{tenant}/v2.0/.well-known/openid-configuration`,
//! `/{tenant}/oauth2/v2.0/...`, `/{tenant}/discovery/v2.0/keys`); see [`auth::Layout`].

use crate::authn::PeerAddr;
use crate::AppState;
use auth::{Layout, OAuthError, TokenService};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use base64::Engine;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

fn service(app: &AppState) -> Option<Arc<TokenService>> {
    app.auth.service.clone()
}

fn oauth_error(e: OAuthError) -> Response {
    let mut r = (
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        e.body(),
    )
        .into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if e.status == 401 {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Device Warehouse\""),
        );
    }
    if let Some(s) = e.retry_after {
        h.insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

/// 400 for secrets sent over plain HTTP from another host: they crossed the network readable.
fn plain_http_refused() -> Response {
    oauth_error(OAuthError {
        status: 400,
        error: "invalid_request",
        description: "client secrets and passwords are accepted only over HTTPS (or from \
                      loopback); serve with --tls-cert, or set [issuer] allow_plain_http behind a \
                      TLS-terminating proxy"
            .into(),
        retry_after: None,
    })
}

/// 503 when too many authentications wait for a verification slot ([`crate::verification_gate`]).
fn busy() -> Response {
    oauth_error(OAuthError {
        status: 503,
        error: "temporarily_unavailable",
        description: "too many authentication attempts at once; try again shortly".into(),
        retry_after: Some(1),
    })
}

fn json(v: serde_json::Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

/// `GET /.well-known/openid-configuration`
pub async fn discovery(State(app): State<AppState>) -> Response {
    discovery_of(&app, Layout::Root)
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`
pub async fn tenant_discovery(State(app): State<AppState>, Path(tenant): Path<String>) -> Response {
    discovery_of(&app, Layout::Tenant(&tenant))
}

fn discovery_of(app: &AppState, layout: Layout) -> Response {
    document(app, |s| s.discovery(layout))
}

/// A JSON document of the built-in issuer, its OAuth error, or 404 when it is off.
fn document(
    app: &AppState,
    of: impl FnOnce(&TokenService) -> Result<serde_json::Value, OAuthError>,
) -> Response {
    match service(app).map(|s| of(&s)) {
        Some(Ok(document)) => json(document),
        Some(Err(e)) => oauth_error(e),
        None => crate::site::not_found_response(),
    }
}

/// `GET /oauth2/keys`
pub async fn jwks(State(app): State<AppState>) -> Response {
    jwks_of(&app, Layout::Root)
}

/// `GET /{tenant}/discovery/v2.0/keys`: the same keys, for a tenant the issuer serves.
pub async fn tenant_jwks(State(app): State<AppState>, Path(tenant): Path<String>) -> Response {
    jwks_of(&app, Layout::Tenant(&tenant))
}

fn jwks_of(app: &AppState, layout: Layout) -> Response {
    document(app, |s| s.jwks(layout))
}

fn address(peer: &Option<SocketAddr>) -> String {
    peer.map(|a| a.ip().to_string()).unwrap_or_default()
}

/// Client id and secret from `Authorization: Basic` (RFC 6749 2.3.1: form-encoded, then Base64).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let Some(b) = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))
    else {
        return Ok(None);
    };
    let bad = || OAuthError {
        status: 401,
        error: "invalid_client",
        description: "malformed Basic credentials".into(),
        retry_after: None,
    };
    let text = base64::engine::general_purpose::STANDARD
        .decode(b.trim())
        .ok()
        .and_then(|d| String::from_utf8(d).ok())
        .ok_or_else(bad)?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let dec = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((dec(id), dec(secret))))
}

/// `POST /oauth2/token`
pub async fn token(
    State(app): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    body: String,
) -> Response {
    token_at(app, peer, headers, body, None).await
}

/// `POST /{tenant}/oauth2/v2.0/token`
pub async fn tenant_token(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    body: String,
) -> Response {
    token_at(app, peer, headers, body, Some(tenant)).await
}

/// The layout of a request: the root, or Entra's below `tenant`.
fn layout_of(tenant: &Option<String>) -> Layout<'_> {
    tenant.as_deref().map_or(Layout::Root, Layout::Tenant)
}

/// A token request answered, counted by status in `dw_token_requests_total` (200: issued).
async fn token_at(
    app: AppState,
    peer: Option<SocketAddr>,
    headers: HeaderMap,
    body: String,
    tenant: Option<String>,
) -> Response {
    let response = token_response(app, peer, headers, body, tenant).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("dw_token_requests_total", "status" => status).increment(1);
    response
}

async fn token_response(
    app: AppState,
    peer: Option<SocketAddr>,
    headers: HeaderMap,
    body: String,
    tenant: Option<String>,
) -> Response {
    let Some(service) = service(&app) else {
        return crate::site::not_found_response();
    };
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return oauth_error(OAuthError {
            status: 400,
            error: "invalid_request",
            description: "the body must be application/x-www-form-urlencoded".into(),
            retry_after: None,
        });
    }
    let mut form = HashMap::new();
    for (k, v) in form_urlencoded::parse(body.as_bytes()) {
        if form.insert(k.to_string(), v.to_string()).is_some() {
            return oauth_error(OAuthError {
                status: 400,
                error: "invalid_request",
                description: format!("parameter {k} is repeated"),
                retry_after: None,
            });
        }
    }
    let basic = match basic_credentials(&headers) {
        Ok(b) => b,
        Err(e) => return oauth_error(e),
    };
    if !app.auth.secrets_safe_from(peer) {
        return plain_http_refused();
    }
    let addr = address(&peer);
    // a client whose secret was verified lately needs no Argon2: it does not queue behind
    // the verifications of others (a flood of failing ones)
    let (id, secret) = match (&basic, form.get("client_id"), form.get("client_secret")) {
        (Some((id, secret)), _, _) => (Some(id.as_str()), Some(secret.as_str())),
        (None, id, secret) => (id.map(String::as_str), secret.map(String::as_str)),
    };
    let remembered = id
        .zip(secret)
        .is_some_and(|(id, secret)| service.remembered_client(id, secret).is_some());
    let issue = move || service.token(&form, basic, &addr, layout_of(&tenant));
    let issued = if remembered {
        tokio::task::spawn_blocking(issue).await.ok()
    } else {
        app.verifications.run(issue).await
    };
    match issued {
        None => busy(),
        Some(Ok(t)) => {
            let mut r = json(serde_json::to_value(t).expect("serializable"));
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r.headers_mut()
                .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            r
        }
        Some(Err(e)) => oauth_error(e),
    }
}

/// `GET /oauth2/authorize`: the sign-in page.
pub async fn authorize_page(
    State(app): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    sign_in_page(&app, &q, Layout::Root)
}

/// `GET /{tenant}/oauth2/v2.0/authorize`: the sign-in page.
pub async fn tenant_authorize_page(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    sign_in_page(&app, &q, Layout::Tenant(&tenant))
}

fn sign_in_page(app: &AppState, q: &HashMap<String, String>, layout: Layout) -> Response {
    let Some(service) = service(app) else {
        return crate::site::not_found_response();
    };
    match service.sign_in_page(q, None, layout) {
        Ok(html) => no_frames(Html(html).into_response()),
        Err(e) => oauth_error(e),
    }
}

/// `POST /oauth2/authorize`: the sign-in form.
pub async fn authorize_submit(
    State(app): State<AppState>,
    PeerAddr(peer): PeerAddr,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    sign_in(app, peer, form, None).await
}

/// `POST /{tenant}/oauth2/v2.0/authorize`: the sign-in form.
pub async fn tenant_authorize_submit(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
    PeerAddr(peer): PeerAddr,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    sign_in(app, peer, form, Some(tenant)).await
}

async fn sign_in(
    app: AppState,
    peer: Option<SocketAddr>,
    form: HashMap<String, String>,
    tenant: Option<String>,
) -> Response {
    let Some(service) = service(&app) else {
        return crate::site::not_found_response();
    };
    if !app.auth.secrets_safe_from(peer) {
        return plain_http_refused();
    }
    let addr = address(&peer);
    let svc = service.clone();
    let f = form.clone();
    let t = tenant.clone();
    match app
        .verifications
        .run(move || svc.sign_in(&f, &addr, layout_of(&t)))
        .await
    {
        None => busy(),
        Some(Ok(Ok(url))) => Redirect::to(&url).into_response(),
        Some(Ok(Err(message))) => {
            match service.sign_in_page(&form, Some(&message), layout_of(&tenant)) {
                Ok(html) => no_frames((StatusCode::UNAUTHORIZED, Html(html)).into_response()),
                Err(e) => oauth_error(e),
            }
        }
        Some(Err(e)) => oauth_error(e),
    }
}

fn no_frames(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src data:; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
