use super::*;
use proptest::prelude::*;
use serde_json::json;

#[test]
fn an_area_covers_every_area_nested_inside_it_however_deep_and_nothing_beside_it() {
    let links = [("b", "a"), ("c", "b"), ("d", "c"), ("x", "y")];
    let covered = |root| {
        let mut all: Vec<&str> = with_descendants(root, links).into_iter().collect();
        all.sort_unstable();
        all
    };
    assert_eq!(covered("a"), ["a", "b", "c", "d"]);
    assert_eq!(covered("c"), ["c", "d"]);
    assert_eq!(covered("d"), ["d"]);
    assert_eq!(covered("y"), ["x", "y"]);
}

fn square(x: f64, y: f64, size: f64) -> Value {
    json!([[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]])
}

fn feature(code: &str, parent: Option<&str>, geometry: Value) -> Value {
    json!({ "type": "Feature", "properties": { "code": code, "name": code, "parent_code": parent }, "geometry": geometry })
}

fn collection(features: Vec<Value>) -> Value {
    json!({ "type": "FeatureCollection", "features": features })
}

fn errors_of(body: Value) -> Vec<(String, String)> {
    parse_collection(&body, &HashSet::new()).unwrap_err().into_iter().map(|e| (e.field, e.code)).collect()
}

#[test]
fn each_problem_names_its_feature() {
    let poly = |coords: Value| json!({ "type": "Polygon", "coordinates": coords });
    let cases = [
        (poly(json!([[[18.0, 59.0], [18.1, 59.0], [18.1, 59.1], [18.0, 59.1]]])), "ring_not_closed"),
        (poly(json!([[[18.0, 59.0], [18.1, 59.0], [18.0, 59.0]]])), "ring_too_short"),
        (poly(json!([[[18.0, 59.0], [181.0, 59.0], [18.1, 59.1], [18.0, 59.0]]])), "outside_wgs84"),
        // A bow tie crosses itself.
        (poly(json!([[[18.0, 59.0], [18.1, 59.1], [18.1, 59.0], [18.0, 59.1], [18.0, 59.0]]])), "self_intersection"),
        // A hole entirely outside its shell.
        (
            poly(json!([
                [[18.0, 59.0], [18.1, 59.0], [18.1, 59.1], [18.0, 59.1], [18.0, 59.0]],
                [[19.0, 59.0], [19.1, 59.0], [19.1, 59.1], [19.0, 59.0]]
            ])),
            "hole_outside_shell",
        ),
        (json!({ "type": "Point", "coordinates": [18.0, 59.0] }), "unsupported_geometry"),
    ];
    for (geometry, code) in cases {
        let body = collection(vec![feature("ok", None, poly(square(18.0, 59.0, 0.1))), feature("bad", None, geometry)]);
        assert_eq!(errors_of(body), [("features[1].geometry".to_owned(), code.to_owned())], "{code}");
    }
}

#[test]
fn codes_parents_and_cycles_are_checked() {
    let g = || json!({ "type": "Polygon", "coordinates": square(18.0, 59.0, 0.1) });
    assert_eq!(
        errors_of(collection(vec![feature("a", None, g()), feature("a", None, g())])),
        [("features[1].properties.code".to_owned(), "duplicate_code".to_owned())]
    );
    assert_eq!(
        errors_of(collection(vec![feature("a", Some("nowhere"), g())])),
        [("features[0].properties.parent_code".to_owned(), "unknown_parent".to_owned())]
    );
    let cycle = errors_of(collection(vec![feature("a", Some("b"), g()), feature("b", Some("a"), g())]));
    assert!(cycle.iter().all(|(_, code)| code == "parent_cycle") && cycle.len() == 2, "{cycle:?}");
    // A parent already stored is fine.
    let stored: HashSet<String> = ["district".to_owned()].into();
    assert!(parse_collection(&collection(vec![feature("a", Some("district"), g())]), &stored).is_ok());
    assert_eq!(errors_of(json!({ "type": "Feature" })), [("type".to_owned(), "not_a_feature_collection".to_owned())]);
}

#[test]
fn too_many_vertices_are_refused() {
    let ring: Vec<[f64; 2]> = (0..=50_001)
        .map(|i| {
            let angle = f64::from(i) / 50_001.0 * std::f64::consts::TAU;
            [18.0 + 0.1 * angle.cos(), 59.0 + 0.05 * angle.sin()]
        })
        .collect();
    let mut ring = ring;
    ring.pop();
    ring.push(ring[0]);
    let body = collection(vec![feature("big", None, json!({ "type": "Polygon", "coordinates": [ring] }))]);
    assert!(errors_of(body).contains(&("features".to_owned(), "too_many_vertices".to_owned())));
}

fn index_of(body: Value) -> AreaIndex {
    let areas = parse_collection(&body, &HashSet::new()).unwrap();
    AreaIndex::new(areas.into_iter().map(|a| (a.code, a.parent_code, a.geometry)))
}

#[test]
fn points_go_to_the_smallest_area_holes_and_multipolygons_included() {
    let district = json!({ "type": "Polygon", "coordinates": [
        [[18.0, 59.0], [18.4, 59.0], [18.4, 59.4], [18.0, 59.4], [18.0, 59.0]],
        [[18.3, 59.3], [18.35, 59.3], [18.35, 59.35], [18.3, 59.35], [18.3, 59.3]]
    ]});
    let hood = json!({ "type": "MultiPolygon", "coordinates": [square(18.1, 59.1, 0.1), square(18.25, 59.1, 0.05)] });
    let index = index_of(collection(vec![feature("D", None, district), feature("N", Some("D"), hood)]));
    assert_eq!(index.locate(18.15, 59.15), Some("N"));
    assert_eq!(index.locate(18.27, 59.12), Some("N"), "the second polygon of the MultiPolygon");
    assert_eq!(index.locate(18.05, 59.05), Some("D"));
    assert_eq!(index.locate(18.32, 59.32), None, "inside the district's hole");
    assert_eq!(index.locate(17.0, 59.0), None, "outside every area");
    assert_eq!(index.ancestors("N"), ["D"]);
    // On the shared edge of two equal squares: the lower code, whatever the order.
    for order in [vec!["B", "A"], vec!["A", "B"]] {
        let features = order
            .iter()
            .map(|code| feature(code, None, json!({ "type": "Polygon", "coordinates": square(if *code == "A" { 18.0 } else { 18.1 }, 59.0, 0.1) })))
            .collect();
        assert_eq!(index_of(collection(features)).locate(18.1, 59.05), Some("A"));
    }
}

proptest! {
    #[test]
    fn any_point_in_a_random_rectangle_is_found_and_points_outside_are_not(
        x in 17.0f64..19.0, y in 58.0f64..60.0, w in 0.001f64..0.5, h in 0.001f64..0.5,
        fx in 0.0f64..=1.0, fy in 0.0f64..=1.0, out in 0.0001f64..1.0,
    ) {
        let geometry = json!({ "type": "Polygon", "coordinates": [[[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]] });
        let index = index_of(collection(vec![feature("R", None, geometry)]));
        prop_assert_eq!(index.locate(x + fx * w, y + fy * h), Some("R"));
        prop_assert_eq!(index.locate(x + w + out, y + fy * h), None);
        prop_assert_eq!(index.locate(x + fx * w, y - out), None);
    }

    #[test]
    fn parsing_never_panics(body in proptest::arbitrary::any::<Vec<(f64, f64)>>()) {
        let ring: Vec<Value> = body.iter().map(|(a, b)| json!([a, b])).collect();
        let _ = parse_collection(&collection(vec![feature("x", None, json!({ "type": "Polygon", "coordinates": [ring] }))]), &HashSet::new());
    }
}
