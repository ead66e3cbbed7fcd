//! The temporal query options (OData Temporal `$at`, `$from`, `$to`, `$toInclusive`) bound into
//! the period of application time a read covers ([`Temporal`]), against how the set keeps its
//! history ([`Catalog::temporal`]).

use super::Catalog;
use crate::syntax::{self, TemporalExpr};
use crate::ODataError;

/// The application time a temporal request reads, as a closed-open period of instants in
/// microseconds since the Unix epoch. A date names its day's instants (`$from=2026-03-01` starts
/// at its midnight, `$to` ends before it, `$toInclusive` ends after that day); `$at` with a date
/// names the state the day ended with (its last instant), as a daily snapshot records it. Daily
/// facts read the days the period touches (in UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Temporal {
    /// `$at=max`: the latest day published (which only the store knows).
    Latest,
    /// The instants from `start` to before `end` (none: no end).
    Period {
        /// The first instant.
        start: i64,
        /// The first instant after the period.
        end: Option<i64>,
        /// Whether `$at` named it (a point in time) rather than `$from`.
        point: bool,
    },
}

impl Temporal {
    /// The option the request named it with, for errors.
    pub fn option(&self) -> &'static str {
        match self {
            Temporal::Period { point: false, .. } => "$from",
            _ => "$at",
        }
    }
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Microseconds since the Unix epoch of the midnight (UTC) that starts `day`.
fn midnight(day: time::Date) -> i64 {
    (day.midnight().assume_utc().unix_timestamp_nanos() / 1000) as i64
}

/// Microseconds since the Unix epoch of `t`.
fn micros(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1000) as i64
}

/// A point in time a temporal option names.
enum Point {
    /// `min`: before every instant.
    Min,
    /// `max`.
    Max,
    /// A date.
    Day(time::Date),
    /// A timestamp.
    Instant(time::OffsetDateTime),
}

impl Point {
    /// Where a period starting at this point starts (a day: its midnight).
    fn start(&self) -> i64 {
        match self {
            Point::Day(d) => midnight(*d),
            Point::Instant(t) => micros(*t),
            Point::Min => i64::MIN,
            Point::Max => i64::MAX,
        }
    }

    /// Where a period ending with this point (`inclusive`) or before it ends (a day: after it
    /// or at its midnight).
    fn end(&self, inclusive: bool) -> i64 {
        match (self, inclusive) {
            (Point::Day(d), false) => midnight(*d),
            (Point::Day(d), true) => midnight(*d) + MICROS_PER_DAY,
            (Point::Instant(t), false) => micros(*t),
            (Point::Instant(t), true) => micros(*t) + 1,
            (Point::Min, _) => i64::MIN,
            (Point::Max, _) => i64::MAX,
        }
    }
}

/// A temporal option's value: a date, a timestamp, `max` (a point: `$at` only) or `min` (the
/// start of a period: not `$at`).
fn temporal_value<'o>(
    get: &dyn Fn(&str) -> Option<&'o str>,
    name: &str,
    point: bool,
) -> Result<Option<Point>, ODataError> {
    let Some(text) = get(name) else {
        return Ok(None);
    };
    let shown = if name == "$toinclusive" {
        "$toInclusive"
    } else {
        name
    };
    match syntax::parse_temporal(text).map_err(|e| e.into_odata(shown))? {
        TemporalExpr::Min if point => Err(ODataError::not_implemented(
            "$at=min (the state before every instant) is not served; $from=min reads every \
             state there is, $at a day within the history kept reads that day.",
        )
        .with_target(shown)),
        TemporalExpr::Min => Ok(Some(Point::Min)),
        TemporalExpr::Max if !point => Err(ODataError::bad_request(
            "max is a point for $at only; a period without $to or $toInclusive reads up to the \
             latest day.",
        )
        .with_target(shown)),
        TemporalExpr::Expr(_) => Err(ODataError::bad_request(format!(
            "{shown} takes a date (2026-03-01), a date-time (2026-03-01T00:00:00Z) or max."
        ))
        .with_target(shown)),
        TemporalExpr::Max => Ok(Some(Point::Max)),
        TemporalExpr::Date(d) => Ok(Some(Point::Day(d))),
        TemporalExpr::DateTime(t) => Ok(Some(Point::Instant(t))),
    }
}

/// `$at`, or `$from` with `$to` or `$toInclusive` (or neither), as `get` gives their values
/// (`$toinclusive` in lower case), on a set that keeps its history; the combinations the Temporal extension does not allow are a 400 naming the option.
pub fn bind_temporal<'o>(
    get: &dyn Fn(&str) -> Option<&'o str>,
    set: &str,
    catalog: &dyn Catalog,
) -> Result<Option<Temporal>, ODataError> {
    let at = temporal_value(get, "$at", true)?;
    let from = temporal_value(get, "$from", false)?;
    let to = temporal_value(get, "$to", false)?;
    let to_inclusive = temporal_value(get, "$toinclusive", false)?;
    let to_given = get("$to").is_some();
    let temporal = match (at, from, to, to_inclusive) {
        (None, None, None, None) => return Ok(None),
        (Some(_), Some(_), _, _) | (Some(_), _, Some(_), _) | (Some(_), _, _, Some(_)) => {
            return Err(ODataError::bad_request(
                "$at reads one point in time and cannot be combined with $from, $to or \
                 $toInclusive, which read a period.",
            )
            .with_target("$at"))
        }
        (None, _, Some(_), Some(_)) => {
            return Err(ODataError::bad_request(
                "$to (the period ends before it) and $toInclusive (the period ends with it) \
                 cannot both be given.",
            )
            .with_target("$toInclusive"))
        }
        (None, None, Some(_), None) | (None, None, None, Some(_)) => {
            let shown = if to_given { "$to" } else { "$toInclusive" };
            return Err(ODataError::bad_request(format!(
                "{shown} ends a period that $from starts: give $from too."
            ))
            .with_target(shown));
        }
        (Some(Point::Max), ..) => Temporal::Latest,
        (Some(at), ..) => {
            // a day: the state it ended with
            let end = at.end(true);
            Temporal::Period {
                start: end - 1,
                end: Some(end),
                point: true,
            }
        }
        (None, Some(from), to, to_inclusive) => {
            let start = from.start();
            let end = match (to, to_inclusive) {
                (Some(to), _) => Some(to.end(false)),
                (_, Some(to)) => Some(to.end(true)),
                _ => None,
            };
            if end.is_some_and(|end| end <= start) {
                let shown = if to_given { "$to" } else { "$toInclusive" };
                return Err(ODataError::bad_request(format!(
                    "The period ends ({shown}) before it starts ($from): it holds no instant."
                ))
                .with_target(shown));
            }
            Temporal::Period {
                start,
                end,
                point: false,
            }
        }
    };
    let Some(support) = catalog.temporal(set) else {
        return Err(ODataError::bad_request(format!(
            "{set} does not keep its history, so it cannot be read as of a point or over a \
             period of time ({}).",
            temporal.option()
        ))
        .with_target(temporal.option()));
    };
    if let (Temporal::Period { point: false, .. }, false) = (temporal, support.is_timeline()) {
        return Err(ODataError::bad_request(format!(
            "{set} is read as it was at the end of a day ($at=2026-03-01), not over a period: \
             its states over a period are its daily history's rows."
        ))
        .with_target("$from"));
    }
    Ok(Some(temporal))
}
