//! Retention (gallring): an administrator sets how long free text, exact positions, earlier
//! versions and audit entries are kept; a run (on demand, from the command line, or the daily
//! job) removes what is past them, phones receive the purged versions, and every aggregate — the
//! picture, the heat map at coarse resolutions, the activity report, the follow-up report —
//! reads the same, byte for byte, before and after.

use crate::cli::{lagesbild, run};
use crate::helpers::*;
use crate::sync::{Phone, created, updated};
use diesel::connection::SimpleConnection;
use serde_json::{Value, json};

/// Local noon of a date in Stockholm (winter time: UTC+1), plus `hour` hours.
fn at(year: i32, month: u32, day: u32, hour: i64) -> i64 {
    let date = chrono::NaiveDate::from_ymd_opt(year, month, day).unwrap();
    date.and_hms_opt(11, 0, 0).unwrap().and_utc().timestamp_millis() + hour * 3_600_000
}

/// A deterministic spread of positions over the three areas of `areas::tyreso()` and beside them.
fn position(n: u64) -> (f64, f64) {
    let mix = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    let (a, b) = ((mix >> 11) % 10_000, (mix >> 33) % 10_000);
    (59.19 + 0.08 * a as f64 / 10_000.0, 18.19 + 0.17 * b as f64 / 10_000.0)
}

fn old_observation(n: u64) -> Value {
    let (lat, lon) = position(n);
    let day = u32::try_from(1 + n % 27).unwrap();
    let month = u32::try_from(1 + n % 12).unwrap();
    let year = if n.is_multiple_of(3) { 2025 } else { 2024 };
    // Hours from morning to late evening: some in daylight, some after dark, some at dusk.
    let hour = i64::try_from(n % 13).unwrap() - 4;
    let category = ["vandalism", "lighting", "youth_gathering"][usize::try_from(n % 3).unwrap()];
    json!({
        "id": format!("00000000-0000-7000-8000-{n:012}"),
        "category": category,
        "severity": 1 + n % 5, "perceived_safety": 1 + (n + 2) % 5,
        "note": format!("Anteckning {n}: tre personer vid porten"),
        "lat": lat, "lon": lon, "accuracy_m": 6.5,
        "observed_at": if year == 2025 && month == 12 { at(2025, 1, day, hour) } else { at(year, month, day, hour) },
    })
}

/// An observation at the moment the sun sets between its exact position and the centre of its
/// coarse hexagon: after dark at one and not at the other, so the picture's "after dark" holds
/// only if the flag of the exact position is kept.
fn at_dusk() -> Value {
    use lagesbild::domain::sun::{SUNSET_ALTITUDE, altitude_degrees};
    let (lat, lon) = (59.2251, 18.2232);
    let hexagon = h3o::LatLng::new(lat, lon).unwrap().to_cell(h3o::Resolution::Twelve);
    let centre = h3o::LatLng::from(hexagon.parent(h3o::Resolution::Eight).unwrap());
    let dark = |lat: f64, lon: f64, at: i64| altitude_degrees(lat, lon, at) < SUNSET_ALTITUDE;
    let evening = at(2024, 3, 10, 4);
    let moment = (0..4 * 3_600_000)
        .step_by(100)
        .map(|ms| evening + ms)
        .find(|&t| dark(lat, lon, t) != dark(centre.lat(), centre.lng(), t))
        .expect("the sun sets at one a little before the other");
    json!({ "id": "00000000-0000-7000-8000-800000000001", "category": "lighting", "severity": 2,
            "perceived_safety": 2, "note": "Mörkt vid porten", "lat": lat, "lon": lon, "observed_at": moment })
}

/// An observation inside Granängsringen, near its corner, whose coarse hexagon's centre lies
/// outside it: sent back unchanged, it must stay in Granängsringen.
fn at_the_edge() -> Value {
    let in_granangsringen = |lat: f64, lon: f64| (59.22..59.23).contains(&lat) && (18.22..18.24).contains(&lon);
    let centre_outside = |&(lat, lon): &(f64, f64)| {
        let hexagon = h3o::LatLng::new(lat, lon).unwrap().to_cell(h3o::Resolution::Twelve);
        let centre = h3o::LatLng::from(hexagon.parent(h3o::Resolution::Eight).unwrap());
        !in_granangsringen(centre.lat(), centre.lng())
    };
    let inside =
        (1..30).flat_map(|i| (1..60).map(move |j| (59.22 + 0.0003 * f64::from(i), 18.22 + 0.0003 * f64::from(j))));
    let (lat, lon) = inside.filter(|&(lat, lon)| in_granangsringen(lat, lon)).find(centre_outside).unwrap();
    json!({ "id": "00000000-0000-7000-8000-800000000002", "category": "vandalism", "severity": 4,
            "perceived_safety": 1, "note": "Krossad ruta vid porten", "lat": lat, "lon": lon,
            "observed_at": at(2024, 5, 17, 9) })
}

fn old_activity(n: u64) -> Value {
    let (lat, lon) = position(1000 + n);
    let started = at(2024, u32::try_from(1 + n % 12).unwrap(), u32::try_from(1 + n % 27).unwrap(), 6);
    json!({
        "id": format!("00000000-0000-7000-9000-{n:012}"),
        "activity_type": if n.is_multiple_of(2) { "outreach_shift" } else { "summer_cafe" }, "unit": "falt",
        "started_at": started, "ended_at": started + 3 * 3_600_000,
        "girls": 1 + n % 4, "boys": 2, "gender_other": 0, "gender_unknown": n % 2,
        "age_under_13": 0, "age_13_15": 1 + n % 4, "age_16_17": 2, "age_18_24": n % 2, "age_25_plus": 0, "age_unknown": 0,
        "note": format!("Pass {n}, pratade med Kim"),
        "lat": lat, "lon": lon,
    })
}

/// Removes what says when an answer was made, so that two answers compare byte for byte.
fn timeless(body: &str) -> String {
    if let Ok(mut value) = serde_json::from_str::<Value>(body) {
        fn strip(value: &mut Value) {
            match value {
                Value::Object(map) => {
                    map.remove("generated_at");
                    map.values_mut().for_each(strip);
                }
                Value::Array(items) => items.iter_mut().for_each(strip),
                _ => {}
            }
        }
        strip(&mut value);
        return value.to_string();
    }
    // The printed report: everything but its footer ("Skapad 2026-12-05 22:10").
    body.split("<footer>").next().unwrap_or_default().to_owned()
}

/// Every aggregate retention must leave as it was.
const AGGREGATES: &[&str] = &[
    "/api/v1/picture?period=2024",
    "/api/v1/picture?period=2024&after_dark=true",
    "/api/v1/picture?period=2024&after_dark=true&twilight=true",
    "/api/v1/picture?period=2025",
    "/api/v1/picture?period=2024-T2&category=lighting",
    "/api/v1/areas/TY/picture?period=2024",
    "/api/v1/areas/GR/picture?period=2024",
    "/api/v1/heatmap?period=2024&resolution=7",
    "/api/v1/heatmap?period=2024&resolution=8",
    "/api/v1/heatmap?period=2024&resolution=8&after_dark=true",
    "/api/v1/heatmap?period=2025&resolution=8&hours=18-24",
    "/api/v1/reports/activity?period=2024-T1&group_by=area",
    "/api/v1/reports/activity?period=2024-T2&group_by=type,unit",
    "/api/v1/reports/activity?period=2024-T3&group_by=gender",
    "/api/v1/reports/activity?period=2024&group_by=area&format=csv",
    "/api/v1/reports/followup?period=2024-T2",
    "/api/v1/reports/followup?period=2024-T3",
];

async fn aggregates(app: &TestApp, token: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    for path in AGGREGATES {
        let response = app.get(path, token).await;
        assert_eq!(response.status(), 200, "{path}");
        bodies.push(timeless(&response.text().await.unwrap()));
    }
    bodies
}

async fn run_retention(app: &TestApp, admin: &str, dry_run: bool) -> Value {
    let response = app.post("/api/v1/retention/run", admin, &json!({ "dry_run": dry_run })).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["purge"].clone()
}

fn exec(app: &TestApp, sql: &str) {
    app.conn().batch_execute(sql).unwrap();
}

#[tokio::test]
async fn retention_removes_text_and_exact_positions_and_every_aggregate_stays_byte_for_byte() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let (admin, coordinator) = (&tenant.admin.tokens.access, &tenant.coordinator.tokens.access);
    assert_eq!(app.post("/api/v1/areas", admin, &crate::areas::tyreso()).await.status(), 200);
    let mut phone = Phone::new(&app, &tenant.field.tokens.access);
    let old: Vec<Value> = (0..90).map(old_observation).chain([at_dusk(), at_the_edge()]).collect();
    let acts: Vec<Value> = (0..24).map(old_activity).collect();
    let mut recent = crate::sync::observation("00000000-0000-7000-8000-900000000001", "Ny lampa trasig");
    recent["lat"] = json!(59.2251);
    recent["lon"] = json!(18.2301);
    let mut changes = created("observations", [old.clone(), vec![recent.clone()]].concat());
    changes["activity_logs"] = created("activity_logs", acts.clone())["activity_logs"].clone();
    let answer = phone.push(changes).await;
    let applied = answer["results"].as_array().unwrap().iter().filter(|r| r["status"] == "applied").count();
    assert_eq!(applied, old.len() + acts.len() + 1, "{answer}");
    phone.pull().await;
    // Earlier versions holding text: a coordinator's review comment, then the reporter's new note.
    let reviewed = old[1]["id"].as_str().unwrap();
    let review = json!({ "status": "reviewed", "review_comment": "Ring fastighetsägaren om porten" });
    assert_eq!(app.patch(&format!("/api/v1/observations/{reviewed}"), coordinator, &review).await.status(), 200);
    let mut edited = old[2].clone();
    edited["note"] = json!("Ändrad: stod kvar vid muren");
    phone.push(updated("observations", vec![edited])).await;
    phone.pull().await;
    // An audit entry and an earlier version from long ago.
    exec(
        &app,
        &format!(
            "INSERT INTO audit_log (id, organisation_id, at, user_id, role, action, format, filters, row_count, finished_at) VALUES ('old-audit', '{}', 1000, NULL, 'cli', 'export.observations', 'csv', '{{}}', 1, 1000)",
            tenant.org_id
        ),
    );
    exec(
        &app,
        &format!(
            "INSERT INTO record_history (id, organisation_id, table_name, record_id, server_seq, changed_by, device_id, changed_at, change, fields, previous) VALUES ('old-version', '{}', 'observations', '{reviewed}', 1, 'someone', 'device', 1000, 'update', '[]', '{{}}')",
            tenant.org_id
        ),
    );
    let before = aggregates(&app, coordinator).await;

    // Nothing is set at first; only an admin sets it, all or nothing, field by field.
    let shown: Value = app.get("/api/v1/retention", admin).await.json().await.unwrap();
    assert_eq!(shown["free_text_months"], Value::Null);
    assert_eq!(shown["coarse_resolution"], 8);
    assert_eq!(app.get("/api/v1/retention", coordinator).await.status(), 403);
    let policy = json!({ "free_text_months": 12, "position_months": 12, "history_months": 12, "audit_months": 24 });
    assert_eq!(app.patch("/api/v1/retention", coordinator, &policy).await.status(), 403);
    for (bad, field) in [
        (json!({ "free_text_months": 0 }), "free_text_months"),
        (json!({ "free_text_months": 12, "audit_months": 601 }), "audit_months"),
        (json!({ "position_months": -3 }), "position_months"),
        (json!({ "history_months": "12" }), "history_months"),
        (json!({ "history_months": 1.5 }), "history_months"),
    ] {
        let problem = assert_problem(app.patch("/api/v1/retention", admin, &bad).await, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{bad}: {problem}");
    }
    assert_problem(
        app.patch("/api/v1/retention", admin, &json!({ "notes_months": 3 })).await,
        422,
        "validation_failed",
    )
    .await;
    let unchanged: Value = app.get("/api/v1/retention", admin).await.json().await.unwrap();
    assert_eq!(unchanged["free_text_months"], Value::Null, "a refused change changes nothing");
    let set: Value = app.patch("/api/v1/retention", admin, &policy).await.json().await.unwrap();
    assert_eq!((set["free_text_months"].clone(), set["audit_months"].clone()), (json!(12), json!(24)));

    // A dry run counts and changes nothing.
    let older_than_a_year = old.iter().filter(|o| o["observed_at"].as_i64().unwrap() < at(2025, 12, 1, 0)).count();
    let dry = run_retention(&app, admin, true).await;
    assert_eq!(dry["observation_free_text"], older_than_a_year);
    assert_eq!(dry["observation_positions"], older_than_a_year);
    assert_eq!(dry["activity_free_text"], acts.len());
    assert_eq!(dry["activity_positions"], acts.len());
    assert_eq!(dry["history_versions_removed"], 1);
    assert_eq!(dry["audit_entries_removed"], 1);
    let first: Value = app
        .get(&format!("/api/v1/observations/{}", old[0]["id"].as_str().unwrap()), coordinator)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["note"], old[0]["note"], "a dry run changes nothing");
    assert_eq!(first["lat"], old[0]["lat"]);

    let purge = run_retention(&app, admin, false).await;
    for count in [
        "observation_free_text",
        "observation_positions",
        "activity_free_text",
        "activity_positions",
        "history_versions_removed",
        "audit_entries_removed",
        "history_versions_scrubbed",
    ] {
        assert_eq!(purge[count], dry[count], "{count}: the run did what the dry run said");
    }
    assert!(purge["history_versions_scrubbed"].as_u64().unwrap() >= 2, "{purge}");

    // The records: no text, the centre of their resolution-8 hexagon, the same area (the
    // aggregates below).
    for record in &old {
        let id = record["id"].as_str().unwrap();
        let stored: Value = app.get(&format!("/api/v1/observations/{id}"), coordinator).await.json().await.unwrap();
        assert_eq!(stored["note"], "", "{id}");
        assert_eq!(stored["review_comment"], Value::Null);
        assert_eq!(stored["accuracy_m"], Value::Null);
        let exact = h3o::LatLng::new(record["lat"].as_f64().unwrap(), record["lon"].as_f64().unwrap()).unwrap();
        // The resolution-8 parent of the stored cell (resolution 12): the heat map's hexagons.
        let hexagon = exact.to_cell(h3o::Resolution::Twelve).parent(h3o::Resolution::Eight).unwrap();
        let centre = h3o::LatLng::from(hexagon);
        assert!((stored["lat"].as_f64().unwrap() - centre.lat()).abs() < 1e-9, "{stored}");
        assert!((stored["lon"].as_f64().unwrap() - centre.lng()).abs() < 1e-9, "{stored}");
    }
    let kept: Value = app
        .get(&format!("/api/v1/observations/{}", recent["id"].as_str().unwrap()), coordinator)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (kept["note"].clone(), kept["lat"].clone()),
        (recent["note"].clone(), recent["lat"].clone()),
        "recent records keep everything"
    );
    let history: Value =
        app.get(&format!("/api/v1/observations/{reviewed}/history"), coordinator).await.json().await.unwrap();
    let history = history.to_string();
    assert!(!history.contains("porten") && !history.contains("accuracy_m\":6.5"), "{history}");
    let history: Value = app
        .get(&format!("/api/v1/observations/{}/history", old[2]["id"].as_str().unwrap()), coordinator)
        .await
        .json()
        .await
        .unwrap();
    assert!(!history.to_string().contains("muren"), "earlier versions lose their text: {history}");
    let export =
        app.get("/api/v1/exports/observations?period=2024&format=csv", coordinator).await.text().await.unwrap();
    assert!(!export.contains("porten") && !export.contains("muren"), "no note left in an export");

    // The aggregates, byte for byte.
    let after = aggregates(&app, coordinator).await;
    for ((path, before), after) in AGGREGATES.iter().zip(&before).zip(&after) {
        assert_eq!(before, after, "{path} changed");
    }
    // Finer heat maps count coarsened positions apart, and still every observation.
    let fine: Value = app.get("/api/v1/heatmap?period=2024&resolution=10", coordinator).await.json().await.unwrap();
    let coarse: Value = app.get("/api/v1/heatmap?period=2024&resolution=8", coordinator).await.json().await.unwrap();
    assert_eq!(fine["total"], coarse["total"]);
    assert_eq!(fine["coarse_positions"], coarse["total"], "every 2024 observation is coarsened");

    // The phone receives the purged versions on its next pull.
    let pulled = phone.pull().await;
    let purged: Vec<&Value> = pulled["observations"]["updated"].as_array().unwrap().iter().collect();
    assert_eq!(purged.len(), older_than_a_year, "{pulled}");
    assert!(purged.iter().all(|record| record["note"] == ""));
    let activities = pulled["activity_logs"]["updated"].as_array().unwrap();
    assert_eq!(activities.len(), acts.len());
    assert!(activities.iter().all(|record| record["note"] == ""));
    // It sends one back unchanged but for a new note: the coarse position stays where it was.
    let edge = at_the_edge();
    let mut resent = (*purged.iter().find(|record| record["id"] == edge["id"]).unwrap()).clone();
    resent["note"] = json!("Lampan lagad");
    phone.push(updated("observations", vec![resent])).await;
    let again = aggregates(&app, coordinator).await;
    assert_eq!(before, again, "a purged record sent back keeps its area, hexagon and darkness");

    // A second run finds nothing more (the new note is recent work on an old record: it goes).
    let second = run_retention(&app, admin, false).await;
    assert_eq!(second["observation_positions"], 0);
    assert_eq!(second["activity_free_text"], 0);
    assert_eq!(second["observation_free_text"], 1);
    // Each run and each setting is in the audit log.
    let audit: Value = app.get("/api/v1/audit?action=retention", admin).await.json().await.unwrap();
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["retention.run", "retention.run", "retention.run", "retention.settings"]);
    assert_eq!(
        audit["items"][1]["row_count"],
        purge.as_object().unwrap().values().filter_map(Value::as_u64).sum::<u64>()
    );
}

#[tokio::test]
async fn the_command_line_shows_sets_and_runs_retention() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let coordinator = &tenant.coordinator.tokens.access;
    let phone = Phone::new(&app, &tenant.field.tokens.access);
    phone.push(created("observations", (0..6).map(old_observation).collect())).await;
    let first = old_observation(0);
    let id = first["id"].as_str().unwrap();
    let cli = |args: &[&str]| {
        let mut command = lagesbild(&app);
        command.arg("retention").args(args);
        tokio::task::spawn_blocking(move || run(&mut command, ""))
    };
    let (code, stdout, stderr) = cli(&["show", "--org", "tyreso"]).await.unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("free text:  kept") && stdout.contains("last run:   never"), "{stdout}");
    let (code, _, stderr) = cli(&["set", "--org", "tyreso", "--free-text-months", "0"]).await.unwrap();
    assert_ne!(code, 0);
    assert!(stderr.contains("from 1 to 600"), "{stderr}");
    let (code, stdout, stderr) = cli(&["set", "--org", "tyreso", "--position-months", "12"]).await.unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("positions:  12 month(s)") && stdout.contains("free text:  kept"), "{stdout}");
    let (code, stdout, stderr) = cli(&["run", "--org", "tyreso", "--dry-run"]).await.unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("would remove") && stdout.contains("observation_positions: 6"), "{stdout}");
    let stored: Value = app.get(&format!("/api/v1/observations/{id}"), coordinator).await.json().await.unwrap();
    assert_eq!(stored["lat"], first["lat"], "a dry run changes nothing");
    let (code, stdout, stderr) = cli(&["run"]).await.unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("tyreso: removed") && stdout.contains("observation_positions: 6"), "{stdout}");
    let stored: Value = app.get(&format!("/api/v1/observations/{id}"), coordinator).await.json().await.unwrap();
    assert_ne!(stored["lat"], first["lat"]);
    assert_eq!(stored["note"], first["note"], "free text is kept: no period set for it");
    let audit: Value =
        app.get("/api/v1/audit?action=retention", &tenant.admin.tokens.access).await.json().await.unwrap();
    let entries: Vec<(&str, &str)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["role"].as_str().unwrap()))
        .collect();
    assert_eq!(entries, [("retention.run", "cli"), ("retention.run", "cli"), ("retention.settings", "cli")]);
    let (code, stdout, _) = cli(&["show", "--org", "tyreso"]).await.unwrap();
    assert_eq!(code, 0);
    assert!(!stdout.contains("never"), "{stdout}");
}

#[tokio::test]
async fn the_daily_run_applies_the_periods_as_the_system() {
    let app = spawn_app_with(|settings| settings.retention_interval_secs = 1).await;
    let tenant = app.tenant("tyreso").await;
    let (admin, coordinator) = (&tenant.admin.tokens.access, &tenant.coordinator.tokens.access);
    let phone = Phone::new(&app, &tenant.field.tokens.access);
    phone.push(created("observations", (0..6).map(old_observation).collect())).await;
    let first = old_observation(0);
    let id = first["id"].as_str().unwrap();
    let policy = json!({ "free_text_months": 12, "position_months": 24 });
    assert_eq!(app.patch("/api/v1/retention", admin, &policy).await.status(), 200);
    let mut purged = false;
    for _ in 0..100 {
        let stored: Value = app.get(&format!("/api/v1/observations/{id}"), coordinator).await.json().await.unwrap();
        if stored["note"] == "" {
            purged = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(purged, "the daily run emptied the note");
    let audit: Value = app.get("/api/v1/audit?action=retention.run", admin).await.json().await.unwrap();
    let runs = audit["items"].as_array().unwrap();
    assert!(
        !runs.is_empty() && runs.iter().all(|entry| entry["role"] == "system" && entry["user_id"].is_null()),
        "{audit}"
    );
    let shown: Value = app.get("/api/v1/retention", admin).await.json().await.unwrap();
    assert!(shown["last_run_at"].is_string(), "{shown}");
}
