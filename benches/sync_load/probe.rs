//! Statistics and where the CPU went: this process's threads by kind, PostgreSQL's processes, the machine, and syscall counts from `perf stat`.

use super::*;

/// Nearest-rank percentile of sorted durations, in milliseconds.
pub fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

pub fn median_u64(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

/// A tiny deterministic generator (splitmix64), so record contents need no extra dependency.
pub fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub fn below(state: &mut u64, n: u64) -> u64 {
    next_random(state) % n.max(1)
}

// ---------------------------------------------------------------------------------------------
// CPU accounting
// ---------------------------------------------------------------------------------------------

/// CPU time so far, by kind of thread of this process, of PostgreSQL, and of the whole machine.
pub struct CpuSnapshot {
    pub at: Instant,
    /// Ticks by thread kind (threads that exited since are missing; see `process`).
    pub groups: BTreeMap<&'static str, u64>,
    /// Ticks of the whole process, exited threads included.
    pub process: u64,
    pub postgres: u64,
    /// The `cpu` line of /proc/stat: user nice system idle iowait irq softirq steal.
    pub machine: [u64; 8],
}

/// CPU used during one phase, in cores (1.0 = one core busy for the whole phase).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    pub server_http: f64,
    pub server_db: f64,
    pub client: f64,
    pub storage: f64,
    pub other_in_process: f64,
    pub postgres: f64,
    pub machine_busy: f64,
    pub machine_iowait: f64,
    /// Busy cores not accounted to this process or PostgreSQL: other tenants of the machine.
    pub outside: f64,
    pub cores: f64,
}

pub fn thread_kind(comm: &str) -> &'static str {
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
pub fn stat_ticks(stat: &str) -> Option<u64> {
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

pub fn cpu_snapshot() -> CpuSnapshot {
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

pub fn cpu_use(before: &CpuSnapshot, after: &CpuSnapshot) -> CpuUse {
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
pub struct Syscalls {
    /// nanosleep + clock_nanosleep in this process: SQLite's busy handler sleeps this way while it
    /// waits for the write lock (nothing else in the process sleeps by syscall while loaded).
    pub sleeps: Option<u64>,
    /// fsync + fdatasync in this process (SQLite's commits and checkpoints).
    pub fsyncs: Option<u64>,
    /// fsync + fdatasync in the PostgreSQL server processes.
    pub postgres_fsyncs: Option<u64>,
}

/// What a probe measured around one phase.
pub struct Measured {
    pub cpu: CpuUse,
    pub syscalls: Option<Syscalls>,
}

/// CPU snapshots and, when `perf` is usable, `perf stat` children counting syscalls for the
/// phase's duration (`perf stat -p PID -- sleep SECONDS`: they end by themselves).
pub struct Probe {
    pub before: CpuSnapshot,
    pub perf: Vec<(bool, std::process::Child)>,
}

pub const SLEEP_EVENTS: &str = "syscalls:sys_enter_nanosleep,syscalls:sys_enter_clock_nanosleep";
pub const FSYNC_EVENTS: &str = "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync";

pub fn perf_stat(pids: &str, events: &str, seconds: f64) -> Option<std::process::Child> {
    std::process::Command::new("perf")
        .args(["stat", "-x", ",", "-e", events, "-p", pids, "--", "sleep", &format!("{seconds:.3}")])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()
}

/// Whether `perf stat` can count syscall tracepoints here.
pub fn perf_usable() -> bool {
    let Some(child) = perf_stat(&std::process::id().to_string(), FSYNC_EVENTS, 0.05) else { return false };
    child.wait_with_output().is_ok_and(|output| {
        output.status.success() && String::from_utf8_lossy(&output.stderr).contains("sys_enter_fsync")
    })
}

pub fn postgres_pids() -> Vec<String> {
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
    pub fn start(duration: Duration, perf: bool, backend: Backend) -> Self {
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
    pub fn finish(self, sample: &Sample) -> Measured {
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
