//! The merge rule: what one pushed change does to the stored version of its record.
//!
//! - **Field ownership.** The reporter owns an observation's content; coordinators and admins
//!   own its review (status and comment). Each part has its own sequence number, so a review
//!   and an edit of the content made at the same time both land. Activity logs have one owner
//!   and no review.
//! - **Conflicts.** A part that changed on the server since the device's cursor is a conflict
//!   (see [`decide`]); the device pulls, merges and pushes again.
//! - **Clocks.** A time the device sends back unchanged keeps the correction it got when it
//!   was first stored: a second push from a phone whose clock is now right does not undo it.
//! - **Redaction.** A note that was redacted and comes back as stored stays marked redacted.
//! - **Tombstones.** A change to a deleted record conflicts, and the tombstone is sent again.
//! - **Quarantine.** A change that cannot be read is kept aside with its field errors; it never
//!   blocks the rest of the push.

use super::{ActivityChange, Note, ObservationChange, PushContext, activity_area};
use crate::domain::FieldError;
use crate::domain::areas::AreaIndex;
use crate::domain::geo::cell_for;
use crate::domain::records::{Instant, ReviewChange};
use crate::domain::stored::{ActivityLog, Observation};
use crate::domain::sync::{Decision, decide};
use serde_json::{Map, Value};

/// What a pushed change does to its record.
#[derive(Debug, Clone, PartialEq)]
pub enum Merge<R> {
    /// The record belongs to someone else and the caller may not change it.
    Forbidden(&'static str),
    /// The record is deleted on the server: the device missed (or undid) the delete. The
    /// tombstone is sent again, and the change conflicts so the device pulls it.
    Deleted,
    /// The change cannot be stored as it is; it is kept aside with these errors.
    Quarantine(Vec<FieldError>),
    /// A new record.
    Insert(R),
    /// A part the caller owns changed on the server since the device's cursor.
    Conflict,
    /// The change is what is stored already (a replayed push). `by_author`: the author sent
    /// it, so a quarantined version of theirs is resolved by it.
    Unchanged { by_author: bool },
    /// The new version of the record.
    Update { record: R, part: Part },
}

/// Which part of a record an update changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The reporter's content (and perhaps the review too).
    Content,
    /// Only the review.
    Review,
}

impl Part {
    /// How the record's history names the change.
    pub fn history_name(self) -> &'static str {
        match self {
            Part::Content => "update",
            Part::Review => "review",
        }
    }
}

/// Where records go when the push was placed with older areas: the current areas.
pub type Relocate<'a> = Option<&'a AreaIndex>;

/// Merges a pushed observation into its stored version (`None`: new), at sequence `seq`.
pub fn merge_observation(
    existing: Option<&Observation>,
    change: &ObservationChange,
    caller: &PushContext,
    seq: i64,
    relocate: Relocate<'_>,
) -> Merge<Observation> {
    let is_owner = existing.is_none_or(|row| row.user_id == caller.user_id);
    let reviews = caller.reviews();
    if !is_owner && !reviews {
        return Merge::Forbidden("this observation belongs to someone else");
    }
    if existing.is_some_and(|row| row.deleted_at.is_some()) {
        return Merge::Deleted;
    }
    let mut candidate = existing.cloned().unwrap_or_else(|| new_observation(&change.id, caller, seq));
    if is_owner {
        let (content, note) = match &change.content {
            Ok(content) => content,
            Err(errors) => return Merge::Quarantine(errors.clone()),
        };
        let known = existing.map(|row| Instant {
            corrected: row.observed_at,
            device: row.observed_at_device,
            corrected_for_skew: row.clock_corrected,
        });
        let observed_at = keep_correction(&change.raw, "observed_at", content.observed_at, known);
        candidate.category.clone_from(&content.category);
        candidate.severity = content.severity;
        candidate.perceived_safety = content.perceived_safety;
        candidate.people_count = content.people_count;
        candidate.age_band.clone_from(&content.age_band);
        candidate.redacted = keeps_redaction(note, existing.map(|row| (row.redacted, row.note.as_str())));
        candidate.note.clone_from(&note.text);
        candidate.lat = content.lat;
        candidate.lon = content.lon;
        candidate.cell = cell_for(content.lat, content.lon);
        candidate.area_code = match relocate {
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
            Err(errors) => return Merge::Quarantine(errors.clone()),
        };
        apply_review(&mut candidate, review, &caller.user_id, caller.now_ms);
    }
    let Some(existing) = existing else {
        return Merge::Insert(candidate);
    };
    let content_changed = is_owner && content_of(&candidate) != content_of(existing);
    let review_changed =
        reviews && (&candidate.status, &candidate.review_comment) != (&existing.status, &existing.review_comment);
    let content =
        if is_owner { decide(existing.content_seq, caller.cursor, !content_changed) } else { Decision::Unchanged };
    let review =
        if reviews { decide(existing.review_seq, caller.cursor, !review_changed) } else { Decision::Unchanged };
    if content == Decision::Conflict || review == Decision::Conflict {
        return Merge::Conflict;
    }
    if content == Decision::Unchanged && review == Decision::Unchanged {
        return Merge::Unchanged { by_author: is_owner };
    }
    if content == Decision::Apply {
        candidate.content_seq = seq;
        candidate.content_device_id.clone_from(&caller.device_id);
    }
    if review == Decision::Apply {
        candidate.review_seq = seq;
        candidate.review_device_id = Some(caller.device_id.clone());
    }
    candidate.server_seq = seq;
    candidate.updated_at = caller.now_ms;
    let part = if content == Decision::Apply { Part::Content } else { Part::Review };
    Merge::Update { record: candidate, part }
}

/// Merges a pushed activity log into its stored version (`None`: new), at sequence `seq`.
pub fn merge_activity(
    existing: Option<&ActivityLog>,
    change: &ActivityChange,
    caller: &PushContext,
    seq: i64,
    relocate: Relocate<'_>,
) -> Merge<ActivityLog> {
    if existing.is_some_and(|row| row.user_id != caller.user_id) {
        return Merge::Forbidden("this activity belongs to someone else");
    }
    if existing.is_some_and(|row| row.deleted_at.is_some()) {
        return Merge::Deleted;
    }
    let (content, note) = match &change.content {
        Ok(content) => content,
        Err(errors) => return Merge::Quarantine(errors.clone()),
    };
    let known_start = existing.map(|row| Instant {
        corrected: row.started_at,
        device: row.started_at_device,
        corrected_for_skew: row.clock_corrected,
    });
    let known_end = existing.and_then(|row| {
        Some(Instant {
            corrected: row.ended_at?,
            device: row.ended_at_device?,
            corrected_for_skew: row.clock_corrected,
        })
    });
    let started_at = keep_correction(&change.raw, "started_at", content.started_at, known_start);
    let ended_at = content.ended_at.map(|ended| keep_correction(&change.raw, "ended_at", ended, known_end));
    let counts = &content.counts;
    let mut candidate = ActivityLog {
        organisation_id: caller.organisation_id.clone(),
        id: change.id.clone(),
        user_id: caller.user_id.clone(),
        device_id: existing.map_or_else(|| caller.device_id.clone(), |row| row.device_id.clone()),
        activity_type: content.activity_type.clone(),
        unit: content.unit.clone(),
        started_at: started_at.corrected,
        ended_at: ended_at.map(|t| t.corrected),
        started_at_device: started_at.device,
        ended_at_device: ended_at.map(|t| t.device),
        clock_corrected: started_at.corrected_for_skew || ended_at.is_some_and(|t| t.corrected_for_skew),
        lat: content.lat,
        lon: content.lon,
        area_code: match relocate {
            Some(areas) => activity_area(content, areas),
            None => change.area.clone(),
        },
        cell: content.lat.zip(content.lon).and_then(|(lat, lon)| cell_for(lat, lon)),
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
        redacted: keeps_redaction(note, existing.map(|row| (row.redacted, row.note.as_str()))),
        note: note.text.clone(),
        created_at: existing.map_or(caller.now_ms, |row| row.created_at),
        updated_at: existing.map_or(caller.now_ms, |row| row.updated_at),
        deleted_at: existing.and_then(|row| row.deleted_at),
        created_seq: existing.map_or(seq, |row| row.created_seq),
        content_seq: existing.map_or(seq, |row| row.content_seq),
        server_seq: existing.map_or(seq, |row| row.server_seq),
        content_device_id: existing.map_or_else(|| caller.device_id.clone(), |row| row.content_device_id.clone()),
        author_seen_seq: existing.and_then(|row| row.author_seen_seq),
    };
    let Some(existing) = existing else {
        return Merge::Insert(candidate);
    };
    match decide(existing.content_seq, caller.cursor, candidate == *existing) {
        Decision::Conflict => Merge::Conflict,
        Decision::Unchanged => Merge::Unchanged { by_author: true },
        Decision::Apply => {
            candidate.content_seq = seq;
            candidate.content_device_id.clone_from(&caller.device_id);
            candidate.server_seq = seq;
            candidate.updated_at = caller.now_ms;
            Merge::Update { record: candidate, part: Part::Content }
        }
    }
}

/// Who reviews outside a push (the dashboard), from which device, when.
pub struct Reviewer<'a> {
    pub user_id: &'a str,
    pub device_id: &'a str,
    pub now_ms: i64,
}

/// A coordinator's review from outside a push, at sequence `seq`: the new version, or `None`
/// when it changes nothing. The review is the coordinator's own part of the record, so it never
/// conflicts with the reporter's edits.
pub fn review(current: &Observation, change: &ReviewChange, reviewer: &Reviewer<'_>, seq: i64) -> Option<Observation> {
    let mut next = current.clone();
    if !apply_review(&mut next, change, reviewer.user_id, reviewer.now_ms) {
        return None;
    }
    next.review_seq = seq;
    next.review_device_id = Some(reviewer.device_id.to_owned());
    next.server_seq = seq;
    next.updated_at = reviewer.now_ms;
    Some(next)
}

/// Sets the review fields a change names; a change of either marks who reviewed and when.
/// True if anything changed.
fn apply_review(record: &mut Observation, change: &ReviewChange, user_id: &str, now_ms: i64) -> bool {
    let before = (record.status.clone(), record.review_comment.clone());
    if let Some(status) = &change.status {
        record.status.clone_from(status);
    }
    if let Some(comment) = &change.review_comment {
        record.review_comment.clone_from(comment);
    }
    let changed = before != (record.status.clone(), record.review_comment.clone());
    if changed {
        record.reviewed_by = Some(user_id.to_owned());
        record.reviewed_at = Some(now_ms);
    }
    changed
}

/// What a pushed delete does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// No stored version: only a quarantined version may exist, and the delete resolves it.
    OnlyQuarantined,
    /// Deleted already (a replayed delete).
    AlreadyDeleted,
    /// The record goes: a tombstone at this push's sequence.
    Delete,
    /// Someone else's record, and the caller deletes only their own.
    Forbidden,
}

/// Decides a pushed delete of a record whose stored version has `owner` and `deleted_at`
/// (`None`: not stored). Reporters delete their own records; coordinators and admins any.
pub fn merge_delete(stored: Option<(&str, Option<i64>)>, caller: &PushContext) -> Removal {
    match stored {
        None => Removal::OnlyQuarantined,
        Some((_, Some(_))) => Removal::AlreadyDeleted,
        Some((owner, None)) if owner == caller.user_id || caller.reviews() => Removal::Delete,
        Some(_) => Removal::Forbidden,
    }
}

/// A time the device sends back as it was stored (either the corrected or the device's own
/// reading) keeps its earlier correction; any other time is the one just read.
fn keep_correction(raw: &Map<String, Value>, field: &str, parsed: Instant, known: Option<Instant>) -> Instant {
    match known {
        Some(known) if raw_i64(raw, field).is_some_and(|t| t == known.corrected || t == known.device) => known,
        _ => parsed,
    }
}

/// A note is marked redacted when redaction changed it now, or when it comes back exactly as
/// the redacted text that is stored.
fn keeps_redaction(note: &Note, stored: Option<(bool, &str)>) -> bool {
    note.redacted || stored.is_some_and(|(redacted, text)| redacted && text == note.text)
}

fn raw_i64(raw: &Map<String, Value>, field: &str) -> Option<i64> {
    raw.get(field).and_then(|value| value.as_i64().or_else(|| value.as_f64().map(|n| n as i64)))
}

/// The reporter-owned part of an observation, for telling a real edit from a replay.
fn content_of(row: &Observation) -> impl PartialEq + '_ {
    (
        (&row.category, row.severity, row.perceived_safety, row.people_count, &row.age_band, &row.note),
        (row.lat.to_bits(), row.lon.to_bits(), row.accuracy_m.map(f64::to_bits), row.observed_at, row.needs_follow_up),
    )
}

fn new_observation(id: &str, caller: &PushContext, seq: i64) -> Observation {
    Observation {
        organisation_id: caller.organisation_id.clone(),
        id: id.to_owned(),
        user_id: caller.user_id.clone(),
        device_id: caller.device_id.clone(),
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
        created_at: caller.now_ms,
        updated_at: caller.now_ms,
        deleted_at: None,
        created_seq: seq,
        content_seq: seq,
        review_seq: seq,
        server_seq: seq,
        content_device_id: caller.device_id.clone(),
        review_device_id: None,
        author_seen_seq: None,
    }
}

#[cfg(test)]
mod tests;
