//! `GET /tiles/{z}/{x}/{y}`: a tile of the configured base map (an MBTiles file), for the
//! dashboard's map. Public like any tile server: a base map says nothing about anyone.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};

fn not_found(detail: &str) -> ApiError {
    ApiError::NotFound(detail.to_owned())
}

/// One tile; `y` may carry the file extension the tile URL templates of other servers use
/// (`12.png`).
pub async fn tile(state: web::Data<AppState>, path: web::Path<(String, String, String)>) -> ApiResult<HttpResponse> {
    let Some(basemap) = state.basemap.clone() else {
        return Err(not_found("no base map is configured here"));
    };
    let (z, x, y) = path.into_inner();
    let y = y.split_once('.').map_or(y.as_str(), |(number, _)| number).to_owned();
    let (Ok(z), Ok(x), Ok(y)) = (z.parse::<u8>(), x.parse::<u32>(), y.parse::<u32>()) else {
        return Err(ApiError::BadRequest {
            code: "invalid_tile",
            detail: "a tile is /tiles/{z}/{x}/{y} with whole numbers, z at most 30".into(),
        });
    };
    let media_type = basemap.media_type;
    let tile = web::block(move || basemap.tile(z, x, y)).await??;
    let Some(bytes) = tile else {
        return Err(not_found("the base map has no tile there"));
    };
    let mut response = HttpResponse::Ok().content_type(media_type).body(bytes);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    Ok(response)
}
