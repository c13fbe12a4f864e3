//! `GET /api/v1/me`: who the caller is.

use crate::auth::{AnyRole, Auth};
use crate::db::queries::{organisations, units, users};
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, db};
use actix_web::{HttpResponse, web};
use serde_json::json;

/// The caller's user, unit, organisation and device.
pub async fn get(state: web::Data<AppState>, auth: Auth<AnyRole>) -> ApiResult<HttpResponse> {
    let caller = (*auth).clone();
    let body = db(&state, move |conn, _| {
        let user = users::by_id(conn, &caller.organisation_id, &caller.user_id)?.ok_or_else(ApiError::invalid_token)?;
        let organisation = organisations::by_id(conn, &caller.organisation_id)?;
        let unit = match &user.unit_id {
            Some(id) => units::by_id(conn, &caller.organisation_id, id)?,
            None => None,
        };
        Ok(json!({
            "id": user.id,
            "username": user.username,
            "display_name": user.display_name,
            "role": user.role,
            "unit": unit.map(|unit| json!({ "id": unit.id, "slug": unit.slug, "name": unit.name })),
            "organisation": {
                "id": organisation.id,
                "slug": organisation.slug,
                "name": organisation.name,
                "time_zone": organisation.time_zone,
            },
            "device_id": caller.device_id,
        }))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}
