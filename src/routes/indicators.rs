//! Indicators: administrators define what success is measured by (a survey figure, its groups
//! and target rule); coordinators record the values per year and group. Every answer says, per
//! group, how the latest value moved and whether it meets the target. Indicators are published
//! survey aggregates, so partners may read them too.

use super::json::ApiJson;
use crate::auth::{Admin, Analyst, Auth, Coordinator};
use crate::db::queries::indicators::{self, IndicatorError, IndicatorRow};
use crate::domain::identity::Slug;
use crate::domain::indicators::{self as rules, Definition, DefinitionInput, IndicatorSummary, ValueInput};
use crate::domain::{FieldError, FieldErrors};
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, db};
use actix_web::{HttpResponse, web};
use serde::Deserialize;

/// A target rule as sent.
#[derive(Deserialize)]
pub struct TargetBody {
    kind: String,
    value: Option<f64>,
}

/// `POST /api/v1/indicators`
#[derive(Deserialize)]
pub struct CreateIndicator {
    slug: String,
    name_sv: String,
    name_en: String,
    source: String,
    unit: String,
    #[serde(default)]
    groups: Vec<String>,
    target: TargetBody,
    /// Whether a higher value is better; by default it is.
    higher_is_better: Option<bool>,
}

/// `PATCH /api/v1/indicators/{id}`: absent fields stay as they are.
#[derive(Deserialize)]
pub struct UpdateIndicator {
    name_sv: Option<String>,
    name_en: Option<String>,
    source: Option<String>,
    unit: Option<String>,
    groups: Option<Vec<String>>,
    target: Option<TargetBody>,
    higher_is_better: Option<bool>,
}

/// One value as sent.
#[derive(Deserialize)]
pub struct ValueBody {
    /// The group; absent or null for the whole population.
    group: Option<String>,
    value: f64,
    note: Option<String>,
}

/// `PUT /api/v1/indicators/{id}/values/{year}`
#[derive(Deserialize)]
pub struct PutValues {
    values: Vec<ValueBody>,
}

/// `DELETE /api/v1/indicators/{id}/values/{year}`
#[derive(Deserialize)]
pub struct DeleteQuery {
    /// Only this group's value; by default the whole year.
    group: Option<String>,
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such indicator".into())
}

impl From<IndicatorError> for ApiError {
    fn from(error: IndicatorError) -> Self {
        match error {
            IndicatorError::Duplicate(_) => Self::Conflict { code: "already_exists", detail: error.to_string() },
            IndicatorError::Database(error) => error.into(),
        }
    }
}

/// `GET /api/v1/indicators`: every indicator, evaluated.
pub async fn list(state: web::Data<AppState>, auth: Auth<Analyst>) -> ApiResult<HttpResponse> {
    let organisation_id = auth.organisation_id.clone();
    let summaries = db(&state, move |conn, _| Ok(indicators::summary(conn, &organisation_id)?)).await?;
    Ok(HttpResponse::Ok().json(summaries))
}

/// `GET /api/v1/indicators/{id}`
pub async fn get(state: web::Data<AppState>, auth: Auth<Analyst>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let organisation_id = auth.organisation_id.clone();
    let summary =
        db(&state, move |conn, _| indicators::summary_of(conn, &organisation_id, &id)?.ok_or_else(not_found)).await?;
    Ok(HttpResponse::Ok().json(summary))
}

/// `POST /api/v1/indicators`
pub async fn create(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    ApiJson(body): ApiJson<CreateIndicator>,
) -> ApiResult<HttpResponse> {
    let mut errors = FieldErrors::default();
    let slug = errors.check(Slug::parse("slug", body.slug.trim()));
    let definition = rules::parse_definition(&DefinitionInput {
        name_sv: &body.name_sv,
        name_en: &body.name_en,
        source: &body.source,
        unit: &body.unit,
        groups: &body.groups,
        target_kind: &body.target.kind,
        target_value: body.target.value,
        higher_is_better: body.higher_is_better.unwrap_or(true),
    });
    let definition = definition.map_err(|found| errors.0.extend(found)).ok();
    errors.finish().map_err(ApiError::Validation)?;
    let (Some(slug), Some(definition)) = (slug, definition) else {
        return Err(ApiError::Internal(anyhow::anyhow!("checked fields are missing")));
    };
    let organisation_id = auth.organisation_id.clone();
    let summary = db(&state, move |conn, _| {
        let row = IndicatorRow::new(&organisation_id, slug.as_str(), &definition, crate::db::now());
        indicators::insert(conn, &row)?;
        indicators::summary_of(conn, &organisation_id, &row.id)?.ok_or_else(not_found)
    })
    .await?;
    Ok(HttpResponse::Created().insert_header(("Location", format!("/api/v1/indicators/{}", summary.id))).json(summary))
}

/// `PATCH /api/v1/indicators/{id}`: a group that has values cannot be removed.
pub async fn update(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    id: web::Path<String>,
    ApiJson(body): ApiJson<UpdateIndicator>,
) -> ApiResult<HttpResponse> {
    let organisation_id = auth.organisation_id.clone();
    let summary = db(&state, move |conn, _| {
        crate::db::write_transaction(conn, |conn| {
            let mut row = indicators::by_id(conn, &organisation_id, &id)?.ok_or_else(not_found)?;
            let definition = changed(&row.definition(), &body)?;
            let in_use = indicators::groups_in_use(conn, &organisation_id, &id)?;
            let dropped: Vec<FieldError> = in_use
                .iter()
                .filter(|group| !group.is_empty() && !definition.groups.contains(group))
                .map(|group| {
                    FieldError::new(
                        "groups",
                        "group_has_values",
                        format!("`{group}` has recorded values; delete them before removing the group"),
                    )
                })
                .collect();
            if !dropped.is_empty() {
                return Err(ApiError::Validation(dropped));
            }
            row.set(&definition);
            row.updated_at = crate::db::now();
            indicators::update(conn, &row)?;
            indicators::summary_of(conn, &organisation_id, &id)?.ok_or_else(not_found)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(summary))
}

/// The stored definition with the body's changes, parsed as a whole.
fn changed(current: &Definition, body: &UpdateIndicator) -> ApiResult<Definition> {
    let (kind, value) = match &body.target {
        Some(target) => (target.kind.as_str(), target.value),
        None => (current.target.kind(), current.target.value()),
    };
    rules::parse_definition(&DefinitionInput {
        name_sv: body.name_sv.as_deref().unwrap_or(&current.name_sv),
        name_en: body.name_en.as_deref().unwrap_or(&current.name_en),
        source: body.source.as_deref().unwrap_or(&current.source),
        unit: body.unit.as_deref().unwrap_or(&current.unit),
        groups: body.groups.as_deref().unwrap_or(&current.groups),
        target_kind: kind,
        target_value: value,
        higher_is_better: body.higher_is_better.unwrap_or(current.higher_is_better),
    })
    .map_err(ApiError::Validation)
}

/// `PUT /api/v1/indicators/{id}/values/{year}`: the year's values, replacing any recorded.
pub async fn put_values(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    path: web::Path<(String, String)>,
    ApiJson(body): ApiJson<PutValues>,
) -> ApiResult<HttpResponse> {
    let (id, year) = path.into_inner();
    let year = rules::parse_year(&year).map_err(|e| ApiError::Validation(vec![e]))?;
    let inputs: Vec<ValueInput> =
        body.values.into_iter().map(|v| ValueInput { group: v.group, value: v.value, note: v.note }).collect();
    let (organisation_id, user_id) = (auth.organisation_id.clone(), auth.user_id.clone());
    let summary: IndicatorSummary = db(&state, move |conn, _| {
        let row = indicators::by_id(conn, &organisation_id, &id)?.ok_or_else(not_found)?;
        let values = rules::check_values(&row.definition(), &inputs).map_err(ApiError::Validation)?;
        indicators::replace_year(conn, &organisation_id, &id, year, &values, Some(&user_id), crate::db::now())?;
        indicators::summary_of(conn, &organisation_id, &id)?.ok_or_else(not_found)
    })
    .await?;
    Ok(HttpResponse::Ok().json(summary))
}

/// `DELETE /api/v1/indicators/{id}/values/{year}[?group=G]`
pub async fn delete_values(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    path: web::Path<(String, String)>,
    query: web::Query<DeleteQuery>,
) -> ApiResult<HttpResponse> {
    let (id, year) = path.into_inner();
    let year = rules::parse_year(&year).map_err(|e| ApiError::Validation(vec![e]))?;
    let group = query.into_inner().group.map(|g| g.trim().to_owned()).filter(|g| !g.is_empty());
    let organisation_id = auth.organisation_id.clone();
    db(&state, move |conn, _| {
        indicators::by_id(conn, &organisation_id, &id)?.ok_or_else(not_found)?;
        let removed = crate::db::write_transaction(conn, |conn| {
            let removed = indicators::delete_values(conn, &organisation_id, &id, year, group.as_deref())?;
            if removed > 0 {
                indicators::touch(conn, &organisation_id, &id, crate::db::now())?;
            }
            Ok::<_, crate::db::DbError>(removed)
        })?;
        if removed == 0 {
            return Err(ApiError::NotFound(match group {
                Some(group) => format!("no value for `{group}` in {year}"),
                None => format!("no values in {year}"),
            }));
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
