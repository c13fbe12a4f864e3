//! The picture as the caller may see it, as typed values: the heat map, the area table and one
//! area's page. The API serialises them; the follow-up report reads them.

use super::disclosure::{self, Published, Sums};
use super::index::{NONE, OrgIndex};
use super::query::{self, AreaFigures, Filter};
use super::scope::{Areas, Scope};
use super::{Pictures, round3};
use crate::db::DbConnection;
use crate::db::QueryResult;
use crate::db::queries::areas as area_queries;
use crate::domain::identity::Role;
use crate::domain::period::{self, Comparisons, Period};
use crate::domain::time::rfc3339_ms;
use crate::error::{ApiError, ApiResult};
use parking_lot::RwLock;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// What every view of the picture starts from: the caller's scope, the index caught up, and
/// the areas coded in it.
pub struct Picture {
    pub scope: Scope,
    pub areas: Areas,
    index: Arc<RwLock<OrgIndex>>,
}

impl Picture {
    /// The organisation's picture as the caller (`user_id` in `role`) may see it.
    pub fn open(
        conn: &mut DbConnection,
        pictures: &Pictures,
        organisation_id: &str,
        user_id: &str,
        role: Role,
    ) -> QueryResult<Self> {
        let scope = Scope::read(conn, organisation_id, user_id, role)?;
        let index = pictures.current(conn, organisation_id)?;
        let tree = area_queries::tree(conn, organisation_id)?;
        let areas = Areas::code(&mut index.write(), &tree);
        Ok(Self { scope, areas, index })
    }

    /// The organisation's time zone.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.index.read().tz
    }

    /// The area codes a request filters on, within what the caller may see: `area` and what
    /// it contains, or everything visible.
    pub fn area_filter(&self, area: Option<&str>) -> ApiResult<Vec<u16>> {
        let visible = self.areas.visible(&self.scope);
        match area.map(str::trim).filter(|a| !a.is_empty()) {
            Some(code) => {
                let found = self.areas.find(code);
                let allowed = found.filter(|c| visible.as_ref().is_none_or(|v| v.contains(c)));
                match (found, allowed) {
                    (_, Some(code)) => Ok(self.areas.with_descendants(code)),
                    // Unknown, or not shared with a partner: the same answer, so nothing leaks.
                    _ if self.scope.partner => {
                        Err(ApiError::field("area", "unknown_area", "no such area is shared with you"))
                    }
                    _ => Ok(vec![NONE - 1]),
                }
            }
            None => Ok(visible.map(|v| v.into_iter().collect()).unwrap_or_default()),
        }
    }

    /// The filter of a whole period, over everything the caller may see.
    pub fn whole_period(&self, period: Period) -> Filter {
        let (from_ms, to_ms) = period.bounds_ms(self.tz());
        let areas = self.areas.visible(&self.scope).map(|v| v.into_iter().collect()).unwrap_or_default();
        Filter { from_ms, to_ms, areas, ..Filter::default() }
    }

    /// The heat map: hexagons of `resolution` with their counts.
    pub fn heatmap(&self, period: Option<Period>, mut filter: Filter, resolution: h3o::Resolution) -> Heatmap {
        let (scope, index) = (&self.scope, self.index.read());
        if let (true, Some(period)) = (scope.partner, period) {
            // Partners get no hexagons: they would cut the published cells another way.
            let sums = self.published_sums(&index, period, &filter, &filter.areas);
            return Heatmap {
                kind: "FeatureCollection",
                features: Vec::new(),
                resolution: u8::from(resolution),
                period: Some(period.to_string()),
                from: rfc3339_ms(filter.from_ms),
                to: rfc3339_ms(filter.to_ms),
                total: Some(sums.observations),
                without_position: None,
                coarse_positions: None,
                suppressed_cells: 0,
                suppression_k: Some(scope.k),
                classes: Vec::new(),
            };
        }
        if scope.partner && filter.areas.is_empty() {
            filter.areas = vec![NONE - 1]; // nothing shared: nothing to show
        }
        let query::Placed { cells, without_cell, too_coarse } = query::heatmap(&index, &filter, resolution);
        let max_score = cells.iter().filter(|c| !scope.hidden(c.count)).map(|c| c.score).max().unwrap_or(0);
        let shown: Vec<u32> = cells.iter().filter(|c| !scope.hidden(c.count)).map(|c| c.count).collect();
        let classes = super::classes::classes(&shown);
        let mut suppressed = 0;
        let features: Vec<CellFeature> = cells
            .iter()
            .map(|cell| {
                let hidden = scope.hidden(cell.count);
                suppressed += usize::from(hidden);
                let mut ring: Vec<[f64; 2]> = h3o::CellIndex::try_from(cell.cell)
                    .map(|c| c.boundary().iter().map(|v| [round6(v.lng()), round6(v.lat())]).collect())
                    .unwrap_or_default();
                if let Some(&first) = ring.first() {
                    ring.push(first);
                }
                CellFeature {
                    kind: "Feature",
                    geometry: CellPolygon { kind: "Polygon", coordinates: [ring] },
                    properties: CellProperties {
                        cell: format!("{:x}", cell.cell),
                        count: scope.visible(cell.count),
                        score: (!hidden).then_some(cell.score),
                        intensity: (!hidden && max_score > 0)
                            .then(|| round3(f64::from(cell.score) / f64::from(max_score))),
                        suppressed: hidden,
                        class: (!hidden).then(|| super::classes::class_of(&classes, cell.count)).flatten(),
                    },
                }
            })
            .collect();
        let total: u32 = cells.iter().map(|c| c.count).sum();
        Heatmap {
            kind: "FeatureCollection",
            features,
            resolution: u8::from(resolution),
            period: period.map(|p| p.to_string()),
            from: rfc3339_ms(filter.from_ms),
            to: rfc3339_ms(filter.to_ms),
            total: scope.visible(total + without_cell + too_coarse),
            without_position: scope.visible(without_cell),
            coarse_positions: scope.visible(too_coarse),
            suppressed_cells: suppressed,
            suppression_k: scope.partner.then_some(scope.k),
            classes,
        }
    }

    /// The area table: one row per area the caller may see, and for coordinators the records
    /// outside every area.
    pub fn area_table(&self, period: Option<Period>, filter: &Filter) -> AreaTable {
        if let (true, Some(period)) = (self.scope.partner, period) {
            return self.published_area_table(period, filter);
        }
        let (scope, areas, index) = (&self.scope, &self.areas, self.index.read());
        let visible = areas.visible(scope);
        let comparisons = compared(&index, period, filter, false);
        let [now, previous, last_year] = three_periods(&index, filter, areas, &comparisons);
        // A row per live area, and per other code that still holds records in the window (a
        // deleted area's, until the reassignment has moved them): a deleted area leaves the table.
        let mut codes: Vec<(&String, u16)> = areas
            .names
            .iter()
            .filter(|(code, _)| visible.as_ref().is_none_or(|v| v.contains(code)))
            .filter(|(code, _)| areas.display.contains_key(code) || now.contains_key(code))
            .map(|(code, name)| (name, *code))
            .collect();
        codes.sort();
        let row = |code: u16, name: Option<&str>, display: Option<&str>| {
            let get = |figures: &HashMap<u16, AreaFigures>| figures.get(&code).cloned().unwrap_or_default();
            AreaRow::new(scope, &index, name, display, [&get(&now), &get(&previous), &get(&last_year)])
        };
        let rows = codes
            .into_iter()
            .map(|(name, code)| {
                row(code, Some(name), areas.display.get(&code).map(String::as_str)).compared(&comparisons)
            })
            .collect();
        AreaTable {
            period: period.map(|p| p.to_string()),
            previous_period: period.map(|p| p.previous().to_string()),
            same_period_last_year: period.map(|p| p.a_year_earlier().to_string()),
            from: rfc3339_ms(filter.from_ms),
            to: rfc3339_ms(filter.to_ms),
            partial: comparisons.partial,
            comparisons: ComparisonWindows::from(&comparisons),
            areas: rows,
            outside_areas: (!scope.partner).then(|| row(NONE, None, None).compared(&comparisons)),
            suppression_k: scope.partner.then_some(scope.k),
        }
    }

    /// One area's row with its detail; not found when the caller may not see it. `filter`'s
    /// areas are set here to the area and what it contains.
    pub fn area(&self, code: &str, period: Option<Period>, filter: &mut Filter) -> ApiResult<AreaPicture> {
        let (scope, areas) = (&self.scope, &self.areas);
        let visible = areas.visible(scope);
        let Some(area) = areas.find(code).filter(|c| visible.as_ref().is_none_or(|v| v.contains(c))) else {
            return Err(ApiError::NotFound("no such area".into()));
        };
        filter.areas = areas.with_descendants(area);
        let index = self.index.read();
        if let (true, Some(period)) = (scope.partner, period) {
            let display = areas.display.get(&area).map(String::as_str);
            let three = self.three_published(&index, period);
            let sums = self.three_sums(&index, &three, filter, &filter.areas);
            let comparisons = compared(&index, Some(period), filter, true);
            return Ok(AreaPicture {
                row: AreaRow::published(scope, &index, Some(code), display, &sums),
                from: rfc3339_ms(filter.from_ms),
                to: rfc3339_ms(filter.to_ms),
                partial: comparisons.partial,
                comparisons: ComparisonWindows::from(&comparisons),
                severity_histogram: Vec::new(),
                hour_of_week: Vec::new(),
                by_month: Vec::new(),
                area_codes: Vec::new(),
                latest: None,
            });
        }
        let comparisons = compared(&index, period, filter, false);
        let [now, previous, last_year] = three_periods(&index, filter, areas, &comparisons);
        let get = |figures: &HashMap<u16, AreaFigures>| figures.get(&area).cloned().unwrap_or_default();
        let display = areas.display.get(&area).map(String::as_str);
        let row = AreaRow::new(scope, &index, Some(code), display, [&get(&now), &get(&previous), &get(&last_year)])
            .compared(&comparisons);
        let now_ms = chrono::Utc::now().timestamp_millis();
        let detail = query::area_detail(&index, filter);
        let by_category = |categories: &BTreeMap<u16, u32>| {
            categories
                .iter()
                .filter_map(|(c, n)| Some((index.categories.name(*c)?.to_owned(), scope.visible(*n))))
                .collect()
        };
        let months = period::months_of(index.tz, (filter.from_ms, filter.to_ms), now_ms);
        Ok(AreaPicture {
            row,
            from: rfc3339_ms(filter.from_ms),
            to: rfc3339_ms(filter.to_ms),
            partial: comparisons.partial,
            comparisons: ComparisonWindows::from(&comparisons),
            severity_histogram: detail.severity.iter().map(|n| scope.visible(*n)).collect(),
            hour_of_week: detail
                .hour_of_week
                .chunks(24)
                .map(|day| day.iter().map(|n| scope.visible(*n)).collect())
                .collect(),
            by_month: months
                .iter()
                .map(|span| MonthRow {
                    month: format!("{}-{:02}", span.year, span.month),
                    from: rfc3339_ms(span.covered.0),
                    to: rfc3339_ms(span.covered.1),
                    partial: span.partial,
                    by_category: detail.by_month.get(&(span.year, span.month)).map(by_category).unwrap_or_default(),
                })
                .collect(),
            area_codes: filter.areas.iter().filter_map(|c| index.areas.name(*c).map(str::to_owned)).collect(),
            latest: None,
        })
    }
}

impl Picture {
    /// The published cells of `period` (a tertial) in what the partner may see.
    fn published(&self, index: &OrgIndex, period: Period) -> Published {
        Published::of(index, period, &disclosure::visible(&self.areas, &self.scope), self.scope.k)
    }

    /// The sums of `published` over `areas` (as recorded, within what the partner may see), of
    /// the filter's categories.
    fn sums(&self, index: &OrgIndex, published: &Published, filter: &Filter, areas: &[u16]) -> Sums {
        let visible = disclosure::visible(&self.areas, &self.scope);
        let categories: Vec<u16> =
            filter.categories.iter().map(|slug| index.categories.find(slug).unwrap_or(NONE)).collect();
        let areas: Vec<u16> = areas.iter().copied().filter(|code| visible.contains(code)).collect();
        published.sum(&areas, &categories)
    }

    fn published_sums(&self, index: &OrgIndex, period: Period, filter: &Filter, areas: &[u16]) -> Sums {
        self.sums(index, &self.published(index, period), filter, areas)
    }

    /// The published cells of the tertial, the one before it and the same one a year earlier.
    fn three_published(&self, index: &OrgIndex, period: Period) -> [Published; 3] {
        [period, period.previous(), period.a_year_earlier()].map(|p| self.published(index, p))
    }

    /// The sums of three tertials' cells over `areas`.
    fn three_sums(&self, index: &OrgIndex, three: &[Published; 3], filter: &Filter, areas: &[u16]) -> [Sums; 3] {
        [0, 1, 2].map(|i| self.sums(index, &three[i], filter, areas))
    }

    /// A partner's published cells of `period` in `area` (with what it contains; every shared
    /// area when none), of `categories` (all when empty): (area code as recorded, category slug,
    /// observations), by area and category.
    pub fn published_cells(
        &self,
        period: Period,
        area: Option<&str>,
        categories: &[String],
    ) -> ApiResult<Vec<(String, String, u32)>> {
        let areas: HashSet<u16> = self.area_filter(area)?.into_iter().collect();
        let index = self.index.read();
        let visible = disclosure::visible(&self.areas, &self.scope);
        let published = Published::of(&index, period, &visible, self.scope.k);
        let mut cells: Vec<(String, String, u32)> = published
            .cells()
            .filter(|(area, _, _)| areas.contains(area))
            .filter_map(|(area, category, n)| {
                let slug = index.categories.name(category)?;
                let wanted = categories.is_empty() || categories.iter().any(|c| c == slug);
                wanted.then(|| Some((self.areas.names.get(&area)?.clone(), slug.to_owned(), n)))?
            })
            .collect();
        cells.sort();
        Ok(cells)
    }

    /// A partner's area table: every figure a sum of published cells.
    fn published_area_table(&self, period: Period, filter: &Filter) -> AreaTable {
        let (scope, areas, index) = (&self.scope, &self.areas, self.index.read());
        let visible = disclosure::visible(areas, scope);
        let mut codes: Vec<(&String, u16)> = areas
            .names
            .iter()
            .filter(|(code, _)| visible.contains(code) && areas.display.contains_key(code))
            .map(|(code, name)| (name, *code))
            .collect();
        codes.sort();
        let three = self.three_published(&index, period);
        let comparisons = compared(&index, Some(period), filter, true);
        let rows = codes
            .into_iter()
            .map(|(name, code)| {
                let sums = self.three_sums(&index, &three, filter, &areas.with_descendants(code));
                AreaRow::published(scope, &index, Some(name), areas.display.get(&code).map(String::as_str), &sums)
            })
            .collect();
        AreaTable {
            period: Some(period.to_string()),
            previous_period: Some(period.previous().to_string()),
            same_period_last_year: Some(period.a_year_earlier().to_string()),
            from: rfc3339_ms(filter.from_ms),
            to: rfc3339_ms(filter.to_ms),
            partial: comparisons.partial,
            comparisons: ComparisonWindows::from(&comparisons),
            areas: rows,
            outside_areas: None,
            suppression_k: Some(scope.k),
        }
    }
}

/// `GET /api/v1/heatmap`'s answer: a GeoJSON FeatureCollection of hexagons and what it covers.
/// Typed rather than built as a `serde_json::Value`: writing thousands of small features
/// straight from these structs takes a fraction of the time.
#[derive(Debug, Serialize)]
pub struct Heatmap {
    #[serde(rename = "type")]
    kind: &'static str,
    pub features: Vec<CellFeature>,
    pub resolution: u8,
    pub period: Option<String>,
    pub from: String,
    pub to: String,
    pub total: Option<u32>,
    pub without_position: Option<u32>,
    /// Observations whose position retention coarsened to hexagons larger than the map's.
    pub coarse_positions: Option<u32>,
    pub suppressed_cells: usize,
    pub suppression_k: Option<u32>,
    /// The colour classes of the hexagons' counts, ascending (see `picture::classes`).
    pub classes: Vec<super::classes::Class>,
}

/// One hexagon: its outline and figures (`count` null and the rest left out for a partner
/// below k).
#[derive(Debug, Serialize)]
pub struct CellFeature {
    #[serde(rename = "type")]
    kind: &'static str,
    pub geometry: CellPolygon,
    pub properties: CellProperties,
}

/// A hexagon's outline, closed, as GeoJSON `[lon, lat]` pairs.
#[derive(Debug, Serialize)]
pub struct CellPolygon {
    #[serde(rename = "type")]
    kind: &'static str,
    pub coordinates: [Vec<[f64; 2]>; 1],
}

/// A hexagon's figures.
#[derive(Debug, Serialize)]
pub struct CellProperties {
    pub cell: String,
    pub count: Option<u32>,
    pub score: Option<u32>,
    pub intensity: Option<f64>,
    pub suppressed: bool,
    /// The index of its colour class in the heat map's `classes`; null when suppressed.
    pub class: Option<usize>,
}

/// `GET /api/v1/picture`'s answer: one row per area.
#[derive(Debug, Serialize)]
pub struct AreaTable {
    pub period: Option<String>,
    pub previous_period: Option<String>,
    pub same_period_last_year: Option<String>,
    pub from: String,
    pub to: String,
    /// The period has begun and not ended: its figures run to now.
    pub partial: bool,
    /// The windows the changes compare with.
    pub comparisons: ComparisonWindows,
    pub areas: Vec<AreaRow>,
    pub outside_areas: Option<AreaRow>,
    pub suppression_k: Option<u32>,
}

/// One area's row of the picture, as the scope may see it (`None`: suppressed or unknown).
#[derive(Debug, Serialize)]
pub struct AreaRow {
    pub area: Option<String>,
    pub name: Option<String>,
    pub observations: Option<u32>,
    pub by_category: BTreeMap<String, Option<u32>>,
    pub previous_period: Option<u32>,
    pub change_previous_pct: Option<f64>,
    pub same_period_last_year: Option<u32>,
    pub change_last_year_pct: Option<f64>,
    pub mean_perceived_safety: Option<f64>,
    pub share_after_dark: Option<f64>,
    pub presence: Presence,
    pub need_per_presence: Option<f64>,
    /// `visited`, `unvisited` (observations, no presence), `quiet` (presence, no observations)
    /// or `no_data`.
    pub state: Option<&'static str>,
    pub suppressed: bool,
}

/// Presence in an area: activities, their hours and contacts.
#[derive(Debug, Serialize)]
pub struct Presence {
    pub activities: Option<u32>,
    pub hours: Option<f64>,
    pub contacts: Option<u64>,
}

impl AreaRow {
    fn new(
        scope: &Scope,
        index: &OrgIndex,
        code: Option<&str>,
        name: Option<&str>,
        [now, previous, last_year]: [&AreaFigures; 3],
    ) -> Self {
        let hidden = scope.hidden(now.observations);
        let comparable = |other: &AreaFigures| !hidden && !scope.hidden(other.observations);
        let change = |other: &AreaFigures| comparable(other).then(|| change(now.observations, other.observations));
        let state = match (now.observations > 0, now.activities > 0) {
            (true, true) => "visited",
            (true, false) => "unvisited",
            (false, true) => "quiet",
            (false, false) => "no_data",
        };
        let presence_hidden = scope.hidden(now.activities);
        let shown = |value: Option<f64>| if hidden { None } else { value.map(round3) };
        Self {
            area: code.map(str::to_owned),
            name: name.map(str::to_owned),
            observations: scope.visible(now.observations),
            by_category: now
                .by_category
                .iter()
                .filter_map(|(category, n)| Some((index.categories.name(*category)?.to_owned(), scope.visible(*n))))
                .collect(),
            previous_period: scope.visible(previous.observations),
            change_previous_pct: change(previous).flatten(),
            same_period_last_year: scope.visible(last_year.observations),
            change_last_year_pct: change(last_year).flatten(),
            mean_perceived_safety: shown(now.mean_safety()),
            share_after_dark: shown(now.share_after_dark()),
            presence: Presence {
                activities: scope.visible(now.activities),
                hours: (!presence_hidden).then(|| round3(now.activity_hours())),
                contacts: (!presence_hidden).then_some(now.contacts),
            },
            need_per_presence: if hidden || presence_hidden { None } else { now.need_per_presence().map(round3) },
            state: (!hidden && !presence_hidden).then_some(state),
            suppressed: hidden,
        }
    }
}

impl AreaRow {
    /// A partner's row: sums of published cells only, and nothing that cuts them another way.
    fn published(
        scope: &Scope,
        index: &OrgIndex,
        code: Option<&str>,
        name: Option<&str>,
        [now, previous, last_year]: &[Sums; 3],
    ) -> Self {
        let change = |other: &Sums| change(now.observations, other.observations);
        Self {
            area: code.map(str::to_owned),
            name: name.map(str::to_owned),
            observations: Some(now.observations),
            by_category: now
                .by_category
                .iter()
                .filter_map(|(category, n)| Some((index.categories.name(*category)?.to_owned(), Some(*n))))
                .collect(),
            previous_period: Some(previous.observations),
            change_previous_pct: change(previous),
            same_period_last_year: Some(last_year.observations),
            change_last_year_pct: change(last_year),
            mean_perceived_safety: None,
            share_after_dark: None,
            presence: Presence {
                activities: Some(now.activities),
                hours: Some(round3(now.hours)),
                contacts: Some(now.contacts),
            },
            need_per_presence: None,
            state: None,
            suppressed: now.observations == 0 && scope.partner,
        }
    }
}

/// `GET /api/v1/areas/{code}/picture`'s answer: the area's row with its detail.
#[derive(Debug, Serialize)]
pub struct AreaPicture {
    #[serde(flatten)]
    pub row: AreaRow,
    /// The window the figures cover, `[from, to)`.
    pub from: String,
    pub to: String,
    /// The period has begun and not ended: its figures run to now.
    pub partial: bool,
    /// The windows the changes compare with.
    pub comparisons: ComparisonWindows,
    /// Observations by severity 1–5.
    pub severity_histogram: Vec<Option<u32>>,
    /// Observations by local weekday (Monday first), each by hour.
    pub hour_of_week: Vec<Vec<Option<u32>>>,
    pub by_month: Vec<MonthRow>,
    /// The area and what it contains, by code (for the latest observations).
    #[serde(skip)]
    pub area_codes: Vec<String>,
    /// The newest observations, for coordinators only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest: Option<Vec<LatestObservation>>,
}

/// One month of an area's observations by category.
#[derive(Debug, Serialize)]
pub struct MonthRow {
    pub month: String,
    /// The part of the month the figures cover.
    pub from: String,
    pub to: String,
    /// The window or today cuts the month: not a whole month's figures.
    pub partial: bool,
    pub by_category: BTreeMap<String, Option<u32>>,
}

/// A window the picture compares with, `[from, to)`.
#[derive(Debug, Clone, Serialize)]
pub struct WindowView {
    pub from: String,
    pub to: String,
}

/// The windows the changes compare with: the period before (for a running period the same
/// stretch of it) and the same window a year earlier, when that is a comparison of its own.
#[derive(Debug, Clone, Serialize)]
pub struct ComparisonWindows {
    pub previous: WindowView,
    pub last_year: Option<WindowView>,
}

impl From<&Comparisons> for ComparisonWindows {
    fn from(comparisons: &Comparisons) -> Self {
        let view = |(from, to): (i64, i64)| WindowView { from: rfc3339_ms(from), to: rfc3339_ms(to) };
        Self { previous: view(comparisons.previous), last_year: comparisons.last_year.map(view) }
    }
}

/// The comparisons of the picture's window at this moment.
fn compared(index: &OrgIndex, period: Option<Period>, filter: &Filter, whole: bool) -> Comparisons {
    let now = chrono::Utc::now().timestamp_millis();
    period::comparisons(index.tz, period, (filter.from_ms, filter.to_ms), now, whole)
}

/// One of an area's newest observations, as coordinators see it on the area's page.
#[derive(Debug, Serialize)]
pub struct LatestObservation {
    pub id: String,
    pub category: String,
    pub severity: i32,
    pub perceived_safety: i32,
    pub observed_at: String,
    pub status: String,
    pub area: Option<String>,
}

/// The figures per area for the period, the one before it and the same one a year earlier.
fn three_periods(
    index: &OrgIndex,
    filter: &Filter,
    areas: &Areas,
    comparisons: &Comparisons,
) -> [HashMap<u16, AreaFigures>; 3] {
    let shifted = |bounds: (i64, i64)| Filter { from_ms: bounds.0, to_ms: bounds.1, ..filter.clone() };
    [
        query::area_figures(index, filter, &areas.parents),
        query::area_figures(index, &shifted(comparisons.previous), &areas.parents),
        comparisons
            .last_year
            .map(|window| query::area_figures(index, &shifted(window), &areas.parents))
            .unwrap_or_default(),
    ]
}

impl AreaRow {
    /// Without a comparison with last year when there is none of its own.
    fn compared(mut self, comparisons: &Comparisons) -> Self {
        if comparisons.last_year.is_none() {
            self.same_period_last_year = None;
            self.change_last_year_pct = None;
        }
        self
    }
}

/// Change in percent from `before` to `now`, when there was something before.
fn change(now: u32, before: u32) -> Option<f64> {
    (before > 0).then(|| round3((f64::from(now) - f64::from(before)) / f64::from(before) * 100.0))
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
