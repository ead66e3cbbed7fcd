//! SQL generation: one parameterized statement per request, for a [`Dialect`].
//!
//! Identifiers come only from the model; every value from the client is a bound parameter.

mod dialect;
mod plan;
mod sqlite;

pub use dialect::Dialect;
pub use plan::{
    plan, sql_value, CollectionQuery, Cursor, KeysetPosition, Plan, PlannedQuery,
    TENANT_COLUMN as TENANT_COLUMN_NAME,
};
pub use sqlite::SqliteDialect;

/// A bound parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// NULL
    Null,
    /// Integers, booleans (as 0/1 where the dialect says so) and timestamps (microseconds).
    Integer(i64),
    /// Floating-point.
    Real(f64),
    /// Text.
    Text(String),
}

impl SqlValue {
    /// Whether this is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, SqlValue::Null)
    }
}
