//! The administration commands: organisations, units, users, devices, areas, exports and the
//! demo.

use super::{AreasCommand, Command, DeviceCommand, OrgCommand, UnitCommand, UserCommand, UserRef};
use crate::accounts::{self, NewUser};
use crate::config::Settings;
use crate::db::queries::{area_jobs, devices, organisations, refresh_tokens, users};
use crate::db::{self, DatabaseTarget, DbConnection};
use crate::domain::FieldError;
use crate::domain::identity::{DeviceId, Name, NewPassword, Role, Slug, TimeZone, Username};
use crate::domain::password::Passwords;
use crate::domain::records::BoundingBox;
use anyhow::Context;
use std::io::{IsTerminal, Read};

fn connect(settings: &Settings) -> anyhow::Result<DbConnection> {
    let target = DatabaseTarget::from_settings(settings)?;
    let mut conn = target.connect()?;
    db::run_migrations(&mut conn)?;
    Ok(conn)
}

fn parsed<T>(result: Result<T, FieldError>, flag: &str) -> anyhow::Result<T> {
    result.map_err(|error| anyhow::anyhow!("--{flag}: {}", error.message))
}

pub(super) fn organisation_id(conn: &mut DbConnection, slug: &str) -> anyhow::Result<String> {
    organisations::by_slug(conn, slug)?.map(|org| org.id).with_context(|| format!("there is no organisation `{slug}`"))
}

/// The command line's claim on the area job it runs itself.
fn job_lease(settings: &Settings) -> area_jobs::Lease {
    area_jobs::Lease::for_this_process(std::time::Duration::from_secs(settings.area_job_lease_secs))
}

fn report_job(org: &str, job: &area_jobs::AreaJob, progress: area_jobs::Progress) {
    match progress {
        area_jobs::Progress::Lost => {
            println!("{org}: the areas changed again meanwhile; a newer job reassigns the records")
        }
        _ => println!("{org}: {} of {} record(s) reassigned to new areas", job.changed, job.done),
    }
}

pub(super) fn administer(settings: &Settings, command: Command) -> anyhow::Result<()> {
    let mut conn = connect(settings)?;
    let conn = &mut conn;
    match command {
        Command::Export(command) => crate::export::run(conn, command)?,
        Command::Retention(command) => super::retention::administer(conn, command)?,
        Command::Areas(AreasCommand::Import { file, org }) => {
            let organisation_id = organisation_id(conn, &org)?;
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let body: serde_json::Value =
                serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
            let lease = job_lease(settings);
            let (counts, job) =
                match crate::db::queries::areas::import_collection(conn, &organisation_id, &body, &lease) {
                    Ok(imported) => imported,
                    Err(crate::db::queries::areas::ImportError::Invalid(errors)) => {
                        for error in &errors {
                            eprintln!("{}: {} ({})", error.field, error.message, error.code);
                        }
                        anyhow::bail!("{} refused: nothing was imported", file.display());
                    }
                    Err(crate::db::queries::areas::ImportError::Database(error)) => return Err(error.into()),
                };
            println!(
                "{org}: {} area(s) created, {} updated, {} unchanged",
                counts.created, counts.updated, counts.unchanged
            );
            if let Some(job) = job {
                let (job, progress) = area_jobs::run_to_end(conn, job, &lease)?;
                report_job(&org, &job, progress);
            }
        }
        Command::Areas(AreasCommand::Delete { code, org }) => {
            use crate::db::queries::areas::{DeleteError, delete};
            let organisation_id = organisation_id(conn, &org)?;
            let lease = job_lease(settings);
            let job = match delete(conn, &organisation_id, &code, chrono::Utc::now().timestamp_millis(), &lease) {
                Ok(job) => job,
                Err(DeleteError::HasChildren { code, children }) => {
                    let children: Vec<String> = children.into_iter().map(|(child, _)| child).collect();
                    anyhow::bail!("`{code}` is the parent of {}: delete those first", children.join(", "));
                }
                Err(error) => return Err(error.into()),
            };
            println!("{org}: area {code} deleted");
            let (job, progress) = area_jobs::run_to_end(conn, job, &lease)?;
            report_job(&org, &job, progress);
        }
        Command::Demo { org, reset, password_env } => {
            let slug = parsed(Slug::parse("org", &org), "org")?;
            let password = password_env
                .map(|name| {
                    let text =
                        std::env::var(&name).with_context(|| format!("the environment variable {name} is not set"))?;
                    parsed(NewPassword::parse("password-env", &text), "password-env")
                })
                .transpose()?;
            let passwords =
                Passwords::new(settings.argon2_memory_kib, settings.argon2_iterations, settings.argon2_parallelism)?;
            let options =
                crate::demo::Options { slug, reset, password, skew_tolerance_ms: settings.clock_skew_tolerance_ms };
            let started = std::time::Instant::now();
            let created = crate::demo::create(conn, &passwords, &options)?;
            print_demo(&created, started.elapsed());
        }
        Command::Org(OrgCommand::Add { slug, name, time_zone }) => {
            let slug = parsed(Slug::parse("slug", &slug), "slug")?;
            let name = parsed(Name::parse("name", &name), "name")?;
            let zone = parsed(TimeZone::parse("time-zone", &time_zone), "time-zone")?;
            let org = accounts::create_organisation(conn, &slug, &name, zone)?;
            println!("created organisation {} ({}) with id {}", org.slug, org.name, org.id);
        }
        Command::Org(OrgCommand::List) => {
            for org in organisations::list(conn)? {
                println!("{:<20}{:<40}{}", org.slug, org.name, org.time_zone);
            }
        }
        Command::Org(OrgCommand::Bbox { org, bbox, clear }) => {
            let organisation_id = organisation_id(conn, &org)?;
            let bbox = if clear { None } else { Some(parse_bbox(bbox.as_deref().unwrap_or_default())?) };
            if let (Some(b), Some(extent)) = (bbox, crate::db::queries::areas::extent(conn, &organisation_id)?) {
                check_against_areas(&b, extent)?;
            }
            organisations::set_bbox(conn, &organisation_id, bbox)?;
            match bbox {
                Some(b) => {
                    println!("{org} accepts positions within {},{} – {},{}", b.min_lat, b.min_lon, b.max_lat, b.max_lon)
                }
                None => println!("{org} accepts positions anywhere"),
            }
        }
        Command::Unit(UnitCommand::List { org }) => {
            let organisation_id = organisation_id(conn, &org)?;
            for unit in crate::db::queries::units::list(conn, &organisation_id)? {
                println!("{:<20}{}", unit.slug, unit.name);
            }
        }
        Command::Unit(UnitCommand::Add { org, slug, name }) => {
            let organisation_id = organisation_id(conn, &org)?;
            let slug = parsed(Slug::parse("slug", &slug), "slug")?;
            let name = parsed(Name::parse("name", &name), "name")?;
            let unit = accounts::create_unit(conn, &organisation_id, &slug, &name)?;
            println!("created unit {} ({}) in {org} with id {}", unit.slug, unit.name, unit.id);
        }
        Command::User(UserCommand::Add { who, role, unit, display_name, password_env }) => {
            let organisation_id = organisation_id(conn, &who.org)?;
            let username = parsed(Username::parse("username", &who.username), "username")?;
            let role = parsed(Role::parse("role", &role), "role")?;
            let unit = unit.map(|slug| parsed(Slug::parse("unit", &slug), "unit")).transpose()?;
            let display_name =
                display_name.map(|name| parsed(Name::parse("display-name", &name), "display-name")).transpose()?;
            let password = read_password(password_env.as_deref())?;
            let password = parsed(NewPassword::parse("password", &password), "password")?;
            let passwords =
                Passwords::new(settings.argon2_memory_kib, settings.argon2_iterations, settings.argon2_parallelism)?;
            let user = accounts::create_user(
                conn,
                &passwords,
                &organisation_id,
                NewUser { username, display_name, password, role, unit },
            )?;
            println!("created user {} ({}) in {} with id {}", user.username, user.role, who.org, user.id);
        }
        Command::User(UserCommand::List { org }) => {
            let organisation_id = organisation_id(conn, &org)?;
            let units: std::collections::HashMap<String, String> =
                crate::db::queries::units::list(conn, &organisation_id)?
                    .into_iter()
                    .map(|unit| (unit.id, unit.slug))
                    .collect();
            for user in users::list(conn, &organisation_id)? {
                let unit = user.unit_id.as_ref().and_then(|id| units.get(id)).map_or("-", String::as_str);
                let state = if user.disabled_at.is_some() { "disabled" } else { "" };
                println!("{:<20}{:<13}{:<16}{state}", user.username, user.role, unit);
            }
        }
        Command::User(UserCommand::Passwd { who, password_env }) => {
            let organisation_id = organisation_id(conn, &who.org)?;
            let username = parsed(Username::parse("username", &who.username), "username")?;
            let user = users::by_username(conn, &organisation_id, username.as_str())?
                .with_context(|| format!("there is no user `{username}` in {}", who.org))?;
            let password = read_password(password_env.as_deref())?;
            let password = parsed(NewPassword::parse("password", &password), "password")?;
            let passwords =
                Passwords::new(settings.argon2_memory_kib, settings.argon2_iterations, settings.argon2_parallelism)?;
            let now = db::now();
            let changes = users::UserChanges {
                password_hash: Some(passwords.hash(password.expose())?),
                updated_at: Some(now),
                ..Default::default()
            };
            crate::db::write_transaction(conn, |conn| {
                users::update(conn, &organisation_id, &user.id, &changes, true)?;
                refresh_tokens::revoke_for_user(conn, &user.id, now)?;
                Ok::<_, crate::db::DbError>(())
            })?;
            println!("new password set for {username} in {}; their sessions have ended", who.org);
        }
        Command::User(UserCommand::Disable { who }) => set_disabled(conn, &who, true)?,
        Command::User(UserCommand::Enable { who }) => set_disabled(conn, &who, false)?,
        Command::Device(DeviceCommand::Revoke { org, device }) => {
            let organisation_id = organisation_id(conn, &org)?;
            let device = parsed(DeviceId::parse("device", &device), "device")?;
            anyhow::ensure!(
                devices::revoke(conn, &organisation_id, device.as_str(), db::now())?,
                "there is no device `{}` in {org}",
                device.as_str()
            );
            println!("revoked device {} in {org}", device.as_str());
        }
        Command::Serve { .. } | Command::Migrate { .. } | Command::Backup { .. } | Command::Restore { .. } => {
            unreachable!("handled by run")
        }
    }
    Ok(())
}

fn print_demo(created: &crate::demo::Created, elapsed: std::time::Duration) {
    let org = &created.organisation;
    if created.replaced {
        println!("deleted the earlier demo organisation {}", org.slug);
    }
    println!("created demo organisation {} ({}) with id {}", org.slug, org.name, org.id);
    println!(
        "  {} areas (approximate outlines, marked \"ungefärlig\"), {} units, {} indicators with the values of the assignment, {} problems and measures of the action plan",
        created.areas,
        crate::demo::places::UNITS.len(),
        created.indicators,
        created.plan_items
    );
    println!(
        "  {} observations ({} with a redacted note, {} reviewed) and {} activity logs from {} to {}, stored in {:.1} s",
        created.observations,
        created.redacted,
        created.reviews,
        created.activities,
        created.first_day,
        created.last_day,
        elapsed.as_secs_f64()
    );
    println!();
    println!("Log in with organisation `{}` (the field app is at /app/):", org.slug);
    println!("  {:<15}{:<13}{:<16}unit", "username", "role", "password");
    for (user, password) in &created.users {
        let unit =
            crate::demo::places::UNITS.iter().find(|(slug, _)| *slug == user.unit).map_or(user.unit, |(_, name)| name);
        // A password the operator gave is not echoed.
        let password = password.as_deref().unwrap_or("(given)");
        println!("  {:<15}{:<13}{:<16}{unit}", user.username, user.role, password);
    }
}

/// Refuses a rectangle that misses every area of the organisation: every record would then be
/// refused. Says so when it is latitude and longitude exchanged.
fn check_against_areas(b: &BoundingBox, [min_lon, min_lat, max_lon, max_lat]: [f64; 4]) -> anyhow::Result<()> {
    let overlaps =
        |b: &BoundingBox| min_lon <= b.max_lon && max_lon >= b.min_lon && min_lat <= b.max_lat && max_lat >= b.min_lat;
    if overlaps(b) {
        return Ok(());
    }
    let swapped = BoundingBox { min_lat: b.min_lon, min_lon: b.min_lat, max_lat: b.max_lon, max_lon: b.max_lat };
    if overlaps(&swapped) {
        anyhow::bail!(
            "--bbox: latitude and longitude look exchanged: the organisation's areas lie at latitude \
             {min_lat:.3}–{max_lat:.3}, longitude {min_lon:.3}–{max_lon:.3}; give MIN_LAT,MIN_LON,MAX_LAT,MAX_LON, \
             e.g. {},{},{},{}",
            swapped.min_lat,
            swapped.min_lon,
            swapped.max_lat,
            swapped.max_lon
        );
    }
    anyhow::bail!(
        "--bbox: the rectangle misses every area of the organisation (latitude {min_lat:.3}–{max_lat:.3}, \
         longitude {min_lon:.3}–{max_lon:.3}); every position would be refused"
    )
}

fn parse_bbox(text: &str) -> anyhow::Result<BoundingBox> {
    let numbers: Vec<f64> = text
        .split(',')
        .map(|part| part.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow::anyhow!("--bbox: give four numbers MIN_LAT,MIN_LON,MAX_LAT,MAX_LON"))?;
    let [min_lat, min_lon, max_lat, max_lon] = numbers[..] else {
        anyhow::bail!("--bbox: give four numbers MIN_LAT,MIN_LON,MAX_LAT,MAX_LON");
    };
    anyhow::ensure!(
        (-90.0..=90.0).contains(&min_lat) && (-90.0..=90.0).contains(&max_lat) && min_lat < max_lat,
        "--bbox: latitudes must lie in -90..90 with the minimum first"
    );
    anyhow::ensure!(
        (-180.0..=180.0).contains(&min_lon) && (-180.0..=180.0).contains(&max_lon) && min_lon < max_lon,
        "--bbox: longitudes must lie in -180..180 with the minimum first"
    );
    Ok(BoundingBox { min_lat, min_lon, max_lat, max_lon })
}

fn set_disabled(conn: &mut DbConnection, who: &UserRef, disabled: bool) -> anyhow::Result<()> {
    let organisation_id = organisation_id(conn, &who.org)?;
    let username = parsed(Username::parse("username", &who.username), "username")?;
    let user = users::by_username(conn, &organisation_id, username.as_str())?
        .with_context(|| format!("there is no user `{username}` in {}", who.org))?;
    let now = db::now();
    let changes = users::UserChanges {
        disabled_at: Some(disabled.then_some(user.disabled_at.unwrap_or(now))),
        updated_at: Some(now),
        ..Default::default()
    };
    crate::db::write_transaction(conn, |conn| {
        users::update(conn, &organisation_id, &user.id, &changes, true)?;
        if disabled {
            refresh_tokens::revoke_for_user(conn, &user.id, now)?;
        }
        Ok::<_, crate::db::DbError>(())
    })?;
    println!("{} user {username} in {}", if disabled { "disabled" } else { "enabled" }, who.org);
    Ok(())
}

/// The new password: from the named environment variable, a prompt on a terminal, or standard
/// input (one trailing newline removed).
fn read_password(env_var: Option<&str>) -> anyhow::Result<String> {
    if let Some(name) = env_var {
        return std::env::var(name).with_context(|| format!("the environment variable {name} is not set"));
    }
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").context("cannot read the password")?;
        // Refused at once, not after it was typed twice.
        parsed(NewPassword::parse("password", &first), "password")?;
        let second = rpassword::prompt_password("Password again: ").context("cannot read the password")?;
        anyhow::ensure!(first == second, "the passwords differ");
        return Ok(first);
    }
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("cannot read the password from standard input")?;
    let trimmed = text.strip_suffix('\n').unwrap_or(&text);
    Ok(trimmed.strip_suffix('\r').unwrap_or(trimmed).to_owned())
}
