//! The picture end to end: the real server in this process (`Application::build` on 127.0.0.1,
//! port 0) over a SQLite database holding N observations of one organisation (default
//! 1,000,000; set `PICTURE_HTTP_ROWS`), asked over HTTP by a logged-in coordinator.
//!
//! ```sh
//! cargo bench --bench picture_http
//! PICTURE_HTTP_ROWS=200000 PICTURE_HTTP_REQUESTS=50 cargo bench --bench picture_http
//! ```
//!
//! The rows are shaped like the real ones: 24 months up to now, in roughly the order phones sync
//! them, positions inside the demo organisation's areas over Tyresö (`lagesbild::demo::places`,
//! imported as the municipality and seven areas inside it) with their resolution-12 cells and the
//! area the server would give them, the seeded categories, severities and perceived safety, and
//! reporters in several units. They go in by bulk INSERT (1,000 rows per statement, 100,000 per
//! transaction), which is timed as the storage baseline.
//!
//! The first picture request builds the organisation's in-memory index from the database and is
//! reported on its own (a cold start). Then each endpoint is asked `PICTURE_HTTP_REQUESTS` times
//! (default 200) one after the other over one keep-alive connection, with `GET /healthz` as the
//! bare HTTP baseline of the same run. VmRSS and VmHWM are this process's (server and client),
//! read before the index is built and after.

#[path = "common/login.rs"]
mod login;
#[path = "common/observations.rs"]
mod observations;
#[path = "common/seed.rs"]
mod seed;

use anyhow::Context;
use chrono::Datelike;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use lagesbild::config::Settings;
use lagesbild::db::DatabaseTarget;
use lagesbild::demo::places;
use lagesbild::domain::geo::cell_for;
use lagesbild::domain::identity::Role;
use lagesbild::domain::password::Passwords;
use lagesbild::startup::Application;
use login::Login;
use observations::{Lcg, Row};
use seed::User;
use serde_json::Value;
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery staple";
const SLUG: &str = "bench";
const COORDINATOR: &str = "samordnare";
/// Reporters per unit; their unit is what the picture's unit filter and table use.
const UNITS: [&str; 4] = ["falt", "vaktare", "fritid", "polisen"];
/// The area whose own picture is asked for.
const AREA: &str = "GRR";

fn main() -> anyhow::Result<()> {
    let rows: usize = std::env::var("PICTURE_HTTP_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let requests: usize = std::env::var("PICTURE_HTTP_REQUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(rows, requests.max(1)))
}

async fn run(rows: usize, requests: usize) -> anyhow::Result<()> {
    let data_dir = tempfile::Builder::new().prefix("lagesbild-picture-http-").tempdir()?;
    let settings = Settings {
        listen: "127.0.0.1:0".parse()?,
        data_dir: data_dir.path().to_owned(),
        // Logins are not measured.
        argon2_memory_kib: 1024,
        argon2_iterations: 1,
        argon2_parallelism: 1,
        ..Settings::default()
    };
    let target = DatabaseTarget::from_settings(&settings)?;
    // Builds the database (migrations) and binds; the picture index is built on first use.
    let application = Application::build(settings)?;
    let base = format!("http://127.0.0.1:{}", application.port());
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let server = tokio::spawn(application.run_until_stopped());

    let seeded = tokio::task::block_in_place(|| seed(&target))?;
    let started = Instant::now();
    tokio::task::block_in_place(|| fill(&target, &seeded, rows))?;
    let fill_s = started.elapsed().as_secs_f64();

    let client = reqwest::Client::builder().pool_max_idle_per_host(1).build()?;
    let token = login(&client, &base).await?;
    let tertial = last_complete_tertial();
    let now = chrono::Utc::now();
    let year_ago = now - chrono::Duration::days(365);
    let endpoints = [
        ("`GET /healthz` (baseline)".to_owned(), "/healthz".to_owned()),
        (
            "`GET /api/v1/heatmap`, resolution 9, last 12 months (`from`/`to`)".to_owned(),
            format!(
                "/api/v1/heatmap?resolution=9&from={}&to={}",
                year_ago.format("%Y-%m-%dT%H:%M:%SZ"),
                now.format("%Y-%m-%dT%H:%M:%SZ")
            ),
        ),
        (
            format!("`GET /api/v1/heatmap`, resolution 7, {tertial}, 2 categories, 18–24, after dark"),
            format!(
                "/api/v1/heatmap?resolution=7&period={tertial}&category=vandalism,youth_gathering&hours=18-24&after_dark=true"
            ),
        ),
        (format!("`GET /api/v1/picture`, {tertial} (area table)"), format!("/api/v1/picture?period={tertial}")),
        (
            format!("`GET /api/v1/areas/{AREA}/picture`, {tertial}"),
            format!("/api/v1/areas/{AREA}/picture?period={tertial}"),
        ),
    ];

    let before = memory();
    // The cold start: the first picture request reads every row into the index.
    let (cold_ms, cold_body) = get(&client, &base, &token, &endpoints[3].1).await?;
    let after = memory();

    let mut table = Vec::new();
    for (name, path) in &endpoints {
        // A few requests first, so that no connection set-up or first-touch is measured.
        for _ in 0..5 {
            get(&client, &base, &token, path).await?;
        }
        let mut times = Vec::with_capacity(requests);
        let mut body = Vec::new();
        for _ in 0..requests {
            let (ms, answer) = get(&client, &base, &token, path).await?;
            times.push(ms);
            body = answer;
        }
        times.sort_by(f64::total_cmp);
        // The heat maps say how many observations they counted, which shows the rows are there.
        let total = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["total"].as_u64());
        table.push((name, times, body.len(), total));
    }
    let peak = memory();
    server.abort();
    let _ = server.await;

    println!("# picture over HTTP\n");
    println!(
        "{rows} observations, SQLite, server in this process with {workers} workers, one client, {requests} \
         sequential requests per row after 5 unmeasured\n"
    );
    println!("| what | requests | p50 ms | p95 ms | p99 ms | max ms | body bytes | observations counted |");
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| storage baseline: bulk insert of {rows} rows (1,000-row INSERTs, 100,000 per transaction) | | | | | {:.0} s, {:.0} rows/s | | |",
        fill_s,
        rows as f64 / fill_s
    );
    println!(
        "| cold start: first `GET /api/v1/picture` (builds the index from the database) | 1 | {cold_ms:.0} | | | | {} | |",
        cold_body.len()
    );
    for (name, times, bytes, total) in &table {
        let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
        println!(
            "| {name} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {bytes} | {} |",
            times.len(),
            at(0.5),
            at(0.95),
            at(0.99),
            at(1.0),
            total.map_or_else(String::new, |t| t.to_string())
        );
    }
    let mib = |kib: Option<u64>| kib.map_or_else(|| "?".to_owned(), |k| format!("{:.0}", k as f64 / 1024.0));
    println!(
        "\nprocess memory (server and client, MiB): before the index VmRSS {} VmHWM {}; after it is built VmRSS {} \
         VmHWM {}; after every request VmRSS {} VmHWM {}",
        mib(before.0),
        mib(before.1),
        mib(after.0),
        mib(after.1),
        mib(peak.0),
        mib(peak.1)
    );
    Ok(())
}

/// Time of one request in ms and its body; anything but 200 is an error.
async fn get(client: &reqwest::Client, base: &str, token: &str, path: &str) -> anyhow::Result<(f64, Vec<u8>)> {
    let started = Instant::now();
    let response = client.get(format!("{base}{path}")).bearer_auth(token).send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    anyhow::ensure!(status == 200, "{path}: {status} {}", String::from_utf8_lossy(&body));
    Ok((ms, body.to_vec()))
}

async fn login(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let coordinator =
        Login { organisation: SLUG, username: COORDINATOR, password: PASSWORD, device_id: "bench-browser" };
    login::access_token(client, base, coordinator).await
}

/// The newest tertial that has ended, e.g. `2026-T2` in December 2026.
fn last_complete_tertial() -> String {
    let today = chrono::Utc::now().date_naive();
    let current = (today.month0() / 4) as i32;
    let (year, tertial) = if current == 0 { (today.year() - 1, 3) } else { (today.year(), current) };
    format!("{year}-T{tertial}")
}

/// VmRSS and VmHWM of this process in KiB.
fn memory() -> (Option<u64>, Option<u64>) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    (field("VmRSS:"), field("VmHWM:"))
}

struct Seeded {
    organisation_id: String,
    /// Reporters' user ids, spread over the units.
    reporters: Vec<String>,
    categories: Vec<String>,
}

/// The organisation (with its seeded reference data), its units, a coordinator, reporters, and
/// the demo areas: the municipality and seven areas inside it.
fn seed(target: &DatabaseTarget) -> anyhow::Result<Seeded> {
    let mut conn = target.connect()?;
    let organisation_id = seed::organisation(&mut conn, SLUG)?;
    for unit in UNITS {
        seed::unit(&mut conn, &organisation_id, unit, unit)?;
    }
    let passwords = Passwords::new(1024, 1, 1)?;
    let mut create = |username: &str, role: Role, unit: Option<&str>| {
        seed::user(&mut conn, &passwords, &organisation_id, User { username, password: PASSWORD, role, unit })
    };
    create(COORDINATOR, Role::Coordinator, None)?;
    let mut reporters = Vec::new();
    for (i, unit) in UNITS.iter().cycle().take(3 * UNITS.len()).enumerate() {
        reporters.push(create(&format!("falt-{i:02}"), Role::Field, Some(unit))?);
    }
    let lease = lagesbild::db::queries::area_jobs::Lease::for_this_process(Duration::from_secs(300));
    let (_, job) = lagesbild::db::queries::areas::import_collection(
        &mut conn,
        &organisation_id,
        &places::feature_collection(),
        &lease,
    )
    .map_err(|error| anyhow::anyhow!("the areas cannot be imported: {error}"))?;
    if let Some(job) = job {
        lagesbild::db::queries::area_jobs::run_to_end(&mut conn, job, &lease)?;
    }
    #[derive(QueryableByName)]
    struct Text {
        #[diesel(sql_type = diesel::sql_types::Text)]
        text: String,
    }
    let categories: Vec<String> =
        diesel::sql_query("SELECT slug AS text FROM categories WHERE organisation_id = ? ORDER BY sort_order")
            .bind::<diesel::sql_types::Text, _>(&organisation_id)
            .load::<Text>(&mut conn)?
            .into_iter()
            .map(|row| row.text)
            .collect();
    anyhow::ensure!(!categories.is_empty(), "the organisation has no categories");
    Ok(Seeded { organisation_id, reporters, categories })
}

/// Fills the table with rows as the server stores them, each with its own sequence number after
/// the seeding's, and moves the committed sequence past them so the picture's catch-up reads
/// them all.
fn fill(target: &DatabaseTarget, seeded: &Seeded, rows: usize) -> anyhow::Result<()> {
    let path = match target {
        DatabaseTarget::Sqlite(path) => path.clone(),
        DatabaseTarget::Postgres(_) => anyhow::bail!("this bench fills a SQLite database"),
    };
    let mut conn = SqliteConnection::establish(path.to_str().context("a UTF-8 path")?)?;
    conn.batch_execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000;")?;
    #[derive(QueryableByName)]
    struct Seq {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        seq: i64,
    }
    let first_seq = diesel::sql_query("SELECT seq FROM sync_state WHERE id = 1").get_result::<Seq>(&mut conn)?.seq + 1;
    // Where the records fall, as the demo weighs its areas; one in ten is elsewhere in the
    // municipality, outside every smaller area.
    let weights: Vec<f64> = places::AREAS.iter().map(|a| a.weight).collect();
    let total: f64 = weights.iter().sum::<f64>() / 0.9;
    let (municipality, _, [min_lat, min_lon, max_lat, max_lon]) = places::MUNICIPALITY;
    let mut random = Lcg::new(1);
    let now = chrono::Utc::now().timestamp_millis();
    let span = 730 * 86_400_000i64;
    let organisation = &seeded.organisation_id;
    observations::insert(&mut conn, rows, |n| {
        let mut pick = random.unit() * total;
        let area = places::AREAS.iter().find(|area| {
            pick -= area.weight;
            pick < 0.0
        });
        let (lat, lon, code) = match area {
            Some(area) => {
                let (lat, lon) = area.point(random.unit(), random.unit());
                (lat, lon, area.code)
            }
            None => loop {
                let lat = min_lat + random.unit() * (max_lat - min_lat);
                let lon = min_lon + random.unit() * (max_lon - min_lon);
                // The areas' bounding boxes hold their octagons: outside every box is outside
                // every area.
                let inside = places::AREAS
                    .iter()
                    .any(|a| (lat - a.lat).abs() <= a.radius_lat && (lon - a.lon).abs() <= a.radius_lon);
                if !inside {
                    break (lat, lon, municipality);
                }
            },
        };
        // In sync order, each up to two days late; half of them in the evening.
        let day_start = now - span + (span as f64 * n as f64 / rows as f64) as i64;
        let day_start = day_start - day_start.rem_euclid(86_400_000);
        let minute = if random.unit() < 0.5 {
            18 * 60 + (random.unit() * 360.0) as i64
        } else {
            (random.unit() * 1440.0) as i64
        };
        let at = (day_start + minute * 60_000).min(now);
        let synced = at + (random.unit() * 2.0 * 86_400_000.0) as i64;
        let categories = &seeded.categories;
        let category = &categories[(random.unit() * categories.len() as f64) as usize % categories.len()];
        Row {
            organisation,
            n,
            user: &seeded.reporters[n % seeded.reporters.len()],
            category,
            severity: 1 + (random.unit() * 5.0) as u32 % 5,
            perceived_safety: 1 + (random.unit() * 5.0) as u32 % 5,
            people_count: (random.unit() * 12.0) as u32,
            note: "",
            lat,
            lon,
            observed_at: at,
            area_code: code.to_owned(),
            cell: cell_for(lat, lon).unwrap_or_default(),
            stored_at: synced,
            seq: first_seq + n as i64,
        }
    })
    .context("the rows are inserted")?;
    let last_seq = first_seq + rows as i64 - 1;
    conn.batch_execute(&format!("UPDATE sync_state SET seq = max(seq, {last_seq}) WHERE id = 1"))?;
    Ok(())
}
