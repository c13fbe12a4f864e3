//! Follow-up: the activity report, the observation export and the audit entries they leave.
//! Coordinators and admins see everything; partners get aggregates for the areas shared with
//! them, with small counts suppressed, and never a record.

use super::params;
use crate::auth::{Analyst, Auth, AuthUser};
use crate::db::DbConnection;
use crate::db::queries::audit::{self, Actor, Event};
use crate::db::queries::reports::{self as report_queries, ActivityFilter, ObservationFilter};
use crate::db::queries::{areas as area_queries, organisations};
use crate::domain::identity::Role;
use crate::domain::period::Period;
use crate::error::{ApiError, ApiResult};
use crate::picture::scope::{Scope, Selection};
use crate::picture::view::Picture;
use crate::reports::activity_report::{Compare, Report, Request};
use crate::reports::observations::{self, Export, Format};
use crate::reports::table::CsvStyle;
use crate::state::{AppState, db};
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::io::Write;

/// The audit log's name for the caller.
pub fn actor(caller: &AuthUser) -> Actor {
    Actor {
        organisation_id: caller.organisation_id.clone(),
        user_id: Some(caller.user_id.clone()),
        role: caller.role.as_str().to_owned(),
    }
}

/// The areas a caller's report covers, narrowed to `area` (with what it contains) when given.
fn select_areas(conn: &mut DbConnection, caller: &AuthUser, area: Option<&str>) -> ApiResult<Selection> {
    let scope = Scope::read(conn, &caller.organisation_id, &caller.user_id, caller.role)?;
    scope.selection(&area_queries::tree(conn, &caller.organisation_id)?, area)
}

pub(crate) fn attachment(name: String) -> ContentDisposition {
    ContentDisposition { disposition: DispositionType::Attachment, parameters: vec![DispositionParam::Filename(name)] }
}

/// Query of `GET /api/v1/reports/activity`.
#[derive(Deserialize)]
pub struct ActivityQuery {
    period: Option<String>,
    /// Comma-separated: type, unit, area, gender, age_band (default: type).
    group_by: Option<String>,
    /// last_year (default), previous or none.
    compare: Option<String>,
    /// Activity type slugs, comma-separated.
    #[serde(rename = "type")]
    activity_type: Option<String>,
    /// Unit slugs, comma-separated.
    unit: Option<String>,
    /// An area code: the area and the areas inside it.
    area: Option<String>,
    /// json (default), csv or xlsx.
    format: Option<String>,
    /// comma (default) or semicolon (with decimal commas) for CSV.
    sep: Option<String>,
    lang: Option<String>,
}

/// The output formats of the activity report.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ReportFormat {
    Json,
    Csv { semicolon: bool },
    Xlsx,
}

fn report_format(format: Option<&str>, sep: Option<&str>) -> ApiResult<ReportFormat> {
    match format.map(str::trim) {
        None | Some("" | "json") => Ok(ReportFormat::Json),
        Some("geojson") => Err(ApiError::field("format", "invalid_format", "use json, csv or xlsx")),
        other => match Format::parse(other, sep) {
            Ok(Format::Csv { semicolon }) => Ok(ReportFormat::Csv { semicolon }),
            Ok(_) => Ok(ReportFormat::Xlsx),
            Err(("sep", message)) => Err(ApiError::field("sep", "invalid_separator", message)),
            Err(_) => Err(ApiError::field("format", "invalid_format", "use json, csv or xlsx")),
        },
    }
}

/// `GET /api/v1/reports/activity`: activities, hours and contacts per group in a period, beside
/// the comparison period, as JSON, CSV or XLSX.
pub async fn activity(
    state: web::Data<AppState>,
    auth: Auth<Analyst>,
    query: web::Query<ActivityQuery>,
) -> ApiResult<HttpResponse> {
    let caller = (*auth).clone();
    let period = params::period(query.period.as_deref())?;
    let grouped = query.group_by.as_deref().is_some_and(|text| !text.trim().is_empty());
    let dimensions = if caller.role == Role::Partner && !grouped {
        vec![crate::domain::activity::Dimension::Area] // a partner's default
    } else {
        crate::domain::activity::parse_dimensions(query.group_by.as_deref())
            .map_err(|e| ApiError::Validation(vec![e]))?
    };
    let compare = Compare::parse(query.compare.as_deref()).ok_or_else(|| {
        ApiError::field("compare", "invalid_compare", "use last_year (the default), previous or none")
    })?;
    let format = report_format(query.format.as_deref(), query.sep.as_deref())?;
    let lang = params::lang(query.lang.as_deref())?;
    let filter = ActivityFilter {
        types: super::params::list(query.activity_type.as_deref()),
        units: super::params::list(query.unit.as_deref()),
    };
    if caller.role == Role::Partner {
        // The partner disclosure rule: an area's activities in a whole tertial are the cells.
        if dimensions.iter().any(|d| *d != crate::domain::activity::Dimension::Area) {
            return Err(crate::picture::disclosure::not_for_partners("group_by"));
        }
        if !filter.types.is_empty() {
            return Err(crate::picture::disclosure::not_for_partners("type"));
        }
        if !filter.units.is_empty() {
            return Err(crate::picture::disclosure::not_for_partners("unit"));
        }
        if !matches!(period.kind, crate::domain::period::Kind::Tertial(_)) {
            return Err(crate::picture::disclosure::not_for_partners("period"));
        }
    }
    let area = query.area.clone();
    let (report, body) = db(&state, move |conn, _| {
        let (_, tz, _) = organisations::report_settings(conn, &caller.organisation_id)?;
        let selection = select_areas(conn, &caller, area.as_deref())?;
        let request = Request {
            period,
            dimensions,
            compare,
            filter,
            areas: selection.areas,
            suppress_below: selection.suppress_below,
            lang,
        };
        let now = chrono::Utc::now().timestamp_millis();
        let report = Report::load(conn, &caller.organisation_id, request, tz, now)?;
        let body = match format {
            ReportFormat::Json => Bytes::from(serde_json::to_vec(&report.json()).map_err(anyhow::Error::from)?),
            ReportFormat::Csv { semicolon } => {
                let mut out = Vec::new();
                report.write_csv(&mut out, semicolon)?;
                Bytes::from(out)
            }
            ReportFormat::Xlsx => Bytes::from(report.xlsx().map_err(anyhow::Error::from)?),
        };
        let rows = report.rows(&report.request.dimensions).len();
        let request = &report.request;
        let mut described = Map::new();
        described.insert("period".into(), json!(request.period.to_string()));
        described.insert("group_by".into(), json!(request.dimensions.iter().map(|d| d.as_str()).collect::<Vec<_>>()));
        described.insert("compare".into(), json!(request.compare.as_str()));
        described.insert("type".into(), json!(request.filter.types));
        described.insert("unit".into(), json!(request.filter.units));
        described.insert("area".into(), json!(area));
        let format_name = match format {
            ReportFormat::Json => "json",
            ReportFormat::Csv { .. } => "csv",
            ReportFormat::Xlsx => "xlsx",
        };
        audit::record_complete(
            conn,
            &actor(&caller),
            Event { action: "export.activity", format: Some(format_name), filters: described },
            rows,
            now,
        )?;
        Ok((report.request.period.to_string(), body))
    })
    .await?;
    let file = |extension: &str| attachment(format!("aktiviteter-{report}.{extension}"));
    Ok(match format {
        ReportFormat::Json => HttpResponse::Ok().content_type("application/json").body(body),
        ReportFormat::Csv { .. } => HttpResponse::Ok()
            .content_type(Format::Csv { semicolon: false }.content_type())
            .insert_header((header::CONTENT_DISPOSITION, file("csv")))
            .body(body),
        ReportFormat::Xlsx => HttpResponse::Ok()
            .content_type(Format::Xlsx.content_type())
            .insert_header((header::CONTENT_DISPOSITION, file("xlsx")))
            .body(body),
    })
}

/// Query of `GET /api/v1/exports/observations`.
#[derive(Deserialize)]
pub struct ExportQuery {
    /// A period; without one, every observation.
    period: Option<String>,
    /// An area code: the area and the areas inside it.
    area: Option<String>,
    /// Category slugs, comma-separated.
    category: Option<String>,
    /// Review statuses, comma-separated.
    status: Option<String>,
    /// csv (default), xlsx or geojson.
    format: Option<String>,
    /// comma (default) or semicolon (with decimal commas) for CSV.
    sep: Option<String>,
    lang: Option<String>,
}

/// A writer that hands 64 KiB chunks to the response stream; it fails once the client is gone,
/// which stops the export.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buffer: Vec<u8>,
}

const CHUNK: usize = 64 * 1024;

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buffer.is_empty() { self.send() } else { Ok(()) }
    }
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        let chunk = Bytes::from(std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

/// Streams what `work` writes as the response body, from the blocking pool. The audit entry
/// `audit_id` gets its row count when the body is complete.
fn stream<F>(
    state: web::Data<AppState>,
    audit_id: String,
    work: F,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>>
where
    F: FnOnce(&mut DbConnection, &mut ChannelWriter) -> anyhow::Result<u64> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let failed = tx.clone();
    tokio::task::spawn_blocking(move || {
        let result = (|| -> anyhow::Result<()> {
            let mut conn = state.conn()?;
            let mut writer = ChannelWriter { tx, buffer: Vec::with_capacity(CHUNK) };
            let rows = work(&mut conn, &mut writer)?;
            writer.flush()?;
            audit::finish(
                &mut conn,
                &audit_id,
                usize::try_from(rows).unwrap_or(usize::MAX),
                chrono::Utc::now().timestamp_millis(),
            )?;
            Ok(())
        })();
        if let Err(error) = result {
            tracing::warn!(%error, "an export stopped before its end");
            let _ = failed.blocking_send(Err(std::io::Error::other("the export stopped before its end")));
        }
    });
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// `GET /api/v1/exports/observations`: every matching observation for coordinators (CSV, XLSX
/// or GeoJSON, streamed), counts per area and category for partners.
pub async fn observations(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    auth: Auth<Analyst>,
    query: web::Query<ExportQuery>,
) -> ApiResult<HttpResponse> {
    let caller = (*auth).clone();
    let format = Format::parse(query.format.as_deref(), query.sep.as_deref()).map_err(|(field, message)| {
        ApiError::field(field, if field == "sep" { "invalid_separator" } else { "invalid_format" }, message)
    })?;
    let period = match query.period.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(text) => Some(Period::parse("period", text).map_err(|e| ApiError::Validation(vec![e]))?),
        None => None,
    };
    let lang = params::lang(query.lang.as_deref())?;
    if caller.role == Role::Partner && matches!(format, Format::GeoJson | Format::Zip) {
        return Err(ApiError::field(
            "format",
            "aggregates_only",
            "partners get counts per area and category, never positions: use csv or xlsx",
        ));
    }
    let categories = super::params::list(query.category.as_deref());
    let statuses = super::params::list(query.status.as_deref());
    let area = query.area.clone();
    // Photo links in the export point where this request came to.
    let photo_base = {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    };
    let prepared = db(&state, move |conn, state| {
        let (_, tz, _) = organisations::report_settings(conn, &caller.organisation_id)?;
        let selection = select_areas(conn, &caller, area.as_deref())?;
        let (from, to) = match period {
            Some(period) => {
                let (from, to) = period.bounds_ms(tz);
                (Some(from), Some(to))
            }
            None => (None, None),
        };
        let mut areas: Option<Vec<String>> = selection.areas.map(|a| a.into_iter().collect());
        if let Some(areas) = areas.as_mut() {
            areas.sort();
        }
        let filter = ObservationFilter { from, to, categories, statuses, areas };
        let mut described = Map::new();
        described.insert("period".into(), json!(period.map(|p| p.to_string())));
        described.insert("area".into(), json!(area));
        described.insert("category".into(), json!(filter.categories));
        described.insert("status".into(), json!(filter.statuses));
        let labels = report_queries::labels(conn, &caller.organisation_id)?;
        let now = chrono::Utc::now().timestamp_millis();
        if let Some(k) = selection.suppress_below {
            // The partner disclosure rule: published cells of one tertial only.
            if !filter.statuses.is_empty() {
                return Err(crate::picture::disclosure::not_for_partners("status"));
            }
            let picture = Picture::open(conn, &state.pictures, &caller.organisation_id, &caller.user_id, caller.role)?;
            let period = crate::picture::disclosure::partner_period(period, tz)?;
            described.insert("period".into(), json!(period.to_string()));
            let cells = picture.published_cells(period, area.as_deref(), &filter.categories)?;
            let (columns, rows) = observations::partner_table(&cells, &labels, lang);
            let filters = observations::describe_filters(&Value::Object(described.clone()));
            let body = match format {
                Format::Xlsx => observations::table_xlsx(
                    lang.pick("Observationer per område", "Observations by area"),
                    &columns,
                    &rows,
                    lang,
                    tz,
                    &filters,
                    Some(k),
                )
                .map_err(anyhow::Error::from)?,
                _ => {
                    let mut out = Vec::new();
                    let semicolon = matches!(format, Format::Csv { semicolon: true });
                    observations::table_csv(&columns, &rows, CsvStyle { semicolon, tz }, &mut out)?;
                    out
                }
            };
            audit::record_complete(
                conn,
                &actor(&caller),
                Event { action: "export.observations", format: Some(format.name()), filters: described },
                rows.len(),
                now,
            )?;
            return Ok(Prepared::Whole(body));
        }
        let audit_id = audit::record(
            conn,
            &actor(&caller),
            Event { action: "export.observations", format: Some(format.name()), filters: described.clone() },
            now,
        )?;
        let filters = observations::describe_filters(&Value::Object(described));
        Ok(Prepared::Stream(Box::new(Streamed { filter, tz, labels, audit_id, filters })))
    })
    .await?;
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    let response = |content_type: &str| {
        let mut builder = HttpResponse::Ok();
        builder.content_type(content_type.to_owned()).insert_header((
            header::CONTENT_DISPOSITION,
            attachment(format!("observationer-{stamp}.{}", format.extension())),
        ));
        builder
    };
    Ok(match prepared {
        Prepared::Whole(body) => response(format.content_type()).body(body),
        Prepared::Stream(streamed) => {
            let Streamed { filter, tz, labels, audit_id, filters } = *streamed;
            let organisation_id = auth.organisation_id.clone();
            let store = state.photos.clone();
            let body = stream(state, audit_id, move |conn, out| {
                let export = Export {
                    organisation_id: &organisation_id,
                    filter: &filter,
                    tz,
                    lang,
                    labels: &labels,
                    photo_base: &photo_base,
                };
                match format {
                    Format::Zip => export.zip(conn, &store, out, &mut |_| {}),
                    Format::Csv { semicolon } => export.csv(conn, semicolon, out, &mut |_| {}),
                    Format::GeoJson => export.geojson(conn, out, &mut |_| {}),
                    Format::Xlsx => {
                        let mut file = tempfile::tempfile()?;
                        let rows = export.xlsx(conn, &mut file, &filters, &mut |_| {})?;
                        use std::io::Seek;
                        file.rewind()?;
                        std::io::copy(&mut file, out)?;
                        Ok(rows)
                    }
                }
            });
            response(format.content_type()).streaming(body)
        }
    })
}

/// An export ready to send: small and whole, or to stream.
enum Prepared {
    Whole(Vec<u8>),
    Stream(Box<Streamed>),
}

/// What a streamed export needs once the response has started.
struct Streamed {
    filter: ObservationFilter,
    tz: chrono_tz::Tz,
    labels: report_queries::Labels,
    audit_id: String,
    filters: Vec<(String, String)>,
}
