//! Areas: import from GeoJSON and delete (admins), listing as GeoJSON, and the reassignment
//! jobs, which run on the blocking pool under this process's lease.

use crate::auth::{Admin, AnyRole, Auth, Coordinator};
use crate::db::queries::area_jobs::{self, AreaJob};
use crate::db::queries::areas as area_queries;
use crate::domain::FieldError;
use crate::domain::areas::{geometry_json, simplified};
use crate::domain::time::rfc3339_ms;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, db};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

/// `POST /api/v1/areas`: a GeoJSON FeatureCollection, all or nothing, idempotent by code.
pub async fn import(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    super::json::ApiJson(body): super::json::ApiJson<Value>,
) -> ApiResult<HttpResponse> {
    let organisation_id = auth.organisation_id.clone();
    let (counts, job) = db(&state, move |conn, state| {
        let lease = &state.area_job_lease;
        let imported =
            area_queries::import_collection(conn, &organisation_id, &body, lease).map_err(|error| match error {
                area_queries::ImportError::Invalid(errors) => ApiError::Validation(errors),
                area_queries::ImportError::Database(error) => error.into(),
            })?;
        state.push_rules.forget(&organisation_id);
        Ok(imported)
    })
    .await?;
    if let Some(job) = job.clone() {
        crate::jobs::run_area_job(&state, job);
    }
    Ok(HttpResponse::Ok().json(json!({
        "created": counts.created,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "job": job.map(|job| job_view(&job)),
    })))
}

/// `DELETE /api/v1/areas/{code}`: a soft delete. The area goes to phones as deleted, leaves the
/// list, and its records are placed again by a job (in its parent, another area, or outside).
pub async fn delete(state: web::Data<AppState>, auth: Auth<Admin>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let organisation_id = auth.organisation_id.clone();
    let code = path.into_inner();
    let job = db(&state, move |conn, state| {
        let now = chrono::Utc::now().timestamp_millis();
        let job =
            area_queries::delete(conn, &organisation_id, &code, now, &state.area_job_lease).map_err(delete_problem)?;
        state.push_rules.forget(&organisation_id);
        Ok(job)
    })
    .await?;
    crate::jobs::run_area_job(&state, job);
    Ok(HttpResponse::NoContent().finish())
}

/// The problem a refused delete answers with.
fn delete_problem(error: area_queries::DeleteError) -> ApiError {
    match error {
        area_queries::DeleteError::NotFound(code) => ApiError::Missing {
            code: "area_not_found",
            detail: format!("no area has the code `{code}`"),
            field: "code",
        },
        area_queries::DeleteError::HasChildren { code, children } => {
            let listed: Vec<String> = children.iter().map(|(child, _)| format!("`{child}`")).collect();
            ApiError::ConflictFields {
                code: "area_has_children",
                detail: format!(
                    "`{code}` is the parent of {}; delete those first, or import them with another parent",
                    listed.join(", ")
                ),
                errors: children
                    .iter()
                    .map(|(child, name)| {
                        FieldError::new("code", "area_has_children", format!("`{child}` ({name}) lies in `{code}`"))
                    })
                    .collect(),
            }
        }
        area_queries::DeleteError::Database(error) => error.into(),
    }
}

fn job_view(job: &AreaJob) -> Value {
    json!({
        "id": job.id,
        "state": job.state,
        "total": job.total,
        "done": job.done,
        "changed": job.changed,
        "created_at": rfc3339_ms(job.created_at),
        "finished_at": job.finished_at.map(rfc3339_ms),
    })
}

/// `GET /api/v1/areas/jobs`: newest first; `running`, `done`, or `superseded` by a newer job.
pub async fn jobs(state: web::Data<AppState>, auth: Auth<Coordinator>) -> ApiResult<HttpResponse> {
    let organisation_id = auth.organisation_id.clone();
    let jobs = db(&state, move |conn, _| Ok(area_jobs::list(conn, &organisation_id)?)).await?;
    Ok(HttpResponse::Ok().json(jobs.iter().map(job_view).collect::<Vec<_>>()))
}

/// Query of `GET /api/v1/areas`.
#[derive(Deserialize)]
pub struct ListQuery {
    /// Simplification tolerance in degrees (0.0001 ≈ 10 m at Swedish latitudes).
    simplify: Option<String>,
}

/// `GET /api/v1/areas`: the organisation's areas as a GeoJSON FeatureCollection.
pub async fn list(
    state: web::Data<AppState>,
    auth: Auth<AnyRole>,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let tolerance = match query.simplify.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(text) => Some(
            text.parse::<f64>()
                .ok()
                .filter(|t| t.is_finite() && (0.0..=1.0).contains(t))
                .ok_or_else(|| ApiError::field("simplify", "out_of_range", "a tolerance in degrees from 0 to 1"))?,
        ),
    };
    let organisation_id = auth.organisation_id.clone();
    let rows = db(&state, move |conn, _| Ok(area_queries::list(conn, &organisation_id)?)).await?;
    let features: Vec<Value> = rows
        .iter()
        .map(|row| {
            let geometry = match (tolerance, row.shape()) {
                (Some(t), Some(shape)) if t > 0.0 => simplified(&shape, t)
                    .and_then(|s| serde_json::from_str(&geometry_json(&s)).ok())
                    .unwrap_or_else(|| serde_json::from_str(&row.geometry).unwrap_or(Value::Null)),
                _ => serde_json::from_str(&row.geometry).unwrap_or(Value::Null),
            };
            json!({
                "type": "Feature",
                "id": row.code,
                "bbox": [row.min_lon, row.min_lat, row.max_lon, row.max_lat],
                "geometry": geometry,
                "properties": { "code": row.code, "name": row.name, "parent_code": row.parent_code, "vertices": row.vertices },
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "type": "FeatureCollection", "features": features })))
}
