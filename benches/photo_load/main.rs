//! The photo path under load, printed as the tables of BENCHMARKS.md:
//!
//! - **upload** (`upload.rs`): camera-like 2000 × 1500 JPEGs of 300–800 KB sent as the field app
//!   sends them (`GET /api/v1/uploads/{sha256}`, then `PUT` chunks with `Upload-Offset`) to the
//!   real server (`Application::build` in this process, SQLite, port 0) by 1 and 8 concurrent
//!   uploaders, in 1 MiB and 256 KiB chunks. Baselines in the same run: the same requests with
//!   the same bytes to a bare actix server whose handler only reads the body; the chunks stored
//!   and read back with the server's own queries on a scratch database (the storage floor); and
//!   the SHA-256 check and `photos::image::process` of the same photos with no HTTP at all, on
//!   one thread and on every core (the CPU ceiling).
//! - **export** (`export.rs`): `GET /api/v1/exports/observations?format=zip` from the built
//!   binary serving as a separate process, over 1,000, 10,000 and 30,000 observations with one
//!   uploaded photo each (30,000 photos of 570 KB are about the default quota of 20 GiB),
//!   sampling the server's VmRSS from `/proc/PID/status` while it streams; the baseline is the
//!   same server's CSV export of the same rows.
//!
//! ```sh
//! cargo bench --bench photo_load                                # both parts, about 1.5 minutes
//! PHOTO_LOAD_PARTS=upload PHOTO_LOAD_PHOTOS=24 cargo bench --bench photo_load
//! PHOTO_LOAD_PARTS=export PHOTO_LOAD_EXPORT_COUNTS=1000,10000 cargo bench --bench photo_load
//! ```
//!
//! Settings (environment): `PHOTO_LOAD_PHOTOS` photos per upload phase (default 40),
//! `PHOTO_LOAD_UPLOADERS` (default `1,8`), `PHOTO_LOAD_CHUNKS` in bytes (default
//! `1048576,262144`), `PHOTO_LOAD_EXPORT_COUNTS` (default `1000,10000,30000`),
//! `PHOTO_LOAD_EXPORT_ROUNDS` (default 3: each export three times, each in a new server process).

#[path = "../common/login.rs"]
mod login;
#[allow(dead_code, reason = "the PostgreSQL settings are not read here")]
#[path = "../common/machine.rs"]
mod machine;
#[path = "../common/observations.rs"]
mod observations;
#[path = "../common/phone_photo.rs"]
mod phone_photo;
#[path = "../common/seed.rs"]
mod seed;

mod export;
mod upload;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

/// The password of every seeded user (logins are not measured: hashed at the lowest cost).
const PASSWORD: &str = "correct horse battery staple";

fn main() -> anyhow::Result<()> {
    let parts = std::env::var("PHOTO_LOAD_PARTS").unwrap_or_else(|_| "upload,export".into());
    println!("# photo load\n");
    println!("machine: {}", machine::describe());
    let memory = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    if let Some(total) = memory.lines().find(|line| line.starts_with("MemTotal:")) {
        println!("{}", total.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    for part in parts.split(',').map(str::trim) {
        match part {
            "upload" => runtime.block_on(upload::run(upload::Config::from_env()))?,
            "export" => {
                let counts = list("PHOTO_LOAD_EXPORT_COUNTS", &[1_000, 10_000, 30_000]);
                let rounds = list("PHOTO_LOAD_EXPORT_ROUNDS", &[3])[0];
                runtime.block_on(export::run(&counts, rounds))?;
            }
            other => anyhow::bail!("PHOTO_LOAD_PARTS: no part {other:?} (upload, export)"),
        }
    }
    Ok(())
}

/// A comma-separated list of numbers from the environment, or `default`.
fn list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|text| text.split(',').filter_map(|n| n.trim().parse().ok()).collect::<Vec<usize>>())
        .filter(|numbers| !numbers.is_empty())
        .unwrap_or_else(|| default.to_vec())
}

/// The camera-like photos every part starts from, made on every core: `count` different scenes.
fn phone_photos(count: usize) -> Vec<Vec<u8>> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut photos = vec![Vec::new(); count];
    std::thread::scope(|scope| {
        for (lane, slots) in photos.chunks_mut(count.div_ceil(cores).max(1)).enumerate() {
            let first = lane * count.div_ceil(cores).max(1);
            scope.spawn(move || {
                for (i, slot) in slots.iter_mut().enumerate() {
                    *slot = phone_photo::phone_jpeg(2000, 1500, (first + i) as u64);
                }
            });
        }
    });
    photos
}

/// This process's CPU time (user and system) so far, in seconds.
fn cpu_seconds() -> f64 {
    process_cpu_seconds("self")
}

/// A process's CPU time (user and system) so far, in seconds; 0 when it cannot be read.
fn process_cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) start with the state; user and
    // system time are the 12th and 13th of them, in clock ticks (100 a second on Linux).
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Percentiles of times in ms: (p50, p95).
fn percentiles(times: &mut [f64]) -> (f64, f64) {
    if times.is_empty() {
        return (0.0, 0.0);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.95))
}

/// The system allocator, counting the bytes allocated less those freed while a measurement is on
/// (`peak_heap`); otherwise one relaxed load per call, so the servers in this process run as
/// with `System`.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static NET: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

impl Counting {
    fn grew(by: isize) {
        if COUNTING.load(Ordering::Relaxed) {
            let now = NET.fetch_add(by, Ordering::Relaxed) + by;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
    }
}

// SAFETY: every call is passed on to `System` unchanged; the counters only observe it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            Self::grew(layout.size() as isize);
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            Self::grew(layout.size() as isize);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.dealloc(pointer, layout) };
        Self::grew(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            Self::grew(new_size as isize - layout.size() as isize);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most heap `work` held at once beyond what was live when it started, in bytes (whatever
/// the process's other threads allocate meanwhile is counted too: run it when they are idle).
fn peak_heap<T>(work: impl FnOnce() -> T) -> (usize, T) {
    NET.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let result = work();
    COUNTING.store(false, Ordering::Relaxed);
    (PEAK.load(Ordering::Relaxed).max(0) as usize, result)
}
