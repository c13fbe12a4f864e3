//! The change sequence that orders every sync.

use crate::db::DbConnection;
use crate::db::schema::sync_state;
use diesel::prelude::*;

/// Takes the next sequence number. Call it as the first write of a transaction that changes
/// synced data: the row lock it takes (the write lock on SQLite) is held until commit, so
/// transactions commit in sequence order and a pull never skips a row (invariant 2).
pub fn take(conn: &mut DbConnection) -> QueryResult<i64> {
    diesel::update(sync_state::table.find(1))
        .set(sync_state::seq.eq(sync_state::seq + 1))
        .returning(sync_state::seq)
        .get_result(conn)
}

/// The highest committed sequence number and the highest purged tombstone sequence.
pub fn read(conn: &mut DbConnection) -> QueryResult<(i64, i64)> {
    sync_state::table.find(1).select((sync_state::seq, sync_state::purged_through)).first(conn)
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
    use crate::db::schema::{activity_logs, observations, sync_quarantine};
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
        let Some(highest) = [observation_seq, activity_seq, quarantine_seq].into_iter().flatten().max() else {
            return Ok(0);
        };
        let removed = diesel::delete(observations::table.filter(observations::deleted_at.lt(before_ms)))
            .execute(conn)?
            + diesel::delete(activity_logs::table.filter(activity_logs::deleted_at.lt(before_ms))).execute(conn)?
            + diesel::delete(sync_quarantine::table.filter(sync_quarantine::resolved_at.lt(before_ms)))
                .execute(conn)?;
        mark_purged(conn, highest)?;
        Ok(removed)
    })
}
