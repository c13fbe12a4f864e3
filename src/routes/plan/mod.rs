//! The action plan: problems coordinators mark from the picture, and the measures taken against
//! them. Coordinators and admins read and change them; every change is a new version, kept in
//! the item's history and written to the audit log.

use super::json::ApiJson;
use super::reports::actor;
use crate::auth::{Analyst, Auth, AuthUser, Coordinator};
use crate::db::queries::plan::{self, Change, Fields, Item, PlanError};
use crate::domain::FieldError;
use crate::domain::identity::Role;
use crate::domain::plan::{MeasureFields, ProblemFields};
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, db};
use actix_web::{HttpResponse, web};
use serde_json::{Map, Value};

pub mod figures;
mod weekly;

pub use figures::{measure_effect, measure_effort};
pub use weekly::weekly_picture;

fn rfc3339(ms: i64) -> Value {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or(Value::Null, |at| Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
}

/// A calendar date as the API writes it, `2026-03-04`.
fn rfc3339_date(date: chrono::NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
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
            PlanError::Forbidden => ApiError::Forbidden,
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
    auth: AuthUser,
    id: web::Path<String>,
    ApiJson(mut change): ApiJson<Map<String, Value>>,
    allowed: impl FnOnce(&mut crate::db::DbConnection, &Item<F>) -> Result<(), PlanError> + Send + 'static,
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
        plan::save_if::<F>(conn, &actor, Change::Update { id, change, expected_version }, allowed, now).map_err(
            |error| match error {
                PlanError::NotFound => not_found::<F>(),
                other => other.into(),
            },
        )
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
    update::<ProblemFields>(state, (*auth).clone(), id, body, |_, _| Ok(())).await
}

/// `GET /api/v1/problems/{id}/history`
pub async fn problem_history(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    history::<ProblemFields>(state, auth, id).await
}

/// The measures a partner sees: those shared with their unit or that their unit carries out,
/// without the problems behind them (the coordinators' own notes).
pub(super) fn for_partner(
    conn: &mut crate::db::DbConnection,
    caller: &AuthUser,
    items: Vec<Item<MeasureFields>>,
) -> ApiResult<Vec<Item<MeasureFields>>> {
    let Some(unit) = plan::unit_of(conn, &caller.organisation_id, &caller.user_id)? else { return Ok(Vec::new()) };
    Ok(items
        .into_iter()
        .filter(|item| item.fields.responsible_unit == unit || item.fields.shared_with.contains(&unit))
        .map(|mut item| {
            item.fields.problems.clear();
            item
        })
        .collect())
}

/// `GET /api/v1/measures`: coordinators and admins see every measure; a partner those shared
/// with their unit or carried out by it.
pub async fn list_measures(state: web::Data<AppState>, auth: Auth<Analyst>) -> ApiResult<HttpResponse> {
    let caller = (*auth).clone();
    let items = db(&state, move |conn, _| {
        let items = plan::list::<MeasureFields>(conn, &caller.organisation_id)?;
        if caller.role == Role::Partner { for_partner(conn, &caller, items) } else { Ok(items) }
    })
    .await?;
    Ok(HttpResponse::Ok().json(items.iter().map(view).collect::<Vec<_>>()))
}

/// `POST /api/v1/measures`
pub async fn create_measure(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    body: ApiJson<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    create::<MeasureFields>(state, auth, body).await
}

/// `GET /api/v1/measures/{id}`: as in the list; another partner's measure is 404.
pub async fn get_measure(
    state: web::Data<AppState>,
    auth: Auth<Analyst>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let caller = (*auth).clone();
    let item = db(&state, move |conn, _| {
        let item =
            plan::get::<MeasureFields>(conn, &caller.organisation_id, &id)?.ok_or_else(not_found::<MeasureFields>)?;
        if caller.role != Role::Partner {
            return Ok(item);
        }
        for_partner(conn, &caller, vec![item])?.pop().ok_or_else(not_found::<MeasureFields>)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(&item)))
}

/// `PATCH /api/v1/measures/{id}`: coordinators and admins change any field; a partner whose
/// unit carries the measure out marks it `ongoing` or `done` (its `status`, nothing else).
pub async fn update_measure(
    state: web::Data<AppState>,
    auth: Auth<Analyst>,
    id: web::Path<String>,
    body: ApiJson<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    let caller = (*auth).clone();
    if caller.role == Role::Partner {
        if let Some(key) = body.0.keys().find(|key| !matches!(key.as_str(), "status" | "version")) {
            return Err(ApiError::field(key, "not_for_partners", "a partner marks the status only"));
        }
        if !matches!(body.0.get("status").and_then(Value::as_str), Some("ongoing" | "done")) {
            return Err(ApiError::field("status", "not_for_partners", "a partner marks a measure ongoing or done"));
        }
        // Checked on the measure as it is when the change is written, locked with it.
        let (org, user) = (caller.organisation_id.clone(), caller.user_id.clone());
        return update::<MeasureFields>(state, caller, id, body, move |conn, item| {
            let unit = plan::unit_of(conn, &org, &user)?;
            if unit.as_deref() == Some(item.fields.responsible_unit.as_str()) {
                Ok(())
            } else if unit.is_some_and(|unit| item.fields.shared_with.contains(&unit)) {
                Err(PlanError::Forbidden)
            } else {
                Err(PlanError::NotFound)
            }
        })
        .await;
    }
    update::<MeasureFields>(state, caller, id, body, |_, _| Ok(())).await
}

/// `GET /api/v1/measures/{id}/history`
pub async fn measure_history(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    history::<MeasureFields>(state, auth, id).await
}
