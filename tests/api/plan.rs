//! The action plan: problems marked from the picture and measures against them, each change a
//! version in the history and an entry in the audit log; coordinators and admins only.

use crate::areas::tyreso;
use crate::helpers::*;
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
        (json!({ "areas": "GR" }), "body", "invalid_type"),
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
