//! The process's background work, in one place: the push writer, the database's upkeep
//! (checkpoints or planner statistics), housekeeping (revocations made elsewhere, last-seen
//! times, tombstone and login-limit purges), the picture warm-up, and the area reassignment jobs
//! with their sweeper. Startup starts them; shutdown stops them and joins their threads, so no
//! thread outlives the server that started it (the test servers too).
//!
//! Each runs on a thread of its own, not on the async workers: their work is blocking database
//! work, and a thread can be joined.

pub mod threads;

use crate::auth::activity::DeviceActivity;
use crate::db;
use crate::db::group_commit::{Upkeep, Writer};
use crate::db::queries::area_jobs::{self, AreaJob, Progress};
use crate::db::queries::areas as area_queries;
use crate::state::AppState;
use std::sync::Arc;
use std::time::{Duration, Instant};
pub use threads::Jobs;

/// Starts the process's background work on `state`.
pub fn start(
    state: &Arc<AppState>,
    writer: Writer,
    upkeep: Upkeep,
    period: Duration,
    activity: Arc<DeviceActivity>,
) -> anyhow::Result<()> {
    let jobs = &state.jobs;
    jobs.spawn("lagesbild-writer", move || writer.run())?;
    let mut upkeep = upkeep;
    jobs.every("lagesbild-upkeep", period, move || upkeep.run())?;
    start_housekeeping(state, activity)?;
    start_retention(state)?;
    let warm = state.clone();
    jobs.spawn("lagesbild-warmup", move || warm_up_pictures(&warm))?;
    // Area reassignments that a stopped process left go on where they stopped, now and
    // whenever another process's claim runs out.
    take_over_area_jobs(state)?;
    let sweeper = state.clone();
    let every = Duration::from_millis((state.settings.area_job_lease_secs.max(1) * 500).max(500));
    jobs.every("lagesbild-area-sweep", every, move || {
        if let Err(error) = take_over_area_jobs(&sweeper) {
            tracing::warn!(error = %format!("{error:#}"), "cannot take over area jobs; will retry");
        }
    })?;
    Ok(())
}

/// Stops the background work and joins it: the writer once it has stored what is queued.
pub fn stop(state: &AppState) {
    state.group_commit.close();
    state.jobs.stop_and_join();
}

/// Builds every organisation's picture index right after the start, so that the first heat
/// map or area table after a restart does not wait for it (about 1.8 s per million
/// observations on the benchmark machine). A request that comes first waits for this build
/// (the index's lock) instead of doing one of its own.
fn warm_up_pictures(state: &AppState) {
    let started = Instant::now();
    let built = (|| -> anyhow::Result<usize> {
        let mut conn = state.conn()?;
        let organisations = db::queries::organisations::ids(&mut conn)?;
        for organisation_id in &organisations {
            if state.jobs.is_stopped() {
                break;
            }
            state.pictures.current(&mut conn, organisation_id)?;
        }
        Ok(organisations.len())
    })();
    match built {
        Ok(organisations) => {
            tracing::info!(organisations, ms = started.elapsed().as_millis(), "picture indexes built")
        }
        Err(error) => tracing::warn!(error = %format!("{error:#}"), "cannot build the picture indexes ahead"),
    }
}

/// Work each process does on its own: picks up revocations made by other processes, writes
/// last-seen times, purges old tombstones and forgets idle login limits.
fn start_housekeeping(state: &Arc<AppState>, activity: Arc<DeviceActivity>) -> std::io::Result<()> {
    let every = Duration::from_millis(state.settings.revocation_poll_ms.max(10));
    let state = state.clone();
    let mut ticks: u64 = 0;
    let mut last_purge: Option<Instant> = None;
    state.jobs.clone().every("lagesbild-housekeeping", every, move || {
        ticks += 1;
        let flush = ticks.is_multiple_of(5);
        // Tombstones past the horizon go every purge interval (and once soon after start).
        let interval = Duration::from_secs(state.settings.tombstone_purge_interval_secs);
        let purge = last_purge.is_none_or(|at| at.elapsed() >= interval);
        if purge {
            last_purge = Some(Instant::now());
        }
        if let Err(error) = housekeep(&state, &activity, flush, purge) {
            tracing::warn!(error = %format!("{error:#}"), "housekeeping failed; will retry");
        }
    })
}

fn housekeep(state: &AppState, activity: &DeviceActivity, flush: bool, purge: bool) -> anyhow::Result<()> {
    let mut conn = state.conn()?;
    state.revocations.refresh(&mut conn)?;
    if flush {
        let seen = activity.drain();
        if !seen.is_empty() {
            db::queries::devices::touch(&mut conn, &seen)?;
        }
    }
    if purge {
        let horizon_ms = i64::try_from(state.settings.tombstone_horizon_days).unwrap_or(36_500) * 86_400_000;
        let before = chrono::Utc::now().timestamp_millis() - horizon_ms;
        let removed = db::queries::sync_state::purge_tombstones(&mut conn, before)?;
        if removed > 0 {
            tracing::info!(removed, "purged tombstones past the horizon");
        }
        let swept = crate::photos::sweep(&mut conn, &state.photos, chrono::Utc::now().timestamp_millis())?;
        if swept != crate::photos::Swept::default() {
            tracing::info!(photos = swept.photos, orphans = swept.orphans, chunks = swept.chunks, "swept photos");
        }
        crate::auth::rate_limit::LoginLimiter::forget_idle(&mut conn)?;
    }
    Ok(())
}

/// Applies each organisation's retention periods once per `retention_interval_secs` (a day by
/// default). Every process looks; the one that claims an organisation's run does it.
fn start_retention(state: &Arc<AppState>) -> std::io::Result<()> {
    let interval = state.settings.retention_interval_secs.max(1);
    let every = Duration::from_secs(interval.min(600));
    let state = state.clone();
    state.jobs.clone().every("lagesbild-retention", every, move || {
        if let Err(error) = apply_retention(&state, interval) {
            tracing::warn!(error = %format!("{error:#}"), "retention failed; will retry");
        }
    })
}

fn apply_retention(state: &AppState, interval_secs: u64) -> anyhow::Result<()> {
    use db::queries::retention;
    let mut conn = state.conn()?;
    let every_ms = i64::try_from(interval_secs).unwrap_or(i64::MAX / 1000).saturating_mul(1000);
    for row in retention::all(&mut conn)? {
        let policy = row.policy();
        let now = chrono::Utc::now().timestamp_millis();
        if state.jobs.is_stopped() {
            break;
        }
        if policy.keeps_everything() || !retention::claim(&mut conn, &row.organisation_id, now, every_ms)? {
            continue;
        }
        let actor = db::queries::audit::Actor {
            organisation_id: row.organisation_id.clone(),
            user_id: None,
            role: "system".to_owned(),
        };
        let purge = retention::run(&mut conn, &actor, &policy, now, false, crate::picture::darkness)?;
        crate::photos::remove_files(&state.photos, &purge.dropped_photos)?;
        tracing::info!(organisation = %row.organisation_id, removed = purge.total(), "retention applied");
    }
    Ok(())
}

/// Runs a reassignment job to its end on a thread of its own, batch by batch, with one index of
/// the areas for all its batches: should the areas change meanwhile, the job is superseded and
/// its next batch writes nothing and ends it. After repeated failures, or when the process
/// stops, it stops where it is, and the job is taken over once its lease has run out (by this
/// process or another).
pub fn run_area_job(state: &Arc<AppState>, job: AreaJob) {
    let runner = state.clone();
    let id = job.id.clone();
    if let Err(error) = state.jobs.spawn("lagesbild-area-job", move || area_job(&runner, job)) {
        tracing::warn!(job = %id, %error, "cannot start an area job; it is taken over later");
    }
}

fn area_job(state: &AppState, mut job: AreaJob) {
    let lease = state.area_job_lease.clone();
    let mut index = None;
    let mut failures = 0;
    while !state.jobs.is_stopped() {
        let step = state.conn().map_err(|e| anyhow::anyhow!(e)).and_then(|mut conn| {
            let areas = match &mut index {
                Some(areas) => areas,
                unread @ None => unread.insert(area_queries::index(&mut conn, &job.organisation_id)?),
            };
            let now = chrono::Utc::now().timestamp_millis();
            Ok(area_jobs::run_batch(&mut conn, &mut job, areas, &lease, now)?)
        });
        match step {
            Ok(Progress::More) => failures = 0,
            Ok(Progress::Finished) => {
                tracing::info!(job = %job.id, changed = job.changed, "areas reassigned");
                return;
            }
            Ok(Progress::Lost) => {
                tracing::info!(job = %job.id, "area job superseded or taken over; stopping here");
                return;
            }
            Err(error) => {
                failures += 1;
                tracing::warn!(job = %job.id, error = %format!("{error:#}"), "area reassignment failed; will retry");
                // Left `running`: it is taken over once its lease runs out.
                if failures > 20 || !state.jobs.sleep(Duration::from_millis(500)) {
                    return;
                }
            }
        }
    }
}

/// Claims the running jobs whose lease ran out and runs them here.
pub fn take_over_area_jobs(state: &Arc<AppState>) -> anyhow::Result<()> {
    let mut conn = state.conn()?;
    let now = chrono::Utc::now().timestamp_millis();
    for job in area_jobs::take_over_expired(&mut conn, &state.area_job_lease, now)? {
        run_area_job(state, job);
    }
    Ok(())
}
