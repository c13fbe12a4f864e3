//! Feedback (återkoppling): stored with a sequence number of the sync, so that every change
//! reaches the phones; a deletion is a tombstone until the tombstone horizon.

use super::audit::{self, Actor, Event};
use super::plan::{References, check_references};
use super::sync_state;
use crate::db::DbConnection;
use crate::db::schema::{feedback, measures};
use crate::domain::FieldError;
use crate::domain::feedback::FeedbackFields;
use crate::domain::sync::{Range, SyncedTable};
use diesel::prelude::*;
use serde_json::{Map, Value};

/// A feedback as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = feedback)]
pub struct FeedbackRow {
    pub organisation_id: String,
    pub id: String,
    pub body: String,
    /// Area codes, a JSON array.
    pub areas: String,
    pub measure_id: Option<String>,
    pub measure_title: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_by: String,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    pub created_seq: i64,
    pub server_seq: i64,
}

impl FeedbackRow {
    /// The area codes it is about.
    pub fn area_codes(&self) -> Vec<String> {
        serde_json::from_str(&self.areas).unwrap_or_default()
    }

    /// The fields a client sent, as they are now (the base of a change).
    pub fn fields(&self) -> FeedbackFields {
        FeedbackFields { body: self.body.clone(), areas: self.area_codes(), measure: self.measure_id.clone() }
    }
}

/// Why a feedback could not be written.
#[derive(Debug)]
pub enum FeedbackError {
    Invalid(Vec<FieldError>),
    NotFound,
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for FeedbackError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Db(error)
    }
}

/// The organisation's feedback, newest first; only on `area` (by code) or `measure` when given.
pub fn list(
    conn: &mut DbConnection,
    org: &str,
    area: Option<&str>,
    measure: Option<&str>,
) -> QueryResult<Vec<FeedbackRow>> {
    let mut query = feedback::table
        .filter(feedback::organisation_id.eq(org))
        .filter(feedback::deleted_at.is_null())
        .select(FeedbackRow::as_select())
        .order((feedback::created_at.desc(), feedback::id.desc()))
        .into_boxed();
    if let Some(measure) = measure {
        query = query.filter(feedback::measure_id.eq(measure.to_owned()));
    }
    let rows = query.load(conn)?;
    Ok(match area {
        Some(code) => rows.into_iter().filter(|row| row.area_codes().iter().any(|c| c == code)).collect(),
        None => rows,
    })
}

/// One feedback, unless deleted.
pub fn get(conn: &mut DbConnection, org: &str, id: &str) -> QueryResult<Option<FeedbackRow>> {
    feedback::table
        .find((org, id))
        .filter(feedback::deleted_at.is_null())
        .select(FeedbackRow::as_select())
        .first(conn)
        .optional()
}

/// What a write does.
pub enum Write {
    Create(FeedbackFields),
    Update { id: String, change: Map<String, Value> },
    Delete { id: String },
}

/// Creates, changes or deletes a feedback in one transaction that takes a sync sequence number
/// (so phones receive the change) and writes the audit entry. Returns the row as stored.
pub fn write(conn: &mut DbConnection, actor: &Actor, write: Write, now_ms: i64) -> Result<FeedbackRow, FeedbackError> {
    let org = actor.organisation_id.clone();
    let user = actor.user_id.clone().unwrap_or_default();
    crate::db::write_transaction(conn, |conn| {
        let seq = sync_state::take(conn)?;
        let (row, action) = match write {
            Write::Create(fields) => {
                let (areas, measure_title) = resolve(conn, &org, &fields)?;
                let row = FeedbackRow {
                    organisation_id: org.clone(),
                    id: uuid::Uuid::now_v7().to_string(),
                    body: fields.body,
                    areas: serde_json::to_string(&areas).unwrap_or_default(),
                    measure_id: fields.measure,
                    measure_title,
                    created_by: user.clone(),
                    created_at: now_ms,
                    updated_by: user.clone(),
                    updated_at: now_ms,
                    deleted_at: None,
                    created_seq: seq,
                    server_seq: seq,
                };
                diesel::insert_into(feedback::table).values(&row).execute(conn)?;
                (row, "feedback.create")
            }
            Write::Update { id, change } => {
                let current = locked(conn, &org, &id)?.ok_or(FeedbackError::NotFound)?;
                let fields = changed(&current, change)?;
                let (areas, measure_title) = resolve(conn, &org, &fields)?;
                let row = FeedbackRow {
                    body: fields.body,
                    areas: serde_json::to_string(&areas).unwrap_or_default(),
                    measure_title,
                    updated_by: user.clone(),
                    updated_at: now_ms,
                    server_seq: seq,
                    ..current
                };
                diesel::update(feedback::table.find((&org, &row.id)))
                    .set((
                        feedback::body.eq(&row.body),
                        feedback::areas.eq(&row.areas),
                        feedback::measure_title.eq(&row.measure_title),
                        feedback::updated_by.eq(&row.updated_by),
                        feedback::updated_at.eq(row.updated_at),
                        feedback::server_seq.eq(seq),
                    ))
                    .execute(conn)?;
                (row, "feedback.update")
            }
            Write::Delete { id } => {
                let current = locked(conn, &org, &id)?.ok_or(FeedbackError::NotFound)?;
                diesel::update(feedback::table.find((&org, &current.id)))
                    .set((
                        feedback::deleted_at.eq(now_ms),
                        feedback::updated_by.eq(&user),
                        feedback::updated_at.eq(now_ms),
                        feedback::server_seq.eq(seq),
                    ))
                    .execute(conn)?;
                (FeedbackRow { deleted_at: Some(now_ms), server_seq: seq, ..current }, "feedback.delete")
            }
        };
        let mut filters = Map::new();
        filters.insert("id".to_owned(), Value::String(row.id.clone()));
        audit::record_complete(conn, actor, Event { action, format: None, filters }, 1, now_ms)?;
        Ok(row)
    })
}

/// The feedback, read for a change (locked on PostgreSQL until the transaction ends).
fn locked(conn: &mut DbConnection, org: &str, id: &str) -> QueryResult<Option<FeedbackRow>> {
    let live = feedback::table.find((org, id)).filter(feedback::deleted_at.is_null());
    match conn {
        DbConnection::Postgres(pg) => live.select(FeedbackRow::as_select()).for_update().first(pg).optional(),
        DbConnection::Sqlite(sqlite) => live.select(FeedbackRow::as_select()).first(sqlite).optional(),
    }
}

/// The fields after a change: body and areas may change; the measure is fixed.
fn changed(current: &FeedbackRow, mut change: Map<String, Value>) -> Result<FeedbackFields, FeedbackError> {
    for key in ["id", "measure_title", "created_at", "created_by", "updated_at", "updated_by"] {
        if change.contains_key(key) {
            return Err(FeedbackError::Invalid(vec![FieldError::new(key, "read_only", "is set by the server")]));
        }
    }
    if let Some(measure) = change.remove("measure")
        && measure.as_str() != current.measure_id.as_deref()
    {
        return Err(FeedbackError::Invalid(vec![FieldError::new(
            "measure",
            "read_only",
            "the measure of a feedback stays; write a new feedback about another measure",
        )]));
    }
    let body = crate::domain::plan::merged(&current.fields(), change);
    let fields: FeedbackFields =
        crate::domain::plan::read(body).map_err(|error| FeedbackError::Invalid(vec![error]))?;
    fields.checked().map_err(FeedbackError::Invalid)
}

/// The areas a feedback is stored with (the measure's when it names none) and the measure's
/// title, after checking that the areas and the measure exist.
fn resolve(
    conn: &mut DbConnection,
    org: &str,
    fields: &FeedbackFields,
) -> Result<(Vec<String>, Option<String>), FeedbackError> {
    let measure = match &fields.measure {
        Some(id) => {
            let found: Option<(String, String)> =
                measures::table.find((org, id)).select((measures::title, measures::areas)).first(conn).optional()?;
            let Some((title, areas)) = found else {
                return Err(FeedbackError::Invalid(vec![FieldError::new(
                    "measure",
                    "unknown_reference",
                    "no such measure",
                )]));
            };
            Some((title, serde_json::from_str::<Vec<String>>(&areas).unwrap_or_default()))
        }
        None => None,
    };
    if !fields.areas.is_empty() {
        let refused = check_references(conn, org, &References { areas: &fields.areas, ..References::default() })?;
        if !refused.is_empty() {
            return Err(FeedbackError::Invalid(refused));
        }
    }
    Ok(match measure {
        // Named by the measure: its areas as they are now.
        Some((title, measure_areas)) if fields.areas.is_empty() => (measure_areas, Some(title)),
        Some((title, _)) => (fields.areas.clone(), Some(title)),
        None => (fields.areas.clone(), None),
    })
}

/// The feedback changed in a pull's range, tombstones included unless it is a snapshot.
pub fn changed_since(conn: &mut DbConnection, org: &str, range: &Range, limit: i64) -> QueryResult<Vec<FeedbackRow>> {
    let mut query = feedback::table
        .filter(feedback::organisation_id.eq(org))
        .filter(feedback::server_seq.le(range.high_water))
        .select(FeedbackRow::as_select())
        .order((feedback::server_seq.asc(), feedback::id.asc()))
        .limit(limit)
        .into_boxed();
    if range.snapshot {
        query = query.filter(feedback::deleted_at.is_null());
    }
    query = crate::after_position!(query, range.after_for(SyncedTable::Feedback), feedback::server_seq, feedback::id);
    query.load(conn)
}
