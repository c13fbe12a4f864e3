//! U+0000 in any text a client sends: PostgreSQL cannot store it in text, so every input refuses
//! it the same way on both backends (a 422 naming the field), or, inside a push, quarantines the
//! one record that holds it while the rest is stored. Never a 500. Run on both backends.

use crate::helpers::*;
use crate::sync::{Phone, observation};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lagesbild::routes::ROUTES;
use serde_json::{Value, json};

async fn named_field(response: reqwest::Response) -> String {
    let status = response.status();
    let problem: Value = response.json().await.unwrap();
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], "validation_failed", "{problem}");
    assert_eq!(problem["errors"][0]["code"], "invalid_character", "{problem}");
    problem["errors"][0]["field"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_pushed_record_holding_nul_is_quarantined_on_its_own_and_the_rest_is_stored() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let phone = Phone::new(&app, &tenant.field.tokens.access);
    let valid = observation("00000000-0000-7000-8000-0000000000a1", "all quiet");
    let in_note = observation("00000000-0000-7000-8000-0000000000a2", "broken\u{0}glass");
    let mut in_category = observation("00000000-0000-7000-8000-0000000000a3", "ok");
    in_category["category"] = json!("vandal\u{0}ism");
    let batch = json!({ "observations": { "created": [valid, in_note, in_category], "updated": [], "deleted": [] } });
    let body = phone.push(batch.clone()).await;
    let status =
        |body: &Value, id: &str| body["results"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!(status(&body, "00000000-0000-7000-8000-0000000000a1")["status"], "applied");
    for (id, field) in
        [("00000000-0000-7000-8000-0000000000a2", "note"), ("00000000-0000-7000-8000-0000000000a3", "category")]
    {
        let result = status(&body, id);
        assert_eq!(result["status"], "quarantined", "{result}");
        assert_eq!(result["errors"][0]["field"], field, "{result}");
        assert_eq!(result["errors"][0]["code"], "invalid_character", "{result}");
    }
    // The phone's queue is not blocked: the same batch sent again (a lost answer) is answered
    // again, the stored record unchanged and the others quarantined as before.
    let again = phone.push(batch).await;
    assert_eq!(status(&again, "00000000-0000-7000-8000-0000000000a1")["status"], "unchanged");
    for id in ["00000000-0000-7000-8000-0000000000a2", "00000000-0000-7000-8000-0000000000a3"] {
        assert_eq!(status(&again, id)["status"], "quarantined");
    }
    let listed: Value = app.get("/api/v1/observations", &tenant.coordinator.tokens.access).await.json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "only the valid record is stored");
}

#[tokio::test]
async fn nul_in_a_login_a_review_comment_a_query_a_path_or_a_page_token_is_a_422_naming_it() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let coordinator = &tenant.coordinator.tokens.access;

    let body =
        json!({ "organisation": "tyreso", "username": "fi\u{0}eld", "password": PASSWORD, "device_id": "phone-nul" });
    let login = app.client.post(app.url("/api/v1/auth/login")).json(&body).send().await.unwrap();
    assert_eq!(named_field(login).await, "username");

    let phone = Phone::new(&app, &tenant.field.tokens.access);
    let id = "00000000-0000-7000-8000-0000000000b1";
    phone.push(json!({ "observations": { "created": [observation(id, "ok")], "updated": [], "deleted": [] } })).await;
    let comment = json!({ "review_comment": "ok\u{0}" });
    let review = app.patch(&format!("/api/v1/observations/{id}"), coordinator, &comment).await;
    assert_eq!(named_field(review).await, "review_comment");
    let stored: Value = app.get(&format!("/api/v1/observations/{id}"), coordinator).await.json().await.unwrap();
    assert_eq!(stored["review_comment"], Value::Null, "the refused comment is not stored");

    let query = app.get("/api/v1/picture?category=vandal%00ism", coordinator).await;
    assert_eq!(named_field(query).await, "category");
    let path = app.get("/api/v1/users/ab%00c", &tenant.admin.tokens.access).await;
    assert_eq!(named_field(path).await, "path");

    // A forged page token or list cursor whose id holds U+0000 is not one of ours.
    let token = json!({ "h": 10, "c": null, "r": true, "p": { "seq": 1, "table": 3, "id": "a\u{0}b" } });
    let token = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap());
    let pull_url = format!("/api/v1/sync/pull?last_pulled_at=null&schema_version=1&page_token={token}");
    let problem = assert_problem(app.get(&pull_url, coordinator).await, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "page_token");
    let cursor = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json!([1_700_000_000_000i64, "a\u{0}b"])).unwrap());
    let list = app.get(&format!("/api/v1/observations?after={cursor}"), coordinator).await;
    let problem = assert_problem(list, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "after");
}

/// Every route, as an administrator (who may call all but the field and partner ones): U+0000 in
/// a query parameter is refused naming it, and in any JSON body naming the field; nothing answers
/// 500.
#[tokio::test]
async fn no_route_answers_500_to_nul_in_its_query_or_body() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let admin = &tenant.admin.tokens.access;
    for (method, pattern) in ROUTES {
        let path: String =
            pattern.split('/').map(|part| if part.starts_with('{') { "x" } else { part }).collect::<Vec<_>>().join("/");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let query = app.client.request(method.clone(), app.url(&format!("{path}?q=a%00b"))).bearer_auth(admin);
        assert_eq!(named_field(query.send().await.unwrap()).await, "q", "{method} {pattern} with a query");
        if matches!(method, reqwest::Method::POST | reqwest::Method::PUT | reqwest::Method::PATCH) {
            let body = json!({ "name": "a\u{0}b", "nested": { "list": ["fine", "c\u{0}d"] } });
            let response = app.client.request(method.clone(), app.url(&path)).bearer_auth(admin).json(&body).send();
            let response = response.await.unwrap();
            let status = response.status().as_u16();
            let problem: Value = response.json().await.unwrap_or(Value::Null);
            assert!(status < 500, "{method} {pattern} answered {status}: {problem}");
            if status == 422 && problem["errors"][0]["code"] == "invalid_character" {
                assert_eq!(problem["errors"][0]["field"], "name", "{method} {pattern}: {problem}");
            }
        }
    }
}
