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

#[path = "common/login.rs"]
mod login;
#[path = "common/seed.rs"]
mod seed;

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

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Batch,
    Single,
    Many,
    Paced,
    FirstSync,
    Http,
    Storage,
    Areas,
}

const SCENARIOS: [(&str, Scenario); 8] = [
    ("batch", Scenario::Batch),
    ("single", Scenario::Single),
    ("many", Scenario::Many),
    ("paced", Scenario::Paced),
    ("first-sync", Scenario::FirstSync),
    ("http", Scenario::Http),
    ("storage", Scenario::Storage),
    ("areas", Scenario::Areas),
];

/// Devices and records per push of one push scenario.
#[derive(Debug, Clone, Copy)]
struct Shape {
    devices: usize,
    batch: usize,
}

struct Config {
    backends: Vec<Backend>,
    postgres_url: String,
    scenarios: Vec<Scenario>,
    measure: Duration,
    warmup: Duration,
    max_requests: u64,
    batch: Shape,
    single: Shape,
    many: Shape,
    paced_interval: Duration,
    users: usize,
    first_sync_records: usize,
    first_sync_runs: usize,
    areas_rounds: usize,
    storage_measure: Duration,
    storage_threads: Option<Vec<usize>>,
    /// Count syscalls with `perf stat` if it works here.
    perf: bool,
}

impl Config {
    fn from_env() -> anyhow::Result<Self> {
        let secs = |name: &str, default: f64| -> anyhow::Result<Duration> {
            let value: f64 = env_or(name, default)?;
            anyhow::ensure!((0.0..=600.0).contains(&value), "{name} must be between 0 and 600 seconds");
            Ok(Duration::from_secs_f64(value))
        };
        let backends = match std::env::var("SYNC_LOAD_BACKEND").unwrap_or_else(|_| "sqlite".to_owned()).trim() {
            "all" | "both" => vec![Backend::Sqlite, Backend::Postgres],
            list => list
                .split(',')
                .map(|name| match name.trim() {
                    "sqlite" => Ok(Backend::Sqlite),
                    "postgres" | "postgresql" => Ok(Backend::Postgres),
                    other => anyhow::bail!("SYNC_LOAD_BACKEND: `{other}` is not sqlite or postgres"),
                })
                .collect::<anyhow::Result<Vec<_>>>()?,
        };
        let scenarios = match std::env::var("SYNC_LOAD_SCENARIOS") {
            Ok(list) if !list.trim().is_empty() && list.trim() != "all" => list
                .split(',')
                .map(|name| {
                    SCENARIOS.iter().find(|(n, _)| *n == name.trim()).map(|(_, s)| *s).with_context(|| {
                        format!("SYNC_LOAD_SCENARIOS: `{name}` is not one of {}", SCENARIOS.map(|(n, _)| n).join(", "))
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?,
            _ => SCENARIOS.iter().map(|(_, s)| *s).collect(),
        };
        let postgres_url = std::env::var("SYNC_LOAD_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        anyhow::ensure!(
            matches!(url_host(&postgres_url), Some("127.0.0.1" | "localhost")),
            "SYNC_LOAD_POSTGRES_URL must point at 127.0.0.1 or localhost"
        );
        let storage_threads = match std::env::var("SYNC_LOAD_STORAGE_THREADS") {
            Ok(list) => Some(parse_list("SYNC_LOAD_STORAGE_THREADS", &list, 1..=64)?),
            Err(_) => None,
        };
        let paced_ms: u64 = env_or("SYNC_LOAD_PACED_INTERVAL_MS", 5000)?;
        let config = Self {
            backends,
            postgres_url,
            scenarios,
            measure: secs("SYNC_LOAD_SECONDS", 10.0)?,
            warmup: secs("SYNC_LOAD_WARMUP_SECONDS", 2.0)?,
            max_requests: env_or("SYNC_LOAD_MAX_REQUESTS", 1_000_000)?,
            batch: shape("SYNC_LOAD_BATCH", Shape { devices: 64, batch: 100 })?,
            single: shape("SYNC_LOAD_SINGLE", Shape { devices: 32, batch: 1 })?,
            many: shape("SYNC_LOAD_MANY", Shape { devices: 256, batch: 10 })?,
            paced_interval: Duration::from_millis(paced_ms.clamp(1, 600_000)),
            users: env_or("SYNC_LOAD_USERS", 64usize)?.clamp(1, 1024),
            first_sync_records: env_or("SYNC_LOAD_FIRST_SYNC_RECORDS", 5000usize)?.clamp(1, 10_000),
            first_sync_runs: env_or("SYNC_LOAD_FIRST_SYNC_RUNS", 7usize)?.clamp(1, 100),
            areas_rounds: env_or("SYNC_LOAD_AREAS_ROUNDS", 4usize)?.clamp(1, 100),
            storage_measure: secs("SYNC_LOAD_STORAGE_SECONDS", 3.0)?,
            storage_threads,
            perf: !matches!(std::env::var("SYNC_LOAD_PERF").as_deref(), Ok("0" | "off" | "no")),
        };
        Ok(config)
    }

    fn runs(&self, scenario: Scenario) -> bool {
        self.scenarios.contains(&scenario)
    }

    /// Devices to log in: enough for every push scenario that runs.
    fn devices(&self) -> usize {
        let mut devices = 1;
        for (scenario, shape) in
            [(Scenario::Batch, self.batch), (Scenario::Single, self.single), (Scenario::Many, self.many)]
        {
            if self.runs(scenario)
                || (scenario == Scenario::Many && self.runs(Scenario::Paced))
                || (scenario == Scenario::Batch && self.runs(Scenario::Areas))
            {
                devices = devices.max(shape.devices);
            }
        }
        devices
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(value) => value.trim().parse().map_err(|error| anyhow::anyhow!("{name}: {error}")),
        Err(_) => Ok(default),
    }
}

fn parse_list(name: &str, text: &str, range: std::ops::RangeInclusive<usize>) -> anyhow::Result<Vec<usize>> {
    let list = text
        .split(',')
        .map(|n| n.trim().parse::<usize>().with_context(|| format!("{name}: `{n}`")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(list.iter().all(|n| range.contains(n)), "{name}: each value must be in {range:?}");
    Ok(list)
}

/// `DEVICESxBATCH`, e.g. `64x100`.
fn shape(name: &str, default: Shape) -> anyhow::Result<Shape> {
    let Ok(text) = std::env::var(name) else { return Ok(default) };
    let (devices, batch) = text.trim().split_once('x').with_context(|| format!("{name} must be DEVICESxBATCH"))?;
    let shape = Shape {
        devices: devices.trim().parse().with_context(|| format!("{name}: devices"))?,
        batch: batch.trim().parse().with_context(|| format!("{name}: batch"))?,
    };
    anyhow::ensure!((1..=1024).contains(&shape.devices), "{name}: 1 to 1024 devices");
    anyhow::ensure!((1..=1000).contains(&shape.batch), "{name}: 1 to 1000 records per push");
    Ok(shape)
}

/// The host of a `scheme://[user@]host[:port]/path` URL.
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    host_port.split(':').next()
}

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

/// Nearest-rank percentile of sorted durations, in milliseconds.
fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

fn median_u64(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

/// A tiny deterministic generator (splitmix64), so record contents need no extra dependency.
fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn below(state: &mut u64, n: u64) -> u64 {
    next_random(state) % n.max(1)
}

// ---------------------------------------------------------------------------------------------
// CPU accounting
// ---------------------------------------------------------------------------------------------

/// CPU time so far, by kind of thread of this process, of PostgreSQL, and of the whole machine.
struct CpuSnapshot {
    at: Instant,
    /// Ticks by thread kind (threads that exited since are missing; see `process`).
    groups: BTreeMap<&'static str, u64>,
    /// Ticks of the whole process, exited threads included.
    process: u64,
    postgres: u64,
    /// The `cpu` line of /proc/stat: user nice system idle iowait irq softirq steal.
    machine: [u64; 8],
}

/// CPU used during one phase, in cores (1.0 = one core busy for the whole phase).
#[derive(Debug, Clone, Copy, Default)]
struct CpuUse {
    server_http: f64,
    server_db: f64,
    client: f64,
    storage: f64,
    other_in_process: f64,
    postgres: f64,
    machine_busy: f64,
    machine_iowait: f64,
    /// Busy cores not accounted to this process or PostgreSQL: other tenants of the machine.
    outside: f64,
    cores: f64,
}

fn thread_kind(comm: &str) -> &'static str {
    if comm.starts_with("actix-server") || comm.starts_with("actix-rt") {
        "server-http"
    } else if comm.starts_with("tokio-r") || comm.starts_with("r2d2") || comm.starts_with("lagesbild") {
        // The actix workers' blocking pools run `web::block`, i.e. the database work, and a
        // `lagesbild-writer` thread, if the server has one, applies pushes.
        "server-db"
    } else if comm.starts_with("bench-client") {
        "client"
    } else if comm.starts_with("bench-storage") {
        "storage"
    } else {
        "other"
    }
}

/// utime + stime of a /proc `stat` line.
fn stat_ticks(stat: &str) -> Option<u64> {
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn cpu_snapshot() -> CpuSnapshot {
    let mut groups = BTreeMap::new();
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let path = task.path();
            let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            let ticks = std::fs::read_to_string(path.join("stat")).ok().and_then(|s| stat_ticks(&s)).unwrap_or(0);
            *groups.entry(thread_kind(comm.trim())).or_insert(0) += ticks;
        }
    }
    let process = std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| stat_ticks(&s)).unwrap_or(0);
    let mut postgres = 0;
    if let Ok(processes) = std::fs::read_dir("/proc") {
        for entry in processes.flatten() {
            let name = entry.file_name();
            if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            if comm.trim() == "postgres" {
                postgres +=
                    std::fs::read_to_string(entry.path().join("stat")).ok().and_then(|s| stat_ticks(&s)).unwrap_or(0);
            }
        }
    }
    let mut machine = [0u64; 8];
    if let Some(line) = std::fs::read_to_string("/proc/stat").unwrap_or_default().lines().next() {
        for (slot, value) in machine.iter_mut().zip(line.split_whitespace().skip(1)) {
            *slot = value.parse().unwrap_or(0);
        }
    }
    CpuSnapshot { at: Instant::now(), groups, process, postgres, machine }
}

fn cpu_use(before: &CpuSnapshot, after: &CpuSnapshot) -> CpuUse {
    let seconds = after.at.duration_since(before.at).as_secs_f64().max(1e-9);
    let cores = |ticks: u64| ticks as f64 / TICKS_PER_SECOND / seconds;
    let group = |name: &str| {
        cores(
            after.groups.get(name).copied().unwrap_or(0).saturating_sub(before.groups.get(name).copied().unwrap_or(0)),
        )
    };
    let process = cores(after.process.saturating_sub(before.process));
    let (server_http, server_db, client, storage) =
        (group("server-http"), group("server-db"), group("client"), group("storage"));
    let delta: Vec<u64> = after.machine.iter().zip(&before.machine).map(|(a, b)| a.saturating_sub(*b)).collect();
    let total: u64 = delta.iter().sum();
    let n_cores = std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64);
    let share = |ticks: u64| if total == 0 { 0.0 } else { ticks as f64 / total as f64 * n_cores };
    let machine_busy = share(total - delta[3] - delta[4]);
    let postgres = cores(after.postgres.saturating_sub(before.postgres));
    CpuUse {
        server_http,
        server_db,
        client,
        storage,
        other_in_process: (process - server_http - server_db - client - storage).max(0.0),
        postgres,
        machine_busy,
        machine_iowait: share(delta[4]),
        outside: (machine_busy - process - postgres).max(0.0),
        cores: n_cores,
    }
}

impl std::fmt::Display for CpuUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "server HTTP {:.2} + server DB threads {:.2} + client {:.2} + storage {:.2} + other {:.2}; \
             postgres {:.2}; machine busy {:.2} of {:.0} cores (iowait {:.2}, other processes {:.2})",
            self.server_http,
            self.server_db,
            self.client,
            self.storage,
            self.other_in_process,
            self.postgres,
            self.machine_busy,
            self.cores,
            self.machine_iowait,
            self.outside
        )
    }
}

/// Syscalls counted by `perf stat` during one phase.
#[derive(Debug, Clone, Copy, Default)]
struct Syscalls {
    /// nanosleep + clock_nanosleep in this process: SQLite's busy handler sleeps this way while it
    /// waits for the write lock (nothing else in the process sleeps by syscall while loaded).
    sleeps: Option<u64>,
    /// fsync + fdatasync in this process (SQLite's commits and checkpoints).
    fsyncs: Option<u64>,
    /// fsync + fdatasync in the PostgreSQL server processes.
    postgres_fsyncs: Option<u64>,
}

/// What a probe measured around one phase.
struct Measured {
    cpu: CpuUse,
    syscalls: Option<Syscalls>,
}

/// CPU snapshots and, when `perf` is usable, `perf stat` children counting syscalls for the
/// phase's duration (`perf stat -p PID -- sleep SECONDS`: they end by themselves).
struct Probe {
    before: CpuSnapshot,
    perf: Vec<(bool, std::process::Child)>,
}

const SLEEP_EVENTS: &str = "syscalls:sys_enter_nanosleep,syscalls:sys_enter_clock_nanosleep";
const FSYNC_EVENTS: &str = "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync";

fn perf_stat(pids: &str, events: &str, seconds: f64) -> Option<std::process::Child> {
    std::process::Command::new("perf")
        .args(["stat", "-x", ",", "-e", events, "-p", pids, "--", "sleep", &format!("{seconds:.3}")])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()
}

/// Whether `perf stat` can count syscall tracepoints here.
fn perf_usable() -> bool {
    let Some(child) = perf_stat(&std::process::id().to_string(), FSYNC_EVENTS, 0.05) else { return false };
    child.wait_with_output().is_ok_and(|output| {
        output.status.success() && String::from_utf8_lossy(&output.stderr).contains("sys_enter_fsync")
    })
}

fn postgres_pids() -> Vec<String> {
    let mut pids = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.bytes().all(|b| b.is_ascii_digit())
                && std::fs::read_to_string(entry.path().join("comm")).is_ok_and(|comm| comm.trim() == "postgres")
            {
                pids.push(name);
            }
        }
    }
    pids
}

impl Probe {
    fn start(duration: Duration, perf: bool, backend: Backend) -> Self {
        let mut children = Vec::new();
        if perf {
            let seconds = duration.as_secs_f64();
            let own = std::process::id().to_string();
            if let Some(child) = perf_stat(&own, &format!("{SLEEP_EVENTS},{FSYNC_EVENTS}"), seconds) {
                children.push((false, child));
            }
            let pg = postgres_pids();
            if backend == Backend::Postgres
                && !pg.is_empty()
                && let Some(child) = perf_stat(&pg.join(","), FSYNC_EVENTS, seconds)
            {
                children.push((true, child));
            }
        }
        Self { before: cpu_snapshot(), perf: children }
    }

    /// Ends the probe; `own_ticks` is CPU that threads which already exited measured on themselves.
    fn finish(self, sample: &Sample) -> Measured {
        let mut cpu = cpu_use(&self.before, &cpu_snapshot());
        if sample.own_ticks > 0 {
            let cores = sample.own_ticks as f64 / TICKS_PER_SECOND / sample.elapsed.as_secs_f64().max(1e-9);
            cpu.storage = cores;
            cpu.other_in_process = (cpu.other_in_process - cores).max(0.0);
        }
        let mut syscalls: Option<Syscalls> = None;
        for (postgres, child) in self.perf {
            // The child ends on its own after the phase's duration.
            let Ok(output) = child.wait_with_output() else { continue };
            let text = String::from_utf8_lossy(&output.stderr);
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            for line in text.lines() {
                let fields: Vec<&str> = line.split(',').collect();
                if let (Some(count), Some(event)) = (fields.first(), fields.get(2))
                    && let Ok(count) = count.trim().parse::<u64>()
                {
                    counts.insert(event.trim().to_owned(), count);
                }
            }
            let sum = |names: &str| names.split(',').map(|name| counts.get(name).copied()).sum::<Option<u64>>();
            let entry = syscalls.get_or_insert_with(Syscalls::default);
            if postgres {
                entry.postgres_fsyncs = sum(FSYNC_EVENTS);
            } else {
                entry.sleeps = sum(SLEEP_EVENTS);
                entry.fsyncs = sum(FSYNC_EVENTS);
            }
        }
        Measured { cpu, syscalls }
    }
}

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

const WORDS: &[&str] = &[
    "grupp",
    "ungdomar",
    "vid",
    "busshållplatsen",
    "centrum",
    "lugnt",
    "stökigt",
    "glaskross",
    "klotter",
    "på",
    "väggen",
    "bakom",
    "skolan",
    "parkeringen",
    "fyra",
    "sex",
    "personer",
    "samtal",
    "med",
    "föräldrar",
    "polis",
    "kontaktad",
    "hänvisade",
    "till",
    "fritidsgården",
    "trasig",
    "belysning",
    "gångtunneln",
    "mörkt",
    "otryggt",
    "kvällen",
    "hög",
    "musik",
    "mopeder",
    "torget",
    "butiken",
    "väktare",
    "närvarande",
    "nya",
    "besökare",
    "återkommer",
    "imorgon",
    "följ",
    "upp",
    "socialtjänsten",
    "anmälan",
    "gjord",
    "skadegörelse",
    "papperskorg",
    "brand",
    "släckt",
    "rök",
    "lekplatsen",
    "sent",
    "fredag",
    "lördag",
    "stationen",
    "pendeltåg",
    "rån",
    "hot",
    "bråk",
    "lugnade",
    "sig",
];

/// One observation's reporter-owned content.
#[derive(Clone)]
struct Content {
    category: String,
    severity: i32,
    perceived_safety: i32,
    people_count: Option<i32>,
    age_band: Option<&'static str>,
    note: String,
    lat: f64,
    lon: f64,
    accuracy_m: Option<f64>,
    observed_at: i64,
    needs_follow_up: bool,
}

/// A pool of varied, valid observation contents (notes of varying length, a few with a phone
/// number the server redacts, categories of the organisation, positions and times spread out),
/// and the same records as JSON, so a request body is built by concatenation.
struct Corpus {
    contents: Vec<Content>,
    /// Each content as JSON without its id and without the opening brace.
    suffixes: Vec<String>,
}

impl Corpus {
    fn new(categories: &[String], size: usize, seed: u64) -> Self {
        let mut rng = seed;
        let now = chrono::Utc::now().timestamp_millis();
        let bands =
            [None, Some("under_13"), Some("13_15"), Some("16_17"), Some("18_24"), Some("25_plus"), Some("unknown")];
        let mut contents = Vec::with_capacity(size);
        for _ in 0..size {
            let words = match below(&mut rng, 10) {
                0 => 0,
                1..=6 => 4 + below(&mut rng, 16),
                _ => 20 + below(&mut rng, 40),
            };
            let mut note =
                (0..words).map(|_| WORDS[below(&mut rng, WORDS.len() as u64) as usize]).collect::<Vec<_>>().join(" ");
            if below(&mut rng, 20) == 0 {
                note.push_str(&format!(
                    ", vittne nås på 070-{:03} {:02} {:02}",
                    below(&mut rng, 1000),
                    below(&mut rng, 100),
                    below(&mut rng, 100)
                ));
            }
            let people = below(&mut rng, 12) as i32;
            contents.push(Content {
                category: categories[below(&mut rng, categories.len() as u64) as usize].clone(),
                severity: 1 + below(&mut rng, 5) as i32,
                perceived_safety: 1 + below(&mut rng, 5) as i32,
                people_count: (people < 11).then_some(people),
                age_band: bands[below(&mut rng, bands.len() as u64) as usize],
                note,
                lat: 59.20 + below(&mut rng, 200_000) as f64 / 1_000_000.0,
                lon: 17.90 + below(&mut rng, 400_000) as f64 / 1_000_000.0,
                accuracy_m: (below(&mut rng, 8) != 0).then(|| (3 + below(&mut rng, 60)) as f64 + 0.5),
                observed_at: now - 60_000 - below(&mut rng, 6 * 3_600_000) as i64,
                needs_follow_up: below(&mut rng, 5) == 0,
            });
        }
        let suffixes = contents
            .iter()
            .map(|c| {
                let text = json!({
                    "category": c.category,
                    "severity": c.severity,
                    "perceived_safety": c.perceived_safety,
                    "people_count": c.people_count,
                    "age_band": c.age_band,
                    "note": c.note,
                    "lat": c.lat,
                    "lon": c.lon,
                    "accuracy_m": c.accuracy_m,
                    "observed_at": c.observed_at,
                    "needs_follow_up": c.needs_follow_up,
                    "sync_error": null,
                    "_status": "created",
                    "_changed": "",
                })
                .to_string();
                text[1..].to_owned()
            })
            .collect();
        Self { contents, suffixes }
    }

    fn pick(&self, rng: &mut u64) -> usize {
        below(rng, self.contents.len() as u64) as usize
    }

    /// One new record with a fresh UUIDv7 id, as JSON.
    fn push_record(&self, out: &mut String, rng: &mut u64) {
        out.push_str("{\"id\":\"");
        out.push_str(&uuid::Uuid::now_v7().to_string());
        out.push_str("\",");
        out.push_str(&self.suffixes[self.pick(rng)]);
    }

    /// A push body of `batch` new observations.
    fn body(&self, batch: usize, rng: &mut u64) -> String {
        let mut out = String::with_capacity(64 + batch * 400);
        out.push_str("{\"observations\":{\"created\":[");
        for i in 0..batch {
            if i > 0 {
                out.push(',');
            }
            self.push_record(&mut out, rng);
        }
        out.push_str("],\"updated\":[],\"deleted\":[]}}");
        out
    }

    /// `batch` new observations as JSON values, for calling `sync_push::push` directly.
    fn values(&self, batch: usize, rng: &mut u64) -> Vec<Value> {
        (0..batch)
            .map(|_| {
                let mut out = String::with_capacity(400);
                self.push_record(&mut out, rng);
                serde_json::from_str(&out).unwrap_or(Value::Null)
            })
            .collect()
    }

    /// A new row for the raw inserts: a row the server stored for this owner (so every column,
    /// present or future, is as the server fills it), with a fresh id and this corpus's content.
    fn row(&self, template: &ObservationRow, seq: i64, rng: &mut u64) -> ObservationRow {
        let c = &self.contents[self.pick(rng)];
        let now = chrono::Utc::now().timestamp_millis();
        let mut row = template.clone();
        row.id = uuid::Uuid::now_v7().to_string();
        row.category.clone_from(&c.category);
        row.severity = c.severity;
        row.perceived_safety = c.perceived_safety;
        row.people_count = c.people_count;
        row.age_band = c.age_band.map(str::to_owned);
        row.note.clone_from(&c.note);
        row.lat = c.lat;
        row.lon = c.lon;
        row.accuracy_m = c.accuracy_m;
        row.observed_at = c.observed_at;
        row.observed_at_device = c.observed_at;
        row.needs_follow_up = c.needs_follow_up;
        row.created_at = now;
        row.updated_at = now;
        row.created_seq = seq;
        row.content_seq = seq;
        row.review_seq = seq;
        row.server_seq = seq;
        row
    }
}

/// The owner of rows written straight into the database.
#[derive(Clone)]
struct Who {
    organisation_id: String,
    user_id: String,
    device_id: String,
    /// A row the server stored for this owner through a push.
    template: ObservationRow,
}

// ---------------------------------------------------------------------------------------------
// The server, the database and seeding
// ---------------------------------------------------------------------------------------------

/// A fresh PostgreSQL database, dropped when this goes.
struct PostgresDatabase {
    admin_url: String,
    name: String,
}

impl PostgresDatabase {
    fn create(admin_url: &str) -> anyhow::Result<(String, Self)> {
        let mut admin = lagesbild::db::connect_postgres(admin_url)
            .map_err(|error| anyhow::anyhow!("cannot connect to PostgreSQL at {admin_url}: {error}"))?;
        let name = format!("lagesbild_sync_load_{}", uuid::Uuid::now_v7().simple());
        admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).context("cannot create the bench database")?;
        let (base, _) = admin_url.rsplit_once('/').context("the PostgreSQL URL needs a database path")?;
        Ok((format!("{base}/{name}"), Self { admin_url: admin_url.to_owned(), name }))
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        match lagesbild::db::connect_postgres(&self.admin_url) {
            Ok(mut conn) => {
                match conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name)) {
                    Ok(()) => eprintln!("dropped database {}", self.name),
                    Err(error) => eprintln!("could not drop database {}: {error}", self.name),
                }
            }
            Err(error) => eprintln!("could not connect to drop database {}: {error}", self.name),
        }
    }
}

fn secret(text: &str) -> anyhow::Result<Secret> {
    Ok(serde_json::from_value(json!(text))?)
}

struct Seeded {
    organisation_id: String,
    /// Field users' usernames.
    users: Vec<String>,
    first_sync_user: String,
    storage_user: String,
    storage_user_id: String,
}

/// The organisation (with its default reference data), a unit and the field users.
fn seed(target: &DatabaseTarget, users: usize, slug: &str) -> anyhow::Result<Seeded> {
    let mut conn = target.connect()?;
    let organisation_id = seed::organisation(&mut conn, slug)?;
    seed::unit(&mut conn, &organisation_id, "falt", "Fält")?;
    let passwords = Passwords::new(1024, 1, 1)?;
    let mut create = |username: &str| {
        let user = User { username, password: PASSWORD, role: Role::Field, unit: Some("falt") };
        seed::user(&mut conn, &passwords, &organisation_id, user)
    };
    let mut names = Vec::with_capacity(users);
    for i in 0..users {
        let name = format!("field-{i:03}");
        create(&name)?;
        names.push(name);
    }
    create("first-sync")?;
    let storage_user_id = create("storage")?;
    Ok(Seeded {
        organisation_id,
        users: names,
        first_sync_user: "first-sync".to_owned(),
        storage_user: "storage".to_owned(),
        storage_user_id,
    })
}

/// A logged-in device and the cursor of its first pull.
struct Device {
    token: String,
    cursor: i64,
}

struct Bench {
    client: reqwest::Client,
    base: String,
    /// The organisation the devices log in to.
    organisation: String,
}

impl Bench {
    async fn login(&self, username: &str, device_id: &str) -> anyhow::Result<String> {
        let login = Login { organisation: &self.organisation, username, password: PASSWORD, device_id };
        login::access_token(&self.client, &self.base, login).await
    }

    /// A complete first pull (every page); returns the body of the last page and the cursor.
    async fn first_pull(&self, token: &str) -> anyhow::Result<(Value, i64)> {
        let mut page_token: Option<String> = None;
        for _ in 0..1000 {
            let mut url = format!("{}/api/v1/sync/pull?last_pulled_at=null&schema_version=1", self.base);
            if let Some(t) = &page_token {
                url.push_str(&format!("&page_token={t}"));
            }
            let response = self.client.get(url).bearer_auth(token).send().await?;
            let status = response.status();
            let body: Value = response.json().await?;
            anyhow::ensure!(status == 200, "pull: {status} {body}");
            if body["has_more"] == true {
                page_token = body["page_token"].as_str().map(str::to_owned);
                continue;
            }
            let cursor = body["timestamp"].as_i64().context("no timestamp")?;
            return Ok((body, cursor));
        }
        anyhow::bail!("a first pull of more than 1000 pages")
    }

    async fn push(&self, token: &str, cursor: i64, body: String) -> anyhow::Result<usize> {
        let response = self
            .client
            .post(format!("{}/api/v1/sync/push?last_pulled_at={cursor}", self.base))
            .bearer_auth(token)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        anyhow::ensure!(status == 200, "push: {status} {text}");
        // A retried push answers what the lost attempt stored `unchanged`.
        Ok(text.matches(APPLIED).count() + text.matches(r#""status":"unchanged""#).count())
    }
}

fn client() -> anyhow::Result<reqwest::Client> {
    // No proxy (only 127.0.0.1 is reached) and no transparent decompression (sizes are on the wire).
    Ok(reqwest::Client::builder()
        .no_proxy()
        .no_gzip()
        .no_brotli()
        .no_zstd()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(2048)
        .timeout(Duration::from_secs(60))
        .build()?)
}

// ---------------------------------------------------------------------------------------------
// The request loops
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
enum Endpoint {
    /// `POST /api/v1/sync/push` of the real server.
    Push { base: String },
    /// The bare handler of the HTTP ceiling.
    Bare { url: String },
}

/// What one load phase sent and got.
#[derive(Default)]
struct Sample {
    latencies: Vec<Duration>,
    records: u64,
    errors: BTreeMap<String, u64>,
    elapsed: Duration,
    /// CPU ticks the storage threads measured on themselves (they exit before the snapshot).
    own_ticks: u64,
}

impl Sample {
    fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

struct Load {
    client: reqwest::Client,
    devices: Arc<Vec<Device>>,
    corpus: Arc<Corpus>,
}

impl Load {
    /// `shape.devices` tasks, each one device pushing `shape.batch` new records per request, back to
    /// back (`pace` None) or once per `pace` from a staggered start, until `duration` has passed or
    /// `max_requests` have been sent. In paced mode a latency counts from the scheduled send time.
    async fn run(
        &self,
        endpoint: &Endpoint,
        shape: Shape,
        pace: Option<Duration>,
        duration: Duration,
        max_requests: u64,
    ) -> Sample {
        let started = Instant::now();
        let deadline = started + duration;
        let sent = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::with_capacity(shape.devices);
        for worker in 0..shape.devices {
            let client = self.client.clone();
            let devices = self.devices.clone();
            let corpus = self.corpus.clone();
            let sent = sent.clone();
            let endpoint = endpoint.clone();
            tasks.push(tokio::spawn(async move {
                let device = &devices[worker % devices.len()];
                let url = match &endpoint {
                    Endpoint::Push { base } => format!("{base}/api/v1/sync/push?last_pulled_at={}", device.cursor),
                    Endpoint::Bare { url } => url.clone(),
                };
                let mut rng =
                    (worker as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D) ^ started.elapsed().as_nanos() as u64;
                let mut next = pace.map(|interval| started + interval.mul_f64(worker as f64 / shape.devices as f64));
                let mut latencies = Vec::new();
                let mut records = 0u64;
                let mut errors = BTreeMap::<String, u64>::new();
                loop {
                    let scheduled = match (next, pace) {
                        (Some(at), Some(interval)) => {
                            if at >= deadline {
                                break;
                            }
                            tokio::time::sleep_until(at.into()).await;
                            next = Some(at + interval);
                            at
                        }
                        _ => {
                            let now = Instant::now();
                            if now >= deadline {
                                break;
                            }
                            now
                        }
                    };
                    if sent.fetch_add(1, Ordering::Relaxed) >= max_requests {
                        break;
                    }
                    let body = corpus.body(shape.batch, &mut rng);
                    match send(&client, &endpoint, &url, &device.token, shape.batch, body).await {
                        Ok(applied) => {
                            latencies.push(scheduled.elapsed());
                            records += applied;
                        }
                        Err(error) => *errors.entry(error).or_default() += 1,
                    }
                }
                (latencies, records, errors)
            }));
        }
        let mut sample = Sample::default();
        for task in tasks {
            match task.await {
                Ok((latencies, records, errors)) => {
                    sample.latencies.extend(latencies);
                    sample.records += records;
                    for (error, count) in errors {
                        *sample.errors.entry(error).or_default() += count;
                    }
                }
                Err(_) => *sample.errors.entry("client task failed".to_owned()).or_default() += 1,
            }
        }
        sample.elapsed = started.elapsed();
        sample.latencies.sort();
        sample
    }
}

/// One request; the records it got stored (or carried, for the bare handler), or why it failed.
async fn send(
    client: &reqwest::Client,
    endpoint: &Endpoint,
    url: &str,
    token: &str,
    batch: usize,
    body: String,
) -> Result<u64, String> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let response = client
        .post(url)
        .bearer_auth(token)
        .header(CONTENT_TYPE, "application/json")
        .header("x-client-time", now_ms.to_string())
        .header("x-pending-count", batch.to_string())
        .body(body)
        .send()
        .await
        .map_err(|error| transport(&error))?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(|error| transport(&error))?;
    if status != 200 {
        let code = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|problem| problem["code"].as_str().map(str::to_owned))
            .unwrap_or_default();
        return Err(format!("{status} {code}"));
    }
    match endpoint {
        Endpoint::Bare { .. } => Ok(batch as u64),
        Endpoint::Push { .. } => {
            let applied = std::str::from_utf8(&bytes).map_or(0, |text| text.matches(APPLIED).count());
            if applied == batch { Ok(applied as u64) } else { Err(format!("200 with {applied} of {batch} applied")) }
        }
    }
}

fn transport(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".to_owned()
    } else if error.is_connect() {
        "connect".to_owned()
    } else {
        "transport".to_owned()
    }
}

/// The HTTP ceiling: one route that takes a body and answers a small JSON document.
async fn bare_handler(body: actix_web::web::Bytes) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(json!({ "received": body.len() }))
}

// ---------------------------------------------------------------------------------------------
// Storage ceiling
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Storage {
    /// One multi-row INSERT of N rows per transaction.
    Bulk(usize),
    /// N single-row INSERTs per transaction.
    Statements(usize),
    /// `sync_push::push` of N new records: the push's database work without HTTP and JSON.
    DirectPush(usize),
    /// Write 4 KiB and fdatasync, in the data directory (the commit cost of SQLite's WAL).
    Fsync,
}

impl Storage {
    fn label(self) -> String {
        match self {
            Storage::Bulk(1) => "storage, 1 row per transaction".to_owned(),
            Storage::Bulk(n) => format!("storage, bulk INSERT of {n} rows per transaction"),
            Storage::Statements(n) => format!("storage, {n} single-row INSERTs per transaction"),
            Storage::DirectPush(n) => format!("storage, sync_push::push of {n} records without HTTP"),
            Storage::Fsync => "storage, write 4 KiB + fdatasync in the data dir".to_owned(),
        }
    }

    fn batch(self) -> usize {
        match self {
            Storage::Bulk(n) | Storage::Statements(n) | Storage::DirectPush(n) => n,
            Storage::Fsync => 1,
        }
    }
}

struct StorageContext {
    target: DatabaseTarget,
    who: Who,
    corpus: Arc<Corpus>,
    data_dir: PathBuf,
}

/// Opens one connection per storage thread (before a probe starts, so that PostgreSQL backends
/// live through the whole measured phase and are counted), applying the what-if settings.
fn storage_connections(context: &StorageContext, threads: usize, tuned: bool) -> anyhow::Result<Vec<DbConnection>> {
    (0..threads)
        .map(|_| {
            let mut conn = context.target.connect()?;
            if tuned {
                match &mut conn {
                    DbConnection::Sqlite(sqlite) => {
                        sqlite.batch_execute("PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536;")?
                    }
                    DbConnection::Postgres(pg) => pg.batch_execute("SET synchronous_commit = off")?,
                }
            }
            Ok(conn)
        })
        .collect()
}

/// One thread per connection doing `work` as fast as it can for `duration` (and at most
/// `max_tx` transactions in all; `Fsync` uses one thread and no connection).
fn storage_run(
    context: &StorageContext,
    work: Storage,
    conns: &mut [DbConnection],
    duration: Duration,
    max_tx: u64,
) -> anyhow::Result<Sample> {
    let started = Instant::now();
    let deadline = started + duration;
    let done = AtomicU64::new(0);
    let results = std::thread::scope(|scope| -> anyhow::Result<Vec<(Vec<Duration>, u64, u64)>> {
        let mut handles = Vec::with_capacity(conns.len().max(1));
        let mut slots: Vec<Option<&mut DbConnection>> = conns.iter_mut().map(Some).collect();
        if let Storage::Fsync = work {
            slots = vec![None];
        }
        for (index, conn) in slots.into_iter().enumerate() {
            let done = &done;
            let handle = std::thread::Builder::new()
                .name(format!("bench-storage-{index}"))
                .spawn_scoped(scope, move || storage_thread(context, work, conn, index, deadline, done, max_tx))?;
            handles.push(handle);
        }
        handles
            .into_iter()
            .map(|handle| handle.join().map_err(|_| anyhow::anyhow!("a storage thread panicked"))?)
            .collect()
    })?;
    let mut sample = Sample { elapsed: started.elapsed(), ..Sample::default() };
    for (latencies, records, ticks) in results {
        sample.latencies.extend(latencies);
        sample.records += records;
        sample.own_ticks += ticks;
    }
    sample.latencies.sort();
    Ok(sample)
}

fn storage_thread(
    context: &StorageContext,
    work: Storage,
    conn: Option<&mut DbConnection>,
    index: usize,
    deadline: Instant,
    done: &AtomicU64,
    max_tx: u64,
) -> anyhow::Result<(Vec<Duration>, u64, u64)> {
    let thread_ticks =
        || std::fs::read_to_string("/proc/thread-self/stat").ok().and_then(|s| stat_ticks(&s)).unwrap_or(0);
    let ticks_before = thread_ticks();
    let mut latencies = Vec::new();
    let mut records = 0u64;
    let mut rng = 0xC0FF_EE00 + index as u64;
    if let Storage::Fsync = work {
        use std::io::Write;
        use std::os::unix::fs::FileExt;
        let path = context.data_dir.join(format!("fsync-probe-{index}"));
        let mut file = std::fs::OpenOptions::new().create(true).truncate(true).read(true).write(true).open(&path)?;
        file.write_all(&vec![0u8; 4 << 20])?;
        file.sync_all()?;
        let block = vec![0x5Au8; 4096];
        let mut offset = 0u64;
        while Instant::now() < deadline && done.fetch_add(1, Ordering::Relaxed) < max_tx {
            let start = Instant::now();
            file.write_all_at(&block, offset)?;
            file.sync_data()?;
            latencies.push(start.elapsed());
            records += 1;
            offset = (offset + 4096) % (4 << 20);
        }
        drop(file);
        std::fs::remove_file(&path)?;
        return Ok((latencies, records, thread_ticks().saturating_sub(ticks_before)));
    }
    let conn = conn.context("a storage thread without a connection")?;
    let seq = sync_state::read(conn)?.0;
    while Instant::now() < deadline && done.fetch_add(1, Ordering::Relaxed) < max_tx {
        match work {
            Storage::DirectPush(n) => {
                let created = context.corpus.values(n, &mut rng);
                let push_context = PushContext {
                    organisation_id: context.who.organisation_id.clone(),
                    user_id: context.who.user_id.clone(),
                    role: Role::Field,
                    device_id: context.who.device_id.clone(),
                    cursor: Some(seq),
                    now_ms: chrono::Utc::now().timestamp_millis(),
                    clock_skew_ms: Some(0),
                    skew_tolerance_ms: 120_000,
                    pending_count: Some(n as i64),
                };
                let tables = vec![("observations".to_owned(), TableChanges { created, ..TableChanges::default() })];
                let start = Instant::now();
                let results = sync_push::push(conn, push_context, tables)?;
                latencies.push(start.elapsed());
                let applied = results.iter().filter(|r| r.status == Status::Applied).count();
                anyhow::ensure!(applied == n, "direct push: {applied} of {n} applied");
                records += applied as u64;
            }
            Storage::Bulk(n) | Storage::Statements(n) => {
                let rows: Vec<ObservationRow> =
                    (0..n).map(|_| context.corpus.row(&context.who.template, seq, &mut rng)).collect();
                let start = Instant::now();
                lagesbild::db::write_transaction(conn, |conn| -> QueryResult<()> {
                    if let Storage::Bulk(_) = work {
                        // A multi-row INSERT needs the concrete backend (MultiConnection has none),
                        // in chunks of 500 rows as the server writes them (bound-parameter limits).
                        for rows in rows.chunks(500) {
                            match conn {
                                DbConnection::Sqlite(conn) => {
                                    diesel::insert_into(observations::table).values(rows).execute(conn)?
                                }
                                DbConnection::Postgres(conn) => {
                                    diesel::insert_into(observations::table).values(rows).execute(conn)?
                                }
                            };
                        }
                    } else {
                        for row in &rows {
                            diesel::insert_into(observations::table).values(row).execute(conn)?;
                        }
                    }
                    Ok(())
                })?;
                latencies.push(start.elapsed());
                records += n as u64;
            }
            Storage::Fsync => unreachable!("handled above"),
        }
    }
    Ok((latencies, records, thread_ticks().saturating_sub(ticks_before)))
}

// ---------------------------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------------------------

/// One line of the final table.
struct Row {
    scenario: String,
    backend: &'static str,
    devices: String,
    batch: String,
    requests: usize,
    records_per_s: f64,
    requests_per_s: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
    errors: u64,
    target: String,
    cpu: CpuUse,
    syscalls: Option<Syscalls>,
}

impl Row {
    fn new(
        scenario: String,
        backend: Backend,
        (devices, batch): (String, String),
        sample: &Sample,
        measured: Measured,
    ) -> Self {
        let seconds = sample.elapsed.as_secs_f64().max(1e-9);
        let l = &sample.latencies;
        Self {
            scenario,
            backend: backend.name(),
            devices,
            batch,
            requests: l.len(),
            records_per_s: sample.records as f64 / seconds,
            requests_per_s: l.len() as f64 / seconds,
            p50: pct(l, 50.0),
            p95: pct(l, 95.0),
            p99: pct(l, 99.0),
            max: pct(l, 100.0),
            errors: sample.error_count(),
            target: String::new(),
            cpu: measured.cpu,
            syscalls: measured.syscalls,
        }
    }

    /// A syscall count per request of this row, if counted.
    fn per_request(&self, count: impl Fn(&Syscalls) -> Option<u64>) -> String {
        match self.syscalls.as_ref().and_then(count) {
            Some(n) if self.requests > 0 => format!("{:.2}", n as f64 / self.requests as f64),
            _ => "–".to_owned(),
        }
    }
}

/// One encoding of the first sync.
struct FirstSyncRow {
    backend: &'static str,
    encoding: &'static str,
    runs: usize,
    median_ms: f64,
    min_ms: f64,
    max_ms: f64,
    bytes: u64,
    observations: usize,
    reference: usize,
    check: String,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    first_sync: Vec<FirstSyncRow>,
    notes: Vec<String>,
    errors: Vec<String>,
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

fn print_machine() {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name").map(|rest| rest.trim_start_matches([' ', '\t', ':'])))
        .unwrap_or("unknown");
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .map_or_else(|| "unknown".to_owned(), |kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("# sync_load\n");
    println!(
        "machine: {cores} cores, {model}, {memory} RAM; load average at start: {}; pid {}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        std::process::id()
    );
}

fn print_report(report: &Report) {
    println!("\n## results\n");
    println!(
        "| scenario | backend | devices | batch | requests | records/s | requests/s | p50 ms | p95 ms | p99 ms | max ms | errors | target |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &report.rows {
        println!(
            "| {} | {} | {} | {} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} |",
            r.scenario,
            r.backend,
            r.devices,
            r.batch,
            r.requests,
            r.records_per_s,
            r.requests_per_s,
            r.p50,
            r.p95,
            r.p99,
            r.max,
            r.errors,
            r.target
        );
    }
    if !report.first_sync.is_empty() {
        println!("\n## first sync (one page, limit=10000, wall time until the last byte)\n");
        println!(
            "| backend | encoding | runs | median ms | min ms | max ms | bytes on the wire | observations | reference rows | target |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for r in &report.first_sync {
            println!(
                "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {} ({:.1} KB) | {} | {} | {} |",
                r.backend,
                r.encoding,
                r.runs,
                r.median_ms,
                r.min_ms,
                r.max_ms,
                r.bytes,
                r.bytes as f64 / 1000.0,
                r.observations,
                r.reference,
                r.check
            );
        }
    }
    println!(
        "\n## CPU (cores; 1.0 = one core for the whole phase) and syscalls per request (per transaction for storage)\n"
    );
    println!(
        "| scenario | backend | devices | server HTTP | server DB threads | client | storage threads | other in process | postgres | machine busy | iowait | other processes | sleeps/req | fsyncs/req | postgres fsyncs/req |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &report.rows {
        let c = &r.cpu;
        println!(
            "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} / {:.0} | {:.2} | {:.2} | {} | {} | {} |",
            r.scenario,
            r.backend,
            r.devices,
            c.server_http,
            c.server_db,
            c.client,
            c.storage,
            c.other_in_process,
            c.postgres,
            c.machine_busy,
            c.cores,
            c.machine_iowait,
            c.outside,
            r.per_request(|s| s.sleeps),
            r.per_request(|s| s.fsyncs),
            r.per_request(|s| s.postgres_fsyncs)
        );
    }
    if !report.notes.is_empty() {
        println!("\n## notes\n");
        for note in &report.notes {
            println!("- {note}");
        }
    }
    if !report.errors.is_empty() {
        println!("\n## answers other than success\n");
        for error in &report.errors {
            println!("- {error}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One backend
// ---------------------------------------------------------------------------------------------

async fn run_backend(config: &Config, backend: Backend, report: &mut Report) -> anyhow::Result<()> {
    let data_dir = tempfile::Builder::new().prefix("lagesbild-sync-load-").tempdir()?;
    let mut settings = Settings {
        listen: "127.0.0.1:0".parse()?,
        data_dir: data_dir.path().to_owned(),
        jwt_secret: Some(secret(SIGNING_KEY)?),
        // Logins are not measured: cheap hashing, limits out of the way, tokens that outlive the run.
        argon2_memory_kib: 1024,
        argon2_iterations: 1,
        argon2_parallelism: 1,
        login_attempts_per_account: 1_000_000,
        login_attempts_per_address: 1_000_000,
        access_token_ttl_secs: 4 * 3600,
        ..Settings::default()
    };
    let postgres = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let (url, guard) = PostgresDatabase::create(&config.postgres_url)?;
            settings.database_url = Some(secret(&url)?);
            Some(guard)
        }
    };
    let target = DatabaseTarget::from_settings(&settings)?;
    let application = Application::build(settings.clone())?;
    let base = format!("http://127.0.0.1:{}", application.port());
    let server = tokio::spawn(application.run_until_stopped());
    let result = load_backend(config, backend, &settings, &target, &base, data_dir.path(), report).await;
    server.abort();
    let _ = server.await;
    // Give the stopped workers a moment to close their connections before the database goes.
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(postgres);
    result
}

fn describe_database(target: &DatabaseTarget) -> anyhow::Result<String> {
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        setting: String,
    }
    match target.connect()? {
        DbConnection::Sqlite(_) => {
            Ok("SQLite (bundled), journal_mode=WAL, synchronous=FULL, busy_timeout=10000, pool 8".to_owned())
        }
        DbConnection::Postgres(mut pg) => {
            let rows: Vec<Setting> = diesel::sql_query(
                "SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'synchronous_commit', 'fsync', \
                 'wal_sync_method', 'commit_delay', 'commit_siblings', 'shared_buffers', 'max_connections', \
                 'full_page_writes') ORDER BY name",
            )
            .load(&mut pg)?;
            let settings = rows.iter().map(|r| format!("{}={}", r.name, r.setting)).collect::<Vec<_>>().join(", ");
            Ok(format!("PostgreSQL at 127.0.0.1, pool 16; {settings}"))
        }
    }
}

fn database_size(target: &DatabaseTarget, data_dir: &Path) -> String {
    #[derive(QueryableByName)]
    struct Size {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        bytes: i64,
    }
    let rows = target
        .connect()
        .ok()
        .and_then(|mut conn| observations::table.count().get_result::<i64>(&mut conn).ok())
        .map_or_else(|| "?".to_owned(), |n| n.to_string());
    let bytes = match target {
        DatabaseTarget::Sqlite(_) => std::fs::read_dir(data_dir)
            .map(|entries| entries.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum::<u64>())
            .unwrap_or(0),
        DatabaseTarget::Postgres(url) => lagesbild::db::connect_postgres(url)
            .ok()
            .and_then(|mut pg| {
                diesel::sql_query("SELECT pg_database_size(current_database()) AS bytes")
                    .get_result::<Size>(&mut pg)
                    .ok()
            })
            .map_or(0, |size| size.bytes.max(0) as u64),
    };
    format!("{rows} observation rows, {:.0} MB on disk", bytes as f64 / 1e6)
}

async fn load_backend(
    config: &Config,
    backend: Backend,
    settings: &Settings,
    target: &DatabaseTarget,
    base: &str,
    data_dir: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    println!("\n## {} — {}", backend.name(), describe_database(target)?);
    println!(
        "server: Application::build on {base}, workers {}, measured {} s per phase after {} s warm-up",
        settings.workers.map_or_else(|| "default (one per core)".to_owned(), |w| w.to_string()),
        config.measure.as_secs_f64(),
        config.warmup.as_secs_f64()
    );
    let perf = config.perf && perf_usable();
    println!(
        "syscall counts: {}",
        if perf { "perf stat on this process (and the postgres processes)" } else { "off (perf stat not usable here)" }
    );
    let seeded = seed(target, config.users, ORGANISATION)?;
    let bench = Bench { client: client()?, base: base.to_owned(), organisation: ORGANISATION.to_owned() };

    // Log in every device, each on a user (several devices per user), and pull once, as an app does
    // before its first push.
    let started = Instant::now();
    let mut devices = Vec::new();
    let mut categories: Vec<String> = Vec::new();
    for index in 0..config.devices() {
        let user = &seeded.users[index % seeded.users.len()];
        let token = bench.login(user, &format!("phone-{index:04}")).await?;
        let (body, cursor) = bench.first_pull(&token).await?;
        if categories.is_empty() {
            categories = body["changes"]["categories"]["created"]
                .as_array()
                .map(|list| list.iter().filter_map(|c| c["slug"].as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
        }
        devices.push(Device { token, cursor });
    }
    anyhow::ensure!(!categories.is_empty(), "the organisation has no categories");
    eprintln!(
        "{}: {} devices logged in and pulled in {:.1} s",
        backend.name(),
        devices.len(),
        started.elapsed().as_secs_f64()
    );
    let corpus = Arc::new(Corpus::new(&categories, 4096, 0x5EED));
    let load = Load { client: bench.client.clone(), devices: Arc::new(devices), corpus: corpus.clone() };

    // The HTTP ceiling: a bare actix-web server in this process, default workers.
    let bare = actix_web::HttpServer::new(|| {
        actix_web::App::new()
            .app_data(actix_web::web::PayloadConfig::new(8 * 1024 * 1024))
            .route("/push", actix_web::web::post().to(bare_handler))
    })
    .bind(("127.0.0.1", 0))?;
    let bare_url = format!("http://127.0.0.1:{}/push", bare.addrs().first().context("no address")?.port());
    let bare = bare.run();
    let bare_handle = bare.handle();
    tokio::spawn(bare);
    let bare = Endpoint::Bare { url: bare_url };
    let push = Endpoint::Push { base: base.to_owned() };

    let (push_target, single_target) = match backend {
        Backend::Sqlite => (50_000.0, 5_000.0),
        Backend::Postgres => (20_000.0, 5_000.0),
    };
    let phases: Vec<(Scenario, &str, Shape, Option<Duration>, String)> = vec![
        (Scenario::Batch, "1 batched push", config.batch, None, format!("≥ {push_target:.0} records/s")),
        (Scenario::Single, "2 one record per push", config.single, None, format!("≥ {single_target:.0} records/s")),
        (Scenario::Many, "3 many devices, back to back", config.many, None, "p99 ≤ 50 ms".to_owned()),
        (Scenario::Paced, "3b many devices, paced", config.many, Some(config.paced_interval), "p99 ≤ 50 ms".to_owned()),
    ];
    let shape_text = |shape: Shape| (shape.devices.to_string(), shape.batch.to_string());
    for (scenario, label, shape, pace, target_text) in phases {
        if !config.runs(scenario) {
            continue;
        }
        if pace.is_none() && config.runs(Scenario::Http) {
            let name = format!("baseline: HTTP ceiling, loop of {} on a bare handler", &label[..1]);
            eprintln!("{}: {name}", backend.name());
            load.run(&bare, shape, None, config.warmup, config.max_requests).await;
            let probe = Probe::start(config.measure, perf, backend);
            let sample = load.run(&bare, shape, None, config.measure, config.max_requests).await;
            let measured = probe.finish(&sample);
            collect_errors(report, &name, backend, &sample);
            let mut row = Row::new(name, backend, shape_text(shape), &sample, measured);
            row.target = "baseline".to_owned();
            report.rows.push(row);
        }
        let name = match pace {
            Some(interval) => format!(
                "{label} (each device every {} ms: {:.0} pushes/s offered)",
                interval.as_millis(),
                shape.devices as f64 / interval.as_secs_f64()
            ),
            None => label.to_owned(),
        };
        eprintln!("{}: {name}", backend.name());
        if pace.is_none() {
            load.run(&push, shape, None, config.warmup, config.max_requests).await;
        }
        let probe = Probe::start(config.measure, perf, backend);
        let sample = load.run(&push, shape, pace, config.measure, config.max_requests).await;
        let measured = probe.finish(&sample);
        collect_errors(report, &name, backend, &sample);
        let mut row = Row::new(name, backend, shape_text(shape), &sample, measured);
        row.target = match scenario {
            Scenario::Batch | Scenario::Single => {
                let goal = if scenario == Scenario::Batch { push_target } else { single_target };
                format!("{target_text}: {}", verdict(row.records_per_s >= goal && row.errors == 0))
            }
            _ => format!("{target_text}: {}", verdict(row.p99 <= 50.0 && row.errors == 0)),
        };
        println!(
            "{} | {} | {:.0} records/s, {:.0} pushes/s, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, {} errors | \
             sleeps/push {}, fsyncs/push {}, postgres fsyncs/push {} | CPU: {}",
            row.scenario,
            row.backend,
            row.records_per_s,
            row.requests_per_s,
            row.p50,
            row.p95,
            row.p99,
            row.errors,
            row.per_request(|s| s.sleeps),
            row.per_request(|s| s.fsyncs),
            row.per_request(|s| s.postgres_fsyncs),
            row.cpu
        );
        report.rows.push(row);
    }
    bare_handle.stop(false).await;

    if config.runs(Scenario::Areas) {
        eprintln!("{}: areas", backend.name());
        let plain =
            Bench { client: bench.client.clone(), base: base.to_owned(), organisation: ORGANISATION.to_owned() };
        if let Err(error) = areas_comparison(config, backend, target, &plain, &load, perf, report).await {
            report.errors.push(format!("{} / areas: failed: {error:#}", backend.name()));
        }
    }

    if config.runs(Scenario::Storage) {
        // One record pushed over HTTP by the storage user's device gives the row template.
        let device_id = "storage-bench".to_owned();
        let token = bench.login(&seeded.storage_user, &device_id).await?;
        let (_, cursor) = bench.first_pull(&token).await?;
        let mut rng = 0x7E3;
        anyhow::ensure!(bench.push(&token, cursor, corpus.body(1, &mut rng)).await? == 1, "the template push failed");
        let mut conn = target.connect()?;
        let template: ObservationRow = observations::table
            .filter(observations::user_id.eq(&seeded.storage_user_id))
            .select(ObservationRow::as_select())
            .first(&mut conn)?;
        drop(conn);
        let who = Who {
            organisation_id: seeded.organisation_id.clone(),
            user_id: seeded.storage_user_id.clone(),
            device_id,
            template,
        };
        let context =
            StorageContext { target: target.clone(), who, corpus: corpus.clone(), data_dir: data_dir.to_owned() };
        let threads = config.storage_threads.clone().unwrap_or_else(|| match backend {
            Backend::Sqlite => vec![1, 4],
            Backend::Postgres => vec![1, 4, 16],
        });
        // (work, thread counts, what-if settings)
        let mut works: Vec<(Storage, Vec<usize>, bool)> = vec![
            (Storage::Bulk(100), threads.clone(), false),
            // Transactions the size of a group commit under load: the storage ceiling of the
            // batched scenario.
            (Storage::Bulk(5000), vec![1], false),
            (Storage::DirectPush(5000), vec![1], false),
            (Storage::Statements(100), vec![1], false),
            (Storage::Bulk(1), threads.clone(), false),
            (Storage::DirectPush(config.batch.batch), threads.clone(), false),
            (Storage::DirectPush(config.single.batch), threads.clone(), false),
        ];
        match backend {
            Backend::Sqlite => works.extend([
                (Storage::Fsync, vec![1], false),
                (Storage::Bulk(100), vec![1], true),
                (Storage::DirectPush(config.batch.batch), vec![1], true),
                (Storage::DirectPush(config.single.batch), vec![1], true),
            ]),
            Backend::Postgres => works
                .extend([(Storage::Bulk(1), vec![1], true), (Storage::DirectPush(config.single.batch), vec![1], true)]),
        }
        let what_if = match backend {
            Backend::Sqlite => " [what-if: synchronous=NORMAL, cache_size=64 MiB; not the server's settings]",
            Backend::Postgres => " [what-if: synchronous_commit=off; not the server's settings]",
        };
        for (work, thread_counts, tuned) in works {
            for n in thread_counts {
                let label = format!("{}{}", work.label(), if tuned { what_if } else { "" });
                eprintln!("{}: {label}, {n} threads", backend.name());
                let max_tx = config.max_requests;
                let measure = config.storage_measure;
                let warm = Duration::from_secs_f64(config.warmup.as_secs_f64().min(1.0));
                let ctx = &context;
                let mut conns = match work {
                    Storage::Fsync => Vec::new(),
                    _ => storage_connections(ctx, n, tuned)?,
                };
                tokio::task::block_in_place(|| storage_run(ctx, work, &mut conns, warm, max_tx))?;
                let probe = Probe::start(measure, perf, backend);
                let sample = tokio::task::block_in_place(|| storage_run(ctx, work, &mut conns, measure, max_tx))?;
                let measured = probe.finish(&sample);
                drop(conns);
                let text = (format!("{n} thread{}", if n == 1 { "" } else { "s" }), work.batch().to_string());
                let mut row = Row::new(format!("baseline: {label}"), backend, text, &sample, measured);
                row.target = "baseline".to_owned();
                println!(
                    "{} | {} threads | {:.0} rows/s, {:.0} tx/s, tx p50 {:.2} ms, p99 {:.2} ms | sleeps/tx {}, fsyncs/tx {}, \
                     postgres fsyncs/tx {} | CPU: {}",
                    label,
                    n,
                    row.records_per_s,
                    row.requests_per_s,
                    row.p50,
                    row.p99,
                    row.per_request(|s| s.sleeps),
                    row.per_request(|s| s.fsyncs),
                    row.per_request(|s| s.postgres_fsyncs),
                    row.cpu
                );
                report.rows.push(row);
            }
        }
    }

    if config.runs(Scenario::FirstSync) {
        eprintln!("{}: first sync", backend.name());
        if let Err(error) = first_sync(config, backend, &bench, &seeded, &corpus, report).await {
            report.errors.push(format!("{} / first sync: failed: {error:#}", backend.name()));
        }
    }
    report.notes.push(format!("{}: at the end, {}", backend.name(), database_size(target, data_dir)));
    Ok(())
}

/// Vertices of all the areas of `bench_areas`.
const BENCH_AREA_VERTICES: usize = 5 * 1000 + 45 * 400;

/// 50 areas of a real municipality's size over the corpus's positions: 5 districts side by side,
/// each a rectangle of 1,000 vertices with wavy edges, each holding 9 neighbourhoods of 400
/// vertices (wavy ellipses in a 3 × 3 grid). Most positions fall in a neighbourhood, some only
/// in a district, a few outside every area.
fn bench_areas() -> Vec<Value> {
    let ring = |points: Vec<(f64, f64)>| {
        let mut coords: Vec<Value> = points.iter().map(|(lon, lat)| json!([lon, lat])).collect();
        coords.push(coords[0].clone());
        json!({"type": "Polygon", "coordinates": [coords]})
    };
    let feature = |code: String, name: String, parent: Option<String>, geometry: Value| json!({"type": "Feature", "geometry": geometry, "properties": {"code": code, "name": name, "parent_code": parent}});
    let (lat0, lat1) = (59.205, 59.395);
    let mut features = Vec::new();
    for d in 0..5 {
        let lon0 = 17.90 + 0.08 * f64::from(d) + 0.002;
        let lon1 = lon0 + 0.076;
        // Counter-clockwise, 250 vertices a side, each side waving across its straight line.
        let wave = |t: f64| 0.0005 * (std::f64::consts::PI * t).sin() * (14.0 * std::f64::consts::PI * t).sin();
        let mut points = Vec::with_capacity(1000);
        for i in 0..250 {
            let t = f64::from(i) / 250.0;
            points.push((lon0 + t * (lon1 - lon0), lat0 + wave(t)));
        }
        for i in 0..250 {
            let t = f64::from(i) / 250.0;
            points.push((lon1 + wave(t), lat0 + t * (lat1 - lat0)));
        }
        for i in 0..250 {
            let t = f64::from(i) / 250.0;
            points.push((lon1 - t * (lon1 - lon0), lat1 + wave(t)));
        }
        for i in 0..250 {
            let t = f64::from(i) / 250.0;
            points.push((lon0 + wave(t), lat1 - t * (lat1 - lat0)));
        }
        let district = format!("d{}", d + 1);
        features.push(feature(district.clone(), format!("District {}", d + 1), None, ring(points)));
        for n in 0..9 {
            let (col, row) = (f64::from(n % 3), f64::from(n / 3));
            let (w, h) = ((lon1 - lon0) / 3.0, (lat1 - lat0) / 3.0);
            let (cx, cy) = (lon0 + w * (col + 0.5), lat0 + h * (row + 0.5));
            let points = (0..400)
                .map(|i| {
                    let a = 2.0 * std::f64::consts::PI * f64::from(i) / 400.0;
                    let r = 0.45 * (1.0 + 0.08 * (5.0 * a).sin());
                    (cx + r * w * a.cos(), cy + r * h * a.sin())
                })
                .collect();
            features.push(feature(
                format!("{district}-n{}", n + 1),
                format!("District {} neighbourhood {}", d + 1, n + 1),
                Some(district.clone()),
                ring(points),
            ));
        }
    }
    features
}

/// Ingest with area assignment: the batched push into an organisation with the 50 areas of
/// `bench_areas` against the same push into the organisation without areas, in the order
/// without, with, with, without, and so on; and the per-record cost of placing a position (area and
/// H3 cell) measured directly.
async fn areas_comparison(
    config: &Config,
    backend: Backend,
    target: &DatabaseTarget,
    plain: &Bench,
    plain_load: &Load,
    perf: bool,
    report: &mut Report,
) -> anyhow::Result<()> {
    let seeded = seed(target, config.users, AREAS_ORGANISATION)?;
    let mut conn = target.connect()?;
    let collection = json!({"type": "FeatureCollection", "features": bench_areas()});
    let lease = lagesbild::db::queries::area_jobs::Lease::for_this_process(Duration::from_secs(60));
    let (counts, job) =
        lagesbild::db::queries::areas::import_collection(&mut conn, &seeded.organisation_id, &collection, &lease)
            .map_err(|error| anyhow::anyhow!("importing the bench areas: {error:?}"))?;
    anyhow::ensure!(counts.created == 50, "50 areas should be created, not {}", counts.created);
    // The organisation has no records yet: its reassignment job ends at once, before the load.
    if let Some(job) = job {
        lagesbild::db::queries::area_jobs::run_to_end(&mut conn, job, &lease)?;
    }
    let index = lagesbild::db::queries::areas::index(&mut conn, &seeded.organisation_id)?;
    drop(conn);

    // The per-record work the areas add, and the H3 cell every record gets, without HTTP.
    let corpus = &plain_load.corpus;
    let placed = corpus.contents.iter().filter(|c| index.locate(c.lon, c.lat).is_some()).count();
    let rounds = 50;
    let started = Instant::now();
    let mut found = 0usize;
    for _ in 0..rounds {
        found += corpus.contents.iter().filter(|c| index.locate(c.lon, c.lat).is_some()).count();
    }
    let locate_us = started.elapsed().as_secs_f64() * 1e6 / (rounds * corpus.contents.len()) as f64;
    let started = Instant::now();
    let mut cells = 0usize;
    for _ in 0..rounds {
        cells += corpus.contents.iter().filter(|c| lagesbild::domain::geo::cell_for(c.lat, c.lon).is_some()).count();
    }
    let cell_us = started.elapsed().as_secs_f64() * 1e6 / (rounds * corpus.contents.len()) as f64;
    anyhow::ensure!(found == placed * rounds && cells > 0, "placing positions is not deterministic");

    let with_areas =
        Bench { client: plain.client.clone(), base: plain.base.clone(), organisation: AREAS_ORGANISATION.to_owned() };
    let mut devices = Vec::with_capacity(config.batch.devices);
    for index in 0..config.batch.devices {
        let user = &seeded.users[index % seeded.users.len()];
        let token = with_areas.login(user, &format!("areas-phone-{index:04}")).await?;
        let (_, cursor) = with_areas.first_pull(&token).await?;
        devices.push(Device { token, cursor });
    }
    let areas_load = Load { client: plain.client.clone(), devices: Arc::new(devices), corpus: corpus.clone() };
    let push = Endpoint::Push { base: plain.base.clone() };
    let shape = config.batch;
    let loads = [("without areas", plain_load), ("with 50 areas", &areas_load)];
    for (_, load) in loads {
        load.run(&push, shape, None, config.warmup, config.max_requests).await;
    }
    let mut rates = [Vec::new(), Vec::new()];
    // Without, with, with, without, without, with…: both organisations write into the same
    // tables, which grow through the run, and later phases write into bigger B-trees, so each
    // side gets as many early phases as late ones.
    for round in 1..=config.areas_rounds {
        let order = if round % 2 == 1 { [0, 1] } else { [1, 0] };
        for k in order {
            let (label, load) = loads[k];
            let name = format!("1 batched push, {label} (round {round})");
            eprintln!("{}: {name}", backend.name());
            let probe = Probe::start(config.measure, perf, backend);
            let sample = load.run(&push, shape, None, config.measure, config.max_requests).await;
            let measured = probe.finish(&sample);
            collect_errors(report, &name, backend, &sample);
            let mut row =
                Row::new(name, backend, (shape.devices.to_string(), shape.batch.to_string()), &sample, measured);
            rates[k].push(row.records_per_s);
            row.target = if k == 0 { "baseline".to_owned() } else { "≤ 15 % below".to_owned() };
            println!(
                "{} | {} | {:.0} records/s, p50 {:.2} ms, p99 {:.2} ms, {} errors | CPU: {}",
                row.scenario, row.backend, row.records_per_s, row.p50, row.p99, row.errors, row.cpu
            );
            report.rows.push(row);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let (without, with) = (mean(&rates[0]), mean(&rates[1]));
    let drop = 100.0 * (1.0 - with / without.max(1e-9));
    report.notes.push(format!(
        "{}: areas: batched push {without:.0} records/s without areas, {with:.0} with 50 areas \
         ({} vertices; {placed} of {} corpus positions in an area): {:.1} % of the rate without areas, target ≥ 85 %: {}. \
         Placing one position directly: area {locate_us:.2} µs, H3 cell {cell_us:.2} µs",
        backend.name(),
        BENCH_AREA_VERTICES,
        corpus.contents.len(),
        100.0 - drop,
        verdict(drop <= 15.0),
    ));
    Ok(())
}

fn collect_errors(report: &mut Report, name: &str, backend: Backend, sample: &Sample) {
    for (error, count) in &sample.errors {
        report.errors.push(format!("{} / {name}: {count} × {error}", backend.name()));
    }
}

/// Scenario 4: a user's 5,000 observations pushed from an old phone, then a new phone's first pull.
async fn first_sync(
    config: &Config,
    backend: Backend,
    bench: &Bench,
    seeded: &Seeded,
    corpus: &Corpus,
    report: &mut Report,
) -> anyhow::Result<()> {
    let old = bench.login(&seeded.first_sync_user, "first-sync-old-phone").await?;
    let (_, cursor) = bench.first_pull(&old).await?;
    let mut rng = 0xF1257;
    let mut pushed = 0;
    while pushed < config.first_sync_records {
        let n = (config.first_sync_records - pushed).min(500);
        let body = corpus.body(n, &mut rng);
        let start = Instant::now();
        // One retry of the same body: records the first attempt stored come back `unchanged`.
        let applied = match bench.push(&old, cursor, body.clone()).await {
            Ok(applied) => applied,
            Err(error) => {
                eprintln!(
                    "{}: seeding push failed after {:.1} s ({error:#}); retrying",
                    backend.name(),
                    start.elapsed().as_secs_f64()
                );
                bench.push(&old, cursor, body).await?
            }
        };
        eprintln!("{}: seeding push of {n} in {:.2} s", backend.name(), start.elapsed().as_secs_f64());
        anyhow::ensure!(applied == n, "seeding the first-sync user: {applied} of {n} stored");
        pushed += n;
    }
    let token = bench.login(&seeded.first_sync_user, "first-sync-new-phone").await?;
    let url = format!("{}/api/v1/sync/pull?last_pulled_at=null&schema_version=1&limit=10000", bench.base);
    let encodings = ["identity", "gzip", "br", "zstd"];
    // One unmeasured pull per encoding, also the check of the contents.
    let mut checks = Vec::new();
    let mut plain_body = Vec::new();
    for encoding in encodings {
        let (_, body, got) = pull_raw(&bench.client, &url, &token, encoding).await?;
        checks.push(check_first_sync(encoding, &got, &body, config.first_sync_records));
        if encoding == "identity" {
            plain_body = body;
        }
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); encodings.len()];
    let mut sizes: Vec<Vec<u64>> = vec![Vec::new(); encodings.len()];
    let give_up = Instant::now() + Duration::from_secs(300);
    let probe = Probe::start(Duration::ZERO, false, backend);
    let rounds_started = Instant::now();
    for round in 0..config.first_sync_runs {
        if Instant::now() > give_up {
            break;
        }
        // Rotate the order so that no encoding always follows the same one.
        for offset in 0..encodings.len() {
            let index = (round + offset) % encodings.len();
            let (elapsed, body, _) = pull_raw(&bench.client, &url, &token, encodings[index]).await?;
            times[index].push(elapsed);
            sizes[index].push(body.len() as u64);
        }
    }
    let pulls: usize = times.iter().map(Vec::len).sum();
    let cpu = probe.finish(&Sample { elapsed: rounds_started.elapsed(), ..Sample::default() }).cpu;
    let per_pull = |cores: f64| cores * rounds_started.elapsed().as_secs_f64() * 1000.0 / pulls.max(1) as f64;
    report.notes.push(format!(
        "{}: first sync, {pulls} pulls back to back: CPU per pull {:.0} ms in the server's DB threads, {:.0} ms in its \
         HTTP workers (JSON and compression), {:.0} ms in PostgreSQL, {:.0} ms in the client; machine busy {:.2} of {:.0} \
         cores, other processes {:.2}",
        backend.name(),
        per_pull(cpu.server_db),
        per_pull(cpu.server_http),
        per_pull(cpu.postgres),
        per_pull(cpu.client),
        cpu.machine_busy,
        cpu.cores,
        cpu.outside
    ));
    let target_ms = 150.0;
    for (index, encoding) in encodings.into_iter().enumerate() {
        let mut t = std::mem::take(&mut times[index]);
        t.sort();
        let bytes = median_u64(&mut sizes[index]);
        let (observations, reference, check) = match &checks[index] {
            Ok((observations, reference)) => (*observations, *reference, String::new()),
            Err(error) => (0, 0, format!("check failed: {error}; ")),
        };
        let median = pct(&t, 50.0);
        let size_ok = encoding == "identity" || bytes <= 300_000;
        let check = format!(
            "{check}≤ {target_ms:.0} ms: {}{}",
            verdict(median <= target_ms),
            if encoding == "identity" { String::new() } else { format!("; ≤ 300 KB: {}", verdict(size_ok)) }
        );
        report.first_sync.push(FirstSyncRow {
            backend: backend.name(),
            encoding,
            runs: t.len(),
            median_ms: median,
            min_ms: pct(&t, 0.0),
            max_ms: pct(&t, 100.0),
            bytes,
            observations,
            reference,
            check,
        });
        println!("first sync | {} | {encoding} | median {median:.1} ms | {bytes} bytes", backend.name());
    }
    // For comparison: the same uncompressed page compressed here at other levels (actix-web uses
    // gzip level 1, brotli quality 3 and zstd level 3).
    let plain = plain_body;
    let offline: Vec<(&'static str, Box<Compressor>)> = vec![
        ("gzip level 1, here", Box::new(|b| gzip(b, 1))),
        ("gzip level 6, here", Box::new(|b| gzip(b, 6))),
        ("gzip level 9, here", Box::new(|b| gzip(b, 9))),
        ("zstd level 3, here", Box::new(|b| Ok(zstd::stream::encode_all(b, 3)?))),
        ("zstd level 9, here", Box::new(|b| Ok(zstd::stream::encode_all(b, 9)?))),
        ("zstd level 19, here", Box::new(|b| Ok(zstd::stream::encode_all(b, 19)?))),
    ];
    for (name, compress) in offline {
        let mut t = Vec::new();
        let mut bytes = 0;
        for _ in 0..3 {
            let start = Instant::now();
            bytes = tokio::task::block_in_place(|| compress(&plain))?.len() as u64;
            t.push(start.elapsed());
        }
        t.sort();
        report.first_sync.push(FirstSyncRow {
            backend: backend.name(),
            encoding: name,
            runs: t.len(),
            median_ms: pct(&t, 50.0),
            min_ms: pct(&t, 0.0),
            max_ms: pct(&t, 100.0),
            bytes,
            observations: config.first_sync_records,
            reference: 0,
            check: format!("compression time only; ≤ 300 KB: {}", verdict(bytes <= 300_000)),
        });
    }
    Ok(())
}

/// A compression function for the offline size comparison.
type Compressor = dyn Fn(&[u8]) -> anyhow::Result<Vec<u8>>;

fn gzip(body: &[u8], level: u32) -> anyhow::Result<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    encoder.write_all(body)?;
    Ok(encoder.finish()?)
}

/// A pull with one `Accept-Encoding`; the wall time until the last byte, the raw body, and the
/// `content-encoding` it came with.
async fn pull_raw(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    encoding: &str,
) -> anyhow::Result<(Duration, Vec<u8>, String)> {
    let start = Instant::now();
    let response = client.get(url).bearer_auth(token).header(ACCEPT_ENCODING, encoding).send().await?;
    let status = response.status();
    let got = response.headers().get(CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("identity").to_owned();
    let body = response.bytes().await?;
    let elapsed = start.elapsed();
    anyhow::ensure!(status == 200, "first pull ({encoding}): {status}");
    Ok((elapsed, body.to_vec(), got))
}

/// Decodes a first-pull body and counts its observations and reference rows.
fn check_first_sync(asked: &str, got: &str, body: &[u8], expected: usize) -> anyhow::Result<(usize, usize)> {
    anyhow::ensure!(asked == got, "asked for {asked}, got content-encoding {got}");
    let plain = match got {
        "identity" => body.to_vec(),
        "gzip" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body).read_to_end(&mut out)?;
            out
        }
        "zstd" => zstd::stream::decode_all(body)?,
        // No brotli decoder among the dependencies: the encoding and size are checked only.
        _ => return Ok((expected, 0)),
    };
    let page: Value = serde_json::from_slice(&plain)?;
    anyhow::ensure!(page["has_more"] == false, "the first pull did not fit one page");
    let count = |table: &str| page["changes"][table]["created"].as_array().map_or(0, Vec::len);
    let observations = count("observations");
    anyhow::ensure!(observations == expected, "{observations} observations instead of {expected}");
    Ok((observations, count("categories") + count("activity_types") + count("units")))
}

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
