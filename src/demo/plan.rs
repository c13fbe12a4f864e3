//! The action plan the demo's two years imply: the dark paths of Granängsringen and the new
//! lighting a year in (the records' lighting reports there drop by two thirds from then on), the
//! summer café, and the outreach evenings in the centre, each decided at an EST meeting.

use crate::db::DbConnection;
use crate::db::queries::audit::Actor;
use crate::db::queries::feedback::Write;
use crate::db::queries::plan::{self, Change};
use crate::domain::feedback::FeedbackFields;
use crate::domain::plan::{MeasureFields, ProblemFields};
use chrono::{Datelike, Days, NaiveDate};
use serde_json::{Value, json};

/// The Tuesday before `date`: the EST meetings are on Tuesdays.
fn meeting_before(date: NaiveDate) -> NaiveDate {
    let back = (date.weekday().num_days_from_monday() + 7 - 1) % 7;
    date - Days::new(u64::from(if back == 0 { 7 } else { back }))
}

fn problem(conn: &mut DbConnection, actor: &Actor, body: Value, now_ms: i64) -> anyhow::Result<String> {
    let item = plan::save::<ProblemFields>(conn, actor, Change::Create(body), now_ms)
        .map_err(|error| anyhow::anyhow!("the demo's problem was refused: {error:?}"))?;
    Ok(item.id)
}

fn measure(conn: &mut DbConnection, actor: &Actor, body: Value, now_ms: i64) -> anyhow::Result<String> {
    let item = plan::save::<MeasureFields>(conn, actor, Change::Create(body), now_ms)
        .map_err(|error| anyhow::anyhow!("the demo's measure was refused: {error:?}"))?;
    Ok(item.id)
}

/// Feedback to field staff on a measure.
fn feedback(conn: &mut DbConnection, actor: &Actor, measure: &str, body: &str, now_ms: i64) -> anyhow::Result<()> {
    let fields = FeedbackFields { body: body.to_owned(), areas: Vec::new(), measure: Some(measure.to_owned()) };
    let fields = fields.checked().map_err(|errors| anyhow::anyhow!("the demo's feedback was refused: {errors:?}"))?;
    crate::db::queries::feedback::write(conn, actor, Write::Create(fields), now_ms)
        .map_err(|error| anyhow::anyhow!("the demo's feedback was refused: {error:?}"))?;
    Ok(())
}

/// Creates the demo's problems and measures as `actor` (the coordinator), and the feedback
/// field staff got on two of the measures; returns how many problems and measures.
pub fn create(
    conn: &mut DbConnection,
    actor: &Actor,
    first_day: NaiveDate,
    today: NaiveDate,
    now_ms: i64,
) -> anyhow::Result<usize> {
    let lighting_from = first_day + Days::new(365);
    let dark_paths = problem(
        conn,
        actor,
        json!({
            "title": "Mörka gångvägar i Granängsringen",
            "description": "Många rapporter om trasig eller saknad belysning och otrygga platser efter mörkrets inbrott, mest vinterhalvåret.",
            "source": "picture", "status": "closed", "areas": ["GRR"], "categories": ["lighting", "unsafe_place"],
            "time_window": { "after_dark": true },
        }),
        now_ms,
    )?;
    let lighting = measure(
        conn,
        actor,
        json!({
            "title": "Ny belysning längs gångvägarna i Granängsringen",
            "description": "Tyresö Bostäder byter armaturer och sätter upp nya stolpar längs gångvägarna och vid garagen.",
            "responsible_unit": "tybo", "status": "done", "areas": ["GRR"], "problems": [dark_paths],
            "shared_with": ["polisen"],
            "categories": ["lighting"], "planned_start": lighting_from.to_string(),
            "effort": { "kind": "one_off", "description": "Nya armaturer och stolpar längs gångvägarna" },
            "decision": format!("EST-möte {}", meeting_before(lighting_from)),
        }),
        now_ms,
    )?;

    // The latest summer café season (June to 21 August, Monday to Thursday afternoons).
    let year = if (today.month(), today.day()) >= (6, 1) { today.year() } else { today.year() - 1 };
    let (cafe_from, cafe_to) = (NaiveDate::from_ymd_opt(year, 6, 1), NaiveDate::from_ymd_opt(year, 8, 21));
    if let (Some(cafe_from), Some(cafe_to)) = (cafe_from, cafe_to) {
        measure(
            conn,
            actor,
            json!({
                "title": "Sommarcaféet på Granängstorget, längre säsong",
                "description": "Caféet håller öppet måndag till torsdag eftermiddag hela sommarlovet, med uppsökande fritidsledare parallellt.",
                "responsible_unit": "sommarcafe", "status": if cafe_to < today { "done" } else { "ongoing" },
                "areas": ["GRR"], "activity_types": ["summer_cafe"], "categories": ["youth_gathering", "littering"],
                "planned_start": cafe_from.to_string(), "planned_end": cafe_to.to_string(),
                "effort": { "kind": "weekly_hours", "hours": 20 },
                "decision": format!("EST-möte {}", meeting_before(cafe_from - Days::new(21))),
            }),
            now_ms,
        )?;
    }

    let evenings = problem(
        conn,
        actor,
        json!({
            "title": "Ungdomar samlas kvällstid i Tyresö centrum",
            "description": "Fältassistenterna och väktarna ser grupper vid centrumet fredag och lördag kväll; enstaka ordningsstörningar.",
            "source": "field_staff", "status": "monitoring", "areas": ["TYC"], "categories": ["youth_gathering", "disorder"],
            "time_window": { "from_hour": 19, "to_hour": 23, "weekdays": [5, 6] },
        }),
        now_ms,
    )?;
    let not_listened_to = problem(
        conn,
        actor,
        json!({
            "title": "Unga upplever att de inte blir lyssnade på",
            "description": "I dialogen med unga i det kommungemensamma området säger unga att de inte blir tagna på allvar.",
            "source": "youth_dialogue", "status": "open", "areas": ["TYC", "GRR"], "categories": ["criminal_networks"],
        }),
        now_ms,
    )?;
    let outreach_from = today - Days::new(182);
    let outreach = measure(
        conn,
        actor,
        json!({
            "title": "Uppsökande kvällar i Tyresö centrum och Granängsringen",
            "description": "Fältassistenterna är ute tisdag, torsdag, fredag och lördag kväll och lyssnar in vad unga tar upp.",
            "responsible_unit": "falt", "status": "ongoing", "areas": ["TYC", "GRR"],
            "problems": [evenings, not_listened_to], "activity_types": ["outreach_shift"],
            "shared_with": ["polisen", "tybo"],
            "categories": ["youth_gathering", "disorder"], "planned_start": outreach_from.to_string(),
            "effort": { "kind": "weekly_hours", "hours": 8 },
            "decision": format!("EST-möte {}", meeting_before(outreach_from)),
        }),
        now_ms,
    )?;
    feedback(
        conn,
        actor,
        &lighting,
        "Belysningen längs gångvägarna i Granängsringen är utbytt. Säg till om ni ser en lampa som inte lyser.",
        now_ms,
    )?;
    feedback(
        conn,
        actor,
        &outreach,
        "Vi är ute i centrum och Granängsringen tisdag, torsdag, fredag och lördag kväll. Berätta vad unga tar upp med er.",
        now_ms,
    )?;
    Ok(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meetings_are_on_the_tuesday_before() {
        let date = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
        assert_eq!(meeting_before(date("2026-03-05")), date("2026-03-03"), "from a Thursday");
        assert_eq!(meeting_before(date("2026-03-03")), date("2026-02-24"), "from a Tuesday, the week before");
        assert_eq!(meeting_before(date("2026-03-02")), date("2026-02-24"), "from a Monday");
    }
}
