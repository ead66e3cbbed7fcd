//! The HTTP surface of Device Warehouse: the Intune Data Warehouse URL space over OData v4.
//!
//! Handlers are thin: they parse the request (path, query options, headers), let the `odata`
//! crate parse and bind, let the `warehouse` crate plan, and then stream rows from the store
//! straight into the response body through a bounded channel, so memory stays flat whatever the
//! size of a page or collection. Cross-cutting concerns (request ids, `OData-Version`, version
//! checks, compression, logging, panics) are layers. This crate contains no SQL text.
#![deny(missing_docs)]

mod authn;
mod error;
mod kept_days;
pub mod listen;
mod middleware;
pub mod negotiate;
mod oauth;
pub mod paging;
mod reports;
pub use reports::{REPORTS_CLIENT, REPORTS_PATH};
mod request;
mod service;
mod site;
mod state;
mod stream;
pub mod verification_gate;

pub use error::{ApiError, ApiResult};
pub use state::{
    AppState, AuthState, Config, BASE_PATH, MAX_HEADER_BYTES, MAX_URL_BYTES, ROUTED_PREFIX,
};

use axum::routing::get;
use axum::Router;

/// The application with all routes and layers.
pub fn router(state: AppState) -> Router {
    let data = get(service::handle).fallback(service::method_not_allowed);
    Router::new()
        .route("/", get(site::root))
        .route("/reports", get(reports::without_slash))
        .route(reports::REPORTS_PATH, get(reports::index))
        .route("/reports/app.js", get(reports::script))
        .route("/reports/app.css", get(reports::style))
        .route("/healthz", get(site::healthz))
        .route("/readyz", get(site::readyz))
        .route("/status/ingest", get(site::ingest_status))
        .route("/.well-known/openid-configuration", get(oauth::discovery))
        .route("/oauth2/keys", get(oauth::jwks))
        .route("/oauth2/token", axum::routing::post(oauth::token))
        .route(
            "/oauth2/authorize",
            get(oauth::authorize_page).post(oauth::authorize_submit),
        )
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(oauth::tenant_discovery),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(oauth::tenant_jwks))
        .route(
            "/{tenant}/oauth2/v2.0/token",
            axum::routing::post(oauth::tenant_token),
        )
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(oauth::tenant_authorize_page).post(oauth::tenant_authorize_submit),
        )
        .route(BASE_PATH, data.clone())
        .route(&format!("{BASE_PATH}/"), data.clone())
        .route(&format!("{BASE_PATH}/{{*rest}}"), data.clone())
        .route(&format!("{ROUTED_PREFIX}{BASE_PATH}"), data.clone())
        .route(&format!("{ROUTED_PREFIX}{BASE_PATH}/"), data.clone())
        .route(&format!("{ROUTED_PREFIX}{BASE_PATH}/{{*rest}}"), data)
        .fallback(site::not_found)
        .with_state(state)
        .layer(axum::middleware::from_fn(middleware::odata_headers))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            middleware::panic_response,
        ))
}
