//! Login, refresh and logout.

use super::json::ApiJson;
use crate::auth::tokens::Grant;
use crate::auth::{AnyRole, Auth, Authenticator, random_secret, token_hash};
use crate::db::DbConnection;
use crate::db::models::{RefreshTokenRow, UserRow};
use crate::db::queries::{devices, organisations, refresh_tokens, users};
use crate::domain::FieldErrors;
use crate::domain::identity::{DeviceId, DeviceKind, Name, Role, platform_of};
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, db};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

/// `POST /api/v1/auth/login`
#[derive(Deserialize)]
pub struct LoginRequest {
    organisation: String,
    username: String,
    password: String,
    device_id: String,
    device_name: Option<String>,
    /// `phone` (the default) or `dashboard`.
    device_kind: Option<String>,
}

/// `POST /api/v1/auth/refresh`
#[derive(Deserialize)]
pub struct RefreshRequest {
    refresh_token: String,
}

/// The answer to a login or a refresh.
#[derive(Serialize)]
pub struct TokenResponse {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: i64,
    refresh_expires_in: i64,
}

fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized {
        code: "invalid_credentials",
        detail: "the organisation, username or password is wrong".into(),
    }
}

fn account_disabled() -> ApiError {
    ApiError::Unauthorized {
        code: "account_disabled",
        detail: "this account is disabled; ask your administrator".into(),
    }
}

fn device_revoked() -> ApiError {
    ApiError::Unauthorized {
        code: "device_revoked",
        detail: "this device has been revoked; ask your administrator".into(),
    }
}

/// Exchanges a password for tokens bound to the device.
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    authenticator: web::Data<Authenticator>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let mut errors = FieldErrors::default();
    for (field, value) in
        [("organisation", &body.organisation), ("username", &body.username), ("password", &body.password)]
    {
        if value.trim().is_empty() {
            errors.0.push(crate::domain::FieldError::new(field, "required", "must not be empty"));
        }
    }
    let device_id = errors.check(DeviceId::parse("device_id", &body.device_id));
    let device_name = match body.device_name.as_deref() {
        Some(name) => errors.check(Name::parse("device_name", name)).map(|n| n.as_str().to_owned()),
        None => device_id.as_ref().map(|id| id.as_str().to_owned()),
    };
    let device_kind = match body.device_kind.as_deref() {
        Some(kind) => errors.check(DeviceKind::parse("device_kind", kind)),
        None => Some(DeviceKind::Phone),
    };
    errors.finish().map_err(ApiError::Validation)?;
    let (Some(device_id), Some(device_name), Some(device_kind)) = (device_id, device_name, device_kind) else {
        return Err(ApiError::Internal(anyhow::anyhow!("checked fields are missing")));
    };

    let address = super::client::address(&req, &state.settings);
    let platform = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|agent| agent.to_str().ok())
        .and_then(platform_of);
    let organisation = body.organisation.trim().to_lowercase();
    let username = body.username.trim().to_lowercase();
    let user = db(&state, move |conn, state| {
        state
            .login_limiter
            .check(conn, &organisation, &username, &address)?
            .map_err(|retry_after| ApiError::TooManyRequests { retry_after })?;
        let Some(org) = organisations::by_slug(conn, &organisation)? else {
            return Ok(None);
        };
        Ok(users::by_username(conn, &org.id, &username)?)
    })
    .await?;

    // The same argon2 work whether or not the user exists: no user enumeration by timing.
    let password = body.password;
    let _slot = state
        .password_slots
        .acquire()
        .await
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("the password slots are closed")))?;
    let checked_state = state.clone();
    let user = web::block(move || {
        let stored = user.as_ref().map(|u| u.password_hash.as_str());
        checked_state.passwords.verify(&password, stored).then_some(user).flatten()
    })
    .await?
    .ok_or_else(invalid_credentials)?;
    if user.disabled_at.is_some() {
        return Err(account_disabled());
    }

    let tokens = db(&state, move |conn, state| {
        let now = crate::db::now();
        let registration = devices::Registration {
            organisation_id: &user.organisation_id,
            id: device_id.as_str(),
            user_id: &user.id,
            name: &device_name,
            kind: device_kind.as_str(),
            platform: platform.as_deref(),
        };
        let device = devices::register(conn, registration, now)?;
        if device.revoked_at.is_some() {
            return Err(device_revoked());
        }
        let family = uuid::Uuid::now_v7().to_string();
        issue_tokens(conn, state, &authenticator, &user, &device.id, device.token_generation, &family)
    })
    .await?;
    tracing::info!(user_id = %tokens.1, "login");
    Ok(HttpResponse::Ok().json(tokens.0))
}

/// Stores a new refresh token of the family and signs an access token; returns them with the
/// user id.
fn issue_tokens(
    conn: &mut DbConnection,
    state: &AppState,
    authenticator: &Authenticator,
    user: &UserRow,
    device_id: &str,
    device_generation: i64,
    family_id: &str,
) -> ApiResult<(TokenResponse, String)> {
    let now = crate::db::now();
    let ttl_days = i64::try_from(state.settings.refresh_token_ttl_days).unwrap_or(3650);
    let refresh_token = random_secret();
    refresh_tokens::insert(
        conn,
        &RefreshTokenRow {
            id: uuid::Uuid::now_v7().to_string(),
            token_hash: token_hash(&refresh_token),
            family_id: family_id.to_owned(),
            organisation_id: user.organisation_id.clone(),
            user_id: user.id.clone(),
            device_id: device_id.to_owned(),
            created_at: now,
            expires_at: now + chrono::Duration::days(ttl_days),
            used_at: None,
            revoked_at: None,
        },
    )?;
    let role: Role = user
        .role
        .parse()
        .map_err(|()| ApiError::Internal(anyhow::anyhow!("stored role `{}` is unknown", user.role)))?;
    let access_token = authenticator.tokens.issue(&Grant {
        user_id: &user.id,
        organisation_id: &user.organisation_id,
        role,
        device_id,
        user_generation: user.token_generation,
        device_generation,
    })?;
    Ok((
        TokenResponse {
            access_token,
            refresh_token,
            token_type: "Bearer",
            expires_in: authenticator.tokens.ttl_secs(),
            refresh_expires_in: ttl_days * 86_400,
        },
        user.id.clone(),
    ))
}

/// Rotates a refresh token. A token presented twice revokes its whole family: one of the two
/// presenters stole it.
pub async fn refresh(
    state: web::Data<AppState>,
    authenticator: web::Data<Authenticator>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    if body.refresh_token.is_empty() || body.refresh_token.len() > 200 {
        return Err(ApiError::invalid_token());
    }
    let hash = token_hash(&body.refresh_token);
    let (response, _) = db(&state, move |conn, state| {
        let now = crate::db::now();
        let token = refresh_tokens::by_hash(conn, &hash)?.ok_or_else(ApiError::invalid_token)?;
        let device =
            devices::by_id(conn, &token.organisation_id, &token.device_id)?.ok_or_else(ApiError::invalid_token)?;
        if device.revoked_at.is_some() {
            return Err(device_revoked());
        }
        let user = users::by_id(conn, &token.organisation_id, &token.user_id)?.ok_or_else(ApiError::invalid_token)?;
        if user.disabled_at.is_some() {
            return Err(account_disabled());
        }
        if token.used_at.is_some() {
            return Err(reuse_detected(conn, state, &token, now));
        }
        if token.revoked_at.is_some() || token.expires_at <= now {
            return Err(ApiError::invalid_token());
        }
        if !refresh_tokens::claim(conn, &token.id, now)? {
            // Another request used this token a moment ago: the same as a replay.
            return Err(reuse_detected(conn, state, &token, now));
        }
        // The device generation is read after the claim so a logout racing with us wins.
        let device =
            devices::by_id(conn, &token.organisation_id, &token.device_id)?.ok_or_else(ApiError::invalid_token)?;
        issue_tokens(conn, state, &authenticator, &user, &device.id, device.token_generation, &token.family_id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(response))
}

fn reuse_detected(
    conn: &mut DbConnection,
    state: &AppState,
    token: &RefreshTokenRow,
    now: chrono::NaiveDateTime,
) -> ApiError {
    tracing::warn!(
        user_id = %token.user_id,
        device_id = %token.device_id,
        family_id = %token.family_id,
        "a used refresh token was presented again; revoking its family"
    );
    let revoked = refresh_tokens::revoke_family(conn, token, now).and_then(|()| state.revocations.reload(conn));
    match revoked {
        Ok(()) => ApiError::Unauthorized {
            code: "refresh_token_reused",
            detail: "this refresh token was already used; every session of this login has been ended".into(),
        },
        Err(error) => error.into(),
    }
}

/// Ends every session of the caller's device; the device may log in again.
pub async fn logout(state: web::Data<AppState>, auth: Auth<AnyRole>) -> ApiResult<HttpResponse> {
    let organisation_id = auth.organisation_id.clone();
    let device_id = auth.device_id.clone();
    db(&state, move |conn, state| {
        devices::end_sessions(conn, &organisation_id, &device_id, crate::db::now())?;
        state.revocations.reload(conn)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
