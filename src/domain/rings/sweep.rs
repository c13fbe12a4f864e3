//! The sweep line that finds where the segments of all rings meet (Shamos–Hoey).
//!
//! The events are the segment ends in lexicographic order (x, then y), as if the sweep line
//! leaned a little so that it meets a vertical segment from its lower end up. The status holds
//! the segments the line crosses, in their order along it, which two segments keep for as long
//! as they neither cross nor overlap. Of segments that cross between vertices, two are neighbours
//! in the status just before the first such crossing, so judging each pair of segments as they
//! become neighbours finds it. Segments that meet at a vertex are judged there instead, all of
//! them: every ring through the point against every other once, and the segments of a ring
//! against one another. Neighbours alone would not do, because legitimate touches happen at
//! every vertex and two rings may cross at a point where others lie between them and touch both.
//! The first problem ends the sweep before the order it relies on can break; a touch does not.

use super::{Problem, Ring, Touches, classify, lex, orient};
use geo::Coord;
use geo::kernels::Orientation;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ops::Bound::{Excluded, Unbounded};

/// Judges every meeting of segments in `rings` that matters; the touches between rings.
pub(super) fn meetings(rings: &[Ring]) -> Result<Touches, Problem> {
    // Each segment at its start (true) and at its end.
    let mut events: Vec<(Coord<f64>, Segment, bool)> = Vec::new();
    for (k, ring) in rings.iter().enumerate() {
        for i in 0..ring.segments() {
            let (a, b) = ring.segment(i);
            let (lo, hi) = if lex(a, b) == Ordering::Greater { (b, a) } else { (a, b) };
            let segment = Segment { lo, hi, id: (k, i) };
            events.push((lo, segment, true));
            events.push((hi, segment, false));
        }
    }
    events.sort_unstable_by(|a, b| lex(a.0, b.0));
    let mut sweep = Sweep { rings, status: BTreeSet::new(), touches: Touches::new() };
    for event in events.chunk_by(|a, b| a.0 == b.0) {
        let starting: Vec<Segment> = event.iter().filter(|e| e.2).map(|e| e.1).collect();
        let ending = event.iter().filter(|e| !e.2).count();
        sweep.visit(event[0].0, &starting, ending)?;
    }
    Ok(sweep.touches)
}

/// Segment `id.1` of ring `id.0`, its ends in lexicographic order.
#[derive(Debug, Clone, Copy)]
struct Segment {
    lo: Coord<f64>,
    hi: Coord<f64>,
    id: (usize, usize),
}

impl Segment {
    /// Which side of the segment's line `p` lies on: `Greater` above (to the left, looking from
    /// `lo` to `hi`), `Less` below, None on the line.
    fn side_of(&self, p: Coord<f64>) -> Option<Ordering> {
        match orient(self.lo, self.hi, p) {
            Orientation::CounterClockwise => Some(Ordering::Greater),
            Orientation::Clockwise => Some(Ordering::Less),
            Orientation::Collinear => None,
        }
    }

    /// The order along the sweep line of two segments it crosses at once that do not cross each
    /// other: the one that starts later lies on one side of the other's line, by its start or,
    /// when that is on the line, by its end. Segments on one line (an overlap, refused at its
    /// start) are ordered by ring and place so that the order stays total.
    fn along(&self, other: &Segment) -> Ordering {
        if self.id == other.id {
            return Ordering::Equal;
        }
        if lex(self.lo, other.lo) == Ordering::Greater {
            return other.along(self).reverse();
        }
        match self.side_of(other.lo).or_else(|| self.side_of(other.hi)) {
            Some(side) => side.reverse(),
            None => self.id.cmp(&other.id),
        }
    }
}

/// An entry of the status, or a position to look it up by.
#[derive(Debug, Clone, Copy)]
enum Entry {
    Segment(Segment),
    /// A point, placed below (`Less`) or above (`Greater`) the segments through it.
    Point(Coord<f64>, Ordering),
}

impl Entry {
    fn segment(&self) -> Option<Segment> {
        match self {
            Entry::Segment(s) => Some(*s),
            Entry::Point(..) => None,
        }
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Entry::Segment(a), Entry::Segment(b)) => a.along(b),
            (Entry::Point(p, bias), Entry::Segment(s)) => s.side_of(*p).unwrap_or(*bias),
            (Entry::Segment(s), Entry::Point(p, bias)) => s.side_of(*p).unwrap_or(*bias).reverse(),
            (Entry::Point(p, a), Entry::Point(q, b)) => lex(*p, *q).then(a.cmp(b)),
        }
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

struct Sweep<'a> {
    rings: &'a [Ring],
    /// The segments the sweep line crosses, in their order along it.
    status: BTreeSet<Entry>,
    touches: Touches,
}

impl Sweep<'_> {
    /// One event point: judges the segments through it, takes out the `ending` ones that end there
    /// and puts in those that start there, judging the new neighbours.
    fn visit(&mut self, point: Coord<f64>, starting: &[Segment], ending: usize) -> Result<(), Problem> {
        let through: Vec<Segment> = self
            .status
            .range(Entry::Point(point, Ordering::Less)..Entry::Point(point, Ordering::Greater))
            .filter_map(Entry::segment)
            .collect();
        // Fails only if the order along the line broke before a problem was found.
        debug_assert_eq!(through.iter().filter(|s| s.hi == point).count(), ending, "at {point:?}");
        let mut meeting: Vec<(usize, usize)> = through.iter().chain(starting).map(|s| s.id).collect();
        self.judge_meeting(&mut meeting)?;
        for segment in through.iter().filter(|s| s.hi == point) {
            let entry = Entry::Segment(*segment);
            self.status.remove(&entry);
            if let (Some(below), Some(above)) = (self.below(&entry), self.above(&entry)) {
                self.judge(below, above)?;
            }
        }
        for segment in starting {
            let entry = Entry::Segment(*segment);
            self.status.insert(entry);
            if let Some(below) = self.below(&entry) {
                self.judge(below, *segment)?;
            }
            if let Some(above) = self.above(&entry) {
                self.judge(*segment, above)?;
            }
        }
        Ok(())
    }

    /// All segments through one point: each ring's against one another, and one segment of each
    /// ring against one of every other (at one point, any pair of their segments tells the same).
    fn judge_meeting(&mut self, ids: &mut [(usize, usize)]) -> Result<(), Problem> {
        if ids.len() < 2 {
            return Ok(());
        }
        ids.sort_unstable();
        let by_ring: Vec<&[(usize, usize)]> = ids.chunk_by(|a, b| a.0 == b.0).collect();
        for ring in &by_ring {
            for (n, &first) in ring.iter().enumerate() {
                for &second in &ring[n + 1..] {
                    classify(self.rings, first, second, &mut self.touches)?;
                }
            }
        }
        for (n, first) in by_ring.iter().enumerate() {
            for second in &by_ring[n + 1..] {
                classify(self.rings, first[0], second[0], &mut self.touches)?;
            }
        }
        Ok(())
    }

    fn judge(&mut self, a: Segment, b: Segment) -> Result<(), Problem> {
        let (first, second) = if a.id < b.id { (a.id, b.id) } else { (b.id, a.id) };
        classify(self.rings, first, second, &mut self.touches)
    }

    fn below(&self, entry: &Entry) -> Option<Segment> {
        self.status.range(..entry).next_back().and_then(Entry::segment)
    }

    fn above(&self, entry: &Entry) -> Option<Segment> {
        self.status.range((Excluded(entry), Unbounded)).next().and_then(Entry::segment)
    }
}
