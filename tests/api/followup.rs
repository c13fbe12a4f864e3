//! Follow-up: activity counts, exports, the audit log and the printable report. Every count is
//! computed here again from the fixture records and compared with what the server says, in JSON,
//! in CSV read back and in XLSX read back.

use crate::helpers::{Tenant, TestApp, assert_problem, spawn_app};
use calamine::{Data, DataType, Reader, Xlsx};
use chrono::TimeZone;
use chrono_tz::Europe::Stockholm;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Cursor;

const HOUR: i64 = 3_600_000;
const TYPES: [&str; 4] = ["outreach_shift", "summer_cafe", "guard_patrol", "safety_walk"];
const UNITS: [&str; 2] = ["falt", "cafe"];
const GENDERS: [&str; 4] = ["girls", "boys", "gender_other", "gender_unknown"];
const AGES: [&str; 6] = ["age_under_13", "age_13_15", "age_16_17", "age_18_24", "age_25_plus", "age_unknown"];
const GENDER_KEYS: [&str; 4] = ["girls", "boys", "other", "not_stated"];
const AGE_KEYS: [&str; 6] = ["under_13", "13_15", "16_17", "18_24", "25_plus", "unknown"];

fn rect(lon: f64, lat: f64, w: f64, h: f64) -> Value {
    json!({ "type": "Polygon", "coordinates": [[[lon, lat], [lon + w, lat], [lon + w, lat + h], [lon, lat + h], [lon, lat]]] })
}

fn feature(code: &str, name: &str, parent: Option<&str>, geometry: Value) -> Value {
    json!({ "type": "Feature", "properties": { "code": code, "name": name, "parent_code": parent }, "geometry": geometry })
}

/// A district (TY) holding a neighbourhood (GR), and a district beside it (TB).
fn areas() -> Value {
    json!({ "type": "FeatureCollection", "features": [
        feature("TY", "Tyresö", None, rect(18.20, 59.20, 0.10, 0.06)),
        feature("GR", "Granängsringen", Some("TY"), rect(18.22, 59.22, 0.02, 0.01)),
        feature("TB", "Trollbäcken", None, rect(18.30, 59.20, 0.05, 0.06)),
    ]})
}

/// Places and the smallest area holding them.
const PLACES: [(Option<(f64, f64)>, &str); 5] = [
    (Some((59.225, 18.23)), "GR"),
    (Some((59.205, 18.26)), "TY"),
    (Some((59.23, 18.32)), "TB"),
    (Some((59.40, 18.10)), "outside"),
    (None, "outside"),
];

fn local_ms(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
    Stockholm.with_ymd_and_hms(y, m, d, h, min, 0).earliest().unwrap().timestamp_millis()
}

/// One activity as pushed, and as the test counts it.
#[derive(Debug, Clone)]
struct Act {
    id: String,
    kind: &'static str,
    unit: &'static str,
    area: &'static str,
    place: Option<(f64, f64)>,
    start: i64,
    end: i64,
    genders: [i64; 4],
    ages: [i64; 6],
}

impl Act {
    fn json(&self) -> Value {
        let mut body = json!({
            "id": self.id, "activity_type": self.kind, "unit": self.unit,
            "started_at": self.start, "ended_at": self.end, "note": "",
        });
        if let Some((lat, lon)) = self.place {
            body["lat"] = json!(lat);
            body["lon"] = json!(lon);
        }
        for (name, n) in GENDERS.iter().zip(self.genders) {
            body[*name] = json!(n);
        }
        for (name, n) in AGES.iter().zip(self.ages) {
            body[*name] = json!(n);
        }
        body
    }

    /// The share of the activity in [from, to) and the hours it spent there.
    fn share(&self, from: i64, to: i64) -> (f64, f64) {
        let overlap = (self.end.min(to) - self.start.max(from)).max(0) as f64;
        (overlap / (self.end - self.start) as f64, overlap / HOUR as f64)
    }
}

/// Activities over 2023 and 2024, with some across period boundaries and the clock changes.
fn fixture() -> Vec<Act> {
    let mut state = 7u64;
    let mut next = move |modulo: u64| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % modulo
    };
    let mut acts = Vec::new();
    for n in 0..160 {
        let year = if n % 2 == 0 { 2023 } else { 2024 };
        let month = 1 + next(12) as u32;
        let day = 1 + next(28) as u32;
        let start = local_ms(year, month, day, 15 + next(7) as u32, 0);
        let (place, area) = PLACES[next(5) as usize];
        let mut genders = [0; 4];
        genders.iter_mut().for_each(|g| *g = next(9) as i64);
        let total: i64 = genders.iter().sum();
        let mut ages = [0; 6];
        // The age tally is a separate count of the same people.
        let mut left = total;
        for (index, age) in ages.iter_mut().enumerate() {
            *age = if index == 5 { left } else { (next(4) as i64).min(left) };
            left -= *age;
        }
        acts.push(Act {
            id: format!("0193c000-0000-7000-8000-{n:012}"),
            kind: TYPES[next(4) as usize],
            unit: UNITS[next(2) as usize],
            area,
            place,
            start,
            end: start + (1 + next(5) as i64) * HOUR,
            genders,
            ages,
        });
    }
    // Across the T1/T2 boundary: 22:00 on 30 April to 02:00 on 1 May, local time, in both years.
    for (n, year) in [(200, 2023), (201, 2024)] {
        acts.push(Act {
            id: format!("0193c000-0000-7000-8000-{n:012}"),
            kind: "outreach_shift",
            unit: "falt",
            area: "GR",
            place: PLACES[0].0,
            start: local_ms(year, 4, 30, 22, 0),
            end: local_ms(year, 5, 1, 2, 0),
            genders: [4, 4, 0, 0],
            ages: [0, 4, 4, 0, 0, 0],
        });
    }
    // Across the spring clock change (31 March 2024, 02:00 → 03:00) and the T2/T3 boundary.
    acts.push(Act {
        id: "0193c000-0000-7000-8000-000000000300".into(),
        kind: "guard_patrol",
        unit: "falt",
        area: "TB",
        place: PLACES[2].0,
        start: local_ms(2024, 3, 31, 1, 0),
        end: local_ms(2024, 3, 31, 4, 0),
        genders: [1, 1, 1, 1],
        ages: [0, 0, 0, 0, 4, 0],
    });
    acts.push(Act {
        id: "0193c000-0000-7000-8000-000000000301".into(),
        kind: "summer_cafe",
        unit: "cafe",
        area: "TY",
        place: PLACES[1].0,
        start: local_ms(2024, 8, 31, 20, 0),
        end: local_ms(2024, 9, 1, 1, 0),
        genders: [10, 5, 0, 5],
        ages: [0, 10, 5, 5, 0, 0],
    });
    acts
}

/// The arranged world: a tenant with areas, a second unit, and the fixture pushed.
async fn arrange(app: &TestApp, slug: &str) -> (Tenant, Vec<Act>) {
    let tenant = app.tenant(slug).await;
    app.seed_unit(&tenant.org_id, "cafe");
    let imported = app.post("/api/v1/areas", &tenant.admin.tokens.access, &areas()).await;
    assert_eq!(imported.status(), 200);
    let acts = fixture();
    let records: Vec<Value> = acts.iter().map(Act::json).collect();
    for chunk in records.chunks(100) {
        let body = json!({ "activity_logs": { "created": chunk, "updated": [], "deleted": [] } });
        let response = app.post("/api/v1/sync/push?last_pulled_at=null", &tenant.field.tokens.access, &body).await;
        assert_eq!(response.status(), 200);
        let result: Value = response.json().await.unwrap();
        let applied = result["results"].as_array().unwrap().iter().filter(|r| r["status"] == "applied").count();
        assert_eq!(applied, chunk.len(), "every activity is stored: {result}");
    }
    (tenant, acts)
}

/// The figures of one group as the test counts them.
#[derive(Debug, Default, Clone)]
struct Counted {
    activities: f64,
    hours: f64,
    contacts: f64,
    genders: [f64; 4],
    ages: [f64; 6],
}

/// Counts the fixture by `dims` in [from, to), independently of the server.
fn count(acts: &[Act], from: i64, to: i64, dims: &[&str]) -> BTreeMap<Vec<String>, Counted> {
    let mut groups: BTreeMap<Vec<String>, Counted> = BTreeMap::new();
    for act in acts {
        let (share, hours) = act.share(from, to);
        if share <= 0.0 {
            continue;
        }
        let key = |bucket: &str| -> Vec<String> {
            dims.iter()
                .map(|d| match *d {
                    "type" => act.kind.to_owned(),
                    "unit" => act.unit.to_owned(),
                    "area" => act.area.to_owned(),
                    _ => bucket.to_owned(),
                })
                .collect()
        };
        if dims.contains(&"gender") {
            for (index, bucket) in GENDER_KEYS.iter().enumerate() {
                if act.genders[index] > 0 {
                    let c = groups.entry(key(bucket)).or_default();
                    c.activities += share;
                    c.hours += hours;
                    c.contacts += share * act.genders[index] as f64;
                    c.genders[index] += share * act.genders[index] as f64;
                }
            }
        } else if dims.contains(&"age_band") {
            for (index, bucket) in AGE_KEYS.iter().enumerate() {
                if act.ages[index] > 0 {
                    let c = groups.entry(key(bucket)).or_default();
                    c.activities += share;
                    c.hours += hours;
                    c.contacts += share * act.ages[index] as f64;
                    c.ages[index] += share * act.ages[index] as f64;
                }
            }
        } else {
            let c = groups.entry(key("")).or_default();
            c.activities += share;
            c.hours += hours;
            c.contacts += share * act.genders.iter().sum::<i64>() as f64;
            for i in 0..4 {
                c.genders[i] += share * act.genders[i] as f64;
            }
            for i in 0..6 {
                c.ages[i] += share * act.ages[i] as f64;
            }
        }
    }
    groups
}

fn close(actual: &Value, expected: f64, what: &str) {
    let actual = actual.as_f64().unwrap_or_else(|| panic!("{what} is not a number: {actual}"));
    assert!((actual - expected).abs() < 0.011, "{what}: server says {actual}, the fixture says {expected}");
}

fn t2(year: i32) -> (i64, i64) {
    t_bounds(year, 2)
}

/// The bounds of a tertial, local time.
fn t_bounds(year: i32, tertial: u32) -> (i64, i64) {
    let first = (tertial - 1) * 4 + 1;
    let end = if tertial == 3 { local_ms(year + 1, 1, 1, 0, 0) } else { local_ms(year, first + 4, 1, 0, 0) };
    (local_ms(year, first, 1, 0, 0), end)
}

fn row_key(row: &Value, dims: &[&str]) -> Vec<String> {
    dims.iter().map(|d| row[*d].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn activity_counts_equal_an_independent_count_of_the_fixture() {
    let app = spawn_app().await;
    let (tenant, acts) = arrange(&app, "tyreso").await;
    let token = &tenant.coordinator.tokens.access;
    let (from, to) = t2(2024);
    let (cmp_from, cmp_to) = t2(2023);
    for dims in [
        vec!["type"],
        vec!["unit"],
        vec!["area"],
        vec!["type", "unit"],
        vec!["type", "gender"],
        vec!["area", "age_band"],
    ] {
        let url = format!("/api/v1/reports/activity?period=2024-T2&group_by={}", dims.join(","));
        let response = app.get(&url, token).await;
        assert_eq!(response.status(), 200);
        let report: Value = response.json().await.unwrap();
        assert_eq!(report["comparison_period"], "2023-T2");
        assert_eq!(report["from"], "2024-05-01T00:00:00+02:00");
        let now = count(&acts, from, to, &dims);
        let before = count(&acts, cmp_from, cmp_to, &dims);
        let rows = report["rows"].as_array().unwrap();
        let keys: std::collections::BTreeSet<Vec<String>> = now.keys().chain(before.keys()).cloned().collect();
        assert_eq!(rows.len(), keys.len(), "one row per group in either period ({dims:?})");
        for row in rows {
            let key = row_key(row, &dims);
            let expected = now.get(&key).cloned().unwrap_or_default();
            let what = format!("{dims:?} {key:?}");
            close(&row["activities"], expected.activities, &format!("{what} activities"));
            close(&row["hours"], expected.hours, &format!("{what} hours"));
            close(&row["contacts"], expected.contacts, &format!("{what} contacts"));
            if !dims.contains(&"age_band") {
                for (i, g) in GENDER_KEYS.iter().enumerate() {
                    close(&row["by_gender"][g], expected.genders[i], &format!("{what} {g}"));
                }
            }
            if !dims.contains(&"gender") {
                for (i, a) in AGE_KEYS.iter().enumerate() {
                    close(&row["by_age_band"][a], expected.ages[i], &format!("{what} {a}"));
                }
            }
            let earlier = before.get(&key).cloned().unwrap_or_default();
            close(&row["comparison"]["contacts"], earlier.contacts, &format!("{what} contacts last year"));
            close(&row["change"]["hours"], expected.hours - earlier.hours, &format!("{what} change in hours"));
            if earlier.contacts > 0.0 {
                let pct = (expected.contacts - earlier.contacts) / earlier.contacts * 100.0;
                close(&row["change"]["contacts_pct"], pct, &format!("{what} change in contacts %"));
            } else {
                assert_eq!(row["change"]["contacts_pct"], Value::Null);
            }
        }
        let total = count(&acts, from, to, &[]).remove(&Vec::new()).unwrap_or_default();
        close(&report["total"]["contacts"], total.contacts, "total contacts");
        close(&report["total"]["hours"], total.hours, "total hours");
    }
    // Filters: one type, one unit, one area (with what it contains).
    let report: Value = app
        .get("/api/v1/reports/activity?period=2024&group_by=area&type=summer_cafe&area=TY", token)
        .await
        .json()
        .await
        .unwrap();
    let year = (local_ms(2024, 1, 1, 0, 0), local_ms(2025, 1, 1, 0, 0));
    let cafes: Vec<Act> =
        acts.iter().filter(|a| a.kind == "summer_cafe" && (a.area == "TY" || a.area == "GR")).cloned().collect();
    let expected = count(&cafes, year.0, year.1, &["area"]);
    let areas: Vec<&str> = report["rows"].as_array().unwrap().iter().map(|r| r["area"].as_str().unwrap()).collect();
    assert!(areas.iter().all(|a| *a == "TY" || *a == "GR"), "only TY and what it holds: {areas:?}");
    for row in report["rows"].as_array().unwrap() {
        let key = row_key(row, &["area"]);
        close(&row["contacts"], expected.get(&key).map_or(0.0, |c| c.contacts), "filtered contacts");
    }
}

#[tokio::test]
async fn an_activity_belongs_to_the_period_of_its_local_time_and_is_split_at_boundaries() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let late = local_ms(2024, 4, 30, 23, 30);
    let records = json!([
        // 23:30 on 30 April in Stockholm is already 1 May in UTC: it belongs to T1.
        { "id": "0193c000-0000-7000-8000-00000000a001", "activity_type": "outreach_shift", "unit": "falt",
          "started_at": late, "ended_at": late + 15 * 60_000, "girls": 2, "boys": 0, "gender_other": 0,
          "gender_unknown": 0, "age_unknown": 2, "note": "" },
        // 23:00 to 01:00 across the boundary: half in T1, half in T2.
        { "id": "0193c000-0000-7000-8000-00000000a002", "activity_type": "outreach_shift", "unit": "falt",
          "started_at": late - 30 * 60_000, "ended_at": late + 90 * 60_000, "girls": 0, "boys": 10, "gender_other": 0,
          "gender_unknown": 0, "age_unknown": 10, "note": "" },
    ]);
    let body = json!({ "activity_logs": { "created": records, "updated": [], "deleted": [] } });
    let pushed: Value = app
        .post("/api/v1/sync/push?last_pulled_at=null", &tenant.field.tokens.access, &body)
        .await
        .json()
        .await
        .unwrap();
    assert!(pushed["results"].as_array().unwrap().iter().all(|r| r["status"] == "applied"), "{pushed}");
    let token = &tenant.coordinator.tokens.access;
    let t1: Value = app.get("/api/v1/reports/activity?period=2024-T1", token).await.json().await.unwrap();
    let t2: Value = app.get("/api/v1/reports/activity?period=2024-T2", token).await.json().await.unwrap();
    close(&t1["total"]["activities"], 1.5, "T1 activities");
    close(&t1["total"]["contacts"], 7.0, "T1 contacts");
    close(&t1["total"]["hours"], 1.25, "T1 hours");
    close(&t2["total"]["activities"], 0.5, "T2 activities");
    close(&t2["total"]["contacts"], 5.0, "T2 contacts");
    close(&t2["total"]["by_gender"]["boys"], 5.0, "T2 boys");
    // A month and a range split the same way.
    let may: Value = app.get("/api/v1/reports/activity?period=2024-05", token).await.json().await.unwrap();
    close(&may["total"]["hours"], 1.0, "May hours");
    let range: Value =
        app.get("/api/v1/reports/activity?period=2024-04-30..2024-04-30", token).await.json().await.unwrap();
    close(&range["total"]["hours"], 1.25, "30 April hours");
}

#[tokio::test]
async fn activity_report_refuses_what_it_cannot_answer() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let token = &tenant.coordinator.tokens.access;
    let problem = assert_problem(app.get("/api/v1/reports/activity", token).await, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "period");
    let problem =
        assert_problem(app.get("/api/v1/reports/activity?period=2024-T4", token).await, 422, "validation_failed").await;
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("2024-T2"), "the accepted forms: {problem}");
    for (query, field, code) in [
        ("period=2024&group_by=colour", "group_by", "invalid_group"),
        ("period=2024&group_by=gender,age_band", "group_by", "not_crossed"),
        ("period=2024&compare=tomorrow", "compare", "invalid_compare"),
        ("period=2024&format=pdf", "format", "invalid_format"),
        ("period=2024&format=csv&sep=tab", "sep", "invalid_separator"),
        ("period=2024&area=NOWHERE", "area", "unknown_area"),
        ("period=2024&lang=de", "lang", "invalid_lang"),
    ] {
        let url = format!("/api/v1/reports/activity?{query}");
        let problem = assert_problem(app.get(&url, token).await, 422, "validation_failed").await;
        assert_eq!(
            (problem["errors"][0]["field"].as_str(), problem["errors"][0]["code"].as_str()),
            (Some(field), Some(code))
        );
    }
    assert_eq!(app.get("/api/v1/reports/activity?period=2024", &tenant.field.tokens.access).await.status(), 403);
}

fn csv_rows(bytes: &[u8], delimiter: u8) -> (Vec<String>, Vec<Vec<String>>) {
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with a byte-order mark");
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    assert!(text.contains("\r\n"), "RFC 4180 line ends");
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).from_reader(text.as_bytes());
    let header = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    (header, rows)
}

#[tokio::test]
async fn activity_csv_and_xlsx_hold_what_the_json_says() {
    let app = spawn_app().await;
    let (tenant, _) = arrange(&app, "tyreso").await;
    let token = &tenant.coordinator.tokens.access;
    let base = "/api/v1/reports/activity?period=2024-T2&group_by=type,unit&lang=en";
    let report: Value = app.get(base, token).await.json().await.unwrap();
    let rows = report["rows"].as_array().unwrap();

    let response = app.get(&format!("{base}&format=csv"), token).await;
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(response.headers()["content-disposition"].to_str().unwrap().contains("aktiviteter-2024-T2.csv"));
    let (header, csv) = csv_rows(&response.bytes().await.unwrap(), b',');
    assert_eq!(&header[..5], ["Activity type", "Unit", "Activities", "Hours", "Contacts/visitors"]);
    assert!(header.contains(&"Contacts/visitors 2023-T2".to_owned()));
    assert_eq!(csv.len(), rows.len() + 1, "one line per group and the total");
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    for (line, row) in csv.iter().zip(rows) {
        assert_eq!(line[0], row["type_label"].as_str().unwrap());
        assert_eq!(line[1], row["unit_label"].as_str().unwrap());
        for (name, value) in [
            ("Activities", &row["activities"]),
            ("Hours", &row["hours"]),
            ("Girls", &row["by_gender"]["girls"]),
            ("13–15", &row["by_age_band"]["13_15"]),
            ("Contacts/visitors 2023-T2", &row["comparison"]["contacts"]),
            ("Change in contacts", &row["change"]["contacts"]),
        ] {
            let cell: f64 = line[column(name)].parse().unwrap();
            close(value, cell, &format!("CSV {name}"));
        }
    }
    assert_eq!(csv.last().unwrap()[0], "Total");
    close(&report["total"]["contacts"], csv.last().unwrap()[column("Contacts/visitors")].parse().unwrap(), "total");

    // Swedish Excel: semicolons and decimal commas.
    let response = app.get(&format!("{base}&format=csv&sep=semicolon"), token).await;
    let (header, semi) = csv_rows(&response.bytes().await.unwrap(), b';');
    assert_eq!(semi.len(), csv.len());
    let hours = header.iter().position(|h| h == "Hours").unwrap();
    for (a, b) in semi.iter().zip(&csv) {
        assert_eq!(a[hours], b[hours].replace('.', ","));
    }

    let response = app.get(&format!("{base}&format=xlsx"), token).await;
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes.to_vec())).unwrap();
    let names = book.sheet_names();
    assert_eq!(
        names,
        ["Activity type, Unit", "By Activity type", "By Unit", "By Area", "By Gender", "By Age band", "About"]
    );
    let sheet = book.worksheet_range("Activity type, Unit").unwrap();
    let cells: Vec<Vec<Data>> = sheet.rows().map(<[Data]>::to_vec).collect();
    assert_eq!(cells[0][0], Data::String("Activity type".into()));
    assert_eq!(cells.len(), rows.len() + 2, "header, groups and the total");
    for (line, row) in cells[1..].iter().zip(rows) {
        assert_eq!(line[0], Data::String(row["type_label"].as_str().unwrap().into()));
        match &line[2] {
            Data::Float(x) => close(&row["activities"], *x, "XLSX activities"),
            Data::Int(x) => close(&row["activities"], *x as f64, "XLSX activities"),
            other => panic!("activities are a number, not {other:?}"),
        }
    }
    // A breakdown sheet holds what the JSON of that grouping says.
    let by_gender: Value =
        app.get("/api/v1/reports/activity?period=2024-T2&group_by=gender&lang=en", token).await.json().await.unwrap();
    let sheet = book.worksheet_range("By Gender").unwrap();
    for row in by_gender["rows"].as_array().unwrap() {
        let line = sheet
            .rows()
            .find(|line| line[0] == Data::String(row["gender_label"].as_str().unwrap().into()))
            .expect("the group is in the sheet");
        close(&row["contacts"], line[3].as_f64().unwrap(), "XLSX contacts by gender");
    }
    let about = book.worksheet_range("About").unwrap();
    let about: Vec<String> = about.rows().flat_map(|r| r.iter().map(|c| c.to_string())).collect();
    assert!(about.contains(&"2024-T2".to_owned()) && about.contains(&"2023-T2".to_owned()), "{about:?}");
    assert!(about.iter().any(|c| c.contains("No suppression")));
}

#[tokio::test]
async fn partners_get_their_areas_with_small_groups_suppressed() {
    let app = spawn_app().await;
    let (tenant, acts) = arrange(&app, "tyreso").await;
    let share = app
        .client
        .put(app.url(&format!("/api/v1/users/{}/areas", tenant.partner.id)))
        .bearer_auth(&tenant.admin.tokens.access)
        .json(&json!({ "areas": ["TB"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(share.status(), 200);
    let partner = &tenant.partner.tokens.access;
    // The partner disclosure rule: the cells are the shared area's activities in a tertial,
    // published from k (3) up; contacts from k up; no gender or age tallies.
    let tb: Vec<Act> = acts.iter().filter(|a| a.area == "TB").cloned().collect();
    let mut published = 0;
    for tertial in 1..=3 {
        let path = format!("/api/v1/reports/activity?period=2024-T{tertial}&compare=none");
        let report: Value = app.get(&path, partner).await.json().await.unwrap();
        assert_eq!(report["suppression_k"], 3);
        assert_eq!(report["group_by"], json!(["area"]), "a partner's default grouping");
        let (from, to) = t_bounds(2024, tertial);
        let counted = count(&tb, from, to, &[]).remove(&Vec::new()).unwrap_or_default();
        let rows = report["rows"].as_array().unwrap();
        if counted.activities >= 3.0 {
            published += 1;
            assert_eq!(rows.len(), 1, "{report}");
            assert_eq!(rows[0]["area"], "TB");
            close(&rows[0]["activities"], counted.activities, "a published cell");
            let contacts = if counted.contacts >= 3.0 { counted.contacts } else { 0.0 };
            close(&rows[0]["contacts"], contacts, "contacts from k up");
            assert_eq!((rows[0]["by_gender"].clone(), rows[0]["by_age_band"].clone()), (Value::Null, Value::Null));
            close(&report["total"]["activities"], counted.activities, "the total is the published cells'");
        } else {
            assert!(rows.is_empty(), "a cell below k is in no row: {report}");
            close(&report["total"]["activities"], 0.0, "nor in the total");
        }
    }
    assert!(published > 0, "the fixture has a published cell in the shared area");
    for (query, field) in [
        ("period=2024-T2&group_by=type", "group_by"),
        ("period=2024-T2&group_by=area,gender", "group_by"),
        ("period=2024", "period"),
        ("period=2024-T2&unit=falt", "unit"),
        ("period=2024-T2&type=outreach_shift", "type"),
    ] {
        let response = app.get(&format!("/api/v1/reports/activity?{query}"), partner).await;
        assert_eq!(response.status(), 422, "{query}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{query}");
        assert_eq!(problem["errors"][0]["code"], "not_for_partners", "{query}");
    }
    // An area not shared is refused like an unknown one.
    let problem = assert_problem(
        app.get("/api/v1/reports/activity?period=2024-T2&area=GR", partner).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["code"], "unknown_area");
    // Observations: counts per area and category only, never positions.
    let problem =
        assert_problem(app.get("/api/v1/exports/observations?format=geojson", partner).await, 422, "validation_failed")
            .await;
    assert_eq!(problem["errors"][0]["code"], "aggregates_only");
}

/// Observations with notes that need quoting, in GR, TB and outside.
async fn push_observations(app: &TestApp, tenant: &Tenant) -> Vec<(String, &'static str, i64, &'static str)> {
    let mut expected = Vec::new();
    let mut records = Vec::new();
    for n in 0..40 {
        let (place, area) = PLACES[n % 4];
        let (lat, lon) = place.unwrap();
        let at = local_ms(2024, 5 + (n % 4) as u32, 1 + n as u32 % 27, 20, 15);
        let category = ["vandalism", "graffiti", "lighting"][n % 3];
        let id = format!("0193d000-0000-7000-8000-{n:012}");
        records.push(json!({
            "id": id, "category": category, "severity": 1 + n % 5, "perceived_safety": 3,
            "note": format!("Nr {n}; \"citat\", rad\nny rad"), "lat": lat, "lon": lon, "accuracy_m": 8.5,
            "observed_at": at,
        }));
        expected.push((id, category, at, area));
    }
    // One in another period.
    records.push(json!({ "id": "0193d000-0000-7000-8000-000000000999", "category": "fire", "severity": 2,
        "perceived_safety": 3, "note": "", "lat": 59.225, "lon": 18.23, "observed_at": local_ms(2023, 3, 1, 12, 0) }));
    let body = json!({ "observations": { "created": records, "updated": [], "deleted": [] } });
    let response = app.post("/api/v1/sync/push?last_pulled_at=null", &tenant.field.tokens.access, &body).await;
    assert_eq!(response.status(), 200);
    expected
}

#[tokio::test]
async fn observation_exports_parse_back_in_every_format() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    app.post("/api/v1/areas", &tenant.admin.tokens.access, &areas()).await;
    let expected = push_observations(&app, &tenant).await;
    let token = &tenant.coordinator.tokens.access;

    let response = app.get("/api/v1/exports/observations?period=2024-T2&lang=en", token).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-disposition"].to_str().unwrap().contains(".csv"));
    let (header, rows) = csv_rows(&response.bytes().await.unwrap(), b',');
    assert_eq!(&header[..3], ["id", "Observed at", "Category"]);
    assert_eq!(rows.len(), expected.len(), "every observation of the period, none of another");
    let by_id: BTreeMap<&str, &Vec<String>> = rows.iter().map(|r| (r[0].as_str(), r)).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for (id, category, at, area) in &expected {
        let row = by_id[id.as_str()];
        assert_eq!(row[col("Category")], *category);
        let time = chrono::DateTime::parse_from_rfc3339(&row[col("Observed at")]).unwrap();
        assert_eq!(time.timestamp_millis(), *at);
        assert_eq!(time.offset().local_minus_utc(), 7200, "local summer time with its offset");
        assert!(row[col("Note")].contains("\"citat\", rad\nny rad"), "quotes, commas and newlines survive");
        let expected_area = if *area == "outside" { "" } else { area };
        assert_eq!(row[col("Area code")], expected_area);
    }
    // Times in order, each once.
    let times: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert!(
        times.windows(2).all(|w| chrono::DateTime::parse_from_rfc3339(w[0]).unwrap()
            <= chrono::DateTime::parse_from_rfc3339(w[1]).unwrap())
    );

    let semi = app.get("/api/v1/exports/observations?period=2024-T2&sep=semicolon", token).await;
    let (header, semi_rows) = csv_rows(&semi.bytes().await.unwrap(), b';');
    assert_eq!(header[0], "id");
    let lat = header.iter().position(|h| h == "Latitud").unwrap();
    assert!(semi_rows.iter().all(|r| r[lat].contains(',') && !r[lat].contains('.')), "decimal commas");

    let area: Value = {
        let response = app.get("/api/v1/exports/observations?period=2024-T2&format=geojson&area=TY", token).await;
        assert_eq!(response.headers()["content-type"], "application/geo+json");
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
    };
    assert_eq!(area["type"], "FeatureCollection");
    let in_ty = expected.iter().filter(|e| e.3 == "TY" || e.3 == "GR").count();
    let features = area["features"].as_array().unwrap();
    assert_eq!(features.len(), in_ty, "the area and what it holds");
    for feature in features {
        let coordinates = feature["geometry"]["coordinates"].as_array().unwrap();
        assert!(coordinates[0].as_f64().unwrap() > 18.0 && coordinates[1].as_f64().unwrap() > 59.0, "[lon, lat]");
        assert!(["TY", "GR"].contains(&feature["properties"]["area_code"].as_str().unwrap()));
    }

    let response =
        app.get("/api/v1/exports/observations?period=2024-T2&format=xlsx&category=vandalism&lang=en", token).await;
    let bytes = response.bytes().await.unwrap();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(book.sheet_names(), ["Observations", "About"]);
    let sheet = book.worksheet_range("Observations").unwrap();
    let vandalism = expected.iter().filter(|e| e.1 == "vandalism").count();
    assert_eq!(sheet.height(), vandalism + 1);
    for line in sheet.rows().skip(1) {
        assert_eq!(line[2], Data::String("vandalism".into()));
        assert!(matches!(line[1], Data::DateTime(_)), "times are dates: {:?}", line[1]);
        assert!(matches!(line[4], Data::Float(_) | Data::Int(_)), "severity is a number");
        let id = line[0].to_string();
        let (_, _, at, _) = expected.iter().find(|e| e.0 == id).unwrap();
        let local = Stockholm.timestamp_millis_opt(*at).unwrap().naive_local();
        let cell = line[1].as_datetime().unwrap();
        assert!((cell - local).num_milliseconds().abs() < 1000, "the local time of the observation: {cell} {local}");
    }
    let about = book.worksheet_range("About").unwrap();
    assert!(about.rows().any(|r| r.iter().any(|c| c.to_string().contains("vandalism"))), "the filters are stated");
}

#[tokio::test]
async fn exports_and_reads_of_raw_observations_are_audited() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    app.post("/api/v1/areas", &tenant.admin.tokens.access, &areas()).await;
    let expected = push_observations(&app, &tenant).await;
    let coordinator = &tenant.coordinator.tokens.access;
    let admin = &tenant.admin.tokens.access;

    // A field user reading their own records leaves no entry; a coordinator's reads do.
    app.get("/api/v1/observations", &tenant.field.tokens.access).await;
    let body =
        app.get("/api/v1/exports/observations?period=2024-T2&category=lighting", coordinator).await.bytes().await;
    assert!(body.is_ok());
    app.get("/api/v1/observations?limit=5", coordinator).await;
    app.get(&format!("/api/v1/observations/{}", expected[0].0), coordinator).await;
    app.get("/api/v1/reports/activity?period=2024&format=csv", coordinator).await;

    assert_eq!(app.get("/api/v1/audit", coordinator).await.status(), 403);
    let mut entries: Vec<Value> = Vec::new();
    for _ in 0..50 {
        let page: Value = app.get("/api/v1/audit", admin).await.json().await.unwrap();
        entries = page["items"].as_array().unwrap().clone();
        // The streamed export is counted when its body is complete.
        if entries.iter().all(|e| !e["row_count"].is_null()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["export.activity", "read.observation", "read.observations", "export.observations"]);
    assert!(entries.iter().all(|e| e["user_id"] == tenant.coordinator.id && e["role"] == "coordinator"));
    let export = &entries[3];
    assert_eq!(export["format"], "csv");
    assert_eq!(export["filters"]["category"], json!(["lighting"]));
    assert_eq!(export["filters"]["period"], "2024-T2");
    let lighting = expected.iter().filter(|e| e.1 == "lighting").count();
    assert_eq!(export["row_count"], lighting);
    assert_eq!(entries[2]["row_count"], 5);

    // Filtered and paged.
    let exports: Value = app.get("/api/v1/audit?action=export", admin).await.json().await.unwrap();
    assert_eq!(exports["items"].as_array().unwrap().len(), 2);
    let first: Value = app.get("/api/v1/audit?limit=3", admin).await.json().await.unwrap();
    let next = first["next"].as_str().unwrap();
    let second: Value = app.get(&format!("/api/v1/audit?limit=3&after={next}"), admin).await.json().await.unwrap();
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["items"][0]["action"], "export.observations");
    let problem = assert_problem(app.get("/api/v1/audit?action=delete", admin).await, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "action");
}

#[tokio::test]
async fn the_follow_up_report_shows_the_numbers_of_the_api() {
    let app = spawn_app().await;
    let (tenant, _) = arrange(&app, "tyreso").await;
    push_observations(&app, &tenant).await;
    let coordinator = &tenant.coordinator.tokens.access;
    let admin = &tenant.admin.tokens.access;
    let heading = json!({ "assignment_title": "Ett socialt hållbart Tyresö för ökad trygghet", "responsible": "Stöd- och servicekontoret" });
    assert_eq!(app.patch("/api/v1/organisation", coordinator, &heading).await.status(), 403);
    assert_eq!(app.patch("/api/v1/organisation", admin, &heading).await.status(), 200);

    // The assessment: validated, stored with who set it.
    let put = |token: &str, body: Value| {
        app.client
            .put(app.url("/api/v1/reports/followup/2024-T2/assessment"))
            .bearer_auth(token.to_owned())
            .json(&body)
            .send()
    };
    let problem =
        assert_problem(put(coordinator, json!({ "rating": "blue" })).await.unwrap(), 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "rating");
    assert_eq!(put(&tenant.field.tokens.access, json!({ "rating": "green" })).await.unwrap().status(), 403);
    let stored: Value = put(coordinator, json!({ "rating": "green", "comment": "Fler besökare än i fjol <3" }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["rating"], "green");
    assert_eq!(stored["set_by"], tenant.coordinator.id);
    let read: Value = app.get("/api/v1/reports/followup/2024-T2/assessment", coordinator).await.json().await.unwrap();
    assert_eq!(read, stored);

    // An indicator with two groups: girls improved, boys worsened.
    let created: Value = app
        .post(
            "/api/v1/indicators",
            admin,
            &json!({ "slug": "trygg-kvall", "name_sv": "Trygga sent en kväll", "name_en": "Safe late in the evening",
                     "source": "Stockholmsenkäten", "unit": "percent", "groups": ["boys", "girls"],
                     "target": { "kind": "maintain_or_improve" } }),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    for (year, boys, girls) in [(2022, 82.0, 65.0), (2024, 80.0, 69.5)] {
        let body = json!({ "values": [{ "group": "boys", "value": boys }, { "group": "girls", "value": girls }] });
        let path = app.url(&format!("/api/v1/indicators/{id}/values/{year}"));
        let response = app.client.put(path).bearer_auth(coordinator).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }

    let response = app.get("/api/v1/reports/followup?period=2024-T2", coordinator).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
    let html = response.text().await.unwrap();
    let document = scraper::Html::parse_document(&html);
    assert!(document.errors.is_empty(), "valid HTML: {:?}", document.errors);
    let select = |css: &str| scraper::Selector::parse(css).unwrap();
    let text =
        |css: &str| document.select(&select(css)).next().map(|e| e.text().collect::<String>()).unwrap_or_default();
    let value = |css: &str| {
        document
            .select(&select(css))
            .next()
            .and_then(|e| e.value().attr("data-value").map(str::to_owned))
            .unwrap_or_default()
    };
    assert_eq!(text("h1"), "Ett socialt hållbart Tyresö för ökad trygghet");
    assert_eq!(text("#responsible"), "Stöd- och servicekontoret");
    assert_eq!(value("#period"), "2024-T2");
    assert_eq!(value("#assessment .rating"), "green");
    assert!(text("#assessment .comment").contains("Fler besökare än i fjol <3"), "the comment, escaped");
    assert!(html.contains("@page") && html.contains("A4"), "a print stylesheet");
    assert_eq!(document.root_element().value().attr("lang"), Some("sv"));

    // Indicators: each group against the target, with its trend.
    let lines: Vec<Vec<String>> = document
        .select(&select("#indicators tbody tr"))
        .map(|tr| {
            tr.select(&select("td")).map(|td| td.value().attr("data-value").unwrap_or_default().to_owned()).collect()
        })
        .collect();
    assert_eq!(lines.len(), 2, "one line per group");
    // Columns: indicator, target, year, latest, previous, trend, meets target.
    let boys = lines.iter().find(|l| l[3] == "80").expect("the boys' line");
    assert_eq!((boys[4].as_str(), boys[5].as_str(), boys[6].as_str()), ("82", "worsened", "false"));
    let girls = lines.iter().find(|l| l[3] == "69.5").expect("the girls' line");
    assert_eq!((girls[2].as_str(), girls[5].as_str(), girls[6].as_str()), ("2024", "improved", "true"));
    assert!(text("#indicators tbody tr").contains("Trygga sent en kväll, pojkar"), "groups in Swedish");

    // Activities: the same numbers as the activity report, also for last year.
    let report: Value =
        app.get("/api/v1/reports/activity?period=2024-T2&group_by=type", coordinator).await.json().await.unwrap();
    for row in report["rows"].as_array().unwrap() {
        let kind = row["type"].as_str().unwrap();
        let css = format!("table.activity[data-group=type] tr[data-key={kind}] td");
        let cells: Vec<String> = document
            .select(&select(&css))
            .map(|e| e.value().attr("data-value").unwrap_or_default().to_owned())
            .collect();
        assert_eq!(cells.len(), 6, "{kind}: {cells:?}");
        close(&row["activities"], cells[1].parse().unwrap(), &format!("{kind} activities"));
        close(&row["contacts"], cells[3].parse().unwrap(), &format!("{kind} contacts"));
        close(&row["comparison"]["contacts"], cells[4].parse().unwrap(), &format!("{kind} contacts last year"));
    }
    // "The summer café had more visitors than last year" can be checked in it.
    let cafe: Vec<String> = document
        .select(&select("table.activity[data-group=type] tr[data-key=summer_cafe] td"))
        .map(|e| e.value().attr("data-value").unwrap_or_default().to_owned())
        .collect();
    let cafe_row = report["rows"].as_array().unwrap().iter().find(|r| r["type"] == "summer_cafe").unwrap();
    close(&cafe_row["change"]["contacts_pct"], cafe[5].parse().unwrap_or(f64::NAN), "summer café change");

    // The area table: the picture's numbers.
    let picture: Value = app.get("/api/v1/picture?period=2024-T2", coordinator).await.json().await.unwrap();
    for row in picture["areas"].as_array().unwrap() {
        let code = row["area"].as_str().unwrap();
        let observations = value(&format!("table.areas tr[data-key={code}] td:nth-child(2)"));
        assert_eq!(observations, row["observations"].to_string(), "{code}");
    }
    // The comparison says which dates it compares with; an ended tertial is not running.
    assert_eq!(text("#area-comparison"), "Mot förra året jämförs med: 2023-05-01 – 2023-08-31.");
    // The heat map: one hexagon per cell of the API's heat map, over the area outlines.
    let heat: Value = app.get("/api/v1/heatmap?period=2024-T2&resolution=8", coordinator).await.json().await.unwrap();
    assert_eq!(
        document.select(&select("#heatmap svg g.cells path")).count(),
        heat["features"].as_array().unwrap().len()
    );
    assert_eq!(document.select(&select("#heatmap svg g.areas path")).count(), 3);
    assert_eq!(value("#heatmap-total"), heat["total"].to_string());
    // Its legend: the API's colour classes, with their limits; each hexagon in its class's colour.
    let legend: Vec<(String, String)> = document
        .select(&select("#heatmap .legend .class"))
        .map(|e| (e.value().attr("data-min").unwrap().to_owned(), e.value().attr("data-max").unwrap().to_owned()))
        .collect();
    let classes: Vec<(String, String)> =
        heat["classes"].as_array().unwrap().iter().map(|c| (c["min"].to_string(), c["max"].to_string())).collect();
    assert!(!classes.is_empty());
    assert_eq!(legend, classes);
    for path in document.select(&select("#heatmap svg g.cells path")) {
        let count: u32 = path.value().attr("data-count").unwrap().parse().unwrap();
        let class =
            heat["classes"].as_array().unwrap().iter().find(|c| {
                c["min"].as_u64().unwrap() <= u64::from(count) && u64::from(count) <= c["max"].as_u64().unwrap()
            });
        assert_eq!(path.value().attr("fill"), class.and_then(|c| c["colour"].as_str()), "a hexagon of {count}");
    }

    // English on request; a bad period shows the accepted forms.
    let english = app.get("/api/v1/reports/followup?period=2024-T2&lang=en", coordinator).await.text().await.unwrap();
    assert!(english.contains("<html lang=\"en\">") && english.contains("Activities"));
    let problem =
        assert_problem(app.get("/api/v1/reports/followup?period=T2", coordinator).await, 422, "validation_failed")
            .await;
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("2024-T2"));
    assert_eq!(app.get("/api/v1/reports/followup?period=2024-T2", &tenant.partner.tokens.access).await.status(), 403);
}

#[tokio::test]
async fn the_command_line_exports_what_the_api_exports() {
    let app = spawn_app().await;
    let (tenant, _) = arrange(&app, "tyreso").await;
    let expected = push_observations(&app, &tenant).await;
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("obs.csv");
    let output = crate::cli::lagesbild(&app)
        .args(["export", "observations", "--org", "tyreso", "--period", "2024-T2", "-o"])
        .arg(&csv_path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let file = std::fs::read(&csv_path).unwrap();
    let api = app.get("/api/v1/exports/observations?period=2024-T2", &tenant.coordinator.tokens.access).await;
    let (_, from_api) = csv_rows(&api.bytes().await.unwrap(), b',');
    let (_, from_cli) = csv_rows(&file, b',');
    assert_eq!(from_cli.len(), expected.len());
    assert_eq!(from_cli, from_api, "the same rows as the API");
    // `-o -` writes the same file to standard output.
    let piped = crate::cli::lagesbild(&app)
        .args(["export", "observations", "--org", "tyreso", "--period", "2024-T2", "-o", "-"])
        .output()
        .unwrap();
    assert!(piped.status.success(), "{}", String::from_utf8_lossy(&piped.stderr));
    assert_eq!(csv_rows(&piped.stdout, b',').1, from_cli, "standard output holds the export");
    assert!(String::from_utf8_lossy(&piped.stderr).contains("written to standard output"));

    let xlsx_path = dir.path().join("activity.xlsx");
    let output = crate::cli::lagesbild(&app)
        .args([
            "export",
            "activity",
            "--org",
            "tyreso",
            "--period",
            "2024-T2",
            "--group-by",
            "type,unit",
            "--format",
            "xlsx",
            "-o",
        ])
        .arg(&xlsx_path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut book: Xlsx<_> = calamine::open_workbook(&xlsx_path).unwrap();
    assert!(book.sheet_names().contains(&"Per Aktivitetstyp".to_owned()));
    let report: Value = app
        .get("/api/v1/reports/activity?period=2024-T2&group_by=type,unit", &tenant.coordinator.tokens.access)
        .await
        .json()
        .await
        .unwrap();
    let sheet = book.worksheet_range("Aktivitetstyp, Enhet").unwrap();
    assert_eq!(sheet.height(), report["rows"].as_array().unwrap().len() + 2);

    // A bad period fails with the flag named, and no file is left behind.
    let bad = dir.path().join("bad.csv");
    let output = crate::cli::lagesbild(&app)
        .args(["export", "observations", "--org", "tyreso", "--period", "2024-T9", "-o"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--period"));
    assert!(!bad.exists());
    // An unknown category is an error, not an empty file; each export names its own formats;
    // --help lists them.
    for (args, expected) in [
        (vec!["export", "observations", "--org", "tyreso", "--category", "vandalism,nope"], "no category `nope`"),
        (
            vec!["export", "activity", "--org", "tyreso", "--period", "2024-T2", "--format", "pdf"],
            "use csv, xlsx or json",
        ),
        (vec!["export", "observations", "--org", "tyreso", "--format", "pdf"], "use csv, xlsx or geojson"),
    ] {
        let output = crate::cli::lagesbild(&app).args(&args).arg("-o").arg(&bad).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!bad.exists());
    }
    let help = crate::cli::lagesbild(&app).args(["export", "activity", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("json for `activity`, geojson for `observations`"));

    let audit: Value = app.get("/api/v1/audit?action=export", &tenant.admin.tokens.access).await.json().await.unwrap();
    let cli: Vec<&Value> = audit["items"].as_array().unwrap().iter().filter(|e| e["role"] == "cli").collect();
    assert_eq!(cli.len(), 3, "every command-line export is audited, to standard output too");
    assert!(cli.iter().all(|e| e["user_id"].is_null()));
    assert_eq!(cli[2]["row_count"], expected.len());
}

#[tokio::test]
async fn settings_and_assessments_out_of_bounds_are_refused_field_by_field_and_change_nothing() {
    let app = spawn_app().await;
    let (tenant, _) = arrange(&app, "tyreso").await;
    let admin = &tenant.admin.tokens.access;
    let before: Value = app.get("/api/v1/organisation", admin).await.json().await.unwrap();

    // Every rule broken at once is named: a title one character too long and a k of 0.
    let settings = json!({ "assignment_title": "å".repeat(301), "responsible": "Ö".repeat(300), "suppression_k": 0 });
    let problem =
        assert_problem(app.patch("/api/v1/organisation", admin, &settings).await, 422, "validation_failed").await;
    let named: Vec<(&str, &str)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(named, [("assignment_title", "too_long"), ("suppression_k", "out_of_range")]);
    let k_over = json!({ "suppression_k": 101 });
    assert_problem(app.patch("/api/v1/organisation", admin, &k_over).await, 422, "validation_failed").await;
    let after: Value = app.get("/api/v1/organisation", admin).await.json().await.unwrap();
    assert_eq!(after, before, "a refused change changes nothing");
    // At the bounds it is accepted.
    let at_bounds = json!({ "assignment_title": "å".repeat(300), "suppression_k": 100 });
    let stored: Value = app.patch("/api/v1/organisation", admin, &at_bounds).await.json().await.unwrap();
    assert_eq!(
        (stored["assignment_title"].as_str().map(|t| t.chars().count()), &stored["suppression_k"]),
        (Some(300), &json!(100))
    );

    // An assessment's comment of 4,001 characters with an unknown rating: both fields named.
    let response = app
        .client
        .put(app.url("/api/v1/reports/followup/2024-T2/assessment"))
        .bearer_auth(admin)
        .json(&json!({ "rating": "blue", "comment": "x".repeat(4001) }))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["comment", "rating"]);
}
