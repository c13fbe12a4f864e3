//! Reference data: categories and activity types, edited by administrators and synced down to
//! phones. Entries are never deleted (records use them); set `active: false` to stop offering one.

use super::json::ApiJson;
use crate::auth::{Admin, AnyRole, Auth};
use crate::db::models::ReferenceRow;
use crate::db::queries::is_unique_violation;
use crate::db::queries::reference::{self, ReferenceChange};
use crate::domain::FieldErrors;
use crate::domain::identity::{Name, Slug};
use crate::domain::sync::SyncedTable;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, db};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

/// `POST /api/v1/categories` and `POST /api/v1/activity-types`
#[derive(Deserialize)]
pub struct CreateEntry {
    slug: String,
    label_sv: String,
    label_en: String,
    sort_order: Option<i32>,
}

/// `PATCH …/{id}`: absent fields stay as they are.
#[derive(Deserialize)]
pub struct UpdateEntry {
    label_sv: Option<String>,
    label_en: Option<String>,
    sort_order: Option<i32>,
    active: Option<bool>,
}

fn view(row: &ReferenceRow) -> Value {
    json!({
        "id": row.id,
        "slug": row.slug,
        "label_sv": row.label_sv,
        "label_en": row.label_en,
        "sort_order": row.sort_order,
        "active": row.active,
    })
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such entry".into())
}

async fn list(state: web::Data<AppState>, organisation_id: String, kind: SyncedTable) -> ApiResult<HttpResponse> {
    let rows = db(&state, move |conn, _| Ok(reference::list(conn, kind, &organisation_id)?)).await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(view).collect::<Vec<_>>()))
}

async fn create(
    state: web::Data<AppState>,
    organisation_id: String,
    kind: SyncedTable,
    body: CreateEntry,
    base: &str,
) -> ApiResult<HttpResponse> {
    let mut errors = FieldErrors::default();
    let slug = errors.check(Slug::parse("slug", &body.slug));
    let label_sv = errors.check(Name::parse("label_sv", &body.label_sv));
    let label_en = errors.check(Name::parse("label_en", &body.label_en));
    errors.finish().map_err(ApiError::Validation)?;
    let (Some(slug), Some(label_sv), Some(label_en)) = (slug, label_sv, label_en) else {
        return Err(ApiError::Internal(anyhow::anyhow!("checked fields are missing")));
    };
    let row = db(&state, move |conn, _| {
        crate::db::write_transaction(conn, |conn| {
            let sort_order = match body.sort_order {
                Some(order) => order,
                None => {
                    reference::list(conn, kind, &organisation_id)?.iter().map(|r| r.sort_order).max().unwrap_or(0) + 10
                }
            };
            let row = ReferenceRow {
                id: uuid::Uuid::now_v7().to_string(),
                organisation_id: organisation_id.clone(),
                slug: slug.as_str().to_owned(),
                label_sv: label_sv.as_str().to_owned(),
                label_en: label_en.as_str().to_owned(),
                sort_order,
                active: true,
                server_seq: crate::db::queries::sync_state::take(conn)?,
            };
            match reference::insert(conn, kind, &row) {
                Err(error) if is_unique_violation(&error) => Err(ApiError::Conflict {
                    code: "already_exists",
                    detail: format!("the slug `{slug}` is already used"),
                }),
                other => other.map(|()| row).map_err(ApiError::from),
            }
        })
    })
    .await?;
    Ok(HttpResponse::Created().insert_header(("Location", format!("{base}/{}", row.id))).json(view(&row)))
}

async fn update(
    state: web::Data<AppState>,
    organisation_id: String,
    kind: SyncedTable,
    id: String,
    body: UpdateEntry,
) -> ApiResult<HttpResponse> {
    let mut errors = FieldErrors::default();
    let label_sv = body.label_sv.as_deref().map(|l| errors.check(Name::parse("label_sv", l)));
    let label_en = body.label_en.as_deref().map(|l| errors.check(Name::parse("label_en", l)));
    errors.finish().map_err(ApiError::Validation)?;
    let change = ReferenceChange {
        label_sv: label_sv.flatten().map(|l| l.as_str().to_owned()),
        label_en: label_en.flatten().map(|l| l.as_str().to_owned()),
        sort_order: body.sort_order,
        active: body.active,
    };
    let row = db(&state, move |conn, _| {
        if !reference::update(conn, kind, &organisation_id, &id, &change)? {
            return Err(not_found());
        }
        reference::by_id(conn, kind, &organisation_id, &id)?.ok_or_else(not_found)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(&row)))
}

/// `GET /api/v1/categories`
pub async fn list_categories(state: web::Data<AppState>, auth: Auth<AnyRole>) -> ApiResult<HttpResponse> {
    list(state, auth.organisation_id.clone(), SyncedTable::Categories).await
}

/// `POST /api/v1/categories`
pub async fn create_category(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    ApiJson(body): ApiJson<CreateEntry>,
) -> ApiResult<HttpResponse> {
    create(state, auth.organisation_id.clone(), SyncedTable::Categories, body, "/api/v1/categories").await
}

/// `PATCH /api/v1/categories/{id}`
pub async fn update_category(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    id: web::Path<String>,
    ApiJson(body): ApiJson<UpdateEntry>,
) -> ApiResult<HttpResponse> {
    update(state, auth.organisation_id.clone(), SyncedTable::Categories, id.into_inner(), body).await
}

/// `GET /api/v1/activity-types`
pub async fn list_activity_types(state: web::Data<AppState>, auth: Auth<AnyRole>) -> ApiResult<HttpResponse> {
    list(state, auth.organisation_id.clone(), SyncedTable::ActivityTypes).await
}

/// `POST /api/v1/activity-types`
pub async fn create_activity_type(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    ApiJson(body): ApiJson<CreateEntry>,
) -> ApiResult<HttpResponse> {
    create(state, auth.organisation_id.clone(), SyncedTable::ActivityTypes, body, "/api/v1/activity-types").await
}

/// `PATCH /api/v1/activity-types/{id}`
pub async fn update_activity_type(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    id: web::Path<String>,
    ApiJson(body): ApiJson<UpdateEntry>,
) -> ApiResult<HttpResponse> {
    update(state, auth.organisation_id.clone(), SyncedTable::ActivityTypes, id.into_inner(), body).await
}
