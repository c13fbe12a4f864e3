//! The token signing key: from configuration, or generated once and kept beside the database.

use crate::config::{Environment, Settings};
use anyhow::Context;
use std::io::Write;
use std::path::Path;

/// Name of the generated key file in the data directory.
pub const KEY_FILE: &str = "signing.key";

/// The signing key the settings call for. In production it must be configured; otherwise it is
/// read from (or generated into) `signing.key` in the data directory, readable by the owner only.
pub fn signing_key(settings: &Settings) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = &settings.jwt_secret {
        return checked(secret.expose().as_bytes().to_vec(), "LAGESBILD_JWT_SECRET");
    }
    if let Some(path) = &settings.jwt_secret_file {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let text = String::from_utf8(bytes).context("the signing key file is not UTF-8 text")?;
        return checked(text.trim().as_bytes().to_vec(), &path.display().to_string());
    }
    anyhow::ensure!(
        settings.env != Environment::Production,
        "LAGESBILD_ENV=production needs a signing key: set LAGESBILD_JWT_SECRET or LAGESBILD_JWT_SECRET_FILE \
         (at least 32 random bytes, shared by every server process)"
    );
    load_or_generate(&settings.data_dir.join(KEY_FILE))
}

fn checked(key: Vec<u8>, source: &str) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(key.len() >= 32, "the signing key from {source} must be at least 32 bytes");
    Ok(key)
}

fn load_or_generate(path: &Path) -> anyhow::Result<Vec<u8>> {
    match std::fs::read_to_string(path) {
        Ok(text) => return checked(text.trim().as_bytes().to_vec(), &path.display().to_string()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let key = super::random_secret();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(key.as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            tracing::info!(path = %path.display(), "generated a new token signing key");
            Ok(key.into_bytes())
        }
        // Another process generated it first: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            checked(text.trim().as_bytes().to_vec(), &path.display().to_string())
        }
        Err(error) => Err(error).with_context(|| format!("cannot create {}", path.display())),
    }
}
