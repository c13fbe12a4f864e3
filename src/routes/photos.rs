//! Photos: the bytes of a photo attachment, uploaded in chunks that resume where they stopped
//! (`/api/v1/uploads/{sha256}`), and served to the people who may see them
//! (`/api/v1/attachments/{id}/photo|thumbnail`, `/api/v1/observations/{id}/attachments`).
//!
//! An upload belongs to an attachment the phone pushed first through the sync protocol: the
//! observation is never held back by its photo. The upload is named by the SHA-256 of its bytes,
//! so the same photo is stored once however often (and by whomever) it is sent, and a retried
//! chunk finds itself stored. Once whole, the bytes are checked against their hash, decoded,
//! turned upright, scaled down and encoded again without any metadata; only that is kept.

use super::reports::actor;
use crate::auth::{Auth, AuthUser, Reporter};
use crate::db::queries::audit;
use crate::db::queries::photos::{self, AttachmentRow, PhotoRow};
use crate::domain::attachments::is_sha256;
use crate::domain::identity::Role;
use crate::domain::time::rfc3339_ms;
use crate::error::{ApiError, ApiResult};
use crate::photos::image::{self as photo_image, PhotoLimits};
use crate::photos::store::{self, Variant};
use crate::state::{AppState, db};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The header that says where a chunk starts, and (on a 409) where the upload stands.
pub const UPLOAD_OFFSET: &str = "upload-offset";

/// How an upload stands.
fn status(sha256: &str, size: i64, received: i64, photo: Option<&PhotoRow>) -> Value {
    json!({
        "sha256": sha256,
        "size": size,
        "received": if photo.is_some() { size } else { received },
        "complete": photo.is_some(),
        "width": photo.map(|p| p.width),
        "height": photo.map(|p| p.height),
    })
}

fn checked_hash(sha256: &str) -> ApiResult<String> {
    if is_sha256(sha256) {
        Ok(sha256.to_ascii_lowercase())
    } else {
        Err(ApiError::field("sha256", "invalid_format", "must be the SHA-256 of the photo: 64 hexadecimal digits"))
    }
}

fn no_attachment() -> ApiError {
    ApiError::Missing {
        code: "no_attachment",
        detail: "no attachment of yours has this photo: push the attachment through sync first, then upload".into(),
        field: "sha256",
    }
}

/// What an upload is checked against, read in one go.
struct Upload {
    size: i64,
    received: i64,
    photo: Option<PhotoRow>,
}

fn upload_state(conn: &mut crate::db::DbConnection, caller: &AuthUser, sha256: &str) -> ApiResult<Upload> {
    let reviews = matches!(caller.role, Role::Coordinator | Role::Admin);
    let size = photos::declared_size(conn, &caller.organisation_id, sha256, &caller.user_id, reviews)?
        .ok_or_else(no_attachment)?;
    let photo = photos::stored(conn, &caller.organisation_id, sha256)?;
    let received = if photo.is_some() { size } else { photos::received(conn, &caller.organisation_id, sha256)? };
    Ok(Upload { size, received, photo })
}

/// `GET /api/v1/uploads/{sha256}`: how far the upload of a photo got.
pub async fn upload_status(
    state: web::Data<AppState>,
    auth: Auth<Reporter>,
    sha256: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let sha256 = checked_hash(&sha256)?;
    let caller = (*auth).clone();
    let hash = sha256.clone();
    let upload = db(&state, move |conn, _| upload_state(conn, &caller, &hash)).await?;
    Ok(with_offset(HttpResponse::Ok(), upload.received).json(status(
        &sha256,
        upload.size,
        upload.received,
        upload.photo.as_ref(),
    )))
}

fn with_offset(mut builder: actix_web::HttpResponseBuilder, offset: i64) -> actix_web::HttpResponseBuilder {
    builder.insert_header((header::HeaderName::from_static(UPLOAD_OFFSET), offset.to_string()));
    builder
}

fn offset_mismatch(received: i64) -> ApiError {
    ApiError::Conflict {
        code: "offset_mismatch",
        detail: format!("the upload holds {received} bytes: send the chunk that starts at {received}"),
    }
}

/// `PUT /api/v1/uploads/{sha256}`: one chunk of a photo, starting at `Upload-Offset`. The answer
/// says how much is stored; the last chunk's answer is the stored photo (201).
pub async fn upload_chunk(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    auth: Auth<Reporter>,
    sha256: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let sha256 = checked_hash(&sha256)?;
    let offset = req
        .headers()
        .get(UPLOAD_OFFSET)
        .ok_or_else(|| ApiError::field("Upload-Offset", "required", "say where the chunk starts (0 for the first)"))?
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<i64>().ok())
        .filter(|offset| *offset >= 0)
        .ok_or_else(|| ApiError::field("Upload-Offset", "invalid_type", "must be a non-negative integer"))?;
    let mut raw = payload.into_inner();
    let chunk = super::body::read(&req, &mut raw, state.settings.photo_chunk_bytes).await?.freeze();
    let caller = (*auth).clone();
    let now_ms = chrono::Utc::now().timestamp_millis();
    let quota = i64::try_from(state.settings.photo_quota_bytes).unwrap_or(i64::MAX);
    let hash = sha256.clone();
    enum Next {
        Mismatch(i64),
        Stored(Upload),
        Partial(Upload),
        Whole { size: i64, bytes: Vec<u8> },
    }
    let next = db(&state, move |conn, _| {
        let mut upload = upload_state(conn, &caller, &hash)?;
        if upload.photo.is_some() {
            return Ok(Next::Stored(upload));
        }
        if offset != upload.received {
            return Ok(Next::Mismatch(upload.received));
        }
        let length = i64::try_from(chunk.len()).unwrap_or(i64::MAX);
        if offset.saturating_add(length) > upload.size {
            return Err(ApiError::Validation(vec![crate::domain::FieldError::new(
                "body",
                "too_long",
                format!("the photo has {} bytes, as its attachment says; this chunk ends past them", upload.size),
            )]));
        }
        if offset == 0 && photos::stored_bytes(conn, &caller.organisation_id)?.saturating_add(upload.size) > quota {
            return Err(ApiError::Media {
                status: StatusCode::INSUFFICIENT_STORAGE,
                code: "quota_exceeded",
                detail: "the organisation's photo storage is full: ask an administrator to make room".into(),
            });
        }
        if !chunk.is_empty() {
            if !photos::add_chunk(conn, &caller.organisation_id, &hash, offset, &chunk, now_ms)? {
                return Ok(Next::Mismatch(photos::received(conn, &caller.organisation_id, &hash)?));
            }
            upload.received = offset + length;
        }
        if upload.received < upload.size {
            return Ok(Next::Partial(upload));
        }
        let bytes = photos::assembled(conn, &caller.organisation_id, &hash)?;
        Ok(Next::Whole { size: upload.size, bytes })
    })
    .await?;
    let (size, bytes) = match next {
        Next::Mismatch(received) => {
            // The problem says where the upload stands, and so does its header.
            let mut response = actix_web::ResponseError::error_response(&offset_mismatch(received));
            response.headers_mut().insert(
                header::HeaderName::from_static(UPLOAD_OFFSET),
                HeaderValue::from_str(&received.to_string()).map_err(anyhow::Error::from)?,
            );
            return Ok(response);
        }
        Next::Stored(upload) => {
            return Ok(with_offset(HttpResponse::Ok(), upload.size).json(status(
                &sha256,
                upload.size,
                upload.size,
                upload.photo.as_ref(),
            )));
        }
        Next::Partial(upload) => {
            return Ok(with_offset(HttpResponse::Ok(), upload.received).json(status(
                &sha256,
                upload.size,
                upload.received,
                None,
            )));
        }
        Next::Whole { size, bytes } => (size, bytes),
    };
    let photo = finish(&state, &auth, &sha256, bytes, now_ms).await?;
    Ok(with_offset(HttpResponse::Created(), size).json(status(&sha256, size, size, Some(&photo))))
}

/// Checks, re-encodes and stores a whole upload; a refused one is forgotten, so that it can be
/// sent again from the start.
async fn finish(
    state: &web::Data<AppState>,
    caller: &AuthUser,
    sha256: &str,
    bytes: Vec<u8>,
    now_ms: i64,
) -> ApiResult<PhotoRow> {
    let limits = PhotoLimits { max_pixels: state.settings.photo_max_pixels, max_edge: state.settings.photo_max_edge };
    let store = state.photos.clone();
    let (organisation_id, hash) = (caller.organisation_id.clone(), sha256.to_owned());
    let stored = web::block(move || -> ApiResult<Result<(i64, i64, u32, u32), ApiError>> {
        if hex::encode(Sha256::digest(&bytes)) != hash {
            return Ok(Err(ApiError::Media {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "hash_mismatch",
                detail:
                    "the bytes received do not have the SHA-256 they were sent under: upload the photo again from 0"
                        .into(),
            }));
        }
        let processed = match photo_image::process(&bytes, limits) {
            Ok(processed) => processed,
            Err(refusal) => {
                return Ok(Err(ApiError::Media { status: refusal.status, code: refusal.code, detail: refusal.detail }));
            }
        };
        let sizes = (
            i64::try_from(processed.photo.len()).unwrap_or(i64::MAX),
            i64::try_from(processed.thumbnail.len()).unwrap_or(i64::MAX),
        );
        store
            .put(&store::key(&organisation_id, &hash, Variant::Photo), processed.photo)
            .map_err(|error| ApiError::Internal(anyhow::Error::new(error).context("cannot store the photo")))?;
        store
            .put(&store::key(&organisation_id, &hash, Variant::Thumbnail), processed.thumbnail)
            .map_err(|error| ApiError::Internal(anyhow::Error::new(error).context("cannot store the thumbnail")))?;
        Ok(Ok((sizes.0, sizes.1, processed.width, processed.height)))
    })
    .await??;
    let caller = caller.clone();
    let hash = sha256.to_owned();
    db(state, move |conn, _| match stored {
        Err(refusal) => {
            photos::drop_chunks(conn, &caller.organisation_id, &hash)?;
            Err(refusal)
        }
        Ok((byte_size, thumbnail_size, width, height)) => {
            let row = PhotoRow {
                organisation_id: caller.organisation_id.clone(),
                sha256: hash.clone(),
                byte_size,
                thumbnail_size,
                width: i32::try_from(width).unwrap_or(i32::MAX),
                height: i32::try_from(height).unwrap_or(i32::MAX),
                uploaded_by: caller.user_id.clone(),
                uploaded_at: now_ms,
            };
            photos::record_stored(conn, &row)?;
            Ok(photos::stored(conn, &caller.organisation_id, &hash)?.unwrap_or(row))
        }
    })
    .await
}

/// Whether the caller may see an attachment's photo: coordinators and admins, the observation's
/// reporter and whoever attached it. Partners never reach this (their role is refused first).
fn may_see(caller: &AuthUser, attachment: &AttachmentRow) -> bool {
    matches!(caller.role, Role::Coordinator | Role::Admin)
        || attachment.observation_user_id == caller.user_id
        || attachment.user_id == caller.user_id
}

fn no_photo() -> ApiError {
    ApiError::NotFound("no such photo".into())
}

/// An attachment as the API lists it.
fn attachment_view(row: &AttachmentRow, photo: Option<&PhotoRow>) -> Value {
    json!({
        "id": row.id,
        "observation_id": row.observation_id,
        "sha256": row.sha256,
        "created_at": rfc3339_ms(row.created_at),
        "uploaded": photo.is_some(),
        "width": photo.map(|p| p.width),
        "height": photo.map(|p| p.height),
        "photo_url": photo.map(|_| format!("/api/v1/attachments/{}/photo", row.id)),
        "thumbnail_url": photo.map(|_| format!("/api/v1/attachments/{}/thumbnail", row.id)),
    })
}

/// `GET /api/v1/observations/{id}/attachments`: the photos of an observation.
pub async fn of_observation(
    state: web::Data<AppState>,
    auth: Auth<Reporter>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let caller = (*auth).clone();
    let rows = db(&state, move |conn, _| {
        let observation = crate::db::queries::records::observation(conn, &caller.organisation_id, &id)?
            .filter(|row| caller.may_read_record_of(&row.user_id))
            .ok_or_else(|| ApiError::NotFound("no such observation".into()))?;
        Ok(photos::of_observations(conn, &caller.organisation_id, &[observation.id])?)
    })
    .await?;
    let list: Vec<Value> = rows.iter().map(|(row, photo)| attachment_view(row, photo.as_ref())).collect();
    Ok(HttpResponse::Ok().json(list))
}

async fn serve(state: web::Data<AppState>, caller: AuthUser, id: String, variant: Variant) -> ApiResult<HttpResponse> {
    let key = db(&state, move |conn, _| {
        let (attachment, photo) = photos::attachment(conn, &caller.organisation_id, &id)?.ok_or_else(no_photo)?;
        let observation_live =
            crate::db::queries::records::observation(conn, &caller.organisation_id, &attachment.observation_id)?
                .is_some();
        if !observation_live || !may_see(&caller, &attachment) {
            return Err(no_photo());
        }
        if photo.is_none() {
            return Err(ApiError::Media {
                status: StatusCode::NOT_FOUND,
                code: "not_uploaded",
                detail: "the photo's bytes have not arrived yet: the phone sends them when it can".into(),
            });
        }
        let mut filters = Map::new();
        filters.insert("attachment_id".into(), json!(attachment.id));
        filters.insert("observation_id".into(), json!(attachment.observation_id));
        let action = match variant {
            Variant::Photo => "read.photo",
            Variant::Thumbnail => "read.thumbnail",
        };
        let event = audit::Event { action, format: None, filters };
        audit::record_complete(conn, &actor(&caller), event, 1, chrono::Utc::now().timestamp_millis())?;
        Ok(store::key(&caller.organisation_id, &attachment.sha256, variant))
    })
    .await?;
    let store = state.photos.clone();
    let bytes = web::block(move || store.get(&key))
        .await?
        .map_err(|error| ApiError::Internal(anyhow::Error::new(error).context("cannot read the photo")))?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a recorded photo is missing from the store")))?;
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg")))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .insert_header((header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox")))
        .insert_header((header::CONTENT_DISPOSITION, HeaderValue::from_static("inline")));
    Ok(response.body(bytes))
}

/// `GET /api/v1/attachments/{id}/photo`: the photo (JPEG, no metadata).
pub async fn photo(state: web::Data<AppState>, auth: Auth<Reporter>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    serve(state, (*auth).clone(), id.into_inner(), Variant::Photo).await
}

/// `GET /api/v1/attachments/{id}/thumbnail`: its thumbnail (JPEG, at most 320 pixels a side).
pub async fn thumbnail(
    state: web::Data<AppState>,
    auth: Auth<Reporter>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    serve(state, (*auth).clone(), id.into_inner(), Variant::Thumbnail).await
}
