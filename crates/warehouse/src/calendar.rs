//! Days as the warehouse keys them: `dateKey` (`yyyymmdd`) and instants in microseconds since the
//! Unix epoch, UTC. Shared by the generator, ingestion and the service (`maxhistorydays`).

use time::Date;

/// Microseconds in a day.
pub const DAY_MICROS: i64 = 86_400_000_000;

/// Microseconds since the Unix epoch of midnight UTC starting `d`.
pub fn midnight_micros(d: Date) -> i64 {
    d.midnight().assume_utc().unix_timestamp() * 1_000_000
}

/// The instants of day `d` (UTC), in microseconds since the Unix epoch.
pub fn day_micros(d: Date) -> std::ops::Range<i64> {
    let start = midnight_micros(d);
    start..start + DAY_MICROS
}

/// The day (UTC) of an instant in microseconds since the Unix epoch, the calendar's first or last
/// day for instants beyond it.
pub fn date_of_micros(micros: i64) -> Date {
    const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;
    let julian = UNIX_EPOCH_JULIAN_DAY + micros.div_euclid(DAY_MICROS);
    let clamped = julian.clamp(
        i64::from(Date::MIN.to_julian_day()),
        i64::from(Date::MAX.to_julian_day()),
    );
    Date::from_julian_day(clamped as i32).unwrap_or(Date::MIN)
}

/// The `dateKey` of a date: `yyyymmdd` as an integer.
pub fn date_key(d: Date) -> i64 {
    i64::from(d.year()) * 10_000 + i64::from(d.month() as u8) * 100 + i64::from(d.day())
}

/// The date of a `dateKey`; none when `key` is not a date.
pub fn date_of_key(key: i64) -> Option<Date> {
    Date::from_calendar_date(
        i32::try_from(key / 10_000).ok()?,
        time::Month::try_from(u8::try_from(key / 100 % 100).ok()?).ok()?,
        u8::try_from(key % 100).ok()?,
    )
    .ok()
}

/// The `dateKey` `days` days before `key` (`maxhistorydays=7` on 20180221 keeps 20180214 on);
/// none when `key` is not a date.
pub fn days_before(key: i64, days: u32) -> Option<i64> {
    let d = date_of_key(key)?.checked_sub(time::Duration::days(i64::from(days)))?;
    Some(date_key(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_fall_on_their_utc_day() {
        let d = time::macros::date!(2026 - 03 - 01);
        assert_eq!(date_of_micros(midnight_micros(d)), d);
        assert_eq!(date_of_micros(midnight_micros(d) + DAY_MICROS - 1), d);
        assert_eq!(
            date_of_micros(midnight_micros(d) - 1),
            d.previous_day().unwrap()
        );
        assert_eq!(date_of_micros(i64::MAX), Date::MAX);
        assert_eq!(date_of_micros(i64::MIN), Date::MIN);
    }

    #[test]
    fn keys_and_instants() {
        let d = time::macros::date!(2018 - 02 - 21);
        assert_eq!(date_key(d), 20_180_221);
        assert_eq!(midnight_micros(d), 1_519_171_200_000_000);
        assert_eq!(day_micros(d).end - day_micros(d).start, DAY_MICROS);
        assert_eq!(days_before(20_180_221, 7), Some(20_180_214));
        assert_eq!(days_before(20_180_301, 1), Some(20_180_228));
        assert_eq!(days_before(20_181_341, 1), None);
    }
}
