//! The only place that names diesel: connections, the pool, migrations and queries.

pub mod group_commit;
pub mod models;
pub mod queries;
pub mod schema;

use crate::config::Settings;
use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection, PooledConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::path::PathBuf;
use std::time::Duration;

/// Migrations for the embedded SQLite default.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
/// Migrations for PostgreSQL; the same directory names as for SQLite.
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// One connection to whichever backend is configured; queries are written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// PostgreSQL, for scale.
    Postgres(PgConnection),
    /// SQLite, the embedded default.
    Sqlite(SqliteConnection),
}

/// Which database to open, chosen from the URL scheme (never by trial).
#[derive(Debug, Clone)]
pub enum DatabaseTarget {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

impl DatabaseTarget {
    /// The database the settings name: `DATABASE_URL`, or `data.db` in the data directory.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let Some(url) = settings.database_url.as_ref().map(|url| url.expose()) else {
            return Ok(Self::Sqlite(settings.data_dir.join("lagesbild.db")));
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else {
            anyhow::bail!("DATABASE_URL must start with postgres://, postgresql:// or sqlite://")
        }
    }

    /// A name for logs and messages that never includes a password.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("SQLite at {}", path.display()),
            Self::Postgres(_) => "PostgreSQL".to_owned(),
        }
    }

    /// Opens one connection, with the per-connection settings applied.
    pub fn connect(&self) -> anyhow::Result<DbConnection> {
        match self {
            Self::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
                }
                let url = path.to_str().context("the SQLite path is not valid UTF-8")?;
                let mut conn = SqliteConnection::establish(url)
                    .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
                // WAL lets readers run beside the writer; synchronous=FULL makes a committed
                // transaction survive power loss, so a 2xx answer means the data is on disk.
                conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
                    .context("cannot configure SQLite")?;
                // Switching a new file to WAL is refused at once, not after the busy timeout,
                // while another process switches it too (processes started together): retry.
                let mut tries = 0;
                while let Err(error) = conn.batch_execute("PRAGMA journal_mode = WAL;") {
                    tries += 1;
                    if tries >= 100 || !error.to_string().contains("locked") {
                        return Err(anyhow::Error::new(error).context("cannot configure SQLite"));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Ok(DbConnection::Sqlite(conn))
            }
            Self::Postgres(url) => {
                let conn =
                    connect_postgres(url).map_err(|error| anyhow::anyhow!("cannot connect to PostgreSQL: {error}"))?;
                Ok(DbConnection::Postgres(conn))
            }
        }
    }
}

/// Opens a PostgreSQL connection; every PostgreSQL connection of the process goes through here.
///
/// libpq's TLS is OpenSSL, which by default frees its global state in an exit handler. Threads
/// that still hold a connection when the process exits (the writer, the statistics thread, a
/// pool being dropped) then close their TLS sessions on freed memory and corrupt the heap
/// (`munmap_chunk(): invalid pointer` as the process ends). OpenSSL is therefore initialised
/// here first, without that exit handler (`OPENSSL_INIT_NO_ATEXIT`); the system reclaims its
/// memory at exit anyway.
pub fn connect_postgres(url: &str) -> diesel::ConnectionResult<PgConnection> {
    openssl_sys::init();
    PgConnection::establish(url)
}

/// Opens connections for the pool to the chosen backend.
#[derive(Debug)]
pub struct Manager(DatabaseTarget);

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        self.0
            .connect()
            .map_err(|error| r2d2::Error::ConnectionError(diesel::ConnectionError::BadConnection(format!("{error:#}"))))
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        r2d2::R2D2Connection::is_broken(conn)
    }
}

/// The one connection pool.
pub type Pool = r2d2::Pool<Manager>;

/// What a query answers: its value, or the database's error.
pub use diesel::QueryResult;
/// A pool that could not hand out a connection.
pub use diesel::r2d2::PoolError;
/// A database error.
pub use diesel::result::Error as DbError;
/// A connection borrowed from the pool.
pub type PooledConn = PooledConnection<Manager>;

/// Builds the pool, connecting once so that a wrong URL fails here with its real cause.
pub fn build_pool(target: &DatabaseTarget, size: Option<u32>) -> anyhow::Result<Pool> {
    let size = size.unwrap_or(match target {
        DatabaseTarget::Sqlite(_) => 8,
        DatabaseTarget::Postgres(_) => 16,
    });
    // The first connection is opened here so its real error (refused, bad password, no such
    // database) reaches the operator instead of a pool time-out.
    drop(target.connect()?);
    r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(10))
        .test_on_check_out(false)
        .build(Manager(target.clone()))
        .context("cannot build the database pool")
}

/// The PostgreSQL advisory lock migrations run under (any number, the same in every process).
const MIGRATION_LOCK: i64 = 0x6c61_6765_7362_696c; // "lagesbil"

/// Applies pending migrations and returns the names of those applied. One process at a time:
/// on SQLite the whole run holds the write lock (others wait for it, then find nothing to do),
/// on PostgreSQL an advisory lock; so any number of processes may start at once.
pub fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    let failed = |error: Box<dyn std::error::Error + Send + Sync>| anyhow::anyhow!("migration failed: {error}");
    let applied = match conn {
        DbConnection::Sqlite(_) => write_transaction(conn, |conn| {
            let DbConnection::Sqlite(sqlite) = conn else { unreachable!("the connection's backend does not change") };
            sqlite
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|applied| applied.iter().map(ToString::to_string).collect())
                .map_err(failed)
        })?,
        DbConnection::Postgres(postgres) => {
            use diesel::connection::SimpleConnection;
            postgres
                .batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
                .context("cannot take the migration lock")?;
            let applied = postgres
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|applied| applied.iter().map(ToString::to_string).collect::<Vec<_>>());
            let unlocked = postgres.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
            let applied = applied.map_err(failed)?;
            unlocked.context("cannot release the migration lock")?;
            applied
        }
    };
    Ok(applied)
}

/// Answers one trivial statement: the database is there and answers.
pub fn ping(conn: &mut DbConnection) -> QueryResult<()> {
    diesel::connection::SimpleConnection::batch_execute(conn, "SELECT 1")
}

/// Whether the database accepts a write, without writing: an update of no row, rolled back.
/// A SQLite file the server's user cannot write, or a read-only PostgreSQL, fails here.
pub fn probe_write(conn: &mut DbConnection) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    let tried = conn.batch_execute("BEGIN; UPDATE sync_state SET seq = seq WHERE 1 = 0;");
    let rolled_back = conn.batch_execute("ROLLBACK;");
    tried.and(rolled_back)
}

/// Names of migrations not yet applied.
pub fn pending_migrations(conn: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    let pending = match conn {
        DbConnection::Sqlite(conn) => {
            conn.pending_migrations(SQLITE_MIGRATIONS).map(|list| list.iter().map(|m| m.name().to_string()).collect())
        }
        DbConnection::Postgres(conn) => {
            conn.pending_migrations(POSTGRES_MIGRATIONS).map(|list| list.iter().map(|m| m.name().to_string()).collect())
        }
    };
    pending.map_err(|error| anyhow::anyhow!("cannot read migrations: {error}"))
}

/// The migrations a database still needs, read without changing anything: a SQLite file that
/// does not exist yet is not created (all of them are pending), one that exists is opened
/// read-only.
pub fn pending_migrations_read_only(target: &DatabaseTarget) -> anyhow::Result<Vec<String>> {
    use diesel::RunQueryDsl;
    use diesel::migration::MigrationSource;
    let all = || -> anyhow::Result<Vec<String>> {
        let migrations = MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
            .map_err(|error| anyhow::anyhow!("cannot read migrations: {error}"))?;
        Ok(migrations.iter().map(|m| m.name().to_string()).collect())
    };
    match target {
        DatabaseTarget::Sqlite(path) if !path.exists() => all(),
        DatabaseTarget::Sqlite(path) => {
            let url = format!("file:{}?mode=ro", path.to_str().context("the SQLite path is not valid UTF-8")?);
            let mut conn = SqliteConnection::establish(&url)
                .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
            let applied: Vec<String> = match diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
                .load::<MigrationVersion>(&mut conn)
            {
                Ok(rows) => rows.into_iter().map(|row| row.version).collect(),
                // A file without the migrations table has none applied.
                Err(_) => Vec::new(),
            };
            // Versions are stored as the name's prefix, with or without its dashes.
            let version_of = |text: &str| text.split('_').next().unwrap_or_default().replace('-', "");
            let applied: Vec<String> = applied.iter().map(|version| version_of(version)).collect();
            Ok(all()?.into_iter().filter(|name| !applied.contains(&version_of(name))).collect())
        }
        DatabaseTarget::Postgres(_) => pending_migrations(&mut target.connect()?),
    }
}

#[derive(diesel::QueryableByName)]
struct MigrationVersion {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}

/// Reverts the most recent migration (used by the migration tests and `lagesbild migrate --down`).
pub fn revert_last_migration(conn: &mut DbConnection) -> anyhow::Result<String> {
    let reverted = match conn {
        DbConnection::Sqlite(conn) => conn.revert_last_migration(SQLITE_MIGRATIONS),
        DbConnection::Postgres(conn) => conn.revert_last_migration(POSTGRES_MIGRATIONS),
    }
    .map_err(|error| anyhow::anyhow!("cannot revert: {error}"))?;
    Ok(reverted.to_string())
}

/// The current UTC time at the database's resolution (microseconds), as stored in timestamps.
pub fn now() -> chrono::NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    chrono::Timelike::with_nanosecond(&now, now.and_utc().timestamp_subsec_micros() * 1000).unwrap_or(now)
}

/// How many times [`write_transaction_retrying`] tries a transaction that lost a race.
const CONFLICT_TRIES: u32 = 4;

/// Whether a PostgreSQL transaction failed only because a concurrent one won a race it would
/// have waited for under a single writer: two processes inserting the same new record (the
/// second waits for the first and then meets its key), a deadlock, or a serialization failure.
/// Tried again, it reads what the other committed and does the right thing.
pub fn lost_a_race(conn: &DbConnection, error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    matches!(conn, DbConnection::Postgres(_))
        && match error {
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation | DatabaseErrorKind::SerializationFailure, _) => {
                true
            }
            Error::DatabaseError(_, information) => information.message().contains("deadlock detected"),
            _ => false,
        }
}

/// [`write_transaction`], tried again (up to four times) when it failed only because it lost a
/// race with another process's transaction (see [`lost_a_race`]). `work` may run more than once;
/// everything it wrote in a failed try was rolled back.
pub fn write_transaction_retrying<T, F>(conn: &mut DbConnection, mut work: F) -> QueryResult<T>
where
    F: FnMut(&mut DbConnection) -> QueryResult<T>,
{
    let mut tries = 1;
    loop {
        match write_transaction(conn, &mut work) {
            Err(error) if tries < CONFLICT_TRIES && lost_a_race(conn, &error) => {
                tracing::debug!(%error, tries, "a transaction lost a race with another process; trying again");
                tries += 1;
            }
            done => return done,
        }
    }
}

/// Runs `work` in a transaction that may write. On SQLite it begins with `BEGIN IMMEDIATE`, so
/// the write lock is taken (waiting up to the busy timeout) before the first read; a deferred
/// transaction that reads first and then writes would fail at once with "database is locked"
/// whenever another writer is active. On PostgreSQL it is an ordinary transaction. Nested calls
/// become savepoints.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    E: From<diesel::result::Error>,
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let DbConnection::Sqlite(sqlite) = conn else {
        return conn.transaction(work);
    };
    if AnsiTransactionManager::transaction_manager_status_mut(sqlite).transaction_depth()?.is_some() {
        // Already inside a transaction (which holds the lock): a savepoint will do.
        return conn.transaction(work);
    }
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    let result = work(conn);
    let DbConnection::Sqlite(sqlite) = conn else { unreachable!("the connection's backend does not change") };
    match result {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(sqlite)?;
            Ok(value)
        }
        Err(error) => {
            AnsiTransactionManager::rollback_transaction(sqlite)?;
            Err(error)
        }
    }
}
