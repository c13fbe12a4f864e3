//! The picture's aggregates over an in-memory index of N observations (default 1,000,000; set
//! `PICTURE_BENCH_ROWS`, e.g. 10000000), against a plain scan of the same rows in the same run.
//!
//! ```sh
//! cargo bench --bench picture                               # 1,000,000 observations
//! PICTURE_BENCH_ROWS=10000000 cargo bench --bench picture   # 10,000,000
//! ```
//!
//! The rows are synthetic but shaped like the real ones: 24 months, 50 areas (2 levels), 13
//! categories, evening peaks, positions over Tyresö with their resolution-12 cells. Each query
//! runs `PICTURE_BENCH_RUNS` times (default 40); the table gives p50, p95 and max in ms.

use chrono_tz::Europe::Stockholm;
use lagesbild::picture::index::{DARK, LIVE, NONE, Obs, OrgIndex};
use lagesbild::picture::query::{self, Filter};
use std::collections::HashMap;
use std::time::Instant;

fn main() {
    let rows: usize = std::env::var("PICTURE_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let runs: usize = std::env::var("PICTURE_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
    let started = Instant::now();
    let (index, parents) = build(rows);
    println!("# picture bench\n");
    println!(
        "{rows} observations built in {:.1} s; index memory {:.1} MiB ({:.1} bytes per observation)\n",
        started.elapsed().as_secs_f64(),
        index.memory_bytes() as f64 / 1_048_576.0,
        index.memory_bytes() as f64 / rows as f64
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
    println!("| query | p50 ms | p95 ms | max ms |");
    println!("|---|---|---|---|");
    measure("baseline: plain scan of every row (sum of severities)", runs, || {
        index.observations.iter().map(|o| u64::from(o.severity)).sum::<u64>() as usize
    });
    measure("heat map, resolution 9, last 12 months", runs, || {
        query::heatmap(&index, &year, h3o::Resolution::Nine).0.len()
    });
    measure("heat map, resolution 7, a tertial, 2 categories, 18-24, after dark", runs, || {
        query::heatmap(&index, &filtered, h3o::Resolution::Seven).0.len()
    });
    measure("area table: a tertial, the one before and the year before (as /api/v1/picture)", runs, || {
        let previous = tertial.previous().bounds_ms(Stockholm);
        let last_year = tertial.a_year_earlier().bounds_ms(Stockholm);
        let shifted = |b: (i64, i64)| Filter { from_ms: b.0, to_ms: b.1, ..Filter::default() };
        let base = Filter { from_ms: from, to_ms: to, ..Filter::default() };
        query::area_figures(&index, &base, &parents).len()
            + query::area_figures(&index, &shifted(previous), &parents).len()
            + query::area_figures(&index, &shifted(last_year), &parents).len()
    });
    measure("one area's detail (histogram, hour of week, months)", runs, || {
        query::area_detail(&index, &one_area).by_month.len()
    });
}

fn measure(name: &str, runs: usize, mut work: impl FnMut() -> usize) {
    let mut sink = work(); // warm-up
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            sink = sink.wrapping_add(work());
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!("| {name} | {:.2} | {:.2} | {:.2} |", at(0.5), at(0.95), at(1.0));
    std::hint::black_box(sink);
}

/// A deterministic synthetic organisation.
fn build(rows: usize) -> (OrgIndex, HashMap<u16, u16>) {
    let mut index = OrgIndex::empty("bench", Stockholm);
    let categories: Vec<u16> = [
        "vandalism",
        "graffiti",
        "littering",
        "fire",
        "lighting",
        "disorder",
        "youth_gathering",
        "drugs",
        "alcohol",
        "threat_violence",
        "unsafe_place",
        "positive",
        "other",
    ]
    .iter()
    .map(|c| index.categories.code(c))
    .collect();
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
    index.observations.reserve_exact(rows);
    for _ in 0..rows {
        // Evenings are busier: half of the records fall between 18 and 24.
        let day = next(730) as i64;
        let minute = if next(2) == 0 { 18 * 60 + next(360) as i64 } else { next(1440) as i64 };
        let at_ms = now - day * 86_400_000 - (now % 86_400_000) + minute * 60_000;
        let (lat, lon) = (59.20 + next(8000) as f64 / 100_000.0, 18.18 + next(20_000) as f64 / 100_000.0);
        let cell = h3o::LatLng::new(lat, lon).map(|ll| u64::from(ll.to_cell(h3o::Resolution::Twelve))).unwrap_or(0);
        let area = if next(20) == 0 { NONE } else { areas[next(45) as usize] };
        let dark = if lagesbild::domain::sun::is_dark(lat, lon, at_ms, false) { DARK } else { 0 };
        index.observations.push(Obs {
            at_ms,
            cell,
            category: categories[next(13) as usize],
            unit: units[next(6) as usize],
            area,
            severity: 1 + next(5) as u8,
            safety: 1 + next(5) as u8,
            hour_of_week: index.hour_of_week(at_ms),
            flags: LIVE | dark,
        });
    }
    (index, parents)
}
