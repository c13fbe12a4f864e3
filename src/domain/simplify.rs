//! Ramer–Douglas–Peucker simplification of polygon rings, as geo's `Simplify` does it (the
//! same positions kept, which the tests check) but keeping its own stack of work: geo recurses
//! once for every split, and a spiky boundary of 50,000 vertices, all of them kept, overflows a
//! thread's stack and aborts the server.

use geo::{Coord, Distance, Euclidean, Line, LineString, MultiPolygon, Polygon};

/// Fewer positions than a closed ring needs are never left, as in geo.
const RING_MIN: usize = 4;

/// Every ring of `geometry` simplified at `epsilon` (in the units of its coordinates).
pub fn simplify(geometry: &MultiPolygon<f64>, epsilon: f64) -> MultiPolygon<f64> {
    let ring = |line: &LineString<f64>| LineString::from(ring_rdp(&line.0, epsilon));
    MultiPolygon::new(
        geometry.0.iter().map(|p| Polygon::new(ring(p.exterior()), p.interiors().iter().map(ring).collect())).collect(),
    )
}

/// One ring: a stretch whose inner positions all lie within `epsilon` of the line between its
/// ends shrinks to those ends, unless that would leave the ring fewer than `RING_MIN` positions;
/// any other stretch splits at its farthest position (the last of equals). Stretches are settled
/// from the start of the ring on, as geo's recursion settles them.
fn ring_rdp(coords: &[Coord<f64>], epsilon: f64) -> Vec<Coord<f64>> {
    if epsilon <= 0.0 || coords.len() <= 2 {
        return coords.to_vec();
    }
    let mut kept = Vec::new();
    let mut remaining = coords.len();
    // Inclusive index ranges, the next to settle on top.
    let mut stretches = vec![(0, coords.len() - 1)];
    while let Some((first, last)) = stretches.pop() {
        let line = Line::new(coords[first], coords[last]);
        let mut farthest = (first, 0.0);
        for (i, &coord) in coords.iter().enumerate().take(last).skip(first + 1) {
            let distance = Euclidean.distance(coord, &line);
            if distance >= farthest.1 {
                farthest = (i, distance);
            }
        }
        if farthest.1 > epsilon {
            stretches.push((farthest.0, last));
            stretches.push((first, farthest.0));
            continue;
        }
        // Each stretch contributes all but its last position, which starts the next one.
        let culled = last - first - 1;
        if culled > 0 && remaining - culled >= RING_MIN {
            remaining -= culled;
            kept.push(coords[first]);
        } else {
            kept.extend_from_slice(&coords[first..last]);
        }
    }
    kept.push(coords[coords.len() - 1]);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Simplify;
    use proptest::prelude::*;

    fn polygon(points: &[(f64, f64)]) -> MultiPolygon<f64> {
        let mut coords: Vec<Coord<f64>> = points.iter().map(|&(x, y)| Coord { x, y }).collect();
        coords.push(coords[0]);
        MultiPolygon::new(vec![Polygon::new(LineString::from(coords), vec![])])
    }

    /// A star of `n` points alternating between radius `r` and `r / 2`.
    fn star(n: usize, r: f64) -> Vec<(f64, f64)> {
        (0..n)
            .map(|i| {
                let angle = i as f64 / n as f64 * std::f64::consts::TAU;
                let radius = if i % 2 == 0 { r } else { r / 2.0 };
                (18.0 + radius * angle.cos(), 59.0 + radius * angle.sin())
            })
            .collect()
    }

    /// Runs `work` on a thread of `stack` bytes.
    fn on_stack<T: Send + 'static>(stack: usize, work: impl FnOnce() -> T + Send + 'static) -> T {
        let thread = std::thread::Builder::new().stack_size(stack).spawn(work).expect("a thread");
        thread.join().expect("no overflow")
    }

    #[test]
    fn a_spiky_boundary_is_simplified_as_geo_does_without_deep_recursion() {
        let spiky = polygon(&star(50_000, 0.02));
        let copy = spiky.clone();
        let ours = on_stack(256 * 1024, move || simplify(&copy, 0.0001));
        // geo recurses tens of thousands of times deep here.
        let geos = on_stack(1 << 30, move || spiky.simplify(0.0001));
        assert!(ours.0[0].exterior().0.len() > 49_000, "nearly every spike is deeper than the tolerance");
        assert_eq!(ours, geos);
        // Shallow spikes go.
        let shallow = polygon(&star(2_000, 0.01).iter().map(|&(x, y)| (x, y + 0.01 * x)).collect::<Vec<_>>());
        let simple = simplify(&shallow, 0.01);
        assert!(simple.0[0].exterior().0.len() < 100, "{}", simple.0[0].exterior().0.len());
        assert_eq!(simple, shallow.simplify(0.01));
    }

    proptest! {
        #[test]
        fn the_positions_kept_are_geos(
            points in prop::collection::vec((0..=30i32, 0..=30i32), 3..=40),
            epsilon in prop_oneof![Just(0.0), 0.1..=8.0f64],
        ) {
            let geometry = polygon(&points.iter().map(|&(x, y)| (f64::from(x), f64::from(y))).collect::<Vec<_>>());
            prop_assert_eq!(simplify(&geometry, epsilon), geometry.simplify(epsilon));
        }
    }
}
