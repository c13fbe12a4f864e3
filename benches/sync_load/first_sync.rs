//! The `first-sync` scenario: a new device's first full pull, per encoding.

use super::*;

/// Scenario 4: a user's 5,000 observations pushed from an old phone, then a new phone's first pull.
pub async fn first_sync(
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
pub type Compressor = dyn Fn(&[u8]) -> anyhow::Result<Vec<u8>>;

pub fn gzip(body: &[u8], level: u32) -> anyhow::Result<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    encoder.write_all(body)?;
    Ok(encoder.finish()?)
}

/// A pull with one `Accept-Encoding`; the wall time until the last byte, the raw body, and the
/// `content-encoding` it came with.
pub async fn pull_raw(
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
pub fn check_first_sync(asked: &str, got: &str, body: &[u8], expected: usize) -> anyhow::Result<(usize, usize)> {
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
