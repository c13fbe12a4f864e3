use super::*;
use crate::domain::identity::Role;
use crate::domain::push::{Change, Rules, TableChanges, prepare};
use proptest::prelude::*;
use serde_json::json;

const NOW: i64 = 1_780_000_000_000;

fn caller(user: &str, role: Role, cursor: Option<i64>) -> PushContext {
    PushContext {
        organisation_id: "org".into(),
        user_id: user.into(),
        role,
        device_id: format!("{user}-phone"),
        cursor,
        now_ms: NOW,
        clock_skew_ms: None,
        skew_tolerance_ms: 60_000,
        pending_count: None,
        photo_rules: crate::domain::attachments::PhotoRules::default(),
    }
}

fn reporter(cursor: Option<i64>) -> PushContext {
    caller("anna", Role::Field, cursor)
}

fn coordinator(cursor: Option<i64>) -> PushContext {
    caller("sam", Role::Coordinator, cursor)
}

fn rules() -> Rules {
    Rules {
        categories: ["vandalism", "lighting"].map(String::from).into(),
        activity_types: ["outreach"].map(String::from).into(),
        units: ["falt"].map(String::from).into(),
        ..Rules::default()
    }
}

fn raw_observation(note: &str) -> Value {
    json!({
        "id": "obs-1", "category": "vandalism", "severity": 3, "perceived_safety": 2, "people_count": 4,
        "age_band": "13_15", "note": note, "lat": 59.244, "lon": 18.228, "accuracy_m": 12.5,
        "observed_at": NOW - 60_000, "needs_follow_up": false,
    })
}

fn raw_activity() -> Value {
    json!({
        "id": "act-1", "activity_type": "outreach", "unit": "falt", "started_at": NOW - 3_600_000,
        "ended_at": NOW - 60_000, "girls": 2, "boys": 1, "gender_other": 0, "gender_unknown": 0,
        "age_under_13": 0, "age_13_15": 3, "age_16_17": 0, "age_18_24": 0, "age_25_plus": 0, "age_unknown": 0,
        "note": "",
    })
}

/// Reads one raw record the way a push does, as `caller`.
fn read(table: &str, raw: Value, caller: &PushContext) -> Change {
    let changes = TableChanges { created: vec![raw], ..TableChanges::default() };
    let mut prepared = prepare(caller.clone(), vec![(table.to_owned(), changes)], &rules());
    prepared.changes.remove(0)
}

fn observation_change(raw: Value, caller: &PushContext) -> ObservationChange {
    match read("observations", raw, caller) {
        Change::Observation(change) => *change,
        other => panic!("not an observation: {other:?}"),
    }
}

fn activity_change(raw: Value, caller: &PushContext) -> ActivityChange {
    match read("activity_logs", raw, caller) {
        Change::Activity(change) => *change,
        other => panic!("not an activity: {other:?}"),
    }
}

/// The observation `anna` stored at sequence `seq`.
fn stored_observation(note: &str, seq: i64) -> Observation {
    let anna = reporter(None);
    match merge_observation(None, &observation_change(raw_observation(note), &anna), &anna, seq, None) {
        Merge::Insert(record) => record,
        other => panic!("not inserted: {other:?}"),
    }
}

fn inserted<R: std::fmt::Debug>(merged: Merge<R>) -> R {
    match merged {
        Merge::Insert(record) => record,
        other => panic!("not inserted: {other:?}"),
    }
}

fn updated<R: std::fmt::Debug>(merged: Merge<R>) -> (R, Part) {
    match merged {
        Merge::Update { record, part } => (record, part),
        other => panic!("not updated: {other:?}"),
    }
}

#[test]
fn a_new_observation_is_inserted_at_the_push_sequence_with_its_author_and_device() {
    let record = stored_observation("two bikes burnt", 7);
    assert_eq!((record.created_seq, record.content_seq, record.review_seq, record.server_seq), (7, 7, 7, 7));
    assert_eq!((record.user_id.as_str(), record.content_device_id.as_str()), ("anna", "anna-phone"));
    assert_eq!((record.status.as_str(), record.category.as_str(), record.severity), ("new", "vandalism", 3));
    assert!(record.cell.is_some(), "a stored observation has a hexagon cell");
}

#[test]
fn a_reporter_may_not_change_someone_elses_observation() {
    let stored = stored_observation("", 7);
    let bo = caller("bo", Role::Field, Some(7));
    let merged = merge_observation(Some(&stored), &observation_change(raw_observation("mine now"), &bo), &bo, 8, None);
    assert_eq!(merged, Merge::Forbidden("this observation belongs to someone else"));
}

#[test]
fn a_coordinator_reviews_someone_elses_observation_without_touching_its_content() {
    let stored = stored_observation("original", 7);
    let sam = coordinator(Some(7));
    let mut raw = raw_observation("rewritten by the coordinator");
    raw["status"] = json!("reviewed");
    raw["review_comment"] = json!("handled");
    let (record, part) = updated(merge_observation(Some(&stored), &observation_change(raw, &sam), &sam, 8, None));
    assert_eq!(part, Part::Review);
    assert_eq!((record.note.as_str(), record.content_seq), ("original", 7));
    assert_eq!((record.status.as_str(), record.review_comment.as_deref()), ("reviewed", Some("handled")));
    assert_eq!((record.review_seq, record.server_seq, record.reviewed_by.as_deref()), (8, 8, Some("sam")));
}

#[test]
fn a_review_since_the_cursor_does_not_block_the_reporters_edit_of_the_content() {
    let mut stored = stored_observation("first", 7);
    stored.status = "reviewed".into();
    stored.review_seq = 9;
    let anna = reporter(Some(7));
    let merged =
        merge_observation(Some(&stored), &observation_change(raw_observation("second"), &anna), &anna, 10, None);
    let (record, part) = updated(merged);
    assert_eq!(part, Part::Content);
    assert_eq!((record.note.as_str(), record.status.as_str()), ("second", "reviewed"));
    assert_eq!((record.content_seq, record.review_seq), (10, 9));
}

#[test]
fn an_edit_of_content_that_changed_since_the_cursor_conflicts() {
    let mut stored = stored_observation("first", 7);
    stored.content_seq = 9;
    let anna = reporter(Some(8));
    let merged =
        merge_observation(Some(&stored), &observation_change(raw_observation("second"), &anna), &anna, 10, None);
    assert_eq!(merged, Merge::Conflict);
}

#[test]
fn a_change_to_a_deleted_record_is_answered_with_its_tombstone() {
    let mut stored = stored_observation("", 7);
    stored.deleted_at = Some(NOW);
    let anna = reporter(Some(7));
    let merged = merge_observation(Some(&stored), &observation_change(raw_observation("back"), &anna), &anna, 8, None);
    assert_eq!(merged, Merge::Deleted);
}

#[test]
fn an_unreadable_change_is_quarantined_with_the_fields_at_fault() {
    let anna = reporter(None);
    let mut raw = raw_observation("");
    raw["severity"] = json!(9);
    raw["category"] = json!("unheard-of");
    let Merge::Quarantine(errors) = merge_observation(None, &observation_change(raw, &anna), &anna, 7, None) else {
        panic!("not quarantined");
    };
    let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["category", "severity"]);
}

#[test]
fn a_replayed_change_is_unchanged_and_counts_as_the_authors() {
    let stored = stored_observation("same", 7);
    let anna = reporter(None);
    let merged = merge_observation(Some(&stored), &observation_change(raw_observation("same"), &anna), &anna, 8, None);
    assert_eq!(merged, Merge::Unchanged { by_author: true });
}

#[test]
fn a_time_sent_back_as_stored_keeps_its_clock_correction() {
    let mut skewed = reporter(None);
    skewed.clock_skew_ms = Some(3_600_000);
    let first = inserted(merge_observation(None, &observation_change(raw_observation("x"), &skewed), &skewed, 7, None));
    assert!(first.clock_corrected);
    assert_eq!(first.observed_at - first.observed_at_device, 3_600_000);
    // The phone's clock is right now; it sends the device time back with another note.
    let anna = reporter(Some(7));
    let mut raw = raw_observation("y");
    raw["observed_at"] = json!(first.observed_at_device);
    let (record, _) = updated(merge_observation(Some(&first), &observation_change(raw, &anna), &anna, 8, None));
    assert_eq!((record.observed_at, record.clock_corrected), (first.observed_at, true));
}

#[test]
fn a_note_sent_back_as_its_redacted_text_stays_marked_redacted() {
    let first = stored_observation("ring 070-123 45 67", 7);
    assert!(first.redacted);
    assert!(!first.note.contains("070"));
    let anna = reporter(Some(7));
    let mut raw = raw_observation(&first.note);
    raw["severity"] = json!(4);
    let (record, _) = updated(merge_observation(Some(&first), &observation_change(raw, &anna), &anna, 8, None));
    assert!(record.redacted, "the note is still the redacted one");
    assert_eq!(record.severity, 4);
}

#[test]
fn records_of_a_push_placed_with_old_areas_are_placed_with_the_current_ones() {
    let anna = reporter(None);
    let mut change = observation_change(raw_observation(""), &anna);
    change.area = Some("GONE".into());
    let current = AreaIndex::default();
    let record = inserted(merge_observation(None, &change, &anna, 7, Some(&current)));
    assert_eq!(record.area_code, None, "no current area holds the position");
    let record = inserted(merge_observation(None, &change, &anna, 7, None));
    assert_eq!(record.area_code.as_deref(), Some("GONE"));
}

#[test]
fn an_activity_belongs_to_its_author_alone() {
    let anna = reporter(None);
    let stored = inserted(merge_activity(None, &activity_change(raw_activity(), &anna), &anna, 7, None));
    let sam = coordinator(Some(7));
    let merged = merge_activity(Some(&stored), &activity_change(raw_activity(), &sam), &sam, 8, None);
    assert_eq!(merged, Merge::Forbidden("this activity belongs to someone else"));
}

#[test]
fn an_activity_replayed_is_unchanged_and_an_edited_one_is_a_content_update() {
    let anna = reporter(Some(7));
    let stored = inserted(merge_activity(None, &activity_change(raw_activity(), &anna), &anna, 7, None));
    let replay = merge_activity(Some(&stored), &activity_change(raw_activity(), &anna), &anna, 8, None);
    assert_eq!(replay, Merge::Unchanged { by_author: true });
    let mut raw = raw_activity();
    raw["girls"] = json!(3);
    raw["age_13_15"] = json!(4);
    let (record, part) = updated(merge_activity(Some(&stored), &activity_change(raw, &anna), &anna, 8, None));
    assert_eq!((part, record.girls, record.content_seq, record.created_seq), (Part::Content, 3, 8, 7));
}

#[test]
fn reporters_delete_their_own_records_and_coordinators_any() {
    let anna = reporter(Some(7));
    let bo = caller("bo", Role::Field, Some(7));
    let sam = coordinator(Some(7));
    assert_eq!(merge_delete(Some(("anna", None)), &anna), Removal::Delete);
    assert_eq!(merge_delete(Some(("anna", None)), &bo), Removal::Forbidden);
    assert_eq!(merge_delete(Some(("anna", None)), &sam), Removal::Delete);
    assert_eq!(merge_delete(Some(("anna", Some(NOW))), &bo), Removal::AlreadyDeleted);
    assert_eq!(merge_delete(None, &bo), Removal::OnlyQuarantined);
}

fn content(record: &Observation) -> impl PartialEq + std::fmt::Debug {
    (
        record.category.clone(),
        record.severity,
        record.perceived_safety,
        record.note.clone(),
        record.observed_at,
        record.content_seq,
    )
}

fn review_part(record: &Observation) -> impl PartialEq + std::fmt::Debug {
    (record.status.clone(), record.review_comment.clone(), record.review_seq, record.reviewed_by.clone())
}

proptest! {
    #[test]
    fn a_merge_never_changes_a_part_the_caller_does_not_own(
        severity in 0i64..7,
        safety in 1i64..6,
        note in "[a-z ]{0,20}",
        status in prop::sample::select(vec!["new", "reviewed", "forwarded", "closed", "bogus"]),
        comment in proptest::option::of("[a-z ]{0,12}"),
        by_coordinator in any::<bool>(),
        cursor in 5i64..12,
    ) {
        let stored = stored_observation("stored", 7);
        let caller = if by_coordinator { coordinator(Some(cursor)) } else { reporter(Some(cursor)) };
        let mut raw = raw_observation(&note);
        raw["severity"] = json!(severity);
        raw["perceived_safety"] = json!(safety);
        raw["status"] = json!(status);
        raw["review_comment"] = json!(comment);
        let merged = merge_observation(Some(&stored), &observation_change(raw, &caller), &caller, 12, None);
        if let Merge::Update { record, .. } = &merged {
            if by_coordinator {
                prop_assert_eq!(content(record), content(&stored));
            } else {
                prop_assert_eq!(review_part(record), review_part(&stored));
            }
            prop_assert_eq!(record.server_seq, 12);
        }
        // A version of the stored record was seen (the cursor covers it): never a conflict.
        prop_assert!(cursor < 7 || merged != Merge::Conflict);
    }

    #[test]
    fn a_stored_observation_pushed_again_as_it_was_pulled_is_unchanged(
        severity in 1i64..6,
        note in "[a-zA-Z0-9 ]{0,40}",
        lat in 55.0f64..69.0,
        lon in 11.0f64..24.0,
        skew in proptest::option::of(-86_400_000i64..86_400_000),
        cursor in proptest::option::of(7i64..20),
    ) {
        let mut first = reporter(None);
        first.clock_skew_ms = skew;
        let mut raw = raw_observation(&note);
        raw["severity"] = json!(severity);
        raw["lat"] = json!(lat);
        raw["lon"] = json!(lon);
        let change = observation_change(raw, &first);
        prop_assume!(change.content.is_ok());
        let stored = inserted(merge_observation(None, &change, &first, 7, None));
        // The phone pulls the stored version and pushes it back (any clock, any cursor).
        let again = reporter(cursor);
        let pulled = Value::Object(stored.to_raw());
        let merged = merge_observation(Some(&stored), &observation_change(pulled, &again), &again, 20, None);
        prop_assert_eq!(merged, Merge::Unchanged { by_author: true });
    }
}

#[test]
fn a_review_outside_a_push_marks_who_reviewed_and_takes_the_sequence_unless_it_changes_nothing() {
    let stored = stored_observation("", 7);
    let sam = Reviewer { user_id: "sam", device_id: "sam-laptop", now_ms: NOW };
    let same = ReviewChange { status: Some("new".into()), review_comment: None };
    assert_eq!(review(&stored, &same, &sam, 8), None);
    let change = ReviewChange { status: Some("closed".into()), review_comment: Some(Some("done".into())) };
    let Some(next) = review(&stored, &change, &sam, 8) else { panic!("the review changes the record") };
    assert_eq!((next.status.as_str(), next.review_comment.as_deref()), ("closed", Some("done")));
    assert_eq!((next.reviewed_by.as_deref(), next.review_device_id.as_deref()), (Some("sam"), Some("sam-laptop")));
    assert_eq!((next.review_seq, next.server_seq, next.content_seq), (8, 8, 7));
}
