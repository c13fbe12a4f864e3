//! The request loops: devices pushing back to back or paced, and the bare-handler baseline.

use super::*;

#[derive(Clone)]
pub enum Endpoint {
    /// `POST /api/v1/sync/push` of the real server.
    Push { base: String },
    /// The bare handler of the HTTP ceiling.
    Bare { url: String },
}

/// What one load phase sent and got.
#[derive(Default)]
pub struct Sample {
    pub latencies: Vec<Duration>,
    pub records: u64,
    pub errors: BTreeMap<String, u64>,
    pub elapsed: Duration,
    /// CPU ticks the storage threads measured on themselves (they exit before the snapshot).
    pub own_ticks: u64,
}

impl Sample {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

pub struct Load {
    pub client: reqwest::Client,
    pub devices: Arc<Vec<Device>>,
    pub corpus: Arc<Corpus>,
}

impl Load {
    /// `shape.devices` tasks, each one device pushing `shape.batch` new records per request, back to
    /// back (`pace` None) or once per `pace` from a staggered start, until `duration` has passed or
    /// `max_requests` have been sent. In paced mode a latency counts from the scheduled send time.
    pub async fn run(
        &self,
        endpoint: &Endpoint,
        shape: Shape,
        pace: Option<Duration>,
        duration: Duration,
        max_requests: u64,
    ) -> Sample {
        let started = Instant::now();
        let deadline = started + duration;
        let sent = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::with_capacity(shape.devices);
        for worker in 0..shape.devices {
            let client = self.client.clone();
            let devices = self.devices.clone();
            let corpus = self.corpus.clone();
            let sent = sent.clone();
            let endpoint = endpoint.clone();
            tasks.push(tokio::spawn(async move {
                let device = &devices[worker % devices.len()];
                let url = match &endpoint {
                    Endpoint::Push { base } => format!("{base}/api/v1/sync/push?last_pulled_at={}", device.cursor),
                    Endpoint::Bare { url } => url.clone(),
                };
                let mut rng =
                    (worker as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D) ^ started.elapsed().as_nanos() as u64;
                let mut next = pace.map(|interval| started + interval.mul_f64(worker as f64 / shape.devices as f64));
                let mut latencies = Vec::new();
                let mut records = 0u64;
                let mut errors = BTreeMap::<String, u64>::new();
                loop {
                    let scheduled = match (next, pace) {
                        (Some(at), Some(interval)) => {
                            if at >= deadline {
                                break;
                            }
                            tokio::time::sleep_until(at.into()).await;
                            next = Some(at + interval);
                            at
                        }
                        _ => {
                            let now = Instant::now();
                            if now >= deadline {
                                break;
                            }
                            now
                        }
                    };
                    if sent.fetch_add(1, Ordering::Relaxed) >= max_requests {
                        break;
                    }
                    let body = corpus.body(shape.batch, &mut rng);
                    match send(&client, &endpoint, &url, &device.token, shape.batch, body).await {
                        Ok(applied) => {
                            latencies.push(scheduled.elapsed());
                            records += applied;
                        }
                        Err(error) => *errors.entry(error).or_default() += 1,
                    }
                }
                (latencies, records, errors)
            }));
        }
        let mut sample = Sample::default();
        for task in tasks {
            match task.await {
                Ok((latencies, records, errors)) => {
                    sample.latencies.extend(latencies);
                    sample.records += records;
                    for (error, count) in errors {
                        *sample.errors.entry(error).or_default() += count;
                    }
                }
                Err(_) => *sample.errors.entry("client task failed".to_owned()).or_default() += 1,
            }
        }
        sample.elapsed = started.elapsed();
        sample.latencies.sort();
        sample
    }
}

/// One request; the records it got stored (or carried, for the bare handler), or why it failed.
pub async fn send(
    client: &reqwest::Client,
    endpoint: &Endpoint,
    url: &str,
    token: &str,
    batch: usize,
    body: String,
) -> Result<u64, String> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let response = client
        .post(url)
        .bearer_auth(token)
        .header(CONTENT_TYPE, "application/json")
        .header("x-client-time", now_ms.to_string())
        .header("x-pending-count", batch.to_string())
        .body(body)
        .send()
        .await
        .map_err(|error| transport(&error))?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(|error| transport(&error))?;
    if status != 200 {
        let code = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|problem| problem["code"].as_str().map(str::to_owned))
            .unwrap_or_default();
        return Err(format!("{status} {code}"));
    }
    match endpoint {
        Endpoint::Bare { .. } => Ok(batch as u64),
        Endpoint::Push { .. } => {
            let applied = std::str::from_utf8(&bytes).map_or(0, |text| text.matches(APPLIED).count());
            if applied == batch { Ok(applied as u64) } else { Err(format!("200 with {applied} of {batch} applied")) }
        }
    }
}

pub fn transport(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".to_owned()
    } else if error.is_connect() {
        "connect".to_owned()
    } else {
        "transport".to_owned()
    }
}

/// The HTTP ceiling: one route that takes a body and answers a small JSON document.
pub async fn bare_handler(body: actix_web::web::Bytes) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(json!({ "received": body.len() }))
}
