//! The admin API for users: create, list, read, and change role, unit, password or status.

use super::json::ApiJson;
use crate::accounts::{self, NewUser};
use crate::auth::{Admin, Auth};
use crate::db::models::UserRow;
use crate::db::queries::users::UserChanges;
use crate::db::queries::{refresh_tokens, units, users};
use crate::domain::FieldErrors;
use crate::domain::identity::{Name, NewPassword, Role, Slug, Username};
use crate::domain::time::rfc3339_utc;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, db};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

/// A user as the API shows it; never the password hash.
#[derive(Serialize)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
    /// The unit's slug.
    pub unit: Option<String>,
    pub disabled: bool,
    pub disabled_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl UserView {
    /// The view of a row, with its unit's slug.
    pub fn new(row: UserRow, unit: Option<String>) -> Self {
        Self {
            id: row.id,
            username: row.username,
            display_name: row.display_name,
            role: row.role,
            unit,
            disabled: row.disabled_at.is_some(),
            disabled_at: row.disabled_at.map(rfc3339_utc),
            created_at: rfc3339_utc(row.created_at),
            updated_at: rfc3339_utc(row.updated_at),
        }
    }
}

/// `POST /api/v1/users`
#[derive(Deserialize)]
pub struct CreateUser {
    username: String,
    password: String,
    role: String,
    display_name: Option<String>,
    /// A unit slug.
    unit: Option<String>,
}

/// `PATCH /api/v1/users/{id}`: absent fields stay as they are; `"unit": null` clears the unit.
#[derive(Deserialize)]
pub struct UpdateUser {
    display_name: Option<String>,
    role: Option<String>,
    #[serde(default, deserialize_with = "super::json::present")]
    unit: Option<Option<String>>,
    disabled: Option<bool>,
    password: Option<String>,
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such user".into())
}

fn unit_slug(conn: &mut crate::db::DbConnection, row: &UserRow) -> ApiResult<Option<String>> {
    match &row.unit_id {
        Some(id) => Ok(units::by_id(conn, &row.organisation_id, id)?.map(|unit| unit.slug)),
        None => Ok(None),
    }
}

/// Every user of the organisation.
pub async fn list(state: web::Data<AppState>, auth: Auth<Admin>) -> ApiResult<HttpResponse> {
    let organisation_id = auth.organisation_id.clone();
    let views = db(&state, move |conn, _| {
        let slugs: std::collections::HashMap<String, String> =
            units::list(conn, &organisation_id)?.into_iter().map(|u| (u.id, u.slug)).collect();
        Ok(users::list(conn, &organisation_id)?
            .into_iter()
            .map(|row| {
                let unit = row.unit_id.as_ref().and_then(|id| slugs.get(id).cloned());
                UserView::new(row, unit)
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(HttpResponse::Ok().json(views))
}

/// One user.
pub async fn get(state: web::Data<AppState>, auth: Auth<Admin>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let organisation_id = auth.organisation_id.clone();
    let view = db(&state, move |conn, _| {
        let row = users::by_id(conn, &organisation_id, &id)?.ok_or_else(not_found)?;
        let unit = unit_slug(conn, &row)?;
        Ok(UserView::new(row, unit))
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Creates a user.
pub async fn create(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<HttpResponse> {
    let mut errors = FieldErrors::default();
    let username = errors.check(Username::parse("username", &body.username));
    let password = errors.check(NewPassword::parse("password", &body.password));
    let role = errors.check(Role::parse("role", &body.role));
    let display_name = match &body.display_name {
        Some(name) => errors.check(Name::parse("display_name", name)).map(Some),
        None => Some(None),
    };
    let unit = match &body.unit {
        Some(slug) => errors.check(Slug::parse("unit", slug)).map(Some),
        None => Some(None),
    };
    errors.finish().map_err(ApiError::Validation)?;
    let (Some(username), Some(password), Some(role), Some(display_name), Some(unit)) =
        (username, password, role, display_name, unit)
    else {
        return Err(ApiError::Internal(anyhow::anyhow!("checked fields are missing")));
    };
    let organisation_id = auth.organisation_id.clone();
    let view = db(&state, move |conn, state| {
        let new_user = NewUser { username, display_name, password, role, unit: unit.clone() };
        let row = accounts::create_user(conn, &state.passwords, &organisation_id, new_user)?;
        Ok(UserView::new(row, unit.map(|slug| slug.as_str().to_owned())))
    })
    .await?;
    Ok(HttpResponse::Created().insert_header(("Location", format!("/api/v1/users/{}", view.id))).json(view))
}

/// Changes a user. A new role, unit or password, or disabling, ends the user's current access
/// tokens at once; a new password or disabling also ends their refresh tokens.
pub async fn update(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    id: web::Path<String>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> ApiResult<HttpResponse> {
    let mut errors = FieldErrors::default();
    let display_name = body.display_name.as_deref().map(|name| errors.check(Name::parse("display_name", name)));
    let role = body.role.as_deref().map(|role| errors.check(Role::parse("role", role)));
    let unit = body.unit.as_ref().map(|unit| unit.as_deref().map(|slug| errors.check(Slug::parse("unit", slug))));
    let password = body.password.as_deref().map(|p| errors.check(NewPassword::parse("password", p)));
    errors.finish().map_err(ApiError::Validation)?;
    let id = id.into_inner();
    if id == auth.user_id && (body.disabled == Some(true) || role.flatten().is_some_and(|role| role != Role::Admin)) {
        return Err(ApiError::Conflict {
            code: "cannot_lock_out_self",
            detail: "an administrator cannot disable or demote themselves; ask another administrator".into(),
        });
    }
    let organisation_id = auth.organisation_id.clone();
    let view = db(&state, move |conn, state| {
        let current = users::by_id(conn, &organisation_id, &id)?.ok_or_else(not_found)?;
        let now = crate::db::now();
        let unit_id = match unit {
            Some(Some(Some(slug))) => Some(Some(
                units::by_slug(conn, &organisation_id, slug.as_str())?
                    .ok_or_else(|| ApiError::field("unit", "unknown_unit", format!("there is no unit `{slug}`")))?
                    .id,
            )),
            Some(_) => Some(None),
            None => None,
        };
        let password_hash = match password.flatten() {
            Some(password) => Some(state.passwords.hash(password.expose())?),
            None => None,
        };
        // Only real changes end sessions: sending the current role again ends nothing.
        let role = role.flatten().filter(|role| role.as_str() != current.role);
        let unit_id = unit_id.filter(|unit_id| *unit_id != current.unit_id);
        let disabled = body.disabled.filter(|disabled| *disabled != current.disabled_at.is_some());
        let disabled_at = disabled.map(|disabled| disabled.then_some(now));
        let ends_refresh = password_hash.is_some() || disabled == Some(true);
        let ends_access = ends_refresh || role.is_some() || unit_id.is_some() || disabled.is_some();
        let changes = UserChanges {
            display_name: display_name.flatten().map(|name| name.as_str().to_owned()),
            role: role.map(|role| role.as_str().to_owned()),
            unit_id,
            password_hash,
            disabled_at,
            updated_at: Some(now),
        };
        crate::db::write_transaction(conn, |conn| {
            users::update(conn, &organisation_id, &id, &changes, ends_access)?;
            if ends_refresh {
                refresh_tokens::revoke_for_user(conn, &id, now)?;
            }
            Ok::<_, ApiError>(())
        })?;
        if ends_access {
            state.revocations.reload(conn)?;
        }
        let row = users::by_id(conn, &organisation_id, &id)?.ok_or_else(not_found)?;
        let unit = unit_slug(conn, &row)?;
        Ok(UserView::new(row, unit))
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}
