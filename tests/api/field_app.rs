//! The field app: its files are embedded in the binary and served under `/app/` with the right
//! content types, validators and caching, and the whole shell stays small on a phone's network.

use crate::helpers::*;
use lagesbild::routes::app::ASSET_NAMES;
use lagesbild::routes::common::ASSET_NAMES as SHARED_NAMES;
use sha2::Digest;
use std::collections::BTreeSet;
use std::io::Write;

const SHELL_BUDGET_BYTES: usize = 300 * 1024;

fn expected_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        other => panic!("no expected content type for {other:?}"),
    }
}

fn gzip(bytes: &[u8]) -> usize {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap().len()
}

#[test]
fn every_file_of_the_app_directory_is_embedded() {
    let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/app");
    let on_disk: BTreeSet<String> =
        std::fs::read_dir(directory).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
    let embedded: BTreeSet<String> = ASSET_NAMES.iter().map(|name| (*name).to_owned()).collect();
    assert_eq!(on_disk, embedded);
}

#[tokio::test]
async fn the_app_and_its_files_are_served_with_their_content_types() {
    let app = spawn_app().await;
    let page = app.client.get(app.url("/app/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let html = page.text().await.unwrap();
    assert!(html.contains("<link rel=\"manifest\" href=\"manifest.webmanifest\">"));
    assert!(!html.contains("http://") && !html.contains("https://"), "the page loads nothing from elsewhere");

    for name in ASSET_NAMES {
        let response = app.client.get(app.url(&format!("/app/{name}"))).send().await.unwrap();
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(response.headers()["content-type"], expected_type(name), "{name}");
        assert_eq!(response.headers()["cache-control"], "no-cache", "{name}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff", "{name}");
        assert!(response.headers()["etag"].to_str().unwrap().starts_with('"'), "{name}");
        assert!(!response.bytes().await.unwrap().is_empty(), "{name}");
    }

    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/app"))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/app/");
}

#[tokio::test]
async fn a_current_copy_is_answered_not_modified() {
    let app = spawn_app().await;
    let first = app.client.get(app.url("/app/main.js")).send().await.unwrap();
    let etag = first.headers()["etag"].clone();
    let again = app.client.get(app.url("/app/main.js")).header("if-none-match", etag.clone()).send().await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag);
    let stale = app.client.get(app.url("/app/main.js")).header("if-none-match", "\"stale\"").send().await.unwrap();
    assert_eq!(stale.status(), 200);
}

#[tokio::test]
async fn the_service_worker_names_its_cache_after_the_shell() {
    let app = spawn_app().await;
    let worker = app.client.get(app.url("/app/sw.js")).send().await.unwrap().text().await.unwrap();
    assert!(!worker.contains("__SHELL_VERSION__"), "the version placeholder is replaced");
    // The version is the digest of the shell as served: every file but the worker, each path with
    // its bytes, then the shared files the worker caches with them.
    let version = worker.split("const VERSION = '").nth(1).and_then(|rest| rest.split('\'').next()).unwrap();
    let mut shell = sha2::Sha256::new();
    for name in ASSET_NAMES.iter().filter(|name| **name != "sw.js") {
        let served = app.client.get(app.url(&format!("/app/{name}"))).send().await.unwrap().bytes().await.unwrap();
        shell.update(name.as_bytes());
        shell.update(&served);
    }
    for name in SHARED_NAMES {
        let served = app.client.get(app.url(&format!("/common/{name}"))).send().await.unwrap().bytes().await.unwrap();
        shell.update(format!("../common/{name}").as_bytes());
        shell.update(&served);
    }
    assert_eq!(version, hex::encode(&shell.finalize()[..8]), "the cache is named after the shell served");
    for name in ASSET_NAMES.iter().filter(|name| **name != "sw.js") {
        assert!(worker.contains(&format!("'{name}'")), "the worker does not cache {name}");
    }
    for name in SHARED_NAMES {
        assert!(worker.contains(&format!("'../common/{name}'")), "the worker does not cache the shared {name}");
    }
}

#[tokio::test]
async fn an_unknown_file_is_404_and_the_shell_fits_the_budget_compressed() {
    let app = spawn_app().await;
    let missing = app.client.get(app.url("/app/nothing.js")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.json::<serde_json::Value>().await.unwrap()["code"], "not_found");

    // The shell is the app's own files and the shared ones it loads from /common/.
    let mut compressed = 0;
    let paths = ASSET_NAMES.iter().map(|name| format!("/app/{name}"));
    for path in paths.chain(SHARED_NAMES.iter().map(|name| format!("/common/{name}"))) {
        let response = app.client.get(app.url(&path)).header("accept-encoding", "gzip").send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let encoded = response.headers().get("content-encoding").is_some();
        let body = response.bytes().await.unwrap();
        compressed += if encoded { body.len() } else { gzip(&body) };
    }
    assert!(compressed < SHELL_BUDGET_BYTES, "the shell is {compressed} bytes compressed");
}
