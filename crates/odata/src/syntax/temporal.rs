//! Temporal expressions (OData Temporal ABNF `temporalExpr`): the argument of `$at`, `$from`,
//! `$to` and `$toInclusive`.

use super::{parse_literal, Literal, SyntaxError};
use crate::value::Value;

/// A point in application time as a request writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemporalExpr {
    /// `min`: the earliest point the service allows.
    Min,
    /// `max`: the latest point the service allows.
    Max,
    /// A date (`2026-03-01`).
    Date(time::Date),
    /// A timestamp (`2026-03-01T10:00:00Z`), with the offset written.
    DateTime(time::OffsetDateTime),
}

/// Parses a temporal expression: `min`, `max`, a date or a timestamp literal. Other expressions
/// the grammar allows (functions evaluating to a date) are refused at their start.
pub fn parse_temporal(text: &str) -> Result<TemporalExpr, SyntaxError> {
    match text {
        "min" => return Ok(TemporalExpr::Min),
        "max" => return Ok(TemporalExpr::Max),
        _ => {}
    }
    match parse_literal(text)? {
        Literal::Value(Value::Date(d)) => Ok(TemporalExpr::Date(d)),
        Literal::Value(Value::DateTimeOffset(t)) => Ok(TemporalExpr::DateTime(t)),
        _ => Err(SyntaxError::new(
            0,
            "expected a date (2026-03-01), a date-time (2026-03-01T00:00:00Z), min or max",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_timestamps_and_the_bounds_are_read() {
        assert_eq!(parse_temporal("min").unwrap(), TemporalExpr::Min);
        assert_eq!(parse_temporal("max").unwrap(), TemporalExpr::Max);
        assert_eq!(
            parse_temporal("2026-03-01").unwrap(),
            TemporalExpr::Date(time::macros::date!(2026 - 03 - 01))
        );
        assert!(matches!(
            parse_temporal("2026-03-01T10:00:00+02:00").unwrap(),
            TemporalExpr::DateTime(_)
        ));
        for (bad, at) in [
            ("2026-13-01", 5),
            ("'2026-03-01'", 0),
            ("2026-03-01x", 10),
            ("", 0),
        ] {
            let e = parse_temporal(bad).unwrap_err();
            assert_eq!(e.offset, at, "{bad}: {e:?}");
        }
    }
}
