//! Middleware: the request id and access log, metrics, and the body limit decided from
//! `Content-Length` before the body is read.

use crate::error::{ApiError, REQUEST_ID};
use crate::state::AppState;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use std::time::Instant;

/// The header that carries the request id both ways.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Gives every request an id (the caller's, if it is a sane one), logs one line per request,
/// counts it in the metrics, and returns the id in `X-Request-Id`.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let request_id = req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| {
            (1..=64).contains(&value.len())
                && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let mut response = REQUEST_ID.scope(request_id.clone(), next.call(req)).await?;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    if let Some(state) = state {
        state.metrics.observe(&method, &route, status, seconds);
    }
    tracing::info!(
        request_id = %request_id,
        method = %method,
        route = %route,
        path = %path,
        status,
        latency_ms = (seconds * 1000.0 * 100.0).round() / 100.0,
        "request"
    );
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Ok(response)
}

/// Every answer of the API (`/api/`) carries `Cache-Control: no-store` unless its handler chose
/// otherwise: records, exports, reports, tokens, `/me` and the audit log are personal data, and no
/// browser, proxy or shared cache may keep a copy. Pages and static files keep their own policy.
pub async fn never_cache_the_api(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let api = req.path().starts_with("/api/");
    let mut response = next.call(req).await?;
    if api && !response.headers().contains_key(header::CACHE_CONTROL) {
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

/// The largest area import: 50,000 vertices as GeoJSON text with room for properties.
pub const MAX_AREAS_BYTES: usize = 16 * 1024 * 1024;

/// The largest body a route accepts: pushes and area imports may be larger than the rest of the
/// JSON API.
pub fn body_limit(req: &actix_web::HttpRequest) -> usize {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return 1024 * 1024;
    };
    match req.path() {
        "/api/v1/sync/push" => state.settings.max_push_bytes,
        "/api/v1/areas" => MAX_AREAS_BYTES.max(state.settings.max_body_bytes),
        path if path.starts_with("/api/v1/uploads/") => state.settings.photo_chunk_bytes,
        _ => state.settings.max_body_bytes,
    }
}

/// Refuses a URL whose path or query holds U+0000 (`%00`), naming the parameter (or `path`):
/// no backend is asked to store or compare it, for every route alike. Bodies are checked by
/// [`super::json::ApiJson`].
pub async fn refuse_nul_in_url(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let uri = req.uri();
    let field = if uri.path().contains("%00") {
        Some("path".to_owned())
    } else {
        uri.query().and_then(|query| {
            query.split('&').find(|pair| pair.contains("%00")).map(|pair| {
                let name = pair.split_once('=').map_or(pair, |(name, _)| name);
                if name.contains("%00") || name.is_empty() { "query".to_owned() } else { name.to_owned() }
            })
        })
    };
    if let Some(field) = field {
        let response = req.error_response(super::json::nul_error(&field));
        return Ok(response.map_into_right_body());
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

/// Answers 413 from `Content-Length` alone, before a byte of an oversized body is read, so the
/// client gets a readable answer instead of a reset connection.
pub async fn limit_body(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let limit = body_limit(req.request());
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        let mut response = req.error_response(ApiError::PayloadTooLarge { limit });
        // The unread body cannot be reused as the next request: close after answering.
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        return Ok(response.map_into_right_body());
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}
