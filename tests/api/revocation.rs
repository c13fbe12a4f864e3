//! Revoking a device or disabling a user takes effect on the next request, in this process at
//! once and in other processes within the poll interval, with no database round trip per request.

use crate::helpers::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_revoked_device_is_refused_on_its_next_request_and_cannot_come_back() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let phone = tenant.field.tokens.clone();
    assert_eq!(app.get("/api/v1/me", &phone.access).await.status(), 200);

    let revoked = app
        .client
        .post(app.url(&format!("/api/v1/devices/{}/revoke", tenant.field.device)))
        .bearer_auth(&tenant.coordinator.tokens.access)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let device: Value = revoked.json().await.unwrap();
    assert_eq!(device["revoked"], true);

    assert_problem(app.get("/api/v1/me", &phone.access).await, 401, "device_revoked").await;
    assert_problem(app.refresh_response(&phone.refresh).await, 401, "device_revoked").await;
    let relogin = app.login_response("tyreso", "field", PASSWORD, &tenant.field.device).await;
    assert_problem(relogin, 401, "device_revoked").await;
    // The same user on another phone is fine: a lost phone is revoked on its own.
    let other = app.login("tyreso", "field", PASSWORD, "new-phone").await;
    assert_eq!(app.get("/api/v1/me", &other.access).await.status(), 200);
}

#[tokio::test]
async fn a_disabled_user_is_refused_on_the_next_request_and_an_enabled_one_logs_in_again() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let field = tenant.field.tokens.clone();
    let path = format!("/api/v1/users/{}", tenant.field.id);
    let disabled = app.patch(&path, &tenant.admin.tokens.access, &json!({ "disabled": true })).await;
    assert_eq!(disabled.json::<Value>().await.unwrap()["disabled"], true);
    assert_problem(app.get("/api/v1/me", &field.access).await, 401, "account_disabled").await;
    assert_problem(app.refresh_response(&field.refresh).await, 401, "account_disabled").await;

    let enabled = app.patch(&path, &tenant.admin.tokens.access, &json!({ "disabled": false })).await;
    assert_eq!(enabled.json::<Value>().await.unwrap()["disabled"], false);
    // Tokens from before the suspension stay dead; a new login works.
    assert_problem(app.get("/api/v1/me", &field.access).await, 401, "invalid_token").await;
    let again = app.login("tyreso", "field", PASSWORD, &tenant.field.device).await;
    assert_eq!(app.get("/api/v1/me", &again.access).await.status(), 200);
}

#[tokio::test]
async fn a_role_change_ends_old_access_tokens_and_a_refresh_carries_the_new_role() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let coordinator = tenant.coordinator.tokens.clone();
    assert_eq!(app.get("/api/v1/devices", &coordinator.access).await.status(), 200);
    let path = format!("/api/v1/users/{}", tenant.coordinator.id);
    assert_eq!(app.patch(&path, &tenant.admin.tokens.access, &json!({ "role": "field" })).await.status(), 200);
    assert_problem(app.get("/api/v1/devices", &coordinator.access).await, 401, "invalid_token").await;
    let refreshed = tokens_of(app.refresh_response(&coordinator.refresh).await.json().await.unwrap());
    assert_problem(app.get("/api/v1/devices", &refreshed.access).await, 403, "forbidden").await;
    let me: Value = app.get("/api/v1/me", &refreshed.access).await.json().await.unwrap();
    assert_eq!(me["role"], "field");
}

#[tokio::test]
async fn a_revocation_made_by_another_process_reaches_the_server_within_the_poll_interval() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let phone = tenant.field.tokens.clone();
    assert_eq!(app.get("/api/v1/me", &phone.access).await.status(), 200);

    let output = crate::cli::lagesbild(&app)
        .args(["device", "revoke", "--org", "tyreso", "--device", &tenant.field.device])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = app.get("/api/v1/me", &phone.access).await.status();
        if status == 401 {
            break;
        }
        assert!(Instant::now() < deadline, "the revocation never reached the server");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_problem(app.get("/api/v1/me", &phone.access).await, 401, "device_revoked").await;
}

async fn checkouts(app: &TestApp) -> u64 {
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("lagesbild_db_checkouts_total "))
        .and_then(|value| value.trim().parse().ok())
        .expect("the checkout counter is exported")
}

#[tokio::test]
async fn authenticating_a_request_takes_no_database_connection() {
    // No background polling during the measurement.
    let app = spawn_app_with(|settings| settings.revocation_poll_ms = 3_600_000).await;
    let tenant = app.tenant("tyreso").await;
    let before = checkouts(&app).await;
    for _ in 0..10 {
        assert_eq!(app.get("/api/v1/me", &tenant.field.tokens.access).await.status(), 200);
    }
    // Refused requests are decided from the cache alone.
    for _ in 0..5 {
        assert_eq!(app.get("/api/v1/devices", &tenant.field.tokens.access).await.status(), 403);
        assert_eq!(app.get("/api/v1/me", "forged").await.status(), 401);
    }
    let after = checkouts(&app).await;
    assert_eq!(after - before, 10, "one checkout per /me (its own query), none for authentication");
}
