//! `ApiJson<T>`: a JSON body whose every failure is a problem document: 415 for another content
//! type, 413 over the limit, 400 for malformed JSON, 422 naming the field for a wrong shape; and
//! [`validated`], the shape rules a request type declares with `validator` (lengths, ranges),
//! answered the same way.

use crate::domain::FieldError;
use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use validator::Validate;

/// Tells a field sent as `null` (`Some(None)`) from one not sent (`None`): use with
/// `#[serde(default, deserialize_with = "present")]` on an `Option<Option<T>>`.
pub fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// A deserialized JSON request body. No string in it (key or value) holds U+0000: PostgreSQL
/// cannot store it, so it is refused here for every endpoint alike, naming the field.
pub struct ApiJson<T>(pub T);

/// A JSON body whose strings are left to the handler to check: the push, where a record with a
/// NUL character is quarantined on its own and the rest of the push goes through.
pub struct RecordsJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move {
            let body = body.await?;
            refuse_nul(&body)?;
            parse(&body).map(ApiJson)
        })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for RecordsJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move { parse(&body.await?).map(RecordsJson) })
    }
}

/// Reads a JSON body: 415 for another content type or an unknown content coding, 413 over the
/// limit on the wire or once decoded ([`super::body`]).
fn read_body(req: &HttpRequest, payload: &mut Payload) -> LocalBoxFuture<'static, Result<web::BytesMut, ApiError>> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false);
    let limit = super::middleware::body_limit(req);
    let req = req.clone();
    let mut payload = payload.take();
    Box::pin(async move {
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        super::body::read(&req, &mut payload, limit).await
    })
}

/// The answer to text holding U+0000, which no backend is asked to store.
pub fn nul_error(field: &str) -> ApiError {
    ApiError::field(field, "invalid_character", "must not contain the NUL character (U+0000)")
}

/// Refuses a body with U+0000 in any string, naming the first field that holds one. JSON can
/// only carry it escaped (`\u0000`), so bodies without that sequence are passed at once.
fn refuse_nul(body: &[u8]) -> Result<(), ApiError> {
    const ESCAPED: &[u8] = b"\\u0000";
    if !body.windows(ESCAPED.len()).any(|window| window == ESCAPED) {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Ok(()); // malformed: parse() answers it
    };
    match nul_path(&value, String::new()) {
        Some(path) => Err(nul_error(if path.is_empty() { "." } else { &path })),
        None => Ok(()),
    }
}

/// The path (`note`, `areas[2]`, `filters.name`) of the first string holding U+0000.
fn nul_path(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(text) => text.contains('\0').then_some(path),
        Value::Array(items) => {
            items.iter().enumerate().find_map(|(index, item)| nul_path(item, format!("{path}[{index}]")))
        }
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            let at = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            if key.contains('\0') { Some(path.clone()) } else { nul_path(item, at) }
        }),
        _ => None,
    }
}

/// Parses JSON, telling a malformed document (400) from a well-formed one of the wrong shape
/// (422, naming the field). Every body of the API is an object: an array is refused before serde
/// could read it as a struct's fields in order (`[null, null]` for two optional fields).
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::field(".", "invalid_type", "the body must be a JSON object, not an array"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    let value = result.map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
                let field = missing_field(&message)
                    .map(|name| if path == "." { name.to_owned() } else { format!("{path}.{name}") })
                    .unwrap_or(path);
                let code = if message.starts_with("missing field") { "required" } else { "invalid_type" };
                ApiError::field(if field.is_empty() { "." } else { &field }, code, message)
            }
            _ => {
                ApiError::BadRequest { code: "malformed_json", detail: format!("the body is not valid JSON: {inner}") }
            }
        }
    })?;
    deserializer.end().map_err(|error| ApiError::BadRequest {
        code: "malformed_json",
        detail: format!("the body is not valid JSON: {error}"),
    })?;
    Ok(value)
}

fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// Checks the rules a request body declares (`#[derive(Validate)]`). Every rule broken becomes
/// a field error with the rule's stable code and message, every field at once (in field order),
/// so the answer is the same 422 problem as for any other field at fault.
pub fn validated(body: &impl Validate) -> Result<(), Vec<FieldError>> {
    let Err(broken) = body.validate() else { return Ok(()) };
    let mut errors: Vec<FieldError> = broken
        .field_errors()
        .into_iter()
        .flat_map(|(field, errors)| {
            errors.iter().map(move |error| {
                let message = error.message.as_deref().unwrap_or("is not valid");
                FieldError::new(&field, &error.code, message)
            })
        })
        .collect();
    errors.sort_by(|a, b| a.field.cmp(&b.field));
    Err(errors)
}
