//! The caller's organisation: its settings, which admins change.

use super::json::{ApiJson, validated};
use crate::auth::{Admin, Auth, Coordinator};
use crate::db::models::OrganisationRow;
use crate::db::queries::organisations::{self, SettingsChange};
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, db};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use validator::Validate;

fn view(row: &OrganisationRow) -> Value {
    json!({
        "id": row.id,
        "slug": row.slug,
        "name": row.name,
        "time_zone": row.time_zone,
        "suppression_k": row.suppression_k,
        "assignment_title": row.assignment_title,
        "responsible": row.responsible,
    })
}

/// `GET /api/v1/organisation`
pub async fn get(state: web::Data<AppState>, auth: Auth<Coordinator>) -> ApiResult<HttpResponse> {
    let organisation_id = auth.organisation_id.clone();
    let row = db(&state, move |conn, _| Ok(crate::db::queries::organisations::by_id(conn, &organisation_id)?)).await?;
    Ok(HttpResponse::Ok().json(view(&row)))
}

/// The body of `PATCH /api/v1/organisation`; absent fields stay as they are.
#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct OrganisationChange {
    #[validate(length(max = 300, code = "too_long", message = "may have at most 300 characters"))]
    assignment_title: Option<String>,
    #[validate(length(max = 300, code = "too_long", message = "may have at most 300 characters"))]
    responsible: Option<String>,
    /// Partners' counts below this are suppressed.
    #[validate(range(min = 1, max = 100, code = "out_of_range", message = "must be 1 to 100"))]
    suppression_k: Option<i64>,
}

/// `PATCH /api/v1/organisation`: the follow-up report's heading and the partners' k.
pub async fn update(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    ApiJson(change): ApiJson<OrganisationChange>,
) -> ApiResult<HttpResponse> {
    validated(&change).map_err(ApiError::Validation)?;
    let k = change.suppression_k.and_then(|k| i32::try_from(k).ok());
    let organisation_id = auth.organisation_id.clone();
    let row = db(&state, move |conn, _| {
        let settings = SettingsChange {
            assignment_title: change.assignment_title.as_deref().map(|title| title.trim().to_owned()),
            responsible: change.responsible.as_deref().map(|responsible| responsible.trim().to_owned()),
            suppression_k: k,
        };
        organisations::update_settings(conn, &organisation_id, &settings)?;
        Ok(organisations::by_id(conn, &organisation_id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(&row)))
}
