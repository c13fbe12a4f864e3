//! The action plan: problems marked from the picture and measures against them, each change a
//! version in the history and an entry in the audit log; coordinators and admins only.

use crate::areas::tyreso;
use crate::helpers::*;
use chrono::Datelike;
use serde_json::{Value, json};

fn lighting_problem() -> Value {
    json!({
        "title": "Mörkt och otryggt vid gångvägen",
        "description": "Flera rapporter om trasig belysning och samlingar efter mörkrets inbrott.",
        "source": "picture",
        "areas": ["GR"],
        "categories": ["lighting", "youth_gathering"],
        "time_window": { "from_hour": 20, "to_hour": 2, "weekdays": [5, 6], "after_dark": true },
    })
}

fn lighting_measure(problem: &str) -> Value {
    json!({
        "title": "Ny belysning längs gångvägen",
        "responsible_unit": "falt",
        "areas": ["GR"],
        "problems": [problem],
        "categories": ["lighting"],
        "activity_types": ["outreach_shift"],
        "planned_start": "2026-03-01",
        "planned_end": "2026-06-30",
        "effort": { "kind": "weekly_hours", "hours": 6.0 },
        "decision": "EST-möte 2026-02-24",
    })
}

async fn created(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_coordinator_marks_a_problem_plans_a_measure_against_it_and_every_change_is_a_version() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let coordinator = &tenant.coordinator.tokens.access;
    app.post("/api/v1/areas", &tenant.admin.tokens.access, &tyreso()).await;

    let problem = created(app.post("/api/v1/problems", coordinator, &lighting_problem()).await).await;
    assert_eq!(problem["status"], "open", "a new problem is open");
    assert_eq!(problem["version"], 1);
    let problem_id = problem["id"].as_str().unwrap();
    let measure = created(app.post("/api/v1/measures", coordinator, &lighting_measure(problem_id)).await).await;
    assert_eq!(measure["status"], "planned", "a new measure is planned");
    assert_eq!(measure["problems"], json!([problem_id]));
    let measure_id = measure["id"].as_str().unwrap();

    // A change names only what changes; the rest stays.
    let path = format!("/api/v1/measures/{measure_id}");
    let started = app.patch(&path, coordinator, &json!({ "status": "ongoing", "version": 1 })).await;
    assert_eq!(started.status(), 200);
    let started: Value = started.json().await.unwrap();
    assert_eq!((started["status"].as_str(), started["version"].as_i64()), (Some("ongoing"), Some(2)));
    assert_eq!(started["title"], measure["title"]);
    assert_eq!(started["effort"], json!({ "kind": "weekly_hours", "hours": 6.0 }));

    // A change made to a version read before someone else's is refused, and nothing is lost.
    let stale = app.patch(&path, &tenant.admin.tokens.access, &json!({ "status": "stopped", "version": 1 })).await;
    let body = assert_problem(stale, 409, "version_conflict").await;
    assert_eq!(body["errors"][0]["field"], "version");
    let read: Value = app.get(&path, coordinator).await.json().await.unwrap();
    assert_eq!(read["status"], "ongoing");

    let history: Value = app.get(&format!("{path}/history"), coordinator).await.json().await.unwrap();
    let statuses: Vec<&str> =
        history.as_array().unwrap().iter().map(|v| v["fields"]["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["planned", "ongoing"], "every version, oldest first: {history}");
    assert_eq!(history[1]["changed_by"], tenant.coordinator.id.as_str());

    let listed: Value = app.get("/api/v1/measures", coordinator).await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let problems: Value = app.get("/api/v1/problems", &tenant.admin.tokens.access).await.json().await.unwrap();
    assert_eq!(problems[0]["time_window"]["weekdays"], json!([5, 6]));

    let audit: Value = app.get("/api/v1/audit", &tenant.admin.tokens.access).await.json().await.unwrap();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|entry| entry["action"].as_str())
        .filter(|action| action.starts_with("plan."))
        .collect();
    for action in ["plan.problem.create", "plan.measure.create", "plan.measure.update"] {
        assert!(actions.contains(&action), "{action} audited: {actions:?}");
    }
}

#[tokio::test]
async fn a_problem_or_measure_naming_what_does_not_exist_or_breaking_a_rule_is_refused_field_by_field() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let coordinator = &tenant.coordinator.tokens.access;
    app.post("/api/v1/areas", &tenant.admin.tokens.access, &tyreso()).await;

    let mut measure = lighting_measure("0190f000-0000-7000-8000-000000000000");
    measure["areas"] = json!(["GR", "NOWHERE"]);
    measure["responsible_unit"] = json!("brandkaren");
    measure["categories"] = json!(["lighting", "ufo"]);
    measure["activity_types"] = json!(["moonwalk"]);
    let refused =
        assert_problem(app.post("/api/v1/measures", coordinator, &measure).await, 422, "validation_failed").await;
    let fields: Vec<&str> =
        refused["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        ["areas[1]", "categories[1]", "activity_types[0]", "responsible_unit", "problems[0]"],
        "{refused}"
    );

    for (change, field, code) in [
        (json!({ "planned_end": "2026-01-01" }), "planned_end", "before_start"),
        (json!({ "planned_start": "1 mars" }), "planned_start", "invalid_date"),
        (json!({ "effort": { "kind": "weekly_hours", "hours": -2 } }), "effort.hours", "out_of_range"),
        (json!({ "status": "maybe" }), "status", "unknown_value"),
        (json!({ "title": "   " }), "title", "required"),
        (json!({ "title": "x".repeat(121) }), "title", "too_long"),
        (json!({ "areas": [] }), "areas", "required"),
        (json!({ "titel": "typo" }), "titel", "unknown_field"),
        (json!({ "areas": "GR" }), "areas", "invalid_type"),
    ] {
        let mut body = lighting_measure("");
        body["problems"] = json!([]);
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        let answer =
            assert_problem(app.post("/api/v1/measures", coordinator, &body).await, 422, "validation_failed").await;
        assert_eq!(
            (answer["errors"][0]["field"].as_str(), answer["errors"][0]["code"].as_str()),
            (Some(field), Some(code)),
            "{change}: {answer}"
        );
    }

    let mut problem = lighting_problem();
    problem["time_window"] = json!({ "from_hour": 25, "weekdays": [0] });
    problem["source"] = json!("rumour");
    let refused =
        assert_problem(app.post("/api/v1/problems", coordinator, &problem).await, 422, "validation_failed").await;
    let fields: Vec<&str> =
        refused["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["source", "time_window.from_hour", "time_window.to_hour", "time_window.weekdays"], "{refused}");
    assert_eq!(refused["errors"][2]["code"], "hours_in_pairs");

    // A change that breaks a rule leaves the stored version as it was.
    let stored = created(app.post("/api/v1/problems", coordinator, &lighting_problem()).await).await;
    let path = format!("/api/v1/problems/{}", stored["id"].as_str().unwrap());
    assert_problem(app.patch(&path, coordinator, &json!({ "areas": ["NOWHERE"] })).await, 422, "validation_failed")
        .await;
    assert_problem(app.patch(&path, coordinator, &json!({ "id": "mine" })).await, 422, "validation_failed").await;
    let read: Value = app.get(&path, coordinator).await.json().await.unwrap();
    assert_eq!((read["areas"].clone(), read["version"].clone()), (json!(["GR"]), json!(1)));
    assert_problem(app.get("/api/v1/problems/no-such-id", coordinator).await, 404, "not_found").await;
    assert_problem(app.patch("/api/v1/measures/no-such-id", coordinator, &json!({})).await, 404, "not_found").await;
}

#[tokio::test]
async fn field_staff_and_partners_cannot_read_or_change_the_plan_and_organisations_see_only_their_own() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let other = app.tenant("nacka").await;
    app.post("/api/v1/areas", &tenant.admin.tokens.access, &tyreso()).await;
    let problem =
        created(app.post("/api/v1/problems", &tenant.coordinator.tokens.access, &lighting_problem()).await).await;
    let path = format!("/api/v1/problems/{}", problem["id"].as_str().unwrap());

    for token in [&tenant.field.tokens.access, &tenant.partner.tokens.access] {
        assert_problem(app.get("/api/v1/problems", token).await, 403, "forbidden").await;
        assert_problem(app.post("/api/v1/measures", token, &lighting_measure("")).await, 403, "forbidden").await;
        assert_problem(app.patch(&path, token, &json!({ "status": "closed" })).await, 403, "forbidden").await;
    }
    let theirs = &other.coordinator.tokens.access;
    assert_problem(app.get(&path, theirs).await, 404, "not_found").await;
    assert_problem(app.patch(&path, theirs, &json!({ "status": "closed" })).await, 404, "not_found").await;
    let listed: Value = app.get("/api/v1/problems", theirs).await.json().await.unwrap();
    assert_eq!(listed, json!([]));
}

/// An activity log at local time `day` + `hour` in Stockholm, lasting `hours`.
fn shift(
    id: &str,
    kind: &str,
    (lat, lon): (f64, f64),
    day: chrono::NaiveDate,
    hour: u32,
    hours: i64,
    girls: u32,
) -> Value {
    use chrono::TimeZone;
    let start = chrono_tz::Europe::Stockholm
        .from_local_datetime(&day.and_hms_opt(hour, 0, 0).unwrap())
        .single()
        .unwrap()
        .timestamp_millis();
    json!({
        "id": id, "activity_type": kind, "unit": "falt", "started_at": start, "ended_at": start + hours * 3_600_000,
        "lat": lat, "lon": lon, "girls": girls, "age_13_15": girls, "note": "",
    })
}

#[tokio::test]
async fn delivered_effort_counts_the_measures_own_activity_logs_week_by_week_against_the_plan() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let coordinator = &tenant.coordinator.tokens.access;
    app.post("/api/v1/areas", &tenant.admin.tokens.access, &tyreso()).await;

    // Two whole weeks, ending well before today, on the district (Granängsringen lies inside it).
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Stockholm).date_naive();
    let monday = today - chrono::Days::new(u64::from(today.weekday().num_days_from_monday()) + 28);
    let day = |n: u64| monday + chrono::Days::new(n);
    let mut measure = lighting_measure("");
    measure["problems"] = json!([]);
    measure["areas"] = json!(["TY"]);
    measure["planned_start"] = json!(monday.to_string());
    measure["planned_end"] = json!(day(13).to_string());
    measure["effort"] = json!({ "kind": "weekly_hours", "hours": 4 });
    let measure = created(app.post("/api/v1/measures", coordinator, &measure).await).await;

    let (granangsringen, trollbacken) = ((59.225, 18.23), (59.23, 18.32));
    let logs = vec![
        shift("0190f000-0000-7000-8000-00000000e001", "outreach_shift", granangsringen, day(2), 18, 3, 3),
        // Sunday 22:00 to Monday 02:00: half in each week.
        shift("0190f000-0000-7000-8000-00000000e002", "outreach_shift", granangsringen, day(6), 22, 4, 2),
        shift("0190f000-0000-7000-8000-00000000e003", "summer_cafe", granangsringen, day(8), 12, 5, 40),
        shift("0190f000-0000-7000-8000-00000000e004", "outreach_shift", trollbacken, day(9), 18, 3, 9),
        shift("0190f000-0000-7000-8000-00000000e005", "outreach_shift", granangsringen, day(14), 18, 3, 7),
    ];
    let pushed = app
        .post(
            "/api/v1/sync/push?last_pulled_at=null",
            &tenant.field.tokens.access,
            &json!({ "activity_logs": { "created": logs } }),
        )
        .await;
    assert_eq!(pushed.status(), 200);
    let pushed: Value = pushed.json().await.unwrap();
    assert!(pushed["results"].as_array().unwrap().iter().all(|r| r["status"] == "applied"), "{pushed}");

    let path = format!("/api/v1/measures/{}/effort", measure["id"].as_str().unwrap());
    let effort = app.get(&path, coordinator).await;
    assert_eq!(effort.status(), 200);
    let effort: Value = effort.json().await.unwrap();
    let weeks: Vec<(f64, f64, f64, f64)> = effort["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let n = |key: &str| w[key].as_f64().unwrap();
            (n("planned_hours"), n("delivered_hours"), n("activities"), n("contacts"))
        })
        .collect();
    assert_eq!(weeks, [(4.0, 5.0, 1.5, 4.0), (4.0, 2.0, 0.5, 1.0)], "{effort}");
    assert_eq!(effort["weeks"][0]["from"], monday.to_string());
    assert_eq!((effort["planned_hours"].as_f64(), effort["delivered_hours"].as_f64()), (Some(8.0), Some(7.0)));
    assert_eq!(effort["share_of_plan"].as_f64(), Some(0.88));

    // The follow-up report of a period holding the two weeks lists the measure with what it
    // planned and delivered within the period; a period before it lists none.
    let period = format!("{}..{}", day(7), day(13));
    let report = app.get(&format!("/api/v1/reports/followup?period={period}"), coordinator).await;
    assert_eq!(report.status(), 200);
    let report = report.text().await.unwrap();
    let row = report
        .lines()
        .find(|line| line.contains(&format!("data-key=\"{}\"", measure["id"].as_str().unwrap())))
        .unwrap_or_else(|| panic!("the measure's row in {report}"));
    assert!(row.contains("data-value=\"4\"") && row.contains("data-value=\"2\""), "the second week only: {row}");
    assert!(row.contains("Ny belysning längs gångvägen") && row.contains("data-value=\"too_few_to_tell\""), "{row}");
    let before = format!("{}..{}", day(0) - chrono::Days::new(30), day(0) - chrono::Days::new(1));
    let report = app.get(&format!("/api/v1/reports/followup?period={before}"), coordinator).await.text().await.unwrap();
    assert!(report.contains("Inga åtgärder pågick under perioden."), "{report}");

    assert_problem(app.get(&path, &tenant.partner.tokens.access).await, 403, "forbidden").await;
    assert_problem(app.get("/api/v1/measures/no-such-id/effort", coordinator).await, 404, "not_found").await;
}

/// `n` observations of `category` at `place`, one an hour from local noon of `day`.
fn observations(first: u64, n: u64, category: &str, (lat, lon): (f64, f64), day: chrono::NaiveDate) -> Vec<Value> {
    use chrono::TimeZone;
    let noon = chrono_tz::Europe::Stockholm
        .from_local_datetime(&day.and_hms_opt(12, 0, 0).unwrap())
        .single()
        .unwrap()
        .timestamp_millis();
    (0..n)
        .map(|i| {
            json!({
                "id": format!("0190f000-0000-7000-8000-{:012x}", first + i), "category": category,
                "severity": 2, "perceived_safety": 3, "note": "", "lat": lat, "lon": lon,
                "observed_at": noon + i64::try_from(i).unwrap() * 3_600_000,
            })
        })
        .collect()
}

#[tokio::test]
async fn the_effect_compares_the_measures_areas_before_and_after_with_the_rest_and_says_when_there_are_too_few() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let coordinator = &tenant.coordinator.tokens.access;
    app.post("/api/v1/areas", &tenant.admin.tokens.access, &tyreso()).await;

    // After: the measure's 14 days; before: the 14 days just before them.
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Stockholm).date_naive();
    let start = today - chrono::Days::new(30);
    let (before, after) = (start - chrono::Days::new(10), start + chrono::Days::new(3));
    let (granangsringen, trollbacken) = ((59.225, 18.23), (59.23, 18.32));
    let mut records = Vec::new();
    records.extend(observations(0x100, 10, "lighting", granangsringen, before));
    records.extend(observations(0x200, 5, "lighting", granangsringen, after));
    records.extend(observations(0x300, 20, "lighting", trollbacken, before));
    records.extend(observations(0x400, 20, "lighting", trollbacken, after));
    // Neither the measure's category nor its windows: not counted.
    records.extend(observations(0x500, 9, "vandalism", granangsringen, after));
    records.extend(observations(0x600, 9, "lighting", granangsringen, start - chrono::Days::new(20)));
    records.extend(observations(0x700, 9, "lighting", granangsringen, start + chrono::Days::new(15)));
    let pushed = app
        .post(
            "/api/v1/sync/push?last_pulled_at=null",
            &tenant.field.tokens.access,
            &json!({ "observations": { "created": records } }),
        )
        .await;
    assert_eq!(pushed.status(), 200);

    let mut measure = lighting_measure("");
    measure["problems"] = json!([]);
    measure["areas"] = json!(["TY"]);
    measure["planned_start"] = json!(start.to_string());
    measure["planned_end"] = json!((start + chrono::Days::new(13)).to_string());
    let measure = created(app.post("/api/v1/measures", coordinator, &measure).await).await;
    let path = format!("/api/v1/measures/{}/effect", measure["id"].as_str().unwrap());

    for query in ["", "?compare=TB"] {
        let effect: Value = app.get(&format!("{path}{query}"), coordinator).await.json().await.unwrap();
        assert_eq!(
            effect["counts"],
            json!({ "measure_before": 10, "measure_after": 5, "comparison_before": 20, "comparison_after": 20 }),
            "{query}: {effect}"
        );
        // (5/10)/(20/20) = 0.5; SE = sqrt(1/10 + 1/5 + 2/20) = 0.632456; exp(ln 0.5 ± 1.959964 · SE)
        // = [0.14474, 1.72713]: a halving these counts cannot tell from chance.
        assert_eq!(effect["rate_ratio"], 0.5);
        assert_eq!(effect["rate_ratio_interval"], json!([0.145, 1.727]));
        assert_eq!(
            (effect["change_percent"].clone(), effect["change_percent_interval"].clone()),
            (json!(-50.0), json!([-86.0, 73.0]))
        );
        assert_eq!(effect["verdict"], "no_clear_change");
        assert_eq!(
            effect["before"],
            json!({ "from": (start - chrono::Days::new(14)).to_string(), "to": (start - chrono::Days::new(1)).to_string() })
        );
    }

    // Vandalism there: 0 before, 9 after; too few to tell, and no percentage.
    let mut vandalism = lighting_measure("");
    vandalism["problems"] = json!([]);
    vandalism["areas"] = json!(["GR"]);
    vandalism["categories"] = json!(["vandalism"]);
    vandalism["planned_start"] = json!(start.to_string());
    vandalism["planned_end"] = json!((start + chrono::Days::new(13)).to_string());
    let vandalism = created(app.post("/api/v1/measures", coordinator, &vandalism).await).await;
    let effect: Value = app
        .get(&format!("/api/v1/measures/{}/effect", vandalism["id"].as_str().unwrap()), coordinator)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (effect["verdict"].as_str(), effect["change_percent"].clone()),
        (Some("too_few_to_tell"), Value::Null),
        "{effect}"
    );
    assert_eq!(effect["counts"]["measure_after"], 9);

    let overlapping =
        assert_problem(app.get(&format!("{path}?compare=GR"), coordinator).await, 422, "validation_failed").await;
    assert_eq!(overlapping["errors"][0]["code"], "overlaps_measure");
    let unknown =
        assert_problem(app.get(&format!("{path}?compare=NOPE"), coordinator).await, 422, "validation_failed").await;
    assert_eq!(unknown["errors"][0]["code"], "unknown_area");
    assert_problem(app.get(&path, &tenant.field.tokens.access).await, 403, "forbidden").await;
}

#[tokio::test]
async fn the_weekly_picture_flags_areas_clearly_above_their_baseline_with_the_measures_running_there() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let coordinator = &tenant.coordinator.tokens.access;
    app.post("/api/v1/areas", &tenant.admin.tokens.access, &tyreso()).await;

    let today = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Stockholm).date_naive();
    let monday = today - chrono::Days::new(u64::from(today.weekday().num_days_from_monday()) + 7);
    let wednesday = |weeks_before: u64| monday + chrono::Days::new(2) - chrono::Days::new(7 * weeks_before);
    let (granangsringen, trollbacken) = ((59.225, 18.23), (59.23, 18.32));
    let mut records = Vec::new();
    // Last week: 7 in Granängsringen and 5 in Trollbäcken; before: 2 a week in each for 8 weeks.
    records.extend(observations(0x1000, 7, "lighting", granangsringen, wednesday(0)));
    records.extend(observations(0x2000, 5, "vandalism", trollbacken, wednesday(0)));
    for week in 1..=8 {
        records.extend(observations(0x3000 + week * 0x10, 2, "lighting", granangsringen, wednesday(week)));
        records.extend(observations(0x4000 + week * 0x10, 2, "vandalism", trollbacken, wednesday(week)));
    }
    // Nine weeks back: outside the baseline.
    records.extend(observations(0x5000, 9, "lighting", granangsringen, wednesday(9)));
    let pushed = app
        .post(
            "/api/v1/sync/push?last_pulled_at=null",
            &tenant.field.tokens.access,
            &json!({ "observations": { "created": records } }),
        )
        .await;
    assert_eq!(pushed.status(), 200);
    let mut measure = lighting_measure("");
    measure["problems"] = json!([]);
    measure["areas"] = json!(["GR"]);
    measure["planned_start"] = json!((monday - chrono::Days::new(30)).to_string());
    measure["planned_end"] = json!(null);
    let measure = created(app.post("/api/v1/measures", coordinator, &measure).await).await;

    let week = format!("{}-W{:02}", monday.iso_week().year(), monday.iso_week().week());
    for query in [String::new(), format!("?week={week}")] {
        let weekly: Value = app.get(&format!("/api/v1/picture/weekly{query}"), coordinator).await.json().await.unwrap();
        assert_eq!(weekly["week"], week.as_str(), "{query}: by default the last whole week");
        let row =
            |code: &str| weekly["areas"].as_array().unwrap().iter().find(|row| row["area"] == code).unwrap().clone();
        let (gr, tb) = (row("GR"), row("TB"));
        // GR: 7 against (16 + 0.5)/8 = 2.06 a week, P(X ≥ 7) ≈ 0.0054 < 0.01; TB: P(X ≥ 5) ≈ 0.06.
        assert_eq!(
            (gr["last_week"].as_u64(), gr["baseline_mean"].as_f64(), gr["flagged"].as_bool()),
            (Some(7), Some(2.0), Some(true)),
            "{gr}"
        );
        assert_eq!((tb["last_week"].as_u64(), tb["flagged"].as_bool()), (Some(5), Some(false)), "{tb}");
        assert!(gr["p_value"].as_f64().unwrap() < 0.01 && tb["p_value"].as_f64().unwrap() > 0.05);
        assert_eq!(gr["categories"][0], json!({ "category": "lighting", "last_week": 7, "baseline_mean": 2.0 }));
        assert_eq!(gr["measures"][0]["id"], measure["id"], "the measure running there");
        assert_eq!(tb["measures"], json!([]));
        assert_eq!(row("TY")["measures"][0]["id"], measure["id"], "the district holds the neighbourhood's measure");
        assert_eq!(weekly["areas"][0]["flagged"], true, "flagged areas first");
    }
    let refused =
        assert_problem(app.get("/api/v1/picture/weekly?week=2026-W60", coordinator).await, 422, "validation_failed")
            .await;
    assert_eq!(refused["errors"][0]["field"], "week");
    assert_problem(app.get("/api/v1/picture/weekly", &tenant.partner.tokens.access).await, 403, "forbidden").await;
}

#[tokio::test]
async fn a_partner_sees_the_measures_shared_with_their_unit_and_marks_their_own_done_on_the_record() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let (admin, coordinator) = (&tenant.admin.tokens.access, &tenant.coordinator.tokens.access);
    app.post("/api/v1/areas", admin, &tyreso()).await;
    let mut partners = Vec::new();
    for (unit, name) in [("tybo", "Tyresö Bostäder"), ("polisen", "Polisen"), ("brf", "Bostadsrättsföreningen")] {
        assert_eq!(app.post("/api/v1/units", admin, &json!({ "slug": unit, "name": name })).await.status(), 201);
        let user = json!({ "username": format!("{unit}-user"), "password": "ett långt lösenord", "role": "partner", "unit": unit });
        assert_eq!(app.post("/api/v1/users", admin, &user).await.status(), 201);
        partners.push(
            app.login("tyreso", &format!("{unit}-user"), "ett långt lösenord", &format!("{unit}-laptop")).await.access,
        );
    }
    let (tybo, police, other) = (&partners[0], &partners[1], &partners[2]);
    let problem = created(app.post("/api/v1/problems", coordinator, &lighting_problem()).await).await;
    let mut lighting = lighting_measure(problem["id"].as_str().unwrap());
    lighting["responsible_unit"] = json!("tybo");
    lighting["shared_with"] = json!(["polisen"]);
    let lighting = created(app.post("/api/v1/measures", coordinator, &lighting).await).await;
    let path = format!("/api/v1/measures/{}", lighting["id"].as_str().unwrap());
    let mut unshared = lighting_measure("");
    unshared["problems"] = json!([]);
    created(app.post("/api/v1/measures", coordinator, &unshared).await).await;

    // Tybo (responsible) and the police (shared with) see it, without the problems behind it;
    // another partner sees nothing.
    for token in [tybo, police] {
        let listed: Value = app.get("/api/v1/measures", token).await.json().await.unwrap();
        assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
        assert_eq!((listed[0]["id"].clone(), listed[0]["problems"].clone()), (lighting["id"].clone(), json!([])));
        assert_eq!(app.get(&path, token).await.status(), 200);
    }
    assert_eq!(app.get("/api/v1/measures", other).await.json::<Value>().await.unwrap(), json!([]));
    assert_problem(app.get(&path, other).await, 404, "not_found").await;

    // Only the responsible unit marks it, only its status, only ongoing or done.
    let refused =
        assert_problem(app.patch(&path, tybo, &json!({ "title": "Annat" })).await, 422, "validation_failed").await;
    assert_eq!(refused["errors"][0]["code"], "not_for_partners");
    assert_problem(app.patch(&path, tybo, &json!({ "status": "stopped" })).await, 422, "validation_failed").await;
    assert_problem(app.patch(&path, police, &json!({ "status": "done" })).await, 403, "forbidden").await;
    assert_problem(app.patch(&path, other, &json!({ "status": "done" })).await, 404, "not_found").await;
    let done = app.patch(&path, tybo, &json!({ "status": "done", "version": 1 })).await;
    assert_eq!(done.status(), 200);
    let history: Value = app.get(&format!("{path}/history"), coordinator).await.json().await.unwrap();
    assert_eq!(history[1]["fields"]["status"], "done");
    assert_eq!(history[1]["changed_by"], app.get("/api/v1/me", tybo).await.json::<Value>().await.unwrap()["id"]);
    let audit: Value = app.get("/api/v1/audit?action=plan.measure.update", admin).await.json().await.unwrap();
    assert_eq!(audit["items"][0]["role"], "partner", "{audit}");

    // The plan's other parts stay the coordinators'.
    for forbidden in ["/api/v1/problems", &format!("{path}/history"), &format!("{path}/effort")] {
        assert_problem(app.get(forbidden, tybo).await, 403, "forbidden").await;
    }
    let mut unknown = lighting_measure("");
    unknown["problems"] = json!([]);
    unknown["shared_with"] = json!(["polisen", "ingen"]);
    let refused =
        assert_problem(app.post("/api/v1/measures", coordinator, &unknown).await, 422, "validation_failed").await;
    assert_eq!(refused["errors"][0]["field"], "shared_with[1]");
}

/// The first day of the tertial `offset` tertials from today's (negative: earlier).
fn tertial_start(offset: i32) -> chrono::NaiveDate {
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Stockholm).date_naive();
    let index = today.year() * 3 + i32::try_from((today.month() - 1) / 4).unwrap() + offset;
    chrono::NaiveDate::from_ymd_opt(index.div_euclid(3), u32::try_from(index.rem_euclid(3)).unwrap() * 4 + 1, 1)
        .unwrap()
}

fn tertial_name(offset: i32) -> String {
    let start = tertial_start(offset);
    format!("{}-T{}", start.year(), (start.month() - 1) / 4 + 1)
}

#[tokio::test]
async fn a_partner_sees_a_measures_effect_over_whole_tertials_of_published_cells_only() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let (coordinator, partner, admin) =
        (&tenant.coordinator.tokens.access, &tenant.partner.tokens.access, &tenant.admin.tokens.access);
    app.post("/api/v1/areas", admin, &tyreso()).await;
    let share = app
        .client
        .put(app.url(&format!("/api/v1/users/{}/areas", tenant.partner.id)))
        .bearer_auth(admin)
        .json(&json!({ "areas": ["GR", "TB"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(share.status(), 200);
    // The measure starts in the tertial four before today's: three whole tertials after it, three before.
    let (granangsringen, trollbacken) = ((59.225, 18.23), (59.23, 18.32));
    let day = |offset: i32| tertial_start(offset) + chrono::Days::new(10);
    let mut records = Vec::new();
    for (n, offset) in [-7, -6, -5].into_iter().enumerate() {
        let n = u64::try_from(n).unwrap();
        records.extend(observations(0x1000 + n * 0x100, 10, "lighting", granangsringen, day(offset)));
        records.extend(observations(0x2000 + n * 0x100, 10, "lighting", trollbacken, day(offset)));
    }
    // After: four, four, and two (fewer than k = 3: not published, so in no count).
    for (n, (offset, here)) in [(-3, 4), (-2, 4), (-1, 2)].into_iter().enumerate() {
        let n = u64::try_from(n).unwrap();
        records.extend(observations(0x3000 + n * 0x100, here, "lighting", granangsringen, day(offset)));
        records.extend(observations(0x4000 + n * 0x100, 10, "lighting", trollbacken, day(offset)));
    }
    records.extend(observations(0x5000, 5, "graffiti", granangsringen, day(-3)));
    let body = json!({ "observations": { "created": records } });
    assert_eq!(
        app.post("/api/v1/sync/push?last_pulled_at=null", &tenant.field.tokens.access, &body).await.status(),
        200
    );

    let start = tertial_start(-4) + chrono::Days::new(15);
    let measure = json!({
        "title": "Belysning längs gångvägen", "responsible_unit": "falt", "areas": ["GR"], "categories": ["lighting"],
        "planned_start": start.to_string(), "effort": { "kind": "one_off", "description": "Nya armaturer" },
    });
    let measure = created(app.post("/api/v1/measures", coordinator, &measure).await).await;
    let path = format!("/api/v1/measures/{}/effect", measure["id"].as_str().unwrap());
    let effect: Value = app.get(&path, partner).await.json().await.unwrap();
    assert_eq!(effect["before"]["tertials"], json!([tertial_name(-7), tertial_name(-6), tertial_name(-5)]), "{effect}");
    assert_eq!(effect["after"]["tertials"], json!([tertial_name(-3), tertial_name(-2), tertial_name(-1)]), "{effect}");
    assert_eq!(
        effect["counts"],
        json!({ "measure_before": 30, "measure_after": 8, "comparison_before": 30, "comparison_after": 30 }),
        "sums of published lighting cells: the two in the last tertial are in none"
    );
    assert_eq!((effect["verdict"].as_str(), effect["comparison"].as_str()), (Some("decrease"), Some("shared")));
    assert_eq!(effect["comparison_areas"], json!(["TB"]));

    // Partners cannot cut the cells another way, nor see another unit's measure.
    let compared = app.get(&format!("{path}?compare=TB"), partner).await;
    assert_eq!(assert_problem(compared, 422, "validation_failed").await["errors"][0]["code"], "not_for_partners");
    let other = json!({
        "title": "Annan enhets åtgärd", "responsible_unit": "falt", "areas": ["TB"], "planned_start": start.to_string(),
        "effort": { "kind": "weekly_hours", "hours": 2.0 },
    });
    let other = created(app.post("/api/v1/measures", coordinator, &other).await).await;
    app.seed_unit(&tenant.org_id, "polisen");
    let officer =
        json!({ "username": "polis", "password": "ett långt lösenord", "role": "partner", "unit": "polisen" });
    assert_eq!(app.post("/api/v1/users", admin, &officer).await.status(), 201);
    let officer = app.login("tyreso", "polis", "ett långt lösenord", "polis-phone").await.access;
    let hidden = format!("/api/v1/measures/{}/effect", other["id"].as_str().unwrap());
    assert_problem(app.get(&hidden, &officer).await, 404, "not_found").await;
    // A coordinator's effect of the same measure compares days, not tertials, and may choose areas.
    let days: Value = app.get(&format!("{path}?compare=TB"), coordinator).await.json().await.unwrap();
    assert_eq!(days["comparison"], "areas");
    assert!(days["before"]["tertials"].is_null());
}
