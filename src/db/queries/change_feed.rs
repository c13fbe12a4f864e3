//! The change feed the picture index tails: the records' rows past a sequence number, in
//! sequence order, with only the columns the picture keeps.

use crate::db::DbConnection;
use crate::db::schema::{activity_logs, observations, organisations, units, users};
use diesel::prelude::*;

/// An observation as the change feed hands it on.
#[derive(Debug, Queryable)]
pub struct ObservationChange {
    pub id: String,
    pub user_id: String,
    pub category: String,
    pub severity: i32,
    pub perceived_safety: i32,
    pub observed_at: i64,
    pub area_code: Option<String>,
    pub cell: Option<String>,
    pub lat: f64,
    pub lon: f64,
    /// The darkness flags kept when retention coarsened the position.
    pub coarse_darkness: Option<i32>,
    pub deleted_at: Option<i64>,
    pub server_seq: i64,
}

/// An activity log as the change feed hands it on.
#[derive(Debug, Queryable)]
pub struct ActivityChange {
    pub id: String,
    pub activity_type: String,
    pub unit: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub area_code: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// The darkness flags kept when retention coarsened the position.
    pub coarse_darkness: Option<i32>,
    /// Girls, boys, other and unknown gender: the contacts.
    pub genders: (i32, i32, i32, i32),
    pub deleted_at: Option<i64>,
    pub server_seq: i64,
}

/// Where a read of the change feed resumes: after this sequence number, and within it after this
/// record id. A push stores all its records under one sequence number, so a page may end inside
/// such a group; the next page resumes inside it rather than skipping the rest.
pub type Cursor = (i64, Option<String>);

/// The organisation's observations changed after `cursor`, up to sequence `up_to`, in order of
/// (sequence, id), at most `limit`.
pub fn observations(
    conn: &mut DbConnection,
    organisation_id: &str,
    cursor: &Cursor,
    up_to: i64,
    limit: i64,
) -> QueryResult<Vec<ObservationChange>> {
    let (after, after_id) = cursor;
    let mut query = observations::table
        .filter(observations::organisation_id.eq(organisation_id))
        .filter(observations::server_seq.le(up_to))
        .into_boxed();
    query = match after_id {
        None => query.filter(observations::server_seq.gt(*after)),
        // `seq >= after` first, so the (organisation, seq) index bounds the scan.
        Some(id) => query
            .filter(observations::server_seq.ge(*after))
            .filter(observations::server_seq.gt(*after).or(observations::id.gt(id.clone()))),
    };
    query
        .order((observations::server_seq.asc(), observations::id.asc()))
        .select((
            observations::id,
            observations::user_id,
            observations::category,
            observations::severity,
            observations::perceived_safety,
            observations::observed_at,
            observations::area_code,
            observations::cell,
            observations::lat,
            observations::lon,
            observations::coarse_darkness,
            observations::deleted_at,
            observations::server_seq,
        ))
        .limit(limit)
        .load(conn)
}

/// The organisation's activity logs changed after `cursor`, up to sequence `up_to`, in order of
/// (sequence, id), at most `limit`.
pub fn activities(
    conn: &mut DbConnection,
    organisation_id: &str,
    cursor: &Cursor,
    up_to: i64,
    limit: i64,
) -> QueryResult<Vec<ActivityChange>> {
    let (after, after_id) = cursor;
    let mut query = activity_logs::table
        .filter(activity_logs::organisation_id.eq(organisation_id))
        .filter(activity_logs::server_seq.le(up_to))
        .into_boxed();
    query = match after_id {
        None => query.filter(activity_logs::server_seq.gt(*after)),
        // `seq >= after` first, so the (organisation, seq) index bounds the scan.
        Some(id) => query
            .filter(activity_logs::server_seq.ge(*after))
            .filter(activity_logs::server_seq.gt(*after).or(activity_logs::id.gt(id.clone()))),
    };
    query
        .order((activity_logs::server_seq.asc(), activity_logs::id.asc()))
        .select((
            activity_logs::id,
            activity_logs::activity_type,
            activity_logs::unit,
            activity_logs::started_at,
            activity_logs::ended_at,
            activity_logs::area_code,
            activity_logs::lat,
            activity_logs::lon,
            activity_logs::coarse_darkness,
            (activity_logs::girls, activity_logs::boys, activity_logs::gender_other, activity_logs::gender_unknown),
            activity_logs::deleted_at,
            activity_logs::server_seq,
        ))
        .limit(limit)
        .load(conn)
}

/// Each user of the organisation with the slug of their unit, if they have one.
pub fn user_units(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<Vec<(String, Option<String>)>> {
    users::table
        .left_join(units::table)
        .filter(users::organisation_id.eq(organisation_id))
        .select((users::id, units::slug.nullable()))
        .load(conn)
}

/// The organisation's time zone, as stored.
pub fn time_zone(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<String> {
    organisations::table.find(organisation_id).select(organisations::time_zone).get_result(conn)
}
