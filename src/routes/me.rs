//! `GET /api/v1/me`: who the caller is, on which device; `PATCH /api/v1/me/device`: the caller
//! names the device they are on.

use super::json::ApiJson;
use crate::auth::{AnyRole, Auth};
use crate::db::models::DeviceRow;
use crate::db::queries::{devices, organisations, units, users};
use crate::domain::identity::Name;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, db};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

/// The device as its own user sees it.
fn device_view(id: &str, row: Option<DeviceRow>) -> Value {
    json!({
        "id": id,
        "name": row.as_ref().map(|row| row.name.as_str()),
        "label": row.as_ref().and_then(|row| row.label.as_deref()),
        "kind": row.as_ref().map(|row| row.kind.as_str()),
        "platform": row.as_ref().and_then(|row| row.platform.as_deref()),
    })
}

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
        let device = devices::by_id(conn, &caller.organisation_id, &caller.device_id)?;
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
            "device": device_view(&caller.device_id, device),
        }))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `PATCH /api/v1/me/device`: `"label": null` clears the label.
#[derive(Deserialize)]
pub struct DeviceLabel {
    #[serde(default, deserialize_with = "super::json::present")]
    label: Option<Option<String>>,
}

/// Sets the label of the caller's own device ("Annas tjänstetelefon"), so the people who manage
/// devices can tell a lost phone from the rest.
pub async fn label_device(
    state: web::Data<AppState>,
    auth: Auth<AnyRole>,
    ApiJson(body): ApiJson<DeviceLabel>,
) -> ApiResult<HttpResponse> {
    let label = match body.label {
        None => return Err(ApiError::field("label", "required", "give a label, or null to clear it")),
        Some(None) => None,
        Some(Some(text)) => Some(Name::parse("label", &text).map_err(|error| ApiError::Validation(vec![error]))?),
    };
    let caller = (*auth).clone();
    let body = db(&state, move |conn, _| {
        let label = label.as_ref().map(Name::as_str);
        if !devices::set_label(conn, &caller.organisation_id, &caller.device_id, label)? {
            return Err(ApiError::invalid_token());
        }
        let device = devices::by_id(conn, &caller.organisation_id, &caller.device_id)?;
        Ok(device_view(&caller.device_id, device))
    })
    .await?;
    tracing::info!(device_id = %auth.device_id, "device labelled");
    Ok(HttpResponse::Ok().json(body))
}
