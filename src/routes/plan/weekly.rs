//! The weekly picture for the EST meeting: last week per area against the weeks before.

use super::figures::within;
use crate::auth::{Auth, Coordinator};
use crate::db::queries::plan::{self, Item};
use crate::domain::period::local_midnight_ms;
use crate::domain::plan::MeasureFields;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, db};
use actix_web::{HttpResponse, web};
use serde_json::Value;
use std::collections::HashSet;

/// Query of `GET /api/v1/picture/weekly`.
#[derive(serde::Deserialize)]
pub struct WeeklyQuery {
    /// An ISO week, `2026-W10`; by default the last whole week.
    week: Option<String>,
}

/// `GET /api/v1/picture/weekly`: last week per area against the weeks before, the areas clearly
/// above their baseline flagged, with the measures running there.
pub async fn weekly_picture(
    state: web::Data<AppState>,
    auth: Auth<Coordinator>,
    query: web::Query<WeeklyQuery>,
) -> ApiResult<HttpResponse> {
    use crate::domain::weekly;
    use chrono::{Datelike, Days, NaiveDate, Weekday};
    let org = auth.organisation_id.clone();
    let week = query.week.clone().filter(|week| !week.trim().is_empty());
    let body = db(&state, move |conn, _| {
        let (_, tz, _) = crate::db::queries::organisations::report_settings(conn, &org)?;
        let monday = match week.as_deref().map(str::trim) {
            Some(text) => text
                .split_once("-W")
                .and_then(|(year, week)| Some((year.parse::<i32>().ok()?, week.parse::<u32>().ok()?)))
                .filter(|(year, _)| (2000..=2100).contains(year))
                .and_then(|(year, week)| NaiveDate::from_isoywd_opt(year, week, Weekday::Mon))
                .ok_or_else(|| ApiError::field("week", "invalid_week", "an ISO week such as 2026-W10"))?,
            None => {
                let today = chrono::Utc::now().with_timezone(&tz).date_naive();
                today - Days::new(u64::from(today.weekday().num_days_from_monday()) + 7)
            }
        };
        let baseline_from = monday - Days::new(7 * u64::from(weekly::BASELINE_WEEKS));
        let ms = |date: NaiveDate| local_midnight_ms(tz, date);
        let next_monday = monday + Days::new(7);
        let last_week = plan::observation_counts(conn, &org, &[], ms(monday), ms(next_monday))?;
        let baseline = plan::observation_counts(conn, &org, &[], ms(baseline_from), ms(monday))?;
        let tree = crate::db::queries::areas::tree(conn, &org)?;
        let links = super::figures::links(&tree);
        let within = |code: &str| within(&[code.to_owned()], &links);
        let measures = plan::list::<MeasureFields>(conn, &org)?;
        let running: Vec<(&Item<MeasureFields>, HashSet<String>)> = measures
            .iter()
            .filter(|m| m.fields.status != "stopped")
            .filter(|m| m.fields.planned_start.as_str() <= (next_monday - Days::new(1)).to_string().as_str())
            .filter(|m| m.fields.planned_end.as_deref().is_none_or(|end| end >= monday.to_string().as_str()))
            .map(|m| (m, super::figures::within(&m.fields.areas, &links)))
            .collect();
        let mut rows: Vec<(bool, u64, Value)> = tree
            .iter()
            .map(|(code, name, _)| {
                let area = within(code);
                let sum = |rows: &[(Option<String>, String, i64)], category: Option<&str>| -> u64 {
                    rows.iter()
                        .filter(|(a, c, _)| a.as_ref().is_some_and(|a| area.contains(a)) && category.is_none_or(|k| k == c))
                        .map(|(_, _, n)| u64::try_from(*n).unwrap_or(0))
                        .sum()
                };
                let (count, base) = (sum(&last_week, None), sum(&baseline, None));
                let flag = weekly::test(count, base);
                let mut categories: Vec<(String, u64, u64)> = last_week
                    .iter()
                    .filter(|(a, _, _)| a.as_ref().is_some_and(|a| area.contains(a)))
                    .map(|(_, c, _)| c.clone())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .map(|c| (c.clone(), sum(&last_week, Some(&c)), sum(&baseline, Some(&c))))
                    .collect();
                let excess = |(_, k, b): &(String, u64, u64)| *k as f64 - *b as f64 / f64::from(weekly::BASELINE_WEEKS);
                categories.sort_by(|a, b| excess(b).total_cmp(&excess(a)).then(a.0.cmp(&b.0)));
                let measures_here: Vec<Value> = running
                    .iter()
                    .filter(|(_, areas)| !areas.is_disjoint(&area))
                    .map(|(m, _)| serde_json::json!({ "id": m.id, "title": m.fields.title, "status": m.fields.status }))
                    .collect();
                let row = serde_json::json!({
                    "area": code,
                    "name": name,
                    "last_week": count,
                    "baseline_mean": flag.baseline_mean,
                    "p_value": flag.p_value,
                    "flagged": flag.flagged,
                    "categories": categories.iter().take(5).map(|(c, k, b)| serde_json::json!({
                        "category": c,
                        "last_week": k,
                        "baseline_mean": (*b as f64 / f64::from(weekly::BASELINE_WEEKS) * 100.0).round() / 100.0,
                    })).collect::<Vec<_>>(),
                    "measures": measures_here,
                });
                (flag.flagged, count, row)
            })
            .collect();
        rows.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
        Ok(serde_json::json!({
            "week": format!("{}-W{:02}", monday.iso_week().year(), monday.iso_week().week()),
            "from": monday.to_string(),
            "to": (next_monday - Days::new(1)).to_string(),
            "baseline": { "from": baseline_from.to_string(), "to": (monday - Days::new(1)).to_string(), "weeks": weekly::BASELINE_WEEKS },
            "test": format!(
                "flagged when last week's count is at least {} and P(X ≥ count) < {} for X ~ Poisson((baseline total + 0.5) / {})",
                weekly::MIN_FLAGGED, weekly::ALPHA, weekly::BASELINE_WEEKS
            ),
            "areas": rows.into_iter().map(|(_, _, row)| row).collect::<Vec<_>>(),
        }))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}
