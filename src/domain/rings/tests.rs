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
    // They cross twice; the western crossing is met first.
    assert_eq!(validate(&two_crossing).unwrap_err().1, "polygon 0, ring 1 crosses polygon 0, ring 2 at [2, 2.5]");
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
    let cw = one(polygon(&[(0.0, 0.0), (0.0, 4.0), (4.0, 4.0), (4.0, 0.0)], &[&[(4.0, 2.0), (2.0, 1.0), (2.0, 3.0)]]));
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
    // They cross twice; the western crossing is met first.
    assert_eq!(
        validate(&crossing),
        Err(("self_intersection", "polygon 0, ring 0 crosses polygon 1, ring 0 at [1, 2]".into()))
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

#[test]
fn a_spiky_star_is_judged_in_one_sweep() {
    // Every segment is a long spoke; the pairwise check compared each with thousands of others.
    let spiky = star(18.0, 59.0, 0.1, 50_000);
    assert_eq!(validate(&one(polygon(&spiky, &[]))), Ok(()));
    // An inner point moved three places on: its spokes cross the two spokes after it.
    let mut crossed = spiky.clone();
    let (x, y) = spiky[1004];
    crossed[1001] = (18.0 + (x - 18.0) / 2.0, 59.0 + (y - 59.0) / 2.0);
    let (code, message) = validate(&one(polygon(&crossed, &[]))).unwrap_err();
    assert_eq!(code, "self_intersection");
    assert!(message.starts_with("polygon 0, ring 0 crosses itself at "), "{message}");
}

#[test]
fn many_rings_may_touch_at_one_vertex() {
    // Four holes meeting at the centre of their shell, and the same triangles as polygons.
    let holes: [&[(f64, f64)]; 4] = [
        &[(4.0, 4.0), (6.0, 3.0), (6.0, 5.0)],
        &[(4.0, 4.0), (5.0, 6.0), (3.0, 6.0)],
        &[(4.0, 4.0), (2.0, 5.0), (2.0, 3.0)],
        &[(4.0, 4.0), (3.0, 2.0), (5.0, 2.0)],
    ];
    let shell = [(0.0, 0.0), (8.0, 0.0), (8.0, 8.0), (0.0, 8.0)];
    let as_holes = one(polygon(&shell, &holes));
    let as_polygons = MultiPolygon::new(holes.iter().map(|h| polygon(h, &[])).collect());
    for g in [&as_holes, &as_polygons] {
        assert_eq!(validate(g), Ok(()), "{g:?}");
        assert!(g.is_valid());
    }
    // A fifth triangle from the centre along the first one's edge.
    let along = [(4.0, 4.0), (8.0, 2.0), (8.0, 4.0)];
    let mut with_along = holes.to_vec();
    with_along.push(&along);
    assert_eq!(
        validate(&one(polygon(&shell, &with_along))),
        Err((
            "self_intersection",
            "polygon 0, ring 1 and polygon 0, ring 5 share the edge from [4, 4] to [6, 3]".into()
        ))
    );
}

#[test]
fn a_crossing_between_vertices_is_found_once_what_lay_between_has_ended() {
    // A bow tie whose two long edges cross at x ≈ 10.8; a small hole lies between them on the
    // sweep line until x = 5, and nothing else meets them.
    let bow_tie = [(0.0, -5.0), (20.0, 5.0), (20.0, -5.0), (3.0, 5.0)];
    let geometry = one(polygon(&bow_tie, &[&[(2.0, 0.0), (5.0, -1.0), (5.0, 1.0)]]));
    let (code, message) = validate(&geometry).unwrap_err();
    assert_eq!(code, "self_intersection");
    assert!(message.starts_with("polygon 0, ring 0 crosses itself at [10.8"), "{message}");
}

#[test]
fn a_crossing_where_other_rings_touch_both_is_found_there() {
    // `l` and `m` cross at the origin; `k` and `n` touch both there and lie between their edges
    // along the sweep line, so that at the origin `l` and `m` are not neighbours on it.
    let l = polygon(&[(0.0, 0.0), (1.0, -8.0), (1.0, 4.0)], &[]);
    let m = polygon(&[(0.0, 0.0), (4.0, -1.0), (4.0, 10.0), (-4.0, 10.0), (-4.0, 0.0)], &[]);
    let k = polygon(&[(0.0, 0.0), (0.5, -2.0), (0.5, -1.0)], &[]);
    let n = polygon(&[(0.0, 0.0), (0.8, 0.2), (0.5, 0.5)], &[]);
    let geometry = MultiPolygon::new(vec![k, n, l, m]);
    assert_eq!(
        validate(&geometry),
        Err(("self_intersection", "polygon 2, ring 0 crosses polygon 3, ring 0 at [0, 0]".into()))
    );
    assert_eq!(validate(&geometry), pairwise::validate(&geometry));
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
    polygon_with_holes(20, 2.0..=8.0, 4, 1.0..=3.0)
}

/// A grid ring around a point of `[0, within]²`, with up to two holes whose centres lie at most
/// `hole_offset` away from it.
fn polygon_with_holes(
    within: i32,
    radius: std::ops::RangeInclusive<f64>,
    hole_offset: i32,
    hole_radius: std::ops::RangeInclusive<f64>,
) -> impl Strategy<Value = Polygon<f64>> {
    (0..=within, 0..=within, radius)
        .prop_flat_map(move |(x, y, r)| {
            let hole = (-hole_offset..=hole_offset, -hole_offset..=hole_offset, hole_radius.clone())
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

/// Polygons crowded onto a small grid, so that their rings often share vertices and edges.
fn crowded_polygon() -> impl Strategy<Value = Polygon<f64>> {
    polygon_with_holes(4, 1.0..=3.0, 1, 1.0..=2.0)
}

/// Triangles with one corner at the origin, the others taken in turn from grid points sorted by
/// angle (so often apart but for the origin): as polygons, or as holes in a square around them.
fn fan() -> impl Strategy<Value = MultiPolygon<f64>> {
    (prop::collection::vec((-3..=3i32, -3..=3i32), 4..=10), any::<bool>()).prop_map(|(points, as_holes)| {
        let mut points: Vec<(f64, f64)> =
            points.into_iter().map(|(x, y)| (f64::from(x), f64::from(y))).filter(|&p| p != (0.0, 0.0)).collect();
        points.sort_by(|a, b| a.1.atan2(a.0).total_cmp(&b.1.atan2(b.0)));
        let triangles: Vec<Polygon<f64>> =
            points.chunks_exact(2).map(|p| polygon(&[(0.0, 0.0), p[0], p[1]], &[])).collect();
        if as_holes {
            let shell = ring(&[(-4.0, -4.0), (4.0, -4.0), (4.0, 4.0), (-4.0, 4.0)]);
            one(Polygon::new(shell, triangles.into_iter().map(|t| t.exterior().clone()).collect()))
        } else {
            MultiPolygon::new(triangles)
        }
    })
}

fn any_geometry() -> impl Strategy<Value = MultiPolygon<f64>> {
    prop_oneof![
        prop::collection::vec(grid_polygon(), 1..=3).prop_map(MultiPolygon::new),
        prop::collection::vec(crowded_polygon(), 1..=3).prop_map(MultiPolygon::new),
        fan(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    #[test]
    fn the_sweep_finds_what_the_pairwise_check_finds(geometry in any_geometry()) {
        let mut meet_wrongly = false;
        if let Ok(rings) = rings_of(&geometry) {
            let (problems, touches) = pairwise::problems(&rings);
            meet_wrongly = !problems.is_empty();
            match sweep::meetings(&rings) {
                Ok(found) => {
                    prop_assert!(problems.is_empty(), "missed {:?} in {:?}", problems, geometry);
                    prop_assert_eq!(found, touches, "{:?}", geometry);
                }
                Err(problem) => prop_assert!(problems.contains(&problem), "{:?} not in {:?}; {:?}", problem, problems, geometry),
            }
        }
        // The verdict: the same code, and where no segments meet wrongly, the same message.
        let (ours, theirs) = (validate(&geometry), pairwise::validate(&geometry));
        prop_assert_eq!(ours.as_ref().err().map(|p| p.0), theirs.as_ref().err().map(|p| p.0), "{:?} {:?}", ours, theirs);
        if !meet_wrongly {
            prop_assert_eq!(ours, theirs);
        }
    }
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
