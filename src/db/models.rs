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
