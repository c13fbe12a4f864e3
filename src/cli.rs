//! The command line: serve, migrate, and the administration an installer needs before anyone can
//! log in. Exit status 0 on success, 1 on a refused or failed command, 2 on wrong usage.

use crate::accounts::{self, NewUser};
use crate::config::{Overrides, Settings};
use crate::db::queries::{area_jobs, devices, organisations, refresh_tokens, users};
use crate::db::{self, DatabaseTarget, DbConnection};
use crate::domain::FieldError;
use crate::domain::identity::{DeviceId, Name, NewPassword, Role, Slug, TimeZone, Username};
use crate::domain::password::Passwords;
use crate::domain::records::BoundingBox;
use crate::startup::Application;
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::io::{IsTerminal, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// lagesbild: the shared situational picture for municipal safety work.
///
/// Field staff report observations and activities from their phones, even offline; coordinators
/// see the picture area by area and export the counts for follow-up. With no command, `serve`.
#[derive(Parser, Debug)]
#[command(name = "lagesbild", version, propagate_version = true)]
pub struct Cli {
    /// Directory for the SQLite database and the generated signing key.
    #[arg(long, global = true, env = "LAGESBILD_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the API and the web clients (the default). DATABASE_URL=postgres://… selects PostgreSQL.
    Serve {
        /// Address and port to listen on [default: 127.0.0.1:8080].
        #[arg(long, env = "LAGESBILD_LISTEN", value_name = "ADDR:PORT")]
        listen: Option<SocketAddr>,
    },
    /// Apply pending database migrations, report them, and exit.
    Migrate {
        /// Only list pending migrations; change nothing.
        #[arg(long)]
        status: bool,
    },
    /// Manage organisations (municipalities).
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage units (field assistants, guards, the summer café…).
    #[command(subcommand)]
    Unit(UnitCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage devices (phones and browsers).
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Manage areas (the polygons records are assigned to).
    #[command(subcommand)]
    Areas(AreasCommand),
    /// Export activity counts or observations to a file, as the API does, with a progress bar on
    /// a terminal. Every export is written to the audit log.
    #[command(subcommand)]
    Export(crate::export::ExportCommand),
    /// Create a demo organisation: approximate areas of Tyresö, units, users (printed with their
    /// passwords), the indicators of the assignment, and two years of synthetic observations and
    /// activity logs up to today.
    Demo {
        /// The demo organisation's slug, used at login, e.g. `tyreso`.
        #[arg(long)]
        org: String,
        /// Delete an earlier demo organisation with this slug first (only one `demo` created).
        #[arg(long)]
        reset: bool,
        /// Give every demo user the password in this environment variable instead of a
        /// generated one each.
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum AreasCommand {
    /// Import a GeoJSON FeatureCollection of Polygon/MultiPolygon features with the properties
    /// `code`, `name` and optionally `parent_code`. All or nothing; re-importing a code updates
    /// it. Records are then reassigned to the new areas.
    Import {
        /// The GeoJSON file.
        file: std::path::PathBuf,
        /// The organisation's slug.
        #[arg(long)]
        org: String,
    },
    /// Delete an area (as `DELETE /api/v1/areas/{code}`): phones get it as deleted, its records
    /// are reassigned (to its parent, another area or outside areas), and a later import of
    /// the same code brings it back. Refused while live areas have it as their parent.
    Delete {
        /// The area's code.
        code: String,
        /// The organisation's slug.
        #[arg(long)]
        org: String,
    },
}

#[derive(Subcommand, Debug)]
enum OrgCommand {
    /// Add an organisation.
    Add {
        /// Short stable identifier used at login, e.g. `tyreso`.
        #[arg(long)]
        slug: String,
        /// The organisation's name, e.g. "Tyresö kommun".
        #[arg(long)]
        name: String,
        /// IANA time zone for periods and reports.
        #[arg(long, default_value = "Europe/Stockholm")]
        time_zone: String,
    },
    /// Set (or clear) the rectangle every reported position must fall inside.
    Bbox {
        /// The organisation's slug.
        #[arg(long)]
        org: String,
        /// `MIN_LAT,MIN_LON,MAX_LAT,MAX_LON` in WGS84 degrees, e.g. `59.15,18.10,59.32,18.45`.
        #[arg(long, required_unless_present = "clear", conflicts_with = "clear")]
        bbox: Option<String>,
        /// Remove the rectangle: positions anywhere in WGS84 are accepted.
        #[arg(long)]
        clear: bool,
    },
}

#[derive(Subcommand, Debug)]
enum UnitCommand {
    /// Add a unit to an organisation.
    Add {
        /// The organisation's slug.
        #[arg(long)]
        org: String,
        /// Short stable identifier, e.g. `falt`.
        #[arg(long)]
        slug: String,
        /// The unit's name, e.g. "Fältassistenter".
        #[arg(long)]
        name: String,
    },
}

#[derive(Args, Debug)]
struct UserRef {
    /// The organisation's slug.
    #[arg(long)]
    org: String,
    /// The username.
    #[arg(long)]
    username: String,
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Add a user. The password is read from standard input (prompted on a terminal) or from the
    /// environment variable named by --password-env; never from the command line.
    Add {
        #[command(flatten)]
        who: UserRef,
        /// field, coordinator, partner or admin.
        #[arg(long)]
        role: String,
        /// The slug of the user's unit.
        #[arg(long)]
        unit: Option<String>,
        /// The name shown in the dashboard (default: the username).
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from this environment variable instead of standard input.
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
    },
    /// Disable a user: their tokens stop working on the next request.
    Disable {
        #[command(flatten)]
        who: UserRef,
    },
    /// Enable a disabled user again.
    Enable {
        #[command(flatten)]
        who: UserRef,
    },
}

#[derive(Subcommand, Debug)]
enum DeviceCommand {
    /// Revoke a device (a lost phone): its tokens stop working on the next request.
    Revoke {
        /// The organisation's slug.
        #[arg(long)]
        org: String,
        /// The device id, as listed by GET /api/v1/devices.
        #[arg(long)]
        device: String,
    },
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let listen = match &cli.command {
        Some(Command::Serve { listen }) => *listen,
        _ => None,
    };
    let overrides = Overrides { data_dir: cli.data_dir.clone(), listen };
    let settings = match Settings::load(&overrides) {
        Ok(settings) => settings,
        Err(error) => return fail(&error),
    };
    crate::telemetry::init(settings.log_format);
    let result = match cli.command {
        None => serve(settings),
        Some(Command::Serve { .. }) => serve(settings),
        Some(Command::Migrate { status }) => migrate(&settings, status),
        Some(command) => administer(&settings, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

fn fail(error: &anyhow::Error) -> ExitCode {
    eprintln!("error: {error:#}");
    ExitCode::FAILURE
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let application = Application::build(settings)?;
        application.run_until_stopped().await.context("the server stopped with an error")
    })
}

fn connect(settings: &Settings) -> anyhow::Result<DbConnection> {
    let target = DatabaseTarget::from_settings(settings)?;
    let mut conn = target.connect()?;
    db::run_migrations(&mut conn)?;
    Ok(conn)
}

fn migrate(settings: &Settings, status_only: bool) -> anyhow::Result<()> {
    let target = DatabaseTarget::from_settings(settings)?;
    let mut conn = target.connect()?;
    if status_only {
        let pending = db::pending_migrations(&mut conn)?;
        if pending.is_empty() {
            println!("{}: up to date", target.describe());
        } else {
            println!("{}: {} pending", target.describe(), pending.len());
            for name in pending {
                println!("  {name}");
            }
        }
        return Ok(());
    }
    let applied = db::run_migrations(&mut conn)?;
    if applied.is_empty() {
        println!("{}: up to date, nothing to apply", target.describe());
    } else {
        println!("{}: applied {} migration(s)", target.describe(), applied.len());
        for name in applied {
            println!("  {name}");
        }
    }
    Ok(())
}

fn parsed<T>(result: Result<T, FieldError>, flag: &str) -> anyhow::Result<T> {
    result.map_err(|error| anyhow::anyhow!("--{flag}: {}", error.message))
}

fn organisation_id(conn: &mut DbConnection, slug: &str) -> anyhow::Result<String> {
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

fn administer(settings: &Settings, command: Command) -> anyhow::Result<()> {
    let mut conn = connect(settings)?;
    let conn = &mut conn;
    match command {
        Command::Export(command) => crate::export::run(conn, command)?,
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
        Command::Org(OrgCommand::Bbox { org, bbox, clear }) => {
            let organisation_id = organisation_id(conn, &org)?;
            let bbox = if clear { None } else { Some(parse_bbox(bbox.as_deref().unwrap_or_default())?) };
            organisations::set_bbox(conn, &organisation_id, bbox)?;
            match bbox {
                Some(b) => {
                    println!("{org} accepts positions within {},{} – {},{}", b.min_lat, b.min_lon, b.max_lat, b.max_lon)
                }
                None => println!("{org} accepts positions anywhere"),
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
        Command::Serve { .. } | Command::Migrate { .. } => unreachable!("handled by run"),
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
        "  {} areas (approximate outlines, marked \"ungefärlig\"), {} units, {} indicators with the values of the assignment",
        created.areas,
        crate::demo::places::UNITS.len(),
        created.indicators
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
        let second = rpassword::prompt_password("Password again: ").context("cannot read the password")?;
        anyhow::ensure!(first == second, "the passwords differ");
        return Ok(first);
    }
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("cannot read the password from standard input")?;
    let trimmed = text.strip_suffix('\n').unwrap_or(&text);
    Ok(trimmed.strip_suffix('\r').unwrap_or(trimmed).to_owned())
}
