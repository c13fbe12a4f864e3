//! What every handler shares, and the one way handlers reach the database.

use crate::auth::rate_limit::LoginLimiter;
use crate::auth::revocation::RevocationCache;
use crate::config::Settings;
use crate::db::{self, DbConnection, Pool};
use crate::domain::password::Passwords;
use crate::error::ApiResult;
use crate::jobs::threads::Jobs;
use crate::metrics::Metrics;
use actix_web::web;
use std::sync::Arc;

/// What every handler shares.
pub struct AppState {
    /// The one database pool.
    pub pool: Pool,
    /// Password hashing.
    pub passwords: Passwords,
    /// Password checks that may run at once: one per core. Each argon2id check holds its memory
    /// cost (46 MiB by default) for its whole run, and a burst of logins would otherwise run as
    /// many at once as the blocking pool has threads (hundreds), taking gigabytes and the threads
    /// the database work needs; the rest wait their turn without holding a thread.
    pub password_slots: tokio::sync::Semaphore,
    /// Login attempt limits.
    pub login_limiter: LoginLimiter,
    /// The revocation cache, reloaded at once after a change made here.
    pub revocations: Arc<RevocationCache>,
    /// Request and pool metrics.
    pub metrics: Metrics,
    /// The settings the server started with.
    pub settings: Settings,
    /// The writer thread that commits concurrent pushes together.
    pub group_commit: db::group_commit::GroupCommit,
    /// Validation rules per organisation, read once and kept briefly.
    pub push_rules: db::queries::push_rules::RulesCache,
    /// The picture's in-memory index per organisation.
    pub pictures: crate::picture::Pictures,
    /// This process's claim on the area reassignment jobs it runs.
    pub area_job_lease: db::queries::area_jobs::Lease,
    /// The process's background work, stopped and joined at shutdown.
    pub jobs: Jobs,
    /// The base map served as `/tiles/{z}/{x}/{y}`, when one is configured.
    pub basemap: Option<Arc<crate::basemap::BaseMap>>,
    /// Where photo bytes are kept.
    pub photos: crate::photos::store::PhotoStore,
}

impl AppState {
    /// A connection from the pool, counted in the metrics (the only way handlers reach the
    /// database).
    pub fn conn(&self) -> Result<db::PooledConn, crate::db::PoolError> {
        self.metrics.checkout();
        self.pool.get()
    }
}

/// Runs database work on the blocking pool with a pooled connection, never on an async worker.
pub async fn db<T, F>(state: &web::Data<AppState>, work: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection, &AppState) -> ApiResult<T> + Send + 'static,
{
    let state = state.clone();
    web::block(move || {
        let mut conn = state.conn()?;
        work(&mut conn, &state)
    })
    .await?
}
