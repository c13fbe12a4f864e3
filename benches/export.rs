//! The observation export at scale: `lagesbild export observations` (the same code as
//! `GET /api/v1/exports/observations`) over N observations (default 1,000,000; set
//! `EXPORT_BENCH_ROWS`), as CSV, GeoJSON and XLSX, in a child process whose peak resident memory
//! (VmHWM) is read from /proc while it runs.
//!
//! ```sh
//! cargo bench --bench export
//! EXPORT_BENCH_ROWS=200000 EXPORT_BENCH_FORMATS=csv cargo bench --bench export
//! ```
//!
//! Baselines measured in the same run, on the same database file: the bulk insert that fills it
//! (one multi-row INSERT per 1,000 rows, 100,000 rows per transaction), and a plain read of every
//! row with `sqlite3`-level work only (`SELECT count(*), sum(length(note))`), which is the floor
//! under any export of these rows; and the export's own keyset page query reading every row into
//! its structs and writing nothing.

#[path = "common/observations.rs"]
mod observations;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use observations::{Lcg, Row};
use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let rows: usize = std::env::var("EXPORT_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let formats = std::env::var("EXPORT_BENCH_FORMATS").unwrap_or_else(|_| "csv,geojson,xlsx".into());
    let dir = tempfile::tempdir().expect("a temporary directory");
    // EXPORT_BENCH_KEEP=DIR keeps the filled database there, e.g. for a profiler.
    let data = std::env::var_os("EXPORT_BENCH_KEEP").map_or_else(|| dir.path().join("data"), std::path::PathBuf::from);
    std::fs::create_dir_all(&data).expect("the data directory");
    let binary = env!("CARGO_BIN_EXE_lagesbild");
    let run = |args: &[&str]| {
        let status = Command::new(binary)
            .env("LAGESBILD_DATA_DIR", &data)
            .env("RUST_LOG", "warn")
            .args(args)
            .status()
            .expect("the binary runs");
        assert!(status.success(), "{args:?} failed");
    };
    run(&["org", "add", "--slug", "bench", "--name", "Bench"]);
    let db = data.join("lagesbild.db");
    let mut conn = SqliteConnection::establish(db.to_str().expect("a UTF-8 path")).expect("the database");
    // The rows name a user and a device that do not exist: the export reads neither.
    conn.batch_execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF;")
        .expect("pragmas");
    let organisation: String =
        diesel::sql_query("SELECT id FROM organisations").get_result::<Id>(&mut conn).expect("the organisation").id;
    println!("# export bench\n");
    let started = Instant::now();
    insert(&mut conn, &organisation, rows);
    let insert_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    conn.batch_execute("SELECT count(*), sum(length(note)) FROM observations").expect("a scan");
    let scan_s = started.elapsed().as_secs_f64();
    drop(conn);
    // The floor under the export's own reading: every row through its keyset page query.
    let mut db = lagesbild::db::DatabaseTarget::Sqlite(db.clone()).connect().expect("the database");
    let filter = lagesbild::db::queries::reports::ObservationFilter::default();
    let started = Instant::now();
    let mut after: Option<(i64, String)> = None;
    let mut read = 0;
    loop {
        let page =
            lagesbild::db::queries::reports::observations_page(&mut db, &organisation, &filter, after.as_ref(), 5_000)
                .expect("a page");
        read += page.len();
        match page.last() {
            Some(last) if page.len() == 5_000 => after = Some((last.observed_at, last.id.clone())),
            _ => break,
        }
    }
    let read_s = started.elapsed().as_secs_f64();
    assert_eq!(read, rows);
    drop(db);
    println!("| what | rows | seconds | rows/s | peak RSS MiB | output MiB |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| baseline: bulk insert (1,000-row INSERTs, 100,000 per transaction) | {rows} | {insert_s:.2} | {:.0} | | |",
        rows as f64 / insert_s
    );
    println!(
        "| baseline: full scan, `count(*)`, `sum(length(note))` | {rows} | {scan_s:.2} | {:.0} | | |",
        rows as f64 / scan_s
    );
    println!(
        "| baseline: the export's page query alone (5,000-row keyset pages into structs), writing nothing | {rows} | {read_s:.2} | {:.0} | | |",
        rows as f64 / read_s
    );
    for format in formats.split(',') {
        let output = dir.path().join(format!("out.{format}"));
        let started = Instant::now();
        let mut child = Command::new(binary)
            .env("LAGESBILD_DATA_DIR", &data)
            .env("RUST_LOG", "warn")
            .args(["export", "observations", "--org", "bench", "--format", format, "-o"])
            .arg(&output)
            .spawn()
            .expect("the export runs");
        let status_path = format!("/proc/{}/status", child.id());
        let mut peak_kib = 0u64;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                assert!(status.success(), "the {format} export failed");
                break;
            }
            let mut text = String::new();
            if std::fs::File::open(&status_path).and_then(|mut f| f.read_to_string(&mut text)).is_ok() {
                let hwm = text
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
                peak_kib = peak_kib.max(hwm.unwrap_or(0));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let seconds = started.elapsed().as_secs_f64();
        let size = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
        println!(
            "| `export observations --format {format}` | {rows} | {seconds:.2} | {:.0} | {:.1} | {:.1} |",
            rows as f64 / seconds,
            peak_kib as f64 / 1024.0,
            size as f64 / 1_048_576.0
        );
    }
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
}

/// Fills the table with rows shaped as the server stores them: 24 months in roughly the order
/// they were synced, Tyresö positions, resolution-12 cells, notes of realistic length.
fn insert(conn: &mut SqliteConnection, organisation: &str, rows: usize) {
    const CATEGORIES: [&str; 6] = ["vandalism", "graffiti", "littering", "lighting", "youth_gathering", "positive"];
    const NOTES: [&str; 4] = [
        "Trasig belysning vid gångtunneln, mörkt på kvällen",
        "Grupp ungdomar vid centrum, lugnt",
        "Klotter på busskuren",
        "",
    ];
    let now = chrono::Utc::now().timestamp_millis();
    let mut random = Lcg::new(1);
    observations::insert(conn, rows, |n| {
        let lat = 59.20 + random.below(8_000) as f64 / 100_000.0;
        let lon = 18.15 + random.below(20_000) as f64 / 100_000.0;
        // Stored roughly in the order they happened, as phones sync them: each one is up to two
        // days late (a phone offline over a weekend).
        let span = 730 * 86_400_000i64;
        let at = now - span + (span as f64 * n as f64 / rows as f64) as i64 - (random.below(48 * 60) as i64) * 60_000;
        let cell =
            h3o::LatLng::new(lat, lon).map(|p| p.to_cell(h3o::Resolution::Twelve).to_string()).unwrap_or_default();
        Row {
            organisation,
            n,
            user: "u",
            category: CATEGORIES[random.below(6) as usize],
            severity: 1 + random.below(5) as u32,
            perceived_safety: 1 + random.below(5) as u32,
            people_count: random.below(12) as u32,
            note: NOTES[random.below(4) as usize],
            lat,
            lon,
            observed_at: at,
            area_code: format!("A{:02}", random.below(50)),
            cell,
            stored_at: at,
            seq: 1,
        }
    })
    .expect("the rows are inserted");
}
