//! Static files embedded in the binary (the field app and the dashboard): each served with its
//! content type, an ETag and `Cache-Control: no-cache`, so a browser always revalidates (cheaply)
//! and a new binary's files replace the old ones at once.

use crate::error::{ApiError, ApiResult};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

/// Declares a directory's embedded files once: `$names` lists them (the tests compare it with the
/// directory) and `$files` holds their bytes.
macro_rules! embed_directory {
    ($names:ident, $files:ident, $directory:literal, [$( $name:literal ),* $(,)?]) => {
        #[doc = concat!("The name of every file embedded from `web/", $directory, "/`.")]
        pub const $names: &[&str] = &[ $( $name ),* ];

        const $files: &[(&str, &[u8])] = &[
            $( ($name, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $directory, "/", $name)))),*
        ];
    };
}
pub(crate) use embed_directory;

/// One file ready to serve.
pub struct Asset {
    /// The file name, as in the URL.
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes as served.
    pub bytes: Vec<u8>,
    /// A quoted digest of the bytes.
    pub etag: String,
}

impl Asset {
    /// A file as served, with its content type and ETag.
    pub fn new(name: &'static str, bytes: Vec<u8>) -> Self {
        Self { name, content_type: content_type(name), etag: format!("\"{}\"", digest(&bytes)), bytes }
    }
}

/// The content type of a file, by its extension.
pub fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// A short hex digest of some bytes.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..12])
}

/// Answers one file (or 304 for a current copy) with its validators and security headers.
pub fn serve(
    req: &HttpRequest,
    assets: &[Asset],
    name: &str,
    what: &str,
    content_security_policy: &str,
) -> ApiResult<HttpResponse> {
    let asset = assets
        .iter()
        .find(|asset| asset.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("{what} has no file `{name}`")))?;
    let mut response = if if_none_match(req, &asset.etag) {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok().content_type(asset.content_type).body(asset.bytes.clone())
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&asset.etag) {
        headers.insert(header::ETAG, etag);
    }
    // The file names carry no version: always revalidate (cheap with the ETag).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(policy) = HeaderValue::from_str(content_security_policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
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

/// A permanent redirect from a directory's bare name to the directory.
pub fn redirect_to(location: &'static str) -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, location)).finish()
}
