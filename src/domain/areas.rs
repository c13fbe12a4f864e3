//! Areas: named (Multi)Polygons in WGS84 that records are assigned to, read from GeoJSON
//! (RFC 7946) and held in an R-tree.

use super::FieldError;
use geo::{Area, BoundingRect, Intersects, MultiPolygon, Point, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The most vertices one import may hold.
pub const MAX_VERTICES: usize = 50_000;
/// The longest code and name.
const MAX_CODE: usize = 64;
const MAX_NAME: usize = 200;

/// One area as imported.
#[derive(Debug, Clone)]
pub struct AreaInput {
    pub code: String,
    pub name: String,
    pub parent_code: Option<String>,
    pub geometry: MultiPolygon<f64>,
}

impl AreaInput {
    /// The bounding box as (min lon, min lat, max lon, max lat).
    pub fn bbox(&self) -> [f64; 4] {
        self.geometry.bounding_rect().map_or([0.0; 4], |r| [r.min().x, r.min().y, r.max().x, r.max().y])
    }

    /// Vertices, counting each ring's closing position once.
    pub fn vertices(&self) -> usize {
        self.geometry.0.iter().map(polygon_vertices).sum()
    }

    /// The geometry as GeoJSON text: a Polygon when it is one, else a MultiPolygon.
    pub fn geometry_json(&self) -> String {
        geometry_json(&self.geometry)
    }

    /// A simplified outline for phones (Ramer–Douglas–Peucker at `tolerance` degrees), as
    /// GeoJSON text; the exact geometry where simplifying would break it.
    pub fn outline_json(&self, tolerance: f64) -> String {
        simplified(&self.geometry, tolerance).map_or_else(|| self.geometry_json(), |s| geometry_json(&s))
    }
}

/// Every area inside `root` (itself included), given each area's `(child, parent)` link: the
/// areas a question about `root` covers, however deep the nesting.
pub fn with_descendants<K, I>(root: K, links: I) -> HashSet<K>
where
    K: Eq + std::hash::Hash + Clone,
    I: IntoIterator<Item = (K, K)> + Clone,
{
    let mut all = HashSet::from([root]);
    loop {
        let before = all.len();
        for (child, parent) in links.clone() {
            if all.contains(&parent) {
                all.insert(child);
            }
        }
        if all.len() == before {
            return all;
        }
    }
}

/// GeoJSON text for a geometry: a Polygon when it is one, else a MultiPolygon.
pub fn geometry_json(geometry: &MultiPolygon<f64>) -> String {
    match geometry.0.as_slice() {
        [polygon] => geojson::Geometry::from(polygon).to_string(),
        _ => geojson::Geometry::from(geometry).to_string(),
    }
}

/// The geometry simplified, if the result is still valid and keeps every polygon.
pub fn simplified(geometry: &MultiPolygon<f64>, tolerance: f64) -> Option<MultiPolygon<f64>> {
    let simple = super::simplify::simplify(geometry, tolerance);
    (simple.0.len() == geometry.0.len()
        && super::rings::validate(&simple).is_ok()
        && simple.0.iter().all(|p| p.exterior().0.len() >= 4))
    .then_some(simple)
}

fn polygon_vertices(polygon: &Polygon<f64>) -> usize {
    std::iter::once(polygon.exterior()).chain(polygon.interiors()).map(|ring| ring.0.len().saturating_sub(1)).sum()
}

/// Reads a FeatureCollection of Polygon and MultiPolygon features with `code`, `name` and an
/// optional `parent_code`. Every problem names its feature (`features[3].geometry`);
/// `stored_codes` are the organisation's areas already stored, which may be parents.
pub fn parse_collection(body: &Value, stored_codes: &HashSet<String>) -> Result<Vec<AreaInput>, Vec<FieldError>> {
    let mut errors = Vec::new();
    if body.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(vec![FieldError::new("type", "not_a_feature_collection", "must be a GeoJSON FeatureCollection")]);
    }
    let Some(features) = body.get("features").and_then(Value::as_array) else {
        return Err(vec![FieldError::new("features", "required", "must be an array of features")]);
    };
    let mut areas = Vec::new();
    let mut total_vertices = 0;
    for (i, feature) in features.iter().enumerate() {
        let at = |field: &str| format!("features[{i}].{field}");
        let text = |key: &str, max: usize| -> Result<Option<String>, FieldError> {
            match feature.get("properties").and_then(|p| p.get(key)) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if !s.trim().is_empty() && s.trim().chars().count() <= max => {
                    Ok(Some(s.trim().to_owned()))
                }
                Some(_) => Err(FieldError::new(
                    &at(&format!("properties.{key}")),
                    "invalid",
                    format!("must be text of 1–{max} characters"),
                )),
            }
        };
        let (code, name, parent) = (text("code", MAX_CODE), text("name", MAX_NAME), text("parent_code", MAX_CODE));
        let mut ok = true;
        let mut take = |result: Result<Option<String>, FieldError>, key: &str, required: bool| match result {
            Ok(Some(value)) => Some(value),
            Ok(None) if required => {
                errors.push(FieldError::new(&at(&format!("properties.{key}")), "required", "is required"));
                ok = false;
                None
            }
            Ok(None) => None,
            Err(error) => {
                errors.push(error);
                ok = false;
                None
            }
        };
        let code = take(code, "code", true);
        let name = take(name, "name", true);
        let parent_code = take(parent, "parent_code", false);
        // Count first: a geometry past the limit is refused without the costly validation.
        let raw_vertices = raw_vertex_count(feature.get("geometry"));
        if total_vertices + raw_vertices > MAX_VERTICES {
            total_vertices += raw_vertices;
            continue;
        }
        match geometry_of(feature.get("geometry")) {
            Ok(geometry) => {
                let input =
                    AreaInput { code: code.unwrap_or_default(), name: name.unwrap_or_default(), parent_code, geometry };
                total_vertices += input.vertices();
                if ok {
                    areas.push(input);
                }
            }
            Err(problem) => errors.push(FieldError::new(&at("geometry"), problem.0, problem.1)),
        }
    }
    if total_vertices > MAX_VERTICES {
        errors.push(FieldError::new(
            "features",
            "too_many_vertices",
            format!("{total_vertices} vertices; at most {MAX_VERTICES} may be imported at once"),
        ));
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, area) in areas.iter().enumerate() {
        if let Some(first) = seen.insert(area.code.as_str(), i) {
            errors.push(FieldError::new(
                &format!("features[{i}].properties.code"),
                "duplicate_code",
                format!("`{}` is also the code of feature {first}", area.code),
            ));
        }
    }
    let parents: HashMap<&str, Option<&str>> =
        areas.iter().map(|a| (a.code.as_str(), a.parent_code.as_deref())).collect();
    for (i, area) in areas.iter().enumerate() {
        let Some(parent) = area.parent_code.as_deref() else { continue };
        if !parents.contains_key(parent) && !stored_codes.contains(parent) {
            errors.push(FieldError::new(
                &format!("features[{i}].properties.parent_code"),
                "unknown_parent",
                format!("no area has the code `{parent}`"),
            ));
            continue;
        }
        // Follow the parents within the file: coming back to this code is a cycle.
        let mut current = Some(parent);
        let mut steps = 0;
        while let Some(code) = current {
            if code == area.code || steps > areas.len() {
                errors.push(FieldError::new(
                    &format!("features[{i}].properties.parent_code"),
                    "parent_cycle",
                    format!("`{}` would end up inside itself", area.code),
                ));
                break;
            }
            current = parents.get(code).copied().flatten();
            steps += 1;
        }
    }
    if errors.is_empty() { Ok(areas) } else { Err(errors) }
}

use super::rings::Problem;

/// The positions in a raw Polygon or MultiPolygon, less one closing position per ring.
fn raw_vertex_count(value: Option<&Value>) -> usize {
    let rings = |polygon: &Value| -> usize {
        polygon
            .as_array()
            .map_or(0, |rings| rings.iter().map(|r| r.as_array().map_or(0, |p| p.len().saturating_sub(1))).sum())
    };
    let Some(coordinates) = value.and_then(|v| v.get("coordinates")) else { return 0 };
    match value.and_then(|v| v.get("type")).and_then(Value::as_str) {
        Some("Polygon") => rings(coordinates),
        Some("MultiPolygon") => coordinates.as_array().map_or(0, |polygons| polygons.iter().map(rings).sum()),
        _ => 0,
    }
}

/// Reads and checks one feature's geometry.
fn geometry_of(value: Option<&Value>) -> Result<MultiPolygon<f64>, Problem> {
    let value = value.ok_or(("required", "a Polygon or MultiPolygon geometry is required".to_owned()))?;
    let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
    let coordinates = value.get("coordinates").ok_or(("invalid", "the geometry has no coordinates".to_owned()))?;
    let polygons: Vec<&Value> = match kind {
        "Polygon" => vec![coordinates],
        "MultiPolygon" => coordinates
            .as_array()
            .ok_or(("invalid", "MultiPolygon coordinates must be an array of polygons".to_owned()))?
            .iter()
            .collect(),
        other => return Err(("unsupported_geometry", format!("`{other}` is not a Polygon or MultiPolygon"))),
    };
    if polygons.is_empty() {
        return Err(("invalid", "the MultiPolygon holds no polygon".to_owned()));
    }
    let mut result = Vec::new();
    for (p, polygon) in polygons.iter().enumerate() {
        let rings =
            polygon.as_array().filter(|r| !r.is_empty()).ok_or(("invalid", format!("polygon {p} has no rings")))?;
        let mut parsed = Vec::new();
        for (r, ring) in rings.iter().enumerate() {
            let positions = ring.as_array().ok_or(("invalid", format!("polygon {p}, ring {r} is not an array")))?;
            let mut coords = Vec::with_capacity(positions.len());
            for position in positions {
                let pair = position.as_array().filter(|a| a.len() >= 2);
                let (lon, lat) = match pair.map(|a| (a[0].as_f64(), a[1].as_f64())) {
                    Some((Some(lon), Some(lat))) => (lon, lat),
                    _ => {
                        return Err((
                            "invalid",
                            format!("polygon {p}, ring {r}: every position is [longitude, latitude]"),
                        ));
                    }
                };
                if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
                    return Err((
                        "outside_wgs84",
                        format!("polygon {p}, ring {r}: [{lon}, {lat}] is not a WGS84 position"),
                    ));
                }
                coords.push(geo::coord! { x: lon, y: lat });
            }
            if coords.len() < 4 {
                return Err((
                    "ring_too_short",
                    format!("polygon {p}, ring {r} has {} positions; a ring needs at least 4", coords.len()),
                ));
            }
            if coords.first() != coords.last() {
                return Err(("ring_not_closed", format!("polygon {p}, ring {r} does not end where it starts")));
            }
            parsed.push(geo::LineString::from(coords));
        }
        let exterior = parsed.remove(0);
        result.push(Polygon::new(exterior, parsed));
    }
    let geometry = MultiPolygon::new(result);
    super::rings::validate(&geometry)?;
    Ok(geometry)
}

/// One stored area as the index holds it.
#[derive(Debug, Clone)]
pub struct AreaShape {
    pub code: String,
    pub parent_code: Option<String>,
    pub geometry: MultiPolygon<f64>,
    /// Its size, for "the smallest area containing the point".
    size: f64,
}

/// An organisation's areas in an R-tree of bounding boxes.
#[derive(Debug, Default)]
pub struct AreaIndex {
    shapes: Vec<AreaShape>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
}

impl AreaIndex {
    /// Builds the index from (code, parent code, geometry).
    pub fn new(areas: impl IntoIterator<Item = (String, Option<String>, MultiPolygon<f64>)>) -> Self {
        let shapes: Vec<AreaShape> = areas
            .into_iter()
            .map(|(code, parent_code, geometry)| AreaShape {
                size: geometry.unsigned_area(),
                code,
                parent_code,
                geometry,
            })
            .collect();
        let boxes = shapes
            .iter()
            .enumerate()
            .filter_map(|(i, shape)| {
                let rect = shape.geometry.bounding_rect()?;
                Some(GeomWithData::new(
                    Rectangle::from_corners([rect.min().x, rect.min().y], [rect.max().x, rect.max().y]),
                    i,
                ))
            })
            .collect();
        Self { shapes, tree: RTree::bulk_load(boxes) }
    }

    /// The code of the smallest area containing the point. A point on a boundary is inside
    /// (both neighbours contain it); among equally small candidates the lowest code wins, so
    /// the answer never depends on the order of import. None: outside every area.
    pub fn locate(&self, lon: f64, lat: f64) -> Option<&str> {
        let point = Point::new(lon, lat);
        self.tree
            .locate_in_envelope_intersecting(&AABB::from_point([lon, lat]))
            .map(|entry| &self.shapes[entry.data])
            .filter(|shape| shape.geometry.intersects(&point))
            .min_by(|a, b| a.size.total_cmp(&b.size).then_with(|| a.code.cmp(&b.code)))
            .map(|shape| shape.code.as_str())
    }

    /// The area's parent, grandparent and so on.
    pub fn ancestors(&self, code: &str) -> Vec<&str> {
        let parents: HashMap<&str, Option<&str>> =
            self.shapes.iter().map(|s| (s.code.as_str(), s.parent_code.as_deref())).collect();
        let mut chain = Vec::new();
        let mut current = parents.get(code).copied().flatten();
        while let Some(parent) = current.filter(|p| !chain.contains(p) && *p != code) {
            chain.push(parent);
            current = parents.get(parent).copied().flatten();
        }
        chain
    }

    /// How many areas there are.
    pub fn len(&self) -> usize {
        self.shapes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.shapes.is_empty()
    }
}

#[cfg(test)]
mod tests {
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
            (
                poly(json!([[[18.0, 59.0], [18.1, 59.1], [18.1, 59.0], [18.0, 59.1], [18.0, 59.0]]])),
                "self_intersection",
            ),
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
            let body =
                collection(vec![feature("ok", None, poly(square(18.0, 59.0, 0.1))), feature("bad", None, geometry)]);
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
        assert_eq!(
            errors_of(json!({ "type": "Feature" })),
            [("type".to_owned(), "not_a_feature_collection".to_owned())]
        );
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
        let hood =
            json!({ "type": "MultiPolygon", "coordinates": [square(18.1, 59.1, 0.1), square(18.25, 59.1, 0.05)] });
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
}
