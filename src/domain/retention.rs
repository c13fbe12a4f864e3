//! Retention (gallring): how long an organisation keeps free text, exact positions, earlier
//! versions of records and audit entries, and what a record looks like once they are gone.
//!
//! Free text (notes, review comments) is emptied. An exact position becomes the centre of the
//! [`COARSE_RESOLUTION`] hexagon it lies in, and the stored cell that hexagon: every heat map at
//! that resolution or coarser, and every area's figures (the area stays as assigned), read the
//! same as before.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The hexagons a coarsened position keeps: resolution 8, about 0.7 km² (edge ≈ 460 m), the
/// resolution of the follow-up report's heat map.
pub const COARSE_RESOLUTION: h3o::Resolution = h3o::Resolution::Eight;

/// The longest period a setting may name: fifty years.
pub const MAX_MONTHS: u32 = 600;

/// An organisation's retention periods in months; `None` keeps that kind of data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Notes and review comments older than this are emptied.
    pub free_text_months: Option<u32>,
    /// Exact positions older than this are coarsened.
    pub position_months: Option<u32>,
    /// Earlier versions of records replaced longer ago than this are removed.
    pub history_months: Option<u32>,
    /// Audit entries older than this are removed.
    pub audit_months: Option<u32>,
    /// Photos of observations older than this are removed (the observations stay).
    #[serde(default)]
    pub photo_months: Option<u32>,
}

impl Policy {
    /// Whether the policy removes nothing.
    pub fn keeps_everything(&self) -> bool {
        *self == Self::default()
    }
}

/// The instant `months` calendar months before `now_ms` (UTC; the last day of a shorter month
/// when the day does not exist there). Data from before it is past the period.
pub fn horizon(now_ms: i64, months: u32) -> i64 {
    let Some(now) = chrono::DateTime::from_timestamp_millis(now_ms) else { return i64::MIN };
    now.checked_sub_months(chrono::Months::new(months)).map_or(i64::MIN, |then| then.timestamp_millis())
}

/// A position as retention leaves it: a hexagon of [`COARSE_RESOLUTION`] and its centre.
#[derive(Debug, Clone, PartialEq)]
pub struct Coarse {
    /// The hexagon, as a hexadecimal H3 index.
    pub cell: String,
    pub lat: f64,
    pub lon: f64,
}

/// The coarse position of a stored cell (one at [`COARSE_RESOLUTION`] or finer): its parent
/// hexagon, so that every coarser view of the record stays where it was.
pub fn coarsen_cell(cell: &str) -> Option<Coarse> {
    let cell: h3o::CellIndex = cell.parse().ok()?;
    let parent = if cell.resolution() > COARSE_RESOLUTION { cell.parent(COARSE_RESOLUTION)? } else { cell };
    let centre = h3o::LatLng::from(parent);
    Some(Coarse { cell: parent.to_string(), lat: centre.lat(), lon: centre.lng() })
}

/// The coarse position of a WGS84 position.
pub fn coarsen_position(lat: f64, lon: f64) -> Option<Coarse> {
    coarsen_cell(&super::geo::cell_for(lat, lon)?)
}

/// What retention removes from a record (or an earlier version of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removal {
    pub free_text: bool,
    pub position: bool,
}

/// Removes free text and coarsens the position in a record as the sync protocol writes it (a
/// stored earlier version, a quarantined payload). Returns whether anything changed.
pub fn scrub(record: &mut Map<String, Value>, removal: Removal) -> bool {
    let before = record.clone();
    if removal.free_text {
        for field in ["note", "review_comment"] {
            match record.get(field) {
                Some(Value::String(text)) if !text.is_empty() => {
                    let empty = if field == "note" { Value::String(String::new()) } else { Value::Null };
                    record.insert(field.to_owned(), empty);
                }
                _ => {}
            }
        }
    }
    if removal.position {
        let lat = record.get("lat").and_then(Value::as_f64);
        let lon = record.get("lon").and_then(Value::as_f64);
        if let (Some(lat), Some(lon)) = (lat, lon) {
            match coarsen_position(lat, lon) {
                Some(coarse) => {
                    record.insert("lat".to_owned(), coarse.lat.into());
                    record.insert("lon".to_owned(), coarse.lon.into());
                }
                // Not a position the grid knows: nothing exact is kept.
                None => {
                    record.insert("lat".to_owned(), Value::Null);
                    record.insert("lon".to_owned(), Value::Null);
                }
            }
        }
        if record.get("accuracy_m").is_some_and(|accuracy| !accuracy.is_null()) {
            record.insert("accuracy_m".to_owned(), Value::Null);
        }
    }
    *record != before
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn at(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text).map(|t| t.timestamp_millis()).unwrap_or_default()
    }

    #[test]
    fn a_horizon_is_whole_calendar_months_back() {
        assert_eq!(horizon(at("2026-12-05T10:00:00Z"), 12), at("2025-12-05T10:00:00Z"));
        assert_eq!(horizon(at("2026-03-31T00:00:00Z"), 1), at("2026-02-28T00:00:00Z"));
        assert_eq!(horizon(at("2026-03-31T00:00:00Z"), 0), at("2026-03-31T00:00:00Z"));
    }

    #[test]
    fn scrubbing_empties_text_and_coarsens_positions_only_when_asked() {
        let original = json!({"note": "Bil ABC123", "review_comment": "ok", "lat": 59.2435, "lon": 18.2291,
            "accuracy_m": 8.0, "category": "vandalism"});
        let mut text_only = original.as_object().cloned().unwrap_or_default();
        assert!(scrub(&mut text_only, Removal { free_text: true, position: false }));
        assert_eq!(text_only["note"], "");
        assert_eq!(text_only["review_comment"], Value::Null);
        assert_eq!(text_only["lat"], 59.2435);
        let mut position_only = original.as_object().cloned().unwrap_or_default();
        assert!(scrub(&mut position_only, Removal { free_text: false, position: true }));
        assert_eq!(position_only["note"], "Bil ABC123");
        assert_ne!(position_only["lat"], 59.2435);
        assert_eq!(position_only["accuracy_m"], Value::Null);
        assert_eq!(position_only["category"], "vandalism");
        // Twice is once.
        assert!(!scrub(&mut position_only, Removal { free_text: false, position: true }));
    }

    proptest! {
        /// A coarsened position is in the same hexagon at every resolution up to the coarse one,
        /// its centre reads back as that hexagon, and coarsening it again changes nothing.
        #[test]
        fn a_coarsened_position_keeps_every_coarse_hexagon(lat in 55.0f64..69.0, lon in 11.0f64..24.0) {
            let fine: h3o::CellIndex = super::super::geo::cell_for(lat, lon).unwrap_or_default().parse().unwrap();
            let coarse = coarsen_position(lat, lon).unwrap();
            let kept: h3o::CellIndex = coarse.cell.parse().unwrap();
            for resolution in 0..=u8::from(COARSE_RESOLUTION) {
                let resolution = h3o::Resolution::try_from(resolution).unwrap();
                prop_assert_eq!(kept.parent(resolution), fine.parent(resolution));
            }
            let centre = h3o::LatLng::new(coarse.lat, coarse.lon).unwrap();
            prop_assert_eq!(centre.to_cell(COARSE_RESOLUTION), kept);
            prop_assert_eq!(coarsen_position(coarse.lat, coarse.lon), Some(coarse.clone()));
            prop_assert_eq!(coarsen_cell(&coarse.cell), Some(coarse));
        }
    }
}
