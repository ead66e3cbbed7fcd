//! The request, parsed once before any handler runs: an axum extractor that authenticates the
//! caller, then reads the path (which resource), the query options (syntax only) and the
//! service's own options (`api-version`), then resolves what the path names and binds the query
//! against the model ([`super::target`]), and gives a [`ServiceRequest`], or the error to answer
//! (authentication's 401 first, then the request's 400 or 404 with the position of the problem).

use super::context::{service_option, RequestContext};
use super::target::{target, Target};
use crate::authn::Authenticated;
use crate::request;
use crate::{ApiError, AppState, BASE_PATH, ROUTED_PREFIX};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use odata::syntax::{self, QueryOptions};
use odata::ODataError;
use warehouse::model::ApiVersion;

/// A request of the OData service: its context (state, principal, version, options, headers,
/// addresses) and what it asks for, resolved and bound against the model.
pub(crate) struct ServiceRequest {
    /// What every handler reads.
    pub ctx: RequestContext,
    /// What the path names, with the query bound ([`target`]).
    pub target: Target,
}

impl FromRequestParts<AppState> for ServiceRequest {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let Authenticated(principal) = Authenticated::from_request_parts(parts, app)
            .await
            .map_err(IntoResponse::into_response)?;
        let refused = |e: ODataError| ApiError(e).into_response();
        let path = parts.uri.path().to_string();
        let raw_query = parts.uri.query().unwrap_or("").to_string();
        let request_id = parts
            .extensions
            .get::<crate::middleware::RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        // the Power BI connector's documentation addresses the root under a routing prefix
        let prefix = if path.starts_with(ROUTED_PREFIX) {
            ROUTED_PREFIX
        } else {
            ""
        };
        let rest = path[prefix.len()..].strip_prefix(BASE_PATH).unwrap_or("");
        let resource = request::parse(rest).map_err(refused)?;
        let options =
            syntax::parse_query_options(&raw_query).map_err(|e| refused(e.into_odata("query")))?;
        let version = parse_version(&options).map_err(refused)?;
        let base_url = base_url(app, &parts.headers);
        let ctx = RequestContext {
            service_root: format!("{base_url}{prefix}{BASE_PATH}"),
            base_url,
            app: app.clone(),
            principal,
            version,
            options,
            raw_query,
            headers: parts.headers.clone(),
            path,
            request_id,
        };
        let target = target(&ctx, resource).map_err(refused)?;
        Ok(ServiceRequest { ctx, target })
    }
}

/// The service's base URL: the configured public URL, else from the `Host` header.
fn base_url(app: &AppState, headers: &HeaderMap) -> String {
    if let Some(u) = &app.config.public_url {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.bytes().all(|b| b.is_ascii_graphic()) && !h.contains('/'))
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// `api-version`: required, one of the versions served.
fn parse_version(options: &QueryOptions) -> Result<ApiVersion, ODataError> {
    let supported = ApiVersion::ALL
        .iter()
        .map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let value = service_option(options, "api-version")?.map(|o| o.value.as_str());
    match value {
        None => Err(ODataError::bad_request(format!(
            "The api-version query parameter is required; supported versions: {supported}."
        ))
        .with_target("api-version")),
        Some(v) => ApiVersion::parse(v).ok_or_else(|| {
            ODataError::bad_request(format!(
                "api-version '{v}' is not supported; supported versions: {supported}."
            ))
            .with_target("api-version")
        }),
    }
}
