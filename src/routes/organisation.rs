//! The caller's organisation: its settings, which admins change.

use super::json::ApiJson;
use crate::auth::{Admin, Auth, Coordinator};
use crate::db::models::OrganisationRow;
use crate::db::queries::organisations::{self, SettingsChange};
use crate::domain::FieldError;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, db};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

/// The longest title or responsible name accepted, in characters.
const MAX_TEXT_CHARS: usize = 300;

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
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganisationChange {
    assignment_title: Option<String>,
    responsible: Option<String>,
    suppression_k: Option<i64>,
}

/// `PATCH /api/v1/organisation`: the follow-up report's heading and the partners' k.
pub async fn update(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    ApiJson(change): ApiJson<OrganisationChange>,
) -> ApiResult<HttpResponse> {
    let mut errors = Vec::new();
    for (field, value) in [("assignment_title", &change.assignment_title), ("responsible", &change.responsible)] {
        if value.as_ref().is_some_and(|v| v.chars().count() > MAX_TEXT_CHARS) {
            errors.push(FieldError::new(field, "too_long", format!("may have at most {MAX_TEXT_CHARS} characters")));
        }
    }
    let k = match change.suppression_k {
        Some(k) if !(1..=100).contains(&k) => {
            errors.push(FieldError::new("suppression_k", "out_of_range", "must be 1 to 100"));
            None
        }
        Some(k) => i32::try_from(k).ok(),
        None => None,
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
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
