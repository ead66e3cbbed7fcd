//! `dw serve`: the serving composition. The store wrapped for fair sharing, the demo tenant
//! when asked for, the listener (plain or TLS), the metrics listener, the scheduled ingestion,
//! signals (stop, reload on SIGHUP) and memory upkeep, around `server::router`.

use crate::error::{CliError, CliResult};
use crate::generate::generate_into;
use crate::logging::init_logging;
use crate::settings::{self, open_store, CommonArgs, Settings};
use crate::{
    admin, auth_setup, memory, metrics_endpoint, publication_metrics, schedule, signals, tls,
};
use clap::Args;
use demo::GenerateOptions;
use std::sync::Arc;
use warehouse::Store;

/// `dw serve`'s options.
#[derive(Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Address to listen on. [env: DW_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long)]
    listen: Option<String>,
    /// Serve Prometheus metrics at /metrics on this address (its own listener, so that the
    /// clients' address never shows them); none by default. [env: DW_METRICS_LISTEN]
    #[arg(long)]
    metrics_listen: Option<String>,
    /// Name the tenant in the metrics (last publication, pages, rows and bytes served per
    /// tenant); without it no tenant name appears in them. [env: DW_METRICS_TENANT_LABELS]
    #[arg(long)]
    metrics_tenant_labels: bool,
    /// Generate a demo tenant (2 000 devices, 2 500 users, 30 days) when the store has none.
    #[arg(long)]
    demo: bool,
    /// Rows per page before a @odata.nextLink. [env: DW_PAGE_SIZE] [default: 10000]
    #[arg(long)]
    page_size: Option<u64>,
    /// Public base URL used in links, tokens and audiences, e.g. https://dw.example.com. [env: DW_PUBLIC_URL]
    #[arg(long)]
    public_url: Option<String>,
    /// Ingest daily at this UTC time (`HH:MM` or `HH:MM:SS`) from --ingest-from. [env: DW_INGEST_SCHEDULE]
    #[arg(long, requires = "ingest_from")]
    ingest_schedule: Option<String>,
    /// Folder holding one snapshot folder per day, named YYYY-MM-DD (Graph files or devices.csv and
    /// users.csv), or `graph` to read live from Microsoft Graph. [env: DW_INGEST_FROM]
    #[arg(long)]
    ingest_from: Option<String>,
    /// A read replica (`postgres://...`, repeatable): queries go to replicas, with failover to the
    /// store, which takes all writes. [config: read_stores]
    #[arg(long = "read-store")]
    read_stores: Vec<String>,
    /// PEM certificate chain: serve HTTPS (reloaded on SIGHUP). [env: DW_TLS_CERT]
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<String>,
    /// PEM private key for --tls-cert. [env: DW_TLS_KEY]
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<String>,
}

/// The settings `dw serve` runs with: defaults, file, environment, then `a`'s flags.
fn settings_of(a: &ServeArgs) -> CliResult<Settings> {
    let mut overrides = settings::Overrides::from_common(&a.common);
    overrides.listen = a.listen.clone();
    overrides.metrics_listen = a.metrics_listen.clone();
    if a.metrics_tenant_labels {
        overrides.metrics_tenant_labels = Some(true);
    }
    overrides.page_size = a.page_size;
    overrides.public_url = a.public_url.clone();
    overrides.tls_cert = a.tls_cert.clone();
    overrides.read_stores = a.read_stores.clone();
    overrides.ingest_schedule = a.ingest_schedule.clone();
    overrides.ingest_from = a.ingest_from.clone();
    overrides.tls_key = a.tls_key.clone();
    if a.demo {
        overrides.demo = Some(true);
    }
    Settings::load(a.common.config.as_deref(), &overrides)
}

/// Says when the served tenant has no data yet, or creates the demo tenant when asked to.
fn ensure_data(store: &dyn Store, settings: &Settings) -> CliResult<()> {
    let has_data = store
        .tenant(&settings.tenant)
        .map_err(CliError::store("reading the tenant"))?
        .is_some();
    if settings.demo && !has_data {
        eprintln!("creating the demo tenant (2 000 devices, 2 500 users, 30 days)...");
        generate_into(
            store,
            &GenerateOptions {
                tenant: settings.tenant.clone(),
                devices: 2000,
                users: 2500,
                days: 30,
                seed: 42,
                end_date: time::OffsetDateTime::now_utc().date(),
            },
        )?;
    } else if !has_data {
        eprintln!(
            "note: tenant '{}' has no data yet; run `dw generate` or start with --demo",
            settings.tenant
        );
    }
    Ok(())
}

/// Runs `dw serve`.
pub(crate) fn run(a: ServeArgs) -> CliResult<()> {
    let settings = settings_of(&a)?;
    init_logging(&settings.log_format);
    // no tenant's queries may take every pooled connection from the others
    let store: Arc<dyn Store> = Arc::new(warehouse::TenantFair::new(
        open_store(&settings)?,
        settings.limits.statements_per_tenant,
        settings.limits.statements_per_client,
        std::time::Duration::from_secs(10),
    ));
    ensure_data(store.as_ref(), &settings)?;
    let token_key = settings.token_key()?;
    let token_hint = TokenHint {
        common: a.common.clone(),
    };
    // Dropped after the runtime: database clients must not close on an async worker thread.
    let _store_until_exit = store.clone();
    memory::limit_arenas();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::io_doing("starting the runtime"))?;
    runtime.block_on(async move {
        let signals = signals::Signals::install()?;
        let published = publication_metrics::Published::default();
        if let Some(at) = &settings.metrics_listen {
            serve_metrics(at, &settings, &store, &published, &signals).await?;
        }
        let listener = tokio::net::TcpListener::bind(&settings.listen)
            .await
            .map_err(CliError::io_doing(format!("cannot listen on {}", settings.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(CliError::io_doing("the listener"))?;
        let tls = settings.tls_cert.is_some();
        if !tls && !addr.ip().is_loopback() {
            tracing::warn!(address = %addr, "serving plain HTTP on a non-loopback address: tokens and data travel unencrypted; use --tls-cert/--tls-key or a TLS proxy");
        }
        let base = settings.base_url(Some(addr));
        let demo = if settings.demo && settings.issuer.enabled {
            admin::ensure_demo_client(&settings, &base)?
        } else {
            None
        };
        let token_command = token_hint.command(&base)?;
        let auth = auth_setup::auth_state(&settings, &base, tls)?;
        let service = auth.service.clone();
        let config = server::Config {
            page_size: settings.page_size,
            token_key,
            public_url: settings.public_url.clone(),
            metrics_tenant_labels: settings.metrics_tenant_labels,
        };
        let state = server::AppState::new(store.clone(), config, auth);
        if let Some(at) = &settings.ingest_schedule {
            let at = schedule::parse_time(at)?;
            let from = settings.ingest_from.clone().ok_or_else(|| {
                CliError::Usage("--ingest-schedule needs --ingest-from".into())
            })?;
            let status = state.ingest_status.clone();
            let (store, tenant) = (store.clone(), settings.tenant.clone());
            let graph = settings.graph.clone();
            let rules = schedule::Rules {
                retention: settings.retention()?,
                limits: settings.limits.snapshot(false),
                published,
            };
            tokio::spawn(schedule::run(at, from.into(), graph, store, tenant, rules, status));
        }
        let app = server::router(state);
        let root = format!("{base}{}", server::BASE_PATH);
        banner(format_args!("Device Warehouse is serving at {base}/"));
        banner(format_args!("  listening on:     {addr}"));
        banner(format_args!("  service document: {root}?api-version=v1.0"));
        if let Some(demo) = demo {
            banner(format_args!("  demo client: id demo-client, secret {} (shown once; stored hashed)", demo.client_secret));
            banner(format_args!("  reports:          {base}{} (user demo, password {}, shown once; stored hashed)", server::REPORTS_PATH, demo.user_password));
        } else if service.is_some() {
            banner(format_args!("  reports:          {base}{}", server::REPORTS_PATH));
        }
        if service.is_some() {
            banner(format_args!("  get a token:      TOKEN=$({token_command})   # or POST {base}/oauth2/token (client_credentials)"));
            banner(format_args!("  try:              curl -H \"Authorization: Bearer $TOKEN\" '{root}/devices?api-version=v1.0&$top=2&$select=deviceName,osVersion'"));
        }
        tokio::spawn(memory::return_freed_memory());
        let reload_settings = settings.clone();
        let hangups = signals.hangups();
        tokio::spawn(async move { reload_on_hangup(reload_settings, service, hangups).await });
        serve_http(listener, app, &settings, &signals).await?;
        eprintln!("stopped");
        Ok::<(), CliError>(())
    })?;
    drop(runtime);
    Ok(())
}

/// Serves Prometheus metrics on their own listener at `at`, and keeps the publication gauges
/// fresh.
async fn serve_metrics(
    at: &str,
    settings: &Settings,
    store: &Arc<dyn Store>,
    published: &publication_metrics::Published,
    signals: &signals::Signals,
) -> CliResult<()> {
    let handle = metrics_endpoint::install(&tokio::runtime::Handle::current())?;
    let listener = tokio::net::TcpListener::bind(at)
        .await
        .map_err(CliError::io_doing(format!("cannot serve metrics on {at}")))?;
    let addr = listener
        .local_addr()
        .map_err(CliError::io_doing("the metrics listener"))?;
    if !addr.ip().is_loopback() {
        tracing::warn!(address = %addr, "metrics are served without authentication on a non-loopback address: keep it reachable by the scraper alone (firewall, private network)");
    }
    let limits = settings.limits.connections();
    tokio::spawn(metrics_endpoint::serve(
        listener,
        handle,
        limits,
        signals.shutdown(),
    ));
    banner(format_args!("  metrics:          http://{addr}/metrics"));
    let labels = settings.metrics_tenant_labels;
    tokio::spawn(publication_metrics::refresh(
        store.clone(),
        labels,
        published.clone(),
    ));
    Ok(())
}

/// The `dw token` command that mints tokens this server accepts: it names what `dw token` would
/// not find on its own (a store or configuration given as flags, a base URL that differs from
/// the one the settings give without `serve`'s flags).
struct TokenHint {
    common: CommonArgs,
}

impl TokenHint {
    fn command(&self, base: &str) -> CliResult<String> {
        let mut command = String::from("dw token --client demo-client");
        if let Some(config) = &self.common.config {
            command.push_str(&format!(" --config {}", config.display()));
        }
        if let Some(store) = &self.common.store {
            command.push_str(&format!(" --store {store}"));
        }
        let plain = Settings::load(
            self.common.config.as_deref(),
            &settings::Overrides::from_common(&self.common),
        )?;
        if plain.base_url(None) != base {
            command.push_str(&format!(" --public-url {base}"));
        }
        Ok(command)
    }
}

/// Prints a start-up line; a closed standard output (a supervisor that stopped reading) must not
/// stop the server, so write errors are ignored.
fn banner(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Serves plain HTTP, or HTTPS when a certificate is configured, with the connection limits.
async fn serve_http(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    settings: &Settings,
    signals: &signals::Signals,
) -> CliResult<()> {
    let limits = settings.limits.connections();
    match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => tls::serve(listener, app, limits, cert, key, signals).await,
        _ => {
            let plain = |socket| async move { Ok::<_, std::io::Error>(socket) };
            server::listen::serve(listener, app, limits, plain, signals.shutdown()).await;
            Ok(())
        }
    }
}

/// On SIGHUP: reload clients and users (after `dw clients add`) and signing keys (after
/// `dw keys rotate`); the TLS module reloads the certificate on the same signal.
async fn reload_on_hangup(
    settings: Settings,
    service: Option<std::sync::Arc<auth::TokenService>>,
    mut hangups: tokio::sync::broadcast::Receiver<()>,
) {
    while hangups.recv().await.is_ok() {
        let Some(s) = &service else { continue };
        match auth_setup::registry(&settings) {
            Ok(r) => {
                s.set_registry(r);
                tracing::info!("reloaded clients and users");
            }
            Err(e) => tracing::error!(error = %e, "cannot reload clients and users"),
        }
        match s.keys().reload() {
            Ok(()) => tracing::info!("reloaded signing keys"),
            Err(e) => {
                tracing::error!(error = %e, "cannot reload signing keys; keeping the loaded ones")
            }
        }
    }
}
