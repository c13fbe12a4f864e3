//! What the follow-up reports read: activity logs overlapping a period, and the labels their
//! groups are shown with.

use crate::db::DbConnection;
use crate::db::schema::{activity_logs, activity_types, areas, categories, observations, units};
use crate::domain::activity::Activity;
use crate::domain::records::MAX_ACTIVITY_MS;
use diesel::prelude::*;
use std::collections::HashMap;

/// Filters of an activity report; empty means "any".
#[derive(Debug, Default, Clone)]
pub struct ActivityFilter {
    pub types: Vec<String>,
    pub units: Vec<String>,
}

type ActivityColumns =
    (String, String, Option<String>, i64, Option<i64>, (i32, i32, i32, i32), (i32, i32, i32, i32, i32, i32));

/// The organisation's activity logs that overlap `[from, to)`, tombstones left out.
pub fn activities_overlapping(
    conn: &mut DbConnection,
    organisation_id: &str,
    from: i64,
    to: i64,
    filter: &ActivityFilter,
) -> QueryResult<Vec<Activity>> {
    let mut query = activity_logs::table
        .filter(activity_logs::organisation_id.eq(organisation_id))
        .filter(activity_logs::deleted_at.is_null())
        // No activity lasts longer than MAX_ACTIVITY_MS, so the start index bounds the scan.
        .filter(activity_logs::started_at.ge(from.saturating_sub(MAX_ACTIVITY_MS)))
        .filter(activity_logs::started_at.lt(to))
        .select((
            activity_logs::activity_type,
            activity_logs::unit,
            activity_logs::area_code,
            activity_logs::started_at,
            activity_logs::ended_at,
            (activity_logs::girls, activity_logs::boys, activity_logs::gender_other, activity_logs::gender_unknown),
            (
                activity_logs::age_under_13,
                activity_logs::age_13_15,
                activity_logs::age_16_17,
                activity_logs::age_18_24,
                activity_logs::age_25_plus,
                activity_logs::age_unknown,
            ),
        ))
        .into_boxed();
    if !filter.types.is_empty() {
        query = query.filter(activity_logs::activity_type.eq_any(filter.types.clone()));
    }
    if !filter.units.is_empty() {
        query = query.filter(activity_logs::unit.eq_any(filter.units.clone()));
    }
    let rows: Vec<ActivityColumns> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(activity_type, unit, area, started_at, ended_at, g, a)| Activity {
            activity_type,
            unit,
            area,
            started_at,
            ended_at,
            genders: [g.0, g.1, g.2, g.3].map(i64::from),
            ages: [a.0, a.1, a.2, a.3, a.4, a.5].map(i64::from),
        })
        .collect())
}

/// Display names of an organisation's activity types (Swedish, English), units and areas.
#[derive(Debug, Default, Clone)]
pub struct Labels {
    pub categories: HashMap<String, (String, String)>,
    pub types: HashMap<String, (String, String)>,
    pub units: HashMap<String, String>,
    pub areas: HashMap<String, String>,
}

/// Reads the labels.
pub fn labels(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<Labels> {
    let types = activity_types::table
        .filter(activity_types::organisation_id.eq(organisation_id))
        .select((activity_types::slug, activity_types::label_sv, activity_types::label_en))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(slug, sv, en)| (slug, (sv, en)))
        .collect();
    let categories = categories::table
        .filter(categories::organisation_id.eq(organisation_id))
        .select((categories::slug, categories::label_sv, categories::label_en))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(slug, sv, en)| (slug, (sv, en)))
        .collect();
    let units = units::table
        .filter(units::organisation_id.eq(organisation_id))
        .select((units::slug, units::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let areas = areas::table
        .filter(areas::organisation_id.eq(organisation_id))
        .filter(areas::deleted_at.is_null())
        .select((areas::code, areas::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    Ok(Labels { categories, types, units, areas })
}

/// Which observations an export holds; empty means "any".
#[derive(Debug, Default, Clone)]
pub struct ObservationFilter {
    /// From this instant (ms, inclusive).
    pub from: Option<i64>,
    /// Until this instant (ms, exclusive).
    pub to: Option<i64>,
    pub categories: Vec<String>,
    pub statuses: Vec<String>,
    /// Only these area codes (never outside areas); `None` for all.
    pub areas: Option<Vec<String>>,
}

/// An observation as exports write it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = observations)]
pub struct ExportRow {
    pub id: String,
    pub observed_at: i64,
    pub category: String,
    pub severity: i32,
    pub perceived_safety: i32,
    pub people_count: Option<i32>,
    pub age_band: Option<String>,
    pub needs_follow_up: bool,
    pub status: String,
    pub review_comment: Option<String>,
    pub note: String,
    pub redacted: bool,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f64>,
    pub area_code: Option<String>,
    pub cell: Option<String>,
}

macro_rules! filtered_observations {
    ($organisation_id:expr, $filter:expr) => {{
        let filter: &ObservationFilter = $filter;
        let mut query = observations::table
            .filter(observations::organisation_id.eq($organisation_id.to_owned()))
            .filter(observations::deleted_at.is_null())
            .into_boxed();
        if let Some(from) = filter.from {
            query = query.filter(observations::observed_at.ge(from));
        }
        if let Some(to) = filter.to {
            query = query.filter(observations::observed_at.lt(to));
        }
        if !filter.categories.is_empty() {
            query = query.filter(observations::category.eq_any(filter.categories.clone()));
        }
        if !filter.statuses.is_empty() {
            query = query.filter(observations::status.eq_any(filter.statuses.clone()));
        }
        if let Some(areas) = &filter.areas {
            query = query.filter(observations::area_code.eq_any(areas.clone()));
        }
        query
    }};
}

/// How many observations the filter holds.
pub fn count_observations(
    conn: &mut DbConnection,
    organisation_id: &str,
    filter: &ObservationFilter,
) -> QueryResult<i64> {
    filtered_observations!(organisation_id, filter).count().get_result(conn)
}

/// The next page of observations in time order, after the keyset position `after`.
pub fn observations_page(
    conn: &mut DbConnection,
    organisation_id: &str,
    filter: &ObservationFilter,
    after: Option<&(i64, String)>,
    limit: i64,
) -> QueryResult<Vec<ExportRow>> {
    let mut query = filtered_observations!(organisation_id, filter)
        .select(ExportRow::as_select())
        .order((observations::observed_at.asc(), observations::id.asc()))
        .limit(limit);
    if let Some((at, id)) = after {
        // The first condition alone lets the time index start the range.
        query = query
            .filter(observations::observed_at.ge(*at))
            .filter(observations::observed_at.gt(*at).or(observations::id.gt(id.clone())));
    }
    query.load(conn)
}
