//! The field app: a progressive web app whose files are embedded in the binary and served under
//! `/app/`, each with its content type and an ETag, revalidated on every request so that a phone
//! online always gets the current shell while its service worker keeps it working offline.

use crate::error::{ApiError, ApiResult};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// Declares the embedded files once: `ASSET_NAMES` lists them (the tests compare it with the
/// directory) and `EMBEDDED` holds their bytes.
macro_rules! assets {
    ($( $name:literal ),* $(,)?) => {
        /// The name of every file of the field app, as served under `/app/`.
        pub const ASSET_NAMES: &[&str] = &[ $( $name ),* ];

        const EMBEDDED: &[(&str, &[u8])] = &[ $( ($name, include_bytes!(concat!("../../web/app/", $name))) ),* ];
    };
}

assets! {
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
}

/// The service worker names its cache after this placeholder, replaced by a digest of every other
/// file: any change to the shell changes the worker, which makes browsers install the new shell.
const VERSION_PLACEHOLDER: &str = "__SHELL_VERSION__";

/// One file ready to serve.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: Vec<u8>,
    etag: String,
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(build_assets);

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

fn digest(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..12])
}

fn build_assets() -> Vec<Asset> {
    let mut shell = Sha256::new();
    for (name, bytes) in EMBEDDED.iter().filter(|(name, _)| *name != "sw.js") {
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
            Asset { name, content_type: content_type(name), etag: format!("\"{}\"", digest(&bytes)), bytes }
        })
        .collect()
}

/// What the shell may load: only itself; scripts, styles, images and API calls from this origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; connect-src 'self'; \
     script-src 'self'; style-src 'self'; manifest-src 'self'; worker-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

fn serve(req: &HttpRequest, name: &str) -> ApiResult<HttpResponse> {
    let asset = ASSETS
        .iter()
        .find(|asset| asset.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("the field app has no file `{name}`")))?;
    let mut response = if if_none_match(req, &asset.etag) {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok().content_type(asset.content_type).body(asset.bytes.clone())
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&asset.etag) {
        headers.insert(header::ETAG, etag);
    }
    // The file names carry no version: always revalidate (cheap with the ETag); offline, the
    // service worker answers from its own cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    if name == "sw.js" {
        headers.insert(header::HeaderName::from_static("service-worker-allowed"), HeaderValue::from_static("/app/"));
    }
    Ok(response)
}

fn if_none_match(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|candidate| candidate.trim().trim_start_matches("W/"))
        .any(|candidate| candidate == etag || candidate == "*")
}

/// `GET /app`: the app lives under `/app/`, where relative links and the worker's scope work.
pub async fn redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, "/app/")).finish()
}

/// `GET /app/`: the app's page.
pub async fn index(req: HttpRequest) -> ApiResult<HttpResponse> {
    serve(&req, "index.html")
}

/// `GET /app/{asset}`: one file of the app.
pub async fn asset(req: HttpRequest, name: web::Path<String>) -> ApiResult<HttpResponse> {
    serve(&req, &name)
}
