//! The seam between the planner and a database's SQL flavour.

use super::SqlValue;
use odata::bind::{ArithOp, Function};
use odata::edm::PrimitiveType;

/// What differs between SQL databases. Only dialect modules may contain database-specific SQL.
pub trait Dialect: Send + Sync {
    /// Short name (`sqlite`, `postgres`).
    fn name(&self) -> &'static str;

    /// Quotes an identifier taken from the model.
    fn quote(&self, ident: &str) -> String {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }

    /// The placeholder for parameter number `n` (1-based) holding `value` (dialects with strict
    /// parameter typing cast it).
    fn placeholder(&self, n: usize, value: &SqlValue) -> String;

    /// Column type for a property type.
    fn column_type(&self, ty: PrimitiveType) -> &'static str;

    /// SQL for a Boolean constant.
    fn boolean(&self, value: bool) -> &'static str;

    /// Null-safe equality (`negate` for inequality): null equals null, null differs from a value.
    fn null_safe_equal(&self, a: &str, b: &str, negate: bool) -> String;

    /// Turns a possibly-null Boolean into false when null (OData's two-valued comparisons).
    fn false_when_null(&self, expr: &str) -> String;

    /// A canonical function call on rendered arguments with their types.
    fn function(&self, f: Function, args: &[(String, Option<PrimitiveType>)]) -> String;

    /// An arithmetic operation with the result type decided by the binder.
    fn arithmetic(&self, op: ArithOp, a: &str, b: &str, result: PrimitiveType) -> String;

    /// A cast between primitive types.
    fn cast(&self, expr: &str, from: Option<PrimitiveType>, to: PrimitiveType) -> String;

    /// Sort direction for an `ORDER BY` item. Every store sorts null as the smallest value
    /// (first ascending, last descending), which keyset predicates rely on.
    fn order(&self, descending: bool, nullable: bool) -> &'static str;

    /// `LIMIT`/`OFFSET` with already-rendered placeholders.
    fn limit_offset(&self, limit: Option<&str>, offset: Option<&str>) -> String;
}
