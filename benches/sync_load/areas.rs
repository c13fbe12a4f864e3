//! The `areas` scenario: pushes into an organisation with 50 nested areas against one without.

use super::*;

/// Vertices of all the areas of `bench_areas`.
pub const BENCH_AREA_VERTICES: usize = 5 * 1000 + 45 * 400;

/// 50 areas of a real municipality's size over the corpus's positions: 5 districts side by side,
/// each a rectangle of 1,000 vertices with wavy edges, each holding 9 neighbourhoods of 400
/// vertices (wavy ellipses in a 3 × 3 grid). Most positions fall in a neighbourhood, some only
/// in a district, a few outside every area.
pub fn bench_areas() -> Vec<Value> {
    let ring = |points: Vec<(f64, f64)>| {
        let mut coords: Vec<Value> = points.iter().map(|(lon, lat)| json!([lon, lat])).collect();
        coords.push(coords[0].clone());
        json!({"type": "Polygon", "coordinates": [coords]})
    };
    let feature = |code: String, name: String, parent: Option<String>, geometry: Value| json!({"type": "Feature", "geometry": geometry, "properties": {"code": code, "name": name, "parent_code": parent}});
    let (lat0, lat1) = (59.205, 59.395);
    let mut features = Vec::new();
    for d in 0..5 {
        let lon0 = 17.90 + 0.08 * f64::from(d) + 0.002;
        let lon1 = lon0 + 0.076;
        // Counter-clockwise, 250 vertices a side, each side waving across its straight line.
        let wave = |t: f64| 0.0005 * (std::f64::consts::PI * t).sin() * (14.0 * std::f64::consts::PI * t).sin();
        let mut points = Vec::with_capacity(1000);
        for i in 0..250 {
            let t = f64::from(i) / 250.0;
            points.push((lon0 + t * (lon1 - lon0), lat0 + wave(t)));
        }
        for i in 0..250 {
            let t = f64::from(i) / 250.0;
            points.push((lon1 + wave(t), lat0 + t * (lat1 - lat0)));
        }
        for i in 0..250 {
            let t = f64::from(i) / 250.0;
            points.push((lon1 - t * (lon1 - lon0), lat1 + wave(t)));
        }
        for i in 0..250 {
            let t = f64::from(i) / 250.0;
            points.push((lon0 + wave(t), lat1 - t * (lat1 - lat0)));
        }
        let district = format!("d{}", d + 1);
        features.push(feature(district.clone(), format!("District {}", d + 1), None, ring(points)));
        for n in 0..9 {
            let (col, row) = (f64::from(n % 3), f64::from(n / 3));
            let (w, h) = ((lon1 - lon0) / 3.0, (lat1 - lat0) / 3.0);
            let (cx, cy) = (lon0 + w * (col + 0.5), lat0 + h * (row + 0.5));
            let points = (0..400)
                .map(|i| {
                    let a = 2.0 * std::f64::consts::PI * f64::from(i) / 400.0;
                    let r = 0.45 * (1.0 + 0.08 * (5.0 * a).sin());
                    (cx + r * w * a.cos(), cy + r * h * a.sin())
                })
                .collect();
            features.push(feature(
                format!("{district}-n{}", n + 1),
                format!("District {} neighbourhood {}", d + 1, n + 1),
                Some(district.clone()),
                ring(points),
            ));
        }
    }
    features
}

/// Ingest with area assignment: the batched push into an organisation with the 50 areas of
/// `bench_areas` against the same push into the organisation without areas, in the order
/// without, with, with, without, and so on; and the per-record cost of placing a position (area and
/// H3 cell) measured directly.
pub async fn areas_comparison(
    config: &Config,
    backend: Backend,
    target: &DatabaseTarget,
    plain: &Bench,
    plain_load: &Load,
    perf: bool,
    report: &mut Report,
) -> anyhow::Result<()> {
    let seeded = seed(target, config.users, AREAS_ORGANISATION)?;
    let mut conn = target.connect()?;
    let collection = json!({"type": "FeatureCollection", "features": bench_areas()});
    let lease = lagesbild::db::queries::area_jobs::Lease::for_this_process(Duration::from_secs(60));
    let (counts, job) =
        lagesbild::db::queries::areas::import_collection(&mut conn, &seeded.organisation_id, &collection, &lease)
            .map_err(|error| anyhow::anyhow!("importing the bench areas: {error:?}"))?;
    anyhow::ensure!(counts.created == 50, "50 areas should be created, not {}", counts.created);
    // The organisation has no records yet: its reassignment job ends at once, before the load.
    if let Some(job) = job {
        lagesbild::db::queries::area_jobs::run_to_end(&mut conn, job, &lease)?;
    }
    let index = lagesbild::db::queries::areas::index(&mut conn, &seeded.organisation_id)?;
    drop(conn);

    // The per-record work the areas add, and the H3 cell every record gets, without HTTP.
    let corpus = &plain_load.corpus;
    let placed = corpus.contents.iter().filter(|c| index.locate(c.lon, c.lat).is_some()).count();
    let rounds = 50;
    let started = Instant::now();
    let mut found = 0usize;
    for _ in 0..rounds {
        found += corpus.contents.iter().filter(|c| index.locate(c.lon, c.lat).is_some()).count();
    }
    let locate_us = started.elapsed().as_secs_f64() * 1e6 / (rounds * corpus.contents.len()) as f64;
    let started = Instant::now();
    let mut cells = 0usize;
    for _ in 0..rounds {
        cells += corpus.contents.iter().filter(|c| lagesbild::domain::geo::cell_for(c.lat, c.lon).is_some()).count();
    }
    let cell_us = started.elapsed().as_secs_f64() * 1e6 / (rounds * corpus.contents.len()) as f64;
    anyhow::ensure!(found == placed * rounds && cells > 0, "placing positions is not deterministic");

    let with_areas =
        Bench { client: plain.client.clone(), base: plain.base.clone(), organisation: AREAS_ORGANISATION.to_owned() };
    let mut devices = Vec::with_capacity(config.batch.devices);
    for index in 0..config.batch.devices {
        let user = &seeded.users[index % seeded.users.len()];
        let token = with_areas.login(user, &format!("areas-phone-{index:04}")).await?;
        let (_, cursor) = with_areas.first_pull(&token).await?;
        devices.push(Device { token, cursor });
    }
    let areas_load = Load { client: plain.client.clone(), devices: Arc::new(devices), corpus: corpus.clone() };
    let push = Endpoint::Push { base: plain.base.clone() };
    let shape = config.batch;
    let loads = [("without areas", plain_load), ("with 50 areas", &areas_load)];
    for (_, load) in loads {
        load.run(&push, shape, None, config.warmup, config.max_requests).await;
    }
    let mut rates = [Vec::new(), Vec::new()];
    // Without, with, with, without, without, with…: both organisations write into the same
    // tables, which grow through the run, and later phases write into bigger B-trees, so each
    // side gets as many early phases as late ones.
    for round in 1..=config.areas_rounds {
        let order = if round % 2 == 1 { [0, 1] } else { [1, 0] };
        for k in order {
            let (label, load) = loads[k];
            let name = format!("1 batched push, {label} (round {round})");
            eprintln!("{}: {name}", backend.name());
            let probe = Probe::start(config.measure, perf, backend);
            let sample = load.run(&push, shape, None, config.measure, config.max_requests).await;
            let measured = probe.finish(&sample);
            collect_errors(report, &name, backend, &sample);
            let mut row =
                Row::new(name, backend, (shape.devices.to_string(), shape.batch.to_string()), &sample, measured);
            rates[k].push(row.records_per_s);
            row.target = if k == 0 { "baseline".to_owned() } else { "≤ 15 % below".to_owned() };
            println!(
                "{} | {} | {:.0} records/s, p50 {:.2} ms, p99 {:.2} ms, {} errors | CPU: {}",
                row.scenario, row.backend, row.records_per_s, row.p50, row.p99, row.errors, row.cpu
            );
            report.rows.push(row);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let (without, with) = (mean(&rates[0]), mean(&rates[1]));
    let drop = 100.0 * (1.0 - with / without.max(1e-9));
    report.notes.push(format!(
        "{}: areas: batched push {without:.0} records/s without areas, {with:.0} with 50 areas \
         ({} vertices; {placed} of {} corpus positions in an area): {:.1} % of the rate without areas, target ≥ 85 %: {}. \
         Placing one position directly: area {locate_us:.2} µs, H3 cell {cell_us:.2} µs",
        backend.name(),
        BENCH_AREA_VERTICES,
        corpus.contents.len(),
        100.0 - drop,
        verdict(drop <= 15.0),
    ));
    Ok(())
}

pub fn collect_errors(report: &mut Report, name: &str, backend: Backend, sample: &Sample) {
    for (error, count) in &sample.errors {
        report.errors.push(format!("{} / {name}: {count} × {error}", backend.name()));
    }
}
