//! The weekly picture for the EST meeting: last week's observations per area against the weeks
//! before, and which areas are clearly above their baseline.
//!
//! The test, per area: the baseline rate is the mean count of the [`BASELINE_WEEKS`] weeks
//! before (with half an observation added to their total, so an area that had none is not
//! flagged for a single report); the area is flagged when last week's count `k` is at least
//! [`MIN_FLAGGED`] and the chance of `k` or more under a Poisson distribution with the baseline
//! rate is below [`ALPHA`]. With about forty areas a week, one false flag a year is to be
//! expected from chance alone.

use serde::Serialize;

/// Weeks of baseline before the week looked at.
pub const BASELINE_WEEKS: u32 = 8;
/// The one-sided significance level of a flag.
pub const ALPHA: f64 = 0.01;
/// The fewest observations in a week that can be flagged.
pub const MIN_FLAGGED: u64 = 3;

/// The chance of `k` or more events under Poisson(`rate`).
pub fn upper_tail(k: u64, rate: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if rate <= 0.0 {
        return 0.0;
    }
    // log P(X = k) = -rate + k ln rate - ln k!, then the terms from k upwards.
    let log_factorial: f64 = (2..=k).map(|i| (i as f64).ln()).sum();
    let mut term = (-rate + k as f64 * rate.ln() - log_factorial).exp();
    let mut sum = 0.0;
    let mut i = k;
    while term > 0.0 && (term > sum * 1e-15 || (i as f64) < rate) {
        sum += term;
        i += 1;
        term *= rate / i as f64;
        if i > k + 100_000 {
            break;
        }
    }
    sum.min(1.0)
}

/// What the test says about one area.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flag {
    /// Mean count per week over the baseline weeks.
    pub baseline_mean: f64,
    /// The chance of last week's count or more at the baseline rate.
    pub p_value: f64,
    pub flagged: bool,
}

/// Tests last week's count against the baseline weeks' total.
pub fn test(last_week: u64, baseline_total: u64) -> Flag {
    let rate = (baseline_total as f64 + 0.5) / f64::from(BASELINE_WEEKS);
    let p_value = upper_tail(last_week, rate);
    Flag {
        baseline_mean: (baseline_total as f64 / f64::from(BASELINE_WEEKS) * 100.0).round() / 100.0,
        p_value: (p_value * 10_000.0).round() / 10_000.0,
        flagged: last_week >= MIN_FLAGGED && p_value < ALPHA,
    }
}

/// Tests a period's count against the previous period of the same length, by the same rule: the
/// previous count (with half an observation added) is the rate; flagged when `now` is at least
/// [`MIN_FLAGGED`] and the chance of `now` or more at that rate is below [`ALPHA`]. The lägesbild
/// document flags its areas so.
pub fn period_test(now: u64, previous: u64) -> Flag {
    let p_value = upper_tail(now, previous as f64 + 0.5);
    Flag {
        baseline_mean: previous as f64,
        p_value: (p_value * 10_000.0).round() / 10_000.0,
        flagged: now >= MIN_FLAGGED && p_value < ALPHA,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_flagged_against_the_previous_one_only_when_clearly_above_it() {
        // P(X ≥ 7 | 2.5) = 1 - Σ_{i<7} e^-2.5 2.5^i / i! = 1 - 0.9858 = 0.0142: not below 0.01.
        assert!(!period_test(7, 2).flagged);
        // P(X ≥ 8 | 2.5) = 0.0042: flagged.
        assert!(period_test(8, 2).flagged);
        // Two where there were none is not enough, however unlikely.
        assert!(!period_test(2, 0).flagged);
        assert!(!period_test(30, 30).flagged);
    }

    #[test]
    fn the_poisson_upper_tail_matches_hand_computed_values() {
        // 1 - Σ_{i<7} e^-2 2^i / i! = 1 - 0.9954662 = 0.0045338; for 5: 1 - 0.9473470 = 0.0526530.
        assert!((upper_tail(7, 2.0) - 0.004_533_8).abs() < 1e-6);
        assert!((upper_tail(5, 2.0) - 0.052_653_0).abs() < 1e-6);
        assert_eq!(upper_tail(0, 3.0), 1.0);
        // A large rate: P(X ≥ 1000 | 1000) is a little over one half.
        let large = upper_tail(1000, 1000.0);
        assert!((0.5..0.52).contains(&large), "{large}");
    }

    #[test]
    fn an_area_is_flagged_only_when_clearly_above_its_baseline() {
        // 16 in 8 weeks: rate (16 + 0.5)/8 = 2.0625; 7 last week has p ≈ 0.0054.
        assert!(test(7, 16).flagged);
        assert!(!test(5, 16).flagged, "p ≈ 0.06");
        // Nothing for eight weeks, then two: below the fewest that can be flagged.
        assert!(!test(2, 0).flagged);
        assert!(test(3, 0).flagged, "three where there were none: p ≈ 0.00002");
        assert_eq!(test(7, 16).baseline_mean, 2.0);
    }
}
