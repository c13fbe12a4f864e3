//! Observations and activity logs for the dashboard: lists with filters and keyset pages, one
//! record, its history, and a coordinator's review.

use super::json::ApiJson;
use super::params;
use crate::auth::{Auth, Coordinator, Reporter};
use crate::db::models::HistoryRow;
use crate::db::queries::records::{self, RecordFilter};
use crate::db::queries::{audit, history};
use crate::domain::identity::Role;
use crate::domain::push::merge::Reviewer;
use crate::domain::records::parse_review;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, db};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Filters of `GET /api/v1/observations` and `GET /api/v1/activities`.
#[derive(Deserialize, Default)]
pub struct ListQuery {
    /// From this time: RFC 3339, a date (`2024-05-01`, UTC) or ms since the epoch.
    from: Option<String>,
    /// Until this time, exclusive; same forms.
    to: Option<String>,
    /// Category slugs, comma-separated (observations).
    category: Option<String>,
    /// Activity type slugs, comma-separated (activities).
    activity_type: Option<String>,
    /// Review statuses, comma-separated (observations).
    status: Option<String>,
    /// Area code.
    area: Option<String>,
    /// Unit slug.
    unit: Option<String>,
    /// Page size, 1–1000 (default 100).
    limit: Option<String>,
    /// The `next` value of the previous page.
    after: Option<String>,
}

impl ListQuery {
    fn filter(&self, caller_is_field: bool, user_id: &str, kinds: Option<&str>) -> ApiResult<RecordFilter> {
        let limit = params::limit(self.limit.as_deref())?;
        let before = params::after(self.after.as_deref())?;
        Ok(RecordFilter {
            user_id: caller_is_field.then(|| user_id.to_owned()),
            from: params::optional_instant("from", self.from.as_deref())?,
            to: params::optional_instant("to", self.to.as_deref())?,
            kinds: params::list(kinds),
            statuses: params::list(self.status.as_deref()),
            area: self.area.clone().filter(|a| !a.is_empty()),
            unit: params::optional_slug("unit", self.unit.as_deref())?,
            before,
            limit,
        })
    }
}

impl ListQuery {
    /// The filters as the audit log keeps them.
    fn described(&self) -> Map<String, Value> {
        [
            ("from", &self.from),
            ("to", &self.to),
            ("category", &self.category),
            ("status", &self.status),
            ("area", &self.area),
            ("unit", &self.unit),
            ("after", &self.after),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| (name.to_owned(), json!(v))))
        .collect()
    }
}

fn page(
    items: Vec<Map<String, Value>>,
    limit: i64,
    key: impl Fn(&Map<String, Value>) -> (i64, String),
) -> HttpResponse {
    let next = (items.len() as i64 == limit)
        .then(|| {
            items.last().map(|last| {
                let (t, id) = key(last);
                params::encode_after(t, &id)
            })
        })
        .flatten();
    HttpResponse::Ok().json(json!({ "items": items, "next": next }))
}

fn observation_view(row: &crate::domain::stored::Observation) -> Map<String, Value> {
    let mut raw = row.to_raw();
    raw.remove("sync_error");
    raw.remove("sync_errors");
    raw.insert("reviewed_by".into(), json!(row.reviewed_by));
    raw.insert("reviewed_at".into(), json!(row.reviewed_at));
    raw.insert("device_id".into(), json!(row.device_id));
    raw
}

fn activity_view(row: &crate::domain::stored::ActivityLog) -> Map<String, Value> {
    let mut raw = row.to_raw();
    raw.remove("sync_error");
    raw.remove("sync_errors");
    raw.insert("device_id".into(), json!(row.device_id));
    raw
}

fn key_of(time_field: &'static str) -> impl Fn(&Map<String, Value>) -> (i64, String) {
    move |item| (item[time_field].as_i64().unwrap_or_default(), item["id"].as_str().unwrap_or_default().to_owned())
}

/// `GET /api/v1/observations`
pub async fn list_observations(
    state: web::Data<AppState>,
    auth: Auth<Reporter>,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let filter = query.filter(auth.role == Role::Field, &auth.user_id, query.category.as_deref())?;
    let caller = (*auth).clone();
    let limit = filter.limit;
    let described = query.described();
    let rows = db(&state, move |conn, _| {
        let rows = records::list_observations(conn, &caller.organisation_id, &filter)?;
        audit_read(conn, &caller, "read.observations", described, rows.len())?;
        Ok(rows)
    })
    .await?;
    Ok(page(rows.iter().map(observation_view).collect(), limit, key_of("observed_at")))
}

/// `GET /api/v1/activities`
pub async fn list_activities(
    state: web::Data<AppState>,
    auth: Auth<Reporter>,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let filter = query.filter(auth.role == Role::Field, &auth.user_id, query.activity_type.as_deref())?;
    let organisation_id = auth.organisation_id.clone();
    let limit = filter.limit;
    let rows = db(&state, move |conn, _| Ok(records::list_activities(conn, &organisation_id, &filter)?)).await?;
    Ok(page(rows.iter().map(activity_view).collect(), limit, key_of("started_at")))
}

/// Notes a read of raw observations by anyone but their reporter in the audit log; a field
/// user reading their own records is not audited.
fn audit_read(
    conn: &mut crate::db::DbConnection,
    caller: &crate::auth::AuthUser,
    action: &'static str,
    filters: Map<String, Value>,
    rows: usize,
) -> ApiResult<()> {
    if caller.role == Role::Field {
        return Ok(());
    }
    let event = audit::Event { action, format: None, filters };
    audit::record_complete(conn, &super::reports::actor(caller), event, rows, chrono::Utc::now().timestamp_millis())?;
    Ok(())
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such record".into())
}

/// `GET /api/v1/observations/{id}`
pub async fn get_observation(
    state: web::Data<AppState>,
    auth: Auth<Reporter>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let caller = (*auth).clone();
    let row = db(&state, move |conn, _| {
        let row = records::observation(conn, &caller.organisation_id, &id)?
            .filter(|row| caller.may_read_record_of(&row.user_id))
            .ok_or_else(not_found)?;
        let mut described = Map::new();
        described.insert("id".into(), json!(row.id));
        audit_read(conn, &caller, "read.observation", described, 1)?;
        Ok(row)
    })
    .await?;
    Ok(HttpResponse::Ok().json(observation_view(&row)))
}

/// `GET /api/v1/activities/{id}`
pub async fn get_activity(
    state: web::Data<AppState>,
    auth: Auth<Reporter>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let caller = (*auth).clone();
    let row = db(&state, move |conn, _| {
        records::activity(conn, &caller.organisation_id, &id)?
            .filter(|row| caller.may_read_record_of(&row.user_id))
            .ok_or_else(not_found)
    })
    .await?;
    Ok(HttpResponse::Ok().json(activity_view(&row)))
}

/// `PATCH /api/v1/observations/{id}`: a coordinator sets the review status and comment.
pub async fn review_observation(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    id: web::Path<String>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    let change = parse_review(&body).map_err(ApiError::Validation)?;
    let caller = (*auth).clone();
    let row = db(&state, move |conn, _| {
        let reviewer = Reviewer {
            user_id: &caller.user_id,
            device_id: &caller.device_id,
            now_ms: chrono::Utc::now().timestamp_millis(),
        };
        records::review(conn, &caller.organisation_id, &[id.as_str()], &change, &reviewer)?
            .pop()
            .flatten()
            .map(|(row, _)| row)
            .ok_or_else(not_found)
    })
    .await?;
    Ok(HttpResponse::Ok().json(observation_view(&row)))
}

/// The most observations one bulk review takes.
const MAX_BULK_REVIEW: usize = 1000;

/// `POST /api/v1/observations/review`: the same review for a selection of observations (the ones
/// the coordinator saw, by id), all or nothing, each with its own history entry.
pub async fn review_observations(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    ApiJson(mut body): ApiJson<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    let ids = selection(body.remove("ids"))?;
    let change = parse_review(&body).map_err(ApiError::Validation)?;
    if change.status.is_none() && change.review_comment.is_none() {
        return Err(ApiError::field("status", "nothing_to_change", "give a status, a review_comment or both"));
    }
    let caller = (*auth).clone();
    let (changed, unchanged) = db(&state, move |conn, _| {
        crate::db::write_transaction(conn, |conn| {
            let known = records::existing_observations(conn, &caller.organisation_id, &ids)?;
            let unknown: Vec<_> = ids
                .iter()
                .enumerate()
                .filter(|(_, id)| !known.contains(*id))
                .map(|(i, id)| {
                    crate::domain::FieldError::new(
                        &format!("ids[{i}]"),
                        "unknown_observation",
                        format!("there is no observation `{id}`"),
                    )
                })
                .collect();
            if !unknown.is_empty() {
                return Err(ApiError::Validation(unknown));
            }
            let reviewer = Reviewer {
                user_id: &caller.user_id,
                device_id: &caller.device_id,
                now_ms: chrono::Utc::now().timestamp_millis(),
            };
            let mut changed = Vec::new();
            let mut unchanged = 0_usize;
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            for answer in records::review(conn, &caller.organisation_id, &ids, &change, &reviewer)? {
                match answer {
                    Some((row, true)) => changed.push(row),
                    Some((_, false)) => unchanged += 1,
                    None => return Err(not_found()),
                }
            }
            Ok((changed, unchanged))
        })
    })
    .await?;
    tracing::info!(by = %auth.user_id, changed = changed.len(), unchanged, "observations reviewed in bulk");
    Ok(HttpResponse::Ok().json(json!({
        "changed": changed.len(),
        "unchanged": unchanged,
        "items": changed.iter().map(observation_view).collect::<Vec<_>>(),
    })))
}

/// The `ids` of a bulk review: 1–1000 distinct observation ids, kept in the order given.
fn selection(raw: Option<Value>) -> ApiResult<Vec<String>> {
    let Some(Value::Array(items)) = raw else {
        return Err(ApiError::field("ids", "required", "give the ids of the observations to review, as an array"));
    };
    if items.is_empty() || items.len() > MAX_BULK_REVIEW {
        return Err(ApiError::field("ids", "out_of_range", format!("give 1–{MAX_BULK_REVIEW} ids")));
    }
    let mut ids: Vec<String> = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Value::String(id) if !id.is_empty() && id.len() <= 100 => {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            _ => errors.push(crate::domain::FieldError::new(
                &format!("ids[{i}]"),
                "invalid_id",
                "must be an observation id (a string of 1–100 characters)",
            )),
        }
    }
    if errors.is_empty() { Ok(ids) } else { Err(ApiError::Validation(errors)) }
}

fn history_view((row, username): (HistoryRow, Option<String>)) -> Value {
    json!({
        "server_seq": row.server_seq,
        "change": row.change,
        "changed_by": row.changed_by,
        "changed_by_username": username,
        "device_id": row.device_id,
        "changed_at": row.changed_at,
        "fields": serde_json::from_str::<Value>(&row.fields).unwrap_or(Value::Null),
        "previous": serde_json::from_str::<Value>(&row.previous).unwrap_or(Value::Null),
    })
}

async fn history(
    state: web::Data<AppState>,
    auth: Auth<Reporter>,
    table: &'static str,
    id: String,
) -> ApiResult<HttpResponse> {
    let caller = (*auth).clone();
    let versions = db(&state, move |conn, _| {
        let owner = match table {
            "observations" => records::observation_owner(conn, &caller.organisation_id, &id)?,
            _ => records::activity_owner(conn, &caller.organisation_id, &id)?,
        };
        match owner {
            Some(owner) if caller.may_read_record_of(&owner) => {}
            _ => return Err(not_found()),
        }
        let versions = history::list(conn, &caller.organisation_id, table, &id)?;
        if table == "observations" {
            let mut described = Map::new();
            described.insert("id".into(), json!(id));
            audit_read(conn, &caller, "read.history", described, versions.len())?;
        }
        Ok(versions.into_iter().map(history_view).collect::<Vec<_>>())
    })
    .await?;
    Ok(HttpResponse::Ok().json(versions))
}

/// `GET /api/v1/observations/{id}/history`: every earlier version, oldest first.
pub async fn observation_history(
    state: web::Data<AppState>,
    auth: Auth<Reporter>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    history(state, auth, "observations", id.into_inner()).await
}

/// `GET /api/v1/activities/{id}/history`: every earlier version, oldest first.
pub async fn activity_history(
    state: web::Data<AppState>,
    auth: Auth<Reporter>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    history(state, auth, "activity_logs", id.into_inner()).await
}
