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

/// Personal data as the tests send it, in the writings a phone produces.
const PERSONAL: [&str; 5] =
    ["anna.svensson@example.se", "811218-9876", "8112189876", "070-123 45 67", "kalle@example.se"];

fn holds_personal_data(text: &str) -> Option<&'static str> {
    PERSONAL.into_iter().find(|needle| text.contains(needle))
}

#[tokio::test]
async fn a_refused_record_is_kept_and_sent_back_with_every_value_redacted_whatever_its_field_or_shape() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let id = "00000000-0000-7000-8000-00000000d001";
    let mut record = observation(id, "Ring\u{a0}070\u{a0}123\u{a0}45\u{a0}67");
    // Personal data in an identifier column (quoted back in the error), as a number where text
    // belongs, nested in objects and lists, and as a key.
    record["category"] = json!("anna.svensson@example.se");
    record["age_band"] = json!(198112189876_i64);
    record["extra"] = json!({ "ring": "070-123 45 67", "ids": ["811218\u{2011}9876"], "kalle@example.se": true });
    let mut phone = Phone::new(&app, &tenant.field.tokens.access);
    let answer = phone.push(created("observations", vec![record])).await;
    let result = answer["results"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!(result["status"], "quarantined", "{result}");
    assert!(result["errors"].as_array().unwrap().iter().any(|e| e["field"] == "category"), "{result}");
    assert_eq!(holds_personal_data(&result.to_string()), None, "the push's answer: {result}");

    let kept: Value = app.get("/api/v1/sync/quarantine", &tenant.coordinator.tokens.access).await.json().await.unwrap();
    let entry = kept.as_array().unwrap().iter().find(|e| e["id"] == id).unwrap().clone();
    assert_eq!(holds_personal_data(&entry.to_string()), None, "what the quarantine keeps: {entry}");
    assert!(entry.to_string().contains("[e-post borttagen]"), "{entry}");
    assert!(entry.to_string().contains("[personnummer borttaget]"), "{entry}");
    let pulled = phone.pull().await;
    assert_eq!(holds_personal_data(&pulled.to_string()), None, "what the phone gets back: {pulled}");
}

#[tokio::test]
async fn every_free_text_the_service_stores_is_redacted_like_a_note() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let coordinator = &tenant.coordinator.tokens.access;

    let assessment = app
        .client
        .put(app.url("/api/v1/reports/followup/2026-T3/assessment"))
        .bearer_auth(coordinator)
        .json(&json!({ "rating": "yellow", "comment": "Mamman (pnr 811218\u{2013}9876) ringde, nå henne på anna.svensson@example.se" }))
        .send()
        .await
        .unwrap();
    assert_eq!(assessment.status(), 200);
    let read: Value = app.get("/api/v1/reports/followup/2026-T3/assessment", coordinator).await.json().await.unwrap();
    assert_eq!(read["comment"], "Mamman (pnr [personnummer borttaget]) ringde, nå henne på [e-post borttagen]");

    let definition = json!({
        "slug": "trygghet", "name_sv": "Trygghet", "name_en": "Safety",
        "source": "Enkät, frågor till kalle@example.se", "unit": "percent", "groups": ["all"],
        "target": { "kind": "maintain_or_improve" },
    });
    let created = app.post("/api/v1/indicators", &tenant.admin.tokens.access, &definition).await;
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let created: Value = app.get("/api/v1/indicators", coordinator).await.json().await.unwrap();
    let indicator = created.as_array().unwrap()[0].clone();
    assert_eq!(indicator["source"], "Enkät, frågor till [e-post borttagen]");
    let values = json!({ "values": [{ "group": "all", "value": 71.0, "note": "Uppgift från rektor, tel\u{202f}070\u{202f}123\u{202f}45\u{202f}67" }] });
    let path = format!("/api/v1/indicators/{}/values/2026", indicator["id"].as_str().unwrap());
    let stored = app.client.put(app.url(&path)).bearer_auth(coordinator).json(&values).send().await.unwrap();
    assert_eq!(stored.status(), 200);
    let stored: Value = stored.json().await.unwrap();
    assert_eq!(holds_personal_data(&stored.to_string().replace('\u{202f}', " ")), None, "{stored}");
    assert!(stored.to_string().contains("tel\u{202f}[telefonnummer borttaget]"), "{stored}");

    // The action plan's free text: a problem's title and description, a measure's description,
    // decision and one-off effort.
    app.post("/api/v1/areas", &tenant.admin.tokens.access, &crate::areas::tyreso()).await;
    let problem = json!({
        "title": "Hot mot boende, kontakt kalle@example.se", "source": "partner", "areas": ["GR"],
        "description": "Mamman (pnr 811218\u{2013}9876) har ringt",
    });
    let problem = app.post("/api/v1/problems", coordinator, &problem).await;
    assert_eq!(problem.status(), 201);
    let measure = json!({
        "title": "Kvällsvandring", "responsible_unit": "falt", "areas": ["GR"], "planned_start": "2026-03-01",
        "description": "Samordnas med 070-123 45 67", "decision": "EST-möte, protokoll hos anna.svensson@example.se",
        "effort": { "kind": "one_off", "description": "Ring fastighetsjouren 08-123 456 78" },
    });
    let measure = app.post("/api/v1/measures", coordinator, &measure).await;
    assert_eq!(measure.status(), 201);
    for path in ["/api/v1/problems", "/api/v1/measures"] {
        let stored: Value = app.get(path, coordinator).await.json().await.unwrap();
        assert_eq!(holds_personal_data(&stored.to_string()), None, "{path}: {stored}");
        assert!(stored.to_string().contains("borttag"), "{path} says what was removed: {stored}");
    }
}
