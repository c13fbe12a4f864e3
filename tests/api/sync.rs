//! The offline-sync protocol through its public surface: pull, push and their invariants.

use crate::helpers::*;
use serde_json::{Value, json};

/// A phone: a member's tokens, its cursor, and the helpers to sync.
pub struct Phone<'a> {
    pub app: &'a TestApp,
    pub token: String,
    pub cursor: Option<i64>,
    /// The app schema version it pulls with.
    pub schema_version: i64,
}

impl<'a> Phone<'a> {
    pub fn new(app: &'a TestApp, token: &str) -> Self {
        Self { app, token: token.to_owned(), cursor: None, schema_version: 1 }
    }

    /// Pulls every page; returns the merged changes and moves the cursor.
    pub async fn pull(&mut self) -> Value {
        let mut merged = json!({});
        let mut page_token: Option<String> = None;
        loop {
            let mut url = format!(
                "/api/v1/sync/pull?last_pulled_at={}&schema_version={}",
                self.cursor.map_or("null".to_owned(), |c| c.to_string()),
                self.schema_version
            );
            if let Some(token) = &page_token {
                url.push_str(&format!("&page_token={token}"));
            }
            let response = self.app.get(&url, &self.token).await;
            assert_eq!(response.status(), 200, "pull failed");
            let body: Value = response.json().await.unwrap();
            for (table, changes) in body["changes"].as_object().unwrap() {
                for bucket in ["created", "updated", "deleted"] {
                    let list = merged[table][bucket].as_array().cloned().unwrap_or_default();
                    let more = changes[bucket].as_array().unwrap().clone();
                    merged[table][bucket] = Value::Array([list, more].concat());
                }
            }
            if body.get("experimentalStrategy").is_some() {
                merged["strategy"] = body["experimentalStrategy"].clone();
            }
            if body["has_more"] == true {
                page_token = Some(body["page_token"].as_str().unwrap().to_owned());
            } else {
                let timestamp = body["timestamp"].as_i64().unwrap();
                assert!(timestamp >= 1, "timestamp is at least 1");
                self.cursor = Some(timestamp);
                return merged;
            }
        }
    }

    /// Pushes changes and returns the response body (asserting 200).
    pub async fn push(&self, changes: Value) -> Value {
        let response = self.push_response(changes).await;
        assert_eq!(response.status(), 200, "push failed");
        response.json().await.unwrap()
    }

    pub async fn push_response(&self, changes: Value) -> reqwest::Response {
        let cursor = self.cursor.map_or("null".to_owned(), |c| c.to_string());
        self.app.post(&format!("/api/v1/sync/push?last_pulled_at={cursor}"), &self.token, &changes).await
    }
}

/// A valid observation raw record.
pub fn observation(id: &str, note: &str) -> Value {
    json!({
        "id": id,
        "category": "vandalism",
        "severity": 3,
        "perceived_safety": 2,
        "people_count": 4,
        "age_band": "13_15",
        "note": note,
        "lat": 59.244,
        "lon": 18.228,
        "accuracy_m": 12.5,
        "observed_at": chrono::Utc::now().timestamp_millis() - 60_000,
        "needs_follow_up": false,
        "_status": "created",
        "_changed": "",
    })
}

pub fn created(table: &str, records: Vec<Value>) -> Value {
    json!({ table: { "created": records, "updated": [], "deleted": [] } })
}

pub fn updated(table: &str, records: Vec<Value>) -> Value {
    json!({ table: { "created": [], "updated": records, "deleted": [] } })
}

fn ids(changes: &Value, table: &str, bucket: &str) -> Vec<String> {
    changes[table][bucket].as_array().map_or_else(Vec::new, |list| {
        list.iter()
            .map(|item| item.as_str().map_or_else(|| item["id"].as_str().unwrap().to_owned(), str::to_owned))
            .collect()
    })
}

fn status_of(body: &Value, id: &str) -> String {
    body["results"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap()["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn sync_info_advertises_versions_and_limits() {
    let app = spawn_app().await;
    let info: Value = app.client.get(app.url("/api/v1/sync/info")).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["protocol_version"], 1);
    assert_eq!(info["schema_versions"], json!({ "min": 1, "max": 3 }));
    assert_eq!(info["max_push_records"], 1000);
    assert_eq!(info["max_push_bytes"], 4 * 1024 * 1024);
    assert_eq!(info["max_pull_limit"], 10_000);
    assert_eq!(info["tombstone_horizon_days"], 90);
}

#[tokio::test]
async fn a_first_pull_brings_the_reference_data() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let mut phone = Phone::new(&app, &tenant.field.tokens.access);
    let changes = phone.pull().await;
    assert_eq!(ids(&changes, "categories", "created").len(), 13);
    assert_eq!(ids(&changes, "activity_types", "created").len(), 10);
    assert_eq!(ids(&changes, "units", "created").len(), 1);
    let vandalism =
        changes["categories"]["created"].as_array().unwrap().iter().find(|c| c["slug"] == "vandalism").unwrap();
    assert_eq!(vandalism["label_sv"], "Skadegörelse");
    assert_eq!(vandalism["label_en"], "Vandalism");
    assert_eq!(vandalism["active"], true);
    assert!(ids(&changes, "observations", "created").is_empty());
    // Nothing changed: the next pull is empty.
    let again = phone.pull().await;
    assert!(ids(&again, "categories", "updated").is_empty() && ids(&again, "categories", "created").is_empty());
}

#[tokio::test]
async fn a_pushed_observation_reaches_its_scope_exactly_once() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let mut phone = Phone::new(&app, &tenant.field.tokens.access);
    phone.pull().await;
    let record = observation("0193a0f0-0000-7000-8000-000000000001", "Krossad ruta vid busshållplatsen");
    let body = phone.push(created("observations", vec![record.clone()])).await;
    assert_eq!(status_of(&body, "0193a0f0-0000-7000-8000-000000000001"), "applied");
    assert_eq!(body["experimentalRejectedIds"], json!({}));

    // The response was lost: the phone pushes the same thing again with the same cursor.
    let replay = phone.push(created("observations", vec![record])).await;
    assert_eq!(status_of(&replay, "0193a0f0-0000-7000-8000-000000000001"), "unchanged");

    // The pushing phone gets it back in `updated`; the same user's other phone in `created`.
    let own = phone.pull().await;
    assert_eq!(ids(&own, "observations", "updated"), ["0193a0f0-0000-7000-8000-000000000001"]);
    let second = app.login("tyreso", "field", PASSWORD, "field-tablet").await;
    let mut tablet = Phone::new(&app, &second.access);
    let other = tablet.pull().await;
    assert_eq!(ids(&other, "observations", "created"), ["0193a0f0-0000-7000-8000-000000000001"]);
    let stored = &other["observations"]["created"][0];
    assert_eq!(stored["status"], "new");
    assert_eq!(stored["note"], "Krossad ruta vid busshållplatsen");
    assert_eq!(stored["sync_error"], Value::Null);

    // A coordinator sees it; another field user and a partner do not.
    let mut coordinator = Phone::new(&app, &tenant.coordinator.tokens.access);
    assert_eq!(ids(&coordinator.pull().await, "observations", "created").len(), 1);
    let org = tenant.org_id.clone();
    app.seed_user(&org, "other", lagesbild::domain::identity::Role::Field, None);
    let other_user = app.login("tyreso", "other", PASSWORD, "other-phone").await;
    assert!(ids(&Phone::new(&app, &other_user.access).pull().await, "observations", "created").is_empty());
    let partner = Phone::new(&app, &tenant.partner.tokens.access).pull().await;
    assert!(ids(&partner, "observations", "created").is_empty());
    assert_eq!(ids(&partner, "categories", "created").len(), 13);
}

#[tokio::test]
async fn one_bad_record_never_blocks_the_queue() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let mut phone = Phone::new(&app, &tenant.field.tokens.access);
    phone.pull().await;
    let conflicting = observation("00000000-0000-7000-8000-00000000000c", "first");
    phone.push(created("observations", vec![conflicting.clone()])).await;
    // Another device of the user edits it, so this phone's next edit is stale.
    let tablet_tokens = app.login("tyreso", "field", PASSWORD, "field-tablet").await;
    let mut tablet = Phone::new(&app, &tablet_tokens.access);
    tablet.pull().await;
    let mut from_tablet = conflicting.clone();
    from_tablet["note"] = json!("edited on the tablet");
    assert_eq!(
        status_of(
            &tablet.push(updated("observations", vec![from_tablet])).await,
            "00000000-0000-7000-8000-00000000000c"
        ),
        "applied"
    );

    let valid = observation("00000000-0000-7000-8000-00000000000a", "ok");
    let mut invalid = observation("00000000-0000-7000-8000-00000000000b", "bad");
    invalid["severity"] = json!(9);
    invalid["category"] = json!("aliens");
    let mut stale = conflicting.clone();
    stale["note"] = json!("edited on the phone");
    let body =
        phone.push(json!({ "observations": { "created": [valid, invalid], "updated": [stale], "deleted": [] } })).await;
    assert_eq!(status_of(&body, "00000000-0000-7000-8000-00000000000a"), "applied");
    assert_eq!(status_of(&body, "00000000-0000-7000-8000-00000000000b"), "quarantined");
    assert_eq!(status_of(&body, "00000000-0000-7000-8000-00000000000c"), "conflict");
    assert_eq!(body["experimentalRejectedIds"], json!({ "observations": ["00000000-0000-7000-8000-00000000000c"] }));
    let quarantined = body["results"].as_array().unwrap().iter().find(|r| r["status"] == "quarantined").unwrap();
    let fields: Vec<&str> =
        quarantined["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["category", "severity"]);

    // The invalid record comes back with its reason; coordinators see it in the quarantine list.
    let pulled = phone.pull().await;
    let back = pulled["observations"]["updated"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "00000000-0000-7000-8000-00000000000b")
        .unwrap();
    assert!(back["sync_error"].as_str().unwrap().contains("severity"), "{back}");
    // Every device of the author gets the fields at fault with their codes, as the push answered.
    let listed: Value = serde_json::from_str(back["sync_errors"].as_str().unwrap()).unwrap();
    assert_eq!(listed, quarantined["errors"], "{back}");
    assert_eq!(back["note"], "bad");
    let list: Vec<Value> =
        app.get("/api/v1/sync/quarantine", &tenant.coordinator.tokens.access).await.json().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], "00000000-0000-7000-8000-00000000000b");
    assert_eq!(list[0]["payload"]["category"], "aliens");
    assert_eq!(list[0]["username"], "field");
    assert_eq!(list[0]["resolved"], false);
    // The conflicting edit arrives merged after the pull: the tablet's note was pulled.
    let merged = pulled["observations"]["updated"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "00000000-0000-7000-8000-00000000000c")
        .unwrap();
    assert_eq!(merged["note"], "edited on the tablet");

    // The user fixes the record; it is accepted and the quarantine is resolved.
    let mut fixed = observation("00000000-0000-7000-8000-00000000000b", "bad, now fixed");
    fixed["_status"] = json!("updated");
    let body = phone.push(updated("observations", vec![fixed])).await;
    assert_eq!(status_of(&body, "00000000-0000-7000-8000-00000000000b"), "applied");
    let list: Vec<Value> =
        app.get("/api/v1/sync/quarantine", &tenant.coordinator.tokens.access).await.json().await.unwrap();
    assert_eq!(list[0]["resolved"], true);
    let pulled = phone.pull().await;
    let clean = pulled["observations"]["updated"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "00000000-0000-7000-8000-00000000000b")
        .unwrap();
    assert_eq!(clean["sync_error"], Value::Null);
    assert_eq!(clean["sync_errors"], Value::Null);
}

#[tokio::test]
async fn reporters_own_the_content_and_coordinators_the_review() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let mut field = Phone::new(&app, &tenant.field.tokens.access);
    field.pull().await;
    let record = observation("00000000-0000-7000-8000-0000000000f1", "Trasig belysning i tunneln");
    field.push(created("observations", vec![record.clone()])).await;
    field.pull().await;

    let mut coordinator = Phone::new(&app, &tenant.coordinator.tokens.access);
    let pulled = coordinator.pull().await;
    let mut reviewed = pulled["observations"]["created"][0].clone();
    reviewed["status"] = json!("forwarded");
    reviewed["review_comment"] = json!("Skickat till Tybo");
    reviewed["note"] = json!("the coordinator may not rewrite the note");
    let body = coordinator.push(updated("observations", vec![reviewed])).await;
    assert_eq!(status_of(&body, "00000000-0000-7000-8000-0000000000f1"), "applied");

    // Meanwhile the reporter, who has not pulled since, edits the note: no conflict.
    let mut edited = record.clone();
    edited["note"] = json!("Trasig belysning i tunneln, två lampor");
    edited["status"] = json!("closed");
    let body = field.push(updated("observations", vec![edited])).await;
    assert_eq!(status_of(&body, "00000000-0000-7000-8000-0000000000f1"), "applied");

    let merged = &field.pull().await["observations"]["updated"][0];
    assert_eq!(merged["note"], "Trasig belysning i tunneln, två lampor");
    assert_eq!(merged["status"], "forwarded", "a field user's status is ignored");
    assert_eq!(merged["review_comment"], "Skickat till Tybo");
}

#[tokio::test]
async fn deletes_are_answered_and_sent_down() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let mut phone = Phone::new(&app, &tenant.field.tokens.access);
    phone.pull().await;
    phone.push(created("observations", vec![observation("00000000-0000-7000-8000-0000000000d1", "x")])).await;
    let mut coordinator = Phone::new(&app, &tenant.coordinator.tokens.access);
    coordinator.pull().await;
    let org = tenant.org_id.clone();
    app.seed_user(&org, "other", lagesbild::domain::identity::Role::Field, None);
    let other = app.login("tyreso", "other", PASSWORD, "other-phone").await;
    let intruder = Phone::new(&app, &other.access);
    let delete = json!({ "observations": { "created": [], "updated": [], "deleted": ["00000000-0000-7000-8000-0000000000d1"] } });
    let body = intruder.push(delete.clone()).await;
    assert_eq!(status_of(&body, "00000000-0000-7000-8000-0000000000d1"), "forbidden");
    assert_eq!(status_of(&phone.push(delete.clone()).await, "00000000-0000-7000-8000-0000000000d1"), "applied");
    assert_eq!(status_of(&phone.push(delete).await, "00000000-0000-7000-8000-0000000000d1"), "unchanged");
    let changes = coordinator.pull().await;
    assert_eq!(ids(&changes, "observations", "deleted"), ["00000000-0000-7000-8000-0000000000d1"]);
}

#[tokio::test]
async fn unknown_columns_and_server_owned_columns_are_ignored() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let mut phone = Phone::new(&app, &tenant.field.tokens.access);
    phone.pull().await;
    let mut record = observation("00000000-0000-7000-8000-0000000000e1", "x");
    record["favourite_colour"] = json!("blue");
    record["status"] = json!("closed");
    record["redacted"] = json!(true);
    record["area_code"] = json!("NOPE");
    let body = phone.push(created("observations", vec![record])).await;
    assert_eq!(status_of(&body, "00000000-0000-7000-8000-0000000000e1"), "applied");
    let stored = &phone.pull().await["observations"]["updated"][0];
    assert_eq!(stored["status"], "new");
    assert_eq!(stored["redacted"], false);
    assert_eq!(stored["area_code"], Value::Null);
    assert!(stored.get("favourite_colour").is_none());
    let down_only = phone.push(created("categories", vec![json!({ "id": "x", "slug": "mine" })])).await;
    assert_eq!(status_of(&down_only, "x"), "forbidden");
}

#[tokio::test]
async fn pulls_page_through_everything_and_end_with_the_snapshot_timestamp() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let phone = Phone::new(&app, &tenant.field.tokens.access);
    let records: Vec<Value> = (0..30).map(|n| observation(&format!("00000000-0000-7000-8000-{n:012}"), "p")).collect();
    phone.push(created("observations", records)).await;
    let mut seen = Vec::new();
    let mut url = "/api/v1/sync/pull?last_pulled_at=null&limit=7".to_owned();
    let mut pages = 0;
    let final_timestamp = loop {
        let body: Value = app.get(&url, &tenant.field.tokens.access).await.json().await.unwrap();
        pages += 1;
        for table in ["categories", "activity_types", "units", "observations", "activity_logs"] {
            for bucket in ["created", "updated"] {
                for item in body["changes"][table][bucket].as_array().unwrap() {
                    seen.push(format!("{table}/{}", item["id"].as_str().unwrap()));
                }
            }
        }
        if body["has_more"] == false {
            break body["timestamp"].as_i64().unwrap();
        }
        url = format!(
            "/api/v1/sync/pull?last_pulled_at=null&limit=7&page_token={}",
            body["page_token"].as_str().unwrap()
        );
    };
    let total = 13 + 10 + 1 + 30;
    assert_eq!(seen.len(), total, "every record exactly once across pages");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), total);
    assert_eq!(pages, total.div_ceil(7));
    let info: Value = app
        .get("/api/v1/sync/pull?last_pulled_at=null&limit=1000", &tenant.field.tokens.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["timestamp"].as_i64().unwrap(), final_timestamp);
}

#[tokio::test]
async fn limits_versions_and_bad_parameters_get_problem_documents() {
    let app = spawn_app_with(|settings| {
        settings.max_push_records = 3;
        settings.max_push_bytes = 2048;
    })
    .await;
    let tenant = app.tenant("tyreso").await;
    let phone = Phone::new(&app, &tenant.field.tokens.access);
    let records: Vec<Value> = (0..4).map(|n| json!({ "id": format!("r{n}") })).collect();
    let too_many = phone.push_response(created("observations", records)).await;
    assert_problem(too_many, 413, "too_many_records").await;
    let big: Vec<Value> = (0..2).map(|n| observation(&format!("big{n}"), &"x".repeat(1500))).collect();
    let too_big = phone.push_response(created("observations", big)).await;
    assert_problem(too_big, 413, "payload_too_large").await;

    let old = app.get("/api/v1/sync/pull?last_pulled_at=null&schema_version=99", &tenant.field.tokens.access).await;
    let body = assert_problem(old, 426, "schema_version_unsupported").await;
    assert!(body["detail"].as_str().unwrap().contains("update the app"));
    let bad_cursor = app.get("/api/v1/sync/pull?last_pulled_at=yesterday", &tenant.field.tokens.access).await;
    assert_eq!(assert_problem(bad_cursor, 422, "validation_failed").await["errors"][0]["field"], "last_pulled_at");
    let bad_token = app.get("/api/v1/sync/pull?page_token=forged", &tenant.field.tokens.access).await;
    assert_eq!(assert_problem(bad_token, 422, "validation_failed").await["errors"][0]["field"], "page_token");
    let bad_shape = phone.push_response(json!({ "observations": { "created": "nope" } })).await;
    assert_eq!(assert_problem(bad_shape, 422, "validation_failed").await["errors"][0]["field"], "observations.created");
}

#[tokio::test]
async fn compressed_push_bodies_are_accepted() {
    use std::io::Write;
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let body =
        serde_json::to_vec(&created("observations", vec![observation("00000000-0000-7000-8000-0000000000a1", "gz")]))
            .unwrap();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(&body).unwrap();
    let response = app
        .client
        .post(app.url("/api/v1/sync/push?last_pulled_at=null"))
        .bearer_auth(&tenant.field.tokens.access)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gzip.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let result: Value = response.json().await.unwrap();
    assert_eq!(status_of(&result, "00000000-0000-7000-8000-0000000000a1"), "applied");

    let body =
        serde_json::to_vec(&created("observations", vec![observation("00000000-0000-7000-8000-0000000000a2", "zstd")]))
            .unwrap();
    let response = app
        .client
        .post(app.url("/api/v1/sync/push?last_pulled_at=null"))
        .bearer_auth(&tenant.field.tokens.access)
        .header("content-type", "application/json")
        .header("content-encoding", "zstd")
        .body(zstd::encode_all(&body[..], 3).unwrap())
        .send()
        .await
        .unwrap();
    let result: Value = response.json().await.unwrap();
    assert_eq!(status_of(&result, "00000000-0000-7000-8000-0000000000a2"), "applied");
}

#[tokio::test]
async fn clocks_are_data_and_notes_are_redacted() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let now = chrono::Utc::now().timestamp_millis();
    let hour = 3_600_000;
    let mut record = observation("00000000-0000-7000-8000-0000000000b1", "Killen gav sitt nummer 070-123 45 67");
    record["observed_at"] = json!(now - hour - 60_000);
    let response = app
        .client
        .post(app.url("/api/v1/sync/push?last_pulled_at=null"))
        .bearer_auth(&tenant.field.tokens.access)
        .header("x-client-time", (now - hour).to_string())
        .header("x-pending-count", "7")
        .json(&created("observations", vec![record]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut phone = Phone::new(&app, &tenant.field.tokens.access);
    let stored = phone.pull().await["observations"]["updated"][0].clone();
    assert_eq!(stored["clock_corrected"], true);
    let corrected = stored["observed_at"].as_i64().unwrap();
    assert!((corrected - (now - 60_000)).abs() < 5_000, "the observed time is moved by the device's skew");
    assert_eq!(stored["observed_at_device"].as_i64().unwrap(), now - hour - 60_000);
    assert_eq!(stored["redacted"], true);
    assert!(!stored["note"].as_str().unwrap().contains("070"), "{stored}");

    let devices: Vec<Value> = app.get("/api/v1/devices", &tenant.coordinator.tokens.access).await.json().await.unwrap();
    let device = devices.iter().find(|d| d["id"] == tenant.field.device.as_str()).unwrap();
    let skew = device["clock_skew_ms"].as_i64().unwrap();
    assert!((skew - hour).abs() < 5_000, "{device}");
    assert!(device["last_push_at"].is_string() && device["last_pull_at"].is_string());

    // The phone sends the corrected time back unchanged with an edit: it is not corrected twice.
    let mut edited = stored.clone();
    edited["note"] = json!("ny text");
    phone.push(updated("observations", vec![edited])).await;
    let again = phone.pull().await["observations"]["updated"][0].clone();
    assert_eq!(again["observed_at"].as_i64().unwrap(), corrected);
}

#[tokio::test]
async fn a_scope_change_brings_a_replacement_snapshot() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let mut phone = Phone::new(&app, &tenant.field.tokens.access);
    phone.pull().await;
    phone.push(created("observations", vec![observation("00000000-0000-7000-8000-000000000051", "x")])).await;
    phone.pull().await;
    let path = format!("/api/v1/users/{}", tenant.field.id);
    app.patch(&path, &tenant.admin.tokens.access, &json!({ "role": "partner" })).await;
    let refreshed = tokens_of(app.refresh_response(&tenant.field.tokens.refresh).await.json().await.unwrap());
    phone.token = refreshed.access;
    let changes = phone.pull().await;
    assert_eq!(changes["strategy"], "replacement");
    assert!(ids(&changes, "observations", "created").is_empty() && ids(&changes, "observations", "updated").is_empty());
    assert_eq!(ids(&changes, "categories", "created").len(), 13);
    // The next pull is incremental again.
    assert!(phone.pull().await.get("strategy").is_none());
}

#[tokio::test]
async fn a_cursor_older_than_purged_tombstones_gets_a_replacement() {
    let app = spawn_app_with(|settings| {
        settings.tombstone_horizon_days = 0;
        settings.tombstone_purge_interval_secs = 0;
    })
    .await;
    let tenant = app.tenant("tyreso").await;
    let mut phone = Phone::new(&app, &tenant.field.tokens.access);
    phone.push(created("observations", vec![observation("00000000-0000-7000-8000-0000000000e7", "x")])).await;
    phone.pull().await;
    let tablet_tokens = app.login("tyreso", "field", PASSWORD, "field-tablet").await;
    let mut tablet = Phone::new(&app, &tablet_tokens.access);
    tablet.pull().await;
    let delete = json!({ "observations": { "created": [], "updated": [], "deleted": ["00000000-0000-7000-8000-0000000000e7"] } });
    assert_eq!(status_of(&phone.push(delete).await, "00000000-0000-7000-8000-0000000000e7"), "applied");
    // Tombstones older than the horizon (here: all) are purged soon after.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut probe = Phone { app: &app, token: tablet.token.clone(), cursor: tablet.cursor, schema_version: 1 };
        let changes = probe.pull().await;
        if changes.get("strategy").is_some() {
            assert!(ids(&changes, "observations", "created").is_empty());
            assert!(ids(&changes, "observations", "deleted").is_empty(), "a snapshot carries no deletes");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the tombstone was never purged");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn another_user_on_the_same_phone_gets_a_replacement() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let mut phone = Phone::new(&app, &tenant.field.tokens.access);
    phone.push(created("observations", vec![observation("00000000-0000-7000-8000-0000000000e8", "x")])).await;
    phone.pull().await;
    app.seed_user(&tenant.org_id, "other", lagesbild::domain::identity::Role::Field, None);
    let other = app.login("tyreso", "other", PASSWORD, &tenant.field.device).await;
    phone.token = other.access;
    let changes = phone.pull().await;
    assert_eq!(changes["strategy"], "replacement");
    assert!(ids(&changes, "observations", "created").is_empty());
}

#[tokio::test]
async fn a_version_of_a_deleted_record_brings_the_delete_again() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let mut phone = Phone::new(&app, &tenant.field.tokens.access);
    let record = observation("00000000-0000-7000-8000-0000000000e9", "x");
    phone.push(created("observations", vec![record.clone()])).await;
    phone.pull().await;
    let tablet_tokens = app.login("tyreso", "field", PASSWORD, "field-tablet").await;
    let mut tablet = Phone::new(&app, &tablet_tokens.access);
    tablet.pull().await;
    phone.push(json!({ "observations": { "created": [], "updated": [], "deleted": ["00000000-0000-7000-8000-0000000000e9"] } })).await;
    tablet.pull().await;
    // The tablet somehow still holds the record, edited (even invalidly), and pushes it.
    let mut edited = record.clone();
    edited["severity"] = json!(42);
    let body = tablet.push(updated("observations", vec![edited])).await;
    assert_eq!(status_of(&body, "00000000-0000-7000-8000-0000000000e9"), "conflict");
    assert_eq!(ids(&tablet.pull().await, "observations", "deleted"), ["00000000-0000-7000-8000-0000000000e9"]);
}

#[tokio::test]
async fn admins_edit_reference_data_and_phones_get_the_change() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let mut phone = Phone::new(&app, &tenant.field.tokens.access);
    phone.pull().await;
    let admin = &tenant.admin.tokens.access;
    let created_entry = app
        .post(
            "/api/v1/categories",
            admin,
            &json!({ "slug": "e_scooters", "label_sv": "Elsparkcyklar", "label_en": "E-scooters" }),
        )
        .await;
    assert_eq!(created_entry.status(), 201);
    let entry: Value = created_entry.json().await.unwrap();
    assert_eq!(entry["sort_order"], 130);
    let graffiti = app
        .get("/api/v1/categories", admin)
        .await
        .json::<Vec<Value>>()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c["slug"] == "graffiti")
        .unwrap();
    let retired = app
        .patch(&format!("/api/v1/categories/{}", graffiti["id"].as_str().unwrap()), admin, &json!({ "active": false }))
        .await;
    assert_eq!(retired.json::<Value>().await.unwrap()["active"], false);
    let changes = phone.pull().await;
    let slugs: Vec<&str> = ["created", "updated"]
        .iter()
        .flat_map(|b| changes["categories"][b].as_array().unwrap())
        .map(|c| c["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs.len(), 2);
    assert!(slugs.contains(&"e_scooters") && slugs.contains(&"graffiti"));

    // The new category can be used at once; the retired one stays valid for records.
    let mut record = observation("00000000-0000-7000-8000-0000000000c5", "sparkcyklar i diket");
    record["category"] = json!("e_scooters");
    assert_eq!(
        status_of(&phone.push(created("observations", vec![record])).await, "00000000-0000-7000-8000-0000000000c5"),
        "applied"
    );
    let duplicate =
        app.post("/api/v1/activity-types", admin, &json!({ "slug": "event", "label_sv": "x", "label_en": "x" })).await;
    assert_problem(duplicate, 409, "already_exists").await;
    let by_field = app
        .post(
            "/api/v1/categories",
            &tenant.field.tokens.access,
            &json!({ "slug": "x", "label_sv": "x", "label_en": "x" }),
        )
        .await;
    assert_problem(by_field, 403, "forbidden").await;
    let types: Vec<Value> = app.get("/api/v1/activity-types", &tenant.field.tokens.access).await.json().await.unwrap();
    assert_eq!(types.len(), 10);
}

#[tokio::test]
async fn positions_outside_the_organisations_rectangle_are_quarantined_and_refused_notes_are_redacted_too() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let output = crate::cli::lagesbild(&app)
        .args(["org", "bbox", "--org", "tyreso", "--bbox", "59.15,18.10,59.32,18.45"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let phone = Phone::new(&app, &tenant.field.tokens.access);
    let inside = observation("00000000-0000-7000-8000-0000000000f7", "inne");
    let mut outside = observation("00000000-0000-7000-8000-0000000000f8", "Ring mig på 070-123 45 67");
    outside["lat"] = json!(57.7);
    outside["lon"] = json!(11.97);
    let body = phone.push(created("observations", vec![inside, outside])).await;
    assert_eq!(status_of(&body, "00000000-0000-7000-8000-0000000000f7"), "applied");
    assert_eq!(status_of(&body, "00000000-0000-7000-8000-0000000000f8"), "quarantined");
    let result = body["results"].as_array().unwrap().iter().find(|r| r["status"] == "quarantined").unwrap();
    assert_eq!(result["errors"][0]["field"], "lat");
    assert_eq!(result["errors"][0]["code"], "outside_organisation");
    let list: Vec<Value> =
        app.get("/api/v1/sync/quarantine", &tenant.coordinator.tokens.access).await.json().await.unwrap();
    let note = list[0]["payload"]["note"].as_str().unwrap();
    assert!(!note.contains("070"), "a refused record's note is redacted before it is kept: {note}");
    let bad = crate::cli::lagesbild(&app)
        .args(["org", "bbox", "--org", "tyreso", "--bbox", "59.3,18,59.1"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
}

#[tokio::test]
async fn one_push_may_name_a_record_more_than_once() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let mut phone = Phone::new(&app, &tenant.field.tokens.access);
    phone.pull().await;
    let (kept, dropped) = ("0193a0f0-0000-7000-8000-0000000000a1", "0193a0f0-0000-7000-8000-0000000000a2");
    let mut edited = observation(kept, "Andra versionen");
    edited["severity"] = json!(5);
    // Created, edited and, for the other record, created and deleted: all in one push.
    let body = phone
        .push(json!({ "observations": {
            "created": [observation(kept, "Första versionen"), observation(dropped, "Strax borta")],
            "updated": [edited],
            "deleted": [dropped],
        }}))
        .await;
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 4, "{body}");
    assert_eq!(results[0]["status"], "applied");
    assert_eq!(results[1]["status"], "applied");
    assert_eq!(results[3]["status"], "applied", "the delete of a record created in the same push");

    // Another device sees exactly what the results say: the edit applied or refused as a
    // conflict, never lost half-way, and the deleted record gone.
    let second = app.login("tyreso", "field", PASSWORD, "field-tablet").await;
    let mut tablet = Phone::new(&app, &second.access);
    let pulled = tablet.pull().await;
    assert_eq!(ids(&pulled, "observations", "created"), [kept]);
    let stored = &pulled["observations"]["created"][0];
    match results[2]["status"].as_str().unwrap() {
        "applied" => {
            assert_eq!((stored["note"].as_str(), stored["severity"].as_i64()), (Some("Andra versionen"), Some(5)))
        }
        "conflict" => {
            assert_eq!((stored["note"].as_str(), stored["severity"].as_i64()), (Some("Första versionen"), Some(3)))
        }
        other => panic!("unexpected status {other}: {body}"),
    }
    let history: Vec<Value> = app
        .get(&format!("/api/v1/observations/{dropped}/history"), &tenant.coordinator.tokens.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history.iter().filter(|entry| entry["change"] == "delete").count(), 1, "{history:?}");
}

#[tokio::test]
async fn a_large_pull_comes_zstd_compressed_when_asked_and_plain_otherwise() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let mut phone = Phone::new(&app, &tenant.field.tokens.access);
    phone.pull().await;
    let records: Vec<Value> = (0..400)
        .map(|i| {
            observation(&format!("0193a0f0-0000-7000-8000-{i:012}"), &format!("Observation nummer {i} vid torget"))
        })
        .collect();
    let body = phone.push(created("observations", records)).await;
    assert_eq!(body["results"].as_array().unwrap().iter().filter(|r| r["status"] == "applied").count(), 400);

    let pull = |encoding: &'static str| {
        app.client
            .get(app.url("/api/v1/sync/pull?last_pulled_at=null"))
            .bearer_auth(&tenant.field.tokens.access)
            .header("accept-encoding", encoding)
            .send()
    };
    let compressed = pull("gzip;q=0.5, zstd").await.unwrap();
    assert_eq!(compressed.status(), 200);
    assert_eq!(compressed.headers()["content-encoding"], "zstd");
    assert_eq!(compressed.headers()["content-type"], "application/json");
    let bytes = compressed.bytes().await.unwrap();
    let decoded: Value = serde_json::from_slice(&zstd::decode_all(&bytes[..]).unwrap()).unwrap();
    // This device pushed them, so they come back in `updated`.
    assert_eq!(ids(&decoded["changes"], "observations", "updated").len(), 400);

    // Without zstd (or with q=0) the answer is not zstd: plain, or whatever else was asked.
    let plain = pull("zstd;q=0").await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain: Value = plain.json().await.unwrap();
    assert_eq!(decoded["changes"], plain["changes"]);
}
