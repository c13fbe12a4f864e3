//! Reassignment jobs: after an organisation's areas changed, every record gets the area the
//! current index gives it, in batches that resume where the last one stopped.
//!
//! A job is leased: its owner (one process) renews `lease_until` with every batch, and any
//! process takes over a running job whose lease ran out, from `last_table`/`last_id`. A newer
//! job of the same organisation supersedes the older unfinished ones, since it covers every
//! record anyway. Each batch checks, in its own transaction, that the job is still running and
//! still its owner's, and writes nothing otherwise.

use super::sync_state;
use crate::db::DbConnection;
use crate::db::schema::{activity_logs, area_jobs, observations};
use crate::domain::areas::AreaIndex;
use crate::domain::sync::SyncedTable;
use diesel::prelude::*;

/// The state of a job still at work.
pub const RUNNING: &str = "running";
/// The state of a job that went through every record.
pub const DONE: &str = "done";
/// The state of a job a newer one of the same organisation replaced.
pub const SUPERSEDED: &str = "superseded";

/// Who runs jobs, and for how long a claim holds without being renewed.
#[derive(Debug, Clone)]
pub struct Lease {
    pub owner: String,
    pub duration_ms: i64,
}

impl Lease {
    /// A lease for this process: its id and a random part, so that a restarted process with
    /// the same id is another owner.
    pub fn for_this_process(duration: std::time::Duration) -> Self {
        Self {
            owner: format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple()),
            duration_ms: i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 2),
        }
    }

    fn until(&self, now_ms: i64) -> i64 {
        now_ms.saturating_add(self.duration_ms)
    }
}

/// A reassignment job.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = area_jobs)]
pub struct AreaJob {
    pub id: String,
    pub organisation_id: String,
    pub state: String,
    pub total: i64,
    pub done: i64,
    pub changed: i64,
    pub last_table: Option<String>,
    pub last_id: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub owner: Option<String>,
    pub lease_until: Option<i64>,
}

/// Starts a job that reassigns every record of the organisation, leased to `lease`'s owner,
/// and supersedes the organisation's unfinished jobs. Call it in the transaction that changed
/// the areas, so that the job exists exactly when the change does.
pub fn create(conn: &mut DbConnection, organisation_id: &str, now_ms: i64, lease: &Lease) -> QueryResult<AreaJob> {
    diesel::update(
        area_jobs::table.filter(area_jobs::organisation_id.eq(organisation_id)).filter(area_jobs::state.eq(RUNNING)),
    )
    .set((area_jobs::state.eq(SUPERSEDED), area_jobs::finished_at.eq(now_ms)))
    .execute(conn)?;
    let observations: i64 =
        observations::table.filter(observations::organisation_id.eq(organisation_id)).count().get_result(conn)?;
    let activities: i64 =
        activity_logs::table.filter(activity_logs::organisation_id.eq(organisation_id)).count().get_result(conn)?;
    let job = AreaJob {
        id: uuid::Uuid::now_v7().to_string(),
        organisation_id: organisation_id.to_owned(),
        state: RUNNING.to_owned(),
        total: observations + activities,
        done: 0,
        changed: 0,
        last_table: None,
        last_id: None,
        created_at: now_ms,
        finished_at: None,
        owner: Some(lease.owner.clone()),
        lease_until: Some(lease.until(now_ms)),
    };
    diesel::insert_into(area_jobs::table).values(&job).execute(conn)?;
    Ok(job)
}

/// The organisation's jobs, newest first.
pub fn list(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<Vec<AreaJob>> {
    area_jobs::table
        .filter(area_jobs::organisation_id.eq(organisation_id))
        .order((area_jobs::created_at.desc(), area_jobs::id.desc()))
        .limit(50)
        .select(AreaJob::as_select())
        .load(conn)
}

/// Claims every running job whose lease ran out (or that never had one) for `lease`'s owner
/// and returns them. Each claim is a conditional update, so of two processes sweeping at once
/// only one gets a job.
pub fn take_over_expired(conn: &mut DbConnection, lease: &Lease, now_ms: i64) -> QueryResult<Vec<AreaJob>> {
    let expired = || area_jobs::lease_until.is_null().or(area_jobs::lease_until.lt(now_ms));
    let candidates: Vec<AreaJob> = area_jobs::table
        .filter(area_jobs::state.eq(RUNNING))
        .filter(expired())
        .order(area_jobs::created_at.asc())
        .select(AreaJob::as_select())
        .load(conn)?;
    let mut claimed = Vec::new();
    for mut job in candidates {
        let taken =
            diesel::update(area_jobs::table.find(&job.id).filter(area_jobs::state.eq(RUNNING)).filter(expired()))
                .set((area_jobs::owner.eq(&lease.owner), area_jobs::lease_until.eq(lease.until(now_ms))))
                .execute(conn)?;
        if taken == 1 {
            tracing::info!(job = %job.id, previous_owner = job.owner.as_deref().unwrap_or("-"), "took over an area job");
            job.owner = Some(lease.owner.clone());
            job.lease_until = Some(lease.until(now_ms));
            claimed.push(job);
        }
    }
    Ok(claimed)
}

/// Records reassigned per transaction.
const BATCH: i64 = 1000;

/// One record whose area changes: its id, the sequence number it had when read, and its new
/// area.
#[derive(Debug, Clone)]
pub struct Move {
    pub id: String,
    pub seq: i64,
    pub area: Option<String>,
}

/// One batch as read: the table, how many records it went through, the last id, and the
/// records whose area changes.
#[derive(Debug, Clone)]
pub struct BatchPlan {
    pub table: SyncedTable,
    pub read: usize,
    pub last_id: Option<String>,
    pub moves: Vec<Move>,
}

/// What a batch left the job as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// More records to go.
    More,
    /// Every record went through.
    Finished,
    /// The job is no longer this owner's (superseded, or taken over after its lease ran out):
    /// the batch wrote nothing.
    Lost,
}

/// Reads the next batch after the job's position and works out which records move. Takes no
/// lock: [`apply_batch`] writes only what nobody changed since.
pub fn plan_batch(conn: &mut DbConnection, job: &AreaJob, index: &AreaIndex) -> QueryResult<BatchPlan> {
    // A job starts with the observations; a table it does not know is a corrupt position.
    let table = match job.last_table.as_deref() {
        None => SyncedTable::Observations,
        Some(name) => SyncedTable::record(name).ok_or_else(|| {
            diesel::result::Error::DeserializationError(format!("area job {}: unknown table `{name}`", job.id).into())
        })?,
    };
    let after = job.last_id.clone().unwrap_or_default();
    let org = &job.organisation_id;
    type Placed = (String, i64, Option<f64>, Option<f64>, Option<String>, Option<i32>);
    let rows: Vec<Placed> = match table {
        SyncedTable::Observations => observations::table
            .filter(observations::organisation_id.eq(org))
            .filter(observations::id.gt(&after))
            .order(observations::id.asc())
            .limit(BATCH)
            .select((
                observations::id,
                observations::server_seq,
                observations::lon.nullable(),
                observations::lat.nullable(),
                observations::area_code,
                observations::coarse_darkness,
            ))
            .load(conn)?,
        SyncedTable::ActivityLogs => activity_logs::table
            .filter(activity_logs::organisation_id.eq(org))
            .filter(activity_logs::id.gt(&after))
            .order(activity_logs::id.asc())
            .limit(BATCH)
            .select((
                activity_logs::id,
                activity_logs::server_seq,
                activity_logs::lon,
                activity_logs::lat,
                activity_logs::area_code,
                activity_logs::coarse_darkness,
            ))
            .load(conn)?,
        other => return Err(super::not_served(other, "records")),
    };
    let read = rows.len();
    let last_id = rows.last().map(|row| row.0.clone());
    let moves = rows
        .into_iter()
        .filter_map(|(id, seq, lon, lat, area, coarse)| {
            let new = place(index, lon, lat, coarse.is_some(), area.as_deref())?;
            (new != area).then_some(Move { id, seq, area: new })
        })
        .collect();
    Ok(BatchPlan { table, read, last_id, moves })
}

/// The area a record at (lon, lat) belongs in; None when the server does not place it: an
/// activity without a position keeps the area its reporter chose, and a record whose position
/// retention coarsened keeps the area its exact position gave it while that area exists (its
/// hexagon's centre is placed only once the area is gone).
fn place(
    index: &AreaIndex,
    lon: Option<f64>,
    lat: Option<f64>,
    coarse: bool,
    area: Option<&str>,
) -> Option<Option<String>> {
    if coarse && area.is_some_and(|code| index.has(code)) {
        return None;
    }
    let (lon, lat) = (lon?, lat?);
    Some(index.locate(lon, lat).map(str::to_owned))
}

/// Writes a planned batch and the job's progress in one transaction, and renews the lease.
///
/// A record changed after [`plan_batch`] read it (a push, a move, a review) is not overwritten:
/// its update is conditional on the sequence number read. Such a record is then locked and read
/// again (see [`super::records::lock`]), so what is read then stays until commit, and placed
/// again.
/// Nothing is written unless the job is still running and still this owner's; checked after
/// the lock was taken, so an import or delete that superseded the job and committed meanwhile
/// is seen.
pub fn apply_batch(
    conn: &mut DbConnection,
    job: &mut AreaJob,
    index: &AreaIndex,
    plan: BatchPlan,
    lease: &Lease,
    now_ms: i64,
) -> QueryResult<Progress> {
    let mut next = job.clone();
    let outcome = crate::db::write_transaction(conn, |conn| {
        let mut changed = 0;
        if !plan.moves.is_empty() {
            let seq = sync_state::take(conn)?;
            for planned in &plan.moves {
                if move_record(conn, &next.organisation_id, plan.table, planned, index, seq)? {
                    changed += 1;
                }
            }
        }
        next.done += i64::try_from(plan.read).unwrap_or(0);
        // Records pushed while the job runs are gone through too: the total grows with them.
        next.total = next.total.max(next.done);
        next.changed += changed;
        let progress = match &plan.last_id {
            Some(last) => {
                next.last_table = Some(plan.table.name().to_owned());
                next.last_id = Some(last.clone());
                Progress::More
            }
            None if plan.table == SyncedTable::Observations => {
                next.last_table = Some(SyncedTable::ActivityLogs.name().to_owned());
                next.last_id = None;
                Progress::More
            }
            None => {
                next.state = DONE.to_owned();
                next.finished_at = Some(now_ms);
                Progress::Finished
            }
        };
        next.lease_until = Some(lease.until(now_ms));
        let ours = diesel::update(
            area_jobs::table
                .find(&next.id)
                .filter(area_jobs::state.eq(RUNNING))
                .filter(area_jobs::owner.eq(&lease.owner)),
        )
        .set((
            area_jobs::state.eq(&next.state),
            area_jobs::total.eq(next.total),
            area_jobs::done.eq(next.done),
            area_jobs::changed.eq(next.changed),
            area_jobs::last_table.eq(&next.last_table),
            area_jobs::last_id.eq(&next.last_id),
            area_jobs::finished_at.eq(next.finished_at),
            area_jobs::lease_until.eq(next.lease_until),
        ))
        .execute(conn)?;
        if ours == 0 {
            // Undo the batch: the job belongs to someone else now.
            return Err(diesel::result::Error::RollbackTransaction);
        }
        Ok(progress)
    });
    match outcome {
        Ok(progress) => {
            *job = next;
            Ok(progress)
        }
        Err(diesel::result::Error::RollbackTransaction) => Ok(Progress::Lost),
        Err(error) => Err(error),
    }
}

/// Gives one planned record its new area unless it changed since it was read, in which case it
/// is read again (under the lock) and placed afresh. Returns whether its area changed.
fn move_record(
    conn: &mut DbConnection,
    org: &str,
    table: SyncedTable,
    planned: &Move,
    index: &AreaIndex,
    seq: i64,
) -> QueryResult<bool> {
    let set_area = |conn: &mut DbConnection, area: &Option<String>, read_seq: Option<i64>| -> QueryResult<usize> {
        match table {
            SyncedTable::Observations => {
                let target = observations::table.find((org, &planned.id));
                let values = (observations::area_code.eq(area), observations::server_seq.eq(seq));
                match read_seq {
                    Some(read) => {
                        diesel::update(target.filter(observations::server_seq.eq(read))).set(values).execute(conn)
                    }
                    None => diesel::update(target).set(values).execute(conn),
                }
            }
            SyncedTable::ActivityLogs => {
                let target = activity_logs::table.find((org, &planned.id));
                let values = (activity_logs::area_code.eq(area), activity_logs::server_seq.eq(seq));
                match read_seq {
                    Some(read) => {
                        diesel::update(target.filter(activity_logs::server_seq.eq(read))).set(values).execute(conn)
                    }
                    None => diesel::update(target).set(values).execute(conn),
                }
            }
            other => Err(super::not_served(other, "records")),
        }
    };
    if set_area(conn, &planned.area, Some(planned.seq))? == 1 {
        return Ok(true);
    }
    // Changed since the batch read it: place what is stored now, locked until commit.
    super::records::lock(conn, org, table, &[planned.id.as_str()])?;
    type Stored = (Option<f64>, Option<f64>, Option<String>, Option<i32>);
    let stored: Option<Stored> = match table {
        SyncedTable::Observations => observations::table
            .find((org, &planned.id))
            .select((
                observations::lon.nullable(),
                observations::lat.nullable(),
                observations::area_code,
                observations::coarse_darkness,
            ))
            .first(conn)
            .optional()?,
        SyncedTable::ActivityLogs => activity_logs::table
            .find((org, &planned.id))
            .select((activity_logs::lon, activity_logs::lat, activity_logs::area_code, activity_logs::coarse_darkness))
            .first(conn)
            .optional()?,
        other => return Err(super::not_served(other, "records")),
    };
    let Some((lon, lat, area, coarse)) = stored else { return Ok(false) };
    match place(index, lon, lat, coarse.is_some(), area.as_deref()) {
        Some(new) if new != area => Ok(set_area(conn, &new, None)? == 1),
        _ => Ok(false),
    }
}

/// Does one batch of a job: [`plan_batch`] then [`apply_batch`].
pub fn run_batch(
    conn: &mut DbConnection,
    job: &mut AreaJob,
    index: &AreaIndex,
    lease: &Lease,
    now_ms: i64,
) -> QueryResult<Progress> {
    let plan = plan_batch(conn, job, index)?;
    apply_batch(conn, job, index, plan, lease, now_ms)
}

/// Runs a job to its end on this connection (the command line and the demo, which hold the
/// job's lease themselves). Returns the job as it ended.
pub fn run_to_end(conn: &mut DbConnection, mut job: AreaJob, lease: &Lease) -> QueryResult<(AreaJob, Progress)> {
    let index = super::areas::index(conn, &job.organisation_id)?;
    loop {
        match run_batch(conn, &mut job, &index, lease, chrono::Utc::now().timestamp_millis())? {
            Progress::More => {}
            ended => return Ok((job, ended)),
        }
    }
}
