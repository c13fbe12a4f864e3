//! The picture's aggregates over an in-memory index of N observations (default 1,000,000; set
//! `PICTURE_BENCH_ROWS`, e.g. 10000000), against a plain scan of the same rows in the same run,
//! measured by criterion.
//!
//! ```sh
//! cargo bench --bench picture                               # 1,000,000 observations
//! PICTURE_BENCH_ROWS=10000000 cargo bench --bench picture   # 10,000,000
//! cargo bench --bench picture -- "area table"               # one query (criterion's filter)
//! ```
//!
//! The rows are synthetic but shaped like the real ones: 24 months, 50 areas (2 levels), 13
//! categories, evening peaks, positions over Tyresö with their resolution-12 cells. They go into
//! the index through the same path as the server's records (by id, in random time order, so every
//! day's rows arrive late). Criterion reports each query's mean and median; the targets are p95,
//! so the bench also times every run itself and prints p50, p95 and max over the runs after
//! criterion's warm-up (`PICTURE_BENCH_SECONDS` of measurement per query, default 5).

#[path = "common/timed.rs"]
mod timed;

use chrono_tz::Europe::Stockholm;
use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use lagesbild::domain::reference::DEFAULT_CATEGORIES;
use lagesbild::picture::disclosure::Published;
use lagesbild::picture::index::{DARK, LIVE, NONE, Obs, OrgIndex};
use lagesbild::picture::query::{self, Filter};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const WARM_UP: Duration = Duration::from_secs(1);

fn main() {
    let rows: usize = std::env::var("PICTURE_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let seconds: u64 = std::env::var("PICTURE_BENCH_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let started = Instant::now();
    let (index, parents) = build(rows);
    let per_row = |bytes: usize| bytes as f64 / rows as f64;
    println!(
        "{rows} observations built in {:.1} s; rows {:.1} MiB ({:.1} bytes per observation), id map {:.1} MiB \
         ({:.1} bytes per observation)",
        started.elapsed().as_secs_f64(),
        index.observations.row_bytes() as f64 / 1_048_576.0,
        per_row(index.observations.row_bytes()),
        index.observations.id_map_bytes() as f64 / 1_048_576.0,
        per_row(index.observations.id_map_bytes()),
    );
    let now = chrono::Utc::now().timestamp_millis();
    let tertial = lagesbild::domain::period::Period::parse("p", "2026-T2").expect("a period");
    let (from, to) = tertial.bounds_ms(Stockholm);
    let year = Filter { from_ms: now - 365 * 86_400_000, to_ms: now, ..Filter::default() };
    let filtered = Filter {
        from_ms: from,
        to_ms: to,
        categories: vec!["vandalism".into(), "youth_gathering".into()],
        hours: Some((18, 24)),
        after_dark: Some(true),
        ..Filter::default()
    };
    let area = index.areas.find("A07").unwrap_or(0);
    let one_area = Filter { from_ms: from, to_ms: to, areas: vec![area], ..Filter::default() };
    let shifted = |b: (i64, i64)| Filter { from_ms: b.0, to_ms: b.1, ..Filter::default() };
    let periods = [
        shifted((from, to)),
        shifted(tertial.previous().bounds_ms(Stockholm)),
        shifted(tertial.a_year_earlier().bounds_ms(Stockholm)),
    ];

    let mut criterion = Criterion::default()
        .warm_up_time(WARM_UP)
        .measurement_time(Duration::from_secs(seconds))
        .sample_size(10)
        .configure_from_args();
    let mut group = criterion.benchmark_group(format!("picture {rows}"));
    let mut table = Vec::new();
    table.extend(measure(&mut group, "baseline: plain scan of every row (sum of severities)", || {
        index.observations.all().flatten().map(|o| u64::from(o.severity)).sum::<u64>() as usize
    }));
    table.extend(measure(&mut group, "heat map, resolution 9, last 12 months", || {
        query::heatmap(&index, &year, h3o::Resolution::Nine).cells.len()
    }));
    table.extend(measure(&mut group, "heat map, resolution 7, a tertial, 2 categories, 18-24, after dark", || {
        query::heatmap(&index, &filtered, h3o::Resolution::Seven).cells.len()
    }));
    table.extend(measure(&mut group, "area table: a tertial, the one before and the year before", || {
        periods.iter().map(|period| query::area_figures(&index, period, &parents).len()).sum()
    }));
    // The same table for a partner, by the disclosure rule: the published cells of each of the
    // three tertials, then every area's sums of them.
    let visible: std::collections::HashSet<u16> = (0..u16::try_from(index.areas.len()).unwrap_or(u16::MAX)).collect();
    let codes: Vec<u16> = visible.iter().copied().collect();
    table.extend(measure(
        &mut group,
        "area table for a partner: published cells of three tertials, summed per area",
        || {
            [tertial, tertial.previous(), tertial.a_year_earlier()]
                .iter()
                .map(|period| {
                    let published = Published::of(&index, *period, &visible, 3);
                    codes.iter().map(|code| published.sum(&[*code], &[]).observations as usize).sum::<usize>()
                })
                .sum()
        },
    ));
    table.extend(measure(&mut group, "one area's detail (histogram, hour of week, months)", || {
        query::area_detail(&index, &one_area).by_month.len()
    }));
    group.finish();

    println!("\n{rows} observations: every timed run after the warm-up\n");
    println!("| query | runs | p50 ms | p95 ms | max ms |");
    println!("|---|---|---|---|---|");
    for (name, mut times) in table {
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
        println!("| {name} | {} | {:.2} | {:.2} | {:.2} |", times.len(), at(0.5), at(0.95), at(1.0));
    }
}

/// Runs the query under criterion; its name and the time of each of its runs after the warm-up
/// in ms (none when criterion's filter skips it).
fn measure(
    group: &mut BenchmarkGroup<WallTime>,
    name: &str,
    work: impl FnMut() -> usize,
) -> Option<(String, Vec<f64>)> {
    let times = timed::measure(group, name, WARM_UP, work);
    (!times.is_empty()).then(|| (name.to_owned(), times))
}

/// A deterministic synthetic organisation.
fn build(rows: usize) -> (OrgIndex, HashMap<u16, u16>) {
    let mut index = OrgIndex::empty("bench", Stockholm);
    let categories: Vec<u16> = DEFAULT_CATEGORIES.iter().map(|(slug, _, _)| index.categories.code(slug)).collect();
    let mut parents = HashMap::new();
    let districts: Vec<u16> = (0..5).map(|d| index.areas.code(&format!("D{d}"))).collect();
    let areas: Vec<u16> = (0..45)
        .map(|a| {
            let code = index.areas.code(&format!("A{a:02}"));
            parents.insert(code, districts[a % 5]);
            code
        })
        .collect();
    let units: Vec<u16> = (0..6).map(|u| index.units.code(&format!("unit-{u}"))).collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |modulo: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % modulo
    };
    let now = chrono::Utc::now().timestamp_millis();
    for id in 0..rows {
        // Evenings are busier: half of the records fall between 18 and 24.
        let day = next(730) as i64;
        let minute = if next(2) == 0 { 18 * 60 + next(360) as i64 } else { next(1440) as i64 };
        let at_ms = now - day * 86_400_000 - (now % 86_400_000) + minute * 60_000;
        let (lat, lon) = (59.20 + next(8000) as f64 / 100_000.0, 18.18 + next(20_000) as f64 / 100_000.0);
        let cell = h3o::LatLng::new(lat, lon).map(|ll| u64::from(ll.to_cell(h3o::Resolution::Twelve))).unwrap_or(0);
        let area = if next(20) == 0 { NONE } else { areas[next(45) as usize] };
        let dark = if lagesbild::domain::sun::is_dark(lat, lon, at_ms, false) { DARK } else { 0 };
        let obs = Obs {
            at_ms,
            cell,
            category: categories[next(13) as usize],
            unit: units[next(6) as usize],
            area,
            severity: 1 + next(5) as u8,
            safety: 1 + next(5) as u8,
            hour_of_week: index.hour_of_week(at_ms),
            flags: LIVE | dark,
        };
        index.observations.put(id as u128, obs);
    }
    index.observations.settle();
    (index, parents)
}
