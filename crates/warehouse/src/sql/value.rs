//! Parameter values.

/// A bound parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// NULL
    Null,
    /// An integer.
    Integer(i64),
    /// Floating-point.
    Real(f64),
    /// Text.
    Text(String),
    /// A Boolean.
    Boolean(bool),
    /// A point in time, in microseconds since the Unix epoch (UTC).
    Timestamp(i64),
    /// A calendar date, `YYYY-MM-DD`.
    Date(String),
    /// A time of day, `HH:MM:SS[.ffffff]`.
    Time(String),
}

impl From<row::Cell<'_>> for SqlValue {
    /// A cell read back from a row (a sort key where the next statement continues), as a
    /// parameter.
    fn from(cell: row::Cell<'_>) -> Self {
        use row::Cell;
        match cell {
            Cell::Null => SqlValue::Null,
            Cell::Integer(i) => SqlValue::Integer(i),
            Cell::Real(f) => SqlValue::Real(f),
            Cell::Text(s) => SqlValue::Text(s.to_string()),
        }
    }
}

impl SqlValue {
    /// Whether this is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, SqlValue::Null)
    }
}
