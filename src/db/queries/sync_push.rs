//! Push: a batch of changes applied in one transaction, each record answered on its own.
//! Idempotency comes from the record id: a replayed change finds itself stored and is `unchanged`.
//!
//! A push runs in two steps. [`prepare`] reads and validates every record and redacts its free
//! text, with no database access: it runs beside other requests. [`apply`] then does only the
//! storage work inside the writer's transaction, with one lookup of the stored versions and one
//! of the quarantine per table, whatever the number of records.

use super::areas::CurrentAreas;
use super::{reference, sync_state};
use crate::db::DbConnection;
use crate::db::models::{ActivityLogRow, HistoryRow, ObservationRow, QuarantineRow};
use crate::db::schema::{activity_logs, observations, record_history, sync_quarantine, units};
use crate::domain::FieldError;
use crate::domain::areas::AreaIndex;
use crate::domain::identity::Role;
use crate::domain::records::{self, ActivityContent, BoundingBox, Context, Instant, ObservationContent, ReviewChange};
use crate::domain::redaction::redact;
use crate::domain::sync::{Decision, decide};
use diesel::prelude::*;
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Who pushes, from where, and what they had seen.
#[derive(Debug, Clone)]
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
    pub table: Cow<'static, str>,
    pub id: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_seq: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// What validation checks records against: the organisation's reference data and bounding box.
#[derive(Debug, Default)]
pub struct Rules {
    bbox: Option<BoundingBox>,
    /// The areas records are assigned to, and the areas version they were read at.
    areas: crate::domain::areas::AreaIndex,
    areas_version: i64,
    categories: HashSet<String>,
    activity_types: HashSet<String>,
    units: HashSet<String>,
}

/// Reads an organisation's validation rules.
pub fn load_rules(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<Rules> {
    let slugs = |rows: Vec<crate::db::models::ReferenceRow>| rows.into_iter().map(|row| row.slug).collect();
    let org = super::organisations::by_id(conn, organisation_id)?;
    let bbox = match (org.bbox_min_lat, org.bbox_min_lon, org.bbox_max_lat, org.bbox_max_lon) {
        (Some(min_lat), Some(min_lon), Some(max_lat), Some(max_lon)) => {
            Some(BoundingBox { min_lat, min_lon, max_lat, max_lon })
        }
        _ => None,
    };
    let (areas_version, areas) = super::areas::versioned_index(conn, organisation_id)?;
    Ok(Rules {
        bbox,
        areas,
        areas_version,
        categories: slugs(reference::list(conn, reference::Kind::Categories, organisation_id)?),
        activity_types: slugs(reference::list(conn, reference::Kind::ActivityTypes, organisation_id)?),
        units: units::table
            .filter(units::organisation_id.eq(organisation_id))
            .select(units::slug)
            .load::<String>(conn)?
            .into_iter()
            .collect(),
    })
}

/// Validation rules per organisation, kept for a short while so a push does not read them.
///
/// Reference data is only ever added (never deleted), so a record refused for an unknown slug
/// or a position outside the bounding box is checked again against freshly read rules before
/// it is quarantined: a stale entry can delay nothing. The time to live bounds how long a
/// narrowed bounding box set by another process goes unnoticed. Areas do change (and go): the
/// writer compares the version they were read at with the current one and places the records
/// again when they differ, so stale areas never reach storage.
pub struct RulesCache {
    entries: Mutex<HashMap<String, (std::time::Instant, Arc<Rules>)>>,
    ttl: Duration,
}

impl RulesCache {
    /// An empty cache whose entries live for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self { entries: Mutex::new(HashMap::new()), ttl }
    }

    /// The organisation's rules: cached, unless `fresh` or expired.
    pub fn get(&self, conn: &mut DbConnection, organisation_id: &str, fresh: bool) -> QueryResult<Arc<Rules>> {
        if !fresh
            && let Some((loaded, rules)) = self.entries.lock().get(organisation_id)
            && loaded.elapsed() < self.ttl
        {
            return Ok(rules.clone());
        }
        let rules = Arc::new(load_rules(conn, organisation_id)?);
        self.entries.lock().insert(organisation_id.to_owned(), (std::time::Instant::now(), rules.clone()));
        Ok(rules)
    }

    /// Forgets an organisation's rules (after its reference data or bounding box changed here).
    pub fn forget(&self, organisation_id: &str) {
        self.entries.lock().remove(organisation_id);
    }
}

/// The tables a push writes: the records' tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Observations,
    ActivityLogs,
}

impl Table {
    /// The table of this name, if it is one of the records' tables.
    pub fn of(name: &str) -> Option<Self> {
        match name {
            "observations" => Some(Self::Observations),
            "activity_logs" => Some(Self::ActivityLogs),
            _ => None,
        }
    }

    /// The table's name, as the protocol and the database name it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Observations => "observations",
            Self::ActivityLogs => "activity_logs",
        }
    }
}

/// Free text after redaction.
#[derive(Debug, Clone)]
struct Note {
    text: String,
    redacted: bool,
}

impl Note {
    fn of(text: &str) -> Self {
        let redacted = redact(text);
        Self { redacted: redacted.redacted(), text: redacted.text }
    }
}

/// A pushed observation, read and redacted.
struct ObservationChange {
    id: String,
    raw: Map<String, Value>,
    /// The area its position falls in.
    area: Option<String>,
    content: Result<(ObservationContent, Note), Vec<FieldError>>,
    review: Result<ReviewChange, Vec<FieldError>>,
}

/// A pushed activity log, read and redacted.
struct ActivityChange {
    id: String,
    raw: Map<String, Value>,
    /// The area its position falls in (when it has one).
    area: Option<String>,
    content: Result<(ActivityContent, Note), Vec<FieldError>>,
}

/// One record of a push, ready for storage.
enum Change {
    /// Answered without storage: a malformed record, or one the caller may not push.
    Refuse {
        table: Cow<'static, str>,
        id: String,
        status: Status,
        error: &'static str,
    },
    Observation(Box<ObservationChange>),
    Activity(Box<ActivityChange>),
    Delete {
        table: Table,
        id: String,
    },
}

/// A push read and validated, waiting for the writer.
pub struct PreparedPush {
    pub context: PushContext,
    changes: Vec<Change>,
    /// The areas version its records were placed with; the writer places them again when the
    /// organisation's areas changed since.
    areas_version: i64,
}

impl PreparedPush {
    /// How many records the push carries.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Whether the push carries no records.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Whether a record was refused for something fresher rules could accept: an unknown slug
    /// or a position outside the bounding box.
    fn refused_by_rules(&self) -> bool {
        const CODES: [&str; 4] = ["unknown_category", "unknown_activity_type", "unknown_unit", "outside_organisation"];
        let by_rules = |errors: &[FieldError]| errors.iter().any(|e| CODES.contains(&e.code.as_str()));
        self.changes.iter().any(|change| match change {
            Change::Observation(change) => change.content.as_ref().is_err_and(|errors| by_rules(errors)),
            Change::Activity(change) => change.content.as_ref().is_err_and(|errors| by_rules(errors)),
            _ => false,
        })
    }
}

fn record_id(raw: &Value) -> Option<String> {
    let id = raw.as_str().or_else(|| raw.get("id").and_then(Value::as_str))?;
    let ok = (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| id.to_owned())
}

const NOT_PUSHED: &str = "this table is not pushed: it syncs down only, or is unknown";

/// Reads, validates and redacts every record of a push. No database access: this is the
/// push's CPU work, done before the writer is involved.
pub fn prepare(context: PushContext, tables: Vec<(String, TableChanges)>, rules: &Rules) -> PreparedPush {
    let validation = validation_context(&context, rules);
    let mut changes = Vec::new();
    for (name, table_changes) in tables {
        let table = Table::of(&name);
        let table_name: Cow<'static, str> = table.map_or_else(|| Cow::Owned(name.clone()), |t| Cow::Borrowed(t.name()));
        for raw in table_changes.created.into_iter().chain(table_changes.updated) {
            let Some(id) = record_id(&raw) else {
                let error = "a record needs an `id` of 1–64 letters, digits, `-` or `_`";
                changes.push(Change::Refuse {
                    table: table_name.clone(),
                    id: String::new(),
                    status: Status::Forbidden,
                    error,
                });
                continue;
            };
            let refuse =
                |error| Change::Refuse { table: table_name.clone(), id: id.clone(), status: Status::Forbidden, error };
            let Value::Object(raw) = raw else {
                changes.push(refuse("a record must be a JSON object"));
                continue;
            };
            changes.push(match table {
                _ if context.role == Role::Partner => refuse("partners do not record data"),
                None => refuse(NOT_PUSHED),
                Some(Table::Observations) => {
                    let content = read_observation(&raw, &validation);
                    let review = records::parse_review(&raw).map(|mut review| {
                        review.review_comment =
                            review.review_comment.map(|comment| comment.map(|comment| redact(&comment).text));
                        review
                    });
                    let area =
                        content.as_ref().ok().and_then(|(c, _)| rules.areas.locate(c.lon, c.lat)).map(str::to_owned);
                    Change::Observation(Box::new(ObservationChange { id, raw, area, content, review }))
                }
                Some(Table::ActivityLogs) => {
                    let content = read_activity(&raw, &validation);
                    let area = content.as_ref().ok().and_then(|(c, _)| activity_area(c, &rules.areas));
                    Change::Activity(Box::new(ActivityChange { id, raw, area, content }))
                }
            });
        }
        for raw_id in table_changes.deleted {
            let Some(id) = record_id(&raw_id) else {
                let id = raw_id.as_str().unwrap_or("").chars().take(64).collect();
                changes.push(Change::Refuse {
                    table: table_name.clone(),
                    id,
                    status: Status::Forbidden,
                    error: "not a record id",
                });
                continue;
            };
            changes.push(match table {
                None => Change::Refuse { table: table_name.clone(), id, status: Status::Forbidden, error: NOT_PUSHED },
                Some(_) if context.role == Role::Partner => Change::Refuse {
                    table: table_name.clone(),
                    id,
                    status: Status::Forbidden,
                    error: "partners do not record data",
                },
                Some(table) => Change::Delete { table, id },
            });
        }
    }
    PreparedPush { context, changes, areas_version: rules.areas_version }
}

/// Reads the rules (from `cache` when given) and prepares the push. Records refused by
/// possibly stale cached rules are read once more against fresh ones.
pub fn prepare_with(
    conn: &mut DbConnection,
    cache: Option<&RulesCache>,
    context: PushContext,
    tables: Vec<(String, TableChanges)>,
) -> QueryResult<PreparedPush> {
    let Some(cache) = cache else {
        let rules = load_rules(conn, &context.organisation_id)?;
        return Ok(prepare(context, tables, &rules));
    };
    let rules = cache.get(conn, &context.organisation_id, false)?;
    let mut prepared = prepare(context, tables, &rules);
    if prepared.refused_by_rules() {
        let rules = cache.get(conn, &prepared.context.organisation_id, true)?;
        if rules.areas_version != prepared.areas_version {
            // Only some records are placed again here; the writer places every one.
            prepared.areas_version = -1;
        }
        let validation = validation_context(&prepared.context, &rules);
        for change in &mut prepared.changes {
            match change {
                Change::Observation(change) if change.content.is_err() => {
                    change.content = read_observation(&change.raw, &validation);
                    change.area = change
                        .content
                        .as_ref()
                        .ok()
                        .and_then(|(c, _)| rules.areas.locate(c.lon, c.lat))
                        .map(str::to_owned);
                }
                Change::Activity(change) if change.content.is_err() => {
                    change.content = read_activity(&change.raw, &validation);
                    change.area = change.content.as_ref().ok().and_then(|(c, _)| activity_area(c, &rules.areas));
                }
                _ => {}
            }
        }
    }
    Ok(prepared)
}

/// An activity with a position is placed by the server; one without keeps the area its
/// reporter chose.
fn activity_area(content: &ActivityContent, areas: &crate::domain::areas::AreaIndex) -> Option<String> {
    match content.lat.zip(content.lon) {
        Some((lat, lon)) => areas.locate(lon, lat).map(str::to_owned),
        None => content.area_code.clone(),
    }
}

fn validation_context<'a>(context: &PushContext, rules: &'a Rules) -> Context<'a> {
    Context {
        now_ms: context.now_ms,
        clock_skew_ms: context.clock_skew_ms,
        skew_tolerance_ms: context.skew_tolerance_ms,
        bbox: rules.bbox,
        categories: &rules.categories,
        activity_types: &rules.activity_types,
        units: &rules.units,
    }
}

fn read_observation(
    raw: &Map<String, Value>,
    validation: &Context<'_>,
) -> Result<(ObservationContent, Note), Vec<FieldError>> {
    records::parse_observation(raw, validation).map(|content| {
        let note = Note::of(&content.note);
        (content, note)
    })
}

fn read_activity(
    raw: &Map<String, Value>,
    validation: &Context<'_>,
) -> Result<(ActivityContent, Note), Vec<FieldError>> {
    records::parse_activity(raw, validation).map(|content| {
        let note = Note::of(&content.note);
        (content, note)
    })
}

/// What the quarantine holds of a record, as far as a push needs to know.
struct Quarantined {
    user_id: String,
    first_seq: i64,
    resolved: bool,
}

/// The most rows in one INSERT: 40 columns each stay under SQLite's 32,766 bound parameters.
const INSERT_CHUNK: usize = 500;

/// The most ids bound in one lookup (both backends accept far more parameters).
const LOOKUP_CHUNK: usize = 500;

struct Batch<'a> {
    context: &'a PushContext,
    seq: i64,
    /// The stored versions of the push's records, kept current as the push goes.
    observations: HashMap<String, ObservationRow>,
    activities: HashMap<String, ActivityLogRow>,
    quarantine: HashMap<(Table, String), Quarantined>,
    /// New rows not yet written: they go in one statement per table, unless a later change
    /// in the same push touches one of them first.
    new_observations: Vec<ObservationRow>,
    new_activities: Vec<ActivityLogRow>,
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
    let mut by_organisation: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, push) in pushes.iter().enumerate() {
        by_organisation.entry(push.context.organisation_id.as_str()).or_default().push(index);
    }
    for (organisation_id, indexes) in by_organisation {
        let changes = indexes.iter().flat_map(|index| pushes[*index].changes.iter());
        let mut batch = Batch::load(conn, organisation_id, &pushes[indexes[0]].context, seq, changes)?;
        let version = super::areas::version(conn, organisation_id)?;
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
    crate::db::write_transaction(conn, |conn| {
        // First write: serializes writers so that commit order is sequence order.
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
    let prepared = prepare_with(conn, None, context, tables)?;
    store(conn, &prepared, &mut CurrentAreas::default())
}

fn same_owner_or_new(existing_owner: Option<&str>, user_id: &str) -> bool {
    existing_owner.is_none_or(|owner| owner == user_id)
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
        let mut ids: HashMap<Table, Vec<&str>> = HashMap::new();
        for change in changes {
            let (table, id) = match change {
                Change::Observation(change) => (Table::Observations, change.id.as_str()),
                Change::Activity(change) => (Table::ActivityLogs, change.id.as_str()),
                Change::Delete { table, id } => (*table, id.as_str()),
                Change::Refuse { .. } => continue,
            };
            ids.entry(table).or_default().push(id);
        }
        let mut batch = Batch {
            context,
            seq,
            observations: HashMap::new(),
            activities: HashMap::new(),
            quarantine: HashMap::new(),
            new_observations: Vec::new(),
            new_activities: Vec::new(),
            results: Vec::new(),
            relocate: None,
        };
        for (table, mut ids) in ids {
            ids.sort_unstable();
            ids.dedup();
            for chunk in ids.chunks(LOOKUP_CHUNK) {
                match table {
                    Table::Observations => {
                        let rows = observations::table
                            .filter(observations::organisation_id.eq(org))
                            .filter(observations::id.eq_any(chunk))
                            .select(ObservationRow::as_select())
                            .load(conn)?;
                        batch.observations.extend(rows.into_iter().map(|row| (row.id.clone(), row)));
                    }
                    Table::ActivityLogs => {
                        let rows = activity_logs::table
                            .filter(activity_logs::organisation_id.eq(org))
                            .filter(activity_logs::id.eq_any(chunk))
                            .select(ActivityLogRow::as_select())
                            .load(conn)?;
                        batch.activities.extend(rows.into_iter().map(|row| (row.id.clone(), row)));
                    }
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
                    ((table, id), Quarantined { user_id, first_seq, resolved: resolved_at.is_some() })
                }));
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
        Ok(())
    }

    fn answer(&mut self, table: Table, id: &str, status: Status, server_seq: Option<i64>) {
        self.results.push(RecordResult {
            table: Cow::Borrowed(table.name()),
            id: id.to_owned(),
            status,
            server_seq,
            error: None,
            errors: None,
        });
    }

    fn refuse(&mut self, table: Cow<'static, str>, id: &str, status: Status, error: &str) {
        self.results.push(RecordResult {
            table,
            id: id.to_owned(),
            status,
            server_seq: None,
            error: Some(error.to_owned()),
            errors: None,
        });
    }

    fn quarantine(
        &mut self,
        conn: &mut DbConnection,
        table: Table,
        id: &str,
        raw: &Map<String, Value>,
        errors: Vec<FieldError>,
    ) -> QueryResult<()> {
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
        self.results.push(RecordResult {
            table: Cow::Borrowed(table.name()),
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
    fn resolve_quarantine(&mut self, conn: &mut DbConnection, table: Table, id: &str) -> QueryResult<bool> {
        self.resolve_quarantine_as(conn, table, id, "stored")
    }

    fn resolve_quarantine_as(
        &mut self,
        conn: &mut DbConnection,
        table: Table,
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
    fn seen_in_quarantine(&self, table: Table, id: &str) -> Option<i64> {
        self.quarantine
            .get(&(table, id.to_owned()))
            .filter(|held| held.user_id == self.context.user_id)
            .map(|held| held.first_seq)
    }

    /// After the stored version changed under an unresolved quarantined version, moves the
    /// quarantined version after it, so the author's devices keep the version they must fix.
    fn keep_quarantine_on_top(&mut self, conn: &mut DbConnection, table: Table, id: &str) -> QueryResult<()> {
        if self.quarantine.get(&(table, id.to_owned())).is_some_and(|held| !held.resolved) {
            keep_quarantine_on_top(conn, &self.context.organisation_id, table.name(), id, self.seq)?;
        }
        Ok(())
    }

    /// Moves a stored record to this push's sequence, so that devices pull it again.
    fn resend(&mut self, conn: &mut DbConnection, table: Table, id: &str) -> QueryResult<()> {
        self.flush(conn)?;
        let organisation_id = self.context.organisation_id.as_str();
        match table {
            Table::Observations => {
                diesel::update(observations::table.find((organisation_id, id)))
                    .set(observations::server_seq.eq(self.seq))
                    .execute(conn)?;
                if let Some(row) = self.observations.get_mut(id) {
                    row.server_seq = self.seq;
                }
            }
            Table::ActivityLogs => {
                diesel::update(activity_logs::table.find((organisation_id, id)))
                    .set(activity_logs::server_seq.eq(self.seq))
                    .execute(conn)?;
                if let Some(row) = self.activities.get_mut(id) {
                    row.server_seq = self.seq;
                }
            }
        }
        Ok(())
    }

    /// The record is deleted on the server, yet a device pushes a version of it: the device
    /// missed (or undid) the delete. The tombstone is sent again with this push's sequence, and
    /// the change is a conflict, so the device pulls and removes the record.
    fn resend_delete(&mut self, conn: &mut DbConnection, table: Table, id: &str) -> QueryResult<()> {
        self.resend(conn, table, id)?;
        self.answer(table, id, Status::Conflict, None);
        Ok(())
    }

    fn history(
        &mut self,
        conn: &mut DbConnection,
        table: Table,
        id: &str,
        change: &str,
        previous: Map<String, Value>,
        current: &Map<String, Value>,
    ) -> QueryResult<()> {
        let fields: Vec<&String> = previous.keys().filter(|key| previous.get(*key) != current.get(*key)).collect();
        let row = HistoryRow {
            id: uuid::Uuid::now_v7().to_string(),
            organisation_id: self.context.organisation_id.clone(),
            table_name: table.name().to_owned(),
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

    fn new_observation(&self, id: &str) -> ObservationRow {
        ObservationRow {
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
        }
    }

    fn upsert_observation(&mut self, conn: &mut DbConnection, change: &ObservationChange) -> QueryResult<()> {
        const TABLE: Table = Table::Observations;
        let id = change.id.as_str();
        let existing = self.observations.get(id).cloned();
        let is_owner = same_owner_or_new(existing.as_ref().map(|row| row.user_id.as_str()), &self.context.user_id);
        let reviews = matches!(self.context.role, Role::Coordinator | Role::Admin);
        if !is_owner && !reviews {
            self.refuse(Cow::Borrowed(TABLE.name()), id, Status::Forbidden, "this observation belongs to someone else");
            return Ok(());
        }
        if existing.as_ref().is_some_and(|row| row.deleted_at.is_some()) {
            return self.resend_delete(conn, TABLE, id);
        }
        let mut candidate = existing.clone().unwrap_or_else(|| self.new_observation(id));
        if is_owner {
            let (content, note) = match &change.content {
                Ok(content) => content,
                Err(errors) => return self.quarantine(conn, TABLE, id, &change.raw, errors.clone()),
            };
            let known = existing.as_ref().map(|row| Instant {
                corrected: row.observed_at,
                device: row.observed_at_device,
                corrected_for_skew: row.clock_corrected,
            });
            // A time the device sends back unchanged keeps its earlier correction.
            let observed_at = match known {
                Some(known)
                    if raw_i64(&change.raw, "observed_at")
                        .is_some_and(|t| t == known.corrected || t == known.device) =>
                {
                    known
                }
                _ => content.observed_at,
            };
            candidate.category.clone_from(&content.category);
            candidate.severity = content.severity;
            candidate.perceived_safety = content.perceived_safety;
            candidate.people_count = content.people_count;
            candidate.age_band.clone_from(&content.age_band);
            candidate.redacted =
                note.redacted || (existing.as_ref().is_some_and(|row| row.redacted) && note.text == candidate.note);
            candidate.note.clone_from(&note.text);
            candidate.lat = content.lat;
            candidate.lon = content.lon;
            candidate.cell = crate::domain::geo::cell_for(content.lat, content.lon);
            candidate.area_code = match &self.relocate {
                Some(areas) => areas.locate(content.lon, content.lat).map(str::to_owned),
                None => change.area.clone(),
            };
            candidate.accuracy_m = content.accuracy_m;
            candidate.observed_at = observed_at.corrected;
            candidate.observed_at_device = observed_at.device;
            candidate.clock_corrected = observed_at.corrected_for_skew;
            candidate.needs_follow_up = content.needs_follow_up;
        }
        if reviews && existing.is_some() {
            let review = match &change.review {
                Ok(review) => review,
                Err(errors) => return self.quarantine(conn, TABLE, id, &change.raw, errors.clone()),
            };
            let before = (candidate.status.clone(), candidate.review_comment.clone());
            if let Some(status) = &review.status {
                candidate.status.clone_from(status);
            }
            if let Some(comment) = &review.review_comment {
                candidate.review_comment.clone_from(comment);
            }
            if before != (candidate.status.clone(), candidate.review_comment.clone()) {
                candidate.reviewed_by = Some(self.context.user_id.clone());
                candidate.reviewed_at = Some(self.context.now_ms);
            }
        }
        let Some(existing) = existing else {
            candidate.author_seen_seq = self.seen_in_quarantine(TABLE, id);
            self.resolve_quarantine(conn, TABLE, id)?;
            self.observations.insert(id.to_owned(), candidate.clone());
            self.new_observations.push(candidate);
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
                self.resend(conn, TABLE, id)?;
            }
            self.answer(TABLE, id, Status::Unchanged, None);
            return Ok(());
        }
        if content == Decision::Apply {
            candidate.content_seq = self.seq;
            candidate.content_device_id.clone_from(&self.context.device_id);
        }
        if review == Decision::Apply {
            candidate.review_seq = self.seq;
            candidate.review_device_id = Some(self.context.device_id.clone());
        }
        candidate.server_seq = self.seq;
        candidate.updated_at = self.context.now_ms;
        self.flush(conn)?;
        diesel::update(observations::table.find((&existing.organisation_id, id))).set(&candidate).execute(conn)?;
        let change = if content == Decision::Apply { "update" } else { "review" };
        self.history(conn, TABLE, id, change, existing.to_raw(), &candidate.to_raw())?;
        self.observations.insert(id.to_owned(), candidate);
        if content == Decision::Apply {
            self.resolve_quarantine(conn, TABLE, id)?;
        } else {
            self.keep_quarantine_on_top(conn, TABLE, id)?;
        }
        self.answer(TABLE, id, Status::Applied, Some(self.seq));
        Ok(())
    }

    fn upsert_activity(&mut self, conn: &mut DbConnection, change: &ActivityChange) -> QueryResult<()> {
        const TABLE: Table = Table::ActivityLogs;
        let id = change.id.as_str();
        let existing = self.activities.get(id).cloned();
        if !same_owner_or_new(existing.as_ref().map(|row| row.user_id.as_str()), &self.context.user_id) {
            self.refuse(Cow::Borrowed(TABLE.name()), id, Status::Forbidden, "this activity belongs to someone else");
            return Ok(());
        }
        if existing.as_ref().is_some_and(|row| row.deleted_at.is_some()) {
            return self.resend_delete(conn, TABLE, id);
        }
        let (content, note) = match &change.content {
            Ok(content) => content,
            Err(errors) => return self.quarantine(conn, TABLE, id, &change.raw, errors.clone()),
        };
        // A time the device sends back unchanged keeps its earlier correction.
        let raw = &change.raw;
        let keep = |field: &str, parsed: Instant, known: Option<Instant>| match known {
            Some(known) if raw_i64(raw, field).is_some_and(|t| t == known.corrected || t == known.device) => known,
            _ => parsed,
        };
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
        let counts = &content.counts;
        let mut candidate = ActivityLogRow {
            organisation_id: self.context.organisation_id.clone(),
            id: id.to_owned(),
            user_id: self.context.user_id.clone(),
            device_id: existing.as_ref().map_or_else(|| self.context.device_id.clone(), |row| row.device_id.clone()),
            activity_type: content.activity_type.clone(),
            unit: content.unit.clone(),
            started_at: started_at.corrected,
            ended_at: ended_at.map(|t| t.corrected),
            started_at_device: started_at.device,
            ended_at_device: ended_at.map(|t| t.device),
            clock_corrected: started_at.corrected_for_skew || ended_at.is_some_and(|t| t.corrected_for_skew),
            lat: content.lat,
            lon: content.lon,
            area_code: match &self.relocate {
                Some(areas) => activity_area(content, areas),
                None => change.area.clone(),
            },
            cell: content.lat.zip(content.lon).and_then(|(lat, lon)| crate::domain::geo::cell_for(lat, lon)),
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
            redacted: note.redacted || (existing.as_ref().is_some_and(|row| row.redacted && row.note == note.text)),
            note: note.text.clone(),
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
            candidate.author_seen_seq = self.seen_in_quarantine(TABLE, id);
            self.resolve_quarantine(conn, TABLE, id)?;
            self.activities.insert(id.to_owned(), candidate.clone());
            self.new_activities.push(candidate);
            self.answer(TABLE, id, Status::Applied, Some(self.seq));
            return Ok(());
        };
        let changed = candidate != existing;
        match decide(existing.content_seq, self.context.cursor, !changed) {
            Decision::Conflict => self.answer(TABLE, id, Status::Conflict, None),
            Decision::Unchanged => {
                if self.resolve_quarantine(conn, TABLE, id)? {
                    self.resend(conn, TABLE, id)?;
                }
                self.answer(TABLE, id, Status::Unchanged, None);
            }
            Decision::Apply => {
                candidate.content_seq = self.seq;
                candidate.content_device_id.clone_from(&self.context.device_id);
                candidate.server_seq = self.seq;
                candidate.updated_at = self.context.now_ms;
                self.flush(conn)?;
                diesel::update(activity_logs::table.find((&existing.organisation_id, id)))
                    .set(&candidate)
                    .execute(conn)?;
                self.history(conn, TABLE, id, "update", existing.to_raw(), &candidate.to_raw())?;
                self.activities.insert(id.to_owned(), candidate);
                self.resolve_quarantine(conn, TABLE, id)?;
                self.answer(TABLE, id, Status::Applied, Some(self.seq));
            }
        }
        Ok(())
    }

    fn delete(&mut self, conn: &mut DbConnection, table: Table, id: &str) -> QueryResult<()> {
        let deletes_any = matches!(self.context.role, Role::Coordinator | Role::Admin);
        let owner_and_deleted: Option<(String, Option<i64>, Map<String, Value>)> = match table {
            Table::Observations => {
                self.observations.get(id).map(|row| (row.user_id.clone(), row.deleted_at, row.to_raw()))
            }
            Table::ActivityLogs => {
                self.activities.get(id).map(|row| (row.user_id.clone(), row.deleted_at, row.to_raw()))
            }
        };
        match owner_and_deleted {
            None => {
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
            Some((_, Some(_), _)) => self.answer(table, id, Status::Unchanged, None),
            Some((owner, None, previous)) if owner == self.context.user_id || deletes_any => {
                self.flush(conn)?;
                let now = self.context.now_ms;
                let organisation_id = self.context.organisation_id.as_str();
                match table {
                    Table::Observations => {
                        diesel::update(observations::table.find((organisation_id, id)))
                            .set((
                                observations::deleted_at.eq(now),
                                observations::server_seq.eq(self.seq),
                                observations::updated_at.eq(now),
                            ))
                            .execute(conn)?;
                        if let Some(row) = self.observations.get_mut(id) {
                            (row.deleted_at, row.server_seq, row.updated_at) = (Some(now), self.seq, now);
                        }
                    }
                    Table::ActivityLogs => {
                        diesel::update(activity_logs::table.find((organisation_id, id)))
                            .set((
                                activity_logs::deleted_at.eq(now),
                                activity_logs::server_seq.eq(self.seq),
                                activity_logs::updated_at.eq(now),
                            ))
                            .execute(conn)?;
                        if let Some(row) = self.activities.get_mut(id) {
                            (row.deleted_at, row.server_seq, row.updated_at) = (Some(now), self.seq, now);
                        }
                    }
                }
                self.history(conn, table, id, "delete", previous, &Map::new())?;
                self.resolve_quarantine_as(conn, table, id, "deleted")?;
                self.answer(table, id, Status::Applied, Some(self.seq));
            }
            Some(_) => {
                self.refuse(Cow::Borrowed(table.name()), id, Status::Forbidden, "this record belongs to someone else")
            }
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
