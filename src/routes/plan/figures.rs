//! A measure's figures: its delivered effort week by week, and its effect. Read by their own
//! endpoints and by the follow-up report's measures section.

use super::{not_found, rfc3339_date};
use crate::auth::{Analyst, Auth, Coordinator};
use crate::db::DbConnection;
use crate::db::queries::plan::{self, Item};
use crate::db::queries::reports::ActivityFilter;
use crate::domain::effect::{self, Counts, Effect};
use crate::domain::effort::{self, Delivered, Plan as EffortPlan};
use crate::domain::identity::Role;
use crate::domain::period::Period;
use crate::domain::period::local_midnight_ms;
use crate::domain::plan::{Effort, MeasureFields, date};
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, db};
use actix_web::{HttpResponse, web};
use chrono::{Days, NaiveDate};
use chrono_tz::Tz;
use serde_json::json;
use std::collections::HashSet;

/// The organisation's areas: (code, name, parent), as `areas::tree` reads them.
pub type Tree = [(String, String, Option<String>)];

/// The areas of `tree` as (child, parent) links.
pub fn links(tree: &Tree) -> Vec<(String, String)> {
    tree.iter().filter_map(|(code, _, parent)| Some((code.clone(), parent.clone()?))).collect()
}

/// `codes` with every area inside them.
pub fn within(codes: &[String], links: &[(String, String)]) -> HashSet<String> {
    codes.iter().flat_map(|code| crate::domain::areas::with_descendants(code.clone(), links.iter().cloned())).collect()
}

/// A measure's planned dates.
pub fn dates(fields: &MeasureFields) -> ApiResult<(NaiveDate, Option<NaiveDate>)> {
    let start = date("planned_start", &fields.planned_start).map_err(|e| ApiError::Validation(vec![e]))?;
    Ok((start, fields.planned_end.as_deref().and_then(|end| date("planned_end", end).ok())))
}

/// The measure's delivered effort from its start (or `from`, if later) to its end, `to` or
/// `today`, whichever comes first; with the last day counted.
pub fn delivered(
    conn: &mut DbConnection,
    org: &str,
    tz: Tz,
    tree: &Tree,
    fields: &MeasureFields,
    (from, to): (Option<NaiveDate>, Option<NaiveDate>),
    today: NaiveDate,
) -> ApiResult<(Delivered, NaiveDate)> {
    let (planned_start, planned_end) = dates(fields)?;
    let start = from.map_or(planned_start, |from| from.max(planned_start));
    let end = match (planned_end, to) {
        (Some(end), Some(to)) => Some(end.min(to)),
        (end, to) => end.or(to),
    };
    let areas = within(&fields.areas, &links(tree));
    let last = end.map_or(today, |end| end.min(today));
    let weekly_hours = match fields.effort {
        Effort::WeeklyHours { hours } => Some(hours),
        Effort::OneOff { .. } => None,
    };
    let activities = if last < start {
        Vec::new()
    } else {
        let (from, to) = (local_midnight_ms(tz, start), local_midnight_ms(tz, last + Days::new(1)));
        let filter = ActivityFilter { types: fields.activity_types.clone(), units: Vec::new() };
        crate::db::queries::reports::activities_overlapping(conn, org, from, to, &filter)?
    };
    let plan = EffortPlan { start, end, weekly_hours, areas: &areas, activity_types: &fields.activity_types };
    Ok((effort::delivered(tz, &plan, today, &activities), last.max(start)))
}

/// The windows and the estimate of a measure's effect against `compare` (area codes; empty for
/// the rest of the municipality).
pub struct Estimate {
    pub measure_areas: HashSet<String>,
    pub comparison_areas: Option<HashSet<String>>,
    /// Before and after, each `[from, to)`; `None` before the measure starts.
    pub windows: Option<((NaiveDate, NaiveDate), (NaiveDate, NaiveDate))>,
    pub effect: Option<Effect>,
}

/// Estimates the measure's effect (see `api-spec/effect-method.md`).
pub fn estimate(
    conn: &mut DbConnection,
    org: &str,
    tz: Tz,
    tree: &Tree,
    fields: &MeasureFields,
    compare: &[String],
    today: NaiveDate,
) -> ApiResult<Estimate> {
    for code in compare {
        if !tree.iter().any(|(known, _, _)| known == code) {
            return Err(ApiError::field("compare", "unknown_area", format!("there is no area `{code}`")));
        }
    }
    let links = links(tree);
    let measure_areas = within(&fields.areas, &links);
    let comparison_areas = if compare.is_empty() { None } else { Some(within(compare, &links)) };
    if comparison_areas.as_ref().is_some_and(|areas| !areas.is_disjoint(&measure_areas)) {
        return Err(ApiError::field(
            "compare",
            "overlaps_measure",
            "the comparison areas must lie outside the measure's areas",
        ));
    }
    let (start, end) = dates(fields)?;
    let last = end.map_or(today, |end| end.min(today));
    // After: from the start to the end (or today); before: as many days just before it.
    let days = (last - start).num_days() + 1;
    if days <= 0 {
        return Ok(Estimate { measure_areas, comparison_areas, windows: None, effect: None });
    }
    let span = Days::new(u64::try_from(days).unwrap_or(0));
    let after = (start, start + span);
    let before = (start - span, start);
    let mut tally = |(from, to): (NaiveDate, NaiveDate)| -> ApiResult<(u64, u64)> {
        let rows = plan::observation_counts(
            conn,
            org,
            &fields.categories,
            local_midnight_ms(tz, from),
            local_midnight_ms(tz, to),
        )?;
        let (mut mine, mut others) = (0, 0);
        for (area, _, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            let in_measure = area.as_ref().is_some_and(|a| measure_areas.contains(a));
            let in_comparison = match &comparison_areas {
                None => !in_measure,
                Some(areas) => area.as_ref().is_some_and(|a| areas.contains(a)),
            };
            if in_measure {
                mine += n;
            } else if in_comparison {
                others += n;
            }
        }
        Ok((mine, others))
    };
    let (measure_before, comparison_before) = tally(before)?;
    let (measure_after, comparison_after) = tally(after)?;
    let counts = Counts { measure_before, measure_after, comparison_before, comparison_after };
    Ok(Estimate {
        measure_areas,
        comparison_areas,
        windows: Some((before, after)),
        effect: Some(effect::estimate(counts)),
    })
}

/// A measure and today in the organisation's time zone.
fn measure_and_today(conn: &mut DbConnection, org: &str, id: &str) -> ApiResult<(Item<MeasureFields>, Tz, NaiveDate)> {
    let measure = plan::get::<MeasureFields>(conn, org, id)?.ok_or_else(not_found::<MeasureFields>)?;
    let (_, tz, _) = crate::db::queries::organisations::report_settings(conn, org)?;
    Ok((measure, tz, chrono::Utc::now().with_timezone(&tz).date_naive()))
}

/// `GET /api/v1/measures/{id}/effort`: planned against delivered, week by week, from the
/// activity logs in the measure's areas, of its activity types, within its dates.
pub async fn measure_effort(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let org = auth.organisation_id.clone();
    let body = db(&state, move |conn, _| {
        let (measure, tz, today) = measure_and_today(conn, &org, &id)?;
        let tree = crate::db::queries::areas::tree(conn, &org)?;
        let (delivered, last) = delivered(conn, &org, tz, &tree, &measure.fields, (None, None), today)?;
        Ok(json!({
            "measure_id": measure.id,
            "effort": measure.fields.effort,
            "time_zone": tz.name(),
            "from": measure.fields.planned_start,
            "to": rfc3339_date(last),
            "planned_hours": delivered.planned_hours,
            "delivered_hours": delivered.delivered_hours,
            "activities": delivered.activities,
            "contacts": delivered.contacts,
            "share_of_plan": delivered.share_of_plan,
            "weeks": delivered.weeks,
        }))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Query of `GET /api/v1/measures/{id}/effect`.
#[derive(serde::Deserialize)]
pub struct EffectQuery {
    /// Area codes to compare with (comma-separated, each with the areas inside it); by default
    /// every observation outside the measure's areas.
    compare: Option<String>,
}

fn sorted(areas: Option<HashSet<String>>) -> Vec<String> {
    let mut areas: Vec<String> = areas.map(|areas| areas.into_iter().collect()).unwrap_or_default();
    areas.sort();
    areas
}

/// The tertial a day lies in.
fn tertial_of(day: NaiveDate) -> ApiResult<Period> {
    use chrono::Datelike;
    let text = format!("{}-T{}", day.year(), (day.month() - 1) / 4 + 1);
    Period::parse("period", &text).map_err(|error| ApiError::Validation(vec![error]))
}

/// The most whole tertials a partner's effect compares on each side of the start.
const PARTNER_TERTIALS: usize = 3;

/// A partner's effect, under the partner disclosure rule (`api-spec/partner-disclosure.md`):
/// whole tertials only, and every count a sum of published cells (tertial × area × category,
/// k and up) of the areas shared with the partner. After: the whole tertials after the one the
/// measure starts in, up to the one before today's (three at most, none past its end's); before:
/// as many just before the start's. The comparison is the rest of the shared areas.
fn partner_effect(
    picture: &crate::picture::view::Picture,
    fields: &MeasureFields,
    links: &[(String, String)],
    today: NaiveDate,
) -> ApiResult<serde_json::Value> {
    let (start, end) = dates(fields)?;
    let first = tertial_of(start)?;
    let current = tertial_of(today)?;
    let next = |period: &Period| tertial_of(period.last + Days::new(1));
    let mut after = Vec::new();
    let mut tertial = next(&first)?;
    while tertial.first < current.first && after.len() < PARTNER_TERTIALS && end.is_none_or(|end| tertial.first <= end)
    {
        after.push(tertial);
        tertial = next(&tertial)?;
    }
    let mut before = Vec::new();
    let mut tertial = first.previous();
    while before.len() < after.len() {
        before.push(tertial);
        tertial = tertial.previous();
    }
    before.reverse();
    let measure_areas = within(&fields.areas, links);
    let mut shared = HashSet::new();
    let mut tally = |tertials: &[Period]| -> ApiResult<(u64, u64)> {
        let (mut mine, mut others) = (0, 0);
        for tertial in tertials {
            for (area, _, n) in picture.published_cells(*tertial, None, &fields.categories)? {
                if measure_areas.contains(&area) {
                    mine += u64::from(n);
                } else {
                    others += u64::from(n);
                }
                shared.insert(area);
            }
        }
        Ok((mine, others))
    };
    let effect = if after.is_empty() {
        None
    } else {
        let (measure_before, comparison_before) = tally(&before)?;
        let (measure_after, comparison_after) = tally(&after)?;
        Some(effect::estimate(Counts { measure_before, measure_after, comparison_before, comparison_after }))
    };
    let names = |tertials: &[Period]| {
        (!tertials.is_empty()).then(|| {
            json!({
                "from": rfc3339_date(tertials[0].first),
                "to": rfc3339_date(tertials[tertials.len() - 1].last),
                "tertials": tertials.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
    };
    let comparison_areas: HashSet<String> = shared.difference(&measure_areas).cloned().collect();
    let mut body = json!({
        "categories": fields.categories,
        "measure_areas": sorted(Some(measure_areas)),
        "comparison": "shared",
        "comparison_areas": sorted(Some(comparison_areas)),
        "before": names(&before),
        "after": names(&after),
        "method": "difference-in-differences of Poisson counts over whole tertials of published cells, 95 % Wald interval (api-spec/effect-method.md, api-spec/partner-disclosure.md)",
    });
    with_effect(&mut body, effect.as_ref());
    Ok(body)
}

/// Adds the estimate's fields (counts, verdict, ratio, change, their intervals) to an effect's
/// answer; `None`: not started.
fn with_effect(body: &mut serde_json::Value, effect: Option<&Effect>) {
    let figures = json!({
        "counts": effect.map(|e| e.counts),
        "verdict": effect.map_or("not_started", |e| e.verdict.as_str()),
        "rate_ratio": effect.and_then(|e| e.rate_ratio),
        "rate_ratio_interval": effect.and_then(|e| e.rate_ratio_interval),
        "change_percent": effect.and_then(|e| e.change_percent),
        "change_percent_interval": effect.and_then(|e| e.change_percent_interval),
        "min_count": effect::MIN_COUNT,
    });
    if let (Some(body), serde_json::Value::Object(figures)) = (body.as_object_mut(), figures) {
        body.extend(figures);
    }
}

/// `GET /api/v1/measures/{id}/effect`: the targeted categories in the measure's areas before and
/// after its start, against comparison areas, as a difference-in-differences.
pub async fn measure_effect(
    state: web::Data<AppState>,
    auth: Auth<Analyst>,
    id: web::Path<String>,
    query: web::Query<EffectQuery>,
) -> ApiResult<HttpResponse> {
    let org = auth.organisation_id.clone();
    if auth.role == Role::Partner {
        if query.compare.is_some() {
            return Err(crate::picture::disclosure::not_for_partners("compare"));
        }
        let caller = (*auth).clone();
        let body = db(&state, move |conn, state| {
            let (measure, _, today) = measure_and_today(conn, &org, &id)?;
            let measure =
                super::for_partner(conn, &caller, vec![measure])?.pop().ok_or_else(not_found::<MeasureFields>)?;
            let tree = crate::db::queries::areas::tree(conn, &org)?;
            let picture =
                crate::picture::view::Picture::open(conn, &state.pictures, &org, &caller.user_id, caller.role)?;
            let mut body = partner_effect(&picture, &measure.fields, &links(&tree), today)?;
            body["measure_id"] = json!(measure.id);
            Ok(body)
        })
        .await?;
        return Ok(HttpResponse::Ok().json(body));
    }
    let compare: Vec<String> = query
        .compare
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|code| !code.is_empty())
        .map(str::to_owned)
        .collect();
    let body = db(&state, move |conn, _| {
        let (measure, tz, today) = measure_and_today(conn, &org, &id)?;
        let tree = crate::db::queries::areas::tree(conn, &org)?;
        let estimate = estimate(conn, &org, tz, &tree, &measure.fields, &compare, today)?;
        let span = |(from, to): (NaiveDate, NaiveDate)| {
            json!({ "from": rfc3339_date(from), "to": rfc3339_date(to - Days::new(1)) })
        };
        let mut body = json!({
            "measure_id": measure.id,
            "categories": measure.fields.categories,
            "measure_areas": sorted(Some(estimate.measure_areas)),
            "comparison": if compare.is_empty() { "rest" } else { "areas" },
            "comparison_areas": sorted(estimate.comparison_areas),
            "before": estimate.windows.map(|(before, _)| span(before)),
            "after": estimate.windows.map(|(_, after)| span(after)),
            "method": "difference-in-differences of Poisson counts, 95 % Wald interval (api-spec/effect-method.md)",
        });
        with_effect(&mut body, estimate.effect.as_ref());
        Ok(body)
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}
