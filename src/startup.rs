//! `Application::build`: the pool, migrations, shared state, routes and the listener.

use crate::auth::activity::DeviceActivity;
use crate::auth::rate_limit::LoginLimiter;
use crate::auth::revocation::RevocationCache;
use crate::auth::tokens::TokenIssuer;
use crate::auth::{Authenticator, keys};
use crate::config::Settings;
use crate::db::{self, DatabaseTarget};
use crate::domain::password::Passwords;
use crate::jobs::{self, Jobs};
use crate::metrics::Metrics;
use crate::routes;
use crate::routes::middleware;
use crate::state::AppState;
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// The most records one group commit stores in one transaction.
const GROUP_COMMIT_MAX_RECORDS: usize = 20_000;

/// A built server, bound to its listener, ready to run.
pub struct Application {
    port: u16,
    server: Server,
    state: Arc<AppState>,
}

/// Stops a running [`Application`] from outside: its server, then its background work.
pub struct Stopper {
    server: ServerHandle,
    state: Arc<AppState>,
}

impl Stopper {
    /// Stops accepting, ends the connections at once, and stops and joins the background
    /// threads (the writer after storing what it was given). Returns when the threads have
    /// ended; the server's own workers end on their own.
    pub fn stop_now(&self) {
        drop(self.server.stop(false));
        jobs::stop(&self.state);
    }
}

impl Application {
    /// Opens the database, applies migrations, loads keys and binds the listener.
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        let target = DatabaseTarget::from_settings(&settings)?;
        // The address first: a port in use is said before anything is migrated or generated.
        let listener =
            TcpListener::bind(settings.listen).with_context(|| format!("cannot listen on {}", settings.listen))?;
        let pool = db::build_pool(&target, settings.db_pool_size)?;
        {
            let mut conn = pool.get().context("cannot get a database connection")?;
            let applied = db::run_migrations(&mut conn)?;
            for name in &applied {
                tracing::info!(migration = %name, "applied migration");
            }
            db::probe_write(&mut conn).map_err(|error| match &target {
                DatabaseTarget::Sqlite(path) => anyhow::anyhow!(
                    "the database {} cannot be written ({error}): the user running lagesbild must own (or be \
                     able to write) the file, its -wal and -shm files and their directory; e.g. `chown -R \
                     $(whoami) {}`",
                    path.display(),
                    path.parent().map_or_else(|| ".".to_owned(), |dir| dir.display().to_string())
                ),
                DatabaseTarget::Postgres(_) => anyhow::anyhow!(
                    "PostgreSQL does not accept writes ({error}): connect to the primary, as a role that may \
                     write the database"
                ),
            })?;
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
        let (group_commit, writer) = db::group_commit::GroupCommit::start(target.clone(), GROUP_COMMIT_MAX_RECORDS)?;
        let upkeep = db::group_commit::Upkeep::open(&target)?;
        let basemap = match &settings.basemap {
            Some(path) => Some(Arc::new(crate::basemap::BaseMap::open(path)?)),
            None => None,
        };
        let photos = crate::photos::store::PhotoStore::from_settings(&settings)?;
        let state = Arc::new(AppState {
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
            group_commit,
            push_rules: db::queries::push_rules::RulesCache::new(Duration::from_secs(10)),
            pictures: crate::picture::Pictures::new(settings.picture_catch_up_rows),
            area_job_lease: db::queries::area_jobs::Lease::for_this_process(Duration::from_secs(
                settings.area_job_lease_secs,
            )),
            jobs: Jobs::default(),
            basemap,
            photos,
        });
        if let Err(error) = jobs::start(&state, writer, upkeep, db::group_commit::upkeep_period(&target), activity) {
            jobs::stop(&state);
            return Err(error.context("cannot start the background work"));
        }
        let data = web::Data::from(state.clone());

        let port = listener.local_addr().context("the listener has no address")?.port();
        tracing::info!(address = %listener.local_addr().context("no address")?, database = %target.describe(), "lagesbild is listening");
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(middleware::limit_body))
                .wrap(from_fn(middleware::refuse_nul_in_url))
                .wrap(from_fn(middleware::never_cache_the_api))
                .wrap(Compress::default())
                .wrap(from_fn(middleware::observe))
                .app_data(data.clone())
                .app_data(authenticator.clone())
                .configure(routes::configure)
        })
        .shutdown_timeout(settings.shutdown_timeout_secs)
        .listen(listener)
        .context("cannot serve on the listener")?;
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        Ok(Self { port, server: server.run(), state })
    }

    /// The port the server listens on (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that stops the server and its background work from outside.
    pub fn stopper(&self) -> Stopper {
        Stopper { server: self.server.handle(), state: self.state.clone() }
    }

    /// Serves until stopped; SIGTERM and SIGINT drain in-flight requests first. Then the
    /// background work stops, and its threads are joined.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        let state = self.state;
        // Joining waits for blocking work (a batch of an area job, a group commit).
        let _ = tokio::task::spawn_blocking(move || jobs::stop(&state)).await;
        served
    }
}
