//! The change sequence that orders every sync.

use crate::db::DbConnection;
use crate::db::schema::sync_state;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

/// Takes the next sequence number. Call it as the first write of a transaction that changes
/// synced data, and store every change under it.
///
/// On SQLite it is an update of the `sync_state` row: the write lock it takes is held until
/// commit, so transactions commit in sequence order and [`committed`] is simply the stored
/// number. On PostgreSQL writers in several processes must not queue on one row: the number
/// comes from the `sync_seq` sequence and is registered as in flight (a transaction-level
/// advisory lock) until the transaction ends, and [`committed`] is the watermark below the
/// lowest number still in flight (see the migration `2026-12-07-000001_sync_sequence`). Either
/// way no reader is ever handed a number below which a change may still commit (invariant 2).
pub fn take(conn: &mut DbConnection) -> QueryResult<i64> {
    match conn {
        DbConnection::Sqlite(_) => diesel::update(sync_state::table.find(1))
            .set(sync_state::seq.eq(sync_state::seq + 1))
            .returning(sync_state::seq)
            .get_result(conn),
        DbConnection::Postgres(_) => diesel::select(sql::<BigInt>("sync_take()")).get_result(conn),
    }
}

/// The highest sequence number at or below which every change has committed (or been rolled
/// back): a reader that reads rows up to it misses nothing that commits later.
///
/// On PostgreSQL, call it before the reading transaction takes its snapshot (before its first
/// statement): a change that committed after the snapshot but before this call would be covered
/// by the number and yet not visible to the reader.
pub fn committed(conn: &mut DbConnection) -> QueryResult<i64> {
    match conn {
        DbConnection::Sqlite(_) => sync_state::table.find(1).select(sync_state::seq).first(conn),
        DbConnection::Postgres(_) => diesel::select(sql::<BigInt>("sync_watermark()")).get_result(conn),
    }
}

/// The highest purged tombstone sequence: a cursor below it cannot be told about every delete.
pub fn purged_through(conn: &mut DbConnection) -> QueryResult<i64> {
    sync_state::table.find(1).select(sync_state::purged_through).first(conn)
}

/// [`committed`] and [`purged_through`], read in that order (see [`committed`] for when).
pub fn read(conn: &mut DbConnection) -> QueryResult<(i64, i64)> {
    Ok((committed(conn)?, purged_through(conn)?))
}

/// Moves the sequence to at least `seq` and marks everything up to it as purged, so that every
/// cursor handed out before gets a replacement snapshot (after a restore).
pub fn skip_to(conn: &mut DbConnection, seq: i64) -> QueryResult<()> {
    if let DbConnection::Postgres(_) = conn {
        // A number, not text from anyone: formatted into the statement.
        let moved = format!("setval('sync_seq', GREATEST({seq}, (SELECT last_value FROM sync_seq)), true)");
        diesel::select(sql::<BigInt>(&moved)).execute(conn)?;
    }
    diesel::update(sync_state::table.find(1))
        .set((sync_state::seq.eq(seq), sync_state::purged_through.eq(seq)))
        .execute(conn)
        .map(drop)
}

/// Records that tombstones up to `seq` have been removed.
pub fn mark_purged(conn: &mut DbConnection, seq: i64) -> QueryResult<()> {
    diesel::update(sync_state::table.find(1).filter(sync_state::purged_through.lt(seq)))
        .set(sync_state::purged_through.eq(seq))
        .execute(conn)
        .map(drop)
}

/// Removes tombstones (and quarantined versions resolved by deletion) older than `before_ms`,
/// and records the highest sequence removed: a device whose cursor is older gets a replacement
/// snapshot, since it cannot be told about those deletes any more. Returns how many went.
pub fn purge_tombstones(conn: &mut DbConnection, before_ms: i64) -> QueryResult<usize> {
    use crate::db::schema::{activity_logs, attachments, feedback, observations, sync_quarantine};
    use diesel::dsl::max;
    crate::db::write_transaction(conn, |conn| {
        let observation_seq: Option<i64> = observations::table
            .filter(observations::deleted_at.lt(before_ms))
            .select(max(observations::server_seq))
            .first(conn)?;
        let activity_seq: Option<i64> = activity_logs::table
            .filter(activity_logs::deleted_at.lt(before_ms))
            .select(max(activity_logs::server_seq))
            .first(conn)?;
        let quarantine_seq: Option<i64> = sync_quarantine::table
            .filter(sync_quarantine::resolved_at.lt(before_ms))
            .select(max(sync_quarantine::server_seq))
            .first(conn)?;
        let feedback_seq: Option<i64> =
            feedback::table.filter(feedback::deleted_at.lt(before_ms)).select(max(feedback::server_seq)).first(conn)?;
        let attachment_seq: Option<i64> = attachments::table
            .filter(attachments::deleted_at.lt(before_ms))
            .select(max(attachments::server_seq))
            .first(conn)?;
        let Some(highest) =
            [observation_seq, activity_seq, quarantine_seq, feedback_seq, attachment_seq].into_iter().flatten().max()
        else {
            return Ok(0);
        };
        let removed = diesel::delete(observations::table.filter(observations::deleted_at.lt(before_ms)))
            .execute(conn)?
            + diesel::delete(activity_logs::table.filter(activity_logs::deleted_at.lt(before_ms))).execute(conn)?
            + diesel::delete(sync_quarantine::table.filter(sync_quarantine::resolved_at.lt(before_ms)))
                .execute(conn)?
            + diesel::delete(feedback::table.filter(feedback::deleted_at.lt(before_ms))).execute(conn)?
            + diesel::delete(attachments::table.filter(attachments::deleted_at.lt(before_ms))).execute(conn)?;
        // The attachments of observations that are gone with their tombstones go with them.
        let observation_gone = diesel::dsl::not(diesel::dsl::exists(
            observations::table
                .filter(observations::organisation_id.eq(attachments::organisation_id))
                .filter(observations::id.eq(attachments::observation_id)),
        ));
        let removed = removed + diesel::delete(attachments::table.filter(observation_gone)).execute(conn)?;
        mark_purged(conn, highest)?;
        Ok(removed)
    })
}
