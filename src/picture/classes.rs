//! The heat map's colour classes: up to five, each holding about as many hexagons (quantiles of
//! the counts), so that a hexagon with 772 records never looks like one with 1 however skewed
//! the counts are. The dashboard and the printed report colour by the same classes.

use serde::Serialize;

/// The colours of the classes, lightest to darkest: yellow to dark red, readable on the
/// dashboard's dark map and on paper.
pub const COLOURS: [&str; 5] = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];

/// One class: the counts from `min` to `max`, both included, and its colour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Class {
    pub min: u32,
    pub max: u32,
    pub colour: &'static str,
}

/// The classes of these counts (zeros and order ignored): one per distinct count when there are
/// five or fewer, else the quintiles, widened so that equal counts share a class. Every positive
/// count falls in exactly one class; the classes ascend without gaps between the counts.
pub fn classes(counts: &[u32]) -> Vec<Class> {
    let mut values: Vec<u32> = counts.iter().copied().filter(|n| *n > 0).collect();
    values.sort_unstable();
    let mut distinct = values.clone();
    distinct.dedup();
    let uppers: Vec<u32> = if distinct.len() <= COLOURS.len() {
        distinct
    } else {
        let n = values.len();
        let mut uppers: Vec<u32> = (1..=COLOURS.len()).map(|i| values[(n * i).div_ceil(COLOURS.len()) - 1]).collect();
        uppers.dedup();
        uppers
    };
    // Spread fewer classes over the ramp, keeping its two ends.
    let colour = |i: usize| {
        let steps = uppers.len().saturating_sub(1).max(1);
        COLOURS[(i * (COLOURS.len() - 1) + steps / 2) / steps]
    };
    let mut min = values.first().copied().unwrap_or(1);
    uppers
        .iter()
        .enumerate()
        .map(|(i, &max)| {
            let class = Class { min, max, colour: if uppers.len() == 1 { COLOURS[2] } else { colour(i) } };
            min = max + 1;
            class
        })
        .collect()
}

/// The index of the class `count` falls in, if any.
pub fn class_of(classes: &[Class], count: u32) -> Option<usize> {
    classes.iter().position(|class| (class.min..=class.max).contains(&count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_skewed_map_is_spread_over_the_classes() {
        // 95 hexagons with 1–3 records and a few busy ones.
        let mut counts: Vec<u32> = (0..95).map(|i| 1 + i % 3).collect();
        counts.extend([40, 120, 300, 772, 9]);
        let found = classes(&counts);
        assert!(found.len() >= 3, "{found:?}");
        assert_ne!(class_of(&found, 1), class_of(&found, 772), "772 does not look like 1");
        assert_eq!(found.last().map(|c| c.max), Some(772));
        assert_eq!(found.last().map(|c| c.colour), Some(COLOURS[4]));
        assert_eq!(found.first().map(|c| (c.min, c.colour)), Some((1, COLOURS[0])));
    }

    #[test]
    fn few_distinct_counts_get_a_class_each() {
        let found = classes(&[1, 1, 2, 5]);
        assert_eq!(found.iter().map(|c| (c.min, c.max)).collect::<Vec<_>>(), vec![(1, 1), (2, 2), (3, 5)]);
        assert_eq!((found[0].colour, found[2].colour), (COLOURS[0], COLOURS[4]));
        assert!(classes(&[]).is_empty());
        assert_eq!(classes(&[4, 4]).len(), 1);
    }

    proptest! {
        #[test]
        fn every_count_is_in_exactly_one_ascending_class(counts in proptest::collection::vec(0u32..100_000, 0..400)) {
            let found = classes(&counts);
            prop_assert!(found.len() <= COLOURS.len());
            for pair in found.windows(2) {
                prop_assert!(pair[0].min <= pair[0].max && pair[0].max < pair[1].min);
                prop_assert!(pair[0].colour != pair[1].colour);
            }
            for &count in counts.iter().filter(|n| **n > 0) {
                prop_assert_eq!(found.iter().filter(|c| (c.min..=c.max).contains(&count)).count(), 1);
            }
        }
    }
}
