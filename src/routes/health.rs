//! Liveness, readiness and metrics.

use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use serde_json::json;

/// The process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The database answers and every migration is applied; 503 otherwise.
pub async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let state = state.clone();
    let pending = web::block(move || -> Result<Vec<String>, ApiError> {
        let mut conn = state.conn()?;
        db::ping(&mut conn).map_err(|error| ApiError::Unavailable(format!("the database does not answer: {error}")))?;
        db::probe_write(&mut conn)
            .map_err(|error| ApiError::Unavailable(format!("the database does not accept writes: {error}")))?;
        db::pending_migrations(&mut conn).map_err(|error| ApiError::Unavailable(format!("{error:#}")))
    })
    .await??;
    if pending.is_empty() {
        Ok(HttpResponse::Ok().json(json!({ "status": "ready" })))
    } else {
        Err(ApiError::Unavailable(format!("migrations pending: {}", pending.join(", "))))
    }
}

/// Prometheus exposition.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render(&state.pool))
}
