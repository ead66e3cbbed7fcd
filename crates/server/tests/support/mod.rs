//! Starting a server with authentication for tests, and getting tokens from it over HTTP.
#![allow(dead_code)]

use auth::{AuthSettings, Client, KeyRing, Registry, TokenService, Validator};
use std::sync::Arc;
use warehouse::Store;

/// A running test server.
pub struct TestServer {
    /// `http://127.0.0.1:port`
    pub base: String,
    /// The OData service root.
    pub root: String,
}

/// A confidential client with `secret` for `tenant`.
pub fn client(id: &str, secret: &str, tenant: &str) -> Client {
    Client {
        id: id.into(),
        secret_hash: Some(auth::secrets::hash_secret(secret)),
        tenant: tenant.into(),
        roles: Vec::new(),
        redirect_uris: Vec::new(),
        allow_basic: false,
    }
}

/// Starts a server on `store` with the built-in issuer (clients in `registry`) and `settings`
/// (audiences default to the server's base URL).
pub fn start(
    store: Arc<dyn Store>,
    page_size: u64,
    mut settings: AuthSettings,
    registry: Registry,
) -> TestServer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    if settings.audiences.is_empty() {
        settings.audiences = vec![format!("{base}/"), base.clone()];
    }
    let keys = Arc::new(KeyRing::ephemeral().unwrap());
    let p = auth::DEFAULT_PERMISSION;
    let service = Arc::new(TokenService::new(
        &base,
        &settings.audiences[0],
        p,
        p,
        3600,
        keys.clone(),
        registry,
    ));
    let validator = Validator::new(settings, Some((service.issuer(), keys, 3600)));
    let auth = server::AuthState {
        validator,
        service: Some(service),
        tls: false,
    };
    let config = server::Config {
        page_size,
        token_key: vec![9; 32],
        public_url: None,
    };
    let app = server::router(server::AppState::new(store, config, auth));
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
            .unwrap();
        });
    });
    TestServer {
        root: format!("{base}{}", server::BASE_PATH),
        base,
    }
}

/// Gets an app-only token from the server's token endpoint (client_secret_post).
pub fn client_token(base: &str, id: &str, secret: &str) -> String {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut r = agent
        .post(&format!("{base}/oauth2/token"))
        .send_form([
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .unwrap();
    let body = r.body_mut().read_to_string().unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {body}"))
        .to_string()
}
