//! The ZIP export's memory: the built binary serving as a separate process over organisations of
//! 1,000, 10,000 and 30,000 observations with one uploaded photo each, its VmRSS sampled from
//! `/proc/PID/status` while `GET /api/v1/exports/observations?format=zip` streams, against the
//! same server's CSV export of the same rows.

use super::login::{self, Login};
use super::observations::{self, Row};
use super::seed::{self, User};
use super::{PASSWORD, phone_photos, process_cpu_seconds};
use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use futures_util::StreamExt;
use lagesbild::db::queries::photos::{AttachmentRow, PhotoRow};
use lagesbild::db::queries::reports::ObservationFilter;
use lagesbild::db::schema::{attachments, photos};
use lagesbild::db::{DatabaseTarget, DbConnection};
use lagesbild::domain::identity::Role;
use lagesbild::domain::password::Passwords;
use lagesbild::photos::image::{PhotoLimits, process};
use lagesbild::photos::store::{self, PhotoStore, Variant};
use lagesbild::reports::Lang;
use lagesbild::reports::observations::Export;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const COORDINATOR: &str = "samordnare";
/// Distinct stored photos; the others are hard links to them (the export reads each file by its
/// own name all the same, and 30,000 photos take 5 MB of disk instead of 17 GB).
const DISTINCT: usize = 8;

/// A photo as the server stores it.
struct Stored {
    photo: Vec<u8>,
    thumbnail: Vec<u8>,
    width: u32,
    height: u32,
}

pub async fn run(counts: &[usize], rounds: usize) -> anyhow::Result<()> {
    let binary = env!("CARGO_BIN_EXE_lagesbild");
    let dir = tempfile::Builder::new().prefix("lagesbild-photo-export-").tempdir()?;
    let data = dir.path().join("data");
    let started = Instant::now();
    let pool = tokio::task::block_in_place(|| stored_photos(DISTINCT))?;
    let mut seeded = Vec::new();
    for &count in counts {
        let slug = format!("bench-{count}");
        let (organisation_id, photo_bytes) = tokio::task::block_in_place(|| seed(&data, &slug, count, &pool))?;
        seeded.push((count, slug, organisation_id, photo_bytes));
    }
    println!(
        "\n## export\n\nseeded in {:.1} s: {} organisations ({}), each observation with one photo (2000 × 1500, \
         re-encoded by `process`, {}–{} KB; {DISTINCT} distinct files, the rest hard links to them); server: `{}` \
         serve, a new process for each export, SQLite; {rounds} rounds, each over every row of the table\n",
        started.elapsed().as_secs_f64(),
        counts.len(),
        counts.iter().map(usize::to_string).collect::<Vec<_>>().join(", "),
        pool.iter().map(|p| p.photo.len()).min().unwrap_or(0) / 1000,
        pool.iter().map(|p| p.photo.len()).max().unwrap_or(0) / 1000,
        binary.rsplit('/').next().unwrap_or(binary),
    );
    let mut runs: Vec<Vec<Measured>> = (0..seeded.len() * FORMATS.len()).map(|_| Vec::new()).collect();
    for _ in 0..rounds.max(1) {
        for (i, (count, slug, _, photo_bytes)) in seeded.iter().enumerate() {
            for (j, format) in FORMATS.iter().enumerate() {
                let measured = export_once(binary, &data, slug, format).await?;
                let expected = if *format == "zip" { *count as u64 + 1 } else { *count as u64 };
                anyhow::ensure!(
                    measured.entries == expected,
                    "the {format} export of {slug} holds {} entries, not {expected}",
                    measured.entries
                );
                anyhow::ensure!(
                    *format == "csv" || measured.bytes > *photo_bytes,
                    "the ZIP of {slug} is smaller than its photos"
                );
                runs[i * FORMATS.len() + j].push(measured);
            }
        }
    }
    println!(
        "| export | observations | files (ZIP) or rows (CSV) | body MB | seconds | MB/s | idle VmRSS MiB | peak VmRSS \
         MiB | peak − idle MiB: median (min–max) | peak − idle, share of the body | heap peak in one process, into a \
         sink, MiB | ZIP central directory KB | server CPU s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mib = |kib: u64| kib as f64 / 1024.0;
    let mut hwm_gap = 0u64;
    for (i, (count, slug, organisation_id, _)) in seeded.iter().enumerate() {
        for (j, format) in FORMATS.iter().enumerate() {
            let measured = &runs[i * FORMATS.len() + j];
            let (heap, sunk) = tokio::task::block_in_place(|| export_heap(&data, organisation_id, format))?;
            // (The CSV's photo links name the server they came from, so only the ZIP is the same.)
            anyhow::ensure!(
                *format == "csv" || sunk == measured[0].bytes,
                "{slug}: the ZIP written in this process differs in size"
            );
            let median = |value: &dyn Fn(&Measured) -> f64| {
                let mut values: Vec<f64> = measured.iter().map(value).collect();
                values.sort_by(f64::total_cmp);
                (values[values.len() / 2], values[0], values[values.len() - 1])
            };
            let growth = median(&|m| mib(m.peak_kib.saturating_sub(m.idle_kib)));
            let bytes = measured[0].bytes;
            hwm_gap = measured.iter().map(|m| m.hwm_kib.abs_diff(m.peak_kib)).fold(hwm_gap, u64::max);
            let zip = *format == "zip";
            println!(
                "| {} | {count} | {} | {:.1} | {:.2} | {:.0} | {:.1} | {:.1} | {:.1} ({:.1}–{:.1}) | {} | {:.1} | {} | {:.2} |",
                if zip { "`format=zip`" } else { "baseline: `format=csv`" },
                measured[0].entries,
                bytes as f64 / 1e6,
                median(&|m| m.seconds).0,
                median(&|m| bytes as f64 / 1e6 / m.seconds).0,
                median(&|m| mib(m.idle_kib)).0,
                median(&|m| mib(m.peak_kib)).0,
                growth.0,
                growth.1,
                growth.2,
                if zip { format!("{:.3} %", growth.0 * 1_048_576.0 / bytes as f64 * 100.0) } else { "–".to_owned() },
                heap as f64 / 1_048_576.0,
                if zip { format!("{}", measured[0].directory / 1000) } else { "–".to_owned() },
                median(&|m| m.cpu).0,
            );
        }
    }
    println!(
        "\nmedians of {rounds} rounds; VmHWM (reset through clear_refs before each export) was within {:.1} MiB of \
         the sampled peak in every run",
        mib(hwm_gap)
    );
    Ok(())
}

/// The formats measured, the baseline first.
const FORMATS: [&str; 2] = ["csv", "zip"];

/// Writes one export in this process into a sink that counts its bytes; returns the most heap
/// it held at once (the rows, the photo being copied, the ZIP's directory) and the bytes.
fn export_heap(data: &Path, organisation_id: &str, format: &str) -> anyhow::Result<(usize, u64)> {
    let mut conn = DatabaseTarget::Sqlite(data.join("lagesbild.db")).connect()?;
    let labels = lagesbild::db::queries::reports::labels(&mut conn, organisation_id)?;
    let filter = ObservationFilter::default();
    let export = Export {
        organisation_id,
        filter: &filter,
        tz: chrono_tz::Europe::Stockholm,
        lang: Lang::Sv,
        labels: &labels,
        photo_base: "",
    };
    let photo_store = PhotoStore::local(data.join("photos"));
    let mut sink = Counted(0);
    let (heap, written) = super::peak_heap(|| {
        if format == "zip" {
            export.zip(&mut conn, &photo_store, &mut sink, &mut |_| {})
        } else {
            export.csv(&mut conn, false, &mut sink, &mut |_| {})
        }
    });
    written?;
    Ok((heap, sink.0))
}

/// A writer that keeps nothing and counts the bytes.
struct Counted(u64);

impl std::io::Write for Counted {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `count` photos as the server stores them: camera-like scenes through `process`.
fn stored_photos(count: usize) -> anyhow::Result<Vec<Stored>> {
    let limits = PhotoLimits { max_pixels: 50_000_000, max_edge: 2000 };
    phone_photos(count)
        .iter()
        .map(|jpeg| {
            let processed = process(jpeg, limits).map_err(|refusal| anyhow::anyhow!("{}", refusal.detail))?;
            Ok(Stored {
                photo: processed.photo,
                thumbnail: processed.thumbnail,
                width: processed.width,
                height: processed.height,
            })
        })
        .collect()
}

/// An organisation `slug` with a coordinator and `count` observations, each with an attachment
/// whose photo is stored: rows written straight into the database, files into the photo store.
/// Returns the organisation's id and the bytes of the photos, which the ZIP holds.
fn seed(data: &Path, slug: &str, count: usize, pool: &[Stored]) -> anyhow::Result<(String, u64)> {
    let target = DatabaseTarget::Sqlite(data.join("lagesbild.db"));
    let mut conn = target.connect()?;
    lagesbild::db::run_migrations(&mut conn)?;
    let organisation_id = seed::organisation(&mut conn, slug)?;
    let passwords = Passwords::new(1024, 1, 1)?;
    let coordinator = User { username: COORDINATOR, password: PASSWORD, role: Role::Coordinator, unit: None };
    let user_id = seed::user(&mut conn, &passwords, &organisation_id, coordinator)?;
    let DbConnection::Sqlite(sqlite) = &mut conn else { anyhow::bail!("the export part seeds a SQLite database") };
    // The rows name a device that does not exist; the export reads no device.
    sqlite.batch_execute("PRAGMA foreign_keys = OFF; PRAGMA synchronous = NORMAL;")?;
    let now = chrono::Utc::now().timestamp_millis();
    let span = 30 * 86_400_000i64;
    let observed_at = |n: usize| now - span + span * n as i64 / count.max(1) as i64;
    observations::insert(sqlite, count, |n| Row {
        organisation: &organisation_id,
        n,
        user: &user_id,
        category: "vandalism",
        severity: 3,
        perceived_safety: 2,
        people_count: 2,
        note: "Klotter på busskuren",
        lat: 59.244,
        lon: 18.228,
        observed_at: observed_at(n),
        area_code: String::new(),
        cell: String::new(),
        stored_at: observed_at(n),
        seq: 1,
    })?;
    // The observations' ids, as `observations::insert` makes them.
    let observation_id = |n: usize| format!("0193e000-0000-7000-8000-{n:012}");
    let hash = |n: usize| hex::encode(Sha256::digest(format!("{slug}-{n}")));
    let (mut attachment_rows, mut photo_rows) = (Vec::with_capacity(count), Vec::with_capacity(count));
    let mut photo_bytes = 0u64;
    for n in 0..count {
        let stored = &pool[n % pool.len()];
        photo_bytes += stored.photo.len() as u64;
        attachment_rows.push(AttachmentRow {
            organisation_id: organisation_id.clone(),
            id: format!("0193f000-0000-7000-8000-{n:012}"),
            observation_id: observation_id(n),
            observation_user_id: user_id.clone(),
            user_id: user_id.clone(),
            device_id: "d".into(),
            sha256: hash(n),
            content_type: "image/jpeg".into(),
            byte_size: i64::try_from(stored.photo.len())?,
            width: Some(2000),
            height: Some(1500),
            created_at: observed_at(n),
            deleted_at: None,
            created_seq: 1,
            server_seq: 1,
        });
        photo_rows.push(PhotoRow {
            organisation_id: organisation_id.clone(),
            sha256: hash(n),
            byte_size: i64::try_from(stored.photo.len())?,
            thumbnail_size: i64::try_from(stored.thumbnail.len())?,
            width: i32::try_from(stored.width)?,
            height: i32::try_from(stored.height)?,
            uploaded_by: user_id.clone(),
            uploaded_at: observed_at(n),
        });
    }
    sqlite.transaction(|sqlite| -> QueryResult<()> {
        for rows in attachment_rows.chunks(500) {
            diesel::insert_into(attachments::table).values(rows).execute(sqlite)?;
        }
        for rows in photo_rows.chunks(500) {
            diesel::insert_into(photos::table).values(rows).execute(sqlite)?;
        }
        Ok(())
    })?;
    // The files: the first of each distinct photo through the store, the rest linked to it.
    let root = data.join("photos");
    let photo_store = PhotoStore::local(&root);
    for n in 0..count {
        for variant in [Variant::Photo, Variant::Thumbnail] {
            let key = store::key(&organisation_id, &hash(n), variant);
            if n < pool.len() {
                let stored = &pool[n];
                let bytes = if variant == Variant::Photo { &stored.photo } else { &stored.thumbnail };
                photo_store.put(&key, bytes.clone())?;
            } else {
                let original = root.join(store::key(&organisation_id, &hash(n % pool.len()), variant));
                let link = root.join(&key);
                std::fs::create_dir_all(link.parent().context("a key names a folder")?)?;
                std::fs::hard_link(original, link)?;
            }
        }
    }
    Ok((organisation_id, photo_bytes))
}

/// What one export measured.
struct Measured {
    bytes: u64,
    seconds: f64,
    /// Files in the ZIP (from its end record), or lines after the header in the CSV.
    entries: u64,
    /// The bytes of the ZIP's central directory, which the writer holds until its end.
    directory: u64,
    idle_kib: u64,
    peak_kib: u64,
    hwm_kib: u64,
    /// The server's CPU time during the export, in seconds.
    cpu: f64,
}

/// Starts a server, logs in, waits for it to settle, then streams one export while sampling the
/// server's memory; stops the server.
async fn export_once(binary: &str, data: &Path, slug: &str, format: &str) -> anyhow::Result<Measured> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let log = std::fs::File::create(data.join(format!("server-{slug}-{format}.log")))?;
    let mut child = Server(
        Command::new(binary)
            .arg("serve")
            .env("LAGESBILD_DATA_DIR", data)
            .env("LAGESBILD_LISTEN", format!("127.0.0.1:{port}"))
            .env("LAGESBILD_LOGIN_ATTEMPTS_PER_ACCOUNT", "1000")
            .env("LAGESBILD_LOGIN_ATTEMPTS_PER_ADDRESS", "1000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("the server starts")?,
    );
    let pid = child.0.id();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = client.get(format!("{base}/healthz")).send().await
            && response.status() == 200
        {
            break;
        }
        anyhow::ensure!(child.0.try_wait()?.is_none(), "the server exited; see its log in {}", data.display());
        anyhow::ensure!(Instant::now() < deadline, "the server did not answer /healthz within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let coordinator =
        Login { organisation: slug, username: COORDINATOR, password: PASSWORD, device_id: "bench-browser" };
    let token = login::access_token(&client, &base, coordinator).await?;
    // The start's own work (migrations checked, picture indexes, the first housekeeping with its
    // photo sweep) is over after a few seconds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle_kib = status_kib(pid, "VmRSS:").context("the server's VmRSS")?;
    // The peak from here on: writing 5 to clear_refs resets VmHWM to the current RSS.
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    let peak = Arc::new(AtomicU64::new(idle_kib));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Some(rss) = status_kib(pid, "VmRSS:") {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let cpu = process_cpu_seconds(&pid.to_string());
    let started = Instant::now();
    let response =
        client.get(format!("{base}/api/v1/exports/observations?format={format}")).bearer_auth(&token).send().await?;
    anyhow::ensure!(response.status() == 200, "{format} export: {}", response.status());
    let mut body = response.bytes_stream();
    let (mut bytes, mut newlines) = (0u64, 0u64);
    // The end of the ZIP holds its central directory: kept to count the files.
    let mut tail: Vec<u8> = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        bytes += chunk.len() as u64;
        if format == "zip" {
            tail.extend_from_slice(&chunk);
            if tail.len() > 16 << 20 {
                tail.drain(..tail.len() - (8 << 20));
            }
        } else {
            newlines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds(&pid.to_string()) - cpu;
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let hwm_kib = status_kib(pid, "VmHWM:").unwrap_or(0);
    let (entries, directory) =
        if format == "zip" { zip_directory(&tail).context("no end record in the ZIP")? } else { (newlines - 1, 0) };
    Ok(Measured { bytes, seconds, entries, directory, idle_kib, peak_kib: peak.load(Ordering::Relaxed), hwm_kib, cpu })
}

/// A server process, killed when dropped (also when the bench fails half-way).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A field of `/proc/PID/status` in KiB.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| line.strip_prefix(field))?.trim().trim_end_matches("kB").trim().parse().ok()
}

/// The number of files a ZIP says it holds and the size of its central directory, from its end
/// of central directory record (the ZIP64 one where the classic record says "see ZIP64").
fn zip_directory(tail: &[u8]) -> Option<(u64, u64)> {
    let find_last = |signature: [u8; 4]| tail.windows(4).rposition(|window| window == signature);
    let end = find_last([0x50, 0x4B, 0x05, 0x06])?;
    let entries = u16::from_le_bytes(tail.get(end + 10..end + 12)?.try_into().ok()?);
    let size = u32::from_le_bytes(tail.get(end + 12..end + 16)?.try_into().ok()?);
    if entries != u16::MAX && size != u32::MAX {
        return Some((u64::from(entries), u64::from(size)));
    }
    let end64 = find_last([0x50, 0x4B, 0x06, 0x06])?;
    let field = |at: usize| Some(u64::from_le_bytes(tail.get(end64 + at..end64 + at + 8)?.try_into().ok()?));
    Some((field(32)?, field(40)?))
}
