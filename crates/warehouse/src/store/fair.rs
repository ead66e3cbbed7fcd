//! Fair use of a store between tenants: at most a set number of one tenant's query statements
//! run at once, so that one tenant's burst of expensive queries cannot take every pooled
//! connection from the others; and within a tenant, fewer for one client (or user), so that one
//! client cannot take all of its tenant's. A statement beyond the limit waits for one of its tenant's to
//! end, for a bounded time, and then fails with [`StoreError::Busy`] or [`StoreError::ClientBusy`]
//! (503 with `Retry-After`). Only running statements count: a page paused for a slow reader
//! holds none.
//! Writes (ingestion, administration) are not limited here.

use crate::sql::{Dialect, PlannedQuery};
use crate::store::{Store, StoreError, Tenant, TenantUpdate};
use row::Row;
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A store whose query statements are limited per tenant, and per client within a tenant.
pub struct TenantFair {
    inner: Arc<dyn Store>,
    per_tenant: usize,
    per_client: usize,
    wait: Duration,
    running: Mutex<Running>,
    freed: Condvar,
}

/// The statements running, by tenant and by client of a tenant.
#[derive(Default)]
struct Running {
    tenants: HashMap<i64, usize>,
    clients: HashMap<(i64, String), usize>,
}

/// Lowers a count, dropping it at zero.
fn release<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = counts.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            counts.remove(key);
        }
    }
}

/// A running statement's place in its tenant's (and client's) count; given back when dropped.
struct Slot<'a> {
    fair: &'a TenantFair,
    tenant: Option<i64>,
    client: Option<(i64, String)>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.tenant {
            let mut running = self.fair.running.lock().expect("lock");
            release(&mut running.tenants, &t);
            if let Some(c) = &self.client {
                release(&mut running.clients, c);
            }
            self.fair.freed.notify_all();
        }
    }
}

impl TenantFair {
    /// Limits `inner` to `per_tenant` running query statements per tenant, and `per_client`
    /// per client of a tenant (so one client cannot hold all of its tenant's); one more waits
    /// at most `wait`.
    pub fn new(
        inner: Arc<dyn Store>,
        per_tenant: usize,
        per_client: usize,
        wait: Duration,
    ) -> Self {
        Self {
            inner,
            per_tenant: per_tenant.max(1),
            per_client: per_client.max(1),
            wait,
            running: Mutex::new(Running::default()),
            freed: Condvar::new(),
        }
    }

    fn enter(&self, query: &PlannedQuery) -> Result<Slot<'_>, StoreError> {
        let Some(tenant) = query.tenant else {
            return Ok(Slot {
                fair: self,
                tenant: None,
                client: None,
            });
        };
        let client = query.client.clone().map(|c| (tenant, c));
        let deadline = Instant::now() + self.wait;
        let mut running = self.running.lock().expect("lock");
        loop {
            let tenant_full = running.tenants.get(&tenant).copied().unwrap_or(0) >= self.per_tenant;
            let client_full = client
                .as_ref()
                .is_some_and(|c| running.clients.get(c).copied().unwrap_or(0) >= self.per_client);
            if !tenant_full && !client_full {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(match client_full {
                    true => StoreError::ClientBusy(self.per_client),
                    false => StoreError::Busy(self.per_tenant),
                });
            }
            running = self.freed.wait_timeout(running, left).expect("lock").0;
        }
        *running.tenants.entry(tenant).or_insert(0) += 1;
        if let Some(c) = &client {
            *running.clients.entry(c.clone()).or_insert(0) += 1;
        }
        Ok(Slot {
            fair: self,
            tenant: Some(tenant),
            client,
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
            client: None,
        }
    }

    fn of_client(tenant: i64, client: &str) -> PlannedQuery {
        PlannedQuery {
            client: Some(client.into()),
            ..query(tenant)
        }
    }

    /// A store in a new folder (named after `tag`) limited to `per_tenant` and `per_client`
    /// statements, with `held` running on another thread for 600 ms once this returns.
    fn holding(
        tag: &str,
        per_tenant: usize,
        per_client: usize,
        held: PlannedQuery,
    ) -> (
        std::path::PathBuf,
        Arc<TenantFair>,
        std::thread::JoinHandle<Result<(), StoreError>>,
    ) {
        let dir = std::env::temp_dir().join(format!("{tag}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let inner = Arc::new(SqliteStore::open(&dir.join("t.db")).unwrap());
        let fair = Arc::new(TenantFair::new(
            inner,
            per_tenant,
            per_client,
            Duration::from_millis(300),
        ));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let holder = {
            let fair = fair.clone();
            std::thread::spawn(move || {
                fair.stream(&held, &mut |_| {
                    let _ = started_tx.send(());
                    std::thread::sleep(Duration::from_millis(600));
                    false
                })
            })
        };
        started_rx.recv().unwrap();
        (dir, fair, holder)
    }

    #[test]
    fn a_client_waits_for_its_own_statements_and_its_tenants_others_do_not() {
        let (dir, fair, holder) = holding("dw_fair_client", 3, 1, of_client(1, "a"));
        let refused = fair.count(&of_client(1, "a")).unwrap_err();
        assert!(matches!(refused, StoreError::ClientBusy(1)), "{refused}");
        // the tenant's other clients, and a client of the same name elsewhere, have their share
        assert_eq!(fair.count(&of_client(1, "b")).unwrap(), 1);
        assert_eq!(fair.count(&of_client(2, "a")).unwrap(), 1);
        holder.join().unwrap().unwrap();
        assert_eq!(fair.count(&of_client(1, "a")).unwrap(), 1);
        drop(fair);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_tenant_waits_for_its_own_statements_and_others_do_not() {
        let (dir, fair, holder) = holding("dw_fair", 1, 1, query(1));
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
