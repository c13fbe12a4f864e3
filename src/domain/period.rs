//! Reporting periods: tertials, quarters, months, years and date ranges, always in the
//! organisation's time zone, as half-open intervals of UTC instants.
//!
//! An activity at 23:30 on 30 April in Stockholm belongs to T1 although it is already 1 May
//! in UTC: a period starts and ends at local midnight.

use super::FieldError;
use chrono::{Datelike, Months, NaiveDate, TimeZone};
use chrono_tz::Tz;
use std::fmt;

/// The forms a period may take, for error messages.
pub const ACCEPTED_FORMS: &str = "a year (2024), a tertial (2024-T2), a quarter (2024-Q2), a month (2024-06) or a date range (2024-05-01..2024-08-31)";

/// The longest range accepted, in days.
const MAX_RANGE_DAYS: i64 = 3660;

/// What kind of period, which decides what comes before it and how it is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Year,
    Tertial(u32),
    Quarter(u32),
    Month,
    Range,
}

/// A period of local dates: `first` to `last`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub kind: Kind,
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl Period {
    /// Reads a period as a user or a URL writes it.
    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        let text = text.trim();
        let invalid =
            || FieldError::new(field, "invalid_period", format!("`{text}` is not a period: use {ACCEPTED_FORMS}"));
        if let Some((from, to)) = text.split_once("..") {
            let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok().filter(|d| in_range(d.year()));
            let (Some(first), Some(last)) = (date(from), date(to)) else { return Err(invalid()) };
            if last < first {
                return Err(FieldError::new(field, "invalid_period", "the range ends before it starts"));
            }
            if (last - first).num_days() >= MAX_RANGE_DAYS {
                return Err(FieldError::new(field, "invalid_period", "a range may span at most ten years"));
            }
            return Ok(Self { kind: Kind::Range, first, last });
        }
        let (year, rest) = match text.split_once('-') {
            Some((year, rest)) => (year, Some(rest)),
            None => (text, None),
        };
        let year: i32 = year.parse().ok().filter(|y| in_range(*y) && year.len() == 4).ok_or_else(invalid)?;
        let number = |s: &str, max: u32| s.parse::<u32>().ok().filter(|n| (1..=max).contains(n));
        let (kind, first_month, months) = match rest {
            None => (Kind::Year, 1, 12),
            Some(rest) => match rest.as_bytes().first() {
                Some(b'T' | b't') => {
                    let n = number(&rest[1..], 3).ok_or_else(invalid)?;
                    (Kind::Tertial(n), (n - 1) * 4 + 1, 4)
                }
                Some(b'Q' | b'q') => {
                    let n = number(&rest[1..], 4).ok_or_else(invalid)?;
                    (Kind::Quarter(n), (n - 1) * 3 + 1, 3)
                }
                _ if rest.len() == 2 => (Kind::Month, number(rest, 12).ok_or_else(invalid)?, 1),
                _ => return Err(invalid()),
            },
        };
        let first = NaiveDate::from_ymd_opt(year, first_month, 1).ok_or_else(invalid)?;
        let last = first.checked_add_months(Months::new(months)).and_then(|d| d.pred_opt()).ok_or_else(invalid)?;
        Ok(Self { kind, first, last })
    }

    /// The period of the same kind just before this one (for a range: as many days, ending the
    /// day before it starts).
    pub fn previous(&self) -> Self {
        match self.kind {
            Kind::Range => {
                let days = (self.last - self.first).num_days() + 1;
                let last = self.first.pred_opt().unwrap_or(self.first);
                Self { kind: Kind::Range, first: last - chrono::Duration::days(days - 1), last }
            }
            kind => {
                let months = self.months();
                let first = self.first.checked_sub_months(Months::new(months)).unwrap_or(self.first);
                let kind = match kind {
                    Kind::Tertial(n) => Kind::Tertial(if n == 1 { 3 } else { n - 1 }),
                    Kind::Quarter(n) => Kind::Quarter(if n == 1 { 4 } else { n - 1 }),
                    other => other,
                };
                Self { kind, first, last: self.first.pred_opt().unwrap_or(self.first) }
            }
        }
    }

    /// The same period one year earlier (29 February becomes the 28th).
    pub fn a_year_earlier(&self) -> Self {
        let back = |date: NaiveDate| date.checked_sub_months(Months::new(12)).unwrap_or(date);
        let last = match self.kind {
            // A month, quarter, tertial or year ends on its month's last day, also in a leap year.
            Kind::Range => back(self.last),
            _ => back(self.first)
                .checked_add_months(Months::new(self.months()))
                .and_then(|d| d.pred_opt())
                .unwrap_or(self.last),
        };
        Self { kind: self.kind, first: back(self.first), last }
    }

    /// How many calendar months a period of this kind spans (0 for a range).
    fn months(&self) -> u32 {
        match self.kind {
            Kind::Year => 12,
            Kind::Tertial(_) => 4,
            Kind::Quarter(_) => 3,
            Kind::Month => 1,
            Kind::Range => 0,
        }
    }

    /// The period as UTC milliseconds, `[start, end)`, from local midnight of the first day to
    /// local midnight after the last day in `tz`.
    pub fn bounds_ms(&self, tz: Tz) -> (i64, i64) {
        (local_midnight_ms(tz, self.first), local_midnight_ms(tz, self.last.succ_opt().unwrap_or(self.last)))
    }

    /// Whether the instant lies in the period, in `tz`.
    pub fn contains_ms(&self, tz: Tz, at_ms: i64) -> bool {
        let (start, end) = self.bounds_ms(tz);
        (start..end).contains(&at_ms)
    }

    /// The calendar months the period touches, as (year, month), in order.
    pub fn months_touched(&self) -> Vec<(i32, u32)> {
        let mut months = Vec::new();
        let mut month = NaiveDate::from_ymd_opt(self.first.year(), self.first.month(), 1).unwrap_or(self.first);
        while month <= self.last {
            months.push((month.year(), month.month()));
            match month.checked_add_months(Months::new(1)) {
                Some(next) => month = next,
                None => break,
            }
        }
        months
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let year = self.first.year();
        match self.kind {
            Kind::Year => write!(f, "{year}"),
            Kind::Tertial(n) => write!(f, "{year}-T{n}"),
            Kind::Quarter(n) => write!(f, "{year}-Q{n}"),
            Kind::Month => write!(f, "{year}-{:02}", self.first.month()),
            Kind::Range => write!(f, "{}..{}", self.first.format("%Y-%m-%d"), self.last.format("%Y-%m-%d")),
        }
    }
}

fn in_range(year: i32) -> bool {
    (2000..=2100).contains(&year)
}

/// Local midnight at the start of `date` in `tz`, as UTC milliseconds. Midnight exists on every
/// day in the zones served here (daylight-saving changes happen at night, not at midnight); if a
/// zone skips it, the first moment of the day is used.
pub fn local_midnight_ms(tz: Tz, date: NaiveDate) -> i64 {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&midnight).earliest() {
        Some(at) => at.timestamp_millis(),
        None => (1..=3)
            .find_map(|hours| tz.from_local_datetime(&(midnight + chrono::Duration::hours(hours))).earliest())
            .map_or_else(|| midnight.and_utc().timestamp_millis(), |at| at.timestamp_millis()),
    }
}

/// The same local moment a calendar year earlier in `tz`, as UTC milliseconds: the rule every
/// "same period last year" follows, for named periods and for from/to windows alike (29 February
/// goes to the 28th; a local time a daylight-saving change skipped, to the first one after it).
pub fn a_year_earlier_ms(tz: Tz, ms: i64) -> i64 {
    months_earlier_ms(tz, ms, 12)
}

/// The same local moment `months` calendar months earlier in `tz`, by the same rule.
pub fn months_earlier_ms(tz: Tz, ms: i64, months: u32) -> i64 {
    let Some(at) = chrono::DateTime::from_timestamp_millis(ms) else { return ms };
    let local = at.with_timezone(&tz).naive_local();
    let Some(earlier) = local.checked_sub_months(Months::new(months)) else { return ms };
    (0..=3)
        .find_map(|hours| tz.from_local_datetime(&(earlier + chrono::Duration::hours(hours))).earliest())
        .map_or_else(|| earlier.and_utc().timestamp_millis(), |at| at.timestamp_millis())
}

/// A window of UTC milliseconds, `[from, to)`.
pub type Window = (i64, i64);

/// What a picture's figures are compared with, and whether its own period is still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comparisons {
    /// The period has begun and not ended: its figures run to now.
    pub partial: bool,
    /// The window before (for a running period: the same stretch of the period before).
    pub previous: Window,
    /// The same window a year earlier; `None` when it would be the previous window again (a
    /// year, a rolling twelve months) or overlap the window itself (a window over a year long).
    pub last_year: Option<Window>,
}

/// The comparisons of a named period, or of a `[from, to)` window without one, at `now_ms`. A
/// running period is compared with the same stretch of the earlier ones (1 September to
/// 4 December against 1 May to 4 August), unless `whole` asks for whole periods (figures only
/// published for whole periods).
pub fn comparisons(tz: Tz, period: Option<Period>, window: Window, now_ms: i64, whole: bool) -> Comparisons {
    let (from, to) = window;
    let (partial, previous, last_year) = match period {
        Some(period) => {
            let (start, end) = period.bounds_ms(tz);
            let partial = start <= now_ms && now_ms < end;
            let previous = period.previous().bounds_ms(tz);
            let last_year = period.a_year_earlier().bounds_ms(tz);
            if partial && !whole {
                // As far into the period before: the same date for calendar periods, as many
                // days for a range.
                let to = match period.months() {
                    0 => previous.0 + (now_ms - start),
                    months => months_earlier_ms(tz, now_ms, months),
                };
                let to_date = (previous.0, to.clamp(previous.0, previous.1));
                (true, to_date, (last_year.0, a_year_earlier_ms(tz, now_ms).min(last_year.1)))
            } else {
                (partial, previous, last_year)
            }
        }
        None => (false, (from - (to - from), from), (a_year_earlier_ms(tz, from), a_year_earlier_ms(tz, to))),
    };
    const TWO_DAYS_MS: i64 = 2 * 86_400_000;
    let repeats = (last_year.0 - previous.0).abs() < TWO_DAYS_MS && (last_year.1 - previous.1).abs() < TWO_DAYS_MS;
    let overlaps = last_year.1 > from;
    Comparisons { partial, previous, last_year: (!repeats && !overlaps).then_some(last_year) }
}

/// One calendar month of a window, as far as the window (and time so far) covers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthSpan {
    pub year: i32,
    pub month: u32,
    /// The part of the month in the window, `[from, to)`.
    pub covered: Window,
    /// The window or `now` cuts the month: its figures are not a whole month's.
    pub partial: bool,
}

/// The calendar months `[from, to)` touches in `tz`, in order (at most 1200).
pub fn months_of(tz: Tz, (from, to): Window, now_ms: i64) -> Vec<MonthSpan> {
    let local = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(|at| at.with_timezone(&tz).date_naive());
    let (Some(first), Some(last)) = (local(from), local(to.saturating_sub(1))) else { return Vec::new() };
    let Some(mut month) = NaiveDate::from_ymd_opt(first.year(), first.month(), 1) else { return Vec::new() };
    let mut spans = Vec::new();
    while month <= last && spans.len() < 1200 {
        let Some(next) = month.checked_add_months(Months::new(1)) else { break };
        let (start, end) = (local_midnight_ms(tz, month), local_midnight_ms(tz, next));
        let covered = (start.max(from), end.min(to).min(now_ms.max(start)));
        spans.push(MonthSpan { year: month.year(), month: month.month(), covered, partial: covered != (start, end) });
        month = next;
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(tz: Tz, y: i32, m: u32, d: u32) -> i64 {
        local_midnight_ms(tz, NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    #[test]
    fn a_running_tertial_is_compared_with_the_same_stretch_of_the_earlier_ones() {
        let tz = chrono_tz::Europe::Stockholm;
        let t3 = Period::parse("p", "2026-T3").unwrap();
        let now = day(tz, 2026, 12, 5);
        let c = comparisons(tz, Some(t3), t3.bounds_ms(tz), now, false);
        assert!(c.partial);
        assert_eq!(c.previous, (day(tz, 2026, 5, 1), day(tz, 2026, 8, 5)));
        assert_eq!(c.last_year, Some((day(tz, 2025, 9, 1), day(tz, 2025, 12, 5))));
        let whole = comparisons(tz, Some(t3), t3.bounds_ms(tz), now, true);
        assert!(whole.partial);
        assert_eq!(whole.previous, (day(tz, 2026, 5, 1), day(tz, 2026, 9, 1)));
        let ended = comparisons(tz, Some(t3), t3.bounds_ms(tz), day(tz, 2027, 2, 1), false);
        assert_eq!((ended.partial, ended.previous), (false, (day(tz, 2026, 5, 1), day(tz, 2026, 9, 1))));
    }

    #[test]
    fn a_comparison_that_repeats_the_previous_window_or_overlaps_the_window_is_left_out() {
        let tz = chrono_tz::Europe::Stockholm;
        let now = day(tz, 2026, 12, 5);
        let twelve_months = (a_year_earlier_ms(tz, now), now);
        let rolling = comparisons(tz, None, twelve_months, now, false);
        assert_eq!((rolling.previous.1, rolling.last_year), (twelve_months.0, None));
        let year = Period::parse("p", "2025").unwrap();
        assert_eq!(comparisons(tz, Some(year), year.bounds_ms(tz), now, false).last_year, None);
        let long = (day(tz, 2025, 1, 1), now);
        assert_eq!(comparisons(tz, None, long, now, false).last_year, None);
        let month = (day(tz, 2026, 11, 1), day(tz, 2026, 12, 1));
        let c = comparisons(tz, None, month, now, false);
        assert_eq!(c.previous, (month.0 - (month.1 - month.0), month.0), "as long, just before");
        assert_eq!(c.last_year, Some((day(tz, 2025, 11, 1), day(tz, 2025, 12, 1))));
    }

    #[test]
    fn months_cut_by_the_window_or_by_now_are_partial() {
        let tz = chrono_tz::Europe::Stockholm;
        let now = day(tz, 2026, 12, 5) + 3_600_000;
        let spans = months_of(tz, (day(tz, 2025, 12, 5), now), now);
        assert_eq!(spans.len(), 13);
        assert_eq!((spans[0].year, spans[0].month, spans[0].partial), (2025, 12, true));
        assert!(spans[1..12].iter().all(|s| !s.partial));
        assert_eq!((spans[12].month, spans[12].partial, spans[12].covered), (12, true, (day(tz, 2026, 12, 1), now)));
        let t3 = Period::parse("p", "2026-T3").unwrap();
        let running = months_of(tz, t3.bounds_ms(tz), now);
        assert_eq!(running.len(), 4);
        assert!(!running[2].partial && running[3].partial, "December has begun, not ended");
    }

    #[test]
    fn a_year_earlier_is_the_calendar_s_in_local_time() {
        let tz: Tz = "Europe/Stockholm".parse().unwrap();
        let ms = |text: &str| chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis();
        // Across a leap day: 2024-03-01 local midnight → 2023-03-01 local midnight (366 days).
        assert_eq!(a_year_earlier_ms(tz, ms("2024-03-01T00:00:00+01:00")), ms("2023-03-01T00:00:00+01:00"));
        assert_eq!(a_year_earlier_ms(tz, ms("2024-02-29T12:00:00+01:00")), ms("2023-02-28T12:00:00+01:00"));
        // Summer time then and now: the same wall-clock time.
        assert_eq!(a_year_earlier_ms(tz, ms("2025-07-10T18:30:00+02:00")), ms("2024-07-10T18:30:00+02:00"));
        // A named period and its window agree.
        let period = Period::parse("period", "2024-T1").unwrap();
        let (from, to) = period.bounds_ms(tz);
        assert_eq!((a_year_earlier_ms(tz, from), a_year_earlier_ms(tz, to)), period.a_year_earlier().bounds_ms(tz));
    }
    use chrono_tz::Europe::Stockholm;
    use proptest::prelude::*;

    fn ms(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis()
    }

    #[test]
    fn every_form_reads_and_prints_back() {
        for text in ["2024", "2024-T1", "2024-T2", "2024-T3", "2024-Q4", "2024-06", "2024-05-01..2024-08-31"] {
            assert_eq!(Period::parse("period", text).unwrap().to_string(), text);
        }
        let t2 = Period::parse("period", "2024-T2").unwrap();
        assert_eq!((t2.first.to_string(), t2.last.to_string()), ("2024-05-01".into(), "2024-08-31".into()));
    }

    #[test]
    fn invalid_periods_name_the_accepted_forms() {
        for text in [
            "",
            "24",
            "2024-T4",
            "2024-Q0",
            "2024-13",
            "2024-6",
            "2024-T",
            "1999",
            "2024-02-30..2024-03-01",
            "2024-05-01..2024-04-01",
            "x..y",
        ] {
            let error = Period::parse("period", text).unwrap_err();
            assert_eq!((error.field.as_str(), error.code.as_str()), ("period", "invalid_period"), "{text}");
        }
        assert!(Period::parse("period", "2024-T9").unwrap_err().message.contains("2024-T2"));
    }

    #[test]
    fn periods_start_and_end_at_local_midnight() {
        let t1 = Period::parse("p", "2024-T1").unwrap();
        // 1 January, winter time (UTC+1); 1 May, summer time (UTC+2).
        assert_eq!(t1.bounds_ms(Stockholm), (ms("2023-12-31T23:00:00Z"), ms("2024-04-30T22:00:00Z")));
        // 23:30 on 30 April local is 21:30 UTC: still T1. 00:30 on 1 May local is T2.
        assert!(t1.contains_ms(Stockholm, ms("2024-04-30T21:30:00Z")));
        assert!(!t1.contains_ms(Stockholm, ms("2024-04-30T22:30:00Z")));
        let t2 = Period::parse("p", "2024-T2").unwrap();
        assert!(t2.contains_ms(Stockholm, ms("2024-04-30T22:30:00Z")));
    }

    #[test]
    fn daylight_saving_days_have_their_true_length() {
        // 31 March 2024 has 23 hours in Stockholm, 27 October 2024 has 25.
        let spring = Period::parse("p", "2024-03-31..2024-03-31").unwrap().bounds_ms(Stockholm);
        assert_eq!(spring.1 - spring.0, 23 * 3_600_000);
        let autumn = Period::parse("p", "2024-10-27..2024-10-27").unwrap().bounds_ms(Stockholm);
        assert_eq!(autumn.1 - autumn.0, 25 * 3_600_000);
        // 02:30 local on 31 March does not exist; 02:30 UTC+1 is 03:30 CEST, inside the day.
        assert!(Period::parse("p", "2024-03").unwrap().contains_ms(Stockholm, ms("2024-03-31T01:30:00Z")));
        // The October month ends at local midnight (UTC+1) after the change.
        assert_eq!(Period::parse("p", "2024-10").unwrap().bounds_ms(Stockholm).1, ms("2024-10-31T23:00:00Z"));
    }

    #[test]
    fn previous_and_last_year() {
        let p = |t: &str| Period::parse("p", t).unwrap();
        assert_eq!(p("2024-T1").previous().to_string(), "2023-T3");
        assert_eq!(p("2024-T2").previous().to_string(), "2024-T1");
        assert_eq!(p("2024-Q1").previous().to_string(), "2023-Q4");
        assert_eq!(p("2024-03").previous().to_string(), "2024-02");
        assert_eq!(p("2024").previous().to_string(), "2023");
        assert_eq!(p("2024-05-01..2024-05-10").previous().to_string(), "2024-04-21..2024-04-30");
        assert_eq!(p("2024-T2").a_year_earlier().to_string(), "2023-T2");
        assert_eq!(p("2024-02").a_year_earlier().last.to_string(), "2023-02-28");
        assert_eq!(p("2023-02").a_year_earlier().a_year_earlier().to_string(), "2021-02");
        assert_eq!(p("2025-02").a_year_earlier().last.to_string(), "2024-02-29");
        assert_eq!(p("2024-02-29..2024-03-01").a_year_earlier().to_string(), "2023-02-28..2023-03-01");
        assert_eq!(p("2024-T2").months_touched(), [(2024, 5), (2024, 6), (2024, 7), (2024, 8)]);
    }

    proptest! {
        #[test]
        fn consecutive_periods_tile_time(year in 2001i32..2099, kind in 0u8..4, n in 1u32..13) {
            let text = match kind {
                0 => format!("{year}"),
                1 => format!("{year}-T{}", (n - 1) % 3 + 1),
                2 => format!("{year}-Q{}", (n - 1) % 4 + 1),
                _ => format!("{year}-{n:02}"),
            };
            let period = Period::parse("p", &text).unwrap();
            let previous = period.previous();
            // The previous period ends exactly where this one starts, with no gap or overlap.
            prop_assert_eq!(previous.bounds_ms(Stockholm).1, period.bounds_ms(Stockholm).0);
            prop_assert_eq!(previous.kind == period.kind || matches!(period.kind, Kind::Tertial(_) | Kind::Quarter(_)), true);
            prop_assert_eq!(Period::parse("p", &previous.to_string()).unwrap(), previous);
            let before = period.a_year_earlier();
            prop_assert_eq!(Period::parse("p", &before.to_string()).unwrap(), before);
        }

        #[test]
        fn parsing_never_panics(text in "\\PC{0,24}") {
            let _ = Period::parse("p", &text);
        }
    }
}
