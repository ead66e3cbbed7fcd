//! `dw`: the Device Warehouse command line: serve the warehouse, generate demo tenants, measure.

mod admin;
mod auth_setup;
mod bench;
mod docs;
mod doctor;
mod error;
mod export;
mod loadgen;
mod memory;
mod metrics_endpoint;
mod progress;
mod publication_metrics;
mod schedule;
mod serve;
mod settings;
mod signals;
mod tls;

use crate::error::{CliError, CliResult};
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
    Serve(serve::ServeArgs),
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

/// Parses the command line and runs the command; a failure is reported on standard error and
/// in the exit status ([`CliError::exit_code`]).
fn main() {
    // Ingesting a 100 000-device day allocates and frees millions of small values; with fast
    // bins, sweeping them took about a tenth of the run.
    host::allocator::without_fast_bins();
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("dw: {e}");
        std::process::exit(e.exit_code());
    }
}

/// Runs the command `cli` names.
fn run(cli: Cli) -> CliResult<()> {
    #[cfg(unix)]
    if !matches!(cli.command, Command::Serve(_)) {
        end_quietly_on_closed_pipe();
    }
    match cli.command {
        Command::Serve(a) => serve::run(a),
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
pub(crate) fn open_store(settings: &Settings) -> CliResult<Arc<dyn Store>> {
    match settings.store_url()? {
        StoreUrl::Sqlite(path) => {
            let mut store = SqliteStore::open(&path)
                .map_err(CliError::store(format!("cannot open {}", path.display())))?;
            store.set_statement_timeout(std::time::Duration::from_secs(
                settings.limits.statement_timeout_secs.max(1),
            ));
            Ok(Arc::new(store))
        }
        StoreUrl::Postgres(url) => {
            let primary: Arc<dyn Store> = Arc::new(
                warehouse::PostgresStore::open(&url)
                    .map_err(CliError::store("cannot open the PostgreSQL store"))?,
            );
            if settings.read_stores.is_empty() {
                return Ok(primary);
            }
            let mut replicas: Vec<Arc<dyn Store>> = Vec::new();
            for r in &settings.read_stores {
                let replica = warehouse::PostgresStore::open_replica(r)
                    .map_err(CliError::store(format!("read store {r}")))?;
                replicas.push(Arc::new(replica));
            }
            Ok(Arc::new(warehouse::RoutedStore::new(primary, replicas)))
        }
    }
}

/// Generates a tenant and reports what was written.
pub(crate) fn generate_into(store: &dyn Store, opts: &GenerateOptions) -> CliResult<u64> {
    let started = std::time::Instant::now();
    let (tenant, summary) = generate(store, opts, &progress::GenerationBar::for_terminal())
        .map_err(CliError::store("generating the tenant"))?;
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

fn parse_date(s: &str) -> CliResult<time::Date> {
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| CliError::Usage(format!("'{s}' is not a date (YYYY-MM-DD)")))
}

fn generate_cmd(a: GenerateArgs) -> CliResult<()> {
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

fn ingest(a: IngestArgs) -> CliResult<()> {
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
                .map_err(|e| CliError::Failed(format!("nothing was published: {e}")))?;
            eprintln!("recorded the Graph responses in {}", dir.display());
            graph_folder(&dir)
        }
        _ => {
            return Err(CliError::Usage(
                "--from takes a folder of Graph responses, or `csv DIR`".into(),
            ))
        }
    };
    drop(bars);
    let summary = result?;
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
) -> CliResult<()> {
    let dir = match from {
        [dir] if dir != "graph" && dir != "csv" => dir,
        [kind, dir] if kind == "graph" || kind == "csv" => dir,
        _ => {
            return Err(CliError::Usage(
                "--check takes a snapshot folder (--from DIR or --from csv DIR)".into(),
            ))
        }
    };
    let bars = progress::Bars::for_terminal();
    let summary = ingest::check_folder(std::path::Path::new(dir), date, limits, &bars);
    drop(bars);
    let summary =
        summary.map_err(|e| CliError::Failed(format!("the snapshot is not valid: {e}")))?;
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

#[cfg(test)]
mod tests {
    #[test]
    fn command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
