//! The two documents the law names: a lägesbild and an åtgärdsplan for a period, previewed as a
//! draft, approved into a dated version that reads the same for ever after, as HTML, CSV and
//! XLSX; coordinators and admins only.

use crate::areas::tyreso;
use crate::helpers::*;
use calamine::{Data, Reader, Xlsx};
use scraper::{Html, Selector};
use serde_json::{Value, json};
use std::io::Cursor;

const GR: (f64, f64) = (59.225, 18.23);
const TB: (f64, f64) = (59.23, 18.32);

/// Noon UTC on a day of 2025 (the same local day in Stockholm).
fn noon(month: u32, day: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(2025, month, day)
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap()
}

/// Pushes `n` observations at `place` on days of `month`; `first` numbers their ids.
async fn observe(app: &TestApp, token: &str, place: (f64, f64), month: u32, n: u32, first: u32) {
    let records: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "id": format!("0193f000-0000-7000-8000-{:012}", first + i),
                "category": "youth_gathering", "severity": 2, "perceived_safety": 3, "note": "",
                "lat": place.0, "lon": place.1, "observed_at": noon(month, 1 + i % 27),
            })
        })
        .collect();
    let body = json!({ "observations": { "created": records } });
    let answer: Value = app.post("/api/v1/sync/push?last_pulled_at=null", token, &body).await.json().await.unwrap();
    assert!(answer["results"].as_array().unwrap().iter().all(|r| r["status"] == "applied"), "{answer}");
}

async fn text(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

fn select<'a>(html: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    html.select(&Selector::parse(css).unwrap()).collect()
}

fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with a byte-order mark");
    let mut reader = csv::ReaderBuilder::new().delimiter(b';').from_reader(&bytes[3..]);
    reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect()
}

#[tokio::test]
async fn a_lagesbild_is_approved_as_a_dated_version_that_never_changes_and_marks_the_areas_clearly_above_before() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let (coordinator, field) = (&tenant.coordinator.tokens.access, &tenant.field.tokens.access);
    app.post("/api/v1/areas", &tenant.admin.tokens.access, &tyreso()).await;
    // Granängsringen: none in September, eight in October. Trollbäcken: two and two.
    observe(&app, field, GR, 10, 8, 0).await;
    observe(&app, field, TB, 9, 2, 100).await;
    observe(&app, field, TB, 10, 2, 200).await;

    let body = json!({
        "kind": "lagesbild", "period": "2025-10",
        "analysis": "Fler samlingar vid ringen efter mörkrets inbrott.\n\nUppgift från Kim, 070-123 45 67.",
        "partner_input": "Polisen: fler anmälningar om skadegörelse vid centrum.",
    });
    let draft = text(app.post("/api/v1/documents/preview", coordinator, &body).await).await;
    let page = Html::parse_document(&draft);
    assert_eq!(select(&page, "#approval")[0].attr("data-version"), Some(""), "a draft has no version");
    assert!(draft.contains("Utkast"));
    assert_eq!(
        app.get("/api/v1/documents", coordinator).await.json::<Value>().await.unwrap(),
        json!([]),
        "nothing stored"
    );

    let approved = app.post("/api/v1/documents", coordinator, &body).await;
    assert_eq!(approved.status(), 201);
    let first: Value = approved.json().await.unwrap();
    assert_eq!(
        (first["kind"].as_str(), first["period"].as_str(), first["version"].as_i64()),
        (Some("lagesbild"), Some("2025-10"), Some(1))
    );
    assert_eq!(first["approved_by"], tenant.coordinator.id.as_str());
    assert!(first["analysis"].as_str().unwrap().contains("[telefonnummer borttaget]"), "redacted like a note: {first}");

    let html = text(app.get(first["files"]["html"].as_str().unwrap(), coordinator).await).await;
    let page = Html::parse_document(&html);
    assert_eq!(select(&page, "#approval")[0].attr("data-version"), Some("1"));
    assert_eq!(
        select(&page, "#approved-by")[0].text().collect::<String>(),
        first["approved_by_name"].as_str().unwrap()
    );
    let flagged: Vec<&str> =
        select(&page, "#flagged tr[data-key]").iter().filter_map(|tr| tr.attr("data-key")).collect();
    // Eight after none is clearly above, and so is Tyresö, which holds Granängsringen (ten after
    // two); Trollbäcken's two after two is not. The least likely first.
    assert_eq!(flagged, ["GR", "TY"]);
    assert!(html.contains("Polisen: fler anmälningar") && html.contains("[telefonnummer borttaget]"));
    assert!(!html.contains("070-123"), "the number never reaches the document");

    // The CSV and the workbook hold the area table as the picture API counts it.
    let csv = app.get(first["files"]["csv"].as_str().unwrap(), coordinator).await;
    assert!(csv.headers()["content-disposition"].to_str().unwrap().contains("lagesbild-2025-10-v1.csv"));
    let csv = csv.bytes().await.unwrap();
    let picture: Value = app.get("/api/v1/picture?period=2025-10", coordinator).await.json().await.unwrap();
    let rows = csv_rows(&csv);
    for area in picture["areas"].as_array().unwrap() {
        let code = area["area"].as_str().unwrap();
        let row = rows.iter().find(|row| row[0] == code).unwrap_or_else(|| panic!("{code} in the CSV"));
        assert_eq!(row[2], area["observations"].to_string(), "{code}");
        assert_eq!(row[9], if flagged.contains(&code) { "true" } else { "false" }, "{code}");
    }
    let xlsx = app.get(first["files"]["xlsx"].as_str().unwrap(), coordinator).await.bytes().await.unwrap();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(xlsx.to_vec())).unwrap();
    let sheets = book.sheet_names();
    assert_eq!(sheets, ["Områden", "Dokument"]);
    let about = book.worksheet_range("Dokument").unwrap();
    let cells: Vec<String> = about.rows().flat_map(|r| r.iter().map(|c| c.to_string())).collect();
    assert!(cells.iter().any(|c| c.contains("Fler samlingar vid ringen")), "{cells:?}");
    let areas = book.worksheet_range("Områden").unwrap();
    let gr = areas.rows().find(|r| r[0] == Data::String("GR".into())).unwrap();
    assert_eq!(gr[2], Data::Float(8.0));

    // Late reports change the picture, not the approved version; approving again makes version 2.
    observe(&app, field, GR, 10, 5, 300).await;
    assert_eq!(text(app.get(first["files"]["html"].as_str().unwrap(), coordinator).await).await, html, "unchanged");
    assert_eq!(app.get(first["files"]["csv"].as_str().unwrap(), coordinator).await.bytes().await.unwrap(), csv);
    let second: Value = app.post("/api/v1/documents", &tenant.admin.tokens.access, &body).await.json().await.unwrap();
    assert_eq!(second["version"], 2);
    let rows = csv_rows(&app.get(second["files"]["csv"].as_str().unwrap(), coordinator).await.bytes().await.unwrap());
    assert_eq!(rows.iter().find(|row| row[0] == "GR").map(|row| row[2].as_str()), Some("13"));
    let listed: Value =
        app.get("/api/v1/documents?kind=lagesbild&period=2025-10", coordinator).await.json().await.unwrap();
    let versions: Vec<i64> = listed.as_array().unwrap().iter().map(|d| d["version"].as_i64().unwrap()).collect();
    assert_eq!(versions, [2, 1], "newest first");
    let none: Value = app.get("/api/v1/documents?kind=atgardsplan", coordinator).await.json().await.unwrap();
    assert_eq!(none, json!([]));

    let audit: Value = app.get("/api/v1/audit", &tenant.admin.tokens.access).await.json().await.unwrap();
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "document.approve").count(), 2, "{actions:?}");
    assert!(actions.iter().filter(|a| **a == "report.document").count() >= 5, "{actions:?}");
}

#[tokio::test]
async fn an_atgardsplan_lists_the_measures_of_its_period_with_who_when_effort_decision_and_follow_up() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let coordinator = &tenant.coordinator.tokens.access;
    app.post("/api/v1/areas", &tenant.admin.tokens.access, &tyreso()).await;
    let problem = json!({ "title": "Samlingar vid ringen", "source": "picture", "areas": ["GR"] });
    let problem: Value = app.post("/api/v1/problems", coordinator, &problem).await.json().await.unwrap();
    let mut ids = Vec::new();
    for (title, start, end) in [
        ("Kvällsvandringar", "2025-09-01", None),
        ("Ny belysning", "2025-10-20", Some("2025-10-31")),
        ("Sommarcafé", "2025-06-01", Some("2025-08-31")),
        ("Julmarknad", "2025-12-01", None),
    ] {
        let measure = json!({
            "title": title, "responsible_unit": "falt", "areas": ["GR"], "problems": [problem["id"]],
            "planned_start": start, "planned_end": end, "effort": { "kind": "weekly_hours", "hours": 4.0 },
            "decision": "EST-möte 2025-08-26",
        });
        let created: Value = app.post("/api/v1/measures", coordinator, &measure).await.json().await.unwrap();
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let body = json!({ "kind": "atgardsplan", "period": "2025-10" });
    let plan: Value = app.post("/api/v1/documents", coordinator, &body).await.json().await.unwrap();
    let html = text(app.get(plan["files"]["html"].as_str().unwrap(), coordinator).await).await;
    let page = Html::parse_document(&html);
    let listed: Vec<&str> = select(&page, "#plan tr[data-key]").iter().filter_map(|tr| tr.attr("data-key")).collect();
    let mut expected = vec![ids[0].as_str(), ids[1].as_str()];
    expected.sort_unstable();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort_unstable();
    assert_eq!(listed_sorted, expected, "the two that run in October, not the summer's or December's");
    assert!(html.contains("Mot: Samlingar vid ringen") && html.contains("EST-möte 2025-08-26"));
    assert!(html.contains("4 timmar i veckan"), "the planned effort");

    let rows = csv_rows(&app.get(plan["files"]["csv"].as_str().unwrap(), coordinator).await.bytes().await.unwrap());
    let titles: std::collections::BTreeSet<&str> = rows.iter().map(|row| row[0].as_str()).collect();
    assert_eq!(titles, ["Kvällsvandringar", "Ny belysning"].into());
    let lighting = rows.iter().find(|row| row[0] == "Ny belysning").unwrap();
    assert_eq!(
        (lighting[1].as_str(), lighting[4].as_str(), lighting[5].as_str(), lighting[7].as_str()),
        ("Samlingar vid ringen", "2025-10-20", "2025-10-31", "EST-möte 2025-08-26")
    );
}

#[tokio::test]
async fn documents_refuse_bad_input_field_by_field_and_are_for_coordinators_and_admins_only() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let other = app.tenant("nacka").await;
    let coordinator = &tenant.coordinator.tokens.access;
    for (body, fields) in [
        (json!({ "kind": "rapport", "period": "2025-10" }), vec![("kind", "unknown_value")]),
        (json!({ "kind": "lagesbild", "period": "2025-13" }), vec![("period", "invalid_period")]),
        (json!({ "kind": "lagesbild", "period": "2025-10", "lang": "de" }), vec![("lang", "invalid_lang")]),
        (
            json!({ "kind": "lagesbild", "period": "2025-10", "analysis": "x".repeat(20_001) }),
            vec![("analysis", "too_long")],
        ),
        (json!({ "kind": "lagesbild", "period": "2025-10", "approver": "x" }), vec![("approver", "unknown_field")]),
        (json!({ "period": "2025-10" }), vec![("kind", "required")]),
        (
            json!({ "kind": "x", "period": "y", "partner_input": "a\u{7}" }),
            vec![("kind", "unknown_value"), ("period", "invalid_period"), ("partner_input", "invalid_characters")],
        ),
    ] {
        for path in ["/api/v1/documents", "/api/v1/documents/preview"] {
            let refused = assert_problem(app.post(path, coordinator, &body).await, 422, "validation_failed").await;
            let named: Vec<(&str, &str)> = refused["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
                .collect();
            assert_eq!(named, fields, "{path} {body}");
        }
    }
    assert_eq!(app.get("/api/v1/documents", coordinator).await.json::<Value>().await.unwrap(), json!([]));
    let body = json!({ "kind": "atgardsplan", "period": "2025-T3" });
    for token in [&tenant.field.tokens.access, &tenant.partner.tokens.access] {
        assert_problem(app.post("/api/v1/documents", token, &body).await, 403, "forbidden").await;
        assert_problem(app.post("/api/v1/documents/preview", token, &body).await, 403, "forbidden").await;
        assert_problem(app.get("/api/v1/documents", token).await, 403, "forbidden").await;
    }
    let plan: Value = app.post("/api/v1/documents", coordinator, &body).await.json().await.unwrap();
    let path = format!("/api/v1/documents/{}", plan["id"].as_str().unwrap());
    assert_problem(app.get(&path, &other.coordinator.tokens.access).await, 404, "not_found").await;
    assert_problem(app.get(&format!("{path}/file"), &other.admin.tokens.access).await, 404, "not_found").await;
    assert_problem(app.get(&format!("{path}/file"), &tenant.partner.tokens.access).await, 403, "forbidden").await;
    let refused =
        assert_problem(app.get(&format!("{path}/file?format=pdf"), coordinator).await, 422, "validation_failed").await;
    assert_eq!(refused["errors"][0]["field"], "format");
    assert_problem(app.get("/api/v1/documents?kind=rapport", coordinator).await, 422, "validation_failed").await;
    assert_eq!(app.get(&path, coordinator).await.status(), 200);
}

#[tokio::test]
async fn approvals_at_the_same_moment_never_share_a_version_number_and_a_refused_one_says_approve_again() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let coordinator = tenant.coordinator.tokens.access.clone();
    let body = json!({ "kind": "atgardsplan", "period": "2025-T3" });
    let answers = futures_util::future::join_all((0..6).map(|_| {
        let (app, token, body) = (&app, coordinator.clone(), body.clone());
        async move { app.post("/api/v1/documents", &token, &body).await }
    }))
    .await;
    let mut approved = 0;
    for answer in answers {
        match answer.status().as_u16() {
            201 => approved += 1,
            _ => {
                assert_problem(answer, 409, "approved_meanwhile").await;
            }
        }
    }
    let listed: Value =
        app.get("/api/v1/documents?kind=atgardsplan&period=2025-T3", &coordinator).await.json().await.unwrap();
    let mut versions: Vec<i64> = listed.as_array().unwrap().iter().map(|d| d["version"].as_i64().unwrap()).collect();
    versions.sort_unstable();
    assert!(approved >= 1);
    assert_eq!(versions, (1..=approved).collect::<Vec<i64>>(), "one version per approval, numbered without gaps");
}
