//! Primitive values, shared by the syntax tree and the bound tree.

/// A primitive value: what a literal writes ([`crate::syntax::Literal::Value`]) and what a
/// bound constant holds ([`crate::bind::TypedKind::Literal`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// null
    Null,
    /// Boolean
    Boolean(bool),
    /// Any integer type
    Integer(i64),
    /// Decimal, exact text
    Decimal(String),
    /// Double (including INF and NaN)
    Double(f64),
    /// String
    String(String),
    /// Date-time (binding normalizes it to UTC)
    DateTimeOffset(time::OffsetDateTime),
    /// Date
    Date(time::Date),
    /// Time of day
    TimeOfDay(time::Time),
    /// Duration in microseconds
    Duration(i64),
    /// GUID text as written
    Guid(String),
}
