//! Records as stored, the sync rules' view of them: what a push merges into and a pull sends.

use serde_json::{Map, Value, json};

/// An observation as stored: the reporter's content, the review, where the server placed it,
/// and the sequence numbers the sync rules compare.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub organisation_id: String,
    pub id: String,
    pub user_id: String,
    pub device_id: String,
    pub category: String,
    pub severity: i32,
    pub perceived_safety: i32,
    pub people_count: Option<i32>,
    pub age_band: Option<String>,
    pub note: String,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f64>,
    pub observed_at: i64,
    pub observed_at_device: i64,
    pub clock_corrected: bool,
    pub needs_follow_up: bool,
    pub status: String,
    pub review_comment: Option<String>,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<i64>,
    pub area_code: Option<String>,
    pub cell: Option<String>,
    pub redacted: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    pub created_seq: i64,
    pub content_seq: i64,
    pub review_seq: i64,
    pub server_seq: i64,
    /// The device that last changed the reporter's fields.
    pub content_device_id: String,
    /// The device that last changed the review fields.
    pub review_device_id: Option<String>,
    /// When the author's devices first got a (quarantined) version, if before it was stored.
    pub author_seen_seq: Option<i64>,
}

/// An activity log as stored: the reporter's content, where the server placed it, and the
/// sequence numbers the sync rules compare.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityLog {
    pub organisation_id: String,
    pub id: String,
    pub user_id: String,
    pub device_id: String,
    pub activity_type: String,
    pub unit: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    /// `started_at` as the device's clock said.
    pub started_at_device: i64,
    /// `ended_at` as the device's clock said.
    pub ended_at_device: Option<i64>,
    /// Whether the times were corrected for the device's clock skew.
    pub clock_corrected: bool,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub area_code: Option<String>,
    pub cell: Option<String>,
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
    pub note: String,
    pub redacted: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    pub created_seq: i64,
    pub content_seq: i64,
    pub server_seq: i64,
    /// The device that last changed the record.
    pub content_device_id: String,
    /// When the author's devices first got a (quarantined) version, if before it was stored.
    pub author_seen_seq: Option<i64>,
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl Observation {
    /// The raw record the sync protocol sends down.
    pub fn to_raw(&self) -> Map<String, Value> {
        object(json!({
            "id": self.id,
            "category": self.category,
            "severity": self.severity,
            "perceived_safety": self.perceived_safety,
            "people_count": self.people_count,
            "age_band": self.age_band,
            "note": self.note,
            "lat": self.lat,
            "lon": self.lon,
            "accuracy_m": self.accuracy_m,
            "observed_at": self.observed_at,
            "observed_at_device": self.observed_at_device,
            "clock_corrected": self.clock_corrected,
            "needs_follow_up": self.needs_follow_up,
            "status": self.status,
            "review_comment": self.review_comment,
            "area_code": self.area_code,
            "redacted": self.redacted,
            "user_id": self.user_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "sync_error": Value::Null,
            "sync_errors": Value::Null,
        }))
    }
}

impl ActivityLog {
    /// The raw record the sync protocol sends down.
    pub fn to_raw(&self) -> Map<String, Value> {
        object(json!({
            "id": self.id,
            "activity_type": self.activity_type,
            "unit": self.unit,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "started_at_device": self.started_at_device,
            "ended_at_device": self.ended_at_device,
            "clock_corrected": self.clock_corrected,
            "lat": self.lat,
            "lon": self.lon,
            "area_code": self.area_code,
            "girls": self.girls,
            "boys": self.boys,
            "gender_other": self.gender_other,
            "gender_unknown": self.gender_unknown,
            "age_under_13": self.age_under_13,
            "age_13_15": self.age_13_15,
            "age_16_17": self.age_16_17,
            "age_18_24": self.age_18_24,
            "age_25_plus": self.age_25_plus,
            "age_unknown": self.age_unknown,
            "note": self.note,
            "redacted": self.redacted,
            "user_id": self.user_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "sync_error": Value::Null,
            "sync_errors": Value::Null,
        }))
    }
}
