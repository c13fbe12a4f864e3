//! `lagesbild backup` and `lagesbild restore`: a backup taken while phones push holds every push
//! acknowledged before it began; the restored server accepts the old tokens (the signing key
//! came along), its picture agrees with its records, and a phone that synced after the backup
//! takes a fresh snapshot instead of resuming from a cursor the restored database never issued.

use crate::cli::{lagesbild, run};
use crate::helpers::*;
use crate::sync::{Phone, created, observation};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The strategy a pull from `cursor` answers with (`replacement` for a fresh snapshot).
async fn pull_strategy(client: &reqwest::Client, base: &str, token: &str, cursor: i64) -> Value {
    let url = format!("{base}/api/v1/sync/pull?last_pulled_at={cursor}&schema_version=1");
    let body: Value = client.get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    assert!(body.get("changes").is_some(), "{body}");
    body["experimentalStrategy"].clone()
}

/// On PostgreSQL the backup is `pg_dump`'s and the restore `pg_restore`'s, followed by
/// `lagesbild restore`, as `lagesbild backup` advises there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_phones_push_restores_every_acknowledged_push_and_phones_resnapshot() {
    // The signing key generated into the data directory, as the embedded default does.
    let app = spawn_app_with(|settings| settings.jwt_secret = None).await;
    let tenant = app.tenant("tyreso").await;
    let (field, coordinator) = (tenant.field.tokens.access.clone(), tenant.coordinator.tokens.access.clone());
    // A phone pushes batches without pause; each acknowledged batch is noted.
    let acknowledged: Arc<parking_lot::Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let pusher = {
        let (client, base, token) = (app.client.clone(), app.address.clone(), field.clone());
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let ids: Vec<String> = (0..5).map(|_| uuid::Uuid::now_v7().to_string()).collect();
                let body = created("observations", ids.iter().map(|id| observation(id, "")).collect());
                let url = format!("{base}/api/v1/sync/push?last_pulled_at=null");
                let response = client.post(url).bearer_auth(&token).json(&body).send().await.unwrap();
                assert_eq!(response.status(), 200);
                acknowledged.lock().extend(ids);
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before_backup: Vec<String> = acknowledged.lock().clone();
    assert!(!before_backup.is_empty());
    let file = app.data_dir.path().join("lagesbild.backup");
    let backup_said = match app.database_url() {
        // On PostgreSQL the backup is pg_dump's, as `lagesbild backup` says.
        Some(url) => {
            let mut command = lagesbild(&app);
            command.args(["backup", "--to", "/tmp/never-written.backup"]);
            let (code, _, stderr) = tokio::task::spawn_blocking(move || run(&mut command, "")).await.unwrap();
            assert_ne!(code, 0);
            assert!(stderr.contains("pg_dump --format=custom") && stderr.contains("lagesbild restore"), "{stderr}");
            let mut dump = std::process::Command::new("pg_dump");
            dump.args(["--format=custom", "--file", file.to_str().unwrap(), &url]);
            let (code, _, stderr) = tokio::task::spawn_blocking(move || run(&mut dump, "")).await.unwrap();
            assert_eq!(code, 0, "pg_dump: {stderr}");
            String::new()
        }
        None => {
            let mut command = lagesbild(&app);
            command.args(["backup", "--to", file.to_str().unwrap()]);
            let (code, said, stderr) = tokio::task::spawn_blocking(move || run(&mut command, "")).await.unwrap();
            assert_eq!(code, 0, "{stderr}");
            assert!(said.contains("signing.key"), "the key is in the backup: {said}");
            said
        }
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    pusher.await.unwrap();
    // A phone that synced after the backup: its cursor is past what the backup holds.
    let mut late = Phone::new(&app, &field);
    late.pull().await;
    let late_cursor = late.cursor.unwrap();

    // Restored into an empty data directory (and on PostgreSQL a new database), served afresh.
    let restored_dir = tempfile::tempdir().unwrap();
    let (mut restored_database, mut restored_url) = (None, None);
    let backup_seq: i64 = match postgres_admin_url() {
        Some(admin) => {
            let (url, guard) = fresh_postgres(&admin);
            restored_database = Some(guard);
            let mut load = std::process::Command::new("pg_restore");
            load.args(["--no-owner", "--dbname", &url, file.to_str().unwrap()]);
            let (code, _, stderr) = tokio::task::spawn_blocking(move || run(&mut load, "")).await.unwrap();
            assert_eq!(code, 0, "pg_restore: {stderr}");
            // The key file goes beside it, as the advice says.
            std::fs::copy(app.data_dir.path().join("signing.key"), restored_dir.path().join("signing.key")).unwrap();
            let mut conn = lagesbild::db::DbConnection::Postgres(lagesbild::db::connect_postgres(&url).unwrap());
            let (seq, _) = lagesbild::db::queries::sync_state::read(&mut conn).unwrap();
            drop(conn);
            let mut command = lagesbild(&app);
            command.env("DATABASE_URL", &url).arg("restore");
            let (code, stdout, stderr) = tokio::task::spawn_blocking(move || run(&mut command, "")).await.unwrap();
            assert_eq!(code, 0, "{stderr}");
            assert!(stdout.contains("fresh snapshot"), "{stdout}");
            restored_url = Some(url);
            seq
        }
        None => {
            let mut command = lagesbild(&app);
            command.env("LAGESBILD_DATA_DIR", restored_dir.path()).args(["restore", "--from", file.to_str().unwrap()]);
            let (code, stdout, stderr) = tokio::task::spawn_blocking(move || run(&mut command, "")).await.unwrap();
            assert_eq!(code, 0, "{stderr}");
            assert!(stdout.contains("fresh snapshot"), "{stdout}");
            let mut again = lagesbild(&app);
            again.env("LAGESBILD_DATA_DIR", restored_dir.path()).args(["restore", "--from", file.to_str().unwrap()]);
            let (code, _, stderr) = tokio::task::spawn_blocking(move || run(&mut again, "")).await.unwrap();
            assert_ne!(code, 0, "never over a restored directory");
            assert!(stderr.contains("empty data directory"), "{stderr}");
            backup_said
                .split("up to sequence ")
                .nth(1)
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
                .unwrap()
        }
    };

    let mut settings = test_settings(restored_dir.path());
    settings.jwt_secret = None;
    settings.database_url = restored_url.as_deref().map(secret);
    let _dropped_at_the_end = restored_database;
    let restored = lagesbild::startup::Application::build(settings).unwrap();
    let base = format!("http://127.0.0.1:{}", restored.port());
    let _server = run_server(restored);
    // The old tokens work: the signing key came with the backup.
    let ids = list_observation_ids(&app.client, &base, &coordinator).await;
    for id in &before_backup {
        assert!(ids.contains(id), "acknowledged before the backup began, missing after the restore: {id}");
    }
    let (observations, _) = crate::picture::picture_totals(&app.client, &base, &coordinator).await;
    assert_eq!(observations, ids.len() as u64, "the picture agrees with the records");
    // Phones push to the restored server before the late phone pulls: more changes than the old
    // server made after the backup. The late phone's cursor must still not be resumed from.
    assert!(late_cursor > backup_seq, "the late phone synced after the backup");
    for _ in 0..=(late_cursor - backup_seq) {
        let body = created("observations", vec![observation(&uuid::Uuid::now_v7().to_string(), "")]);
        let url = format!("{base}/api/v1/sync/push?last_pulled_at=null");
        assert_eq!(app.client.post(url).bearer_auth(&field).json(&body).send().await.unwrap().status(), 200);
    }
    assert_eq!(pull_strategy(&app.client, &base, &field, late_cursor).await, "replacement");
}

fn run_server(application: lagesbild::startup::Application) -> Running {
    crate::helpers::run(application)
}
