//! Rows as stored, and the forms that insert them.

use super::schema::{devices, organisations, refresh_tokens, units, users};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// An organisation (a municipality) as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = organisations)]
pub struct OrganisationRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub time_zone: String,
    pub created_at: NaiveDateTime,
    pub bbox_min_lat: Option<f64>,
    pub bbox_min_lon: Option<f64>,
    pub bbox_max_lat: Option<f64>,
    pub bbox_max_lon: Option<f64>,
    /// Partners' aggregates suppress groups of fewer records than this.
    pub suppression_k: i32,
    /// The assignment the follow-up report is headed with.
    pub assignment_title: String,
    /// Who is responsible for the assignment.
    pub responsible: String,
}

/// A unit (a reporting actor such as the field assistants) as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = units)]
pub struct UnitRow {
    pub id: String,
    pub organisation_id: String,
    pub slug: String,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub server_seq: i64,
}

/// A user as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub organisation_id: String,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub unit_id: Option<String>,
    pub token_generation: i64,
    pub disabled_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub scope_version: i64,
}

/// A phone or browser registered at login, as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = devices)]
pub struct DeviceRow {
    pub organisation_id: String,
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub token_generation: i64,
    pub revoked_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub last_push_at: Option<NaiveDateTime>,
    pub last_pull_at: Option<NaiveDateTime>,
    pub clock_skew_ms: Option<i64>,
    pub pending_count: Option<i64>,
    pub pulled_scope_version: Option<i64>,
    pub pulled_user_id: Option<String>,
    /// `phone` or `dashboard`.
    pub kind: String,
    /// Browser and system read from the User-Agent at the latest login.
    pub platform: Option<String>,
    /// The name the device's user gave it.
    pub label: Option<String>,
}

/// A refresh token (its hash only), as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub id: String,
    pub token_hash: String,
    pub family_id: String,
    pub organisation_id: String,
    pub user_id: String,
    pub device_id: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

/// A category or activity type (reference data) as stored; both tables have this shape.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::categories)]
pub struct ReferenceRow {
    pub id: String,
    pub organisation_id: String,
    pub slug: String,
    pub label_sv: String,
    pub label_en: String,
    pub sort_order: i32,
    pub active: bool,
    pub server_seq: i64,
}

/// An observation as stored.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = super::schema::observations, primary_key(organisation_id, id), treat_none_as_null = true)]
#[diesel(treat_none_as_default_value = false)]
pub struct ObservationRow {
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

/// An activity log as stored.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = super::schema::activity_logs, primary_key(organisation_id, id), treat_none_as_null = true)]
#[diesel(treat_none_as_default_value = false)]
pub struct ActivityLogRow {
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

/// Converts between a row and the domain's record of the same fields, both ways, by moving
/// each field: the rows are how diesel stores a record, the domain's types how the rules see it.
macro_rules! same_fields {
    ($row:ident <=> $record:ty { $( $field:ident ),* $(,)? }) => {
        impl From<$record> for $row {
            fn from(record: $record) -> Self {
                Self { $( $field: record.$field ),* }
            }
        }

        impl From<$row> for $record {
            fn from(row: $row) -> Self {
                Self { $( $field: row.$field ),* }
            }
        }
    };
}

same_fields!(ObservationRow <=> crate::domain::stored::Observation {
    organisation_id, id, user_id, device_id, category, severity, perceived_safety, people_count, age_band,
    note, lat, lon, accuracy_m, observed_at, observed_at_device, clock_corrected, needs_follow_up, status,
    review_comment, reviewed_by, reviewed_at, area_code, cell, redacted, created_at, updated_at, deleted_at,
    created_seq, content_seq, review_seq, server_seq, content_device_id, review_device_id, author_seen_seq
});

same_fields!(ActivityLogRow <=> crate::domain::stored::ActivityLog {
    organisation_id, id, user_id, device_id, activity_type, unit, started_at, ended_at, started_at_device,
    ended_at_device, clock_corrected, lat, lon, area_code, cell, girls, boys, gender_other, gender_unknown,
    age_under_13, age_13_15, age_16_17, age_18_24, age_25_plus, age_unknown, note, redacted, created_at,
    updated_at, deleted_at, created_seq, content_seq, server_seq, content_device_id, author_seen_seq
});

/// A pushed record that could not be accepted, as received.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = super::schema::sync_quarantine, primary_key(organisation_id, table_name, record_id), treat_none_as_null = true)]
pub struct QuarantineRow {
    pub organisation_id: String,
    pub table_name: String,
    pub record_id: String,
    pub user_id: String,
    pub device_id: String,
    pub payload: String,
    pub errors: String,
    pub received_at: i64,
    pub server_seq: i64,
    /// The sequence of the first quarantined version.
    pub first_seq: i64,
    pub resolved_at: Option<i64>,
    /// `stored` or `deleted` once resolved.
    pub resolution: Option<String>,
}

/// A version of a record replaced by a change.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::record_history)]
pub struct HistoryRow {
    pub id: String,
    pub organisation_id: String,
    pub table_name: String,
    pub record_id: String,
    pub server_seq: i64,
    pub changed_by: String,
    pub device_id: String,
    pub changed_at: i64,
    pub change: String,
    pub fields: String,
    pub previous: String,
}

use serde_json::{Map, Value, json};

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl ReferenceRow {
    /// The raw record the sync protocol sends down.
    pub fn to_raw(&self) -> Map<String, Value> {
        object(json!({
            "id": self.id,
            "slug": self.slug,
            "label_sv": self.label_sv,
            "label_en": self.label_en,
            "sort_order": self.sort_order,
            "active": self.active,
        }))
    }
}
