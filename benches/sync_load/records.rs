//! The records the devices push: notes from a small corpus, positions, times.

use super::*;

pub const WORDS: &[&str] = &[
    "grupp",
    "ungdomar",
    "vid",
    "busshållplatsen",
    "centrum",
    "lugnt",
    "stökigt",
    "glaskross",
    "klotter",
    "på",
    "väggen",
    "bakom",
    "skolan",
    "parkeringen",
    "fyra",
    "sex",
    "personer",
    "samtal",
    "med",
    "föräldrar",
    "polis",
    "kontaktad",
    "hänvisade",
    "till",
    "fritidsgården",
    "trasig",
    "belysning",
    "gångtunneln",
    "mörkt",
    "otryggt",
    "kvällen",
    "hög",
    "musik",
    "mopeder",
    "torget",
    "butiken",
    "väktare",
    "närvarande",
    "nya",
    "besökare",
    "återkommer",
    "imorgon",
    "följ",
    "upp",
    "socialtjänsten",
    "anmälan",
    "gjord",
    "skadegörelse",
    "papperskorg",
    "brand",
    "släckt",
    "rök",
    "lekplatsen",
    "sent",
    "fredag",
    "lördag",
    "stationen",
    "pendeltåg",
    "rån",
    "hot",
    "bråk",
    "lugnade",
    "sig",
];

/// One observation's reporter-owned content.
#[derive(Clone)]
pub struct Content {
    pub category: String,
    pub severity: i32,
    pub perceived_safety: i32,
    pub people_count: Option<i32>,
    pub age_band: Option<&'static str>,
    pub note: String,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f64>,
    pub observed_at: i64,
    pub needs_follow_up: bool,
}

/// A pool of varied, valid observation contents (notes of varying length, a few with a phone
/// number the server redacts, categories of the organisation, positions and times spread out),
/// and the same records as JSON, so a request body is built by concatenation.
pub struct Corpus {
    pub contents: Vec<Content>,
    /// Each content as JSON without its id and without the opening brace.
    pub suffixes: Vec<String>,
}

impl Corpus {
    pub fn new(categories: &[String], size: usize, seed: u64) -> Self {
        let mut rng = seed;
        let now = chrono::Utc::now().timestamp_millis();
        let bands =
            [None, Some("under_13"), Some("13_15"), Some("16_17"), Some("18_24"), Some("25_plus"), Some("unknown")];
        let mut contents = Vec::with_capacity(size);
        for _ in 0..size {
            let words = match below(&mut rng, 10) {
                0 => 0,
                1..=6 => 4 + below(&mut rng, 16),
                _ => 20 + below(&mut rng, 40),
            };
            let mut note =
                (0..words).map(|_| WORDS[below(&mut rng, WORDS.len() as u64) as usize]).collect::<Vec<_>>().join(" ");
            if below(&mut rng, 20) == 0 {
                note.push_str(&format!(
                    ", vittne nås på 070-{:03} {:02} {:02}",
                    below(&mut rng, 1000),
                    below(&mut rng, 100),
                    below(&mut rng, 100)
                ));
            }
            let people = below(&mut rng, 12) as i32;
            contents.push(Content {
                category: categories[below(&mut rng, categories.len() as u64) as usize].clone(),
                severity: 1 + below(&mut rng, 5) as i32,
                perceived_safety: 1 + below(&mut rng, 5) as i32,
                people_count: (people < 11).then_some(people),
                age_band: bands[below(&mut rng, bands.len() as u64) as usize],
                note,
                lat: 59.20 + below(&mut rng, 200_000) as f64 / 1_000_000.0,
                lon: 17.90 + below(&mut rng, 400_000) as f64 / 1_000_000.0,
                accuracy_m: (below(&mut rng, 8) != 0).then(|| (3 + below(&mut rng, 60)) as f64 + 0.5),
                observed_at: now - 60_000 - below(&mut rng, 6 * 3_600_000) as i64,
                needs_follow_up: below(&mut rng, 5) == 0,
            });
        }
        let suffixes = contents
            .iter()
            .map(|c| {
                let text = json!({
                    "category": c.category,
                    "severity": c.severity,
                    "perceived_safety": c.perceived_safety,
                    "people_count": c.people_count,
                    "age_band": c.age_band,
                    "note": c.note,
                    "lat": c.lat,
                    "lon": c.lon,
                    "accuracy_m": c.accuracy_m,
                    "observed_at": c.observed_at,
                    "needs_follow_up": c.needs_follow_up,
                    "sync_error": null,
                    "_status": "created",
                    "_changed": "",
                })
                .to_string();
                text[1..].to_owned()
            })
            .collect();
        Self { contents, suffixes }
    }

    pub fn pick(&self, rng: &mut u64) -> usize {
        below(rng, self.contents.len() as u64) as usize
    }

    /// One new record with a fresh UUIDv7 id, as JSON.
    pub fn push_record(&self, out: &mut String, rng: &mut u64) {
        out.push_str("{\"id\":\"");
        out.push_str(&uuid::Uuid::now_v7().to_string());
        out.push_str("\",");
        out.push_str(&self.suffixes[self.pick(rng)]);
    }

    /// A push body of `batch` new observations.
    pub fn body(&self, batch: usize, rng: &mut u64) -> String {
        let mut out = String::with_capacity(64 + batch * 400);
        out.push_str("{\"observations\":{\"created\":[");
        for i in 0..batch {
            if i > 0 {
                out.push(',');
            }
            self.push_record(&mut out, rng);
        }
        out.push_str("],\"updated\":[],\"deleted\":[]}}");
        out
    }

    /// `batch` new observations as JSON values, for calling `sync_push::push` directly.
    pub fn values(&self, batch: usize, rng: &mut u64) -> Vec<Value> {
        (0..batch)
            .map(|_| {
                let mut out = String::with_capacity(400);
                self.push_record(&mut out, rng);
                serde_json::from_str(&out).unwrap_or(Value::Null)
            })
            .collect()
    }

    /// A new row for the raw inserts: a row the server stored for this owner (so every column,
    /// present or future, is as the server fills it), with a fresh id and this corpus's content.
    pub fn row(&self, template: &ObservationRow, seq: i64, rng: &mut u64) -> ObservationRow {
        let c = &self.contents[self.pick(rng)];
        let now = chrono::Utc::now().timestamp_millis();
        let mut row = template.clone();
        row.id = uuid::Uuid::now_v7().to_string();
        row.category.clone_from(&c.category);
        row.severity = c.severity;
        row.perceived_safety = c.perceived_safety;
        row.people_count = c.people_count;
        row.age_band = c.age_band.map(str::to_owned);
        row.note.clone_from(&c.note);
        row.lat = c.lat;
        row.lon = c.lon;
        row.accuracy_m = c.accuracy_m;
        row.observed_at = c.observed_at;
        row.observed_at_device = c.observed_at;
        row.needs_follow_up = c.needs_follow_up;
        row.created_at = now;
        row.updated_at = now;
        row.created_seq = seq;
        row.content_seq = seq;
        row.review_seq = seq;
        row.server_seq = seq;
        row
    }
}

/// The owner of rows written straight into the database.
#[derive(Clone)]
pub struct Who {
    pub organisation_id: String,
    pub user_id: String,
    pub device_id: String,
    /// A row the server stored for this owner through a push.
    pub template: ObservationRow,
}
