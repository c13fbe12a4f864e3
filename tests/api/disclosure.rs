//! The attacker of the partner disclosure rule (`api-spec/partner-disclosure.md`).
//!
//! On a dataset with counts of 1 and 2 in many cells, a partner calls every endpoint a partner
//! may call with every filter combination the API accepts for a partner. Each published number
//! becomes an equation over the unknown cells (observations per area as recorded, category and
//! tertial; activities and contacts per area and tertial): the equation the rule documents (a sum
//! of the published cells it covers) and, when the number also equals it, the plain sum of every
//! cell it covers — an attacker uses whatever holds. A number that is neither is a failure. Then,
//! by Gaussian elimination, no cell whose true count is 1 to k − 1 may lie in the span of the
//! equations (it would be determined), while the published ones do.

use crate::helpers::*;
use crate::sync::created;
use serde_json::{Value, json};
use std::collections::BTreeSet;

const K: u32 = 3;
/// Areas as recorded: Tyresö (holding Granängsringen), Granängsringen, Trollbäcken.
const AREAS: [&str; 3] = ["TY", "GR", "TB"];
/// Where an observation lands in each area (lat, lon).
const PLACES: [(f64, f64); 3] = [(59.205, 18.26), (59.225, 18.23), (59.23, 18.32)];
const CATEGORIES: [&str; 3] = ["vandalism", "graffiti", "lighting"];
/// Every tertial a figure may cover: the data is in 2025; comparisons reach 2024.
const TERTIALS: [&str; 6] = ["2024-T1", "2024-T2", "2024-T3", "2025-T1", "2025-T2", "2025-T3"];
const ASKED: [&str; 3] = ["2025-T1", "2025-T2", "2025-T3"];

fn rect(lon: f64, lat: f64, w: f64, h: f64) -> Value {
    json!({ "type": "Polygon", "coordinates": [[[lon, lat], [lon + w, lat], [lon + w, lat + h], [lon, lat + h], [lon, lat]]] })
}

fn areas() -> Value {
    let feature = |code: &str, parent: Option<&str>, geometry: Value| json!({ "type": "Feature", "properties": { "code": code, "name": code, "parent_code": parent }, "geometry": geometry });
    json!({ "type": "FeatureCollection", "features": [
        feature("TY", None, rect(18.20, 59.20, 0.10, 0.06)),
        feature("GR", Some("TY"), rect(18.22, 59.22, 0.02, 0.01)),
        feature("TB", None, rect(18.30, 59.20, 0.05, 0.06)),
    ]})
}

/// The areas a code covers, as recorded.
fn covered(code: &str) -> Vec<usize> {
    match code {
        "TY" => vec![0, 1],
        "GR" => vec![1],
        _ => vec![2],
    }
}

fn tertial_index(name: &str) -> usize {
    TERTIALS.iter().position(|t| *t == name).unwrap_or_else(|| panic!("a tertial outside the model: {name}"))
}

/// Unknown cells: observations (area, category, tertial), then activities (area, tertial), then
/// contacts (area, tertial).
struct Cells {
    truth: Vec<f64>,
}

impl Cells {
    fn obs(a: usize, c: usize, t: usize) -> usize {
        (a * CATEGORIES.len() + c) * TERTIALS.len() + t
    }
    fn act(a: usize, t: usize) -> usize {
        AREAS.len() * CATEGORIES.len() * TERTIALS.len() + a * TERTIALS.len() + t
    }
    fn contacts(a: usize, t: usize) -> usize {
        Self::act(AREAS.len() - 1, TERTIALS.len() - 1) + 1 + a * TERTIALS.len() + t
    }
    fn len() -> usize {
        Self::contacts(AREAS.len() - 1, TERTIALS.len() - 1) + 1
    }
    fn name(i: usize) -> String {
        let obs = AREAS.len() * CATEGORIES.len() * TERTIALS.len();
        if i < obs {
            let (a, rest) = (i / (CATEGORIES.len() * TERTIALS.len()), i % (CATEGORIES.len() * TERTIALS.len()));
            format!(
                "observations {} {} {}",
                AREAS[a],
                CATEGORIES[rest / TERTIALS.len()],
                TERTIALS[rest % TERTIALS.len()]
            )
        } else if i < Self::contacts(0, 0) {
            let j = i - obs;
            format!("activities {} {}", AREAS[j / TERTIALS.len()], TERTIALS[j % TERTIALS.len()])
        } else {
            let j = i - Self::contacts(0, 0);
            format!("contacts {} {}", AREAS[j / TERTIALS.len()], TERTIALS[j % TERTIALS.len()])
        }
    }
    fn published(&self, i: usize) -> bool {
        self.truth[i] >= f64::from(K)
    }
}

/// The equations an attacker has gathered, kept as an echelon basis.
#[derive(Default)]
struct System {
    basis: Vec<(usize, Vec<f64>)>,
    figures: usize,
}

impl System {
    /// Reduces `row` by the basis; what is left, if anything, joins it.
    fn reduce(&self, mut row: Vec<f64>) -> Vec<f64> {
        for (pivot, base) in &self.basis {
            let factor = row[*pivot];
            if factor.abs() > 1e-9 {
                for (x, b) in row.iter_mut().zip(base) {
                    *x -= factor * b;
                }
            }
        }
        row
    }

    fn add(&mut self, row: Vec<f64>) {
        let row = self.reduce(row);
        if let Some(pivot) = row.iter().position(|x| x.abs() > 1e-9) {
            let scale = row[pivot];
            let row: Vec<f64> = row.iter().map(|x| x / scale).collect();
            for (_, base) in &mut self.basis {
                let factor = base[pivot];
                if factor.abs() > 1e-9 {
                    for (b, r) in base.iter_mut().zip(&row) {
                        *b -= factor * r;
                    }
                }
            }
            self.basis.push((pivot, row));
        }
    }

    /// Whether the cell's value follows from the equations.
    fn determines(&self, cell: usize) -> bool {
        let mut unit = vec![0.0; Cells::len()];
        unit[cell] = 1.0;
        self.reduce(unit).iter().all(|x| x.abs() < 1e-9)
    }
}

/// One published number covering the cells `covered`: the rule's equation (published cells only)
/// must hold, and the plain sum is added too when it holds.
fn figure(system: &mut System, cells: &Cells, what: &str, covered: &[usize], value: &Value) {
    let value = value.as_f64().unwrap_or_else(|| panic!("{what}: a partner's figure is a number: {value}"));
    let rule: f64 = covered.iter().filter(|i| cells.published(**i)).map(|i| cells.truth[*i]).sum();
    let plain: f64 = covered.iter().map(|i| cells.truth[*i]).sum();
    assert!(
        (value - rule).abs() < 0.01,
        "{what}: {value} is not the sum of its published cells ({rule}; all cells: {plain})"
    );
    let mut row = vec![0.0; Cells::len()];
    for i in covered.iter().filter(|i| cells.published(**i)) {
        row[*i] = 1.0;
    }
    system.add(row);
    if (value - plain).abs() < 0.01 {
        let mut row = vec![0.0; Cells::len()];
        for i in covered {
            row[*i] = 1.0;
        }
        system.add(row);
    }
    system.figures += 1;
}

fn local_ms(tertial: &str, day: u32, hour: u32) -> i64 {
    use chrono::TimeZone;
    let year: i32 = tertial[..4].parse().unwrap();
    let month = (tertial[6..].parse::<u32>().unwrap() - 1) * 4 + 1 + day % 4;
    let local = chrono::NaiveDate::from_ymd_opt(year, month, 1 + day % 27).unwrap().and_hms_opt(hour, 0, 0).unwrap();
    chrono_tz::Europe::Stockholm.from_local_datetime(&local).single().unwrap().timestamp_millis()
}

/// Pushes the dataset and returns the true cells.
async fn arrange(app: &TestApp, tenant: &Tenant) -> Cells {
    assert_eq!(app.post("/api/v1/areas", &tenant.admin.tokens.access, &areas()).await.status(), 200);
    let mut truth = vec![0.0; Cells::len()];
    let (mut observations, mut activities) = (Vec::new(), Vec::new());
    let pattern = [1, 2, 0, 3, 1, 2, 4, 1, 2, 0, 5, 1, 2, 2, 1];
    let mut n = 0;
    for (a, (lat, lon)) in PLACES.iter().enumerate() {
        for t in 3..6 {
            for (c, category) in CATEGORIES.iter().enumerate() {
                let count = pattern[(a * 9 + t * 3 + c) % pattern.len()];
                truth[Cells::obs(a, c, t)] = f64::from(count);
                for _ in 0..count {
                    n += 1;
                    observations.push(json!({
                        "id": format!("0193f000-0000-7000-8000-{n:012}"), "category": category, "severity": 2,
                        "perceived_safety": 3, "note": "", "lat": lat, "lon": lon,
                        "observed_at": local_ms(TERTIALS[t], n, 19),
                    }));
                }
            }
            let count = [1, 2, 3, 4, 2, 1][(a + t) % 6];
            truth[Cells::act(a, t)] = f64::from(count);
            let mut contacts = 0;
            for i in 0..count {
                n += 1;
                let people = 1 + (i + a as u32) % 2;
                contacts += people;
                let start = local_ms(TERTIALS[t], n, 18);
                activities.push(json!({
                    "id": format!("0193f000-0000-7000-8000-{n:012}"), "activity_type": "outreach_shift", "unit": "falt",
                    "started_at": start, "ended_at": start + 3_600_000, "note": "", "lat": lat, "lon": lon,
                    "girls": people, "age_13_15": people,
                }));
            }
            truth[Cells::contacts(a, t)] = f64::from(contacts);
        }
    }
    let mut push = created("observations", observations);
    push["activity_logs"] = json!({ "created": activities, "updated": [], "deleted": [] });
    let answer: Value = app
        .post("/api/v1/sync/push?last_pulled_at=null", &tenant.field.tokens.access, &push)
        .await
        .json()
        .await
        .unwrap();
    assert!(answer["results"].as_array().unwrap().iter().all(|r| r["status"] == "applied"), "{answer}");
    Cells { truth }
}

/// Every category filter a partner may give: none, each one, each pair.
fn category_filters() -> Vec<Vec<usize>> {
    let mut filters = vec![Vec::new()];
    for a in 0..CATEGORIES.len() {
        filters.push(vec![a]);
        for b in a + 1..CATEGORIES.len() {
            filters.push(vec![a, b]);
        }
    }
    filters
}

fn category_query(chosen: &[usize]) -> String {
    if chosen.is_empty() {
        return String::new();
    }
    format!("&category={}", chosen.iter().map(|c| CATEGORIES[*c]).collect::<Vec<_>>().join(","))
}

fn observation_cells(areas: &[usize], categories: &[usize], tertial: usize) -> Vec<usize> {
    let categories: Vec<usize> =
        if categories.is_empty() { (0..CATEGORIES.len()).collect() } else { categories.to_vec() };
    areas.iter().flat_map(|a| categories.iter().map(move |c| Cells::obs(*a, *c, tertial))).collect()
}

/// An area's row (the table's or its page's) as equations.
fn row_figures(system: &mut System, cells: &Cells, what: &str, row: &Value, chosen: &[usize], tertial: &str) {
    let areas = covered(row["area"].as_str().unwrap());
    let t = tertial_index(tertial);
    figure(system, cells, &format!("{what} observations"), &observation_cells(&areas, chosen, t), &row["observations"]);
    for (slug, value) in row["by_category"].as_object().unwrap() {
        let c = CATEGORIES.iter().position(|name| name == slug).unwrap();
        figure(system, cells, &format!("{what} {slug}"), &observation_cells(&areas, &[c], t), value);
    }
    let previous = tertial_index(&previous_tertial(tertial));
    figure(
        system,
        cells,
        &format!("{what} previous"),
        &observation_cells(&areas, chosen, previous),
        &row["previous_period"],
    );
    let last_year = tertial_index(&format!("{}{}", tertial[..4].parse::<i32>().unwrap() - 1, &tertial[4..]));
    figure(
        system,
        cells,
        &format!("{what} last year"),
        &observation_cells(&areas, chosen, last_year),
        &row["same_period_last_year"],
    );
    let acts: Vec<usize> = areas.iter().map(|a| Cells::act(*a, t)).collect();
    figure(system, cells, &format!("{what} activities"), &acts, &row["presence"]["activities"]);
    let contacts: Vec<usize> = areas.iter().map(|a| Cells::contacts(*a, t)).collect();
    figure(system, cells, &format!("{what} contacts"), &contacts, &row["presence"]["contacts"]);
    for hidden in ["mean_perceived_safety", "share_after_dark", "need_per_presence", "state"] {
        assert_eq!(row[hidden], Value::Null, "{what}: {hidden} cuts the cells another way");
    }
}

fn previous_tertial(tertial: &str) -> String {
    let year: i32 = tertial[..4].parse().unwrap();
    match &tertial[5..] {
        "T1" => format!("{}-T3", year - 1),
        "T2" => format!("{year}-T1"),
        _ => format!("{year}-T2"),
    }
}

async fn answered(app: &TestApp, token: &str, path: String) -> reqwest::Response {
    let response = app.get(&path, token).await;
    assert_eq!(response.status(), 200, "{path}");
    response
}

#[tokio::test]
async fn no_combination_of_partner_answers_determines_a_count_below_k() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let cells = arrange(&app, &tenant).await;
    let share = app
        .client
        .put(app.url(&format!("/api/v1/users/{}/areas", tenant.partner.id)))
        .bearer_auth(&tenant.admin.tokens.access)
        .json(&json!({ "areas": ["TY", "TB"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(share.status(), 200);
    let partner = &tenant.partner.tokens.access;
    let mut system = System::default();
    let area_filters: [Option<&str>; 4] = [None, Some("TY"), Some("GR"), Some("TB")];

    for tertial in ASKED {
        let t = tertial_index(tertial);
        for chosen in category_filters() {
            let categories = category_query(&chosen);
            for area in area_filters {
                let area_query = area.map(|code| format!("&area={code}")).unwrap_or_default();
                // The area table.
                let table: Value =
                    answered(&app, partner, format!("/api/v1/picture?period={tertial}{categories}{area_query}"))
                        .await
                        .json()
                        .await
                        .unwrap();
                for row in table["areas"].as_array().unwrap() {
                    row_figures(
                        &mut system,
                        &cells,
                        &format!("picture {tertial} {categories} {area_query}"),
                        row,
                        &chosen,
                        tertial,
                    );
                }
                // The heat map: its total, and no hexagons.
                let heat: Value =
                    answered(&app, partner, format!("/api/v1/heatmap?period={tertial}{categories}{area_query}"))
                        .await
                        .json()
                        .await
                        .unwrap();
                assert_eq!(heat["features"], json!([]), "no hexagons for a partner");
                let scope = area.map_or_else(|| vec![0, 1, 2], covered);
                figure(
                    &mut system,
                    &cells,
                    &format!("heatmap {tertial} {categories} {area_query}"),
                    &observation_cells(&scope, &chosen, t),
                    &heat["total"],
                );
                // The export: the published cells themselves.
                let export = answered(
                    &app,
                    partner,
                    format!("/api/v1/exports/observations?period={tertial}&format=csv&lang=en{categories}{area_query}"),
                )
                .await;
                let bytes = export.bytes().await.unwrap();
                let mut reader = csv::Reader::from_reader(&bytes[3..]);
                for record in reader.records() {
                    let record = record.unwrap();
                    let a = AREAS.iter().position(|code| *code == &record[0]).unwrap();
                    let c = CATEGORIES.iter().position(|name| *name == &record[2]).unwrap();
                    figure(
                        &mut system,
                        &cells,
                        &format!("export {tertial} {:?}", record),
                        &[Cells::obs(a, c, t)],
                        &json!(record[4].parse::<f64>().unwrap()),
                    );
                }
            }
            // Each area's page.
            for code in AREAS {
                let page: Value =
                    answered(&app, partner, format!("/api/v1/areas/{code}/picture?period={tertial}{categories}"))
                        .await
                        .json()
                        .await
                        .unwrap();
                row_figures(
                    &mut system,
                    &cells,
                    &format!("area {code} {tertial} {categories}"),
                    &page,
                    &chosen,
                    tertial,
                );
                for breakdown in ["hour_of_week", "severity_histogram", "by_month"] {
                    assert_eq!(page[breakdown], json!([]), "{code}: no {breakdown} for a partner");
                }
            }
        }
        // The activity report, every grouping, comparison and area a partner may ask for.
        for compare in ["last_year", "previous", "none"] {
            for group in ["", "&group_by=area"] {
                for area in area_filters {
                    let area_query = area.map(|code| format!("&area={code}")).unwrap_or_default();
                    let path =
                        format!("/api/v1/reports/activity?period={tertial}&compare={compare}{group}{area_query}");
                    let report: Value = answered(&app, partner, path.clone()).await.json().await.unwrap();
                    let other = match compare {
                        "last_year" => Some(tertial_index(&format!(
                            "{}{}",
                            tertial[..4].parse::<i32>().unwrap() - 1,
                            &tertial[4..]
                        ))),
                        "previous" => Some(tertial_index(&previous_tertial(tertial))),
                        _ => None,
                    };
                    let scope = area.map_or_else(|| vec![0, 1, 2], covered);
                    let mut rows: Vec<(Vec<usize>, &Value)> = report["rows"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|row| {
                            (
                                row["area"].as_str().map_or_else(
                                    || scope.clone(),
                                    |code| vec![AREAS.iter().position(|a| *a == code).unwrap()],
                                ),
                                row,
                            )
                        })
                        .collect();
                    rows.push((scope.clone(), &report["total"]));
                    for (areas, row) in rows {
                        let acts: Vec<usize> = areas.iter().map(|a| Cells::act(*a, t)).collect();
                        let contacts: Vec<usize> = areas.iter().map(|a| Cells::contacts(*a, t)).collect();
                        figure(&mut system, &cells, &format!("{path} activities"), &acts, &row["activities"]);
                        figure(&mut system, &cells, &format!("{path} contacts"), &contacts, &row["contacts"]);
                        assert_eq!(
                            (row["by_gender"].clone(), row["by_age_band"].clone()),
                            (Value::Null, Value::Null),
                            "{path}"
                        );
                        if let Some(other) = other {
                            let acts: Vec<usize> = areas.iter().map(|a| Cells::act(*a, other)).collect();
                            figure(
                                &mut system,
                                &cells,
                                &format!("{path} comparison"),
                                &acts,
                                &row["comparison"]["activities"],
                            );
                        }
                    }
                }
            }
        }
    }

    // What a partner may not ask for is refused, not answered another way.
    for path in [
        "/api/v1/picture?period=2025",
        "/api/v1/picture?period=2025-06",
        "/api/v1/picture?from=2025-01-01&to=2025-03-01",
        "/api/v1/picture?period=2025-T2&hours=18-24",
        "/api/v1/picture?period=2025-T2&weekday=6,7",
        "/api/v1/picture?period=2025-T2&after_dark=true",
        "/api/v1/picture?period=2025-T2&severity_min=3",
        "/api/v1/heatmap?period=2025-T2&unit=falt",
        "/api/v1/areas/GR/picture?period=2025-T2&hours=0-18",
        "/api/v1/exports/observations?period=2025-T2&status=new",
        "/api/v1/exports/observations?period=2025",
        "/api/v1/reports/activity?period=2025-T2&group_by=gender",
        "/api/v1/reports/activity?period=2025",
    ] {
        let problem = assert_problem(app.get(path, partner).await, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["code"], "not_for_partners", "{path}: {problem}");
    }

    // The attack: no small count follows from everything gathered; every published one does.
    let mut small = BTreeSet::new();
    let mut determined = Vec::new();
    for cell in 0..Cells::len() {
        let value = cells.truth[cell];
        if value >= 1.0 && value < f64::from(K) {
            small.insert(cell);
            if system.determines(cell) {
                determined.push(format!("{} = {value}", Cells::name(cell)));
            }
        }
    }
    assert!(small.len() >= 30, "the dataset has many small cells: {}", small.len());
    assert!(system.figures > 1000, "every answer was read: {} figures", system.figures);
    assert!(determined.is_empty(), "determined from the partner's answers: {determined:?}");
    let published: Vec<usize> = (0..Cells::len()).filter(|i| cells.published(*i) && *i < Cells::act(0, 0)).collect();
    assert!(!published.is_empty() && published.iter().all(|i| system.determines(*i)), "the published cells are known");
}
