//! The lägesbild and åtgärdsplan documents: previewed as drafts, approved by a coordinator or an
//! admin into a dated version that never changes, listed and read as HTML, CSV or XLSX.

use super::followup::PeriodFigures;
use super::json::ApiJson;
use super::reports::{actor, attachment};
use crate::auth::{Auth, AuthUser, Coordinator};
use crate::db::DbConnection;
use crate::db::queries::audit::{self, Event};
use crate::db::queries::documents::{self, Content, DocumentMeta, NewDocument};
use crate::db::queries::users;
use crate::domain::FieldError;
use crate::domain::period::Period;
use crate::domain::plan::{read, text};
use crate::domain::time::rfc3339_ms;
use crate::error::{ApiError, ApiResult};
use crate::reports::Lang;
use crate::reports::documents::{Approval, Document, Kind};
use crate::state::{AppState, db};
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The longest analysis, in characters (a few pages).
const MAX_ANALYSIS_CHARS: usize = 20_000;
/// The longest partner input, in characters.
const MAX_PARTNER_INPUT_CHARS: usize = 10_000;

/// The body of a preview or an approval.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentBody {
    kind: String,
    period: String,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    analysis: String,
    #[serde(default)]
    partner_input: String,
}

/// A body checked: every field at fault named at once; free text redacted like a note.
struct Checked {
    kind: Kind,
    period: Period,
    lang: Lang,
    analysis: String,
    partner_input: String,
}

fn checked(body: Map<String, Value>) -> ApiResult<Checked> {
    let body: DocumentBody = read(Value::Object(body)).map_err(|error| ApiError::Validation(vec![error]))?;
    let mut errors = Vec::new();
    let kind = Kind::parse(body.kind.trim());
    if kind.is_none() {
        errors.push(FieldError::new("kind", "unknown_value", "must be one of lagesbild, atgardsplan"));
    }
    let period = Period::parse("period", body.period.trim()).map_err(|error| errors.push(error)).ok();
    let lang = Lang::parse(body.lang.as_deref());
    if lang.is_none() {
        errors.push(FieldError::new("lang", "invalid_lang", "use sv (the default) or en"));
    }
    let analysis = text("analysis", &body.analysis, MAX_ANALYSIS_CHARS, false, &mut errors);
    let partner_input = text("partner_input", &body.partner_input, MAX_PARTNER_INPUT_CHARS, false, &mut errors);
    match (kind, period, lang) {
        (Some(kind), Some(period), Some(lang)) if errors.is_empty() => {
            Ok(Checked { kind, period, lang, analysis, partner_input })
        }
        _ => Err(ApiError::Validation(errors)),
    }
}

/// A version as the API lists it, with the addresses of its files.
fn view(meta: &DocumentMeta) -> Value {
    let base = format!("/api/v1/documents/{}", meta.id);
    json!({
        "id": meta.id,
        "kind": meta.kind,
        "period": meta.period,
        "version": meta.version,
        "lang": meta.lang,
        "analysis": meta.analysis,
        "partner_input": meta.partner_input,
        "approved_by": meta.approved_by,
        "approved_by_name": meta.approved_by_name,
        "approved_at": rfc3339_ms(meta.approved_at),
        "files": {
            "html": format!("{base}/file?format=html"),
            "csv": format!("{base}/file?format=csv"),
            "xlsx": format!("{base}/file?format=xlsx"),
        },
    })
}

/// Renders the document over the period's figures as the caller sees them.
fn render(
    conn: &mut DbConnection,
    state: &AppState,
    caller: &AuthUser,
    body: &Checked,
    approval: Option<Approval<'_>>,
) -> ApiResult<Content> {
    let figures = PeriodFigures::load(conn, state, caller, body.period, body.lang, body.kind == Kind::Atgardsplan)?;
    let document = Document {
        kind: body.kind,
        figures: figures.report(body.lang, state.basemap.as_deref()),
        analysis: &body.analysis,
        partner_input: &body.partner_input,
        approval,
    };
    let csv = document.csv().map_err(|error| ApiError::Internal(error.into()))?;
    Ok(Content {
        html: document.html(),
        csv: String::from_utf8(csv).map_err(|error| ApiError::Internal(error.into()))?,
        xlsx: document.xlsx().map_err(|error| ApiError::Internal(error.into()))?,
    })
}

/// `POST /api/v1/documents/preview`: the document as it would be approved now, marked as a
/// draft, as HTML. Nothing is stored.
pub async fn preview(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    let body = checked(body)?;
    let caller = (*auth).clone();
    let content = db(&state, move |conn, state| render(conn, state, &caller, &body, None)).await?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(content.html))
}

/// `POST /api/v1/documents`: approves the document: the next version of its kind and period,
/// rendered now and stored as it is, with the caller as approver.
pub async fn approve(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    let body = checked(body)?;
    let caller = (*auth).clone();
    let meta = db(&state, move |conn, state| {
        let approver = users::by_id(conn, &caller.organisation_id, &caller.user_id)?
            .map(|user| if user.display_name.trim().is_empty() { user.username } else { user.display_name })
            .unwrap_or_default();
        let period = body.period.to_string();
        let new = NewDocument {
            organisation_id: caller.organisation_id.clone(),
            id: uuid::Uuid::now_v7().to_string(),
            kind: body.kind.as_str().to_owned(),
            period: period.clone(),
            lang: body.lang.pick("sv", "en").to_owned(),
            analysis: body.analysis.clone(),
            partner_input: body.partner_input.clone(),
            approved_by: caller.user_id.clone(),
            approved_by_name: approver.clone(),
            approved_at: chrono::Utc::now().timestamp_millis(),
        };
        // Rendered before the write, so that no writer waits while the figures are read and
        // drawn; stored only if no other version took the number meanwhile (on PostgreSQL two
        // approvals at once cannot both take it: the second is refused by the unique key).
        let meanwhile = || ApiError::Conflict {
            code: "approved_meanwhile",
            detail: "another version of this document was approved at the same moment; approve again".into(),
        };
        let version = documents::next_version(conn, &new.organisation_id, &new.kind, &period)?;
        let approval = Approval { version, by: &approver, at: new.approved_at };
        let content = render(conn, state, &caller, &body, Some(approval))?;
        crate::db::write_transaction(conn, |conn| {
            if documents::next_version(conn, &new.organisation_id, &new.kind, &period)? != version {
                return Err(meanwhile());
            }
            documents::insert(conn, &new, version, &content).map_err(|error| match error {
                diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
                    meanwhile()
                }
                other => ApiError::from(other),
            })?;
            let mut filters = Map::new();
            filters.insert("id".into(), json!(new.id));
            filters.insert("kind".into(), json!(new.kind));
            filters.insert("period".into(), json!(period));
            filters.insert("version".into(), json!(version));
            let event = Event { action: "document.approve", format: None, filters };
            audit::record_complete(conn, &actor(&caller), event, 1, new.approved_at)?;
            documents::get(conn, &new.organisation_id, &new.id)?
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the document just stored cannot be read")))
        })
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/documents/{}", meta.id)))
        .json(view(&meta)))
}

/// The filters of the list.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    kind: Option<String>,
    period: Option<String>,
}

/// `GET /api/v1/documents`: every approved version, newest first.
pub async fn list(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let ListQuery { kind, period } = query.into_inner();
    if let Some(kind) = kind.as_deref().filter(|kind| Kind::parse(kind).is_none()) {
        return Err(ApiError::field("kind", "unknown_value", format!("`{kind}` is not lagesbild or atgardsplan")));
    }
    let period = match period.as_deref() {
        Some(text) => {
            Some(Period::parse("period", text.trim()).map_err(|e| ApiError::Validation(vec![e]))?.to_string())
        }
        None => None,
    };
    let org = auth.organisation_id.clone();
    let found = db(&state, move |conn, _| Ok(documents::list(conn, &org, kind.as_deref(), period.as_deref())?)).await?;
    Ok(HttpResponse::Ok().json(found.iter().map(view).collect::<Vec<_>>()))
}

/// `GET /api/v1/documents/{id}`
pub async fn get(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let org = auth.organisation_id.clone();
    let meta = db(&state, move |conn, _| {
        documents::get(conn, &org, &id)?.ok_or_else(|| ApiError::NotFound("no such document".into()))
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(&meta)))
}

/// The format of a document's file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileQuery {
    format: Option<String>,
}

/// `GET /api/v1/documents/{id}/file?format=html|csv|xlsx`: the version as it was approved.
pub async fn file(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    id: web::Path<String>,
    query: web::Query<FileQuery>,
) -> ApiResult<HttpResponse> {
    let format = query.into_inner().format.unwrap_or_else(|| "html".to_owned());
    if !matches!(format.as_str(), "html" | "csv" | "xlsx") {
        return Err(ApiError::field("format", "invalid_format", "use html (the default), csv or xlsx"));
    }
    let caller = (*auth).clone();
    let chosen = format.clone();
    let (meta, content) = db(&state, move |conn, _| {
        let (meta, content) = documents::content(conn, &caller.organisation_id, &id)?
            .ok_or_else(|| ApiError::NotFound("no such document".into()))?;
        let mut filters = Map::new();
        filters.insert("id".into(), json!(meta.id));
        filters.insert("kind".into(), json!(meta.kind));
        filters.insert("period".into(), json!(meta.period));
        let event = Event { action: "report.document", format: Some(&chosen), filters };
        audit::record_complete(conn, &actor(&caller), event, 1, chrono::Utc::now().timestamp_millis())?;
        Ok((meta, content))
    })
    .await?;
    let name = format!("{}-{}-v{}.{format}", meta.kind, meta.period, meta.version);
    Ok(match format.as_str() {
        "csv" => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((header::CONTENT_DISPOSITION, attachment(name)))
            .body(content.csv),
        "xlsx" => HttpResponse::Ok()
            .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            .insert_header((header::CONTENT_DISPOSITION, attachment(name)))
            .body(content.xlsx),
        _ => HttpResponse::Ok().content_type("text/html; charset=utf-8").body(content.html),
    })
}
