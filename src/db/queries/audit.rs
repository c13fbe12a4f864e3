//! The audit log: every export and every read of raw observations by a coordinator, an admin or a
//! partner (a sync pull page holding records included), every export from the command line, the
//! retention runs and settings, and every change to the action plan and to the feedback to field staff. An entry is written before the answer leaves
//! and completed with its row count when the answer is whole.

use crate::db::DbConnection;
use crate::db::schema::audit_log;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};

/// Every action the log records.
pub const ACTIONS: &[&str] = &[
    "export.observations",
    "export.activity",
    "report.followup",
    "read.observations",
    "read.observation",
    "read.history",
    "read.area_latest",
    "read.sync_pull",
    "retention.run",
    "retention.settings",
    "plan.problem.create",
    "plan.problem.update",
    "plan.measure.create",
    "plan.measure.update",
    "feedback.create",
    "feedback.update",
    "feedback.delete",
    "document.approve",
    "report.document",
    "read.photo",
    "read.thumbnail",
    "photo.purge",
];

/// One entry as stored and listed.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: String,
    #[serde(skip)]
    pub organisation_id: String,
    /// When, in ms since the epoch.
    pub at: i64,
    /// The caller; `None` for the command line.
    pub user_id: Option<String>,
    /// The caller's role, or `cli`.
    pub role: String,
    /// What was done: `export.observations`, `read.observations`, …
    pub action: String,
    /// The export format, if any.
    pub format: Option<String>,
    /// The filters, as a JSON object.
    #[serde(skip)]
    pub filters: String,
    /// Rows handed out; `None` while the answer is still streaming (or was cut off).
    pub row_count: Option<i64>,
    /// When the answer was complete.
    pub finished_at: Option<i64>,
}

/// Who did it, as the log names them.
#[derive(Debug, Clone)]
pub struct Actor {
    pub organisation_id: String,
    /// `None` for the command line.
    pub user_id: Option<String>,
    pub role: String,
}

/// What an entry starts with.
pub struct Event<'a> {
    pub action: &'a str,
    pub format: Option<&'a str>,
    pub filters: Map<String, Value>,
}

/// Writes an entry; returns its id for [`finish`].
pub fn record(conn: &mut DbConnection, actor: &Actor, event: Event<'_>, now_ms: i64) -> QueryResult<String> {
    let entry = AuditEntry {
        id: uuid::Uuid::now_v7().to_string(),
        organisation_id: actor.organisation_id.clone(),
        at: now_ms,
        user_id: actor.user_id.clone(),
        role: actor.role.clone(),
        action: event.action.to_owned(),
        format: event.format.map(str::to_owned),
        filters: Value::Object(event.filters).to_string(),
        row_count: None,
        finished_at: None,
    };
    diesel::insert_into(audit_log::table).values(&entry).execute(conn)?;
    Ok(entry.id)
}

/// Writes an entry whose answer is already complete.
pub fn record_complete(
    conn: &mut DbConnection,
    actor: &Actor,
    event: Event<'_>,
    rows: usize,
    now_ms: i64,
) -> QueryResult<()> {
    let id = record(conn, actor, event, now_ms)?;
    finish(conn, &id, rows, now_ms)
}

/// Notes how many rows an answer held, once it is complete.
pub fn finish(conn: &mut DbConnection, id: &str, rows: usize, now_ms: i64) -> QueryResult<()> {
    diesel::update(audit_log::table.find(id))
        .set((audit_log::row_count.eq(i64::try_from(rows).unwrap_or(i64::MAX)), audit_log::finished_at.eq(now_ms)))
        .execute(conn)
        .map(drop)
}

/// Filters of the audit list.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub user_id: Option<String>,
    /// Actions (see [`ACTIONS`]).
    pub actions: Vec<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Keyset position: entries strictly before (at, id), newest first.
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

/// A page of entries, newest first.
pub fn list(conn: &mut DbConnection, organisation_id: &str, filter: &AuditFilter) -> QueryResult<Vec<AuditEntry>> {
    let mut query = audit_log::table
        .filter(audit_log::organisation_id.eq(organisation_id))
        .select(AuditEntry::as_select())
        .order((audit_log::at.desc(), audit_log::id.desc()))
        .limit(filter.limit)
        .into_boxed();
    if let Some(user_id) = &filter.user_id {
        query = query.filter(audit_log::user_id.eq(user_id.clone()));
    }
    if !filter.actions.is_empty() {
        query = query.filter(audit_log::action.eq_any(filter.actions.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_log::at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_log::at.lt(to));
    }
    if let Some((at, id)) = &filter.before {
        query = query.filter(audit_log::at.lt(*at).or(audit_log::at.eq(*at).and(audit_log::id.lt(id.clone()))));
    }
    query.load(conn)
}
