//! The organisation's retention (gallring): its periods, which admins set, and a run on demand.

use super::json::{ApiJson, present};
use super::reports::actor;
use crate::auth::{Admin, Auth};
use crate::db::queries::retention::{self, RetentionRow};
use crate::domain::FieldError;
use crate::domain::retention::{COARSE_RESOLUTION, MAX_MONTHS, Policy};
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, db};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

fn rfc3339(ms: Option<i64>) -> Value {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map_or(Value::Null, |at| Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
}

/// The settings as the API shows them.
pub fn view(row: Option<&RetentionRow>, interval_secs: u64) -> Value {
    let policy = row.map(RetentionRow::policy).unwrap_or_default();
    json!({
        "free_text_months": policy.free_text_months,
        "position_months": policy.position_months,
        "history_months": policy.history_months,
        "audit_months": policy.audit_months,
        "photo_months": policy.photo_months,
        "coarse_resolution": u8::from(COARSE_RESOLUTION),
        "run_every_secs": interval_secs,
        "updated_at": rfc3339(row.map(|row| row.updated_at)),
        "last_run_at": rfc3339(row.and_then(|row| row.last_run_at)),
    })
}

/// `GET /api/v1/retention`
pub async fn get(state: web::Data<AppState>, auth: Auth<Admin>) -> ApiResult<HttpResponse> {
    let organisation_id = auth.organisation_id.clone();
    let body = db(&state, move |conn, state| {
        let row = retention::get(conn, &organisation_id)?;
        Ok(view(row.as_ref(), state.settings.retention_interval_secs))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// The body of `PATCH /api/v1/retention`: each period in months, `null` to keep that data;
/// absent fields stay as they are.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionChange {
    #[serde(default, deserialize_with = "present")]
    free_text_months: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    position_months: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    history_months: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    audit_months: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    photo_months: Option<Option<i64>>,
}

impl RetentionChange {
    /// `current` with the change applied, or every field at fault.
    fn apply(&self, current: Policy) -> Result<Policy, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut months = |field: &str, change: Option<Option<i64>>, current: Option<u32>| match change {
            None => current,
            Some(None) => None,
            Some(Some(n)) => match u32::try_from(n).ok().filter(|n| (1..=MAX_MONTHS).contains(n)) {
                Some(n) => Some(n),
                None => {
                    errors.push(FieldError::new(
                        field,
                        "out_of_range",
                        format!("must be a number of months from 1 to {MAX_MONTHS}, or null to keep"),
                    ));
                    current
                }
            },
        };
        let policy = Policy {
            free_text_months: months("free_text_months", self.free_text_months, current.free_text_months),
            position_months: months("position_months", self.position_months, current.position_months),
            history_months: months("history_months", self.history_months, current.history_months),
            audit_months: months("audit_months", self.audit_months, current.audit_months),
            photo_months: months("photo_months", self.photo_months, current.photo_months),
        };
        if errors.is_empty() { Ok(policy) } else { Err(errors) }
    }
}

/// `PATCH /api/v1/retention`: sets the periods; written to the audit log.
pub async fn update(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    ApiJson(change): ApiJson<RetentionChange>,
) -> ApiResult<HttpResponse> {
    let caller = (*auth).clone();
    let body = db(&state, move |conn, state| {
        let current = retention::get(conn, &caller.organisation_id)?.map(|row| row.policy()).unwrap_or_default();
        let policy = change.apply(current).map_err(ApiError::Validation)?;
        let now = chrono::Utc::now().timestamp_millis();
        let row = crate::db::write_transaction(conn, |conn| {
            let row = retention::set(conn, &caller.organisation_id, &policy, Some(&caller.user_id), now)?;
            retention::audit_settings(conn, &actor(&caller), &policy, now)?;
            Ok::<_, diesel::result::Error>(row)
        })?;
        Ok(view(Some(&row), state.settings.retention_interval_secs))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// The body of `POST /api/v1/retention/run`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Only count what the run would remove.
    dry_run: bool,
}

/// `POST /api/v1/retention/run`: applies the periods now (or, as a dry run, counts what that
/// would remove); written to the audit log either way.
pub async fn run(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    ApiJson(request): ApiJson<RunRequest>,
) -> ApiResult<HttpResponse> {
    let caller = (*auth).clone();
    let body = db(&state, move |conn, state| {
        let policy = retention::get(conn, &caller.organisation_id)?.map(|row| row.policy()).unwrap_or_default();
        let now = chrono::Utc::now().timestamp_millis();
        let purge = retention::run(conn, &actor(&caller), &policy, now, request.dry_run, crate::picture::darkness)?;
        crate::photos::remove_files(&state.photos, &purge.dropped_photos)
            .map_err(|error| ApiError::Internal(anyhow::Error::new(error).context("cannot remove purged photos")))?;
        Ok(json!({ "policy": policy, "ran_at": rfc3339(Some(now)), "purge": purge }))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}
