//! Seeding through `lagesbild::accounts`, as the benches that drive the real server do: an
//! organisation in Europe/Stockholm, units and users, from literals.
#![allow(dead_code, reason = "each bench that includes this module uses a part of it")]

use lagesbild::accounts::{self, NewUser};
use lagesbild::db::DbConnection;
use lagesbild::domain::FieldError;
use lagesbild::domain::identity::{Name, NewPassword, Role, Slug, TimeZone, Username};
use lagesbild::domain::password::Passwords;

/// A parsed literal, or why it was refused.
pub fn valid<T>(parsed: Result<T, FieldError>) -> anyhow::Result<T> {
    parsed.map_err(|error| anyhow::anyhow!("{}: {}", error.field, error.message))
}

/// Creates the organisation "Bench kommun" (with its default reference data); returns its id.
pub fn organisation(conn: &mut DbConnection, slug: &str) -> anyhow::Result<String> {
    let organisation = accounts::create_organisation(
        conn,
        &valid(Slug::parse("slug", slug))?,
        &valid(Name::parse("name", "Bench kommun"))?,
        valid(TimeZone::parse("tz", "Europe/Stockholm"))?,
    )?;
    Ok(organisation.id)
}

/// Creates a unit of the organisation.
pub fn unit(conn: &mut DbConnection, organisation_id: &str, slug: &str, name: &str) -> anyhow::Result<()> {
    accounts::create_unit(
        conn,
        organisation_id,
        &valid(Slug::parse("slug", slug))?,
        &valid(Name::parse("name", name))?,
    )?;
    Ok(())
}

/// Who a seeded user is.
pub struct User<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub role: Role,
    pub unit: Option<&'a str>,
}

/// Creates a user of the organisation; returns their id.
pub fn user(
    conn: &mut DbConnection,
    passwords: &Passwords,
    organisation_id: &str,
    user: User<'_>,
) -> anyhow::Result<String> {
    let new = NewUser {
        username: valid(Username::parse("username", user.username))?,
        display_name: None,
        password: valid(NewPassword::parse("password", user.password))?,
        role: user.role,
        unit: user.unit.map(|unit| valid(Slug::parse("unit", unit))).transpose()?,
    };
    Ok(accounts::create_user(conn, passwords, organisation_id, new)?.id)
}
