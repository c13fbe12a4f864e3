//! Devices: phones and browsers, registered at login and revocable on their own.

use super::auth_state;
use crate::db::DbConnection;
use crate::db::models::DeviceRow;
use crate::db::schema::{devices, refresh_tokens};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Registers the device for this user at login, or takes it over from the previous user.
/// Returns the row as it now is; a revoked device stays revoked.
pub fn register(
    conn: &mut DbConnection,
    organisation_id: &str,
    id: &str,
    user_id: &str,
    name: &str,
    now: NaiveDateTime,
) -> QueryResult<DeviceRow> {
    conn.transaction(|conn| {
        let existing = by_id(conn, organisation_id, id)?;
        match existing {
            Some(device) if device.revoked_at.is_some() => Ok(device),
            Some(_) => {
                diesel::update(devices::table.find((organisation_id, id)))
                    .set((devices::user_id.eq(user_id), devices::name.eq(name), devices::last_seen_at.eq(now)))
                    .execute(conn)?;
                devices::table.find((organisation_id, id)).select(DeviceRow::as_select()).first(conn)
            }
            None => {
                let row = DeviceRow {
                    organisation_id: organisation_id.to_owned(),
                    id: id.to_owned(),
                    user_id: user_id.to_owned(),
                    name: name.to_owned(),
                    token_generation: 0,
                    revoked_at: None,
                    created_at: now,
                    last_seen_at: now,
                    last_push_at: None,
                    last_pull_at: None,
                    clock_skew_ms: None,
                    pending_count: None,
                    pulled_scope_version: None,
                };
                diesel::insert_into(devices::table).values(&row).execute(conn)?;
                Ok(row)
            }
        }
    })
}

/// The device with this id in the organisation.
pub fn by_id(conn: &mut DbConnection, organisation_id: &str, id: &str) -> QueryResult<Option<DeviceRow>> {
    devices::table.find((organisation_id, id)).select(DeviceRow::as_select()).first(conn).optional()
}

/// Every device of the organisation, most recently seen first.
pub fn list(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<Vec<DeviceRow>> {
    devices::table
        .filter(devices::organisation_id.eq(organisation_id))
        .order((devices::last_seen_at.desc(), devices::id.asc()))
        .select(DeviceRow::as_select())
        .load(conn)
}

/// Revokes a device for good: its refresh tokens die and its access tokens stop at once.
/// False when the organisation has no such device.
pub fn revoke(conn: &mut DbConnection, organisation_id: &str, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let Some(device) = by_id(conn, organisation_id, id)? else {
            return Ok(false);
        };
        if device.revoked_at.is_none() {
            diesel::update(devices::table.find((organisation_id, id)))
                .set(devices::revoked_at.eq(now))
                .execute(conn)?;
        }
        end_sessions(conn, organisation_id, id, now)?;
        Ok(true)
    })
}

/// Ends every session of the device (logout, or a stolen refresh token): its refresh tokens are
/// revoked and its access tokens stop at once. The device may log in again.
pub fn end_sessions(conn: &mut DbConnection, organisation_id: &str, id: &str, now: NaiveDateTime) -> QueryResult<()> {
    conn.transaction(|conn| {
        diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::organisation_id.eq(organisation_id))
                .filter(refresh_tokens::device_id.eq(id))
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::revoked_at.eq(now))
        .execute(conn)?;
        diesel::update(devices::table.find((organisation_id, id)))
            .set(devices::token_generation.eq(devices::token_generation + 1))
            .execute(conn)?;
        auth_state::bump(conn)
    })
}

/// Records when devices were last seen; written in batches, never per request.
pub fn touch(conn: &mut DbConnection, seen: &[((String, String), NaiveDateTime)]) -> QueryResult<()> {
    conn.transaction(|conn| {
        for ((organisation_id, id), at) in seen {
            diesel::update(devices::table.find((organisation_id, id)))
                .filter(devices::last_seen_at.lt(at))
                .set(devices::last_seen_at.eq(at))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Notes a pull: when, the device's clock skew and queue depth, and, after the last page, the
/// scope the device now holds.
pub fn record_pull(
    conn: &mut DbConnection,
    organisation_id: &str,
    id: &str,
    scope_version: Option<i64>,
    clock_skew_ms: Option<i64>,
    pending_count: Option<i64>,
) -> QueryResult<()> {
    let target = devices::table.find((organisation_id, id));
    diesel::update(target).set(devices::last_pull_at.eq(crate::db::now())).execute(conn)?;
    record_headers(conn, organisation_id, id, clock_skew_ms, pending_count)?;
    if let Some(scope) = scope_version {
        diesel::update(target).set(devices::pulled_scope_version.eq(scope)).execute(conn)?;
    }
    Ok(())
}

/// Keeps what a sync request's headers said about the device; absent headers change nothing.
pub fn record_headers(
    conn: &mut DbConnection,
    organisation_id: &str,
    id: &str,
    clock_skew_ms: Option<i64>,
    pending_count: Option<i64>,
) -> QueryResult<()> {
    let target = devices::table.find((organisation_id, id));
    if let Some(skew) = clock_skew_ms {
        diesel::update(target).set(devices::clock_skew_ms.eq(skew)).execute(conn)?;
    }
    if let Some(pending) = pending_count {
        diesel::update(target).set(devices::pending_count.eq(pending)).execute(conn)?;
    }
    Ok(())
}
