//! The picture's queries read only the days of their period: they must still count exactly the
//! records a plain scan counts, whatever order the records arrived in and however they changed.

use super::index::{Act, LIVE, NONE, Obs, OrgIndex, key};
use super::query::{self, Filter};
use crate::domain::period::Period;
use chrono::TimeZone;
use chrono_tz::Europe::Stockholm;
use std::collections::{BTreeMap, HashMap};

/// The index under test and, beside it, every record's latest version as plain data.
struct Fixture {
    index: OrgIndex,
    truth: BTreeMap<String, Obs>,
    areas: Vec<u16>,
}

impl Fixture {
    fn new() -> Self {
        let mut index = OrgIndex::empty("org", Stockholm);
        let areas = ["north", "south", "harbour"].iter().map(|a| index.areas.code(a)).collect();
        index.categories.code("vandalism");
        Self { index, truth: BTreeMap::new(), areas }
    }

    fn put(&mut self, id: &str, at_ms: i64, area: u16, severity: u8, live: bool) {
        let obs = Obs {
            at_ms,
            cell: u64::from(h3o::LatLng::new(59.24, 18.23).expect("a position").to_cell(h3o::Resolution::Twelve)),
            category: 0,
            unit: NONE,
            area,
            severity,
            safety: 3,
            hour_of_week: self.index.hour_of_week(at_ms),
            flags: if live { LIVE } else { 0 },
        };
        self.index.observations.put(key(id), obs);
        self.truth.insert(id.to_owned(), obs);
    }

    /// The plain count: every record's latest version, live, in `[from, to)`, in the areas given.
    fn expected(&self, from_ms: i64, to_ms: i64, areas: &[u16]) -> u32 {
        let count = self
            .truth
            .values()
            .filter(|o| o.flags & LIVE != 0 && (from_ms..to_ms).contains(&o.at_ms))
            .filter(|o| areas.is_empty() || areas.contains(&o.area))
            .count();
        u32::try_from(count).expect("a small count")
    }

    /// What each query of the picture counts for the range and areas: the heat map, the area
    /// table and the area detail must all agree with the plain count.
    fn assert_counts(&self, from_ms: i64, to_ms: i64, areas: &[u16]) {
        let filter = Filter { from_ms, to_ms, areas: areas.to_vec(), ..Filter::default() };
        let expected = self.expected(from_ms, to_ms, areas);
        let placed = query::heatmap(&self.index, &filter, h3o::Resolution::Seven);
        assert_eq!(
            placed.cells.iter().map(|c| c.count).sum::<u32>() + placed.without_cell,
            expected,
            "heat map {from_ms}..{to_ms}"
        );
        let figures = query::area_figures(&self.index, &filter, &HashMap::new());
        assert_eq!(figures.values().map(|f| f.observations).sum::<u32>(), expected, "area table {from_ms}..{to_ms}");
        for area in self.areas.iter().chain([&NONE]) {
            let own = self.expected(from_ms, to_ms, &[*area]) * u32::from(areas.is_empty() || areas.contains(area));
            assert_eq!(figures.get(area).map_or(0, |f| f.observations), own, "area {area} {from_ms}..{to_ms}");
        }
        let detail = query::area_detail(&self.index, &filter);
        assert_eq!(detail.severity.iter().sum::<u32>(), expected, "area detail {from_ms}..{to_ms}");
    }
}

/// A small deterministic generator (the records are data, not what varies).
fn generator(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut state = seed;
    move |modulo| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % modulo
    }
}

fn at(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text).expect("an RFC 3339 time").timestamp_millis()
}

fn bounds(period: &str) -> (i64, i64) {
    Period::parse("period", period).expect("a period").bounds_ms(Stockholm)
}

/// Every month, tertial and year from 2025 to 2027, and a few single days and odd ranges.
fn periods() -> Vec<(i64, i64)> {
    let mut periods = Vec::new();
    for year in 2025..=2027 {
        periods.push(bounds(&year.to_string()));
        for tertial in 1..=3 {
            periods.push(bounds(&format!("{year}-T{tertial}")));
        }
        for month in 1..=12 {
            periods.push(bounds(&format!("{year}-{month:02}")));
        }
    }
    for range in
        ["2026-03-29..2026-03-29", "2026-10-25..2026-10-25", "2026-03-28..2026-03-30", "2025-12-31..2026-01-01"]
    {
        periods.push(bounds(range));
    }
    periods.push((at("2026-02-03T04:05:06.007Z"), at("2026-02-09T10:00:00Z")));
    periods.push((i64::MIN, i64::MAX));
    periods
}

/// Records over 2025–2026, delivered in random order as offline phones deliver them.
fn shuffled_records(fixture: &mut Fixture, n: u64) {
    let mut next = generator(11);
    let start = at("2025-01-01T00:00:00+01:00");
    let span = at("2027-01-01T00:00:00+01:00") - start;
    for i in 0..n {
        let at_ms = start + i64::try_from(next(u64::try_from(span).expect("a positive span"))).expect("in range");
        let area = if next(5) == 0 { NONE } else { fixture.areas[usize::try_from(next(3)).expect("small")] };
        fixture.put(&format!("rec-{i}"), at_ms, area, 1 + u8::try_from(next(5)).expect("small"), true);
    }
}

#[test]
fn late_records_count_in_their_period_whatever_order_they_arrived_in() {
    let mut fixture = Fixture::new();
    shuffled_records(&mut fixture, 4_000);
    for (from, to) in periods() {
        fixture.assert_counts(from, to, &[]);
    }
    let north = fixture.areas[0];
    fixture.assert_counts(bounds("2026-T2").0, bounds("2026-T2").1, &[north]);
}

#[test]
fn changes_after_late_arrivals_land_on_the_record_they_change() {
    let mut fixture = Fixture::new();
    shuffled_records(&mut fixture, 2_000);
    let mut next = generator(23);
    let start = at("2025-01-01T00:00:00+01:00");
    for round in 0..1_500 {
        let id = format!("rec-{}", next(2_000));
        let old = fixture.truth[&id];
        let live = old.flags & LIVE != 0;
        match round % 5 {
            // A clock correction moves it by up to a month either way, or by minutes.
            0 => {
                let shift = i64::try_from(next(60 * 86_400_000)).expect("in range") - 30 * 86_400_000;
                fixture.put(&id, old.at_ms + shift, old.area, old.severity, live);
            }
            1 => fixture.put(&id, old.at_ms + 60_000, old.area, old.severity, live),
            // Deleted, or restored.
            2 => fixture.put(&id, old.at_ms, old.area, old.severity, !live),
            // Moved to another area by an area import.
            3 => {
                let area = fixture.areas[usize::try_from(next(3)).expect("small")];
                fixture.put(&id, old.at_ms, area, old.severity, live);
            }
            // Reviewed: a new severity.
            _ => fixture.put(&id, old.at_ms, old.area, 1 + u8::try_from(next(5)).expect("small"), live),
        }
        // Edge: a record placed exactly at a period's start.
        if round == 700 {
            fixture.put(&id, start, old.area, old.severity, true);
        }
    }
    for (from, to) in periods() {
        fixture.assert_counts(from, to, &[]);
    }
    let severities: u32 = fixture.truth.values().filter(|o| o.flags & LIVE != 0).map(|o| u32::from(o.severity)).sum();
    let filter = Filter { from_ms: i64::MIN, to_ms: i64::MAX, ..Filter::default() };
    let cells = query::heatmap(&fixture.index, &filter, h3o::Resolution::Seven).cells;
    assert_eq!(cells.iter().map(|c| c.score).sum::<u32>(), severities, "every row holds its latest severity");
}

#[test]
fn periods_begin_and_end_at_stockholm_midnight_across_daylight_saving_changes() {
    let mut fixture = Fixture::new();
    let north = fixture.areas[0];
    let edges = [
        // Summer time begins on 29 March 2026 (a 23-hour day), ends on 25 October (25 hours).
        "2026-03-28T23:59:59.999+01:00",
        "2026-03-29T00:00:00+01:00",
        "2026-03-29T01:59:59.999+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T23:59:59.999+02:00",
        "2026-03-30T00:00:00+02:00",
        "2026-10-24T23:59:59.999+02:00",
        "2026-10-25T00:00:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:30:00+01:00",
        "2026-10-25T23:59:59.999+01:00",
        "2026-10-26T00:00:00+01:00",
        // Month and year edges, which are UTC 22:00 or 23:00 the day before.
        "2026-03-31T23:59:59.999+02:00",
        "2026-04-01T00:00:00+02:00",
        "2026-10-31T23:59:59.999+01:00",
        "2026-11-01T00:00:00+01:00",
        "2026-12-31T23:59:59.999+01:00",
        "2027-01-01T00:00:00+01:00",
    ];
    // Arriving newest first, so that every day's rows came late.
    for (i, text) in edges.iter().enumerate().rev() {
        fixture.put(&format!("edge-{i}"), at(text), north, 3, true);
    }
    let count = |period: &str| {
        let (from, to) = bounds(period);
        fixture.assert_counts(from, to, &[]);
        fixture.expected(from, to, &[])
    };
    assert_eq!(count("2026-03-29..2026-03-29"), 4, "the 23-hour day");
    assert_eq!(count("2026-10-25..2026-10-25"), 4, "the 25-hour day, both 02:30s");
    assert_eq!(count("2026-03-28..2026-03-28"), 1);
    assert_eq!(count("2026-03"), 7);
    assert_eq!(count("2026-04"), 1);
    assert_eq!(count("2026-10"), 7);
    assert_eq!(count("2026-11"), 1);
    assert_eq!(count("2026-12"), 1);
    assert_eq!(count("2027-01"), 1);
    assert_eq!(count("2026"), 17);
    let (from, to) = bounds("2026-03-29..2026-03-29");
    assert_eq!(to - from, 23 * 3_600_000);
    let (from, to) = bounds("2026-10-25..2026-10-25");
    assert_eq!(to - from, 25 * 3_600_000);
    assert_eq!(
        Stockholm.timestamp_millis_opt(from).single().map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-10-25T00:00:00+02:00")
    );
}

/// Activities counted in `[from, to)` and their milliseconds inside it, by a plain scan: an
/// activity with a duration counts where it overlaps, a running or instant one where it starts.
fn plain_presence(activities: &BTreeMap<String, Act>, from_ms: i64, to_ms: i64) -> (u32, i64) {
    let mut counted = (0, 0);
    for act in activities.values().filter(|a| a.flags & LIVE != 0) {
        if act.end_ms == act.start_ms {
            counted.0 += u32::from((from_ms..to_ms).contains(&act.start_ms));
        } else if act.end_ms.min(to_ms) > act.start_ms.max(from_ms) {
            counted.0 += 1;
            counted.1 += act.end_ms.min(to_ms) - act.start_ms.max(from_ms);
        }
    }
    counted
}

#[test]
fn activities_count_in_every_period_they_overlap_whatever_order_they_arrived_in() {
    let mut index = OrgIndex::empty("org", Stockholm);
    let mut truth: BTreeMap<String, Act> = BTreeMap::new();
    let mut next = generator(5);
    let start = at("2025-01-01T00:00:00+01:00");
    let span = u64::try_from(at("2027-01-01T00:00:00+01:00") - start).expect("a positive span");
    let hour = 3_600_000;
    let mut put = |index: &mut OrgIndex, id: String, start_ms: i64, hours: i64, live: bool| {
        let act = Act {
            start_ms,
            end_ms: start_ms + hours * hour,
            kind: 0,
            unit: 0,
            area: NONE,
            contacts: 2,
            flags: if live { LIVE } else { 0 },
        };
        index.activities.put(key(&id), act);
        truth.insert(id, act);
    };
    for i in 0..1_500 {
        // Mostly shifts of a few hours; some still running (no duration); a few weeks-long.
        let hours = match next(10) {
            0 => 0,
            1 => i64::try_from(next(24 * 40)).expect("small"),
            _ => i64::try_from(next(12)).expect("small"),
        };
        let start_ms = start + i64::try_from(next(span)).expect("in range");
        put(&mut index, format!("act-{i}"), start_ms, hours, true);
    }
    // Ended, moved by a correction, deleted.
    for round in 0..600 {
        let i = next(1_500);
        let start_ms = start + i64::try_from(next(span)).expect("in range");
        match round % 3 {
            0 => put(&mut index, format!("act-{i}"), start_ms, 30 * 24, true),
            1 => put(&mut index, format!("act-{i}"), start_ms, 2, true),
            _ => put(&mut index, format!("act-{i}"), start_ms, 2, false),
        }
    }
    for (from, to) in periods() {
        let filter = Filter { from_ms: from, to_ms: to, ..Filter::default() };
        let figures = query::area_figures(&index, &filter, &HashMap::new());
        let served = figures.get(&NONE).map_or((0, 0), |f| (f.activities, f.activity_ms));
        assert_eq!(served, plain_presence(&truth, from, to), "{from}..{to}");
    }
}
