//! The benchmark's settings, from the environment.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Batch,
    Single,
    Many,
    Paced,
    FirstSync,
    Http,
    Storage,
    Areas,
}

pub const SCENARIOS: [(&str, Scenario); 8] = [
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
pub struct Shape {
    pub devices: usize,
    pub batch: usize,
}

pub struct Config {
    pub backends: Vec<Backend>,
    pub postgres_url: String,
    pub scenarios: Vec<Scenario>,
    pub measure: Duration,
    pub warmup: Duration,
    pub max_requests: u64,
    pub batch: Shape,
    pub single: Shape,
    pub many: Shape,
    pub paced_interval: Duration,
    pub users: usize,
    pub first_sync_records: usize,
    pub first_sync_runs: usize,
    pub areas_rounds: usize,
    pub storage_measure: Duration,
    pub storage_threads: Option<Vec<usize>>,
    /// Count syscalls with `perf stat` if it works here.
    pub perf: bool,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
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

    pub fn runs(&self, scenario: Scenario) -> bool {
        self.scenarios.contains(&scenario)
    }

    /// Devices to log in: enough for every push scenario that runs.
    pub fn devices(&self) -> usize {
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

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(value) => value.trim().parse().map_err(|error| anyhow::anyhow!("{name}: {error}")),
        Err(_) => Ok(default),
    }
}

pub fn parse_list(name: &str, text: &str, range: std::ops::RangeInclusive<usize>) -> anyhow::Result<Vec<usize>> {
    let list = text
        .split(',')
        .map(|n| n.trim().parse::<usize>().with_context(|| format!("{name}: `{n}`")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(list.iter().all(|n| range.contains(n)), "{name}: each value must be in {range:?}");
    Ok(list)
}

/// `DEVICESxBATCH`, e.g. `64x100`.
pub fn shape(name: &str, default: Shape) -> anyhow::Result<Shape> {
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
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    host_port.split(':').next()
}
