//! The seam between the planner and a database's SQL flavour.

use super::value::SqlValue;
use odata::bind::{AggregateMethod, ArithOp, Function};
use odata::edm::PrimitiveType;

/// Most cells of one JSON array in [`Dialect::json_row`] (PostgreSQL's functions take at most
/// 100 arguments, SQLite's 127).
pub const JSON_CHUNK: usize = 50;

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

    /// An aggregate of the rendered `value` (none for counting rows) whose result has the type
    /// the binder decided (`Edm.Int64` for counts and sums of integers, `Edm.Double` for
    /// averages of them).
    fn aggregate(
        &self,
        method: AggregateMethod,
        value: Option<&str>,
        result: PrimitiveType,
    ) -> String;

    /// A cast between primitive types.
    fn cast(&self, expr: &str, from: Option<PrimitiveType>, to: PrimitiveType) -> String;

    /// Sort direction for an `ORDER BY` item. Every store sorts null as the smallest value
    /// (first ascending, last descending), which keyset predicates rely on.
    fn order(&self, descending: bool, nullable: bool) -> &'static str;

    /// Text after `CREATE TABLE (...)` (storage options).
    fn table_options(&self) -> &'static str {
        ""
    }

    /// Column definition of an auto-assigned 64-bit primary key.
    fn auto_id(&self) -> &'static str;

    /// Statements that make `table` show only the rows of the tenant set for the current
    /// transaction, as a second wall behind the planner's tenant predicate (none if the
    /// database has no such feature).
    fn tenant_isolation(&self, _table: &str) -> Vec<String> {
        Vec::new()
    }

    /// A JSON array holding one row's cells as the store's rows hold them: integers (Booleans
    /// as 0/1, date-times as microseconds since the Unix epoch), text and null. Cells come in
    /// arrays of at most [`JSON_CHUNK`] (function argument limits), the row being the array of
    /// those arrays: `[[c0, c1, ...], [c50, ...]]`.
    fn json_row(&self, cells: &[(String, PrimitiveType)]) -> String;

    /// The JSON text of the array of `row` (a column holding [`Dialect::json_row`]) over the
    /// rows of a subquery, in `order` (rendered `ORDER BY` items); `[]` when there are none.
    fn json_rows(&self, row: &str, order: &[String]) -> String;

    /// `LIMIT`/`OFFSET` with already-rendered placeholders.
    fn limit_offset(&self, limit: Option<&str>, offset: Option<&str>) -> String;

    /// A condition an index on `column` answers, implied by `startswith(column, prefix)`:
    /// `column` from `low` (the prefix) up to `high` (the least string above every string with
    /// that prefix, when there is one), compared by code point.
    fn prefix_range(&self, column: &str, low: &str, high: Option<&str>) -> String;

    /// An index column for `column`; `prefix_searched` columns are also read by
    /// [`Dialect::prefix_range`], so their index must order by code point; a `nullable`
    /// column's index must sort null first, as [`Dialect::order`] does, so that it can also
    /// answer `$orderby` in either direction.
    fn index_column(&self, column: &str, prefix_searched: bool, nullable: bool) -> String {
        let _ = (prefix_searched, nullable);
        self.quote(column)
    }
}
