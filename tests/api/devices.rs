//! The devices page's facts: phones apart from dashboard sessions, the browser and system each
//! runs, the label its own user gives it, and whether it is signed in.

use crate::helpers::{PASSWORD, Tokens, assert_problem, spawn_app};
use lagesbild::domain::identity::Role;
use serde_json::{Value, json};

const ANDROID_CHROME: &str = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) \
     Chrome/131.0.0.0 Mobile Safari/537.36";
const LINUX_FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

async fn login_as(
    app: &crate::helpers::TestApp,
    username: &str,
    device: &str,
    kind: Option<&str>,
    agent: &str,
) -> reqwest::Response {
    let mut body = json!({
        "organisation": "tyreso", "username": username, "password": PASSWORD,
        "device_id": device, "device_name": "Fältappen",
    });
    if let Some(kind) = kind {
        body["device_kind"] = json!(kind);
    }
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("user-agent", agent)
        .json(&body)
        .send()
        .await
        .expect("answered")
}

async fn tokens(response: reqwest::Response) -> Tokens {
    assert_eq!(response.status(), 200);
    crate::helpers::tokens_of(response.json().await.expect("json"))
}

async fn device(app: &crate::helpers::TestApp, token: &str, id: &str) -> Value {
    let list: Vec<Value> = app.get("/api/v1/devices", token).await.json().await.expect("json");
    list.into_iter().find(|device| device["id"] == id).unwrap_or_else(|| panic!("device {id} is listed"))
}

#[tokio::test]
async fn phones_and_dashboard_sessions_are_told_apart_with_their_browser_and_system() {
    let app = spawn_app().await;
    let org = app.seed_org("tyreso");
    app.seed_user(&org, "coord", Role::Coordinator, None);
    app.seed_user(&org, "anna", Role::Field, None);
    let coordinator = tokens(login_as(&app, "coord", "desk-1", Some("dashboard"), LINUX_FIREFOX).await).await;
    tokens(login_as(&app, "anna", "phone-1", None, ANDROID_CHROME).await).await;
    tokens(login_as(&app, "anna", "phone-2", Some("phone"), "curl/8.5.0").await).await;

    let desk = device(&app, &coordinator.access, "desk-1").await;
    assert_eq!((desk["kind"].as_str(), desk["platform"].as_str()), (Some("dashboard"), Some("Firefox · Linux")));
    let phone = device(&app, &coordinator.access, "phone-1").await;
    assert_eq!((phone["kind"].as_str(), phone["platform"].as_str()), (Some("phone"), Some("Chrome · Android")));
    let unnamed = device(&app, &coordinator.access, "phone-2").await;
    assert_eq!((unnamed["kind"].as_str(), unnamed["platform"].clone()), (Some("phone"), Value::Null));

    let me: Value = app.get("/api/v1/me", &coordinator.access).await.json().await.expect("json");
    assert_eq!(me["device"]["kind"], "dashboard");
    assert_eq!(me["device"]["platform"], "Firefox · Linux");
}

#[tokio::test]
async fn an_unknown_device_kind_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let org = app.seed_org("tyreso");
    app.seed_user(&org, "anna", Role::Field, None);
    for kind in ["tablet", "", "Phone"] {
        let body = assert_problem(
            login_as(&app, "anna", "phone-1", Some(kind), ANDROID_CHROME).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "device_kind", "{kind:?}");
        assert_eq!(body["errors"][0]["code"], "unknown_device_kind", "{kind:?}");
    }
    app.seed_user(&org, "coord", Role::Coordinator, None);
    let coordinator = tokens(login_as(&app, "coord", "desk-1", Some("dashboard"), LINUX_FIREFOX).await).await;
    let listed: Vec<Value> = app.get("/api/v1/devices", &coordinator.access).await.json().await.expect("json");
    assert!(listed.iter().all(|device| device["id"] != "phone-1"), "a refused login registers no device");
}

#[tokio::test]
async fn a_user_labels_their_own_phone_and_the_label_stays_for_them_but_goes_with_a_handover() {
    let app = spawn_app().await;
    let org = app.seed_org("tyreso");
    app.seed_user(&org, "coord", Role::Coordinator, None);
    app.seed_user(&org, "anna", Role::Field, None);
    app.seed_user(&org, "bertil", Role::Field, None);
    let coordinator = tokens(login_as(&app, "coord", "desk-1", Some("dashboard"), LINUX_FIREFOX).await).await;
    let anna = tokens(login_as(&app, "anna", "phone-1", None, ANDROID_CHROME).await).await;

    let response = app.patch("/api/v1/me/device", &anna.access, &json!({ "label": "  Annas tjänstetelefon " })).await;
    assert_eq!(response.status(), 200);
    let own: Value = response.json().await.expect("json");
    assert_eq!(own["label"], "Annas tjänstetelefon");
    assert_eq!(device(&app, &coordinator.access, "phone-1").await["label"], "Annas tjänstetelefon");

    // Her next login keeps it; the app's own name never overwrites it.
    let anna = tokens(login_as(&app, "anna", "phone-1", None, ANDROID_CHROME).await).await;
    let me: Value = app.get("/api/v1/me", &anna.access).await.json().await.expect("json");
    assert_eq!(me["device"]["label"], "Annas tjänstetelefon");

    // Handed over to Bertil, it is no longer Anna's phone.
    tokens(login_as(&app, "bertil", "phone-1", None, ANDROID_CHROME).await).await;
    let handed = device(&app, &coordinator.access, "phone-1").await;
    assert_eq!((handed["username"].as_str(), handed["label"].clone()), (Some("bertil"), Value::Null));

    // null clears a label.
    app.patch("/api/v1/me/device", &coordinator.access, &json!({ "label": "Skrivbordet" })).await;
    let cleared: Value = app
        .patch("/api/v1/me/device", &coordinator.access, &json!({ "label": null }))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(cleared["label"], Value::Null);
}

#[tokio::test]
async fn a_device_label_must_be_given_and_be_a_name() {
    let app = spawn_app().await;
    let org = app.seed_org("tyreso");
    app.seed_user(&org, "anna", Role::Field, None);
    let anna = tokens(login_as(&app, "anna", "phone-1", None, ANDROID_CHROME).await).await;
    for (body, code) in [
        (json!({}), "required"),
        (json!({ "label": "   " }), "required"),
        (json!({ "label": "x".repeat(201) }), "too_long"),
        (json!({ "label": "Anna\u{7}" }), "invalid_characters"),
    ] {
        let problem =
            assert_problem(app.patch("/api/v1/me/device", &anna.access, &body).await, 422, "validation_failed").await;
        assert_eq!(
            (problem["errors"][0]["field"].as_str(), problem["errors"][0]["code"].as_str()),
            (Some("label"), Some(code)),
            "{body}"
        );
    }
    let problem = assert_problem(
        app.patch("/api/v1/me/device", &anna.access, &json!({ "label": 7 })).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "label");
    assert_problem(app.patch("/api/v1/me/device", "not-a-token", &json!({ "label": "x" })).await, 401, "invalid_token")
        .await;
    let me: Value = app.get("/api/v1/me", &anna.access).await.json().await.expect("json");
    assert_eq!(me["device"]["label"], Value::Null, "no refused label was stored");
}

#[tokio::test]
async fn a_device_is_signed_in_until_it_logs_out() {
    let app = spawn_app().await;
    let org = app.seed_org("tyreso");
    app.seed_user(&org, "coord", Role::Coordinator, None);
    app.seed_user(&org, "anna", Role::Field, None);
    let coordinator = tokens(login_as(&app, "coord", "desk-1", Some("dashboard"), LINUX_FIREFOX).await).await;
    let anna = tokens(login_as(&app, "anna", "phone-1", None, ANDROID_CHROME).await).await;
    assert_eq!(device(&app, &coordinator.access, "phone-1").await["signed_in"], true);

    // A refresh rotates the token: still signed in.
    let refreshed = app.refresh_response(&anna.refresh).await;
    assert_eq!(refreshed.status(), 200);
    let anna = crate::helpers::tokens_of(refreshed.json().await.expect("json"));
    assert_eq!(device(&app, &coordinator.access, "phone-1").await["signed_in"], true);

    let logout = app.post("/api/v1/auth/logout", &anna.access, &json!({})).await;
    assert!(logout.status().is_success(), "logout: {}", logout.status());
    assert_eq!(device(&app, &coordinator.access, "phone-1").await["signed_in"], false);
    assert_eq!(device(&app, &coordinator.access, "desk-1").await["signed_in"], true);
}
