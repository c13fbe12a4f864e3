//! Devices: listed with when they were last seen, revoked one by one.

use crate::auth::{Auth, Authenticator, Coordinator};
use crate::db::models::DeviceRow;
use crate::db::queries::{devices, users};
use crate::domain::time::rfc3339_utc;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, db};
use actix_web::{HttpResponse, web};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// A device as the API shows it.
#[derive(Serialize)]
pub struct DeviceView {
    id: String,
    /// The name the app gave itself at login.
    name: String,
    /// The name the device's user gave it, if any.
    label: Option<String>,
    /// `phone` or `dashboard`.
    kind: String,
    /// Browser and system from the latest login's User-Agent.
    platform: Option<String>,
    /// Whether the device holds a live session (a refresh token not used, revoked or expired).
    signed_in: bool,
    user_id: String,
    username: Option<String>,
    revoked: bool,
    revoked_at: Option<String>,
    created_at: String,
    last_seen_at: String,
    last_push_at: Option<String>,
    last_pull_at: Option<String>,
    /// Server time minus device time at the last sync, ms.
    clock_skew_ms: Option<i64>,
    /// Records waiting on the phone at the last sync.
    pending_count: Option<i64>,
}

fn view(row: DeviceRow, usernames: &HashMap<String, String>, signed_in: &HashSet<String>) -> DeviceView {
    DeviceView {
        username: usernames.get(&row.user_id).cloned(),
        signed_in: signed_in.contains(&row.id),
        id: row.id,
        name: row.name,
        label: row.label,
        kind: row.kind,
        platform: row.platform,
        user_id: row.user_id,
        revoked: row.revoked_at.is_some(),
        revoked_at: row.revoked_at.map(rfc3339_utc),
        created_at: rfc3339_utc(row.created_at),
        last_seen_at: rfc3339_utc(row.last_seen_at),
        last_push_at: row.last_push_at.map(rfc3339_utc),
        last_pull_at: row.last_pull_at.map(rfc3339_utc),
        clock_skew_ms: row.clock_skew_ms,
        pending_count: row.pending_count,
    }
}

/// Every device of the organisation, most recently seen first.
pub async fn list(
    state: web::Data<AppState>,
    authenticator: web::Data<Authenticator>,
    auth: Auth<Coordinator>,
) -> ApiResult<HttpResponse> {
    let organisation_id = auth.organisation_id.clone();
    let views = db(&state, move |conn, _| {
        // Write pending last-seen times first so the list is current.
        let seen = authenticator.activity.drain();
        if !seen.is_empty() {
            devices::touch(conn, &seen)?;
        }
        let usernames: HashMap<String, String> =
            users::list(conn, &organisation_id)?.into_iter().map(|user| (user.id, user.username)).collect();
        let signed_in: HashSet<String> =
            devices::signed_in(conn, &organisation_id, crate::db::now())?.into_iter().collect();
        let rows = devices::list(conn, &organisation_id)?;
        Ok(rows.into_iter().map(|row| view(row, &usernames, &signed_in)).collect::<Vec<_>>())
    })
    .await?;
    Ok(HttpResponse::Ok().json(views))
}

/// Revokes a device: its tokens stop working on the next request.
pub async fn revoke(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let organisation_id = auth.organisation_id.clone();
    let view = db(&state, move |conn, state| {
        if !devices::revoke(conn, &organisation_id, &id, crate::db::now())? {
            return Err(ApiError::NotFound("no such device".into()));
        }
        state.revocations.reload(conn)?;
        let row =
            devices::by_id(conn, &organisation_id, &id)?.ok_or_else(|| ApiError::NotFound("no such device".into()))?;
        let usernames = users::by_id(conn, &organisation_id, &row.user_id)?
            .map(|user| HashMap::from([(user.id, user.username)]))
            .unwrap_or_default();
        Ok(view(row, &usernames, &HashSet::new()))
    })
    .await?;
    tracing::info!(device_id = %view.id, by = %auth.user_id, "device revoked");
    Ok(HttpResponse::Ok().json(view))
}
