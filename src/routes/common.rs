//! What the two web clients share, embedded once and served under `/common/`: the client that
//! speaks to the server (requests, login, tokens that renew themselves) and the base styles.
//! The field app's service worker keeps these with its own files.

use super::embedded::{self, Asset, embed_directory};
use crate::error::ApiResult;
use actix_web::{HttpRequest, HttpResponse, web};
use std::sync::LazyLock;

embed_directory!(ASSET_NAMES, EMBEDDED, "common", ["client.js", "base.css"]);

static ASSETS: LazyLock<Vec<Asset>> =
    LazyLock::new(|| EMBEDDED.iter().map(|(name, bytes)| Asset::new(name, bytes.to_vec())).collect());

/// The shared files as embedded, for the field app's shell digest.
pub fn files() -> &'static [(&'static str, &'static [u8])] {
    EMBEDDED
}

/// Scripts and styles, nothing else, and only from this origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// `GET /common/{asset}`: one shared file.
pub async fn asset(req: HttpRequest, name: web::Path<String>) -> ApiResult<HttpResponse> {
    embedded::serve(&req, &ASSETS, &name, "the shared client", CONTENT_SECURITY_POLICY)
}
