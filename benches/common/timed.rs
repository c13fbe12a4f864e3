//! Every run of a criterion benchmark, timed: criterion reports its own estimate, and the benches
//! also print percentiles (p50, p95) of the runs after the warm-up.

use criterion::{BenchmarkGroup, measurement::WallTime};
use std::time::{Duration, Instant};

/// Runs `work` under criterion, and returns the time of each of its runs after `warm_up` in ms
/// (none when criterion's filter skips it).
pub fn measure(
    group: &mut BenchmarkGroup<WallTime>,
    name: &str,
    warm_up: Duration,
    mut work: impl FnMut() -> usize,
) -> Vec<f64> {
    let mut times = Vec::new();
    let mut first_call: Option<Instant> = None;
    group.bench_function(name, |bencher| {
        bencher.iter_custom(|iters| {
            let warm = first_call.get_or_insert_with(Instant::now).elapsed() >= warm_up;
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                std::hint::black_box(work());
                let took = start.elapsed();
                total += took;
                if warm {
                    times.push(took.as_secs_f64() * 1000.0);
                }
            }
            total
        });
    });
    times
}
