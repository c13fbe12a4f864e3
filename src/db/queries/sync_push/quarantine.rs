//! The quarantine's part of a push: a record that cannot be stored is kept aside with its
//! errors (its free text redacted), its author's devices get it back to fix, and a valid
//! version or a delete resolves it.

use super::Batch;
use crate::db::DbConnection;
use crate::db::models::QuarantineRow;
use crate::db::queries::history;
use crate::db::schema::sync_quarantine;
use crate::domain::FieldError;
use crate::domain::push::{RecordResult, Status, redacted_error, redacted_payload};
use crate::domain::sync::SyncedTable;
use diesel::prelude::*;
use serde_json::{Map, Value};

/// What the quarantine holds of a record, as far as a push needs to know.
pub(super) struct Quarantined {
    pub(super) user_id: String,
    pub(super) first_seq: i64,
    pub(super) resolved: bool,
}

impl Batch<'_> {
    pub(super) fn quarantine(
        &mut self,
        conn: &mut DbConnection,
        table: SyncedTable,
        id: &str,
        raw: &Map<String, Value>,
        errors: Vec<FieldError>,
    ) -> QueryResult<()> {
        let errors: Vec<FieldError> = errors.into_iter().map(redacted_error).collect();
        let key = (table, id.to_owned());
        let held = self.quarantine.get(&key);
        let row = QuarantineRow {
            organisation_id: self.context.organisation_id.clone(),
            table_name: table.name().to_owned(),
            record_id: id.to_owned(),
            user_id: self.context.user_id.clone(),
            device_id: self.context.device_id.clone(),
            payload: serde_json::to_string(&redacted_payload(raw)).unwrap_or_default(),
            errors: serde_json::to_string(&errors).unwrap_or_default(),
            received_at: self.context.now_ms,
            server_seq: self.seq,
            // A quarantined version sent again keeps the moment the devices first got one.
            first_seq: held.map_or(self.seq, |held| held.first_seq),
            resolved_at: None,
            resolution: None,
        };
        if held.is_some() {
            diesel::update(sync_quarantine::table.find((&row.organisation_id, &row.table_name, &row.record_id)))
                .set(&row)
                .execute(conn)?;
        } else {
            diesel::insert_into(sync_quarantine::table).values(&row).execute(conn)?;
        }
        self.quarantine
            .insert(key, Quarantined { user_id: row.user_id.clone(), first_seq: row.first_seq, resolved: false });
        let mut result = RecordResult::of(table, id, Status::Quarantined, Some(self.seq));
        result.error = Some(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "));
        result.errors = Some(errors);
        self.results.push(result);
        Ok(())
    }

    /// Marks the quarantined version of a record as resolved (`stored` when a valid version was
    /// accepted, `deleted` when the record was deleted); true if there was one.
    pub(super) fn resolve_quarantine(
        &mut self,
        conn: &mut DbConnection,
        table: SyncedTable,
        id: &str,
    ) -> QueryResult<bool> {
        self.resolve_quarantine_as(conn, table, id, "stored")
    }

    pub(super) fn resolve_quarantine_as(
        &mut self,
        conn: &mut DbConnection,
        table: SyncedTable,
        id: &str,
        resolution: &str,
    ) -> QueryResult<bool> {
        let Some(held) = self.quarantine.get_mut(&(table, id.to_owned())).filter(|held| !held.resolved) else {
            return Ok(false);
        };
        // A valid version resolves only its author's quarantined version (a coordinator's review
        // does not); a deletion resolves it whoever deletes.
        if resolution == "stored" && held.user_id != self.context.user_id {
            return Ok(false);
        }
        held.resolved = true;
        diesel::update(
            sync_quarantine::table
                .find((&self.context.organisation_id, table.name(), id))
                .filter(sync_quarantine::resolved_at.is_null()),
        )
        .set((
            sync_quarantine::resolved_at.eq(self.context.now_ms),
            sync_quarantine::server_seq.eq(self.seq),
            sync_quarantine::resolution.eq(resolution),
        ))
        .execute(conn)
        .map(|n| n > 0)
    }

    /// When the pusher's devices first got a quarantined version of this record, if they did.
    pub(super) fn seen_in_quarantine(&self, table: SyncedTable, id: &str) -> Option<i64> {
        self.quarantine
            .get(&(table, id.to_owned()))
            .filter(|held| held.user_id == self.context.user_id)
            .map(|held| held.first_seq)
    }

    /// After the stored version changed under an unresolved quarantined version, moves the
    /// quarantined version after it, so the author's devices keep the version they must fix.
    pub(super) fn keep_quarantine_on_top(
        &mut self,
        conn: &mut DbConnection,
        table: SyncedTable,
        id: &str,
    ) -> QueryResult<()> {
        if self.quarantine.get(&(table, id.to_owned())).is_some_and(|held| !held.resolved) {
            history::keep_quarantine_on_top(conn, &self.context.organisation_id, table.name(), id, self.seq)?;
        }
        Ok(())
    }
}
