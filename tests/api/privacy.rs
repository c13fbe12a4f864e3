//! Personal data does not linger where nobody looks: no API answer may be kept by a browser or a
//! shared cache, and a coordinator's bulk read through sync is audited like any other read.

use crate::helpers::*;
use crate::sync::{Phone, created, observation};
use lagesbild::routes::ROUTES;
use serde_json::{Value, json};

fn no_store(response: &reqwest::Response) -> bool {
    response.headers().get("cache-control").and_then(|value| value.to_str().ok()) == Some("no-store")
}

#[tokio::test]
async fn every_api_answer_says_no_store_whatever_the_route_role_or_status() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let id = "00000000-0000-7000-8000-00000000ca01";
    Phone::new(&app, &tenant.field.tokens.access).push(created("observations", vec![observation(id, "x")])).await;

    // Answers that hold personal data, each with its data.
    let coordinator = &tenant.coordinator.tokens.access;
    let admin = &tenant.admin.tokens.access;
    let login = app.login_response("tyreso", "coord", PASSWORD, "cache-test").await;
    assert_eq!(login.status(), 200);
    assert!(no_store(&login), "tokens");
    for (path, token) in [
        ("/api/v1/me", coordinator),
        (&format!("/api/v1/observations/{id}") as &str, coordinator),
        ("/api/v1/observations", coordinator),
        ("/api/v1/sync/pull?last_pulled_at=null", coordinator),
        ("/api/v1/exports/observations?format=csv", coordinator),
        ("/api/v1/exports/observations?format=xlsx", coordinator),
        ("/api/v1/reports/followup?period=2026", coordinator),
        ("/api/v1/audit", admin),
    ] {
        let response = app.get(path, token).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(no_store(&response), "{path}: {:?}", response.headers().get("cache-control"));
    }

    // Every route, every method, as each role and as nobody: answers, refusals and problems alike.
    let anonymous = String::new();
    let tokens = [&tenant.partner.tokens.access, &tenant.field.tokens.access, coordinator, admin, &anonymous];
    for (method, path) in ROUTES.iter().filter(|(_, path)| path.starts_with("/api/")) {
        if *path == "/api/v1/auth/logout" {
            continue; // ends the caller's session; its answer is checked last
        }
        let concrete =
            path.replace("{id}", id).replace("{code}", "XX").replace("{period}", "2026").replace("{year}", "2026");
        for token in tokens {
            let mut request = app.client.request(method.parse().unwrap(), app.url(&concrete));
            if !token.is_empty() {
                request = request.bearer_auth(token);
            }
            if *method != "GET" {
                request = request.json(&json!({}));
            }
            let response = request.send().await.unwrap();
            assert!(no_store(&response), "{method} {concrete} answered {} without no-store", response.status());
        }
    }
    let logout = app.post("/api/v1/auth/logout", &tenant.field.tokens.access, &json!({})).await;
    assert!(no_store(&logout), "logout answered {}", logout.status());

    // Pages and the spec are not personal: they keep their own caching.
    for path in ["/dashboard/", "/app/", "/api-spec/openapi.yaml"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(!no_store(&response), "{path}");
    }
}

/// The audit entries of one action, newest first.
async fn audited(app: &TestApp, admin: &str, action: &str) -> Vec<Value> {
    let page: Value = app.get(&format!("/api/v1/audit?action={action}"), admin).await.json().await.unwrap();
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_coordinators_sync_pull_of_records_is_audited_page_by_page_and_a_field_users_is_not() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let admin = &tenant.admin.tokens.access;
    let records: Vec<Value> =
        (0..5).map(|n| observation(&format!("00000000-0000-7000-8000-0000000000b{n}"), "note")).collect();
    let mut field = Phone::new(&app, &tenant.field.tokens.access);
    field.push(created("observations", records)).await;
    field.pull().await;
    assert!(audited(&app, admin, "read.sync_pull").await.is_empty(), "a field user's own records");

    // Pages of two: three pages hand out 2, 2 and 1 records.
    let mut cursor = "null".to_owned();
    let mut token: Option<String> = None;
    let coordinator = &tenant.coordinator.tokens.access;
    loop {
        let mut path = format!("/api/v1/sync/pull?last_pulled_at={cursor}&limit=2");
        if let Some(token) = &token {
            path.push_str(&format!("&page_token={token}"));
        }
        let page: Value = app.get(&path, coordinator).await.json().await.unwrap();
        if page["has_more"] == true {
            token = Some(page["page_token"].as_str().unwrap().to_owned());
        } else {
            cursor = page["timestamp"].to_string();
            break;
        }
    }
    let entries = audited(&app, admin, "read.sync_pull").await;
    let counts: Vec<i64> = entries.iter().map(|entry| entry["row_count"].as_i64().unwrap()).collect();
    assert_eq!(counts.iter().sum::<i64>(), 5, "every record handed out is counted once: {entries:?}");
    assert!(counts.iter().all(|n| *n > 0), "pages without records write nothing: {counts:?}");
    for entry in &entries {
        assert_eq!(entry["user_id"], tenant.coordinator.id);
        assert_eq!(entry["role"], "coordinator");
        assert_eq!(entry["filters"]["last_pulled_at"], "null");
        assert!(entry["filters"]["device_id"].is_string());
    }

    // Nothing new: no entry. A partner gets no records: no entry.
    let before = entries.len();
    app.get(&format!("/api/v1/sync/pull?last_pulled_at={cursor}"), coordinator).await;
    app.get("/api/v1/sync/pull?last_pulled_at=null", &tenant.partner.tokens.access).await;
    assert_eq!(audited(&app, admin, "read.sync_pull").await.len(), before);
    // The filter `read` covers pulls too.
    let reads = audited(&app, admin, "read").await;
    assert!(reads.iter().any(|entry| entry["action"] == "read.sync_pull"));
}
