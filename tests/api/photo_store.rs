//! Photos in an S3-compatible object store: moto's S3 server, started by the test, stands in for
//! the municipality's store. Uploads land in the bucket (not in the data directory), are served
//! and exported from it, and leave it when their attachment is deleted and the sweep runs.
//! Needs `moto_server` (CI installs it and says so with `LAGESBILD_TEST_NEEDS_TOOLS`; elsewhere
//! the test is skipped, saying so).

use crate::helpers::*;
use crate::photos::{attachment, camera_jpeg, put_chunk, sha256};
use crate::sync::{Phone, observation};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The moto server, stopped when dropped.
struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_binary() -> Option<std::path::PathBuf> {
    let candidates = [
        std::env::var_os("LAGESBILD_MOTO_SERVER").map(std::path::PathBuf::from),
        std::env::var_os("HOME")
            .map(|home| std::path::Path::new(&home).join(".cache/lagesbild-moto-venv/bin/moto_server")),
    ];
    let found = candidates.into_iter().flatten().find(|path| path.is_file()).or_else(|| {
        Command::new("sh")
            .args(["-c", "command -v moto_server"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| std::path::PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
    });
    if found.is_none() {
        assert!(std::env::var_os("LAGESBILD_TEST_NEEDS_TOOLS").is_none(), "the object store test needs moto_server");
        eprintln!("skipped: moto_server is not installed (pip install 'moto[server]')");
    }
    found
}

async fn start_moto(client: &reqwest::Client) -> Option<Moto> {
    let binary = moto_binary()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let moto = Moto { child, url: format!("http://127.0.0.1:{port}") };
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(&moto.url).send().await.is_err() {
        assert!(Instant::now() < deadline, "moto_server did not answer");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Some(moto)
}

/// The keys in the bucket under `prefix`.
async fn keys(client: &reqwest::Client, moto: &Moto, bucket: &str, prefix: &str) -> Vec<String> {
    let listing = client.get(format!("{}/{bucket}?list-type=2&prefix={prefix}", moto.url)).send().await.unwrap();
    let text = listing.text().await.unwrap();
    let mut found: Vec<String> =
        text.split("<Key>").skip(1).filter_map(|rest| rest.split("</Key>").next()).map(str::to_owned).collect();
    found.sort();
    found
}

#[tokio::test]
async fn photos_go_to_an_s3_bucket_when_one_is_configured_and_leave_it_with_their_attachment() {
    let client = reqwest::Client::new();
    let Some(moto) = start_moto(&client).await else { return };
    assert!(client.put(format!("{}/lagesbild", moto.url)).send().await.unwrap().status().is_success());
    let endpoint = moto.url.clone();
    let app = spawn_app_with(|settings| {
        settings.photo_store_url = Some("s3://lagesbild/kommun/foton".into());
        settings.photo_s3_endpoint = Some(endpoint);
        settings.photo_s3_region = Some("eu-north-1".into());
        settings.photo_s3_access_key_id = Some("test".into());
        settings.photo_s3_secret_access_key = Some(secret("test"));
        settings.photo_s3_allow_http = true;
        settings.tombstone_horizon_days = 0;
        settings.tombstone_purge_interval_secs = 0;
    })
    .await;
    let tenant = app.tenant("tyreso").await;
    let token = &tenant.field.tokens.access;
    let field = Phone { schema_version: 3, ..Phone::new(&app, token) };
    let photo = camera_jpeg(800, 600);
    let (observation_id, attachment_id) =
        ("018f0000-0000-7000-8000-00000000f001", "018f0000-0000-7000-8000-10000000f001");
    field
        .push(json!({
            "observations": { "created": [observation(observation_id, "")], "updated": [], "deleted": [] },
            "attachments": { "created": [attachment(attachment_id, observation_id, &photo)], "updated": [], "deleted": [] },
        }))
        .await;
    let hash = sha256(&photo);
    let half = photo.len() / 2;
    assert_eq!(put_chunk(&app, token, &hash, 0, &photo[..half]).await.status(), 200);
    assert_eq!(put_chunk(&app, token, &hash, half, &photo[half..]).await.status(), 201);

    // In the bucket, under the prefix; nothing in the data directory.
    let stored = keys(&client, &moto, "lagesbild", "kommun/foton/").await;
    assert_eq!(stored.len(), 2, "the photo and its thumbnail: {stored:?}");
    assert!(
        stored.iter().any(|k| k.ends_with(&format!("{hash}.jpg"))) && stored.iter().any(|k| k.ends_with(".thumb.jpg"))
    );
    assert!(!app.data_dir.path().join("photos").exists());
    let served = app.get(&format!("/api/v1/attachments/{attachment_id}/photo"), token).await;
    assert_eq!(served.status(), 200);
    let served = served.bytes().await.unwrap();
    assert!(image::load_from_memory(&served).is_ok());
    let zip = app
        .get("/api/v1/exports/observations?format=zip", &tenant.coordinator.tokens.access)
        .await
        .bytes()
        .await
        .unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).unwrap();
    let mut zipped = Vec::new();
    let name = format!("foton/{observation_id}/{attachment_id}.jpg");
    std::io::Read::read_to_end(&mut archive.by_name(&name).unwrap(), &mut zipped).unwrap();
    assert_eq!(zipped, served.to_vec(), "the ZIP reads the photo from the bucket");

    // Deleted: gone from the bucket once the tombstone is past the horizon (here at once).
    field.push(json!({ "attachments": { "created": [], "updated": [], "deleted": [attachment_id] } })).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !keys(&client, &moto, "lagesbild", "kommun/foton/").await.is_empty() {
        assert!(Instant::now() < deadline, "the photo never left the bucket");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
