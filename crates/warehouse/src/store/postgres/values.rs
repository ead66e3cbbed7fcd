//! Values between the store and the driver: parameters typed as their placeholders cast them,
//! and rows read as the store interface's cells.

use crate::sql::SqlValue;
use postgres::types::{ToSql, Type};
use row::{Cell, Row};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time from microseconds since the Unix epoch.
pub(super) fn timestamp(micros: i64) -> SystemTime {
    // the earliest instant PostgreSQL holds (4714-11-24 BC): earlier ones, such as the start of
    // a period from `min`, would wrap around when counted from its epoch (2000)
    const EARLIEST: i64 = -210_866_803_200_000_000;
    let micros = micros.max(EARLIEST);
    if micros >= 0 {
        UNIX_EPOCH + Duration::from_micros(micros as u64)
    } else {
        UNIX_EPOCH - Duration::from_micros(micros.unsigned_abs())
    }
}

/// Microseconds since the Unix epoch of a point in time.
pub(super) fn micros(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_micros() as i64,
        Err(e) => -(e.duration().as_micros() as i64),
    }
}

/// Parameters as the driver wants them.
pub(super) enum Param {
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
    Time(SystemTime),
    Null(Option<String>),
}

impl Param {
    /// The driver's form of `v`.
    pub(super) fn from(v: &SqlValue) -> Self {
        match v {
            SqlValue::Null => Param::Null(None),
            SqlValue::Integer(i) => Param::Int(*i),
            SqlValue::Real(f) => Param::Real(*f),
            SqlValue::Text(s) | SqlValue::Date(s) | SqlValue::Time(s) => Param::Text(s.clone()),
            SqlValue::Boolean(b) => Param::Bool(*b),
            SqlValue::Timestamp(t) => Param::Time(timestamp(*t)),
        }
    }

    /// The value with the type its placeholder casts it to ([`PostgresDialect`] writes
    /// `$1::bigint`, `$2::text`, ...), so a statement is parsed, bound and run in one round
    /// trip without being prepared first; a null's type is left to the server (`unknown`).
    pub(super) fn typed(&self) -> (&(dyn ToSql + Sync), Type) {
        let ty = match self {
            Param::Int(_) => Type::INT8,
            Param::Real(_) => Type::FLOAT8,
            Param::Text(_) => Type::TEXT,
            Param::Bool(_) => Type::BOOL,
            Param::Time(_) => Type::TIMESTAMPTZ,
            Param::Null(_) => Type::UNKNOWN,
        };
        (self.as_sql(), ty)
    }

    pub(super) fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Int(v) => v,
            Param::Real(v) => v,
            Param::Text(v) => v,
            Param::Bool(v) => v,
            Param::Time(v) => v,
            Param::Null(v) => v,
        }
    }
}

/// One row, with the few values that need formatting (dates, times) prepared once.
pub(super) struct PgRow<'a> {
    row: &'a postgres::Row,
    formatted: Vec<Option<String>>,
}

impl<'a> PgRow<'a> {
    /// Wraps a row; `formats` says whether any column is a DATE or TIME (known once per
    /// statement), so rows without them allocate nothing.
    pub(super) fn new(row: &'a postgres::Row, formats: bool) -> Self {
        if !formats {
            return Self {
                row,
                formatted: Vec::new(),
            };
        }
        let formatted = row
            .columns()
            .iter()
            .enumerate()
            .map(|(i, c)| match *c.type_() {
                Type::DATE => row
                    .get::<_, Option<time::Date>>(i)
                    .map(|d| format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())),
                Type::TIME => row
                    .get::<_, Option<time::Time>>(i)
                    .map(|t| format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())),
                _ => None,
            })
            .collect();
        Self { row, formatted }
    }
}

impl Row for PgRow<'_> {
    fn cell(&self, i: usize) -> Cell<'_> {
        let r = self.row;
        let ty = r.columns()[i].type_();
        let cell = match *ty {
            Type::INT2 => r.get::<_, Option<i16>>(i).map(|v| Cell::Integer(v.into())),
            Type::INT4 => r.get::<_, Option<i32>>(i).map(|v| Cell::Integer(v.into())),
            Type::INT8 => r.get::<_, Option<i64>>(i).map(Cell::Integer),
            Type::FLOAT4 => r.get::<_, Option<f32>>(i).map(|v| Cell::Real(v.into())),
            Type::FLOAT8 => r.get::<_, Option<f64>>(i).map(Cell::Real),
            Type::BOOL => r.get::<_, Option<bool>>(i).map(|v| Cell::Integer(v.into())),
            Type::TIMESTAMPTZ | Type::TIMESTAMP => r
                .get::<_, Option<SystemTime>>(i)
                .map(|t| Cell::Integer(micros(t))),
            Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
                r.get::<_, Option<&str>>(i).map(Cell::Text)
            }
            Type::DATE | Type::TIME => self.formatted[i].as_deref().map(Cell::Text),
            _ => None,
        };
        cell.unwrap_or(Cell::Null)
    }
}
