//! The municipality's own base map: an MBTiles file served as `/tiles/{z}/{x}/{y}`, named in the
//! dashboard's configuration and drawn under the printed report's heat map; files that cannot
//! work are refused at start with a reason.

use crate::cli::{lagesbild, run};
use crate::helpers::{TestApp, assert_problem, spawn_app, spawn_app_with};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Binary, Integer};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A real PNG, as the tiles.
fn png() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/web/app/icon-192.png")).unwrap()
}

/// The tile (x, y, counted from the north) holding a place at `zoom`.
fn tile_of(lon: f64, lat: f64, zoom: u8) -> (u32, u32) {
    let n = f64::from(1_u32 << zoom);
    let sin = lat.to_radians().sin();
    let y = 0.5 - ((1.0 + sin) / (1.0 - sin)).ln() / (4.0 * std::f64::consts::PI);
    (((lon + 180.0) / 360.0 * n) as u32, (y * n) as u32)
}

/// An MBTiles file as the specification lays it out: `metadata` and `tiles`, rows counted from
/// the south. `tiles` holds (zoom, x, y from the north, bytes).
fn mbtiles(dir: &Path, format: &str, tiles: &[(u8, u32, u32, Vec<u8>)]) -> PathBuf {
    let path = dir.join(format!("basemap-{format}.mbtiles"));
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    conn.batch_execute(&format!(
        "CREATE TABLE metadata (name TEXT, value TEXT);
         CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);
         CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);
         INSERT INTO metadata VALUES ('name', 'Tyresö'), ('format', '{format}'), ('minzoom', '10'),
             ('maxzoom', '15'), ('attribution', '© Tyresö kommun');"
    ))
    .unwrap();
    for (zoom, x, y, bytes) in tiles {
        let row = (1_i32 << zoom) - 1 - *y as i32;
        diesel::sql_query("INSERT INTO tiles VALUES (?, ?, ?, ?)")
            .bind::<Integer, _>(i32::from(*zoom))
            .bind::<Integer, _>(*x as i32)
            .bind::<Integer, _>(row)
            .bind::<Binary, _>(bytes)
            .execute(&mut conn)
            .unwrap();
    }
    path
}

#[tokio::test]
async fn the_base_map_is_served_tile_by_tile_and_named_in_the_dashboard_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = tile_of(18.2279, 59.2441, 12);
    let file = mbtiles(dir.path(), "png", &[(12, x, y, png()), (13, 2 * x, 2 * y, b"other tile".to_vec())]);
    let app = spawn_app_with(|settings| settings.basemap = Some(file.clone())).await;

    for path in [format!("/tiles/12/{x}/{y}"), format!("/tiles/12/{x}/{y}.png")] {
        let response = app.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "image/png");
        assert!(response.headers()["cache-control"].to_str().unwrap().contains("max-age"));
        assert_eq!(response.bytes().await.unwrap().to_vec(), png(), "{path}: the tile itself, rows flipped");
    }
    let deeper = app.client.get(app.url(&format!("/tiles/13/{}/{}", 2 * x, 2 * y))).send().await.unwrap();
    assert_eq!(deeper.bytes().await.unwrap().as_ref(), b"other tile");
    // The row counted from the south is another tile, which the file does not have.
    let flipped = app.client.get(app.url(&format!("/tiles/12/{x}/{}", (1 << 12) - 1 - y))).send().await.unwrap();
    assert_problem(flipped, 404, "not_found").await;
    for path in ["/tiles/12/abc/1", "/tiles/99/1/1", "/tiles/-1/0/0", "/tiles/12/99999999999/1"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert!(matches!(response.status().as_u16(), 400 | 404), "{path}: {}", response.status());
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
    }

    let config: Value = app.client.get(app.url("/dashboard/config.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(config["tiles"]["url"], "/tiles/{z}/{x}/{y}");
    assert_eq!(config["tiles"]["attribution"], "© Tyresö kommun");
    assert_eq!((config["tiles"]["min_zoom"].as_u64(), config["tiles"]["max_zoom"].as_u64()), (Some(10), Some(15)));
}

#[tokio::test]
async fn without_a_base_map_there_are_no_tiles() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/tiles/12/2255/1190")).send().await.unwrap();
    assert_problem(response, 404, "not_found").await;
    let config: Value = app.client.get(app.url("/dashboard/config.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(config["tiles"], Value::Null);
}

#[tokio::test]
async fn the_printed_report_draws_the_base_map_under_its_heat_map() {
    let dir = tempfile::tempdir().unwrap();
    // Every tile around Tyresö at the zoom levels a one-page figure of it can use.
    let mut tiles = Vec::new();
    for zoom in 10..=15 {
        let (x0, y0) = tile_of(18.15, 59.27, zoom);
        let (x1, y1) = tile_of(18.34, 59.20, zoom);
        for x in x0..=x1 {
            for y in y0..=y1 {
                tiles.push((zoom, x, y, png()));
            }
        }
    }
    let file = mbtiles(dir.path(), "png", &tiles);
    let app = spawn_app_with(|settings| settings.basemap = Some(file.clone())).await;
    let tenant = app.tenant("tyreso").await;
    let admin = &tenant.admin.tokens.access;
    assert_eq!(app.post("/api/v1/areas", admin, &crate::areas::tyreso()).await.status(), 200);
    crate::areas::wait_for_jobs(&app, admin).await;
    let html = report(&app, &tenant.coordinator.tokens.access).await;
    let document = scraper::Html::parse_document(&html);
    let images: Vec<String> = document
        .select(&scraper::Selector::parse("#heatmap svg g.basemap image").unwrap())
        .map(|image| image.value().attr("href").unwrap().to_owned())
        .collect();
    assert!(!images.is_empty() && images.len() <= 48, "{} tiles", images.len());
    let encoded = base64_png();
    assert!(images.iter().all(|href| href == &format!("data:image/png;base64,{encoded}")));
    assert!(html.contains("Bakgrundskarta: © Tyresö kommun"));

    // Without one, the figure has no base map.
    let plain = spawn_app().await;
    let tenant = plain.tenant("tyreso").await;
    assert!(!report(&plain, &tenant.coordinator.tokens.access).await.contains("class=\"basemap\""));
}

async fn report(app: &TestApp, token: &str) -> String {
    let response = app.get("/api/v1/reports/followup?period=2024-T2", token).await;
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

fn base64_png() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(png())
}

#[tokio::test]
async fn a_base_map_that_cannot_work_is_refused_at_start_with_the_reason() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let not_sqlite = dir.path().join("map.mbtiles");
    std::fs::write(&not_sqlite, "this is not a database").unwrap();
    let vector = mbtiles(dir.path(), "pbf", &[]);
    let cases: [(Vec<(&str, String)>, &str); 4] = [
        (vec![("LAGESBILD_BASEMAP", dir.path().join("missing.mbtiles").display().to_string())], "does not exist"),
        (vec![("LAGESBILD_BASEMAP", not_sqlite.display().to_string())], "not an MBTiles file"),
        (vec![("LAGESBILD_BASEMAP", vector.display().to_string())], "only raster tiles"),
        (
            vec![
                ("LAGESBILD_BASEMAP", vector.display().to_string()),
                ("LAGESBILD_TILE_URL", "https://tiles.example.org/{z}/{x}/{y}.png".to_owned()),
            ],
            "not both",
        ),
    ];
    for (env, reason) in cases {
        let mut command = lagesbild(&app);
        command.args(["serve", "--listen", "127.0.0.1:0"]);
        for (key, value) in &env {
            command.env(key, value);
        }
        let (code, _, stderr) = tokio::task::spawn_blocking(move || run(&mut command, "")).await.unwrap();
        assert_ne!(code, 0, "{env:?}");
        assert!(stderr.contains(reason), "{env:?}: {stderr}");
    }
}
