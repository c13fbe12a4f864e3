//! Feedback (återkoppling) to the people who report: coordinators and admins write it on areas
//! or a measure; everyone in the organisation but partners reads it, here and on their phones
//! (the `feedback` table of the sync protocol).

use super::json::ApiJson;
use super::reports::actor;
use crate::auth::{Auth, Coordinator, Reporter};
use crate::db::queries::feedback::{self, FeedbackError, FeedbackRow, Write};
use crate::domain::feedback::FeedbackFields;
use crate::domain::plan::read;
use crate::domain::time::rfc3339_ms;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, db};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// A feedback as the API shows it.
fn view(row: &FeedbackRow) -> Value {
    json!({
        "id": row.id,
        "body": row.body,
        "areas": row.area_codes(),
        "measure": row.measure_id,
        "measure_title": row.measure_title,
        "created_by": row.created_by,
        "created_at": rfc3339_ms(row.created_at),
        "updated_by": row.updated_by,
        "updated_at": rfc3339_ms(row.updated_at),
    })
}

impl From<FeedbackError> for ApiError {
    fn from(error: FeedbackError) -> Self {
        match error {
            FeedbackError::Invalid(errors) => ApiError::Validation(errors),
            FeedbackError::NotFound => ApiError::NotFound("no such feedback".into()),
            FeedbackError::Db(error) => ApiError::from(error),
        }
    }
}

/// The filters of the list.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    area: Option<String>,
    measure: Option<String>,
}

/// `GET /api/v1/feedback`: the organisation's feedback, newest first.
pub async fn list(
    state: web::Data<AppState>,
    auth: Auth<Reporter>,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let org = auth.organisation_id.clone();
    let ListQuery { area, measure } = query.into_inner();
    let rows = db(&state, move |conn, _| Ok(feedback::list(conn, &org, area.as_deref(), measure.as_deref())?)).await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(view).collect::<Vec<_>>()))
}

/// `GET /api/v1/feedback/{id}`
pub async fn get(state: web::Data<AppState>, auth: Auth<Reporter>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let org = auth.organisation_id.clone();
    let row = db(&state, move |conn, _| {
        feedback::get(conn, &org, &id)?.ok_or_else(|| ApiError::NotFound("no such feedback".into()))
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(&row)))
}

/// `POST /api/v1/feedback`
pub async fn create(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    let fields: FeedbackFields = read(Value::Object(body)).map_err(|error| ApiError::Validation(vec![error]))?;
    let fields = fields.checked().map_err(ApiError::Validation)?;
    let actor = actor(&auth);
    let now = chrono::Utc::now().timestamp_millis();
    let row = db(&state, move |conn, _| Ok(feedback::write(conn, &actor, Write::Create(fields), now)?)).await?;
    Ok(HttpResponse::Created().insert_header(("Location", format!("/api/v1/feedback/{}", row.id))).json(view(&row)))
}

/// `PATCH /api/v1/feedback/{id}`: a new body or areas (the last change wins).
pub async fn update(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    id: web::Path<String>,
    ApiJson(change): ApiJson<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    let actor = actor(&auth);
    let now = chrono::Utc::now().timestamp_millis();
    let id = id.into_inner();
    let row = db(&state, move |conn, _| Ok(feedback::write(conn, &actor, Write::Update { id, change }, now)?)).await?;
    Ok(HttpResponse::Ok().json(view(&row)))
}

/// `DELETE /api/v1/feedback/{id}`: gone from the list and, at their next sync, from the phones.
pub async fn delete(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let actor = actor(&auth);
    let now = chrono::Utc::now().timestamp_millis();
    let id = id.into_inner();
    db(&state, move |conn, _| Ok(feedback::write(conn, &actor, Write::Delete { id }, now)?)).await?;
    Ok(HttpResponse::NoContent().finish())
}
