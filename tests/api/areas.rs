//! Areas: import, assignment at ingest and by the reassignment job, and the area picture with
//! partner suppression.

use crate::helpers::{TestApp, assert_problem, spawn_app};
use serde_json::{Value, json};

/// A rectangle as a GeoJSON Polygon.
pub fn rect(lon: f64, lat: f64, w: f64, h: f64) -> Value {
    json!({ "type": "Polygon", "coordinates": [[[lon, lat], [lon + w, lat], [lon + w, lat + h], [lon, lat + h], [lon, lat]]] })
}

fn feature(code: &str, name: &str, parent: Option<&str>, geometry: Value) -> Value {
    json!({ "type": "Feature", "properties": { "code": code, "name": name, "parent_code": parent }, "geometry": geometry })
}

/// A district with one neighbourhood inside it, and another district beside it.
pub fn tyreso() -> Value {
    json!({ "type": "FeatureCollection", "features": [
        feature("TY", "Tyresö", None, rect(18.20, 59.20, 0.10, 0.06)),
        feature("GR", "Granängsringen", Some("TY"), rect(18.22, 59.22, 0.02, 0.01)),
        feature("TB", "Trollbäcken", None, rect(18.30, 59.20, 0.05, 0.06)),
    ]})
}

pub fn observation(id: &str, lat: f64, lon: f64) -> Value {
    json!({ "id": id, "category": "vandalism", "severity": 3, "perceived_safety": 2, "note": "",
            "lat": lat, "lon": lon, "observed_at": chrono::Utc::now().timestamp_millis() - 3_600_000 })
}

pub async fn push(app: &TestApp, token: &str, records: Vec<Value>) {
    let response = app
        .post("/api/v1/sync/push?last_pulled_at=null", token, &json!({ "observations": { "created": records } }))
        .await;
    assert_eq!(response.status(), 200);
}

pub async fn area_of(app: &TestApp, token: &str, id: &str) -> Value {
    let record: Value = app.get(&format!("/api/v1/observations/{id}"), token).await.json().await.unwrap();
    record["area_code"].clone()
}

pub async fn wait_for_jobs(app: &TestApp, token: &str) -> Vec<Value> {
    for _ in 0..200 {
        let jobs: Vec<Value> = app.get("/api/v1/areas/jobs", token).await.json().await.unwrap();
        for job in &jobs {
            assert!(job["done"].as_i64().unwrap() <= job["total"].as_i64().unwrap(), "progress past its total: {job}");
        }
        if jobs.iter().all(|job| job["state"] != "running") {
            return jobs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the reassignment jobs did not finish");
}

#[tokio::test]
async fn areas_import_all_or_nothing_and_idempotently() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let admin = &tenant.admin.tokens.access;
    assert_eq!(app.post("/api/v1/areas", &tenant.coordinator.tokens.access, &tyreso()).await.status(), 403);

    let first: Value = app.post("/api/v1/areas", admin, &tyreso()).await.json().await.unwrap();
    assert_eq!(
        (first["created"].as_u64(), first["updated"].as_u64(), first["unchanged"].as_u64()),
        (Some(3), Some(0), Some(0))
    );
    let again: Value = app.post("/api/v1/areas", admin, &tyreso()).await.json().await.unwrap();
    assert_eq!((again["created"].as_u64(), again["unchanged"].as_u64()), (Some(0), Some(3)));
    assert_eq!(again["job"], Value::Null, "nothing changed, nothing to reassign");

    // One bad feature refuses the whole file, and names the feature.
    let mut bad = tyreso();
    bad["features"][0]["properties"]["name"] = json!("Tyresö kommun");
    bad["features"][2]["geometry"]["coordinates"][0][4] = json!([18.0, 59.0]);
    let response = app.post("/api/v1/areas", admin, &bad).await;
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "features[2].geometry", "{problem}");
    assert_eq!(problem["errors"][0]["code"], "ring_not_closed");
    let listed: Value = app.get("/api/v1/areas", admin).await.json().await.unwrap();
    let names: Vec<&str> =
        listed["features"].as_array().unwrap().iter().map(|f| f["properties"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Granängsringen", "Trollbäcken", "Tyresö"], "the refused file changed nothing");
    assert_eq!(listed["features"][0]["properties"]["parent_code"], "TY");
    assert_eq!(listed["features"][0]["bbox"], json!([18.22, 59.22, 18.24, 59.23]));

    // Phones get them in a pull: outline and bounding box as JSON text, never the exact shape.
    let pull: Value =
        app.get("/api/v1/sync/pull?last_pulled_at=null", &tenant.field.tokens.access).await.json().await.unwrap();
    let synced = pull["changes"]["areas"]["created"].as_array().unwrap();
    assert_eq!(synced.len(), 3);
    let gr = synced.iter().find(|a| a["code"] == "GR").unwrap();
    assert_eq!((gr["name"].as_str(), gr["parent_code"].as_str()), (Some("Granängsringen"), Some("TY")));
    let bbox: Value = serde_json::from_str(gr["bbox"].as_str().unwrap()).unwrap();
    assert_eq!(bbox, json!([18.22, 59.22, 18.24, 59.23]));
    let outline: Value = serde_json::from_str(gr["outline"].as_str().unwrap()).unwrap();
    assert_eq!(outline["type"], "Polygon");
    // A later import's change reaches the same phone as an update.
    let cursor = pull["timestamp"].as_i64().unwrap();
    let mut renamed = tyreso();
    renamed["features"][2]["properties"]["name"] = json!("Trollbäcken centrum");
    app.post("/api/v1/areas", admin, &renamed).await;
    let next: Value = app
        .get(&format!("/api/v1/sync/pull?last_pulled_at={cursor}"), &tenant.field.tokens.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next["changes"]["areas"]["updated"][0]["name"], "Trollbäcken centrum");

    // Another organisation sees none of them.
    let other = app.tenant("haninge").await;
    let theirs: Value = app.get("/api/v1/areas", &other.coordinator.tokens.access).await.json().await.unwrap();
    assert_eq!(theirs["features"], json!([]));
}

/// A closed star of `n` points around (lon, lat), alternating between radius `r` and `r / 2`:
/// every segment a long spoke.
fn star(lon: f64, lat: f64, r: f64, n: usize) -> Vec<[f64; 2]> {
    let mut positions: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let angle = i as f64 / n as f64 * std::f64::consts::TAU;
            let radius = if i % 2 == 0 { r } else { r / 2.0 };
            [lon + radius * angle.cos(), lat + radius * angle.sin()]
        })
        .collect();
    positions.push(positions[0]);
    positions
}

fn star_collection(positions: &[[f64; 2]]) -> Value {
    let geometry = json!({ "type": "Polygon", "coordinates": [positions] });
    json!({ "type": "FeatureCollection", "features": [feature("ST", "Stjärnan", None, geometry)] })
}

#[tokio::test]
async fn a_spiky_boundary_of_fifty_thousand_vertices_is_judged_whole() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let admin = &tenant.admin.tokens.access;
    let spiky = star(18.25, 59.23, 0.02, 50_000);

    // Every spoke's box meets thousands of others: the validation compares neighbours along a
    // sweep line, and the outline for phones is simplified without recursing once per vertex.
    let response = app.post("/api/v1/areas", admin, &star_collection(&spiky)).await;
    assert_eq!(response.status(), 200);
    let imported: Value = response.json().await.unwrap();
    assert_eq!(imported["created"], 1);

    // One inner point moved three places on: its spokes cross the two spokes after it.
    let mut crossed = spiky.clone();
    let [lon, lat] = spiky[1004];
    crossed[1001] = [18.25 + (lon - 18.25) / 2.0, 59.23 + (lat - 59.23) / 2.0];
    let response = app.post("/api/v1/areas", admin, &star_collection(&crossed)).await;
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "features[0].geometry", "{problem}");
    assert_eq!(problem["errors"][0]["code"], "self_intersection");
    let message = problem["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("polygon 0, ring 0 crosses itself at ["), "{problem}");
    let listed: Value = app.get("/api/v1/areas", admin).await.json().await.unwrap();
    let ring = &listed["features"][0]["geometry"]["coordinates"][0];
    assert_eq!(ring[1001], json!(spiky[1001]), "the refused file changed nothing");
}

#[tokio::test]
async fn records_get_the_smallest_area_at_ingest_and_are_reassigned_when_areas_change() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let (field, coordinator, admin) =
        (&tenant.field.tokens.access, &tenant.coordinator.tokens.access, &tenant.admin.tokens.access);
    // Before any area exists: outside areas.
    push(&app, field, vec![observation("0193c000-0000-7000-8000-000000000001", 59.225, 18.23)]).await;
    assert_eq!(area_of(&app, coordinator, "0193c000-0000-7000-8000-000000000001").await, Value::Null);

    let imported: Value = app.post("/api/v1/areas", admin, &tyreso()).await.json().await.unwrap();
    assert_eq!(imported["job"]["state"], "running");
    let jobs = wait_for_jobs(&app, coordinator).await;
    assert_eq!(jobs[0]["changed"], 1);
    assert_eq!(area_of(&app, coordinator, "0193c000-0000-7000-8000-000000000001").await, "GR");

    // At ingest: the smallest containing area; a shared edge goes to the lower code; outside
    // every area stays outside, never dropped.
    push(
        &app,
        field,
        vec![
            observation("0193c000-0000-7000-8000-000000000002", 59.21, 18.21),
            observation("0193c000-0000-7000-8000-000000000003", 59.23, 18.30),
            observation("0193c000-0000-7000-8000-000000000004", 59.50, 18.10),
            observation("0193c000-0000-7000-8000-000000000005", 59.221, 18.221),
        ],
    )
    .await;
    assert_eq!(area_of(&app, coordinator, "0193c000-0000-7000-8000-000000000002").await, "TY");
    assert_eq!(
        area_of(&app, coordinator, "0193c000-0000-7000-8000-000000000003").await,
        "TB",
        "TB < TY on their shared edge"
    );
    assert_eq!(area_of(&app, coordinator, "0193c000-0000-7000-8000-000000000004").await, Value::Null);
    assert_eq!(area_of(&app, coordinator, "0193c000-0000-7000-8000-000000000005").await, "GR");

    // The picture counts a record in its area and every area above it.
    let picture: Value = app.get("/api/v1/picture", coordinator).await.json().await.unwrap();
    let row = |code: &str| picture["areas"].as_array().unwrap().iter().find(|r| r["area"] == code).cloned().unwrap();
    assert_eq!(row("GR")["observations"], 2);
    assert_eq!(row("TY")["observations"], 3, "Tyresö holds Granängsringen");
    assert_eq!(row("TY")["name"], "Tyresö");
    assert_eq!(row("TB")["observations"], 1);
    assert_eq!(picture["outside_areas"]["observations"], 1);

    // Moving Granängsringen moves its records, and they reach phones with a new sequence.
    let mut moved = tyreso();
    moved["features"][1]["geometry"] = rect(18.25, 59.24, 0.02, 0.01);
    let imported: Value = app.post("/api/v1/areas", admin, &moved).await.json().await.unwrap();
    assert_eq!(imported["updated"], 1);
    wait_for_jobs(&app, coordinator).await;
    assert_eq!(area_of(&app, coordinator, "0193c000-0000-7000-8000-000000000001").await, "TY");
    assert_eq!(area_of(&app, coordinator, "0193c000-0000-7000-8000-000000000005").await, "TY");
}

#[tokio::test]
async fn partners_see_their_shared_areas_with_small_groups_suppressed() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let (field, admin, partner) =
        (&tenant.field.tokens.access, &tenant.admin.tokens.access, &tenant.partner.tokens.access);
    app.post("/api/v1/areas", admin, &tyreso()).await;
    // Four in Granängsringen, two elsewhere in Tyresö, five in Trollbäcken.
    let mut records = Vec::new();
    for i in 0..4 {
        records.push(observation(&format!("0193d000-0000-7000-8000-00000000000{i}"), 59.2251, 18.2301));
    }
    for i in 4..6 {
        records.push(observation(
            &format!("0193d000-0000-7000-8000-00000000000{i}"),
            59.205,
            18.205 + f64::from(i) * 0.01,
        ));
    }
    for i in 6..11 {
        records.push(observation(&format!("0193d000-0000-7000-8000-0000000000{i:02}"), 59.23, 18.32));
    }
    push(&app, field, records).await;
    let share = app
        .client
        .put(app.url(&format!("/api/v1/users/{}/areas", tenant.partner.id)))
        .bearer_auth(admin)
        .json(&json!({ "areas": ["TY"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(share.status(), 200);

    // The partner disclosure rule: Granängsringen's four vandalism observations are a published
    // cell; the two recorded in Tyresö itself are fewer than k and are in no figure at all.
    let picture: Value = app.get("/api/v1/picture", partner).await.json().await.unwrap();
    let codes: Vec<&str> = picture["areas"].as_array().unwrap().iter().map(|r| r["area"].as_str().unwrap()).collect();
    assert_eq!(codes, ["GR", "TY"], "Tyresö and what it holds; not Trollbäcken");
    assert_eq!(picture["outside_areas"], Value::Null);
    let row = |code: &str| picture["areas"].as_array().unwrap().iter().find(|r| r["area"] == code).unwrap().clone();
    assert_eq!((row("TY")["observations"].clone(), row("GR")["observations"].clone()), (json!(4), json!(4)));
    assert_eq!(row("TY")["by_category"], json!({ "vandalism": 4 }));
    assert_eq!(row("TY")["share_after_dark"], Value::Null, "no share that would cut the cells by darkness");
    assert_eq!(row("TY")["presence"]["activities"], 0, "no published presence");

    // No hexagons: they would cut the same observations another way.
    let heat: Value = app.get("/api/v1/heatmap?resolution=9", partner).await.json().await.unwrap();
    assert_eq!(heat["features"], json!([]));
    assert_eq!(heat["total"], 4);

    // The area detail: no records, no hour-of-week, month or severity breakdowns.
    let detail: Value = app.get("/api/v1/areas/GR/picture", partner).await.json().await.unwrap();
    assert_eq!(detail["latest"], Value::Null, "partners never see a record");
    assert_eq!(detail["observations"], 4);
    assert_eq!((detail["severity_histogram"].clone(), detail["hour_of_week"].clone()), (json!([]), json!([])));
    assert_eq!(app.get("/api/v1/areas/TB/picture", partner).await.status(), 404);
    for (query, field) in [("hours=18-24", "hours"), ("after_dark=true", "after_dark"), ("period=2026", "period")] {
        let problem =
            assert_problem(app.get(&format!("/api/v1/picture?{query}"), partner).await, 422, "validation_failed").await;
        assert_eq!(
            (problem["errors"][0]["field"].as_str(), problem["errors"][0]["code"].as_str()),
            (Some(field), Some("not_for_partners"))
        );
    }
    let coordinator: Value =
        app.get("/api/v1/areas/GR/picture", &tenant.coordinator.tokens.access).await.json().await.unwrap();
    assert_eq!(coordinator["latest"].as_array().unwrap().len(), 4);
    assert_eq!(coordinator["severity_histogram"], json!([0, 0, 4, 0, 0]));
    assert_eq!(coordinator["hour_of_week"].as_array().unwrap().len(), 7);
}
