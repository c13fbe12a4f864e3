//! Synthetic observations and activity logs with the shape of the real work: evening peaks,
//! darkness-related reports in winter, young people gathering on summer evenings, outreach shifts
//! several evenings a week, guard patrols at weekends, the summer café at Granängsringen in June
//! to August (with more visitors each year), association hosts, safety walks and meetings.
//!
//! Pure and deterministic: each local date draws from a generator seeded with the date, so a
//! given day always gets the same records. Records come out as the raw JSON a phone pushes.

use super::places::{AREAS, DemoArea, MUNICIPALITY, area};
use crate::domain::reference::DEFAULT_CATEGORIES;
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Weekday};
use chrono_tz::Tz;
use serde_json::{Value, json};

/// The seed all days derive from.
const SEED: u64 = 0x7479_7265_736f_2d64;

/// SplitMix64: a tiny, fast generator with a fixed, documented sequence, so the demo data do not
/// change when a dependency's generator does.
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A number in [low, high).
    pub fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// An integer in [low, high].
    pub fn int(&mut self, low: i64, high: i64) -> i64 {
        low + (self.unit() * ((high - low + 1) as f64)) as i64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// An index drawn in proportion to the weights.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut left = self.unit() * total;
        for (i, weight) in weights.iter().enumerate() {
            if left < *weight {
                return i;
            }
            left -= weight;
        }
        weights.len().saturating_sub(1)
    }

    /// One of the items, evenly.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.weighted(&vec![1.0; items.len()])]
    }
}

/// Who reports a record: a demo username.
pub type Reporter = &'static str;

/// The records of the demo, by reporter, as phones would push them.
#[derive(Debug, Default, PartialEq)]
pub struct Generated {
    pub observations: Vec<(Reporter, Value)>,
    pub activities: Vec<(Reporter, Value)>,
    /// (observation id, status, review comment) that the coordinator sets.
    pub reviews: Vec<(String, &'static str, Option<&'static str>)>,
}

/// The year of the latest summer that has begun by `today`.
pub fn latest_summer(today: NaiveDate) -> i32 {
    if today.month() >= 6 { today.year() } else { today.year() - 1 }
}

/// Generates every record from `first_day` up to `now_ms` (local dates in `tz`); nothing later
/// than `now_ms` is made.
pub fn generate(tz: Tz, first_day: NaiveDate, now_ms: i64) -> Generated {
    let today =
        chrono::DateTime::from_timestamp_millis(now_ms).map_or(first_day, |at| at.with_timezone(&tz).date_naive());
    let mut day =
        Day { tz, now_ms, today, first_day, out: Generated::default(), rng: SplitMix64::new(0), date: first_day };
    let mut date = first_day;
    while date <= today {
        day.date = date;
        day.rng =
            SplitMix64::new(SEED ^ (i64::from(date.num_days_from_ce()) as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
        day.observations();
        day.activities();
        date += Duration::days(1);
    }
    day.out
}

struct Day {
    tz: Tz,
    now_ms: i64,
    today: NaiveDate,
    first_day: NaiveDate,
    date: NaiveDate,
    rng: SplitMix64,
    out: Generated,
}

/// The categories the demo reports in: the default taxonomy's slugs, in its order.
fn category(index: usize) -> &'static str {
    DEFAULT_CATEGORIES.get(index).map_or("positive", |(slug, _, _)| slug)
}

/// Each default category's share of the observations, in the taxonomy's order.
const BASE_WEIGHTS: [f64; 13] = [10.0, 8.0, 9.0, 2.0, 5.0, 8.0, 12.0, 3.0, 5.0, 2.0, 1.5, 6.0, 9.0];
const _: () = assert!(BASE_WEIGHTS.len() == DEFAULT_CATEGORIES.len(), "a weight for every default category");

/// Relative number of observations by local hour: few in the morning, a peak from 18 to 23.
const HOURS: [f64; 24] = [
    1.6, 1.0, 0.6, 0.3, 0.15, 0.1, 0.15, 0.3, 0.4, 0.4, 0.45, 0.5, 0.55, 0.6, 0.8, 1.1, 1.4, 1.8, 2.6, 3.2, 3.6, 3.6,
    3.0, 2.3,
];

/// Relative number of observations by month, January first.
const MONTHS: [f64; 12] = [0.9, 0.85, 0.9, 1.0, 1.1, 1.25, 1.15, 1.2, 1.05, 1.0, 0.95, 0.9];

const GENDERS: [&str; 4] = ["girls", "boys", "gender_other", "gender_unknown"];
const AGES: [&str; 6] = ["age_under_13", "age_13_15", "age_16_17", "age_18_24", "age_25_plus", "age_unknown"];

/// Short place names for notes.
fn place(code: &str) -> &'static str {
    match code {
        "GRR" => "Granängsringen",
        "TYC" => "Tyresö centrum",
        "TRB" => "Trollbäcken",
        "TYS" => "Tyresö strand",
        "ORI" => "Öringe",
        "KRU" => "Krusboda",
        "BRE" => "Brevik",
        _ => "Tyresö",
    }
}

fn is_summer(month: u32) -> bool {
    (6..=8).contains(&month)
}

/// How dark the month's evenings are: 1 in the darkest months, 0 in the light summer.
fn darkness(month: u32) -> f64 {
    match month {
        11 | 12 | 1 => 1.0,
        2 | 10 => 0.7,
        3 | 9 => 0.35,
        4 | 8 => 0.15,
        _ => 0.0,
    }
}

impl Day {
    fn month(&self) -> u32 {
        self.date.month()
    }

    /// Years since the first day, 0 to about 2.
    fn years_in(&self) -> f64 {
        (self.date - self.first_day).num_days() as f64 / 365.25
    }

    /// A local time of this day (or a later one) in ms, when it exists.
    fn at(&self, days_after: i64, hour: u32, minute: u32) -> Option<i64> {
        let date = self.date + Duration::days(days_after);
        let local = date.and_hms_opt(hour, minute, 0)?;
        // The hour skipped when clocks go forward does not exist; the next one does.
        let at = self
            .tz
            .from_local_datetime(&local)
            .earliest()
            .or_else(|| self.tz.from_local_datetime(&(local + Duration::hours(1))).earliest())?;
        Some(at.timestamp_millis())
    }

    /// A record id: a UUIDv7 of the record's time with random bits from the day's generator.
    fn id(&mut self, at_ms: i64) -> String {
        let mut bytes = [0u8; 10];
        bytes[..8].copy_from_slice(&self.rng.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.rng.next_u64().to_le_bytes()[..2]);
        uuid::Builder::from_unix_timestamp_millis(u64::try_from(at_ms).unwrap_or_default(), &bytes)
            .into_uuid()
            .to_string()
    }

    fn observations(&mut self) {
        let month = self.month();
        let weekday = match self.date.weekday() {
            Weekday::Mon => 0.8,
            Weekday::Tue => 0.85,
            Weekday::Wed => 0.9,
            Weekday::Thu => 0.95,
            Weekday::Fri => 1.3,
            Weekday::Sat => 1.35,
            Weekday::Sun => 0.95,
        };
        let mean = 14.0 * MONTHS[month as usize - 1] * weekday;
        let count = (mean * self.rng.range(0.75, 1.25)).round() as usize;
        for _ in 0..count {
            self.observation();
        }
    }

    fn observation(&mut self) {
        let (month, t) = (self.month(), self.years_in());
        let dark = darkness(month);
        let mut hours = HOURS;
        // Dark afternoons in winter bring reports earlier.
        for weight in &mut hours[15..18] {
            *weight *= 1.0 + 0.4 * dark;
        }
        let hour = self.rng.weighted(&hours) as u32;
        let minute = self.rng.int(0, 59) as u32;
        let Some(at_ms) = self.at(0, hour, minute).map(|ms| ms + self.rng.int(0, 59_999)) else { return };
        if at_ms > self.now_ms {
            return;
        }
        let (code, lat, lon) = self.observation_place(month);
        let evening = (18..=23).contains(&hour);
        let late = hour >= 22 || hour <= 3;
        let daytime = (8..=16).contains(&hour);
        let is_dark_hour = hour >= 20 || hour <= 5 || (dark >= 0.7 && hour >= 16);
        let mut weights = BASE_WEIGHTS;
        for (i, (category, _, _)) in DEFAULT_CATEGORIES.iter().enumerate() {
            let w = &mut weights[i];
            match *category {
                "lighting" => {
                    *w *= 0.3 + 2.7 * dark;
                    // The lighting in Granängsringen was renewed a year into the period.
                    if code == "GRR" {
                        *w *= if t < 1.0 { 1.6 } else { 0.5 };
                    }
                }
                "unsafe_place" => *w *= 1.0 + 0.8 * dark + if is_dark_hour { 0.5 } else { 0.0 },
                "youth_gathering" if is_summer(month) && evening => *w *= 2.5,
                "youth_gathering" if daytime => *w *= 0.4,
                "alcohol" if is_summer(month) => *w *= if code == "TYS" { 2.4 } else { 1.6 },
                "littering" if is_summer(month) => *w *= if code == "TYS" { 2.4 } else { 1.5 },
                "littering" | "graffiti" if daytime => *w *= 1.4,
                "fire" if is_summer(month) => *w *= 1.5,
                "vandalism" | "graffiti" => *w *= 1.0 - 0.12 * t,
                // Recruitment to criminal networks is "a growing problem" (the assignment, T2).
                "criminal_networks" => *w *= (1.0 + 0.45 * t) * if code == "GRR" { 1.8 } else { 1.0 },
                "drugs" if code == "GRR" => *w *= 1.4,
                "positive" => {
                    *w *= (1.0 + 0.1 * t)
                        * if late {
                            0.4
                        } else if daytime {
                            1.3
                        } else {
                            1.0
                        }
                }
                _ => {}
            }
            if late && matches!(*category, "disorder" | "threat_violence" | "drugs") {
                *w *= 1.5;
            }
        }
        // New Year's Eve and night: fireworks.
        let new_year =
            (self.date.month(), self.date.day()) == (12, 31) || (self.date.month(), self.date.day()) == (1, 1);
        if new_year {
            weights[3] *= 6.0;
            weights[5] *= 2.0;
        }
        let category = category(self.rng.weighted(&weights));
        let severity = self.severity(category);
        let mut safety = 4.6 - 0.6 * severity as f64 - if is_dark_hour { 0.5 } else { 0.0 } + self.rng.range(-0.7, 0.7);
        if category == "positive" {
            safety = self.rng.range(4.0, 5.4);
        }
        let perceived_safety = safety.round().clamp(1.0, 5.0) as i64;
        let (people_count, age_band) = self.people(category);
        let needs_follow_up = match category {
            "lighting" => self.rng.chance(0.6),
            "unsafe_place" => self.rng.chance(0.4),
            _ if severity >= 4 => self.rng.chance(0.7),
            _ => self.rng.chance(0.05),
        };
        let note = self.observation_note(category, code, people_count);
        let accuracy_m = if self.rng.chance(0.9) { self.rng.int(4, 25) } else { self.rng.int(30, 80) };
        let reporter = self.observation_reporter(hour);
        let id = self.id(at_ms);
        let record = json!({
            "id": id,
            "category": category,
            "severity": severity,
            "perceived_safety": perceived_safety,
            "people_count": people_count,
            "age_band": age_band,
            "note": note,
            "lat": round6(lat),
            "lon": round6(lon),
            "accuracy_m": accuracy_m,
            "observed_at": at_ms,
            "needs_follow_up": needs_follow_up,
        });
        self.review(&id, at_ms, category, severity, needs_follow_up);
        self.out.observations.push((reporter, record));
    }

    /// Where an observation is made: an area by weight (the beach in summer), now and then
    /// elsewhere in the municipality.
    fn observation_place(&mut self, month: u32) -> (&'static str, f64, f64) {
        if self.rng.chance(0.04) {
            let (_, _, [min_lat, min_lon, max_lat, max_lon]) = MUNICIPALITY;
            for _ in 0..20 {
                let (lat, lon) =
                    (self.rng.range(min_lat + 0.01, max_lat - 0.01), self.rng.range(min_lon + 0.01, max_lon - 0.01));
                let inside_an_area = AREAS
                    .iter()
                    .any(|a| ((lat - a.lat) / a.radius_lat).powi(2) + ((lon - a.lon) / a.radius_lon).powi(2) < 1.2);
                if !inside_an_area {
                    return (MUNICIPALITY.0, lat, lon);
                }
            }
        }
        let weights: Vec<f64> = AREAS
            .iter()
            .map(|a| match a.code {
                "TYS" if is_summer(month) => a.weight * 2.2,
                "BRE" if is_summer(month) => a.weight * 1.3,
                _ => a.weight,
            })
            .collect();
        let area = &AREAS[self.rng.weighted(&weights)];
        let (lat, lon) = self.point_in(area);
        (area.code, lat, lon)
    }

    fn point_in(&mut self, area: &DemoArea) -> (f64, f64) {
        let (u, v) = (self.rng.unit(), self.rng.unit());
        area.point(u, v)
    }

    fn severity(&mut self, category: &str) -> i64 {
        let (low, high) = match category {
            "positive" => (1, 1),
            "youth_gathering" | "littering" => (1, 2),
            "graffiti" => (1, 3),
            "lighting" | "alcohol" => (2, 3),
            "vandalism" | "unsafe_place" | "disorder" => (2, 4),
            "drugs" => (3, 4),
            "fire" => (3, 5),
            _ => (4, 5),
        };
        self.rng.int(low, high)
    }

    fn people(&mut self, category: &str) -> (Option<i64>, Option<&'static str>) {
        let count = match category {
            "youth_gathering" => Some(self.rng.int(4, 25)),
            "positive" => Some(self.rng.int(2, 20)),
            "disorder" => Some(self.rng.int(2, 10)),
            "alcohol" => Some(self.rng.int(2, 8)),
            "threat_violence" => Some(self.rng.int(2, 6)),
            "criminal_networks" => Some(self.rng.int(2, 5)),
            "drugs" => Some(self.rng.int(1, 4)),
            "vandalism" | "fire" if self.rng.chance(0.4) => Some(self.rng.int(1, 4)),
            _ => None,
        };
        let band = count.map(|_| {
            let weights: [f64; 6] = match category {
                "alcohol" => [0.0, 0.1, 0.35, 0.35, 0.15, 0.05],
                "positive" => [0.15, 0.3, 0.25, 0.1, 0.15, 0.05],
                _ => [0.05, 0.38, 0.38, 0.14, 0.02, 0.03],
            };
            ["under_13", "13_15", "16_17", "18_24", "25_plus", "unknown"][self.rng.weighted(&weights)]
        });
        (count, band)
    }

    fn observation_reporter(&mut self, hour: u32) -> Reporter {
        let (guard, field_1, field_2, leisure) = match hour {
            20..=23 | 0..=4 => (0.4, 0.25, 0.2, 0.15),
            15..=19 => (0.0, 0.45, 0.35, 0.2),
            _ => (0.05, 0.5, 0.4, 0.05),
        };
        ["vaktare", "falt1", "falt2", "fritid"][self.rng.weighted(&[guard, field_1, field_2, leisure])]
    }

    fn observation_note(&mut self, category: &str, code: &str, people: Option<i64>) -> String {
        if self.rng.chance(0.2) {
            return String::new();
        }
        let place = place(code);
        let n = people.unwrap_or(1);
        let options: Vec<String> = match category {
            "vandalism" => vec![
                format!("Krossad ruta i busskuren vid {place}."),
                "Sönderslagen papperskorg och uppbrutet cykelställ.".into(),
                format!("Skadegörelse på lekplatsen i {place}, gungan nedriven."),
            ],
            "graffiti" => vec![
                "Nytt klotter på elskåpet vid gångvägen.".into(),
                format!("Tags på fasaden mot torget i {place}."),
                "Klotter i gångtunneln, ca 3 meter.".into(),
            ],
            "littering" => vec![
                "Mycket skräp efter helgen, fulla papperskorgar.".into(),
                format!("Nedskräpning vid badplatsen/bryggan i {place}."),
                "Engångsgrillar och flaskor kvarlämnade.".into(),
            ],
            "fire" => vec![
                "Brand i papperskorg, släckt när vi kom.".into(),
                "Raketer avfyrade mot fasad, brandgul fläck.".into(),
                format!("Containerbrand vid {place}, räddningstjänsten på plats."),
            ],
            "lighting" => vec![
                "Belysningen ur funktion längs gångvägen, helt mörkt.".into(),
                format!("Tre lyktstolpar släckta vid parkeringen i {place}."),
                "Trasig belysning i gångtunneln, upplevs otryggt.".into(),
            ],
            "disorder" => vec![
                format!("Högljudd grupp på ca {n} personer vid centrumentrén."),
                "Bråk mellan två grupper, löstes upp när vi kom.".into(),
                "Smällare kastades mot förbipasserande.".into(),
            ],
            "youth_gathering" => vec![
                format!("Ca {n} ungdomar samlade vid {place}, lugn stämning."),
                format!("Ungdomar på fotbollsplanen, ca {n} st, pratade med flera."),
                format!("Samling vid kiosken, ca {n} unga, god kontakt."),
            ],
            "drugs" => vec![
                "Lukt av cannabis vid trappan bakom skolan.".into(),
                "Misstänkt langning vid parkeringen, rapporterat vidare.".into(),
                "Hittade kanyler vid lekplatsen, tillvaratagna.".into(),
            ],
            "alcohol" => vec![
                format!("Ca {n} personer drack alkohol vid bryggan."),
                "Berusade ungdomar vid busshållplatsen, en behövde hjälp hem.".into(),
                "Spritflaskor och ölburkar i parken efter fredagskvällen.".into(),
            ],
            "threat_violence" => vec![
                "Hot mot personal vid centrumentrén, polis tillkallad.".into(),
                "Misshandel vid busshållplatsen, ambulans på plats.".into(),
                "Ungdom hotad med kniv enligt vittnen, polisen informerad.".into(),
            ],
            "criminal_networks" => vec![
                "Äldre personer i bil pratade med yngre, uppfattas som rekrytering.".into(),
                "Unga berättar om erbjudanden att springa ärenden mot betalning.".into(),
                format!("Okända vuxna återkommande vid {place} sena kvällar."),
            ],
            "unsafe_place" => vec![
                "Buskage skymmer gångvägen, känns otryggt när det är mörkt.".into(),
                format!("Gångtunneln vid {place} upplevs otrygg av boende."),
                "Ödslig parkering utan belysning, flera undviker platsen.".into(),
            ],
            _ => vec![
                format!("Bra stämning vid {place}, många familjer ute."),
                "Ungdomar hjälpte till att plocka skräp.".into(),
                "Föreningen höll öppet och många unga var på plats.".into(),
                "Boende tackade för att vi syns i området.".into(),
            ],
        };
        let mut note = self.rng.pick(&options).clone();
        // Now and then a note carries what must not be stored; redaction removes it.
        if self.rng.chance(0.015) {
            let number = format!(
                "07{}-{:03} {:02} {:02}",
                self.rng.int(0, 6),
                self.rng.int(100, 999),
                self.rng.int(10, 99),
                self.rng.int(10, 99)
            );
            note.push_str(&format!(" Boende vill bli kontaktad på {number}."));
        }
        note
    }

    /// The coordinator reviews most observations older than two weeks, and follow-ups always.
    fn review(&mut self, id: &str, at_ms: i64, category: &str, severity: i64, follow_up: bool) {
        let age_days = (self.now_ms - at_ms) / 86_400_000;
        let reviewed = if age_days < 2 {
            false
        } else if age_days < 14 {
            self.rng.chance(0.3)
        } else {
            follow_up || severity >= 3 || self.rng.chance(0.4)
        };
        if !reviewed {
            return;
        }
        let forward = follow_up || severity >= 4;
        let (status, comment) = if forward && self.rng.chance(0.6) {
            let to = match category {
                "threat_violence" | "criminal_networks" | "drugs" => "Vidarebefordrat till polisen.",
                "lighting" | "vandalism" | "graffiti" | "unsafe_place" => {
                    *self.rng.pick(&["Vidarebefordrat till Tybo.", "Felanmält till gatu- och parkenheten."])
                }
                _ => "Vidarebefordrat till socialtjänsten.",
            };
            ("forwarded", Some(to))
        } else if age_days > 30 && self.rng.chance(0.5) {
            ("closed", if forward { Some("Åtgärdat.") } else { None })
        } else {
            ("reviewed", None)
        };
        self.out.reviews.push((id.to_owned(), status, comment));
    }

    fn activities(&mut self) {
        let (date, month, weekday) = (self.date, self.month(), self.date.weekday());
        let summer = is_summer(month);
        let this_summer = latest_summer(self.today) == date.year();
        // Field assistants: several evenings a week, every weekday evening but Monday in summer.
        if matches!(weekday, Weekday::Tue | Weekday::Thu | Weekday::Fri | Weekday::Sat)
            || (summer && matches!(weekday, Weekday::Wed | Weekday::Sun))
        {
            let reporter = if date.iso_week().week() % 2 == 0 { "falt1" } else { "falt2" };
            let code = self.pick_area(&[
                ("GRR", 3.0),
                ("TYC", 2.5),
                ("TRB", 1.2),
                ("KRU", 1.0),
                ("ORI", 0.8),
                ("TYS", if summer { 2.5 } else { 0.8 }),
                ("BRE", 0.5),
            ]);
            let busy = if summer { 1.6 } else { 1.0 - 0.3 * darkness(month) }
                * if matches!(weekday, Weekday::Fri | Weekday::Sat) { 1.3 } else { 1.0 };
            let contacts = (14.0 * busy * self.rng.range(0.6, 1.4)).round() as i64;
            let start = 18 * 60 + self.rng.int(0, 30);
            let note = format!(
                "{} Pratade med ungdomar vid {}.",
                self.rng.pick(&["Lugn kväll.", "Mycket folk ute.", "Blåsigt och få ute.", "Flera nya kontakter."]),
                place(code)
            );
            let minutes = 240 + self.rng.int(-30, 30);
            self.activity(
                reporter,
                "outreach_shift",
                "falt",
                Some(code),
                start,
                minutes,
                contacts,
                YOUTH,
                YOUTH_GENDER,
                &note,
            );
        }
        // Outreach youth workers: Wednesday and Friday evenings; in the latest summer also every
        // weekday afternoon while the summer café is open, out in the municipality.
        let cafe_open = cafe_open(date);
        if this_summer && cafe_open {
            let code =
                self.pick_area(&[("GRR", 1.0), ("TYC", 1.0), ("KRU", 1.0), ("TRB", 1.0), ("ORI", 0.7), ("BRE", 0.7)]);
            let contacts = self.rng.int(8, 24);
            self.activity(
                "fritid",
                "outreach_shift",
                "fritid",
                Some(code),
                15 * 60,
                300,
                contacts,
                YOUTH,
                YOUTH_GENDER,
                "Uppsökande parallellt med sommarcaféets öppettider; tipsade om caféet.",
            );
        } else if matches!(weekday, Weekday::Wed | Weekday::Fri) {
            let code = self.pick_area(&[("GRR", 1.5), ("TYC", 1.5), ("KRU", 1.0), ("TRB", 1.0)]);
            let contacts = self.rng.int(5, 18);
            self.activity(
                "fritid",
                "outreach_shift",
                "fritid",
                Some(code),
                17 * 60,
                240,
                contacts,
                YOUTH,
                YOUTH_GENDER,
                "Uppsökande fritidsledare ute i området.",
            );
        }
        // Guards: Friday and Saturday nights, and some weeknights.
        let patrol = match weekday {
            Weekday::Fri | Weekday::Sat => true,
            Weekday::Tue => self.rng.chance(0.5),
            Weekday::Wed | Weekday::Thu => self.rng.chance(0.3),
            _ => false,
        };
        if patrol {
            let code =
                self.pick_area(&[("TYC", 2.0), ("GRR", 2.0), ("TYS", if summer { 1.5 } else { 0.5 }), ("KRU", 0.5)]);
            let contacts = self.rng.int(0, 6);
            let note = format!("Rond {} och närliggande gångvägar.", place(code));
            self.activity(
                "vaktare",
                "guard_patrol",
                "vaktare",
                Some(code),
                21 * 60,
                300,
                contacts,
                [0.0, 0.1, 0.4, 0.4, 0.1, 0.0],
                [0.25, 0.65, 0.0, 0.1],
                &note,
            );
        }
        // The summer café at Granängsringen, June to August, Monday to Thursday afternoons: more
        // visitors every year.
        if cafe_open {
            let growth = 1.3f64.powi(date.year() - self.today.year());
            let weather = self.rng.range(0.75, 1.2);
            let visitors = (34.0 * growth * weather).round() as i64;
            let note = *self.rng.pick(&[
                "Sommarcafé med glass och spel på gården.",
                "Caféet öppet, regnskurar på eftermiddagen.",
                "Fullt på gården, fotbollsturnering.",
                "Sommarcafé, många yngre barn med föräldrar.",
            ]);
            self.activity_at(
                "sommarcafe",
                "summer_cafe",
                "sommarcafe",
                Some(granangstorget()),
                14 * 60,
                300,
                visitors,
                [0.38, 0.34, 0.14, 0.05, 0.07, 0.02],
                [0.46, 0.46, 0.02, 0.06],
                note,
            );
        }
        // Summer jobs on Granängstorget, weekdays in weeks 26–31.
        if (26..=31).contains(&date.iso_week().week()) && weekday.num_days_from_monday() < 5 && summer {
            let workers = self.rng.int(5, 8);
            self.activity_at(
                "feriejobb",
                "summer_job",
                "feriejobb",
                Some(granangstorget()),
                9 * 60,
                360,
                workers,
                [0.0, 0.3, 0.7, 0.0, 0.0, 0.0],
                [0.5, 0.5, 0.0, 0.0],
                "Feriejobbare rustar Granängstorget: plantering och målning av bänkar.",
            );
        }
        // Association hosts: Friday and Saturday evenings outside the summer and the holidays.
        let holidays = (month == 12 && date.day() >= 22) || (month == 1 && date.day() <= 6);
        if matches!(weekday, Weekday::Fri | Weekday::Sat) && !summer && !holidays {
            let code = if weekday == Weekday::Fri { "TRB" } else { "TYC" };
            let visitors = self.rng.int(25, 70);
            let note = if code == "TRB" {
                "Föreningsvärd i Trollbäckens sporthall, öppen hall."
            } else {
                "Föreningsvärd i Bollmorahallen, innebandy och musik."
            };
            self.activity(
                "foreningsvard",
                "association_host",
                "foreningsvard",
                Some(code),
                17 * 60,
                300,
                visitors,
                [0.25, 0.45, 0.2, 0.07, 0.02, 0.01],
                [0.35, 0.6, 0.01, 0.04],
                note,
            );
        }
        // Safety walks with residents: the second Tuesday of March, May, September and November.
        if weekday == Weekday::Tue && (8..=14).contains(&date.day()) && matches!(month, 3 | 5 | 9 | 11) {
            let rota = ["GRR", "TYC", "TRB", "KRU", "TYS", "ORI", "BRE"];
            let code = rota[((date.year() * 4 + month as i32 / 3) % 7) as usize];
            let participants = self.rng.int(8, 22);
            let note = format!(
                "Trygghetsvandring i {} med boende, Tybo och polisen. Brister i belysning och buskage noterade.",
                place(code)
            );
            self.activity(
                "samordnare",
                "safety_walk",
                "samordning",
                Some(code),
                18 * 60,
                120,
                participants,
                [0.0, 0.0, 0.0, 0.15, 0.85, 0.0],
                [0.55, 0.4, 0.0, 0.05],
                &note,
            );
            self.walk_findings(code);
        }
        // Dialogue with young people: the first Wednesday of the month, not in July.
        if weekday == Weekday::Wed && date.day() <= 7 && month != 7 {
            let participants = self.rng.int(6, 16);
            let note = if date.year() == self.today.year() {
                "Dialogmöte med unga. Flera säger att de inte blir lyssnade på eller tagna på allvar."
            } else {
                "Dialogmöte med unga om fritid och trygghet i centrum."
            };
            self.activity(
                "fritid",
                "youth_dialogue",
                "fritid",
                Some("TYC"),
                17 * 60,
                120,
                participants,
                [0.0, 0.55, 0.4, 0.05, 0.0, 0.0],
                [0.5, 0.45, 0.03, 0.02],
                note,
            );
        }
        // SSPF meetings, counts only: the second and fourth Thursday, not in July.
        if weekday == Weekday::Thu && ((8..=14).contains(&date.day()) || (22..=28).contains(&date.day())) && month != 7
        {
            let young = self.rng.int(2, 6);
            self.activity(
                "samordnare",
                "sspf_meeting",
                "samordning",
                None,
                13 * 60,
                120,
                young,
                [0.0, 0.5, 0.5, 0.0, 0.0, 0.0],
                [0.3, 0.7, 0.0, 0.0],
                "SSPF-möte: skola, socialtjänst, polis och fritid. Endast antal.",
            );
        }
        // Partner meetings: the first Monday of the month, not in July.
        if weekday == Weekday::Mon && date.day() <= 7 && month != 7 {
            self.activity(
                "samordnare",
                "partner_meeting",
                "samordning",
                None,
                9 * 60,
                120,
                0,
                YOUTH,
                YOUTH_GENDER,
                "Samverkansmöte med Nacka polisområde och Tybo: gemensam lägesbild.",
            );
        }
        // Events.
        let event = match (month, date.day()) {
            (4, 30) => Some((
                "TYS",
                19 * 60,
                240,
                300,
                500,
                "Valborg vid Tyresö strand, fältassistenter och väktare på plats.",
            )),
            (6, 6) => Some(("TYC", 12 * 60, 240, 200, 400, "Nationaldagsfirande i Tyresö centrum.")),
            (12, 13) => Some(("TYC", 16 * 60, 180, 150, 300, "Luciafirande och julmarknad i centrum.")),
            _ => None,
        };
        if let Some((code, start, minutes, low, high, note)) = event {
            let visitors = self.rng.int(low, high);
            self.activity(
                "samordnare",
                "event",
                "samordning",
                Some(code),
                start,
                minutes,
                visitors,
                [0.2, 0.2, 0.15, 0.15, 0.3, 0.0],
                [0.45, 0.45, 0.0, 0.1],
                note,
            );
        }
    }

    /// What a safety walk finds: a few lighting and unsafe-place observations.
    fn walk_findings(&mut self, code: &str) {
        let Some(area) = area(code) else { return };
        for i in 0..self.rng.int(2, 4) {
            let Some(at_ms) = self.at(0, 18, 20 + 20 * i as u32) else { continue };
            if at_ms > self.now_ms {
                continue;
            }
            let category = if i % 2 == 0 { "lighting" } else { "unsafe_place" };
            let (lat, lon) = self.point_in(area);
            let id = self.id(at_ms);
            let note = if category == "lighting" {
                "Trygghetsvandring: belysning saknas längs gångstråket."
            } else {
                "Trygghetsvandring: boende upplever platsen som otrygg efter mörkrets inbrott."
            };
            let record = json!({
                "id": id, "category": category, "severity": 2, "perceived_safety": 2, "note": note,
                "lat": round6(lat), "lon": round6(lon), "accuracy_m": 10, "observed_at": at_ms, "needs_follow_up": true,
            });
            self.review(&id, at_ms, category, 2, true);
            self.out.observations.push(("samordnare", record));
        }
    }

    fn pick_area(&mut self, weights: &[(&'static str, f64)]) -> &'static str {
        let index = self.rng.weighted(&weights.iter().map(|(_, w)| *w).collect::<Vec<_>>());
        weights[index].0
    }

    #[allow(clippy::too_many_arguments)]
    fn activity(
        &mut self,
        reporter: Reporter,
        kind: &str,
        unit: &str,
        code: Option<&str>,
        start_minute: i64,
        minutes: i64,
        people: i64,
        ages: [f64; 6],
        genders: [f64; 4],
        note: &str,
    ) {
        let position = code.and_then(area).map(|area| self.point_in(area));
        self.activity_at(reporter, kind, unit, position, start_minute, minutes, people, ages, genders, note);
    }

    #[allow(clippy::too_many_arguments)]
    fn activity_at(
        &mut self,
        reporter: Reporter,
        kind: &str,
        unit: &str,
        position: Option<(f64, f64)>,
        start_minute: i64,
        minutes: i64,
        people: i64,
        ages: [f64; 6],
        genders: [f64; 4],
        note: &str,
    ) {
        let Some(start) = self.at(0, (start_minute / 60) as u32, (start_minute % 60) as u32) else { return };
        let end = start + minutes * 60_000;
        if end > self.now_ms {
            return; // still going: the shift is logged when it ends
        }
        let people = people.max(0);
        let by_gender = self.split(people, &genders);
        let by_age = self.split(people, &ages);
        let id = self.id(start);
        let mut record = json!({
            "id": id,
            "activity_type": kind,
            "unit": unit,
            "started_at": start,
            "ended_at": end,
            "note": note,
        });
        if let (Some((lat, lon)), Some(map)) = (position, record.as_object_mut()) {
            map.insert("lat".into(), json!(round6(lat)));
            map.insert("lon".into(), json!(round6(lon)));
        }
        if let Some(map) = record.as_object_mut() {
            for (field, count) in GENDERS.iter().zip(by_gender).chain(AGES.iter().zip(by_age)) {
                map.insert((*field).into(), json!(count));
            }
        }
        self.out.activities.push((reporter, record));
    }

    /// Splits `total` people over the shares, with some noise; the parts sum to `total`.
    fn split<const N: usize>(&mut self, total: i64, shares: &[f64; N]) -> [i64; N] {
        let noisy: Vec<f64> = shares.iter().map(|s| s * self.rng.range(0.8, 1.2)).collect();
        let sum: f64 = noisy.iter().sum();
        let mut parts = [0i64; N];
        if sum <= 0.0 || total == 0 {
            if let Some(last) = parts.last_mut() {
                *last = total;
            }
            return parts;
        }
        let exact: Vec<f64> = noisy.iter().map(|s| s / sum * total as f64).collect();
        for (part, value) in parts.iter_mut().zip(&exact) {
            *part = value.floor() as i64;
        }
        let mut left = total - parts.iter().sum::<i64>();
        let mut order: Vec<usize> = (0..N).collect();
        order.sort_by(|a, b| (exact[*b] - exact[*b].floor()).total_cmp(&(exact[*a] - exact[*a].floor())));
        for i in order.into_iter().cycle() {
            if left == 0 {
                break;
            }
            parts[i] += 1;
            left -= 1;
        }
        parts
    }
}

/// Age shares of the young people outreach meets.
const YOUTH: [f64; 6] = [0.05, 0.4, 0.38, 0.12, 0.03, 0.02];
/// Gender shares of the young people outreach meets.
const YOUTH_GENDER: [f64; 4] = [0.38, 0.58, 0.01, 0.03];

/// Whether the summer café is open that day: Monday to Thursday from 8 June to 21 August.
pub fn cafe_open(date: NaiveDate) -> bool {
    let season = (6, 8) <= (date.month(), date.day()) && (date.month(), date.day()) <= (8, 21);
    season && date.weekday().num_days_from_monday() < 4
}

/// The café's place on Granängstorget, in Granängsringen.
fn granangstorget() -> (f64, f64) {
    area("GRR").map_or((59.24, 18.215), |a| (a.lat + 0.0004, a.lon - 0.0010))
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    fn two_years(now: chrono::DateTime<chrono::Utc>) -> (NaiveDate, i64) {
        let today = now.with_timezone(&chrono_tz::Europe::Stockholm).date_naive();
        (today - chrono::Months::new(24), now.timestamp_millis())
    }

    #[test]
    fn the_same_days_give_the_same_records() {
        let now = chrono::Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
        let (first, now_ms) = two_years(now);
        let first_run = generate(chrono_tz::Europe::Stockholm, first, now_ms);
        assert_eq!(first_run, generate(chrono_tz::Europe::Stockholm, first, now_ms));
        assert!(first_run.observations.len() > 9_000, "{}", first_run.observations.len());
        assert!(first_run.observations.iter().all(|(_, r)| r["observed_at"].as_i64().unwrap() <= now_ms));
    }

    #[test]
    fn the_records_have_the_shape_of_the_work() {
        let tz = chrono_tz::Europe::Stockholm;
        let now = chrono::Utc.with_ymd_and_hms(2026, 11, 26, 21, 0, 0).unwrap();
        let (first, now_ms) = two_years(now);
        let generated = generate(tz, first, now_ms);
        let local = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap().with_timezone(&tz);
        let evening = generated
            .observations
            .iter()
            .filter(|(_, r)| (18..=23).contains(&local(r["observed_at"].as_i64().unwrap()).hour()))
            .count();
        assert!(evening * 2 > generated.observations.len(), "most observations are made in the evening");
        let share = |months: &[u32], category: &str| {
            let in_months: Vec<_> = generated
                .observations
                .iter()
                .filter(|(_, r)| months.contains(&local(r["observed_at"].as_i64().unwrap()).month()))
                .collect();
            in_months.iter().filter(|(_, r)| r["category"] == category).count() as f64 / in_months.len() as f64
        };
        assert!(share(&[11, 12, 1], "lighting") > 2.0 * share(&[6, 7], "lighting"));
        assert!(share(&[6, 7, 8], "youth_gathering") > share(&[12, 1, 2], "youth_gathering"));
        let cafe: Vec<_> = generated.activities.iter().filter(|(_, r)| r["activity_type"] == "summer_cafe").collect();
        assert!(cafe.iter().all(|(_, r)| (6..=8).contains(&local(r["started_at"].as_i64().unwrap()).month())));
        let visitors = |year: i32| -> i64 {
            cafe.iter()
                .filter(|(_, r)| local(r["started_at"].as_i64().unwrap()).year() == year)
                .map(|(_, r)| GENDERS.iter().map(|g| r[*g].as_i64().unwrap()).sum::<i64>())
                .sum()
        };
        assert!(visitors(2026) > visitors(2025) && visitors(2025) > 0);
        for (_, record) in &generated.activities {
            let genders: i64 = GENDERS.iter().map(|g| record[*g].as_i64().unwrap()).sum();
            let ages: i64 = AGES.iter().map(|a| record[*a].as_i64().unwrap()).sum();
            assert_eq!(genders, ages, "{record}");
        }
        let redacted = generated
            .observations
            .iter()
            .filter(|(_, r)| crate::domain::redaction::redact(r["note"].as_str().unwrap()).redacted())
            .count();
        let with_number =
            generated.observations.iter().filter(|(_, r)| r["note"].as_str().unwrap().contains("kontaktad på")).count();
        assert!(with_number > 0);
        assert_eq!(redacted, with_number, "only the notes with a phone number are redacted");
    }
}
