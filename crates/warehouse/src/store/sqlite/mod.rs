//! The embedded store: one SQLite file in WAL mode, a small connection pool, and rows streamed
//! from the statement cursor to the caller.

mod dialect;
pub mod functions;

pub use dialect::SqliteDialect;

use crate::model::Warehouse;
use crate::schema::{
    create_index, migrations, recount, secondary_indexes, COUNTS_TABLE, MIGRATIONS_TABLE,
    STATE_STARTS_MIGRATION, TENANTS_TABLE, VALUE_COUNTS_MIGRATION, VALUE_COUNTS_TABLE,
};
use crate::sql::changes::{record_publication, CHANGED_COLUMN};
use crate::sql::validity::record_state_starts;
use crate::sql::{Dialect, PlannedQuery, SqlValue};
use crate::store::ChangedDays;
use crate::store::{Loader, RowChange, Store, StoreError, Tenant};
use r2d2_sqlite::SqliteConnectionManager;
use row::{Cell, Row};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params_from_iter, Connection, OptionalExtension, ToSql};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A SQLite-backed store.
pub struct SqliteStore {
    pool: r2d2::Pool<SqliteConnectionManager>,
    dialect: SqliteDialect,
    statement_timeout: Duration,
}

/// How long one query statement may run by default ([`SqliteStore::set_statement_timeout`]).
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// WAL pages after which a commit copies the log into the database file (SQLite's default).
const AUTOCHECKPOINT_PAGES: u32 = 1000;

/// SQLite virtual-machine steps between two checks of a statement's budget (a few microseconds).
const BUDGET_CHECK_STEPS: i32 = 10_000;

/// The time budget and cancellation of one query statement, checked by SQLite's progress
/// handler while the statement runs; removed again when dropped, so ingestion's long
/// transactions on the same pooled connection are not limited.
struct Budget<'c> {
    conn: &'c Connection,
    limit: Duration,
    started: Instant,
    cancelled: Option<Arc<AtomicBool>>,
    /// Set once the statement runs at a lower priority ([`LONG_STATEMENT`]).
    yielded: Arc<AtomicBool>,
}

/// A statement running longer than this yields the processor to short ones: its thread runs at
/// niceness [`LONG_STATEMENT_NICE`] until the statement ends, so a few expensive queries do not
/// slow everybody's small ones. Only where the process may restore the priority afterwards.
const LONG_STATEMENT: Duration = Duration::from_millis(50);

/// The niceness of a long statement's thread.
const LONG_STATEMENT_NICE: i32 = 10;

impl<'c> Budget<'c> {
    /// Installs a budget of `limit` of which `spent` went already (planning the statement).
    fn install(conn: &'c Connection, limit: Duration, spent: Duration) -> Self {
        let now = Instant::now();
        let started = now.checked_sub(spent).unwrap_or(now);
        let cancelled = crate::store::cancellation();
        let flag = cancelled.clone();
        let yielded = Arc::new(AtomicBool::new(false));
        let may_yield = host::priority::may_restore_priority();
        let yield_flag = yielded.clone();
        conn.progress_handler(
            BUDGET_CHECK_STEPS,
            Some(move || {
                let elapsed = started.elapsed();
                if may_yield && elapsed > LONG_STATEMENT && !yield_flag.load(Ordering::Relaxed) {
                    yield_flag.store(
                        host::priority::set_thread_niceness(LONG_STATEMENT_NICE),
                        Ordering::Relaxed,
                    );
                }
                elapsed > limit || flag.as_ref().is_some_and(|f| f.load(Ordering::Relaxed))
            }),
        );
        Self {
            conn,
            limit,
            started,
            cancelled,
            yielded,
        }
    }

    /// A statement error, told apart from an interruption by this budget.
    fn error(&self, e: rusqlite::Error) -> StoreError {
        if e.to_string().contains(functions::OUT_OF_RANGE) {
            return StoreError::Evaluation(crate::store::clipped(e.to_string()));
        }
        if e.sqlite_error_code() != Some(rusqlite::ErrorCode::OperationInterrupted) {
            return query_err(e);
        }
        if self
            .cancelled
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Relaxed))
        {
            StoreError::Cancelled
        } else if self.started.elapsed() > self.limit {
            StoreError::Timeout(format!("{:?}", self.limit))
        } else {
            query_err(e)
        }
    }
}

impl Drop for Budget<'_> {
    fn drop(&mut self) {
        self.conn.progress_handler(0, None::<fn() -> bool>);
        if self.yielded.load(Ordering::Relaxed) {
            host::priority::set_thread_niceness(0);
        }
    }
}

impl ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            SqlValue::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            SqlValue::Integer(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            SqlValue::Real(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            SqlValue::Text(s) | SqlValue::Date(s) | SqlValue::Time(s) => {
                ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
            }
            SqlValue::Boolean(b) => {
                ToSqlOutput::Owned(rusqlite::types::Value::Integer(i64::from(*b)))
            }
            SqlValue::Timestamp(t) => ToSqlOutput::Borrowed(ValueRef::Integer(*t)),
        })
    }
}

fn query_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Query(crate::store::clipped(e.to_string()))
}

struct SqliteRow<'a, 'b>(&'a rusqlite::Row<'b>);

impl Row for SqliteRow<'_, '_> {
    fn cell(&self, index: usize) -> Cell<'_> {
        match self.0.get_ref(index) {
            Ok(ValueRef::Integer(i)) => Cell::Integer(i),
            Ok(ValueRef::Real(f)) => Cell::Real(f),
            Ok(ValueRef::Text(t)) => Cell::Text(std::str::from_utf8(t).unwrap_or("\u{fffd}")),
            Ok(ValueRef::Blob(_)) | Ok(ValueRef::Null) | Err(_) => Cell::Null,
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        owner_only(path)?;
        // WAL is a property of the database file: set once here, on one connection. Set by
        // each of the pool's connections as they open at once, it raced on a new file ("database
        // is locked" while another connection converted it).
        Connection::open(path)
            .and_then(|c| {
                c.execute_batch("PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL;")
            })
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))?;
        let manager = SqliteConnectionManager::file(path).with_init(|c| {
            c.execute_batch(
                "PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -16384; PRAGMA temp_store = FILE;",
            )?;
            functions::register(c)
        });
        let pool = r2d2::Pool::builder()
            .max_size(8)
            .build(manager)
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))?;
        let store = Self {
            pool,
            dialect: SqliteDialect,
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
        };
        store.migrate()?;
        Ok(store)
    }

    /// Sets how long one query statement may run before it is stopped with
    /// [`StoreError::Timeout`] (ingestion is not limited).
    pub fn set_statement_timeout(&mut self, limit: Duration) {
        self.statement_timeout = limit;
    }

    fn conn(&self) -> Result<r2d2::PooledConnection<SqliteConnectionManager>, StoreError> {
        let started = std::time::Instant::now();
        let conn = self
            .pool
            .get()
            .map_err(|e| StoreError::Unavailable(e.to_string()));
        crate::store::record_checkout(&self.pool.state(), "sqlite", started.elapsed());
        conn
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(query_err)?;
        tx.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
            self.dialect.quote(MIGRATIONS_TABLE)
        ))
        .map_err(query_err)?;
        let current: i64 = tx
            .query_row(
                &format!(
                    "SELECT COALESCE(MAX(version), 0) FROM {}",
                    self.dialect.quote(MIGRATIONS_TABLE)
                ),
                [],
                |r| r.get(0),
            )
            .map_err(query_err)?;
        for m in migrations(&self.dialect) {
            if m.version <= current {
                continue;
            }
            for s in &m.statements {
                tx.execute_batch(s).map_err(query_err)?;
            }
            tx.execute(
                &format!(
                    "INSERT INTO {} (version, name, applied_at) VALUES (?1, ?2, datetime('now'))",
                    self.dialect.quote(MIGRATIONS_TABLE)
                ),
                rusqlite::params![m.version, m.name],
            )
            .map_err(query_err)?;
        }
        // counted once when the counts (or the value counts) arrive, and the states' starts
        // recorded once when their column does; each publication then counts the days it
        // changes and records the starts of the states it adds
        if current < STATE_STARTS_MIGRATION {
            let tenants: Vec<i64> = tx
                .prepare(&format!("SELECT id FROM \"{TENANTS_TABLE}\""))
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                .map_err(query_err)?;
            for tenant in tenants {
                if current < VALUE_COUNTS_MIGRATION {
                    let mut every_day = ChangedDays::default();
                    every_day.note(i64::MIN);
                    count_rows(&tx, tenant, every_day)?;
                }
                for statement in record_state_starts(&SqliteDialect, tenant, None) {
                    tx.execute(&statement.sql, params_from_iter(statement.params.iter()))
                        .map_err(query_err)?;
                }
            }
        }
        tx.commit().map_err(query_err)?;
        analyze_new_tables(&conn)
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn()?
            .query_row(
                &format!(
                    "SELECT MAX(version) FROM {}",
                    self.dialect.quote(MIGRATIONS_TABLE)
                ),
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(query_err)
    }
}

/// Makes the store readable by its owner only: a folder it creates is 0700, and the database
/// file is created 0600 before SQLite opens it (SQLite gives its `-wal` and `-shm` files the
/// database file's mode). An existing database and its companions are set to 0600 too; an
/// existing folder is left as it is (it may be a shared one). Anything but a regular file at
/// the path is refused.
fn owner_only(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let unavailable =
        |p: &Path, e: std::io::Error| StoreError::Unavailable(format!("{}: {e}", p.display()));
    // a FIFO would block the open below, a device would be read as a database
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return Err(StoreError::Unavailable(format!(
            "{}: {}",
            path.display(),
            safe_files::ReadError::NotRegular
        )));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| unavailable(dir, e))?;
        }
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| unavailable(path, e))?;
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        if file.exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| unavailable(&file, e))?;
        }
    }
    Ok(())
}

/// The columns of [`TENANTS_TABLE`] that [`tenant_from_row`] reads (the publication time as
/// Unix seconds, `NULL` when it is not a time).
const TENANT_COLUMNS: &str =
    "id, name, generation, snapshot_date_key, CAST(strftime('%s', published_at) AS INTEGER), changes_since";

fn tenant_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Tenant> {
    Ok(Tenant {
        id: r.get(0)?,
        name: r.get(1)?,
        generation: r.get(2)?,
        snapshot_date_key: r.get(3)?,
        published_at: r.get(4)?,
        changes_since: r.get(5)?,
    })
}

fn read_tenant(conn: &Connection, name: &str) -> Result<Option<Tenant>, StoreError> {
    // every request reads its tenant: a prepared statement kept with the connection
    conn.prepare_cached(&format!(
        "SELECT {TENANT_COLUMNS} FROM \"{TENANTS_TABLE}\" WHERE name = ?1"
    ))
    .and_then(|mut statement| statement.query_row([name], tenant_from_row))
    .optional()
    .map_err(query_err)
}

struct SqliteLoader<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    tenant: i64,
    /// The generation being published, which every row written records.
    generation: i64,
    /// Per collection: its insert statement and the position of its `dateKey`.
    inserts: HashMap<String, (String, Option<usize>)>,
    changed: ChangedDays,
}

impl Loader for SqliteLoader<'_> {
    fn insert(&mut self, collection: &str, values: &[SqlValue]) -> Result<(), StoreError> {
        let (sql, date_key) = match self.inserts.get(collection) {
            Some(s) => s,
            None => {
                let c = Warehouse::get().collection(collection).ok_or_else(|| {
                    StoreError::Refused(format!("unknown collection {collection}"))
                })?;
                let names: Vec<String> = std::iter::once("\"_tenant\"".to_string())
                    .chain(c.properties.iter().map(|p| format!("\"{}\"", p.name)))
                    .chain(std::iter::once(format!("\"{CHANGED_COLUMN}\"")))
                    .collect();
                let marks: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
                let sql = format!(
                    "INSERT INTO \"{}\" ({}) VALUES ({})",
                    c.name,
                    names.join(", "),
                    marks.join(", ")
                );
                self.inserts
                    .entry(collection.to_string())
                    .or_insert((sql, c.date_key_index()))
            }
        };
        if let Some(SqlValue::Integer(day)) = date_key.and_then(|i| values.get(i)) {
            self.changed.note(*day);
        }
        let tenant = SqlValue::Integer(self.tenant);
        let generation = SqlValue::Integer(self.generation);
        let mut stmt = self.tx.prepare_cached(sql).map_err(query_err)?;
        stmt.execute(params_from_iter(
            std::iter::once(&tenant)
                .chain(values)
                .chain(std::iter::once(&generation)),
        ))
        .map_err(|e| StoreError::Refused(format!("{collection}: {e}")))?;
        Ok(())
    }
}

impl crate::store::Transaction for SqliteLoader<'_> {
    fn query(
        &mut self,
        query: &PlannedQuery,
        on_row: &mut dyn FnMut(&dyn Row),
    ) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(&query.sql).map_err(query_err)?;
        let mut rows = stmt
            .query(params_from_iter(query.params.iter()))
            .map_err(query_err)?;
        while let Some(row) = rows.next().map_err(query_err)? {
            on_row(&SqliteRow(row));
        }
        Ok(())
    }

    fn execute(&mut self, statement: &PlannedQuery) -> Result<u64, StoreError> {
        let mut stmt = self.tx.prepare_cached(&statement.sql).map_err(query_err)?;
        stmt.execute(params_from_iter(statement.params.iter()))
            .map(|n| n as u64)
            .map_err(query_err)
    }

    fn update_rows(
        &mut self,
        collection: &str,
        key: &[&str],
        changes: &[RowChange<'_>],
    ) -> Result<u64, StoreError> {
        let c = Warehouse::get()
            .collection(collection)
            .ok_or_else(|| StoreError::Refused(format!("unknown collection {collection}")))?;
        let key_indexes = key
            .iter()
            .map(|k| {
                c.property_index(k)
                    .ok_or_else(|| StoreError::Refused(format!("{collection} has no {k}")))
            })
            .collect::<Result<Vec<usize>, StoreError>>()?;
        // one statement per set of changed properties: SQLite rewrites the entries of an index
        // only when the statement sets one of its columns
        let mut by_columns: foldhash::HashMap<Vec<usize>, Vec<&RowChange<'_>>> =
            foldhash::HashMap::default();
        for change in changes {
            let columns = change.changed();
            if !columns.is_empty() {
                by_columns.entry(columns).or_default().push(change);
            }
        }
        let tenant = SqlValue::Integer(self.tenant);
        let mut changed = 0;
        for (columns, rows) in by_columns {
            let sets: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(n, i)| format!("\"{}\" = ?{}", c.properties[*i].name, n + 1))
                .collect();
            let found: String = key
                .iter()
                .enumerate()
                .map(|(n, k)| format!(" AND \"{k}\" = ?{}", columns.len() + 2 + n))
                .collect();
            let sql = format!(
                "UPDATE \"{}\" SET {}, \"{CHANGED_COLUMN}\" = ?{} WHERE \"_tenant\" = ?{}{found}",
                c.name,
                sets.join(", "),
                columns.len() + 2 + key.len(),
                columns.len() + 1,
            );
            let generation = SqlValue::Integer(self.generation);
            let mut stmt = self.tx.prepare(&sql).map_err(query_err)?;
            for row in rows {
                let values = columns.iter().map(|i| &row.new[*i]);
                let keys = key_indexes.iter().map(|i| &row.old[*i]);
                let params = values.chain([&tenant]).chain(keys).chain([&generation]);
                changed += stmt.execute(params_from_iter(params)).map_err(query_err)? as u64;
            }
        }
        Ok(changed)
    }

    fn day_changed(&mut self, date_key: i64) {
        self.changed.note(date_key);
    }

    fn generation(&self) -> i64 {
        self.generation
    }
}

impl Store for SqliteStore {
    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.conn()?
            .query_row("SELECT 1", [], |_| Ok(()))
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    fn tenant(&self, name: &str) -> Result<Option<Tenant>, StoreError> {
        let conn = self.conn()?;
        read_tenant(&conn, name)
    }

    fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {TENANT_COLUMNS} FROM \"{TENANTS_TABLE}\" ORDER BY name"
            ))
            .map_err(query_err)?;
        let rows = stmt.query_map([], tenant_from_row).map_err(query_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(query_err)
    }

    fn create_tenant(&self, name: &str) -> Result<Tenant, StoreError> {
        let conn = self.conn()?;
        conn.execute(
            &format!("INSERT INTO \"{TENANTS_TABLE}\" (name, generation) VALUES (?1, 0) ON CONFLICT (name) DO NOTHING"),
            [name],
        )
        .map_err(query_err)?;
        read_tenant(&conn, name)?.ok_or_else(|| StoreError::Query("tenant vanished".into()))
    }

    fn remove_tenant(&self, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(query_err)?;
        let Some(t) = read_tenant(&tx, name)? else {
            return Ok(false);
        };
        let tables = Warehouse::get().collections.iter().map(|c| c.name.as_str());
        for table in tables.chain([COUNTS_TABLE, VALUE_COUNTS_TABLE]) {
            tx.execute(
                &format!("DELETE FROM \"{table}\" WHERE \"_tenant\" = ?1"),
                [t.id],
            )
            .map_err(query_err)?;
        }
        tx.execute(
            &format!("DELETE FROM \"{TENANTS_TABLE}\" WHERE id = ?1"),
            [t.id],
        )
        .map_err(query_err)?;
        tx.commit().map_err(query_err)?;
        Ok(true)
    }

    fn count(&self, query: &PlannedQuery) -> Result<u64, StoreError> {
        let conn = self.conn()?;
        let budget = Budget::install(&conn, self.statement_timeout, query.planning);
        let mut stmt = conn.prepare_cached(&query.sql).map_err(query_err)?;
        let n: i64 = stmt
            .query_row(params_from_iter(query.params.iter()), |r| r.get(0))
            .map_err(|e| budget.error(e))?;
        Ok(n.max(0) as u64)
    }

    fn stream(
        &self,
        query: &PlannedQuery,
        on_row: &mut dyn FnMut(&dyn Row) -> bool,
    ) -> Result<(), StoreError> {
        let conn = self.conn()?;
        let budget = Budget::install(&conn, self.statement_timeout, query.planning);
        let mut stmt = conn.prepare_cached(&query.sql).map_err(query_err)?;
        let mut rows = stmt
            .query(params_from_iter(query.params.iter()))
            .map_err(|e| budget.error(e))?;
        while let Some(row) = rows.next().map_err(|e| budget.error(e))? {
            if !on_row(&SqliteRow(row)) {
                break;
            }
        }
        Ok(())
    }

    /// As the trait's, and when no other tenant has rows the query indexes are dropped before
    /// the load and built again after it, in the same transaction (readers keep the previous
    /// data and indexes until it commits): building an index over loaded rows is several times
    /// cheaper than keeping it up to date row by row.
    fn publish_tenant(
        &self,
        name: &str,
        snapshot_date_key: i64,
        load: &mut dyn FnMut(&mut dyn Loader) -> Result<(), StoreError>,
    ) -> Result<Tenant, StoreError> {
        let alone = self.tenants()?.iter().all(|t| t.name == name);
        let statement = |sql: String| PlannedQuery {
            sql,
            params: Vec::new(),
            tenant: None,
            planning: std::time::Duration::ZERO,
            client: None,
        };
        self.update_tenant(name, &mut |tx, tenant| {
            crate::store::clear_tenant(tx, &SqliteDialect, tenant)?;
            if alone {
                for i in secondary_indexes() {
                    tx.execute(&statement(format!("DROP INDEX \"{}\"", i.name())))?;
                }
            }
            load(tx)?;
            if alone {
                for i in secondary_indexes() {
                    tx.execute(&statement(create_index(&SqliteDialect, i)))?;
                }
            }
            Ok(snapshot_date_key)
        })
    }

    fn update_tenant(
        &self,
        name: &str,
        apply: &mut crate::store::TenantUpdate<'_>,
    ) -> Result<Tenant, StoreError> {
        let mut conn = self.conn()?;
        // the publication's commit does not copy the log into the database file itself (a
        // tenth of a large day's commit): another connection does it once the day is published.
        // Its temporary tables and sorts stay in memory; a query's spill to a file, so that a
        // grouping or a distinct count over millions of rows cannot take the memory of the
        // process (its temporary pages are cached up to SQLite's default 2 MiB).
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0; PRAGMA temp_store = MEMORY")
            .map_err(query_err)?;
        let published = self.publish(&mut conn, name, apply);
        let _ = conn.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}; PRAGMA temp_store = FILE"
        ));
        drop(conn);
        if published.is_ok() {
            let pool = self.pool.clone();
            let _ = std::thread::Builder::new()
                .name("dw-checkpoint".into())
                .spawn(move || {
                    if let Ok(conn) = pool.get() {
                        let _ = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)");
                    }
                });
        }
        published
    }
}

impl SqliteStore {
    /// Runs `apply` on tenant `name` and publishes what it wrote, in one transaction on `conn`.
    fn publish(
        &self,
        conn: &mut rusqlite::Connection,
        name: &str,
        apply: &mut crate::store::TenantUpdate<'_>,
    ) -> Result<Tenant, StoreError> {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(query_err)?;
        tx.execute(
            &format!("INSERT INTO \"{TENANTS_TABLE}\" (name, generation) VALUES (?1, 0) ON CONFLICT (name) DO NOTHING"),
            [name],
        )
        .map_err(query_err)?;
        let tenant =
            read_tenant(&tx, name)?.ok_or_else(|| StoreError::Query("tenant vanished".into()))?;
        let (snapshot_date_key, changed) = {
            let mut writer = SqliteLoader {
                tx: &tx,
                tenant: tenant.id,
                generation: tenant.generation + 1,
                inserts: HashMap::new(),
                changed: ChangedDays::default(),
            };
            let snapshot_date_key = apply(&mut writer, &tenant)?;
            let generation = tenant.generation + 1;
            for statement in record_publication(
                &SqliteDialect,
                (tenant.id, generation),
                writer.changed.earliest(),
            )
            .into_iter()
            .chain(record_state_starts(
                &SqliteDialect,
                tenant.id,
                Some(generation),
            )) {
                crate::store::Transaction::execute(&mut writer, &statement)?;
            }
            (snapshot_date_key, writer.changed)
        };
        count_rows(&tx, tenant.id, changed)?;
        tx.execute(
            &format!("UPDATE \"{TENANTS_TABLE}\" SET generation = generation + 1, snapshot_date_key = ?1, published_at = datetime('now') WHERE id = ?2"),
            rusqlite::params![snapshot_date_key, tenant.id],
        )
        .map_err(query_err)?;
        let tenant =
            read_tenant(&tx, name)?.ok_or_else(|| StoreError::Query("tenant vanished".into()))?;
        tx.commit().map_err(query_err)?;
        analyze_new_tables(conn)?;
        Ok(tenant)
    }
}

/// Brings one tenant's row counts per collection and day up to date from the earliest changed
/// day (see [`crate::schema::recount`]), inside the caller's transaction.
fn count_rows(
    tx: &rusqlite::Transaction<'_>,
    tenant: i64,
    changed: ChangedDays,
) -> Result<(), StoreError> {
    for (statement, takes_day) in recount(&SqliteDialect) {
        if takes_day {
            tx.execute(&statement, [tenant, changed.from()])
        } else {
            tx.execute(&statement, [tenant])
        }
        .map_err(query_err)?;
    }
    Ok(())
}

/// Gathers the planner's statistics (`ANALYZE`, whole tables) for every collection table that
/// has rows and no statistics yet, or an index without them. Without them SQLite takes the
/// primary key's tenant prefix for as selective as a secondary index and scans a tenant's whole
/// table where an index on a natural id or an entity key answers in microseconds, or takes an
/// index led by the key's first column for a smaller primary key and reads rows through it.
/// Statistics stay valid as a table grows day by day (what counts is how much more selective
/// one index is than another), so tables are analyzed once, after the first publication that
/// fills them or after the migration that adds their indexes: 0.8 s for every table at 100 000
/// devices x 30 days.
fn analyze_new_tables(conn: &rusqlite::Connection) -> Result<(), StoreError> {
    let strings = |sql: &str| -> Result<std::collections::HashSet<String>, StoreError> {
        match conn.prepare(sql) {
            Ok(mut statement) => statement
                .query_map([], |r| r.get(0))
                .map_err(query_err)?
                .collect::<Result<_, _>>()
                .map_err(query_err),
            Err(_) => Ok(Default::default()), // no statistics at all yet
        }
    };
    let analyzed = strings("SELECT DISTINCT tbl FROM sqlite_stat1")?;
    let indexes_analyzed = strings("SELECT DISTINCT idx FROM sqlite_stat1 WHERE idx IS NOT NULL")?;
    // every index a migration created (not only the query indexes): one without statistics
    // looks as selective as the best to the planner, which then reads a tenant's whole table
    // through it (a count of devices by compliance state, 1 ms, took 86 ms through the index
    // migration 9 added)
    let indexes: Vec<(String, String)> = conn
        .prepare(
            "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
        )
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()
        })
        .map_err(query_err)?;
    let unanalyzed_index = |table: &str| {
        indexes
            .iter()
            .any(|(t, i)| t == table && !indexes_analyzed.contains(i))
    };
    for c in &Warehouse::get().collections {
        if !analyzed.contains(&c.name) || unanalyzed_index(&c.name) {
            conn.execute_batch(&format!("ANALYZE \"{}\"", c.name))
                .map_err(query_err)?;
        }
    }
    Ok(())
}
