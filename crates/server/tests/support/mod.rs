//! Starting a server with authentication for tests, and getting tokens from it over HTTP.
#![allow(dead_code)]

use auth::{AuthSettings, Client, KeyRing, Registry, TokenService, Validator};
use std::sync::Arc;
use warehouse::{PostgresStore, SqliteStore, Store};

/// Which store the tests run on: SQLite, or PostgreSQL with `DW_TEST_STORE=postgres` (the test
/// script sets it, with `DW_TEST_POSTGRES_URL` from its throwaway cluster).
pub fn on_postgres() -> bool {
    std::env::var("DW_TEST_STORE").is_ok_and(|v| v == "postgres")
}

/// A fresh, empty store for one fixture: a temporary SQLite file or a new PostgreSQL database.
pub fn fresh_store(tag: &str) -> Arc<dyn Store> {
    if on_postgres() {
        fresh_postgres(tag)
    } else {
        fresh_sqlite(tag)
    }
}

/// A new, empty SQLite store in a temporary folder.
pub fn fresh_sqlite(tag: &str) -> Arc<dyn Store> {
    let dir = std::env::temp_dir().join(format!(
        "dw_{}_{}",
        tag.replace('-', "_"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    Arc::new(SqliteStore::open(&dir.join("t.db")).expect("open SQLite store"))
}

/// A new PostgreSQL database on the test cluster, opened as a store.
pub fn fresh_postgres(tag: &str) -> Arc<dyn Store> {
    Arc::new(PostgresStore::open(&fresh_postgres_url(tag)).expect("open PostgreSQL store"))
}

/// The URL of a new, empty database on the test cluster.
pub fn fresh_postgres_url(tag: &str) -> String {
    let name = format!("dw_{}_{}", tag.replace('-', "_"), std::process::id());
    let url =
        std::env::var("DW_TEST_POSTGRES_URL").expect("DW_TEST_POSTGRES_URL (run ./scripts/test)");
    let mut admin =
        postgres::Client::connect(&url, postgres::NoTls).expect("connect to the test cluster");
    // one statement per call: DROP/CREATE DATABASE cannot run in a multi-statement batch
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let base = &url[..url.rfind('/').unwrap()];
    format!("{base}/{name}")
}

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
