//! Areas: import (all or nothing, idempotent by code), soft delete, the index records are
//! assigned by, and the organisation's areas version that tells whether an index is current.
//!
//! # Why ingest never keeps a record placed by old areas
//!
//! Every change to an organisation's areas (an import that changes something, a delete) bumps
//! `organisations.areas_version` and creates the reassignment job in one transaction. The push
//! writer reads the version with [`version_for_records`] before it reads or writes any record,
//! re-placing its records with an index of that version when the push was prepared against
//! another. The two exclude each other on the organisation's row: the bump is an update (an
//! exclusive row lock, held until commit), the writer's read holds a shared lock on the same
//! row until its commit (PostgreSQL `FOR SHARE`; on SQLite the write lock excludes all other
//! writers anyway). So either the area change committed before the writer's read (and the
//! writer reads the new version and places its records with the new areas), or its bump waits
//! for the writer's commit (and its job, committed after that, reads the pushed rows and places
//! them again). No record is left assigned from areas older than the last committed change
//! without a job to fix it. Writers of records in several processes share the lock, so they
//! do not wait for each other here.

use super::area_jobs::{self, AreaJob, Lease};
use super::sync_state;
use crate::db::DbConnection;
use crate::db::schema::{areas, organisations};
use crate::domain::areas::{AreaIndex, AreaInput};
use diesel::prelude::*;
use geo::MultiPolygon;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

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
/// The rectangle around the organisation's live areas, `[min_lon, min_lat, max_lon, max_lat]`.
pub fn extent(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<Option<[f64; 4]>> {
    use diesel::dsl::{max, min};
    let (a, b, c, d) = areas::table
        .filter(areas::organisation_id.eq(organisation_id))
        .filter(areas::deleted_at.is_null())
        .select((min(areas::min_lon), min(areas::min_lat), max(areas::max_lon), max(areas::max_lat)))
        .first::<(Option<f64>, Option<f64>, Option<f64>, Option<f64>)>(conn)?;
    Ok(match (a, b, c, d) {
        (Some(a), Some(b), Some(c), Some(d)) => Some([a, b, c, d]),
        _ => None,
    })
}

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

/// The organisation's areas version: bumped by every change to its areas.
pub fn version(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<i64> {
    organisations::table.find(organisation_id).select(organisations::areas_version).first(conn)
}

/// The organisation's areas version, for a transaction that writes records placed by it: the
/// organisation's row stays locked against an area change until the transaction ends (see the
/// module's documentation).
pub fn version_for_records(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<i64> {
    match conn {
        DbConnection::Postgres(pg) => {
            organisations::table.find(organisation_id).select(organisations::areas_version).for_share().first(pg)
        }
        DbConnection::Sqlite(_) => version(conn, organisation_id),
    }
}

/// The index of the organisation's live areas with the version it was read at. The version is
/// read first: should the areas change in between, the index is newer than its version says,
/// and a holder that compares versions reloads it rather than trusting an older one.
pub fn versioned_index(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<(i64, AreaIndex)> {
    let version = version(conn, organisation_id)?;
    Ok((version, index(conn, organisation_id)?))
}

/// Marks the organisation's areas as changed; call it in the transaction that changes them.
fn bump_version(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<i64> {
    diesel::update(organisations::table.find(organisation_id))
        .set(organisations::areas_version.eq(organisations::areas_version + 1))
        .returning(organisations::areas_version)
        .get_result(conn)
}

/// Indexes of the current areas per organisation, held by one writer and reloaded only when
/// the organisation's areas version moved on.
#[derive(Default)]
pub struct CurrentAreas {
    by_organisation: HashMap<String, (i64, Arc<AreaIndex>)>,
}

impl CurrentAreas {
    /// The index of the organisation's areas at `version` (the version just read in the
    /// caller's transaction).
    pub fn at(&mut self, conn: &mut DbConnection, organisation_id: &str, version: i64) -> QueryResult<Arc<AreaIndex>> {
        if let Some((held, index)) = self.by_organisation.get(organisation_id)
            && *held == version
        {
            return Ok(index.clone());
        }
        let index = Arc::new(index(conn, organisation_id)?);
        self.by_organisation.insert(organisation_id.to_owned(), (version, index.clone()));
        Ok(index)
    }
}

/// What an import did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ImportCounts {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// Stores the areas in one transaction: new codes are created, known ones updated when they
/// differ, deleted ones brought back (a deleted area's code stays reserved for this).
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

/// Imports a GeoJSON FeatureCollection of areas for the organisation and, when anything
/// changed, bumps the areas version and creates the job that reassigns its records (leased to
/// `lease`'s owner), all in one transaction. Shared by the API and the command line.
pub fn import_collection(
    conn: &mut DbConnection,
    organisation_id: &str,
    body: &serde_json::Value,
    lease: &Lease,
) -> Result<(ImportCounts, Option<AreaJob>), ImportError> {
    let stored = codes(conn, organisation_id)?;
    let inputs = crate::domain::areas::parse_collection(body, &stored).map_err(ImportError::Invalid)?;
    if let Some(bbox) = super::organisations::bbox(conn, organisation_id)? {
        crate::domain::areas::within(&inputs, &bbox).map_err(ImportError::Invalid)?;
    }
    let now = chrono::Utc::now().timestamp_millis();
    let imported = crate::db::write_transaction(conn, |conn| {
        let counts = import(conn, organisation_id, &inputs, now)?;
        if counts.created + counts.updated == 0 {
            return Ok((counts, None));
        }
        bump_version(conn, organisation_id)?;
        Ok::<_, diesel::result::Error>((counts, Some(area_jobs::create(conn, organisation_id, now, lease)?)))
    })?;
    Ok(imported)
}

/// Why a delete was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    #[error("no live area has the code `{0}`")]
    NotFound(String),
    /// Live areas name it as their parent: (code, name) of each.
    #[error("live areas have `{code}` as their parent")]
    HasChildren { code: String, children: Vec<(String, String)> },
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Deletes a live area softly (its row stays with `deleted_at`, so the code stays reserved and a
/// later import brings it back), sends the delete to phones under a new sequence number, bumps
/// the areas version and creates the job that reassigns its records, in one transaction.
pub fn delete(
    conn: &mut DbConnection,
    organisation_id: &str,
    code: &str,
    now_ms: i64,
    lease: &Lease,
) -> Result<AreaJob, DeleteError> {
    crate::db::write_transaction(conn, |conn| {
        let seq = sync_state::take(conn)?;
        let live = || {
            areas::table
                .filter(areas::organisation_id.eq(organisation_id))
                .filter(areas::deleted_at.is_null())
                .into_boxed()
        };
        let id: Option<String> = live().filter(areas::code.eq(code)).select(areas::id).first(conn).optional()?;
        let id = id.ok_or_else(|| DeleteError::NotFound(code.to_owned()))?;
        let children: Vec<(String, String)> = live()
            .filter(areas::parent_code.eq(code))
            .order(areas::code.asc())
            .select((areas::code, areas::name))
            .load(conn)?;
        if !children.is_empty() {
            return Err(DeleteError::HasChildren { code: code.to_owned(), children });
        }
        diesel::update(areas::table.find((organisation_id, &id)))
            .set((areas::deleted_at.eq(now_ms), areas::updated_at.eq(now_ms), areas::server_seq.eq(seq)))
            .execute(conn)?;
        bump_version(conn, organisation_id)?;
        Ok(area_jobs::create(conn, organisation_id, now_ms, lease)?)
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
