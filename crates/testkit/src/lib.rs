//! Test scaffolding shared by the workspace's integration tests: which store the tests run on,
//! fresh stores (a SQLite file in a temporary folder, or a new database on the test PostgreSQL
//! cluster), and temporary folders that are removed when the test is done with them.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use warehouse::sql::{Dialect, PlannedQuery};
use warehouse::store::Row;
use warehouse::{Loader, PostgresStore, SqliteStore, Store, StoreError, Tenant, TenantUpdate};

/// Whether the tests run on PostgreSQL: `DW_TEST_STORE=postgres`, which `./scripts/test` sets
/// for its second pass, with `DW_TEST_POSTGRES_URL` naming its throwaway cluster.
pub fn on_postgres() -> bool {
    std::env::var("DW_TEST_STORE").is_ok_and(|v| v == "postgres")
}

/// The test cluster's URL, when one is given.
pub fn postgres_cluster() -> Option<String> {
    std::env::var("DW_TEST_POSTGRES_URL").ok()
}

/// A name unique to this test process: `dw_{tag}_{pid}`, usable as a folder or database name.
pub fn unique_name(tag: &str) -> String {
    format!("dw_{}_{}", tag.replace('-', "_"), std::process::id())
}

/// The URL of a new, empty database on the test cluster (dropped first if a previous run of
/// this process id left it).
pub fn fresh_postgres_url(tag: &str) -> String {
    let name = unique_name(tag);
    let url = postgres_cluster().expect("DW_TEST_POSTGRES_URL (run ./scripts/test)");
    let mut admin =
        postgres::Client::connect(&url, postgres::NoTls).expect("connect to the test cluster");
    // one statement per call: DROP/CREATE DATABASE cannot run in a multi-statement batch
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .expect("drop the test database");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create the test database");
    let base = &url[..url.rfind('/').expect("a database in the cluster URL")];
    format!("{base}/{name}")
}

/// A new PostgreSQL database on the test cluster, opened as a store.
pub fn fresh_postgres(tag: &str) -> Arc<dyn Store> {
    Arc::new(PostgresStore::open(&fresh_postgres_url(tag)).expect("open the PostgreSQL store"))
}

/// A new, empty SQLite store in a temporary folder named after `tag` and this process; the
/// folder goes when the last reference to the store does.
pub fn fresh_sqlite(tag: &str) -> Arc<dyn Store> {
    let dir = TempDir::new(tag);
    let store = SqliteStore::open(&dir.join("t.db")).expect("open the SQLite store");
    Arc::new(TempStore { store, _dir: dir })
}

/// A SQLite store that takes its temporary folder with it. Fields drop in order: the store's
/// connections close before the folder is removed.
struct TempStore {
    store: SqliteStore,
    _dir: TempDir,
}

impl Store for TempStore {
    fn dialect(&self) -> &dyn Dialect {
        self.store.dialect()
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.store.ping()
    }

    fn tenant(&self, name: &str) -> Result<Option<Tenant>, StoreError> {
        self.store.tenant(name)
    }

    fn count(&self, query: &PlannedQuery) -> Result<u64, StoreError> {
        self.store.count(query)
    }

    fn stream(
        &self,
        query: &PlannedQuery,
        on_row: &mut dyn FnMut(&dyn Row) -> bool,
    ) -> Result<(), StoreError> {
        self.store.stream(query, on_row)
    }

    fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.store.tenants()
    }

    fn create_tenant(&self, name: &str) -> Result<Tenant, StoreError> {
        self.store.create_tenant(name)
    }

    fn remove_tenant(&self, name: &str) -> Result<bool, StoreError> {
        self.store.remove_tenant(name)
    }

    fn update_tenant(
        &self,
        name: &str,
        apply: &mut TenantUpdate<'_>,
    ) -> Result<Tenant, StoreError> {
        self.store.update_tenant(name, apply)
    }

    fn publish_tenant(
        &self,
        name: &str,
        snapshot_date_key: i64,
        load: &mut dyn FnMut(&mut dyn Loader) -> Result<(), StoreError>,
    ) -> Result<Tenant, StoreError> {
        self.store.publish_tenant(name, snapshot_date_key, load)
    }
}

/// A fresh, empty store on the store the tests run on ([`on_postgres`]).
pub fn fresh_store(tag: &str) -> Arc<dyn Store> {
    if on_postgres() {
        fresh_postgres(tag)
    } else {
        fresh_sqlite(tag)
    }
}

/// A temporary folder, empty when made and removed with what it holds when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Makes `dw_{tag}_{pid}` in the system's temporary folder (emptied if it exists). A folder
    /// never dropped (a fixture in a `static`, shared by a whole test binary) is removed when
    /// the process exits.
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(unique_name(tag));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temporary folder");
        remove_at_exit(&dir);
        Self(dir)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Folders to remove when the process exits.
static AT_EXIT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Removes `dir` when the process exits (if it is still there then).
fn remove_at_exit(dir: &Path) {
    static REGISTER: std::sync::Once = std::sync::Once::new();
    REGISTER.call_once(|| {
        // SAFETY: registers a function without arguments that only touches Rust statics and the
        // file system; `exit` runs it once, after the test harness returns from `main`.
        unsafe {
            libc::atexit(remove_folders);
        }
    });
    if let Ok(mut dirs) = AT_EXIT.lock() {
        dirs.push(dir.to_path_buf());
    }
}

extern "C" fn remove_folders() {
    if let Ok(dirs) = AT_EXIT.lock() {
        for dir in dirs.iter() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
