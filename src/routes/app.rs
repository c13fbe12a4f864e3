//! The field app: a progressive web app whose files are embedded in the binary and served under
//! `/app/`, each with its content type and an ETag, revalidated on every request so that a phone
//! online always gets the current shell while its service worker keeps it working offline.

use super::embedded::{self, Asset, embed_directory};
use crate::error::ApiResult;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

embed_directory!(
    ASSET_NAMES,
    EMBEDDED,
    "app",
    [
        "index.html",
        "app.css",
        "main.js",
        "api.js",
        "db.js",
        "sync.js",
        "i18n.js",
        "views.js",
        "position.js",
        "sw.js",
        "manifest.webmanifest",
        "icon.svg",
        "icon-192.png",
        "icon-512.png",
    ]
);

/// The service worker names its cache after this placeholder, replaced by a digest of every other
/// file (and of the shared ones of `/common/`): any change to the shell changes the worker, which
/// makes browsers install the new shell.
const VERSION_PLACEHOLDER: &str = "__SHELL_VERSION__";

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(build_assets);

fn build_assets() -> Vec<Asset> {
    let mut shell = Sha256::new();
    // The shared client and styles are part of the shell: a change to them is a new shell too.
    let shared = super::common::files().iter().map(|(name, bytes)| (*name, *bytes));
    for (name, bytes) in
        EMBEDDED.iter().map(|(name, bytes)| (*name, *bytes)).filter(|(name, _)| *name != "sw.js").chain(shared)
    {
        shell.update(name.as_bytes());
        shell.update(bytes);
    }
    let version = hex::encode(&shell.finalize()[..8]);
    EMBEDDED
        .iter()
        .map(|(name, bytes)| {
            let bytes = if *name == "sw.js" {
                String::from_utf8_lossy(bytes).replace(VERSION_PLACEHOLDER, &version).into_bytes()
            } else {
                bytes.to_vec()
            };
            Asset::new(name, bytes)
        })
        .collect()
}

/// What the shell may load: only itself; scripts, styles, images and API calls from this origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; connect-src 'self'; \
     script-src 'self'; style-src 'self'; manifest-src 'self'; worker-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

fn serve(req: &HttpRequest, name: &str) -> ApiResult<HttpResponse> {
    let mut response = embedded::serve(req, &ASSETS, name, "the field app", CONTENT_SECURITY_POLICY)?;
    if name == "sw.js" {
        response
            .headers_mut()
            .insert(header::HeaderName::from_static("service-worker-allowed"), HeaderValue::from_static("/app/"));
    }
    Ok(response)
}

/// `GET /app`: the app lives under `/app/`, where relative links and the worker's scope work.
pub async fn redirect() -> HttpResponse {
    embedded::redirect_to("/app/")
}

/// `GET /app/`: the app's page.
pub async fn index(req: HttpRequest) -> ApiResult<HttpResponse> {
    serve(&req, "index.html")
}

/// `GET /app/{asset}`: one file of the app.
pub async fn asset(req: HttpRequest, name: web::Path<String>) -> ApiResult<HttpResponse> {
    serve(&req, &name)
}
