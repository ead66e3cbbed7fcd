//! What every handler shares: the store, the settings, the paging-token signer, authentication
//! and the verification gates; and the service's fixed paths and request bounds.

use crate::kept_days::KeptDays;
use crate::{paging, verification_gate};
use auth::{TokenService, Validator};
use std::net::SocketAddr;
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
    /// The days each tenant's publications hold of each daily fact, per publication.
    pub kept_days: Arc<KeptDays>,
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
            kept_days: Arc::default(),
        }
    }
}

/// Authentication configuration of the server.
pub struct AuthState {
    /// Validates bearer tokens.
    pub validator: Validator,
    /// The built-in token service, when enabled.
    pub service: Option<Arc<TokenService>>,
    /// Whether the server is reached over TLS (Basic credentials are accepted only then, or on
    /// loopback).
    pub tls: bool,
    /// Accept client secrets and passwords at the token and sign-in endpoints over plain HTTP
    /// from other hosts (behind a TLS-terminating proxy elsewhere); off by default.
    pub allow_plain_http_secrets: bool,
}

impl AuthState {
    /// Whether secrets sent from `peer` travel safely: over TLS, from loopback, or explicitly
    /// allowed.
    pub fn secrets_safe_from(&self, peer: Option<SocketAddr>) -> bool {
        self.tls || self.allow_plain_http_secrets || peer.is_some_and(|a| a.ip().is_loopback())
    }
}

#[cfg(test)]
mod secrets_tests {
    use super::*;

    #[test]
    fn secrets_cross_plain_http_only_from_loopback_unless_allowed() {
        let state = |tls, allow| AuthState {
            validator: Validator::new(auth::AuthSettings::default(), None),
            service: None,
            tls,
            allow_plain_http_secrets: allow,
        };
        let remote: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let v6: SocketAddr = "[::1]:5000".parse().unwrap();
        assert!(!state(false, false).secrets_safe_from(Some(remote)));
        assert!(!state(false, false).secrets_safe_from(None));
        assert!(state(false, false).secrets_safe_from(Some(local)));
        assert!(state(false, false).secrets_safe_from(Some(v6)));
        assert!(state(true, false).secrets_safe_from(Some(remote)));
        assert!(state(false, true).secrets_safe_from(Some(remote)));
    }
}
