//! Scale-out on PostgreSQL: sync pushes per second with 1, 2 and 3 `lagesbild serve` processes on
//! ONE PostgreSQL database, with the HTTP ceiling and the raw insert ceiling measured in the same
//! run (the machine is shared and noisy: compare a figure with the baselines of its own run).
//!
//! For each round and each process count N (rounds alternate the order: 1, 2, 3, then 3, 2, 1):
//!
//! 1. a fresh database `lagesbild_bench_<uuid>` on the admin URL's server (dropped at the end, also
//!    when the run fails), `lagesbild migrate` once, and the seed through the command line:
//!    `org add`, `unit add`, and 32 field users (`user add --password-env`);
//! 2. N `lagesbild serve --listen 127.0.0.1:0` processes (the binary cargo built for this bench),
//!    with the same `DATABASE_URL` and `LAGESBILD_JWT_SECRET`, each its own `LAGESBILD_DATA_DIR`,
//!    JSON logs; each process's address is read from its `"address":"…"` log line, and its standard
//!    error is drained (warnings and errors counted) until it stops;
//! 3. one device per user logs in (on process i mod N), then 32 concurrent clients, one per device,
//!    push 10 new observations per push (`POST /api/v1/sync/push?last_pulled_at=null`), each push to
//!    the next process in turn (round-robin per client); every result must be `applied`. A warm-up
//!    (not counted) comes first;
//! 4. after the N = 1 pushes, the same 32 clients against that one process on `GET /healthz` (a
//!    bare handler): the HTTP ceiling.
//!
//! Before the rounds, the raw insert ceiling: in a scratch database (seeded the same way, one
//! record pushed through a server for a row as the server stores it), 1, 2 and 3 connections each
//! inserting 10 rows per transaction with one multi-row `INSERT`, committing each; once plainly and
//! once with `UPDATE sync_state SET seq = seq + 1 RETURNING seq` first in every transaction, as
//! every writer transaction of the server does.
//!
//! CPU comes from /proc: the server processes' utime + stime, every `postgres` process on the
//! machine, this process (the client), and the machine's busy time (what no one of those used is
//! other tenants of the machine).
//!
//! Run with `cargo bench --bench scale_out`. Environment variables:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `SCALE_OUT_SECONDS` | `10` | measured seconds per phase |
//! | `SCALE_OUT_WARMUP_SECONDS` | `2` | unmeasured seconds before each phase |
//! | `SCALE_OUT_RAW_SECONDS` | `5` | measured seconds per raw insert row (1 s warm-up) |
//! | `SCALE_OUT_PROCESSES` | `1,2,3` | process counts |
//! | `SCALE_OUT_ROUNDS` | `2` | rounds over the process counts (order alternates) |
//! | `SCALE_OUT_CLIENTS` | `32` | concurrent clients = field users = devices |
//! | `SCALE_OUT_BATCH` | `10` | observations per push and rows per raw transaction |
//! | `SCALE_OUT_RUST_LOG` | `info` | `RUST_LOG` of the servers (`info` is the default: one log line per request) |
//! | `SCALE_OUT_POSTGRES_URL` | `postgres://postgres@127.0.0.1:5432/postgres` | admin URL (127.0.0.1 or localhost only) |

#[path = "common/login.rs"]
mod login;
#[path = "common/machine.rs"]
mod machine;
#[allow(dead_code, reason = "the storage parts of the sync_load corpus are not used here")]
#[path = "sync_load/records.rs"]
mod records;
#[path = "common/scratch_postgres.rs"]
mod scratch_postgres;

use anyhow::Context;
use diesel::prelude::*;
use lagesbild::db::models::ObservationRow;
use lagesbild::db::schema::{observations, sync_state};
use login::Login;
use records::Corpus;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

const LAGESBILD: &str = env!("CARGO_BIN_EXE_lagesbild");
const ORGANISATION: &str = "bench";
const UNIT: &str = "falt";
const PASSWORD: &str = "correct horse battery staple";
const PASSWORD_VAR: &str = "SCALE_OUT_PASSWORD";
const SIGNING_KEY: &str = "scale-out-bench-signing-key-with-at-least-32-bytes";
/// /proc reports CPU time in USER_HZ ticks, which is 100 on Linux.
const TICKS_PER_SECOND: f64 = 100.0;
/// The `results` entry of an applied record, as the server serialises it.
const APPLIED: &str = r#""status":"applied""#;

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

struct Config {
    admin_url: String,
    measure: Duration,
    warmup: Duration,
    raw_measure: Duration,
    processes: Vec<usize>,
    rounds: usize,
    clients: usize,
    batch: usize,
    rust_log: String,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_owned())
}

fn env_number<T: std::str::FromStr>(name: &str, default: &str) -> anyhow::Result<T> {
    let text = env_or(name, default);
    text.trim().parse().map_err(|_| anyhow::anyhow!("{name}={text} is not a number"))
}

impl Config {
    fn from_env() -> anyhow::Result<Self> {
        let admin_url = env_or("SCALE_OUT_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres");
        let host = admin_url.split('@').nth(1).unwrap_or(&admin_url);
        anyhow::ensure!(
            host.starts_with("127.0.0.1") || host.starts_with("localhost"),
            "SCALE_OUT_POSTGRES_URL must point at 127.0.0.1 or localhost: the bench creates and drops databases there"
        );
        let processes = env_or("SCALE_OUT_PROCESSES", "1,2,3")
            .split(',')
            .map(|n| n.trim().parse::<usize>().map_err(|_| anyhow::anyhow!("SCALE_OUT_PROCESSES: {n} is not a number")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(processes.iter().all(|&n| (1..=16).contains(&n)), "SCALE_OUT_PROCESSES: 1 to 16 each");
        let seconds = |name: &str, default: &str| -> anyhow::Result<Duration> {
            Ok(Duration::from_secs_f64(env_number::<f64>(name, default)?.max(0.0)))
        };
        let config = Self {
            admin_url,
            measure: seconds("SCALE_OUT_SECONDS", "10")?,
            warmup: seconds("SCALE_OUT_WARMUP_SECONDS", "2")?,
            raw_measure: seconds("SCALE_OUT_RAW_SECONDS", "5")?,
            processes,
            rounds: env_number::<usize>("SCALE_OUT_ROUNDS", "2")?.max(1),
            clients: env_number::<usize>("SCALE_OUT_CLIENTS", "32")?.max(1),
            batch: env_number::<usize>("SCALE_OUT_BATCH", "10")?.max(1),
            rust_log: env_or("SCALE_OUT_RUST_LOG", "info"),
        };
        anyhow::ensure!(config.measure > Duration::ZERO, "SCALE_OUT_SECONDS must be positive");
        Ok(config)
    }

    /// The process counts of one round: ascending in even rounds, descending in odd ones.
    fn order(&self, round: usize) -> Vec<usize> {
        let mut order = self.processes.clone();
        if round % 2 == 1 {
            order.reverse();
        }
        order
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics (as benches/sync_load/probe.rs)
// ---------------------------------------------------------------------------------------------

/// Nearest-rank percentile of sorted durations, in milliseconds.
fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

/// A tiny deterministic generator (splitmix64), used by the record corpus.
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

/// utime + stime of a /proc `stat` line.
fn stat_ticks(stat: &str) -> Option<u64> {
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn process_ticks(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().and_then(|s| stat_ticks(&s)).unwrap_or(0)
}

/// CPU time so far of the server processes, every `postgres` process, this process and the machine.
struct CpuSnapshot {
    at: Instant,
    servers: u64,
    postgres: u64,
    client: u64,
    /// (busy, total) of the `cpu` line of /proc/stat; iowait counts as idle.
    machine: (u64, u64),
}

impl CpuSnapshot {
    fn take(server_pids: &[u32]) -> Self {
        let servers = server_pids.iter().map(|pid| process_ticks(&pid.to_string())).sum();
        let mut postgres = 0;
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if !name.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
                if comm.trim() == "postgres" {
                    postgres += process_ticks(&name);
                }
            }
        }
        let mut machine = (0, 0);
        if let Some(line) = std::fs::read_to_string("/proc/stat").unwrap_or_default().lines().next() {
            let values: Vec<u64> = line.split_whitespace().skip(1).take(8).filter_map(|v| v.parse().ok()).collect();
            let total: u64 = values.iter().sum();
            let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
            machine = (total - idle, total);
        }
        Self { at: Instant::now(), servers, postgres, client: process_ticks("self"), machine }
    }
}

/// CPU used during one phase, in cores (1.0 = one core busy for the whole phase).
#[derive(Clone, Copy, Default)]
struct CpuUse {
    servers: f64,
    postgres: f64,
    client: f64,
    machine_busy: f64,
    /// Busy cores not accounted to the servers, PostgreSQL or this process: other tenants.
    others: f64,
}

fn cpu_use(before: &CpuSnapshot, after: &CpuSnapshot) -> CpuUse {
    let seconds = after.at.duration_since(before.at).as_secs_f64().max(1e-9);
    let cores = |a: u64, b: u64| a.saturating_sub(b) as f64 / TICKS_PER_SECOND / seconds;
    let n_cores = std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64);
    let total = after.machine.1.saturating_sub(before.machine.1);
    let busy = after.machine.0.saturating_sub(before.machine.0);
    let machine_busy = if total == 0 { 0.0 } else { busy as f64 / total as f64 * n_cores };
    let servers = cores(after.servers, before.servers);
    let postgres = cores(after.postgres, before.postgres);
    let client = cores(after.client, before.client);
    CpuUse { servers, postgres, client, machine_busy, others: (machine_busy - servers - postgres - client).max(0.0) }
}

// ---------------------------------------------------------------------------------------------
// Databases, the command line and server processes
// ---------------------------------------------------------------------------------------------

use scratch_postgres::ScratchDatabase as Database;

/// `lagesbild` with the bench's settings: the database, the signing key, a data directory, cheap
/// password hashing (logins are not measured), login limits out of the way.
fn lagesbild(database: &Database, data_dir: &Path) -> Command {
    let mut command = Command::new(LAGESBILD);
    command
        .current_dir(data_dir)
        .env_remove("LAGESBILD_CONFIG")
        .env_remove("LAGESBILD_LISTEN")
        .env("DATABASE_URL", &database.url)
        .env("LAGESBILD_DATA_DIR", data_dir)
        .env("LAGESBILD_JWT_SECRET", SIGNING_KEY)
        .env("LAGESBILD_LOG_FORMAT", "json")
        .env("LAGESBILD_ARGON2_MEMORY_KIB", "1024")
        .env("LAGESBILD_ARGON2_ITERATIONS", "1")
        .env("LAGESBILD_ARGON2_PARALLELISM", "1")
        .env("LAGESBILD_LOGIN_ATTEMPTS_PER_ACCOUNT", "1000000")
        .env("LAGESBILD_LOGIN_ATTEMPTS_PER_ADDRESS", "1000000")
        .env("LAGESBILD_ACCESS_TOKEN_TTL_SECS", "14400")
        .env(PASSWORD_VAR, PASSWORD);
    command
}

/// Runs a command to its end; its standard output, or an error with its standard error.
fn run_cli(database: &Database, data_dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = lagesbild(database, data_dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run lagesbild {}", args.join(" ")))?;
    anyhow::ensure!(
        output.status.success(),
        "lagesbild {} failed ({}): {}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A fresh database, migrated once and seeded through the command line: one organisation, one
/// unit, `users` field users.
fn prepare_database(config: &Config, users: usize) -> anyhow::Result<Database> {
    let started = Instant::now();
    let database = Database::create(&config.admin_url, "lagesbild_bench")?;
    let dir = tempfile::Builder::new().prefix("lagesbild-scale-out-cli-").tempdir()?;
    let dir = dir.path();
    run_cli(&database, dir, &["migrate"])?;
    run_cli(&database, dir, &["org", "add", "--slug", ORGANISATION, "--name", "Bench kommun"])?;
    run_cli(&database, dir, &["unit", "add", "--org", ORGANISATION, "--slug", UNIT, "--name", "Fält"])?;
    for i in 0..users {
        let username = username(i);
        run_cli(
            &database,
            dir,
            &[
                "user",
                "add",
                "--org",
                ORGANISATION,
                "--username",
                &username,
                "--role",
                "field",
                "--unit",
                UNIT,
                "--password-env",
                PASSWORD_VAR,
            ],
        )?;
    }
    eprintln!(
        "database {}: migrated and seeded ({users} users) in {:.1} s",
        database.name,
        started.elapsed().as_secs_f64()
    );
    Ok(database)
}

fn username(i: usize) -> String {
    format!("field-{i:03}")
}

/// What a server's standard error said besides its address.
#[derive(Default)]
struct LogTally {
    lines: u64,
    warnings: u64,
    errors: u64,
    examples: Vec<String>,
}

/// One `lagesbild serve` process; killed when this goes.
struct Server {
    child: Child,
    base: String,
    tally: Arc<Mutex<LogTally>>,
    _data_dir: tempfile::TempDir,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `count` servers on the database and waits for each to log its address.
fn start_servers(config: &Config, database: &Database, count: usize) -> anyhow::Result<Vec<Server>> {
    let mut starting = Vec::with_capacity(count);
    for _ in 0..count {
        let data_dir = tempfile::Builder::new().prefix("lagesbild-scale-out-").tempdir()?;
        let mut child = lagesbild(database, data_dir.path())
            .env("RUST_LOG", &config.rust_log)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start lagesbild serve")?;
        let stderr = child.stderr.take().context("no standard error")?;
        let tally = Arc::new(Mutex::new(LogTally::default()));
        let (address_tx, address_rx) = mpsc::channel::<String>();
        let thread_tally = tally.clone();
        // Reads every line until the process ends, so the server never blocks on a full pipe.
        std::thread::Builder::new().name("bench-stderr".to_owned()).spawn(move || {
            let mut address_tx = Some(address_tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(tx) = &address_tx
                    && let Some(rest) = line.split("\"address\":\"").nth(1)
                {
                    let _ = tx.send(rest.split('"').next().unwrap_or_default().to_owned());
                    address_tx = None;
                    continue;
                }
                let mut tally = thread_tally.lock().unwrap_or_else(|e| e.into_inner());
                tally.lines += 1;
                let warning = line.contains(r#""level":"WARN""#);
                let error = line.contains(r#""level":"ERROR""#);
                tally.warnings += u64::from(warning);
                tally.errors += u64::from(error);
                if (warning || error) && tally.examples.len() < 5 {
                    tally.examples.push(line.chars().take(400).collect());
                }
            }
        })?;
        starting.push((child, data_dir, tally, address_rx));
    }
    let mut servers = Vec::with_capacity(count);
    for (child, data_dir, tally, address_rx) in starting {
        // The server goes into the list first so that it is killed if another one fails.
        let mut server = Server { child, base: String::new(), tally, _data_dir: data_dir };
        let address = address_rx.recv_timeout(Duration::from_secs(60));
        let Ok(address) = address else {
            let status = server.child.try_wait().ok().flatten();
            let tally = server.tally.lock().unwrap_or_else(|e| e.into_inner());
            anyhow::bail!(
                "a server did not log its address within 60 s (exit status {status:?}); its warnings: {:?}",
                tally.examples
            );
        };
        server.base = format!("http://{address}");
        servers.push(server);
    }
    Ok(servers)
}

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// The category slugs of the organisation, from a first pull.
async fn categories(client: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<Vec<String>> {
    let response = client
        .get(format!("{base}/api/v1/sync/pull?last_pulled_at=null&schema_version=1"))
        .bearer_auth(token)
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await?;
    anyhow::ensure!(status == 200, "pull: {status} {body}");
    let categories: Vec<String> = body["changes"]["categories"]["created"]
        .as_array()
        .map(|list| list.iter().filter_map(|c| c["slug"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    anyhow::ensure!(!categories.is_empty(), "the organisation has no categories");
    Ok(categories)
}

/// Logs one device per user in, device i on server i mod N; returns the tokens.
async fn log_in(client: &reqwest::Client, servers: &[Server], devices: usize) -> anyhow::Result<Vec<String>> {
    let mut tokens = Vec::with_capacity(devices);
    for i in 0..devices {
        let username = username(i);
        let device_id = format!("phone-{i:04}");
        let login =
            Login { organisation: ORGANISATION, username: &username, password: PASSWORD, device_id: &device_id };
        tokens.push(login::access_token(client, &servers[i % servers.len()].base, login).await?);
    }
    Ok(tokens)
}

// ---------------------------------------------------------------------------------------------
// The client load
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// `POST /api/v1/sync/push` of `batch` new observations.
    Push { batch: usize },
    /// `GET /healthz`.
    Health,
}

/// What one phase sent and got.
#[derive(Default)]
struct Sample {
    latencies: Vec<Duration>,
    records: u64,
    errors: BTreeMap<String, u64>,
    elapsed: Duration,
}

impl Sample {
    fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    fn absorb(&mut self, other: Sample) {
        self.latencies.extend(other.latencies);
        self.records += other.records;
        for (error, count) in other.errors {
            *self.errors.entry(error).or_default() += count;
        }
        self.elapsed += other.elapsed;
    }
}

struct Load {
    client: reqwest::Client,
    bases: Arc<Vec<String>>,
    tokens: Arc<Vec<String>>,
    corpus: Arc<Corpus>,
}

impl Load {
    /// One task per token, back to back until `duration` has passed; client c sends its k-th
    /// request to server (c + k) mod N.
    async fn run(&self, kind: Kind, duration: Duration) -> Sample {
        let started = Instant::now();
        let deadline = started + duration;
        let mut tasks = Vec::with_capacity(self.tokens.len());
        for worker in 0..self.tokens.len() {
            let client = self.client.clone();
            let bases = self.bases.clone();
            let tokens = self.tokens.clone();
            let corpus = self.corpus.clone();
            tasks.push(tokio::spawn(async move {
                let token = &tokens[worker];
                let urls: Vec<String> = bases
                    .iter()
                    .map(|base| match kind {
                        Kind::Push { .. } => format!("{base}/api/v1/sync/push?last_pulled_at=null"),
                        Kind::Health => format!("{base}/healthz"),
                    })
                    .collect();
                let mut next = worker % urls.len();
                let mut rng =
                    (worker as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D) ^ started.elapsed().as_nanos() as u64;
                let mut sample = Sample::default();
                while Instant::now() < deadline {
                    let url = &urls[next];
                    next = (next + 1) % urls.len();
                    let start = Instant::now();
                    match send(&client, kind, url, token, &corpus, &mut rng).await {
                        Ok(records) => {
                            sample.latencies.push(start.elapsed());
                            sample.records += records;
                        }
                        Err(error) => *sample.errors.entry(error).or_default() += 1,
                    }
                }
                sample
            }));
        }
        let mut sample = Sample::default();
        for task in tasks {
            match task.await {
                Ok(part) => sample.absorb(part),
                Err(_) => *sample.errors.entry("client task failed".to_owned()).or_default() += 1,
            }
        }
        sample.elapsed = started.elapsed();
        sample.latencies.sort();
        sample
    }
}

/// One request: the records it got applied (0 for /healthz), or why it failed.
async fn send(
    client: &reqwest::Client,
    kind: Kind,
    url: &str,
    token: &str,
    corpus: &Corpus,
    rng: &mut u64,
) -> Result<u64, String> {
    let request = match kind {
        Kind::Push { batch } => client
            .post(url)
            .bearer_auth(token)
            .header(CONTENT_TYPE, "application/json")
            .header("x-client-time", chrono::Utc::now().timestamp_millis().to_string())
            .header("x-pending-count", batch.to_string())
            .body(corpus.body(batch, rng)),
        Kind::Health => client.get(url),
    };
    let response = request.send().await.map_err(|error| transport(&error))?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(|error| transport(&error))?;
    if status != 200 {
        let code = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|problem| problem["code"].as_str().map(str::to_owned))
            .unwrap_or_default();
        return Err(format!("{status} {code}"));
    }
    match kind {
        Kind::Health => Ok(0),
        Kind::Push { batch } => {
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

// ---------------------------------------------------------------------------------------------
// Rows of the report
// ---------------------------------------------------------------------------------------------

struct Row {
    /// `push`, `healthz`, `raw` or `raw+lock`.
    kind: &'static str,
    round: usize,
    /// Server processes, or connections for the raw rows.
    processes: usize,
    sample: Sample,
    cpu: CpuUse,
    log_warnings: u64,
    log_errors: u64,
    /// Sequence numbers taken during the phase (the `sync_seq` sequence): one per writer
    /// transaction of synced data, i.e. one per group commit of pushes.
    seqs: Option<i64>,
}

impl Row {
    fn per_s(&self) -> f64 {
        self.sample.latencies.len() as f64 / self.sample.elapsed.as_secs_f64().max(1e-9)
    }

    fn records_per_s(&self) -> f64 {
        self.sample.records as f64 / self.sample.elapsed.as_secs_f64().max(1e-9)
    }

    /// Writer transactions per second and pushes per writer transaction, as text.
    fn commits(&self) -> (String, String) {
        match self.seqs {
            Some(seqs) if self.kind == "push" && seqs > 0 => (
                format!("{:.0}", seqs as f64 / self.sample.elapsed.as_secs_f64().max(1e-9)),
                format!("{:.2}", self.sample.latencies.len() as f64 / seqs as f64),
            ),
            _ => ("–".to_owned(), "–".to_owned()),
        }
    }

    fn print_progress(&self) {
        let l = &self.sample.latencies;
        let c = &self.cpu;
        let (commits, per_commit) = self.commits();
        println!(
            "{} | round {} | {} | {} requests, {:.1}/s, {:.0} records/s, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, \
             {} errors | writer transactions/s {commits}, pushes per transaction {per_commit} | \
             CPU cores: servers {:.2}, postgres {:.2}, client {:.2}, machine busy {:.2}, others {:.2}",
            self.kind,
            self.round + 1,
            self.processes,
            l.len(),
            self.per_s(),
            self.records_per_s(),
            pct(l, 50.0),
            pct(l, 95.0),
            pct(l, 99.0),
            self.sample.error_count(),
            c.servers,
            c.postgres,
            c.client,
            c.machine_busy,
            c.others
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The phases
// ---------------------------------------------------------------------------------------------

/// N servers on a fresh database: pushes, and on one server the /healthz ceiling afterwards.
fn push_phase(
    config: &Config,
    runtime: &tokio::runtime::Runtime,
    round: usize,
    count: usize,
    with_health: bool,
) -> anyhow::Result<Vec<Row>> {
    let database = prepare_database(config, config.clients)?;
    let servers = start_servers(config, &database, count)?;
    let pids: Vec<u32> = servers.iter().map(Server::pid).collect();
    let mut pg = lagesbild::db::connect_postgres(&database.url)?;
    // Numbers come from the `sync_seq` sequence on PostgreSQL (one per writer transaction).
    let mut seq = move || {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>("(SELECT last_value FROM sync_seq)"))
            .get_result::<i64>(&mut pg)
            .ok()
    };
    let result = runtime.block_on(async {
        let client = client()?;
        let tokens = log_in(&client, &servers, config.clients).await?;
        let categories = categories(&client, &servers[0].base, &tokens[0]).await?;
        let load = Load {
            client,
            bases: Arc::new(servers.iter().map(|s| s.base.clone()).collect()),
            tokens: Arc::new(tokens),
            corpus: Arc::new(Corpus::new(&categories, 4096, 0x5EED + round as u64)),
        };
        let mut rows = Vec::new();
        let mut kinds = vec![("push", Kind::Push { batch: config.batch })];
        if with_health {
            kinds.push(("healthz", Kind::Health));
        }
        for (name, kind) in kinds {
            eprintln!("round {}: {name} with {count} process(es), warm-up", round + 1);
            load.run(kind, config.warmup).await;
            let logs_before = log_counts(&servers);
            let seq_before = seq();
            let before = CpuSnapshot::take(&pids);
            let sample = load.run(kind, config.measure).await;
            let after = CpuSnapshot::take(&pids);
            let seq_after = seq();
            let logs_after = log_counts(&servers);
            let row = Row {
                kind: name,
                round,
                processes: count,
                sample,
                cpu: cpu_use(&before, &after),
                log_warnings: logs_after.0 - logs_before.0,
                log_errors: logs_after.1 - logs_before.1,
                seqs: seq_before.zip(seq_after).map(|(b, a)| a - b),
            };
            row.print_progress();
            rows.push(row);
        }
        anyhow::Ok(rows)
    });
    for server in &servers {
        let tally = server.tally.lock().unwrap_or_else(|e| e.into_inner());
        for example in &tally.examples {
            eprintln!("server {} logged: {example}", server.base);
        }
    }
    drop(servers);
    drop(database);
    result
}

fn log_counts(servers: &[Server]) -> (u64, u64) {
    servers.iter().fold((0, 0), |(w, e), server| {
        let tally = server.tally.lock().unwrap_or_else(|e| e.into_inner());
        (w + tally.warnings, e + tally.errors)
    })
}

/// The raw insert ceiling: 1, 2, 3 connections inserting `batch` rows per transaction into a
/// scratch database, without and with the `sync_state` row lock.
fn raw_phase(config: &Config, runtime: &tokio::runtime::Runtime) -> anyhow::Result<Vec<Row>> {
    let database = prepare_database(config, 1)?;
    // One record pushed through a server gives a row as the server stores it.
    let corpus = {
        let servers = start_servers(config, &database, 1)?;
        runtime.block_on(async {
            let client = client()?;
            let tokens = log_in(&client, &servers, 1).await?;
            let categories = categories(&client, &servers[0].base, &tokens[0]).await?;
            let corpus = Corpus::new(&categories, 4096, 0xBA5E);
            let url = format!("{}/api/v1/sync/push?last_pulled_at=null", servers[0].base);
            let mut rng = 1;
            let records = send(&client, Kind::Push { batch: 1 }, &url, &tokens[0], &corpus, &mut rng)
                .await
                .map_err(|error| anyhow::anyhow!("the template push failed: {error}"))?;
            anyhow::ensure!(records == 1, "the template push applied {records} records");
            anyhow::Ok(corpus)
        })?
    };
    let mut pg = lagesbild::db::connect_postgres(&database.url)?;
    let template: ObservationRow = observations::table.select(ObservationRow::as_select()).first(&mut pg)?;
    drop(pg);
    let mut rows = Vec::new();
    for locked in [false, true] {
        for &connections in &config.processes {
            let kind = if locked { "raw+lock" } else { "raw" };
            eprintln!("raw inserts: {kind}, {connections} connection(s)");
            let mut conns = (0..connections)
                .map(|_| lagesbild::db::connect_postgres(&database.url))
                .collect::<Result<Vec<_>, _>>()?;
            let warm = Duration::from_secs_f64(config.warmup.as_secs_f64().min(1.0));
            raw_run(&mut conns, &template, &corpus, config.batch, locked, warm)?;
            let before = CpuSnapshot::take(&[]);
            let sample = raw_run(&mut conns, &template, &corpus, config.batch, locked, config.raw_measure)?;
            let after = CpuSnapshot::take(&[]);
            let row = Row {
                kind,
                round: 0,
                processes: connections,
                sample,
                cpu: cpu_use(&before, &after),
                log_warnings: 0,
                log_errors: 0,
                seqs: None,
            };
            row.print_progress();
            rows.push(row);
        }
    }
    drop(database);
    Ok(rows)
}

/// One thread per connection, each committing transactions of one multi-row INSERT of `batch`
/// rows (after taking the `sync_state` row lock, when `locked`) until `duration` has passed.
fn raw_run(
    conns: &mut [PgConnection],
    template: &ObservationRow,
    corpus: &Corpus,
    batch: usize,
    locked: bool,
    duration: Duration,
) -> anyhow::Result<Sample> {
    let started = Instant::now();
    let deadline = started + duration;
    let seed = started.elapsed().as_nanos() as u64;
    let parts = std::thread::scope(|scope| {
        let handles: Vec<_> = conns
            .iter_mut()
            .enumerate()
            .map(|(index, conn)| {
                scope.spawn(move || -> anyhow::Result<Sample> {
                    let mut rng = (index as u64 + 1).wrapping_mul(0xC0FF_EE00_0000_0001) ^ seed;
                    let mut sample = Sample::default();
                    while Instant::now() < deadline {
                        let start = Instant::now();
                        conn.transaction(|conn| -> QueryResult<()> {
                            let seq = if locked {
                                diesel::update(sync_state::table.find(1))
                                    .set(sync_state::seq.eq(sync_state::seq + 1))
                                    .returning(sync_state::seq)
                                    .get_result::<i64>(conn)?
                            } else {
                                template.server_seq
                            };
                            let rows: Vec<ObservationRow> =
                                (0..batch).map(|_| corpus.row(template, seq, &mut rng)).collect();
                            diesel::insert_into(observations::table).values(&rows).execute(conn)?;
                            Ok(())
                        })?;
                        sample.latencies.push(start.elapsed());
                        sample.records += batch as u64;
                    }
                    Ok(sample)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow::anyhow!("a raw insert thread panicked"))?)
            .collect::<anyhow::Result<Vec<Sample>>>()
    })?;
    let mut sample = Sample::default();
    for part in parts {
        sample.absorb(part);
    }
    sample.elapsed = started.elapsed();
    sample.latencies.sort();
    Ok(sample)
}

// ---------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------

fn print_machine(config: &Config) -> anyhow::Result<()> {
    println!("# scale_out\n");
    println!("machine: {}", machine::describe());
    let mut admin = lagesbild::db::connect_postgres(&config.admin_url)
        .map_err(|error| anyhow::anyhow!("cannot connect to PostgreSQL at {}: {error}", config.admin_url))?;
    println!("PostgreSQL: {}", machine::postgres_settings(&mut admin)?);
    println!(
        "load: {} clients (one device each), {} observations per push, {} s measured after {} s warm-up per phase, \
         {} round(s) over {:?} processes (order alternates), servers with RUST_LOG={}; raw rows {} s each",
        config.clients,
        config.batch,
        config.measure.as_secs_f64(),
        config.warmup.as_secs_f64(),
        config.rounds,
        config.processes,
        config.rust_log,
        config.raw_measure.as_secs_f64()
    );
    Ok(())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Rows of one kind and process count, pooled: rates over the summed measured time, percentiles
/// over every latency, CPU averaged over the rounds.
struct Pooled {
    rounds: usize,
    sample: Sample,
    cpu: CpuUse,
    /// Writer transactions (sequence numbers taken), when every row counted them.
    seqs: Option<i64>,
}

fn pool(rows: &[&Row]) -> Pooled {
    let mut sample = Sample::default();
    let mut cpu = CpuUse::default();
    let mut seqs = Some(0);
    for row in rows {
        seqs = seqs.zip(row.seqs).map(|(a, b)| a + b);
        sample.latencies.extend(row.sample.latencies.iter().copied());
        sample.records += row.sample.records;
        for (error, count) in &row.sample.errors {
            *sample.errors.entry(error.clone()).or_default() += count;
        }
        sample.elapsed += row.sample.elapsed;
        cpu.servers += row.cpu.servers;
        cpu.postgres += row.cpu.postgres;
        cpu.client += row.cpu.client;
        cpu.machine_busy += row.cpu.machine_busy;
        cpu.others += row.cpu.others;
    }
    let n = rows.len().max(1) as f64;
    for value in [&mut cpu.servers, &mut cpu.postgres, &mut cpu.client, &mut cpu.machine_busy, &mut cpu.others] {
        *value /= n;
    }
    sample.latencies.sort();
    Pooled { rounds: rows.len(), sample, cpu, seqs }
}

fn rate(sample: &Sample) -> f64 {
    sample.latencies.len() as f64 / sample.elapsed.as_secs_f64().max(1e-9)
}

fn print_report(config: &Config, rows: &[Row]) {
    let of = |kind: &str, n: usize| rows.iter().filter(|r| r.kind == kind && r.processes == n).collect::<Vec<_>>();
    let first = config.processes.first().copied().unwrap_or(1);
    let base = pool(&of("push", first));
    let base_rate = rate(&base.sample);

    println!(
        "\n## pushes ({} observations per push, {} clients), pooled over the rounds\n",
        config.batch, config.clients
    );
    println!(
        "| processes | rounds | pushes | pushes/s | records/s | p50 ms | p95 ms | p99 ms | errors | relative to {first} process | \
         writer tx/s | pushes per tx | CPU servers | CPU postgres | CPU client | machine busy | others |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &n in &config.processes {
        let p = pool(&of("push", n));
        let l = &p.sample.latencies;
        let per_s = rate(&p.sample);
        let (commits, per_commit) = match p.seqs {
            Some(seqs) if seqs > 0 => (
                format!("{:.0}", seqs as f64 / p.sample.elapsed.as_secs_f64().max(1e-9)),
                format!("{:.2}", l.len() as f64 / seqs as f64),
            ),
            _ => ("–".to_owned(), "–".to_owned()),
        };
        println!(
            "| {n} | {} | {} | {:.1} | {:.0} | {:.1} | {:.1} | {:.1} | {} | {:.2}× | {commits} | {per_commit} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            p.rounds,
            l.len(),
            per_s,
            p.sample.records as f64 / p.sample.elapsed.as_secs_f64().max(1e-9),
            pct(l, 50.0),
            pct(l, 95.0),
            pct(l, 99.0),
            p.sample.error_count(),
            per_s / base_rate.max(1e-9),
            p.cpu.servers,
            p.cpu.postgres,
            p.cpu.client,
            p.cpu.machine_busy,
            p.cpu.others
        );
    }

    println!("\n## every phase\n");
    println!(
        "| round | kind | processes / connections | requests | per s | records/s | p50 ms | p95 ms | p99 ms | max ms | errors | \
         relative to {first} in its round | writer tx/s | pushes per tx | CPU servers | CPU postgres | CPU client | machine busy | \
         others | server log warn/error |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let l = &row.sample.latencies;
        let reference = rows
            .iter()
            .find(|r| r.kind == row.kind && r.round == row.round && r.processes == first)
            .map_or(f64::NAN, Row::per_s);
        let c = &row.cpu;
        let (commits, per_commit) = row.commits();
        println!(
            "| {} | {} | {} | {} | {:.1} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {:.2}× | {commits} | {per_commit} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {}/{} |",
            if row.kind.starts_with("raw") { "–".to_owned() } else { (row.round + 1).to_string() },
            row.kind,
            row.processes,
            l.len(),
            row.per_s(),
            row.records_per_s(),
            pct(l, 50.0),
            pct(l, 95.0),
            pct(l, 99.0),
            pct(l, 100.0),
            row.sample.error_count(),
            row.per_s() / reference,
            c.servers,
            c.postgres,
            c.client,
            c.machine_busy,
            c.others,
            row.log_warnings,
            row.log_errors
        );
    }

    println!("\n## baselines\n");
    println!(
        "| baseline | processes / connections | requests or transactions/s | rows/s | p50 ms | p95 ms | p99 ms | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let health = pool(&rows.iter().filter(|r| r.kind == "healthz").collect::<Vec<_>>());
    if health.rounds > 0 {
        let l = &health.sample.latencies;
        println!(
            "| HTTP ceiling: `GET /healthz`, {} clients, 1 process ({} rounds) | 1 | {:.0} | – | {:.2} | {:.2} | {:.2} | {} |",
            config.clients,
            health.rounds,
            rate(&health.sample),
            pct(l, 50.0),
            pct(l, 95.0),
            pct(l, 99.0),
            health.sample.error_count()
        );
    }
    for (kind, label) in [
        ("raw", "raw INSERT of {b} rows per transaction"),
        ("raw+lock", "raw INSERT of {b} rows per transaction after the `sync_state` row lock"),
    ] {
        for &n in &config.processes {
            for row in of(kind, n) {
                let l = &row.sample.latencies;
                println!(
                    "| {} | {n} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
                    label.replace("{b}", &config.batch.to_string()),
                    row.per_s(),
                    row.records_per_s(),
                    pct(l, 50.0),
                    pct(l, 95.0),
                    pct(l, 99.0),
                    row.sample.error_count()
                );
            }
        }
    }
    let errors: BTreeMap<String, u64> =
        rows.iter().flat_map(|r| r.sample.errors.clone()).fold(BTreeMap::new(), |mut all, (error, count)| {
            *all.entry(error).or_default() += count;
            all
        });
    if !errors.is_empty() {
        println!("\n## answers other than success\n");
        for (error, count) in errors {
            println!("- {error}: {count}");
        }
    }
    println!("\nload average at the end: {}", load_average());
}

fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    print_machine(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().thread_name("bench-client").enable_all().build()?;
    let mut rows = Vec::new();
    let result = (|| -> anyhow::Result<()> {
        rows.extend(raw_phase(&config, &runtime).context("the raw insert ceiling failed")?);
        for round in 0..config.rounds {
            for count in config.order(round) {
                let with_health = count == 1;
                let phase = push_phase(&config, &runtime, round, count, with_health)
                    .with_context(|| format!("round {}, {count} process(es) failed", round + 1))?;
                rows.extend(phase);
            }
        }
        Ok(())
    })();
    runtime.shutdown_timeout(Duration::from_secs(10));
    print_report(&config, &rows);
    result
}
