//! Positions on the hexagon grid.

/// The resolution every record's cell is stored at: about 300 m² hexagons (edge ≈ 9 m), finer
/// than any heat map asks for, so every coarser view is the stored cell's parent.
pub const CELL_RESOLUTION: h3o::Resolution = h3o::Resolution::Twelve;

/// The H3 cell of a WGS84 position at [`CELL_RESOLUTION`], as its hexadecimal index.
pub fn cell_for(lat: f64, lon: f64) -> Option<String> {
    let cell = h3o::LatLng::new(lat, lon).ok()?.to_cell(CELL_RESOLUTION);
    Some(cell.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn cells_match_published_h3_values() {
        // From the H3 documentation: latLngToCell(37.3615593, -122.0553238, 5) = 85283473fffffff,
        // and `h3 latLngToCell --lat 45 --lng 40 -r 2` prints 822d57fffffffff.
        let at = |lat, lon, res: u8| {
            h3o::LatLng::new(lat, lon).unwrap().to_cell(h3o::Resolution::try_from(res).unwrap()).to_string()
        };
        assert_eq!(at(37.361_559_3, -122.055_323_8, 5), "85283473fffffff");
        assert_eq!(at(45.0, 40.0, 2), "822d57fffffffff");
        // The stored fine cell's parent is the coarse cell of the same point.
        let fine = h3o::CellIndex::from_str(&cell_for(37.361_559_3, -122.055_323_8).unwrap()).unwrap();
        assert_eq!(fine.resolution(), CELL_RESOLUTION);
        assert_eq!(fine.parent(h3o::Resolution::Five).unwrap().to_string(), "85283473fffffff");
    }

    #[test]
    fn positions_outside_wgs84_have_no_cell() {
        assert_eq!(cell_for(f64::NAN, 18.0), None);
        assert!(cell_for(59.3, 18.0).is_some());
    }
}
