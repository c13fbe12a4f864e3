//! Every error is a problem document with a stable code.

use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn unknown_routes_are_404_problems_with_or_without_a_token() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let anonymous = app.client.get(app.url("/api/v1/nothing-here")).send().await.unwrap();
    assert_problem(anonymous, 404, "route_not_found").await;
    let with_token = app.get("/api/v1/nothing-here", &tenant.admin.tokens.access).await;
    assert_problem(with_token, 404, "route_not_found").await;
    let with_bad_token = app.get("/api/v1/nothing-here", "not-a-token").await;
    assert_problem(with_bad_token, 404, "route_not_found").await;
}

#[tokio::test]
async fn a_known_route_with_another_method_is_405_with_allow() {
    let app = spawn_app().await;
    let response = app.client.delete(app.url("/api/v1/users/abc")).send().await.unwrap();
    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    assert_problem(response, 405, "method_not_allowed").await;
    assert_eq!(allow, "GET, PATCH");
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(r#"{"organisation": "tyreso", "#)
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "malformed_json").await;
    let trailing = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .header("content-type", "application/json")
        .body(r#"{"refresh_token": "x"} garbage"#)
        .send()
        .await
        .unwrap();
    assert_problem(trailing, 400, "malformed_json").await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "text/plain")
        .body("organisation=tyreso")
        .send()
        .await
        .unwrap();
    assert_problem(response, 415, "unsupported_media_type").await;
    let missing = app.client.post(app.url("/api/v1/auth/login")).body("{}").send().await.unwrap();
    assert_problem(missing, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn a_body_of_the_wrong_shape_names_the_field() {
    let app = spawn_app().await;
    let missing =
        app.client.post(app.url("/api/v1/auth/login")).json(&json!({ "organisation": "tyreso" })).send().await.unwrap();
    let body = assert_problem(missing, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "username");
    assert_eq!(body["errors"][0]["code"], "required");

    let wrong_type = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "organisation": "tyreso", "username": 7, "password": "x", "device_id": "d" }))
        .send()
        .await
        .unwrap();
    let body = assert_problem(wrong_type, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "username");
    assert_eq!(body["errors"][0]["code"], "invalid_type");
}

/// serde reads a JSON array as a struct's fields in order, so `[]` or `[null, null]` would pass
/// for a body of optional fields (`PATCH /api/v1/retention` took `[null, null]` as "change
/// nothing"). Every body is an object: on every route that takes one, for every role, an array
/// is refused.
#[tokio::test]
async fn an_array_is_never_a_body_on_any_route() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let tokens = [None, Some(&tenant.admin), Some(&tenant.coordinator), Some(&tenant.field), Some(&tenant.partner)];
    let unknown = "01900000-0000-7000-8000-000000000000";
    // The routes that take no body (logging out, revoking a device) or bytes, not JSON (a
    // photo's chunk: tests/api/photos.rs).
    let without_body = ["/api/v1/auth/logout", "/api/v1/devices/{id}/revoke", "/api/v1/uploads/{sha256}"];
    let mut refused = 0;
    for (method, pattern) in lagesbild::routes::ROUTES {
        if !["POST", "PUT", "PATCH"].contains(method) || without_body.contains(pattern) {
            continue;
        }
        let path = pattern
            .replace("{id}", unknown)
            .replace("{code}", "TY")
            .replace("{period}", "2024-T2")
            .replace("{year}", "2024");
        for length in 0..=6 {
            let body = serde_json::Value::Array(vec![serde_json::Value::Null; length]);
            for member in tokens {
                let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                let mut request = app.client.request(method.clone(), app.url(&path)).json(&body);
                if let Some(member) = member {
                    request = request.bearer_auth(&member.tokens.access);
                }
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                assert!(!(200..300).contains(&status), "{method} {path} took {body} ({status})");
                if status == 422 {
                    let problem: serde_json::Value = response.json().await.unwrap();
                    assert_eq!(problem["errors"][0]["field"], ".", "{method} {path}: {problem}");
                    refused += 1;
                }
            }
        }
    }
    assert!(refused > 100, "the bodies were read and refused: {refused}");
}

#[tokio::test]
async fn an_oversized_body_is_413_from_content_length_before_it_is_read() {
    let app = spawn_app_with(|settings| settings.max_body_bytes = 4096).await;
    let big = format!(r#"{{"refresh_token": "{}"}}"#, "x".repeat(100_000));
    let response = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .expect("the client reads a 413, not a reset connection");
    let body = assert_problem(response, 413, "payload_too_large").await;
    assert!(body["detail"].as_str().unwrap().contains("4096"));
}

#[tokio::test]
async fn an_oversized_chunked_body_is_413_too() {
    let app = spawn_app_with(|settings| settings.max_body_bytes = 4096).await;
    let chunks: Vec<Result<String, std::io::Error>> =
        vec![Ok(r#"{"refresh_token": ""#.to_owned()), Ok("x".repeat(10_000)), Ok(r#""}"#.to_owned())];
    let response = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_problem(response, 413, "payload_too_large").await;
}

#[tokio::test]
async fn validation_names_every_field_at_fault() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let response = app
        .post(
            "/api/v1/users",
            &tenant.admin.tokens.access,
            &json!({ "username": "bad name", "password": "short", "role": "root" }),
        )
        .await;
    let body = assert_problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["username", "password", "role"]);
    let codes: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["invalid_username", "too_short", "unknown_role"]);
}

#[tokio::test]
async fn a_fault_of_ours_is_an_opaque_500_that_carries_the_request_id() {
    use diesel::connection::SimpleConnection;
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    // Break the database under the running server.
    app.conn().batch_execute("ALTER TABLE units RENAME TO units_gone").unwrap();
    let response = app.get("/api/v1/units", &tenant.field.tokens.access).await;
    let header = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = assert_problem(response, 500, "internal_error").await;
    assert_eq!(body["request_id"], header.as_str(), "the body quotes the id the log line carries");
    let text = body.to_string().to_lowercase();
    for leak in ["units_gone", "sql", "diesel", "no such table", "relation"] {
        assert!(!text.contains(leak), "the 500 body says something internal ({leak}): {body}");
    }
}

#[tokio::test]
async fn a_literal_route_owns_its_path_for_every_method() {
    // `/api/v1/areas/jobs` is the jobs resource, as OpenAPI reads paths, never the area `jobs`:
    // DELETE there is 405 (not an attempt to delete an area), and Allow names only GET.
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    for method in [reqwest::Method::DELETE, reqwest::Method::OPTIONS, reqwest::Method::POST] {
        let response = app
            .client
            .request(method.clone(), app.url("/api/v1/areas/jobs"))
            .bearer_auth(&tenant.admin.tokens.access)
            .send()
            .await
            .unwrap();
        let allow = response.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
        assert_problem(response, 405, "method_not_allowed").await;
        assert_eq!(allow.as_deref(), Some("GET"), "{method}");
    }
    // The parameter route still serves every other code.
    let response =
        app.client.delete(app.url("/api/v1/areas/GR")).bearer_auth(&tenant.admin.tokens.access).send().await.unwrap();
    assert_problem(response, 404, "area_not_found").await;
}
