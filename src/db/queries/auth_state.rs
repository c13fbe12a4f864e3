//! The revocation generation and the gates it guards: who is disabled, which devices are revoked,
//! and which token generations are current.

use crate::db::DbConnection;
use crate::db::schema::{auth_state, devices, organisations, users};
use diesel::prelude::*;

/// Marks a change that every process's revocation cache must see. Call it inside the
/// transaction that makes the change.
pub fn bump(conn: &mut DbConnection) -> QueryResult<()> {
    diesel::update(auth_state::table.find(1))
        .set(auth_state::generation.eq(auth_state::generation + 1))
        .execute(conn)
        .map(drop)
}

/// The current revocation generation.
pub fn generation(conn: &mut DbConnection) -> QueryResult<i64> {
    auth_state::table.find(1).select(auth_state::generation).first(conn)
}

/// A user whose tokens are not simply "generation 0, enabled".
pub struct UserGateRow {
    pub id: String,
    pub token_generation: i64,
    pub disabled: bool,
}

/// A device whose tokens are not simply "generation 0, not revoked".
pub struct DeviceGateRow {
    pub organisation_id: String,
    pub id: String,
    pub token_generation: i64,
    pub revoked: bool,
}

/// Every gate, read in one transaction together with its generation.
pub struct Gates {
    pub generation: i64,
    pub users: Vec<UserGateRow>,
    pub devices: Vec<DeviceGateRow>,
    /// Every organisation's id.
    pub organisations: Vec<String>,
}

/// Every gate, read in one transaction together with its generation.
pub fn load_gates(conn: &mut DbConnection) -> QueryResult<Gates> {
    conn.transaction(|conn| {
        let generation = generation(conn)?;
        let organisations = organisations::table.select(organisations::id).load(conn)?;
        let user_rows: Vec<(String, i64, Option<chrono::NaiveDateTime>)> = users::table
            .filter(users::token_generation.gt(0).or(users::disabled_at.is_not_null()))
            .select((users::id, users::token_generation, users::disabled_at))
            .load(conn)?;
        let device_rows: Vec<(String, String, i64, Option<chrono::NaiveDateTime>)> = devices::table
            .filter(devices::token_generation.gt(0).or(devices::revoked_at.is_not_null()))
            .select((devices::organisation_id, devices::id, devices::token_generation, devices::revoked_at))
            .load(conn)?;
        let users = user_rows
            .into_iter()
            .map(|(id, token_generation, disabled_at)| UserGateRow {
                id,
                token_generation,
                disabled: disabled_at.is_some(),
            })
            .collect();
        let devices = device_rows
            .into_iter()
            .map(|(organisation_id, id, token_generation, revoked_at)| DeviceGateRow {
                organisation_id,
                id,
                token_generation,
                revoked: revoked_at.is_some(),
            })
            .collect();
        Ok(Gates { generation, users, devices, organisations })
    })
}
