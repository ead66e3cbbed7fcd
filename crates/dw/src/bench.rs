//! `dw bench`: throughput and latency figures measured over real HTTP against a generated tenant.

use crate::error::{CliError, CliResult};
use crate::loadgen::{
    export, quantile_ms, spread_keys, workload, Client, Export, Figures, Request,
};
use crate::settings::{Overrides, Settings};
use clap::Args;
use demo::GenerateOptions;
use std::time::{Duration, Instant};

/// Options of `dw bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Store to benchmark (reused when it already holds the bench tenant) [default:
    /// sqlite:dw-bench/bench-DEVICESxDAYS.db].
    #[arg(long)]
    store: Option<String>,
    /// The size measured: `small` (10 000 devices x 30 days) or `tenant` (a real enterprise
    /// tenant's size: 100 000 devices, 125 000 users, 30 days).
    #[arg(long, value_enum, default_value_t = Profile::Small)]
    profile: Profile,
    /// Devices in the generated tenant [default: from the profile].
    #[arg(long)]
    devices: Option<u32>,
    /// Days of history [default: 30].
    #[arg(long)]
    days: Option<u32>,
    /// Repetitions of each single-request latency measurement.
    #[arg(long, default_value_t = 30)]
    repeat: usize,
    /// Keep-alive connections of the concurrent workload.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds each concurrent workload runs.
    #[arg(long, default_value_t = 10)]
    load_secs: u64,
    /// Measure ingestion instead: two daily Graph snapshots of this many devices (default 100 000).
    #[arg(long, num_args = 0..=1, default_missing_value = "100000")]
    ingest: Option<u32>,
    /// Record the Prometheus metrics as `dw serve --metrics-listen` does, so their cost is in
    /// the figures.
    #[arg(long)]
    metrics: bool,
}

/// Sizes `dw bench` measures.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// 10 000 devices x 30 days.
    Small,
    /// 100 000 devices x 30 days, 125 000 users.
    Tenant,
}

impl BenchArgs {
    fn devices(&self) -> u32 {
        self.devices.unwrap_or(match self.profile {
            Profile::Small => 10_000,
            Profile::Tenant => 100_000,
        })
    }

    fn days(&self) -> u32 {
        self.days.unwrap_or(30)
    }

    fn store(&self) -> String {
        self.store.clone().unwrap_or_else(|| {
            format!(
                "sqlite:dw-bench/bench-{}x{}.db",
                self.devices(),
                self.days()
            )
        })
    }
}

fn store_bytes(settings: &Settings) -> Option<u64> {
    match settings.store_url().ok()? {
        crate::settings::StoreUrl::Sqlite(path) => {
            let size = |p: std::path::PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            Some(size(path.clone()) + size(path.with_extension("db-wal")))
        }
        crate::settings::StoreUrl::Postgres(_) => None,
    }
}

/// The benchmark's snapshot folder (0.5 GB at 100 000 devices), removed however the run ends.
struct SnapshotFolder(std::path::PathBuf);

impl Drop for SnapshotFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Times the ingestion of two daily snapshots.
fn ingest_bench(a: &BenchArgs, devices: u32) -> CliResult<()> {
    let store_arg = a
        .store
        .clone()
        .unwrap_or_else(|| "sqlite:dw-bench/ingest.db".to_string());
    if let Some(path) = store_arg.strip_prefix("sqlite:") {
        let _ = std::fs::remove_file(path);
        let _ = std::fs::remove_file(format!("{path}-wal"));
    }
    let overrides = Overrides {
        store: Some(store_arg),
        tenant: Some("ingest-bench".into()),
        ..Overrides::default()
    };
    let settings = Settings::load(None, &overrides)?;
    crate::logging::init_logging(&settings.log_format);
    let store = crate::settings::open_store(&settings)?;
    // every run starts from an empty tenant (a SQLite store is a new file; PostgreSQL keeps the
    // previous run's days, which would make day 1 older than the newest)
    store.remove_tenant("ingest-bench")?;
    let folder = SnapshotFolder(
        std::env::temp_dir().join(format!("dw-ingest-bench-{}", std::process::id())),
    );
    let dir = &folder.0;
    for day in 0..2 {
        demo::snapshot::write_snapshot(&dir.join(format!("day{day}")), devices, day)
            .map_err(CliError::Failed)?;
    }
    let mut before = store_bytes(&settings);
    let mut first_generation = None;
    for (day, date) in [
        (0, time::macros::date!(2026 - 11 - 01)),
        (1, time::macros::date!(2026 - 11 - 02)),
    ] {
        let opts = ingest::IngestOptions {
            tenant: "ingest-bench".into(),
            date,
            backfill: false,
            any_day: false,
            now_micros: (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000) as i64,
            retention: Default::default(),
            limits: Default::default(),
        };
        let started = Instant::now();
        let summary =
            ingest::ingest_graph_folder(store.as_ref(), &dir.join(format!("day{day}")), &opts)?;
        let secs = started.elapsed().as_secs_f64();
        let read: u64 = summary.records_read.values().sum();
        let written: u64 = summary.rows_written.values().sum();
        let after = store_bytes(&settings);
        let growth = match (before, after) {
            (Some(b), Some(a)) => format!(", store grew {:.1} MB", (a as f64 - b as f64) / 1e6),
            _ => String::new(),
        };
        before = after;
        println!("ingest day {} ({devices} devices, {} users): {read} records read, {written} rows written in {secs:.2}s ({:.0} records/s){growth}", day + 1, devices * 5 / 4, read as f64 / secs);
        if day == 0 {
            first_generation = store.tenant("ingest-bench")?.map(|t| t.generation);
        }
    }
    if let Some(since) = first_generation {
        measure_deltas(store.as_ref(), since)?;
    }
    Ok(())
}

/// What a delta link reads after day 2 (the rows day 2 wrote, and deleted), beside a full read
/// of the same collection: rows and time of each statement, on the store alone.
fn measure_deltas(store: &dyn warehouse::Store, since: i64) -> CliResult<()> {
    use warehouse::sql::changes::{days_written_since, removed_since};
    let tenant = store
        .tenant("ingest-bench")?
        .ok_or_else(|| CliError::Failed("the bench tenant is missing".into()))?;
    let model = warehouse::Warehouse::get().edm(warehouse::ApiVersion::V1);
    let mut from_day = None;
    store.stream(
        &days_written_since(store.dialect(), tenant.id, since),
        &mut |row| {
            if let warehouse::store::Cell::Integer(d) = row.cell(0) {
                from_day = Some(d);
            }
            false
        },
    )?;
    println!("a delta after day 2 (statements on the store, beside a full read):");
    for name in ["devicePropertyHistories", "devices", "users"] {
        let set = model
            .entity_set(name)
            .ok_or_else(|| CliError::Failed(format!("no {name}")))?;
        let read = odata::read::ReadQuery::all(name, model.type_of(set), model);
        let count = |changed: Option<warehouse::sql::Changed>| -> CliResult<(u64, f64)> {
            let reading = warehouse::sql::Reading {
                tenant: tenant.id,
                snapshot_date_key: tenant.snapshot_date_key,
                now_micros: 0,
                after: None,
                offset: 0,
                limit: None,
                changed,
            };
            let plan = warehouse::sql::plan_read(&read, &reading, store.dialect())
                .map_err(|e| CliError::Failed(e.to_string()))?;
            let started = Instant::now();
            let mut rows = 0u64;
            store.stream(&plan.rows, &mut |_| {
                rows += 1;
                true
            })?;
            Ok((rows, started.elapsed().as_secs_f64() * 1000.0))
        };
        let (all, all_ms) = count(None)?;
        let changed = warehouse::sql::Changed {
            since,
            from_day,
            every_row: false,
            by_key: false,
        };
        let (written, mut written_ms) = count(Some(changed))?;
        // a dimension mostly written is read in key order, as a delta link reads it
        let mut how = "by the index of publications";
        if name != "devicePropertyHistories" && written * 4 > all {
            how = "in key order";
            written_ms = count(Some(warehouse::sql::Changed {
                by_key: true,
                ..changed
            }))?
            .1;
        }
        let started = Instant::now();
        let mut removed = 0u64;
        store.stream(
            &removed_since(
                store.dialect(),
                (tenant.id, name),
                since,
                None,
                u64::MAX >> 1,
            ),
            &mut |row| {
                if let warehouse::store::Cell::Text(t) = row.cell(1) {
                    removed += serde_json::from_str::<Vec<serde_json::Value>>(t)
                        .map_or(0, |v| v.len() as u64);
                }
                true
            },
        )?;
        let removed_ms = started.elapsed().as_secs_f64() * 1000.0;
        println!(
            "  {name:24} written since: {written} rows in {written_ms:.1} ms ({how}), deleted since: {removed} in {removed_ms:.1} ms; a full read: {all} rows in {all_ms:.1} ms"
        );
    }
    Ok(())
}

/// An in-memory token service and a token of the bench tenant's client.
fn bench_auth(base: &str) -> CliResult<(server::AuthState, String)> {
    let keys = std::sync::Arc::new(auth::KeyRing::ephemeral()?);
    let registry = auth::Registry {
        clients: vec![auth::Client {
            id: "bench".into(),
            secret_hash: None,
            tenant: "bench".into(),
            roles: Vec::new(),
            redirect_uris: Vec::new(),
            allow_basic: false,
        }],
        users: Vec::new(),
    };
    let audiences = vec![format!("{base}/")];
    let p = auth::DEFAULT_PERMISSION;
    let service = std::sync::Arc::new(auth::TokenService::new(
        base,
        &audiences,
        p,
        p,
        3600,
        keys.clone(),
        registry,
    ));
    let token = service
        .token_for_client("bench")
        .map_err(|e| CliError::Failed(e.description))?
        .access_token;
    let settings = auth::AuthSettings {
        audiences,
        ..auth::AuthSettings::default()
    };
    let validator = auth::Validator::new(settings, Some((service.issuer(), keys, 3600)));
    Ok((
        server::AuthState {
            validator,
            service: Some(service),
            tls: false,
            allow_plain_http_secrets: false,
        },
        token,
    ))
}

fn latency(client: &Client, url: &str, repeat: usize) -> CliResult<(f64, f64)> {
    client.get(url)?; // warm
    let mut samples = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        samples.push(client.get(url)?.1);
    }
    Ok((
        quantile_ms(&mut samples, 0.5),
        quantile_ms(&mut samples, 0.95),
    ))
}

/// Requests asked again with the ETag of their answer (`If-None-Match`: a 304).
fn revalidated_requests(root: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "device by key, revalidated (304)",
            format!("{root}/devices(4242)?api-version=v1.0"),
        ),
        (
            "100 devices, revalidated (304)",
            format!("{root}/devices?api-version=v1.0&$top=100"),
        ),
    ]
}

/// The median and 95th percentile of `repeat` conditional GETs of `url` with the ETag its
/// answer gave, each of which must be a 304, in milliseconds.
fn revalidation_latency(client: &Client, url: &str, repeat: usize) -> CliResult<(f64, f64)> {
    let etag = client
        .etag(url)?
        .ok_or_else(|| CliError::Failed(format!("{url}: no ETag")))?;
    let mut samples = Vec::with_capacity(repeat);
    for _ in 0..=repeat {
        let (status, took) = client.revalidate(url, &etag)?;
        if status != 304 {
            return Err(CliError::Failed(format!("{url}: {status}, not 304")));
        }
        samples.push(took);
    }
    samples.remove(0); // warm
    Ok((
        quantile_ms(&mut samples, 0.5),
        quantile_ms(&mut samples, 0.95),
    ))
}

/// Peak resident set size of this process (Linux), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn report_export(what: &str, e: &Export) {
    let served = e.served.as_secs_f64();
    println!(
        "  {what}: served {:.0} rows/s, {:.1} MB/s (request to last byte, summed over pages); end to end {:.0} rows/s in {:.2}s",
        e.rows as f64 / served,
        e.bytes as f64 / 1e6 / served,
        e.rows as f64 / e.wall.as_secs_f64(),
        e.wall.as_secs_f64()
    );
}

fn report_workload(title: &str, figures: &[Figures], per_second: f64) {
    println!("{title}: {per_second:.0} requests/s");
    for f in figures {
        println!(
            "  {:38} {:6} answered  p50 {:7.2} ms  p99 {:7.2} ms",
            f.name,
            f.answered,
            f.p50.as_secs_f64() * 1000.0,
            f.p99.as_secs_f64() * 1000.0
        );
    }
}

/// Runs the benchmark and prints the figures.
pub fn run(a: BenchArgs) -> CliResult<()> {
    if let Some(devices) = a.ingest {
        return ingest_bench(&a, devices);
    }
    let (devices, days) = (a.devices(), a.days());
    let (settings, store) = bench_store(&a)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::io_doing("starting the runtime"))?;
    // kept past the runtime: database clients must not close on an async worker thread
    let store_until_exit = store.clone();
    let metrics = a
        .metrics
        .then(|| crate::metrics_endpoint::install(runtime.handle()))
        .transpose()?;
    let (root, token) = start_server(&runtime, store)?;
    let client = Client::keep_alive(&token);
    let size = store_bytes(&settings).map_or("".to_string(), |b| {
        format!(", store {:.0} MB", b as f64 / 1e6)
    });
    println!(
        "tenant: {devices} devices, {} users, {days} days{size}",
        devices * 5 / 4
    );
    measure_exports(&client, &token, &root, a.repeat)?;
    let queries = selective_requests(&client, &root)?;
    println!("single requests on one keep-alive connection:");
    for (name, q) in &queries {
        let (p50, p95) = latency(&client, q, a.repeat)?;
        println!("  {name:38} p50 {p50:7.2} ms  p95 {p95:7.2} ms");
    }
    for (name, q) in revalidated_requests(&root) {
        let (p50, p95) = revalidation_latency(&client, &q, a.repeat)?;
        println!("  {name:38} p50 {p50:7.2} ms  p95 {p95:7.2} ms");
    }
    measure_load(&a, &token, &root, &queries)?;
    if let Some(handle) = metrics {
        let exposition = handle.render();
        let series = exposition
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .count();
        println!(
            "metrics recorded: {series} series, {} bytes of exposition",
            exposition.len()
        );
    }
    if let Some(peak) = peak_rss_kib() {
        println!(
            "peak RSS of the process (server and client): {:.1} MiB",
            peak as f64 / 1024.0
        );
    }
    drop(runtime);
    drop(store_until_exit);
    Ok(())
}

/// The bench's store, with the bench tenant generated unless it holds it already.
fn bench_store(a: &BenchArgs) -> CliResult<(Settings, std::sync::Arc<dyn warehouse::Store>)> {
    let (devices, days) = (a.devices(), a.days());
    let overrides = Overrides {
        store: Some(a.store()),
        tenant: Some("bench".into()),
        ..Overrides::default()
    };
    let settings = Settings::load(None, &overrides)?;
    let store = crate::settings::open_store(&settings)?;
    if store.tenant("bench")?.is_none() {
        crate::generate::generate_into(
            store.as_ref(),
            &GenerateOptions {
                tenant: "bench".into(),
                devices,
                users: devices * 5 / 4,
                days,
                seed: 7,
                end_date: time::macros::date!(2026 - 11 - 01),
            },
        )?;
    }
    Ok((settings, store))
}

/// Serves `store` on a free local port with the accept loop and limits of `dw serve`, so the
/// figures are what it serves. Returns the service root and a token of the bench's client.
fn start_server(
    runtime: &tokio::runtime::Runtime,
    store: std::sync::Arc<dyn warehouse::Store>,
) -> CliResult<(String, String)> {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(CliError::io_doing("listening on 127.0.0.1"))?;
    let addr = listener
        .local_addr()
        .map_err(CliError::io_doing("the listener"))?;
    let (auth, token) = bench_auth(&format!("http://{addr}"))?;
    let config = server::Config {
        page_size: 10_000,
        token_key: vec![7; 32],
        public_url: None,
        metrics_tenant_labels: false,
    };
    let app = server::router(server::AppState::new(store, config, auth));
    let plain = |socket| async move { Ok::<_, std::io::Error>(socket) };
    let limits = server::listen::ConnectionLimits::default();
    runtime.spawn(server::listen::serve(
        listener,
        app,
        limits,
        plain,
        std::future::pending(),
    ));
    Ok((format!("http://{addr}{}", server::BASE_PATH), token))
}

/// The full export through next links, on one keep-alive connection and on one per page, with
/// the process's peak memory around it; then the first page's latency beside the last's.
fn measure_exports(client: &Client, token: &str, root: &str, repeat: usize) -> CliResult<()> {
    let first = format!("{root}/devicePropertyHistories?api-version=v1.0");
    let rss_before = peak_rss_kib();
    let kept = export(client, &first)?;
    println!(
        "export devicePropertyHistories: {} rows, {} pages, {:.1} MB",
        kept.rows,
        kept.pages,
        kept.bytes as f64 / 1e6
    );
    report_export("one keep-alive connection", &kept);
    let fresh = export(&Client::fresh_connections(token), &first)?;
    report_export("a new connection per page", &fresh);
    if let (Some(before), Some(after)) = (rss_before, peak_rss_kib()) {
        println!(
            "  peak RSS of the process (server and client): {:.1} MiB before the exports, {:.1} MiB after",
            before as f64 / 1024.0,
            after as f64 / 1024.0
        );
    }

    let last = kept.links.last().cloned().unwrap_or_else(|| first.clone());
    let (p1, p1_95) = latency(client, &first, repeat.min(10))?;
    let (pl, pl_95) = latency(client, &last, repeat.min(10))?;
    println!("page latency (10 000 rows): first page p50 {p1:.1} ms (p95 {p1_95:.1}), last page (#{}) p50 {pl:.1} ms (p95 {pl_95:.1})", kept.pages);

    Ok(())
}

/// The requests of reports and scripts the bench times: a device by key and by its natural
/// ids, searches, counts, a user by principal name, one device's history.
fn selective_requests(client: &Client, root: &str) -> CliResult<Vec<(&'static str, String)>> {
    let some_device = client
        .get(&format!("{root}/devices(4242)?api-version=v1.0"))?
        .0;
    let device: serde_json::Value =
        serde_json::from_slice(&some_device).map_err(|e| CliError::Failed(e.to_string()))?;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    let (device_id, device_name) = (text(&device["deviceId"]), text(&device["deviceName"]));
    let prefix: String = device_name
        .chars()
        .take(device_name.chars().count().saturating_sub(2))
        .collect();
    let some_user = client
        .get(&format!("{root}/users?api-version=v1.0&$top=1&$skip=777"))?
        .0;
    let user: serde_json::Value =
        serde_json::from_slice(&some_user).map_err(|e| CliError::Failed(e.to_string()))?;
    let upn = text(&user["value"][0]["userPrincipalName"]);
    let url = |path: &str| format!("{root}/{}", path.replace(' ', "%20"));
    Ok(vec![
        ("device by key", url("devices(4242)?api-version=v1.0")),
        ("devices deviceId eq", url(&format!("devices?api-version=v1.0&$filter=deviceId eq '{device_id}'"))),
        ("devices deviceName eq", url(&format!("devices?api-version=v1.0&$filter=deviceName eq '{device_name}'"))),
        ("devices startswith(deviceName)", url(&format!("devices?api-version=v1.0&$filter=startswith(deviceName,'{prefix}')&$top=10"))),
        ("devices state and not deleted, $count", url("devices?api-version=v1.0&$filter=complianceStateKey eq 3 and isDeleted eq false&$count=true&$top=10")),
        ("devices lastSyncDateTime lt", url("devices?api-version=v1.0&$filter=lastSyncDateTime lt 2026-10-01T00:00:00Z&$top=10")),
        ("devices by lastSyncDateTime desc, top 10", url("devices?api-version=v1.0&$orderby=lastSyncDateTime desc&$top=10")),
        ("devices type and not deleted, top 50", url("devices?api-version=v1.0&$filter=deviceTypeKey eq 8 and isDeleted eq false&$top=50&$select=deviceKey,deviceName,osVersion")),
        ("users userPrincipalName eq", url(&format!("users?api-version=v1.0&$filter=userPrincipalName eq '{upn}'"))),
        ("one device's history", url("devicePropertyHistories?api-version=v1.0&$filter=deviceKey eq 4242")),
        ("devicePropertyHistories/$count", url("devicePropertyHistories/$count?api-version=v1.0")),
        ("count with a filter", url("devicePropertyHistories/$count?api-version=v1.0&$filter=complianceStateKey eq 2")),
        ("$apply histories by day, state (7 days)", url("devicePropertyHistories?api-version=v1.0&$apply=filter(dateKey ge 20261026)/groupby((dateKey,complianceStateKey),aggregate($count as n))")),
        ("$apply histories by day, state (30 days)", url("devicePropertyHistories?api-version=v1.0&$apply=groupby((dateKey,complianceStateKey),aggregate($count as n))")),
        ("$search devices, one word, $count", url("devices?api-version=v1.0&$search=thinkpad&$count=true&$top=20")),
        ("$search devices, two words, top 20", url("devices?api-version=v1.0&$search=apple NOT iphone&$top=20")),
        ("$search users, a name, top 20", url(&format!("users?api-version=v1.0&$search={}&$top=20", upn.split('@').next().unwrap_or("a")))),
        ("$compute, filter and order by it", url("devices?api-version=v1.0&$compute=freeStorageSpaceInBytes mul 100 div totalStorageSpaceInBytes as freePercent&$filter=freePercent lt 10&$orderby=freePercent&$top=20&$select=deviceName,freePercent")),
        ("lambda: devices with a state-4 day, top 20", url("devices?api-version=v1.0&$filter=devicePropertyHistories/any(h: h/complianceStateKey eq 4)&$top=20&$select=deviceKey")),
        ("lambda: users with 2+ devices, $count", url("users?api-version=v1.0&$filter=userDeviceAssociations/$count ge 2&$count=true&$top=20&$select=userKey")),
        ("$apply devices by deviceType/deviceTypeName", url("devices?api-version=v1.0&$apply=groupby((deviceType/deviceTypeName),aggregate($count as n,totalStorageSpaceInBytes with sum as storage))")),
        ("$expand histories of a page of devices", url("devices?api-version=v1.0&$select=deviceKey,deviceName&$expand=devicePropertyHistories($select=dateKey,complianceStateKey,osVersion)")),
        ("$expand users' associations and devices", url("users?api-version=v1.0&$select=userKey&$expand=userDeviceAssociations($select=deviceKey;$expand=device($select=deviceName))")),
        // $at beside the same question asked without it
        ("one device, one day by $filter", url("devicePropertyHistories?api-version=v1.0&$filter=dateKey eq 20261020 and deviceKey eq 4242")),
        ("one device, one day by $at", url("devicePropertyHistories?api-version=v1.0&$at=2026-10-20&$filter=deviceKey eq 4242")),
        ("a day's histories, $count, by $filter", url("devicePropertyHistories/$count?api-version=v1.0&$filter=dateKey eq 20261020")),
        ("a day's histories, $count, by $at", url("devicePropertyHistories/$count?api-version=v1.0&$at=2026-10-20")),
        ("a day's compliance $apply, by filter", url("devicePropertyHistories?api-version=v1.0&$apply=filter(dateKey eq 20261020)/groupby((complianceStateKey),aggregate($count as n))")),
        ("a day's compliance $apply, by $at", url("devicePropertyHistories?api-version=v1.0&$at=2026-10-20&$apply=groupby((complianceStateKey),aggregate($count as n))")),
        ("policies", url("policies?api-version=v1.0")),
        ("policies $at a day", url("policies?api-version=v1.0&$at=2026-10-20")),
        // users as they are, and as they were (every state's validity weighed)
        ("users not deleted, $count", url("users/$count?api-version=v1.0&$filter=isDeleted eq false")),
        ("users $at a day, $count", url("users/$count?api-version=v1.0&$at=2026-10-20")),
        // a page of a day's histories with their device: as it is now, and as of that day
        ("a day's histories with their device", url("devicePropertyHistories?api-version=v1.0&$filter=dateKey eq 20261020&$top=100&$select=deviceKey&$expand=device($select=deviceName,osVersion)")),
        ("the same, the device $at that day", url("devicePropertyHistories?api-version=v1.0&$at=2026-10-20&$top=100&$select=deviceKey&$expand=device($select=deviceName,osVersion)")),
        // a device as it is, and as it was
        ("device by key $at a day", url("devices(4242)?api-version=v1.0&$at=2026-10-20")),
        ("devices state, $count, now", url("devices?api-version=v1.0&$filter=complianceStateKey eq 2&$count=true&$top=10")),
        ("devices state, $count, $at a day", url("devices?api-version=v1.0&$at=2026-10-20&$filter=complianceStateKey eq 2&$count=true&$top=10")),
        // a period: by $filter on dateKey, and by $from/$to
        ("one device, a week by $filter", url("devicePropertyHistories?api-version=v1.0&$filter=deviceKey eq 4242 and dateKey ge 20261020 and dateKey lt 20261027")),
        ("one device, a week by $from/$to", url("devicePropertyHistories?api-version=v1.0&$from=2026-10-20&$to=2026-10-27&$filter=deviceKey eq 4242")),
        ("policies $from/$to", url("policies?api-version=v1.0&$from=2026-10-01&$to=2026-10-20")),
    ])
}

/// The selective requests (but the key lookup and the unindexed count) and key lookups spread
/// over the tenant, each from `a.connections` connections for `a.load_secs`.
fn measure_load(
    a: &BenchArgs,
    token: &str,
    root: &str,
    queries: &[(&'static str, String)],
) -> CliResult<()> {
    let load = Duration::from_secs(a.load_secs);
    let mix: Vec<Request> = queries[1..10]
        .iter()
        .map(|(name, q)| Request {
            name: name.to_string(),
            urls: vec![q.clone()],
        })
        .collect();
    let (figures, per_second) = workload(token, &mix, a.connections, load)?;
    report_workload(
        &format!("selective requests from {} connections", a.connections),
        &figures,
        per_second,
    );
    let lookups = [Request {
        name: "devices(KEY), keys spread over the tenant".into(),
        urls: spread_keys(a.devices(), 4096)
            .into_iter()
            .map(|k| format!("{root}/devices({k})?api-version=v1.0"))
            .collect(),
    }];
    let (figures, per_second) = workload(token, &lookups, a.connections, load)?;
    report_workload(
        &format!("key lookups from {} connections", a.connections),
        &figures,
        per_second,
    );
    Ok(())
}
