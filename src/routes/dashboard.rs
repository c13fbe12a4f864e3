//! The coordinator dashboard: plain ES modules embedded in the binary and served under
//! `/dashboard/`, like the field app but with no service worker (it is used online, on a laptop
//! or a tablet), plus `config.json`, which tells it where map tiles come from, if anywhere.

use super::embedded::{self, Asset, embed_directory};
use crate::error::ApiResult;
use crate::state::AppState;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use std::sync::LazyLock;

embed_directory!(
    ASSET_NAMES,
    EMBEDDED,
    "dashboard",
    [
        "index.html",
        "dashboard.css",
        "main.js",
        "api.js",
        "i18n.js",
        "dom.js",
        "filters.js",
        "map.js",
        "charts.js",
        "areas.js",
        "review.js",
        "photos.js",
        "admin.js",
        "retention.js",
        "plan.js",
        "exports.js",
        "documents.js",
    ]
);

static ASSETS: LazyLock<Vec<Asset>> =
    LazyLock::new(|| EMBEDDED.iter().map(|(name, bytes)| Asset::new(name, bytes.to_vec())).collect());

/// Only this origin, and map tiles from the configured tile server. Styles may be inline because
/// the follow-up report, opened from a blob URL, inherits this policy and carries its own styles;
/// scripts never may.
fn content_security_policy(state: &AppState) -> String {
    let tiles = state.settings.tile_origin().map(|origin| format!(" {origin}")).unwrap_or_default();
    format!(
        "default-src 'self'; img-src 'self' data: blob:{tiles}; connect-src 'self'; script-src 'self'; \
         style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

fn serve(req: &HttpRequest, state: &AppState, name: &str) -> ApiResult<HttpResponse> {
    embedded::serve(req, &ASSETS, name, "the dashboard", &content_security_policy(state))
}

/// `GET /dashboard`: the dashboard lives under `/dashboard/`, where its relative links work.
pub async fn redirect() -> HttpResponse {
    embedded::redirect_to("/dashboard/")
}

/// `GET /dashboard/`: the dashboard's page.
pub async fn index(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    serve(&req, &state, "index.html")
}

/// `GET /dashboard/config.json`: the map tile template (this binary's `/tiles/…` for a
/// configured base map, else the external tile server's), its attribution and zoom range, or
/// null.
pub async fn config(state: web::Data<AppState>) -> HttpResponse {
    let settings = &state.settings;
    let attribution = |own: Option<&str>| own.or(settings.tile_attribution.as_deref()).unwrap_or_default().to_owned();
    let tiles = match &state.basemap {
        // The municipality's own base map, served by this binary.
        Some(basemap) => Some(json!({
            "url": "/tiles/{z}/{x}/{y}",
            "attribution": attribution(basemap.attribution.as_deref()),
            "min_zoom": basemap.min_zoom,
            "max_zoom": basemap.max_zoom,
        })),
        None => settings
            .tile_origin()
            .and(settings.tile_url.as_ref())
            .map(|url| json!({ "url": url, "attribution": attribution(None), "min_zoom": 0, "max_zoom": 19 })),
    };
    let mut response = HttpResponse::Ok().json(json!({ "tiles": tiles }));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /dashboard/{asset}`: one file of the dashboard.
pub async fn asset(req: HttpRequest, state: web::Data<AppState>, name: web::Path<String>) -> ApiResult<HttpResponse> {
    serve(&req, &state, &name)
}
