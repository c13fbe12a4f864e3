//! The follow-up assessment per period: green, yellow or red with a comment, and who set it.

use crate::db::DbConnection;
use crate::db::schema::{followup_assessments, users};
use diesel::prelude::*;
use serde::Serialize;

/// An assessment as stored, with the display name of who set it.
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    pub period: String,
    pub rating: String,
    pub comment: String,
    pub set_by: String,
    pub set_by_name: String,
    /// ms since the epoch.
    pub set_at: i64,
}

/// The assessment of one period, if one was set.
pub fn get(conn: &mut DbConnection, organisation_id: &str, period: &str) -> QueryResult<Option<Assessment>> {
    followup_assessments::table
        .inner_join(users::table.on(users::id.eq(followup_assessments::set_by)))
        .filter(followup_assessments::organisation_id.eq(organisation_id))
        .filter(followup_assessments::period.eq(period))
        .select((
            followup_assessments::period,
            followup_assessments::rating,
            followup_assessments::comment,
            followup_assessments::set_by,
            users::display_name,
            followup_assessments::set_at,
        ))
        .first::<(String, String, String, String, String, i64)>(conn)
        .optional()
        .map(|row| {
            row.map(|(period, rating, comment, set_by, set_by_name, set_at)| Assessment {
                period,
                rating,
                comment,
                set_by,
                set_by_name,
                set_at,
            })
        })
}

/// Sets (or replaces) the assessment of a period.
pub fn set(
    conn: &mut DbConnection,
    organisation_id: &str,
    period: &str,
    rating: &str,
    comment: &str,
    user_id: &str,
    now_ms: i64,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        let updated = diesel::update(
            followup_assessments::table
                .filter(followup_assessments::organisation_id.eq(organisation_id))
                .filter(followup_assessments::period.eq(period)),
        )
        .set((
            followup_assessments::rating.eq(rating),
            followup_assessments::comment.eq(comment),
            followup_assessments::set_by.eq(user_id),
            followup_assessments::set_at.eq(now_ms),
        ))
        .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(followup_assessments::table)
                .values((
                    followup_assessments::organisation_id.eq(organisation_id),
                    followup_assessments::period.eq(period),
                    followup_assessments::rating.eq(rating),
                    followup_assessments::comment.eq(comment),
                    followup_assessments::set_by.eq(user_id),
                    followup_assessments::set_at.eq(now_ms),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}
