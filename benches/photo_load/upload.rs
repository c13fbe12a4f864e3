//! Upload throughput: the real server against a bare actix server, the storage floor and the
//! CPU ceiling, all over the same photo bytes in one run.

use super::login::{self, Login};
use super::seed::{self, User};
use super::{PASSWORD, cpu_seconds, percentiles, phone_photo, phone_photos};
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{App, HttpResponse, HttpServer};
use futures_util::StreamExt;
use lagesbild::config::Settings;
use lagesbild::db::DatabaseTarget;
use lagesbild::db::queries::photos as stored;
use lagesbild::domain::identity::Role;
use lagesbild::domain::password::Passwords;
use lagesbild::photos::image::{PhotoLimits, process};
use lagesbild::startup::Application;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Instant;

const SLUG: &str = "bench";
/// Different scenes the phases' photos are made from (each upload gets its own bytes).
const SCENES: usize = 16;

/// What the upload part runs.
pub struct Config {
    /// Photos per phase, dealt round robin to the uploaders.
    photos: usize,
    uploaders: Vec<usize>,
    chunks: Vec<usize>,
}

impl Config {
    pub fn from_env() -> Self {
        let photos = std::env::var("PHOTO_LOAD_PHOTOS").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
        Self {
            photos: usize::max(photos, 1),
            uploaders: super::list("PHOTO_LOAD_UPLOADERS", &[1, 8]),
            chunks: super::list("PHOTO_LOAD_CHUNKS", &[1_048_576, 262_144]),
        }
    }
}

/// One photo as a phone holds it.
#[derive(Clone)]
struct Photo {
    sha256: String,
    bytes: Bytes,
}

impl Photo {
    fn new(bytes: Vec<u8>) -> Self {
        Self { sha256: hex::encode(Sha256::digest(&bytes)), bytes: Bytes::from(bytes) }
    }
}

/// What one phase of uploads measured.
struct Outcome {
    seconds: f64,
    photos: usize,
    bytes: usize,
    requests: usize,
    /// Each photo's time in ms (over HTTP: from its status request to the answer to its last chunk).
    latencies: Vec<f64>,
    errors: usize,
    first_error: Option<String>,
    /// CPU time this process (server and client) used, in seconds.
    cpu: f64,
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    let data_dir = tempfile::Builder::new().prefix("lagesbild-photo-load-").tempdir()?;
    let settings = Settings {
        listen: "127.0.0.1:0".parse()?,
        data_dir: data_dir.path().to_owned(),
        // Logins are not measured, and the run outlasts no token.
        argon2_memory_kib: 1024,
        argon2_iterations: 1,
        argon2_parallelism: 1,
        access_token_ttl_secs: 3600,
        ..Settings::default()
    };
    let target = DatabaseTarget::from_settings(&settings)?;
    let limits = PhotoLimits { max_pixels: settings.photo_max_pixels, max_edge: settings.photo_max_edge };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let workers = settings.workers.unwrap_or(cores);
    let largest_chunk = config.chunks.iter().copied().max().unwrap_or(0);
    anyhow::ensure!(
        largest_chunk <= settings.photo_chunk_bytes,
        "chunks of {largest_chunk} bytes are larger than the server takes ({})",
        settings.photo_chunk_bytes
    );
    let application = Application::build(settings)?;
    let real = format!("http://127.0.0.1:{}", application.port());
    let server = tokio::spawn(application.run_until_stopped());
    let (bare, bare_server) = bare_server(workers, largest_chunk)?;
    let bare_handle = bare_server.handle();
    let bare_task = tokio::spawn(bare_server);

    let most = config.uploaders.iter().copied().max().unwrap_or(1);
    tokio::task::block_in_place(|| seed_users(&target, most))?;
    let client = reqwest::Client::builder().build()?;
    let mut tokens = Vec::new();
    for i in 0..most {
        let username = format!("falt-{i}");
        let device_id = format!("bench-phone-{i}");
        let phone = Login { organisation: SLUG, username: &username, password: PASSWORD, device_id: &device_id };
        tokens.push(login::access_token(&client, &real, phone).await?);
    }
    let started = Instant::now();
    let scenes = tokio::task::block_in_place(|| phone_photos(SCENES));
    let sizes: Vec<usize> = scenes.iter().map(Vec::len).collect();
    println!(
        "\n## upload\n\n{SCENES} scenes, 2000 × 1500, {}–{} KB (mean {} KB), made in {:.1} s; {} photos per phase, each \
         its own bytes (a scene with a comment naming it); real server: SQLite, {workers} workers, in this process; \
         bare server: actix, {workers} workers, a handler that reads the body and answers its length\n\n",
        sizes.iter().min().unwrap_or(&0) / 1000,
        sizes.iter().max().unwrap_or(&0) / 1000,
        sizes.iter().sum::<usize>() / sizes.len().max(1) / 1000,
        started.elapsed().as_secs_f64(),
        config.photos,
    );

    let mut serial = 0u64;
    let mut phases = Vec::new();
    for &chunk in &config.chunks {
        for &uploaders in &config.uploaders {
            let photos: Vec<Photo> = (0..config.photos)
                .map(|i| {
                    serial += 1;
                    Photo::new(phone_photo::variant(&scenes[i % SCENES], serial))
                })
                .collect();
            phases.push((chunk, uploaders, photos));
        }
    }

    let scratch = tempfile::Builder::new().prefix("lagesbild-photo-chunks-").tempdir()?;
    let rig = Rig {
        client,
        real,
        bare,
        tokens,
        scratch: DatabaseTarget::Sqlite(scratch.path().join("scratch.db")),
        limits,
        cores,
    };
    println!(
        "| what | chunk KiB | uploaders | photos | seconds | photos/s | MB/s | relative to bare | relative to the CPU \
         ceiling | p50 ms per photo | p95 ms | requests | cores busy (of {cores}) | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (chunk, uploaders, photos) in &phases {
        rig.phase(*chunk, *uploaders, photos).await?;
    }

    bare_handle.stop(true).await;
    let _ = bare_task.await;
    server.abort();
    let _ = server.await;
    Ok(())
}

/// What every phase runs against.
struct Rig {
    client: reqwest::Client,
    /// The real server's base URL, and the bare one's.
    real: String,
    bare: String,
    /// One access token per uploading phone.
    tokens: Vec<String>,
    /// The scratch database of the storage floor.
    scratch: DatabaseTarget,
    limits: PhotoLimits,
    cores: usize,
}

impl Rig {
    /// One phase: its baselines without HTTP over its photos, then the uploads to the real
    /// server, then the same requests to the bare one; prints its four rows.
    async fn phase(&self, chunk: usize, uploaders: usize, photos: &[Photo]) -> anyhow::Result<()> {
        let Rig { client, real, bare, tokens, cores, .. } = self;
        let threads = uploaders.clamp(1, *cores);
        let ceiling = tokio::task::block_in_place(|| process_all(photos, self.limits, threads))?;
        let storage = tokio::task::block_in_place(|| store_chunks(&self.scratch, photos, chunk))?;
        let dealt = deal(photos, uploaders);
        for (lane, phone_photos) in dealt.iter().enumerate() {
            push_attachments(client, real, &tokens[lane], phone_photos).await?;
        }
        let measured = upload_all(client, real, tokens, &dealt, chunk, 201).await;
        // The same requests with the same bytes to the bare server, repeated for at least a
        // second so that its short phase is not one scheduler hiccup.
        let mut baseline = upload_all(client, bare, tokens, &dealt, chunk, 200).await;
        while baseline.seconds < 1.0 {
            let again = upload_all(client, bare, tokens, &dealt, chunk, 200).await;
            baseline = baseline.merge(again);
        }
        let ratio = |of: &Outcome, to: &Outcome| {
            let ratio = of.photos_per_second() / to.photos_per_second();
            if ratio < 0.1 { format!("{ratio:.4}×") } else { format!("{ratio:.2}×") }
        };
        let (to_bare, to_ceiling) = (ratio(&measured, &baseline), ratio(&measured, &ceiling));
        let (one, none) = ("1.00×".to_owned(), String::new());
        let row = |what: &str, outcome: &Outcome, relative: [String; 2]| {
            row(what, chunk, uploaders, outcome, relative, *cores);
        };
        row("**real server**", &measured, [to_bare, to_ceiling]);
        row("baseline: bare actix handler, reads the body", &baseline, [one.clone(), none.clone()]);
        let plural = if threads == 1 { "" } else { "s" };
        row(
            &format!(
                "baseline, CPU ceiling: SHA-256 and `photos::image::process` of the same photos on {threads} \
                 thread{plural}, no HTTP, no storage"
            ),
            &ceiling,
            [none.clone(), one],
        );
        row(
            "baseline, storage floor: the same chunks inserted (`add_chunk`, one commit each, synchronous=FULL), read \
             back (`assembled`) and dropped, one connection",
            &storage,
            [none.clone(), none],
        );
        Ok(())
    }
}

/// A row of the table; `relative`: to the bare server and to the CPU ceiling, where they apply.
fn row(what: &str, chunk: usize, uploaders: usize, outcome: &Outcome, relative: [String; 2], cores: usize) {
    let mut latencies = outcome.latencies.clone();
    let (p50, p95) = percentiles(&mut latencies);
    let [to_bare, to_ceiling] = relative;
    println!(
        "| {what} | {} | {uploaders} | {} | {:.2} | {:.1} | {:.1} | {to_bare} | {to_ceiling} | {p50:.1} | {p95:.1} | {} \
         | {} | {}{} |",
        chunk / 1024,
        outcome.photos,
        outcome.seconds,
        outcome.photos_per_second(),
        outcome.bytes as f64 / 1e6 / outcome.seconds,
        outcome.requests,
        // CPU time is counted in 10 ms ticks: too coarse for a shorter phase.
        if outcome.seconds < 0.5 {
            "–".to_owned()
        } else {
            format!("{:.2}", (outcome.cpu / outcome.seconds).min(cores as f64))
        },
        outcome.errors,
        outcome.first_error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default(),
    );
}

impl Outcome {
    fn empty() -> Self {
        Self {
            seconds: 0.0,
            photos: 0,
            bytes: 0,
            requests: 0,
            latencies: Vec::new(),
            errors: 0,
            first_error: None,
            cpu: 0.0,
        }
    }

    /// Work on `photos` done without HTTP since `started`, `cpu` the process's CPU time then.
    fn without_http(photos: &[Photo], started: Instant, cpu: f64, times: Vec<f64>) -> Self {
        Self {
            seconds: started.elapsed().as_secs_f64(),
            photos: photos.len(),
            bytes: photos.iter().map(|p| p.bytes.len()).sum(),
            latencies: times,
            cpu: cpu_seconds() - cpu,
            ..Self::empty()
        }
    }

    fn photos_per_second(&self) -> f64 {
        self.photos as f64 / self.seconds
    }

    fn merge(mut self, other: Outcome) -> Outcome {
        self.seconds += other.seconds;
        self.photos += other.photos;
        self.bytes += other.bytes;
        self.requests += other.requests;
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.first_error = self.first_error.or(other.first_error);
        self.cpu += other.cpu;
        self
    }
}

/// Photos dealt round robin to `uploaders` phones.
fn deal(photos: &[Photo], uploaders: usize) -> Vec<Vec<Photo>> {
    let mut dealt = vec![Vec::new(); uploaders.max(1)];
    for (i, photo) in photos.iter().enumerate() {
        dealt[i % uploaders.max(1)].push(photo.clone());
    }
    dealt
}

/// The organisation and `count` field users (`falt-0`, …), one per uploading phone.
fn seed_users(target: &DatabaseTarget, count: usize) -> anyhow::Result<()> {
    let mut conn = target.connect()?;
    let organisation_id = seed::organisation(&mut conn, SLUG)?;
    seed::unit(&mut conn, &organisation_id, "falt", "Fältassistenter")?;
    let passwords = Passwords::new(1024, 1, 1)?;
    for i in 0..count {
        let user = User { username: &format!("falt-{i}"), password: PASSWORD, role: Role::Field, unit: Some("falt") };
        seed::user(&mut conn, &passwords, &organisation_id, user)?;
    }
    Ok(())
}

/// What a phone pushes before it uploads: an observation per photo and the photo's attachment,
/// in one push (not measured).
async fn push_attachments(client: &reqwest::Client, base: &str, token: &str, photos: &[Photo]) -> anyhow::Result<()> {
    if photos.is_empty() {
        return Ok(());
    }
    let now = chrono::Utc::now().timestamp_millis();
    let (mut observations, mut attachments) = (Vec::new(), Vec::new());
    for photo in photos {
        let observation_id = uuid::Uuid::now_v7().to_string();
        observations.push(json!({
            "id": observation_id, "category": "vandalism", "severity": 3, "perceived_safety": 2,
            "people_count": 2, "age_band": "13_15", "note": "Klotter på busskuren", "lat": 59.244,
            "lon": 18.228, "accuracy_m": 12.5, "observed_at": now - 60_000, "needs_follow_up": false,
            "_status": "created", "_changed": "",
        }));
        attachments.push(json!({
            "id": uuid::Uuid::now_v7().to_string(), "observation_id": observation_id, "sha256": photo.sha256,
            "content_type": "image/jpeg", "byte_size": photo.bytes.len(), "width": 2000, "height": 1500,
            "created_at": now,
        }));
    }
    let changes = json!({
        "observations": { "created": observations, "updated": [], "deleted": [] },
        "attachments": { "created": attachments, "updated": [], "deleted": [] },
    });
    let response = client
        .post(format!("{base}/api/v1/sync/push?last_pulled_at=null"))
        .bearer_auth(token)
        .json(&changes)
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await?;
    anyhow::ensure!(status == 200, "push: {status} {body}");
    let refused: Vec<&Value> =
        body["results"].as_array().into_iter().flatten().filter(|result| result["status"] != "applied").collect();
    anyhow::ensure!(refused.is_empty(), "push refused records: {refused:?}");
    Ok(())
}

/// Every phone uploads its photos one after the other, all phones at once.
async fn upload_all(
    client: &reqwest::Client,
    base: &str,
    tokens: &[String],
    dealt: &[Vec<Photo>],
    chunk: usize,
    last_status: u16,
) -> Outcome {
    let cpu = cpu_seconds();
    let started = Instant::now();
    let mut phones = Vec::new();
    for (lane, photos) in dealt.iter().enumerate() {
        let (client, base, token, photos) = (client.clone(), base.to_owned(), tokens[lane].clone(), photos.clone());
        phones.push(tokio::spawn(async move {
            let mut outcome = Outcome::empty();
            for photo in &photos {
                let started = Instant::now();
                match upload_one(&client, &base, &token, photo, chunk, last_status).await {
                    Ok(requests) => {
                        outcome.latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                        outcome.photos += 1;
                        outcome.bytes += photo.bytes.len();
                        outcome.requests += requests;
                    }
                    Err(error) => {
                        outcome.errors += 1;
                        outcome.first_error.get_or_insert(format!("{error:#}"));
                    }
                }
            }
            outcome
        }));
    }
    let mut total = Outcome::empty();
    for phone in phones {
        match phone.await {
            Ok(outcome) => total = total.merge(outcome),
            Err(error) => {
                total.errors += 1;
                total.first_error.get_or_insert(error.to_string());
            }
        }
    }
    total.seconds = started.elapsed().as_secs_f64();
    total.cpu = cpu_seconds() - cpu;
    total
}

/// One photo as the field app sends it: where does the upload stand, then each chunk from
/// there. Returns the requests it took.
async fn upload_one(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    photo: &Photo,
    chunk: usize,
    last_status: u16,
) -> anyhow::Result<usize> {
    let url = format!("{base}/api/v1/uploads/{}", photo.sha256);
    let response = client.get(&url).bearer_auth(token).send().await?;
    let status = response.status();
    let body: Value = response.json().await?;
    anyhow::ensure!(status == 200, "status: {status} {body}");
    let mut offset = body["received"].as_u64().unwrap_or(0) as usize;
    let mut requests = 1;
    while offset < photo.bytes.len() {
        let end = (offset + chunk).min(photo.bytes.len());
        let response = client
            .put(&url)
            .bearer_auth(token)
            .header("Upload-Offset", offset.to_string())
            .header("Content-Type", "application/octet-stream")
            .body(photo.bytes.slice(offset..end))
            .send()
            .await?;
        requests += 1;
        let status = response.status();
        let body = response.bytes().await?;
        let expected = if end == photo.bytes.len() { last_status } else { 200 };
        anyhow::ensure!(status == expected, "chunk at {offset}: {status} {}", String::from_utf8_lossy(&body));
        offset = end;
    }
    Ok(requests)
}

/// An actix server on port 0 whose upload routes only read the body (the chunk) and answer.
fn bare_server(workers: usize, limit: usize) -> anyhow::Result<(String, actix_web::dev::Server)> {
    async fn status() -> HttpResponse {
        HttpResponse::Ok().json(json!({ "received": 0, "complete": false }))
    }
    async fn chunk(mut payload: web::Payload) -> actix_web::Result<HttpResponse> {
        let mut body = BytesMut::new();
        while let Some(bytes) = payload.next().await {
            body.extend_from_slice(&bytes?);
        }
        Ok(HttpResponse::Ok().json(json!({ "received": body.len() })))
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::PayloadConfig::new(limit))
            .route("/api/v1/uploads/{sha256}", web::get().to(status))
            .route("/api/v1/uploads/{sha256}", web::put().to(chunk))
    })
    .workers(workers)
    .listen(listener)?
    .run();
    Ok((format!("http://127.0.0.1:{port}"), server))
}

/// The storage floor: each photo's chunks inserted as the server inserts them (one statement,
/// one commit each, synchronous=FULL), read back whole and dropped, on one connection.
fn store_chunks(target: &DatabaseTarget, photos: &[Photo], chunk: usize) -> anyhow::Result<Outcome> {
    let mut conn = target.connect()?;
    lagesbild::db::run_migrations(&mut conn)?;
    let mut times = Vec::new();
    let cpu = cpu_seconds();
    let started = Instant::now();
    for photo in photos {
        let one = Instant::now();
        let now = chrono::Utc::now().timestamp_millis();
        for (i, part) in photo.bytes.chunks(chunk).enumerate() {
            let offset = i64::try_from(i * chunk)?;
            anyhow::ensure!(
                stored::add_chunk(&mut conn, "scratch", &photo.sha256, offset, part, now)?,
                "a chunk twice"
            );
        }
        let whole = stored::assembled(&mut conn, "scratch", &photo.sha256)?;
        anyhow::ensure!(whole.len() == photo.bytes.len(), "the chunks read back are not the photo");
        stored::drop_chunks(&mut conn, "scratch", &photo.sha256)?;
        times.push(one.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(Outcome::without_http(photos, started, cpu, times))
}

/// The CPU ceiling: what the server does with a whole upload besides storing it (its SHA-256
/// checked, then `process`), on `threads` threads at once.
fn process_all(photos: &[Photo], limits: PhotoLimits, threads: usize) -> anyhow::Result<Outcome> {
    let cpu = cpu_seconds();
    let started = Instant::now();
    let per_thread = photos.len().div_ceil(threads.max(1)).max(1);
    let times = std::thread::scope(|scope| {
        let lanes: Vec<_> = photos
            .chunks(per_thread)
            .map(|lane| {
                scope.spawn(move || -> anyhow::Result<Vec<f64>> {
                    let mut times = Vec::new();
                    for photo in lane {
                        let one = Instant::now();
                        anyhow::ensure!(hex::encode(Sha256::digest(&photo.bytes)) == photo.sha256, "hash");
                        let processed = process(&photo.bytes, limits).map_err(|r| anyhow::anyhow!("{}", r.detail))?;
                        anyhow::ensure!(!processed.photo.is_empty(), "an empty photo");
                        times.push(one.elapsed().as_secs_f64() * 1000.0);
                    }
                    Ok(times)
                })
            })
            .collect();
        lanes
            .into_iter()
            .map(|lane| lane.join().map_err(|_| anyhow::anyhow!("a thread panicked"))?)
            .collect::<anyhow::Result<Vec<Vec<f64>>>>()
    })?;
    Ok(Outcome::without_http(photos, started, cpu, times.concat()))
}
