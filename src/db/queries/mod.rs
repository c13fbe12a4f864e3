//! Queries by topic. Every function that reads or writes tenant data takes the organisation id.

pub mod auth_state;
pub mod devices;
pub mod organisations;
pub mod refresh_tokens;
pub mod units;
pub mod users;

/// True when the error is a unique-constraint violation (a duplicate slug or username).
pub fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(error, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}
