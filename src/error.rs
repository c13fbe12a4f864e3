//! One error type for the API, rendered as `application/problem+json` (RFC 9457) with a stable
//! snake_case `code`; one `match` decides every status.

use crate::domain::FieldError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::time::Duration;

tokio::task_local! {
    /// The id of the request being served, for error bodies and log lines.
    pub static REQUEST_ID: String;
}

/// The request id of the current request, if one is being served.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Everything a handler can answer instead of success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// One or more fields were refused.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// The request as a whole is malformed.
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    /// No credentials, or credentials that do not admit the caller.
    #[error("{detail}")]
    Unauthorized { code: &'static str, detail: String },
    /// Authenticated, but the role does not allow this.
    #[error("your role does not allow this")]
    Forbidden,
    /// No such thing in the caller's organisation (or at all).
    #[error("{0}")]
    NotFound(String),
    /// What a field names does not exist: 404 with its own code and the field.
    #[error("{detail}")]
    Missing { code: &'static str, detail: String, field: &'static str },
    /// No such route.
    #[error("no route matches {0}")]
    RouteNotFound(String),
    /// The route exists but not with this method.
    #[error("this route does not accept {method}; it accepts {allow}")]
    MethodNotAllowed { method: String, allow: String },
    /// The request conflicts with what is stored (a duplicate, a stale version).
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// A conflict with what is stored, naming each thing in the way.
    #[error("{detail}")]
    ConflictFields { code: &'static str, detail: String, errors: Vec<FieldError> },
    /// The body is larger than the route accepts.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// A push carries more records than accepted.
    #[error("a push may carry at most {limit} records; this one has {count}: split it")]
    TooManyRecords { limit: usize, count: usize },
    /// The body is not JSON.
    #[error("send the body as application/json")]
    UnsupportedMediaType,
    /// The body's `Content-Encoding` is not one the service decodes.
    #[error("{detail}")]
    UnsupportedEncoding { detail: String, accepted: &'static str },
    /// The client's schema version is no longer (or not yet) served.
    #[error("{0}")]
    UpgradeRequired(String),
    /// Too many attempts; retry after the given time.
    #[error("too many attempts; retry in {} seconds", retry_after.as_secs().max(1))]
    TooManyRequests { retry_after: Duration },
    /// A photo the server will not take, with the status its reason calls for (413 too big or
    /// over the quota, 415 a type it does not read, 422 one it cannot decode).
    #[error("{detail}")]
    Media { status: StatusCode, code: &'static str, detail: String },
    /// The server cannot serve right now (database down, migrations pending).
    #[error("{0}")]
    Unavailable(String),
    /// A fault of ours; the cause is logged, never sent.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

impl ApiError {
    /// A `401 invalid_token`.
    pub fn invalid_token() -> Self {
        Self::Unauthorized { code: "invalid_token", detail: "the access token is invalid or expired".into() }
    }

    /// A single invalid field.
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, code, message)])
    }

    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_failed",
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Conflict { code, .. }
            | Self::ConflictFields { code, .. }
            | Self::Missing { code, .. }
            | Self::Media { code, .. } => code,
            Self::Forbidden => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::RouteNotFound(_) => "route_not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::TooManyRecords { .. } => "too_many_records",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::UnsupportedEncoding { .. } => "unsupported_encoding",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::UpgradeRequired(_) => "schema_version_unsupported",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::Validation(_) => "Invalid fields",
            Self::BadRequest { .. } => "Bad request",
            Self::Unauthorized { .. } => "Not authenticated",
            Self::Forbidden => "Forbidden",
            Self::NotFound(_) | Self::RouteNotFound(_) | Self::Missing { .. } => "Not found",
            Self::MethodNotAllowed { .. } => "Method not allowed",
            Self::Conflict { .. } | Self::ConflictFields { .. } => "Conflict",
            Self::PayloadTooLarge { .. } | Self::TooManyRecords { .. } => "Payload too large",
            Self::UnsupportedMediaType | Self::UnsupportedEncoding { .. } => "Unsupported media type",
            Self::TooManyRequests { .. } => "Too many requests",
            Self::UpgradeRequired(_) => "Upgrade required",
            Self::Media { status, .. } => status.canonical_reason().unwrap_or("Refused"),
            Self::Unavailable(_) => "Service unavailable",
            Self::Internal(_) => "Internal server error",
        }
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(error: crate::db::DbError) -> Self {
        Self::Internal(anyhow::Error::new(error).context("database query failed"))
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        Self::Internal(anyhow::anyhow!("the blocking pool failed: {error}"))
    }
}

impl From<crate::db::PoolError> for ApiError {
    fn from(error: crate::db::PoolError) -> Self {
        Self::Unavailable(format!("the database is not answering ({error})"))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::RouteNotFound(_) | Self::Missing { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } | Self::ConflictFields { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } | Self::TooManyRecords { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType | Self::UnsupportedEncoding { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::UpgradeRequired(_) => StatusCode::UPGRADE_REQUIRED,
            Self::Media { status, .. } => *status,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let request_id = current_request_id();
        let detail = match self {
            Self::Internal(cause) => {
                tracing::error!(request_id = request_id.as_deref().unwrap_or("-"), error = %format!("{cause:#}"), "internal error");
                "something went wrong on our side; quote the request id when you report it".to_owned()
            }
            Self::Unavailable(cause) => {
                tracing::warn!(error = %cause, "unavailable");
                "the service cannot answer right now; try again shortly".to_owned()
            }
            other => other.to_string(),
        };
        let code = self.code();
        let missing;
        let body = Problem {
            kind: format!("urn:lagesbild:problem:{code}"),
            title: self.title(),
            status: status.as_u16(),
            detail,
            code,
            errors: match self {
                Self::Validation(errors) | Self::ConflictFields { errors, .. } => Some(errors.as_slice()),
                Self::Missing { code, detail, field } => {
                    missing = [FieldError::new(field, code, detail.clone())];
                    Some(missing.as_slice())
                }
                _ => None,
            },
            request_id: matches!(self, Self::Internal(_) | Self::Unavailable(_)).then_some(request_id).flatten(),
        };
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json")));
        match self {
            Self::Unauthorized { .. } => {
                response.insert_header((header::WWW_AUTHENTICATE, format!("Bearer error=\"{code}\"")));
            }
            Self::TooManyRequests { retry_after } => {
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                response.insert_header((header::RETRY_AFTER, seconds.max(1).to_string()));
            }
            Self::MethodNotAllowed { allow, .. } => {
                response.insert_header((header::ALLOW, allow.clone()));
            }
            Self::UnsupportedEncoding { accepted, .. } => {
                response.insert_header((header::ACCEPT_ENCODING, *accepted));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&body).unwrap_or_default())
    }
}

/// The result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

impl From<crate::accounts::AccountError> for ApiError {
    fn from(error: crate::accounts::AccountError) -> Self {
        use crate::accounts::AccountError;
        match error {
            AccountError::Duplicate(detail) => Self::Conflict { code: "already_exists", detail },
            AccountError::Missing(detail) => Self::field("unit", "unknown_unit", detail),
            AccountError::Database(error) => error.into(),
            AccountError::Other(error) => Self::Internal(error),
        }
    }
}
