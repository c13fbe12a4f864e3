//! The follow-up report's heat-map figure: hexagons coloured by intensity over the area
//! outlines, drawn as SVG with no map service.

use super::Lang;
use super::escape;
use crate::picture::view::Heatmap;
use geo::MultiPolygon;
use geo::{BoundingRect, Centroid};
use std::fmt::Write as _;

/// An area outline for the figure.
pub struct Outline {
    pub code: String,
    pub parent: Option<String>,
    pub name: String,
    pub shape: MultiPolygon<f64>,
}

/// A hexagon's outline, colour class and count.
type HexRing = (Vec<(f64, f64)>, Option<usize>, Option<f64>);

/// The heat map's hexagons over the area outlines as SVG, projected so that distances look right
/// at this latitude; the innermost areas are named.
pub fn heat_map_svg(lang: Lang, heatmap: &Heatmap, outlines: &[Outline]) -> String {
    let rings: Vec<HexRing> = heatmap
        .features
        .iter()
        .map(|f| {
            let ring = f.geometry.coordinates[0].iter().map(|[lon, lat]| (*lon, *lat)).collect();
            (ring, f.properties.class, f.properties.count.map(f64::from))
        })
        .collect();
    let mut bounds: Option<(f64, f64, f64, f64)> = None;
    let mut extend = |x: f64, y: f64| {
        bounds = Some(match bounds {
            None => (x, y, x, y),
            Some((a, b, c, d)) => (a.min(x), b.min(y), c.max(x), d.max(y)),
        });
    };
    for outline in outlines {
        if let Some(rect) = outline.shape.bounding_rect() {
            extend(rect.min().x, rect.min().y);
            extend(rect.max().x, rect.max().y);
        }
    }
    for (ring, _, _) in &rings {
        for (x, y) in ring {
            extend(*x, *y);
        }
    }
    let width = 800.0;
    let Some((min_x, min_y, max_x, max_y)) = bounds else {
        return format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} 120\" role=\"img\" aria-label=\"{}\"><text x=\"20\" y=\"60\">{}</text></svg>\n",
            lang.pick("Tom karta", "Empty map"),
            lang.pick("Inga områden och inga observationer att visa.", "No areas and no observations to show."),
        );
    };
    let scale_x = ((min_y + max_y) / 2.0).to_radians().cos();
    let span_x = ((max_x - min_x) * scale_x).max(1e-6);
    let span_y = (max_y - min_y).max(1e-6);
    let pad = 16.0;
    let k = (width - 2.0 * pad) / span_x;
    let height = (span_y * k + 2.0 * pad).clamp(120.0, 1100.0);
    let k = k.min((height - 2.0 * pad) / span_y);
    let project = |x: f64, y: f64| (pad + (x - min_x) * scale_x * k, pad + (max_y - y) * k);
    let path = |ring: &mut dyn Iterator<Item = (f64, f64)>| -> String {
        let mut d = String::new();
        for (index, (x, y)) in ring.enumerate() {
            let (px, py) = project(x, y);
            let _ = write!(d, "{}{px:.1},{py:.1}", if index == 0 { "M" } else { "L" });
        }
        d.push('Z');
        d
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height:.0}\" role=\"img\" aria-label=\"{}\">\n<g class=\"cells\">\n",
        lang.pick("Värmekarta över observationer", "Heat map of observations"),
    );
    for (ring, class, count) in &rings {
        let fill = class.and_then(|i| heatmap.classes.get(i)).map_or("#d0d7de", |class| class.colour);
        let _ = writeln!(
            svg,
            "<path d=\"{}\" fill=\"{fill}\" stroke=\"#fff\" stroke-width=\"0.5\" data-count=\"{}\"/>",
            path(&mut ring.iter().copied()),
            count.map(|c| c.to_string()).unwrap_or_default(),
        );
    }
    svg.push_str("</g>\n<g class=\"areas\" fill=\"none\" stroke=\"#1d4f7c\" stroke-width=\"1.5\">\n");
    for outline in outlines {
        let mut d = String::new();
        for polygon in &outline.shape {
            d.push_str(&path(&mut polygon.exterior().points().map(|p| (p.x(), p.y()))));
            for hole in polygon.interiors() {
                d.push_str(&path(&mut hole.points().map(|p| (p.x(), p.y()))));
            }
        }
        let _ = writeln!(svg, "<path d=\"{d}\" data-area=\"{}\"/>", escape(&outline.code));
    }
    svg.push_str("</g>\n<g class=\"labels\" font-size=\"11\" fill=\"#1b1f24\" text-anchor=\"middle\">\n");
    // Only the innermost areas are named: a district's name would sit on its neighbourhoods'.
    let leaves = outlines.iter().filter(|o| !outlines.iter().any(|c| c.parent.as_deref() == Some(o.code.as_str())));
    let mut placed: Vec<Label> = Vec::new();
    for outline in leaves {
        if let Some(centre) = outline.shape.centroid() {
            let (x, y) = project(centre.x(), centre.y());
            // Names never overlap: a name that would sits just below or above, or is left out.
            let Some(label) = [0.0, 1.0, -1.0, 2.0, -2.0]
                .into_iter()
                .map(|step| Label::of(&outline.name, x, y + step * LABEL_LINE))
                .find(|label| !placed.iter().any(|other| other.overlaps(label)))
            else {
                continue;
            };
            let _ = writeln!(
                svg,
                "<text x=\"{x:.1}\" y=\"{:.1}\" paint-order=\"stroke\" stroke=\"#fff\" stroke-width=\"3\">{}</text>",
                label.y,
                escape(&outline.name)
            );
            placed.push(label);
        }
    }
    svg.push_str("</g>\n</svg>\n");
    svg
}

/// The labels' font size and line height, in the figure's units.
const LABEL_SIZE: f64 = 11.0;
const LABEL_LINE: f64 = 15.0;

/// Where a name is drawn (anchored at its middle and baseline) and the box it takes.
#[derive(Debug, Clone, Copy)]
struct Label {
    y: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Label {
    /// The box of `name` drawn at (x, y), by a generous estimate of its width.
    fn of(name: &str, x: f64, y: f64) -> Self {
        let half = name.chars().count() as f64 * LABEL_SIZE * 0.32 + 2.0;
        Self { y, left: x - half, right: x + half, top: y - LABEL_SIZE, bottom: y + 3.0 }
    }

    fn overlaps(&self, other: &Label) -> bool {
        self.left < other.right && other.left < self.right && self.top < other.bottom && other.top < self.bottom
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_that_would_overlap_are_told_apart() {
        let centrum = Label::of("Tyresö centrum/Bollmora", 400.0, 300.0);
        assert!(centrum.overlaps(&Label::of("Öringe", 420.0, 304.0)));
        assert!(!centrum.overlaps(&Label::of("Öringe", 420.0, 300.0 + LABEL_LINE)));
        assert!(!centrum.overlaps(&Label::of("Trollbäcken", 700.0, 300.0)));
    }
}
