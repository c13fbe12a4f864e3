//! The check that the sweep replaced, kept as the oracle of its proptest: every segment against
//! each one whose envelope meets its own, found through an R-tree of segment envelopes. It finds
//! every meeting, so it is right by construction, and quadratic on a spiky star.

use super::{MultiPolygon, Problem, Ring, Segment, Touches, check_nesting, classify, rings_of, segment_tree};
use rstar::{AABB, RTree};

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

/// Every problem between two segments, those within a ring first, each in the order met; and
/// the touches between rings.
pub(super) fn problems(rings: &[Ring]) -> (Vec<Problem>, Touches) {
    let tree = segment_tree(rings);
    let mut problems = Vec::new();
    let mut touches = Touches::new();
    for within in [true, false] {
        for (a, b) in pairs(rings, &tree).filter(|(a, b)| (a.0 == b.0) == within) {
            if let Err(problem) = classify(rings, a, b, &mut touches) {
                problems.push(problem);
            }
        }
    }
    (problems, touches)
}

/// The validation as it was before the sweep: the first problem it finds.
pub(super) fn validate(geometry: &MultiPolygon<f64>) -> Result<(), Problem> {
    let rings = rings_of(geometry)?;
    let (problems, touches) = problems(&rings);
    if let Some(problem) = problems.into_iter().next() {
        return Err(problem);
    }
    check_nesting(&rings, &segment_tree(&rings), &touches)
}
