//! Aggregates over an organisation's index: the heat map and the area picture.

use super::index::{Act, CIVIL_DARK, DARK, LIVE, NONE, Obs, OrgIndex};
use std::collections::{BTreeMap, HashMap};

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
}

/// One hexagon of the heat map.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatCell {
    pub cell: u64,
    pub count: u32,
    /// The sum of the observations' severities.
    pub score: u32,
}

/// Observations per cell at `resolution` (a coarser one than the stored cells'), for the filter.
/// Observations without a cell are counted in the second value.
pub fn heatmap(index: &OrgIndex, filter: &Filter, resolution: h3o::Resolution) -> (Vec<HeatCell>, u32) {
    let compiled = Compiled::new(filter, index);
    let mut cells: HashMap<u64, (u32, u32)> = HashMap::new();
    let mut without_cell = 0;
    // Consecutive records often share a fine cell: remember the last parent computed.
    let mut last: (u64, u64) = (0, 0);
    for obs in index.observations.iter().filter(|obs| compiled.admits(obs)) {
        if obs.cell == 0 {
            without_cell += 1;
            continue;
        }
        let parent = if last.0 == obs.cell {
            last.1
        } else {
            let parent = h3o::CellIndex::try_from(obs.cell)
                .ok()
                .and_then(|cell| if cell.resolution() > resolution { cell.parent(resolution) } else { Some(cell) })
                .map_or(0, u64::from);
            last = (obs.cell, parent);
            parent
        };
        if parent == 0 {
            without_cell += 1;
            continue;
        }
        let entry = cells.entry(parent).or_default();
        entry.0 += 1;
        entry.1 += u32::from(obs.severity);
    }
    let mut cells: Vec<HeatCell> =
        cells.into_iter().map(|(cell, (count, score))| HeatCell { cell, count, score }).collect();
    cells.sort_by_key(|cell| cell.cell);
    (cells, without_cell)
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
    let mut figures: HashMap<u16, AreaFigures> = HashMap::new();
    let chain = |area: u16| {
        let mut chain = vec![area];
        let mut current = area;
        while let Some(parent) = parents.get(&current).copied().filter(|p| *p != NONE && !chain.contains(p)) {
            chain.push(parent);
            current = parent;
        }
        chain
    };
    let mut chains: HashMap<u16, Vec<u16>> = HashMap::new();
    for obs in index.observations.iter().filter(|obs| compiled.admits(obs)) {
        for area in chains.entry(obs.area).or_insert_with(|| chain(obs.area)).clone() {
            let entry = figures.entry(area).or_default();
            entry.observations += 1;
            *entry.by_category.entry(obs.category).or_default() += 1;
            entry.safety_sum += u64::from(obs.safety);
            if obs.flags & compiled.dark_flag != 0 {
                entry.after_dark += 1;
            }
        }
    }
    for act in index.activities.iter().filter(|act| act.flags & LIVE != 0) {
        let Some(overlap) = overlap_ms(act, filter.from_ms, filter.to_ms) else { continue };
        for area in chains.entry(act.area).or_insert_with(|| chain(act.area)).clone() {
            let entry = figures.entry(area).or_default();
            entry.activity_ms += overlap;
            entry.activities += 1;
            entry.contacts += u64::from(act.contacts);
        }
    }
    figures
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
    for obs in index.observations.iter().filter(|obs| compiled.admits(obs)) {
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
