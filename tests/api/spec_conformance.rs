//! What fuzzing the API from its spec found, kept as tests: the server answers as
//! `api-spec/openapi.yaml` says for the inputs the spec allows and refuses what it forbids.

use crate::areas::{rect, tyreso};
use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn an_empty_filter_is_an_absent_one_on_every_list_and_view() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let token = &tenant.coordinator.tokens.access;
    for path in [
        "/api/v1/observations?from=&to=&unit=&area=&category=",
        "/api/v1/activities?from=&to=&unit=&area=&activity_type=",
        "/api/v1/picture?period=&from=&to=&unit=&hours=&weekday=&category=",
        "/api/v1/heatmap?period=&from=&to=&unit=",
    ] {
        let response = app.get(path, token).await;
        assert_eq!(response.status(), 200, "{path}: {}", response.text().await.unwrap());
    }
}

#[tokio::test]
async fn a_unit_filter_must_be_a_slug_wherever_it_is_taken() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let token = &tenant.coordinator.tokens.access;
    let too_long = "a".repeat(64);
    for unit in [too_long.as_str(), "Fält", " falt", "a/b"] {
        let unit = urlencoding(unit);
        for path in ["/api/v1/observations", "/api/v1/activities", "/api/v1/picture", "/api/v1/heatmap"] {
            let response = app.get(&format!("{path}?unit={unit}"), token).await;
            let problem = assert_problem(response, 422, "validation_failed").await;
            assert_eq!(problem["errors"][0]["field"], "unit", "{path}?unit={unit}: {problem}");
            assert_eq!(problem["errors"][0]["code"], "invalid_slug", "{path}?unit={unit}: {problem}");
        }
    }
    // A real slug filters.
    let response = app.get("/api/v1/observations?unit=falt", token).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn jobs_cannot_be_an_area_code() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let mut areas = tyreso();
    areas["features"][1]["properties"]["code"] = json!("jobs");
    areas["features"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "Feature", "properties": {"code": "OK", "name": "OK"}, "geometry": rect(18.5, 59.5, 0.01, 0.01)}));
    let problem =
        assert_problem(app.post("/api/v1/areas", &tenant.admin.tokens.access, &areas).await, 422, "validation_failed")
            .await;
    let errors = problem["errors"].as_array().unwrap();
    assert!(
        errors.iter().any(|e| e["field"] == "features[1].properties.code" && e["code"] == "reserved_code"),
        "{problem}"
    );
    let listed: Value = app.get("/api/v1/areas", &tenant.admin.tokens.access).await.json().await.unwrap();
    assert_eq!(listed["features"], json!([]), "all or nothing: nothing was imported");
}

#[tokio::test]
async fn null_in_a_change_leaves_the_field_as_it_is() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let admin = &tenant.admin.tokens.access;
    let before: Value = app.get("/api/v1/organisation", admin).await.json().await.unwrap();
    let response = app
        .patch(
            "/api/v1/organisation",
            admin,
            &json!({"assignment_title": null, "responsible": null, "suppression_k": null}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let after: Value = response.json().await.unwrap();
    assert_eq!(before, after);
    let user = format!("/api/v1/users/{}", tenant.field.id);
    let before: Value = app.get(&user, admin).await.json().await.unwrap();
    let response =
        app.patch(&user, admin, &json!({"display_name": null, "role": null, "disabled": null, "password": null})).await;
    assert_eq!(response.status(), 200);
    let after: Value = response.json().await.unwrap();
    assert_eq!(before["display_name"], after["display_name"]);
    assert_eq!(before["role"], after["role"]);
    assert_eq!(before["disabled"], after["disabled"]);
    // The field user's session survives: nothing changed.
    assert_eq!(app.get("/api/v1/me", &tenant.field.tokens.access).await.status(), 200);
}

fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}
