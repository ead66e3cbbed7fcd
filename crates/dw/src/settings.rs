//! Settings from defaults, a TOML file, `DW_*` environment variables and flags, in that order of
//! increasing precedence.

use crate::error::{CliError, CliResult};
use clap::Args;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use ingest::Retention;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use warehouse::{SqliteStore, Store};

/// Every setting of `dw`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// `sqlite:PATH` or a plain path.
    pub store: String,
    /// Listen address.
    pub listen: String,
    /// Address of the Prometheus endpoint (`/metrics`); none: no metrics are served.
    pub metrics_listen: Option<String>,
    /// Name the tenant in the metrics (last publication per tenant; pages, rows and bytes
    /// served per tenant); off, no tenant name appears in them.
    pub metrics_tenant_labels: bool,
    /// Generate the demo tenant when missing.
    pub demo: bool,
    /// Page size.
    pub page_size: u64,
    /// Tenant served.
    pub tenant: String,
    /// Public base URL for links.
    pub public_url: Option<String>,
    /// Hex key authenticating paging tokens; generated and kept next to the store when unset.
    pub token_key: Option<String>,
    /// `text` or `json` logs.
    pub log_format: String,
    /// Folder for the signing keys and the client registry; default the store's folder.
    pub data_dir: Option<String>,
    /// Resource-server settings (`[auth]`).
    pub auth: auth::AuthSettings,
    /// The built-in token service (`[issuer]`).
    pub issuer: IssuerSettings,
    /// Clients defined in configuration (`[[clients]]`), besides those `dw clients add` made.
    pub clients: Vec<auth::Client>,
    /// Users defined in configuration (`[[users]]`).
    pub users: Vec<auth::User>,
    /// Microsoft Graph connection for `dw ingest --from graph` (`[graph]`).
    pub graph: ingest::download::GraphSettings,
    /// Daily ingestion time, `HH:MM` or `HH:MM:SS` in UTC.
    pub ingest_schedule: Option<String>,
    /// Folder with one snapshot folder per day (`YYYY-MM-DD`, Graph files or CSV) for the schedule.
    pub ingest_from: Option<String>,
    /// Read replicas (`postgres://` URLs) that take the queries; writes go to `store`.
    pub read_stores: Vec<String>,
    /// PEM certificate chain for HTTPS.
    pub tls_cert: Option<String>,
    /// PEM private key for HTTPS.
    pub tls_key: Option<String>,
    /// Days each daily fact collection keeps, over the model's defaults (`[retention]`:
    /// `devicePropertyHistories = 365`, `enrollmentActivities = "forever"`).
    pub retention: BTreeMap<String, RetentionValue>,
    /// Bounds on what clients can make the service spend (`[limits]`).
    pub limits: LimitSettings,
}

/// Bounds on what one client can make the service spend (`[limits]`; README, "Limits").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LimitSettings {
    /// Seconds one query statement may run on SQLite before it is stopped with a 503
    /// (PostgreSQL: `statement_timeout` in the store URL).
    pub statement_timeout_secs: u64,
    /// Connections served at once.
    pub max_connections: usize,
    /// Seconds a client has to finish the TLS handshake and send a request's headers.
    pub header_read_timeout_secs: u64,
    /// Seconds a connection may go without moving a byte before it is closed.
    pub idle_timeout_secs: u64,
    /// Largest snapshot file ingestion reads, in MiB.
    pub snapshot_file_max_mb: u64,
    /// Largest record of a snapshot file, in KiB.
    pub snapshot_record_max_kb: u64,
    /// Largest top-level JSON value of a snapshot file (a Graph response, an NDJSON line), in MiB.
    pub snapshot_item_max_mb: u64,
    /// Largest share (0 to 1) of live devices or users one snapshot may mark deleted.
    pub max_deleted_share: f64,
    /// Query statements one tenant may run at once (the store pools 8 SQLite or 16
    /// PostgreSQL connections); one more waits up to 10 s, then 503.
    pub statements_per_tenant: usize,
    /// Data requests one client (or user) may run at once, so one client cannot hold all of its
    /// tenant's statements; one more waits up to 10 s, then 503.
    pub statements_per_client: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        let connections = server::listen::ConnectionLimits::default();
        let snapshot = ingest::SnapshotLimits::default();
        Self {
            statement_timeout_secs: warehouse::store::sqlite::DEFAULT_STATEMENT_TIMEOUT.as_secs(),
            max_connections: connections.max_connections,
            header_read_timeout_secs: connections.header_read_timeout.as_secs(),
            idle_timeout_secs: connections.idle_timeout.as_secs(),
            snapshot_file_max_mb: snapshot.max_file_bytes >> 20,
            snapshot_record_max_kb: snapshot.max_record_bytes >> 10,
            snapshot_item_max_mb: snapshot.max_item_bytes >> 20,
            max_deleted_share: snapshot.max_deleted_share.unwrap_or(1.0),
            statements_per_tenant: 6,
            statements_per_client: 4,
        }
    }
}

impl LimitSettings {
    /// The bounds of an ingestion run; `allow_mass_deletion` turns the deletion guard off.
    pub fn snapshot(&self, allow_mass_deletion: bool) -> ingest::SnapshotLimits {
        ingest::SnapshotLimits {
            max_file_bytes: self.snapshot_file_max_mb.max(1) << 20,
            max_record_bytes: self.snapshot_record_max_kb.max(1) << 10,
            max_item_bytes: self.snapshot_item_max_mb.max(1) << 20,
            max_deleted_share: (!allow_mass_deletion).then_some(self.max_deleted_share),
        }
    }

    /// The connection limits of the server.
    pub fn connections(&self) -> server::listen::ConnectionLimits {
        server::listen::ConnectionLimits {
            max_connections: self.max_connections.max(1),
            header_read_timeout: std::time::Duration::from_secs(
                self.header_read_timeout_secs.max(1),
            ),
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout_secs.max(1)),
            ..Default::default()
        }
    }
}

/// A retention as configured: a number of days, or `"forever"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RetentionValue {
    /// Days.
    Days(u32),
    /// `forever`, or days as text (environment variables).
    Text(String),
}

/// The built-in token service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuerSettings {
    /// Run it (default true); turn off when every token comes from Entra ID or another provider.
    pub enabled: bool,
    /// Lifetime of issued tokens, in seconds.
    pub token_lifetime_secs: i64,
    /// Accept client secrets and passwords over plain HTTP from other hosts (only behind a
    /// TLS-terminating proxy on another host); without TLS they are accepted from loopback only.
    pub allow_plain_http: bool,
}

impl Default for IssuerSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            token_lifetime_secs: 3600,
            allow_plain_http: false,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            store: "sqlite:dw-data/warehouse.db".into(),
            listen: "127.0.0.1:8080".into(),
            metrics_listen: None,
            metrics_tenant_labels: false,
            demo: false,
            page_size: 10_000,
            tenant: "demo".into(),
            public_url: None,
            token_key: None,
            log_format: "text".into(),
            data_dir: None,
            auth: auth::AuthSettings::default(),
            issuer: IssuerSettings::default(),
            clients: Vec::new(),
            users: Vec::new(),
            read_stores: Vec::new(),
            graph: Default::default(),
            ingest_schedule: None,
            ingest_from: None,
            tls_cert: None,
            tls_key: None,
            retention: BTreeMap::new(),
            limits: LimitSettings::default(),
        }
    }
}

/// Largest configuration file read (a `dw.toml` with hundreds of clients is a few hundred KB).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The configuration file, read once (a regular file of at most [`MAX_CONFIG_BYTES`]) and
/// given to figment as TOML under the file's name, so errors still point into it.
struct ConfigFile {
    path: PathBuf,
    text: String,
}

impl ConfigFile {
    fn read(path: &Path) -> CliResult<Self> {
        let text = safe_files::read_regular_to_string(path, MAX_CONFIG_BYTES).map_err(|e| {
            if e.is_not_found() {
                CliError::Usage(format!(
                    "configuration file {} does not exist",
                    path.display()
                ))
            } else {
                CliError::Usage(format!("configuration file {}: {e}", path.display()))
            }
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            text,
        })
    }
}

impl figment::Provider for ConfigFile {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::from("TOML file", self.path.as_path())
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        Toml::string(&self.text).data()
    }
}

/// Largest paging-key file read (64 hex digits and a line end; anything else is replaced).
const MAX_PAGING_KEY_BYTES: u64 = 4096;

/// Values given as flags (only those present override).
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_tenant_labels: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demo: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub read_stores: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingest_schedule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingest_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<String>,
}

impl Overrides {
    pub fn from_common(c: &CommonArgs) -> Self {
        Self {
            store: c.store.clone(),
            tenant: c.tenant.clone(),
            ..Self::default()
        }
    }
}

/// Where the data lives.
pub enum StoreUrl {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database URL.
    Postgres(String),
}

impl Settings {
    /// Loads settings: defaults, then the TOML file, then `DW_*`, then flags.
    pub fn load(config: Option<&Path>, overrides: &Overrides) -> CliResult<Self> {
        let mut f = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = config {
            f = f.merge(ConfigFile::read(path)?);
        }
        f.merge(
            Env::prefixed("DW_")
                .ignore(&[
                    "config",
                    "log",
                    "test_postgres_url",
                    "test_store",
                    "test_pg_dir",
                ])
                .split("__"),
        )
        .merge(Serialized::globals(overrides))
        .extract()
        .map_err(|e| CliError::Usage(format!("invalid configuration: {e}")))
        .and_then(|s: Settings| {
            if s.page_size == 0 {
                return Err(CliError::Usage("page_size must be at least 1".into()));
            }
            s.retention()?;
            Ok(s)
        })
    }

    /// The configured retentions by model collection name (names match case-insensitively, as
    /// environment variables are lower-cased), checked against the model.
    pub fn retention(&self) -> CliResult<BTreeMap<String, Retention>> {
        let mut out = BTreeMap::new();
        for (name, value) in &self.retention {
            let collection = warehouse::Warehouse::get()
                .collections
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
                .map_or(name.clone(), |c| c.name.clone());
            let retention = match value {
                RetentionValue::Days(d) => Retention::Days(*d),
                RetentionValue::Text(t) => Retention::parse(t)
                    .map_err(|e| CliError::Usage(format!("retention.{name}: {e}")))?,
            };
            out.insert(collection, retention);
        }
        ingest::check_retention(&out).map_err(CliError::Usage)?;
        Ok(out)
    }

    /// The parsed store location.
    pub fn store_url(&self) -> CliResult<StoreUrl> {
        if let Some(path) = self.store.strip_prefix("sqlite:") {
            return Ok(StoreUrl::Sqlite(PathBuf::from(
                path.trim_start_matches("//"),
            )));
        }
        if self.store.starts_with("postgres://") || self.store.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(self.store.clone()));
        }
        Ok(StoreUrl::Sqlite(PathBuf::from(&self.store)))
    }

    /// Folder for keys and registry.
    pub fn data_dir(&self) -> CliResult<PathBuf> {
        if let Some(d) = &self.data_dir {
            return Ok(PathBuf::from(d));
        }
        match self.store_url()? {
            StoreUrl::Sqlite(db) => Ok(db.parent().map(Path::to_path_buf).unwrap_or_default()),
            StoreUrl::Postgres(_) => Ok(PathBuf::from("dw-data")),
        }
    }

    /// The base URL clients use: `public_url`, else the listen address.
    pub fn base_url(&self, listening: Option<std::net::SocketAddr>) -> String {
        if let Some(u) = &self.public_url {
            return u.trim_end_matches('/').to_string();
        }
        let scheme = if self.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        match listening {
            Some(a) => format!("{scheme}://{a}"),
            None => format!("{scheme}://{}", self.listen),
        }
    }

    /// The paging-token key: configured, or generated once and kept (owner-only) next to the store.
    pub fn token_key(&self) -> CliResult<Vec<u8>> {
        if let Some(k) = &self.token_key {
            let key = hex::decode(k.trim())
                .map_err(|_| CliError::Usage("token_key must be hex".into()))?;
            if key.len() < 32 {
                return Err(CliError::Usage(
                    "token_key must be at least 32 bytes (64 hex digits)".into(),
                ));
            }
            return Ok(key);
        }
        let path = self.data_dir()?.join("paging.key");
        // two processes starting at once must not each write a key of their own
        let _lock = safe_files::lock(&path).map_err(CliError::io_doing(format!(
            "cannot lock {}",
            path.display()
        )))?;
        // kept when it holds a key; a missing or garbled one is replaced (links made with a
        // garbled key could not be checked anyway); anything else is the operator's to fix
        match safe_files::read_regular_to_string(&path, MAX_PAGING_KEY_BYTES) {
            Ok(text) => {
                if let Some(key) = hex::decode(text.trim()).ok().filter(|k| k.len() >= 32) {
                    return Ok(key);
                }
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(CliError::Failed(format!("{}: {e}", path.display()))),
        }
        let key: [u8; 32] = rand::random();
        safe_files::write_private(&path, hex::encode(key).as_bytes()).map_err(
            CliError::io_doing(format!("cannot write {}", path.display())),
        )?;
        Ok(key.to_vec())
    }
}

/// Options shared by every command that opens a store.
#[derive(Args, Clone, Default)]
pub(crate) struct CommonArgs {
    /// Store to use: `sqlite:PATH` (or a plain path), or `postgres://user@host/db` (add
    /// `?sslmode=verify-full&sslrootcert=CA.pem` for TLS, `statement_timeout=5min`).
    /// [env: DW_STORE] [default: sqlite:dw-data/warehouse.db]
    #[arg(long)]
    pub(crate) store: Option<String>,
    /// TOML configuration file; its keys are the long option names with `_` for `-`.
    #[arg(long, env = "DW_CONFIG")]
    pub(crate) config: Option<std::path::PathBuf>,
    /// Tenant: the one served, generated, or that a new client or user reads. [env: DW_TENANT] [default: demo]
    #[arg(long)]
    pub(crate) tenant: Option<String>,
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
