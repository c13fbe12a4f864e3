//! Creating organisations, units and users: shared by the admin API and the command line, so both
//! apply the same rules and report the same conflicts.

use crate::db::DbConnection;
use crate::db::models::{OrganisationRow, UnitRow, UserRow};
use crate::db::queries::{is_unique_violation, organisations, reference, sync_state, units, users};
use crate::domain::identity::{Name, NewPassword, Role, Slug, TimeZone, Username};
use crate::domain::password::Passwords;

/// Why an account could not be created.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The slug or username is taken.
    #[error("{0}")]
    Duplicate(String),
    /// A named unit or organisation does not exist.
    #[error("{0}")]
    Missing(String),
    /// Storage failed.
    #[error(transparent)]
    Database(#[from] crate::db::DbError),
    /// Hashing failed.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Partners never see a group of fewer records than this, unless the organisation says otherwise.
pub const DEFAULT_SUPPRESSION_K: i32 = 3;

/// Creates an organisation.
pub fn create_organisation(
    conn: &mut DbConnection,
    slug: &Slug,
    name: &Name,
    zone: TimeZone,
) -> Result<OrganisationRow, AccountError> {
    let row = OrganisationRow {
        id: uuid::Uuid::now_v7().to_string(),
        slug: slug.as_str().to_owned(),
        name: name.as_str().to_owned(),
        time_zone: zone.name().to_owned(),
        created_at: crate::db::now(),
        bbox_min_lat: None,
        bbox_min_lon: None,
        bbox_max_lat: None,
        bbox_max_lon: None,
        suppression_k: DEFAULT_SUPPRESSION_K,
        assignment_title: String::new(),
        responsible: String::new(),
    };
    crate::db::write_transaction(conn, |conn| match organisations::insert(conn, &row) {
        Err(error) if is_unique_violation(&error) => {
            Err(AccountError::Duplicate(format!("an organisation with the slug `{slug}` already exists")))
        }
        Err(error) => Err(error.into()),
        Ok(()) => {
            reference::seed_defaults(conn, &row.id)?;
            Ok(row)
        }
    })
}

/// Creates a unit in an organisation.
pub fn create_unit(
    conn: &mut DbConnection,
    organisation_id: &str,
    slug: &Slug,
    name: &Name,
) -> Result<UnitRow, AccountError> {
    let row = UnitRow {
        id: uuid::Uuid::now_v7().to_string(),
        organisation_id: organisation_id.to_owned(),
        slug: slug.as_str().to_owned(),
        name: name.as_str().to_owned(),
        created_at: crate::db::now(),
        server_seq: 0,
    };
    crate::db::write_transaction(conn, |conn| {
        // Units sync down to phones: a new one takes a sequence number.
        let row = UnitRow { server_seq: sync_state::take(conn)?, ..row };
        match units::insert(conn, &row) {
            Err(error) if is_unique_violation(&error) => {
                Err(AccountError::Duplicate(format!("a unit with the slug `{slug}` already exists")))
            }
            other => other.map(|()| row).map_err(Into::into),
        }
    })
}

/// What a new user is made of.
pub struct NewUser {
    pub username: Username,
    pub display_name: Option<Name>,
    pub password: NewPassword,
    pub role: Role,
    /// The unit's slug.
    pub unit: Option<Slug>,
}

/// Creates a user, hashing the password.
pub fn create_user(
    conn: &mut DbConnection,
    passwords: &Passwords,
    organisation_id: &str,
    user: NewUser,
) -> Result<UserRow, AccountError> {
    let unit_id = match &user.unit {
        Some(slug) => Some(
            units::by_slug(conn, organisation_id, slug.as_str())?
                .ok_or_else(|| AccountError::Missing(format!("there is no unit `{slug}`")))?
                .id,
        ),
        None => None,
    };
    let now = crate::db::now();
    let row = UserRow {
        id: uuid::Uuid::now_v7().to_string(),
        organisation_id: organisation_id.to_owned(),
        username: user.username.as_str().to_owned(),
        display_name: user
            .display_name
            .map_or_else(|| user.username.as_str().to_owned(), |name| name.as_str().to_owned()),
        password_hash: passwords.hash(user.password.expose())?,
        role: user.role.as_str().to_owned(),
        unit_id,
        token_generation: 0,
        disabled_at: None,
        created_at: now,
        updated_at: now,
        scope_version: 0,
    };
    match users::insert(conn, &row) {
        Err(error) if is_unique_violation(&error) => Err(AccountError::Duplicate(format!(
            "the username `{}` is already taken in this organisation",
            user.username
        ))),
        other => other.map(|()| row).map_err(Into::into),
    }
}
