//! The shared situational picture over HTTP: the heat map, the area table and one area's page
//! (see [`crate::picture`] for the views and who may see what), and the areas shared with
//! partners. Handlers parse, authorise, call and render.

use crate::auth::{Admin, Analyst, Auth, AuthUser};
use crate::db::DbConnection;
use crate::db::queries::audit::{self, Event};
use crate::db::queries::{partners, records, users};
use crate::domain::identity::Role;
use crate::domain::period::Period;
use crate::domain::time::rfc3339_ms;
use crate::error::{ApiError, ApiResult};
use crate::picture::disclosure;
use crate::picture::query::Filter;
use crate::picture::view::{LatestObservation, Picture};
use crate::state::{AppState, db};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, json};

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

/// A parameter's text; an empty parameter is an absent one, as everywhere in the API.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|text| !text.trim().is_empty())
}

impl PictureQuery {
    /// The period the caller asks for: a partner's is a whole tertial (the current one by
    /// default), and the parameters that would cut it another way are refused.
    fn period_for(&self, role: Role, tz: chrono_tz::Tz) -> ApiResult<(Option<Period>, i64, i64)> {
        if role != Role::Partner {
            return self.period(tz);
        }
        self.refuse_what_partners_may_not_use()?;
        let (period, _, _) = self.period(tz)?;
        let period = disclosure::partner_period(period, tz)?;
        let (from, to) = period.bounds_ms(tz);
        Ok((Some(period), from, to))
    }

    /// A partner's query: the parameters that would cut the published cells another way are
    /// refused, naming the first one given.
    fn refuse_what_partners_may_not_use(&self) -> ApiResult<()> {
        let fields = [
            ("from", &self.from),
            ("to", &self.to),
            ("hours", &self.hours),
            ("weekday", &self.weekday),
            ("after_dark", &self.after_dark),
            ("twilight", &self.twilight),
            ("severity_min", &self.severity_min),
            ("unit", &self.unit),
        ];
        match fields.into_iter().find(|(_, value)| given(value).is_some()) {
            Some((field, _)) => Err(disclosure::not_for_partners(field)),
            None => Ok(()),
        }
    }

    /// The period asked for; by default the last twelve months up to today.
    fn period(&self, tz: chrono_tz::Tz) -> ApiResult<(Option<Period>, i64, i64)> {
        let (from, to) = (given(&self.from), given(&self.to));
        if let Some(text) = given(&self.period) {
            if from.is_some() || to.is_some() {
                return Err(ApiError::field("period", "conflicting", "give a period or from/to, not both"));
            }
            let period = Period::parse("period", text).map_err(|e| ApiError::Validation(vec![e]))?;
            let (from, to) = period.bounds_ms(tz);
            return Ok((Some(period), from, to));
        }
        let now = chrono::Utc::now().timestamp_millis();
        let to = to.map(|t| local_instant("to", t, tz)).transpose()?.unwrap_or(now);
        let from = from
            .map(|t| local_instant("from", t, tz))
            .transpose()?
            .unwrap_or_else(|| crate::domain::period::a_year_earlier_ms(tz, to));
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
            unit: super::params::optional_slug("unit", self.unit.as_deref())?,
            hours,
            weekdays,
            after_dark: flag("after_dark", self.after_dark.as_deref())?,
            twilight: flag("twilight", self.twilight.as_deref())?.unwrap_or(false),
            areas: Vec::new(),
        })
    }
}

/// The caller's picture, and the period and filter the query asks for within what the caller
/// may see.
fn open(
    conn: &mut DbConnection,
    state: &AppState,
    caller: &AuthUser,
    query: &PictureQuery,
) -> ApiResult<(Picture, Option<Period>, Filter)> {
    let picture = Picture::open(conn, &state.pictures, &caller.organisation_id, &caller.user_id, caller.role)?;
    let (period, from, to) = query.period_for(caller.role, picture.tz())?;
    let mut filter = query.filter(from, to)?;
    filter.areas = picture.area_filter(query.area.as_deref())?;
    Ok((picture, period, filter))
}

/// `GET /api/v1/heatmap`
pub async fn heatmap(
    state: web::Data<AppState>,
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
        let (picture, period, filter) = open(conn, state, &caller, &query)?;
        let heatmap = picture.heatmap(period, filter, resolution);
        serde_json::to_vec(&heatmap).map_err(|error| ApiError::Internal(error.into()))
    })
    .await?;
    Ok(HttpResponse::Ok().content_type(actix_web::http::header::ContentType::json()).body(body))
}

/// `GET /api/v1/picture`: one row per area.
pub async fn picture(
    state: web::Data<AppState>,
    auth: Auth<Analyst>,
    query: web::Query<PictureQuery>,
) -> ApiResult<HttpResponse> {
    let caller = (*auth).clone();
    let table = db(&state, move |conn, state| {
        let (picture, period, filter) = open(conn, state, &caller, &query)?;
        Ok(picture.area_table(period, &filter))
    })
    .await?;
    Ok(HttpResponse::Ok().json(table))
}

/// `GET /api/v1/areas/{code}/picture`: one area's row with its detail, and for coordinators its
/// newest observations (a read of raw observations, so audited).
pub async fn area_picture(
    state: web::Data<AppState>,
    auth: Auth<Analyst>,
    path: web::Path<String>,
    query: web::Query<PictureQuery>,
) -> ApiResult<HttpResponse> {
    let caller = (*auth).clone();
    let code = path.into_inner();
    let body = db(&state, move |conn, state| {
        let picture = Picture::open(conn, &state.pictures, &caller.organisation_id, &caller.user_id, caller.role)?;
        let (period, from, to) = query.period_for(caller.role, picture.tz())?;
        let mut filter = query.filter(from, to)?;
        let mut area = picture.area(&code, period, &mut filter)?;
        if !picture.scope.partner {
            let latest = records::latest_in_areas(conn, &caller.organisation_id, &area.area_codes, from, to, 20)?;
            let mut described = Map::new();
            described.insert("area".into(), json!(code));
            described.insert("from".into(), json!(rfc3339_ms(from)));
            described.insert("to".into(), json!(rfc3339_ms(to)));
            let event = Event { action: "read.area_latest", format: None, filters: described };
            let now = chrono::Utc::now().timestamp_millis();
            audit::record_complete(conn, &super::reports::actor(&caller), event, latest.len(), now)?;
            area.latest = Some(
                latest
                    .into_iter()
                    .map(|row| LatestObservation {
                        id: row.id,
                        category: row.category,
                        severity: row.severity,
                        perceived_safety: row.perceived_safety,
                        observed_at: rfc3339_ms(row.observed_at),
                        status: row.status,
                        area: row.area_code,
                    })
                    .collect(),
            );
        }
        Ok(area)
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// The body of `PUT /api/v1/users/{id}/areas`.
#[derive(Deserialize)]
pub struct SharedAreas {
    areas: Vec<String>,
}

/// `GET /api/v1/users/{id}/areas`: the areas shared with a partner.
pub async fn shared_areas(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let organisation_id = auth.organisation_id.clone();
    let areas = db(&state, move |conn, _| {
        users::by_id(conn, &organisation_id, &id)?.ok_or_else(|| ApiError::NotFound("no such user".into()))?;
        Ok(partners::shared_areas(conn, &organisation_id, &id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "areas": areas })))
}

/// `PUT /api/v1/users/{id}/areas`: replaces the areas shared with a partner.
pub async fn share_areas(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
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
        let user =
            users::by_id(conn, &organisation_id, &id)?.ok_or_else(|| ApiError::NotFound("no such user".into()))?;
        if user.role != Role::Partner.as_str() {
            return Err(ApiError::field("areas", "not_a_partner", "areas are shared with partners only"));
        }
        partners::share(conn, &organisation_id, &id, &codes)?;
        Ok(partners::shared_areas(conn, &organisation_id, &id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "areas": areas })))
}
