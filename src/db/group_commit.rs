//! Group commit for pushes: one writer thread takes every push that is waiting, applies them in
//! one transaction under one sequence number (each in a savepoint of its own, so one push's
//! failure does not touch the others) and answers each only after the commit. One commit then
//! covers many pushes: on SQLite one fsync where one per push would cap the rate at the disk's
//! fsyncs per second, and on PostgreSQL one hold of the `sync_state` row lock, which every
//! writer of synced data takes, instead of one per push queued behind each other.
//!
//! The pushes arrive prepared (read, validated and redacted): the writer does storage only.

use super::queries::sync_push::{self, PreparedPush, RecordResult};
use super::queries::sync_state;
use super::{DatabaseTarget, DbConnection, write_transaction};
use diesel::Connection;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// The answer to one push: its results, or why it could not be stored.
type Outcome = Result<Vec<RecordResult>, String>;

struct Job {
    push: PreparedPush,
    reply: oneshot::Sender<Outcome>,
}

/// The handle through which pushes reach the writer thread.
pub struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the writer thread with its own connection. A group holds at most `max_records`
    /// records (but always at least one push), so one group's transaction stays short.
    pub fn start(target: DatabaseTarget, max_records: usize) -> anyhow::Result<Self> {
        let conn = target.connect()?;
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("lagesbild-writer".into())
            .spawn(move || writer(target, conn, queue, max_records.max(1)))?;
        Ok(Self { jobs })
    }

    /// Applies a push and answers once it is committed and flushed.
    pub async fn push(&self, push: PreparedPush) -> anyhow::Result<Vec<RecordResult>> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { push, reply }).map_err(|_| anyhow::anyhow!("the writer thread has stopped"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("the writer thread dropped a push"))?
            .map_err(|error| anyhow::anyhow!("the push could not be stored: {error}"))
    }
}

fn writer(target: DatabaseTarget, mut conn: DbConnection, queue: mpsc::Receiver<Job>, max_records: usize) {
    let mut waiting: Option<Job> = None;
    loop {
        let first = match waiting.take() {
            Some(job) => job,
            None => match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        let mut records = first.push.len();
        let mut jobs = vec![first];
        while let Ok(job) = queue.try_recv() {
            if records + job.push.len() > max_records {
                waiting = Some(job);
                break;
            }
            records += job.push.len();
            jobs.push(job);
        }
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(jobs.len());
        let committed = write_transaction(&mut conn, |conn| {
            // First write: serializes writers so that commit order is sequence order.
            let seq = sync_state::take(conn)?;
            for job in &jobs {
                // A savepoint per push: a failing push rolls back alone.
                let outcome = conn.transaction(|conn| sync_push::apply(conn, seq, &job.push));
                outcomes.push(outcome.map_err(|error: diesel::result::Error| error.to_string()));
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
