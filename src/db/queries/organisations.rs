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

/// The organisation with this id.
pub fn by_id(conn: &mut DbConnection, id: &str) -> QueryResult<OrganisationRow> {
    organisations::table.find(id).select(OrganisationRow::as_select()).first(conn)
}
