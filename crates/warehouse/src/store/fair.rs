//! Fair use of a store between tenants: at most a set number of one tenant's query statements
//! run at once, so that one tenant's burst of expensive queries cannot take every pooled
//! connection from the others. A statement beyond the limit waits for one of its tenant's to
//! end, for a bounded time, and then fails with [`StoreError::Busy`] (503 with `Retry-After`).
//! Writes (ingestion, administration) are not limited here.

use crate::sql::{Dialect, PlannedQuery};
use crate::store::{Store, StoreError, Tenant, TenantUpdate};
use odata::json::Row;
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A store whose query statements are limited per tenant.
pub struct TenantFair {
    inner: Arc<dyn Store>,
    per_tenant: usize,
    wait: Duration,
    running: Mutex<HashMap<i64, usize>>,
    freed: Condvar,
}

/// A running statement's place in its tenant's count; given back when dropped.
struct Slot<'a> {
    fair: &'a TenantFair,
    tenant: Option<i64>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.tenant {
            let mut running = self.fair.running.lock().expect("lock");
            if let Some(n) = running.get_mut(&t) {
                *n -= 1;
                if *n == 0 {
                    running.remove(&t);
                }
            }
            self.fair.freed.notify_all();
        }
    }
}

impl TenantFair {
    /// Limits `inner` to `per_tenant` running query statements per tenant; one more waits at
    /// most `wait`.
    pub fn new(inner: Arc<dyn Store>, per_tenant: usize, wait: Duration) -> Self {
        Self {
            inner,
            per_tenant: per_tenant.max(1),
            wait,
            running: Mutex::new(HashMap::new()),
            freed: Condvar::new(),
        }
    }

    fn enter(&self, query: &PlannedQuery) -> Result<Slot<'_>, StoreError> {
        let Some(tenant) = query.tenant else {
            return Ok(Slot {
                fair: self,
                tenant: None,
            });
        };
        let deadline = Instant::now() + self.wait;
        let mut running = self.running.lock().expect("lock");
        while running.get(&tenant).copied().unwrap_or(0) >= self.per_tenant {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::Busy(self.per_tenant));
            }
            running = self.freed.wait_timeout(running, left).expect("lock").0;
        }
        *running.entry(tenant).or_insert(0) += 1;
        Ok(Slot {
            fair: self,
            tenant: Some(tenant),
        })
    }
}

impl Store for TenantFair {
    fn dialect(&self) -> &dyn Dialect {
        self.inner.dialect()
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping()
    }

    fn tenant(&self, name: &str) -> Result<Option<Tenant>, StoreError> {
        self.inner.tenant(name)
    }

    fn count(&self, query: &PlannedQuery) -> Result<u64, StoreError> {
        let _slot = self.enter(query)?;
        self.inner.count(query)
    }

    fn stream(
        &self,
        query: &PlannedQuery,
        on_row: &mut dyn FnMut(&dyn Row) -> bool,
    ) -> Result<(), StoreError> {
        let _slot = self.enter(query)?;
        self.inner.stream(query, on_row)
    }

    fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.inner.tenants()
    }

    fn create_tenant(&self, name: &str) -> Result<Tenant, StoreError> {
        self.inner.create_tenant(name)
    }

    fn remove_tenant(&self, name: &str) -> Result<bool, StoreError> {
        self.inner.remove_tenant(name)
    }

    fn update_tenant(
        &self,
        name: &str,
        apply: &mut TenantUpdate<'_>,
    ) -> Result<Tenant, StoreError> {
        self.inner.update_tenant(name, apply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::SqlValue;
    use crate::SqliteStore;

    fn query(tenant: i64) -> PlannedQuery {
        PlannedQuery {
            sql: "SELECT 1 UNION ALL SELECT 2".into(),
            params: Vec::<SqlValue>::new(),
            tenant: Some(tenant),
            planning: std::time::Duration::ZERO,
        }
    }

    #[test]
    fn a_tenant_waits_for_its_own_statements_and_others_do_not() {
        let dir = std::env::temp_dir().join(format!("dw_fair_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let inner = Arc::new(SqliteStore::open(&dir.join("t.db")).unwrap());
        let fair = Arc::new(TenantFair::new(inner, 1, Duration::from_millis(300)));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let holder = {
            let fair = fair.clone();
            std::thread::spawn(move || {
                fair.stream(&query(1), &mut |_| {
                    let _ = started_tx.send(());
                    std::thread::sleep(Duration::from_millis(600));
                    false
                })
            })
        };
        started_rx.recv().unwrap();
        // tenant 1 has its one statement running: a second waits, then is refused
        let refused = fair.count(&query(1)).unwrap_err();
        assert!(matches!(refused, StoreError::Busy(1)), "{refused}");
        // another tenant is not held up
        assert_eq!(fair.count(&query(2)).unwrap(), 1);
        holder.join().unwrap().unwrap();
        // once it ended, tenant 1 runs again
        assert_eq!(fair.count(&query(1)).unwrap(), 1);
        drop(fair);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
