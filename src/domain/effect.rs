//! A measure's effect, honestly: the targeted categories in its areas before and after its
//! start, against comparison areas over the same two windows, as a difference-in-differences on
//! the rate-ratio scale with a 95 % interval from the Poisson model (api-spec/effect-method.md).
//!
//! With counts `t0`, `t1` (the measure's areas before and after) and `c0`, `c1` (the comparison
//! areas), the Poisson model `log E[y] = area + period + effect·(measure's areas × after)` has the
//! closed-form estimate `exp(effect) = (t1/t0) / (c1/c0)`, the ratio of the two rate ratios, and
//! the Wald standard error of `effect` is `sqrt(1/t0 + 1/t1 + 1/c0 + 1/c1)`. With any count
//! below [`MIN_COUNT`] the answer is "too few to tell", never a percentage.

use serde::Serialize;

/// The smallest count in each of the four cells for an estimate to be given.
pub const MIN_COUNT: u64 = 5;

/// The normal quantile of a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// The four counts of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub measure_before: u64,
    pub measure_after: u64,
    pub comparison_before: u64,
    pub comparison_after: u64,
}

/// What the counts say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Some count is below [`MIN_COUNT`].
    TooFewToTell,
    /// The whole interval lies below no change.
    Decrease,
    /// The whole interval lies above no change.
    Increase,
    /// The interval holds no change.
    NoClearChange,
}

impl Verdict {
    /// The verdict as the API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::TooFewToTell => "too_few_to_tell",
            Verdict::Decrease => "decrease",
            Verdict::Increase => "increase",
            Verdict::NoClearChange => "no_clear_change",
        }
    }
}

/// The estimate: the ratio of rate ratios with its interval, and the same as a change in per cent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effect {
    pub counts: Counts,
    pub verdict: Verdict,
    /// `None` when too few to tell.
    pub rate_ratio: Option<f64>,
    pub rate_ratio_interval: Option<[f64; 2]>,
    /// `(rate_ratio - 1) · 100`, rounded to a whole per cent.
    pub change_percent: Option<f64>,
    pub change_percent_interval: Option<[f64; 2]>,
}

fn round(value: f64, places: i32) -> f64 {
    let scale = 10_f64.powi(places);
    (value * scale).round() / scale
}

/// The difference-in-differences estimate of `counts`.
pub fn estimate(counts: Counts) -> Effect {
    let Counts { measure_before: t0, measure_after: t1, comparison_before: c0, comparison_after: c1 } = counts;
    if [t0, t1, c0, c1].iter().any(|n| *n < MIN_COUNT) {
        return Effect {
            counts,
            verdict: Verdict::TooFewToTell,
            rate_ratio: None,
            rate_ratio_interval: None,
            change_percent: None,
            change_percent_interval: None,
        };
    }
    let [t0, t1, c0, c1] = [t0, t1, c0, c1].map(|n| n as f64);
    let log_ratio = (t1 / t0).ln() - (c1 / c0).ln();
    let standard_error = (1.0 / t0 + 1.0 / t1 + 1.0 / c0 + 1.0 / c1).sqrt();
    let (low, high) = ((log_ratio - Z95 * standard_error).exp(), (log_ratio + Z95 * standard_error).exp());
    let verdict = if high < 1.0 {
        Verdict::Decrease
    } else if low > 1.0 {
        Verdict::Increase
    } else {
        Verdict::NoClearChange
    };
    let percent = |ratio: f64| round((ratio - 1.0) * 100.0, 0);
    Effect {
        counts,
        verdict,
        rate_ratio: Some(round(log_ratio.exp(), 3)),
        rate_ratio_interval: Some([round(low, 3), round(high, 3)]),
        change_percent: Some(percent(log_ratio.exp())),
        change_percent_interval: Some([percent(low), percent(high)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(t0: u64, t1: u64, c0: u64, c1: u64) -> Counts {
        Counts { measure_before: t0, measure_after: t1, comparison_before: c0, comparison_after: c1 }
    }

    #[test]
    fn a_halving_where_the_comparison_stays_is_a_decrease_with_the_hand_computed_interval() {
        // RR = (20/40)/(100/100) = 0.5; SE = sqrt(1/40 + 1/20 + 1/100 + 1/100) = sqrt(0.095)
        // = 0.308221; exp(ln 0.5 ± 1.959964 · 0.308221) = [0.27330, 0.91475].
        let effect = estimate(counts(40, 20, 100, 100));
        assert_eq!(effect.verdict, Verdict::Decrease);
        assert_eq!(effect.rate_ratio, Some(0.5));
        assert_eq!(effect.rate_ratio_interval, Some([0.273, 0.915]));
        assert_eq!((effect.change_percent, effect.change_percent_interval), (Some(-50.0), Some([-73.0, -9.0])));
    }

    #[test]
    fn a_fall_that_the_comparison_areas_share_is_no_effect() {
        // Both halve: RR = 1, SE = sqrt(4 · 1/50 … ) → the interval holds 1.
        let effect = estimate(counts(100, 50, 200, 100));
        assert_eq!((effect.verdict, effect.rate_ratio), (Verdict::NoClearChange, Some(1.0)));
    }

    #[test]
    fn a_rise_is_an_increase() {
        // RR = (60/30)/(50/50) = 2; SE = sqrt(1/30 + 1/60 + 2/50) = 0.3; exp(ln 2 ± 0.587989)
        // = [1.11089, 3.60073].
        let effect = estimate(counts(30, 60, 50, 50));
        assert_eq!(effect.verdict, Verdict::Increase);
        assert_eq!(effect.rate_ratio_interval, Some([1.111, 3.601]));
    }

    #[test]
    fn any_count_below_five_is_too_few_to_tell_and_gives_no_percentage() {
        for small in [counts(4, 20, 100, 100), counts(40, 0, 100, 100), counts(40, 20, 3, 100), counts(40, 20, 100, 4)]
        {
            let effect = estimate(small);
            assert_eq!(effect.verdict, Verdict::TooFewToTell);
            assert_eq!((effect.rate_ratio, effect.change_percent), (None, None));
        }
    }
}
