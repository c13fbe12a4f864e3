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
