//! The coordinator dashboard: its files are embedded in the binary and served under
//! `/dashboard/` with the right content types, validators and security headers, and its map
//! loads tiles from elsewhere only when a tile server is configured.

use crate::helpers::*;
use lagesbild::routes::dashboard::ASSET_NAMES;
use std::collections::BTreeSet;

fn expected_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        other => panic!("no expected content type for {other:?}"),
    }
}

#[test]
fn every_file_of_the_dashboard_directory_is_embedded() {
    let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/dashboard");
    let on_disk: BTreeSet<String> =
        std::fs::read_dir(directory).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
    let embedded: BTreeSet<String> = ASSET_NAMES.iter().map(|name| (*name).to_owned()).collect();
    assert_eq!(on_disk, embedded);
}

#[tokio::test]
async fn the_dashboard_and_its_files_are_served_with_their_content_types() {
    let app = spawn_app().await;
    let page = app.client.get(app.url("/dashboard/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(policy.contains("img-src 'self' data: blob:;"), "no tile server, no images from elsewhere: {policy}");
    let html = page.text().await.unwrap();
    assert!(html.contains("<script type=\"module\" src=\"main.js\"></script>"));
    assert!(!html.contains("http://") && !html.contains("https://"), "the page loads nothing from elsewhere");

    for name in ASSET_NAMES {
        let response = app.client.get(app.url(&format!("/dashboard/{name}"))).send().await.unwrap();
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(response.headers()["content-type"], expected_type(name), "{name}");
        assert_eq!(response.headers()["cache-control"], "no-cache", "{name}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff", "{name}");
        assert!(response.headers()["etag"].to_str().unwrap().starts_with('"'), "{name}");
        let body = response.text().await.unwrap();
        assert!(!body.is_empty(), "{name}");
        if name.ends_with(".js") {
            // The SVG namespace is a name, not an address.
            let body = body.replace("http://www.w3.org/2000/svg", "");
            assert!(!body.contains("http://") && !body.contains("https://"), "{name} fetches from elsewhere");
        }
    }

    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/dashboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/dashboard/");
}

#[tokio::test]
async fn a_current_copy_is_answered_not_modified_and_an_unknown_file_is_404() {
    let app = spawn_app().await;
    let first = app.client.get(app.url("/dashboard/main.js")).send().await.unwrap();
    let etag = first.headers()["etag"].clone();
    let again =
        app.client.get(app.url("/dashboard/main.js")).header("if-none-match", etag.clone()).send().await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag);

    let missing = app.client.get(app.url("/dashboard/nothing.js")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.json::<serde_json::Value>().await.unwrap()["code"], "not_found");
    let outside = app.client.get(app.url("/dashboard/..%2FCargo.toml")).send().await.unwrap();
    assert_eq!(outside.status(), 404);
}

#[tokio::test]
async fn without_a_tile_server_the_map_draws_no_tiles() {
    let app = spawn_app().await;
    let config = app.client.get(app.url("/dashboard/config.json")).send().await.unwrap();
    assert_eq!(config.status(), 200);
    assert_eq!(config.json::<serde_json::Value>().await.unwrap(), serde_json::json!({ "tiles": null }));
}

#[tokio::test]
async fn a_configured_tile_server_is_named_to_the_map_and_allowed_by_the_policy() {
    let app = spawn_app_with(|settings| {
        settings.tile_url = Some("https://tiles.example.org/{z}/{x}/{y}.png".into());
        settings.tile_attribution = Some("© Example".into());
    })
    .await;
    let config: serde_json::Value =
        app.client.get(app.url("/dashboard/config.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(config["tiles"]["url"], "https://tiles.example.org/{z}/{x}/{y}.png");
    assert_eq!(config["tiles"]["attribution"], "© Example");
    let page = app.client.get(app.url("/dashboard/")).send().await.unwrap();
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("img-src 'self' data: blob: https://tiles.example.org;"), "{policy}");
    // The field app's policy is its own and stays closed.
    let field = app.client.get(app.url("/app/")).send().await.unwrap();
    assert!(!field.headers()["content-security-policy"].to_str().unwrap().contains("tiles.example.org"));
}
