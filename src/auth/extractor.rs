//! `Auth<R>`: the caller, authenticated and checked against the role rule `R`, taken from the
//! `Authorization: Bearer` header. A handler states the role it needs in its signature; a public
//! handler simply has no `Auth` argument.

use super::activity::DeviceActivity;
use super::revocation::{Refusal, RevocationCache};
use super::tokens::{Claims, TokenIssuer};
use crate::domain::identity::Role;
use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::sync::Arc;

/// Checks access tokens: signature and claims, then the revocation cache. Holds no database
/// handle, so a request's authentication cannot cost a database round trip.
pub struct Authenticator {
    /// Signs and verifies access tokens.
    pub tokens: TokenIssuer,
    /// Who is disabled, revoked or logged out.
    pub revocations: Arc<RevocationCache>,
    /// Last-seen times waiting to be written.
    pub activity: Arc<DeviceActivity>,
}

impl Authenticator {
    /// The caller a bearer token admits.
    pub fn authenticate(&self, bearer: &str) -> Result<AuthUser, ApiError> {
        let claims = self.tokens.verify(bearer).ok_or_else(ApiError::invalid_token)?;
        self.revocations.check(&claims).map_err(refusal_error)?;
        self.activity.seen(&claims.org, &claims.dev, crate::db::now());
        Ok(AuthUser::from(claims))
    }
}

/// The 401 answer for a refused token.
pub fn refusal_error(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::AccountDisabled => ApiError::Unauthorized {
            code: "account_disabled",
            detail: "this account is disabled; ask your administrator".into(),
        },
        Refusal::DeviceRevoked => ApiError::Unauthorized {
            code: "device_revoked",
            detail: "this device has been revoked; ask your administrator".into(),
        },
        Refusal::SessionEnded => ApiError::Unauthorized {
            code: "invalid_token",
            detail: "the session has ended; refresh or log in again".into(),
        },
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The user's id.
    pub user_id: String,
    /// The user's organisation; every query is scoped by it.
    pub organisation_id: String,
    /// The user's role.
    pub role: Role,
    /// The device the token was issued to.
    pub device_id: String,
}

impl AuthUser {
    /// Whether the caller may read a record reported by `owner`: field users see their own,
    /// everyone else who may read records sees the organisation's.
    pub fn may_read_record_of(&self, owner: &str) -> bool {
        self.role != Role::Field || owner == self.user_id
    }
}

impl From<Claims> for AuthUser {
    fn from(claims: Claims) -> Self {
        Self { user_id: claims.sub, organisation_id: claims.org, role: claims.role, device_id: claims.dev }
    }
}

/// A rule saying which roles may call a handler.
pub trait RoleRule {
    /// Whether the role passes.
    fn allows(role: Role) -> bool;
}

/// Who may read the picture: coordinators and admins in full, partners as suppressed aggregates.
pub struct Analyst;
impl RoleRule for Analyst {
    fn allows(role: Role) -> bool {
        matches!(role, Role::Coordinator | Role::Admin | Role::Partner)
    }
}

/// Any authenticated user.
pub struct AnyRole;
impl RoleRule for AnyRole {
    fn allows(_: Role) -> bool {
        true
    }
}

/// Administrators only.
pub struct Admin;
impl RoleRule for Admin {
    fn allows(role: Role) -> bool {
        role == Role::Admin
    }
}

/// Coordinators and administrators.
pub struct Coordinator;
impl RoleRule for Coordinator {
    fn allows(role: Role) -> bool {
        matches!(role, Role::Coordinator | Role::Admin)
    }
}

/// Everyone who records data: field users, coordinators and administrators (not partners, who
/// see aggregates only).
pub struct Reporter;
impl RoleRule for Reporter {
    fn allows(role: Role) -> bool {
        role != Role::Partner
    }
}

/// The authenticated caller, admitted by the rule `R`.
pub struct Auth<R: RoleRule = AnyRole> {
    user: AuthUser,
    rule: PhantomData<R>,
}

impl<R: RoleRule> std::ops::Deref for Auth<R> {
    type Target = AuthUser;
    fn deref(&self) -> &AuthUser {
        &self.user
    }
}

impl<R: RoleRule> FromRequest for Auth<R> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate_request(req).and_then(|user| {
            if R::allows(user.role) { Ok(Auth { user, rule: PhantomData }) } else { Err(ApiError::Forbidden) }
        }))
    }
}

fn authenticate_request(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    let authenticator = req
        .app_data::<web::Data<Authenticator>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the authenticator is not registered")))?;
    let value = req.headers().get(header::AUTHORIZATION).ok_or_else(|| ApiError::Unauthorized {
        code: "missing_token",
        detail: "send an access token as `Authorization: Bearer <token>`".into(),
    })?;
    let bearer = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or_else(ApiError::invalid_token)?;
    authenticator.authenticate(bearer)
}
