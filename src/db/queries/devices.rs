//! Devices: phones and browsers, registered at login and revocable on their own.

use super::auth_state;
use crate::db::DbConnection;
use crate::db::models::DeviceRow;
use crate::db::schema::{devices, refresh_tokens};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// What a login says about the device it comes from.
#[derive(Debug, Clone, Copy)]
pub struct Registration<'a> {
    pub organisation_id: &'a str,
    pub id: &'a str,
    pub user_id: &'a str,
    /// The name the app gives itself ("Fältappen (Android)").
    pub name: &'a str,
    /// `phone` or `dashboard`.
    pub kind: &'a str,
    /// Browser and system from the User-Agent, when it names them.
    pub platform: Option<&'a str>,
}

/// Registers the device for this user at login, or takes it over from the previous user (whose
/// label for it goes). Returns the row as it now is; a revoked device stays revoked.
pub fn register(conn: &mut DbConnection, device: Registration<'_>, now: NaiveDateTime) -> QueryResult<DeviceRow> {
    let Registration { organisation_id, id, user_id, name, kind, platform } = device;
    crate::db::write_transaction(conn, |conn| {
        let existing = by_id(conn, organisation_id, id)?;
        match existing {
            Some(device) if device.revoked_at.is_some() => Ok(device),
            Some(device) => {
                // A new platform only when the User-Agent names one; the user's label only while
                // the device stays theirs.
                let platform = platform.map(str::to_owned).or(device.platform);
                let label = if device.user_id == user_id { device.label } else { None };
                let target = devices::table.find((organisation_id, id));
                diesel::update(target)
                    .set((
                        devices::user_id.eq(user_id),
                        devices::name.eq(name),
                        devices::kind.eq(kind),
                        devices::platform.eq(platform),
                        devices::label.eq(label),
                        devices::last_seen_at.eq(now),
                    ))
                    .execute(conn)?;
                target.select(DeviceRow::as_select()).first(conn)
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
                    pulled_user_id: None,
                    kind: kind.to_owned(),
                    platform: platform.map(str::to_owned),
                    label: None,
                };
                diesel::insert_into(devices::table).values(&row).execute(conn)?;
                Ok(row)
            }
        }
    })
}

/// Sets (or with `None` clears) the label the device's user gives it. False when the
/// organisation has no such device.
pub fn set_label(conn: &mut DbConnection, organisation_id: &str, id: &str, label: Option<&str>) -> QueryResult<bool> {
    let changed =
        diesel::update(devices::table.find((organisation_id, id))).set(devices::label.eq(label)).execute(conn)?;
    Ok(changed == 1)
}

/// The devices of the organisation that hold a live session: a refresh token neither used,
/// revoked nor expired.
pub fn signed_in(conn: &mut DbConnection, organisation_id: &str, now: NaiveDateTime) -> QueryResult<Vec<String>> {
    refresh_tokens::table
        .filter(refresh_tokens::organisation_id.eq(organisation_id))
        .filter(refresh_tokens::revoked_at.is_null())
        .filter(refresh_tokens::used_at.is_null())
        .filter(refresh_tokens::expires_at.gt(now))
        .select(refresh_tokens::device_id)
        .distinct()
        .load(conn)
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
    crate::db::write_transaction(conn, |conn| {
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
    crate::db::write_transaction(conn, |conn| {
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

/// One device's news since the last flush.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    /// Its latest request.
    pub last_seen: Option<NaiveDateTime>,
    /// Its latest pull.
    pub last_pull: Option<NaiveDateTime>,
    /// Its latest stored push.
    pub last_push: Option<NaiveDateTime>,
    /// Server time minus device time, ms, from its latest sync request that said.
    pub clock_skew_ms: Option<i64>,
    /// Records waiting on the device, from its latest sync request that said.
    pub pending_count: Option<i64>,
}

/// Writes what devices did lately; written in batches, never per request.
pub fn touch(conn: &mut DbConnection, seen: &[((String, String), Seen)]) -> QueryResult<()> {
    crate::db::write_transaction(conn, |conn| {
        for ((organisation_id, id), news) in seen {
            let target = devices::table.find((organisation_id, id));
            if let Some(at) = news.last_seen {
                diesel::update(target.filter(devices::last_seen_at.lt(at)))
                    .set(devices::last_seen_at.eq(at))
                    .execute(conn)?;
            }
            if let Some(at) = news.last_pull {
                diesel::update(target).set(devices::last_pull_at.eq(at)).execute(conn)?;
            }
            if let Some(at) = news.last_push {
                diesel::update(target).set(devices::last_push_at.eq(at)).execute(conn)?;
            }
            record_headers(conn, organisation_id, id, news.clock_skew_ms, news.pending_count)?;
        }
        Ok(())
    })
}

/// Records whose data, in which scope and app schema version, the device now holds, after the
/// last page of a pull. Reads first and writes only on a change, so a pull does not wait for a
/// writer.
pub fn record_scope(
    conn: &mut DbConnection,
    organisation_id: &str,
    id: &str,
    user_id: &str,
    scope_version: i64,
    schema_version: i64,
) -> QueryResult<()> {
    let target = devices::table.find((organisation_id, id));
    let now = (Some(scope_version), Some(user_id.to_owned()), Some(schema_version));
    let held: Option<(Option<i64>, Option<String>, Option<i64>)> = target
        .select((devices::pulled_scope_version, devices::pulled_user_id, devices::pulled_schema_version))
        .first(conn)
        .optional()?;
    if held.is_some_and(|held| held != now) {
        diesel::update(target)
            .set((
                devices::pulled_scope_version.eq(scope_version),
                devices::pulled_user_id.eq(user_id),
                devices::pulled_schema_version.eq(schema_version),
            ))
            .execute(conn)?;
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
