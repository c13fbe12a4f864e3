//! Queries by topic. Every function that reads or writes tenant data takes the organisation id.

pub mod area_jobs;
pub mod areas;
pub mod assessments;
pub mod audit;
pub mod auth_state;
pub mod change_feed;
pub mod devices;
pub mod documents;
pub mod feedback;
pub mod history;
pub mod indicators;
pub mod login_limits;
pub mod organisations;
pub mod partners;
pub mod photos;
pub mod plan;
pub mod push_rules;
pub mod records;
pub mod reference;
pub mod refresh_tokens;
pub mod reports;
pub mod retention;
pub mod sync_pull;
pub mod sync_push;
pub mod sync_state;
pub mod units;
pub mod users;

/// True when the error is a unique-constraint violation (a duplicate slug or username).
pub fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(error, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}

/// The error for a synced table a query does not serve (a reference table where records are
/// meant, or the other way round): a mistake in the code, answered as an error, not a panic.
pub fn not_served(table: crate::domain::sync::SyncedTable, what: &str) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(format!("`{}` holds no {what}", table.name()).into())
}
