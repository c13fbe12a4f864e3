//! Login load: the real server in this process (port 0, a fresh SQLite data dir, the default
//! argon2id parameters, login limits raised out of the way), one seeded organisation and user, and
//! C concurrent clients on 127.0.0.1.
//!
//! It reports, all from one run so that the figures share the machine's state:
//!
//! 1. the cost of one argon2id hash and verify with the default parameters (and, for comparison,
//!    with a few candidate parameter sets);
//! 2. logins per second and p50/p95/p99 latency at each concurrency, next to the same client loop
//!    against `GET /healthz` (a bare handler: the HTTP ceiling);
//! 3. the latency of a correct login, a wrong password, an unknown user and an unknown
//!    organisation, interleaved, to show that a failure costs what a success costs.
//!
//! Run with `cargo bench --bench login_load`. Environment variables:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `LOGIN_LOAD_SECS` | `10` | measured seconds per (endpoint, concurrency) |
//! | `LOGIN_LOAD_WARMUP_SECS` | `1` | unmeasured seconds before each of them |
//! | `LOGIN_LOAD_CLIENTS` | `1,2,4,8` | concurrencies |
//! | `LOGIN_LOAD_MAX_REQUESTS` | `2000000` | cap on requests per (endpoint, concurrency) |
//! | `LOGIN_LOAD_ARGON2_SAMPLES` | `30` | hashes and verifies timed per parameter set |
//! | `LOGIN_LOAD_ARGON2_CANDIDATES` | see `DEFAULT_CANDIDATES` | `KIB:T:P` sets, comma-separated; `none` for none |
//! | `LOGIN_LOAD_FAILURE_ROUNDS` | `40` | rounds of the four-way login comparison |
//! | `LOGIN_LOAD_SERVER_ARGON2` | (the defaults) | `KIB:T:P` for the server and the seeded user instead |

#[path = "common/seed.rs"]
mod seed;

use anyhow::Context;
use lagesbild::config::Settings;
use lagesbild::db::DatabaseTarget;
use lagesbild::domain::identity::Role;
use lagesbild::domain::password::Passwords;
use lagesbild::startup::Application;
use seed::User;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const ORGANISATION: &str = "bench";
const USERNAME: &str = "anna";
const PASSWORD: &str = "correct horse battery staple";
const SIGNING_KEY: &str = "bench-signing-key-with-at-least-32-bytes-of-entropy";
/// Parameter sets timed next to the defaults: memory KiB, passes, lanes.
const DEFAULT_CANDIDATES: &str = "19456:2:1,32768:1:1,32768:2:1,47104:1:1,65536:1:1";

/// What the run is told through the environment.
struct Config {
    measure: Duration,
    warmup: Duration,
    clients: Vec<usize>,
    max_requests: u64,
    argon2_samples: usize,
    candidates: Vec<(u32, u32, u32)>,
    failure_rounds: usize,
    /// argon2id parameters for the server instead of the defaults.
    server_argon2: Option<(u32, u32, u32)>,
}

impl Config {
    fn from_env() -> anyhow::Result<Self> {
        let secs = |name: &str, default: f64| -> anyhow::Result<Duration> {
            let value = env_or(name, default)?;
            anyhow::ensure!((0.0..=600.0).contains(&value), "{name} must be between 0 and 600 seconds");
            Ok(Duration::from_secs_f64(value))
        };
        let clients = std::env::var("LOGIN_LOAD_CLIENTS")
            .unwrap_or_else(|_| "1,2,4,8".to_owned())
            .split(',')
            .map(|c| c.trim().parse::<usize>().with_context(|| format!("LOGIN_LOAD_CLIENTS: `{c}`")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(clients.iter().all(|c| (1..=256).contains(c)), "LOGIN_LOAD_CLIENTS must be 1..=256 each");
        let candidates =
            std::env::var("LOGIN_LOAD_ARGON2_CANDIDATES").unwrap_or_else(|_| DEFAULT_CANDIDATES.to_owned());
        let candidates = if candidates.trim() == "none" || candidates.trim().is_empty() {
            Vec::new()
        } else {
            candidates.split(',').map(parse_params).collect::<anyhow::Result<Vec<_>>>()?
        };
        Ok(Self {
            measure: secs("LOGIN_LOAD_SECS", 10.0)?,
            warmup: secs("LOGIN_LOAD_WARMUP_SECS", 1.0)?,
            clients,
            max_requests: env_or("LOGIN_LOAD_MAX_REQUESTS", 2_000_000)?,
            argon2_samples: env_or("LOGIN_LOAD_ARGON2_SAMPLES", 30)?.max(1),
            candidates,
            failure_rounds: env_or("LOGIN_LOAD_FAILURE_ROUNDS", 40)?.max(1),
            server_argon2: std::env::var("LOGIN_LOAD_SERVER_ARGON2").ok().map(|v| parse_params(&v)).transpose()?,
        })
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

fn parse_params(text: &str) -> anyhow::Result<(u32, u32, u32)> {
    let parts = text.trim().split(':').map(str::parse::<u32>).collect::<Result<Vec<_>, _>>();
    match parts.as_deref() {
        Ok([m, t, p]) => Ok((*m, *t, *p)),
        _ => anyhow::bail!("argon2 parameters must be KIB:T:P, not `{text}`"),
    }
}

/// Latencies of one measured loop.
struct Sample {
    latencies: Vec<Duration>,
    /// Unexpected answers by status and problem code (`transport` when there was none).
    errors: BTreeMap<String, u64>,
    elapsed: Duration,
}

impl Sample {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// Nearest-rank percentile of sorted durations, in milliseconds.
fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let defaults = Settings::default();
    print_machine();

    let default_params = (defaults.argon2_memory_kib, defaults.argon2_iterations, defaults.argon2_parallelism);
    let mut sets = vec![default_params];
    sets.extend(config.candidates.iter().copied().filter(|set| *set != default_params));
    println!(
        "\n## argon2id cost (one call on one thread, no server running yet; the sets interleaved, \
         {} rounds)\n",
        config.argon2_samples
    );
    println!(
        "| memory KiB | t | p | hash p50 ms | verify p50 ms | verify min ms | verify p95 ms | verify vs default | \
         page faults per verify |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let timings = time_argon2(&sets, config.argon2_samples)?;
    let default_verify = pct(&timings[0].verify, 50.0);
    for (index, ((m, t, p), Argon2Timing { hash, verify, faults })) in sets.iter().zip(&timings).enumerate() {
        let label = if index == 0 { " (default)" } else { "" };
        println!(
            "| {m} ({:.0} MiB){label} | {t} | {p} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2}× | {faults} |",
            f64::from(*m) / 1024.0,
            pct(hash, 50.0),
            pct(verify, 50.0),
            pct(verify, 0.0),
            pct(verify, 95.0),
            pct(verify, 50.0) / default_verify
        );
    }

    let after_argon2 = memory();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve_and_load(&config, &after_argon2))
}

fn print_machine() {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name").map(|rest| rest.trim_start_matches([' ', '\t', ':'])))
        .unwrap_or("unknown");
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo.lines().find(|line| line.starts_with("MemTotal")).unwrap_or("MemTotal: unknown");
    println!(
        "# login_load\n\nmachine: {cores} cores, {model}, {}",
        memory.split_whitespace().skip(1).collect::<Vec<_>>().join(" ")
    );
}

/// Times `samples` hashes, then `samples` verifies of the last hash.
/// For each parameter set, `samples` hashes and `samples` verifies (sorted) and the mean minor page
/// faults of one verify, timed round by round across the sets so that drift in the machine's load
/// touches each set alike.
/// The timings of one argon2id parameter set.
#[derive(Clone, Default)]
struct Argon2Timing {
    hash: Vec<Duration>,
    verify: Vec<Duration>,
    /// Mean minor page faults of one verify.
    faults: u64,
}

fn time_argon2(sets: &[(u32, u32, u32)], samples: usize) -> anyhow::Result<Vec<Argon2Timing>> {
    let mut hashers = Vec::with_capacity(sets.len());
    for &(m, t, p) in sets {
        let passwords = Passwords::new(m, t, p)?;
        let stored = passwords.hash(PASSWORD)?;
        hashers.push((passwords, stored));
    }
    let mut timings = vec![Argon2Timing::default(); sets.len()];
    for _ in 0..samples {
        for ((passwords, stored), Argon2Timing { hash, verify, faults }) in hashers.iter_mut().zip(timings.iter_mut()) {
            let start = Instant::now();
            *stored = passwords.hash(PASSWORD)?;
            hash.push(start.elapsed());
            let faults_before = minor_faults();
            let start = Instant::now();
            let ok = passwords.verify(PASSWORD, Some(stored));
            verify.push(start.elapsed());
            *faults += minor_faults().saturating_sub(faults_before);
            anyhow::ensure!(ok, "the password does not verify against its own hash");
        }
    }
    for timing in &mut timings {
        timing.hash.sort();
        timing.verify.sort();
        timing.faults /= samples as u64;
    }
    Ok(timings)
}

/// Minor page faults of the calling thread so far (0 if unknown).
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // minflt is the 10th field of the line, the 8th after the parenthesised command name.
    stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(7)).and_then(|n| n.parse().ok()).unwrap_or(0)
}

async fn serve_and_load(config: &Config, after_argon2: &str) -> anyhow::Result<()> {
    let data_dir = tempfile::Builder::new().prefix("lagesbild-login-load-").tempdir()?;
    let settings = Settings {
        listen: "127.0.0.1:0".parse()?,
        data_dir: data_dir.path().to_owned(),
        jwt_secret: Some(serde_json::from_value(json!(SIGNING_KEY))?),
        login_attempts_per_account: 1_000_000,
        login_attempts_per_address: 1_000_000,
        ..Settings::default()
    };
    let settings = match config.server_argon2 {
        Some((m, t, p)) => Settings { argon2_memory_kib: m, argon2_iterations: t, argon2_parallelism: p, ..settings },
        None => settings,
    };
    let application = Application::build(settings.clone())?;
    let base = format!("http://127.0.0.1:{}", application.port());
    let server = tokio::spawn(application.run_until_stopped());
    seed(&settings)?;

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()?;
    let healthz = Arc::new(Endpoint::Healthz { url: format!("{base}/healthz") });
    let login = Arc::new(Endpoint::Login { url: format!("{base}/api/v1/auth/login") });
    // The server answers before anything is measured.
    healthz.call(&client, 0).await.map_err(|error| anyhow::anyhow!("GET /healthz: {error}"))?;
    login.call(&client, 0).await.map_err(|error| anyhow::anyhow!("the seeded user cannot log in: {error}"))?;
    let before = memory();

    println!(
        "\n## throughput: {} s per row after {} s warm-up, server workers: {}, argon2id m={} KiB t={} p={}, \
         SQLite in {}\n",
        config.measure.as_secs_f64(),
        config.warmup.as_secs_f64(),
        settings.workers.map_or_else(|| "one per core".to_owned(), |w| w.to_string()),
        settings.argon2_memory_kib,
        settings.argon2_iterations,
        settings.argon2_parallelism,
        data_dir.path().display()
    );
    let mut unexpected = Vec::new();
    println!("| endpoint | clients | requests | errors | req/s | p50 ms | p95 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for &clients in &config.clients {
        for (name, endpoint) in [("GET /healthz", &healthz), ("POST login", &login)] {
            run_loop(&client, endpoint, clients, config.warmup, config.max_requests).await;
            let mut sample = run_loop(&client, endpoint, clients, config.measure, config.max_requests).await;
            sample.latencies.sort();
            let l = &sample.latencies;
            println!(
                "| {name} | {clients} | {} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} |",
                l.len(),
                sample.error_count(),
                sample.rate(),
                pct(l, 50.0),
                pct(l, 95.0),
                pct(l, 99.0),
                pct(l, 100.0)
            );
            for (error, count) in &sample.errors {
                unexpected.push(format!("{name}, {clients} clients: {count} × {error}"));
            }
        }
    }
    if !unexpected.is_empty() {
        println!("\nanswers other than 200:\n");
        for line in &unexpected {
            println!("- {line}");
        }
    }
    let after_load = memory();

    compare_failures(&client, &base, config.failure_rounds).await?;

    println!("\n## memory of this process (server and clients together)\n");
    println!("- after the argon2id rows: {after_argon2}");
    println!("- after the server started, seeding and one login: {before}");
    println!("- after the throughput rows: {after_load}");
    println!("- at the end: {}", memory());
    server.abort();
    Ok(())
}

/// VmRSS and VmHWM of this process, in MiB.
fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| rest.trim_start_matches([':', ' ', '\t']).split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok())
            .map_or_else(|| "?".to_owned(), |n| format!("{:.1} MiB", n / 1024.0))
    };
    format!("VmRSS {}, VmHWM {}", kib("VmRSS"), kib("VmHWM"))
}

/// Creates the organisation, a unit and the user, hashing with the server's parameters.
fn seed(settings: &Settings) -> anyhow::Result<()> {
    let mut conn = DatabaseTarget::from_settings(settings)?.connect()?;
    let organisation_id = seed::organisation(&mut conn, ORGANISATION)?;
    seed::unit(&mut conn, &organisation_id, "falt", "Fält")?;
    let passwords =
        Passwords::new(settings.argon2_memory_kib, settings.argon2_iterations, settings.argon2_parallelism)?;
    let user = User { username: USERNAME, password: PASSWORD, role: Role::Field, unit: Some("falt") };
    seed::user(&mut conn, &passwords, &organisation_id, user)?;
    Ok(())
}

/// What one client request does.
enum Endpoint {
    Healthz { url: String },
    Login { url: String },
}

impl Endpoint {
    /// One request; `Err` describes an answer other than 200.
    async fn call(&self, client: &reqwest::Client, worker: usize) -> Result<(), String> {
        let response = match self {
            Endpoint::Healthz { url } => client.get(url).send().await,
            Endpoint::Login { url } => {
                client.post(url).json(&login_body(ORGANISATION, USERNAME, PASSWORD, worker)).send().await
            }
        };
        let response = response.map_err(|_| "transport".to_owned())?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|_| "transport".to_owned())?;
        if status == 200 {
            return Ok(());
        }
        let code = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|problem| problem["code"].as_str().map(str::to_owned))
            .unwrap_or_default();
        Err(format!("{status} {code}"))
    }
}

fn login_body(organisation: &str, username: &str, password: &str, worker: usize) -> serde_json::Value {
    json!({
        "organisation": organisation,
        "username": username,
        "password": password,
        "device_id": format!("bench-phone-{worker}"),
        "device_name": "Bench phone",
    })
}

/// The status of a response whose body was read in full.
async fn status_of(response: reqwest::Result<reqwest::Response>) -> Option<u16> {
    let response = response.ok()?;
    let status = response.status().as_u16();
    response.bytes().await.ok()?;
    Some(status)
}

/// `clients` tasks calling the endpoint back to back until `duration` has passed or
/// `max_requests` have been sent.
async fn run_loop(
    client: &reqwest::Client,
    endpoint: &Arc<Endpoint>,
    clients: usize,
    duration: Duration,
    max_requests: u64,
) -> Sample {
    let started = Instant::now();
    let deadline = started + duration;
    let sent = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(clients);
    for worker in 0..clients {
        let client = client.clone();
        let endpoint = endpoint.clone();
        let sent = sent.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = BTreeMap::<String, u64>::new();
            while Instant::now() < deadline {
                if sent.fetch_add(1, Ordering::Relaxed) >= max_requests {
                    break;
                }
                let start = Instant::now();
                match endpoint.call(&client, worker).await {
                    Ok(()) => latencies.push(start.elapsed()),
                    Err(error) => *errors.entry(error).or_default() += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut sample = Sample { latencies: Vec::new(), errors: BTreeMap::new(), elapsed: Duration::ZERO };
    for task in tasks {
        match task.await {
            Ok((latencies, errors)) => {
                sample.latencies.extend(latencies);
                for (error, count) in errors {
                    *sample.errors.entry(error).or_default() += count;
                }
            }
            Err(_) => *sample.errors.entry("client task failed".to_owned()).or_default() += 1,
        }
    }
    sample.elapsed = started.elapsed();
    sample
}

/// One client, the four kinds of login interleaved round by round, so that drift in the machine's
/// load touches each kind alike.
async fn compare_failures(client: &reqwest::Client, base: &str, rounds: usize) -> anyhow::Result<()> {
    let url = format!("{base}/api/v1/auth/login");
    let kinds = [
        ("correct password", ORGANISATION, USERNAME, PASSWORD, 200),
        ("wrong password", ORGANISATION, USERNAME, "wrong horse battery staple", 401),
        ("unknown user", ORGANISATION, "nobody-here", PASSWORD, 401),
        ("unknown organisation", "no-such-org", USERNAME, PASSWORD, 401),
    ];
    let mut latencies: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); kinds.len()];
    let give_up = Instant::now() + Duration::from_secs(120);
    for round in 0..rounds {
        if Instant::now() > give_up {
            break;
        }
        // Rotate the order each round so no kind always follows the same one.
        for offset in 0..kinds.len() {
            let index = (round + offset) % kinds.len();
            let (_, organisation, username, password, expected) = kinds[index];
            let body = login_body(organisation, username, password, 0);
            let start = Instant::now();
            let status = status_of(client.post(&url).json(&body).send().await).await;
            let elapsed = start.elapsed();
            anyhow::ensure!(status == Some(expected), "{}: expected {expected}, got {status:?}", kinds[index].0);
            latencies[index].push(elapsed);
        }
    }
    println!("\n## login outcome latency (1 client, {rounds} rounds, kinds interleaved)\n");
    println!("| login | status | n | p50 ms | p95 ms | min ms | max ms |");
    println!("|---|---|---|---|---|---|---|");
    for ((name, _, _, _, status), mut l) in kinds.into_iter().zip(latencies) {
        l.sort();
        println!(
            "| {name} | {status} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
            l.len(),
            pct(&l, 50.0),
            pct(&l, 95.0),
            pct(&l, 0.0),
            pct(&l, 100.0)
        );
    }
    Ok(())
}
