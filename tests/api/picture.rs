//! The picture: the heat map and the area table agree with a plain count over the raw records,
//! whatever the filters; partners get suppressed aggregates only.

use crate::helpers::{TestApp, spawn_app};
use chrono::{Datelike, TimeZone, Timelike};
use chrono_tz::Europe::Stockholm;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use std::collections::HashMap;

const CATEGORIES: [&str; 4] = ["vandalism", "lighting", "youth_gathering", "positive"];

/// One pushed observation, as the test remembers it.
#[derive(Debug, Clone)]
struct Raw {
    lat: f64,
    lon: f64,
    at_ms: i64,
    category: &'static str,
    severity: u8,
}

fn raw_records(seed: u64, n: usize) -> Vec<Raw> {
    // A small deterministic generator: the records are data, the filters are what varies.
    let mut state = seed;
    let mut next = move |modulo: u64| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % modulo
    };
    let now = chrono::Utc::now().timestamp_millis();
    (0..n)
        .map(|_| Raw {
            lat: 59.22 + next(4_000) as f64 / 100_000.0,
            lon: 18.20 + next(10_000) as f64 / 100_000.0,
            at_ms: now - 3_600_000 - (next(400 * 24 * 60) as i64) * 60_000,
            category: CATEGORIES[next(4) as usize],
            severity: 1 + next(5) as u8,
        })
        .collect()
}

async fn push_all(app: &TestApp, token: &str, records: &[Raw]) {
    let json: Vec<Value> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            json!({
                "id": format!("0193b000-0000-7000-8000-{i:012}"),
                "category": r.category, "severity": r.severity, "perceived_safety": 3,
                "note": "", "lat": r.lat, "lon": r.lon, "observed_at": r.at_ms,
            })
        })
        .collect();
    for chunk in json.chunks(500) {
        let response = app
            .post("/api/v1/sync/push?last_pulled_at=null", token, &json!({ "observations": { "created": chunk } }))
            .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        let applied = body["results"].as_array().unwrap().iter().filter(|r| r["status"] == "applied").count();
        assert_eq!(applied, chunk.len(), "every record is stored");
    }
}

/// A filter as both the test and the query string see it.
#[derive(Debug, Clone)]
struct Ask {
    days_back: (i64, i64),
    categories: Vec<&'static str>,
    severity_min: u8,
    hours: Option<(u8, u8)>,
    weekdays: Vec<u8>,
    after_dark: Option<bool>,
    twilight: bool,
}

impl Ask {
    fn query(&self, now: i64) -> String {
        let at = |days: i64| {
            chrono::DateTime::from_timestamp_millis(now - days * 86_400_000).unwrap().to_rfc3339().replace('+', "%2B")
        };
        let mut q = format!("from={}&to={}", at(self.days_back.0), at(self.days_back.1));
        if !self.categories.is_empty() {
            q += &format!("&category={}", self.categories.join(","));
        }
        if self.severity_min > 1 {
            q += &format!("&severity_min={}", self.severity_min);
        }
        if let Some((a, b)) = self.hours {
            q += &format!("&hours={a}-{b}");
        }
        if !self.weekdays.is_empty() {
            q += &format!("&weekday={}", self.weekdays.iter().map(u8::to_string).collect::<Vec<_>>().join(","));
        }
        if let Some(dark) = self.after_dark {
            q += &format!("&after_dark={dark}&twilight={}", self.twilight);
        }
        q
    }

    fn admits(&self, r: &Raw, now: i64) -> bool {
        let local = Stockholm.timestamp_millis_opt(r.at_ms).unwrap();
        let hour = local.hour() as u8;
        let in_hours = match self.hours {
            None => true,
            Some((a, b)) if a < b => (a..b).contains(&hour),
            Some((a, b)) => hour >= a || hour < b % 24,
        };
        let weekday = local.weekday().number_from_monday() as u8;
        (now - self.days_back.0 * 86_400_000..now - self.days_back.1 * 86_400_000).contains(&r.at_ms)
            && (self.categories.is_empty() || self.categories.contains(&r.category))
            && r.severity >= self.severity_min
            && in_hours
            && (self.weekdays.is_empty() || self.weekdays.contains(&weekday))
            && self
                .after_dark
                .is_none_or(|dark| lagesbild::domain::sun::is_dark(r.lat, r.lon, r.at_ms, self.twilight) == dark)
    }
}

fn asks() -> impl Strategy<Value = Ask> {
    (
        (100i64..420, 0i64..100),
        proptest::sample::subsequence(CATEGORIES.to_vec(), 0..=2),
        1u8..=5,
        proptest::option::of((0u8..24, 1u8..=24).prop_filter("a non-empty span", |(a, b)| a != b)),
        proptest::sample::subsequence(vec![1u8, 2, 3, 4, 5, 6, 7], 0..=3),
        proptest::option::of(any::<bool>()),
        any::<bool>(),
    )
        .prop_map(|(days_back, categories, severity_min, hours, weekdays, after_dark, twilight)| Ask {
            days_back,
            categories,
            severity_min,
            hours,
            weekdays,
            after_dark,
            twilight,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heat_map_and_picture_totals_equal_a_plain_count_for_any_filter() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let records = raw_records(7, 600);
    push_all(&app, &tenant.field.tokens.access, &records).await;
    let now = chrono::Utc::now().timestamp_millis();
    let token = tenant.coordinator.tokens.access.clone();
    let cases: u32 = std::env::var("PICTURE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let handle = tokio::runtime::Handle::current();
    runner
        .run(&asks(), |ask| {
            let expected: Vec<&Raw> = records.iter().filter(|r| ask.admits(r, now)).collect();
            let query = ask.query(now);
            let (heat, picture) = tokio::task::block_in_place(|| {
                handle.block_on(async {
                    let heat: Value =
                        app.get(&format!("/api/v1/heatmap?resolution=8&{query}"), &token).await.json().await.unwrap();
                    let picture: Value =
                        app.get(&format!("/api/v1/picture?{query}"), &token).await.json().await.unwrap();
                    (heat, picture)
                })
            });
            // Per hexagon, exactly the records whose stored cell (resolution 12) has it as its
            // resolution-8 parent. (H3 nests only approximately: near an edge that parent can
            // differ from the resolution-8 cell of the point itself.)
            let mut cells: HashMap<String, u64> = HashMap::new();
            for r in &expected {
                let fine = h3o::LatLng::new(r.lat, r.lon).unwrap().to_cell(h3o::Resolution::Twelve);
                let cell = fine.parent(h3o::Resolution::Eight).unwrap();
                *cells.entry(cell.to_string()).or_default() += 1;
            }
            let served: HashMap<String, u64> = heat["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    (f["properties"]["cell"].as_str().unwrap().to_owned(), f["properties"]["count"].as_u64().unwrap())
                })
                .collect();
            prop_assert_eq!(&served, &cells, "{}", query);
            prop_assert_eq!(heat["total"].as_u64(), Some(expected.len() as u64));
            // No areas yet: every record is outside areas, and counted there.
            let outside = &picture["outside_areas"];
            prop_assert_eq!(outside["observations"].as_u64(), Some(expected.len() as u64), "{}", query);
            for category in CATEGORIES {
                let n = expected.iter().filter(|r| r.category == category).count() as u64;
                prop_assert_eq!(outside["by_category"][category].as_u64().unwrap_or(0), n);
            }
            let dark =
                expected.iter().filter(|r| lagesbild::domain::sun::is_dark(r.lat, r.lon, r.at_ms, false)).count();
            if !expected.is_empty() && ask.after_dark.is_none() {
                let share = outside["share_after_dark"].as_f64().unwrap();
                prop_assert!((share - dark as f64 / expected.len() as f64).abs() < 0.001);
            }
            Ok(())
        })
        .unwrap();
}

#[tokio::test]
async fn the_picture_is_for_coordinators_and_partners_and_refuses_bad_filters() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    assert_eq!(app.get("/api/v1/picture", &tenant.field.tokens.access).await.status(), 403);
    assert_eq!(app.get("/api/v1/heatmap", &tenant.partner.tokens.access).await.status(), 200);
    for (query, field) in [
        ("period=2024-T4", "period"),
        ("period=2024-T2&from=2024-01-01", "period"),
        ("hours=25-3", "hours"),
        ("weekday=8", "weekday"),
        ("severity_min=9", "severity_min"),
        ("after_dark=maybe", "after_dark"),
        ("from=yesterday", "from"),
    ] {
        let response = app.get(&format!("/api/v1/picture?{query}"), &tenant.coordinator.tokens.access).await;
        assert_eq!(response.status(), 422, "{query}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
    let response = app.get("/api/v1/heatmap?resolution=12", &tenant.coordinator.tokens.access).await;
    assert_eq!(response.status(), 422);
    let problem: Value =
        app.get("/api/v1/picture?period=2024-T9", &tenant.coordinator.tokens.access).await.json().await.unwrap();
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("2024-T2"), "{problem}");
}

#[tokio::test]
async fn a_partner_without_shared_areas_sees_nothing_and_never_a_small_count() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    push_all(&app, &tenant.field.tokens.access, &raw_records(3, 40)).await;
    let partner = &tenant.partner.tokens.access;
    let heat: Value = app.get("/api/v1/heatmap?resolution=7", partner).await.json().await.unwrap();
    assert_eq!(heat["features"], json!([]));
    assert_eq!(heat["suppression_k"], 3);
    let picture: Value = app.get("/api/v1/picture", partner).await.json().await.unwrap();
    assert_eq!(picture["areas"], json!([]));
    assert_eq!(picture["outside_areas"], Value::Null, "partners never see records outside their areas");
    // Sharing is for partners, by admins.
    let path = format!("/api/v1/users/{}/areas", tenant.partner.id);
    let client = &app.client;
    let put = |token: &str, body: Value| client.put(app.url(&path)).bearer_auth(token.to_owned()).json(&body).send();
    assert_eq!(put(&tenant.coordinator.tokens.access, json!({"areas": ["A1"]})).await.unwrap().status(), 403);
    let shared: Value =
        put(&tenant.admin.tokens.access, json!({"areas": ["A1", " A1 ", "B2"]})).await.unwrap().json().await.unwrap();
    assert_eq!(shared["areas"], json!(["A1", "B2"]));
    let not_partner = format!("/api/v1/users/{}/areas", tenant.field.id);
    let response = client
        .put(app.url(&not_partner))
        .bearer_auth(&tenant.admin.tokens.access)
        .json(&json!({"areas": ["A1"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
}

#[tokio::test]
async fn late_records_and_corrected_times_count_in_the_period_they_belong_to() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let (app, field, coordinator) = (&app, &tenant.field.tokens.access, &tenant.coordinator.tokens.access);
    let now = chrono::Utc::now().timestamp_millis();
    let (hour, day) = (3_600_000, 86_400_000);
    let record = |n: u32, at_ms: i64| {
        json!({
            "id": format!("0193b000-0000-7000-8000-{n:012}"), "category": "vandalism", "severity": 3,
            "perceived_safety": 3, "note": "", "lat": 59.244, "lon": 18.228, "observed_at": at_ms,
        })
    };
    // A phone that pulls before each push, so that its updates are not conflicts.
    let mut phone = crate::sync::Phone::new(app, field);
    let mut push = async |bucket: &str, records: Vec<Value>| {
        let mut changes = json!({ "observations": { "created": [], "updated": [], "deleted": [] } });
        changes["observations"][bucket] = Value::Array(records);
        phone.pull().await;
        let body = phone.push(changes).await;
        assert!(body["results"].as_array().unwrap().iter().all(|r| r["status"] == "applied"), "{body}");
    };
    let count = |from_ms: i64, to_ms: i64| {
        let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339().replace('+', "%2B");
        let query = format!("from={}&to={}", at(from_ms), at(to_ms));
        async move {
            let picture: Value = app.get(&format!("/api/v1/picture?{query}"), coordinator).await.json().await.unwrap();
            let heat: Value = app.get(&format!("/api/v1/heatmap?{query}"), coordinator).await.json().await.unwrap();
            let observations = picture["outside_areas"]["observations"].as_u64().unwrap_or(0);
            assert_eq!(heat["total"].as_u64(), Some(observations), "the heat map agrees with the table");
            observations
        }
    };
    let (recent, weeks_ago) = ((now - day, now), (now - 30 * day, now - 20 * day));

    push("created", vec![record(1, now - 2 * hour), record(2, now - 3 * hour)]).await;
    assert_eq!((count(recent.0, recent.1).await, count(weeks_ago.0, weeks_ago.1).await), (2, 0));
    // A phone that was offline for weeks delivers an old record; another has its clock corrected.
    push("created", vec![record(3, now - 25 * day)]).await;
    push("updated", vec![record(2, now - 26 * day)]).await;
    assert_eq!((count(recent.0, recent.1).await, count(weeks_ago.0, weeks_ago.1).await), (1, 2));
    // Later changes reach the records where they now are.
    push("deleted", vec![json!("0193b000-0000-7000-8000-000000000003")]).await;
    assert_eq!((count(recent.0, recent.1).await, count(weeks_ago.0, weeks_ago.1).await), (1, 1));
    push("updated", vec![record(2, now - 4 * hour)]).await;
    assert_eq!((count(recent.0, recent.1).await, count(weeks_ago.0, weeks_ago.1).await), (2, 0));
}

#[tokio::test]
async fn the_same_period_last_year_is_the_calendar_s_for_periods_and_from_to_alike() {
    // 2024 is a leap year: 365 days before 2024-05-01 is 2023-05-02, the calendar says
    // 2023-05-01. A record on 2023-05-01 is outside "2024-T1 last year" by either route.
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let (field, coordinator) = (&tenant.field.tokens.access, &tenant.coordinator.tokens.access);
    let at = |text: &str| chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis();
    let record = |n: u32, observed_at: i64| {
        json!({ "id": format!("0193c000-0000-7000-8000-{n:012}"), "category": "vandalism", "severity": 3,
                "perceived_safety": 3, "note": "", "lat": 59.244, "lon": 18.228, "observed_at": observed_at })
    };
    let inside = record(1, at("2023-04-30T12:00:00+02:00"));
    let after = record(2, at("2023-05-01T12:00:00+02:00"));
    let pushed = app
        .post(
            "/api/v1/sync/push?last_pulled_at=null",
            field,
            &json!({ "observations": { "created": [inside, after] } }),
        )
        .await;
    assert_eq!(pushed.status(), 200);
    for query in ["period=2024-T1", "from=2024-01-01&to=2024-05-01"] {
        let picture: Value = app.get(&format!("/api/v1/picture?{query}"), coordinator).await.json().await.unwrap();
        assert_eq!(picture["outside_areas"]["same_period_last_year"], 1, "{query}: {picture}");
    }
}

#[tokio::test]
async fn for_partners_zero_is_zero_on_every_endpoint() {
    // The disclosure rule: every partner figure is a sum of published cells, and a sum of none
    // is 0 — never null — in the area table, an area's page and the activity report alike.
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let admin = &tenant.admin.tokens.access;
    assert_eq!(app.post("/api/v1/areas", admin, &crate::areas::tyreso()).await.status(), 200);
    let shared = app
        .client
        .put(app.url(&format!("/api/v1/users/{}/areas", tenant.partner.id)))
        .bearer_auth(admin)
        .json(&json!({ "areas": ["TB"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(shared.status(), 200);
    let partner = &tenant.partner.tokens.access;
    let table: Value = app.get("/api/v1/picture", partner).await.json().await.unwrap();
    let row = &table["areas"][0];
    assert_eq!(row["area"], "TB", "{table}");
    let page: Value = app.get("/api/v1/areas/TB/picture", partner).await.json().await.unwrap();
    let report: Value = app.get("/api/v1/reports/activity?period=2026-T3", partner).await.json().await.unwrap();
    for (what, value) in [
        ("area table observations", &row["observations"]),
        ("area table previous period", &row["previous_period"]),
        ("area table last year", &row["same_period_last_year"]),
        ("area page observations", &page["observations"]),
        ("activity report total", &report["total"]["activities"]),
    ] {
        assert_eq!(value.as_f64(), Some(0.0), "{what}: {table} {page} {report}");
    }
}

#[tokio::test]
async fn a_running_period_is_compared_with_the_same_stretch_and_every_comparison_names_its_dates() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let (admin, field, coordinator) =
        (&tenant.admin.tokens.access, &tenant.field.tokens.access, &tenant.coordinator.tokens.access);
    assert_eq!(app.post("/api/v1/areas", admin, &crate::areas::tyreso()).await.status(), 200);
    crate::areas::wait_for_jobs(&app, admin).await;

    let now = chrono::Utc::now().with_timezone(&Stockholm);
    let tertial = (now.month() - 1) / 4 + 1;
    let period = format!("{}-T{tertial}", now.year());
    let margin = chrono::Duration::minutes(10);
    let ms = |at: chrono::DateTime<chrono_tz::Tz>| at.timestamp_millis();
    let four_months_ago = now.checked_sub_months(chrono::Months::new(4)).unwrap();
    let a_year_ago = now.checked_sub_months(chrono::Months::new(12)).unwrap();
    // Inside and just past the same stretch of the tertial before and of last year's.
    let times = [
        ms(now - margin),
        ms(four_months_ago - margin),
        ms(four_months_ago + margin),
        ms(a_year_ago - margin),
        ms(a_year_ago + margin),
    ];
    let records = times
        .iter()
        .enumerate()
        .map(|(n, at)| {
            let mut record = crate::areas::observation(&format!("0193d000-0000-7000-8000-{n:012}"), 59.225, 18.23);
            record["observed_at"] = json!(at);
            record
        })
        .collect();
    crate::areas::push(&app, field, records).await;

    let when = |text: &Value| chrono::DateTime::parse_from_rfc3339(text.as_str().unwrap()).unwrap().timestamp_millis();
    for path in [format!("/api/v1/picture?period={period}"), format!("/api/v1/areas/GR/picture?period={period}")] {
        let picture: Value = app.get(&path, coordinator).await.json().await.unwrap();
        let row = if path.contains("/areas/") {
            picture.clone()
        } else {
            picture["areas"].as_array().unwrap().iter().find(|row| row["area"] == "GR").unwrap().clone()
        };
        assert_eq!(picture["partial"], true, "{path}: the tertial has not ended");
        let (previous, last_year) = (&picture["comparisons"]["previous"], &picture["comparisons"]["last_year"]);
        assert!((when(&previous["to"]) - ms(four_months_ago)).abs() < 60_000, "{path}: {previous}");
        assert!((when(&last_year["to"]) - ms(a_year_ago)).abs() < 60_000, "{path}: {last_year}");
        assert_eq!(
            (row["observations"].as_u64(), row["previous_period"].as_u64(), row["same_period_last_year"].as_u64()),
            (Some(1), Some(1), Some(1)),
            "{path}: only what lies in the same stretch counts"
        );
    }

    // The last twelve months: the twelve before are last year's, so that is one comparison.
    let rolling: Value = app.get("/api/v1/picture", coordinator).await.json().await.unwrap();
    assert_eq!((rolling["partial"].clone(), rolling["comparisons"]["last_year"].clone()), (json!(false), Value::Null));
    assert_eq!(when(&rolling["comparisons"]["previous"]["to"]), when(&rolling["from"]));
    let row = rolling["areas"].as_array().unwrap().iter().find(|row| row["area"] == "GR").unwrap();
    assert_eq!((row["same_period_last_year"].clone(), row["change_last_year_pct"].clone()), (Value::Null, Value::Null));

    // Monthly figures: every month of the window, the ones the window or today cuts marked.
    let area: Value = app.get("/api/v1/areas/GR/picture", coordinator).await.json().await.unwrap();
    let months = area["by_month"].as_array().unwrap();
    assert_eq!(months.len(), 13, "{months:?}");
    assert_eq!(months.iter().filter(|m| m["partial"] == true).count(), 2, "the first and this month: {months:?}");
    assert!(months[0]["partial"] == true && months[12]["partial"] == true);
    assert_eq!(months[12]["month"], format!("{}-{:02}", now.year(), now.month()));
    assert!(when(&months[12]["to"]) <= chrono::Utc::now().timestamp_millis());
}

/// The observations and activities of the organisation as a picture sees them: the heat map's
/// total and the activities counted outside areas.
pub async fn picture_totals(client: &reqwest::Client, base: &str, token: &str) -> (u64, u64) {
    let get = |path: &str| client.get(format!("{base}{path}")).bearer_auth(token).send();
    let heat: Value = get("/api/v1/heatmap?resolution=8").await.unwrap().json().await.unwrap();
    let picture: Value = get("/api/v1/picture").await.unwrap().json().await.unwrap();
    (heat["total"].as_u64().unwrap(), picture["outside_areas"]["presence"]["activities"].as_u64().unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_picture_read_in_pages_counts_every_record_however_pushes_group_them() {
    // Each push stores its records under one sequence number; the picture reads the change feed
    // in pages, which may end inside such a group. Whatever the group sizes and the page size,
    // a server that caught up as the pushes came and one started afresh on the database count
    // every record once.
    let app = crate::helpers::spawn_app_with(|settings| settings.picture_catch_up_rows = 3).await;
    let handle = tokio::runtime::Handle::current();
    let cases: u32 = std::env::var("PICTURE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(12);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let case = std::sync::atomic::AtomicU32::new(0);
    let strategy = (proptest::collection::vec((1usize..12, 0usize..4), 1..7), 1i64..10, 0usize..7);
    runner
        .run(&strategy, |(groups, page, peek_after)| {
            let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (caught_up, fresh, expected) = tokio::task::block_in_place(|| {
                handle.block_on(async {
                    let tenant = app.tenant(&format!("org{n}")).await;
                    let (field, coordinator) = (&tenant.field.tokens.access, &tenant.coordinator.tokens.access);
                    let now = chrono::Utc::now().timestamp_millis();
                    let mut expected = (0u64, 0u64);
                    for (g, (observations, activities)) in groups.iter().enumerate() {
                        let observations: Vec<Value> = (0..*observations)
                            .map(|i| {
                                let mut record = crate::sync::observation(&uuid::Uuid::now_v7().to_string(), "");
                                record["observed_at"] = json!(now - (g * 20 + i) as i64 * 60_000);
                                record
                            })
                            .collect();
                        let activities: Vec<Value> = (0..*activities)
                            .map(|i| json!({
                                "id": uuid::Uuid::now_v7().to_string(), "activity_type": "outreach_shift", "unit": "falt",
                                "started_at": now - (g * 20 + i + 1) as i64 * 3_600_000, "girls": 1, "boys": 0,
                                "gender_other": 0, "gender_unknown": 0, "age_under_13": 0, "age_13_15": 1,
                                "age_16_17": 0, "age_18_24": 0, "age_25_plus": 0, "age_unknown": 0, "note": "",
                            }))
                            .collect();
                        expected.0 += observations.len() as u64;
                        expected.1 += activities.len() as u64;
                        let body = json!({
                            "observations": { "created": observations, "updated": [], "deleted": [] },
                            "activity_logs": { "created": activities, "updated": [], "deleted": [] },
                        });
                        let pushed: Value = app
                            .post("/api/v1/sync/push?last_pulled_at=null", field, &body)
                            .await
                            .json()
                            .await
                            .unwrap();
                        assert!(pushed["results"].as_array().unwrap().iter().all(|r| r["status"] == "applied"), "{pushed}");
                        if g == peek_after {
                            // This server's picture catches up part way through.
                            picture_totals(&app.client, &app.address, coordinator).await;
                        }
                    }
                    let caught_up = picture_totals(&app.client, &app.address, coordinator).await;
                    let mut settings = app.settings.clone();
                    settings.picture_catch_up_rows = page;
                    let other = lagesbild::startup::Application::build(settings).unwrap();
                    let base = format!("http://127.0.0.1:{}", other.port());
                    let _other = crate::helpers::run(other);
                    let fresh = picture_totals(&app.client, &base, coordinator).await;
                    (caught_up, fresh, expected)
                })
            });
            prop_assert_eq!(caught_up, expected, "the server that caught up as pushes came");
            prop_assert_eq!(fresh, expected, "a server started afresh, reading {} rows at a time", page);
            Ok(())
        })
        .unwrap();
}
