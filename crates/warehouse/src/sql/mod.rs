//! SQL generation: a request becomes a SQL tree ([`tree`]) of one parameterized statement,
//! which its [`Dialect`] renders in one place ([`Render`]).
//!
//! Identifiers come only from the model; every value from the client is a bound parameter.

mod aggregate;
pub mod changes;
pub mod counts;
mod dialect;
pub mod dml;
mod entities;
mod expansion;
mod exprs;
mod joins;
mod keyset;
mod plan;
mod query;
mod read;
mod render;
mod rows;
pub mod tree;
pub mod validity;
mod value;

pub use dialect::{Dialect, JSON_CHUNK};
pub use plan::{build, plan};
pub use query::{
    sql_value, Changed, CollectionQuery, Cursor, Expansion, KeysetPosition, Plan, PlannedQuery,
    Related, StatementTooLarge, Statements, MAX_STATEMENT_BYTES, TENANTS_TABLE,
    TENANT_COLUMN as TENANT_COLUMN_NAME,
};
pub use read::{fact_days, min_date_key, plan_read, Reading};
pub use render::Render;
pub use value::SqlValue;
