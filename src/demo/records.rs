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
}

mod activities;
mod notes;

pub use activities::cafe_open;

/// A coordinate rounded to six decimals (about 10 cm), as a phone sends it.
fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests;
