//! Refresh tokens: stored as hashes, rotated on use, revoked by family when one is replayed.

use super::auth_state;
use crate::db::DbConnection;
use crate::db::models::RefreshTokenRow;
use crate::db::schema::{devices, refresh_tokens};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Stores a new refresh token.
pub fn insert(conn: &mut DbConnection, row: &RefreshTokenRow) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table).values(row).execute(conn).map(drop)
}

/// The token with this hash.
pub fn by_hash(conn: &mut DbConnection, token_hash: &str) -> QueryResult<Option<RefreshTokenRow>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(RefreshTokenRow::as_select())
        .first(conn)
        .optional()
}

/// Marks the token used, if nobody else has; false means it was already used or revoked
/// (a replay, or two refreshes racing with one token).
pub fn claim(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::id.eq(id))
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
}

/// Theft response: revokes every token of the family and ends the device's sessions.
pub fn revoke_family(conn: &mut DbConnection, token: &RefreshTokenRow, now: NaiveDateTime) -> QueryResult<()> {
    crate::db::write_transaction(conn, |conn| {
        diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::family_id.eq(&token.family_id))
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::revoked_at.eq(now))
        .execute(conn)?;
        diesel::update(devices::table.find((&token.organisation_id, &token.device_id)))
            .set(devices::token_generation.eq(devices::token_generation + 1))
            .execute(conn)?;
        auth_state::bump(conn)
    })
}

/// Revokes every live refresh token of a user (password reset, disabling).
pub fn revoke_for_user(conn: &mut DbConnection, user_id: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(
        refresh_tokens::table.filter(refresh_tokens::user_id.eq(user_id)).filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)
    .map(drop)
}
