//! What the demo organisation is made of: approximate areas around the centres DOMAIN.md gives,
//! the units and users of the municipality's safety work, and the seven indicators of the
//! assignment with the values it states.

use serde_json::{Value, json};

/// An area drawn as an octagon around a centre. The outlines are rough and named as such: real
/// boundaries come from the municipality.
pub struct DemoArea {
    pub code: &'static str,
    pub name: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// Half the height and half the width, in degrees.
    pub radius_lat: f64,
    pub radius_lon: f64,
    /// How much of the observations happen here, relative to the others.
    pub weight: f64,
}

/// The whole municipality, roughly: the parent of every other area and the organisation's
/// bounding box (min lat, min lon, max lat, max lon).
pub const MUNICIPALITY: (&str, &str, [f64; 4]) =
    ("TYR", "Tyresö kommun (ungefärlig avgränsning)", [59.19, 18.14, 59.28, 18.35]);

/// The areas of the picture. Approximate centres: Tyresö centrum 59.244 N 18.228 E, Trollbäcken
/// 59.224 N 18.195 E, Tyresö strand 59.235 N 18.290 E (DOMAIN.md); Granängsringen lies in
/// Bollmora west of the centre; the rest are placed roughly. None overlaps another.
pub const AREAS: &[DemoArea] = &[
    DemoArea {
        code: "GRR",
        name: "Granängsringen (ungefärlig)",
        lat: 59.2400,
        lon: 18.2150,
        radius_lat: 0.0025,
        radius_lon: 0.0050,
        weight: 3.0,
    },
    DemoArea {
        code: "TYC",
        name: "Tyresö centrum/Bollmora (ungefärlig)",
        lat: 59.2440,
        lon: 18.2290,
        radius_lat: 0.0030,
        radius_lon: 0.0060,
        weight: 2.6,
    },
    DemoArea {
        code: "TRB",
        name: "Trollbäcken (ungefärlig)",
        lat: 59.2240,
        lon: 18.1950,
        radius_lat: 0.0080,
        radius_lon: 0.0150,
        weight: 1.6,
    },
    DemoArea {
        code: "TYS",
        name: "Tyresö strand (ungefärlig)",
        lat: 59.2350,
        lon: 18.2900,
        radius_lat: 0.0050,
        radius_lon: 0.0100,
        weight: 1.2,
    },
    DemoArea {
        code: "ORI",
        name: "Öringe (ungefärlig)",
        lat: 59.2440,
        lon: 18.2600,
        radius_lat: 0.0040,
        radius_lon: 0.0080,
        weight: 0.8,
    },
    DemoArea {
        code: "KRU",
        name: "Krusboda (ungefärlig)",
        lat: 59.2330,
        lon: 18.2450,
        radius_lat: 0.0035,
        radius_lon: 0.0070,
        weight: 0.9,
    },
    DemoArea {
        code: "BRE",
        name: "Brevik (ungefärlig)",
        lat: 59.2180,
        lon: 18.2700,
        radius_lat: 0.0050,
        radius_lon: 0.0100,
        weight: 0.6,
    },
];

impl DemoArea {
    /// The octagon's corners as (lon, lat), closed.
    fn ring(&self) -> Vec<[f64; 2]> {
        let mut ring: Vec<[f64; 2]> = (0..8)
            .map(|i| {
                let angle = f64::from(i) * std::f64::consts::FRAC_PI_4 + std::f64::consts::FRAC_PI_8;
                [round6(self.lon + self.radius_lon * angle.cos()), round6(self.lat + self.radius_lat * angle.sin())]
            })
            .collect();
        ring.push(ring[0]);
        ring
    }

    /// A point inside the area for `u`, `v` in [0, 1): within 85 % of the radius, which keeps
    /// it inside the octagon.
    pub fn point(&self, u: f64, v: f64) -> (f64, f64) {
        let angle = u * std::f64::consts::TAU;
        let distance = 0.85 * v.sqrt();
        (self.lat + self.radius_lat * distance * angle.sin(), self.lon + self.radius_lon * distance * angle.cos())
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The areas as the GeoJSON FeatureCollection `POST /api/v1/areas` and `areas import` take.
pub fn feature_collection() -> Value {
    let (code, name, [min_lat, min_lon, max_lat, max_lon]) = MUNICIPALITY;
    let mut features = vec![json!({
        "type": "Feature",
        "properties": { "code": code, "name": name },
        "geometry": { "type": "Polygon", "coordinates": [[
            [min_lon, min_lat], [max_lon, min_lat], [max_lon, max_lat], [min_lon, max_lat], [min_lon, min_lat]
        ]] }
    })];
    features.extend(AREAS.iter().map(|area| {
        json!({
            "type": "Feature",
            "properties": { "code": area.code, "name": area.name, "parent_code": code },
            "geometry": { "type": "Polygon", "coordinates": [area.ring()] }
        })
    }));
    json!({ "type": "FeatureCollection", "features": features })
}

/// The area with this code.
pub fn area(code: &str) -> Option<&'static DemoArea> {
    AREAS.iter().find(|area| area.code == code)
}

/// (slug, name) of the units.
pub const UNITS: &[(&str, &str)] = &[
    ("samordning", "Trygghetssamordning"),
    ("falt", "Fältassistenter"),
    ("vaktare", "Väktare"),
    ("fritid", "Uppsökande fritidsledare"),
    ("foreningsvard", "Föreningsvärdar"),
    ("sommarcafe", "Sommarcaféet Granängsringen"),
    ("feriejobb", "Feriejobbare"),
    ("polisen", "Polisen, Nacka polisområde"),
    ("tybo", "Tyresö Bostäder (Tybo)"),
];

/// A demo user: username, display name, role, unit, and for partners the areas shared with them.
pub struct DemoUser {
    pub username: &'static str,
    pub display_name: &'static str,
    pub role: &'static str,
    pub unit: &'static str,
    pub shared_areas: &'static [&'static str],
}

/// The users; everyone who reports belongs to the unit whose work they log.
pub const USERS: &[DemoUser] = &[
    DemoUser {
        username: "admin", display_name: "Administratör", role: "admin", unit: "samordning", shared_areas: &[]
    },
    DemoUser {
        username: "samordnare",
        display_name: "Trygghetssamordnare",
        role: "coordinator",
        unit: "samordning",
        shared_areas: &[],
    },
    DemoUser { username: "falt1", display_name: "Fältassistent 1", role: "field", unit: "falt", shared_areas: &[] },
    DemoUser { username: "falt2", display_name: "Fältassistent 2", role: "field", unit: "falt", shared_areas: &[] },
    DemoUser { username: "vaktare", display_name: "Väktare", role: "field", unit: "vaktare", shared_areas: &[] },
    DemoUser {
        username: "fritid",
        display_name: "Uppsökande fritidsledare",
        role: "field",
        unit: "fritid",
        shared_areas: &[],
    },
    DemoUser {
        username: "foreningsvard",
        display_name: "Föreningsvärd",
        role: "field",
        unit: "foreningsvard",
        shared_areas: &[],
    },
    DemoUser {
        username: "sommarcafe",
        display_name: "Sommarcaféet",
        role: "field",
        unit: "sommarcafe",
        shared_areas: &[],
    },
    DemoUser {
        username: "feriejobb",
        display_name: "Feriejobbare",
        role: "field",
        unit: "feriejobb",
        shared_areas: &[],
    },
    DemoUser {
        username: "polisen",
        display_name: "Polisen, Nacka polisområde",
        role: "partner",
        unit: "polisen",
        shared_areas: &["TYR", "GRR", "TYC", "TRB", "TYS", "ORI", "KRU", "BRE"],
    },
    DemoUser {
        username: "tybo",
        display_name: "Tyresö Bostäder",
        role: "partner",
        unit: "tybo",
        shared_areas: &["GRR", "TYC"],
    },
];

/// An indicator of the assignment with the values it states.
pub struct DemoIndicator {
    pub slug: &'static str,
    pub name_sv: &'static str,
    pub name_en: &'static str,
    pub source: &'static str,
    pub unit: &'static str,
    pub groups: &'static [&'static str],
    pub higher_is_better: bool,
    /// (year, group or "", value, note)
    pub values: &'static [(i32, &'static str, f64, Option<&'static str>)],
}

/// Later values are made up for the demo, so that the follow-up shows a trend and whether the
/// target is met (some indicators improve, some do not); each says so.
const MADE_UP: Option<&str> = Some("Demo: påhittat värde, för att visa trend och mål.");

const SURVEY_YEAR_NOTE: &str = "Uppdraget anger inte årtal för mätningen; värdet är registrerat på 2022, Stockholmsenkätens senaste år före uppdraget.";

/// The seven indicators of the assignment ("Nuläge"), each with the target it states for all of
/// them: maintain or improve.
pub const INDICATORS: &[DemoIndicator] = &[
    DemoIndicator {
        slug: "stockholmsenkaten-ak9-trygg-kvall",
        name_sv: "Elever i årskurs 9 som känt sig ganska eller mycket trygga om de går ut ensamma sent en kväll i området",
        name_en: "Pupils in grade 9 who felt fairly or very safe going out alone late in the evening in their area",
        source: "Stockholmsenkäten",
        unit: "percent",
        groups: &["boys", "girls"],
        higher_is_better: true,
        values: &[
            (2022, "boys", 82.0, Some(SURVEY_YEAR_NOTE)),
            (2022, "girls", 65.0, Some(SURVEY_YEAR_NOTE)),
            (2024, "boys", 83.0, MADE_UP),
            (2024, "girls", 67.0, MADE_UP),
        ],
    },
    DemoIndicator {
        slug: "stockholmsenkaten-gy2-trygg-kvall",
        name_sv: "Elever i gymnasiets årskurs 2 som känt sig ganska eller mycket trygga om de går ut ensamma sent en kväll i området",
        name_en: "Upper-secondary year 2 pupils who felt fairly or very safe going out alone late in the evening in their area",
        source: "Stockholmsenkäten",
        unit: "percent",
        groups: &["boys", "girls"],
        higher_is_better: true,
        values: &[
            (2022, "boys", 83.0, Some(SURVEY_YEAR_NOTE)),
            (2022, "girls", 73.0, Some(SURVEY_YEAR_NOTE)),
            (2024, "boys", 80.0, MADE_UP),
            (2024, "girls", 74.0, MADE_UP),
        ],
    },
    DemoIndicator {
        slug: "tybo-trygg-granangsringen",
        name_sv: "Boende som känner sig trygga i Granängsringen",
        name_en: "Residents who feel safe in Granängsringen",
        source: "Tybos mätning",
        unit: "percent",
        groups: &[],
        higher_is_better: true,
        values: &[(2022, "", 51.0, None), (2023, "", 54.0, MADE_UP), (2024, "", 58.0, MADE_UP)],
    },
    DemoIndicator {
        slug: "polisen-otrygg-kvall",
        name_sv: "Invånare som känner sig otrygga på kvällar",
        name_en: "Residents who feel unsafe in the evening",
        source: "Polisens mätning",
        unit: "percent",
        groups: &[],
        higher_is_better: false,
        values: &[(2021, "", 19.0, None), (2023, "", 21.0, MADE_UP), (2025, "", 18.0, MADE_UP)],
    },
    DemoIndicator {
        slug: "medborgarundersokningen-trygg-morker",
        name_sv: "Positiva svar på ”Hur trygg känner du dig utomhus i området där du bor när det är mörkt ute?”",
        name_en: "Positive answers to \"How safe do you feel outdoors in your area when it is dark?\"",
        source: "Medborgarundersökningen",
        unit: "percent",
        groups: &[],
        higher_is_better: true,
        values: &[(2022, "", 80.5, None), (2023, "", 79.0, MADE_UP), (2024, "", 81.2, MADE_UP)],
    },
    DemoIndicator {
        slug: "oppna-jamforelser-trygg-morker",
        name_sv: "Andel som känner sig ganska eller mycket trygga utomhus i området där de bor när det är mörkt ute",
        name_en: "Share feeling fairly or very safe outdoors in their area after dark",
        source: "Öppna jämförelser",
        unit: "percent",
        groups: &[],
        higher_is_better: true,
        values: &[(2022, "", 76.8, None), (2023, "", 77.5, MADE_UP), (2024, "", 75.9, MADE_UP)],
    },
    DemoIndicator {
        slug: "trygghetsmatning-trygg-kommunen",
        name_sv: "Andel som känner sig trygga eller ganska trygga i Tyresö kommun",
        name_en: "Share feeling safe or fairly safe in the municipality",
        source: "Polisens och kommunens trygghetsmätning",
        unit: "percent",
        groups: &[],
        higher_is_better: true,
        values: &[(2023, "", 70.0, None), (2024, "", 71.0, MADE_UP), (2025, "", 72.0, MADE_UP)],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_areas_are_valid_nested_and_apart() {
        let areas = crate::domain::areas::parse_collection(&feature_collection(), &Default::default())
            .expect("the demo areas are valid");
        assert_eq!(areas.len(), AREAS.len() + 1);
        let index =
            crate::domain::areas::AreaIndex::new(areas.into_iter().map(|a| (a.code, a.parent_code, a.geometry)));
        for area in AREAS {
            assert_eq!(index.locate(area.lon, area.lat), Some(area.code), "the centre of {}", area.code);
            for (u, v) in [(0.0, 0.999), (0.13, 0.999), (0.5, 0.999), (0.77, 0.999)] {
                let (lat, lon) = area.point(u, v);
                assert_eq!(index.locate(lon, lat), Some(area.code), "an edge point of {}", area.code);
            }
        }
    }
}
