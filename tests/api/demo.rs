//! `lagesbild demo`, run as a person would: the built binary, then the printed credentials and
//! every view of the product against the server that shares its database.

use crate::cli::{lagesbild, run};
use crate::helpers::*;
use chrono::{Datelike, Months, NaiveDate, Timelike};
use chrono_tz::Europe::Stockholm;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

const AREA_CODES: [&str; 7] = ["GRR", "TYC", "TRB", "TYS", "ORI", "KRU", "BRE"];

fn with_args(app: &TestApp, args: &[&str]) -> std::process::Command {
    let mut command = lagesbild(app);
    command.args(args);
    command
}

/// username -> password, from the table `demo` prints.
fn credentials(out: &str) -> HashMap<String, String> {
    out.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words[..] {
                [username, role, password, _, ..] if ["admin", "coordinator", "field", "partner"].contains(&role) => {
                    Some((username.to_owned(), password.to_owned()))
                }
                _ => None,
            }
        })
        .collect()
}

/// Runs the command off the test's runtime, which also runs the server: blocking it would stall
/// the server's own timers (an idle connection it should have closed is then reused and cut).
async fn demo(mut command: std::process::Command) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || run(&mut command, "")).await.unwrap()
}

fn local(ms: i64) -> chrono::DateTime<chrono_tz::Tz> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap().with_timezone(&Stockholm)
}

async fn json(app: &TestApp, path: &str, token: &str) -> Value {
    let response = app.get(path, token).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// Every item of a paged list.
async fn all_items(app: &TestApp, path: &str, token: &str) -> Vec<Value> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut after = String::new();
    loop {
        let page = json(app, &format!("{path}{separator}limit=1000{after}"), token).await;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => return items,
        }
    }
}

fn visitors(activity: &Value) -> i64 {
    ["girls", "boys", "gender_other", "gender_unknown"].iter().map(|g| activity[*g].as_i64().unwrap()).sum()
}

#[tokio::test]
async fn demo_gives_every_view_something_true_to_show() {
    let app = spawn_app().await;
    let (code, out, err) = demo(with_args(&app, &["demo", "--org", "tyreso"])).await;
    assert_eq!(code, 0, "{err}");
    let passwords = credentials(&out);
    assert_eq!(passwords.len(), 11, "{out}");
    let coordinator = app.login("tyreso", "samordnare", &passwords["samordnare"], "demo-coordinator").await.access;

    // The areas, each with observations this year and last year, compared with the year before.
    let areas = json(&app, "/api/v1/areas", &coordinator).await;
    let codes: BTreeSet<&str> =
        areas["features"].as_array().unwrap().iter().map(|f| f["properties"]["code"].as_str().unwrap()).collect();
    assert!(AREA_CODES.iter().all(|code| codes.contains(code)), "{codes:?}");
    let today = chrono::Utc::now().with_timezone(&Stockholm).date_naive();
    for year in [today.year(), today.year() - 1] {
        let picture = json(&app, &format!("/api/v1/picture?period={year}"), &coordinator).await;
        let rows: HashMap<&str, &Value> =
            picture["areas"].as_array().unwrap().iter().map(|row| (row["area"].as_str().unwrap(), row)).collect();
        for code in AREA_CODES {
            assert!(rows[code]["observations"].as_u64().unwrap() > 0, "{year} {code}: {}", rows[code]);
            assert!(rows[code]["presence"]["activities"].as_u64().is_some(), "{year} {code}");
        }
        assert!(rows["GRR"]["presence"]["activities"].as_u64().unwrap() > 0);
    }
    // The last twelve months against the twelve before, which are last year's: one comparison.
    let last_twelve_months = json(&app, "/api/v1/picture", &coordinator).await;
    assert_eq!(last_twelve_months["comparisons"]["last_year"], Value::Null);
    for row in last_twelve_months["areas"].as_array().unwrap() {
        if AREA_CODES.contains(&row["area"].as_str().unwrap()) {
            assert!(row["previous_period"].as_u64().unwrap() > 0, "{row}");
            assert!(row["change_previous_pct"].is_number(), "{row}");
        }
    }
    let last_tertial = json(&app, &format!("/api/v1/picture?period={}", last_tertial(today)), &coordinator).await;
    for row in last_tertial["areas"].as_array().unwrap() {
        if AREA_CODES.contains(&row["area"].as_str().unwrap()) {
            assert!(row["same_period_last_year"].as_u64().unwrap() > 0, "{row}");
            assert!(row["change_last_year_pct"].is_number(), "{row}");
        }
    }

    // Every month of the 24 up to today has observations.
    let first_day = today - Months::new(24);
    let whole = json(
        &app,
        &format!("/api/v1/areas/TYR/picture?from={first_day}&to={}", today + chrono::Duration::days(1)),
        &coordinator,
    )
    .await;
    let months: BTreeSet<String> = whole["by_month"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["by_category"].as_object().unwrap().values().any(|n| n.as_u64().unwrap_or(0) > 0))
        .map(|m| m["month"].as_str().unwrap().to_owned())
        .collect();
    let mut month = NaiveDate::from_ymd_opt(first_day.year(), first_day.month(), 1).unwrap();
    let yesterday = today - chrono::Duration::days(1);
    while month <= yesterday {
        assert!(months.contains(&format!("{}-{:02}", month.year(), month.month())), "{month} is missing: {months:?}");
        month = month + Months::new(1);
    }

    // Observations: mostly in the evening, some notes redacted.
    let observations = all_items(&app, "/api/v1/observations", &coordinator).await;
    assert!(observations.len() > 5_000, "{}", observations.len());
    let evening =
        observations.iter().filter(|o| (18..=23).contains(&local(o["observed_at"].as_i64().unwrap()).hour())).count();
    assert!(evening * 2 > observations.len(), "{evening} of {} in the evening", observations.len());
    let redacted: Vec<&Value> = observations.iter().filter(|o| o["redacted"] == true).collect();
    assert!(!redacted.is_empty());
    assert!(redacted.iter().all(|o| o["note"].as_str().unwrap().contains("[telefonnummer borttaget]")));
    assert!(observations.iter().any(|o| o["status"] == "forwarded"));

    // The summer café opens only in June to August, with more visitors than the summer before
    // over the same span of days.
    let cafe = all_items(&app, "/api/v1/activities?activity_type=summer_cafe", &coordinator).await;
    assert!(!cafe.is_empty());
    assert!(cafe.iter().all(|a| (6..=8).contains(&local(a["started_at"].as_i64().unwrap()).month())));
    let summer = if (today.month(), today.day()) >= (7, 1) { today.year() } else { today.year() - 1 };
    let last_day = if summer < today.year() { (8, 31) } else { (today.month(), today.day()).min((8, 31)) };
    let span = |year: i32, activity: &Value| {
        let at = local(activity["started_at"].as_i64().unwrap());
        at.year() == year && (at.month(), at.day()) <= last_day
    };
    let sum = |year: i32| -> i64 { cafe.iter().filter(|a| span(year, a)).map(visitors).sum() };
    assert!(sum(summer) > sum(summer - 1) && sum(summer - 1) > 0, "{} vs {}", sum(summer), sum(summer - 1));

    // The other kinds of work are all there.
    let activities = all_items(&app, "/api/v1/activities", &coordinator).await;
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for activity in &activities {
        *kinds.entry(activity["activity_type"].as_str().unwrap()).or_default() += 1;
    }
    for kind in ["outreach_shift", "guard_patrol", "summer_cafe", "association_host", "safety_walk", "sspf_meeting"] {
        assert!(kinds.get(kind).copied().unwrap_or(0) > 0, "{kind}: {kinds:?}");
    }

    // The indicators of the assignment, and the partners' view.
    let indicators = json(&app, "/api/v1/indicators", &coordinator).await;
    assert_eq!(indicators.as_array().unwrap().len(), 7);
    let unsafe_evenings = indicators.as_array().unwrap().iter().find(|i| i["slug"] == "polisen-otrygg-kvall").unwrap();
    assert_eq!(unsafe_evenings["higher_is_better"], false);
    assert_eq!(unsafe_evenings["status"][0]["latest_value"], 18.0);
    assert_eq!(unsafe_evenings["status"][0]["previous_value"], 21.0);
    assert_eq!(unsafe_evenings["status"][0]["trend"], "improved", "lower is better: {unsafe_evenings}");
    // Every indicator has a history, so the follow-up can tell trend and target for each group:
    // some improve, some do not.
    let statuses: Vec<&Value> =
        indicators.as_array().unwrap().iter().flat_map(|i| i["status"].as_array().unwrap()).collect();
    assert_eq!(statuses.len(), 9, "seven indicators, two of them for boys and girls");
    assert!(statuses.iter().all(|s| s["meets_target"].is_boolean()), "no indicator says cannot tell: {statuses:?}");
    let met = statuses.iter().filter(|s| s["meets_target"] == true).count();
    assert!(met > 0 && met < statuses.len(), "some meet the target and some do not: {statuses:?}");
    let police = app.login("tyreso", "polisen", &passwords["polisen"], "demo-police").await.access;
    let shared = json(&app, "/api/v1/picture", &police).await;
    assert!(shared["areas"].as_array().unwrap().iter().any(|row| row["observations"].as_u64().is_some_and(|n| n > 0)));
    let field = app.login("tyreso", "falt1", &passwords["falt1"], "demo-field").await.access;
    assert!(!json(&app, "/api/v1/observations?limit=1", &field).await["items"].as_array().unwrap().is_empty());

    // The action plan the records imply: the lighting renewed a year in shows as a decrease of
    // lighting reports there against the rest of the municipality; the outreach evenings' shifts
    // count as their delivered effort.
    let measures = json(&app, "/api/v1/measures", &coordinator).await;
    assert_eq!(measures.as_array().unwrap().len(), 3, "{measures}");
    assert_eq!(json(&app, "/api/v1/problems", &coordinator).await.as_array().unwrap().len(), 3);
    let measure = |title: &str| {
        let found = measures.as_array().unwrap().iter().find(|m| m["title"].as_str().unwrap().contains(title));
        found.unwrap_or_else(|| panic!("{title} in {measures}"))["id"].as_str().unwrap().to_owned()
    };
    let lighting = json(&app, &format!("/api/v1/measures/{}/effect", measure("belysning")), &coordinator).await;
    assert_eq!(lighting["verdict"], "decrease", "{lighting}");
    assert!(lighting["change_percent"].as_f64().unwrap() < -30.0, "{lighting}");
    let outreach = json(&app, &format!("/api/v1/measures/{}/effort", measure("Uppsökande")), &coordinator).await;
    assert!(outreach["weeks"].as_array().unwrap().len() >= 26, "{outreach}");
    assert!(outreach["delivered_hours"].as_f64().unwrap() > 100.0, "{outreach}");
    assert!(out.contains("problems and measures of the action plan"), "{out}");
    // The field staff heard about two of them; a field user's phone gets it.
    let feedback = json(&app, "/api/v1/feedback", &field).await;
    let on: std::collections::BTreeSet<String> =
        feedback.as_array().unwrap().iter().map(|f| f["measure"].as_str().unwrap().to_owned()).collect();
    assert_eq!(on, [measure("belysning"), measure("Uppsökande")].into(), "{feedback}");
    let pulled = json(&app, "/api/v1/sync/pull?last_pulled_at=null&schema_version=2", &field).await;
    assert_eq!(pulled["changes"]["feedback"]["created"].as_array().map(Vec::len), Some(2));

    // A second run refuses; --reset makes it anew, with new passwords. (The pause: a token is
    // known to belong to a deleted organisation once it is older than the server's clock margin,
    // 2 s, at the moment the server rereads the organisations.)
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (code, _, err) = demo(with_args(&app, &["demo", "--org", "tyreso"])).await;
    assert_eq!(code, 1);
    assert!(err.contains("already exists") && err.contains("--reset"), "{err}");
    let mut command = with_args(&app, &["demo", "--org", "tyreso", "--reset", "--password-env", "DEMO_PASSWORD"]);
    command.env("DEMO_PASSWORD", "ett gemensamt demolösenord");
    let (code, out, err) = demo(command).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("deleted the earlier demo"), "{out}");
    assert!(credentials(&out).values().all(|p| p == "(given)"), "a given password is not printed: {out}");
    let response = app.login_response("tyreso", "samordnare", &passwords["samordnare"], "demo-coordinator").await;
    assert_eq!(response.status(), 401, "the old password is gone with the old organisation");
    // A token of the deleted organisation ends its session (once the server has reread the
    // gates, within its poll interval) instead of failing on the missing organisation.
    let mut answers = Vec::new();
    for _ in 0..50 {
        let response = app.get("/api/v1/picture", &coordinator).await;
        answers.push(response.status().as_u16());
        if response.status() == 401 {
            let problem = assert_problem(response, 401, "invalid_token").await;
            assert!(problem["detail"].as_str().unwrap().contains("session has ended"), "{problem}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(answers.last(), Some(&401), "{answers:?}");
    assert!(answers.iter().all(|status| *status != 500), "{answers:?}");
    let again = app.login("tyreso", "samordnare", "ett gemensamt demolösenord", "demo-coordinator-2").await.access;
    let picture = json(&app, &format!("/api/v1/picture?period={}", today.year()), &again).await;
    let grr = picture["areas"].as_array().unwrap().iter().find(|row| row["area"] == "GRR").unwrap();
    assert!(grr["observations"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn reset_never_deletes_an_organisation_demo_did_not_create() {
    let app = spawn_app().await;
    app.seed_org("tyreso");
    let (code, _, err) = demo(with_args(&app, &["demo", "--org", "tyreso", "--reset"])).await;
    assert_eq!(code, 1);
    assert!(err.contains("was not created by `lagesbild demo`"), "{err}");
    // Without --reset, the refusal suggests another slug, never the reset that would be refused.
    let (code, _, err) = demo(with_args(&app, &["demo", "--org", "tyreso"])).await;
    assert_eq!(code, 1);
    assert!(err.contains("is not a demo") && err.contains("--org demo") && !err.contains("--reset"), "{err}");
    let (code, _, err) = demo(with_args(&app, &["demo", "--org", "Not A Slug"])).await;
    assert_eq!(code, 1);
    assert!(err.contains("--org"), "{err}");
}

/// The tertial before the one `today` lies in, as the API names it.
fn last_tertial(today: NaiveDate) -> String {
    let tertial = (today.month() - 1) / 4 + 1;
    if tertial == 1 { format!("{}-T3", today.year() - 1) } else { format!("{}-T{}", today.year(), tertial - 1) }
}
