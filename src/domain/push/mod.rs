//! A push, free of HTTP and SQL: its wire types, the rules records are checked against, the
//! reading of every record ([`prepare`]: validation, redaction, placement) and, in [`merge`],
//! the rule that decides what a pushed change does to the stored version.
//!
//! Storage (`db::queries::sync_push`) loads the stored versions, asks [`merge`] what to do with
//! each change and writes the answer: it decides nothing itself.

pub mod merge;

use crate::domain::FieldError;
use crate::domain::areas::AreaIndex;
use crate::domain::attachments::{self, AttachmentContent, PhotoRules};
use crate::domain::identity::Role;
use crate::domain::records::{self, ActivityContent, BoundingBox, Context, ObservationContent, ReviewChange};
use crate::domain::redaction::redact;
use crate::domain::sync::SyncedTable;
use serde::Serialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashSet;

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
    /// What photo attachments are checked against.
    pub photo_rules: PhotoRules,
}

impl PushContext {
    /// Whether the caller reviews other people's observations (and may delete any record).
    pub fn reviews(&self) -> bool {
        matches!(self.role, Role::Coordinator | Role::Admin)
    }
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

impl RecordResult {
    /// An answer with no error.
    pub fn of(table: SyncedTable, id: &str, status: Status, server_seq: Option<i64>) -> Self {
        Self { table: Cow::Borrowed(table.name()), id: id.to_owned(), status, server_seq, error: None, errors: None }
    }

    /// A refusal, with its reason.
    pub fn refused(table: Cow<'static, str>, id: &str, status: Status, error: &str) -> Self {
        Self { table, id: id.to_owned(), status, server_seq: None, error: Some(error.to_owned()), errors: None }
    }
}

/// What validation checks records against: the organisation's reference data and bounding box,
/// and the areas records are placed in.
#[derive(Debug, Default)]
pub struct Rules {
    pub bbox: Option<BoundingBox>,
    /// The areas records are assigned to.
    pub areas: AreaIndex,
    /// The areas version they were read at.
    pub areas_version: i64,
    pub categories: HashSet<String>,
    pub activity_types: HashSet<String>,
    pub units: HashSet<String>,
}

impl Rules {
    fn validation(&self, context: &PushContext) -> Context<'_> {
        Context {
            now_ms: context.now_ms,
            clock_skew_ms: context.clock_skew_ms,
            skew_tolerance_ms: context.skew_tolerance_ms,
            bbox: self.bbox,
            categories: &self.categories,
            activity_types: &self.activity_types,
            units: &self.units,
        }
    }
}

/// Free text after redaction.
#[derive(Debug, Clone)]
pub struct Note {
    pub text: String,
    pub redacted: bool,
}

impl Note {
    /// The text with personal data replaced, and whether anything was.
    pub fn of(text: &str) -> Self {
        let redacted = redact(text);
        Self { redacted: redacted.redacted(), text: redacted.text }
    }
}

/// A pushed observation, read and redacted.
#[derive(Debug)]
pub struct ObservationChange {
    pub id: String,
    pub raw: Map<String, Value>,
    /// The area its position falls in.
    pub area: Option<String>,
    pub content: Result<(ObservationContent, Note), Vec<FieldError>>,
    pub review: Result<ReviewChange, Vec<FieldError>>,
}

/// A pushed activity log, read and redacted.
#[derive(Debug)]
pub struct ActivityChange {
    pub id: String,
    pub raw: Map<String, Value>,
    /// The area its position falls in (when it has one).
    pub area: Option<String>,
    pub content: Result<(ActivityContent, Note), Vec<FieldError>>,
}

/// A pushed photo attachment, read.
#[derive(Debug)]
pub struct AttachmentChange {
    pub id: String,
    pub content: Result<AttachmentContent, Vec<FieldError>>,
}

/// One record of a push, ready for storage.
#[derive(Debug)]
pub enum Change {
    /// Answered without storage: a malformed record, or one the caller may not push.
    Refuse {
        table: Cow<'static, str>,
        id: String,
        status: Status,
        error: &'static str,
    },
    Observation(Box<ObservationChange>),
    Activity(Box<ActivityChange>),
    Attachment(Box<AttachmentChange>),
    Delete {
        table: SyncedTable,
        id: String,
    },
}

impl Change {
    /// The stored record this change is about, if it is about one.
    pub fn record(&self) -> Option<(SyncedTable, &str)> {
        match self {
            Change::Observation(change) => Some((SyncedTable::Observations, change.id.as_str())),
            Change::Activity(change) => Some((SyncedTable::ActivityLogs, change.id.as_str())),
            Change::Attachment(change) => Some((SyncedTable::Attachments, change.id.as_str())),
            Change::Delete { table, id } => Some((*table, id.as_str())),
            Change::Refuse { .. } => None,
        }
    }
}

/// A push read and validated, waiting for the writer.
#[derive(Debug)]
pub struct PreparedPush {
    pub context: PushContext,
    pub changes: Vec<Change>,
    /// The areas version its records were placed with; the writer places them again when the
    /// organisation's areas changed since.
    pub areas_version: i64,
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
    pub fn refused_by_rules(&self) -> bool {
        const CODES: [&str; 4] = ["unknown_category", "unknown_activity_type", "unknown_unit", "outside_organisation"];
        let by_rules = |errors: &[FieldError]| errors.iter().any(|e| CODES.contains(&e.code.as_str()));
        self.changes.iter().any(|change| match change {
            Change::Observation(change) => change.content.as_ref().is_err_and(|errors| by_rules(errors)),
            Change::Activity(change) => change.content.as_ref().is_err_and(|errors| by_rules(errors)),
            _ => false,
        })
    }

    /// Reads the records that were refused once more, against `rules` read afresh.
    pub fn revalidate(&mut self, rules: &Rules) {
        if rules.areas_version != self.areas_version {
            // Only some records are placed again here; the writer places every one.
            self.areas_version = -1;
        }
        let validation = rules.validation(&self.context);
        for change in &mut self.changes {
            match change {
                Change::Observation(change) if change.content.is_err() => {
                    change.content = read_observation(&change.raw, &validation);
                    change.area = observation_area(&change.content, &rules.areas);
                }
                Change::Activity(change) if change.content.is_err() => {
                    change.content = read_activity(&change.raw, &validation);
                    change.area = change.content.as_ref().ok().and_then(|(c, _)| activity_area(c, &rules.areas));
                }
                _ => {}
            }
        }
    }
}

fn record_id(raw: &Value) -> Option<String> {
    let id = raw.as_str().or_else(|| raw.get("id").and_then(Value::as_str))?;
    let ok = (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| id.to_owned())
}

const NOT_PUSHED: &str = "this table is not pushed: it syncs down only, or is unknown";
const PARTNERS_DO_NOT_RECORD: &str = "partners do not record data";

/// Reads, validates and redacts every record of a push. No database access: this is the
/// push's CPU work, done before the writer is involved.
pub fn prepare(context: PushContext, mut tables: Vec<(String, TableChanges)>, rules: &Rules) -> PreparedPush {
    // Attachments after the records: a photo pushed with its observation finds it stored.
    tables.sort_by_key(|(name, _)| name == SyncedTable::Attachments.name());
    let validation = rules.validation(&context);
    let mut changes = Vec::new();
    for (name, table_changes) in tables {
        let table = SyncedTable::pushed(&name);
        let table_name: Cow<'static, str> = table.map_or_else(|| Cow::Owned(name.clone()), |t| Cow::Borrowed(t.name()));
        let refuse =
            |id: String, error| Change::Refuse { table: table_name.clone(), id, status: Status::Forbidden, error };
        for raw in table_changes.created.into_iter().chain(table_changes.updated) {
            let Some(id) = record_id(&raw) else {
                changes.push(refuse(String::new(), "a record needs an `id` of 1–64 letters, digits, `-` or `_`"));
                continue;
            };
            let Value::Object(raw) = raw else {
                changes.push(refuse(id, "a record must be a JSON object"));
                continue;
            };
            changes.push(match table {
                _ if context.role == Role::Partner => refuse(id, PARTNERS_DO_NOT_RECORD),
                Some(SyncedTable::Observations) => {
                    let content = read_observation(&raw, &validation);
                    let review = records::parse_review(&raw).map(|mut review| {
                        review.review_comment =
                            review.review_comment.map(|comment| comment.map(|comment| redact(&comment).text));
                        review
                    });
                    let area = observation_area(&content, &rules.areas);
                    Change::Observation(Box::new(ObservationChange { id, raw, area, content, review }))
                }
                Some(SyncedTable::ActivityLogs) => {
                    let content = read_activity(&raw, &validation);
                    let area = content.as_ref().ok().and_then(|(c, _)| activity_area(c, &rules.areas));
                    Change::Activity(Box::new(ActivityChange { id, raw, area, content }))
                }
                Some(SyncedTable::Attachments) => Change::Attachment(Box::new(AttachmentChange {
                    content: attachments::parse(&raw, &context.photo_rules),
                    id,
                })),
                _ => refuse(id, NOT_PUSHED),
            });
        }
        for raw_id in table_changes.deleted {
            let Some(id) = record_id(&raw_id) else {
                changes.push(refuse(raw_id.as_str().unwrap_or("").chars().take(64).collect(), "not a record id"));
                continue;
            };
            changes.push(match table {
                None => refuse(id, NOT_PUSHED),
                Some(_) if context.role == Role::Partner => refuse(id, PARTNERS_DO_NOT_RECORD),
                Some(table) => Change::Delete { table, id },
            });
        }
    }
    PreparedPush { context, changes, areas_version: rules.areas_version }
}

/// The area an observation's position falls in.
fn observation_area(
    content: &Result<(ObservationContent, Note), Vec<FieldError>>,
    areas: &AreaIndex,
) -> Option<String> {
    content.as_ref().ok().and_then(|(c, _)| areas.locate(c.lon, c.lat)).map(str::to_owned)
}

/// An activity with a position is placed by the server; one without keeps the area its
/// reporter chose.
pub fn activity_area(content: &ActivityContent, areas: &AreaIndex) -> Option<String> {
    match content.lat.zip(content.lon) {
        Some((lat, lon)) => areas.locate(lon, lat).map(str::to_owned),
        None => content.area_code.clone(),
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

/// A pushed record as it may be kept in quarantine: every string and number at any depth, and
/// every key, passed through redaction (whatever the column: an e-mail address sent as a category
/// is personal data too), so personal data is never stored, not even from a record that was
/// refused. Only the record's `id`, which names it, is kept as sent.
pub fn redacted_payload(raw: &Map<String, Value>) -> Map<String, Value> {
    raw.iter()
        .map(|(key, value)| match key.as_str() {
            "id" => (key.clone(), value.clone()),
            _ => (redact(key).text, redacted_value(value)),
        })
        .collect()
}

fn redacted_value(value: &Value) -> Value {
    match value {
        Value::String(text) => Value::String(redact(text).text),
        // A personnummer sent as a number is still one: kept as a number unless it is.
        Value::Number(number) => {
            let found = redact(&number.to_string());
            if found.redacted() { Value::String(found.text) } else { value.clone() }
        }
        Value::Array(items) => Value::Array(items.iter().map(redacted_value).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(key, item)| (redact(key).text, redacted_value(item))).collect())
        }
        Value::Bool(_) | Value::Null => value.clone(),
    }
}

/// A field error as it may be stored and sent back: its message quotes what was sent
/// (`unknown category "…"`), so the message and the field's name are redacted as well.
pub fn redacted_error(error: FieldError) -> FieldError {
    FieldError { field: redact(&error.field).text, code: error.code, message: redact(&error.message).text }
}
