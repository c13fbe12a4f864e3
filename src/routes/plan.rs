//! The action plan: problems coordinators mark from the picture, and the measures taken against
//! them. Coordinators and admins read and change them; every change is a new version, kept in
//! the item's history and written to the audit log.

use super::json::ApiJson;
use super::reports::actor;
use crate::auth::{Auth, Coordinator};
use crate::db::queries::plan::{self, Change, Fields, Item, PlanError};
use crate::db::queries::reports::ActivityFilter;
use crate::domain::FieldError;
use crate::domain::effect::{self, Counts};
use crate::domain::effort::{self, Plan as EffortPlan};
use crate::domain::period::local_midnight_ms;
use crate::domain::plan::{Effort, MeasureFields, ProblemFields};
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, db};
use actix_web::{HttpResponse, web};
use serde_json::{Map, Value};
use std::collections::HashSet;

fn rfc3339(ms: i64) -> Value {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or(Value::Null, |at| Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
}

/// An item as the API shows it: its fields, id, version and who changed it when.
fn view<F: Fields>(item: &Item<F>) -> Value {
    let mut body = match serde_json::to_value(item) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    body.insert("created_at".to_owned(), rfc3339(item.created_at));
    body.insert("updated_at".to_owned(), rfc3339(item.updated_at));
    Value::Object(body)
}

fn not_found<F: Fields>() -> ApiError {
    ApiError::NotFound(format!("no such {}", F::KIND))
}

impl From<PlanError> for ApiError {
    fn from(error: PlanError) -> Self {
        match error {
            PlanError::Invalid(errors) => ApiError::Validation(errors),
            PlanError::NotFound => ApiError::NotFound("no such item".into()),
            PlanError::Conflict { expected, current } => ApiError::ConflictFields {
                code: "version_conflict",
                detail: format!(
                    "this change was made to version {expected}, but it is at version {current} now; \
                     read it again and make the change to what it is"
                ),
                errors: vec![FieldError::new("version", "stale", format!("the current version is {current}"))],
            },
            PlanError::Db(error) => ApiError::from(error),
        }
    }
}

async fn list<F: Fields>(state: web::Data<AppState>, auth: Auth<Coordinator>) -> ApiResult<HttpResponse> {
    let org = auth.organisation_id.clone();
    let items = db(&state, move |conn, _| Ok(plan::list::<F>(conn, &org)?)).await?;
    Ok(HttpResponse::Ok().json(items.iter().map(view).collect::<Vec<_>>()))
}

async fn get<F: Fields>(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let org = auth.organisation_id.clone();
    let item = db(&state, move |conn, _| plan::get::<F>(conn, &org, &id)?.ok_or_else(not_found::<F>)).await?;
    Ok(HttpResponse::Ok().json(view(&item)))
}

async fn create<F: Fields>(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    let actor = actor(&auth);
    let now = chrono::Utc::now().timestamp_millis();
    let item =
        db(&state, move |conn, _| Ok(plan::save::<F>(conn, &actor, Change::Create(Value::Object(body)), now)?)).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/{}s/{}", F::KIND, item.id)))
        .json(view(&item)))
}

async fn update<F: Fields>(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    id: web::Path<String>,
    ApiJson(mut change): ApiJson<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    let expected_version =
        match change.remove("version") {
            None | Some(Value::Null) => None,
            Some(version) => Some(version.as_i64().filter(|v| *v >= 1).ok_or_else(|| {
                ApiError::field("version", "invalid_type", "the version read, a whole number from 1")
            })?),
        };
    for key in ["id", "created_at", "created_by", "updated_at", "updated_by"] {
        if change.contains_key(key) {
            return Err(ApiError::field(key, "read_only", "is set by the server"));
        }
    }
    let actor = actor(&auth);
    let now = chrono::Utc::now().timestamp_millis();
    let id = id.into_inner();
    let item = db(&state, move |conn, _| {
        plan::save::<F>(conn, &actor, Change::Update { id, change, expected_version }, now).map_err(|error| match error
        {
            PlanError::NotFound => not_found::<F>(),
            other => other.into(),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(&item)))
}

async fn history<F: Fields>(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let org = auth.organisation_id.clone();
    let versions = db(&state, move |conn, _| plan::history::<F>(conn, &org, &id)?.ok_or_else(not_found::<F>)).await?;
    let body: Vec<Value> = versions
        .into_iter()
        .map(|version| {
            serde_json::json!({
                "version": version.version,
                "changed_by": version.changed_by,
                "changed_at": rfc3339(version.changed_at),
                "fields": version.fields,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /api/v1/problems`
pub async fn list_problems(state: web::Data<AppState>, auth: Auth<Coordinator>) -> ApiResult<HttpResponse> {
    list::<ProblemFields>(state, auth).await
}

/// `POST /api/v1/problems`
pub async fn create_problem(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    body: ApiJson<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    create::<ProblemFields>(state, auth, body).await
}

/// `GET /api/v1/problems/{id}`
pub async fn get_problem(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    get::<ProblemFields>(state, auth, id).await
}

/// `PATCH /api/v1/problems/{id}`
pub async fn update_problem(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    id: web::Path<String>,
    body: ApiJson<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    update::<ProblemFields>(state, auth, id, body).await
}

/// `GET /api/v1/problems/{id}/history`
pub async fn problem_history(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    history::<ProblemFields>(state, auth, id).await
}

/// `GET /api/v1/measures`
pub async fn list_measures(state: web::Data<AppState>, auth: Auth<Coordinator>) -> ApiResult<HttpResponse> {
    list::<MeasureFields>(state, auth).await
}

/// `POST /api/v1/measures`
pub async fn create_measure(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    body: ApiJson<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    create::<MeasureFields>(state, auth, body).await
}

/// `GET /api/v1/measures/{id}`
pub async fn get_measure(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    get::<MeasureFields>(state, auth, id).await
}

/// `PATCH /api/v1/measures/{id}`
pub async fn update_measure(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    id: web::Path<String>,
    body: ApiJson<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    update::<MeasureFields>(state, auth, id, body).await
}

/// `GET /api/v1/measures/{id}/history`
pub async fn measure_history(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    history::<MeasureFields>(state, auth, id).await
}

/// `GET /api/v1/measures/{id}/effort`: planned against delivered, week by week, from the
/// activity logs in the measure's areas, of its activity types, within its dates.
pub async fn measure_effort(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let org = auth.organisation_id.clone();
    let body = db(&state, move |conn, _| {
        let measure = plan::get::<MeasureFields>(conn, &org, &id)?.ok_or_else(not_found::<MeasureFields>)?;
        let (_, tz, _) = crate::db::queries::organisations::report_settings(conn, &org)?;
        let fields = &measure.fields;
        let start = crate::domain::plan::date("planned_start", &fields.planned_start)
            .map_err(|e| ApiError::Validation(vec![e]))?;
        let end = fields.planned_end.as_deref().and_then(|end| crate::domain::plan::date("planned_end", end).ok());
        let tree = crate::db::queries::areas::tree(conn, &org)?;
        let links: Vec<(String, String)> =
            tree.iter().filter_map(|(code, _, parent)| Some((code.clone(), parent.clone()?))).collect();
        let areas: HashSet<String> = fields
            .areas
            .iter()
            .flat_map(|code| crate::domain::areas::with_descendants(code.clone(), links.iter().cloned()))
            .collect();
        let today = chrono::Utc::now().with_timezone(&tz).date_naive();
        let last = end.map_or(today, |end| end.min(today));
        let weekly_hours = match fields.effort {
            Effort::WeeklyHours { hours } => Some(hours),
            Effort::OneOff { .. } => None,
        };
        let activities = if last < start {
            Vec::new()
        } else {
            let (from, to) = (local_midnight_ms(tz, start), local_midnight_ms(tz, last + chrono::Days::new(1)));
            let filter = ActivityFilter { types: fields.activity_types.clone(), units: Vec::new() };
            crate::db::queries::reports::activities_overlapping(conn, &org, from, to, &filter)?
        };
        let effort_plan =
            EffortPlan { start, end, weekly_hours, areas: &areas, activity_types: &fields.activity_types };
        let delivered = effort::delivered(tz, &effort_plan, today, &activities);
        Ok(serde_json::json!({
            "measure_id": measure.id,
            "effort": fields.effort,
            "time_zone": tz.name(),
            "from": fields.planned_start,
            "to": last.max(start).format("%Y-%m-%d").to_string(),
            "planned_hours": delivered.planned_hours,
            "delivered_hours": delivered.delivered_hours,
            "activities": delivered.activities,
            "contacts": delivered.contacts,
            "share_of_plan": delivered.share_of_plan,
            "weeks": delivered.weeks,
        }))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Query of `GET /api/v1/measures/{id}/effect`.
#[derive(serde::Deserialize)]
pub struct EffectQuery {
    /// Area codes to compare with (comma-separated, each with the areas inside it); by default
    /// every observation outside the measure's areas.
    compare: Option<String>,
}

/// `GET /api/v1/measures/{id}/effect`: the targeted categories in the measure's areas before and
/// after its start, against comparison areas, as a difference-in-differences.
pub async fn measure_effect(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    id: web::Path<String>,
    query: web::Query<EffectQuery>,
) -> ApiResult<HttpResponse> {
    let org = auth.organisation_id.clone();
    let compare: Vec<String> = query
        .compare
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|code| !code.is_empty())
        .map(str::to_owned)
        .collect();
    let body = db(&state, move |conn, _| {
        let measure = plan::get::<MeasureFields>(conn, &org, &id)?.ok_or_else(not_found::<MeasureFields>)?;
        let (_, tz, _) = crate::db::queries::organisations::report_settings(conn, &org)?;
        let fields = &measure.fields;
        let tree = crate::db::queries::areas::tree(conn, &org)?;
        let links: Vec<(String, String)> =
            tree.iter().filter_map(|(code, _, parent)| Some((code.clone(), parent.clone()?))).collect();
        let within = |codes: &[String]| -> HashSet<String> {
            codes
                .iter()
                .flat_map(|code| crate::domain::areas::with_descendants(code.clone(), links.iter().cloned()))
                .collect()
        };
        for code in &compare {
            if !tree.iter().any(|(known, _, _)| known == code) {
                return Err(ApiError::field("compare", "unknown_area", format!("there is no area `{code}`")));
            }
        }
        let treated = within(&fields.areas);
        let comparison = if compare.is_empty() { None } else { Some(within(&compare)) };
        if comparison.as_ref().is_some_and(|areas| !areas.is_disjoint(&treated)) {
            return Err(ApiError::field(
                "compare",
                "overlaps_measure",
                "the comparison areas must lie outside the measure's areas",
            ));
        }
        let start = crate::domain::plan::date("planned_start", &fields.planned_start)
            .map_err(|e| ApiError::Validation(vec![e]))?;
        let end = fields.planned_end.as_deref().and_then(|end| crate::domain::plan::date("planned_end", end).ok());
        let today = chrono::Utc::now().with_timezone(&tz).date_naive();
        let last = end.map_or(today, |end| end.min(today));
        let window = |from: chrono::NaiveDate, days: i64| {
            let to = from + chrono::Days::new(u64::try_from(days).unwrap_or(0));
            (from, to, local_midnight_ms(tz, from), local_midnight_ms(tz, to))
        };
        // After: from the start to the end (or today); before: as many days just before it.
        let days = (last - start).num_days() + 1;
        let (counts, windows) = if days <= 0 {
            (None, None)
        } else {
            let after = window(start, days);
            let before = window(start - chrono::Days::new(u64::try_from(days).unwrap_or(0)), days);
            let mut tally = |(_, _, from, to): (chrono::NaiveDate, chrono::NaiveDate, i64, i64)| {
                let rows = plan::observation_counts(conn, &org, &fields.categories, from, to)?;
                let (mut mine, mut others) = (0u64, 0u64);
                for (area, n) in rows {
                    let n = u64::try_from(n).unwrap_or(0);
                    let in_measure = area.as_ref().is_some_and(|a| treated.contains(a));
                    let in_comparison = match &comparison {
                        None => !in_measure,
                        Some(areas) => area.as_ref().is_some_and(|a| areas.contains(a)),
                    };
                    if in_measure {
                        mine += n;
                    } else if in_comparison {
                        others += n;
                    }
                }
                Ok::<_, ApiError>((mine, others))
            };
            let (measure_before, comparison_before) = tally(before)?;
            let (measure_after, comparison_after) = tally(after)?;
            let counts = Counts { measure_before, measure_after, comparison_before, comparison_after };
            (Some(counts), Some((before, after)))
        };
        let dates = |(from, to, _, _): (chrono::NaiveDate, chrono::NaiveDate, i64, i64)| {
            serde_json::json!({ "from": from.to_string(), "to": (to - chrono::Days::new(1)).to_string() })
        };
        let mut comparison_areas: Vec<String> = comparison.map(|areas| areas.into_iter().collect()).unwrap_or_default();
        comparison_areas.sort();
        let mut measure_areas: Vec<String> = treated.into_iter().collect();
        measure_areas.sort();
        let effect = counts.map(effect::estimate);
        Ok(serde_json::json!({
            "measure_id": measure.id,
            "categories": fields.categories,
            "measure_areas": measure_areas,
            "comparison": if compare.is_empty() { "rest" } else { "areas" },
            "comparison_areas": comparison_areas,
            "before": windows.map(|(before, _)| dates(before)),
            "after": windows.map(|(_, after)| dates(after)),
            "counts": effect.as_ref().map(|e| e.counts),
            "verdict": effect.as_ref().map_or(Value::from("not_started"), |e| serde_json::json!(e.verdict)),
            "rate_ratio": effect.as_ref().and_then(|e| e.rate_ratio),
            "rate_ratio_interval": effect.as_ref().and_then(|e| e.rate_ratio_interval),
            "change_percent": effect.as_ref().and_then(|e| e.change_percent),
            "change_percent_interval": effect.as_ref().and_then(|e| e.change_percent_interval),
            "min_count": effect::MIN_COUNT,
            "method": "difference-in-differences of Poisson counts, 95 % Wald interval (api-spec/effect-method.md)",
        }))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Query of `GET /api/v1/picture/weekly`.
#[derive(serde::Deserialize)]
pub struct WeeklyQuery {
    /// An ISO week, `2026-W10`; by default the last whole week.
    week: Option<String>,
}

/// `GET /api/v1/picture/weekly`: last week per area against the weeks before, the areas clearly
/// above their baseline flagged, with the measures running there.
pub async fn weekly_picture(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    query: web::Query<WeeklyQuery>,
) -> ApiResult<HttpResponse> {
    use crate::domain::weekly;
    use chrono::{Datelike, Days, NaiveDate, Weekday};
    let org = auth.organisation_id.clone();
    let week = query.week.clone().filter(|week| !week.trim().is_empty());
    let body = db(&state, move |conn, _| {
        let (_, tz, _) = crate::db::queries::organisations::report_settings(conn, &org)?;
        let monday = match week.as_deref().map(str::trim) {
            Some(text) => text
                .split_once("-W")
                .and_then(|(year, week)| Some((year.parse::<i32>().ok()?, week.parse::<u32>().ok()?)))
                .filter(|(year, _)| (2000..=2100).contains(year))
                .and_then(|(year, week)| NaiveDate::from_isoywd_opt(year, week, Weekday::Mon))
                .ok_or_else(|| ApiError::field("week", "invalid_week", "an ISO week such as 2026-W10"))?,
            None => {
                let today = chrono::Utc::now().with_timezone(&tz).date_naive();
                today - Days::new(u64::from(today.weekday().num_days_from_monday()) + 7)
            }
        };
        let baseline_from = monday - Days::new(7 * u64::from(weekly::BASELINE_WEEKS));
        let ms = |date: NaiveDate| local_midnight_ms(tz, date);
        let next_monday = monday + Days::new(7);
        let last_week = plan::observation_counts_by_category(conn, &org, ms(monday), ms(next_monday))?;
        let baseline = plan::observation_counts_by_category(conn, &org, ms(baseline_from), ms(monday))?;
        let tree = crate::db::queries::areas::tree(conn, &org)?;
        let links: Vec<(String, String)> =
            tree.iter().filter_map(|(code, _, parent)| Some((code.clone(), parent.clone()?))).collect();
        let within = |code: &str| crate::domain::areas::with_descendants(code.to_owned(), links.iter().cloned());
        let measures = plan::list::<MeasureFields>(conn, &org)?;
        let running: Vec<(&Item<MeasureFields>, HashSet<String>)> = measures
            .iter()
            .filter(|m| m.fields.status != "stopped")
            .filter(|m| m.fields.planned_start.as_str() <= (next_monday - Days::new(1)).to_string().as_str())
            .filter(|m| m.fields.planned_end.as_deref().is_none_or(|end| end >= monday.to_string().as_str()))
            .map(|m| (m, m.fields.areas.iter().flat_map(|code| within(code)).collect()))
            .collect();
        let mut rows: Vec<(bool, u64, Value)> = tree
            .iter()
            .map(|(code, name, _)| {
                let area = within(code);
                let sum = |rows: &[(Option<String>, String, i64)], category: Option<&str>| -> u64 {
                    rows.iter()
                        .filter(|(a, c, _)| a.as_ref().is_some_and(|a| area.contains(a)) && category.is_none_or(|k| k == c))
                        .map(|(_, _, n)| u64::try_from(*n).unwrap_or(0))
                        .sum()
                };
                let (count, base) = (sum(&last_week, None), sum(&baseline, None));
                let flag = weekly::test(count, base);
                let mut categories: Vec<(String, u64, u64)> = last_week
                    .iter()
                    .filter(|(a, _, _)| a.as_ref().is_some_and(|a| area.contains(a)))
                    .map(|(_, c, _)| c.clone())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .map(|c| (c.clone(), sum(&last_week, Some(&c)), sum(&baseline, Some(&c))))
                    .collect();
                let excess = |(_, k, b): &(String, u64, u64)| *k as f64 - *b as f64 / f64::from(weekly::BASELINE_WEEKS);
                categories.sort_by(|a, b| excess(b).total_cmp(&excess(a)).then(a.0.cmp(&b.0)));
                let measures_here: Vec<Value> = running
                    .iter()
                    .filter(|(_, areas)| !areas.is_disjoint(&area))
                    .map(|(m, _)| serde_json::json!({ "id": m.id, "title": m.fields.title, "status": m.fields.status }))
                    .collect();
                let row = serde_json::json!({
                    "area": code,
                    "name": name,
                    "last_week": count,
                    "baseline_mean": flag.baseline_mean,
                    "p_value": flag.p_value,
                    "flagged": flag.flagged,
                    "categories": categories.iter().take(5).map(|(c, k, b)| serde_json::json!({
                        "category": c,
                        "last_week": k,
                        "baseline_mean": (*b as f64 / f64::from(weekly::BASELINE_WEEKS) * 100.0).round() / 100.0,
                    })).collect::<Vec<_>>(),
                    "measures": measures_here,
                });
                (flag.flagged, count, row)
            })
            .collect();
        rows.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
        Ok(serde_json::json!({
            "week": format!("{}-W{:02}", monday.iso_week().year(), monday.iso_week().week()),
            "from": monday.to_string(),
            "to": (next_monday - Days::new(1)).to_string(),
            "baseline": { "from": baseline_from.to_string(), "to": (monday - Days::new(1)).to_string(), "weeks": weekly::BASELINE_WEEKS },
            "test": format!(
                "flagged when last week's count is at least {} and P(X ≥ count) < {} for X ~ Poisson((baseline total + 0.5) / {})",
                weekly::MIN_FLAGGED, weekly::ALPHA, weekly::BASELINE_WEEKS
            ),
            "areas": rows.into_iter().map(|(_, _, row)| row).collect::<Vec<_>>(),
        }))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}
