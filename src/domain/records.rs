//! Observations and activity logs as the protocol carries them: parsed from flat raw records
//! ("parse, don't validate"), every failure naming its field.

use super::reference::{AGE_BANDS, REVIEW_STATUSES};
use super::{FieldError, FieldErrors};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// 2000-01-01T00:00:00Z in ms: nothing in this product happened before it.
pub const EARLIEST_MS: i64 = 946_684_800_000;
/// How far ahead of the server a corrected time may lie.
pub const MAX_AHEAD_MS: i64 = 24 * 3600 * 1000;
/// The longest note accepted, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;
/// The largest count of people accepted in any one field.
pub const MAX_COUNT: i64 = 10_000;
/// The longest activity accepted.
pub const MAX_ACTIVITY_MS: i64 = 7 * 24 * 3600 * 1000;

/// A rectangle in WGS84 that an organisation's records must fall inside.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub min_lat: f64,
    pub min_lon: f64,
    pub max_lat: f64,
    pub max_lon: f64,
}

/// What validation needs to know beyond the record itself.
pub struct Context<'a> {
    /// The server's clock, ms.
    pub now_ms: i64,
    /// How far the device's clock is behind the server's (server − device), when known.
    pub clock_skew_ms: Option<i64>,
    /// Skews within this are treated as none.
    pub skew_tolerance_ms: i64,
    /// The organisation's bounding box, when set.
    pub bbox: Option<BoundingBox>,
    /// Known category slugs.
    pub categories: &'a HashSet<String>,
    /// Known activity type slugs.
    pub activity_types: &'a HashSet<String>,
    /// Known unit slugs.
    pub units: &'a HashSet<String>,
}

/// A device time and its correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instant {
    /// The time on the server's clock.
    pub corrected: i64,
    /// The time the device reported.
    pub device: i64,
    /// Whether the two differ because the device's clock was off.
    pub corrected_for_skew: bool,
}

impl Context<'_> {
    fn instant(&self, device: i64) -> Instant {
        match self.clock_skew_ms {
            Some(skew) if skew.abs() > self.skew_tolerance_ms => {
                Instant { corrected: device.saturating_add(skew), device, corrected_for_skew: true }
            }
            _ => Instant { corrected: device, device, corrected_for_skew: false },
        }
    }

    fn check_time(&self, field: &str, device: i64) -> Result<Instant, FieldError> {
        let instant = self.instant(device);
        if instant.corrected < EARLIEST_MS {
            Err(FieldError::new(field, "too_early", "must not be before 2000-01-01"))
        } else if instant.corrected > self.now_ms + MAX_AHEAD_MS {
            Err(FieldError::new(field, "in_the_future", "must not be more than 24 hours ahead of the server's clock"))
        } else {
            Ok(instant)
        }
    }

    fn check_position(&self, errors: &mut FieldErrors, lat: Option<f64>, lon: Option<f64>) {
        if let Some(lat) = lat.filter(|lat| !(-90.0..=90.0).contains(lat)) {
            errors.0.push(FieldError::new("lat", "out_of_range", format!("{lat} is not a WGS84 latitude")));
        }
        if let Some(lon) = lon.filter(|lon| !(-180.0..=180.0).contains(lon)) {
            errors.0.push(FieldError::new("lon", "out_of_range", format!("{lon} is not a WGS84 longitude")));
        }
        if let (Some(bbox), Some(lat), Some(lon)) = (self.bbox, lat, lon) {
            let inside = (bbox.min_lat..=bbox.max_lat).contains(&lat) && (bbox.min_lon..=bbox.max_lon).contains(&lon);
            if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) && !inside {
                errors.0.push(FieldError::new(
                    "lat",
                    "outside_organisation",
                    "the position is outside the organisation's area",
                ));
            }
        }
    }
}

/// What a reporter owns of an observation.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservationContent {
    pub category: String,
    pub severity: i32,
    pub perceived_safety: i32,
    pub people_count: Option<i32>,
    pub age_band: Option<String>,
    /// As written; redacted before it is stored.
    pub note: String,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f64>,
    pub observed_at: Instant,
    pub needs_follow_up: bool,
}

/// What a coordinator owns of an observation; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReviewChange {
    pub status: Option<String>,
    /// `Some(None)` clears the comment.
    pub review_comment: Option<Option<String>>,
}

/// A count of people split two ways, both summing to the same total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub girls: i32,
    pub boys: i32,
    pub gender_other: i32,
    pub gender_unknown: i32,
    pub age_under_13: i32,
    pub age_13_15: i32,
    pub age_16_17: i32,
    pub age_18_24: i32,
    pub age_25_plus: i32,
    pub age_unknown: i32,
}

/// The gender split's columns.
pub const GENDER_COLUMNS: [&str; 4] = ["girls", "boys", "gender_other", "gender_unknown"];
/// The age split's columns.
pub const AGE_COLUMNS: [&str; 6] =
    ["age_under_13", "age_13_15", "age_16_17", "age_18_24", "age_25_plus", "age_unknown"];

/// What a reporter owns of an activity log.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityContent {
    pub activity_type: String,
    pub unit: String,
    pub started_at: Instant,
    pub ended_at: Option<Instant>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub area_code: Option<String>,
    pub counts: Counts,
    /// As written; redacted before it is stored.
    pub note: String,
}

/// Reads the reporter's part of a raw observation.
pub fn parse_observation(
    raw: &Map<String, Value>,
    context: &Context<'_>,
) -> Result<ObservationContent, Vec<FieldError>> {
    let mut errors = FieldErrors::default();
    let category = errors.check(required(raw, "category", text));
    if let Some(category) = category.as_ref().filter(|c| !context.categories.contains(*c)) {
        errors.0.push(FieldError::new(
            "category",
            "unknown_category",
            format!("`{category}` is not a category of this organisation"),
        ));
    }
    let severity = errors.check(required(raw, "severity", |f, v| integer(f, v, 1, 5)));
    let perceived_safety = errors.check(required(raw, "perceived_safety", |f, v| integer(f, v, 1, 5)));
    let people_count = errors.check(optional(raw, "people_count", |f, v| integer(f, v, 0, MAX_COUNT)));
    let age_band = errors.check(optional(raw, "age_band", |f, v| one_of(f, v, AGE_BANDS)));
    let note = errors.check(optional(raw, "note", note_text)).map(Option::unwrap_or_default);
    let lat = errors.check(required(raw, "lat", number));
    let lon = errors.check(required(raw, "lon", number));
    let accuracy_m = errors.check(optional(raw, "accuracy_m", number));
    if let Some(accuracy) = accuracy_m.flatten().filter(|a| !(0.0..=100_000.0).contains(a)) {
        errors.0.push(FieldError::new(
            "accuracy_m",
            "out_of_range",
            format!("{accuracy} must be between 0 and 100000 metres"),
        ));
    }
    let observed_at = errors.check(required(raw, "observed_at", |f, v| integer(f, v, i64::MIN, i64::MAX)));
    let observed_at = observed_at.and_then(|device| errors.check(context.check_time("observed_at", device)));
    let needs_follow_up = errors.check(optional(raw, "needs_follow_up", boolean)).map(Option::unwrap_or_default);
    context.check_position(&mut errors, lat, lon);
    errors.finish()?;
    match (
        category,
        severity,
        perceived_safety,
        people_count,
        age_band,
        note,
        lat,
        lon,
        accuracy_m,
        observed_at,
        needs_follow_up,
    ) {
        (
            Some(category),
            Some(severity),
            Some(perceived_safety),
            Some(people_count),
            Some(age_band),
            Some(note),
            Some(lat),
            Some(lon),
            Some(accuracy_m),
            Some(observed_at),
            Some(needs_follow_up),
        ) => Ok(ObservationContent {
            category,
            severity: narrow(severity),
            perceived_safety: narrow(perceived_safety),
            people_count: people_count.map(narrow),
            age_band,
            note,
            lat,
            lon,
            accuracy_m,
            observed_at,
            needs_follow_up,
        }),
        _ => Err(vec![FieldError::new(".", "invalid", "the record could not be read")]),
    }
}

/// Reads a coordinator's review fields from a raw observation or a PATCH body.
pub fn parse_review(raw: &Map<String, Value>) -> Result<ReviewChange, Vec<FieldError>> {
    let mut errors = FieldErrors::default();
    let status = errors.check(optional(raw, "status", |f, v| one_of(f, v, REVIEW_STATUSES))).flatten();
    let review_comment = if raw.contains_key("review_comment") {
        errors.check(optional(raw, "review_comment", note_text)).map(|c| c.filter(|c| !c.trim().is_empty()))
    } else {
        None
    };
    errors.finish()?;
    Ok(ReviewChange { status, review_comment })
}

/// Reads the reporter's part of a raw activity log.
pub fn parse_activity(raw: &Map<String, Value>, context: &Context<'_>) -> Result<ActivityContent, Vec<FieldError>> {
    let mut errors = FieldErrors::default();
    let activity_type = errors.check(required(raw, "activity_type", text));
    if let Some(kind) = activity_type.as_ref().filter(|t| !context.activity_types.contains(*t)) {
        errors.0.push(FieldError::new(
            "activity_type",
            "unknown_activity_type",
            format!("`{kind}` is not an activity type of this organisation"),
        ));
    }
    let unit = errors.check(required(raw, "unit", text));
    if let Some(unit) = unit.as_ref().filter(|u| !context.units.contains(*u)) {
        errors.0.push(FieldError::new("unit", "unknown_unit", format!("`{unit}` is not a unit of this organisation")));
    }
    let started_at = errors.check(required(raw, "started_at", |f, v| integer(f, v, i64::MIN, i64::MAX)));
    let started_at = started_at.and_then(|device| errors.check(context.check_time("started_at", device)));
    let ended_at = errors.check(optional(raw, "ended_at", |f, v| integer(f, v, i64::MIN, i64::MAX)));
    let ended_at = match ended_at {
        Some(Some(device)) => errors.check(context.check_time("ended_at", device)).map(Some),
        Some(None) => Some(None),
        None => None,
    };
    if let (Some(start), Some(Some(end))) = (started_at, ended_at) {
        if end.corrected < start.corrected {
            errors.0.push(FieldError::new("ended_at", "before_start", "must not be before started_at"));
        } else if end.corrected - start.corrected > MAX_ACTIVITY_MS {
            errors.0.push(FieldError::new("ended_at", "too_long", "an activity may last at most 7 days"));
        }
    }
    let lat = errors.check(optional(raw, "lat", number)).flatten();
    let lon = errors.check(optional(raw, "lon", number)).flatten();
    if lat.is_some() != lon.is_some() {
        errors.0.push(FieldError::new(
            if lat.is_none() { "lat" } else { "lon" },
            "required",
            "give both lat and lon, or neither",
        ));
    }
    context.check_position(&mut errors, lat, lon);
    let area_code = errors.check(optional(raw, "area_code", text)).flatten();
    let mut values = [0i32; 10];
    let mut counts_valid = true;
    for (slot, field) in values.iter_mut().zip(GENDER_COLUMNS.iter().chain(AGE_COLUMNS.iter())) {
        match errors.check(optional(raw, field, |f, v| integer(f, v, 0, MAX_COUNT))) {
            Some(Some(count)) => *slot = narrow(count),
            Some(None) => {}
            None => counts_valid = false,
        }
    }
    let counts = Counts {
        girls: values[0],
        boys: values[1],
        gender_other: values[2],
        gender_unknown: values[3],
        age_under_13: values[4],
        age_13_15: values[5],
        age_16_17: values[6],
        age_18_24: values[7],
        age_25_plus: values[8],
        age_unknown: values[9],
    };
    let by_gender: i32 = values[..4].iter().sum();
    let by_age: i32 = values[4..].iter().sum();
    if counts_valid && by_gender != by_age {
        errors.0.push(FieldError::new(
            "age_unknown",
            "splits_differ",
            format!(
                "the gender split counts {by_gender} people and the age split {by_age}; both must count the same people"
            ),
        ));
    }
    let note = errors.check(optional(raw, "note", note_text)).map(Option::unwrap_or_default);
    errors.finish()?;
    match (activity_type, unit, started_at, ended_at, note) {
        (Some(activity_type), Some(unit), Some(started_at), Some(ended_at), Some(note)) => {
            Ok(ActivityContent { activity_type, unit, started_at, ended_at, lat, lon, area_code, counts, note })
        }
        _ => Err(vec![FieldError::new(".", "invalid", "the record could not be read")]),
    }
}

fn narrow(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

pub(super) fn required<T>(
    raw: &Map<String, Value>,
    field: &str,
    parse: impl Fn(&str, &Value) -> Result<T, FieldError>,
) -> Result<T, FieldError> {
    match raw.get(field) {
        None | Some(Value::Null) => Err(FieldError::new(field, "required", "is required")),
        Some(value) => parse(field, value),
    }
}

pub(super) fn optional<T>(
    raw: &Map<String, Value>,
    field: &str,
    parse: impl Fn(&str, &Value) -> Result<T, FieldError>,
) -> Result<Option<T>, FieldError> {
    match raw.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => parse(field, value).map(Some),
    }
}

/// Text no database is asked to store: U+0000 (PostgreSQL refuses it in text).
fn without_nul<'a>(field: &str, text: &'a str) -> Result<&'a str, FieldError> {
    if text.contains('\0') {
        Err(FieldError::new(field, "invalid_character", "must not contain the NUL character (U+0000)"))
    } else {
        Ok(text)
    }
}

pub(super) fn text(field: &str, value: &Value) -> Result<String, FieldError> {
    match value.as_str().map(|text| without_nul(field, text)).transpose()? {
        Some(text) if !text.trim().is_empty() && text.len() <= 200 => Ok(text.trim().to_owned()),
        Some(text) if text.trim().is_empty() => Err(FieldError::new(field, "required", "must not be empty")),
        Some(_) => Err(FieldError::new(field, "too_long", "may have at most 200 characters")),
        None => Err(FieldError::new(field, "invalid_type", "must be a string")),
    }
}

fn note_text(field: &str, value: &Value) -> Result<String, FieldError> {
    let note = value.as_str().ok_or_else(|| FieldError::new(field, "invalid_type", "must be a string"))?;
    let note = without_nul(field, note)?;
    if note.chars().count() > MAX_NOTE_CHARS {
        Err(FieldError::new(field, "too_long", format!("may have at most {MAX_NOTE_CHARS} characters")))
    } else {
        Ok(note.to_owned())
    }
}

fn one_of(field: &str, value: &Value, allowed: &[&str]) -> Result<String, FieldError> {
    match value.as_str() {
        Some(text) if allowed.contains(&text) => Ok(text.to_owned()),
        _ => Err(FieldError::new(field, "not_allowed", format!("must be one of {}", allowed.join(", ")))),
    }
}

fn number(field: &str, value: &Value) -> Result<f64, FieldError> {
    value.as_f64().filter(|n| n.is_finite()).ok_or_else(|| FieldError::new(field, "invalid_type", "must be a number"))
}

/// An integer within bounds; JavaScript's `3.0` counts as 3.
pub(super) fn integer(field: &str, value: &Value, min: i64, max: i64) -> Result<i64, FieldError> {
    let parsed =
        value.as_i64().or_else(|| value.as_f64().filter(|n| n.fract() == 0.0 && n.abs() < 9.0e15).map(|n| n as i64));
    match parsed {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(n) => Err(FieldError::new(field, "out_of_range", format!("{n} must be between {min} and {max}"))),
        None => Err(FieldError::new(field, "invalid_type", "must be an integer")),
    }
}

fn boolean(field: &str, value: &Value) -> Result<bool, FieldError> {
    value.as_bool().ok_or_else(|| FieldError::new(field, "invalid_type", "must be true or false"))
}
