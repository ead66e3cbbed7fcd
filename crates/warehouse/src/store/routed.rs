//! Read scale-out: queries go to read replicas, writes to the primary.
//!
//! Replicas are used round-robin. One that fails with [`StoreError::Unavailable`] is skipped for a
//! while and the query is retried on the next replica, then on the primary, so a replica going
//! down costs at most one slow request. Replicas lag the primary slightly: a client paging on a
//! replica that has not yet received a new publication sees the previous one, and a paging token
//! carried to a store of another generation is refused as stale rather than mixing snapshots.

use crate::sql::{Dialect, PlannedQuery};
use crate::store::{Store, StoreError, Tenant};
use row::Row;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a failed replica is left out.
const REPLICA_BACKOFF: Duration = Duration::from_secs(30);

struct Replica {
    store: Arc<dyn Store>,
    down_until: Mutex<Option<Instant>>,
}

/// A primary with read replicas.
pub struct RoutedStore {
    primary: Arc<dyn Store>,
    replicas: Vec<Replica>,
    next: AtomicUsize,
}

impl RoutedStore {
    /// Routes reads across `replicas` and writes to `primary`.
    pub fn new(primary: Arc<dyn Store>, replicas: Vec<Arc<dyn Store>>) -> Self {
        Self {
            primary,
            replicas: replicas
                .into_iter()
                .map(|store| Replica {
                    store,
                    down_until: Mutex::new(None),
                })
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// Runs a read on a healthy replica, falling over to the others and then to the primary.
    fn read<T>(
        &self,
        f: &mut dyn FnMut(&dyn Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let n = self.replicas.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            let r = &self.replicas[(start + i) % n];
            if r.down_until
                .lock()
                .expect("lock")
                .is_some_and(|t| Instant::now() < t)
            {
                continue;
            }
            match f(r.store.as_ref()) {
                Err(StoreError::Unavailable(e)) => {
                    tracing::warn!(error = %e, "read replica unavailable; trying the next one");
                    *r.down_until.lock().expect("lock") = Some(Instant::now() + REPLICA_BACKOFF);
                }
                other => return other,
            }
        }
        f(self.primary.as_ref())
    }
}

impl Store for RoutedStore {
    fn dialect(&self) -> &dyn Dialect {
        self.primary.dialect()
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.primary.ping()
    }

    fn tenant(&self, name: &str) -> Result<Option<Tenant>, StoreError> {
        self.read(&mut |s| s.tenant(name))
    }

    fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.primary.tenants()
    }

    fn create_tenant(&self, name: &str) -> Result<Tenant, StoreError> {
        self.primary.create_tenant(name)
    }

    fn remove_tenant(&self, name: &str) -> Result<bool, StoreError> {
        self.primary.remove_tenant(name)
    }

    fn count(&self, query: &PlannedQuery) -> Result<u64, StoreError> {
        self.read(&mut |s| s.count(query))
    }

    fn stream(
        &self,
        query: &PlannedQuery,
        on_row: &mut dyn FnMut(&dyn Row) -> bool,
    ) -> Result<(), StoreError> {
        // A replica failing after rows were sent is not retried: the rows would repeat.
        let mut sent = false;
        self.read(&mut |s| {
            if sent {
                return Err(StoreError::Query(
                    "the replica failed while streaming".into(),
                ));
            }
            s.stream(query, &mut |row| {
                sent = true;
                on_row(row)
            })
        })
    }

    fn update_tenant(
        &self,
        name: &str,
        apply: &mut crate::store::TenantUpdate<'_>,
    ) -> Result<Tenant, StoreError> {
        self.primary.update_tenant(name, apply)
    }
}
