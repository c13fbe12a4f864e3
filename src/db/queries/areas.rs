//! Areas: import (all or nothing, idempotent by code), the index records are assigned by, and
//! the reassignment of records after the areas changed.

use super::sync_state;
use crate::db::DbConnection;
use crate::db::schema::{activity_logs, area_jobs, areas, observations};
use crate::domain::areas::{AreaIndex, AreaInput};
use diesel::prelude::*;
use geo::MultiPolygon;
use std::collections::HashSet;

/// Outlines sent to phones are simplified to about this many degrees (≈ 10 m).
pub const OUTLINE_TOLERANCE: f64 = 0.0001;

/// An area as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = areas, primary_key(organisation_id, id), treat_none_as_null = true)]
pub struct AreaRow {
    pub organisation_id: String,
    pub id: String,
    pub code: String,
    pub name: String,
    pub parent_code: Option<String>,
    pub geometry: String,
    pub outline: String,
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
    pub vertices: i32,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    pub server_seq: i64,
}

impl AreaRow {
    /// The stored geometry.
    pub fn shape(&self) -> Option<MultiPolygon<f64>> {
        let geometry: geojson::Geometry = self.geometry.parse().ok()?;
        match geo::Geometry::<f64>::try_from(geometry).ok()? {
            geo::Geometry::Polygon(polygon) => Some(MultiPolygon::new(vec![polygon])),
            geo::Geometry::MultiPolygon(multi) => Some(multi),
            _ => None,
        }
    }
}

/// The organisation's live areas, by code.
pub fn list(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<Vec<AreaRow>> {
    areas::table
        .filter(areas::organisation_id.eq(organisation_id))
        .filter(areas::deleted_at.is_null())
        .order(areas::code.asc())
        .select(AreaRow::as_select())
        .load(conn)
}

/// The codes of the organisation's live areas.
pub fn codes(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<HashSet<String>> {
    Ok(areas::table
        .filter(areas::organisation_id.eq(organisation_id))
        .filter(areas::deleted_at.is_null())
        .select(areas::code)
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// The index of the organisation's live areas.
pub fn index(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<AreaIndex> {
    let rows = list(conn, organisation_id)?;
    Ok(AreaIndex::new(rows.into_iter().filter_map(|row| {
        let shape = row.shape()?;
        Some((row.code, row.parent_code, shape))
    })))
}

/// What an import did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ImportCounts {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// Stores the areas in one transaction: new codes are created, known ones updated when they
/// differ, deleted ones brought back.
pub fn import(
    conn: &mut DbConnection,
    organisation_id: &str,
    inputs: &[AreaInput],
    now_ms: i64,
) -> QueryResult<ImportCounts> {
    crate::db::write_transaction(conn, |conn| {
        let seq = sync_state::take(conn)?;
        let mut counts = ImportCounts::default();
        for input in inputs {
            let existing: Vec<AreaRow> = areas::table
                .filter(areas::organisation_id.eq(organisation_id))
                .filter(areas::code.eq(&input.code))
                .select(AreaRow::as_select())
                .load(conn)?;
            let [min_lon, min_lat, max_lon, max_lat] = input.bbox();
            let mut row = AreaRow {
                organisation_id: organisation_id.to_owned(),
                id: uuid::Uuid::now_v7().to_string(),
                code: input.code.clone(),
                name: input.name.clone(),
                parent_code: input.parent_code.clone(),
                geometry: input.geometry_json(),
                outline: input.outline_json(OUTLINE_TOLERANCE),
                min_lon,
                min_lat,
                max_lon,
                max_lat,
                vertices: i32::try_from(input.vertices()).unwrap_or(i32::MAX),
                created_at: now_ms,
                updated_at: now_ms,
                deleted_at: None,
                server_seq: seq,
            };
            match existing.into_iter().next() {
                None => {
                    diesel::insert_into(areas::table).values(&row).execute(conn)?;
                    counts.created += 1;
                }
                Some(old) => {
                    let same = old.deleted_at.is_none()
                        && (&old.name, &old.parent_code, &old.geometry) == (&row.name, &row.parent_code, &row.geometry);
                    if same {
                        counts.unchanged += 1;
                        continue;
                    }
                    row.id = old.id.clone();
                    row.created_at = old.created_at;
                    diesel::update(areas::table.find((organisation_id, &old.id))).set(&row).execute(conn)?;
                    counts.updated += 1;
                }
            }
        }
        Ok(counts)
    })
}

/// Why an import was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The collection is not valid; every problem names its feature.
    #[error("the areas are not valid")]
    Invalid(Vec<crate::domain::FieldError>),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Imports a GeoJSON FeatureCollection of areas for the organisation and creates the job that
/// reassigns its records when anything changed. Shared by the API and the command line.
pub fn import_collection(
    conn: &mut DbConnection,
    organisation_id: &str,
    body: &serde_json::Value,
) -> Result<(ImportCounts, Option<AreaJob>), ImportError> {
    let stored = codes(conn, organisation_id)?;
    let inputs = crate::domain::areas::parse_collection(body, &stored).map_err(ImportError::Invalid)?;
    let now = chrono::Utc::now().timestamp_millis();
    let counts = import(conn, organisation_id, &inputs, now)?;
    let job = if counts.created + counts.updated > 0 { Some(create_job(conn, organisation_id, now)?) } else { None };
    Ok((counts, job))
}

/// A reassignment job.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = area_jobs)]
pub struct AreaJob {
    pub id: String,
    pub organisation_id: String,
    pub state: String,
    pub total: i64,
    pub done: i64,
    pub changed: i64,
    pub last_table: Option<String>,
    pub last_id: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// Starts a job that reassigns every record of the organisation.
pub fn create_job(conn: &mut DbConnection, organisation_id: &str, now_ms: i64) -> QueryResult<AreaJob> {
    let observations: i64 =
        observations::table.filter(observations::organisation_id.eq(organisation_id)).count().get_result(conn)?;
    let activities: i64 =
        activity_logs::table.filter(activity_logs::organisation_id.eq(organisation_id)).count().get_result(conn)?;
    let job = AreaJob {
        id: uuid::Uuid::now_v7().to_string(),
        organisation_id: organisation_id.to_owned(),
        state: "running".to_owned(),
        total: observations + activities,
        done: 0,
        changed: 0,
        last_table: None,
        last_id: None,
        created_at: now_ms,
        finished_at: None,
    };
    diesel::insert_into(area_jobs::table).values(&job).execute(conn)?;
    Ok(job)
}

/// The organisation's jobs, newest first.
pub fn jobs(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<Vec<AreaJob>> {
    area_jobs::table
        .filter(area_jobs::organisation_id.eq(organisation_id))
        .order(area_jobs::created_at.desc())
        .limit(50)
        .select(AreaJob::as_select())
        .load(conn)
}

/// Jobs left unfinished (by a restart).
pub fn unfinished_jobs(conn: &mut DbConnection) -> QueryResult<Vec<AreaJob>> {
    area_jobs::table.filter(area_jobs::state.eq("running")).select(AreaJob::as_select()).load(conn)
}

/// Records reassigned per transaction.
const BATCH: i64 = 1000;

/// Does one batch of a job: the next records after the job's position get the area the index
/// gives them; the changed ones move to a new sequence number so that phones and the picture
/// see the change. Returns false once the job is finished.
pub fn run_batch(conn: &mut DbConnection, job: &mut AreaJob, index: &AreaIndex, now_ms: i64) -> QueryResult<bool> {
    let table = job.last_table.clone().unwrap_or_else(|| "observations".to_owned());
    let after = job.last_id.clone().unwrap_or_default();
    let org = job.organisation_id.clone();
    crate::db::write_transaction(conn, |conn| {
        let (ids, moves): (Vec<String>, Vec<(String, Option<String>)>) = if table == "observations" {
            let rows: Vec<(String, f64, f64, Option<String>)> = observations::table
                .filter(observations::organisation_id.eq(&org))
                .filter(observations::id.gt(&after))
                .order(observations::id.asc())
                .limit(BATCH)
                .select((observations::id, observations::lon, observations::lat, observations::area_code))
                .load(conn)?;
            let ids = rows.iter().map(|r| r.0.clone()).collect();
            let moves = rows
                .into_iter()
                .filter_map(|(id, lon, lat, area)| {
                    let new = index.locate(lon, lat).map(str::to_owned);
                    (new != area).then_some((id, new))
                })
                .collect();
            (ids, moves)
        } else {
            type Placed = (String, Option<f64>, Option<f64>, Option<String>);
            let rows: Vec<Placed> = activity_logs::table
                .filter(activity_logs::organisation_id.eq(&org))
                .filter(activity_logs::id.gt(&after))
                .order(activity_logs::id.asc())
                .limit(BATCH)
                .select((activity_logs::id, activity_logs::lon, activity_logs::lat, activity_logs::area_code))
                .load(conn)?;
            let ids = rows.iter().map(|r| r.0.clone()).collect();
            // Only activities with a position are placed by the server; the others keep the
            // area their reporter chose.
            let moves = rows
                .into_iter()
                .filter_map(|(id, lon, lat, area)| {
                    let (lon, lat) = (lon?, lat?);
                    let new = index.locate(lon, lat).map(str::to_owned);
                    (new != area).then_some((id, new))
                })
                .collect();
            (ids, moves)
        };
        if !moves.is_empty() {
            let seq = sync_state::take(conn)?;
            for (id, area) in &moves {
                if table == "observations" {
                    diesel::update(observations::table.find((&org, id)))
                        .set((observations::area_code.eq(area), observations::server_seq.eq(seq)))
                        .execute(conn)?;
                } else {
                    diesel::update(activity_logs::table.find((&org, id)))
                        .set((activity_logs::area_code.eq(area), activity_logs::server_seq.eq(seq)))
                        .execute(conn)?;
                }
            }
        }
        job.done += i64::try_from(ids.len()).unwrap_or(0);
        job.changed += i64::try_from(moves.len()).unwrap_or(0);
        let more = match ids.last() {
            Some(last) => {
                job.last_table = Some(table.clone());
                job.last_id = Some(last.clone());
                true
            }
            None if table == "observations" => {
                job.last_table = Some("activity_logs".to_owned());
                job.last_id = None;
                true
            }
            None => {
                job.state = "done".to_owned();
                job.finished_at = Some(now_ms);
                false
            }
        };
        diesel::update(area_jobs::table.find(&job.id))
            .set((
                area_jobs::state.eq(&job.state),
                area_jobs::done.eq(job.done),
                area_jobs::changed.eq(job.changed),
                area_jobs::last_table.eq(&job.last_table),
                area_jobs::last_id.eq(&job.last_id),
                area_jobs::finished_at.eq(job.finished_at),
            ))
            .execute(conn)?;
        Ok(more)
    })
}

/// The organisation's live areas as (code, name, parent code), without their geometry.
pub fn tree(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<Vec<(String, String, Option<String>)>> {
    areas::table
        .filter(areas::organisation_id.eq(organisation_id))
        .filter(areas::deleted_at.is_null())
        .order(areas::code.asc())
        .select((areas::code, areas::name, areas::parent_code))
        .load(conn)
}
