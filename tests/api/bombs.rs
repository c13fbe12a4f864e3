//! Compression bombs: a small compressed body that inflates to hundreds of megabytes is refused
//! (413) before any buffer of the server grows much past the route's limit, for every content
//! coding, with and without a declared length, on a route anyone may call and on the routes with
//! the largest limits. Measured as the growth of the server process's peak resident memory
//! (`VmHWM`), so the server runs as its own process.

use crate::cli::{lagesbild, serve_in_background};
use crate::helpers::*;
use serde_json::json;
use std::io::Write;

const MIB: u64 = 1024 * 1024;
/// What every bomb inflates to: far past every limit.
const INFLATED: usize = 256 * 1024 * 1024;

/// The peak resident memory of a process, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// `INFLATED` bytes of one repeated JSON-safe byte, compressed with each coding.
fn bombs() -> Vec<(&'static str, Vec<u8>)> {
    let block = vec![b' '; 8 * 1024 * 1024];
    let repeats = INFLATED / block.len();
    // gzip: one member of 8 MiB, repeated (a decoder reads every member of a gzip body).
    let mut member = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    member.write_all(&block).unwrap();
    let gzip = member.finish().unwrap().repeat(repeats);
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..repeats {
        zlib.write_all(&block).unwrap();
    }
    let deflate = zlib.finish().unwrap();
    let mut brotli = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut brotli, 64 * 1024, 5, 22);
        for _ in 0..repeats {
            writer.write_all(&block).unwrap();
        }
    }
    let mut zstd = zstd::Encoder::new(Vec::new(), 3).unwrap();
    for _ in 0..repeats {
        zstd.write_all(&block).unwrap();
    }
    let zstd = zstd.finish().unwrap();
    vec![("gzip", gzip), ("deflate", deflate), ("br", brotli), ("zstd", zstd)]
}

/// The server's HTTP workers: each keeps the memory its requests freed for its next ones, so an
/// attack's whole cost is bounded by the workers times the largest limit.
const WORKERS: u64 = 2;
/// What a bomb may add beyond its route's limit: the decoder's window (at most 8 MiB for zstd,
/// 4 MiB for the brotli bombs here) and the allocator's own slack.
const SLACK: u64 = 10 * MIB;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_bombs_are_refused_before_the_server_grows_past_the_limit() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let (child, address) = serve_in_background(
        lagesbild(&app).env("LAGESBILD_JWT_SECRET", TEST_KEY).env("LAGESBILD_WORKERS", WORKERS.to_string()),
    );
    let server = Server { child, base: format!("http://{address}") };
    let base = server.base.clone();
    let http = reqwest::Client::new();
    let bombs = bombs();
    for (coding, body) in &bombs {
        assert!(body.len() < MIB as usize, "the {coding} bomb is {} bytes on the wire", body.len());
    }

    // Warm up with legitimate compressed bodies, so that the baseline holds the server's own
    // working set.
    let login = json!({ "organisation": "tyreso", "username": "field", "password": PASSWORD, "device_id": "bomb" });
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&serde_json::to_vec(&login).unwrap()).unwrap();
    let gzipped_login = encoder.finish().unwrap();
    for _ in 0..4 {
        let response = http
            .post(format!("{base}/api/v1/auth/login"))
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(gzipped_login.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "a legitimate gzip body is read");
    }
    let baseline = peak_rss(server.pid());

    // (route, the caller's token, the route's limit), smallest limit first.
    let routes: [(&str, Option<&str>, u64); 3] = [
        ("/api/v1/auth/login", None, MIB),
        ("/api/v1/sync/push?last_pulled_at=null", Some(&tenant.field.tokens.access), 4 * MIB),
        ("/api/v1/areas", Some(&tenant.admin.tokens.access), 16 * MIB),
    ];
    for round in 0..2 {
        for (path, token, limit) in routes {
            for (coding, body) in &bombs {
                for declared in [true, false] {
                    let before = peak_rss(server.pid());
                    let mut request = http
                        .post(format!("{base}{path}"))
                        .header("content-type", "application/json")
                        .header("content-encoding", *coding);
                    if let Some(token) = token {
                        request = request.bearer_auth(token);
                    }
                    request = if declared {
                        request.body(body.clone())
                    } else {
                        // Chunked, with no length to refuse it by.
                        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                            body.chunks(16 * 1024).map(|chunk| Ok(chunk.to_vec())).collect();
                        request.body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
                    };
                    let response = request.send().await.unwrap();
                    let problem = assert_problem(response, 413, "payload_too_large").await;
                    assert!(problem["detail"].as_str().unwrap().contains(&limit.to_string()), "{path}: {problem}");
                    let grown = peak_rss(server.pid()).saturating_sub(before);
                    assert!(
                        grown <= limit + SLACK,
                        "a {coding} bomb (declared length: {declared}) on {path} grew the server by {} MiB \
                         (limit {} MiB)",
                        grown / MIB,
                        limit / MIB
                    );
                }
            }
        }
        // The whole attack, and the same attack again, cost no more than each worker holding
        // one largest body: nothing accumulates.
        let growth = peak_rss(server.pid()).saturating_sub(baseline);
        assert!(
            growth <= WORKERS * 16 * MIB + SLACK,
            "after round {round} the server had grown by {} MiB",
            growth / MIB
        );
    }

    // An identity body past the limit, sent without a length, is refused while it is read.
    let before = peak_rss(server.pid());
    let endless: Vec<Result<Vec<u8>, std::io::Error>> = (0..512).map(|_| Ok(vec![b' '; 64 * 1024])).collect();
    let response = http
        .post(format!("{base}/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(endless)))
        .send()
        .await;
    if let Ok(response) = response {
        assert_problem(response, 413, "payload_too_large").await;
    } // (or the server closed the connection while the client was still sending)
    let grown = peak_rss(server.pid()).saturating_sub(before);
    assert!(grown <= MIB + SLACK, "a 32 MiB identity body grew the server by {} MiB", grown / MIB);

    // The server still answers.
    let response = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

/// A server process, killed when the test ends, also when it fails.
struct Server {
    child: std::process::Child,
    base: String,
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

#[tokio::test]
async fn a_body_in_a_coding_the_service_does_not_decode_is_refused_naming_what_it_accepts() {
    let app = spawn_app().await;
    let login = serde_json::to_vec(&json!({ "organisation": "tyreso", "username": "x", "password": "y" })).unwrap();
    for coding in ["compress", "x-unknown", "gzip, zstd"] {
        let response = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("content-type", "application/json")
            .header("content-encoding", coding)
            .body(login.clone())
            .send()
            .await
            .unwrap();
        let accepted = response.headers().get("accept-encoding").map(|value| value.to_str().unwrap().to_owned());
        let problem = assert_problem(response, 415, "unsupported_encoding").await;
        assert_eq!(accepted.as_deref(), Some("gzip, deflate, br, zstd, identity"), "{coding}");
        assert!(problem["detail"].as_str().unwrap().contains("is not accepted"), "{problem}");
    }
    // A body that says gzip but is not: 400, not a 500 or a hang.
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(login)
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "unreadable_body").await;
}
