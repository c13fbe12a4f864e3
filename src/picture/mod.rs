//! The shared situational picture: the heat map and the area table, read from an in-memory
//! columnar index per organisation (see [`index`]).

pub mod classes;
pub mod days;
pub mod disclosure;
pub mod index;
pub mod query;
pub mod scope;
#[cfg(test)]
mod tests;
pub mod view;

use crate::db::DbConnection;
use crate::db::QueryResult;
use index::OrgIndex;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::Arc;

/// Every organisation's index, built on first use and caught up on each read.
pub struct Pictures {
    indexes: Mutex<HashMap<String, Arc<RwLock<OrgIndex>>>>,
    /// Rows of the change feed read per round trip while catching up.
    catch_up_rows: i64,
}

impl Default for Pictures {
    fn default() -> Self {
        Self::new(index::CATCH_UP_ROWS)
    }
}

impl Pictures {
    /// No index yet; catching up reads `catch_up_rows` rows of the change feed at a time.
    pub fn new(catch_up_rows: i64) -> Self {
        Self { indexes: Mutex::default(), catch_up_rows: catch_up_rows.max(1) }
    }

    /// The organisation's index with every committed change applied.
    pub fn current(&self, conn: &mut DbConnection, organisation_id: &str) -> QueryResult<Arc<RwLock<OrgIndex>>> {
        let existing = self.indexes.lock().get(organisation_id).cloned();
        let index = match existing {
            Some(index) => index,
            None => {
                let built = Arc::new(RwLock::new(OrgIndex::new(conn, organisation_id)?));
                self.indexes.lock().entry(organisation_id.to_owned()).or_insert(built).clone()
            }
        };
        index.write().catch_up(conn, self.catch_up_rows)?;
        Ok(index)
    }
}

/// Rounds to three decimals, as the picture's shares and means are shown.
pub fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

/// Whether the sun was down where and when something happened, as index flags.
pub fn darkness(lat: f64, lon: f64, at_ms: i64) -> u8 {
    let altitude = crate::domain::sun::altitude_degrees(lat, lon, at_ms);
    let mut flags = 0;
    if altitude < crate::domain::sun::SUNSET_ALTITUDE {
        flags |= index::DARK;
    }
    if altitude < crate::domain::sun::CIVIL_TWILIGHT_ALTITUDE {
        flags |= index::CIVIL_DARK;
    }
    flags
}
