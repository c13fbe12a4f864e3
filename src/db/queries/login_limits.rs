//! Login attempt limits in the database, so that every process serving the same database counts
//! the same attempts (GCRA: one theoretical arrival time per key).

use crate::db::schema::login_limits;
use crate::db::{DbConnection, write_transaction};
use diesel::prelude::*;

/// One limit an attempt must pass: its key and its allowance.
#[derive(Debug, Clone)]
pub struct Limit {
    /// What is limited, as stored (a digest, never a name or an address).
    pub key: String,
    /// The time one attempt uses up, in ms (the window divided by the attempts it allows).
    pub interval_ms: i64,
    /// How far ahead of now the arrival time may run: the allowance available at once, less one.
    pub tolerance_ms: i64,
}

/// Why an attempt was refused: which limit (its position in the list) and how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub limit: usize,
    pub wait_ms: i64,
}

/// Counts one attempt against each limit in turn, in one transaction. The first limit that has
/// no allowance left refuses the attempt; the limits before it keep the attempt counted, those
/// after it are not touched.
pub fn take(conn: &mut DbConnection, limits: &[Limit], now_ms: i64) -> QueryResult<Result<(), Refusal>> {
    write_transaction(conn, |conn| {
        for (position, limit) in limits.iter().enumerate() {
            let arrival = lock(conn, &limit.key, now_ms)?.max(now_ms);
            let ahead = arrival - now_ms;
            if ahead > limit.tolerance_ms {
                return Ok(Err(Refusal { limit: position, wait_ms: ahead - limit.tolerance_ms }));
            }
            diesel::update(login_limits::table.find(&limit.key))
                .set(login_limits::tat_ms.eq(arrival.saturating_add(limit.interval_ms)))
                .execute(conn)?;
        }
        Ok(Ok(()))
    })
}

/// Makes sure the key has a row, takes the row's lock and returns its stored arrival time (now,
/// for a new key): on PostgreSQL an upsert locks the row (SQLite's write transaction holds the
/// whole database), so concurrent attempts on one key are counted one after another. The upsert
/// is written per backend, as diesel's common backend has no `ON CONFLICT`.
fn lock(conn: &mut DbConnection, key: &str, now_ms: i64) -> QueryResult<i64> {
    let upsert = diesel::insert_into(login_limits::table)
        .values((login_limits::key.eq(key), login_limits::tat_ms.eq(now_ms)))
        .on_conflict(login_limits::key)
        .do_update()
        .set(login_limits::tat_ms.eq(login_limits::tat_ms))
        .returning(login_limits::tat_ms);
    match conn {
        DbConnection::Postgres(pg) => upsert.get_result(pg),
        DbConnection::Sqlite(sqlite) => upsert.get_result(sqlite),
    }
}

/// Forgets the keys whose whole allowance is back; returns how many.
pub fn forget_idle(conn: &mut DbConnection, now_ms: i64) -> QueryResult<usize> {
    diesel::delete(login_limits::table.filter(login_limits::tat_ms.le(now_ms))).execute(conn)
}
