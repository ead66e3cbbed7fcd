//! Power BI incremental refresh (`deploy/powerbi/incremental-refresh.pq`): the requests its
//! partitions send, replayed, return every row exactly once across adjacent partitions.

use super::*;
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime};

/// Every row of the partitions `urls` (following next links), counted by `key`: each key must
/// appear once.
fn partitions(urls: &[String], key: impl Fn(&Value) -> String) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for url in urls {
        for row in all_rows(url, &[]).0 {
            let k = key(&row);
            assert!(seen.insert(k.clone()), "{k} is in two partitions ({url})");
        }
    }
    seen
}

#[test]
fn fact_partitions_by_day_hold_each_row_once() {
    let key = |r: &Value| format!("{}/{}", r["dateKey"], r["deviceKey"]);
    let every: BTreeSet<String> = all_rows("/devicePropertyHistories?api-version=v1.0", &[])
        .0
        .iter()
        .map(key)
        .collect();
    let date_key = |d: Date| d.year() * 10_000 + d.month() as i32 * 100 + i32::from(d.day());
    let filter = |from: Date, to: Date| {
        format!(
            "/devicePropertyHistories?api-version=v1.0&$filter={}",
            enc(&format!(
                "dateKey ge {} and dateKey lt {}",
                date_key(from),
                date_key(to)
            ))
        )
    };
    // a partition a day (RangeStart..RangeEnd a day apart), over more than the days kept
    let first = time::macros::date!(2026 - 09 - 28);
    let days: Vec<String> = (0..40)
        .map(|n| first + time::Duration::days(n))
        .map(|d| filter(d, d.next_day().unwrap()))
        .collect();
    assert_eq!(partitions(&days, key), every);
    // a partition a month, as Power BI archives
    let months = [
        filter(
            time::macros::date!(2026 - 09 - 01),
            time::macros::date!(2026 - 10 - 01),
        ),
        filter(
            time::macros::date!(2026 - 10 - 01),
            time::macros::date!(2026 - 11 - 01),
        ),
        filter(
            time::macros::date!(2026 - 11 - 01),
            time::macros::date!(2026 - 12 - 01),
        ),
    ];
    assert_eq!(partitions(&months, key), every);
}

#[test]
fn dimension_partitions_by_last_change_hold_each_row_once() {
    let key = |r: &Value| r["deviceKey"].to_string();
    let (rows, _) = all_rows("/devices?api-version=v1.0", &[]);
    let every: BTreeSet<String> = rows.iter().map(key).collect();
    let modified: Vec<OffsetDateTime> = rows
        .iter()
        .map(|r| {
            OffsetDateTime::parse(r["rowLastModifiedDateTimeUTC"].as_str().unwrap(), &Rfc3339)
                .unwrap()
        })
        .collect();
    let oldest = modified.iter().min().unwrap().date();
    let newest = modified.iter().max().unwrap().date();
    // month partitions from the oldest change to the newest, bounds written as Power Query
    // writes a DateTimeZone (UTC as Z, or as +00:00)
    let month_start = |d: Date| Date::from_calendar_date(d.year(), d.month(), 1).unwrap();
    let next_month = |d: Date| match d.month() {
        Month::December => Date::from_calendar_date(d.year() + 1, Month::January, 1).unwrap(),
        m => Date::from_calendar_date(d.year(), m.next(), 1).unwrap(),
    };
    let mut urls = Vec::new();
    let mut start = month_start(oldest);
    while start <= newest {
        let end = next_month(start);
        let offset = if urls.len() % 2 == 0 { "Z" } else { "+00:00" };
        urls.push(format!(
            "/devices?api-version=v1.0&$filter={}",
            enc(&format!(
                "rowLastModifiedDateTimeUTC ge {start}T00:00:00{offset} and \
                 rowLastModifiedDateTimeUTC lt {end}T00:00:00{offset}"
            ))
        ));
        start = end;
    }
    assert!(urls.len() > 1, "{urls:?}");
    assert_eq!(partitions(&urls, key), every);
}
