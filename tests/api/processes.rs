//! Several server processes on one database, as behind a load balancer: started together on an
//! unmigrated database they all come up; with phones whose every request goes to any of three
//! processes, one of them killed (SIGKILL) mid-push and started again, every acknowledged record
//! is stored exactly once, a puller that asks a different process each time never skips a row, a
//! device revoked through one process is refused by all, and every process's picture agrees with
//! the database after catching up on many more rows than one page. Runs on both backends; CI
//! runs it on PostgreSQL too.

use crate::cli::{in_app_environment, lagesbild, serve_in_background};
use crate::helpers::*;
use crate::sync::{created, observation};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A server process, killed when dropped: a failing test leaves none behind.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A process serving the test app's database, reading the change feed 37 rows at a time.
fn start_process(app: &TestApp) -> (Serving, String) {
    let mut command = lagesbild(app);
    command
        .env("LAGESBILD_JWT_SECRET", TEST_KEY)
        .env("LAGESBILD_PICTURE_CATCH_UP_ROWS", "37")
        .env("LAGESBILD_REVOCATION_POLL_MS", "100");
    let (child, address) = serve_in_background(&mut command);
    (Serving(child), format!("http://{address}"))
}

/// A small deterministic choice of process per request.
fn pick(state: &mut u64, n: usize) -> usize {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    usize::try_from(*state % n as u64).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_processes_on_one_database_keep_exactly_once_the_cursor_revocation_and_the_picture() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let coordinator = tenant.coordinator.tokens.access.clone();
    let mut processes: Vec<Serving> = Vec::new();
    let mut addresses = Vec::new();
    for _ in 0..3 {
        let (child, address) = start_process(&app);
        processes.push(child);
        addresses.push(address);
    }
    let addresses = Arc::new(Mutex::new(addresses));
    let acknowledged = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();

    // Four phones push 25 batches of 13 records each, every request to any process, retrying a
    // push until it is answered (across the crash).
    let mut phones = Vec::new();
    for phone in 0..4u64 {
        let tokens = app.login("tyreso", "field", PASSWORD, &format!("lb-phone-{phone}")).await;
        let (addresses, acknowledged, in_flight, http) =
            (addresses.clone(), acknowledged.clone(), in_flight.clone(), http.clone());
        phones.push(tokio::spawn(async move {
            let mut choice = 0x9E37_79B9_7F4A_7C15 ^ (phone + 1);
            let mut pushed = BTreeSet::new();
            for batch in 0..25 {
                let ids: Vec<String> = (0..13).map(|n| format!("lb{phone}-{batch:03}-{n:02}")).collect();
                let body = created("observations", ids.iter().map(|id| observation(id, "")).collect());
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    let base = {
                        let addresses = addresses.lock().unwrap();
                        addresses[pick(&mut choice, addresses.len())].clone()
                    };
                    in_flight.fetch_add(1, Ordering::SeqCst);
                    let answer = http
                        .post(format!("{base}/api/v1/sync/push?last_pulled_at=null"))
                        .bearer_auth(&tokens.access)
                        .json(&body)
                        .send()
                        .await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    if let Ok(response) = answer
                        && response.status() == 200
                        && let Ok(result) = response.json::<Value>().await
                    {
                        let mut acknowledged = acknowledged.lock().unwrap();
                        for item in result["results"].as_array().unwrap() {
                            let status = item["status"].as_str().unwrap();
                            assert!(status == "applied" || status == "unchanged", "{item}");
                            acknowledged.insert(item["id"].as_str().unwrap().to_owned());
                        }
                        break;
                    }
                    assert!(Instant::now() < deadline, "the push never got through");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                pushed.extend(ids);
            }
            pushed
        }));
    }

    // A puller asks a different process each time, from its cursor.
    let pushing = Arc::new(AtomicBool::new(true));
    let puller = {
        let (addresses, http, pushing, token) = (addresses.clone(), http.clone(), pushing.clone(), coordinator.clone());
        tokio::spawn(async move {
            let (mut seen, mut cursor, mut turn) = (BTreeSet::new(), None::<i64>, 0usize);
            loop {
                let last = !pushing.load(Ordering::SeqCst);
                let base = {
                    let addresses = addresses.lock().unwrap();
                    turn += 1;
                    addresses[turn % addresses.len()].clone()
                };
                let cursor_text = cursor.map_or("null".to_owned(), |c: i64| c.to_string());
                let url = format!("{base}/api/v1/sync/pull?last_pulled_at={cursor_text}&limit=10000");
                let Ok(response) = http.get(url).bearer_auth(&token).send().await else { continue };
                let Ok(body) = response.json::<Value>().await else { continue };
                assert_eq!(body["has_more"], false, "{body}");
                assert!(body["experimentalStrategy"].is_null(), "an incremental pull all along: {body}");
                for record in ["created", "updated"]
                    .iter()
                    .flat_map(|bucket| body["changes"]["observations"][bucket].as_array().cloned().unwrap_or_default())
                {
                    seen.insert(record["id"].as_str().unwrap().to_owned());
                }
                cursor = Some(body["timestamp"].as_i64().unwrap());
                if last {
                    return seen;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    // Once pushes are acknowledged and one is on the wire, the second process is killed and
    // started again (on a new port, as a replacement behind the balancer).
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 200 || in_flight.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no push was acknowledged and in flight");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    processes[1].0.kill().unwrap();
    processes[1].0.wait().unwrap();
    let (replacement, address) = start_process(&app);
    processes[1] = replacement;
    addresses.lock().unwrap()[1] = address;

    let mut pushed = BTreeSet::new();
    for phone in phones {
        pushed.extend(phone.await.unwrap());
    }
    pushing.store(false, Ordering::SeqCst);
    let seen = puller.await.unwrap();
    let addresses: Vec<String> = addresses.lock().unwrap().clone();

    // Exactly once, and nothing skipped.
    let listed = list_observation_ids(&app.client, &addresses[2], &coordinator).await;
    let stored: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(stored.len(), listed.len(), "nothing is stored twice");
    assert_eq!(stored, pushed, "every push arrived once");
    assert!(acknowledged.lock().unwrap().is_subset(&stored));
    let missed: Vec<&String> = stored.difference(&seen).take(5).collect();
    assert!(missed.is_empty(), "a puller moving between processes missed rows: {missed:?}");

    // Every process's picture (one built from scratch after the restart, the others caught up
    // page by page) counts what the database holds.
    for base in &addresses {
        let heatmap: Value = app
            .client
            .get(format!("{base}/api/v1/heatmap?resolution=7"))
            .bearer_auth(&coordinator)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(heatmap["total"], stored.len(), "{base}");
    }

    // A device revoked through one process is refused by every process.
    let phone = app.login("tyreso", "field", PASSWORD, "lb-lost-phone").await;
    for base in &addresses {
        let response = app.client.get(format!("{base}/api/v1/me")).bearer_auth(&phone.access).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    let revoked = app
        .client
        .post(format!("{}/api/v1/devices/lb-lost-phone/revoke", addresses[0]))
        .bearer_auth(&coordinator)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    for base in &addresses {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let response = app.client.get(format!("{base}/api/v1/me")).bearer_auth(&phone.access).send().await.unwrap();
            if response.status() == 401 {
                break;
            }
            assert!(Instant::now() < deadline, "{base} still accepts the revoked device");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    drop(processes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_started_together_on_an_unmigrated_database_all_serve() {
    // A fresh database: a new data directory, or a new PostgreSQL database.
    let app = spawn_app().await;
    let data_dir = tempfile::tempdir().unwrap();
    let database = postgres_admin_url().map(|admin| fresh_postgres(&admin));
    let mut starts = Vec::new();
    for _ in 0..3 {
        let mut command = in_app_environment(Command::new(env!("CARGO_BIN_EXE_lagesbild")), &app);
        command.env("LAGESBILD_DATA_DIR", data_dir.path()).env("LAGESBILD_JWT_SECRET", TEST_KEY);
        if let Some((url, _)) = &database {
            command.env("DATABASE_URL", url);
        }
        starts.push(tokio::task::spawn_blocking(move || {
            let (child, address) = serve_in_background(&mut command);
            (Serving(child), address)
        }));
    }
    let mut processes = Vec::new();
    for start in starts {
        processes.push(start.await.unwrap());
    }
    for (process, address) in &mut processes {
        let ready = app.client.get(format!("http://{address}/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200, "{address}");
        assert!(process.0.try_wait().unwrap().is_none(), "{address} exited");
    }
}

/// Two processes given the same push at the same moment (a phone that retried on another
/// process while the first still worked on it): on PostgreSQL their writers run side by side,
/// the second insert of each new record waits for the first and meets its key, and the loser's
/// transaction is tried again. Both answer 200, every record is `applied` in one answer and
/// `unchanged` in the other, and it is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_push_sent_to_two_processes_at_once_is_stored_once_and_answered_by_both() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let processes: Vec<(Serving, String)> = (0..2).map(|_| start_process(&app)).collect();
    let token = tenant.field.tokens.access.clone();
    let http = reqwest::Client::new();
    let rounds = 25;
    for round in 0..rounds {
        let records: Vec<Value> =
            (0..8).map(|n| observation(&format!("twice-{round:02}-{n}"), "sent to both")).collect();
        let body = created("observations", records);
        let send = |base: &str| {
            http.post(format!("{base}/api/v1/sync/push?last_pulled_at=null")).bearer_auth(&token).json(&body).send()
        };
        let (first, second) = tokio::join!(send(&processes[0].1), send(&processes[1].1));
        let mut statuses: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
        for answer in [first, second] {
            let answer = answer.unwrap();
            assert_eq!(answer.status(), 200, "round {round}: {}", answer.text().await.unwrap_or_default());
            let body: Value = answer.json().await.unwrap();
            for item in body["results"].as_array().unwrap() {
                statuses
                    .entry(item["id"].as_str().unwrap().to_owned())
                    .or_default()
                    .push(item["status"].as_str().unwrap().to_owned());
            }
        }
        assert_eq!(statuses.len(), 8);
        for (id, mut seen) in statuses {
            seen.sort();
            assert_eq!(seen, ["applied", "unchanged"], "round {round}, {id}");
        }
    }
    let stored: i64 = {
        use diesel::prelude::*;
        use lagesbild::db::schema::observations;
        observations::table.filter(observations::id.like("twice-%")).count().get_result(&mut app.conn()).unwrap()
    };
    assert_eq!(stored, rounds * 8);
}
