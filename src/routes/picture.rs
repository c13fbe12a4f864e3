//! The shared situational picture: the heat map, the area table and one area's detail.
//! Coordinators and admins see every figure; partners see the areas shared with them, with
//! every group of fewer than k records suppressed, and never a record or a position.

use crate::auth::{Analyst, Auth, AuthUser};
use crate::db::DbConnection;
use crate::db::queries::audit::{self, Event};
use crate::db::schema::{observations, organisations, partner_areas};
use crate::domain::identity::Role;
use crate::domain::period::Period;
use crate::error::{ApiError, ApiResult};
use crate::picture::index::{NONE, OrgIndex};
use crate::picture::query::{self, AreaFigures, Filter};
use crate::state::db;
use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The filters every view of the picture takes (all text, parsed here so that every failure
/// names its parameter).
#[derive(Deserialize, Default)]
pub struct PictureQuery {
    /// A period (`2024-T2`, `2024-06`, `2024-Q2`, `2024`, `2024-05-01..2024-08-31`).
    period: Option<String>,
    /// Instead of a period: from this time (RFC 3339 or a date, local midnight).
    from: Option<String>,
    /// Until this time, exclusive.
    to: Option<String>,
    /// Category slugs, comma-separated.
    category: Option<String>,
    severity_min: Option<String>,
    /// The reporter's unit slug.
    unit: Option<String>,
    /// Local hours, `18-24` (wraps past midnight: `22-4`).
    hours: Option<String>,
    /// Local weekdays, 1 (Monday) to 7, or `mon`…`sun`, comma-separated.
    weekday: Option<String>,
    after_dark: Option<String>,
    /// `true`: after dark means after civil twilight.
    twilight: Option<String>,
    /// An area code: the area and the areas inside it.
    area: Option<String>,
    /// Heat map hexagon resolution, 7–11 (default 9).
    resolution: Option<String>,
}

/// The caller's view: everything, or a partner's shared areas with suppression.
struct Scope {
    partner: bool,
    /// Area codes a partner may see (with their sub-areas).
    shared: HashSet<String>,
    k: u32,
}

impl Scope {
    fn read(conn: &mut DbConnection, auth: &AuthUser) -> QueryResult<Self> {
        let k: i32 =
            organisations::table.find(&auth.organisation_id).select(organisations::suppression_k).get_result(conn)?;
        let partner = auth.role == Role::Partner;
        let shared = if partner {
            read_shared(conn, &auth.organisation_id, &auth.user_id)?.into_iter().collect()
        } else {
            HashSet::new()
        };
        Ok(Self { partner, shared, k: u32::try_from(k.max(1)).unwrap_or(3) })
    }

    /// A count as the caller may see it: suppressed (null) for a partner below k.
    fn count(&self, n: u32) -> Value {
        self.visible(n).map_or(Value::Null, Value::from)
    }

    /// A count as the caller may see it: none for a partner below k.
    fn visible(&self, n: u32) -> Option<u32> {
        (!self.hidden(n)).then_some(n)
    }

    fn hidden(&self, n: u32) -> bool {
        self.partner && n < self.k
    }
}

fn flag(field: &str, text: Option<&str>) -> ApiResult<Option<bool>> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some("true" | "1" | "yes") => Ok(Some(true)),
        Some("false" | "0" | "no") => Ok(Some(false)),
        Some(_) => Err(ApiError::field(field, "invalid_type", "must be true or false")),
    }
}

fn local_instant(field: &str, text: &str, tz: chrono_tz::Tz) -> ApiResult<i64> {
    let text = text.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.timestamp_millis());
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(crate::domain::period::local_midnight_ms(tz, date));
    }
    Err(ApiError::field(field, "invalid_time", "use RFC 3339 (2024-05-01T18:00:00+02:00) or a date (2024-05-01)"))
}

impl PictureQuery {
    /// A query for one period and nothing else.
    pub fn for_period(period: &Period) -> Self {
        Self { period: Some(period.to_string()), ..Self::default() }
    }

    /// The period asked for; by default the last twelve months up to today.
    fn period(&self, tz: chrono_tz::Tz) -> ApiResult<(Option<Period>, i64, i64)> {
        if let Some(text) = self.period.as_deref().filter(|t| !t.trim().is_empty()) {
            if self.from.is_some() || self.to.is_some() {
                return Err(ApiError::field("period", "conflicting", "give a period or from/to, not both"));
            }
            let period = Period::parse("period", text).map_err(|e| ApiError::Validation(vec![e]))?;
            let (from, to) = period.bounds_ms(tz);
            return Ok((Some(period), from, to));
        }
        let now = chrono::Utc::now().timestamp_millis();
        let to = self.to.as_deref().map(|t| local_instant("to", t, tz)).transpose()?.unwrap_or(now);
        let from =
            self.from.as_deref().map(|t| local_instant("from", t, tz)).transpose()?.unwrap_or(to - 365 * 86_400_000);
        if from >= to {
            return Err(ApiError::field("to", "before_start", "must be after `from`"));
        }
        Ok((None, from, to))
    }

    fn filter(&self, from_ms: i64, to_ms: i64) -> ApiResult<Filter> {
        let severity_min = match self.severity_min.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => 0,
            Some(text) => text
                .parse::<u8>()
                .ok()
                .filter(|n| (1..=5).contains(n))
                .ok_or_else(|| ApiError::field("severity_min", "out_of_range", "must be 1 to 5"))?,
        };
        let hours = match self.hours.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(text) => {
                let parsed = text
                    .split_once('-')
                    .and_then(|(a, b)| Some((a.trim().parse::<u8>().ok()?, b.trim().parse::<u8>().ok()?)));
                match parsed {
                    // 0-24 is the whole day: no filter.
                    Some((0, 24)) => None,
                    Some((start, end)) if start <= 23 && end <= 24 && start != end => Some((start, end % 24)),
                    _ => {
                        return Err(ApiError::field(
                            "hours",
                            "invalid_hours",
                            "use local hours as start-end, e.g. 18-24 or 22-4",
                        ));
                    }
                }
            }
        };
        let mut weekdays = 0u8;
        for day in super::params::list(self.weekday.as_deref()) {
            const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
            let index = day
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=7).contains(n))
                .map(|n| n - 1)
                .or_else(|| NAMES.iter().position(|name| day.to_ascii_lowercase().starts_with(name)))
                .ok_or_else(|| {
                    ApiError::field("weekday", "invalid_weekday", "use 1 (Monday) to 7 (Sunday) or mon…sun")
                })?;
            weekdays |= 1 << index;
        }
        Ok(Filter {
            from_ms,
            to_ms,
            categories: super::params::list(self.category.as_deref()),
            severity_min,
            unit: self.unit.clone().filter(|u| !u.trim().is_empty()),
            hours,
            weekdays,
            after_dark: flag("after_dark", self.after_dark.as_deref())?,
            twilight: flag("twilight", self.twilight.as_deref())?.unwrap_or(false),
            areas: Vec::new(),
        })
    }
}

/// The organisation's areas as the picture codes them.
struct Areas {
    /// Code number → area code, for every stored area and every code seen on a record.
    names: HashMap<u16, String>,
    /// Code number → the area's display name (stored areas only).
    display: HashMap<u16, String>,
    /// Code number → its parent's code number.
    parents: HashMap<u16, u16>,
}

/// The caller's index, caught up, with every stored area coded in it, and the areas.
fn picture_of(
    conn: &mut DbConnection,
    state: &crate::state::AppState,
    organisation_id: &str,
) -> QueryResult<(std::sync::Arc<parking_lot::RwLock<OrgIndex>>, Areas)> {
    let index = state.pictures.current(conn, organisation_id)?;
    let tree = crate::db::queries::areas::tree(conn, organisation_id)?;
    let mut write = index.write();
    let mut areas = Areas { names: HashMap::new(), display: HashMap::new(), parents: HashMap::new() };
    for (code, name, _) in &tree {
        let number = write.areas.code(code);
        areas.display.insert(number, name.clone());
    }
    for (code, _, parent) in &tree {
        if let (Some(child), Some(parent)) =
            (write.areas.find(code), parent.as_deref().and_then(|p| write.areas.find(p)))
        {
            areas.parents.insert(child, parent);
        }
    }
    areas.names = (0..write.areas.len())
        .filter_map(|number| u16::try_from(number).ok())
        .filter_map(|number| Some((number, write.areas.name(number)?.to_owned())))
        .collect();
    drop(write);
    Ok((index, areas))
}

impl Areas {
    /// The code and every area inside it.
    fn with_descendants(&self, code: u16) -> Vec<u16> {
        let mut all = vec![code];
        let mut grew = true;
        while grew {
            grew = false;
            for (child, parent) in &self.parents {
                if all.contains(parent) && !all.contains(child) {
                    all.push(*child);
                    grew = true;
                }
            }
        }
        all
    }

    /// The codes a scope may see: all, or a partner's shared areas with what they contain.
    fn visible(&self, scope: &Scope) -> Option<HashSet<u16>> {
        scope.partner.then(|| {
            self.names
                .iter()
                .filter(|(_, name)| scope.shared.contains(name.as_str()))
                .flat_map(|(code, _)| self.with_descendants(*code))
                .collect()
        })
    }
}

/// What every view of the picture starts from: the caller's scope, the index and the areas.
struct View {
    scope: Scope,
    index: std::sync::Arc<parking_lot::RwLock<OrgIndex>>,
    areas: Areas,
}

impl View {
    fn open(conn: &mut DbConnection, state: &crate::state::AppState, caller: &AuthUser) -> QueryResult<Self> {
        let scope = Scope::read(conn, caller)?;
        let (index, areas) = picture_of(conn, state, &caller.organisation_id)?;
        Ok(Self { scope, index, areas })
    }
}

impl PictureQuery {
    /// The period and the filter the query asks for, limited to the areas the scope may see.
    fn in_scope(&self, index: &OrgIndex, view: &View) -> ApiResult<(Option<Period>, Filter)> {
        let (period, from, to) = self.period(index.tz)?;
        let mut filter = self.filter(from, to)?;
        filter.areas = area_filter(self, &view.areas, &view.scope)?;
        Ok((period, filter))
    }
}

/// `GET /api/v1/heatmap`
pub async fn heatmap(
    state: web::Data<crate::state::AppState>,
    auth: Auth<Analyst>,
    query: web::Query<PictureQuery>,
) -> ApiResult<HttpResponse> {
    let resolution = match query.resolution.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => h3o::Resolution::Nine,
        Some(text) => text
            .parse::<u8>()
            .ok()
            .filter(|n| (7..=11).contains(n))
            .and_then(|n| h3o::Resolution::try_from(n).ok())
            .ok_or_else(|| ApiError::field("resolution", "out_of_range", "must be 7 to 11"))?,
    };
    let caller = (*auth).clone();
    // Written on the blocking pool too: a fine heat map is hundreds of kilobytes of GeoJSON.
    let body = db(&state, move |conn, state| {
        let heatmap = heatmap_of(conn, state, &caller, &query, resolution)?;
        serde_json::to_vec(&heatmap).map_err(|error| ApiError::Internal(error.into()))
    })
    .await?;
    Ok(HttpResponse::Ok().content_type(actix_web::http::header::ContentType::json()).body(body))
}

/// `GET /api/v1/heatmap`'s answer: a GeoJSON FeatureCollection of hexagons and what it covers.
/// Typed rather than built as a `serde_json::Value`: writing thousands of small features
/// straight from these structs takes a fraction of the time.
#[derive(Serialize)]
pub struct Heatmap {
    #[serde(rename = "type")]
    kind: &'static str,
    features: Vec<CellFeature>,
    resolution: u8,
    period: Option<String>,
    from: String,
    to: String,
    total: Option<u32>,
    without_position: Option<u32>,
    suppressed_cells: usize,
    suppression_k: Option<u32>,
}

/// One hexagon: its outline and figures (`count` null and the rest left out for a partner
/// below k).
#[derive(Serialize)]
struct CellFeature {
    #[serde(rename = "type")]
    kind: &'static str,
    geometry: CellPolygon,
    properties: CellProperties,
}

#[derive(Serialize)]
struct CellPolygon {
    #[serde(rename = "type")]
    kind: &'static str,
    coordinates: [Vec<[f64; 2]>; 1],
}

#[derive(Serialize)]
struct CellProperties {
    cell: String,
    count: Option<u32>,
    score: Option<u32>,
    intensity: Option<f64>,
    suppressed: bool,
}

/// The heat map as `GET /api/v1/heatmap` answers it, for the caller.
pub fn heatmap_of(
    conn: &mut DbConnection,
    state: &crate::state::AppState,
    caller: &AuthUser,
    query: &PictureQuery,
    resolution: h3o::Resolution,
) -> ApiResult<Heatmap> {
    let view = View::open(conn, state, caller)?;
    let (scope, index) = (&view.scope, view.index.read());
    let (period, mut filter) = query.in_scope(&index, &view)?;
    let (from, to) = (filter.from_ms, filter.to_ms);
    if scope.partner && filter.areas.is_empty() {
        filter.areas = vec![NONE - 1]; // nothing shared: nothing to show
    }
    let (cells, without_cell) = query::heatmap(&index, &filter, resolution);
    let max_score = cells.iter().filter(|c| !scope.hidden(c.count)).map(|c| c.score).max().unwrap_or(0);
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
                    intensity: (!hidden && max_score > 0).then(|| round3(f64::from(cell.score) / f64::from(max_score))),
                    suppressed: hidden,
                },
            }
        })
        .collect();
    let total: u32 = cells.iter().map(|c| c.count).sum();
    Ok(Heatmap {
        kind: "FeatureCollection",
        features,
        resolution: u8::from(resolution),
        period: period.map(|p| p.to_string()),
        from: rfc3339_ms(from),
        to: rfc3339_ms(to),
        total: scope.visible(total + without_cell),
        without_position: scope.visible(without_cell),
        suppressed_cells: suppressed,
        suppression_k: scope.partner.then_some(scope.k),
    })
}

/// The area codes a request filters on, within what the caller may see.
fn area_filter(query: &PictureQuery, areas: &Areas, scope: &Scope) -> ApiResult<Vec<u16>> {
    let visible = areas.visible(scope);
    match query.area.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        Some(code) => {
            let found = areas.names.iter().find(|(_, name)| name.as_str() == code).map(|(c, _)| *c);
            let allowed = found.filter(|c| visible.as_ref().is_none_or(|v| v.contains(c)));
            match (found, allowed) {
                (_, Some(code)) => Ok(areas.with_descendants(code)),
                // Unknown, or not shared with a partner: the same answer, so nothing leaks.
                _ if scope.partner => Err(ApiError::field("area", "unknown_area", "no such area is shared with you")),
                _ => Ok(vec![NONE - 1]),
            }
        }
        None => Ok(visible.map(|v| v.into_iter().collect()).unwrap_or_default()),
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

fn rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Change in percent from `before` to `now`, when there was something before.
fn change(now: u32, before: u32) -> Option<f64> {
    (before > 0).then(|| round3((f64::from(now) - f64::from(before)) / f64::from(before) * 100.0))
}

/// One area's row of the picture, as the scope may see it.
fn area_row(
    scope: &Scope,
    index: &OrgIndex,
    code: Option<&str>,
    name: Option<&str>,
    now: &AreaFigures,
    previous: &AreaFigures,
    last_year: &AreaFigures,
) -> Value {
    let hidden = scope.hidden(now.observations);
    let by_category: Map<String, Value> = now
        .by_category
        .iter()
        .filter_map(|(category, n)| Some((index.categories.name(*category)?.to_owned(), scope.count(*n))))
        .collect();
    let comparable = |other: &AreaFigures| !hidden && !scope.hidden(other.observations);
    let state = match (now.observations > 0, now.activities > 0) {
        (true, true) => "visited",
        (true, false) => "unvisited",
        (false, true) => "quiet",
        (false, false) => "no_data",
    };
    let presence_hidden = scope.hidden(now.activities);
    json!({
        "area": code,
        "name": name,
        "observations": scope.count(now.observations),
        "by_category": by_category,
        "previous_period": scope.count(previous.observations),
        "change_previous_pct": if comparable(previous) { json!(change(now.observations, previous.observations)) } else { Value::Null },
        "same_period_last_year": scope.count(last_year.observations),
        "change_last_year_pct": if comparable(last_year) { json!(change(now.observations, last_year.observations)) } else { Value::Null },
        "mean_perceived_safety": if hidden { Value::Null } else { json!(now.mean_safety().map(round3)) },
        "share_after_dark": if hidden { Value::Null } else { json!(now.share_after_dark().map(round3)) },
        "presence": {
            "activities": scope.count(now.activities),
            "hours": if presence_hidden { Value::Null } else { json!(round3(now.activity_hours())) },
            "contacts": if presence_hidden { Value::Null } else { json!(now.contacts) },
        },
        "need_per_presence": if hidden || presence_hidden { Value::Null } else { json!(now.need_per_presence().map(round3)) },
        "state": if hidden || presence_hidden { Value::Null } else { json!(state) },
        "suppressed": hidden,
    })
}

/// The figures per area for the period, the one before it and the same one a year earlier.
fn three_periods(
    index: &OrgIndex,
    filter: &Filter,
    areas: &Areas,
    period: Option<Period>,
) -> [HashMap<u16, AreaFigures>; 3] {
    let (from, to) = (filter.from_ms, filter.to_ms);
    let shifted = |bounds: (i64, i64)| Filter { from_ms: bounds.0, to_ms: bounds.1, ..filter.clone() };
    let (previous, last_year) = match period {
        Some(period) => {
            (shifted(period.previous().bounds_ms(index.tz)), shifted(period.a_year_earlier().bounds_ms(index.tz)))
        }
        None => (shifted((from - (to - from), from)), shifted((from - 365 * 86_400_000, to - 365 * 86_400_000))),
    };
    [
        query::area_figures(index, filter, &areas.parents),
        query::area_figures(index, &previous, &areas.parents),
        query::area_figures(index, &last_year, &areas.parents),
    ]
}

/// `GET /api/v1/picture`: one row per area.
pub async fn picture(
    state: web::Data<crate::state::AppState>,
    auth: Auth<Analyst>,
    query: web::Query<PictureQuery>,
) -> ApiResult<HttpResponse> {
    let caller = (*auth).clone();
    let body = db(&state, move |conn, state| picture_of_areas(conn, state, &caller, &query)).await?;
    Ok(HttpResponse::Ok().json(body))
}

/// The area table as `GET /api/v1/picture` answers it, for the caller.
pub fn picture_of_areas(
    conn: &mut DbConnection,
    state: &crate::state::AppState,
    caller: &AuthUser,
    query: &PictureQuery,
) -> ApiResult<Value> {
    let view = View::open(conn, state, caller)?;
    let (scope, areas, index) = (&view.scope, &view.areas, view.index.read());
    let (period, filter) = query.in_scope(&index, &view)?;
    let (from, to) = (filter.from_ms, filter.to_ms);
    let visible = areas.visible(scope);
    let [now, previous, last_year] = three_periods(&index, &filter, areas, period);
    let mut codes: Vec<(&String, u16)> = areas
        .names
        .iter()
        .filter(|(code, _)| visible.as_ref().is_none_or(|v| v.contains(code)))
        .map(|(code, name)| (name, *code))
        .collect();
    codes.sort();
    let rows: Vec<Value> = codes
        .into_iter()
        .map(|(name, code)| {
            let get = |figures: &HashMap<u16, AreaFigures>| figures.get(&code).cloned().unwrap_or_default();
            let display = areas.display.get(&code).map(String::as_str);
            area_row(scope, &index, Some(name), display, &get(&now), &get(&previous), &get(&last_year))
        })
        .collect();
    let outside = (!scope.partner).then(|| {
        let get = |figures: &HashMap<u16, AreaFigures>| figures.get(&NONE).cloned().unwrap_or_default();
        area_row(scope, &index, None, None, &get(&now), &get(&previous), &get(&last_year))
    });
    Ok(json!({
        "period": period.map(|p| p.to_string()),
        "previous_period": period.map(|p| p.previous().to_string()),
        "same_period_last_year": period.map(|p| p.a_year_earlier().to_string()),
        "from": rfc3339_ms(from),
        "to": rfc3339_ms(to),
        "areas": rows,
        "outside_areas": outside,
        "suppression_k": scope.partner.then_some(scope.k),
    }))
}

/// `GET /api/v1/areas/{code}/picture`: one area's row with its detail.
pub async fn area_picture(
    state: web::Data<crate::state::AppState>,
    auth: Auth<Analyst>,
    path: web::Path<String>,
    query: web::Query<PictureQuery>,
) -> ApiResult<HttpResponse> {
    let caller = (*auth).clone();
    let code = path.into_inner();
    let body = db(&state, move |conn, state| {
        let view = View::open(conn, state, &caller)?;
        let (scope, areas, index) = (&view.scope, &view.areas, view.index.read());
        let (period, from, to) = query.period(index.tz)?;
        let mut filter = query.filter(from, to)?;
        let visible = areas.visible(scope);
        let found = areas.names.iter().find(|(_, name)| **name == code).map(|(c, _)| *c);
        let Some(area) = found.filter(|c| visible.as_ref().is_none_or(|v| v.contains(c))) else {
            return Err(ApiError::NotFound("no such area".into()));
        };
        filter.areas = areas.with_descendants(area);
        let [now, previous, last_year] = three_periods(&index, &filter, areas, period);
        let get = |figures: &HashMap<u16, AreaFigures>| figures.get(&area).cloned().unwrap_or_default();
        let display = areas.display.get(&area).map(String::as_str);
        let mut row = area_row(scope, &index, Some(&code), display, &get(&now), &get(&previous), &get(&last_year));
        let detail = query::area_detail(&index, &filter);
        row["severity_histogram"] = json!(detail.severity.iter().map(|n| scope.count(*n)).collect::<Vec<_>>());
        row["hour_of_week"] = json!(
            detail
                .hour_of_week
                .chunks(24)
                .map(|day| day.iter().map(|n| scope.count(*n)).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        );
        row["by_month"] = json!(
            detail
                .by_month
                .iter()
                .map(|((year, month), categories)| {
                    let categories: BTreeMap<String, Value> = categories
                        .iter()
                        .filter_map(|(c, n)| Some((index.categories.name(*c)?.to_owned(), scope.count(*n))))
                        .collect();
                    json!({ "month": format!("{year}-{month:02}"), "by_category": categories })
                })
                .collect::<Vec<_>>()
        );
        if !scope.partner {
            let codes: Vec<String> =
                filter.areas.iter().filter_map(|c| index.areas.name(*c).map(str::to_owned)).collect();
            let latest = latest_observations(conn, &caller.organisation_id, &codes, from, to)?;
            let mut described = Map::new();
            described.insert("area".into(), json!(code));
            described.insert("from".into(), json!(rfc3339_ms(from)));
            described.insert("to".into(), json!(rfc3339_ms(to)));
            let event = Event { action: "read.area_latest", format: None, filters: described };
            audit::record_complete(
                conn,
                &super::reports::actor(&caller),
                event,
                latest.len(),
                chrono::Utc::now().timestamp_millis(),
            )?;
            row["latest"] = json!(latest);
        }
        Ok(row)
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// The newest observations in the areas during the period, for coordinators.
fn latest_observations(
    conn: &mut DbConnection,
    organisation_id: &str,
    areas: &[String],
    from: i64,
    to: i64,
) -> QueryResult<Vec<Value>> {
    type Latest = (String, String, i32, i32, i64, String, Option<String>);
    let rows: Vec<Latest> = observations::table
        .filter(observations::organisation_id.eq(organisation_id))
        .filter(observations::deleted_at.is_null())
        .filter(observations::area_code.eq_any(areas))
        .filter(observations::observed_at.ge(from))
        .filter(observations::observed_at.lt(to))
        .order(observations::observed_at.desc())
        .select((
            observations::id,
            observations::category,
            observations::severity,
            observations::perceived_safety,
            observations::observed_at,
            observations::status,
            observations::area_code,
        ))
        .limit(20)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, category, severity, safety, at, status, area)| {
            json!({ "id": id, "category": category, "severity": severity, "perceived_safety": safety,
                    "observed_at": rfc3339_ms(at), "status": status, "area": area })
        })
        .collect())
}

/// The body of `PUT /api/v1/users/{id}/areas`.
#[derive(Deserialize)]
pub struct SharedAreas {
    areas: Vec<String>,
}

/// The area codes shared with a partner.
pub(super) fn read_shared(conn: &mut DbConnection, organisation_id: &str, user_id: &str) -> QueryResult<Vec<String>> {
    partner_areas::table
        .filter(partner_areas::organisation_id.eq(organisation_id))
        .filter(partner_areas::user_id.eq(user_id))
        .order(partner_areas::area_code.asc())
        .select(partner_areas::area_code)
        .load(conn)
}

/// `GET /api/v1/users/{id}/areas`: the areas shared with a partner.
pub async fn shared_areas(
    state: web::Data<crate::state::AppState>,
    auth: Auth<crate::auth::Admin>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let organisation_id = auth.organisation_id.clone();
    let areas = db(&state, move |conn, _| {
        crate::db::queries::users::by_id(conn, &organisation_id, &id)?
            .ok_or_else(|| ApiError::NotFound("no such user".into()))?;
        Ok(read_shared(conn, &organisation_id, &id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "areas": areas })))
}

/// `PUT /api/v1/users/{id}/areas`: replaces the areas shared with a partner.
pub async fn share_areas(
    state: web::Data<crate::state::AppState>,
    auth: Auth<crate::auth::Admin>,
    id: web::Path<String>,
    super::json::ApiJson(body): super::json::ApiJson<SharedAreas>,
) -> ApiResult<HttpResponse> {
    let mut codes: Vec<String> = Vec::new();
    for (i, code) in body.areas.iter().enumerate() {
        let code = code.trim();
        if code.is_empty() || code.chars().count() > 64 {
            return Err(ApiError::field(&format!("areas[{i}]"), "invalid_area", "an area code of 1–64 characters"));
        }
        if !codes.iter().any(|c| c == code) {
            codes.push(code.to_owned());
        }
    }
    let organisation_id = auth.organisation_id.clone();
    let id = id.into_inner();
    let areas = db(&state, move |conn, _| {
        let user = crate::db::queries::users::by_id(conn, &organisation_id, &id)?
            .ok_or_else(|| ApiError::NotFound("no such user".into()))?;
        if user.role != Role::Partner.as_str() {
            return Err(ApiError::field("areas", "not_a_partner", "areas are shared with partners only"));
        }
        crate::db::write_transaction(conn, |conn| {
            diesel::delete(
                partner_areas::table
                    .filter(partner_areas::organisation_id.eq(&organisation_id))
                    .filter(partner_areas::user_id.eq(&id)),
            )
            .execute(conn)?;
            for code in &codes {
                diesel::insert_into(partner_areas::table)
                    .values((
                        partner_areas::organisation_id.eq(&organisation_id),
                        partner_areas::user_id.eq(&id),
                        partner_areas::area_code.eq(code),
                    ))
                    .execute(conn)?;
            }
            Ok::<_, diesel::result::Error>(())
        })?;
        Ok(read_shared(conn, &organisation_id, &id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "areas": areas })))
}
