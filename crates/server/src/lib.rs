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
pub mod listen;
mod middleware;
pub mod negotiate;
mod oauth;
pub mod paging;
mod request;
mod service;
mod site;
mod stream;
pub mod verification_gate;

pub use authn::AuthState;
pub use error::{ApiError, ApiResult};

use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use warehouse::Store;

/// Longest request target (path and query) accepted; longer ones get 414.
pub const MAX_URL_BYTES: usize = 60 * 1024;
/// Most bytes of request headers (names and values together) accepted; more get 431.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// A prefix the Power BI connector's documentation puts before [`BASE_PATH`]
/// (`/TrafficGateway/TrafficRoutingService/ReportingService/...`): served as an alias of the
/// plain root, links keeping the prefix the client used.
pub const ROUTED_PREFIX: &str = "/TrafficGateway/TrafficRoutingService";

/// Base path of the service, as in Intune.
pub const BASE_PATH: &str = "/ReportingService/DataWarehouseFEService";

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Rows per page when the client does not ask for fewer.
    pub page_size: u64,
    /// Key authenticating `$skiptoken`s.
    pub token_key: Vec<u8>,
    /// Public base URL (`https://host:port`) used in links; from the `Host` header when unset.
    pub public_url: Option<String>,
    /// Label the pages, rows and bytes served by tenant in the metrics (off: no tenant name
    /// appears in them).
    pub metrics_tenant_labels: bool,
}

/// State shared by all handlers.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Settings.
    pub config: Arc<Config>,
    /// Signs and checks paging tokens.
    pub signer: paging::TokenSigner,
    /// Authentication.
    pub auth: Arc<AuthState>,
    /// Outcome of the last scheduled ingestion, served at `/status/ingest`.
    pub ingest_status: Arc<std::sync::RwLock<serde_json::Value>>,
    /// Bounds concurrent secret verifications at the token and sign-in endpoints.
    pub verifications: Arc<verification_gate::VerificationGate>,
    /// Bounds concurrent verifications of HTTP Basic credentials on API requests: their own
    /// thread and queue, so a flood of them leaves the token endpoint its share.
    pub basic_verifications: Arc<verification_gate::VerificationGate>,
}

impl AppState {
    /// Builds the state from a store, settings and authentication.
    pub fn new(store: Arc<dyn Store>, config: Config, auth: AuthState) -> Self {
        let signer = paging::TokenSigner::new(config.token_key.clone());
        Self {
            store,
            config: Arc::new(config),
            signer,
            auth: Arc::new(auth),
            ingest_status: Arc::new(std::sync::RwLock::new(
                serde_json::json!({ "scheduled": false }),
            )),
            verifications: Arc::default(),
            basic_verifications: Arc::new(verification_gate::VerificationGate::with_threads(
                1,
                "dw-verify-basic",
            )),
        }
    }
}

/// The application with all routes and layers.
pub fn router(state: AppState) -> Router {
    let data = get(service::handle).fallback(service::method_not_allowed);
    Router::new()
        .route("/", get(site::root))
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
