//! `dw`: the Device Warehouse command line: serve the warehouse, generate demo tenants, measure.

mod admin;
mod auth_setup;
mod bench;
mod docs;
mod doctor;
mod export;
mod loadgen;
mod memory;
mod metrics_endpoint;
mod progress;
mod publication_metrics;
mod schedule;
mod settings;
mod signals;
mod tls;

use clap::{Args, Parser, Subcommand};
use demo::{generate, GenerateOptions};
use settings::{Settings, StoreUrl};
use std::io::IsTerminal;
use std::sync::Arc;
use warehouse::{SqliteStore, Store};

/// Device Warehouse: an Intune-compatible device-management data warehouse over OData v4.
#[derive(Parser)]
#[command(name = "dw", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the warehouse over HTTP.
    Serve(ServeArgs),
    /// Write a synthetic tenant into the store (replaces that tenant's data atomically).
    Generate(GenerateArgs),
    /// Ingest one day's snapshot (a folder of Microsoft Graph responses) and publish it atomically.
    Ingest(IngestArgs),
    /// Measure export throughput, paging latency and small-query latency.
    Bench(bench::BenchArgs),
    /// Manage tenants (each holds its own data; tokens name the tenant they read).
    #[command(subcommand)]
    Tenants(admin::TenantsCommand),
    /// Manage OAuth clients of the built-in token service.
    #[command(subcommand)]
    Clients(admin::ClientsCommand),
    /// Manage users of the built-in sign-in page.
    #[command(subcommand)]
    Users(admin::UsersCommand),
    /// Manage the built-in token service's signing keys.
    #[command(subcommand)]
    Keys(admin::KeysCommand),
    /// Print an access token for a client (for scripts and curl).
    Token(admin::TokenArgs),
    /// Write a collection to a file (CSV, NDJSON or JSON), straight from the store.
    Export(export::ExportArgs),
    /// Check the configuration, store, permissions, issuers, TLS certificate and schedule.
    Doctor(doctor::DoctorArgs),
    /// Print the completion script of a shell (`dw completions bash > /etc/bash_completion.d/dw`).
    Completions(docs::CompletionsArgs),
    /// Print the manual page (`dw man | man -l -`), or write one per command into a directory.
    Man(docs::ManArgs),
}

/// Options shared by every command that opens a store.
#[derive(Args, Clone, Default)]
struct CommonArgs {
    /// Store to use: `sqlite:PATH` (or a plain path), or `postgres://user@host/db` (add
    /// `?sslmode=verify-full&sslrootcert=CA.pem` for TLS, `statement_timeout=5min`).
    /// [env: DW_STORE] [default: sqlite:dw-data/warehouse.db]
    #[arg(long)]
    store: Option<String>,
    /// TOML configuration file; its keys are the long option names with `_` for `-`.
    #[arg(long, env = "DW_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Tenant: the one served, generated, or that a new client or user reads. [env: DW_TENANT] [default: demo]
    #[arg(long)]
    tenant: Option<String>,
}

#[derive(Args)]
struct ServeArgs {
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

#[derive(Args)]
struct IngestArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Source: a snapshot folder of Graph responses (see the README for its files), `graph` to
    /// download one live from Microsoft Graph, or `csv DIR` with devices.csv and users.csv.
    #[arg(long = "from", num_args = 1..=2, value_names = ["KIND", "DIR"], required = true)]
    from: Vec<String>,
    /// Day of the snapshot (YYYY-MM-DD); default today (UTC).
    #[arg(long)]
    date: Option<String>,
    /// Allow a day older than the newest published one: its facts are written, the dimensions'
    /// current state is left as it is.
    #[arg(long)]
    backfill: bool,
    /// Only check the folder (every file, record and field) and report; the store is not opened.
    #[arg(long, conflicts_with = "backfill")]
    check: bool,
    /// Publish the day even if it marks more than [limits] max_deleted_share (50%) of the live
    /// devices or users deleted (without it, such a snapshot is refused as likely partial).
    #[arg(long)]
    allow_mass_deletion: bool,
    /// Take a --date after tomorrow (UTC) or before 2000-01-01 (refused without it as most
    /// likely mistyped: retention would purge the history before it).
    #[arg(long)]
    allow_any_day: bool,
}

#[derive(Args)]
struct GenerateArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Number of devices.
    #[arg(long, default_value_t = 2000)]
    devices: u32,
    /// Number of users.
    #[arg(long, default_value_t = 2500)]
    users: u32,
    /// Days of history, ending today (UTC) or at --end-date.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Random seed; the same seed gives the same tenant.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Last day of history (YYYY-MM-DD); default today (UTC).
    #[arg(long)]
    end_date: Option<String>,
}

/// Lets a command whose output goes to a closed pipe (`dw ingest ... | head -1`) end quietly, as
/// command-line tools do, instead of failing to print. The server keeps ignoring SIGPIPE: a client
/// hanging up must not stop it.
#[cfg(unix)]
fn end_quietly_on_closed_pipe() {
    // SAFETY: called once at start, before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Turns off glibc's fast bins: small blocks are still cached per thread (tcache), but freed
/// blocks no longer pile up unmerged until a large allocation sweeps them all
/// (`malloc_consolidate`). Ingesting a 100 000-device day allocates and frees millions of small
/// values; with fast bins that sweep took about a tenth of the run.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: called once at start, before any thread exists; M_MXFAST 0 is a documented value.
    unsafe {
        libc::mallopt(libc::M_MXFAST, 0);
    }
}

fn main() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    tune_allocator();
    let cli = Cli::parse();
    #[cfg(unix)]
    if !matches!(cli.command, Command::Serve(_)) {
        end_quietly_on_closed_pipe();
    }
    let result = match cli.command {
        Command::Serve(a) => serve(a),
        Command::Generate(a) => generate_cmd(a),
        Command::Ingest(a) => ingest(a),
        Command::Bench(a) => bench::run(a),
        Command::Tenants(c) => admin::tenants(c),
        Command::Clients(c) => admin::clients(c),
        Command::Users(c) => admin::users(c),
        Command::Keys(c) => admin::keys(c),
        Command::Token(a) => admin::token(a),
        Command::Export(a) => export::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Completions(a) => docs::completions::<Cli>(a),
        Command::Man(a) => docs::man::<Cli>(a),
    };
    if let Err(e) = result {
        eprintln!("dw: {e}");
        std::process::exit(1);
    }
}

/// Logs to standard error, filtered by `DW_LOG` (default `info`), as text or JSON lines.
pub(crate) fn init_logging(format: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("DW_LOG").unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.compact().init();
    }
}

/// Opens the store named by the settings.
pub(crate) fn open_store(settings: &Settings) -> Result<Arc<dyn Store>, String> {
    match settings.store_url()? {
        StoreUrl::Sqlite(path) => {
            let mut store = SqliteStore::open(&path)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            store.set_statement_timeout(std::time::Duration::from_secs(
                settings.limits.statement_timeout_secs.max(1),
            ));
            Ok(Arc::new(store))
        }
        StoreUrl::Postgres(url) => {
            let primary: Arc<dyn Store> = Arc::new(
                warehouse::PostgresStore::open(&url)
                    .map_err(|e| format!("cannot open the PostgreSQL store: {e}"))?,
            );
            if settings.read_stores.is_empty() {
                return Ok(primary);
            }
            let mut replicas: Vec<Arc<dyn Store>> = Vec::new();
            for r in &settings.read_stores {
                let replica = warehouse::PostgresStore::open_replica(r)
                    .map_err(|e| format!("read store {r}: {e}"))?;
                replicas.push(Arc::new(replica));
            }
            Ok(Arc::new(warehouse::RoutedStore::new(primary, replicas)))
        }
    }
}

/// Generates a tenant and reports what was written.
pub(crate) fn generate_into(store: &dyn Store, opts: &GenerateOptions) -> Result<u64, String> {
    let started = std::time::Instant::now();
    let (tenant, summary) = generate(store, opts, &progress::GenerationBar::for_terminal())
        .map_err(|e| e.to_string())?;
    let rows: u64 = summary.values().sum();
    eprintln!(
        "generated tenant '{}' ({} devices, {} users, {} days): {rows} rows in {:.1}s",
        tenant.name,
        opts.devices,
        opts.users,
        opts.days,
        started.elapsed().as_secs_f64()
    );
    Ok(rows)
}

fn parse_date(s: &str) -> Result<time::Date, String> {
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("'{s}' is not a date (YYYY-MM-DD)"))
}

fn generate_cmd(a: GenerateArgs) -> Result<(), String> {
    let settings = Settings::load(
        a.common.config.as_deref(),
        &settings::Overrides::from_common(&a.common),
    )?;
    let store = open_store(&settings)?;
    let end_date = match &a.end_date {
        Some(d) => parse_date(d)?,
        None => time::OffsetDateTime::now_utc().date(),
    };
    generate_into(
        store.as_ref(),
        &GenerateOptions {
            tenant: settings.tenant.clone(),
            devices: a.devices,
            users: a.users,
            days: a.days,
            seed: a.seed,
            end_date,
        },
    )?;
    Ok(())
}

fn ingest(a: IngestArgs) -> Result<(), String> {
    let settings = Settings::load(
        a.common.config.as_deref(),
        &settings::Overrides::from_common(&a.common),
    )?;
    let now = time::OffsetDateTime::now_utc();
    let date = match &a.date {
        Some(d) => parse_date(d)?,
        None => now.date(),
    };
    init_logging(&settings.log_format);
    let limits = settings.limits.snapshot(a.allow_mass_deletion);
    if a.check {
        return check_snapshot(&a.from, date, &limits);
    }
    let store = open_store(&settings)?;
    let started = std::time::Instant::now();
    let opts = ingest::IngestOptions {
        tenant: settings.tenant.clone(),
        date,
        backfill: a.backfill,
        any_day: a.allow_any_day,
        now_micros: (now.unix_timestamp_nanos() / 1000) as i64,
        retention: settings.retention()?,
        limits,
    };
    let bars = progress::Bars::for_terminal();
    let graph_folder = |dir: &std::path::Path| {
        ingest::ingest_graph_folder_with_progress(store.as_ref(), dir, &opts, &bars)
    };
    let result = match a.from.as_slice() {
        [dir] if dir != "graph" && dir != "csv" => graph_folder(std::path::Path::new(dir)),
        [kind, dir] if kind == "graph" => graph_folder(std::path::Path::new(dir)),
        [kind, dir] if kind == "csv" => {
            ingest::ingest_csv_folder(store.as_ref(), std::path::Path::new(dir), &opts)
        }
        [kind] if kind == "graph" => {
            let dir = ingest::download::download(&settings.graph, date, &bars)
                .map_err(|e| format!("nothing was published: {e}"))?;
            eprintln!("recorded the Graph responses in {}", dir.display());
            graph_folder(&dir)
        }
        _ => return Err("--from takes a folder of Graph responses, or `csv DIR`".into()),
    };
    drop(bars);
    let summary = result.map_err(|e| format!("nothing was published: {e}"))?;
    let tenant = summary.tenant.as_ref().expect("published");
    println!(
        "published {date} for tenant '{}' (generation {}) in {:.1}s",
        tenant.name,
        tenant.generation,
        started.elapsed().as_secs_f64()
    );
    // per-entity files are summed by kind (a tenant may have hundreds of apps)
    let mut read: std::collections::BTreeMap<String, (u64, usize)> = Default::default();
    for (file, n) in &summary.records_read {
        let entry = read.entry(progress::source_of(file)).or_default();
        entry.0 += n;
        entry.1 += 1;
    }
    for (source, (n, files)) in &read {
        match files {
            1 => println!("  read    {n:>8}  {source}"),
            _ => println!("  read    {n:>8}  {source} ({files} files)"),
        }
    }
    for (collection, n) in &summary.rows_written {
        println!("  written {n:>8}  {collection}");
    }
    for (value, n) in &summary.unknown_enums {
        println!("  unknown {n:>8}  {value} (mapped to the Unknown member)");
    }
    for (what, n) in &summary.unmatched {
        println!("  skipped {n:>8}  {what}");
    }
    Ok(())
}

/// `dw ingest --check`: reads and checks a snapshot folder without a store.
fn check_snapshot(
    from: &[String],
    date: time::Date,
    limits: &ingest::SnapshotLimits,
) -> Result<(), String> {
    let dir = match from {
        [dir] if dir != "graph" && dir != "csv" => dir,
        [kind, dir] if kind == "graph" || kind == "csv" => dir,
        _ => return Err("--check takes a snapshot folder (--from DIR or --from csv DIR)".into()),
    };
    let bars = progress::Bars::for_terminal();
    let summary = ingest::check_folder(std::path::Path::new(dir), date, limits, &bars);
    drop(bars);
    let summary = summary.map_err(|e| format!("the snapshot is not valid: {e}"))?;
    let records: u64 = summary.records_read.values().sum();
    println!(
        "{dir}: valid, {records} records in {} files",
        summary.records_read.len()
    );
    for (value, n) in &summary.unknown_enums {
        println!("  unknown {n:>8}  {value} (would map to the Unknown member)");
    }
    Ok(())
}

fn serve(a: ServeArgs) -> Result<(), String> {
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
    let settings = Settings::load(a.common.config.as_deref(), &overrides)?;
    init_logging(&settings.log_format);
    // no tenant's queries may take every pooled connection from the others
    let store: Arc<dyn Store> = Arc::new(warehouse::TenantFair::new(
        open_store(&settings)?,
        settings.limits.statements_per_tenant,
        settings.limits.statements_per_client,
        std::time::Duration::from_secs(10),
    ));
    let has_data = store
        .tenant(&settings.tenant)
        .map_err(|e| e.to_string())?
        .is_some();
    if settings.demo && !has_data {
        eprintln!("creating the demo tenant (2 000 devices, 2 500 users, 30 days)...");
        generate_into(
            store.as_ref(),
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
    let demo_secret = if settings.demo && settings.issuer.enabled {
        admin::ensure_demo_client(&settings)?
    } else {
        None
    };
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
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let signals = signals::Signals::install()?;
        let published = publication_metrics::Published::default();
        if let Some(at) = &settings.metrics_listen {
            let handle = metrics_endpoint::install(&tokio::runtime::Handle::current())?;
            let listener = tokio::net::TcpListener::bind(at)
                .await
                .map_err(|e| format!("cannot serve metrics on {at}: {e}"))?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            if !addr.ip().is_loopback() {
                tracing::warn!(address = %addr, "metrics are served without authentication on a non-loopback address: keep it reachable by the scraper alone (firewall, private network)");
            }
            let limits = settings.limits.connections();
            tokio::spawn(metrics_endpoint::serve(listener, handle, limits, signals.shutdown()));
            banner(format_args!("  metrics:          http://{addr}/metrics"));
            let labels = settings.metrics_tenant_labels;
            tokio::spawn(publication_metrics::refresh(store.clone(), labels, published.clone()));
        }
        let listener = tokio::net::TcpListener::bind(&settings.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let tls = settings.tls_cert.is_some();
        if !tls && !addr.ip().is_loopback() {
            tracing::warn!(address = %addr, "serving plain HTTP on a non-loopback address: tokens and data travel unencrypted; use --tls-cert/--tls-key or a TLS proxy");
        }
        let base = settings.base_url(Some(addr));
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
            let from = settings.ingest_from.clone().ok_or("--ingest-schedule needs --ingest-from")?;
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
        if let Some(secret) = demo_secret {
            banner(format_args!("  demo client: id demo-client, secret {secret} (shown once; stored hashed)"));
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
        Ok::<(), String>(())
    })?;
    drop(runtime);
    Ok(())
}

/// The `dw token` command that mints tokens this server accepts: it names what `dw token` would
/// not find on its own (a store or configuration given as flags, a base URL that differs from
/// the one the settings give without `serve`'s flags).
struct TokenHint {
    common: CommonArgs,
}

impl TokenHint {
    fn command(&self, base: &str) -> Result<String, String> {
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
) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    #[test]
    fn command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
