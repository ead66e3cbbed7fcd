//! Temporal expressions (OData Temporal ABNF `temporalExpr`): the argument of `$at`, `$from`,
//! `$to` and `$toInclusive`.

use super::{parse_filter, parse_literal, Expr, Literal, SyntaxError};
use crate::value::Value;

/// A point in application time as a request writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum TemporalExpr {
    /// `min`: the earliest point the service allows.
    Min,
    /// `max`: the latest point the service allows.
    Max,
    /// A date (`2026-03-01`).
    Date(time::Date),
    /// A timestamp (`2026-03-01T10:00:00Z`), with the offset written.
    DateTime(time::OffsetDateTime),
    /// Another expression, which the grammar allows when it evaluates to a date or a timestamp
    /// (`@start`); whether it does is for the binder.
    Expr(Box<Expr>),
}

/// Parses a temporal expression: `min`, `max`, a date or a timestamp literal, or another
/// common expression. Text that starts as a date but is none (`2026-13-01`) is an error at the
/// part that is wrong.
pub fn parse_temporal(text: &str) -> Result<TemporalExpr, SyntaxError> {
    match text {
        "min" => return Ok(TemporalExpr::Min),
        "max" => return Ok(TemporalExpr::Max),
        _ => {}
    }
    match parse_literal(text) {
        Ok(Literal::Value(Value::Date(d))) => Ok(TemporalExpr::Date(d)),
        Ok(Literal::Value(Value::DateTimeOffset(t))) => Ok(TemporalExpr::DateTime(t)),
        Err(e) if looks_like_a_date(text) => Err(e),
        _ => parse_filter(text).map(|e| TemporalExpr::Expr(Box::new(e))),
    }
}

/// Whether `text` starts as a date does (`dddd-`), so that its error is the date's.
fn looks_like_a_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() > 4 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
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
        assert!(matches!(
            parse_temporal("@start").unwrap(),
            TemporalExpr::Expr(_)
        ));
        assert!(matches!(
            parse_temporal("'2026-03-01'").unwrap(),
            TemporalExpr::Expr(_)
        ));
        for (bad, at) in [("2026-13-01", 5), ("2026-03-01x", 10), ("", 0), ("1 eq", 2)] {
            let e = parse_temporal(bad).unwrap_err();
            assert_eq!(e.offset, at, "{bad}: {e:?}");
        }
    }
}
