//! Latitude and longitude exchanged: an area import in `[lat, lon]` order, or an organisation
//! rectangle given `lon,lat`, is refused with a problem that says the order looks swapped.

use crate::areas::tyreso;
use crate::cli::{lagesbild, run};
use crate::helpers::*;
use serde_json::{Value, json};

/// Every position of a GeoJSON value with its two numbers exchanged.
fn swap(value: &Value) -> Value {
    match value {
        Value::Array(items) if items.len() == 2 && items.iter().all(Value::is_number) => {
            json!([items[1], items[0]])
        }
        Value::Array(items) => Value::Array(items.iter().map(swap).collect()),
        Value::Object(map) => Value::Object(
            map.iter().map(|(k, v)| (k.clone(), if k == "coordinates" { swap(v) } else { v.clone() })).collect(),
        ),
        other => other.clone(),
    }
}

fn set_tyreso_bbox(app: &TestApp) {
    let (code, _, err) =
        run(lagesbild(app).args(["org", "bbox", "--org", "tyreso", "--bbox", "59.15,18.10,59.32,18.45"]), "");
    assert_eq!(code, 0, "{err}");
}

#[tokio::test]
async fn an_area_import_in_lat_lon_order_is_refused_as_swapped() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    set_tyreso_bbox(&app);
    let admin = &tenant.admin.tokens.access;
    let mut areas = tyreso();
    for feature in areas["features"].as_array_mut().unwrap() {
        feature["geometry"] = swap(&feature["geometry"]);
    }
    let problem = assert_problem(app.post("/api/v1/areas", admin, &areas).await, 422, "validation_failed").await;
    let errors = problem["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3, "every feature is named: {problem}");
    for (i, error) in errors.iter().enumerate() {
        assert_eq!(error["field"], format!("features[{i}].geometry"));
        assert_eq!(error["code"], "swapped_coordinates", "{problem}");
        assert!(error["message"].as_str().unwrap().contains("[longitude, latitude]"), "{problem}");
    }
    // Somewhere else altogether: outside, not swapped.
    let mut far = tyreso();
    far["features"][0]["geometry"] =
        json!({"type": "Polygon", "coordinates": [[[11.9, 57.7], [12.0, 57.7], [12.0, 57.8], [11.9, 57.7]]]});
    let problem = assert_problem(app.post("/api/v1/areas", admin, &far).await, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "features[0].geometry");
    assert_eq!(problem["errors"][0]["code"], "outside_bounding_box", "{problem}");
    // Nothing was imported; the right order is.
    assert_eq!(app.post("/api/v1/areas", admin, &tyreso()).await.status(), 200);
}

#[tokio::test]
async fn an_organisation_rectangle_in_lon_lat_order_is_refused_as_swapped() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    assert_eq!(app.post("/api/v1/areas", &tenant.admin.tokens.access, &tyreso()).await.status(), 200);
    let (code, _, err) =
        run(lagesbild(&app).args(["org", "bbox", "--org", "tyreso", "--bbox", "18.10,59.15,18.45,59.32"]), "");
    assert_eq!(code, 1);
    assert!(err.contains("look exchanged") && err.contains("59.15,18.1,59.32,18.45"), "{err}");
    let (code, _, err) =
        run(lagesbild(&app).args(["org", "bbox", "--org", "tyreso", "--bbox", "55.0,12.0,55.5,13.0"]), "");
    assert_eq!(code, 1);
    assert!(err.contains("misses every area"), "{err}");
    set_tyreso_bbox(&app);
}
