//! A simulated fleet: 50 devices (25 users with two phones each) record, edit and delete offline
//! and sync through a transport that drops requests, drops responses, duplicates them and
//! replays old pushes late. After a final clean sync, every record exists exactly once with the
//! merged content, every device holds exactly the server's view of its scope, nothing accepted is
//! lost, and every invalid record is in quarantine and visible to its device.

use crate::helpers::*;
use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashSet};

const USERS: usize = 25;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LocalStatus {
    Synced,
    Created,
    Updated,
    Deleted,
}

#[derive(Debug, Clone)]
struct Local {
    raw: Map<String, Value>,
    status: LocalStatus,
    changed: BTreeSet<String>,
}

/// A phone with a local database that follows WatermelonDB's sync rules.
struct Device {
    token: String,
    cursor: Option<i64>,
    records: BTreeMap<String, Local>,
    sent_pushes: Vec<(Option<i64>, Value)>,
}

/// What the faulty network does to one request.
#[derive(Debug, Clone, Copy)]
enum Fault {
    None,
    DropRequest,
    DropResponse,
    Duplicate,
}

struct Network {
    rng: rand::rngs::StdRng,
    faulty: bool,
}

impl Network {
    fn fault(&mut self) -> Fault {
        if !self.faulty {
            return Fault::None;
        }
        match self.rng.random_range(0..100) {
            0..=9 => Fault::DropRequest,
            10..=19 => Fault::DropResponse,
            20..=27 => Fault::Duplicate,
            _ => Fault::None,
        }
    }

    fn replay_old(&mut self) -> bool {
        self.faulty && self.rng.random_range(0..100) < 10
    }
}

/// Sends a request through the network; `None` when the device sees a network failure.
async fn send(app: &TestApp, network: &mut Network, request: reqwest::RequestBuilder) -> Option<Value> {
    let fault = network.fault();
    if matches!(fault, Fault::DropRequest) {
        return None;
    }
    let duplicate = request.try_clone();
    let response = request.send().await.expect("the server answers");
    assert!(response.status().is_success(), "sync request failed: {}", response.status());
    let mut body: Value = response.json().await.expect("JSON");
    if let (Fault::Duplicate, Some(again)) = (fault, duplicate) {
        let response = again.send().await.expect("the server answers");
        assert!(response.status().is_success());
        body = response.json().await.expect("JSON");
    }
    let _ = app;
    match fault {
        Fault::DropResponse => None,
        _ => Some(body),
    }
}

impl Device {
    async fn pull(&mut self, app: &TestApp, network: &mut Network) -> bool {
        let mut page_token: Option<String> = None;
        let mut pages = Vec::new();
        loop {
            let mut url = format!(
                "/api/v1/sync/pull?last_pulled_at={}&limit=50",
                self.cursor.map_or("null".to_owned(), |c| c.to_string())
            );
            if let Some(token) = &page_token {
                url.push_str(&format!("&page_token={token}"));
            }
            let Some(body) = send(app, network, app.client.get(app.url(&url)).bearer_auth(&self.token)).await else {
                return false;
            };
            let more = body["has_more"] == true;
            page_token = body["page_token"].as_str().map(str::to_owned);
            pages.push(body);
            if !more {
                break;
            }
        }
        for body in &pages {
            if body["experimentalStrategy"] == "replacement" {
                let keep: HashSet<String> = ["created", "updated"]
                    .iter()
                    .flat_map(|b| {
                        body["changes"]["observations"][b]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|r| r["id"].as_str().unwrap().to_owned())
                    })
                    .collect();
                self.records.retain(|id, local| local.status != LocalStatus::Synced || keep.contains(id));
            }
            let changes = &body["changes"]["observations"];
            for raw in changes["created"].as_array().unwrap().iter().chain(changes["updated"].as_array().unwrap()) {
                let raw = raw.as_object().unwrap().clone();
                let id = raw["id"].as_str().unwrap().to_owned();
                match self.records.get_mut(&id) {
                    None => {
                        self.records.insert(id, Local { raw, status: LocalStatus::Synced, changed: BTreeSet::new() });
                    }
                    Some(local) if local.status == LocalStatus::Synced => local.raw = raw,
                    Some(local) if local.status == LocalStatus::Deleted => {}
                    Some(local) => {
                        // Per-column merge: local edits win, the rest comes from the server.
                        let mut merged = raw.clone();
                        for column in &local.changed {
                            if let Some(value) = local.raw.get(column) {
                                merged.insert(column.clone(), value.clone());
                            }
                        }
                        local.raw = merged;
                        local.status = LocalStatus::Updated;
                    }
                }
            }
            for id in changes["deleted"].as_array().unwrap() {
                self.records.remove(id.as_str().unwrap());
            }
        }
        let last = pages.last().expect("at least one page");
        self.cursor = Some(last["timestamp"].as_i64().unwrap());
        true
    }

    async fn push(&mut self, app: &TestApp, network: &mut Network, applied: &mut BTreeSet<String>) {
        let mut created = Vec::new();
        let mut updated = Vec::new();
        let mut deleted = Vec::new();
        let mut sent: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        for (id, local) in &self.records {
            let mut raw = local.raw.clone();
            raw.insert(
                "_status".into(),
                json!(match local.status {
                    LocalStatus::Created => "created",
                    _ => "updated",
                }),
            );
            raw.insert("_changed".into(), json!(local.changed.iter().cloned().collect::<Vec<_>>().join(",")));
            match local.status {
                LocalStatus::Synced => continue,
                LocalStatus::Created => created.push(Value::Object(raw.clone())),
                LocalStatus::Updated => updated.push(Value::Object(raw.clone())),
                LocalStatus::Deleted => deleted.push(json!(id)),
            }
            sent.insert(id.clone(), local.raw.clone());
        }
        if sent.is_empty() {
            return;
        }
        let changes = json!({ "observations": { "created": created, "updated": updated, "deleted": deleted } });
        if network.replay_old() && !self.sent_pushes.is_empty() {
            // A copy of an old push arrives late.
            let index = network.rng.random_range(0..self.sent_pushes.len());
            let (cursor, body) = self.sent_pushes[index].clone();
            let url =
                format!("/api/v1/sync/push?last_pulled_at={}", cursor.map_or("null".to_owned(), |c| c.to_string()));
            let response = app.client.post(app.url(&url)).bearer_auth(&self.token).json(&body).send().await.unwrap();
            assert!(response.status().is_success());
        }
        self.sent_pushes.push((self.cursor, changes.clone()));
        let url =
            format!("/api/v1/sync/push?last_pulled_at={}", self.cursor.map_or("null".to_owned(), |c| c.to_string()));
        let request = app.client.post(app.url(&url)).bearer_auth(&self.token).json(&changes);
        let Some(body) = send(app, network, request).await else { return };
        for result in body["results"].as_array().unwrap() {
            let id = result["id"].as_str().unwrap();
            let status = result["status"].as_str().unwrap();
            if status == "applied" {
                applied.insert(id.to_owned());
            }
            if status == "conflict" {
                continue;
            }
            // Accepted, already there, quarantined or refused: the local change is synced.
            if let Some(local) = self.records.get_mut(id) {
                if local.status == LocalStatus::Deleted {
                    self.records.remove(id);
                } else {
                    local.status = LocalStatus::Synced;
                    local.changed.clear();
                }
            }
        }
    }

    async fn sync(&mut self, app: &TestApp, network: &mut Network, applied: &mut BTreeSet<String>) {
        if self.pull(app, network).await {
            self.push(app, network, applied).await;
        }
    }

    fn pending(&self) -> bool {
        self.records.values().any(|local| local.status != LocalStatus::Synced)
    }
}

#[derive(Debug, Clone)]
enum Action {
    Create { valid: bool },
    Edit { pick: usize },
    Delete { pick: usize },
    Sync,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (0u8..10).prop_map(|n| Action::Create { valid: n < 8 }),
        3 => any::<usize>().prop_map(|pick| Action::Edit { pick }),
        1 => any::<usize>().prop_map(|pick| Action::Delete { pick }),
        3 => Just(Action::Sync),
    ]
}

fn new_observation(id: &str, valid: bool) -> Map<String, Value> {
    let value = json!({
        "id": id,
        "category": "youth_gathering",
        "severity": if valid { 2 } else { 9 },
        "perceived_safety": 3,
        "people_count": 6,
        "age_band": "16_17",
        "note": "samling vid torget",
        "lat": 59.24,
        "lon": 18.23,
        "accuracy_m": 8.0,
        "observed_at": chrono::Utc::now().timestamp_millis() - 120_000,
        "needs_follow_up": false,
    });
    value.as_object().unwrap().clone()
}

async fn run_fleet(script: Vec<(usize, Action)>, seed: u64) {
    let app = spawn_app_with(|settings| settings.max_pull_limit = 10_000).await;
    let org = app.seed_org("fleet");
    app.seed_unit(&org, "falt");
    let coordinator_id = app.seed_user(&org, "coordinator", lagesbild::domain::identity::Role::Coordinator, None);
    let _ = coordinator_id;
    let mut devices = Vec::new();
    for user in 0..USERS {
        let name = format!("user{user}");
        app.seed_user(&org, &name, lagesbild::domain::identity::Role::Field, Some("falt"));
        for phone in 0..2 {
            let tokens = app.login("fleet", &name, PASSWORD, &format!("{name}-phone{phone}")).await;
            devices.push(Device {
                token: tokens.access,
                cursor: None,
                records: BTreeMap::new(),
                sent_pushes: Vec::new(),
            });
        }
    }
    let mut network = Network { rng: rand::rngs::StdRng::seed_from_u64(seed), faulty: true };
    let mut applied = BTreeSet::new();
    let mut invalid = BTreeSet::new();
    let mut locally_deleted = BTreeSet::new();
    for (step, (device_index, action)) in script.into_iter().enumerate() {
        let count = devices.len();
        let device = &mut devices[device_index % count];
        match action {
            Action::Create { valid } => {
                let id = format!("{seed:08x}-{step:06}-{device_index:03}");
                if !valid {
                    invalid.insert(id.clone());
                }
                device.records.insert(
                    id.clone(),
                    Local { raw: new_observation(&id, valid), status: LocalStatus::Created, changed: BTreeSet::new() },
                );
            }
            Action::Edit { pick } => {
                let live: Vec<String> = device
                    .records
                    .iter()
                    .filter(|(_, l)| l.status != LocalStatus::Deleted)
                    .map(|(id, _)| id.clone())
                    .collect();
                if let Some(id) = live.get(pick % live.len().max(1)) {
                    let local = device.records.get_mut(id).unwrap();
                    local.raw.insert("note".into(), json!(format!("edited at step {step}")));
                    if invalid.contains(id) && pick % 2 == 0 {
                        // The user fixes what the server refused.
                        local.raw.insert("severity".into(), json!(4));
                        local.changed.insert("severity".into());
                        invalid.remove(id);
                    }
                    local.changed.insert("note".into());
                    if local.status == LocalStatus::Synced {
                        local.status = LocalStatus::Updated;
                    }
                }
            }
            Action::Delete { pick } => {
                let live: Vec<String> = device
                    .records
                    .iter()
                    .filter(|(_, l)| l.status != LocalStatus::Deleted)
                    .map(|(id, _)| id.clone())
                    .collect();
                if let Some(id) = live.get(pick % live.len().max(1)) {
                    locally_deleted.insert(id.clone());
                    if device.records[id].status == LocalStatus::Created {
                        device.records.remove(id);
                    } else {
                        device.records.get_mut(id).unwrap().status = LocalStatus::Deleted;
                    }
                }
            }
            Action::Sync => device.sync(&app, &mut network, &mut applied).await,
        }
    }

    // The network heals: every device syncs until nothing is pending, then once more to see the
    // others' last changes.
    network.faulty = false;
    for _round in 0..4 {
        for device in devices.iter_mut() {
            device.sync(&app, &mut network, &mut applied).await;
        }
    }
    for device in devices.iter_mut() {
        assert!(!device.pending(), "a device still has unsynced changes after a clean sync");
        device.pull(&app, &mut network).await;
    }

    // The server's view: a coordinator's snapshot and the REST list agree, without duplicates.
    let coordinator = app.login("fleet", "coordinator", PASSWORD, "dashboard").await;
    let mut server =
        Device { token: coordinator.access.clone(), cursor: None, records: BTreeMap::new(), sent_pushes: Vec::new() };
    server.pull(&app, &mut network).await;
    let listed = list_observation_ids(&app.client, &app.address, &coordinator.access).await;
    let distinct: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(distinct.len(), listed.len(), "every record exists exactly once");
    let stored: BTreeSet<String> = server.records.keys().cloned().collect();
    assert_eq!(stored, distinct, "the snapshot and the list agree");

    // Nothing accepted is lost: every applied record is stored unless someone deleted it.
    for id in &applied {
        assert!(stored.contains(id) || locally_deleted.contains(id), "accepted record {id} was lost");
    }

    // Every device holds exactly what a fresh snapshot of its scope holds, column for column.
    for (index, device) in devices.iter().enumerate() {
        let mut fresh =
            Device { token: device.token.clone(), cursor: None, records: BTreeMap::new(), sent_pushes: Vec::new() };
        fresh.pull(&app, &mut network).await;
        let local: BTreeMap<&String, &Map<String, Value>> = device.records.iter().map(|(id, l)| (id, &l.raw)).collect();
        let truth: BTreeMap<&String, &Map<String, Value>> = fresh.records.iter().map(|(id, l)| (id, &l.raw)).collect();
        assert_eq!(
            local.keys().collect::<Vec<_>>(),
            truth.keys().collect::<Vec<_>>(),
            "device {index} holds other records than its scope"
        );
        for (id, raw) in &truth {
            for column in ["note", "severity", "status", "sync_error", "category"] {
                assert_eq!(local[id].get(column), raw.get(column), "device {index}, record {id}, column {column}");
            }
        }
        // Stored records in scope match the server's stored version.
        for (id, raw) in &truth {
            if raw["sync_error"].is_null() {
                assert_eq!(server.records[*id].raw.get("note"), raw.get("note"), "record {id}");
            }
        }
    }

    // Every record still invalid is in quarantine and comes back to its devices with the reason.
    let quarantine: Vec<Value> = app.get("/api/v1/sync/quarantine", &coordinator.access).await.json().await.unwrap();
    let open: BTreeSet<String> =
        quarantine.iter().filter(|q| q["resolved"] == false).map(|q| q["id"].as_str().unwrap().to_owned()).collect();
    for id in invalid.iter().filter(|id| !locally_deleted.contains(*id)) {
        let held_somewhere = devices.iter().any(|d| d.records.get(id).is_some_and(|l| l.raw["sync_error"].is_string()));
        let ever_pushed =
            devices.iter().any(|d| d.sent_pushes.iter().any(|(_, body)| body.to_string().contains(id.as_str())));
        if ever_pushed {
            assert!(open.contains(id), "invalid record {id} is not in quarantine");
            assert!(held_somewhere, "invalid record {id} is not visible to its device");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("FLEET_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2),
        max_shrink_iters: 0,
        .. ProptestConfig::default()
    })]

    #[test]
    fn a_faulty_network_never_loses_or_duplicates_a_record(
        script in proptest::collection::vec((0usize..USERS * 2, action()), 300..500),
        seed in any::<u64>(),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(run_fleet(script, seed));
    }
}
