//! Areas: import from GeoJSON (admins), listing as GeoJSON, and the reassignment jobs.

use super::db;
use crate::auth::{Admin, AnyRole, Auth, Coordinator};
use crate::db::queries::areas::{self as area_queries, AreaJob};
use crate::domain::areas::{geometry_json, simplified};
use crate::error::{ApiError, ApiResult};
use crate::startup::AppState;
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
        let imported = area_queries::import_collection(conn, &organisation_id, &body).map_err(|error| match error {
            area_queries::ImportError::Invalid(errors) => ApiError::Validation(errors),
            area_queries::ImportError::Database(error) => error.into(),
        })?;
        state.push_rules.forget(&organisation_id);
        Ok(imported)
    })
    .await?;
    if let Some(job) = job.clone() {
        spawn_job(state.clone(), job);
    }
    Ok(HttpResponse::Ok().json(json!({
        "created": counts.created,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "job": job.map(|job| job_view(&job)),
    })))
}

/// Runs a reassignment job to its end on the blocking pool, batch by batch, reading the areas
/// afresh for each batch so that a later change is never undone.
pub fn spawn_job(state: web::Data<AppState>, mut job: AreaJob) {
    tokio::task::spawn_blocking(move || {
        let mut failures = 0;
        loop {
            let step = state.conn().map_err(|e| anyhow::anyhow!(e)).and_then(|mut conn| {
                let index = area_queries::index(&mut conn, &job.organisation_id)?;
                let now = chrono::Utc::now().timestamp_millis();
                Ok(area_queries::run_batch(&mut conn, &mut job, &index, now)?)
            });
            match step {
                Ok(true) => failures = 0,
                Ok(false) => {
                    tracing::info!(job = %job.id, changed = job.changed, "areas reassigned");
                    return;
                }
                Err(error) => {
                    failures += 1;
                    tracing::warn!(job = %job.id, error = %format!("{error:#}"), "area reassignment failed; will retry");
                    if failures > 20 {
                        // Left `running`: the next start resumes it where it stopped.
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(500));
                }
            }
        }
    });
}

fn job_view(job: &AreaJob) -> Value {
    let ms = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(|at| at.to_rfc3339());
    json!({
        "id": job.id,
        "state": job.state,
        "total": job.total,
        "done": job.done,
        "changed": job.changed,
        "created_at": ms(job.created_at),
        "finished_at": job.finished_at.and_then(ms),
    })
}

/// `GET /api/v1/areas/jobs`
pub async fn jobs(state: web::Data<AppState>, auth: Auth<Coordinator>) -> ApiResult<HttpResponse> {
    let organisation_id = auth.organisation_id.clone();
    let jobs = db(&state, move |conn, _| Ok(area_queries::jobs(conn, &organisation_id)?)).await?;
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
