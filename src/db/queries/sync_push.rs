//! Push: a batch of changes applied in one transaction, each record answered on its own.
//! Idempotency comes from the record id: a replayed change finds itself stored and is `unchanged`.

use super::{reference, sync_state};
use crate::db::DbConnection;
use crate::db::models::{ActivityLogRow, HistoryRow, ObservationRow, QuarantineRow};
use crate::db::schema::{activity_logs, devices, observations, record_history, sync_quarantine, units};
use crate::domain::FieldError;
use crate::domain::identity::Role;
use crate::domain::records::{self, BoundingBox, Context, Instant};
use crate::domain::redaction::redact;
use crate::domain::sync::{Decision, decide};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Who pushes, from where, and what they had seen.
pub struct PushContext {
    pub organisation_id: String,
    pub user_id: String,
    pub role: Role,
    pub device_id: String,
    pub cursor: Option<i64>,
    pub now_ms: i64,
    pub clock_skew_ms: Option<i64>,
    pub skew_tolerance_ms: i64,
    pub pending_count: Option<i64>,
}

/// The changes of one table in a push.
#[derive(Debug, Default)]
pub struct TableChanges {
    pub created: Vec<Value>,
    pub updated: Vec<Value>,
    pub deleted: Vec<Value>,
}

/// The outcome of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Applied,
    Unchanged,
    Conflict,
    Quarantined,
    Forbidden,
}

/// One record's answer.
#[derive(Debug, Clone, Serialize)]
pub struct RecordResult {
    pub table: String,
    pub id: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_seq: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

struct Batch<'a> {
    context: &'a PushContext,
    seq: i64,
    bbox: Option<BoundingBox>,
    categories: HashSet<String>,
    activity_types: HashSet<String>,
    units: HashSet<String>,
    results: Vec<RecordResult>,
}

/// Applies a push. Every record gets a result; the transaction either commits all of them or
/// none (then the client retries the whole push).
pub fn push(
    conn: &mut DbConnection,
    context: &PushContext,
    tables: &[(String, TableChanges)],
) -> QueryResult<Vec<RecordResult>> {
    crate::db::write_transaction(conn, |conn| {
        // First write: serializes writers so that commit order is sequence order.
        let seq = sync_state::take(conn)?;
        let slugs =
            |rows: Vec<crate::db::models::ReferenceRow>| rows.into_iter().map(|row| row.slug).collect::<HashSet<_>>();
        let org = super::organisations::by_id(conn, &context.organisation_id)?;
        let bbox = match (org.bbox_min_lat, org.bbox_min_lon, org.bbox_max_lat, org.bbox_max_lon) {
            (Some(min_lat), Some(min_lon), Some(max_lat), Some(max_lon)) => {
                Some(BoundingBox { min_lat, min_lon, max_lat, max_lon })
            }
            _ => None,
        };
        let mut batch = Batch {
            context,
            seq,
            bbox,
            categories: slugs(reference::list(conn, reference::Kind::Categories, &context.organisation_id)?),
            activity_types: slugs(reference::list(conn, reference::Kind::ActivityTypes, &context.organisation_id)?),
            units: units::table
                .filter(units::organisation_id.eq(&context.organisation_id))
                .select(units::slug)
                .load::<String>(conn)?
                .into_iter()
                .collect(),
            results: Vec::new(),
        };
        for (table, changes) in tables {
            for raw in changes.created.iter().chain(&changes.updated) {
                batch.upsert(conn, table, raw)?;
            }
            for id in &changes.deleted {
                batch.delete(conn, table, id)?;
            }
        }
        diesel::update(devices::table.find((&context.organisation_id, &context.device_id)))
            .set(devices::last_push_at.eq(crate::db::now()))
            .execute(conn)?;
        super::devices::record_headers(
            conn,
            &context.organisation_id,
            &context.device_id,
            context.clock_skew_ms,
            context.pending_count,
        )?;
        Ok(batch.results)
    })
}

fn record_id(raw: &Value) -> Option<String> {
    let id = raw.as_str().or_else(|| raw.get("id").and_then(Value::as_str))?;
    let ok = (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| id.to_owned())
}

fn same_owner_or_new(existing_owner: Option<&str>, user_id: &str) -> bool {
    existing_owner.is_none_or(|owner| owner == user_id)
}

impl Batch<'_> {
    fn answer(&mut self, table: &str, id: &str, status: Status, server_seq: Option<i64>) {
        self.results.push(RecordResult {
            table: table.to_owned(),
            id: id.to_owned(),
            status,
            server_seq,
            error: None,
            errors: None,
        });
    }

    fn refuse(&mut self, table: &str, id: &str, status: Status, error: &str) {
        self.results.push(RecordResult {
            table: table.to_owned(),
            id: id.to_owned(),
            status,
            server_seq: None,
            error: Some(error.to_owned()),
            errors: None,
        });
    }

    fn context(&self) -> Context<'_> {
        Context {
            now_ms: self.context.now_ms,
            clock_skew_ms: self.context.clock_skew_ms,
            skew_tolerance_ms: self.context.skew_tolerance_ms,
            bbox: self.bbox,
            categories: &self.categories,
            activity_types: &self.activity_types,
            units: &self.units,
        }
    }

    fn upsert(&mut self, conn: &mut DbConnection, table: &str, raw: &Value) -> QueryResult<()> {
        let Some(id) = record_id(raw) else {
            self.refuse(table, "", Status::Forbidden, "a record needs an `id` of 1–64 letters, digits, `-` or `_`");
            return Ok(());
        };
        let Some(fields) = raw.as_object() else {
            self.refuse(table, &id, Status::Forbidden, "a record must be a JSON object");
            return Ok(());
        };
        if self.context.role == Role::Partner {
            self.refuse(table, &id, Status::Forbidden, "partners do not record data");
            return Ok(());
        }
        match table {
            "observations" => self.upsert_observation(conn, &id, fields),
            "activity_logs" => self.upsert_activity(conn, &id, fields),
            other => {
                self.refuse(
                    other,
                    &id,
                    Status::Forbidden,
                    "this table is not pushed: it syncs down only, or is unknown",
                );
                Ok(())
            }
        }
    }

    fn quarantine(
        &mut self,
        conn: &mut DbConnection,
        table: &str,
        id: &str,
        raw: &Map<String, Value>,
        errors: Vec<FieldError>,
    ) -> QueryResult<()> {
        let key = sync_quarantine::table.find((&self.context.organisation_id, table, id));
        let first_seq: Option<i64> = key.select(sync_quarantine::first_seq).first(conn).optional()?;
        let row = QuarantineRow {
            organisation_id: self.context.organisation_id.clone(),
            table_name: table.to_owned(),
            record_id: id.to_owned(),
            user_id: self.context.user_id.clone(),
            device_id: self.context.device_id.clone(),
            payload: serde_json::to_string(&redacted_payload(raw)).unwrap_or_default(),
            errors: serde_json::to_string(&errors).unwrap_or_default(),
            received_at: self.context.now_ms,
            server_seq: self.seq,
            // A quarantined version sent again keeps the moment the devices first got one.
            first_seq: first_seq.unwrap_or(self.seq),
            resolved_at: None,
            resolution: None,
        };
        let updated = diesel::update(key).set(&row).execute(conn)?;
        if updated == 0 {
            diesel::insert_into(sync_quarantine::table).values(&row).execute(conn)?;
        }
        self.results.push(RecordResult {
            table: table.to_owned(),
            id: id.to_owned(),
            status: Status::Quarantined,
            server_seq: Some(self.seq),
            error: Some(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")),
            errors: Some(errors),
        });
        Ok(())
    }

    /// Marks the quarantined version of a record as resolved (`stored` when a valid version was
    /// accepted, `deleted` when the record was deleted); true if there was one.
    fn resolve_quarantine(&mut self, conn: &mut DbConnection, table: &str, id: &str) -> QueryResult<bool> {
        self.resolve_quarantine_as(conn, table, id, "stored")
    }

    fn resolve_quarantine_as(
        &mut self,
        conn: &mut DbConnection,
        table: &str,
        id: &str,
        resolution: &str,
    ) -> QueryResult<bool> {
        // A valid version resolves only its author's quarantined version (a coordinator's review
        // does not); a deletion resolves it whoever deletes.
        let target = sync_quarantine::table
            .find((&self.context.organisation_id, table, id))
            .filter(sync_quarantine::resolved_at.is_null());
        if resolution == "stored" {
            let author: Option<String> = target.select(sync_quarantine::user_id).first(conn).optional()?;
            if author.is_some_and(|author| author != self.context.user_id) {
                return Ok(false);
            }
        }
        diesel::update(target)
            .set((
                sync_quarantine::resolved_at.eq(self.context.now_ms),
                sync_quarantine::server_seq.eq(self.seq),
                sync_quarantine::resolution.eq(resolution),
            ))
            .execute(conn)
            .map(|n| n > 0)
    }

    /// When the pusher's devices first got a quarantined version of this record, if they did.
    fn seen_in_quarantine(&mut self, conn: &mut DbConnection, table: &str, id: &str) -> QueryResult<Option<i64>> {
        sync_quarantine::table
            .find((&self.context.organisation_id, table, id))
            .filter(sync_quarantine::user_id.eq(&self.context.user_id))
            .select(sync_quarantine::first_seq)
            .first(conn)
            .optional()
    }

    /// After the stored version changed under an unresolved quarantined version, moves the
    /// quarantined version after it, so the author's devices keep the version they must fix.
    fn keep_quarantine_on_top(&mut self, conn: &mut DbConnection, table: &str, id: &str) -> QueryResult<()> {
        keep_quarantine_on_top(conn, &self.context.organisation_id, table, id, self.seq)
    }

    /// The record is deleted on the server, yet a device pushes a version of it: the device
    /// missed (or undid) the delete. The tombstone is sent again with this push's sequence, and
    /// the change is a conflict, so the device pulls and removes the record.
    fn resend_delete(&mut self, conn: &mut DbConnection, table: &str, id: &str) -> QueryResult<()> {
        let organisation_id = self.context.organisation_id.clone();
        match table {
            "observations" => diesel::update(observations::table.find((&organisation_id, id)))
                .set(observations::server_seq.eq(self.seq))
                .execute(conn)?,
            _ => diesel::update(activity_logs::table.find((&organisation_id, id)))
                .set(activity_logs::server_seq.eq(self.seq))
                .execute(conn)?,
        };
        self.answer(table, id, Status::Conflict, None);
        Ok(())
    }

    fn history(
        &mut self,
        conn: &mut DbConnection,
        table: &str,
        id: &str,
        change: &str,
        previous: Map<String, Value>,
        current: &Map<String, Value>,
    ) -> QueryResult<()> {
        let fields: Vec<&String> = previous.keys().filter(|key| previous.get(*key) != current.get(*key)).collect();
        let row = HistoryRow {
            id: uuid::Uuid::now_v7().to_string(),
            organisation_id: self.context.organisation_id.clone(),
            table_name: table.to_owned(),
            record_id: id.to_owned(),
            server_seq: self.seq,
            changed_by: self.context.user_id.clone(),
            device_id: self.context.device_id.clone(),
            changed_at: self.context.now_ms,
            change: change.to_owned(),
            fields: serde_json::to_string(&fields).unwrap_or_default(),
            previous: serde_json::to_string(&previous).unwrap_or_default(),
        };
        diesel::insert_into(record_history::table).values(&row).execute(conn).map(drop)
    }

    fn upsert_observation(&mut self, conn: &mut DbConnection, id: &str, raw: &Map<String, Value>) -> QueryResult<()> {
        const TABLE: &str = "observations";
        let existing: Option<ObservationRow> = observations::table
            .find((&self.context.organisation_id, id))
            .select(ObservationRow::as_select())
            .first(conn)
            .optional()?;
        let is_owner = same_owner_or_new(existing.as_ref().map(|row| row.user_id.as_str()), &self.context.user_id);
        let reviews = matches!(self.context.role, Role::Coordinator | Role::Admin);
        if !is_owner && !reviews {
            self.refuse(TABLE, id, Status::Forbidden, "this observation belongs to someone else");
            return Ok(());
        }
        if existing.as_ref().is_some_and(|row| row.deleted_at.is_some()) {
            return self.resend_delete(conn, TABLE, id);
        }
        let mut candidate = match &existing {
            Some(row) => row.clone(),
            None => ObservationRow {
                organisation_id: self.context.organisation_id.clone(),
                id: id.to_owned(),
                user_id: self.context.user_id.clone(),
                device_id: self.context.device_id.clone(),
                category: String::new(),
                severity: 0,
                perceived_safety: 0,
                people_count: None,
                age_band: None,
                note: String::new(),
                lat: 0.0,
                lon: 0.0,
                accuracy_m: None,
                observed_at: 0,
                observed_at_device: 0,
                clock_corrected: false,
                needs_follow_up: false,
                status: "new".to_owned(),
                review_comment: None,
                reviewed_by: None,
                reviewed_at: None,
                area_code: None,
                cell: None,
                redacted: false,
                created_at: self.context.now_ms,
                updated_at: self.context.now_ms,
                deleted_at: None,
                created_seq: self.seq,
                content_seq: self.seq,
                review_seq: self.seq,
                server_seq: self.seq,
                content_device_id: self.context.device_id.clone(),
                review_device_id: None,
                author_seen_seq: None,
            },
        };
        if is_owner {
            let known = existing.as_ref().map(|row| Instant {
                corrected: row.observed_at,
                device: row.observed_at_device,
                corrected_for_skew: row.clock_corrected,
            });
            let parsed = records::parse_observation(raw, &self.context());
            let content = match parsed {
                Ok(content) => content,
                Err(errors) => return self.quarantine(conn, TABLE, id, raw, errors),
            };
            let note = redact(&content.note);
            // A time the device sends back unchanged keeps its earlier correction.
            let observed_at = match known {
                Some(known)
                    if raw_i64(raw, "observed_at").is_some_and(|t| t == known.corrected || t == known.device) =>
                {
                    known
                }
                _ => content.observed_at,
            };
            candidate.category = content.category;
            candidate.severity = content.severity;
            candidate.perceived_safety = content.perceived_safety;
            candidate.people_count = content.people_count;
            candidate.age_band = content.age_band;
            candidate.redacted =
                note.redacted() || (existing.as_ref().is_some_and(|row| row.redacted) && note.text == candidate.note);
            candidate.note = note.text;
            candidate.lat = content.lat;
            candidate.lon = content.lon;
            candidate.accuracy_m = content.accuracy_m;
            candidate.observed_at = observed_at.corrected;
            candidate.observed_at_device = observed_at.device;
            candidate.clock_corrected = observed_at.corrected_for_skew;
            candidate.needs_follow_up = content.needs_follow_up;
        }
        if reviews && existing.is_some() {
            let review = match records::parse_review(raw) {
                Ok(review) => review,
                Err(errors) => return self.quarantine(conn, TABLE, id, raw, errors),
            };
            let before = (candidate.status.clone(), candidate.review_comment.clone());
            if let Some(status) = review.status {
                candidate.status = status;
            }
            if let Some(comment) = review.review_comment {
                candidate.review_comment = comment.map(|comment| redact(&comment).text);
            }
            if before != (candidate.status.clone(), candidate.review_comment.clone()) {
                candidate.reviewed_by = Some(self.context.user_id.clone());
                candidate.reviewed_at = Some(self.context.now_ms);
            }
        }
        let Some(existing) = existing else {
            candidate.author_seen_seq = self.seen_in_quarantine(conn, TABLE, id)?;
            diesel::insert_into(observations::table).values(&candidate).execute(conn)?;
            self.resolve_quarantine(conn, TABLE, id)?;
            self.answer(TABLE, id, Status::Applied, Some(self.seq));
            return Ok(());
        };
        let content_changed = is_owner && content_of(&candidate) != content_of(&existing);
        let review_changed =
            reviews && (&candidate.status, &candidate.review_comment) != (&existing.status, &existing.review_comment);
        let content = if is_owner {
            decide(existing.content_seq, self.context.cursor, !content_changed)
        } else {
            Decision::Unchanged
        };
        let review = if reviews {
            decide(existing.review_seq, self.context.cursor, !review_changed)
        } else {
            Decision::Unchanged
        };
        if content == Decision::Conflict || review == Decision::Conflict {
            self.answer(TABLE, id, Status::Conflict, None);
            return Ok(());
        }
        if content == Decision::Unchanged && review == Decision::Unchanged {
            if is_owner && self.resolve_quarantine(conn, TABLE, id)? {
                // The device's copy carries a sync error: send the stored version back down.
                diesel::update(observations::table.find((&existing.organisation_id, id)))
                    .set(observations::server_seq.eq(self.seq))
                    .execute(conn)?;
            }
            self.answer(TABLE, id, Status::Unchanged, None);
            return Ok(());
        }
        if content == Decision::Apply {
            candidate.content_seq = self.seq;
            candidate.content_device_id = self.context.device_id.clone();
        }
        if review == Decision::Apply {
            candidate.review_seq = self.seq;
            candidate.review_device_id = Some(self.context.device_id.clone());
        }
        candidate.server_seq = self.seq;
        candidate.updated_at = self.context.now_ms;
        diesel::update(observations::table.find((&existing.organisation_id, id))).set(&candidate).execute(conn)?;
        let change = if content == Decision::Apply { "update" } else { "review" };
        self.history(conn, TABLE, id, change, existing.to_raw(), &candidate.to_raw())?;
        if content == Decision::Apply {
            self.resolve_quarantine(conn, TABLE, id)?;
        } else {
            self.keep_quarantine_on_top(conn, TABLE, id)?;
        }
        self.answer(TABLE, id, Status::Applied, Some(self.seq));
        Ok(())
    }

    fn upsert_activity(&mut self, conn: &mut DbConnection, id: &str, raw: &Map<String, Value>) -> QueryResult<()> {
        const TABLE: &str = "activity_logs";
        let existing: Option<ActivityLogRow> = activity_logs::table
            .find((&self.context.organisation_id, id))
            .select(ActivityLogRow::as_select())
            .first(conn)
            .optional()?;
        if !same_owner_or_new(existing.as_ref().map(|row| row.user_id.as_str()), &self.context.user_id) {
            self.refuse(TABLE, id, Status::Forbidden, "this activity belongs to someone else");
            return Ok(());
        }
        if existing.as_ref().is_some_and(|row| row.deleted_at.is_some()) {
            return self.resend_delete(conn, TABLE, id);
        }
        let content = match records::parse_activity(raw, &self.context()) {
            Ok(content) => content,
            Err(errors) => return self.quarantine(conn, TABLE, id, raw, errors),
        };
        // A time the device sends back unchanged keeps its earlier correction.
        let keep = |field: &str, parsed: Instant, known: Option<Instant>| match known {
            Some(known) if raw_i64(raw, field).is_some_and(|t| t == known.corrected || t == known.device) => known,
            _ => parsed,
        };
        let note = redact(&content.note);
        let known_start = existing.as_ref().map(|row| Instant {
            corrected: row.started_at,
            device: row.started_at_device,
            corrected_for_skew: row.clock_corrected,
        });
        let known_end = existing.as_ref().and_then(|row| {
            Some(Instant {
                corrected: row.ended_at?,
                device: row.ended_at_device?,
                corrected_for_skew: row.clock_corrected,
            })
        });
        let started_at = keep("started_at", content.started_at, known_start);
        let ended_at = content.ended_at.map(|ended| keep("ended_at", ended, known_end));
        let counts = content.counts;
        let mut candidate = ActivityLogRow {
            organisation_id: self.context.organisation_id.clone(),
            id: id.to_owned(),
            user_id: self.context.user_id.clone(),
            device_id: existing.as_ref().map_or_else(|| self.context.device_id.clone(), |row| row.device_id.clone()),
            activity_type: content.activity_type,
            unit: content.unit,
            started_at: started_at.corrected,
            ended_at: ended_at.map(|t| t.corrected),
            started_at_device: started_at.device,
            ended_at_device: ended_at.map(|t| t.device),
            clock_corrected: started_at.corrected_for_skew || ended_at.is_some_and(|t| t.corrected_for_skew),
            lat: content.lat,
            lon: content.lon,
            area_code: content.area_code,
            cell: existing.as_ref().and_then(|row| row.cell.clone()),
            girls: counts.girls,
            boys: counts.boys,
            gender_other: counts.gender_other,
            gender_unknown: counts.gender_unknown,
            age_under_13: counts.age_under_13,
            age_13_15: counts.age_13_15,
            age_16_17: counts.age_16_17,
            age_18_24: counts.age_18_24,
            age_25_plus: counts.age_25_plus,
            age_unknown: counts.age_unknown,
            redacted: note.redacted() || (existing.as_ref().is_some_and(|row| row.redacted && row.note == note.text)),
            note: note.text,
            created_at: existing.as_ref().map_or(self.context.now_ms, |row| row.created_at),
            updated_at: existing.as_ref().map_or(self.context.now_ms, |row| row.updated_at),
            deleted_at: existing.as_ref().and_then(|row| row.deleted_at),
            created_seq: existing.as_ref().map_or(self.seq, |row| row.created_seq),
            content_seq: existing.as_ref().map_or(self.seq, |row| row.content_seq),
            server_seq: existing.as_ref().map_or(self.seq, |row| row.server_seq),
            content_device_id: existing
                .as_ref()
                .map_or_else(|| self.context.device_id.clone(), |row| row.content_device_id.clone()),
            author_seen_seq: existing.as_ref().and_then(|row| row.author_seen_seq),
        };
        let Some(existing) = existing else {
            candidate.author_seen_seq = self.seen_in_quarantine(conn, TABLE, id)?;
            diesel::insert_into(activity_logs::table).values(&candidate).execute(conn)?;
            self.resolve_quarantine(conn, TABLE, id)?;
            self.answer(TABLE, id, Status::Applied, Some(self.seq));
            return Ok(());
        };
        let changed = candidate != existing;
        match decide(existing.content_seq, self.context.cursor, !changed) {
            Decision::Conflict => self.answer(TABLE, id, Status::Conflict, None),
            Decision::Unchanged => {
                if self.resolve_quarantine(conn, TABLE, id)? {
                    diesel::update(activity_logs::table.find((&existing.organisation_id, id)))
                        .set(activity_logs::server_seq.eq(self.seq))
                        .execute(conn)?;
                }
                self.answer(TABLE, id, Status::Unchanged, None);
            }
            Decision::Apply => {
                candidate.content_seq = self.seq;
                candidate.content_device_id = self.context.device_id.clone();
                candidate.server_seq = self.seq;
                candidate.updated_at = self.context.now_ms;
                diesel::update(activity_logs::table.find((&existing.organisation_id, id)))
                    .set(&candidate)
                    .execute(conn)?;
                self.history(conn, TABLE, id, "update", existing.to_raw(), &candidate.to_raw())?;
                self.resolve_quarantine(conn, TABLE, id)?;
                self.answer(TABLE, id, Status::Applied, Some(self.seq));
            }
        }
        Ok(())
    }

    fn delete(&mut self, conn: &mut DbConnection, table: &str, raw_id: &Value) -> QueryResult<()> {
        let Some(id) = record_id(raw_id) else {
            self.refuse(table, raw_id.as_str().unwrap_or(""), Status::Forbidden, "not a record id");
            return Ok(());
        };
        let deletes_any = matches!(self.context.role, Role::Coordinator | Role::Admin);
        let organisation_id = self.context.organisation_id.clone();
        let owner_and_deleted: Option<(String, Option<i64>, Map<String, Value>)> = match table {
            "observations" => observations::table
                .find((&organisation_id, &id))
                .select(ObservationRow::as_select())
                .first(conn)
                .optional()?
                .map(|row| (row.user_id.clone(), row.deleted_at, row.to_raw())),
            "activity_logs" => activity_logs::table
                .find((&organisation_id, &id))
                .select(ActivityLogRow::as_select())
                .first(conn)
                .optional()?
                .map(|row| (row.user_id.clone(), row.deleted_at, row.to_raw())),
            other => {
                self.refuse(
                    other,
                    &id,
                    Status::Forbidden,
                    "this table is not pushed: it syncs down only, or is unknown",
                );
                return Ok(());
            }
        };
        if self.context.role == Role::Partner {
            self.refuse(table, &id, Status::Forbidden, "partners do not record data");
            return Ok(());
        }
        match owner_and_deleted {
            None => {
                // Only a quarantined version exists: deleting it resolves the quarantine, and the
                // author's other devices get the delete on their next pull.
                let resolved = self.resolve_quarantine_as(conn, table, &id, "deleted")?;
                self.answer(
                    table,
                    &id,
                    if resolved { Status::Applied } else { Status::Unchanged },
                    resolved.then_some(self.seq),
                );
            }
            Some((_, Some(_), _)) => self.answer(table, &id, Status::Unchanged, None),
            Some((owner, None, previous)) if owner == self.context.user_id || deletes_any => {
                let now = self.context.now_ms;
                match table {
                    "observations" => diesel::update(observations::table.find((&organisation_id, &id)))
                        .set((
                            observations::deleted_at.eq(now),
                            observations::server_seq.eq(self.seq),
                            observations::updated_at.eq(now),
                        ))
                        .execute(conn)?,
                    _ => diesel::update(activity_logs::table.find((&organisation_id, &id)))
                        .set((
                            activity_logs::deleted_at.eq(now),
                            activity_logs::server_seq.eq(self.seq),
                            activity_logs::updated_at.eq(now),
                        ))
                        .execute(conn)?,
                };
                self.history(conn, table, &id, "delete", previous, &Map::new())?;
                self.resolve_quarantine_as(conn, table, &id, "deleted")?;
                self.answer(table, &id, Status::Applied, Some(self.seq));
            }
            Some(_) => self.refuse(table, &id, Status::Forbidden, "this record belongs to someone else"),
        }
        Ok(())
    }
}

fn raw_i64(raw: &Map<String, Value>, field: &str) -> Option<i64> {
    raw.get(field).and_then(|value| value.as_i64().or_else(|| value.as_f64().map(|n| n as i64)))
}

/// The reporter-owned part of an observation, for telling a real edit from a replay.
fn content_of(row: &ObservationRow) -> impl PartialEq + '_ {
    (
        (&row.category, row.severity, row.perceived_safety, row.people_count, &row.age_band, &row.note),
        (row.lat.to_bits(), row.lon.to_bits(), row.accuracy_m.map(f64::to_bits), row.observed_at, row.needs_follow_up),
    )
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

/// Columns that hold identifiers, not free text.
const IDENTIFIER_COLUMNS: [&str; 9] =
    ["id", "category", "activity_type", "unit", "age_band", "status", "area_code", "_status", "_changed"];

/// A pushed record as it may be kept in quarantine: every free-text value redacted, so personal
/// data is never stored, not even from a record that was refused.
fn redacted_payload(raw: &Map<String, Value>) -> Map<String, Value> {
    raw.iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(text) if !IDENTIFIER_COLUMNS.contains(&key.as_str()) => Value::String(redact(text).text),
                other => other.clone(),
            };
            (key.clone(), value)
        })
        .collect()
}
