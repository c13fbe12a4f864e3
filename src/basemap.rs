//! The municipality's own base map: an MBTiles file (SQLite; what QGIS and GDAL export) of
//! raster tiles, read-only, served as `/tiles/{z}/{x}/{y}` to the dashboard and drawn under the
//! printed report's heat map. No third-party tile service is asked for anything.

use anyhow::Context as _;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};
use diesel::sql_types::{Binary, Integer, Text};
use std::path::Path;

/// The tile formats a browser draws as an image.
const FORMATS: [(&str, &str); 4] =
    [("png", "image/png"), ("jpg", "image/jpeg"), ("jpeg", "image/jpeg"), ("webp", "image/webp")];

/// An open MBTiles file and what its metadata says.
pub struct BaseMap {
    pool: Pool<ConnectionManager<SqliteConnection>>,
    /// The tiles' media type (`image/png`).
    pub media_type: &'static str,
    /// The attribution its metadata asks for, if any.
    pub attribution: Option<String>,
    pub min_zoom: u8,
    pub max_zoom: u8,
}

#[derive(QueryableByName)]
struct Entry {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    value: String,
}

#[derive(QueryableByName)]
struct Tile {
    #[diesel(sql_type = Binary)]
    tile_data: Vec<u8>,
}

impl BaseMap {
    /// Opens the file read-only and checks it is an MBTiles of raster tiles; the error says what
    /// is wrong with it.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        anyhow::ensure!(path.is_file(), "the base map {} does not exist or is not a file", path.display());
        let text = path.to_str().with_context(|| format!("the base map path {} is not UTF-8", path.display()))?;
        let uri = format!("file:{}?mode=ro", text.replace('%', "%25").replace('?', "%3F").replace('#', "%23"));
        let not_mbtiles = || format!("{} is not an MBTiles file (not an SQLite database)", path.display());
        let mut conn = SqliteConnection::establish(&uri).with_context(not_mbtiles)?;
        let metadata: Vec<Entry> =
            diesel::sql_query("SELECT CAST(name AS TEXT) AS name, CAST(value AS TEXT) AS value FROM metadata")
                .load(&mut conn)
                .with_context(|| format!("{} is not an MBTiles file (no metadata table)", path.display()))?;
        let get = |key: &str| metadata.iter().find(|e| e.name == key).map(|e| e.value.trim().to_owned());
        let format = get("format").unwrap_or_else(|| "png".to_owned()).to_lowercase();
        let media_type =
            FORMATS.iter().find(|(name, _)| *name == format).map(|(_, media)| *media).with_context(|| {
                format!("the base map's tiles are `{format}`; only raster tiles (png, jpg, webp) can be drawn")
            })?;
        diesel::sql_query("SELECT tile_data FROM tiles LIMIT 0")
            .load::<Tile>(&mut conn)
            .with_context(|| format!("{} is not an MBTiles file (no tiles table)", path.display()))?;
        drop(conn);
        let pool = Pool::builder()
            .max_size(4)
            .connection_timeout(std::time::Duration::from_secs(5))
            .build(ConnectionManager::<SqliteConnection>::new(uri))
            .with_context(|| format!("the base map {} cannot be opened", path.display()))?;
        let zoom = |key: &str, default: u8| get(key).and_then(|v| v.parse::<u8>().ok()).unwrap_or(default).min(30);
        Ok(Self {
            pool,
            media_type,
            attribution: get("attribution").filter(|a| !a.is_empty()),
            min_zoom: zoom("minzoom", 0),
            max_zoom: zoom("maxzoom", 22),
        })
    }

    /// The tile at zoom `z`, column `x` and row `y` counted from the north (as web maps count;
    /// MBTiles counts rows from the south), or `None` when the file has none there.
    pub fn tile(&self, z: u8, x: u32, y: u32) -> anyhow::Result<Option<Vec<u8>>> {
        if z > 30 || u64::from(x) >= 1 << z || u64::from(y) >= 1 << z {
            return Ok(None);
        }
        let row = (1_i64 << z) - 1 - i64::from(y);
        let mut conn = self.pool.get().context("the base map cannot be read")?;
        let tile: Option<Tile> =
            diesel::sql_query("SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?")
                .bind::<Integer, _>(i32::from(z))
                .bind::<Integer, _>(i32::try_from(x).unwrap_or(i32::MAX))
                .bind::<Integer, _>(i32::try_from(row).unwrap_or(i32::MAX))
                .get_result(&mut conn)
                .optional()
                .context("the base map cannot be read")?;
        Ok(tile.map(|t| t.tile_data))
    }
}
