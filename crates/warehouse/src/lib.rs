//! The Intune-compatible data warehouse: its model, SQL planning and stores, with what the
//! pipelines around it share (`calendar` and `compliance` vocabulary, `reference` rows,
//! `progress` reporting). Ingestion lives in the `ingest` crate, the demo generator in `demo`.
//!
//! Key decisions, and why:
//! * **Keyset paging** ([`sql::plan`]): OFFSET makes a full export quadratic, which is exactly what
//!   makes large Power BI refreshes time out; continuing after the last row's sort key keeps
//!   every page as cheap as the first.
//! * **Tenant scoping in the planner**: the tenant predicate is added from the authenticated
//!   principal, never from anything the client writes.
//! * **A [`store::Store`] trait and a [`sql::Dialect`] trait from the start**, so PostgreSQL can
//!   be added without touching planning or serving; SQLite-specific SQL lives only in the SQLite
//!   dialect and store modules.
//! * **Atomic publication**: a tenant's data is replaced in one transaction, so readers see a
//!   whole snapshot or the previous one, and a generation number tells paging clients when the
//!   data changed under them.
#![deny(missing_docs)]

pub mod calendar;
pub mod compliance;
pub mod model;
pub mod progress;
pub mod reference;
pub mod schema;
pub mod sql;
pub mod store;

pub use model::{ApiVersion, Warehouse};
pub use store::fair::TenantFair;
pub use store::postgres::{PostgresDialect, PostgresStore};
pub use store::routed::RoutedStore;
pub use store::sqlite::{SqliteDialect, SqliteStore};
pub use store::{Loader, Store, StoreError, Tenant, TenantUpdate, Transaction};
