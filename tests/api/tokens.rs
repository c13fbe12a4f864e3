//! Access tokens: every forgery and every stale token is `invalid_token`.

use crate::helpers::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn sign(claims: &Value, algorithm: Algorithm, key: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(algorithm), claims, &EncodingKey::from_secret(key)).unwrap()
}

async fn assert_invalid(app: &TestApp, token: &str, case: &str) {
    let response = app.get("/api/v1/me", token).await;
    assert_eq!(response.status(), 401, "{case}");
    assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"), "{case}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "invalid_token", "{case}");
}

#[tokio::test]
async fn forged_and_stale_tokens_are_refused() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let genuine = tenant.admin.tokens.access.clone();
    assert_eq!(app.get("/api/v1/me", &genuine).await.status(), 200, "the genuine token works");
    let claims = claims_of(&genuine);
    let now = chrono::Utc::now().timestamp();

    // The same claims re-signed with our key work: the cases below differ in one thing each.
    let resigned = sign(&claims, Algorithm::HS256, TEST_KEY.as_bytes());
    assert_eq!(app.get("/api/v1/me", &resigned).await.status(), 200);

    assert_invalid(&app, &sign(&claims, Algorithm::HS256, b"another-key-of-at-least-32-bytes-long!!"), "bad signature")
        .await;
    assert_invalid(&app, &sign(&claims, Algorithm::HS512, TEST_KEY.as_bytes()), "another algorithm").await;
    let unsigned =
        format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#), genuine.split('.').nth(1).unwrap());
    assert_invalid(&app, &unsigned, "alg none").await;

    let mut wrong_audience = claims.clone();
    wrong_audience["aud"] = json!("someone-else");
    assert_invalid(&app, &sign(&wrong_audience, Algorithm::HS256, TEST_KEY.as_bytes()), "wrong audience").await;
    let mut wrong_issuer = claims.clone();
    wrong_issuer["iss"] = json!("evil");
    assert_invalid(&app, &sign(&wrong_issuer, Algorithm::HS256, TEST_KEY.as_bytes()), "wrong issuer").await;
    let mut expired = claims.clone();
    expired["iat"] = json!(now - 3600);
    expired["exp"] = json!(now - 600);
    assert_invalid(&app, &sign(&expired, Algorithm::HS256, TEST_KEY.as_bytes()), "expired").await;

    let mut tampered = genuine.clone();
    tampered.insert(genuine.len() / 2, 'A');
    assert_invalid(&app, &tampered, "tampered").await;
    assert_invalid(&app, "garbage", "garbage").await;
}

#[tokio::test]
async fn a_missing_token_is_missing_token() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_problem(response, 401, "missing_token").await;
    let wrong_scheme =
        app.client.get(app.url("/api/v1/me")).header("authorization", "Basic YTpi").send().await.unwrap();
    assert_problem(wrong_scheme, 401, "invalid_token").await;
}

#[tokio::test]
async fn refresh_rotates_and_a_replayed_token_ends_the_whole_family() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let first = tenant.field.tokens.clone();

    let rotated = app.refresh_response(&first.refresh).await;
    assert_eq!(rotated.status(), 200);
    let second = tokens_of(rotated.json().await.unwrap());
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(claims_of(&second.access)["dev"], tenant.field.device);
    assert_eq!(app.get("/api/v1/me", &second.access).await.status(), 200);

    // The first refresh token again: someone holds a copy. Everything of the login ends.
    let replay = app.refresh_response(&first.refresh).await;
    assert_problem(replay, 401, "refresh_token_reused").await;
    assert_problem(app.refresh_response(&second.refresh).await, 401, "invalid_token").await;
    assert_problem(app.get("/api/v1/me", &second.access).await, 401, "invalid_token").await;
    assert_problem(app.get("/api/v1/me", &first.access).await, 401, "invalid_token").await;

    // The device is not revoked: its owner logs in again.
    let again = app.login("tyreso", "field", PASSWORD, &tenant.field.device).await;
    assert_eq!(app.get("/api/v1/me", &again.access).await.status(), 200);
    // Other users are untouched.
    assert_eq!(app.get("/api/v1/me", &tenant.coordinator.tokens.access).await.status(), 200);
}

#[tokio::test]
async fn an_unknown_refresh_token_is_invalid() {
    let app = spawn_app().await;
    assert_problem(app.refresh_response("not-a-token").await, 401, "invalid_token").await;
    assert_problem(app.refresh_response("").await, 401, "invalid_token").await;
}

#[tokio::test]
async fn logout_ends_the_device_sessions_at_once() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let tokens = tenant.field.tokens.clone();
    let other_device = app.login("tyreso", "field", PASSWORD, "tablet-2").await;
    let response = app.client.post(app.url("/api/v1/auth/logout")).bearer_auth(&tokens.access).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert_problem(app.get("/api/v1/me", &tokens.access).await, 401, "invalid_token").await;
    assert_problem(app.refresh_response(&tokens.refresh).await, 401, "invalid_token").await;
    // The user's other device stays logged in.
    assert_eq!(app.get("/api/v1/me", &other_device.access).await.status(), 200);
    // The phone may log in again.
    let again = app.login("tyreso", "field", PASSWORD, &tenant.field.device).await;
    assert_eq!(app.get("/api/v1/me", &again.access).await.status(), 200);
}
