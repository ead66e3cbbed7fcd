//! The row interface between a store and whatever writes its rows out (the OData JSON writer,
//! `dw export`'s CSV, ingestion reading back what it wrote): a [`Row`] gives the [`Cell`] of a
//! column, borrowed from the store's own buffer, so rows stream without being copied.
//!
//! Why a crate of its own: the store (`warehouse`) and the writer (`odata`) must not depend on
//! each other, and both speak of rows.
#![deny(missing_docs)]

/// One column value of a row, borrowed from the store's row buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// SQL NULL.
    Null,
    /// An integer (also booleans as 0/1 and date-times as microseconds since the Unix epoch).
    Integer(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(&'a str),
}

/// Access to the cells of the current row.
pub trait Row {
    /// The cell at column `index`.
    fn cell(&self, index: usize) -> Cell<'_>;
}
