//! Sync load: the real server in this process (`Application::build` on 127.0.0.1, port 0, default
//! workers and pool, a fresh SQLite data dir or a fresh PostgreSQL database), one organisation with
//! a unit, field users and their logged-in devices, and concurrent clients on 127.0.0.1.
//!
//! It measures, each for a bounded time and a bounded number of requests, in one run so that the
//! figures share the machine's state:
//!
//! 1. **batch**: D devices pushing batches of B new observations back to back (64 × 100);
//! 2. **single**: one observation per push (32 × 1);
//! 3. **many**: many devices pushing small batches back to back (256 × 10), and **paced**: the same
//!    devices each pushing once per interval (latency below saturation, measured from the scheduled
//!    send time so that a slow server is not hidden by the client waiting);
//! 4. **first-sync**: a user with 5,000 own observations (pushed first), a new device of that user,
//!    a full first pull in one page (`limit=10000`), with `Accept-Encoding` identity, gzip, br and
//!    zstd: wall time (median of several runs) and the bytes on the wire (no client decompression);
//! 5. baselines: **http**, the same client loop and concurrency against a bare actix-web handler in
//!    this process (the HTTP ceiling), and **storage**, rows written straight into the same database
//!    with diesel (bulk inserts of 100 rows per transaction, 100 single-row inserts per transaction,
//!    one row per transaction, `sync_push::push` called directly without HTTP, and on SQLite a bare
//!    write + fdatasync loop in the data directory), from one and from several threads;
//! 6. **areas**: scenario 1 into a second organisation holding 50 nested areas of real size
//!    (23,000 vertices) against scenario 1 into the first (no areas), in the order without, with,
//!    with, without, and so on (`SYNC_LOAD_AREAS_ROUNDS`): what assigning areas at ingest costs, with the direct per-record cost of
//!    placing a position in an area and an H3 cell.
//!
//! Every measured phase also reports where the CPU went: this process's threads by kind (server
//! HTTP workers, the server's blocking threads that run the database work, the load-generating
//! client, storage threads), the PostgreSQL server processes, and the whole machine (busy, iowait,
//! and what other processes used).
//!
//! Run with `cargo bench --bench sync_load`. Environment variables:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `SYNC_LOAD_BACKEND` | `sqlite` | `sqlite`, `postgres`, or both comma-separated (`all` = both) |
//! | `SYNC_LOAD_POSTGRES_URL` | `postgres://postgres@127.0.0.1:5432/postgres` | admin URL (127.0.0.1 or localhost only); a fresh database is created there and dropped afterwards |
//! | `SYNC_LOAD_SCENARIOS` | all | comma-separated from `batch,single,many,paced,first-sync,http,storage,areas` |
//! | `SYNC_LOAD_SECONDS` | `10` | measured seconds per load phase |
//! | `SYNC_LOAD_WARMUP_SECONDS` | `2` | unmeasured seconds before each load phase |
//! | `SYNC_LOAD_MAX_REQUESTS` | `1000000` | cap on requests per load phase |
//! | `SYNC_LOAD_BATCH` | `64x100` | devices × records per push of scenario 1 |
//! | `SYNC_LOAD_SINGLE` | `32x1` | devices × records per push of scenario 2 |
//! | `SYNC_LOAD_MANY` | `256x10` | devices × records per push of scenario 3 |
//! | `SYNC_LOAD_PACED_INTERVAL_MS` | `5000` | push interval of each device in the paced variant of scenario 3 |
//! | `SYNC_LOAD_USERS` | `64` | field users the devices are spread over (device i belongs to user i mod U) |
//! | `SYNC_LOAD_FIRST_SYNC_RECORDS` | `5000` | own observations of the first-sync user |
//! | `SYNC_LOAD_FIRST_SYNC_RUNS` | `7` | measured first pulls per encoding |
//! | `SYNC_LOAD_AREAS_ROUNDS` | `4` | rounds of the areas scenario, each one phase without and one with areas |
//! | `SYNC_LOAD_STORAGE_SECONDS` | `3` | measured seconds per storage-ceiling row |
//! | `SYNC_LOAD_STORAGE_THREADS` | `1,4` (SQLite), `1,4,16` (PostgreSQL) | writer threads of the storage rows |
//! | `SYNC_LOAD_PERF` | on | `0` to not count syscalls with `perf stat` (used only if it works) |

mod areas;
mod backend;
mod config;
mod first_sync;
mod load;
#[path = "../common/login.rs"]
mod login;
#[path = "../common/machine.rs"]
mod machine;
mod probe;
mod records;
mod report;
#[path = "../common/scratch_postgres.rs"]
mod scratch_postgres;
#[path = "../common/seed.rs"]
mod seed;
mod setup;
mod storage;

use areas::*;
use backend::*;
use config::*;
use first_sync::*;
use load::*;
use probe::*;
use records::*;
use report::*;
use setup::*;
use storage::*;

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use lagesbild::config::{Secret, Settings};
use lagesbild::db::models::ObservationRow;
use lagesbild::db::queries::sync_push;
use lagesbild::db::queries::sync_state;
use lagesbild::db::schema::observations;
use lagesbild::db::{DatabaseTarget, DbConnection};
use lagesbild::domain::identity::Role;
use lagesbild::domain::password::Passwords;
use lagesbild::domain::push::{PushContext, Status, TableChanges};
use lagesbild::startup::Application;
use login::Login;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE};
use seed::User;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const ORGANISATION: &str = "bench";
/// The organisation of the `areas` scenario: the same users, with 50 nested areas.
const AREAS_ORGANISATION: &str = "bench-areas";
const PASSWORD: &str = "correct horse battery staple";
const SIGNING_KEY: &str = "bench-signing-key-with-at-least-32-bytes-of-entropy";
/// /proc reports CPU time in USER_HZ ticks, which is 100 on Linux.
const TICKS_PER_SECOND: f64 = 100.0;
/// The `results` entry of an applied record, as the server serialises it.
const APPLIED: &str = r#""status":"applied""#;

fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    print_machine();
    let mut report = Report::default();
    for &backend in &config.backends {
        if backend == Backend::Postgres
            && let Err(error) = lagesbild::db::connect_postgres(&config.postgres_url)
        {
            println!("\n## postgres — skipped: cannot connect to {}: {error}", config.postgres_url);
            continue;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread().thread_name("bench-client").enable_all().build()?;
        let result = runtime.block_on(run_backend(&config, backend, &mut report));
        runtime.shutdown_timeout(Duration::from_secs(10));
        result.with_context(|| format!("the {} run failed", backend.name()))?;
    }
    print_report(&report);
    Ok(())
}
