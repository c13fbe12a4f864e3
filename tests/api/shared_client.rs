//! What the field app and the dashboard share (`web/common/`): one client and one base style
//! sheet, embedded once, served once under `/common/`, and loaded by both pages instead of copies.

use crate::helpers::*;
use lagesbild::routes::common::ASSET_NAMES as SHARED_NAMES;
use std::collections::BTreeSet;

fn expected_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, extension)| extension) {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        other => panic!("no expected content type for {other:?}"),
    }
}

async fn text(app: &TestApp, path: &str) -> String {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

#[test]
fn every_file_of_the_common_directory_is_embedded() {
    let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/common");
    let on_disk: BTreeSet<String> =
        std::fs::read_dir(directory).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
    let embedded: BTreeSet<String> = SHARED_NAMES.iter().map(|name| (*name).to_owned()).collect();
    assert_eq!(on_disk, embedded);
}

#[tokio::test]
async fn the_shared_files_are_served_once_from_common_with_their_types_and_validators() {
    let app = spawn_app().await;
    for name in SHARED_NAMES {
        let response = app.client.get(app.url(&format!("/common/{name}"))).send().await.unwrap();
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(response.headers()["content-type"], expected_type(name), "{name}");
        assert_eq!(response.headers()["cache-control"], "no-cache", "{name}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff", "{name}");
        let etag = response.headers()["etag"].clone();
        assert!(etag.to_str().unwrap().starts_with('"'), "{name}");
        assert!(!response.bytes().await.unwrap().is_empty(), "{name}");
        let again = app.client.get(app.url(&format!("/common/{name}"))).header("if-none-match", etag.clone()).send();
        let again = again.await.unwrap();
        assert_eq!(again.status(), 304, "{name}");
        assert_eq!(again.headers()["etag"], etag, "{name}");

        // Once: neither client serves a copy of its own.
        for client in ["app", "dashboard"] {
            let copy = app.client.get(app.url(&format!("/{client}/{name}"))).send().await.unwrap();
            assert_eq!(copy.status(), 404, "/{client}/{name} is a copy of /common/{name}");
        }
    }
    let missing = app.client.get(app.url("/common/nothing.js")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.json::<serde_json::Value>().await.unwrap()["code"], "not_found");
}

#[tokio::test]
async fn both_clients_load_the_shared_client_and_styles_and_copy_neither() {
    let app = spawn_app().await;
    let clients =
        [("/app/", "/app/api.js", "/app/app.css"), ("/dashboard/", "/dashboard/api.js", "/dashboard/dashboard.css")];
    for (page, api, styles) in clients {
        let response = app.client.get(app.url(page)).send().await.unwrap();
        let policy = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(policy.contains("script-src 'self'") && policy.contains("style-src 'self'"), "{page}: {policy}");
        let html = response.text().await.unwrap();
        let shared_styles = html.find("<link rel=\"stylesheet\" href=\"../common/base.css\">");
        let own_styles =
            html.find(&format!("<link rel=\"stylesheet\" href=\"{}\">", styles.rsplit('/').next().unwrap()));
        assert!(shared_styles.is_some() && own_styles.is_some(), "{page} does not load both style sheets");
        assert!(shared_styles < own_styles, "{page} loads its own styles before the shared ones");

        let api = text(&app, api).await;
        assert!(api.contains("from '../common/client.js'"), "{page} does not use the shared client");
        // Neither client sends requests or renews tokens by itself.
        for copied in
            ["async function send(", "function refresh(", "/api/v1/auth/refresh", "class HttpError", "function uuidv7("]
        {
            assert!(!api.contains(copied), "{page}'s api.js still has its own `{copied}`");
        }
        // Nor restates the palette and the base rules.
        let css = text(&app, styles).await;
        for copied in ["--bg:", "--focus:", "[hidden] { display: none !important; }", ".visually-hidden"] {
            assert!(!css.contains(copied), "{styles} still has its own `{copied}`");
        }
    }
    let shared = text(&app, "/common/client.js").await;
    assert!(shared.contains("/api/v1/auth/refresh") && shared.contains("export class HttpError"));
    let base = text(&app, "/common/base.css").await;
    assert!(base.contains("--bg:") && base.contains(".visually-hidden"));
}
