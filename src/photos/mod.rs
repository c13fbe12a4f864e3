//! Photos from the field: reading and re-encoding what is uploaded ([`image`]) and keeping the
//! bytes ([`store`]). Which photo belongs to which observation, and who may see it, is the
//! database's (`db::queries::photos`).

pub mod image;
pub mod store;

use crate::db::DbConnection;
use crate::db::queries::photos as stored;
use std::collections::HashSet;

/// How long an upload nobody continues keeps its chunks.
pub const ABANDONED_UPLOAD_MS: i64 = 7 * 86_400_000;
/// How old a file must be before the sweep takes it for an orphan: an upload that is being
/// finished writes its files a moment before the database records them.
pub const ORPHAN_GRACE_MS: i64 = 3_600_000;

/// Removes the files of photos the database no longer records (retention, the sweep).
pub fn remove_files(store: &store::PhotoStore, dropped: &[(String, String)]) -> std::io::Result<()> {
    for (organisation_id, sha256) in dropped {
        for variant in [store::Variant::Photo, store::Variant::Thumbnail] {
            store.delete(&store::key(organisation_id, sha256, variant))?;
        }
    }
    Ok(())
}

/// What a sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Photos no attachment had any more.
    pub photos: usize,
    /// Files the database did not know (a crash between writing and recording them).
    pub orphans: usize,
    /// Chunks of abandoned uploads.
    pub chunks: usize,
}

/// Removes what no attachment needs: photos whose attachments are gone (deleted and past the
/// tombstone horizon, or their observation's), files no photo records, and abandoned uploads.
/// Runs after the tombstone purge.
pub fn sweep(conn: &mut DbConnection, store: &store::PhotoStore, now_ms: i64) -> anyhow::Result<Swept> {
    let chunks = stored::drop_abandoned_chunks(conn, now_ms - ABANDONED_UPLOAD_MS)?;
    let dropped = stored::drop_unattached(conn)?;
    remove_files(store, &dropped)?;
    // Listed before the known photos are read: a photo recorded in between is known.
    let listed = store.list()?;
    let known: HashSet<String> = stored::all_stored(conn)?
        .iter()
        .flat_map(|(organisation_id, sha256)| {
            [store::Variant::Photo, store::Variant::Thumbnail].map(|v| store::key(organisation_id, sha256, v))
        })
        .collect();
    let mut orphans = 0;
    for file in listed {
        if file.modified_ms < now_ms - ORPHAN_GRACE_MS && !known.contains(&file.key) {
            store.delete(&file.key)?;
            orphans += 1;
        }
    }
    Ok(Swept { photos: dropped.len(), orphans, chunks })
}
