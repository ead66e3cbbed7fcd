//! What a run is asked to do: the day, the tenant, retention and the bounds on a snapshot; and
//! the days it refuses as mistyped.

use crate::error::IngestError;
use crate::read::files::SnapshotLimits;
use std::collections::BTreeMap;

/// How long a fact collection keeps its days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Days older than this many days before the snapshot are purged after each publish.
    Days(u32),
    /// Nothing is purged.
    Forever,
}

impl Retention {
    /// Reads `365` or `forever`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "forever" => Ok(Self::Forever),
            t => t
                .parse()
                .map(Self::Days)
                .map_err(|_| format!("'{t}' is neither a number of days nor 'forever'")),
        }
    }
}

/// Checks per-collection retentions: each must name a daily fact collection of the model.
pub fn check_retention(retention: &BTreeMap<String, Retention>) -> Result<(), String> {
    for name in retention.keys() {
        match warehouse::model::Warehouse::get().collection(name) {
            Some(c) if c.has_date_key() => {}
            Some(_) => {
                return Err(format!(
                    "retention: '{name}' has no days to keep (it is not a daily fact collection)"
                ))
            }
            None => {
                return Err(format!(
                    "retention: '{name}' is not a collection of the model"
                ))
            }
        }
    }
    Ok(())
}

/// What to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Tenant to write.
    pub tenant: String,
    /// Day of the snapshot.
    pub date: time::Date,
    /// Allow a day older than the newest published one.
    pub backfill: bool,
    /// Allow a day after tomorrow (UTC) or before [`EARLIEST_DAY`] ([`check_day`]).
    pub any_day: bool,
    /// When the warehouse writes the rows (`rowLastModifiedDateTimeUTC`), in microseconds.
    pub now_micros: i64,
    /// Retention per fact collection, over the model's defaults.
    pub retention: BTreeMap<String, Retention>,
    /// Bounds on the snapshot's files and on how much of the tenant it may delete.
    pub limits: SnapshotLimits,
}

/// The earliest snapshot day taken without [`IngestOptions::any_day`].
pub const EARLIEST_DAY: time::Date = time::macros::date!(2000 - 01 - 01);

/// Refuses a snapshot day after tomorrow (UTC, from `now_micros`) or before [`EARLIEST_DAY`]: a
/// mistyped year (2062 for 2026) would be published as the newest day, retention would then
/// purge the real history as older than it keeps, and every correct day after it would be
/// refused as older.
pub fn check_day(day: time::Date, now_micros: i64) -> Result<(), IngestError> {
    let today = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_micros) * 1000)
        .map_or(EARLIEST_DAY, |now| now.date());
    let tomorrow = today.next_day().unwrap_or(today);
    if day > tomorrow || day < EARLIEST_DAY {
        return Err(IngestError::run(format!(
            "the snapshot day {day} is {}; a day after tomorrow (UTC) or before {EARLIEST_DAY} \
             is most likely mistyped, and publishing it would purge the history retention \
             counts back from it; use --allow-any-day to ingest it anyway",
            if day > tomorrow {
                "in the future"
            } else {
                "too early"
            }
        )));
    }
    Ok(())
}
