//! Group commit for pushes: one writer thread takes every push that is waiting, applies them in
//! one transaction under one sequence number (each in a savepoint of its own, so one push's
//! failure does not touch the others) and answers each only after the commit. One commit then
//! covers many pushes: on SQLite one fsync where one per push would cap the rate at the disk's
//! fsyncs per second, and on PostgreSQL one transaction's fixed cost (its sequence number, row
//! locks and WAL flush) instead of one per push. Writers of several processes run side by side
//! on PostgreSQL (see `sync_state::take`); a group that lost a race with one of them is tried
//! again.
//!
//! The pushes arrive prepared (read, validated and redacted): the writer does storage only,
//! except that it places again the records of a push prepared before the organisation's areas
//! changed, with an index of the current areas it keeps per organisation (see
//! [`super::queries::areas`]).

use super::queries::areas::CurrentAreas;
use super::queries::sync_push;
use super::queries::sync_state;
use super::{DatabaseTarget, DbConnection, write_transaction_retrying};
use crate::domain::push::{PreparedPush, RecordResult};
use diesel::connection::SimpleConnection;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// The answer to one push: its results, or why it could not be stored, and the push itself,
/// handed back so that freeing it is not the writer's work.
type Outcome = (Result<Vec<RecordResult>, String>, PreparedPush);

struct Job {
    push: PreparedPush,
    reply: oneshot::Sender<Outcome>,
}

/// What reaches the writer thread: a push, or the word to stop once the pushes before it are done.
enum Message {
    Push(Box<Job>),
    Stop,
}

/// The handle through which pushes reach the writer thread.
pub struct GroupCommit {
    queue: mpsc::Sender<Message>,
}

/// The writer, ready to run on a thread of its own (see [`Writer::run`]).
pub struct Writer {
    target: DatabaseTarget,
    conn: DbConnection,
    queue: mpsc::Receiver<Message>,
    max_records: usize,
}

impl GroupCommit {
    /// Opens the writer's own connection. A group holds at most `max_records` records (but
    /// always at least one push), so one group's transaction stays short. Pushes wait in the
    /// queue until the returned [`Writer`] runs.
    pub fn start(target: DatabaseTarget, max_records: usize) -> anyhow::Result<(Self, Writer)> {
        let mut conn = target.connect()?;
        configure_writer(&mut conn)?;
        let (queue, received) = mpsc::channel::<Message>();
        Ok((Self { queue }, Writer { target, conn, queue: received, max_records: max_records.max(1) }))
    }

    /// Applies a push and answers once it is committed and flushed.
    pub async fn push(&self, push: PreparedPush) -> anyhow::Result<Vec<RecordResult>> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Message::Push(Box::new(Job { push, reply })))
            .map_err(|_| anyhow::anyhow!("the writer thread has stopped"))?;
        let (outcome, _push) = answer.await.map_err(|_| anyhow::anyhow!("the writer thread dropped a push"))?;
        outcome.map_err(|error| anyhow::anyhow!("the push could not be stored: {error}"))
    }

    /// Tells the writer to stop once it has stored the pushes already queued.
    pub fn close(&self) {
        let _ = self.queue.send(Message::Stop);
    }
}

impl Writer {
    /// Stores the queued pushes, group by group, until [`GroupCommit::close`] (or until every
    /// handle is gone).
    pub fn run(self) {
        writer(self.target, self.conn, self.queue, self.max_records);
    }
}

/// Sets the writer's own connection up for its work.
fn configure_writer(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    match conn {
        // A group's pages stay in memory until its commit instead of spilling to the WAL
        // half-way, and checkpoints run on a thread of their own, off the writer's path.
        DbConnection::Sqlite(sqlite) => sqlite.batch_execute(WRITER_PRAGMAS),
        DbConnection::Postgres(pg) => pg.batch_execute(WRITER_SETTINGS_PG),
    }
}

/// The writer's own SQLite settings: a 64 MiB page cache, statement journals in memory, and
/// no checkpoints of its own.
const WRITER_PRAGMAS: &str = "PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 0; PRAGMA temp_store = MEMORY;";

/// The writer's own PostgreSQL settings. The lookups bind lists of ids; a cached generic plan
/// cannot see them and scans the organisation's rows comparing each with every id, so every
/// statement is planned for its own values.
const WRITER_SETTINGS_PG: &str = "SET plan_cache_mode = force_custom_plan;";

/// How often [`Upkeep::run`] is due: the checkpoint of SQLite's WAL, or a look at PostgreSQL's
/// statistics.
pub fn upkeep_period(target: &DatabaseTarget) -> std::time::Duration {
    match target {
        DatabaseTarget::Sqlite(_) => CHECKPOINT_EVERY,
        DatabaseTarget::Postgres(_) => STATISTICS_EVERY,
    }
}

/// How often the checkpointer copies the WAL back into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// How often the statistician looks at how much the synced tables grew.
const STATISTICS_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// The tables pushes write, whose planner statistics the statistician keeps fresh.
const PUSHED_TABLES: [&str; 4] = ["observations", "activity_logs", "sync_quarantine", "record_history"];

/// The writer's upkeep, on a connection of its own, off the writer's path, run every
/// [`upkeep_period`].
///
/// On SQLite it copies committed WAL frames into the database file (a passive checkpoint waits
/// for no reader or writer), so the writer thread never does it inline.
///
/// On PostgreSQL it keeps the planner statistics of the pushed tables fresh while they grow
/// fast. The push looks its records up by `(organisation_id, id)`. Without statistics (a new
/// database, or a table that grew tenfold since autovacuum last analysed it, which waits for a
/// tenth of the table to change) the planner guesses that one organisation holds a small share
/// of the rows and scans all of that organisation's rows through another index, comparing each
/// with every id: one such lookup took 80 ms at 180,000 rows and grows with the table. A table
/// is analysed here once at least 1,000 rows changed and the changes are at least half of its
/// rows, so it is analysed at about every doubling; ANALYZE reads a fixed-size sample and does
/// not block writers.
pub struct Upkeep {
    conn: DbConnection,
    /// Failures in a row, and the moment before which no round is tried again.
    failures: u32,
    resume_at: Option<std::time::Instant>,
}

/// The longest wait between two tries of a failing upkeep.
const UPKEEP_BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(300);

impl Upkeep {
    /// Opens the upkeep's connection.
    pub fn open(target: &DatabaseTarget) -> anyhow::Result<Self> {
        Ok(Self { conn: target.connect()?, failures: 0, resume_at: None })
    }

    /// One round: a checkpoint, or an ANALYZE of the tables that grew. A failure is logged and
    /// the next tries wait twice as long each time (up to five minutes), so a database that
    /// cannot be written does not fill the log; the first success says so.
    pub fn run(&mut self) {
        let now = std::time::Instant::now();
        if self.resume_at.is_some_and(|at| now < at) {
            return;
        }
        let done = match &mut self.conn {
            DbConnection::Sqlite(conn) => conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);"),
            DbConnection::Postgres(conn) => analyse_grown_tables(conn),
        };
        match done {
            Ok(()) => {
                if self.failures > 0 {
                    tracing::info!(failures = self.failures, "database upkeep works again");
                }
                self.failures = 0;
                self.resume_at = None;
            }
            Err(error) => {
                self.failures = self.failures.saturating_add(1);
                let wait = CHECKPOINT_EVERY.saturating_mul(1 << self.failures.min(16)).min(UPKEEP_BACKOFF_MAX);
                self.resume_at = Some(now + wait);
                tracing::warn!(%error, failures = self.failures, retry_in_secs = wait.as_secs_f64(), "database upkeep failed");
            }
        }
    }
}

fn analyse_grown_tables(conn: &mut diesel::PgConnection) -> diesel::QueryResult<()> {
    #[derive(diesel::QueryableByName)]
    struct Stale {
        #[diesel(sql_type = diesel::sql_types::Text)]
        table: String,
    }
    let lookup = format!(
        "SELECT relname::text AS table FROM pg_stat_user_tables \
         WHERE relid IN ({}) AND n_mod_since_analyze >= 1000 AND 2 * n_mod_since_analyze >= n_live_tup",
        PUSHED_TABLES.map(|table| format!("'{table}'::regclass")).join(", ")
    );
    let stale = diesel::RunQueryDsl::load::<Stale>(diesel::sql_query(&lookup), conn)?;
    // Only names from PUSHED_TABLES reach the statement.
    for table in PUSHED_TABLES.iter().filter(|name| stale.iter().any(|stale| stale.table == **name)) {
        conn.batch_execute(&format!("ANALYZE {table}"))?;
    }
    Ok(())
}

fn writer(target: DatabaseTarget, mut conn: DbConnection, queue: mpsc::Receiver<Message>, max_records: usize) {
    let mut waiting: Option<Job> = None;
    let mut areas = CurrentAreas::default();
    let mut stopping = false;
    loop {
        let first = match waiting.take() {
            Some(job) => job,
            None if stopping => return,
            None => match queue.recv() {
                Ok(Message::Push(job)) => *job,
                Ok(Message::Stop) | Err(_) => return,
            },
        };
        let mut records = first.push.len();
        let mut jobs = vec![first];
        while !stopping && let Ok(message) = queue.try_recv() {
            let Message::Push(job) = message else {
                stopping = true;
                break;
            };
            let job = *job;
            if records + job.push.len() > max_records {
                waiting = Some(job);
                break;
            }
            records += job.push.len();
            jobs.push(job);
        }
        let committed = write_transaction_retrying(&mut conn, |conn| {
            let seq = sync_state::take(conn)?;
            let pushes: Vec<&PreparedPush> = jobs.iter().map(|job| &job.push).collect();
            sync_push::apply_all(conn, seq, &pushes, &mut areas)
        });
        match committed {
            Ok(results) => {
                for (job, results) in jobs.into_iter().zip(results) {
                    let _ = job.reply.send((Ok(results), job.push));
                }
            }
            Err(error) if jobs.len() > 1 => {
                // Something in the group failed: store each push on its own, so only the one
                // at fault fails.
                tracing::warn!(%error, pushes = jobs.len(), "a group of pushes failed; storing them one by one");
                for job in jobs {
                    let outcome = sync_push::store(&mut conn, &job.push, &mut areas).map_err(|error| error.to_string());
                    let failed = outcome.is_err();
                    let _ = job.reply.send((outcome, job.push));
                    if failed {
                        reconnect(&target, &mut conn);
                    }
                }
            }
            Err(error) => {
                tracing::error!(%error, "a push could not be stored");
                for job in jobs {
                    let _ = job.reply.send((Err(error.to_string()), job.push));
                }
                reconnect(&target, &mut conn);
            }
        }
    }
}

/// Opens a fresh connection after a failure, in case the connection is what failed.
fn reconnect(target: &DatabaseTarget, conn: &mut DbConnection) {
    match target.connect() {
        Ok(mut fresh) => {
            if let Err(error) = configure_writer(&mut fresh) {
                tracing::warn!(%error, "cannot configure the writer's connection");
            }
            *conn = fresh;
        }
        Err(error) => tracing::error!(error = %format!("{error:#}"), "cannot reopen the database"),
    }
}
