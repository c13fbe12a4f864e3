//! One organisation can neither read nor change anything of another, by any endpoint, and gets
//! 404 (not 403) for the other's ids.

use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn another_organisations_ids_are_not_found_everywhere() {
    let app = spawn_app().await;
    let tyreso = app.tenant("tyreso").await;
    let nacka = app.tenant("nacka").await;
    let admin = &nacka.admin.tokens.access;
    let coordinator = &nacka.coordinator.tokens.access;

    let reads = [format!("/api/v1/users/{}", tyreso.field.id), format!("/api/v1/units/{}", tyreso.unit_id)];
    for path in &reads {
        assert_problem(app.get(path, admin).await, 404, "not_found").await;
    }
    let user_patch =
        app.patch(&format!("/api/v1/users/{}", tyreso.field.id), admin, &json!({ "disabled": true })).await;
    assert_problem(user_patch, 404, "not_found").await;
    let unit_patch = app.patch(&format!("/api/v1/units/{}", tyreso.unit_id), admin, &json!({ "name": "Taken" })).await;
    assert_problem(unit_patch, 404, "not_found").await;
    let revoke = app.post(&format!("/api/v1/devices/{}/revoke", tyreso.field.device), coordinator, &json!({})).await;
    assert_problem(revoke, 404, "not_found").await;

    // Lists hold only the caller's own organisation.
    let users: Vec<Value> = app.get("/api/v1/users", admin).await.json().await.unwrap();
    assert!(users.iter().all(|u| u["id"] != tyreso.field.id.as_str() && u["id"] != tyreso.admin.id.as_str()));
    assert_eq!(users.len(), 4);
    let devices: Vec<Value> = app.get("/api/v1/devices", admin).await.json().await.unwrap();
    assert!(devices.iter().all(|d| d["id"].as_str().unwrap().starts_with("nacka-")), "{devices:?}");
    let units: Vec<Value> = app.get("/api/v1/units", admin).await.json().await.unwrap();
    assert!(units.iter().all(|u| u["id"] != tyreso.unit_id.as_str()));

    // Nothing of tyreso changed, and tyreso still works.
    let field: Value =
        app.get(&format!("/api/v1/users/{}", tyreso.field.id), &tyreso.admin.tokens.access).await.json().await.unwrap();
    assert_eq!(field["disabled"], false);
    assert_eq!(app.get("/api/v1/me", &tyreso.field.tokens.access).await.status(), 200);
    let unit: Value =
        app.get(&format!("/api/v1/units/{}", tyreso.unit_id), &tyreso.admin.tokens.access).await.json().await.unwrap();
    assert_eq!(unit["name"], "Unit falt");
}

#[tokio::test]
async fn a_user_cannot_log_in_through_another_organisation() {
    let app = spawn_app().await;
    let _tyreso = app.tenant("tyreso").await;
    let nacka = app.seed_org("nacka");
    app.seed_user(&nacka, "lisa", lagesbild::domain::identity::Role::Field, None);
    let response = app.login_response("tyreso", "lisa", PASSWORD, "phone").await;
    assert_problem(response, 401, "invalid_credentials").await;
}

#[tokio::test]
async fn the_same_device_id_in_two_organisations_is_two_devices() {
    let app = spawn_app().await;
    let tyreso = app.tenant("tyreso").await;
    let nacka = app.tenant("nacka").await;
    let shared = app.login("nacka", "field", PASSWORD, &tyreso.field.device).await;
    let revoke = app
        .post(&format!("/api/v1/devices/{}/revoke", tyreso.field.device), &nacka.coordinator.tokens.access, &json!({}))
        .await;
    assert_eq!(revoke.status(), 200);
    assert_problem(app.get("/api/v1/me", &shared.access).await, 401, "device_revoked").await;
    assert_eq!(app.get("/api/v1/me", &tyreso.field.tokens.access).await.status(), 200, "tyreso's phone is untouched");
}
