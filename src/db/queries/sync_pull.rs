//! Pull: every change in the caller's scope after the cursor, in pages, from one snapshot.

use super::feedback::{self, FeedbackRow};
use super::photos::AttachmentRow;
use super::{reference, sync_state};
use crate::db::DbConnection;
use crate::db::models::{ActivityLogRow, ObservationRow, QuarantineRow, ReferenceRow, UnitRow};
use crate::db::schema::{activity_logs, areas, attachments, devices, observations, sync_quarantine, units, users};
use crate::domain::stored::{ActivityLog, Observation};
use crate::domain::sync::{After, Bucket, PageToken, Position, Range, SyncedTable, bucket};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Filters a boxed query to the rows after a position.
#[macro_export]
macro_rules! after_position {
    ($query:expr, $after:expr, $seq:expr, $id:expr) => {
        match $after {
            $crate::domain::sync::After::Seq(seq) => $query.filter($seq.gt(seq)),
            $crate::domain::sync::After::SeqOrEqual(seq) => $query.filter($seq.ge(seq)),
            $crate::domain::sync::After::Key(seq, id) => $query.filter($seq.gt(seq).or($seq.eq(seq).and($id.gt(id)))),
        }
    };
}

/// Who is pulling, from where, and from which cursor.
pub struct PullRequest {
    pub organisation_id: String,
    pub user_id: String,
    /// Whether the caller sees every record of the organisation (coordinators, admins).
    pub sees_all: bool,
    /// Whether the caller receives records at all (partners do not).
    pub receives_records: bool,
    pub device_id: String,
    /// The app schema version the device pulls with (the newest served when it does not say).
    pub schema_version: i64,
    pub cursor: Option<i64>,
    pub limit: i64,
    pub token: Option<PageToken>,
}

/// One page of a pull.
pub struct PullPage {
    pub changes: Map<String, Value>,
    pub timestamp: i64,
    pub has_more: bool,
    pub page_token: Option<String>,
    pub replacement: bool,
}

/// An area as phones get it: its outline, never the exact geometry.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = areas)]
pub struct AreaSyncRow {
    pub id: String,
    pub code: String,
    pub name: String,
    pub parent_code: Option<String>,
    pub outline: String,
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
    pub deleted_at: Option<i64>,
    pub server_seq: i64,
}

enum Entry {
    Reference(SyncedTable, ReferenceRow),
    Unit(UnitRow),
    Area(AreaSyncRow),
    Observation(Observation),
    Activity(ActivityLog),
    Quarantine(SyncedTable, QuarantineRow),
    Feedback(FeedbackRow),
    Attachment(AttachmentRow),
}

impl Entry {
    fn table(&self) -> SyncedTable {
        match self {
            Entry::Reference(table, _) | Entry::Quarantine(table, _) => *table,
            Entry::Unit(_) => SyncedTable::Units,
            Entry::Area(_) => SyncedTable::Areas,
            Entry::Observation(_) => SyncedTable::Observations,
            Entry::Activity(_) => SyncedTable::ActivityLogs,
            Entry::Feedback(_) => SyncedTable::Feedback,
            Entry::Attachment(_) => SyncedTable::Attachments,
        }
    }

    fn position(&self) -> Position {
        let (seq, id) = match self {
            Entry::Reference(_, row) => (row.server_seq, row.id.clone()),
            Entry::Unit(row) => (row.server_seq, row.id.clone()),
            Entry::Area(row) => (row.server_seq, row.id.clone()),
            Entry::Observation(row) => (row.server_seq, row.id.clone()),
            Entry::Activity(row) => (row.server_seq, row.id.clone()),
            Entry::Feedback(row) => (row.server_seq, row.id.clone()),
            Entry::Attachment(row) => (row.server_seq, row.id.clone()),
            // A quarantined version sorts just after a stored version of the same id.
            Entry::Quarantine(_, row) => (row.server_seq, format!("{}~", row.record_id)),
        };
        Position { seq, table: self.table().rank(), id }
    }
}

/// Reads one page in one snapshot.
pub fn pull(
    conn: &mut DbConnection,
    request: &PullRequest,
    purged_or_rescoped: impl FnOnce(&mut DbConnection, &PullRequest, i64, i64) -> QueryResult<bool>,
) -> QueryResult<PullPage> {
    // The high-water mark of a first page is read before the snapshot: every change at or below
    // it has committed by then, so the snapshot holds all of them (a change that commits later
    // has a higher number and waits for the next pull).
    enum Start {
        Resume(PageToken),
        First { high_water: i64 },
    }
    let start = match &request.token {
        Some(token) => Start::Resume(token.clone()),
        None => Start::First { high_water: sync_state::committed(conn)? },
    };
    conn.transaction(|conn| {
        if let DbConnection::Postgres(pg) = conn {
            // The purge mark and the rows must come from one snapshot.
            pg.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        }
        let token = match start {
            Start::Resume(token) => token,
            Start::First { high_water } => {
                let purged_through = sync_state::purged_through(conn)?;
                let stale = match request.cursor {
                    Some(cursor) => cursor > high_water || purged_or_rescoped(conn, request, cursor, purged_through)?,
                    None => false,
                };
                let cursor = if stale { None } else { request.cursor };
                PageToken {
                    high_water,
                    cursor,
                    replacement: stale,
                    after: Position { seq: cursor.unwrap_or(0), table: u8::MAX, id: String::new() },
                }
            }
        };
        let range =
            Range { high_water: token.high_water, after: token.after.clone(), snapshot: token.cursor.is_none() };
        let fetch = request.limit + 1;
        let mut entries: Vec<Entry> = Vec::new();
        for table in [SyncedTable::Categories, SyncedTable::ActivityTypes] {
            let rows = reference::changed(conn, table, &request.organisation_id, &range, fetch)?;
            entries.extend(rows.into_iter().map(|row| Entry::Reference(table, row)));
        }
        entries.extend(changed_units(conn, request, &range, fetch)?.into_iter().map(Entry::Unit));
        entries.extend(changed_areas(conn, request, &range, fetch)?.into_iter().map(Entry::Area));
        if request.receives_records {
            entries.extend(
                changed_observations(conn, request, &range, fetch)?
                    .into_iter()
                    .map(|row| Entry::Observation(row.into())),
            );
            entries.extend(
                changed_activities(conn, request, &range, fetch)?.into_iter().map(|row| Entry::Activity(row.into())),
            );
            entries.extend(changed_quarantine(conn, request, &range, fetch)?);
            if request.schema_version >= SyncedTable::Feedback.since_schema() {
                let rows = feedback::changed_since(conn, &request.organisation_id, &range, fetch)?;
                entries.extend(rows.into_iter().map(Entry::Feedback));
            }
            if request.schema_version >= SyncedTable::Attachments.since_schema() {
                let rows = changed_attachments(conn, request, &range, fetch)?;
                entries.extend(rows.into_iter().map(Entry::Attachment));
            }
        }
        let mut keyed: Vec<(Position, Entry)> = entries.into_iter().map(|entry| (entry.position(), entry)).collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
        let has_more = keyed.len() > limit;
        keyed.truncate(limit);
        let next = keyed.last().map(|(position, _)| position.clone());
        let changes = assemble(keyed.into_iter().map(|(_, entry)| entry), &token, request);
        let page_token = match (has_more, next) {
            (true, Some(after)) => Some(PageToken { after, ..token.clone() }.encode()),
            _ => None,
        };
        Ok(PullPage {
            changes,
            timestamp: token.high_water.max(1),
            has_more,
            page_token,
            replacement: token.replacement,
        })
    })
}

/// One table's changes in a pull.
#[derive(Default)]
struct Lists {
    created: Vec<Value>,
    updated: Vec<Value>,
    deleted: Vec<Value>,
}

/// When a record became known to the pulling user's devices: its creation, or for its author the
/// earlier moment a quarantined version of it was sent down.
fn known_since(created_seq: i64, author: &str, author_seen_seq: Option<i64>, user_id: &str) -> i64 {
    match author_seen_seq {
        Some(seen) if author == user_id => seen.min(created_seq),
        _ => created_seq,
    }
}

fn assemble(entries: impl Iterator<Item = Entry>, token: &PageToken, request: &PullRequest) -> Map<String, Value> {
    let (device_id, user_id) = (request.device_id.as_str(), request.user_id.as_str());
    let mut tables: HashMap<SyncedTable, Lists> = HashMap::new();
    // A later entry for the same record (a quarantined version after a stored one) replaces the
    // earlier one.
    let mut latest: HashMap<(SyncedTable, String), (Bucket, Map<String, Value>)> = HashMap::new();
    let mut order: Vec<(SyncedTable, String)> = Vec::new();
    let mut deleted: Vec<(SyncedTable, String)> = Vec::new();
    for entry in entries {
        let table = entry.table();
        let (id, item) = match entry {
            Entry::Reference(_, row) => {
                let kind = if token.cursor.is_none() { Bucket::Created } else { Bucket::Updated };
                (row.id.clone(), Some((kind, row.to_raw())))
            }
            Entry::Unit(row) => {
                let kind = if token.cursor.is_none() { Bucket::Created } else { Bucket::Updated };
                let raw = json!({ "id": row.id, "slug": row.slug, "name": row.name });
                (row.id, Some((kind, raw.as_object().cloned().unwrap_or_default())))
            }
            Entry::Area(row) => {
                let kind = if token.cursor.is_none() { Bucket::Created } else { Bucket::Updated };
                let raw = json!({
                    "id": row.id,
                    "code": row.code,
                    "name": row.name,
                    "parent_code": row.parent_code,
                    "bbox": json!([row.min_lon, row.min_lat, row.max_lon, row.max_lat]).to_string(),
                    "outline": row.outline,
                });
                let item = row.deleted_at.is_none().then(|| (kind, raw.as_object().cloned().unwrap_or_default()));
                (row.id, item)
            }
            Entry::Observation(row) => {
                let since = known_since(row.created_seq, &row.user_id, row.author_seen_seq, user_id);
                let item = (row.deleted_at.is_none())
                    .then(|| (bucket(since, &row.device_id, token.cursor, device_id), row.to_raw()));
                (row.id, item)
            }
            Entry::Activity(row) => {
                let since = known_since(row.created_seq, &row.user_id, row.author_seen_seq, user_id);
                let item = (row.deleted_at.is_none())
                    .then(|| (bucket(since, &row.device_id, token.cursor, device_id), row.to_raw()));
                (row.id, item)
            }
            Entry::Feedback(row) => {
                let kind = match token.cursor {
                    Some(cursor) if row.created_seq <= cursor => Bucket::Updated,
                    _ => Bucket::Created,
                };
                let raw = json!({
                    "id": row.id,
                    "body": row.body,
                    "area_codes": row.areas,
                    "measure_id": row.measure_id,
                    "measure_title": row.measure_title,
                    "created_at": row.created_at,
                    "updated_at": row.updated_at,
                });
                let item = row.deleted_at.is_none().then(|| (kind, raw.as_object().cloned().unwrap_or_default()));
                (row.id, item)
            }
            Entry::Attachment(row) => {
                let kind = bucket(row.created_seq, &row.device_id, token.cursor, device_id);
                let deleted = row.deleted_at.is_some();
                let id = row.id.clone();
                let attachment = crate::domain::attachments::Attachment::from(row);
                (id, (!deleted).then(|| (kind, attachment.to_raw())))
            }
            Entry::Quarantine(_, row) if row.resolution.is_some() => (row.record_id.clone(), None),
            Entry::Quarantine(_, row) => {
                let kind = bucket(row.first_seq, &row.device_id, token.cursor, device_id);
                (row.record_id.clone(), Some((kind, quarantined_raw(&row))))
            }
        };
        let key = (table, id);
        match item {
            Some(item) => {
                if latest.insert(key.clone(), item).is_none() {
                    order.push(key);
                }
            }
            None => {
                latest.remove(&key);
                if token.cursor.is_some() && !deleted.contains(&key) {
                    deleted.push(key);
                }
            }
        }
    }
    for key in order {
        if let Some((kind, raw)) = latest.remove(&key) {
            let lists = tables.entry(key.0).or_default();
            match kind {
                Bucket::Created => lists.created.push(Value::Object(raw)),
                Bucket::Updated => lists.updated.push(Value::Object(raw)),
            }
        }
    }
    for (table, id) in deleted {
        tables.entry(table).or_default().deleted.push(Value::String(id));
    }
    let mut changes = Map::new();
    for table in SyncedTable::ALL.into_iter().filter(|table| table.since_schema() <= request.schema_version) {
        let lists = tables.remove(&table).unwrap_or_default();
        changes.insert(
            table.name().to_owned(),
            json!({ "created": lists.created, "updated": lists.updated, "deleted": lists.deleted }),
        );
    }
    changes
}

/// A quarantined record as its author's devices get it back: the columns as pushed, the id,
/// `sync_error` saying what to fix, and `sync_errors`, the same per field with its stable code
/// (a JSON array in a string, as a client database's column holds it).
fn quarantined_raw(row: &QuarantineRow) -> Map<String, Value> {
    let mut raw: Map<String, Value> = serde_json::from_str(&row.payload).unwrap_or_default();
    raw.remove("_status");
    raw.remove("_changed");
    raw.insert("id".to_owned(), Value::String(row.record_id.clone()));
    let errors: Vec<crate::domain::FieldError> = serde_json::from_str::<Vec<Value>>(&row.errors)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|error| {
            Some(crate::domain::FieldError::new(
                error["field"].as_str()?,
                error["code"].as_str()?,
                error["message"].as_str()?,
            ))
        })
        .collect();
    let message = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
    raw.insert(
        "sync_error".to_owned(),
        Value::String(if message.is_empty() { "rejected".to_owned() } else { message }),
    );
    raw.insert("sync_errors".to_owned(), Value::String(serde_json::to_string(&errors).unwrap_or_default()));
    raw
}

fn changed_units(
    conn: &mut DbConnection,
    request: &PullRequest,
    range: &Range,
    limit: i64,
) -> QueryResult<Vec<UnitRow>> {
    let mut query = units::table
        .filter(units::organisation_id.eq(&request.organisation_id))
        .filter(units::server_seq.le(range.high_water))
        .select(UnitRow::as_select())
        .order((units::server_seq.asc(), units::id.asc()))
        .limit(limit)
        .into_boxed();
    query = crate::after_position!(query, range.after_for(SyncedTable::Units), units::server_seq, units::id);
    query.load(conn)
}

fn changed_areas(
    conn: &mut DbConnection,
    request: &PullRequest,
    range: &Range,
    limit: i64,
) -> QueryResult<Vec<AreaSyncRow>> {
    let mut query = areas::table
        .filter(areas::organisation_id.eq(&request.organisation_id))
        .filter(areas::server_seq.le(range.high_water))
        .select(AreaSyncRow::as_select())
        .order((areas::server_seq.asc(), areas::id.asc()))
        .limit(limit)
        .into_boxed();
    if range.snapshot {
        query = query.filter(areas::deleted_at.is_null());
    }
    query = crate::after_position!(query, range.after_for(SyncedTable::Areas), areas::server_seq, areas::id);
    query.load(conn)
}

/// The photo attachments in the caller's scope: a field user's own observations' (and the ones
/// they attached), everything for coordinators and admins.
fn changed_attachments(
    conn: &mut DbConnection,
    request: &PullRequest,
    range: &Range,
    limit: i64,
) -> QueryResult<Vec<AttachmentRow>> {
    let mut query = attachments::table
        .filter(attachments::organisation_id.eq(&request.organisation_id))
        .filter(attachments::server_seq.le(range.high_water))
        .select(AttachmentRow::as_select())
        .order((attachments::server_seq.asc(), attachments::id.asc()))
        .limit(limit)
        .into_boxed();
    if !request.sees_all {
        query = query.filter(
            attachments::observation_user_id.eq(&request.user_id).or(attachments::user_id.eq(&request.user_id)),
        );
    }
    if range.snapshot {
        query = query.filter(attachments::deleted_at.is_null());
    }
    query = crate::after_position!(
        query,
        range.after_for(SyncedTable::Attachments),
        attachments::server_seq,
        attachments::id
    );
    query.load(conn)
}

fn changed_observations(
    conn: &mut DbConnection,
    request: &PullRequest,
    range: &Range,
    limit: i64,
) -> QueryResult<Vec<ObservationRow>> {
    let mut query = observations::table
        .filter(observations::organisation_id.eq(&request.organisation_id))
        .filter(observations::server_seq.le(range.high_water))
        .select(ObservationRow::as_select())
        .order((observations::server_seq.asc(), observations::id.asc()))
        .limit(limit)
        .into_boxed();
    if !request.sees_all {
        query = query.filter(observations::user_id.eq(&request.user_id));
    }
    if range.snapshot {
        query = query.filter(observations::deleted_at.is_null());
    }
    query = crate::after_position!(
        query,
        range.after_for(SyncedTable::Observations),
        observations::server_seq,
        observations::id
    );
    query.load(conn)
}

fn changed_activities(
    conn: &mut DbConnection,
    request: &PullRequest,
    range: &Range,
    limit: i64,
) -> QueryResult<Vec<ActivityLogRow>> {
    let mut query = activity_logs::table
        .filter(activity_logs::organisation_id.eq(&request.organisation_id))
        .filter(activity_logs::server_seq.le(range.high_water))
        .select(ActivityLogRow::as_select())
        .order((activity_logs::server_seq.asc(), activity_logs::id.asc()))
        .limit(limit)
        .into_boxed();
    if !request.sees_all {
        query = query.filter(activity_logs::user_id.eq(&request.user_id));
    }
    if range.snapshot {
        query = query.filter(activity_logs::deleted_at.is_null());
    }
    query = crate::after_position!(
        query,
        range.after_for(SyncedTable::ActivityLogs),
        activity_logs::server_seq,
        activity_logs::id
    );
    query.load(conn)
}

/// The caller's own unresolved quarantined records. They sort with their table, after a stored
/// version of the same id and sequence.
fn changed_quarantine(
    conn: &mut DbConnection,
    request: &PullRequest,
    range: &Range,
    limit: i64,
) -> QueryResult<Vec<Entry>> {
    let mut entries = Vec::new();
    for table in [SyncedTable::Observations, SyncedTable::ActivityLogs] {
        let after = range.after_for(table);
        let mut query = sync_quarantine::table
            .filter(sync_quarantine::organisation_id.eq(&request.organisation_id))
            .filter(sync_quarantine::table_name.eq(table.name()))
            .filter(sync_quarantine::user_id.eq(&request.user_id))
            // Unresolved versions go back to their author; a quarantined record deleted before it
            // was ever stored goes down as a delete. One resolved by a stored version needs
            // nothing: the stored version itself is sent.
            .filter(sync_quarantine::resolution.is_null().or(sync_quarantine::resolution.eq("deleted")))
            .filter(sync_quarantine::server_seq.le(range.high_water))
            .select(QuarantineRow::as_select())
            .order((sync_quarantine::server_seq.asc(), sync_quarantine::record_id.asc()))
            .limit(limit)
            .into_boxed();
        // Quarantine positions carry the id with a `~` suffix (see `Entry::position`).
        let after = match after {
            After::Key(seq, id) => After::Key(seq, id.strip_suffix('~').map_or(id.clone(), str::to_owned)),
            other => other,
        };
        query = match after {
            After::Seq(seq) => query.filter(sync_quarantine::server_seq.gt(seq)),
            After::SeqOrEqual(seq) => query.filter(sync_quarantine::server_seq.ge(seq)),
            After::Key(seq, id) => query.filter(
                sync_quarantine::server_seq
                    .gt(seq)
                    .or(sync_quarantine::server_seq.eq(seq).and(sync_quarantine::record_id.ge(id))),
            ),
        };
        let rows: Vec<QuarantineRow> = query.load(conn)?;
        entries.extend(rows.into_iter().map(|row| Entry::Quarantine(table, row)));
    }
    // `ge` above may re-read the last quarantined row sent; the caller's sort and position
    // filter happen on positions, so drop anything not strictly after the position.
    entries.retain(|entry| entry.position() > range.after);
    Ok(entries)
}

/// Whether the device must get a replacement snapshot: tombstones it has not seen were purged,
/// the user's scope changed since the device's last pull, another user pulled last on it, or it
/// pulls with a newer app schema than last time (tables it did not have hold rows older than its
/// cursor).
pub fn needs_replacement(
    conn: &mut DbConnection,
    request: &PullRequest,
    cursor: i64,
    purged_through: i64,
) -> QueryResult<bool> {
    if cursor < purged_through {
        return Ok(true);
    }
    let scope: i64 = users::table.find(&request.user_id).select(users::scope_version).first(conn)?;
    let pulled: Option<(Option<i64>, Option<String>, Option<i64>)> = devices::table
        .find((&request.organisation_id, &request.device_id))
        .select((devices::pulled_scope_version, devices::pulled_user_id, devices::pulled_schema_version))
        .first(conn)
        .optional()?;
    Ok(match pulled {
        Some((Some(pulled_scope), pulled_user, pulled_schema)) => {
            pulled_scope != scope
                || pulled_user.is_some_and(|u| u != request.user_id)
                || pulled_schema.is_some_and(|v| v < request.schema_version)
        }
        _ => false,
    })
}

/// The organisation's quarantined records, newest first, with the author's username.
pub fn quarantine_list(
    conn: &mut DbConnection,
    organisation_id: &str,
    limit: i64,
) -> QueryResult<Vec<(QuarantineRow, Option<String>)>> {
    sync_quarantine::table
        .left_join(users::table.on(users::id.eq(sync_quarantine::user_id)))
        .filter(sync_quarantine::organisation_id.eq(organisation_id))
        .order((sync_quarantine::received_at.desc(), sync_quarantine::record_id.asc()))
        .limit(limit)
        .select((QuarantineRow::as_select(), users::username.nullable()))
        .load(conn)
}
