//! The offline-sync protocol: info, pull and push (WatermelonDB's wire format with per-record
//! results), and the quarantine list for coordinators.

use super::json::RecordsJson;
use crate::auth::{AnyRole, Auth, Authenticator, Coordinator};
use crate::db::queries::push_rules;
use crate::db::queries::sync_pull::{self, PullRequest};
use crate::db::queries::{devices, users};
use crate::domain::identity::Role;
use crate::domain::push::{PushContext, RecordResult, Status, TableChanges};
use crate::domain::records::EARLIEST_MS;
use crate::domain::sync::{PROTOCOL_VERSION, PageToken, SCHEMA_VERSION_MAX, SCHEMA_VERSION_MIN};
use crate::domain::time::rfc3339_ms;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, db};
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// `GET /api/v1/sync/info`: what this server speaks and accepts.
pub async fn info(state: web::Data<AppState>) -> HttpResponse {
    let settings = &state.settings;
    HttpResponse::Ok().json(json!({
        "protocol_version": PROTOCOL_VERSION,
        "schema_versions": { "min": SCHEMA_VERSION_MIN, "max": SCHEMA_VERSION_MAX },
        "max_push_bytes": settings.max_push_bytes,
        "max_push_records": settings.max_push_records,
        "max_pull_limit": settings.max_pull_limit,
        "tombstone_horizon_days": settings.tombstone_horizon_days,
        "photos": {
            "accepted_types": crate::photos::image::ACCEPTED_TYPES,
            "max_bytes": settings.photo_max_bytes,
            "max_pixels": settings.photo_max_pixels,
            "max_edge": settings.photo_max_edge,
            "per_observation": settings.photos_per_observation,
            "chunk_bytes": settings.photo_chunk_bytes,
        },
    }))
}

/// Query parameters of a pull (all text, parsed here so every failure names its parameter).
#[derive(Deserialize)]
pub struct PullQuery {
    last_pulled_at: Option<String>,
    schema_version: Option<String>,
    limit: Option<String>,
    page_token: Option<String>,
}

/// Query parameters of a push.
#[derive(Deserialize)]
pub struct PushQuery {
    last_pulled_at: Option<String>,
    schema_version: Option<String>,
}

/// `null`, empty or absent mean "never pulled"; otherwise a non-negative integer.
fn cursor(value: Option<&str>) -> ApiResult<Option<i64>> {
    match value.map(str::trim) {
        None | Some("") | Some("null") | Some("0") => Ok(None),
        Some(text) => text.parse::<i64>().ok().filter(|n| *n >= 0).map(Some).ok_or_else(|| {
            ApiError::field("last_pulled_at", "invalid_cursor", "must be a timestamp from an earlier pull, or null")
        }),
    }
}

/// The app schema version a request names, checked; the newest served when it names none.
fn check_schema_version(value: Option<&str>) -> ApiResult<i64> {
    let Some(text) = value else { return Ok(SCHEMA_VERSION_MAX) };
    let version: i64 =
        text.trim().parse().map_err(|_| ApiError::field("schema_version", "invalid_type", "must be an integer"))?;
    if (SCHEMA_VERSION_MIN..=SCHEMA_VERSION_MAX).contains(&version) {
        Ok(version)
    } else {
        Err(ApiError::UpgradeRequired(format!(
            "schema version {version} is not served; this server serves {SCHEMA_VERSION_MIN} to {SCHEMA_VERSION_MAX}: update the app, then sync again"
        )))
    }
}

/// The device's clock (`X-Client-Time`, ms) and queue depth (`X-Pending-Count`).
fn device_headers(req: &HttpRequest, now_ms: i64) -> (Option<i64>, Option<i64>) {
    let header =
        |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
    let skew = header("x-client-time").filter(|t| *t > EARLIEST_MS).map(|client| now_ms - client);
    let pending = header("x-pending-count").filter(|n| *n >= 0);
    (skew, pending)
}

/// Notes a coordinator's or an admin's pull page that hands out records (other people's notes and
/// positions) in the audit log: one entry per page, with the number of records. A field user's
/// pull holds only their own records, a partner's none.
fn audit_pull(
    conn: &mut crate::db::DbConnection,
    actor: &crate::db::queries::audit::Actor,
    page: &sync_pull::PullPage,
    device_id: &str,
    cursor: Option<&str>,
) -> ApiResult<()> {
    let records: usize = ["observations", "activity_logs"]
        .iter()
        .filter_map(|table| page.changes.get(*table))
        .flat_map(|changes| ["created", "updated"].map(|bucket| &changes[bucket]))
        .filter_map(serde_json::Value::as_array)
        .map(Vec::len)
        .sum();
    if records == 0 {
        return Ok(());
    }
    let mut filters = serde_json::Map::new();
    filters.insert("device_id".into(), device_id.into());
    filters.insert("last_pulled_at".into(), cursor.unwrap_or("null").into());
    let event = crate::db::queries::audit::Event { action: "read.sync_pull", format: None, filters };
    crate::db::queries::audit::record_complete(conn, actor, event, records, chrono::Utc::now().timestamp_millis())?;
    Ok(())
}

/// `GET /api/v1/sync/pull`
pub async fn pull(
    req: HttpRequest,
    state: web::Data<AppState>,
    authenticator: web::Data<Authenticator>,
    auth: Auth<AnyRole>,
    query: web::Query<PullQuery>,
) -> ApiResult<HttpResponse> {
    let schema_version = check_schema_version(query.schema_version.as_deref())?;
    let cursor = cursor(query.last_pulled_at.as_deref())?;
    let settings = &state.settings;
    let limit = match query.limit.as_deref() {
        None | Some("") => settings.default_pull_limit,
        Some(text) => {
            text.parse::<i64>().ok().filter(|n| (1..=settings.max_pull_limit).contains(n)).ok_or_else(|| {
                ApiError::field("limit", "out_of_range", format!("must be between 1 and {}", settings.max_pull_limit))
            })?
        }
    };
    let token = match query.page_token.as_deref().filter(|t| !t.is_empty()) {
        Some(text) => Some(PageToken::decode(text).ok_or_else(|| {
            ApiError::field(
                "page_token",
                "invalid_page_token",
                "not a page token from this server; start the pull again",
            )
        })?),
        None => None,
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    let (skew, pending) = device_headers(&req, now_ms);
    let request = PullRequest {
        organisation_id: auth.organisation_id.clone(),
        user_id: auth.user_id.clone(),
        sees_all: matches!(auth.role, Role::Coordinator | Role::Admin),
        receives_records: auth.role != Role::Partner,
        device_id: auth.device_id.clone(),
        schema_version,
        cursor,
        limit,
        token,
    };
    authenticator.activity.pulled(&auth.organisation_id, &auth.device_id, crate::db::now(), skew, pending);
    let zstd = accepts_zstd(&req);
    let actor = super::reports::actor(&auth);
    let audited_cursor = query.last_pulled_at.clone();
    let (body, compressed) = db(&state, move |conn, _| {
        let page = sync_pull::pull(conn, &request, sync_pull::needs_replacement)?;
        if request.sees_all {
            audit_pull(conn, &actor, &page, &request.device_id, audited_cursor.as_deref())?;
        }
        if !page.has_more {
            let scope = users::scope_version(conn, &request.user_id)?;
            devices::record_scope(
                conn,
                &request.organisation_id,
                &request.device_id,
                &request.user_id,
                scope,
                request.schema_version,
            )?;
        }
        // Serialised here, on the blocking pool, straight from the page: a large first sync
        // is neither copied into another JSON tree nor written out on an HTTP worker.
        let answer = PullAnswer {
            changes: &page.changes,
            timestamp: page.timestamp,
            has_more: page.has_more,
            page_token: page.page_token.as_deref(),
            server_time_ms: chrono::Utc::now().timestamp_millis(),
            strategy: page.replacement.then_some("replacement"),
        };
        let json = serde_json::to_vec(&answer).map_err(|error| ApiError::Internal(error.into()))?;
        if zstd && json.len() >= PULL_ZSTD_MIN_BYTES {
            let compressed = zstd::bulk::compress(&json, PULL_ZSTD_LEVEL).map_err(|e| ApiError::Internal(e.into()))?;
            return Ok((compressed, true));
        }
        Ok((json, false))
    })
    .await?;
    let mut response = HttpResponse::Ok();
    response.content_type(ContentType::json()).insert_header((header::VARY, "accept-encoding"));
    if compressed {
        // Already encoded: the compression middleware passes it through as it is.
        response.insert_header((header::CONTENT_ENCODING, "zstd"));
    }
    Ok(response.body(body))
}

/// Pull pages at least this large are compressed here, with zstd at [`PULL_ZSTD_LEVEL`], when the
/// client accepts it. A first sync is the largest answer a phone receives, often over a poor
/// connection: a higher level than the middleware's default saves about a sixth of its bytes
/// for a few milliseconds, spent on the blocking pool rather than an HTTP worker.
const PULL_ZSTD_MIN_BYTES: usize = 64 * 1024;
const PULL_ZSTD_LEVEL: i32 = 6;

/// Whether the request's `Accept-Encoding` lists zstd (with a non-zero weight).
fn accepts_zstd(req: &HttpRequest) -> bool {
    req.headers().get_all(header::ACCEPT_ENCODING).filter_map(|value| value.to_str().ok()).any(|value| {
        value.split(',').any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            parts.next().is_some_and(|name| name.eq_ignore_ascii_case("zstd"))
                && parts.all(|param| param.strip_prefix("q=").is_none_or(|q| q.parse::<f32>().is_ok_and(|q| q > 0.0)))
        })
    })
}

/// One page of a pull.
#[derive(Serialize)]
struct PullAnswer<'a> {
    changes: &'a Map<String, Value>,
    timestamp: i64,
    has_more: bool,
    page_token: Option<&'a str>,
    server_time_ms: i64,
    /// `replacement` when the page replaces everything the device holds.
    #[serde(rename = "experimentalStrategy", skip_serializing_if = "Option::is_none")]
    strategy: Option<&'static str>,
}

/// Reads the push body's tables, refusing a wrong shape by field and too many records by 413.
fn tables_of(body: Map<String, Value>, max_records: usize) -> ApiResult<Vec<(String, TableChanges)>> {
    let mut tables = Vec::new();
    let mut count = 0usize;
    for (table, changes) in body {
        let Value::Object(mut changes) = changes else {
            return Err(ApiError::field(&table, "invalid_type", "must be an object of created, updated and deleted"));
        };
        let mut list = |key: &str| -> ApiResult<Vec<Value>> {
            match changes.remove(key) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => Ok(items),
                Some(_) => Err(ApiError::field(&format!("{table}.{key}"), "invalid_type", "must be an array")),
            }
        };
        let parsed = TableChanges { created: list("created")?, updated: list("updated")?, deleted: list("deleted")? };
        count += parsed.created.len() + parsed.updated.len() + parsed.deleted.len();
        tables.push((table, parsed));
    }
    if count > max_records {
        return Err(ApiError::TooManyRecords { limit: max_records, count });
    }
    Ok(tables)
}

/// `POST /api/v1/sync/push`
pub async fn push(
    req: HttpRequest,
    state: web::Data<AppState>,
    authenticator: web::Data<Authenticator>,
    auth: Auth<AnyRole>,
    query: web::Query<PushQuery>,
    RecordsJson(body): RecordsJson<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    check_schema_version(query.schema_version.as_deref())?;
    let cursor = cursor(query.last_pulled_at.as_deref())?;
    let tables = tables_of(body, state.settings.max_push_records)?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let (skew, pending) = device_headers(&req, now_ms);
    let caller = (*auth).clone();
    let context = PushContext {
        organisation_id: caller.organisation_id,
        user_id: caller.user_id,
        role: caller.role,
        device_id: caller.device_id,
        cursor,
        now_ms,
        clock_skew_ms: skew,
        skew_tolerance_ms: state.settings.clock_skew_tolerance_ms,
        pending_count: pending,
        photo_rules: crate::domain::attachments::PhotoRules::from(&state.settings),
    };
    // Reading, validation and redaction run here, beside other requests; the writer only stores.
    let prepared =
        db(&state, move |conn, state| Ok(push_rules::prepare_with(conn, Some(&state.push_rules), context, tables)?))
            .await?;
    let (organisation_id, device_id) = (prepared.context.organisation_id.clone(), prepared.context.device_id.clone());
    let results = state.group_commit.push(prepared).await.map_err(ApiError::Internal)?;
    authenticator.activity.pushed(&organisation_id, &device_id, crate::db::now(), skew, pending);
    let mut rejected: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for result in results.iter().filter(|result| result.status == Status::Conflict) {
        rejected.entry(&result.table).or_default().push(&result.id);
    }
    Ok(HttpResponse::Ok().json(PushAnswer {
        rejected,
        results: &results,
        server_time_ms: chrono::Utc::now().timestamp_millis(),
    }))
}

/// The answer to a push.
#[derive(Serialize)]
struct PushAnswer<'a> {
    /// Conflicting records by table: WatermelonDB keeps these unsynced and pulls.
    #[serde(rename = "experimentalRejectedIds")]
    rejected: BTreeMap<&'a str, Vec<&'a str>>,
    results: &'a [RecordResult],
    server_time_ms: i64,
}

/// `GET /api/v1/sync/quarantine`: pushed records that could not be accepted, newest first.
pub async fn quarantine(state: web::Data<AppState>, auth: Auth<Coordinator>) -> ApiResult<HttpResponse> {
    let organisation_id = auth.organisation_id.clone();
    let entries = db(&state, move |conn, _| {
        let rows = sync_pull::quarantine_list(conn, &organisation_id, 1000)?;
        Ok(rows
            .into_iter()
            .map(|(row, username)| {
                json!({
                    "table": row.table_name,
                    "id": row.record_id,
                    "user_id": row.user_id,
                    "username": username,
                    "device_id": row.device_id,
                    "payload": serde_json::from_str::<Value>(&row.payload).unwrap_or(Value::Null),
                    "errors": serde_json::from_str::<Value>(&row.errors).unwrap_or(Value::Null),
                    "received_at": rfc3339_ms(row.received_at),
                    "resolved": row.resolved_at.is_some(),
                    "resolved_at": row.resolved_at.map(rfc3339_ms),
                    "resolution": row.resolution,
                })
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(HttpResponse::Ok().json(entries))
}
