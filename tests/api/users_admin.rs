//! The admin API for users, units and devices.

use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn an_admin_creates_lists_reads_and_changes_users() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let admin = &tenant.admin.tokens.access;
    let created = app
        .post(
            "/api/v1/users",
            admin,
            &json!({ "username": "Bertil", "password": "a long enough pass", "role": "field", "unit": "falt", "display_name": "Bertil B" }),
        )
        .await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let user: Value = created.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/users/{}", user["id"].as_str().unwrap()));
    assert_eq!(user["username"], "bertil");
    assert_eq!(user["unit"], "falt");
    assert_eq!(user["disabled"], false);
    assert!(user.get("password_hash").is_none());

    let read: Value = app.get(&location, admin).await.json().await.unwrap();
    assert_eq!(read, user);
    let list: Vec<Value> = app.get("/api/v1/users", admin).await.json().await.unwrap();
    let names: Vec<&str> = list.iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin", "bertil", "coord", "field", "partner"]);

    let changed: Value = app
        .patch(&location, admin, &json!({ "role": "coordinator", "unit": null, "display_name": "Bertil Berg" }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(changed["role"], "coordinator");
    assert_eq!(changed["unit"], Value::Null);
    assert_eq!(changed["display_name"], "Bertil Berg");

    let tokens = app.login("tyreso", "bertil", "a long enough pass", "phone-b").await;
    let me: Value = app.get("/api/v1/me", &tokens.access).await.json().await.unwrap();
    assert_eq!(me["role"], "coordinator");
}

#[tokio::test]
async fn a_password_reset_ends_every_session_of_the_user() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let old = tenant.field.tokens.clone();
    let path = format!("/api/v1/users/{}", tenant.field.id);
    let reset = app.patch(&path, &tenant.admin.tokens.access, &json!({ "password": "a brand new password" })).await;
    assert_eq!(reset.status(), 200);
    assert_problem(app.get("/api/v1/me", &old.access).await, 401, "invalid_token").await;
    assert_problem(app.refresh_response(&old.refresh).await, 401, "invalid_token").await;
    assert_problem(app.login_response("tyreso", "field", PASSWORD, "p").await, 401, "invalid_credentials").await;
    app.login("tyreso", "field", "a brand new password", "p").await;
}

#[tokio::test]
async fn duplicates_and_unknown_units_are_refused_clearly() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let admin = &tenant.admin.tokens.access;
    let duplicate = app
        .post("/api/v1/users", admin, &json!({ "username": "FIELD", "password": "long enough pass", "role": "field" }))
        .await;
    assert_problem(duplicate, 409, "already_exists").await;
    let unknown_unit = app
        .post(
            "/api/v1/users",
            admin,
            &json!({ "username": "eva", "password": "long enough pass", "role": "field", "unit": "vakt" }),
        )
        .await;
    let body = assert_problem(unknown_unit, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "unit");
    assert_eq!(body["errors"][0]["code"], "unknown_unit");
    let duplicate_unit = app.post("/api/v1/units", admin, &json!({ "slug": "falt", "name": "Again" })).await;
    assert_problem(duplicate_unit, 409, "already_exists").await;
}

#[tokio::test]
async fn an_admin_cannot_lock_themselves_out() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let path = format!("/api/v1/users/{}", tenant.admin.id);
    let disable = app.patch(&path, &tenant.admin.tokens.access, &json!({ "disabled": true })).await;
    assert_problem(disable, 409, "cannot_lock_out_self").await;
    let demote = app.patch(&path, &tenant.admin.tokens.access, &json!({ "role": "field" })).await;
    assert_problem(demote, 409, "cannot_lock_out_self").await;
}

#[tokio::test]
async fn each_handler_admits_only_its_roles() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let cases: [(&str, &str, [u16; 4]); 5] = [
        // (method, path, [admin, coordinator, field, partner])
        ("GET", "/api/v1/users", [200, 403, 403, 403]),
        ("GET", "/api/v1/devices", [200, 200, 403, 403]),
        ("GET", "/api/v1/units", [200, 200, 200, 200]),
        ("GET", "/api/v1/me", [200, 200, 200, 200]),
        ("POST", "/api/v1/units", [422, 403, 403, 403]),
    ];
    let members = [&tenant.admin, &tenant.coordinator, &tenant.field, &tenant.partner];
    for (method, path, expected) in cases {
        for (member, status) in members.iter().zip(expected) {
            let response = match method {
                "GET" => app.get(path, &member.tokens.access).await,
                _ => app.post(path, &member.tokens.access, &json!({ "slug": "", "name": "" })).await,
            };
            assert_eq!(response.status(), status, "{method} {path} as {}", member.username);
            if status == 403 {
                assert_problem(response, 403, "forbidden").await;
            }
        }
    }
}

#[tokio::test]
async fn units_are_created_read_and_renamed() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let admin = &tenant.admin.tokens.access;
    let created = app.post("/api/v1/units", admin, &json!({ "slug": "vakt", "name": "Väktare" })).await;
    assert_eq!(created.status(), 201);
    let unit: Value = created.json().await.unwrap();
    let path = format!("/api/v1/units/{}", unit["id"].as_str().unwrap());
    let renamed: Value = app.patch(&path, admin, &json!({ "name": "Väktarna" })).await.json().await.unwrap();
    assert_eq!(renamed["name"], "Väktarna");
    let read: Value = app.get(&path, &tenant.field.tokens.access).await.json().await.unwrap();
    assert_eq!(read["name"], "Väktarna");
    let list: Vec<Value> = app.get("/api/v1/units", admin).await.json().await.unwrap();
    assert_eq!(list.iter().map(|u| u["slug"].as_str().unwrap()).collect::<Vec<_>>(), ["falt", "vakt"]);
    let bad = app.post("/api/v1/units", admin, &json!({ "slug": "Bad Slug", "name": " " })).await;
    let body = assert_problem(bad, 422, "validation_failed").await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn devices_are_listed_with_owner_and_last_seen() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let before: Vec<Value> = app.get("/api/v1/devices", &tenant.coordinator.tokens.access).await.json().await.unwrap();
    let field_before = before.iter().find(|d| d["id"] == tenant.field.device.as_str()).unwrap().clone();
    assert_eq!(field_before["username"], "field");
    assert_eq!(field_before["name"], "field's phone");
    assert_eq!(field_before["revoked"], false);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.get("/api/v1/me", &tenant.field.tokens.access).await;
    let after: Vec<Value> = app.get("/api/v1/devices", &tenant.coordinator.tokens.access).await.json().await.unwrap();
    let field_after = after.iter().find(|d| d["id"] == tenant.field.device.as_str()).unwrap();
    assert!(
        field_after["last_seen_at"].as_str().unwrap() > field_before["last_seen_at"].as_str().unwrap(),
        "last seen moves with use: {field_before} -> {field_after}"
    );
    assert_eq!(after.len(), 4);
}
