//! A measure's delivered effort: the activity logs in its areas (and the areas inside them), of
//! its activity types (any type when it names none), within its dates, counted week by week
//! against the hours a week it planned.
//!
//! Weeks are ISO weeks (Monday to Sunday) in the organisation's time zone. The first and the last
//! week count only the days of the measure; the current week counts up to the end of today, so
//! the plan for days still to come is not counted as missed. An activity that spans a week's
//! edge counts in each week by its share of time, as in the activity report.

use super::activity::Activity;
use super::period::local_midnight_ms;
use chrono::{Datelike, Days, NaiveDate};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::HashSet;

/// One week of a measure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Week {
    /// ISO week, `2026-W10`.
    pub week: String,
    /// The first and the last day of the week that count (within the measure's dates and today).
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Hours planned for those days; `None` for a one-off measure.
    pub planned_hours: Option<f64>,
    pub delivered_hours: f64,
    /// Activities, counting one split over weeks by its share.
    pub activities: f64,
    /// Contacts or visitors, by the same share.
    pub contacts: f64,
}

/// Planned against delivered over a measure's weeks so far.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivered {
    pub weeks: Vec<Week>,
    pub planned_hours: Option<f64>,
    pub delivered_hours: f64,
    pub activities: f64,
    pub contacts: f64,
    /// Delivered hours as a share of the planned ones, when hours were planned.
    pub share_of_plan: Option<f64>,
}

/// What a measure counts: its dates, its plan, and which activities are its own.
pub struct Plan<'a> {
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    pub weekly_hours: Option<f64>,
    /// Area codes with every area inside them.
    pub areas: &'a HashSet<String>,
    /// Activity type slugs; empty for any.
    pub activity_types: &'a [String],
}

impl Plan<'_> {
    /// Whether the activity is the measure's: in its areas, of its types.
    pub fn matches(&self, activity: &Activity) -> bool {
        activity.area.as_ref().is_some_and(|area| self.areas.contains(area))
            && (self.activity_types.is_empty() || self.activity_types.contains(&activity.activity_type))
    }
}

fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// The weeks of `plan` from its start up to today (or its end, if earlier), each with the
/// activities among `activities` that are the measure's.
pub fn delivered(tz: Tz, plan: &Plan<'_>, today: NaiveDate, activities: &[Activity]) -> Delivered {
    let last = plan.end.map_or(today, |end| end.min(today));
    let mine: Vec<&Activity> = activities.iter().filter(|activity| plan.matches(activity)).collect();
    let mut weeks = Vec::new();
    let mut monday = plan.start - Days::new(u64::from(plan.start.weekday().num_days_from_monday()));
    while monday <= last {
        let sunday = monday + Days::new(6);
        let (from, to) = (monday.max(plan.start), sunday.min(last));
        let (from_ms, to_ms) = (local_midnight_ms(tz, from), local_midnight_ms(tz, to + Days::new(1)));
        let days = (to - from).num_days() + 1;
        let mut week = Week {
            week: format!("{}-W{:02}", monday.iso_week().year(), monday.iso_week().week()),
            from,
            to,
            planned_hours: plan.weekly_hours.map(|hours| round(hours * days as f64 / 7.0)),
            delivered_hours: 0.0,
            activities: 0.0,
            contacts: 0.0,
        };
        for activity in &mine {
            let (share, hours) = activity.share(from_ms, to_ms);
            week.activities += share;
            week.delivered_hours += hours;
            week.contacts += share * activity.genders.iter().sum::<i64>() as f64;
        }
        week.delivered_hours = round(week.delivered_hours);
        week.activities = round(week.activities);
        week.contacts = round(week.contacts);
        weeks.push(week);
        monday = monday + Days::new(7);
    }
    let sum = |field: fn(&Week) -> f64| round(weeks.iter().map(field).sum());
    let planned_hours = plan.weekly_hours.map(|_| sum(|w| w.planned_hours.unwrap_or(0.0)));
    let delivered_hours = sum(|w| w.delivered_hours);
    Delivered {
        planned_hours,
        delivered_hours,
        activities: sum(|w| w.activities),
        contacts: sum(|w| w.contacts),
        share_of_plan: planned_hours.filter(|planned| *planned > 0.0).map(|planned| round(delivered_hours / planned)),
        weeks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const TZ: Tz = chrono_tz::Europe::Stockholm;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn at(day: &str, hour: i64) -> i64 {
        local_midnight_ms(TZ, date(day)) + hour * HOUR
    }

    fn shift(kind: &str, area: &str, start: i64, hours: i64, contacts: i64) -> Activity {
        Activity {
            activity_type: kind.into(),
            unit: "falt".into(),
            area: Some(area.into()),
            started_at: start,
            ended_at: Some(start + hours * HOUR),
            genders: [contacts, 0, 0, 0],
            ages: [0, contacts, 0, 0, 0, 0],
        }
    }

    #[test]
    fn weeks_prorate_the_plan_and_count_only_the_measures_own_activities() {
        let areas: HashSet<String> = ["GR".to_owned(), "GR-N".to_owned()].into();
        let types = ["outreach_shift".to_owned()];
        // Wednesday 4 March 2026 to Sunday 15 March; 7 hours a week.
        let plan = Plan {
            start: date("2026-03-04"),
            end: Some(date("2026-03-15")),
            weekly_hours: Some(7.0),
            areas: &areas,
            activity_types: &types,
        };
        let activities = [
            shift("outreach_shift", "GR", at("2026-03-06", 19), 3, 5), // week 10
            shift("outreach_shift", "GR-N", at("2026-03-08", 22), 4, 2), // Sunday 22:00 → Monday 02:00
            shift("outreach_shift", "TB", at("2026-03-10", 19), 3, 9), // another area
            shift("summer_cafe", "GR", at("2026-03-11", 12), 5, 40),   // another type
            shift("outreach_shift", "GR", at("2026-03-02", 19), 3, 1), // before the start
        ];
        let effort = delivered(TZ, &plan, date("2026-12-01"), &activities);
        let weeks: Vec<(&str, Option<f64>, f64, f64, f64)> = effort
            .weeks
            .iter()
            .map(|w| (w.week.as_str(), w.planned_hours, w.delivered_hours, w.activities, w.contacts))
            .collect();
        assert_eq!(weeks, [("2026-W10", Some(5.0), 5.0, 1.5, 6.0), ("2026-W11", Some(7.0), 2.0, 0.5, 1.0)]);
        assert_eq!((effort.planned_hours, effort.delivered_hours, effort.share_of_plan), (Some(12.0), 7.0, Some(0.58)));
    }

    #[test]
    fn a_running_measure_counts_up_to_today_and_a_one_off_plans_no_hours() {
        let areas: HashSet<String> = ["GR".to_owned()].into();
        let plan =
            Plan { start: date("2026-03-02"), end: None, weekly_hours: None, areas: &areas, activity_types: &[] };
        let effort =
            delivered(TZ, &plan, date("2026-03-10"), &[shift("summer_cafe", "GR", at("2026-03-09", 12), 2, 3)]);
        assert_eq!(effort.weeks.len(), 2);
        assert_eq!(effort.weeks[1].to, date("2026-03-10"), "the current week ends today");
        assert_eq!((effort.planned_hours, effort.share_of_plan, effort.delivered_hours), (None, None, 2.0));
    }
}
