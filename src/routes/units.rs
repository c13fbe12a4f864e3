//! Units: the reporting actors (field assistants, guards, the summer café…).

use super::json::ApiJson;
use crate::accounts;
use crate::auth::{Admin, AnyRole, Auth};
use crate::db::models::UnitRow;
use crate::db::queries::units;
use crate::domain::FieldErrors;
use crate::domain::identity::{Name, Slug};
use crate::domain::time::rfc3339_utc;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, db};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

/// A unit as the API shows it.
#[derive(Serialize)]
pub struct UnitView {
    id: String,
    slug: String,
    name: String,
    created_at: String,
}

impl From<UnitRow> for UnitView {
    fn from(row: UnitRow) -> Self {
        Self { id: row.id, slug: row.slug, name: row.name, created_at: rfc3339_utc(row.created_at) }
    }
}

/// `POST /api/v1/units`
#[derive(Deserialize)]
pub struct CreateUnit {
    slug: String,
    name: String,
}

/// `PATCH /api/v1/units/{id}`
#[derive(Deserialize)]
pub struct UpdateUnit {
    name: String,
}

/// Every unit of the caller's organisation.
pub async fn list(state: web::Data<AppState>, auth: Auth<AnyRole>) -> ApiResult<HttpResponse> {
    let organisation_id = auth.organisation_id.clone();
    let rows = db(&state, move |conn, _| Ok(units::list(conn, &organisation_id)?)).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(UnitView::from).collect::<Vec<_>>()))
}

/// One unit.
pub async fn get(state: web::Data<AppState>, auth: Auth<AnyRole>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let organisation_id = auth.organisation_id.clone();
    let row = db(&state, move |conn, _| units::by_id(conn, &organisation_id, &id)?.ok_or_else(not_found)).await?;
    Ok(HttpResponse::Ok().json(UnitView::from(row)))
}

/// Creates a unit.
pub async fn create(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    ApiJson(body): ApiJson<CreateUnit>,
) -> ApiResult<HttpResponse> {
    let mut errors = FieldErrors::default();
    let slug = errors.check(Slug::parse("slug", &body.slug));
    let name = errors.check(Name::parse("name", &body.name));
    errors.finish().map_err(ApiError::Validation)?;
    let (Some(slug), Some(name)) = (slug, name) else {
        return Err(ApiError::Internal(anyhow::anyhow!("checked fields are missing")));
    };
    let organisation_id = auth.organisation_id.clone();
    let row = db(&state, move |conn, _| Ok(accounts::create_unit(conn, &organisation_id, &slug, &name)?)).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/units/{}", row.id)))
        .json(UnitView::from(row)))
}

/// Renames a unit.
pub async fn update(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    id: web::Path<String>,
    ApiJson(body): ApiJson<UpdateUnit>,
) -> ApiResult<HttpResponse> {
    let name = Name::parse("name", &body.name).map_err(|e| ApiError::Validation(vec![e]))?;
    let organisation_id = auth.organisation_id.clone();
    let row = db(&state, move |conn, _| {
        if !units::rename(conn, &organisation_id, &id, name.as_str())? {
            return Err(not_found());
        }
        units::by_id(conn, &organisation_id, &id)?.ok_or_else(not_found)
    })
    .await?;
    Ok(HttpResponse::Ok().json(UnitView::from(row)))
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such unit".into())
}
