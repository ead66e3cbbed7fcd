//! Starting a server with authentication for tests, and getting tokens from it over HTTP.
#![allow(dead_code)]

use auth::{AuthSettings, Client, KeyRing, Registry, TokenService, Validator};
use std::sync::Arc;
use warehouse::Store;

pub mod corpus;

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
    settings: AuthSettings,
    registry: Registry,
) -> TestServer {
    start_with_public_url(store, page_size, settings, registry, None)
}

/// Like [`start`], with the public URL used in links (so two servers can give identical payloads).
pub fn start_with_public_url(
    store: Arc<dyn Store>,
    page_size: u64,
    mut settings: AuthSettings,
    registry: Registry,
    public_url: Option<&str>,
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
        &settings.audiences,
        p,
        p,
        3600,
        keys.clone(),
        registry,
    ));
    let validator = Validator::new(settings, Some((service.issuer(), keys, 3600)));
    let auth = server::AuthState {
        allow_plain_http_secrets: false,
        validator,
        service: Some(service),
        tls: false,
    };
    let config = server::Config {
        page_size,
        token_key: vec![9; 32],
        public_url: public_url.map(str::to_string),
        metrics_tenant_labels: false,
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
            let plain = |socket| async move { Ok::<_, std::io::Error>(socket) };
            let limits = server::listen::ConnectionLimits::default();
            server::listen::serve(listener, app, limits, plain, std::future::pending()).await;
        });
    });
    TestServer {
        root: format!("{base}{}", server::BASE_PATH),
        base,
    }
}

/// Starts a server on `store` (tenant `demo`, one client) and gets a token for it.
pub fn serve_demo(store: Arc<dyn Store>, page_size: u64) -> (TestServer, String) {
    let registry = Registry {
        clients: vec![client("c", "s", "demo")],
        users: Vec::new(),
    };
    let server = start(store, page_size, AuthSettings::default(), registry);
    let token = client_token(&server.base, "c", "s");
    (server, token)
}

/// An agent that hands every status to the test (no error for 4xx/5xx).
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
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
