//! The areas shared with each partner: what a partner's aggregates may cover.

use crate::db::DbConnection;
use crate::db::schema::partner_areas;
use diesel::prelude::*;

/// The area codes shared with a partner, in order.
pub fn shared_areas(conn: &mut DbConnection, organisation_id: &str, user_id: &str) -> QueryResult<Vec<String>> {
    partner_areas::table
        .filter(partner_areas::organisation_id.eq(organisation_id))
        .filter(partner_areas::user_id.eq(user_id))
        .order(partner_areas::area_code.asc())
        .select(partner_areas::area_code)
        .load(conn)
}

/// Replaces the areas shared with a partner, in one transaction.
pub fn share(conn: &mut DbConnection, organisation_id: &str, user_id: &str, codes: &[String]) -> QueryResult<()> {
    crate::db::write_transaction(conn, |conn| {
        diesel::delete(
            partner_areas::table
                .filter(partner_areas::organisation_id.eq(organisation_id))
                .filter(partner_areas::user_id.eq(user_id)),
        )
        .execute(conn)?;
        for code in codes {
            diesel::insert_into(partner_areas::table)
                .values((
                    partner_areas::organisation_id.eq(organisation_id),
                    partner_areas::user_id.eq(user_id),
                    partner_areas::area_code.eq(code),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}
