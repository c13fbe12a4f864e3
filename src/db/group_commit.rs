//! Group commit for SQLite pushes: one writer thread takes every push that is waiting, applies
//! them in one transaction (each in a savepoint of its own, so one push's failure does not touch
//! the others) and answers each only after the commit. One fsync then covers many pushes, where
//! one transaction per push would cap the rate at the disk's fsyncs per second. PostgreSQL
//! groups concurrent commits by itself and does not use this.

use super::queries::sync_push::{self, PushContext, RecordResult, TableChanges};
use super::{DatabaseTarget, DbConnection, write_transaction};
use std::sync::mpsc;
use tokio::sync::oneshot;

/// The answer to one push: its results, or why it could not be stored.
type Outcome = Result<Vec<RecordResult>, String>;

struct Job {
    context: PushContext,
    tables: Vec<(String, TableChanges)>,
    reply: oneshot::Sender<Outcome>,
}

/// The handle through which pushes reach the writer thread.
pub struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the writer thread with its own connection.
    pub fn start(target: DatabaseTarget, max_group: usize) -> anyhow::Result<Self> {
        let conn = target.connect()?;
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("lagesbild-writer".into())
            .spawn(move || writer(target, conn, queue, max_group.max(1)))?;
        Ok(Self { jobs })
    }

    /// Applies a push and answers once it is committed and flushed.
    pub async fn push(
        &self,
        context: PushContext,
        tables: Vec<(String, TableChanges)>,
    ) -> anyhow::Result<Vec<RecordResult>> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { context, tables, reply }).map_err(|_| anyhow::anyhow!("the writer thread has stopped"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("the writer thread dropped a push"))?
            .map_err(|error| anyhow::anyhow!("the push could not be stored: {error}"))
    }
}

fn writer(target: DatabaseTarget, mut conn: DbConnection, queue: mpsc::Receiver<Job>, max_group: usize) {
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        while jobs.len() < max_group {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(jobs.len());
        let committed = write_transaction(&mut conn, |conn| {
            for job in &jobs {
                // `push` runs in a savepoint here: a failing push rolls back alone.
                outcomes.push(sync_push::push(conn, &job.context, &job.tables).map_err(|error| error.to_string()));
            }
            Ok::<_, diesel::result::Error>(())
        });
        match committed {
            Ok(()) => {
                for (job, outcome) in jobs.into_iter().zip(outcomes) {
                    let _ = job.reply.send(outcome);
                }
            }
            Err(error) => {
                tracing::error!(%error, pushes = jobs.len(), "a group of pushes could not be committed");
                for job in jobs {
                    let _ = job.reply.send(Err(error.to_string()));
                }
                // The connection may be what failed: open a fresh one for the next group.
                match target.connect() {
                    Ok(fresh) => conn = fresh,
                    Err(error) => tracing::error!(error = %format!("{error:#}"), "cannot reopen the database"),
                }
            }
        }
    }
}
