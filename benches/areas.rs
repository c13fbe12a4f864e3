//! Validating one imported polygon at the most vertices an import may hold (50,000): our
//! sweep-line validation (`lagesbild::domain::rings::validate`, what `POST /api/v1/areas` runs)
//! against geo's `Validation`, which it replaced, in the same run.
//!
//! ```sh
//! cargo bench --bench areas
//! AREAS_BENCH_GEO=0 cargo bench --bench areas   # ours only; geo's takes about half a minute a shape
//! ```
//!
//! Two shapes: an ellipse, like a real boundary made of short segments; and a star whose
//! 25,000 points reach from half the radius to the full radius, so that every segment is a
//! long spoke whose bounding box meets those of thousands of neighbours (the worst case of the
//! R-tree of segment boxes that came before the sweep line) and the sweep line crosses thousands
//! of segments at once.

use geo::{Coord, LineString, MultiPolygon, Polygon, Validation};
use lagesbild::db::queries::areas::OUTLINE_TOLERANCE;
use lagesbild::domain::rings::validate;
use lagesbild::domain::simplify::simplify;
use std::time::Instant;

const VERTICES: usize = 50_000;

fn shape(radius: impl Fn(usize) -> f64) -> MultiPolygon<f64> {
    let mut coords: Vec<Coord<f64>> = (0..VERTICES)
        .map(|i| {
            let angle = i as f64 / VERTICES as f64 * std::f64::consts::TAU;
            Coord { x: 18.0 + radius(i) * angle.cos(), y: 59.0 + 0.5 * radius(i) * angle.sin() }
        })
        .collect();
    coords.push(coords[0]);
    MultiPolygon::new(vec![Polygon::new(LineString::from(coords), vec![])])
}

fn main() {
    let runs: usize = std::env::var("AREAS_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let with_geo = std::env::var("AREAS_BENCH_GEO").map_or(true, |v| v != "0");
    println!("# areas bench: validating one polygon of {VERTICES} vertices\n");
    println!("| shape | ours p50 ms | ours max ms ({runs} runs) | geo Validation ms (1 run) | outline ms (1 run) |");
    println!("|---|---|---|---|---|");
    let shapes =
        [("ellipse", shape(|_| 0.1)), ("star, points from 0.5 r to r", shape(|i| if i % 2 == 0 { 0.1 } else { 0.05 }))];
    for (name, geometry) in &shapes {
        let mut times: Vec<f64> = (0..runs)
            .map(|_| {
                let started = Instant::now();
                assert_eq!(validate(geometry), Ok(()));
                started.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let geo = if with_geo {
            let started = Instant::now();
            assert!(geometry.is_valid());
            format!("{:.0}", started.elapsed().as_secs_f64() * 1000.0)
        } else {
            "–".to_owned()
        };
        // The import also simplifies each area into an outline for phones.
        let started = Instant::now();
        let outline = simplify(geometry, OUTLINE_TOLERANCE);
        let outline_ms = started.elapsed().as_secs_f64() * 1000.0;
        assert!(!outline.0.is_empty());
        println!(
            "| {name} | {:.1} | {:.1} | {geo} | {outline_ms:.0} |",
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
}
