//! Units: the reporting actors of an organisation.

use crate::db::DbConnection;
use crate::db::models::UnitRow;
use crate::db::schema::units;
use diesel::prelude::*;

/// Stores a new unit.
pub fn insert(conn: &mut DbConnection, row: &UnitRow) -> QueryResult<()> {
    diesel::insert_into(units::table).values(row).execute(conn).map(drop)
}

/// All units of an organisation, by slug.
pub fn list(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<Vec<UnitRow>> {
    units::table
        .filter(units::organisation_id.eq(organisation_id))
        .order(units::slug.asc())
        .select(UnitRow::as_select())
        .load(conn)
}

/// The unit with this slug in the organisation.
pub fn by_slug(conn: &mut DbConnection, organisation_id: &str, slug: &str) -> QueryResult<Option<UnitRow>> {
    units::table
        .filter(units::organisation_id.eq(organisation_id))
        .filter(units::slug.eq(slug))
        .select(UnitRow::as_select())
        .first(conn)
        .optional()
}

/// The unit with this id in the organisation.
pub fn by_id(conn: &mut DbConnection, organisation_id: &str, id: &str) -> QueryResult<Option<UnitRow>> {
    units::table
        .filter(units::organisation_id.eq(organisation_id))
        .filter(units::id.eq(id))
        .select(UnitRow::as_select())
        .first(conn)
        .optional()
}

/// Renames a unit; false when it is not in the organisation.
pub fn rename(conn: &mut DbConnection, organisation_id: &str, id: &str, name: &str) -> QueryResult<bool> {
    crate::db::write_transaction(conn, |conn| {
        let seq = super::sync_state::take(conn)?;
        diesel::update(units::table.filter(units::organisation_id.eq(organisation_id)).filter(units::id.eq(id)))
            .set((units::name.eq(name), units::server_seq.eq(seq)))
            .execute(conn)
            .map(|n| n == 1)
    })
}
