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
/// Codes that name another resource under `/api/v1/areas/`.
const RESERVED_CODES: [&str; 1] = ["jobs"];
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
/// Refuses areas that lie wholly outside the organisation's bounding box, naming the feature;
/// when the area would lie in it with latitude and longitude exchanged, says so.
pub fn within(inputs: &[AreaInput], bbox: &crate::domain::records::BoundingBox) -> Result<(), Vec<FieldError>> {
    let overlaps = |[min_x, min_y, max_x, max_y]: [f64; 4]| {
        min_x <= bbox.max_lon && max_x >= bbox.min_lon && min_y <= bbox.max_lat && max_y >= bbox.min_lat
    };
    let errors: Vec<FieldError> = inputs
        .iter()
        .enumerate()
        .filter_map(|(i, area)| {
            let [min_x, min_y, max_x, max_y] = area.bbox();
            if overlaps([min_x, min_y, max_x, max_y]) {
                return None;
            }
            let field = format!("features[{i}].geometry");
            Some(if overlaps([min_y, min_x, max_y, max_x]) {
                FieldError::new(
                    &field,
                    "swapped_coordinates",
                    format!(
                        "`{}` lies outside the organisation's bounding box, and inside it with latitude and \
                         longitude exchanged: GeoJSON positions are [longitude, latitude]",
                        area.code
                    ),
                )
            } else {
                FieldError::new(
                    &field,
                    "outside_bounding_box",
                    format!(
                        "`{}` lies wholly outside the organisation's bounding box (latitude {}–{}, longitude {}–{})",
                        area.code, bbox.min_lat, bbox.max_lat, bbox.min_lon, bbox.max_lon
                    ),
                )
            })
        })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

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
        let code = code.and_then(|code| match code {
            Some(code) if RESERVED_CODES.contains(&code.as_str()) => Err(FieldError::new(
                &at("properties.code"),
                "reserved_code",
                format!("`{code}` names another resource under `/api/v1/areas/`; choose another code"),
            )),
            code => Ok(code),
        });
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

    /// Whether an area with this code is in the index.
    pub fn has(&self, code: &str) -> bool {
        self.shapes.iter().any(|shape| shape.code == code)
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
mod tests;
