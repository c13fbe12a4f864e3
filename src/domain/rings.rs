//! Validity of imported (Multi)Polygons.
//!
//! geo's `Validation` compares every segment of a ring with every other and relates every pair
//! of rings and polygons: a 50,000-vertex polygon takes seconds to half a minute. Here a sweep
//! line (Shamos–Hoey, see `sweep`) passes once over the segments of all rings, so that only
//! segments next to one another along it, or meeting at a vertex, are compared: O(n log n)
//! whatever the shape, a spiky star as much as a boundary of short segments (BENCHMARKS.md). The
//! comparisons use exact orientation tests (geo's robust kernel). Where two rings meet at a point,
//! the edges around that point tell a touch from a crossing, and which ring lies inside which; a
//! touch does not end the sweep. Rings that do not meet are placed by one point-in-ring test along
//! a ray, through an R-tree of segment envelopes.
//!
//! The verdicts are geo's (the proptest in `tests` compares them), with one deliberate
//! difference: a ring of three distinct positions on one line encloses no area and is refused,
//! where geo lets it pass. Like geo, a hole may touch its shell (or another hole) at any number
//! of single points, even where that cuts the polygon's interior in two, which OGC would refuse.
//! Of several problems, the one named is the first the sweep meets, from the west.
//!
//! Codes: `self_intersection` for boundaries that cross, touch themselves or run along one
//! another (within a ring, between the rings of a polygon, between the polygons of a
//! MultiPolygon) and for a hole inside another hole; `hole_outside_shell` for a hole that does
//! not cross its shell and lies outside it; `invalid_geometry` for a ring of fewer than three
//! distinct positions or no area, a non-finite position, and polygons of a MultiPolygon lying
//! inside one another.

use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::line_intersection::{LineIntersection, line_intersection};
use geo::{Coord, Line, MultiPolygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, Envelope, RTree};
use std::cmp::Ordering;
use std::collections::HashMap;

#[cfg(test)]
mod pairwise;
mod sweep;
#[cfg(test)]
mod tests;

/// A refusal: its stable code and a sentence naming the polygon and ring.
pub type Problem = (&'static str, String);

/// One ring, its consecutive repeated positions removed; `coords` is closed (last = first).
struct Ring {
    polygon: usize,
    ring: usize,
    coords: Vec<Coord<f64>>,
    ccw: bool,
    envelope: AABB<[f64; 2]>,
}

impl Ring {
    /// Segments: segment `i` runs from `coords[i]` to `coords[i + 1]`.
    fn segments(&self) -> usize {
        self.coords.len() - 1
    }

    fn segment(&self, i: usize) -> (Coord<f64>, Coord<f64>) {
        (self.coords[i], self.coords[i + 1])
    }

    /// Segments `i` and `j` share a vertex by their place in the ring.
    fn adjacent(&self, i: usize, j: usize) -> bool {
        let n = self.segments();
        i.abs_diff(j) == 1 || i.abs_diff(j) == n - 1
    }

    /// The positions before and after `at` on segment `i`: its neighbours when `at` is a vertex,
    /// else the segment's ends.
    fn around(&self, i: usize, at: Coord<f64>) -> (Coord<f64>, Coord<f64>) {
        let n = self.segments();
        let (a, b) = self.segment(i);
        if at == a {
            (self.coords[(i + n - 1) % n], b)
        } else if at == b {
            (a, self.coords[(i + 2) % n])
        } else {
            (a, b)
        }
    }

    fn name(&self) -> String {
        format!("polygon {}, ring {}", self.polygon, self.ring)
    }
}

type Segment = GeomWithData<Rectangle<[f64; 2]>, (usize, usize)>;
type RingBox = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// How two segments meet.
#[derive(Debug, PartialEq)]
enum Meet {
    Apart,
    /// At one point inside both.
    Proper,
    /// At one point that ends at least one of them.
    Touch(Coord<f64>),
    /// Along a stretch of positive length, from one position to the other.
    Overlap(Coord<f64>, Coord<f64>),
}

fn orient(p: Coord<f64>, q: Coord<f64>, r: Coord<f64>) -> Orientation {
    RobustKernel::orient2d(p, q, r)
}

/// Lexicographic order, which on one line is the order along it.
fn lex(a: Coord<f64>, b: Coord<f64>) -> Ordering {
    a.x.partial_cmp(&b.x).unwrap_or(Ordering::Equal).then(a.y.partial_cmp(&b.y).unwrap_or(Ordering::Equal))
}

fn meet(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>, d: Coord<f64>) -> Meet {
    use Orientation::Collinear;
    let (o1, o2) = (orient(a, b, c), orient(a, b, d));
    if o1 == Collinear && o2 == Collinear {
        // On one line: the overlap of [min, max] of each along it.
        let (lo1, hi1) = if lex(a, b) == Ordering::Greater { (b, a) } else { (a, b) };
        let (lo2, hi2) = if lex(c, d) == Ordering::Greater { (d, c) } else { (c, d) };
        let lo = if lex(lo1, lo2) == Ordering::Less { lo2 } else { lo1 };
        let hi = if lex(hi1, hi2) == Ordering::Less { hi1 } else { hi2 };
        return match lex(lo, hi) {
            Ordering::Less => Meet::Overlap(lo, hi),
            Ordering::Equal => Meet::Touch(lo),
            Ordering::Greater => Meet::Apart,
        };
    }
    let (o3, o4) = (orient(c, d, a), orient(c, d, b));
    if (o1 != Collinear && o1 == o2) || (o3 != Collinear && o3 == o4) {
        return Meet::Apart;
    }
    // The lines cross once; a position on the other segment's line is that point.
    if o1 == Collinear {
        Meet::Touch(c)
    } else if o2 == Collinear {
        Meet::Touch(d)
    } else if o3 == Collinear {
        Meet::Touch(a)
    } else if o4 == Collinear {
        Meet::Touch(b)
    } else {
        Meet::Proper
    }
}

/// Where two properly crossing segments cross, rounded.
fn crossing_point(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>, d: Coord<f64>) -> Coord<f64> {
    match line_intersection(Line::new(a, b), Line::new(c, d)) {
        Some(LineIntersection::SinglePoint { intersection, .. }) => intersection,
        _ => c,
    }
}

fn at(p: Coord<f64>) -> String {
    format!("[{}, {}]", p.x, p.y)
}

/// Which side of a ring's boundary, near one of its points, a direction points to.
#[derive(Debug, PartialEq, Clone, Copy)]
enum Side {
    Inside,
    Outside,
    /// Along one of the ring's own edges.
    Along,
}

/// Where the direction from `o` to `q` points relative to a ring passing through `o` from
/// `prev` to `next`: into the ring's interior, out of it, or along one of its edges.
fn side(o: Coord<f64>, prev: Coord<f64>, next: Coord<f64>, ccw: bool, q: Coord<f64>) -> Side {
    use Orientation::{Clockwise, Collinear, CounterClockwise};
    let same_ray = |r: Coord<f64>| orient(o, r, q) == Collinear && lex(o, r) == lex(o, q);
    if same_ray(prev) || same_ray(next) {
        return Side::Along;
    }
    // The interior is swept counter-clockwise from `from` to `to`.
    let (from, to) = if ccw { (next, prev) } else { (prev, next) };
    let inside = match orient(o, from, to) {
        CounterClockwise => orient(o, from, q) == CounterClockwise && orient(o, to, q) == Clockwise,
        Clockwise => !(orient(o, to, q) == CounterClockwise && orient(o, from, q) == Clockwise),
        Collinear => orient(o, from, q) == CounterClockwise,
    };
    if inside { Side::Inside } else { Side::Outside }
}

/// Whether a ring of distinct consecutive positions runs counter-clockwise: the turn at its
/// lowest (then leftmost) vertex, which is convex.
fn counter_clockwise(coords: &[Coord<f64>]) -> bool {
    let n = coords.len() - 1;
    let lowest = (0..n)
        .min_by(|&i, &j| {
            let (a, b) = (coords[i], coords[j]);
            a.y.partial_cmp(&b.y).unwrap_or(Ordering::Equal).then(a.x.partial_cmp(&b.x).unwrap_or(Ordering::Equal))
        })
        .unwrap_or(0);
    orient(coords[(lowest + n - 1) % n], coords[lowest], coords[lowest + 1]) == Orientation::CounterClockwise
}

/// Checks a MultiPolygon (a Polygon is a MultiPolygon of one); the first problem found.
pub fn validate(geometry: &MultiPolygon<f64>) -> Result<(), Problem> {
    let rings = rings_of(geometry)?;
    let touches = sweep::meetings(&rings)?;
    // One ring has nothing to lie inside or around.
    if rings.len() == 1 {
        return Ok(());
    }
    check_nesting(&rings, &segment_tree(&rings), &touches)
}

/// The segments of all rings by their envelopes, for the point-in-ring tests.
fn segment_tree(rings: &[Ring]) -> RTree<Segment> {
    let segments: Vec<Segment> = rings
        .iter()
        .enumerate()
        .flat_map(|(k, ring)| {
            (0..ring.segments()).map(move |i| {
                let (a, b) = ring.segment(i);
                GeomWithData::new(Rectangle::from_corners([a.x, a.y], [b.x, b.y]), (k, i))
            })
        })
        .collect();
    RTree::bulk_load(segments)
}

fn rings_of(geometry: &MultiPolygon<f64>) -> Result<Vec<Ring>, Problem> {
    let mut rings = Vec::new();
    for (p, polygon) in geometry.0.iter().enumerate() {
        for (r, line) in std::iter::once(polygon.exterior()).chain(polygon.interiors()).enumerate() {
            let name = format!("polygon {p}, ring {r}");
            if let Some(c) = line.0.iter().find(|c| !c.x.is_finite() || !c.y.is_finite()) {
                return Err(("invalid_geometry", format!("{name} has a non-finite position {}", at(*c))));
            }
            let mut coords = line.0.clone();
            coords.dedup();
            if let Some(&first) = coords.first()
                && coords.last() != Some(&first)
            {
                coords.push(first);
            }
            if coords.len() < 4 {
                return Err(("invalid_geometry", format!("{name} must have at least 3 distinct positions")));
            }
            // Deliberately stricter than geo: three positions on one line enclose nothing.
            if coords.len() == 4 && orient(coords[0], coords[1], coords[2]) == Orientation::Collinear {
                return Err(("invalid_geometry", format!("{name} encloses no area: its positions lie on one line")));
            }
            let envelope = AABB::from_points(coords.iter().map(|c| [c.x, c.y]).collect::<Vec<_>>().iter());
            rings.push(Ring { polygon: p, ring: r, ccw: counter_clockwise(&coords), coords, envelope });
        }
    }
    Ok(rings)
}

/// For rings that touch: whether the first lies inside the second, by (first, second).
type Touches = HashMap<(usize, usize), bool>;

/// Judges two segments, `(k, i)` before `(l, j)`, wherever they meet. Within a ring only
/// neighbours may meet, at their shared vertex. Different rings may touch at single points but
/// not cross or share an edge; a touch records which of the two lies inside the other.
fn classify(
    rings: &[Ring],
    (k, i): (usize, usize),
    (l, j): (usize, usize),
    touches: &mut Touches,
) -> Result<(), Problem> {
    if k == l {
        return classify_within(&rings[k], i, j);
    }
    let (first, second) = (&rings[k], &rings[l]);
    let ((a, b), (c, d)) = (first.segment(i), second.segment(j));
    let point = match meet(a, b, c, d) {
        Meet::Apart => return Ok(()),
        Meet::Proper => {
            let p = crossing_point(a, b, c, d);
            return Err(("self_intersection", format!("{} crosses {} at {}", first.name(), second.name(), at(p))));
        }
        Meet::Overlap(p, q) => {
            return Err((
                "self_intersection",
                format!("{} and {} share the edge from {} to {}", first.name(), second.name(), at(p), at(q)),
            ));
        }
        Meet::Touch(p) => p,
    };
    let (fp, fn_) = first.around(i, point);
    let (sp, sn) = second.around(j, point);
    let of_second = (side(point, fp, fn_, first.ccw, sp), side(point, fp, fn_, first.ccw, sn));
    let of_first = (side(point, sp, sn, second.ccw, fp), side(point, sp, sn, second.ccw, fn_));
    if [of_second.0, of_second.1, of_first.0, of_first.1].contains(&Side::Along) {
        return Err((
            "self_intersection",
            format!("{} and {} share an edge at {}", first.name(), second.name(), at(point)),
        ));
    }
    if of_second.0 != of_second.1 || of_first.0 != of_first.1 {
        return Err(("self_intersection", format!("{} crosses {} at {}", first.name(), second.name(), at(point))));
    }
    touches.insert((l, k), of_second.0 == Side::Inside);
    touches.insert((k, l), of_first.0 == Side::Inside);
    Ok(())
}

/// Two segments of one ring, `i` before `j`: they may meet only as neighbours.
fn classify_within(ring: &Ring, i: usize, j: usize) -> Result<(), Problem> {
    if ring.adjacent(i, j) {
        return Ok(());
    }
    let ((a, b), (c, d)) = (ring.segment(i), ring.segment(j));
    let how = match meet(a, b, c, d) {
        Meet::Apart => return Ok(()),
        Meet::Proper => format!("crosses itself at {}", at(crossing_point(a, b, c, d))),
        Meet::Touch(p) => format!("touches itself at {}", at(p)),
        Meet::Overlap(p, q) => format!("runs back along itself from {} to {}", at(p), at(q)),
    };
    Err(("self_intersection", format!("{} {how}", ring.name())))
}

/// Whether `point` lies inside ring `k` (its winding number along a ray to the east, over the
/// segments the ray's box meets); None on the boundary.
fn point_in_ring(rings: &[Ring], tree: &RTree<Segment>, k: usize, point: Coord<f64>) -> Option<bool> {
    let ray = AABB::from_corners([point.x, point.y], [rings[k].envelope.upper()[0], point.y]);
    let mut winding = 0i64;
    for segment in tree.locate_in_envelope_intersecting(&ray).filter(|s| s.data.0 == k) {
        let (a, b) = rings[k].segment(segment.data.1);
        let turn = orient(a, b, point);
        if turn == Orientation::Collinear
            && (a.x.min(b.x)..=a.x.max(b.x)).contains(&point.x)
            && (a.y.min(b.y)..=a.y.max(b.y)).contains(&point.y)
        {
            return None;
        }
        if a.y <= point.y {
            if b.y > point.y && turn == Orientation::CounterClockwise {
                winding += 1;
            }
        } else if b.y <= point.y && turn == Orientation::Clockwise {
            winding -= 1;
        }
    }
    Some(winding != 0)
}

/// Whether ring `k` lies inside ring `l`, for rings that neither cross nor share an edge.
fn inside(rings: &[Ring], tree: &RTree<Segment>, touches: &Touches, k: usize, l: usize) -> bool {
    if let Some(&within) = touches.get(&(k, l)) {
        return within;
    }
    let (outer, inner) = (&rings[l].envelope, &rings[k].envelope);
    if !(outer.contains_envelope(inner)) {
        return false;
    }
    // Without a touch, no vertex of `k` lies on `l`; the loop only guards against that.
    rings[k].coords.iter().find_map(|&c| point_in_ring(rings, tree, l, c)).unwrap_or(false)
}

/// Holes inside their shell and not inside one another; polygons not inside one another except
/// within a hole.
fn check_nesting(rings: &[Ring], tree: &RTree<Segment>, touches: &Touches) -> Result<(), Problem> {
    let boxes: RTree<RingBox> = RTree::bulk_load(
        rings.iter().enumerate().map(|(k, r)| GeomWithData::new(Rectangle::from_aabb(r.envelope), k)).collect(),
    );
    let shells: Vec<usize> = (0..rings.len()).filter(|&k| rings[k].ring == 0).collect();
    let shell_of = |k: usize| shells[rings[k].polygon];
    for (k, ring) in rings.iter().enumerate() {
        let mut around: Vec<usize> = boxes
            .locate_in_envelope_intersecting(&ring.envelope)
            .map(|e| e.data)
            .filter(|&l| l != k && rings[l].envelope.contains_envelope(&ring.envelope))
            .collect();
        around.sort_unstable();
        if ring.ring > 0 {
            if !inside(rings, tree, touches, k, shell_of(k)) {
                return Err(("hole_outside_shell", format!("{} is a hole outside its shell, ring 0", ring.name())));
            }
            if let Some(&l) = around
                .iter()
                .find(|&&l| rings[l].polygon == ring.polygon && rings[l].ring > 0 && inside(rings, tree, touches, k, l))
            {
                return Err((
                    "self_intersection",
                    format!("{} is a hole inside another hole, ring {}", ring.name(), rings[l].ring),
                ));
            }
            continue;
        }
        // A shell inside another polygon's shell must lie in one of that polygon's holes.
        for &l in around.iter().filter(|&&l| rings[l].ring == 0) {
            if !inside(rings, tree, touches, k, l) {
                continue;
            }
            let in_hole = around.iter().any(|&h| {
                rings[h].polygon == rings[l].polygon && rings[h].ring > 0 && inside(rings, tree, touches, k, h)
            });
            if !in_hole {
                return Err((
                    "invalid_geometry",
                    format!(
                        "polygon {} lies inside polygon {}; the polygons of a MultiPolygon may not overlap",
                        ring.polygon, rings[l].polygon
                    ),
                ));
            }
        }
    }
    Ok(())
}
