//! Validity of imported (Multi)Polygons.
//!
//! geo's `Validation` compares every segment of a ring with every other and relates every pair
//! of rings and polygons: a 50,000-vertex polygon takes seconds to half a minute. Here the
//! segments go into an R-tree of their envelopes, so only segments whose boxes meet are compared
//! (O(n log n) for a boundary of short segments; not in the worst case: long segments whose boxes
//! overlap by the thousand, like the spokes of a spiky star, are compared pair by pair and cost as
//! much as geo, see BENCHMARKS.md; a sweep line would bound that too), with exact
//! orientation tests (geo's robust kernel). Where two rings meet at a point, the edges around
//! that point tell a touch from a crossing, and which ring lies inside which; rings that do not
//! meet are placed by one point-in-ring test along a ray, again through the R-tree.
//!
//! The verdicts are geo's (the proptest in this module compares them), with one deliberate
//! difference: a ring of three distinct positions on one line encloses no area and is refused,
//! where geo lets it pass. Like geo, a hole may touch its shell (or another hole) at any number
//! of single points, even where that cuts the polygon's interior in two, which OGC would refuse.
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
    let tree = RTree::bulk_load(segments);
    check_rings_alone(&rings, &tree)?;
    let touches = check_rings_together(&rings, &tree)?;
    check_nesting(&rings, &tree, &touches)
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

/// Segment pairs (k, i) < (l, j) whose envelopes meet, in order of (k, i).
fn pairs<'a>(
    rings: &'a [Ring],
    tree: &'a RTree<Segment>,
) -> impl Iterator<Item = ((usize, usize), (usize, usize))> + 'a {
    rings.iter().enumerate().flat_map(move |(k, ring)| {
        (0..ring.segments()).flat_map(move |i| {
            let (a, b) = ring.segment(i);
            let envelope = AABB::from_corners([a.x, a.y], [b.x, b.y]);
            let mut others: Vec<(usize, usize)> =
                tree.locate_in_envelope_intersecting(&envelope).map(|s| s.data).filter(|&o| o > (k, i)).collect();
            others.sort_unstable();
            others.into_iter().map(move |o| ((k, i), o))
        })
    })
}

/// Each ring alone: no two of its segments meet but neighbours, at their shared vertex.
fn check_rings_alone(rings: &[Ring], tree: &RTree<Segment>) -> Result<(), Problem> {
    for ((k, i), (l, j)) in pairs(rings, tree) {
        let ring = &rings[k];
        if k != l || ring.adjacent(i, j) {
            continue;
        }
        let ((a, b), (c, d)) = (ring.segment(i), ring.segment(j));
        let how = match meet(a, b, c, d) {
            Meet::Apart => continue,
            Meet::Proper => format!("crosses itself at {}", at(crossing_point(a, b, c, d))),
            Meet::Touch(p) => format!("touches itself at {}", at(p)),
            Meet::Overlap(p, q) => format!("runs back along itself from {} to {}", at(p), at(q)),
        };
        return Err(("self_intersection", format!("{} {how}", ring.name())));
    }
    Ok(())
}

/// Pairs of different rings: they may touch at single points but not cross or share an edge.
/// Returns, for rings that touch, whether the first lies inside the second.
fn check_rings_together(rings: &[Ring], tree: &RTree<Segment>) -> Result<HashMap<(usize, usize), bool>, Problem> {
    let mut touches = HashMap::new();
    for ((k, i), (l, j)) in pairs(rings, tree) {
        if k == l {
            continue;
        }
        let (first, second) = (&rings[k], &rings[l]);
        let ((a, b), (c, d)) = (first.segment(i), second.segment(j));
        let names = (first.name(), second.name());
        let point = match meet(a, b, c, d) {
            Meet::Apart => continue,
            Meet::Proper => {
                let p = crossing_point(a, b, c, d);
                return Err(("self_intersection", format!("{} crosses {} at {}", names.0, names.1, at(p))));
            }
            Meet::Overlap(p, q) => {
                return Err((
                    "self_intersection",
                    format!("{} and {} share the edge from {} to {}", names.0, names.1, at(p), at(q)),
                ));
            }
            Meet::Touch(p) => p,
        };
        let (fp, fn_) = first.around(i, point);
        let (sp, sn) = second.around(j, point);
        let of_second = (side(point, fp, fn_, first.ccw, sp), side(point, fp, fn_, first.ccw, sn));
        let of_first = (side(point, sp, sn, second.ccw, fp), side(point, sp, sn, second.ccw, fn_));
        if [of_second.0, of_second.1, of_first.0, of_first.1].contains(&Side::Along) {
            return Err(("self_intersection", format!("{} and {} share an edge at {}", names.0, names.1, at(point))));
        }
        if of_second.0 != of_second.1 || of_first.0 != of_first.1 {
            return Err(("self_intersection", format!("{} crosses {} at {}", names.0, names.1, at(point))));
        }
        touches.insert((l, k), of_second.0 == Side::Inside);
        touches.insert((k, l), of_first.0 == Side::Inside);
    }
    Ok(touches)
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
fn inside(rings: &[Ring], tree: &RTree<Segment>, touches: &HashMap<(usize, usize), bool>, k: usize, l: usize) -> bool {
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
fn check_nesting(
    rings: &[Ring],
    tree: &RTree<Segment>,
    touches: &HashMap<(usize, usize), bool>,
) -> Result<(), Problem> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, Polygon, Validation};
    use proptest::prelude::*;

    fn ring(points: &[(f64, f64)]) -> LineString<f64> {
        let mut coords: Vec<Coord<f64>> = points.iter().map(|&(x, y)| Coord { x, y }).collect();
        coords.push(coords[0]);
        LineString::from(coords)
    }

    fn polygon(shell: &[(f64, f64)], holes: &[&[(f64, f64)]]) -> Polygon<f64> {
        Polygon::new(ring(shell), holes.iter().map(|h| ring(h)).collect())
    }

    fn one(polygon: Polygon<f64>) -> MultiPolygon<f64> {
        MultiPolygon::new(vec![polygon])
    }

    fn code(geometry: &MultiPolygon<f64>) -> &'static str {
        validate(geometry).err().map_or("valid", |(code, _)| code)
    }

    const SQUARE: &[(f64, f64)] = &[(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0)];

    #[test]
    fn rings_that_cross_or_touch_themselves_are_refused() {
        let bow_tie = one(polygon(&[(0.0, 0.0), (2.0, 2.0), (2.0, 0.0), (0.0, 2.0)], &[]));
        assert_eq!(validate(&bow_tie), Err(("self_intersection", "polygon 0, ring 0 crosses itself at [1, 1]".into())));
        // Two loops that meet at the vertex (2, 2).
        let figure_eight = one(polygon(&[(0.0, 0.0), (2.0, 2.0), (4.0, 0.0), (4.0, 4.0), (2.0, 2.0), (0.0, 4.0)], &[]));
        assert_eq!(
            validate(&figure_eight),
            Err(("self_intersection", "polygon 0, ring 0 touches itself at [2, 2]".into()))
        );
        // A vertex on a segment further along.
        let pinched = one(polygon(&[(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (2.0, 0.0), (0.0, 4.0)], &[]));
        assert_eq!(code(&pinched), "self_intersection");
        // A spike: out along a line and back over part of it.
        let spike =
            one(polygon(&[(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (2.0, 4.0), (2.0, 6.0), (2.0, 5.0), (0.0, 4.0)], &[]));
        assert_eq!(code(&spike), "self_intersection");
        // Collinear segments that overlap, not neighbours: (0,0)–(3,0) and (2,0)–(1,0).
        let overlapping = one(polygon(&[(0.0, 0.0), (3.0, 0.0), (3.0, 2.0), (2.0, 0.0), (1.0, 0.0), (0.0, 2.0)], &[]));
        let (code, message) = validate(&overlapping).unwrap_err();
        assert_eq!(code, "self_intersection");
        assert!(message.starts_with("polygon 0, ring 0 "), "{message}");
        assert_eq!(code_of_each(&[bow_tie, figure_eight, pinched, spike, overlapping]), vec![false; 5], "geo agrees");
    }

    fn code_of_each(geometries: &[MultiPolygon<f64>]) -> Vec<bool> {
        geometries.iter().map(|g| g.is_valid()).collect()
    }

    #[test]
    fn holes_must_lie_inside_their_shell_apart_from_each_other() {
        let inner = [(1.0, 1.0), (3.0, 1.0), (3.0, 3.0), (1.0, 3.0)];
        let crossing = one(polygon(SQUARE, &[&[(3.0, 1.0), (5.0, 1.0), (5.0, 3.0), (3.0, 3.0)]]));
        assert_eq!(
            validate(&crossing),
            Err(("self_intersection", "polygon 0, ring 0 crosses polygon 0, ring 1 at [4, 1]".into()))
        );
        let outside = one(polygon(SQUARE, &[&[(5.0, 1.0), (6.0, 1.0), (6.0, 2.0)]]));
        assert_eq!(
            validate(&outside),
            Err(("hole_outside_shell", "polygon 0, ring 1 is a hole outside its shell, ring 0".into()))
        );
        // Outside, touching the shell at its corner.
        let touching_outside = one(polygon(SQUARE, &[&[(4.0, 4.0), (6.0, 4.0), (6.0, 6.0)]]));
        assert_eq!(code(&touching_outside), "hole_outside_shell");
        // A hole around the whole shell.
        let around = one(polygon(&inner, &[SQUARE]));
        assert_eq!(code(&around), "hole_outside_shell");
        let two_crossing = one(polygon(
            SQUARE,
            &[&[(1.0, 1.0), (2.5, 1.0), (2.5, 2.5), (1.0, 2.5)], &[(2.0, 2.0), (3.0, 2.0), (3.0, 3.0), (2.0, 3.0)]],
        ));
        assert_eq!(validate(&two_crossing).unwrap_err().1, "polygon 0, ring 1 crosses polygon 0, ring 2 at [2.5, 2]");
        let nested = one(polygon(SQUARE, &[&inner, &[(1.5, 1.5), (2.5, 1.5), (2.5, 2.5)]]));
        assert_eq!(
            validate(&nested),
            Err(("self_intersection", "polygon 0, ring 2 is a hole inside another hole, ring 1".into()))
        );
        let sharing_an_edge = one(polygon(
            SQUARE,
            &[&[(1.0, 1.0), (2.0, 1.0), (2.0, 3.0), (1.0, 3.0)], &[(2.0, 1.0), (3.0, 1.0), (3.0, 3.0), (2.0, 3.0)]],
        ));
        assert_eq!(code(&sharing_an_edge), "self_intersection");
        let hole_on_the_shell = one(polygon(SQUARE, &[&[(0.0, 1.0), (2.0, 1.0), (2.0, 3.0), (0.0, 3.0)]]));
        assert_eq!(code(&hole_on_the_shell), "self_intersection");
        // A hole crossing its shell through a vertex of each: at (4, 2) it goes from in to out.
        let through_a_vertex = one(polygon(
            &[(0.0, 0.0), (4.0, 0.0), (4.0, 2.0), (4.0, 4.0), (0.0, 4.0)],
            &[&[(3.0, 1.0), (4.0, 2.0), (5.0, 3.0), (3.0, 3.0)]],
        ));
        assert_eq!(code(&through_a_vertex), "self_intersection");
        let all = [
            crossing,
            outside,
            touching_outside,
            around,
            two_crossing,
            nested,
            sharing_an_edge,
            hole_on_the_shell,
            through_a_vertex,
        ];
        assert_eq!(code_of_each(&all), vec![false; all.len()], "geo agrees");
    }

    #[test]
    fn holes_may_touch_the_shell_and_each_other_at_a_point() {
        let at_a_corner = one(polygon(SQUARE, &[&[(0.0, 0.0), (2.0, 1.0), (1.0, 2.0)]]));
        let on_an_edge = one(polygon(SQUARE, &[&[(2.0, 0.0), (3.0, 1.0), (1.0, 1.0)]]));
        let holes_touching = one(polygon(
            SQUARE,
            &[&[(1.0, 1.0), (2.0, 1.0), (2.0, 2.0), (1.0, 2.0)], &[(2.0, 2.0), (3.0, 2.0), (3.0, 3.0)]],
        ));
        // Clockwise shell, counter-clockwise hole, touching.
        let cw =
            one(polygon(&[(0.0, 0.0), (0.0, 4.0), (4.0, 4.0), (4.0, 0.0)], &[&[(4.0, 2.0), (2.0, 1.0), (2.0, 3.0)]]));
        for g in [&at_a_corner, &on_an_edge, &holes_touching, &cw] {
            assert_eq!(validate(g), Ok(()), "{g:?}");
            assert!(g.is_valid());
        }
    }

    #[test]
    fn polygons_of_a_multipolygon_may_only_touch_at_points() {
        let square = |x: f64, y: f64, s: f64| vec![(x, y), (x + s, y), (x + s, y + s), (x, y + s)];
        let multi = |parts: Vec<Polygon<f64>>| MultiPolygon::new(parts);
        let crossing = multi(vec![polygon(&square(0.0, 0.0, 2.0), &[]), polygon(&square(1.0, 1.0, 2.0), &[])]);
        assert_eq!(
            validate(&crossing),
            Err(("self_intersection", "polygon 0, ring 0 crosses polygon 1, ring 0 at [2, 1]".into()))
        );
        let nested = multi(vec![polygon(&square(0.0, 0.0, 4.0), &[]), polygon(&square(1.0, 1.0, 1.0), &[])]);
        assert_eq!(
            validate(&nested),
            Err((
                "invalid_geometry",
                "polygon 1 lies inside polygon 0; the polygons of a MultiPolygon may not overlap".into()
            ))
        );
        let nested_touching = multi(vec![polygon(&square(1.0, 1.0, 1.0), &[]), polygon(&square(0.0, 0.0, 4.0), &[])]);
        assert_eq!(code(&nested_touching), "invalid_geometry");
        let sharing_an_edge = multi(vec![polygon(&square(0.0, 0.0, 1.0), &[]), polygon(&square(1.0, 0.0, 1.0), &[])]);
        assert_eq!(code(&sharing_an_edge), "self_intersection");
        let identical = multi(vec![polygon(&square(0.0, 0.0, 1.0), &[]), polygon(&square(0.0, 0.0, 1.0), &[])]);
        assert_eq!(code(&identical), "self_intersection");
        let all = [crossing, nested, nested_touching, sharing_an_edge, identical];
        assert_eq!(code_of_each(&all), vec![false; all.len()], "geo agrees");

        let at_a_corner = multi(vec![polygon(&square(0.0, 0.0, 1.0), &[]), polygon(&square(1.0, 1.0, 1.0), &[])]);
        let apart = multi(vec![polygon(&square(0.0, 0.0, 1.0), &[]), polygon(&square(3.0, 3.0, 1.0), &[])]);
        let island_in_a_hole = multi(vec![
            polygon(&square(0.0, 0.0, 10.0), &[&square(2.0, 2.0, 6.0)]),
            polygon(&square(3.0, 3.0, 4.0), &[]),
            // In the hole, touching its corner.
            polygon(&[(2.0, 2.0), (3.0, 2.5), (2.5, 3.0)], &[]),
        ]);
        for g in [&at_a_corner, &apart, &island_in_a_hole] {
            assert_eq!(validate(g), Ok(()), "{g:?}");
            assert!(g.is_valid());
        }
    }

    #[test]
    fn degenerate_rings_are_refused() {
        let two_points = one(polygon(&[(0.0, 0.0), (1.0, 0.0), (1.0, 0.0)], &[]));
        assert_eq!(code(&two_points), "invalid_geometry");
        assert!(!two_points.is_valid());
        // Deliberately stricter than geo, which lets a flat triangle pass.
        let flat = one(polygon(&[(0.0, 0.0), (2.0, 0.0), (1.0, 0.0)], &[]));
        assert_eq!(
            validate(&flat),
            Err(("invalid_geometry", "polygon 0, ring 0 encloses no area: its positions lie on one line".into()))
        );
        assert!(flat.is_valid());
        // Repeated positions are harmless, as in geo.
        let repeated = one(polygon(&[(0.0, 0.0), (0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (4.0, 4.0), (0.0, 4.0)], &[]));
        assert_eq!(validate(&repeated), Ok(()));
        assert!(repeated.is_valid());
        let infinite = one(polygon(&[(0.0, 0.0), (f64::INFINITY, 0.0), (4.0, 4.0)], &[]));
        assert_eq!(code(&infinite), "invalid_geometry");
    }

    /// A star around (x, y): `n` points, radii alternating between `r` and `r / 2`.
    fn star(x: f64, y: f64, r: f64, n: usize) -> Vec<(f64, f64)> {
        (0..n)
            .map(|i| {
                let angle = i as f64 / n as f64 * std::f64::consts::TAU;
                let radius = if i % 2 == 0 { r } else { r / 2.0 };
                (x + radius * angle.cos(), y + radius * angle.sin())
            })
            .collect()
    }

    #[test]
    fn valid_shapes_pass() {
        let convex = one(polygon(SQUARE, &[]));
        let concave = one(polygon(&[(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (2.0, 1.0), (0.0, 4.0)], &[]));
        let with_holes = one(polygon(
            &star(18.0, 59.0, 0.1, 200),
            &[&star(18.0, 59.0, 0.02, 20), &star(18.035, 59.0, 0.008, 8), &star(17.965, 59.0, 0.008, 9)],
        ));
        for g in [&convex, &concave, &with_holes] {
            assert_eq!(validate(g), Ok(()));
            assert!(g.is_valid());
        }
        // At the most vertices an import may hold: a circle, and a star with shallow points.
        let circle = |n: usize| -> Vec<(f64, f64)> {
            (0..n)
                .map(|i| {
                    let angle = i as f64 / n as f64 * std::f64::consts::TAU;
                    (18.0 + 0.1 * angle.cos(), 59.0 + 0.05 * angle.sin())
                })
                .collect()
        };
        assert_eq!(validate(&one(polygon(&circle(50_000), &[]))), Ok(()));
        let shallow_star: Vec<(f64, f64)> = star(18.0, 59.0, 0.1, 50_000)
            .into_iter()
            .enumerate()
            .map(|(i, (x, y))| if i % 2 == 1 { (18.0 + (x - 18.0) * 1.998, 59.0 + (y - 59.0) * 1.998) } else { (x, y) })
            .collect();
        assert_eq!(validate(&one(polygon(&shallow_star, &[]))), Ok(()));
        // The circle with two vertices far apart swapped crosses itself.
        let mut crossed = circle(50_000);
        crossed.swap(10_000, 30_000);
        assert_eq!(code(&one(polygon(&crossed, &[]))), "self_intersection");
    }

    /// A closed ring on a small integer grid: a star-shaped one (angles sorted, radii random,
    /// rounded to the grid, so often valid but at times degenerate) or positions at random.
    fn grid_ring(x: i32, y: i32, r: f64) -> impl Strategy<Value = Vec<(f64, f64)>> {
        let star = prop::collection::vec((0.0..std::f64::consts::TAU, 0.3..=1.0f64), 3..=9).prop_map(move |mut v| {
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            v.iter()
                .map(|&(angle, k)| {
                    ((f64::from(x) + k * r * angle.cos()).round(), (f64::from(y) + k * r * angle.sin()).round())
                })
                .collect::<Vec<_>>()
        });
        let span = r.ceil() as i32;
        let random = prop::collection::vec((x - span..=x + span, y - span..=y + span), 3..=7)
            .prop_map(|v| v.into_iter().map(|(x, y)| (f64::from(x), f64::from(y))).collect::<Vec<_>>());
        prop_oneof![3 => star, 1 => random]
    }

    fn grid_polygon() -> impl Strategy<Value = Polygon<f64>> {
        (0..=20i32, 0..=20i32, 2.0..=8.0f64)
            .prop_flat_map(|(x, y, r)| {
                let hole = (-4..=4i32, -4..=4i32, 1.0..=3.0f64)
                    .prop_flat_map(move |(dx, dy, hr)| grid_ring(x + dx, y + dy, hr));
                (grid_ring(x, y, r), prop::collection::vec(hole, 0..=2))
            })
            .prop_map(|(shell, holes)| Polygon::new(ring(&shell), holes.iter().map(|h| ring(h)).collect()))
    }

    /// Three distinct positions on one line: refused here, accepted by geo (see the module).
    fn flat_triangle(line: &LineString<f64>) -> bool {
        let mut coords = line.0.clone();
        coords.dedup();
        coords.len() == 4 && orient(coords[0], coords[1], coords[2]) == Orientation::Collinear
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn the_verdict_is_geos(parts in prop::collection::vec(grid_polygon(), 1..=3)) {
            let geometry = MultiPolygon::new(parts);
            prop_assume!(!geometry.0.iter().flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors())).any(flat_triangle));
            let ours = validate(&geometry);
            prop_assert_eq!(ours.is_ok(), geometry.is_valid(), "ours: {:?}; geo: {:?}; {:?}", ours, geometry.validation_errors(), geometry);
        }
    }
}
