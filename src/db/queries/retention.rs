//! Retention (gallring): each organisation's periods, and the run that applies them.
//!
//! A run empties free text, coarsens exact positions (see [`crate::domain::retention`]), removes
//! earlier versions of records and audit entries past their periods, and writes one audit entry.
//! Every record it changes moves to a new sequence number, so phones receive the purged version
//! on their next pull and the picture index applies it like any change. It works in batches of
//! [`BATCH`] records, one short transaction each, so pushes go on meanwhile; a record changed
//! between the read and the write is left for the next run.

use super::audit::{self, Actor, Event};
use super::sync_state;
use crate::db::DbConnection;
use crate::db::schema::{activity_logs, audit_log, observations, record_history, retention_settings, sync_quarantine};
use crate::domain::retention::{self, Policy, Removal};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};

/// Records read and written per transaction.
pub const BATCH: i64 = 1000;

/// An organisation's retention settings as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = retention_settings, treat_none_as_null = true)]
pub struct RetentionRow {
    pub organisation_id: String,
    pub free_text_months: Option<i32>,
    pub position_months: Option<i32>,
    pub history_months: Option<i32>,
    pub audit_months: Option<i32>,
    pub updated_by: Option<String>,
    pub updated_at: i64,
    pub last_run_at: Option<i64>,
    pub photo_months: Option<i32>,
}

impl RetentionRow {
    /// The periods it sets.
    pub fn policy(&self) -> Policy {
        let months = |n: Option<i32>| n.and_then(|n| u32::try_from(n).ok());
        Policy {
            free_text_months: months(self.free_text_months),
            position_months: months(self.position_months),
            history_months: months(self.history_months),
            audit_months: months(self.audit_months),
            photo_months: months(self.photo_months),
        }
    }
}

/// The organisation's settings, if any were ever set.
pub fn get(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<Option<RetentionRow>> {
    retention_settings::table.find(organisation_id).select(RetentionRow::as_select()).first(conn).optional()
}

/// Every organisation's settings.
pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<RetentionRow>> {
    retention_settings::table.select(RetentionRow::as_select()).order(retention_settings::organisation_id).load(conn)
}

/// Sets the organisation's periods, as `updated_by` (a user id; `None` for the command line).
pub fn set(
    conn: &mut DbConnection,
    organisation_id: &str,
    policy: &Policy,
    updated_by: Option<&str>,
    now_ms: i64,
) -> QueryResult<RetentionRow> {
    let months = |n: Option<u32>| n.and_then(|n| i32::try_from(n).ok());
    crate::db::write_transaction(conn, |conn| {
        let last_run_at = get(conn, organisation_id)?.and_then(|row| row.last_run_at);
        let row = RetentionRow {
            organisation_id: organisation_id.to_owned(),
            free_text_months: months(policy.free_text_months),
            position_months: months(policy.position_months),
            history_months: months(policy.history_months),
            audit_months: months(policy.audit_months),
            updated_by: updated_by.map(str::to_owned),
            updated_at: now_ms,
            last_run_at,
            photo_months: months(policy.photo_months),
        };
        let changed = diesel::update(retention_settings::table.find(organisation_id)).set(&row).execute(conn)?;
        if changed == 0 {
            diesel::insert_into(retention_settings::table).values(&row).execute(conn)?;
        }
        Ok(row)
    })
}

/// Writes the audit entry of a change of the periods.
pub fn audit_settings(conn: &mut DbConnection, actor: &Actor, policy: &Policy, now_ms: i64) -> QueryResult<()> {
    let mut filters = Map::new();
    filters.insert("policy".to_owned(), serde_json::to_value(policy).unwrap_or_default());
    let event = Event { action: "retention.settings", format: None, filters };
    audit::record_complete(conn, actor, event, 0, now_ms)
}

/// Claims the organisation's scheduled run: true for exactly one caller (of any process) per
/// `every_ms`.
pub fn claim(conn: &mut DbConnection, organisation_id: &str, now_ms: i64, every_ms: i64) -> QueryResult<bool> {
    let due = retention_settings::last_run_at
        .is_null()
        .or(retention_settings::last_run_at.le(now_ms.saturating_sub(every_ms)));
    let claimed = diesel::update(retention_settings::table.find(organisation_id).filter(due))
        .set(retention_settings::last_run_at.eq(now_ms))
        .execute(conn)?;
    Ok(claimed == 1)
}

/// What a run removed (or, in a dry run, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Purge {
    pub dry_run: bool,
    /// Observations whose note or review comment was emptied.
    pub observation_free_text: usize,
    /// Activity logs whose note was emptied.
    pub activity_free_text: usize,
    /// Observations whose exact position was coarsened.
    pub observation_positions: usize,
    /// Activity logs whose exact position was coarsened.
    pub activity_positions: usize,
    /// Earlier versions of purged records from which the same was removed (one cleaned of both
    /// text and position counts twice).
    pub history_versions_scrubbed: usize,
    /// Earlier versions removed for their age.
    pub history_versions_removed: usize,
    /// Quarantined versions from which free text or the exact position was removed.
    pub quarantined_versions_scrubbed: usize,
    /// Audit entries removed for their age.
    pub audit_entries_removed: usize,
    /// Photo attachments removed for their observation's age (the observations stay).
    pub photo_attachments_removed: usize,
    /// Photos whose bytes go with them.
    pub photos_removed: usize,
    /// Those photos (organisation, hash), whose files the caller removes from the store.
    #[serde(skip)]
    pub dropped_photos: Vec<(String, String)>,
}

impl Purge {
    /// Everything it counts.
    pub fn total(&self) -> usize {
        self.observation_free_text
            + self.activity_free_text
            + self.observation_positions
            + self.activity_positions
            + self.history_versions_scrubbed
            + self.history_versions_removed
            + self.quarantined_versions_scrubbed
            + self.audit_entries_removed
            + self.photo_attachments_removed
    }
}

/// The picture's darkness flags of a position at an instant (see `picture::darkness`).
pub type Darkness = fn(f64, f64, i64) -> u8;

/// Applies `policy` to the organisation's data as of `now_ms` (or counts what it would do), and
/// writes one audit entry for the run as `actor`.
pub fn run(
    conn: &mut DbConnection,
    actor: &Actor,
    policy: &Policy,
    now_ms: i64,
    dry_run: bool,
    darkness: Darkness,
) -> QueryResult<Purge> {
    let org = actor.organisation_id.as_str();
    let before = |months: Option<u32>| months.map(|months| retention::horizon(now_ms, months));
    let (text_before, position_before) = (before(policy.free_text_months), before(policy.position_months));
    let mut purge = Purge { dry_run, ..Purge::default() };
    if let Some(before) = text_before {
        observation_text(conn, org, before, dry_run, &mut purge)?;
        activity_text(conn, org, before, dry_run, &mut purge)?;
    }
    if let Some(before) = position_before {
        observation_positions(conn, org, before, dry_run, darkness, &mut purge)?;
        activity_positions(conn, org, before, dry_run, darkness, &mut purge)?;
    }
    purge.quarantined_versions_scrubbed = quarantine(conn, org, text_before, position_before, dry_run)?;
    if let Some(before) = before(policy.history_months) {
        let old = record_history::table
            .filter(record_history::organisation_id.eq(org))
            .filter(record_history::changed_at.lt(before));
        purge.history_versions_removed =
            if dry_run { count(old.count().get_result(conn)?) } else { diesel::delete(old).execute(conn)? };
    }
    if let Some(before) = before(policy.audit_months) {
        let old = audit_log::table.filter(audit_log::organisation_id.eq(org)).filter(audit_log::at.lt(before));
        purge.audit_entries_removed =
            if dry_run { count(old.count().get_result(conn)?) } else { diesel::delete(old).execute(conn)? };
    }
    if let Some(before) = before(policy.photo_months) {
        old_photos(conn, org, before, now_ms, dry_run, &mut purge)?;
    }
    if !dry_run {
        diesel::update(retention_settings::table.find(org))
            .set(retention_settings::last_run_at.eq(now_ms))
            .execute(conn)?;
    }
    let mut filters = Map::new();
    filters.insert("policy".to_owned(), serde_json::to_value(policy).unwrap_or_default());
    filters.insert("purge".to_owned(), serde_json::to_value(&purge).unwrap_or_default());
    let event = Event { action: "retention.run", format: None, filters };
    audit::record_complete(conn, actor, event, purge.total(), now_ms)?;
    Ok(purge)
}

/// Removes the photos of observations from before `before`: their attachments become tombstones
/// (phones remove them at their next pull) and the photos no live attachment has any more are
/// forgotten; the caller removes their files (`Purge::dropped_photos`).
fn old_photos(
    conn: &mut DbConnection,
    org: &str,
    before: i64,
    now_ms: i64,
    dry_run: bool,
    purge: &mut Purge,
) -> QueryResult<()> {
    use crate::db::schema::{attachments, photos};
    let old_observations = || {
        observations::table.filter(observations::organisation_id.eq(org)).filter(observations::observed_at.lt(before))
    };
    let live = || {
        attachments::table
            .filter(attachments::organisation_id.eq(org))
            .filter(attachments::deleted_at.is_null())
            .filter(attachments::observation_id.eq_any(old_observations().select(observations::id)))
    };
    let unattached = || {
        photos::table.filter(photos::organisation_id.eq(org)).filter(diesel::dsl::not(diesel::dsl::exists(
            attachments::table
                .filter(attachments::organisation_id.eq(photos::organisation_id))
                .filter(attachments::sha256.eq(photos::sha256))
                .filter(attachments::deleted_at.is_null()),
        )))
    };
    if dry_run {
        let ids: Vec<String> = live().select(attachments::sha256).load(conn)?;
        purge.photo_attachments_removed = ids.len();
        let mut hashes = ids;
        hashes.sort_unstable();
        hashes.dedup();
        let still_used: Vec<String> = attachments::table
            .filter(attachments::organisation_id.eq(org))
            .filter(attachments::deleted_at.is_null())
            .filter(attachments::sha256.eq_any(&hashes))
            .filter(diesel::dsl::not(attachments::observation_id.eq_any(old_observations().select(observations::id))))
            .select(attachments::sha256)
            .load(conn)?;
        let already: i64 = unattached().count().get_result(conn)?;
        purge.photos_removed = hashes.iter().filter(|hash| !still_used.contains(hash)).count() + count(already);
        return Ok(());
    }
    loop {
        let ids: Vec<String> = live().select(attachments::id).order(attachments::id).limit(BATCH).load(conn)?;
        if ids.is_empty() {
            break;
        }
        purge.photo_attachments_removed += crate::db::write_transaction(conn, |conn| {
            let seq = sync_state::take(conn)?;
            diesel::update(
                attachments::table
                    .filter(attachments::organisation_id.eq(org))
                    .filter(attachments::id.eq_any(&ids))
                    .filter(attachments::deleted_at.is_null()),
            )
            .set((attachments::deleted_at.eq(now_ms), attachments::server_seq.eq(seq)))
            .execute(conn)
        })?;
    }
    purge.dropped_photos = super::photos::drop_without_live(conn, org)?;
    purge.photos_removed = purge.dropped_photos.len();
    Ok(())
}

fn count(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// Goes through the records of `table` that `read` finds after an id (a batch at a time, in id
/// order; `id` names a record read) to remove what `removal` says: on a dry run only counts them; otherwise `write` changes each batch in one
/// transaction under a new sequence number (each change conditional, so a record changed since
/// the read is left for the next run). Earlier versions of the records lose the same (or are
/// counted in `scrubbed`). Returns how many records changed (or would).
fn in_batches<R>(
    conn: &mut DbConnection,
    (org, table, removal): (&str, &str, Removal),
    dry_run: bool,
    scrubbed: &mut usize,
    id: fn(&R) -> &String,
    mut read: impl FnMut(&mut DbConnection, &str) -> QueryResult<Vec<R>>,
    mut write: impl FnMut(&mut DbConnection, i64, &[R]) -> QueryResult<usize>,
) -> QueryResult<usize> {
    let (mut changed, mut after) = (0, String::new());
    loop {
        let rows = read(conn, &after)?;
        let Some(last) = rows.last() else { return Ok(changed) };
        after.clone_from(id(last));
        let ids: Vec<String> = rows.iter().map(|row| id(row).clone()).collect();
        if dry_run {
            changed += rows.len();
            *scrubbed += scrub_history(conn, org, table, &ids, removal, true)?;
            continue;
        }
        crate::db::write_transaction(conn, |conn| {
            let seq = sync_state::take(conn)?;
            changed += write(conn, seq, &rows)?;
            *scrubbed += scrub_history(conn, org, table, &ids, removal, false)?;
            QueryResult::Ok(())
        })?;
    }
}

const FREE_TEXT: Removal = Removal { free_text: true, position: false };
const POSITION: Removal = Removal { free_text: false, position: true };

fn the_id(id: &String) -> &String {
    id
}

fn observation_text(
    conn: &mut DbConnection,
    org: &str,
    before: i64,
    dry_run: bool,
    purge: &mut Purge,
) -> QueryResult<()> {
    let holds_text = || observations::note.ne("").or(observations::review_comment.is_not_null());
    let of_org = || observations::table.filter(observations::organisation_id.eq(org));
    purge.observation_free_text += in_batches(
        conn,
        (org, "observations", FREE_TEXT),
        dry_run,
        &mut purge.history_versions_scrubbed,
        the_id,
        |conn, after| {
            of_org()
                .filter(observations::observed_at.lt(before))
                .filter(holds_text())
                .filter(observations::id.gt(after))
                .order(observations::id.asc())
                .limit(BATCH)
                .select(observations::id)
                .load(conn)
        },
        |conn, seq, ids| {
            diesel::update(of_org().filter(observations::id.eq_any(ids)).filter(holds_text()))
                .set((
                    observations::note.eq(""),
                    observations::review_comment.eq(None::<String>),
                    observations::server_seq.eq(seq),
                ))
                .execute(conn)
        },
    )?;
    Ok(())
}

fn activity_text(conn: &mut DbConnection, org: &str, before: i64, dry_run: bool, purge: &mut Purge) -> QueryResult<()> {
    let of_org = || activity_logs::table.filter(activity_logs::organisation_id.eq(org));
    purge.activity_free_text += in_batches(
        conn,
        (org, "activity_logs", FREE_TEXT),
        dry_run,
        &mut purge.history_versions_scrubbed,
        the_id,
        |conn, after| {
            of_org()
                .filter(activity_logs::started_at.lt(before))
                .filter(activity_logs::note.ne(""))
                .filter(activity_logs::id.gt(after))
                .order(activity_logs::id.asc())
                .limit(BATCH)
                .select(activity_logs::id)
                .load(conn)
        },
        |conn, seq, ids| {
            diesel::update(of_org().filter(activity_logs::id.eq_any(ids)).filter(activity_logs::note.ne("")))
                .set((activity_logs::note.eq(""), activity_logs::server_seq.eq(seq)))
                .execute(conn)
        },
    )?;
    Ok(())
}

/// A record with an exact position: id, sequence when read, cell, latitude, longitude, time
/// (the cell and the position may be missing on an activity).
type Placed = (String, i64, Option<String>, Option<f64>, Option<f64>, i64);

fn placed_id(row: &Placed) -> &String {
    &row.0
}

/// The coarse position of a record read, and the darkness flags of its exact one.
fn coarsened(row: &Placed, darkness: Darkness) -> Option<(retention::Coarse, i32)> {
    let (_, _, cell, lat, lon, at) = row;
    let coarse = retention::coarsen_cell(cell.as_deref()?)?;
    Some((coarse, i32::from(darkness((*lat)?, (*lon)?, *at))))
}

fn observation_positions(
    conn: &mut DbConnection,
    org: &str,
    before: i64,
    dry_run: bool,
    darkness: Darkness,
    purge: &mut Purge,
) -> QueryResult<()> {
    purge.observation_positions += in_batches(
        conn,
        (org, "observations", POSITION),
        dry_run,
        &mut purge.history_versions_scrubbed,
        placed_id,
        |conn, after| {
            observations::table
                .filter(observations::organisation_id.eq(org))
                .filter(observations::observed_at.lt(before))
                .filter(observations::coarse_darkness.is_null())
                .filter(observations::cell.is_not_null())
                .filter(observations::id.gt(after))
                .order(observations::id.asc())
                .limit(BATCH)
                .select((
                    observations::id,
                    observations::server_seq,
                    observations::cell,
                    observations::lat.nullable(),
                    observations::lon.nullable(),
                    observations::observed_at,
                ))
                .load(conn)
        },
        |conn, seq, rows| {
            let mut changed = 0;
            for row in rows {
                let Some((coarse, dark)) = coarsened(row, darkness) else { continue };
                let unchanged_since_read = observations::table
                    .find((org, &row.0))
                    .filter(observations::server_seq.eq(row.1))
                    .filter(observations::coarse_darkness.is_null());
                changed += diesel::update(unchanged_since_read)
                    .set((
                        observations::lat.eq(coarse.lat),
                        observations::lon.eq(coarse.lon),
                        observations::cell.eq(&coarse.cell),
                        observations::accuracy_m.eq(None::<f64>),
                        observations::coarse_darkness.eq(dark),
                        observations::server_seq.eq(seq),
                    ))
                    .execute(conn)?;
            }
            Ok(changed)
        },
    )?;
    Ok(())
}

fn activity_positions(
    conn: &mut DbConnection,
    org: &str,
    before: i64,
    dry_run: bool,
    darkness: Darkness,
    purge: &mut Purge,
) -> QueryResult<()> {
    purge.activity_positions += in_batches(
        conn,
        (org, "activity_logs", POSITION),
        dry_run,
        &mut purge.history_versions_scrubbed,
        placed_id,
        |conn, after| {
            activity_logs::table
                .filter(activity_logs::organisation_id.eq(org))
                .filter(activity_logs::started_at.lt(before))
                .filter(activity_logs::coarse_darkness.is_null())
                .filter(activity_logs::cell.is_not_null())
                .filter(activity_logs::lat.is_not_null())
                .filter(activity_logs::lon.is_not_null())
                .filter(activity_logs::id.gt(after))
                .order(activity_logs::id.asc())
                .limit(BATCH)
                .select((
                    activity_logs::id,
                    activity_logs::server_seq,
                    activity_logs::cell,
                    activity_logs::lat,
                    activity_logs::lon,
                    activity_logs::started_at,
                ))
                .load(conn)
        },
        |conn, seq, rows| {
            let mut changed = 0;
            for row in rows {
                let Some((coarse, dark)) = coarsened(row, darkness) else { continue };
                let unchanged_since_read = activity_logs::table
                    .find((org, &row.0))
                    .filter(activity_logs::server_seq.eq(row.1))
                    .filter(activity_logs::coarse_darkness.is_null());
                changed += diesel::update(unchanged_since_read)
                    .set((
                        activity_logs::lat.eq(coarse.lat),
                        activity_logs::lon.eq(coarse.lon),
                        activity_logs::cell.eq(&coarse.cell),
                        activity_logs::coarse_darkness.eq(dark),
                        activity_logs::server_seq.eq(seq),
                    ))
                    .execute(conn)?;
            }
            Ok(changed)
        },
    )?;
    Ok(())
}

/// Removes from the earlier versions of the records `ids` what retention removed from the
/// records themselves; counts the versions that held some (and changes nothing on a dry run).
fn scrub_history(
    conn: &mut DbConnection,
    org: &str,
    table: &str,
    ids: &[String],
    removal: Removal,
    dry_run: bool,
) -> QueryResult<usize> {
    let versions: Vec<(String, String)> = record_history::table
        .filter(record_history::organisation_id.eq(org))
        .filter(record_history::table_name.eq(table))
        .filter(record_history::record_id.eq_any(ids))
        .select((record_history::id, record_history::previous))
        .load(conn)?;
    let mut scrubbed = 0;
    for (id, previous) in versions {
        let Ok(Value::Object(mut version)) = serde_json::from_str::<Value>(&previous) else { continue };
        if !retention::scrub(&mut version, removal) {
            continue;
        }
        scrubbed += 1;
        if !dry_run {
            diesel::update(record_history::table.find(&id))
                .set(record_history::previous.eq(Value::Object(version).to_string()))
                .execute(conn)?;
        }
    }
    Ok(scrubbed)
}

/// Removes free text and exact positions from quarantined versions received before the
/// horizons; each changed version moves to a new sequence number, so its author's phones get it.
fn quarantine(
    conn: &mut DbConnection,
    org: &str,
    text_before: Option<i64>,
    position_before: Option<i64>,
    dry_run: bool,
) -> QueryResult<usize> {
    let Some(oldest) = text_before.max(position_before) else { return Ok(0) };
    let rows: Vec<(String, String, String, i64)> = sync_quarantine::table
        .filter(sync_quarantine::organisation_id.eq(org))
        .filter(sync_quarantine::received_at.lt(oldest))
        .select((
            sync_quarantine::table_name,
            sync_quarantine::record_id,
            sync_quarantine::payload,
            sync_quarantine::received_at,
        ))
        .load(conn)?;
    let mut changed: Vec<(String, String, String, i64)> = Vec::new();
    for (table, id, payload, received_at) in rows {
        let removal = Removal {
            free_text: text_before.is_some_and(|before| received_at < before),
            position: position_before.is_some_and(|before| received_at < before),
        };
        let Ok(Value::Object(mut version)) = serde_json::from_str::<Value>(&payload) else { continue };
        if retention::scrub(&mut version, removal) {
            changed.push((table, id, Value::Object(version).to_string(), received_at));
        }
    }
    if dry_run || changed.is_empty() {
        return Ok(changed.len());
    }
    crate::db::write_transaction(conn, |conn| {
        let seq = sync_state::take(conn)?;
        let mut scrubbed = 0;
        for (table, id, payload, received_at) in &changed {
            // Only the version read: one a phone sent since (received later) is left alone.
            scrubbed += diesel::update(
                sync_quarantine::table.find((org, table, id)).filter(sync_quarantine::received_at.eq(received_at)),
            )
            .set((sync_quarantine::payload.eq(payload), sync_quarantine::server_seq.eq(seq)))
            .execute(conn)?;
        }
        Ok(scrubbed)
    })
}
