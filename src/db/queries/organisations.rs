//! Organisations: the tenants.

use crate::db::DbConnection;
use crate::db::models::OrganisationRow;
use crate::db::schema::organisations;
use diesel::prelude::*;

/// Stores a new organisation.
pub fn insert(conn: &mut DbConnection, row: &OrganisationRow) -> QueryResult<()> {
    diesel::insert_into(organisations::table).values(row).execute(conn).map(drop)
}

/// The organisation with this slug.
pub fn by_slug(conn: &mut DbConnection, slug: &str) -> QueryResult<Option<OrganisationRow>> {
    organisations::table
        .filter(organisations::slug.eq(slug))
        .select(OrganisationRow::as_select())
        .first(conn)
        .optional()
}

/// Every organisation's id.
pub fn ids(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    organisations::table.select(organisations::id).order(organisations::id.asc()).load(conn)
}

/// The organisation with this id.
pub fn by_id(conn: &mut DbConnection, id: &str) -> QueryResult<OrganisationRow> {
    organisations::table.find(id).select(OrganisationRow::as_select()).first(conn)
}

/// Every organisation, by slug.
pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<OrganisationRow>> {
    organisations::table.order(organisations::slug.asc()).select(OrganisationRow::as_select()).load(conn)
}

/// The rectangle reported positions must fall inside, when one is set.
pub fn bbox(conn: &mut DbConnection, id: &str) -> QueryResult<Option<crate::domain::records::BoundingBox>> {
    let org = by_id(conn, id)?;
    Ok(match (org.bbox_min_lat, org.bbox_min_lon, org.bbox_max_lat, org.bbox_max_lon) {
        (Some(min_lat), Some(min_lon), Some(max_lat), Some(max_lon)) => {
            Some(crate::domain::records::BoundingBox { min_lat, min_lon, max_lat, max_lon })
        }
        _ => None,
    })
}

/// Sets or clears the rectangle reported positions must fall inside.
pub fn set_bbox(
    conn: &mut DbConnection,
    id: &str,
    bbox: Option<crate::domain::records::BoundingBox>,
) -> QueryResult<()> {
    diesel::update(organisations::table.find(id))
        .set((
            organisations::bbox_min_lat.eq(bbox.map(|b| b.min_lat)),
            organisations::bbox_min_lon.eq(bbox.map(|b| b.min_lon)),
            organisations::bbox_max_lat.eq(bbox.map(|b| b.max_lat)),
            organisations::bbox_max_lon.eq(bbox.map(|b| b.max_lon)),
        ))
        .execute(conn)
        .map(drop)
}

/// What reports need of an organisation: its name, time zone (Europe/Stockholm when unreadable)
/// and the suppression threshold k for partners.
pub fn report_settings(conn: &mut DbConnection, id: &str) -> QueryResult<(String, chrono_tz::Tz, u32)> {
    let (name, zone, k): (String, String, i32) = organisations::table
        .find(id)
        .select((organisations::name, organisations::time_zone, organisations::suppression_k))
        .first(conn)?;
    Ok((name, zone.parse().unwrap_or(chrono_tz::Europe::Stockholm), u32::try_from(k.max(1)).unwrap_or(3)))
}

/// What an administrator may change of the organisation's settings; `None` keeps a setting.
#[derive(Debug, Default)]
pub struct SettingsChange {
    pub assignment_title: Option<String>,
    pub responsible: Option<String>,
    pub suppression_k: Option<i32>,
}

/// Changes the organisation's settings, each named one as given.
pub fn update_settings(conn: &mut DbConnection, id: &str, change: &SettingsChange) -> QueryResult<()> {
    let target = organisations::table.find(id);
    if let Some(title) = &change.assignment_title {
        diesel::update(target).set(organisations::assignment_title.eq(title)).execute(conn)?;
    }
    if let Some(responsible) = &change.responsible {
        diesel::update(target).set(organisations::responsible.eq(responsible)).execute(conn)?;
    }
    if let Some(k) = change.suppression_k {
        diesel::update(target).set(organisations::suppression_k.eq(k)).execute(conn)?;
    }
    Ok(())
}

/// Sets what the follow-up report is headed with: the assignment and who is responsible.
pub fn set_heading(conn: &mut DbConnection, id: &str, assignment_title: &str, responsible: &str) -> QueryResult<()> {
    diesel::update(organisations::table.find(id))
        .set((organisations::assignment_title.eq(assignment_title), organisations::responsible.eq(responsible)))
        .execute(conn)
        .map(drop)
}

/// Deletes an organisation and everything it holds, in one transaction. Sessions of its users
/// end: their refresh tokens go, and access tokens find nothing left to see.
pub fn remove(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<()> {
    use crate::db::schema::*;
    crate::db::write_transaction(conn, |conn| {
        macro_rules! delete_from {
            ($($table:ident),* $(,)?) => {
                $( diesel::delete($table::table.filter($table::organisation_id.eq(organisation_id))).execute(conn)?; )*
            };
        }
        delete_from!(
            audit_log,
            retention_settings,
            followup_assessments,
            indicator_values,
            indicators,
            partner_areas,
            record_history,
            sync_quarantine,
            observations,
            activity_logs,
            area_jobs,
            areas,
            categories,
            activity_types,
            refresh_tokens,
            devices,
            users,
            units,
        );
        diesel::delete(organisations::table.find(organisation_id)).execute(conn)?;
        crate::db::queries::auth_state::bump(conn)
    })
}
