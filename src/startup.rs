//! `Application::build`: the pool, migrations, shared state, routes and the listener.

use crate::auth::activity::DeviceActivity;
use crate::auth::password::Passwords;
use crate::auth::rate_limit::LoginLimiter;
use crate::auth::revocation::RevocationCache;
use crate::auth::tokens::TokenIssuer;
use crate::auth::{Authenticator, keys};
use crate::config::Settings;
use crate::db::{self, DatabaseTarget, Pool};
use crate::metrics::Metrics;
use crate::routes;
use crate::routes::middleware;
use actix_web::dev::Server;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// The most records one group commit stores in one transaction.
const GROUP_COMMIT_MAX_RECORDS: usize = 20_000;

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
    pub push_rules: db::queries::sync_push::RulesCache,
    /// The picture's in-memory index per organisation.
    pub pictures: crate::picture::Pictures,
    /// This process's claim on the area reassignment jobs it runs.
    pub area_job_lease: db::queries::area_jobs::Lease,
}

impl AppState {
    /// A connection from the pool, counted in the metrics (the only way handlers reach the
    /// database).
    pub fn conn(&self) -> Result<db::PooledConn, diesel::r2d2::PoolError> {
        self.metrics.checkout();
        self.pool.get()
    }
}

/// A built server, bound to its listener, ready to run.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Opens the database, applies migrations, loads keys and binds the listener.
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        let target = DatabaseTarget::from_settings(&settings)?;
        let pool = db::build_pool(&target, settings.db_pool_size)?;
        {
            let mut conn = pool.get().context("cannot get a database connection")?;
            let applied = db::run_migrations(&mut conn)?;
            for name in &applied {
                tracing::info!(migration = %name, "applied migration");
            }
        }
        let key = keys::signing_key(&settings)?;
        let revocations = Arc::new(RevocationCache::default());
        revocations
            .reload(&mut *pool.get().context("cannot get a database connection")?)
            .context("cannot load revocations")?;
        let activity = Arc::new(DeviceActivity::default());
        let authenticator = web::Data::new(Authenticator {
            tokens: TokenIssuer::new(
                &key,
                &settings.jwt_issuer,
                &settings.jwt_audience,
                settings.access_token_ttl_secs,
            ),
            revocations: revocations.clone(),
            activity: activity.clone(),
        });
        let backend = match target {
            DatabaseTarget::Sqlite(_) => "sqlite",
            DatabaseTarget::Postgres(_) => "postgres",
        };
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            passwords: Passwords::new(
                settings.argon2_memory_kib,
                settings.argon2_iterations,
                settings.argon2_parallelism,
            )?,
            password_slots: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            ),
            login_limiter: LoginLimiter::new(
                settings.login_attempts_per_account,
                settings.login_attempts_per_address,
                Duration::from_secs(settings.login_window_secs),
                &key,
            ),
            revocations: revocations.clone(),
            metrics: Metrics::new(backend),
            settings: settings.clone(),
            group_commit: db::group_commit::GroupCommit::start(target.clone(), GROUP_COMMIT_MAX_RECORDS)?,
            push_rules: db::queries::sync_push::RulesCache::new(Duration::from_secs(10)),
            pictures: crate::picture::Pictures::default(),
            area_job_lease: db::queries::area_jobs::Lease::for_this_process(Duration::from_secs(
                settings.area_job_lease_secs,
            )),
        });
        spawn_housekeeping(state.clone(), activity);
        spawn_picture_warmup(state.clone());
        // Area reassignments that a stopped process left go on where they stopped, now and
        // whenever another process's claim runs out.
        crate::routes::areas::take_over_jobs(&state).context("cannot take over area jobs")?;
        crate::routes::areas::spawn_job_sweeper(state.clone());

        let listener =
            TcpListener::bind(settings.listen).with_context(|| format!("cannot listen on {}", settings.listen))?;
        let port = listener.local_addr().context("the listener has no address")?.port();
        tracing::info!(address = %listener.local_addr().context("no address")?, database = %target.describe(), "lagesbild is listening");
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(middleware::limit_body))
                .wrap(Compress::default())
                .wrap(from_fn(middleware::observe))
                .app_data(state.clone())
                .app_data(authenticator.clone())
                .configure(routes::configure)
        })
        .shutdown_timeout(settings.shutdown_timeout_secs)
        .listen(listener)
        .context("cannot serve on the listener")?;
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        Ok(Self { port, server: server.run() })
    }

    /// The port the server listens on (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until stopped; SIGTERM and SIGINT drain in-flight requests first.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Builds every organisation's picture index in the background right after the start, so that
/// the first heat map or area table after a restart does not wait for it (about 1.8 s per
/// million observations on the benchmark machine). A request that comes first waits for this
/// build (the index's lock) instead of doing one of its own.
fn spawn_picture_warmup(state: web::Data<AppState>) {
    tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let built = (|| -> anyhow::Result<usize> {
            let mut conn = state.conn()?;
            let organisations = db::queries::organisations::ids(&mut conn)?;
            for organisation_id in &organisations {
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
    });
}

/// Background work each process does on its own: picks up revocations made by other processes,
/// writes last-seen times, purges old tombstones and forgets idle login limits.
fn spawn_housekeeping(state: web::Data<AppState>, activity: Arc<DeviceActivity>) {
    let every = Duration::from_millis(state.settings.revocation_poll_ms.max(10));
    tokio::spawn(async move {
        let mut ticks: u64 = 0;
        let mut last_purge: Option<std::time::Instant> = None;
        loop {
            tokio::time::sleep(every).await;
            ticks += 1;
            let state = state.clone();
            let activity = activity.clone();
            let flush = ticks.is_multiple_of(5);
            // Tombstones past the horizon go every purge interval (and once soon after start).
            let interval = Duration::from_secs(state.settings.tombstone_purge_interval_secs);
            let purge = last_purge.is_none_or(|at| at.elapsed() >= interval);
            if purge {
                last_purge = Some(std::time::Instant::now());
            }
            let result = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                let mut conn = state.conn()?;
                state.revocations.refresh(&mut conn)?;
                if flush {
                    let seen = activity.drain();
                    if !seen.is_empty() {
                        db::queries::devices::touch(&mut conn, &seen)?;
                    }
                }
                if purge {
                    let horizon_ms =
                        i64::try_from(state.settings.tombstone_horizon_days).unwrap_or(36_500) * 86_400_000;
                    let before = chrono::Utc::now().timestamp_millis() - horizon_ms;
                    let removed = db::queries::sync_state::purge_tombstones(&mut conn, before)?;
                    if removed > 0 {
                        tracing::info!(removed, "purged tombstones past the horizon");
                    }
                    LoginLimiter::forget_idle(&mut conn)?;
                }
                Ok(())
            })
            .await;
            match result {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(error = %format!("{error:#}"), "housekeeping failed; will retry"),
                Err(error) => tracing::warn!(%error, "housekeeping could not run"),
            }
        }
    });
}
