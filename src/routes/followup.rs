//! The printable follow-up report and its assessment, per period.

use super::params;
use super::reports::actor;
use crate::auth::{Auth, Coordinator};
use crate::db::DbConnection;
use crate::db::queries::assessments::{self, Assessment};
use crate::db::queries::audit::{self, Event};
use crate::db::queries::reports::ActivityFilter;
use crate::db::queries::{areas as area_queries, organisations};
use crate::domain::activity::Dimension;
use crate::domain::period::Period;
use crate::error::{ApiError, ApiResult};
use crate::picture::view::Picture;
use crate::reports::Lang;
use crate::reports::activity_report::{Compare, Report, Request};
use crate::reports::figure::Outline;
use crate::reports::followup::{FollowUp, IndicatorLine, MeasureLine, number};
use crate::state::{AppState, db};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use validator::Validate;

/// Query of `GET /api/v1/reports/followup`.
#[derive(Deserialize)]
pub struct FollowUpQuery {
    period: Option<String>,
    lang: Option<String>,
}

/// Everything the follow-up report (and the lägesbild and åtgärdsplan documents) show for a
/// period, as the caller may see it.
pub struct PeriodFigures {
    pub organisation: crate::db::models::OrganisationRow,
    pub tz: chrono_tz::Tz,
    pub period: Period,
    pub activity: Report,
    pub picture: crate::picture::view::AreaTable,
    pub heatmap: crate::picture::view::Heatmap,
    pub outlines: Vec<Outline>,
    pub assessment: Option<Assessment>,
    pub indicators: Vec<IndicatorLine>,
    pub measures: Vec<MeasureLine>,
    pub generated_at: i64,
}

impl PeriodFigures {
    /// Reads them. `plan` chooses the measures: those that ran during the period (the follow-up),
    /// or every measure planned to run in it, future ones included (the action plan).
    pub fn load(
        conn: &mut DbConnection,
        state: &AppState,
        caller: &crate::auth::AuthUser,
        period: Period,
        lang: Lang,
        plan: bool,
    ) -> ApiResult<Self> {
        let organisation = organisations::by_id(conn, &caller.organisation_id)?;
        let (_, tz, _) = organisations::report_settings(conn, &caller.organisation_id)?;
        let request = Request {
            period,
            dimensions: vec![Dimension::Type],
            compare: Compare::LastYear,
            filter: ActivityFilter::default(),
            areas: None,
            suppress_below: None,
            lang,
        };
        let now = chrono::Utc::now().timestamp_millis();
        let activity = Report::load(conn, &caller.organisation_id, request, tz, now)?;
        let view = Picture::open(conn, &state.pictures, &caller.organisation_id, &caller.user_id, caller.role)?;
        let filter = view.whole_period(period);
        let picture = view.area_table(Some(period), &filter);
        // Resolution 8 (about 0.7 km²) shows a municipality's hot spots on one page.
        let heatmap = view.heatmap(Some(period), filter, h3o::Resolution::Eight);
        let outlines: Vec<Outline> = area_queries::list(conn, &caller.organisation_id)?
            .into_iter()
            .filter_map(|area| {
                Some(Outline { shape: area.shape()?, code: area.code, parent: area.parent_code, name: area.name })
            })
            .collect();
        let assessment = assessments::get(conn, &caller.organisation_id, &period.to_string())?;
        let indicators = indicator_lines(conn, &caller.organisation_id, lang)?;
        let measures = measure_lines(conn, &caller.organisation_id, tz, period, plan)?;
        Ok(Self {
            organisation,
            tz,
            period,
            activity,
            picture,
            heatmap,
            outlines,
            assessment,
            indicators,
            measures,
            generated_at: now,
        })
    }

    /// The follow-up report over these figures.
    pub fn report<'a>(&'a self, lang: Lang, basemap: Option<&'a crate::basemap::BaseMap>) -> FollowUp<'a> {
        FollowUp {
            lang,
            tz: self.tz,
            organisation: &self.organisation.name,
            title: &self.organisation.assignment_title,
            responsible: &self.organisation.responsible,
            period: self.period,
            assessment: self.assessment.as_ref(),
            indicators: &self.indicators,
            measures: &self.measures,
            activity: &self.activity,
            picture: &self.picture,
            heatmap: &self.heatmap,
            outlines: &self.outlines,
            basemap,
            generated_at: self.generated_at,
        }
    }
}

/// `GET /api/v1/reports/followup`: the printable follow-up report for a period, as HTML.
pub async fn report(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    query: web::Query<FollowUpQuery>,
) -> ApiResult<HttpResponse> {
    let caller = (*auth).clone();
    let period = params::period(query.period.as_deref())?;
    let lang = params::lang(query.lang.as_deref())?;
    let html = db(&state, move |conn, state| {
        let figures = PeriodFigures::load(conn, state, &caller, period, lang, false)?;
        let html = figures.report(lang, state.basemap.as_deref()).render();
        let mut described = Map::new();
        described.insert("period".into(), json!(period.to_string()));
        described.insert("lang".into(), json!(lang.pick("sv", "en")));
        let event = Event { action: "report.followup", format: Some("html"), filters: described };
        let rows = figures.activity.rows(&[Dimension::Type]).len();
        audit::record_complete(conn, &actor(&caller), event, rows, figures.generated_at)?;
        Ok(html)
    })
    .await?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html))
}

/// The measures of the action plan that ran during `period` (with `planned`, also those planned
/// to start later in it), with the effort they delivered within it and their effect.
fn measure_lines(
    conn: &mut DbConnection,
    organisation_id: &str,
    tz: chrono_tz::Tz,
    period: crate::domain::period::Period,
    planned: bool,
) -> ApiResult<Vec<MeasureLine>> {
    use crate::db::queries::plan;
    use crate::domain::plan::MeasureFields;
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let units: std::collections::HashMap<String, String> = crate::db::queries::units::list(conn, organisation_id)?
        .into_iter()
        .map(|unit| (unit.slug, unit.name))
        .collect();
    use super::plan::figures;
    let tree = crate::db::queries::areas::tree(conn, organisation_id)?;
    let problems: std::collections::HashMap<String, String> =
        plan::list::<crate::domain::plan::ProblemFields>(conn, organisation_id)?
            .into_iter()
            .map(|problem| (problem.id, problem.fields.title))
            .collect();
    let mut lines = Vec::new();
    for measure in plan::list::<MeasureFields>(conn, organisation_id)?.into_iter().rev() {
        let fields = &measure.fields;
        let (start, end) = figures::dates(fields)?;
        if start > period.last || end.is_some_and(|end| end < period.first) || (start > today && !planned) {
            continue;
        }
        let window = (Some(period.first), Some(period.last));
        let (delivered, _) = figures::delivered(conn, organisation_id, tz, &tree, fields, window, today)?;
        let estimate = figures::estimate(conn, organisation_id, tz, &tree, fields, &[], today)?;
        let effect = estimate.effect.as_ref();
        lines.push(MeasureLine {
            id: measure.id.clone(),
            title: fields.title.clone(),
            responsible: units
                .get(&fields.responsible_unit)
                .cloned()
                .unwrap_or_else(|| fields.responsible_unit.clone()),
            areas: fields.areas.clone(),
            status: fields.status.clone(),
            planned_hours: delivered.planned_hours,
            delivered_hours: delivered.delivered_hours,
            verdict: effect.map_or("not_started", |e| e.verdict.as_str()).to_owned(),
            change: effect
                .and_then(|e| Some((e.change_percent?, e.change_percent_interval?[0], e.change_percent_interval?[1]))),
            problems: fields
                .problems
                .iter()
                .map(|id| problems.get(id).cloned().unwrap_or_else(|| id.clone()))
                .collect(),
            planned_start: fields.planned_start.clone(),
            planned_end: fields.planned_end.clone(),
            effort: Some(fields.effort.clone()),
            decision: fields.decision.clone(),
        });
    }
    Ok(lines)
}

/// The indicator lines of the follow-up report: one per group of every indicator.
fn indicator_lines(conn: &mut DbConnection, organisation_id: &str, lang: Lang) -> ApiResult<Vec<IndicatorLine>> {
    use crate::domain::indicators::{TargetRule, Trend};
    let summaries = crate::db::queries::indicators::summary(conn, organisation_id)?;
    let mut lines = Vec::new();
    for indicator in summaries {
        let target = match indicator.definition.target {
            TargetRule::MaintainOrImprove => lang.pick("Bibehålla eller förbättra", "Maintain or improve").to_owned(),
            TargetRule::AtLeast(x) => format!("{} {}", lang.pick("Minst", "At least"), number(lang, x, 1)),
            TargetRule::AtMost(x) => format!("{} {}", lang.pick("Högst", "At most"), number(lang, x, 1)),
        };
        let name = if lang == Lang::Sv { &indicator.definition.name_sv } else { &indicator.definition.name_en };
        for status in &indicator.status {
            let trend = match status.trend {
                Trend::Improved => "improved",
                Trend::Unchanged => "unchanged",
                Trend::Worsened => "worsened",
                Trend::NoData => "no_data",
            };
            lines.push(IndicatorLine {
                name: name.clone(),
                source: indicator.definition.source.clone(),
                group: status.group.clone(),
                unit: indicator.definition.unit.clone(),
                target: target.clone(),
                latest_year: status.latest_year,
                latest: status.latest_value,
                previous: status.previous_value,
                trend: trend.to_owned(),
                meets_target: status.meets_target,
            });
        }
    }
    Ok(lines)
}

/// The body of `PUT /api/v1/reports/followup/{period}/assessment`.
#[derive(Deserialize, Validate)]
pub struct AssessmentBody {
    rating: Option<String>,
    #[validate(length(max = 4000, code = "too_long", message = "may have at most 4000 characters"))]
    comment: Option<String>,
}

fn assessment_json(assessment: &Assessment, tz: chrono_tz::Tz) -> Value {
    json!({
        "period": assessment.period,
        "rating": assessment.rating,
        "comment": assessment.comment,
        "set_by": assessment.set_by,
        "set_by_name": assessment.set_by_name,
        "set_at": crate::reports::table::local_iso(tz, assessment.set_at),
    })
}

/// `PUT /api/v1/reports/followup/{period}/assessment`: a coordinator sets the period's
/// assessment (green, yellow or red) with a comment.
pub async fn set_assessment(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    path: web::Path<String>,
    super::json::ApiJson(body): super::json::ApiJson<AssessmentBody>,
) -> ApiResult<HttpResponse> {
    let period = Period::parse("period", &path.into_inner()).map_err(|e| ApiError::Validation(vec![e]))?;
    let mut errors = super::json::validated(&body).err().unwrap_or_default();
    let rating = body.rating.as_deref().map(str::trim).unwrap_or_default().to_owned();
    if !matches!(rating.as_str(), "green" | "yellow" | "red") {
        errors.push(crate::domain::FieldError::new("rating", "invalid_rating", "use green, yellow or red"));
    }
    // Free text like a note: personal data in it is replaced before it is stored.
    let comment = crate::domain::redaction::redact(&body.comment.unwrap_or_default()).text;
    if !errors.is_empty() {
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        return Err(ApiError::Validation(errors));
    }
    let caller = (*auth).clone();
    let body = db(&state, move |conn, _| {
        let (_, tz, _) = organisations::report_settings(conn, &caller.organisation_id)?;
        let now = chrono::Utc::now().timestamp_millis();
        let key = period.to_string();
        assessments::set(conn, &caller.organisation_id, &key, &rating, &comment, &caller.user_id, now)?;
        let stored = assessments::get(conn, &caller.organisation_id, &key)?
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the assessment just stored cannot be read")))?;
        Ok(assessment_json(&stored, tz))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /api/v1/reports/followup/{period}/assessment`
pub async fn get_assessment(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let period = Period::parse("period", &path.into_inner()).map_err(|e| ApiError::Validation(vec![e]))?;
    let caller = (*auth).clone();
    let body = db(&state, move |conn, _| {
        let (_, tz, _) = organisations::report_settings(conn, &caller.organisation_id)?;
        assessments::get(conn, &caller.organisation_id, &period.to_string())?
            .map(|a| assessment_json(&a, tz))
            .ok_or_else(|| ApiError::NotFound(format!("no assessment is set for {period}")))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}
