//! Every earlier version of a record: kept when a change replaces it, listed for coordinators.

use crate::db::DbConnection;
use crate::db::models::HistoryRow;
use crate::db::schema::{record_history, sync_quarantine, users};
use crate::domain::sync::SyncedTable;
use diesel::prelude::*;
use serde_json::{Map, Value};

/// Who replaced a version of a record, from which device, when and how.
pub struct Version<'a> {
    pub organisation_id: &'a str,
    pub table: SyncedTable,
    pub record_id: &'a str,
    /// The sequence of the change.
    pub seq: i64,
    pub changed_by: &'a str,
    pub device_id: &'a str,
    pub at: i64,
    /// `update`, `review` or `delete`.
    pub change: &'static str,
}

/// Keeps the `previous` version of a record that `current` replaces, with the fields that
/// changed.
pub fn keep(
    conn: &mut DbConnection,
    version: &Version<'_>,
    previous: &Map<String, Value>,
    current: &Map<String, Value>,
) -> QueryResult<()> {
    let fields: Vec<&String> = previous.keys().filter(|key| previous.get(*key) != current.get(*key)).collect();
    let row = HistoryRow {
        id: uuid::Uuid::now_v7().to_string(),
        organisation_id: version.organisation_id.to_owned(),
        table_name: version.table.name().to_owned(),
        record_id: version.record_id.to_owned(),
        server_seq: version.seq,
        changed_by: version.changed_by.to_owned(),
        device_id: version.device_id.to_owned(),
        changed_at: version.at,
        change: version.change.to_owned(),
        fields: serde_json::to_string(&fields).unwrap_or_default(),
        previous: serde_json::to_string(previous).unwrap_or_default(),
    };
    diesel::insert_into(record_history::table).values(&row).execute(conn).map(drop)
}

/// Every earlier version of a record, oldest first, with the username of who replaced it.
pub fn list(
    conn: &mut DbConnection,
    organisation_id: &str,
    table: &str,
    id: &str,
) -> QueryResult<Vec<(HistoryRow, Option<String>)>> {
    record_history::table
        .left_join(users::table.on(users::id.eq(record_history::changed_by)))
        .filter(record_history::organisation_id.eq(organisation_id))
        .filter(record_history::table_name.eq(table))
        .filter(record_history::record_id.eq(id))
        .order(record_history::server_seq.asc())
        .select((HistoryRow::as_select(), users::username.nullable()))
        .load(conn)
}

/// Moves an unresolved quarantined version of a record to `seq`, after the stored version that
/// just changed under it, so its author's devices keep the version they must fix.
pub fn keep_quarantine_on_top(
    conn: &mut DbConnection,
    organisation_id: &str,
    table: &str,
    id: &str,
    seq: i64,
) -> QueryResult<()> {
    diesel::update(
        sync_quarantine::table.find((organisation_id, table, id)).filter(sync_quarantine::resolved_at.is_null()),
    )
    .set(sync_quarantine::server_seq.eq(seq))
    .execute(conn)
    .map(drop)
}
