//! The one way every answer writes an instant: RFC 3339 in UTC with milliseconds and `Z`
//! (`2026-05-04T18:30:00.000Z`), so clients parse one shape everywhere.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

/// An instant as RFC 3339, UTC, with milliseconds.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Milliseconds since the epoch as RFC 3339 (empty if out of chrono's range).
pub fn rfc3339_ms(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map(rfc3339).unwrap_or_default()
}

/// A stored UTC timestamp as RFC 3339.
pub fn rfc3339_utc(at: NaiveDateTime) -> String {
    rfc3339(at.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_instant_is_written_in_utc_with_milliseconds_and_z() {
        assert_eq!(rfc3339_ms(1_780_000_000_123), "2026-05-28T20:26:40.123Z");
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        let naive = DateTime::from_timestamp_millis(1_780_000_000_000).map(|at| at.naive_utc());
        assert_eq!(naive.map(rfc3339_utc).as_deref(), Some("2026-05-28T20:26:40.000Z"));
    }
}
