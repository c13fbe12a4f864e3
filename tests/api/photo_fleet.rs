//! Photos from a fleet of phones on bad networks: every upload in small chunks, answers lost,
//! chunks sent twice, the same photo taken on two phones, and the server killed (SIGKILL) while
//! chunks are on the wire and restarted. Every photo an attachment acknowledged ends up stored
//! exactly once, served whole, with no chunks left over and no orphan bytes for the sweep.

use crate::cli::{lagesbild, serve_in_background};
use crate::helpers::*;
use crate::photos::{attachment, camera_jpeg, sha256};
use crate::sync::observation;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The chunk size of the fleet: a photo takes a dozen chunks or more.
const CHUNK: usize = 8 * 1024;

fn start_server(app: &TestApp) -> (Child, String) {
    let (child, address) = serve_in_background(
        lagesbild(app).env("LAGESBILD_JWT_SECRET", TEST_KEY).env("LAGESBILD_PHOTO_CHUNK_BYTES", CHUNK.to_string()),
    );
    (child, format!("http://{address}"))
}

/// A small deterministic generator: each phone's bad luck is its own and repeatable.
struct Luck(u64);

impl Luck {
    fn chance(&mut self, percent: u64) -> bool {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % 100 < percent
    }
}

/// One phone's photos, uploaded through whatever happens; returns the attachments acknowledged.
async fn phone(
    index: usize,
    token: String,
    address: Arc<Mutex<String>>,
    photos: Vec<Vec<u8>>,
    in_flight: Arc<AtomicUsize>,
    stored: Arc<AtomicUsize>,
) -> Vec<(String, String)> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let base = || address.lock().unwrap().clone();
    let mut luck = Luck(index as u64 + 1);
    let mut acknowledged = Vec::new();
    for (n, photo) in photos.iter().enumerate() {
        let observation_id = format!("018f0000-0000-7000-8000-{index:04}{n:08}");
        let attachment_id = format!("018f0000-0000-7000-9000-{index:04}{n:08}");
        let body = json!({
            "observations": { "created": [observation(&observation_id, "")], "updated": [], "deleted": [] },
            "attachments": { "created": [attachment(&attachment_id, &observation_id, photo)], "updated": [], "deleted": [] },
        });
        // The records first, retried until answered.
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let url = format!("{}/api/v1/sync/push?last_pulled_at=null", base());
            if let Ok(response) = http.post(url).bearer_auth(&token).json(&body).send().await
                && response.status() == 200
            {
                let answer: Value = response.json().await.unwrap();
                let result = answer["results"].as_array().unwrap().iter().find(|r| r["id"] == attachment_id).unwrap();
                assert!(result["status"] == "applied" || result["status"] == "unchanged", "{result}");
                break;
            }
            assert!(Instant::now() < deadline, "the push never got through");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        acknowledged.push((attachment_id.clone(), sha256(photo)));
        // Then the bytes: ask where the upload stands, send the next chunk, again and again.
        let hash = sha256(photo);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            assert!(Instant::now() < deadline, "the upload of {attachment_id} never completed");
            let status = match http.get(format!("{}/api/v1/uploads/{hash}", base())).bearer_auth(&token).send().await {
                Ok(response) if response.status() == 200 => response.json::<Value>().await.unwrap(),
                _ => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if status["complete"] == true {
                stored.fetch_add(1, Ordering::SeqCst);
                break;
            }
            let mut offset = status["received"].as_u64().unwrap() as usize;
            // Every byte may be stored with the photo not finished (the server died between the
            // two): an empty chunk at the end finishes it.
            let mut finished = false;
            while !finished {
                let end = (offset + CHUNK).min(photo.len());
                let send = || {
                    http.put(format!("{}/api/v1/uploads/{hash}", base()))
                        .bearer_auth(&token)
                        .header("Upload-Offset", offset.to_string())
                        .body(photo[offset..end].to_vec())
                        .send()
                };
                in_flight.fetch_add(1, Ordering::SeqCst);
                let answer = send().await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                if luck.chance(10) {
                    // The same chunk once more (a retry after a timeout that had in fact arrived).
                    let _ = send().await;
                }
                match answer {
                    // The answer lost on the way back: start over from the status.
                    Ok(_) if luck.chance(15) => break,
                    Ok(response) if response.status().is_success() => {
                        finished = end == photo.len();
                        offset = end;
                    }
                    _ => break,
                }
            }
        }
    }
    acknowledged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fleet_on_bad_networks_with_a_server_killed_mid_upload_stores_every_photo_exactly_once() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let (mut server, address) = start_server(&app);
    let address = Arc::new(Mutex::new(address));
    let (in_flight, stored) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    // Five photos per phone; the first is the same picture on every phone.
    let shared = camera_jpeg(400, 300);
    let mut clients = Vec::new();
    for index in 0..4 {
        let tokens = app.login("tyreso", "field", PASSWORD, &format!("fleet-photo-{index}")).await;
        let mut photos = vec![shared.clone()];
        photos.extend((0..4).map(|n| camera_jpeg(300 + index as u32 * 10 + n, 200)));
        clients.push(tokio::spawn(phone(
            index,
            tokens.access,
            address.clone(),
            photos,
            in_flight.clone(),
            stored.clone(),
        )));
    }
    // Once photos have been stored, kill the server while a chunk is on the wire; restart it.
    let deadline = Instant::now() + Duration::from_secs(90);
    while stored.load(Ordering::SeqCst) < 3 || in_flight.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no photo was stored with another on the wire");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let (mut restarted, new_address) = start_server(&app);
    *address.lock().unwrap() = new_address.clone();
    let mut acknowledged = Vec::new();
    for client in clients {
        acknowledged.extend(client.await.unwrap());
    }
    assert_eq!(acknowledged.len(), 20);

    // Every acknowledged photo is served whole, and each distinct picture is stored once.
    let coordinator = &tenant.coordinator.tokens.access;
    for (attachment_id, _) in &acknowledged {
        let response = app
            .client
            .get(format!("{new_address}/api/v1/attachments/{attachment_id}/photo"))
            .bearer_auth(coordinator)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{attachment_id}");
        assert!(image::load_from_memory(&response.bytes().await.unwrap()).is_ok(), "{attachment_id} decodes");
    }
    let distinct: BTreeSet<&String> = acknowledged.iter().map(|(_, hash)| hash).collect();
    assert_eq!(distinct.len(), 17, "the shared picture counts once");
    let mut conn = app.conn();
    let recorded = lagesbild::db::queries::photos::all_stored(&mut conn).unwrap();
    assert_eq!(recorded.len(), distinct.len(), "each picture recorded once");
    let chunks: i64 = {
        use diesel::prelude::*;
        lagesbild::db::schema::photo_chunks::table.count().get_result(&mut conn).unwrap()
    };
    assert_eq!(chunks, 0, "no chunk of a finished upload is left");
    // The sweep, run as if hours later: nothing is unattached and no file is an orphan.
    let store = lagesbild::photos::store::PhotoStore::local(app.data_dir.path().join("photos"));
    let later = chrono::Utc::now().timestamp_millis() + 2 * lagesbild::photos::ORPHAN_GRACE_MS;
    let swept = lagesbild::photos::sweep(&mut conn, &store, later).unwrap();
    assert_eq!((swept.photos, swept.chunks), (0, 0), "{swept:?}");
    let files: Vec<String> =
        store.list().unwrap().into_iter().map(|f| f.key).filter(|k| !k.starts_with("tmp/")).collect();
    assert_eq!(files.len(), 2 * distinct.len(), "a photo and a thumbnail per picture, nothing else: {files:?}");
    restarted.kill().unwrap();
    restarted.wait().unwrap();
}
