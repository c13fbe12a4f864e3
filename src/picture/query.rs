//! Aggregates over an organisation's index: the heat map and the area picture.

use super::index::{Act, CIVIL_DARK, DARK, LIVE, NONE, Obs, OrgIndex};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// A hasher for H3 cell indexes: the SplitMix64 finaliser, which spreads their varying middle
/// bits over the whole hash (coarse cells share their low bits, all ones).
#[derive(Default)]
struct CellHasher(u64);

impl Hasher for CellHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        let mut x = n ^ (n >> 30);
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^= x >> 27;
        x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
        self.0 = x ^ (x >> 31);
    }
}

type CellMap<V> = HashMap<u64, V, BuildHasherDefault<CellHasher>>;

/// The parent of an H3 cell index at a coarser resolution, by the index's bit layout: the
/// resolution field (bits 52–55) set to `resolution`, and the 3-bit digits of every finer
/// resolution set to 7 (unused). The same as h3o's `parent`, without validating each time.
fn parent_of(cell: u64, from: u8, resolution: u8) -> u64 {
    if resolution >= from {
        return cell;
    }
    let unused_digits = (1u64 << (3 * u32::from(15 - resolution))) - 1;
    (cell & !(0xF << 52)) | (u64::from(resolution) << 52) | unused_digits
}

/// Which observations count.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `[from, to)` in UTC ms.
    pub from_ms: i64,
    pub to_ms: i64,
    /// Category slugs; empty means all.
    pub categories: Vec<String>,
    pub severity_min: u8,
    /// The reporter's unit slug.
    pub unit: Option<String>,
    /// Local hours `[start, end)`, e.g. (18, 24); wraps past midnight when start > end.
    pub hours: Option<(u8, u8)>,
    /// Local weekdays, bit 0 = Monday; 0 means all.
    pub weekdays: u8,
    /// Only (true) or never (false) after dark.
    pub after_dark: Option<bool>,
    /// Dark means past civil twilight rather than past sunset.
    pub twilight: bool,
    /// Area codes (with what they contain); empty means everywhere.
    pub areas: Vec<u16>,
}

/// A filter with its names resolved to the index's codes.
struct Compiled {
    from_ms: i64,
    to_ms: i64,
    /// None: all categories; Some(codes): only those (possibly none known).
    categories: Option<Vec<u16>>,
    severity_min: u8,
    unit: Option<u16>,
    hours: [bool; 24],
    weekdays: u8,
    dark_flag: u8,
    after_dark: Option<bool>,
    areas: Option<Vec<u16>>,
}

impl Compiled {
    fn new(filter: &Filter, index: &OrgIndex) -> Self {
        let mut hours = [true; 24];
        if let Some((start, end)) = filter.hours {
            for (hour, slot) in hours.iter_mut().enumerate() {
                let hour = u8::try_from(hour).unwrap_or(0);
                *slot = if start <= end { (start..end).contains(&hour) } else { hour >= start || hour < end };
            }
        }
        Self {
            from_ms: filter.from_ms,
            to_ms: filter.to_ms,
            categories: (!filter.categories.is_empty())
                .then(|| filter.categories.iter().filter_map(|slug| index.categories.find(slug)).collect()),
            severity_min: filter.severity_min,
            unit: filter.unit.as_ref().map(|unit| index.units.find(unit).unwrap_or(NONE - 1)),
            hours,
            weekdays: if filter.weekdays == 0 { 0x7f } else { filter.weekdays },
            dark_flag: if filter.twilight { CIVIL_DARK } else { DARK },
            after_dark: filter.after_dark,
            areas: (!filter.areas.is_empty()).then(|| filter.areas.clone()),
        }
    }

    /// Whether the observation counts, leaving the period aside.
    fn admits_outside_time(&self, obs: &Obs) -> bool {
        obs.flags & LIVE != 0
            && obs.severity >= self.severity_min
            && self.categories.as_ref().is_none_or(|codes| codes.contains(&obs.category))
            && self.unit.is_none_or(|unit| unit == obs.unit)
            && self.hours[usize::from(obs.hour_of_week % 24)]
            && self.weekdays & (1 << (obs.hour_of_week / 24)) != 0
            && self.after_dark.is_none_or(|dark| (obs.flags & self.dark_flag != 0) == dark)
            && self.areas.as_ref().is_none_or(|areas| areas.contains(&obs.area))
    }

    fn admits(&self, obs: &Obs) -> bool {
        (self.from_ms..self.to_ms).contains(&obs.at_ms) && self.admits_outside_time(obs)
    }

    /// The observations that count, read from the days of the period only.
    fn observations<'a>(&'a self, index: &'a OrgIndex) -> impl Iterator<Item = &'a Obs> {
        index.observations.overlapping(self.from_ms, self.to_ms).flatten().filter(|obs| self.admits(obs))
    }
}

/// One hexagon of the heat map.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatCell {
    pub cell: u64,
    pub count: u32,
    /// The sum of the observations' severities.
    pub score: u32,
}

/// The observations of a heat map: per cell, and those it cannot place.
#[derive(Debug, Default)]
pub struct Placed {
    pub cells: Vec<HeatCell>,
    /// Observations without a position.
    pub without_cell: u32,
    /// Observations whose position retention coarsened to a hexagon larger than the map's.
    pub too_coarse: u32,
}

/// Observations per cell at `resolution` for the filter. Stored cells are finer (or, where
/// retention coarsened a position, perhaps coarser: those are counted apart).
pub fn heatmap(index: &OrgIndex, filter: &Filter, resolution: h3o::Resolution) -> Placed {
    let compiled = Compiled::new(filter, index);
    let mut cells: CellMap<(u32, u32)> = CellMap::default();
    let (mut without_cell, mut too_coarse) = (0, 0);
    let target = u8::from(resolution);
    for obs in compiled.observations(index) {
        // Stored cells are valid H3 indexes (from h3o at ingest); 0 means no position.
        if obs.cell == 0 {
            without_cell += 1;
            continue;
        }
        let from = ((obs.cell >> 52) & 0xF) as u8;
        if from < target {
            too_coarse += 1;
            continue;
        }
        let entry = cells.entry(parent_of(obs.cell, from, target)).or_default();
        entry.0 += 1;
        entry.1 += u32::from(obs.severity);
    }
    let mut cells: Vec<HeatCell> =
        cells.into_iter().map(|(cell, (count, score))| HeatCell { cell, count, score }).collect();
    cells.sort_by_key(|cell| cell.cell);
    Placed { cells, without_cell, too_coarse }
}

/// The figures of one area (or of everything outside areas) in one period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AreaFigures {
    pub observations: u32,
    pub by_category: BTreeMap<u16, u32>,
    pub safety_sum: u64,
    pub after_dark: u32,
    /// Milliseconds of activity inside the period.
    pub activity_ms: i64,
    pub activities: u32,
    pub contacts: u64,
}

impl AreaFigures {
    /// Mean perceived safety (1–5), when there were observations.
    pub fn mean_safety(&self) -> Option<f64> {
        (self.observations > 0).then(|| self.safety_sum as f64 / f64::from(self.observations))
    }

    /// Share of the observations made after dark.
    pub fn share_after_dark(&self) -> Option<f64> {
        (self.observations > 0).then(|| f64::from(self.after_dark) / f64::from(self.observations))
    }

    /// Hours of presence (activities) in the area.
    pub fn activity_hours(&self) -> f64 {
        self.activity_ms as f64 / 3_600_000.0
    }

    /// Observations per hour of presence: high where much happens and few are there.
    pub fn need_per_presence(&self) -> Option<f64> {
        let hours = self.activity_hours();
        (hours > 0.0).then(|| f64::from(self.observations) / hours)
    }
}

/// Figures per area code (`NONE` = outside every area) for the period `[from, to)`. `parents`
/// gives each area's parent, so that a record counts in its area and every area above it.
pub fn area_figures(index: &OrgIndex, filter: &Filter, parents: &HashMap<u16, u16>) -> HashMap<u16, AreaFigures> {
    let compiled = Compiled::new(filter, index);
    // Sums per area code as recorded (the smallest area), in dense arrays; slot `areas` holds
    // the records outside every area. They are rolled up into the areas above afterwards, once
    // per area rather than once per record.
    let areas = index.areas.len();
    let categories = index.categories.len().max(1);
    let slot = |area: u16| if area == NONE || usize::from(area) >= areas { areas } else { usize::from(area) };
    let mut leaf = vec![AreaFigures::default(); areas + 1];
    let mut by_category = vec![0u32; (areas + 1) * categories];
    for obs in compiled.observations(index) {
        let at = slot(obs.area);
        let entry = &mut leaf[at];
        entry.observations += 1;
        entry.safety_sum += u64::from(obs.safety);
        entry.after_dark += u32::from(obs.flags & compiled.dark_flag != 0);
        if let Some(count) = by_category.get_mut(at * categories + usize::from(obs.category)) {
            *count += 1;
        }
    }
    let activities = index.activities.overlapping(filter.from_ms, filter.to_ms).flatten();
    for act in activities.filter(|act| act.flags & LIVE != 0) {
        let Some(overlap) = overlap_ms(act, filter.from_ms, filter.to_ms) else { continue };
        let entry = &mut leaf[slot(act.area)];
        entry.activity_ms += overlap;
        entry.activities += 1;
        entry.contacts += u64::from(act.contacts);
    }
    for (at, entry) in leaf.iter_mut().enumerate() {
        for (category, count) in by_category[at * categories..(at + 1) * categories].iter().enumerate() {
            if *count > 0 {
                entry.by_category.insert(u16::try_from(category).unwrap_or(NONE), *count);
            }
        }
    }
    let mut figures: HashMap<u16, AreaFigures> = HashMap::new();
    for (at, own) in leaf.into_iter().enumerate() {
        if own == AreaFigures::default() {
            continue;
        }
        let area = if at == areas { NONE } else { u16::try_from(at).unwrap_or(NONE) };
        // The area itself and every area above it (a cycle in bad data stops the climb).
        let mut chain = vec![area];
        let mut current = area;
        while let Some(parent) = parents.get(&current).copied().filter(|p| *p != NONE && !chain.contains(p)) {
            chain.push(parent);
            current = parent;
        }
        for area in chain {
            figures.entry(area).or_default().add(&own);
        }
    }
    figures
}

impl AreaFigures {
    fn add(&mut self, other: &AreaFigures) {
        self.observations += other.observations;
        for (category, count) in &other.by_category {
            *self.by_category.entry(*category).or_default() += count;
        }
        self.safety_sum += other.safety_sum;
        self.after_dark += other.after_dark;
        self.activity_ms += other.activity_ms;
        self.activities += other.activities;
        self.contacts += other.contacts;
    }
}

/// How much of the activity lies in `[from, to)`; a running or instantaneous activity counts
/// when it starts inside.
fn overlap_ms(act: &Act, from_ms: i64, to_ms: i64) -> Option<i64> {
    if act.end_ms == act.start_ms {
        return (from_ms..to_ms).contains(&act.start_ms).then_some(0);
    }
    let overlap = act.end_ms.min(to_ms) - act.start_ms.max(from_ms);
    (overlap > 0).then_some(overlap)
}

/// The detail of one area: severity histogram, hour-of-week profile and categories by month.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AreaDetail {
    /// Observations by severity 1–5 (index 0 = severity 1).
    pub severity: [u32; 5],
    /// Observations by local weekday (Monday first) × hour.
    pub hour_of_week: Vec<u32>,
    /// Observations by local (year, month) and category.
    pub by_month: BTreeMap<(i32, u32), BTreeMap<u16, u32>>,
}

/// The detail of the observations that pass the filter (give it the area and its sub-areas).
pub fn area_detail(index: &OrgIndex, filter: &Filter) -> AreaDetail {
    let compiled = Compiled::new(filter, index);
    let mut detail = AreaDetail { hour_of_week: vec![0; 168], ..AreaDetail::default() };
    for obs in compiled.observations(index) {
        if let Some(slot) = usize::from(obs.severity).checked_sub(1).and_then(|i| detail.severity.get_mut(i)) {
            *slot += 1;
        }
        if let Some(slot) = detail.hour_of_week.get_mut(usize::from(obs.hour_of_week)) {
            *slot += 1;
        }
        *detail.by_month.entry(index.local_month(obs.at_ms)).or_default().entry(obs.category).or_default() += 1;
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parents_by_bits_equal_h3o_parents(lat in -80.0f64..80.0, lon in -180.0f64..180.0, res in 0u8..=12) {
            let cell = h3o::LatLng::new(lat, lon).unwrap().to_cell(h3o::Resolution::Twelve);
            let expected = cell.parent(h3o::Resolution::try_from(res).unwrap()).unwrap();
            prop_assert_eq!(parent_of(u64::from(cell), 12, res), u64::from(expected));
        }
    }
}
