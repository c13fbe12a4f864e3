//! The activities of a demo day: shifts, patrols, the summer café, meetings and events, each kind
//! with who logs it and the people it meets.

use super::{AGES, Day, GENDERS, Reporter, area, darkness, is_summer, latest_summer, place, round6};
use chrono::{Datelike, NaiveDate, Weekday};
use serde_json::json;

/// What an activity is, who logs it, and the age and gender shares of the people it counts.
struct Kind {
    reporter: Reporter,
    activity_type: &'static str,
    unit: &'static str,
    /// Shares of the age bands, in the order of `AGES`.
    ages: [f64; 6],
    /// Shares of the genders, in the order of `GENDERS`.
    genders: [f64; 4],
}

/// Field assistants' evening shifts (`falt1` and `falt2` take turns by week).
const FIELD_SHIFT: Kind =
    Kind { reporter: "falt1", activity_type: "outreach_shift", unit: "falt", ages: YOUTH, genders: YOUTH_GENDER };
/// Outreach youth workers' shifts.
const YOUTH_WORKER_SHIFT: Kind =
    Kind { reporter: "fritid", activity_type: "outreach_shift", unit: "fritid", ages: YOUTH, genders: YOUTH_GENDER };
/// Guards' night patrols.
const GUARD_PATROL: Kind = Kind {
    reporter: "vaktare",
    activity_type: "guard_patrol",
    unit: "vaktare",
    ages: [0.0, 0.1, 0.4, 0.4, 0.1, 0.0],
    genders: [0.25, 0.65, 0.0, 0.1],
};
/// The summer café at Granängsringen: visitors, many of them children.
const SUMMER_CAFE: Kind = Kind {
    reporter: "sommarcafe",
    activity_type: "summer_cafe",
    unit: "sommarcafe",
    ages: [0.38, 0.34, 0.14, 0.05, 0.07, 0.02],
    genders: [0.46, 0.46, 0.02, 0.06],
};
/// Summer jobs on Granängstorget.
const SUMMER_JOB: Kind = Kind {
    reporter: "feriejobb",
    activity_type: "summer_job",
    unit: "feriejobb",
    ages: [0.0, 0.3, 0.7, 0.0, 0.0, 0.0],
    genders: [0.5, 0.5, 0.0, 0.0],
};
/// Association hosts in the sports halls.
const ASSOCIATION_HOST: Kind = Kind {
    reporter: "foreningsvard",
    activity_type: "association_host",
    unit: "foreningsvard",
    ages: [0.25, 0.45, 0.2, 0.07, 0.02, 0.01],
    genders: [0.35, 0.6, 0.01, 0.04],
};
/// Safety walks with residents: mostly adults.
const SAFETY_WALK: Kind = Kind {
    reporter: "samordnare",
    activity_type: "safety_walk",
    unit: "samordning",
    ages: [0.0, 0.0, 0.0, 0.15, 0.85, 0.0],
    genders: [0.55, 0.4, 0.0, 0.05],
};
/// Dialogues with young people.
const YOUTH_DIALOGUE: Kind = Kind {
    reporter: "fritid",
    activity_type: "youth_dialogue",
    unit: "fritid",
    ages: [0.0, 0.55, 0.4, 0.05, 0.0, 0.0],
    genders: [0.5, 0.45, 0.03, 0.02],
};
/// SSPF meetings: the young people discussed, counted only.
const SSPF_MEETING: Kind = Kind {
    reporter: "samordnare",
    activity_type: "sspf_meeting",
    unit: "samordning",
    ages: [0.0, 0.5, 0.5, 0.0, 0.0, 0.0],
    genders: [0.3, 0.7, 0.0, 0.0],
};
/// Partner meetings: no young people present.
const PARTNER_MEETING: Kind = Kind {
    reporter: "samordnare",
    activity_type: "partner_meeting",
    unit: "samordning",
    ages: YOUTH,
    genders: YOUTH_GENDER,
};
/// Events: the public of every age.
const EVENT: Kind = Kind {
    reporter: "samordnare",
    activity_type: "event",
    unit: "samordning",
    ages: [0.2, 0.2, 0.15, 0.15, 0.3, 0.0],
    genders: [0.45, 0.45, 0.0, 0.1],
};

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

impl Day {
    pub(super) fn activities(&mut self) {
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
            self.activity(&Kind { reporter, ..FIELD_SHIFT }, Some(code), (start, minutes), contacts, &note);
        }
        // Outreach youth workers: Wednesday and Friday evenings; in the latest summer also every
        // weekday afternoon while the summer café is open, out in the municipality.
        let cafe_open = cafe_open(date);
        if this_summer && cafe_open {
            let code =
                self.pick_area(&[("GRR", 1.0), ("TYC", 1.0), ("KRU", 1.0), ("TRB", 1.0), ("ORI", 0.7), ("BRE", 0.7)]);
            let contacts = self.rng.int(8, 24);
            self.activity(
                &YOUTH_WORKER_SHIFT,
                Some(code),
                (15 * 60, 300),
                contacts,
                "Uppsökande parallellt med sommarcaféets öppettider; tipsade om caféet.",
            );
        } else if matches!(weekday, Weekday::Wed | Weekday::Fri) {
            let code = self.pick_area(&[("GRR", 1.5), ("TYC", 1.5), ("KRU", 1.0), ("TRB", 1.0)]);
            let contacts = self.rng.int(5, 18);
            self.activity(
                &YOUTH_WORKER_SHIFT,
                Some(code),
                (17 * 60, 240),
                contacts,
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
            self.activity(&GUARD_PATROL, Some(code), (21 * 60, 300), contacts, &note);
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
            self.activity_at(&SUMMER_CAFE, Some(granangstorget()), (14 * 60, 300), visitors, note);
        }
        // Summer jobs on Granängstorget, weekdays in weeks 26–31.
        if (26..=31).contains(&date.iso_week().week()) && weekday.num_days_from_monday() < 5 && summer {
            let workers = self.rng.int(5, 8);
            self.activity_at(
                &SUMMER_JOB,
                Some(granangstorget()),
                (9 * 60, 360),
                workers,
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
            self.activity(&ASSOCIATION_HOST, Some(code), (17 * 60, 300), visitors, note);
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
            self.activity(&SAFETY_WALK, Some(code), (18 * 60, 120), participants, &note);
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
            self.activity(&YOUTH_DIALOGUE, Some("TYC"), (17 * 60, 120), participants, note);
        }
        // SSPF meetings, counts only: the second and fourth Thursday, not in July.
        if weekday == Weekday::Thu && ((8..=14).contains(&date.day()) || (22..=28).contains(&date.day())) && month != 7
        {
            let young = self.rng.int(2, 6);
            self.activity(
                &SSPF_MEETING,
                None,
                (13 * 60, 120),
                young,
                "SSPF-möte: skola, socialtjänst, polis och fritid. Endast antal.",
            );
        }
        // Partner meetings: the first Monday of the month, not in July.
        if weekday == Weekday::Mon && date.day() <= 7 && month != 7 {
            self.activity(
                &PARTNER_MEETING,
                None,
                (9 * 60, 120),
                0,
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
            self.activity(&EVENT, Some(code), (start, minutes), visitors, note);
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

    /// Logs an activity of `kind` in the area `code` (at a point in it), from the local minute
    /// `start_minute` for `minutes`, counting `people`.
    fn activity(
        &mut self,
        kind: &Kind,
        code: Option<&str>,
        (start_minute, minutes): (i64, i64),
        people: i64,
        note: &str,
    ) {
        let position = code.and_then(area).map(|area| self.point_in(area));
        self.activity_at(kind, position, (start_minute, minutes), people, note);
    }

    /// Logs an activity of `kind` at `position`, if it has ended by now.
    fn activity_at(
        &mut self,
        kind: &Kind,
        position: Option<(f64, f64)>,
        (start_minute, minutes): (i64, i64),
        people: i64,
        note: &str,
    ) {
        let Some(start) = self.at(0, (start_minute / 60) as u32, (start_minute % 60) as u32) else { return };
        let end = start + minutes * 60_000;
        if end > self.now_ms {
            return; // still going: the shift is logged when it ends
        }
        let people = people.max(0);
        let by_gender = self.split(people, &kind.genders);
        let by_age = self.split(people, &kind.ages);
        let id = self.id(start);
        let mut record = json!({
            "id": id,
            "activity_type": kind.activity_type,
            "unit": kind.unit,
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
        self.out.activities.push((kind.reporter, record));
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
