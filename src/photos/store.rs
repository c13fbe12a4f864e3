//! Where photo bytes live: files under the data directory by default. Every call blocks, and runs
//! where blocking is allowed (the blocking pool, a job thread). Keys are derived from the
//! organisation and the content hash, so the same photo is one file however often it is sent.
//! A file is written whole to a temporary name, synced and renamed into place: a reader never
//! sees half a photo, and a crash leaves at most a temporary file the sweep removes.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The two files of a stored photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Photo,
    Thumbnail,
}

/// The key of one file of a photo: `{organisation}/{first two hex digits}/{sha256}.jpg` (or
/// `.thumb.jpg`).
pub fn key(organisation_id: &str, sha256: &str, variant: Variant) -> String {
    let organisation = if !organisation_id.is_empty()
        && organisation_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        organisation_id.to_owned()
    } else {
        hex::encode(organisation_id)
    };
    let suffix = match variant {
        Variant::Photo => "jpg",
        Variant::Thumbnail => "thumb.jpg",
    };
    format!("{organisation}/{}/{sha256}.{suffix}", &sha256[..2.min(sha256.len())])
}

/// A stored file found by a listing.
#[derive(Debug, Clone)]
pub struct Listed {
    pub key: String,
    /// When it was last written, in ms since the epoch.
    pub modified_ms: i64,
}

/// The photo store.
#[derive(Debug, Clone)]
pub enum PhotoStore {
    /// Files under a directory.
    Local { root: PathBuf },
}

impl PhotoStore {
    /// The store the settings name: `photos/` in the data directory.
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        Self::local(settings.data_dir.join("photos"))
    }

    /// Files under `root`.
    pub fn local(root: impl Into<PathBuf>) -> Self {
        Self::Local { root: root.into() }
    }

    /// Stores `bytes` under `key`, replacing what was there.
    pub fn put(&self, key: &str, bytes: Vec<u8>) -> std::io::Result<()> {
        match self {
            Self::Local { root } => write_atomically(root, key, &bytes),
        }
    }

    /// The bytes under `key`, if any.
    pub fn get(&self, key: &str) -> std::io::Result<Option<Vec<u8>>> {
        match self {
            Self::Local { root } => {
                let path = root.join(key);
                match std::fs::read(path) {
                    Ok(bytes) => Ok(Some(bytes)),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(error) => Err(error),
                }
            }
        }
    }

    /// Removes `key`; removing what is not there is not an error.
    pub fn delete(&self, key: &str) -> std::io::Result<()> {
        match self {
            Self::Local { root } => {
                let path = root.join(key);
                match std::fs::remove_file(path) {
                    Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
                    _ => Ok(()),
                }
            }
        }
    }

    /// Every stored file (temporary ones included: their keys start with `tmp/`).
    pub fn list(&self) -> std::io::Result<Vec<Listed>> {
        match self {
            Self::Local { root } => {
                let mut found = Vec::new();
                list_into(root, root, &mut found)?;
                Ok(found)
            }
        }
    }

    /// Where a local store keeps its files (what a backup copies).
    pub fn local_root(&self) -> Option<&Path> {
        match self {
            Self::Local { root } => Some(root),
        }
    }
}

fn write_atomically(root: &Path, key: &str, bytes: &[u8]) -> std::io::Result<()> {
    let target = root.join(key);
    let temporary_dir = root.join("tmp");
    std::fs::create_dir_all(&temporary_dir)?;
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = tempfile::NamedTempFile::new_in(&temporary_dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(&target).map_err(|error| error.error)?;
    if let Some(parent) = target.parent() {
        // The rename itself is made durable by syncing the directory that holds the new name.
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

fn list_into(root: &Path, dir: &Path, found: &mut Vec<Listed>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        let metadata = entry.metadata()?;
        let path = entry.path();
        if metadata.is_dir() {
            list_into(root, &path, found)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            let modified_ms = metadata
                .modified()
                .ok()
                .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX));
            found.push(Listed { key: relative.to_string_lossy().replace('\\', "/"), modified_ms });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_organisation_id_that_is_not_plain_cannot_leave_its_folder() {
        let key = key("../../etc", &"ab".repeat(32), Variant::Photo);
        assert!(!key.contains(".."), "{key}");
        assert!(key.ends_with(".jpg"));
    }

    #[test]
    fn a_file_is_stored_read_listed_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = PhotoStore::local(dir.path());
        let key = key("org", &"cd".repeat(32), Variant::Thumbnail);
        store.put(&key, b"bytes".to_vec()).unwrap();
        assert_eq!(store.get(&key).unwrap().as_deref(), Some(&b"bytes"[..]));
        assert!(store.list().unwrap().iter().any(|listed| listed.key == key));
        store.delete(&key).unwrap();
        store.delete(&key).unwrap();
        assert_eq!(store.get(&key).unwrap(), None);
    }
}
