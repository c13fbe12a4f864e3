//! Push storage: a batch of prepared changes applied in one transaction, each record answered
//! on its own. Idempotency comes from the record id: a replayed change finds itself stored and
//! is `unchanged`.
//!
//! A push runs in two steps. [`domain::push::prepare`](crate::domain::push::prepare) reads and
//! validates every record and redacts its free text, with no database access: it runs beside
//! other requests. [`apply`] then does only the storage work inside the writer's transaction,
//! with one lookup of the stored versions and one of the quarantine per table, whatever the
//! number of records. What each change does is the domain's merge rule
//! ([`crate::domain::push::merge`]); this module loads what it needs and writes its answer.

mod quarantine;

use super::areas::CurrentAreas;
use super::history::{self, Version};
use super::sync_state;
use crate::db::DbConnection;
use crate::db::models::{ActivityLogRow, ObservationRow};
use crate::db::queries::photos::AttachmentRow;
use crate::db::schema::{activity_logs, attachments, observations, sync_quarantine};
use crate::domain::areas::AreaIndex;
use crate::domain::attachments::Attachment;
use crate::domain::push::merge::{self, Merge, Removal};
use crate::domain::push::{
    ActivityChange, AttachmentChange, Change, ObservationChange, PreparedPush, PushContext, RecordResult, Status,
    TableChanges,
};
use crate::domain::stored::{ActivityLog, Observation};
use crate::domain::sync::SyncedTable;
use diesel::prelude::*;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The most rows in one INSERT: 40 columns each stay under SQLite's 32,766 bound parameters.
const INSERT_CHUNK: usize = 500;

/// The most ids bound in one lookup (both backends accept far more parameters).
const LOOKUP_CHUNK: usize = 500;

struct Batch<'a> {
    context: &'a PushContext,
    seq: i64,
    /// The stored versions of the push's records, kept current as the push goes.
    observations: HashMap<String, Observation>,
    activities: HashMap<String, ActivityLog>,
    quarantine: HashMap<(SyncedTable, String), quarantine::Quarantined>,
    attachments: HashMap<String, Attachment>,
    /// The live attachments of the observations the push attaches photos to.
    attached: HashMap<String, u32>,
    /// New rows not yet written: they go in one statement per table, unless a later change
    /// in the same push touches one of them first.
    new_observations: Vec<ObservationRow>,
    new_activities: Vec<ActivityLogRow>,
    new_attachments: Vec<AttachmentRow>,
    results: Vec<RecordResult>,
    /// The current areas, when the push at hand was placed with older ones.
    relocate: Option<Arc<AreaIndex>>,
}

/// Stores prepared pushes under the sequence number `seq`, inside the caller's write
/// transaction (which took `seq` as its first write), in their order. Each push's records are
/// answered in a list of their own. The stored versions of all the records of one
/// organisation's pushes are read at once, and their new rows written together.
///
/// The organisation's areas version is read here, after `seq` was taken: a push prepared with
/// other areas has its records placed with the current ones from `areas` (see
/// [`super::areas`] for why this leaves no record placed by old areas).
pub fn apply_all(
    conn: &mut DbConnection,
    seq: i64,
    pushes: &[&PreparedPush],
    areas: &mut CurrentAreas,
) -> QueryResult<Vec<Vec<RecordResult>>> {
    let mut results = vec![Vec::new(); pushes.len()];
    // Organisations, tables and ids in order: every writer locks rows in the same order.
    let mut by_organisation: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (index, push) in pushes.iter().enumerate() {
        by_organisation.entry(push.context.organisation_id.as_str()).or_default().push(index);
    }
    for (organisation_id, indexes) in by_organisation {
        let changes = indexes.iter().flat_map(|index| pushes[*index].changes.iter());
        // The areas version first, held shared until commit (see `super::areas`).
        let version = super::areas::version_for_records(conn, organisation_id)?;
        let mut batch = Batch::load(conn, organisation_id, &pushes[indexes[0]].context, seq, changes)?;
        for index in indexes {
            batch.context = &pushes[index].context;
            batch.relocate = if pushes[index].areas_version == version {
                None
            } else {
                Some(areas.at(conn, organisation_id, version)?)
            };
            for change in &pushes[index].changes {
                match change {
                    Change::Refuse { table, id, status, error } => batch.refuse(table.clone(), id, *status, error),
                    Change::Observation(change) => batch.upsert_observation(conn, change)?,
                    Change::Activity(change) => batch.upsert_activity(conn, change)?,
                    Change::Attachment(change) => batch.add_attachment(conn, change)?,
                    Change::Delete { table, id } => batch.delete(conn, *table, id)?,
                }
            }
            results[index] = std::mem::take(&mut batch.results);
        }
        batch.flush(conn)?;
    }
    Ok(results)
}

/// Stores one prepared push under `seq`, inside the caller's write transaction.
pub fn apply(
    conn: &mut DbConnection,
    seq: i64,
    push: &PreparedPush,
    areas: &mut CurrentAreas,
) -> QueryResult<Vec<RecordResult>> {
    Ok(apply_all(conn, seq, &[push], areas)?.pop().unwrap_or_default())
}

/// Stores a prepared push in a write transaction of its own.
pub fn store(conn: &mut DbConnection, push: &PreparedPush, areas: &mut CurrentAreas) -> QueryResult<Vec<RecordResult>> {
    crate::db::write_transaction_retrying(conn, |conn| {
        let seq = sync_state::take(conn)?;
        apply(conn, seq, push, areas)
    })
}

/// Prepares and stores a push on one connection, reading the rules afresh.
pub fn push(
    conn: &mut DbConnection,
    context: PushContext,
    tables: Vec<(String, TableChanges)>,
) -> QueryResult<Vec<RecordResult>> {
    let prepared = super::push_rules::prepare_with(conn, None, context, tables)?;
    store(conn, &prepared, &mut CurrentAreas::default())
}

impl<'a> Batch<'a> {
    /// Reads the stored versions and quarantine entries of every record the push names.
    fn load(
        conn: &mut DbConnection,
        org: &str,
        context: &'a PushContext,
        seq: i64,
        changes: impl Iterator<Item = &'a Change>,
    ) -> QueryResult<Self> {
        let mut ids: BTreeMap<&str, (SyncedTable, Vec<&str>)> = BTreeMap::new();
        // The observations photos are attached to are read with the push's own.
        let mut attached_to: Vec<&str> = Vec::new();
        for change in changes {
            if let Some((table, id)) = change.record() {
                ids.entry(table.name()).or_insert_with(|| (table, Vec::new())).1.push(id);
            }
            if let Change::Attachment(attachment) = change
                && let Ok(content) = &attachment.content
            {
                attached_to.push(&content.observation_id);
            }
        }
        if !attached_to.is_empty() {
            let observations = SyncedTable::Observations;
            ids.entry(observations.name()).or_insert_with(|| (observations, Vec::new())).1.extend(&attached_to);
        }
        let mut batch = Batch {
            context,
            seq,
            observations: HashMap::new(),
            activities: HashMap::new(),
            quarantine: HashMap::new(),
            attachments: HashMap::new(),
            attached: HashMap::new(),
            new_observations: Vec::new(),
            new_activities: Vec::new(),
            new_attachments: Vec::new(),
            results: Vec::new(),
            relocate: None,
        };
        for (table, mut ids) in ids.into_values() {
            ids.sort_unstable();
            ids.dedup();
            for chunk in ids.chunks(LOOKUP_CHUNK) {
                // Read and locked in one statement on PostgreSQL (`FOR UPDATE`, in id order, as
                // every writer locks them): another process's writer of the same records waits
                // for this commit and then reads what it wrote. A record not stored yet is not
                // locked; a second insert of it fails on its key and is tried again (see
                // `crate::db::write_transaction_retrying`). On SQLite the write transaction
                // already excludes every other writer.
                macro_rules! load_locked {
                    ($table:ident, $row:ty) => {{
                        let query = || {
                            $table::table
                                .filter($table::organisation_id.eq(org))
                                .filter($table::id.eq_any(chunk))
                                .order($table::id)
                        };
                        let rows: Vec<$row> = match conn {
                            DbConnection::Postgres(pg) => query().select(<$row>::as_select()).for_update().load(pg)?,
                            DbConnection::Sqlite(sqlite) => query().select(<$row>::as_select()).load(sqlite)?,
                        };
                        rows
                    }};
                }
                match table {
                    SyncedTable::Observations => {
                        let rows = load_locked!(observations, ObservationRow);
                        batch.observations.extend(rows.into_iter().map(|row| (row.id.clone(), row.into())));
                    }
                    SyncedTable::ActivityLogs => {
                        let rows = load_locked!(activity_logs, ActivityLogRow);
                        batch.activities.extend(rows.into_iter().map(|row| (row.id.clone(), row.into())));
                    }
                    SyncedTable::Attachments => {
                        let rows = load_locked!(attachments, AttachmentRow);
                        batch.attachments.extend(rows.into_iter().map(|row| (row.id.clone(), row.into())));
                    }
                    other => return Err(super::not_served(other, "records")),
                }
                let entries: Vec<(String, String, i64, Option<i64>)> = sync_quarantine::table
                    .filter(sync_quarantine::organisation_id.eq(org))
                    .filter(sync_quarantine::table_name.eq(table.name()))
                    .filter(sync_quarantine::record_id.eq_any(chunk))
                    .select((
                        sync_quarantine::record_id,
                        sync_quarantine::user_id,
                        sync_quarantine::first_seq,
                        sync_quarantine::resolved_at,
                    ))
                    .load(conn)?;
                batch.quarantine.extend(entries.into_iter().map(|(id, user_id, first_seq, resolved_at)| {
                    ((table, id), quarantine::Quarantined { user_id, first_seq, resolved: resolved_at.is_some() })
                }));
            }
        }
        attached_to.sort_unstable();
        attached_to.dedup();
        for chunk in attached_to.chunks(LOOKUP_CHUNK) {
            let live: Vec<String> = attachments::table
                .filter(attachments::organisation_id.eq(org))
                .filter(attachments::observation_id.eq_any(chunk))
                .filter(attachments::deleted_at.is_null())
                .select(attachments::observation_id)
                .load(conn)?;
            for observation_id in live {
                *batch.attached.entry(observation_id).or_default() += 1;
            }
        }
        Ok(batch)
    }

    /// Writes the new rows waiting in the batch.
    fn flush(&mut self, conn: &mut DbConnection) -> QueryResult<()> {
        // SQLite: multi-row INSERTs of at most INSERT_CHUNK rows, within its limit on bound
        // parameters. PostgreSQL: one binary COPY of all the rows, which spares it parsing and
        // binding thousands of parameters per statement. The multi-backend connection has neither,
        // so each backend's own connection runs it.
        macro_rules! insert_all {
            ($table:path, $rows:expr) => {
                if !$rows.is_empty() {
                    match conn {
                        DbConnection::Sqlite(conn) => {
                            for rows in $rows.chunks(INSERT_CHUNK) {
                                diesel::insert_into($table).values(rows).execute(conn)?;
                            }
                        }
                        DbConnection::Postgres(conn) => {
                            diesel::copy_from($table).from_insertable(&$rows).execute(conn)?;
                        }
                    }
                    $rows.clear();
                }
            };
        }
        insert_all!(observations::table, self.new_observations);
        insert_all!(activity_logs::table, self.new_activities);
        insert_all!(attachments::table, self.new_attachments);
        Ok(())
    }

    fn answer(&mut self, table: SyncedTable, id: &str, status: Status, server_seq: Option<i64>) {
        self.results.push(RecordResult::of(table, id, status, server_seq));
    }

    fn refuse(&mut self, table: Cow<'static, str>, id: &str, status: Status, error: &str) {
        self.results.push(RecordResult::refused(table, id, status, error));
    }

    /// A `forbidden` answer naming every field at fault.
    fn refuse_fields(&mut self, table: SyncedTable, id: &str, error: &str, errors: Vec<crate::domain::FieldError>) {
        let mut result = RecordResult::refused(Cow::Borrowed(table.name()), id, Status::Forbidden, error);
        result.errors = Some(errors);
        self.results.push(result);
    }

    /// Moves a stored record to this push's sequence, so that devices pull it again.
    fn resend(&mut self, conn: &mut DbConnection, table: SyncedTable, id: &str) -> QueryResult<()> {
        self.flush(conn)?;
        let organisation_id = self.context.organisation_id.as_str();
        match table {
            SyncedTable::Observations => {
                diesel::update(observations::table.find((organisation_id, id)))
                    .set(observations::server_seq.eq(self.seq))
                    .execute(conn)?;
                if let Some(row) = self.observations.get_mut(id) {
                    row.server_seq = self.seq;
                }
            }
            SyncedTable::ActivityLogs => {
                diesel::update(activity_logs::table.find((organisation_id, id)))
                    .set(activity_logs::server_seq.eq(self.seq))
                    .execute(conn)?;
                if let Some(row) = self.activities.get_mut(id) {
                    row.server_seq = self.seq;
                }
            }
            SyncedTable::Attachments => {
                diesel::update(attachments::table.find((organisation_id, id)))
                    .set(attachments::server_seq.eq(self.seq))
                    .execute(conn)?;
                if let Some(row) = self.attachments.get_mut(id) {
                    row.server_seq = self.seq;
                }
            }
            other => return Err(super::not_served(other, "records")),
        }
        Ok(())
    }

    /// The record is deleted on the server, yet a device pushes a version of it: the device
    /// missed (or undid) the delete. The tombstone is sent again with this push's sequence, and
    /// the change is a conflict, so the device pulls and removes the record.
    fn resend_delete(&mut self, conn: &mut DbConnection, table: SyncedTable, id: &str) -> QueryResult<()> {
        self.resend(conn, table, id)?;
        self.answer(table, id, Status::Conflict, None);
        Ok(())
    }

    fn history(
        &mut self,
        conn: &mut DbConnection,
        table: SyncedTable,
        id: &str,
        change: &'static str,
        previous: Map<String, Value>,
        current: &Map<String, Value>,
    ) -> QueryResult<()> {
        let version = Version {
            organisation_id: &self.context.organisation_id,
            table,
            record_id: id,
            seq: self.seq,
            changed_by: &self.context.user_id,
            device_id: &self.context.device_id,
            at: self.context.now_ms,
            change,
        };
        history::keep(conn, &version, &previous, current)
    }

    fn upsert_observation(&mut self, conn: &mut DbConnection, change: &ObservationChange) -> QueryResult<()> {
        const TABLE: SyncedTable = SyncedTable::Observations;
        let id = change.id.as_str();
        let relocate = self.relocate.clone();
        let merged =
            merge::merge_observation(self.observations.get(id), change, self.context, self.seq, relocate.as_deref());
        match merged {
            Merge::Insert(mut record) => {
                record.author_seen_seq = self.seen_in_quarantine(TABLE, id);
                self.resolve_quarantine(conn, TABLE, id)?;
                self.new_observations.push(record.clone().into());
                self.observations.insert(id.to_owned(), record);
                self.answer(TABLE, id, Status::Applied, Some(self.seq));
            }
            Merge::Update { record, part } => {
                self.flush(conn)?;
                let stored = self.observations.get(id);
                let previous = stored.map(Observation::to_raw).unwrap_or_default();
                let current = record.to_raw();
                let mut row = ObservationRow::from(record);
                let target = observations::table.find((&row.organisation_id, id));
                let exact =
                    diesel::update(target.filter(observations::coarse_darkness.is_null())).set(&row).execute(conn)?;
                if let (0, Some(stored)) = (exact, stored) {
                    // A position retention coarsened: sent back unchanged it stays as it was
                    // (hexagon, area, darkness); a new position is exact again.
                    if (stored.lat, stored.lon) == (row.lat, row.lon) {
                        row.cell.clone_from(&stored.cell);
                        row.area_code.clone_from(&stored.area_code);
                        diesel::update(target).set(&row).execute(conn)?;
                    } else {
                        diesel::update(target)
                            .set((&row, observations::coarse_darkness.eq(None::<i32>)))
                            .execute(conn)?;
                    }
                }
                self.history(conn, TABLE, id, part.history_name(), previous, &current)?;
                self.observations.insert(id.to_owned(), row.into());
                if part == merge::Part::Content {
                    self.resolve_quarantine(conn, TABLE, id)?;
                } else {
                    self.keep_quarantine_on_top(conn, TABLE, id)?;
                }
                self.answer(TABLE, id, Status::Applied, Some(self.seq));
            }
            other => self.answer_unstored(conn, TABLE, change.id.as_str(), &change.raw, other)?,
        }
        Ok(())
    }

    fn upsert_activity(&mut self, conn: &mut DbConnection, change: &ActivityChange) -> QueryResult<()> {
        const TABLE: SyncedTable = SyncedTable::ActivityLogs;
        let id = change.id.as_str();
        let relocate = self.relocate.clone();
        let merged =
            merge::merge_activity(self.activities.get(id), change, self.context, self.seq, relocate.as_deref());
        match merged {
            Merge::Insert(mut record) => {
                record.author_seen_seq = self.seen_in_quarantine(TABLE, id);
                self.resolve_quarantine(conn, TABLE, id)?;
                self.new_activities.push(record.clone().into());
                self.activities.insert(id.to_owned(), record);
                self.answer(TABLE, id, Status::Applied, Some(self.seq));
            }
            Merge::Update { record, .. } => {
                self.flush(conn)?;
                let stored = self.activities.get(id);
                let previous = stored.map(ActivityLog::to_raw).unwrap_or_default();
                let current = record.to_raw();
                let mut row = ActivityLogRow::from(record);
                let target = activity_logs::table.find((&row.organisation_id, id));
                let exact =
                    diesel::update(target.filter(activity_logs::coarse_darkness.is_null())).set(&row).execute(conn)?;
                if let (0, Some(stored)) = (exact, stored) {
                    // A position retention coarsened: sent back unchanged it stays as it was
                    // (hexagon, area, darkness); a new position is exact again.
                    if (stored.lat, stored.lon) == (row.lat, row.lon) {
                        row.cell.clone_from(&stored.cell);
                        row.area_code.clone_from(&stored.area_code);
                        diesel::update(target).set(&row).execute(conn)?;
                    } else {
                        diesel::update(target)
                            .set((&row, activity_logs::coarse_darkness.eq(None::<i32>)))
                            .execute(conn)?;
                    }
                }
                self.history(conn, TABLE, id, "update", previous, &current)?;
                self.activities.insert(id.to_owned(), row.into());
                self.resolve_quarantine(conn, TABLE, id)?;
                self.answer(TABLE, id, Status::Applied, Some(self.seq));
            }
            other => self.answer_unstored(conn, TABLE, change.id.as_str(), &change.raw, other)?,
        }
        Ok(())
    }

    /// Answers a change that stores no new version of its record.
    fn answer_unstored<R>(
        &mut self,
        conn: &mut DbConnection,
        table: SyncedTable,
        id: &str,
        raw: &Map<String, Value>,
        merged: Merge<R>,
    ) -> QueryResult<()> {
        match merged {
            Merge::Forbidden(error) => self.refuse(Cow::Borrowed(table.name()), id, Status::Forbidden, error),
            Merge::Deleted => self.resend_delete(conn, table, id)?,
            Merge::Quarantine(errors) => self.quarantine(conn, table, id, raw, errors)?,
            Merge::Conflict => self.answer(table, id, Status::Conflict, None),
            Merge::Unchanged { by_author } => {
                if by_author && self.resolve_quarantine(conn, table, id)? {
                    // The device's copy carries a sync error: send the stored version back down.
                    self.resend(conn, table, id)?;
                }
                self.answer(table, id, Status::Unchanged, None);
            }
            Merge::Insert(_) | Merge::Update { .. } => {
                return Err(diesel::result::Error::QueryBuilderError("a new version reached answer_unstored".into()));
            }
        }
        Ok(())
    }

    /// Stores a photo attachment: once, unchanged for ever after, on an observation that is
    /// stored and that the caller may attach photos to.
    fn add_attachment(&mut self, conn: &mut DbConnection, change: &AttachmentChange) -> QueryResult<()> {
        const TABLE: SyncedTable = SyncedTable::Attachments;
        let id = change.id.as_str();
        let content = match &change.content {
            Ok(content) => content,
            Err(errors) => {
                let errors = errors.iter().cloned().map(crate::domain::push::redacted_error).collect();
                self.refuse_fields(TABLE, id, "the attachment was refused", errors);
                return Ok(());
            }
        };
        if let Some(stored) = self.attachments.get(id) {
            if stored.deleted_at.is_some() {
                self.resend_delete(conn, TABLE, id)?;
            } else if stored.content.same_as(content) {
                self.answer(TABLE, id, Status::Unchanged, None);
            } else {
                self.refuse(
                    Cow::Borrowed(TABLE.name()),
                    id,
                    Status::Conflict,
                    "an attachment does not change once stored: attach another photo as a new attachment",
                );
            }
            return Ok(());
        }
        let observation = self.observations.get(&content.observation_id);
        let refusal = match observation {
            None => Some((
                Status::Conflict,
                "the observation is not stored (yet): the attachment waits until its observation is accepted",
            )),
            Some(observation) if observation.deleted_at.is_some() => {
                Some((Status::Forbidden, "the observation is deleted"))
            }
            Some(observation) if observation.user_id != self.context.user_id && !self.context.reviews() => {
                Some((Status::Forbidden, "the observation belongs to someone else"))
            }
            Some(_) => None,
        };
        if let Some((status, error)) = refusal {
            self.refuse(Cow::Borrowed(TABLE.name()), id, status, error);
            return Ok(());
        }
        let reporter = observation.map(|observation| observation.user_id.clone()).unwrap_or_default();
        let attached = self.attached.entry(content.observation_id.clone()).or_default();
        let limit = self.context.photo_rules.per_observation;
        if *attached >= limit {
            let error = crate::domain::FieldError::new(
                "observation_id",
                "too_many_photos",
                format!("an observation may have at most {limit} photos"),
            );
            self.refuse_fields(TABLE, id, "the observation has as many photos as it may have", vec![error]);
            return Ok(());
        }
        *attached += 1;
        let attachment = Attachment {
            organisation_id: self.context.organisation_id.clone(),
            id: id.to_owned(),
            content: content.clone(),
            observation_user_id: reporter,
            user_id: self.context.user_id.clone(),
            device_id: self.context.device_id.clone(),
            created_at: content.created_at.unwrap_or(self.context.now_ms),
            deleted_at: None,
            created_seq: self.seq,
            server_seq: self.seq,
        };
        self.new_attachments.push(attachment.clone().into());
        self.attachments.insert(id.to_owned(), attachment);
        self.answer(TABLE, id, Status::Applied, Some(self.seq));
        Ok(())
    }

    /// Deletes a photo attachment: its reporter's, its attacher's or a reviewer's to delete. The
    /// photo's bytes go once no live attachment has them and the tombstone horizon has passed.
    fn delete_attachment(&mut self, conn: &mut DbConnection, id: &str) -> QueryResult<()> {
        const TABLE: SyncedTable = SyncedTable::Attachments;
        let context = self.context;
        let Some(stored) = self.attachments.get_mut(id) else {
            self.answer(TABLE, id, Status::Unchanged, None);
            return Ok(());
        };
        if stored.deleted_at.is_some() {
            self.answer(TABLE, id, Status::Unchanged, None);
            return Ok(());
        }
        if !(context.reviews() || stored.user_id == context.user_id || stored.observation_user_id == context.user_id) {
            self.refuse(Cow::Borrowed(TABLE.name()), id, Status::Forbidden, "this photo belongs to someone else");
            return Ok(());
        }
        (stored.deleted_at, stored.server_seq) = (Some(context.now_ms), self.seq);
        let observation_id = stored.content.observation_id.clone();
        if let Some(attached) = self.attached.get_mut(&observation_id) {
            *attached = attached.saturating_sub(1);
        }
        self.flush(conn)?;
        diesel::update(attachments::table.find((context.organisation_id.as_str(), id)))
            .set((attachments::deleted_at.eq(context.now_ms), attachments::server_seq.eq(self.seq)))
            .execute(conn)?;
        self.answer(TABLE, id, Status::Applied, Some(self.seq));
        Ok(())
    }

    fn delete(&mut self, conn: &mut DbConnection, table: SyncedTable, id: &str) -> QueryResult<()> {
        if table == SyncedTable::Attachments {
            return self.delete_attachment(conn, id);
        }
        let stored = match table {
            SyncedTable::Observations => self.observations.get(id).map(|row| (row.user_id.as_str(), row.deleted_at)),
            SyncedTable::ActivityLogs => self.activities.get(id).map(|row| (row.user_id.as_str(), row.deleted_at)),
            other => return Err(super::not_served(other, "records")),
        };
        match merge::merge_delete(stored, self.context) {
            Removal::OnlyQuarantined => {
                // Only a quarantined version exists: deleting it resolves the quarantine, and the
                // author's other devices get the delete on their next pull.
                let resolved = self.resolve_quarantine_as(conn, table, id, "deleted")?;
                self.answer(
                    table,
                    id,
                    if resolved { Status::Applied } else { Status::Unchanged },
                    resolved.then_some(self.seq),
                );
            }
            Removal::AlreadyDeleted => self.answer(table, id, Status::Unchanged, None),
            Removal::Forbidden => {
                self.refuse(Cow::Borrowed(table.name()), id, Status::Forbidden, "this record belongs to someone else")
            }
            Removal::Delete => {
                self.flush(conn)?;
                let now = self.context.now_ms;
                let organisation_id = self.context.organisation_id.as_str();
                let previous = match table {
                    SyncedTable::Observations => {
                        diesel::update(observations::table.find((organisation_id, id)))
                            .set((
                                observations::deleted_at.eq(now),
                                observations::server_seq.eq(self.seq),
                                observations::updated_at.eq(now),
                            ))
                            .execute(conn)?;
                        self.observations.get_mut(id).map(|row| {
                            let previous = row.to_raw();
                            (row.deleted_at, row.server_seq, row.updated_at) = (Some(now), self.seq, now);
                            previous
                        })
                    }
                    SyncedTable::ActivityLogs => {
                        diesel::update(activity_logs::table.find((organisation_id, id)))
                            .set((
                                activity_logs::deleted_at.eq(now),
                                activity_logs::server_seq.eq(self.seq),
                                activity_logs::updated_at.eq(now),
                            ))
                            .execute(conn)?;
                        self.activities.get_mut(id).map(|row| {
                            let previous = row.to_raw();
                            (row.deleted_at, row.server_seq, row.updated_at) = (Some(now), self.seq, now);
                            previous
                        })
                    }
                    other => return Err(super::not_served(other, "records")),
                };
                self.history(conn, table, id, "delete", previous.unwrap_or_default(), &Map::new())?;
                self.resolve_quarantine_as(conn, table, id, "deleted")?;
                self.answer(table, id, Status::Applied, Some(self.seq));
            }
        }
        Ok(())
    }
}
