//! Users of an organisation.

use super::auth_state;
use crate::db::DbConnection;
use crate::db::models::UserRow;
use crate::db::schema::users;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Stores a new user.
pub fn insert(conn: &mut DbConnection, row: &UserRow) -> QueryResult<()> {
    diesel::insert_into(users::table).values(row).execute(conn).map(drop)
}

/// The user with this (lowercased) username in the organisation.
pub fn by_username(conn: &mut DbConnection, organisation_id: &str, username: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::organisation_id.eq(organisation_id))
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// The user with this id in the organisation.
pub fn by_id(conn: &mut DbConnection, organisation_id: &str, id: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::organisation_id.eq(organisation_id))
        .filter(users::id.eq(id))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// All users of the organisation, by username.
pub fn list(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<Vec<UserRow>> {
    users::table
        .filter(users::organisation_id.eq(organisation_id))
        .order(users::username.asc())
        .select(UserRow::as_select())
        .load(conn)
}

/// The changes an admin may make to a user; `None` leaves a field as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub display_name: Option<String>,
    pub role: Option<String>,
    pub unit_id: Option<Option<String>>,
    pub password_hash: Option<String>,
    pub disabled_at: Option<Option<NaiveDateTime>>,
    pub updated_at: Option<NaiveDateTime>,
}

/// Applies changes; when `end_sessions` is set, every access token the user holds stops working
/// (the revocation generation is bumped in the same transaction). False when no such user.
pub fn update(
    conn: &mut DbConnection,
    organisation_id: &str,
    id: &str,
    changes: &UserChanges,
    end_sessions: bool,
) -> QueryResult<bool> {
    crate::db::write_transaction(conn, |conn| {
        let target = users::table.filter(users::organisation_id.eq(organisation_id)).filter(users::id.eq(id));
        let updated = diesel::update(target).set(changes).execute(conn)?;
        if updated == 1 && changes.role.is_some() {
            // What the user may see changed: their devices get a replacement snapshot.
            diesel::update(target).set(users::scope_version.eq(users::scope_version + 1)).execute(conn)?;
        }
        if updated == 1 && end_sessions {
            diesel::update(target).set(users::token_generation.eq(users::token_generation + 1)).execute(conn)?;
            auth_state::bump(conn)?;
        }
        Ok(updated == 1)
    })
}

/// The user's scope version: raised when what they may see changes.
pub fn scope_version(conn: &mut DbConnection, id: &str) -> QueryResult<i64> {
    users::table.find(id).select(users::scope_version).first(conn)
}
