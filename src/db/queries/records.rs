//! Observations and activity logs for the dashboard: filtered keyset listing, review, history.

use super::history::{self, Version};
use super::sync_state;
use crate::db::DbConnection;
use crate::db::models::{ActivityLogRow, ObservationRow};
use crate::db::schema::{activity_logs, observations, units, users};
use crate::domain::push::merge::{self, Reviewer};
use crate::domain::records::ReviewChange;
use crate::domain::redaction::redact;
use crate::domain::stored::{ActivityLog, Observation};
use crate::domain::sync::SyncedTable;
use diesel::prelude::*;

/// Filters shared by the record lists; `None` means "any".
#[derive(Debug, Default, Clone)]
pub struct RecordFilter {
    /// Only this user's records (field users see their own).
    pub user_id: Option<String>,
    /// From this time (ms, inclusive).
    pub from: Option<i64>,
    /// Until this time (ms, exclusive).
    pub to: Option<i64>,
    /// Category or activity type slugs.
    pub kinds: Vec<String>,
    /// Review statuses (observations only).
    pub statuses: Vec<String>,
    /// Area code.
    pub area: Option<String>,
    /// Unit slug: the activity's unit, or the reporter's unit for observations.
    pub unit: Option<String>,
    /// Keyset position: records strictly before (time, id), newest first.
    pub before: Option<(i64, String)>,
    /// Page size.
    pub limit: i64,
}

/// A page of observations, newest first; tombstones are left out.
pub fn list_observations(
    conn: &mut DbConnection,
    organisation_id: &str,
    filter: &RecordFilter,
) -> QueryResult<Vec<Observation>> {
    let mut query = observations::table
        .filter(observations::organisation_id.eq(organisation_id))
        .filter(observations::deleted_at.is_null())
        .select(ObservationRow::as_select())
        .order((observations::observed_at.desc(), observations::id.desc()))
        .limit(filter.limit)
        .into_boxed();
    if let Some(user_id) = &filter.user_id {
        query = query.filter(observations::user_id.eq(user_id.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(observations::observed_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(observations::observed_at.lt(to));
    }
    if !filter.kinds.is_empty() {
        query = query.filter(observations::category.eq_any(filter.kinds.clone()));
    }
    if !filter.statuses.is_empty() {
        query = query.filter(observations::status.eq_any(filter.statuses.clone()));
    }
    if let Some(area) = &filter.area {
        query = query.filter(observations::area_code.eq(area.clone()));
    }
    if let Some(unit) = &filter.unit {
        let unit_ids = units::table
            .filter(units::organisation_id.eq(organisation_id.to_owned()))
            .filter(units::slug.eq(unit.clone()))
            .select(units::id.nullable());
        let members = users::table.filter(users::unit_id.eq_any(unit_ids)).select(users::id);
        query = query.filter(observations::user_id.eq_any(members));
    }
    if let Some((time, id)) = &filter.before {
        query = query.filter(
            observations::observed_at
                .lt(*time)
                .or(observations::observed_at.eq(*time).and(observations::id.lt(id.clone()))),
        );
    }
    Ok(query.load::<ObservationRow>(conn)?.into_iter().map(Observation::from).collect())
}

/// A page of activity logs, newest first; tombstones are left out.
pub fn list_activities(
    conn: &mut DbConnection,
    organisation_id: &str,
    filter: &RecordFilter,
) -> QueryResult<Vec<ActivityLog>> {
    let mut query = activity_logs::table
        .filter(activity_logs::organisation_id.eq(organisation_id))
        .filter(activity_logs::deleted_at.is_null())
        .select(ActivityLogRow::as_select())
        .order((activity_logs::started_at.desc(), activity_logs::id.desc()))
        .limit(filter.limit)
        .into_boxed();
    if let Some(user_id) = &filter.user_id {
        query = query.filter(activity_logs::user_id.eq(user_id.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(activity_logs::started_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(activity_logs::started_at.lt(to));
    }
    if !filter.kinds.is_empty() {
        query = query.filter(activity_logs::activity_type.eq_any(filter.kinds.clone()));
    }
    if let Some(area) = &filter.area {
        query = query.filter(activity_logs::area_code.eq(area.clone()));
    }
    if let Some(unit) = &filter.unit {
        query = query.filter(activity_logs::unit.eq(unit.clone()));
    }
    if let Some((time, id)) = &filter.before {
        query = query.filter(
            activity_logs::started_at
                .lt(*time)
                .or(activity_logs::started_at.eq(*time).and(activity_logs::id.lt(id.clone()))),
        );
    }
    Ok(query.load::<ActivityLogRow>(conn)?.into_iter().map(ActivityLog::from).collect())
}

/// One observation (not a tombstone).
pub fn observation(conn: &mut DbConnection, organisation_id: &str, id: &str) -> QueryResult<Option<Observation>> {
    observations::table
        .find((organisation_id, id))
        .filter(observations::deleted_at.is_null())
        .select(ObservationRow::as_select())
        .first(conn)
        .optional()
        .map(|row| row.map(Observation::from))
}

/// Which of these ids are observations of the organisation (not tombstones).
pub fn existing_observations(
    conn: &mut DbConnection,
    organisation_id: &str,
    ids: &[String],
) -> QueryResult<std::collections::HashSet<String>> {
    let mut found = std::collections::HashSet::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<String> = observations::table
            .filter(observations::organisation_id.eq(organisation_id))
            .filter(observations::id.eq_any(chunk))
            .filter(observations::deleted_at.is_null())
            .select(observations::id)
            .load(conn)?;
        found.extend(rows);
    }
    Ok(found)
}

/// One activity log (not a tombstone).
pub fn activity(conn: &mut DbConnection, organisation_id: &str, id: &str) -> QueryResult<Option<ActivityLog>> {
    activity_logs::table
        .find((organisation_id, id))
        .filter(activity_logs::deleted_at.is_null())
        .select(ActivityLogRow::as_select())
        .first(conn)
        .optional()
        .map(|row| row.map(ActivityLog::from))
}

/// Locks the stored rows of these records until the transaction ends, in id order, so that a
/// read-modify-write in it sees the latest committed version and nobody changes it before the
/// commit. On PostgreSQL another process's writer would otherwise overwrite it or be
/// overwritten; on SQLite the write transaction already excludes every other writer. A record
/// not stored yet is not locked: a second insert of it fails on its key and is tried again
/// (see [`crate::db::write_transaction_retrying`]).
pub fn lock(conn: &mut DbConnection, organisation_id: &str, table: SyncedTable, ids: &[&str]) -> QueryResult<()> {
    let DbConnection::Postgres(pg) = conn else { return Ok(()) };
    match table {
        SyncedTable::Observations => observations::table
            .filter(observations::organisation_id.eq(organisation_id))
            .filter(observations::id.eq_any(ids))
            .order(observations::id)
            .select(observations::id)
            .for_update()
            .load::<String>(pg)
            .map(drop),
        SyncedTable::ActivityLogs => activity_logs::table
            .filter(activity_logs::organisation_id.eq(organisation_id))
            .filter(activity_logs::id.eq_any(ids))
            .order(activity_logs::id)
            .select(activity_logs::id)
            .for_update()
            .load::<String>(pg)
            .map(drop),
        other => Err(super::not_served(other, "records")),
    }
}

/// Applies a coordinator's review to observations, in one transaction under one sequence
/// number (so the reporters' phones get it on their next pull), keeping each previous version
/// in the history. Answers, in the order of `ids`, each observation as it now is and whether
/// the review changed it, or `None` where there is no such observation.
pub fn review(
    conn: &mut DbConnection,
    organisation_id: &str,
    ids: &[&str],
    change: &ReviewChange,
    reviewer: &Reviewer<'_>,
) -> QueryResult<Vec<Option<(Observation, bool)>>> {
    let change = ReviewChange {
        status: change.status.clone(),
        review_comment: change.review_comment.as_ref().map(|comment| comment.as_deref().map(|c| redact(c).text)),
    };
    crate::db::write_transaction_retrying(conn, |conn| {
        let seq = sync_state::take(conn)?;
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        lock(conn, organisation_id, SyncedTable::Observations, &sorted)?;
        let mut answers = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(current) = observation(conn, organisation_id, id)? else {
                answers.push(None);
                continue;
            };
            let Some(next) = merge::review(&current, &change, reviewer, seq) else {
                answers.push(Some((current, false)));
                continue;
            };
            diesel::update(observations::table.find((organisation_id, id)))
                .set(&ObservationRow::from(next.clone()))
                .execute(conn)?;
            history::keep_quarantine_on_top(conn, organisation_id, "observations", id, seq)?;
            let version = Version {
                organisation_id,
                table: SyncedTable::Observations,
                record_id: id,
                seq,
                changed_by: reviewer.user_id,
                device_id: reviewer.device_id,
                at: reviewer.now_ms,
                change: "review",
            };
            history::keep(conn, &version, &current.to_raw(), &next.to_raw())?;
            answers.push(Some((next, true)));
        }
        Ok(answers)
    })
}

/// Who reported an observation, tombstones included.
pub fn observation_owner(conn: &mut DbConnection, organisation_id: &str, id: &str) -> QueryResult<Option<String>> {
    observations::table.find((organisation_id, id)).select(observations::user_id).first(conn).optional()
}

/// Who logged an activity, tombstones included.
pub fn activity_owner(conn: &mut DbConnection, organisation_id: &str, id: &str) -> QueryResult<Option<String>> {
    activity_logs::table.find((organisation_id, id)).select(activity_logs::user_id).first(conn).optional()
}

/// One of the newest observations of some areas.
#[derive(Debug, Queryable)]
pub struct Latest {
    pub id: String,
    pub category: String,
    pub severity: i32,
    pub perceived_safety: i32,
    pub observed_at: i64,
    pub status: String,
    pub area_code: Option<String>,
}

/// The newest `limit` observations in the areas during `[from, to)`, newest first.
pub fn latest_in_areas(
    conn: &mut DbConnection,
    organisation_id: &str,
    areas: &[String],
    from: i64,
    to: i64,
    limit: i64,
) -> QueryResult<Vec<Latest>> {
    observations::table
        .filter(observations::organisation_id.eq(organisation_id))
        .filter(observations::deleted_at.is_null())
        .filter(observations::area_code.eq_any(areas))
        .filter(observations::observed_at.ge(from))
        .filter(observations::observed_at.lt(to))
        .order(observations::observed_at.desc())
        .select((
            observations::id,
            observations::category,
            observations::severity,
            observations::perceived_safety,
            observations::observed_at,
            observations::status,
            observations::area_code,
        ))
        .limit(limit)
        .load(conn)
}

/// How many of the organisation's observations had personal data redacted from their note.
pub fn count_redacted(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<usize> {
    let count: i64 = observations::table
        .filter(observations::organisation_id.eq(organisation_id))
        .filter(observations::redacted.eq(true))
        .count()
        .get_result(conn)?;
    Ok(usize::try_from(count).unwrap_or_default())
}
