//! Where photo bytes live: files under the data directory by default, or an S3-compatible object
//! store (through the `object_store` crate) when one is configured. Every call blocks, and runs
//! where blocking is allowed (the blocking pool, a job thread, the command line). Keys are
//! derived from the organisation and the content hash, so the same photo is one object however
//! often it is sent. A local file is written whole to a temporary name, synced and renamed into
//! place (an object store's put is atomic): a reader never sees half a photo, and a crash leaves
//! at most a temporary file the sweep removes.

use anyhow::Context as _;
use futures_util::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// Objects in a bucket, under a prefix.
    S3(Arc<Remote>),
}

/// An object store, and the runtime its (asynchronous) client runs on.
pub struct Remote {
    store: Box<dyn ObjectStore>,
    prefix: String,
    runtime: Option<tokio::runtime::Runtime>,
    description: String,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        // Dropped wherever the last handle goes, possibly on an async worker: never block there.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Remote {
    /// Runs `work` on the store's own runtime and waits for it, from a thread that may block.
    fn run<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = object_store::Result<T>> + Send + 'static,
    ) -> std::io::Result<T> {
        let runtime = self.runtime.as_ref().ok_or_else(|| std::io::Error::other("the photo store is closed"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        runtime.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv().map_err(std::io::Error::other)?.map_err(std::io::Error::other)
    }

    fn path(&self, key: &str) -> object_store::path::Path {
        object_store::path::Path::from(format!("{}{key}", self.prefix))
    }

    fn open(settings: &crate::config::Settings, url: &str) -> anyhow::Result<Self> {
        let rest = url.strip_prefix("s3://").context("photo_store_url must start with s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(endpoint) = &settings.photo_s3_endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &settings.photo_s3_region {
            builder = builder.with_region(region);
        }
        if let Some(key) = &settings.photo_s3_access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &settings.photo_s3_secret_access_key {
            builder = builder.with_secret_access_key(secret.expose());
        }
        if settings.photo_s3_allow_http {
            builder = builder.with_allow_http(true);
        }
        let store = builder.build().context("cannot configure the photo store")?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lagesbild-photo-store")
            .enable_all()
            .build()
            .context("cannot start the photo store's runtime")?;
        let prefix = match prefix.trim_matches('/') {
            "" => String::new(),
            prefix => format!("{prefix}/"),
        };
        Ok(Self {
            store: Box::new(store),
            description: format!("s3://{bucket}/{prefix}"),
            prefix,
            runtime: Some(runtime),
        })
    }
}

impl PhotoStore {
    /// The store the settings name: a bucket when `photo_store_url` is set, otherwise `photos/`
    /// in the data directory.
    pub fn from_settings(settings: &crate::config::Settings) -> anyhow::Result<Self> {
        Ok(match &settings.photo_store_url {
            Some(url) => Self::S3(Arc::new(Remote::open(settings, url)?)),
            None => Self::local(settings.data_dir.join("photos")),
        })
    }

    /// Files under `root`.
    pub fn local(root: impl Into<PathBuf>) -> Self {
        Self::Local { root: root.into() }
    }

    /// Stores `bytes` under `key`, replacing what was there.
    pub fn put(&self, key: &str, bytes: Vec<u8>) -> std::io::Result<()> {
        match self {
            Self::Local { root } => write_atomically(root, key, &bytes),
            Self::S3(remote) => {
                let (store, path) = (remote.clone(), remote.path(key));
                remote.run(async move { store.store.put(&path, bytes.into()).await.map(drop) })
            }
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
            Self::S3(remote) => {
                let (store, path) = (remote.clone(), remote.path(key));
                remote.run(async move {
                    match store.store.get(&path).await {
                        Ok(found) => Ok(Some(found.bytes().await?.to_vec())),
                        Err(object_store::Error::NotFound { .. }) => Ok(None),
                        Err(error) => Err(error),
                    }
                })
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
            Self::S3(remote) => {
                let (store, path) = (remote.clone(), remote.path(key));
                remote.run(async move {
                    match store.store.delete(&path).await {
                        Err(object_store::Error::NotFound { .. }) | Ok(()) => Ok(()),
                        Err(error) => Err(error),
                    }
                })
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
            Self::S3(remote) => {
                let store = remote.clone();
                let prefix = remote.prefix.clone();
                remote.run(async move {
                    let under = (!prefix.is_empty()).then(|| object_store::path::Path::from(prefix.as_str()));
                    let objects: Vec<object_store::ObjectMeta> = store.store.list(under.as_ref()).try_collect().await?;
                    Ok(objects
                        .into_iter()
                        .map(|meta| Listed {
                            key: meta
                                .location
                                .as_ref()
                                .strip_prefix(prefix.as_str())
                                .unwrap_or(meta.location.as_ref())
                                .to_owned(),
                            modified_ms: meta.last_modified.timestamp_millis(),
                        })
                        .collect())
                })
            }
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
