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
        "photos.js",
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
    let version = shell_version(EMBEDDED, super::common::files());
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

/// The digest of the shell: the app's files but the worker, and the shared files the worker
/// caches with them (a change to the shared client is a new shell too).
fn shell_version(app: &[(&str, &[u8])], shared: &[(&str, &[u8])]) -> String {
    let app = app.iter().filter(|(name, _)| *name != "sw.js").map(|(name, bytes)| (name.to_string(), *bytes));
    let shared = shared.iter().map(|(name, bytes)| (format!("../common/{name}"), *bytes));
    let mut shell = Sha256::new();
    for (path, bytes) in app.chain(shared) {
        shell.update(path.as_bytes());
        shell.update(bytes);
    }
    hex::encode(&shell.finalize()[..8])
}

/// What the shell may load: only itself; scripts, styles, images and API calls from this origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; \
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_to_a_shared_file_changes_the_shell_version() {
        let shared = crate::routes::common::files();
        let before = shell_version(EMBEDDED, shared);
        for (changed, _) in shared {
            let edited: Vec<(&str, &[u8])> = shared
                .iter()
                .map(|(name, bytes)| (*name, if name == changed { &b"/* edited */"[..] } else { *bytes }))
                .collect();
            assert_ne!(shell_version(EMBEDDED, &edited), before, "{changed} is not part of the shell version");
        }
    }

    #[test]
    fn the_worker_itself_is_not_part_of_the_shell_version() {
        let shared = crate::routes::common::files();
        let without_worker: Vec<(&str, &[u8])> =
            EMBEDDED.iter().copied().filter(|(name, _)| *name != "sw.js").collect();
        assert_eq!(shell_version(&without_worker, shared), shell_version(EMBEDDED, shared));
    }
}
