//! The PostgreSQL store: a connection pool, versioned migrations under an advisory lock (several
//! API nodes may start at once), every statement in a transaction scoped to its tenant for
//! row-level security and bounded by a statement timeout, rows streamed from the server, and
//! snapshots loaded with COPY and published in one transaction.

mod copy;
mod dialect;
mod errors;
mod pool;
pub mod url;
mod values;

pub use dialect::PostgresDialect;

use crate::model::Warehouse;
use crate::schema::{
    migrations, recount, COUNTS_TABLE, MIGRATIONS_TABLE, STATE_STARTS_MIGRATION, TENANTS_TABLE,
    VALUE_COUNTS_MIGRATION, VALUE_COUNTS_TABLE,
};
use crate::sql::validity::record_state_starts;
use crate::sql::{Dialect, PlannedQuery};
use crate::store::ChangedDays;
use crate::store::{Store, StoreError, Tenant};
use copy::CopyLoader;
use errors::query_err;
use pool::{Connections, Lost};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::Type;
use postgres::GenericClient;
use row::Row;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_postgres_rustls::MakeRustlsConnect;
use values::{Param, PgRow};

/// Advisory lock key serializing migrations across nodes.
const MIGRATION_LOCK: i64 = 0x6477_6d69_6772;

type Pool = r2d2::Pool<Connections>;

/// A PostgreSQL-backed store.
pub struct PostgresStore {
    pool: Pool,
    dialect: PostgresDialect,
    /// Every transaction's `statement_timeout`.
    statement_timeout: String,
    /// The TLS connector, also for cancel requests.
    tls: MakeRustlsConnect,
    /// Marks a connection found lost, so the pool checks the others ([`pool`]).
    lost: Lost,
}

/// Statements whose requester may go away ([`crate::store::with_cancellation`]): PostgreSQL runs
/// them in its own processes, so a thread watches their flags and sends PostgreSQL's cancel
/// request for those set, again at every look until the statement has returned: a cancel that
/// reaches the backend before the statement does is ignored by PostgreSQL, so one request alone
/// could miss it. A cancel request is answered before PostgreSQL has signalled the backend, so
/// one can still land after its statement returned, on the connection's next statement: a
/// connection whose requester went away is closed rather than pooled ([`pool::Session::discard`];
/// PostgreSQL ignores a cancel that lands while the backend waits for a command).
struct Watched {
    id: u64,
    flag: Arc<AtomicBool>,
    token: postgres::CancelToken,
    tls: MakeRustlsConnect,
}

static WATCHED: Mutex<Vec<Watched>> = Mutex::new(Vec::new());
static NEXT_WATCH: AtomicU64 = AtomicU64::new(0);

/// How often the watcher looks at the flags.
const WATCH_EVERY: Duration = Duration::from_millis(50);

/// A statement being watched; dropping it ends the watch.
struct Watch {
    id: Option<u64>,
    flag: Option<Arc<AtomicBool>>,
}

impl Watch {
    /// Watches the statements about to run on the connection `token` cancels, if the current
    /// thread's requests can be cancelled; [`StoreError::Cancelled`] when the requester is
    /// already gone.
    fn start(token: postgres::CancelToken, tls: &MakeRustlsConnect) -> Result<Self, StoreError> {
        let Some(flag) = crate::store::cancellation() else {
            return Ok(Self {
                id: None,
                flag: None,
            });
        };
        if flag.load(Ordering::Relaxed) {
            return Err(StoreError::Cancelled);
        }
        static WATCHER: std::sync::Once = std::sync::Once::new();
        WATCHER.call_once(|| {
            std::thread::Builder::new()
                .name("dw-pg-cancel".into())
                .spawn(|| loop {
                    std::thread::sleep(WATCH_EVERY);
                    let watched = WATCHED.lock().expect("lock");
                    // each cancel request is a connection of its own: send them at once, still
                    // under the lock, so none reaches a connection's next statement
                    std::thread::scope(|scope| {
                        for w in watched.iter().filter(|w| w.flag.load(Ordering::Relaxed)) {
                            scope.spawn(move || {
                                let _ = w.token.cancel_query(w.tls.clone());
                            });
                        }
                    });
                })
                .expect("the cancel watcher starts");
        });
        let id = NEXT_WATCH.fetch_add(1, Ordering::Relaxed);
        WATCHED.lock().expect("lock").push(Watched {
            id,
            flag: flag.clone(),
            token,
            tls: tls.clone(),
        });
        Ok(Self {
            id: Some(id),
            flag: Some(flag),
        })
    }

    /// A statement error: [`StoreError::Cancelled`] when this watch's requester went away.
    fn error(&self, e: postgres::Error) -> StoreError {
        if self
            .flag
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Relaxed))
        {
            StoreError::Cancelled
        } else {
            query_err(e)
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            WATCHED.lock().expect("lock").retain(|w| w.id != id);
        }
    }
}

impl PostgresStore {
    /// Connects (`postgres://user:password@host:port/db`, TLS as `sslmode` says: see
    /// [`url`]) and applies pending migrations.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let url::Connection {
            config,
            tls,
            statement_timeout,
        } = url::connection(url)?;
        // one connection first: its error says why (a refused certificate, a wrong password),
        // where the pool would only time out
        config
            .connect(tls.clone())
            .map_err(|e| StoreError::Unavailable(url::error_chain(&e)))?;
        let manager_tls = tls.clone();
        let manager = Connections::new(config, tls);
        let lost = manager.lost();
        let pool = r2d2::Pool::builder()
            .max_size(16)
            .connection_timeout(Duration::from_secs(10))
            .build(manager)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let store = Self {
            pool,
            dialect: PostgresDialect,
            statement_timeout,
            tls: manager_tls,
            lost,
        };
        store.migrate()?;
        Ok(store)
    }

    /// Connects to a read replica: no migrations (a hot standby is read-only; they arrive by
    /// replication) and no connection at start, so a replica that is down does not stop the
    /// service.
    pub fn open_replica(url: &str) -> Result<Self, StoreError> {
        let url::Connection {
            config,
            tls,
            statement_timeout,
        } = url::connection(url)?;
        let manager = Connections::new(config, tls.clone());
        let lost = manager.lost();
        let pool = r2d2::Pool::builder()
            .max_size(16)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(2))
            .build_unchecked(manager);
        Ok(Self {
            pool,
            dialect: PostgresDialect,
            statement_timeout,
            tls,
            lost,
        })
    }

    fn conn(&self) -> Result<r2d2::PooledConnection<Connections>, StoreError> {
        let started = std::time::Instant::now();
        let conn = self
            .pool
            .get()
            .map_err(|e| StoreError::Unavailable(e.to_string()));
        crate::store::record_checkout(&self.pool.state(), "postgres", started.elapsed());
        conn
    }

    /// Runs `work` on a pooled connection. When it fails on a connection that turned out lost
    /// (taken unchecked, see [`pool`], from a server that has since restarted), the pool checks
    /// its other connections before their next use, and `work` runs once more on one of them if
    /// `may_retry` says nothing of its result was delivered yet.
    fn on_connection<T>(
        &self,
        may_retry: &dyn Fn() -> bool,
        mut work: impl FnMut(&mut postgres::Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // a connection whose requester went away may still get a cancel request meant for
        // its statement, which would stop the next one: it is closed instead of pooled
        let mut run = |conn: &mut r2d2::PooledConnection<Connections>| {
            let result = work(conn);
            if crate::store::cancellation().is_some_and(|flag| flag.load(Ordering::Relaxed)) {
                conn.discard();
            }
            result
        };
        let mut conn = self.conn()?;
        match run(&mut conn) {
            Err(e) if conn.is_closed() => {
                self.lost.mark();
                drop(conn);
                if !may_retry() {
                    return Err(e);
                }
                tracing::info!(error = %e, "a store connection was lost; running the statement on another");
                run(&mut self.conn()?)
            }
            result => result,
        }
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(query_err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(query_err)?;
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS \"{MIGRATIONS_TABLE}\" (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        ))
        .map_err(query_err)?;
        let current: i64 = tx
            .query_one(
                &format!("SELECT COALESCE(MAX(version), 0) FROM \"{MIGRATIONS_TABLE}\""),
                &[],
            )
            .map_err(query_err)?
            .get(0);
        for m in migrations(&self.dialect) {
            if m.version <= current {
                continue;
            }
            for s in &m.statements {
                tx.batch_execute(s)
                    .map_err(|e| StoreError::Query(format!("{s}: {}", query_err(e))))?;
            }
            tx.execute(
                &format!("INSERT INTO \"{MIGRATIONS_TABLE}\" (version, name) VALUES ($1, $2)"),
                &[&m.version, &m.name],
            )
            .map_err(query_err)?;
        }
        // counted once when the counts (or the value counts) arrive; each publication then
        // counts the days it changes
        if current < STATE_STARTS_MIGRATION {
            let tenants: Vec<i64> = tx
                .query(&format!("SELECT id FROM \"{TENANTS_TABLE}\""), &[])
                .map_err(query_err)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            for tenant in tenants {
                // row-level security shows the migration each tenant's rows in turn
                tx.execute(
                    "SELECT set_config('dw.tenant', $1, true)",
                    &[&tenant.to_string()],
                )
                .map_err(query_err)?;
                if current < VALUE_COUNTS_MIGRATION {
                    let mut every_day = ChangedDays::default();
                    every_day.note(i64::MIN);
                    count_rows(&mut tx, tenant, every_day)?;
                }
                for statement in record_state_starts(&PostgresDialect, tenant, None) {
                    let params: Vec<Param> = statement.params.iter().map(Param::from).collect();
                    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                        params.iter().map(Param::as_sql).collect();
                    tx.execute(&statement.sql, &refs).map_err(query_err)?;
                }
            }
        }
        tx.commit().map_err(query_err)
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn()?
            .query_one(
                &format!("SELECT MAX(version) FROM \"{MIGRATIONS_TABLE}\""),
                &[],
            )
            .map_err(query_err)?
            .get(0))
    }
}

/// Starts a transaction scoped to `tenant` (row-level security) with a statement timeout;
/// `read_only` for queries, which is also what a hot-standby replica accepts.
fn scoped<'a>(
    conn: &'a mut postgres::Client,
    tenant: Option<i64>,
    read_only: bool,
    statement_timeout: &str,
) -> Result<postgres::Transaction<'a>, StoreError> {
    let mut tx = if read_only {
        conn.build_transaction().read_only(true).start()
    } else {
        conn.transaction()
    }
    .map_err(query_err)?;
    let tenant = tenant.map(|t| t.to_string()).unwrap_or_default();
    tx.execute_typed(
        "SELECT set_config('dw.tenant', $1, true), set_config('statement_timeout', $2, true)",
        &[(&tenant, Type::TEXT), (&statement_timeout, Type::TEXT)],
    )
    .map_err(query_err)?;
    Ok(tx)
}

/// The columns of [`TENANTS_TABLE`] that [`tenant_from_row`] reads: the publication time as
/// Unix seconds, from the ISO text with an offset that publications write (`NULL` for any
/// other text, so an odd value cannot make tenants unreadable).
const TENANT_COLUMNS: &str = "id, name, generation, snapshot_date_key, \
     CASE WHEN published_at ~ '^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(\\.\\d+)?[+-]\\d\\d(:\\d\\d)?$' \
     THEN extract(epoch FROM published_at::timestamptz)::bigint END, changes_since";

/// What `published_at` is set to by a publication: the time in UTC, ISO with its offset, the
/// same text whatever the session's time zone and date style.
const PUBLISHED_NOW: &str = "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'";

fn tenant_from_row(r: &postgres::Row) -> Tenant {
    Tenant {
        id: r.get(0),
        name: r.get(1),
        generation: r.get(2),
        snapshot_date_key: r.get(3),
        published_at: r.get(4),
        changes_since: r.get(5),
    }
}

fn read_tenant(client: &mut impl GenericClient, name: &str) -> Result<Option<Tenant>, StoreError> {
    let row = client
        .query_typed_opt(
            &format!("SELECT {TENANT_COLUMNS} FROM \"{TENANTS_TABLE}\" WHERE name = $1"),
            &[(&name, Type::TEXT)],
        )
        .map_err(query_err)?;
    Ok(row.as_ref().map(tenant_from_row))
}

impl Store for PostgresStore {
    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.on_connection(&|| true, |client| {
            client
                .simple_query("SELECT 1")
                .map(|_| ())
                .map_err(|e| StoreError::Unavailable(e.to_string()))
        })
    }

    fn tenant(&self, name: &str) -> Result<Option<Tenant>, StoreError> {
        self.on_connection(&|| true, |client| read_tenant(client, name))
    }

    fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let rows = self
            .conn()?
            .query(
                &format!("SELECT {TENANT_COLUMNS} FROM \"{TENANTS_TABLE}\" ORDER BY name"),
                &[],
            )
            .map_err(query_err)?;
        Ok(rows.iter().map(tenant_from_row).collect())
    }

    fn create_tenant(&self, name: &str) -> Result<Tenant, StoreError> {
        let mut conn = self.conn()?;
        conn.execute(&format!("INSERT INTO \"{TENANTS_TABLE}\" (name, generation) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING"), &[&name])
            .map_err(query_err)?;
        read_tenant(&mut **conn, name)?.ok_or_else(|| StoreError::Query("tenant vanished".into()))
    }

    fn remove_tenant(&self, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let Some(t) = read_tenant(&mut **conn, name)? else {
            return Ok(false);
        };
        let mut tx = scoped(&mut conn, Some(t.id), false, &self.statement_timeout)?;
        let tables = Warehouse::get().collections.iter().map(|c| c.name.as_str());
        for table in tables.chain([COUNTS_TABLE, VALUE_COUNTS_TABLE]) {
            tx.execute(
                &format!("DELETE FROM \"{table}\" WHERE \"_tenant\" = $1"),
                &[&t.id],
            )
            .map_err(query_err)?;
        }
        tx.execute(
            &format!("DELETE FROM \"{TENANTS_TABLE}\" WHERE id = $1"),
            &[&t.id],
        )
        .map_err(query_err)?;
        tx.commit().map_err(query_err)?;
        Ok(true)
    }

    fn count(&self, query: &PlannedQuery) -> Result<u64, StoreError> {
        let params: Vec<Param> = query.params.iter().map(Param::from).collect();
        let typed: Vec<_> = params.iter().map(Param::typed).collect();
        self.on_connection(&|| true, |conn| {
            let token = conn.cancel_token();
            let timeout = url::less(&self.statement_timeout, query.planning);
            let mut tx = scoped(conn, query.tenant, true, &timeout)?;
            let watch = Watch::start(token, &self.tls)?;
            let n: i64 = tx
                .query_typed_one(&query.sql, &typed)
                .map_err(|e| watch.error(e))?
                .get(0);
            drop(watch);
            tx.commit().map_err(query_err)?;
            Ok(n.max(0) as u64)
        })
    }

    fn stream(
        &self,
        query: &PlannedQuery,
        on_row: &mut dyn FnMut(&dyn Row) -> bool,
    ) -> Result<(), StoreError> {
        let params: Vec<Param> = query.params.iter().map(Param::from).collect();
        let delivered = std::cell::Cell::new(false);
        self.on_connection(&|| !delivered.get(), |conn| {
            let token = conn.cancel_token();
            let timeout = url::less(&self.statement_timeout, query.planning);
            let mut tx = scoped(conn, query.tenant, true, &timeout)?;
            let watch = Watch::start(token, &self.tls)?;
            let mut rows = tx
                .query_typed_raw(&query.sql, params.iter().map(Param::typed))
                .map_err(|e| watch.error(e))?;
            let mut formats: Option<bool> = None;
            while let Some(row) = rows.next().map_err(|e| watch.error(e))? {
                let formats = *formats.get_or_insert_with(|| {
                    row.columns()
                        .iter()
                        .any(|c| matches!(*c.type_(), Type::DATE | Type::TIME))
                });
                delivered.set(true);
                if !on_row(&PgRow::new(&row, formats)) {
                    break;
                }
            }
            drop(rows);
            drop(watch);
            tx.commit().map_err(query_err)
        })
    }

    fn update_tenant(
        &self,
        name: &str,
        apply: &mut crate::store::TenantUpdate<'_>,
    ) -> Result<Tenant, StoreError> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(query_err)?;
        // a new tenant is created in the publication's transaction: a run that fails leaves none
        // (a concurrent first run of the same tenant waits on the insert, then finds the row)
        tx.execute(&format!("INSERT INTO \"{TENANTS_TABLE}\" (name, generation) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING"), &[&name])
            .map_err(query_err)?;
        let id = read_tenant(&mut tx, name)?
            .ok_or_else(|| StoreError::Query("tenant vanished".into()))?
            .id;
        tx.execute(
            &format!("SELECT id FROM \"{TENANTS_TABLE}\" WHERE id = $1 FOR UPDATE"),
            &[&id],
        )
        .map_err(query_err)?;
        tx.execute(
            "SELECT set_config('dw.tenant', $1, true)",
            &[&id.to_string()],
        )
        .map_err(query_err)?;
        // A publication is durable when it returns, whatever the server's default (one flush
        // per publication; a server may run asynchronous commits for speed).
        tx.batch_execute("SET LOCAL synchronous_commit = on")
            .map_err(query_err)?;
        let tenant = read_tenant(&mut tx, name)?
            .ok_or_else(|| StoreError::Query("tenant vanished".into()))?;
        let (snapshot_date_key, changed) = {
            let mut writer = CopyLoader {
                tx: &mut tx,
                tenant: id,
                generation: tenant.generation + 1,
                buffers: HashMap::new(),
                staged: Default::default(),
                changed: ChangedDays::default(),
            };
            let snapshot = apply(&mut writer, &tenant)?;
            writer.flush_all()?;
            let generation = tenant.generation + 1;
            for statement in crate::sql::changes::record_publication(
                &PostgresDialect,
                (id, generation),
                writer.changed.earliest(),
            )
            .into_iter()
            .chain(record_state_starts(&PostgresDialect, id, Some(generation)))
            {
                crate::store::Transaction::execute(&mut writer, &statement)?;
            }
            (snapshot, writer.changed)
        };
        count_rows(&mut tx, id, changed)?;
        tx.execute(
            &format!("UPDATE \"{TENANTS_TABLE}\" SET generation = generation + 1, snapshot_date_key = $1, published_at = {PUBLISHED_NOW} WHERE id = $2"),
            &[&snapshot_date_key, &id],
        )
        .map_err(query_err)?;
        let tenant = read_tenant(&mut tx, name)?
            .ok_or_else(|| StoreError::Query("tenant vanished".into()))?;
        tx.commit().map_err(query_err)?;
        // A bulk load leaves the planner's statistics stale, and with them it sorts whole
        // tables instead of walking the key index; and until a vacuum marks the new pages
        // all-visible, a count that an index covers still reads the table. Both for the
        // changed tables (a vacuum reads only pages changed since the last one): 1.8 s after
        // loading 100 000 devices x 30 days, a fraction of that after a day's ingestion.
        for c in &Warehouse::get().collections {
            conn.batch_execute(&format!("VACUUM (ANALYZE) \"{}\"", c.name))
                .map_err(query_err)?;
        }
        // Run right after the commit, that vacuum leaves the new pages of the largest tables
        // unmarked (seen at 100 000 devices: none of devicePropertyHistories' 39 745 pages);
        // a second pass over the tables that still have unmarked pages marks them.
        let names: Vec<&str> = Warehouse::get()
            .collections
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        let unmarked: Vec<String> = conn
            .query(
                "SELECT relname::text FROM pg_class WHERE relkind = 'r' AND relname = ANY($1) AND relallvisible < relpages",
                &[&names],
            )
            .map_err(query_err)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for table in unmarked {
            conn.batch_execute(&format!("VACUUM \"{table}\""))
                .map_err(query_err)?;
        }
        Ok(tenant)
    }
}

/// Brings one tenant's row counts per collection and day up to date from the earliest changed
/// day (see [`crate::schema::recount`]), inside the caller's transaction, whose tenant setting
/// must be that tenant.
fn count_rows(
    tx: &mut postgres::Transaction<'_>,
    tenant: i64,
    changed: ChangedDays,
) -> Result<(), StoreError> {
    let from = changed.from();
    for (statement, takes_day) in recount(&PostgresDialect) {
        if takes_day {
            tx.execute(&statement, &[&tenant, &from])
        } else {
            tx.execute(&statement, &[&tenant])
        }
        .map_err(query_err)?;
    }
    Ok(())
}
