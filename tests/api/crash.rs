//! Crash safety: the server is killed (SIGKILL) in the middle of pushes and restarted; the
//! clients retry, and nothing acknowledged is lost and nothing is stored twice.

use crate::cli::{lagesbild, serve_in_background};
use crate::helpers::*;
use crate::sync::{created, observation};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Starts `lagesbild serve` on a free port over the test app's database.
fn start_server(app: &TestApp) -> (Child, String) {
    let (child, address) = serve_in_background(lagesbild(app).env("LAGESBILD_JWT_SECRET", TEST_KEY));
    (child, format!("http://{address}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_loses_nothing_it_acknowledged_and_stores_nothing_twice() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let (mut server, address) = start_server(&app);
    let address = Arc::new(Mutex::new(address));
    let acknowledged = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    // Pushes on the wire now, the crashes so far, and pushes the crash cut off mid-flight.
    let in_flight = Arc::new(AtomicUsize::new(0));
    let crashes = Arc::new(AtomicUsize::new(0));
    let cut_off = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for client_index in 0..4 {
        let tokens = app.login("tyreso", "field", PASSWORD, &format!("crash-phone-{client_index}")).await;
        let address = address.clone();
        let acknowledged = acknowledged.clone();
        let (in_flight, crashes, cut_off) = (in_flight.clone(), crashes.clone(), cut_off.clone());
        let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        clients.push(tokio::spawn(async move {
            let mut pushed = BTreeSet::new();
            for batch in 0..40 {
                let records: Vec<Value> =
                    (0..10).map(|n| observation(&format!("c{client_index}-{batch:03}-{n}"), "crash test")).collect();
                let body = created("observations", records);
                // Retry the same push until it is answered, across the crash and restart.
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    let url = format!("{}/api/v1/sync/push?last_pulled_at=null", address.lock().unwrap().clone());
                    let crashes_before = crashes.load(Ordering::SeqCst);
                    in_flight.fetch_add(1, Ordering::SeqCst);
                    let answer = http.post(url).bearer_auth(&tokens.access).json(&body).send().await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    if answer.is_err() && crashes.load(Ordering::SeqCst) != crashes_before {
                        cut_off.fetch_add(1, Ordering::SeqCst); // on the wire when the server died
                    }
                    if let Ok(response) = answer
                        && response.status() == 200
                    {
                        let result: Value = response.json().await.unwrap();
                        let mut acknowledged = acknowledged.lock().unwrap();
                        for item in result["results"].as_array().unwrap() {
                            let status = item["status"].as_str().unwrap();
                            assert!(status == "applied" || status == "unchanged", "{item}");
                            acknowledged.insert(item["id"].as_str().unwrap().to_owned());
                        }
                        break;
                    }
                    assert!(Instant::now() < deadline, "the push never got through");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                for n in 0..10 {
                    pushed.insert(format!("c{client_index}-{batch:03}-{n}"));
                }
            }
            pushed
        }));
    }

    // Once pushes have been acknowledged, kill the server while one is on the wire, and start it
    // again.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 40 || in_flight.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no push was acknowledged and in flight");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let before_kill = acknowledged.lock().unwrap().clone();
    crashes.fetch_add(1, Ordering::SeqCst);
    server.kill().unwrap();
    server.wait().unwrap();
    let (mut restarted, new_address) = start_server(&app);
    *address.lock().unwrap() = new_address.clone();

    let mut pushed = BTreeSet::new();
    for client in clients {
        pushed.extend(client.await.unwrap());
    }
    assert!(!before_kill.is_empty(), "some pushes were acknowledged before the crash");
    assert!(cut_off.load(Ordering::SeqCst) > 0, "a push was on the wire when the server died, and was retried");

    // Everything is stored exactly once: the pushed set, listed without duplicates.
    let listed = list_observation_ids(&app.client, &new_address, &tenant.coordinator.tokens.access).await;
    let stored: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(stored.len(), listed.len(), "nothing is stored twice");
    for id in &before_kill {
        assert!(stored.contains(id), "{id} was acknowledged before the crash and is lost");
    }
    assert_eq!(stored, pushed, "every retried push arrived once");
    restarted.kill().unwrap();
    restarted.wait().unwrap();
}
