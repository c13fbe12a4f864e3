//! The follow-up report's heat-map figure: hexagons coloured by intensity over the area
//! outlines, drawn as SVG with no map service.

use super::Lang;
use super::escape;
use crate::basemap::BaseMap;
use crate::picture::view::Heatmap;
use base64::Engine as _;
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
pub fn heat_map_svg(lang: Lang, heatmap: &Heatmap, outlines: &[Outline], basemap: Option<&BaseMap>) -> String {
    let rings: Vec<HexRing> = heatmap
        .features
        .iter()
        .map(|f| {
            let ring = f.geometry.coordinates[0].iter().map(|[lon, lat]| (*lon, *lat)).collect();
            (ring, f.properties.class, f.properties.count.map(f64::from))
        })
        .collect();
    // Everything is drawn in Web Mercator, the projection of map tiles, so a base map lies
    // exactly under the hexagons (at a municipality's scale distances look right either way).
    let mut bounds: Option<(f64, f64, f64, f64)> = None;
    let mut extend = |lon: f64, lat: f64| {
        let (x, y) = mercator(lon, lat);
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
    let span_x = (max_x - min_x).max(1e-9);
    let span_y = (max_y - min_y).max(1e-9);
    let pad = 16.0;
    let k = (width - 2.0 * pad) / span_x;
    let height = (span_y * k + 2.0 * pad).clamp(120.0, 1100.0);
    let k = k.min((height - 2.0 * pad) / span_y);
    let project = |lon: f64, lat: f64| {
        let (x, y) = mercator(lon, lat);
        (pad + (x - min_x) * k, pad + (y - min_y) * k)
    };
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
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height:.0}\" role=\"img\" aria-label=\"{}\">\n",
        lang.pick("Värmekarta över observationer", "Heat map of observations"),
    );
    if let Some(basemap) = basemap {
        let origin = (min_x - pad / k, min_y - pad / k);
        svg.push_str(&base_map_tiles(basemap, k, origin, (width, height)));
    }
    svg.push_str("<g class=\"cells\">\n");
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

/// Longitude and latitude in Web Mercator, the world as the unit square (y down from the north).
fn mercator(lon: f64, lat: f64) -> (f64, f64) {
    let sin = lat.to_radians().sin().clamp(-0.9999, 0.9999);
    ((lon + 180.0) / 360.0, 0.5 - ((1.0 + sin) / (1.0 - sin)).ln() / (4.0 * std::f64::consts::PI))
}

/// The most tiles one figure embeds.
const MAX_TILES: u64 = 48;

/// The base map's tiles under a figure of `size` whose top left corner is `origin` (unit-square
/// Mercator) at `k` figure units per unit, embedded as images: the deepest zoom no finer than
/// the figure, within the file's zoom range and `MAX_TILES`. Missing tiles are left out.
fn base_map_tiles(basemap: &BaseMap, k: f64, origin: (f64, f64), size: (f64, f64)) -> String {
    let fine = (k / 256.0).log2().round().clamp(0.0, 30.0) as u8;
    let mut zoom = fine.clamp(basemap.min_zoom, basemap.max_zoom.max(basemap.min_zoom));
    let range = |zoom: u8| {
        let n = f64::from(1_u32 << zoom.min(30));
        let first = |v: f64| (v * n).floor().clamp(0.0, n - 1.0) as u32;
        let (x0, y0) = (first(origin.0), first(origin.1));
        let (x1, y1) = (first(origin.0 + size.0 / k), first(origin.1 + size.1 / k));
        (n, x0, y0, x1, y1)
    };
    while zoom > basemap.min_zoom && {
        let (_, x0, y0, x1, y1) = range(zoom);
        u64::from(x1 - x0 + 1) * u64::from(y1 - y0 + 1) > MAX_TILES
    } {
        zoom -= 1;
    }
    let (n, x0, y0, x1, y1) = range(zoom);
    if u64::from(x1 - x0 + 1) * u64::from(y1 - y0 + 1) > MAX_TILES {
        return String::new();
    }
    let side = k / n;
    let mut out = String::from("<g class=\"basemap\">\n");
    for y in y0..=y1 {
        for x in x0..=x1 {
            let Ok(Some(bytes)) = basemap.tile(zoom, x, y) else { continue };
            let (px, py) = ((f64::from(x) / n - origin.0) * k, (f64::from(y) / n - origin.1) * k);
            let _ = writeln!(
                out,
                "<image x=\"{px:.2}\" y=\"{py:.2}\" width=\"{side:.2}\" height=\"{side:.2}\" preserveAspectRatio=\"none\" data-tile=\"{zoom}/{x}/{y}\" href=\"data:{};base64,{}\"/>",
                basemap.media_type,
                base64::engine::general_purpose::STANDARD.encode(bytes),
            );
        }
    }
    out.push_str("</g>\n");
    out
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
