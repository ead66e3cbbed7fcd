//! The storage seam: what the service needs from a database, whichever it is, and its
//! implementations grouped by backend: `sqlite` and `postgres` (each with its SQL dialect),
//! `routed` (reads sent to replicas) and `fair` (statements bounded per tenant), which wrap any
//! store.

pub mod fair;
pub mod postgres;
pub mod routed;
pub mod sqlite;

use crate::sql::{Dialect, PlannedQuery, SqlValue};
pub use row::{Cell, Row};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// A storage failure. The text is for logs; servers answer with a generic message.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or opened.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A statement failed.
    #[error("query failed: {0}")]
    Query(String),
    /// Loading data was refused (bad input, missing tenant, ...).
    #[error("{0}")]
    Refused(String),
    /// The query is valid but cannot be evaluated on the stored data (a numeric overflow, ...):
    /// the client's request is at fault, not the service.
    #[error("{0}")]
    Evaluation(String),
    /// A statement ran longer than the store's statement time budget and was stopped.
    #[error("statement stopped after its time budget of {0}")]
    Timeout(String),
    /// A statement was stopped because whoever asked for it went away ([`with_cancellation`]).
    #[error("statement cancelled: the client went away")]
    Cancelled,
    /// The tenant already has this many statements running ([`fair::TenantFair`]).
    #[error("the tenant already has {0} statements running")]
    Busy(usize),
    /// The client (or user) already has this many of its tenant's statements running
    /// ([`fair::TenantFair`]).
    #[error("the client already has {0} statements running")]
    ClientBusy(usize),
}

/// Most characters of a database's error text kept in a [`StoreError`]: the text can quote
/// the statement or the data, and one request must not be able to write megabytes to the log.
pub const MAX_ERROR_TEXT: usize = 1024;

/// `text` cut to [`MAX_ERROR_TEXT`] characters, saying how much was left out.
pub fn clipped(text: String) -> String {
    match text.char_indices().nth(MAX_ERROR_TEXT) {
        None => text,
        Some((at, _)) => format!("{}... ({} more bytes)", &text[..at], text.len() - at),
    }
}

thread_local! {
    static CANCELLATION: std::cell::RefCell<Option<Arc<AtomicBool>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` (which uses a store) so that the statements it runs on this thread stop soon after
/// `flag` is set: a server sets it when the client disconnects, so an abandoned expensive query
/// does not run to the end. Stores that cannot interrupt a running statement stop at the next
/// row instead.
pub fn with_cancellation<R>(flag: Arc<AtomicBool>, f: impl FnOnce() -> R) -> R {
    let previous = CANCELLATION.with(|c| c.replace(Some(flag)));
    let result = f();
    CANCELLATION.with(|c| *c.borrow_mut() = previous);
    result
}

/// The cancellation flag of the current thread's statements, if any ([`with_cancellation`]).
pub(crate) fn cancellation() -> Option<Arc<AtomicBool>> {
    CANCELLATION.with(|c| c.borrow().clone())
}

/// A connection taken from a store's pool, in the metrics: how long the statement waited for
/// it (`dw_store_connection_wait_seconds`) and how many of the pool's connections are in use.
pub(crate) fn record_checkout(
    state: &r2d2::State,
    store: &'static str,
    waited: std::time::Duration,
) {
    metrics::histogram!("dw_store_connection_wait_seconds", "store" => store)
        .record(waited.as_secs_f64());
    let in_use = state.connections.saturating_sub(state.idle_connections);
    metrics::gauge!("dw_store_connections_in_use", "store" => store).set(f64::from(in_use));
}

/// A tenant's publication state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Internal id stored in every row of the tenant.
    pub id: i64,
    /// Name (`demo`, or the directory tenant id).
    pub name: String,
    /// Incremented at each publish; paging tokens started on another generation are stale.
    pub generation: i64,
    /// `dateKey` of the newest published snapshot (the day `maxhistorydays` counts back from).
    pub snapshot_date_key: Option<i64>,
    /// When the newest snapshot was published (Unix seconds); `None` before the first.
    pub published_at: Option<i64>,
    /// The oldest generation whose changes since are kept ([`crate::sql::changes`]): a delta
    /// link from an older one cannot be answered.
    pub changes_since: Option<i64>,
}

/// Receives rows while a snapshot is being written.
pub trait Loader {
    /// Inserts one row into `collection`; `values` follow the model's property order and are
    /// typed as the properties are (Boolean, Timestamp for date-times, ...).
    fn insert(&mut self, collection: &str, values: &[SqlValue]) -> Result<(), StoreError>;
}

/// A stored row to rewrite: the row as read and the row as it should be, both whole, in property
/// order and typed as the properties are. A store may write only the properties that differ
/// (SQLite then leaves the indexes of the others alone).
pub struct RowChange<'a> {
    /// The row as read.
    pub old: &'a [SqlValue],
    /// The row as it should be.
    pub new: Vec<SqlValue>,
}

impl RowChange<'_> {
    /// Positions of the properties whose value changes.
    pub fn changed(&self) -> Vec<usize> {
        (0..self.new.len())
            .filter(|&i| self.old.get(i) != Some(&self.new[i]))
            .collect()
    }
}

/// Changes made to a tenant inside its transaction by [`Store::update_tenant`]: given the
/// transaction and the tenant as it was, returns the snapshot date (`dateKey`) to publish.
pub type TenantUpdate<'a> =
    dyn FnMut(&mut dyn Transaction, &Tenant) -> Result<i64, StoreError> + 'a;

/// A write transaction on one tenant: reads see its own writes, readers of the service see
/// nothing of it until it commits.
pub trait Transaction: Loader {
    /// Runs a query inside the transaction.
    fn query(
        &mut self,
        query: &PlannedQuery,
        on_row: &mut dyn FnMut(&dyn Row),
    ) -> Result<(), StoreError>;

    /// Runs a statement that changes rows; returns how many.
    fn execute(&mut self, statement: &PlannedQuery) -> Result<u64, StoreError>;

    /// Rewrites rows of `collection` found by their `key` properties (which a change keeps).
    /// Returns how many rows changed.
    fn update_rows(
        &mut self,
        collection: &str,
        key: &[&str],
        changes: &[RowChange<'_>],
    ) -> Result<u64, StoreError>;

    /// Says that rows of day `date_key` (a `dateKey`) were deleted or replaced by a statement
    /// run with [`Transaction::execute`], so the publication counts that day's rows again
    /// (rows inserted through [`Loader::insert`] are noticed without it, and days removed from
    /// the oldest end by retention are dropped from the counts by themselves).
    fn day_changed(&mut self, date_key: i64);

    /// The generation the transaction publishes (the tenant's next): what its writes record as
    /// the publication that wrote a row ([`crate::sql::changes`]).
    fn generation(&self) -> i64;
}

/// The earliest day whose rows a publication inserted, deleted or replaced: its row counts are
/// taken again from that day on ([`crate::schema::recount`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangedDays(Option<i64>);

impl ChangedDays {
    /// Notes a changed day.
    pub fn note(&mut self, date_key: i64) {
        self.0 = Some(self.0.map_or(date_key, |d| d.min(date_key)));
    }

    /// Notes the day of a row being inserted into `collection`, when it has one.
    pub fn note_row(&mut self, collection: &crate::model::Collection, values: &[SqlValue]) {
        if let Some(SqlValue::Integer(day)) =
            collection.date_key_index().and_then(|i| values.get(i))
        {
            self.note(*day);
        }
    }

    /// The day to count from: the earliest changed one, or past every day when none changed.
    pub fn from(&self) -> i64 {
        self.0.unwrap_or(i64::MAX)
    }

    /// The earliest changed day, if any changed.
    pub fn earliest(&self) -> Option<i64> {
        self.0
    }
}

/// A warehouse store.
pub trait Store: Send + Sync {
    /// The SQL dialect statements for this store are planned in.
    fn dialect(&self) -> &dyn Dialect;

    /// Checks the store answers.
    fn ping(&self) -> Result<(), StoreError>;

    /// Looks a tenant up by name.
    fn tenant(&self, name: &str) -> Result<Option<Tenant>, StoreError>;

    /// Runs a `SELECT COUNT(*)` statement.
    fn count(&self, query: &PlannedQuery) -> Result<u64, StoreError>;

    /// Runs a statement and hands each row to `on_row` as it is read; `on_row` returns `false`
    /// to stop early (client gone, page full).
    fn stream(
        &self,
        query: &PlannedQuery,
        on_row: &mut dyn FnMut(&dyn Row) -> bool,
    ) -> Result<(), StoreError>;

    /// All tenants.
    fn tenants(&self) -> Result<Vec<Tenant>, StoreError>;

    /// Creates an empty tenant (no snapshot yet); an existing one is returned unchanged.
    fn create_tenant(&self, name: &str) -> Result<Tenant, StoreError>;

    /// Deletes a tenant and all its rows in one transaction; `false` when it did not exist.
    fn remove_tenant(&self, name: &str) -> Result<bool, StoreError>;

    /// Applies changes to tenant `name` in one transaction (creating the tenant when missing),
    /// then publishes them: the generation is incremented and the snapshot date set to what
    /// `apply` returns. Readers see all of it or none of it.
    fn update_tenant(&self, name: &str, apply: &mut TenantUpdate<'_>)
        -> Result<Tenant, StoreError>;

    /// Replaces all data of tenant `name` with what `load` writes, atomically: readers see the
    /// previous data or the new data, never a mix. Creates the tenant when missing.
    fn publish_tenant(
        &self,
        name: &str,
        snapshot_date_key: i64,
        load: &mut dyn FnMut(&mut dyn Loader) -> Result<(), StoreError>,
    ) -> Result<Tenant, StoreError> {
        let dialect = self.dialect();
        self.update_tenant(name, &mut |tx, tenant| {
            clear_tenant(tx, dialect, tenant)?;
            load(tx)?;
            Ok(snapshot_date_key)
        })
    }
}

impl<'s> dyn Store + 's {
    /// [`Store::update_tenant`] with a callback that fails with the caller's own error type:
    /// its error comes back as it was, rolled back, and a failure of the store as `E` made
    /// from the store's error. (A trait object cannot take a generic callback, so the store
    /// sees a refusal while the caller's error waits here.)
    pub fn update_tenant_with<E: From<StoreError>>(
        &self,
        name: &str,
        mut apply: impl FnMut(&mut dyn Transaction, &Tenant) -> Result<i64, E>,
    ) -> Result<Tenant, E> {
        let mut refused: Option<E> = None;
        let result = self.update_tenant(name, &mut |tx, tenant| {
            apply(tx, tenant).map_err(|e| {
                refused = Some(e);
                StoreError::Refused("the publication was refused by its caller".into())
            })
        });
        match (result, refused) {
            (Ok(tenant), _) => Ok(tenant),
            (Err(_), Some(e)) => Err(e),
            (Err(e), None) => Err(e.into()),
        }
    }
}

/// Deletes every row of `tenant` inside a publication that replaces all of its data (every day
/// of it changed).
pub fn clear_tenant(
    tx: &mut dyn Transaction,
    dialect: &dyn Dialect,
    tenant: &Tenant,
) -> Result<(), StoreError> {
    for c in &crate::model::Warehouse::get().collections {
        tx.execute(&crate::sql::dml::delete_all(dialect, tenant.id, &c.name))?;
    }
    tx.day_changed(i64::MIN);
    // every row is replaced: changes are told from this publication on
    for statement in crate::sql::changes::forget_changes(dialect, (tenant.id, tx.generation())) {
        tx.execute(&statement)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_are_clipped() {
        assert_eq!(clipped("short".into()), "short");
        let long = clipped("é".repeat(100_000));
        assert!(long.len() < 2 * MAX_ERROR_TEXT + 40, "{}", long.len());
        assert!(long.ends_with("... (197952 more bytes)"), "{long}");
    }
}
