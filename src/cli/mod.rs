//! The command line: serve, migrate, and the administration an installer needs before anyone can
//! log in. Exit status 0 on success, 1 on a refused or failed command, 2 on wrong usage.

mod admin;
mod retention;

use crate::config::{Overrides, Settings};
use crate::db::{self, DatabaseTarget};
use crate::startup::Application;
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
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
        /// Address and port to listen on, a name or an IP address [default: 127.0.0.1:8080].
        #[arg(long, env = "LAGESBILD_LISTEN", value_name = "ADDR:PORT", value_parser = listen_address)]
        listen: Option<SocketAddr>,
    },
    /// Apply pending database migrations, report them, and exit.
    Migrate {
        /// Only list pending migrations; change nothing.
        #[arg(long)]
        status: bool,
    },
    /// Write a consistent copy of the embedded database and the signing key to one file, while
    /// the server serves (on PostgreSQL: says how, with pg_dump).
    Backup {
        /// The backup file to write; it must not exist.
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Restore a backup into an empty data directory; without --from, mark the configured
    /// database as restored (after pg_restore). Every phone then takes a fresh snapshot.
    Restore {
        /// The backup file `lagesbild backup` wrote.
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
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
    /// Retention (gallring): how long free text, exact positions, earlier versions and audit
    /// entries are kept, per organisation; applied daily by the server, or now with `run`.
    #[command(subcommand)]
    Retention(retention::RetentionCommand),
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
    /// List the organisations: slug, name and time zone.
    List,
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
    /// List an organisation's units: slug and name.
    List {
        /// The organisation's slug.
        #[arg(long)]
        org: String,
    },
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
    /// List an organisation's users: username, role, unit and whether disabled.
    List {
        /// The organisation's slug.
        #[arg(long)]
        org: String,
    },
    /// Set a new password (for a user, or the only administrator, who forgot theirs). Read as
    /// for `user add`; the user's sessions end (they log in again with the new password).
    Passwd {
        #[command(flatten)]
        who: UserRef,
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
        // No command is `serve`: its address comes from the environment alone.
        None => match std::env::var("LAGESBILD_LISTEN").ok().filter(|text| !text.is_empty()) {
            Some(text) => match listen_address(&text) {
                Ok(address) => Some(address),
                Err(error) => return fail(&anyhow::anyhow!("LAGESBILD_LISTEN: {error}")),
            },
            None => None,
        },
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
        Some(Command::Backup { to }) => crate::backup::backup(&settings, &to).map(|done| println!("{done}")),
        Some(Command::Restore { from }) => {
            crate::backup::restore(&settings, from.as_deref()).map(|done| println!("{done}"))
        }
        Some(command) => admin::administer(&settings, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

/// `--listen`: `127.0.0.1:8080`, `[::1]:8080` or a name such as `localhost:8080`, resolved
/// (the first address the name has).
fn listen_address(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let expected = "use ADDRESS:PORT, e.g. 127.0.0.1:8080, 0.0.0.0:8080 or localhost:8080";
    if !text.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok()) {
        return Err(format!("`{text}`: {expected}"));
    }
    text.to_socket_addrs()
        .map_err(|error| format!("`{text}` cannot be resolved ({error}); {expected}"))?
        .next()
        .ok_or_else(|| format!("`{text}` has no address; {expected}"))
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

fn migrate(settings: &Settings, status_only: bool) -> anyhow::Result<()> {
    let target = DatabaseTarget::from_settings(settings)?;
    if status_only {
        let pending = db::pending_migrations_read_only(&target)?;
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
    let applied = db::run_migrations(&mut target.connect()?)?;
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
