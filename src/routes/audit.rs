//! `GET /api/v1/audit`: who exported what and who read raw observations, for admins, newest
//! first in keyset pages.

use super::params;
use crate::auth::{Admin, Auth};
use crate::db::queries::audit::{self, ACTIONS, AuditFilter};
use crate::domain::time::rfc3339_ms;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, db};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

/// Filters of the audit list.
#[derive(Deserialize)]
pub struct AuditQuery {
    /// A user id.
    user: Option<String>,
    /// Actions, comma-separated; `export` or `read` stand for all of their kind.
    action: Option<String>,
    /// From this time (RFC 3339, a date meaning UTC midnight, or ms), inclusive.
    from: Option<String>,
    /// Until this time, exclusive.
    to: Option<String>,
    /// Page size, 1–1000 (default 100).
    limit: Option<String>,
    /// The `next` value of the previous page.
    after: Option<String>,
}

fn actions(text: Option<&str>) -> ApiResult<Vec<String>> {
    let mut out = Vec::new();
    for name in text.unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let matching: Vec<&str> = ACTIONS
            .iter()
            .copied()
            .filter(|action| *action == name || action.strip_prefix(name).is_some_and(|rest| rest.starts_with('.')))
            .collect();
        if matching.is_empty() {
            return Err(ApiError::field(
                "action",
                "unknown_action",
                format!("`{name}` is not an action: use export, read or one of {}", ACTIONS.join(", ")),
            ));
        }
        out.extend(matching.into_iter().map(str::to_owned));
    }
    Ok(out)
}

/// `GET /api/v1/audit`
pub async fn list(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    query: web::Query<AuditQuery>,
) -> ApiResult<HttpResponse> {
    let limit = params::limit(query.limit.as_deref())?;
    let before = params::after(query.after.as_deref())?;
    let filter = AuditFilter {
        user_id: query.user.clone().filter(|u| !u.trim().is_empty()),
        actions: actions(query.action.as_deref())?,
        from: params::optional_instant("from", query.from.as_deref())?,
        to: params::optional_instant("to", query.to.as_deref())?,
        before,
        limit,
    };
    let organisation_id = auth.organisation_id.clone();
    let entries = db(&state, move |conn, _| Ok(audit::list(conn, &organisation_id, &filter)?)).await?;
    let next = (entries.len() as i64 == limit)
        .then(|| entries.last())
        .flatten()
        .map(|last| params::encode_after(last.at, &last.id));
    let items: Vec<Value> = entries
        .iter()
        .map(|entry| {
            let mut item = serde_json::to_value(entry).unwrap_or_default();
            item["at"] = json!(rfc3339_ms(entry.at));
            item["finished_at"] = json!(entry.finished_at.map(rfc3339_ms));
            item["filters"] = serde_json::from_str(&entry.filters).unwrap_or(Value::Null);
            item
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next": next })))
}
