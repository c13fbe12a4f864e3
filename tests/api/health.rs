//! Liveness, readiness, metrics and request ids.

use crate::helpers::*;

#[tokio::test]
async fn healthz_and_readyz_answer_when_the_database_is_ready() {
    let app = spawn_app().await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<serde_json::Value>().await.unwrap()["status"], "ok");
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap()["status"], "ready");
}

#[tokio::test]
async fn readyz_is_503_when_a_migration_is_not_applied() {
    let app = spawn_app().await;
    let mut conn = app.conn();
    lagesbild::db::revert_last_migration(&mut conn).unwrap();
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    let body = assert_problem(response, 503, "unavailable").await;
    assert!(body["request_id"].is_string(), "a 503 carries the request id: {body}");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_sane_one_is_echoed() {
    let app = spawn_app().await;
    let generated = app.client.get(app.url("/healthz")).send().await.unwrap();
    let id = generated.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "a generated id is a UUID: {id}");

    let echoed = app.client.get(app.url("/no/such/route")).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "abc-123");

    let hostile = app.client.get(app.url("/healthz")).header("x-request-id", "x".repeat(500)).send().await.unwrap();
    assert_ne!(hostile.headers()["x-request-id"].to_str().unwrap(), "x".repeat(500));
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_show_the_pool() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.client.get(app.url("/healthz")).send().await.unwrap();
    }
    app.client.get(app.url("/api/v1/users/some-id")).send().await.unwrap();
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains(r#"lagesbild_http_requests_total{method="GET",route="/healthz",status="200"} 3"#), "{text}");
    assert!(
        text.contains(r#"lagesbild_http_requests_total{method="GET",route="/api/v1/users/{id}",status="401"} 1"#),
        "requests are labelled by route pattern, not by path: {text}"
    );
    assert!(text.contains("lagesbild_http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains(r#"lagesbild_db_pool_connections{state="in_use"}"#), "{text}");
    let backend = if app.on_postgres() { "postgres" } else { "sqlite" };
    assert!(text.contains(&format!(r#"lagesbild_build_info{{version="0.1.0",backend="{backend}"}} 1"#)), "{text}");
}

#[tokio::test]
async fn responses_are_compressed_when_the_client_asks_and_decode_to_the_plain_answer() {
    use std::io::Read;
    let app = spawn_app().await;
    let plain = app.client.get(app.url("/api-spec/openapi.yaml")).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap();
    for encoding in ["gzip", "br", "zstd"] {
        let response =
            app.client.get(app.url("/api-spec/openapi.yaml")).header("accept-encoding", encoding).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-encoding"], encoding);
        let sent = response.bytes().await.unwrap();
        assert!(sent.len() * 3 < plain.len(), "{encoding}: {} bytes for {}", sent.len(), plain.len());
        let mut decoded = Vec::new();
        match encoding {
            "gzip" => flate2::read::GzDecoder::new(&sent[..]).read_to_end(&mut decoded).map(drop),
            "br" => brotli::Decompressor::new(&sent[..], 4096).read_to_end(&mut decoded).map(drop),
            _ => zstd::stream::read::Decoder::new(&sent[..]).and_then(|mut d| d.read_to_end(&mut decoded)).map(drop),
        }
        .unwrap();
        assert_eq!(decoded, plain, "{encoding} decodes to the plain answer");
    }
}

#[tokio::test]
async fn the_front_page_links_the_field_app_the_dashboard_and_the_api_reference() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
    let page = response.text().await.unwrap();
    for link in ["/app/", "/dashboard/", "/api-docs"] {
        assert!(page.contains(&format!("href=\"{link}\"")), "the page links {link}");
        let target = app.client.get(app.url(link)).send().await.unwrap();
        assert_eq!(target.status(), 200, "{link} answers");
    }
}
