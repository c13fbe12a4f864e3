//! Query parameters the lists share: comma-separated values, times, page sizes and keyset
//! cursors, each failure naming its parameter.

use crate::error::{ApiError, ApiResult};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Comma-separated values, trimmed, empty ones left out.
pub fn list(text: Option<&str>) -> Vec<String> {
    text.map(|t| t.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()).unwrap_or_default()
}

/// A time as the lists take it: RFC 3339, a date (UTC midnight) or ms since the epoch.
pub fn instant(field: &str, text: &str) -> ApiResult<i64> {
    let text = text.trim();
    // Milliseconds since the epoch; a short number such as `2024` is not taken for one.
    if let Ok(ms) = text.parse::<i64>().map_err(drop).and_then(|ms| if text.len() >= 12 { Ok(ms) } else { Err(()) }) {
        return Ok(ms);
    }
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.timestamp_millis());
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp_millis());
    }
    Err(ApiError::field(
        field,
        "invalid_time",
        "use RFC 3339 (2024-05-01T18:00:00+02:00), a date (2024-05-01) or ms since the epoch",
    ))
}

/// An optional time parameter; empty means absent.
pub fn optional_instant(field: &str, text: Option<&str>) -> ApiResult<Option<i64>> {
    text.filter(|t| !t.trim().is_empty()).map(|t| instant(field, t)).transpose()
}

/// An optional slug parameter (a unit, say); empty means absent.
pub fn optional_slug(field: &str, text: Option<&str>) -> ApiResult<Option<String>> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => crate::domain::identity::Slug::parse(field, text)
            .map(|slug| Some(slug.as_str().to_owned()))
            .map_err(|e| ApiError::Validation(vec![e])),
    }
}

/// `limit`: a page size of 1 to 1000, 100 when absent.
pub fn limit(text: Option<&str>) -> ApiResult<i64> {
    match text.map(str::trim) {
        None | Some("") => Ok(100),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::field("limit", "out_of_range", "must be between 1 and 1000")),
    }
}

/// The keyset position after which the next page starts: (time, id), newest first.
pub fn encode_after(time: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&(time, id)).unwrap_or_default())
}

/// `after`: the `next` value of the previous page, if any.
pub fn after(text: Option<&str>) -> ApiResult<Option<(i64, String)>> {
    match text.filter(|a| !a.is_empty()) {
        Some(token) => URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<(i64, String)>(&bytes).ok())
            // Ours never hold U+0000, which no database is asked to compare.
            .filter(|(_, id)| !id.contains('\0'))
            .map(Some)
            .ok_or_else(|| ApiError::field("after", "invalid_cursor", "not a `next` value of this list")),
        None => Ok(None),
    }
}

/// The period a report is asked for; required.
pub fn period(text: Option<&str>) -> ApiResult<crate::domain::period::Period> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        Some(text) => crate::domain::period::Period::parse("period", text).map_err(|e| ApiError::Validation(vec![e])),
        None => Err(ApiError::field(
            "period",
            "required",
            format!("give a period: {}", crate::domain::period::ACCEPTED_FORMS),
        )),
    }
}

/// The language a report is written in.
pub fn lang(text: Option<&str>) -> ApiResult<crate::reports::Lang> {
    crate::reports::Lang::parse(text)
        .ok_or_else(|| ApiError::field("lang", "invalid_lang", "use sv (the default) or en"))
}
