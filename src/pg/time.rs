//! Postgres' epoch (2000-01-01) against the Unix epoch (1970-01-01). Pure
//! arithmetic, no pgrx: dates are days and timestamps microseconds from
//! 2000-01-01 in Postgres, from 1970-01-01 in Arrow, Iceberg and most
//! formats outside Postgres.

/// Days from 1970-01-01 to 2000-01-01.
pub const PG_EPOCH_OFFSET_DAYS: i32 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
pub const PG_EPOCH_OFFSET_MICROS: i64 = PG_EPOCH_OFFSET_DAYS as i64 * 86_400_000_000;
/// Milliseconds from 1970-01-01 to 2000-01-01.
pub const PG_EPOCH_OFFSET_MILLIS: i64 = PG_EPOCH_OFFSET_MICROS / 1000;

/// A Postgres date (days since 2000) as days since 1970; None for
/// -infinity/infinity (DATEVAL_NOBEGIN / NOEND) and on overflow.
pub fn pg_date_to_unix_days(days: i32) -> Option<i32> {
    if days == i32::MIN || days == i32::MAX {
        return None;
    }
    days.checked_add(PG_EPOCH_OFFSET_DAYS)
}

/// Days since 1970 as a Postgres date (days since 2000).
pub fn unix_days_to_pg_date(days: i32) -> i32 {
    days - PG_EPOCH_OFFSET_DAYS
}

/// A Postgres timestamp (microseconds since 2000) as microseconds since
/// 1970; None for -infinity/infinity and when it does not fit.
pub fn pg_micros_to_unix_micros(micros: i64) -> Option<i64> {
    if micros == i64::MIN || micros == i64::MAX {
        return None;
    }
    micros.checked_add(PG_EPOCH_OFFSET_MICROS)
}

/// Microseconds since 1970 as a Postgres timestamp.
pub fn unix_micros_to_pg_micros(micros: i64) -> i64 {
    micros - PG_EPOCH_OFFSET_MICROS
}

/// Milliseconds since 1970 as a Postgres timestamp (microseconds since 2000).
pub fn unix_millis_to_pg_micros(millis: i64) -> i64 {
    millis * 1000 - PG_EPOCH_OFFSET_MICROS
}

/// A Postgres timestamp as milliseconds since 1970, rounded towards zero
/// as integer division does (callers that need flooring say so).
pub fn pg_micros_to_unix_millis_trunc(micros: i64) -> i64 {
    micros / 1000 + PG_EPOCH_OFFSET_MILLIS
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};

    #[test]
    fn offsets_agree_with_the_calendar() {
        // chrono is the independent oracle for the calendar arithmetic.
        let unix = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let pg = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
        assert_eq!((pg - unix).num_days(), PG_EPOCH_OFFSET_DAYS as i64);
        assert_eq!(Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap().timestamp_micros(), PG_EPOCH_OFFSET_MICROS);
        assert_eq!(PG_EPOCH_OFFSET_MILLIS, 946_684_800_000);
    }

    #[test]
    fn dates_and_timestamps_round_trip() {
        assert_eq!(pg_date_to_unix_days(0), Some(10_957));
        assert_eq!(unix_days_to_pg_date(10_957), 0);
        assert_eq!(pg_date_to_unix_days(i32::MIN), None);
        assert_eq!(pg_date_to_unix_days(i32::MAX), None);
        assert_eq!(pg_date_to_unix_days(i32::MAX - 1), None);
        assert_eq!(pg_micros_to_unix_micros(0), Some(PG_EPOCH_OFFSET_MICROS));
        assert_eq!(pg_micros_to_unix_micros(i64::MAX), None);
        assert_eq!(pg_micros_to_unix_micros(i64::MAX - 1), None);
        assert_eq!(unix_micros_to_pg_micros(PG_EPOCH_OFFSET_MICROS), 0);
        assert_eq!(unix_millis_to_pg_micros(0), -PG_EPOCH_OFFSET_MICROS);
        assert_eq!(pg_micros_to_unix_millis_trunc(800_000_000_000_000), 800_000_000_000 + 946_684_800_000);
    }
}
