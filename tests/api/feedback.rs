//! Feedback (återkoppling): coordinators write it on areas or a measure; it syncs down to every
//! phone of the organisation (the `feedback` table, app schema version 2), changes and
//! withdrawals follow, and a phone whose app moves to version 2 gets what was written before.

use crate::areas::tyreso;
use crate::helpers::*;
use crate::sync::Phone;
use serde_json::{Value, json};

async fn created(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
    response.json().await.unwrap()
}

async fn delete(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client.delete(app.url(path)).bearer_auth(token).send().await.unwrap()
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .map(|l| l.iter().map(|v| v["id"].as_str().unwrap_or_else(|| v.as_str().unwrap())).collect())
        .unwrap_or_default()
}

fn phone<'a>(app: &'a TestApp, token: &str) -> Phone<'a> {
    Phone { schema_version: 2, ..Phone::new(app, token) }
}

#[tokio::test]
async fn feedback_on_an_area_reaches_every_phone_of_the_organisation_but_partners_and_changes_and_withdrawals_follow() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let other = app.tenant("nacka").await;
    let (coordinator, admin) = (&tenant.coordinator.tokens.access, &tenant.admin.tokens.access);
    app.post("/api/v1/areas", admin, &tyreso()).await;
    let mut field = phone(&app, &tenant.field.tokens.access);
    let mut partner = phone(&app, &tenant.partner.tokens.access);
    let mut stranger = phone(&app, &other.field.tokens.access);
    field.pull().await;

    let body = json!({ "body": " Lampan på gångvägen är lagad. Frågor: 070-123 45 67 ", "areas": ["GR"] });
    let written = created(app.post("/api/v1/feedback", coordinator, &body).await).await;
    let id = written["id"].as_str().unwrap().to_owned();
    assert_eq!(written["body"], "Lampan på gångvägen är lagad. Frågor: [telefonnummer borttaget]", "trimmed, redacted");
    assert_eq!((written["areas"].clone(), written["measure"].clone()), (json!(["GR"]), Value::Null));

    // New to a phone that had pulled before: `created`, with the areas as JSON text.
    let changes = field.pull().await;
    assert_eq!(ids(&changes["feedback"]["created"]), [id.as_str()], "{changes}");
    let raw = &changes["feedback"]["created"][0];
    assert_eq!(raw["area_codes"], "[\"GR\"]");
    assert_eq!(raw["body"], written["body"]);
    assert!(raw["created_at"].is_i64() && raw["measure_id"].is_null(), "{raw}");
    // A coordinator's phone gets it on a first sync; a partner's and another organisation's do not.
    let first = phone(&app, coordinator).pull().await;
    assert_eq!(ids(&first["feedback"]["created"]), [id.as_str()]);
    let partners = partner.pull().await;
    assert_eq!(partners["feedback"], json!({ "created": [], "updated": [], "deleted": [] }), "listed, empty");
    assert_eq!(ids(&stranger.pull().await["feedback"]["created"]), Vec::<&str>::new());
    assert_problem(
        app.get(&format!("/api/v1/feedback/{id}"), &other.coordinator.tokens.access).await,
        404,
        "not_found",
    )
    .await;

    // A change comes again in `updated`; a withdrawal in `deleted`, and leaves the API.
    let path = format!("/api/v1/feedback/{id}");
    let changed = app.patch(&path, admin, &json!({ "body": "Lampan är lagad sedan tisdag." })).await;
    assert_eq!(changed.status(), 200);
    let changes = field.pull().await;
    assert_eq!(ids(&changes["feedback"]["updated"]), [id.as_str()], "{changes}");
    assert_eq!(changes["feedback"]["updated"][0]["body"], "Lampan är lagad sedan tisdag.");
    assert_eq!(delete(&app, coordinator, &path).await.status(), 204);
    let changes = field.pull().await;
    assert_eq!(changes["feedback"]["deleted"], json!([id]), "{changes}");
    assert_problem(app.get(&path, &tenant.field.tokens.access).await, 404, "not_found").await;
    assert_eq!(delete(&app, coordinator, &path).await.status(), 404, "withdrawn once");
    let listed: Value = app.get("/api/v1/feedback", &tenant.field.tokens.access).await.json().await.unwrap();
    assert_eq!(listed, json!([]));
    // A first sync after the withdrawal has nothing to delete.
    assert_eq!(phone(&app, coordinator).pull().await["feedback"]["deleted"], json!([]));

    let audit: Value = app.get("/api/v1/audit", admin).await.json().await.unwrap();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["filters"]["id"] == id.as_str())
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["feedback.delete", "feedback.update", "feedback.create"], "{audit}");
}

#[tokio::test]
async fn feedback_on_a_measure_carries_its_title_and_areas_and_bad_input_names_the_field() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let coordinator = &tenant.coordinator.tokens.access;
    app.post("/api/v1/areas", &tenant.admin.tokens.access, &tyreso()).await;
    let measure = json!({
        "title": "Fältgång fredagskvällar", "responsible_unit": "falt", "areas": ["GR", "TB"],
        "planned_start": "2026-03-01", "effort": { "kind": "weekly_hours", "hours": 4.0 },
    });
    let measure = created(app.post("/api/v1/measures", coordinator, &measure).await).await;
    let measure_id = measure["id"].as_str().unwrap();

    let on_measure = json!({ "body": "Vi är ute fredagskvällar nu.", "measure": measure_id });
    let written = created(app.post("/api/v1/feedback", coordinator, &on_measure).await).await;
    assert_eq!(written["areas"], json!(["GR", "TB"]), "the measure's areas");
    assert_eq!(written["measure_title"], "Fältgång fredagskvällar");
    let narrowed = json!({ "body": "Nu även vid torget.", "measure": measure_id, "areas": ["TB"] });
    let narrowed = created(app.post("/api/v1/feedback", coordinator, &narrowed).await).await;
    assert_eq!(narrowed["areas"], json!(["TB"]));
    let raw = &phone(&app, &tenant.field.tokens.access).pull().await["feedback"]["created"];
    let synced = raw.as_array().unwrap().iter().find(|r| r["id"] == written["id"]).unwrap();
    assert_eq!(
        (synced["measure_id"].as_str(), synced["measure_title"].as_str()),
        (Some(measure_id), Some("Fältgång fredagskvällar"))
    );

    // Lists by measure and by area.
    let field = &tenant.field.tokens.access;
    let by_measure: Value =
        app.get(&format!("/api/v1/feedback?measure={measure_id}"), field).await.json().await.unwrap();
    assert_eq!(by_measure.as_array().unwrap().len(), 2);
    let by_area: Value = app.get("/api/v1/feedback?area=GR", field).await.json().await.unwrap();
    assert_eq!(ids(&by_area), [written["id"].as_str().unwrap()], "only the feedback naming GR");

    let long = "å".repeat(1001);
    for (body, field, code) in [
        (json!({ "areas": ["GR"] }), "body", "required"),
        (json!({ "body": "  ", "areas": ["GR"] }), "body", "required"),
        (json!({ "body": long, "areas": ["GR"] }), "body", "too_long"),
        (json!({ "body": "a\u{7}b", "areas": ["GR"] }), "body", "invalid_characters"),
        (json!({ "body": "Bra" }), "areas", "required"),
        (json!({ "body": "Bra", "areas": ["GR", "XX"] }), "areas[1]", "unknown_reference"),
        (json!({ "body": "Bra", "measure": "no-such-measure" }), "measure", "unknown_reference"),
        (json!({ "body": "Bra", "areas": "GR" }), "areas", "invalid_type"),
        (json!({ "body": "Bra", "areas": ["GR"], "author": "x" }), "author", "unknown_field"),
    ] {
        let refused =
            assert_problem(app.post("/api/v1/feedback", coordinator, &body).await, 422, "validation_failed").await;
        assert_eq!(
            (refused["errors"][0]["field"].as_str(), refused["errors"][0]["code"].as_str()),
            (Some(field), Some(code)),
            "{body}: {refused}"
        );
    }
    let path = format!("/api/v1/feedback/{}", written["id"].as_str().unwrap());
    for (change, field, code) in [
        (json!({ "measure": "another" }), "measure", "read_only"),
        (json!({ "id": "x" }), "id", "read_only"),
        (json!({ "body": "" }), "body", "required"),
        (json!({ "areas": ["XX"] }), "areas[0]", "unknown_reference"),
    ] {
        let refused = assert_problem(app.patch(&path, coordinator, &change).await, 422, "validation_failed").await;
        assert_eq!(refused["errors"][0]["field"], field, "{change}: {refused}");
        assert_eq!(refused["errors"][0]["code"], code, "{change}: {refused}");
    }
    let kept: Value = app.get(&path, coordinator).await.json().await.unwrap();
    assert_eq!(kept["body"], "Vi är ute fredagskvällar nu.", "a refused change changes nothing");
    assert_problem(app.patch("/api/v1/feedback/nope", coordinator, &json!({ "body": "x" })).await, 404, "not_found")
        .await;
    assert_problem(app.get("/api/v1/feedback?colour=red", coordinator).await, 400, "invalid_query").await;
}

#[tokio::test]
async fn field_staff_read_feedback_only_coordinators_and_admins_write_it_and_partners_see_none() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    app.post("/api/v1/areas", &tenant.admin.tokens.access, &tyreso()).await;
    let body = json!({ "body": "Tack för rapporterna!", "areas": ["TY"] });
    let written = created(app.post("/api/v1/feedback", &tenant.admin.tokens.access, &body).await).await;
    let path = format!("/api/v1/feedback/{}", written["id"].as_str().unwrap());
    for token in [&tenant.field.tokens.access, &tenant.partner.tokens.access] {
        assert_problem(app.post("/api/v1/feedback", token, &body).await, 403, "forbidden").await;
        assert_problem(app.patch(&path, token, &json!({ "body": "x" })).await, 403, "forbidden").await;
        assert_eq!(delete(&app, token, &path).await.status(), 403);
    }
    assert_eq!(app.get(&path, &tenant.field.tokens.access).await.status(), 200);
    assert_problem(app.get("/api/v1/feedback", &tenant.partner.tokens.access).await, 403, "forbidden").await;
    assert_problem(app.get(&path, &tenant.partner.tokens.access).await, 403, "forbidden").await;
    // A phone may not push feedback: the table syncs down only.
    let raw = json!({ "id": "0193e000-0000-7000-8000-0000000000f1", "body": "från telefonen", "area_codes": "[]" });
    let answer = phone(&app, &tenant.field.tokens.access).push(json!({ "feedback": { "created": [raw] } })).await;
    assert_eq!(answer["results"][0]["status"], "forbidden", "{answer}");
    let listed: Value = app.get("/api/v1/feedback", &tenant.coordinator.tokens.access).await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_phone_whose_app_moves_to_schema_version_2_gets_a_replacement_holding_the_feedback_written_before() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    app.post("/api/v1/areas", &tenant.admin.tokens.access, &tyreso()).await;
    let mut old_app = Phone::new(&app, &tenant.field.tokens.access);
    let first = old_app.pull().await;
    assert!(first.get("feedback").is_none(), "version 1 does not list the table: {first}");
    let body = json!({ "body": "Vi har pratat med bostadsbolaget om belysningen.", "areas": ["GR"] });
    let written = created(app.post("/api/v1/feedback", &tenant.coordinator.tokens.access, &body).await).await;
    let later = old_app.pull().await;
    assert!(later.get("feedback").is_none() && later.get("strategy").is_none(), "{later}");

    // The same device, its app updated: the cursor is past the feedback, so only a replacement
    // can bring it.
    let mut updated = Phone { schema_version: 2, ..old_app };
    let replaced = updated.pull().await;
    assert_eq!(replaced["strategy"], "replacement", "{replaced}");
    assert_eq!(ids(&replaced["feedback"]["created"]), [written["id"].as_str().unwrap()]);
    let next = updated.pull().await;
    assert!(next.get("strategy").is_none(), "once, not at every pull: {next}");
    assert_eq!(ids(&next["feedback"]["created"]), Vec::<&str>::new());
    let too_new = app.get("/api/v1/sync/pull?last_pulled_at=null&schema_version=4", &tenant.field.tokens.access).await;
    assert_problem(too_new, 426, "schema_version_unsupported").await;
}
