//! `lagesbild backup` and `lagesbild restore`: a consistent copy of an embedded (SQLite)
//! installation taken while the server serves, and its return into an empty data directory.
//!
//! The backup is one SQLite file: the database as `VACUUM INTO` writes it (a consistent
//! snapshot that waits for no writer), with the data directory's own files (the generated
//! signing key, and the photos the snapshot records, from the photo store's directory) in a
//! table of their own. A restored database moves its sequence far ahead and
//! marks everything before as purged, so every phone takes a replacement snapshot on its next
//! pull: a phone that synced after the backup holds a cursor this database never issued, and
//! must not resume from it. On PostgreSQL, `pg_dump`/`pg_restore` copy the database and
//! `lagesbild restore` (without `--from`) marks the restored database the same way.

use crate::auth::keys::KEY_FILE;
use crate::config::Settings;
use crate::db::{self, DatabaseTarget, DbConnection};
use anyhow::{Context as _, bail, ensure};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Binary, Text};
use std::path::Path;

/// How far a restored database's sequence moves ahead: more than any server issues in the life
/// of an installation, so no cursor handed out after the backup lies beyond it.
const RESTORE_GAP: i64 = 1 << 40;

/// The table of a backup that holds the data directory's files.
const FILES_TABLE: &str = "lagesbild_backup_files";
/// Where photo files are named in it: under the photo store's directory.
const PHOTOS_PREFIX: &str = "photos/";

#[derive(QueryableByName)]
struct StoredName {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct StoredFile {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Binary)]
    content: Vec<u8>,
}

/// Writes a consistent backup of the embedded database and the data directory's files to `to`.
/// Returns what it wrote, for the operator.
pub fn backup(settings: &Settings, to: &Path) -> anyhow::Result<String> {
    let target = DatabaseTarget::from_settings(settings)?;
    let DatabaseTarget::Sqlite(database) = &target else {
        bail!(
            "on PostgreSQL, back up with pg_dump (pg_dump --format=custom --file=lagesbild.dump \"$DATABASE_URL\") \
             and keep the signing key file (LAGESBILD_JWT_SECRET_FILE) and the photos directory (photos/ in the \
             data directory) with it; after pg_restore, run `lagesbild restore` so phones take a fresh snapshot"
        );
    };
    ensure!(database.is_file(), "there is no database at {} to back up", database.display());
    ensure!(!to.exists(), "{} exists already; a backup never overwrites a file", to.display());
    let text = to.to_str().context("the backup path is not valid UTF-8")?;
    let mut conn = target.connect()?;
    conn.batch_execute(&format!("VACUUM INTO '{}'", text.replace('\'', "''")))
        .with_context(|| format!("cannot write the backup to {}", to.display()))?;
    drop(conn);
    let mut copy = SqliteConnection::establish(text).with_context(|| format!("cannot open {}", to.display()))?;
    copy.batch_execute(&format!("CREATE TABLE {FILES_TABLE} (name TEXT PRIMARY KEY NOT NULL, content BLOB NOT NULL)"))?;
    let mut kept = Vec::new();
    let key = settings.data_dir.join(KEY_FILE);
    if key.is_file() {
        let content = std::fs::read(&key).with_context(|| format!("cannot read {}", key.display()))?;
        diesel::sql_query(format!("INSERT INTO {FILES_TABLE} (name, content) VALUES (?, ?)"))
            .bind::<Text, _>(KEY_FILE)
            .bind::<Binary, _>(content)
            .execute(&mut copy)?;
        kept.push(KEY_FILE);
    }
    let mut copy = DbConnection::Sqlite(copy);
    // The photos the snapshot records: their files are written before their rows, and removed
    // only after their rows are, so each is in the store unless a sweep removed it since.
    let store = crate::photos::store::PhotoStore::from_settings(settings)?;
    let mut photos = 0;
    for (organisation_id, sha256) in db::queries::photos::all_stored(&mut copy)? {
        for variant in [crate::photos::store::Variant::Photo, crate::photos::store::Variant::Thumbnail] {
            let key = crate::photos::store::key(&organisation_id, &sha256, variant);
            if let Some(content) = store.get(&key).with_context(|| format!("cannot read the photo {key}"))? {
                diesel::sql_query(format!("INSERT INTO {FILES_TABLE} (name, content) VALUES (?, ?)"))
                    .bind::<Text, _>(format!("{PHOTOS_PREFIX}{key}"))
                    .bind::<Binary, _>(content)
                    .execute(&mut copy)?;
                photos += usize::from(variant == crate::photos::store::Variant::Photo);
            }
        }
    }
    let (seq, _) = db::queries::sync_state::read(&mut copy)?;
    let mut summary = format!("backup written to {} (database up to sequence {seq}", to.display());
    if kept.is_empty() {
        summary.push_str("; no signing key in the data directory: keep the configured key file with the backup");
    } else {
        summary.push_str(&format!("; with {}", kept.join(", ")));
    }
    summary.push_str(&format!("; {photos} photos"));
    summary.push(')');
    Ok(summary)
}

/// Restores a backup into the configured (empty) data directory, or, without `from`, marks the
/// configured database as restored (after `pg_restore`). Returns what it did.
pub fn restore(settings: &Settings, from: Option<&Path>) -> anyhow::Result<String> {
    let target = DatabaseTarget::from_settings(settings)?;
    let Some(from) = from else {
        let mut conn = target.connect()?;
        mark_restored(&mut conn)?;
        return Ok(format!(
            "{} marked as restored: every phone takes a fresh snapshot on its next pull",
            target.describe()
        ));
    };
    let DatabaseTarget::Sqlite(database) = &target else {
        bail!(
            "a backup file restores an embedded (SQLite) installation; on PostgreSQL use pg_restore, then `lagesbild restore`"
        );
    };
    ensure!(from.is_file(), "{} is not a file", from.display());
    ensure!(!database.exists(), "{} exists already; restore into an empty data directory", database.display());
    let key = settings.data_dir.join(KEY_FILE);
    ensure!(!key.exists(), "{} exists already; restore into an empty data directory", key.display());
    let photos = settings.data_dir.join("photos");
    ensure!(!photos.exists(), "{} exists already; restore into an empty data directory", photos.display());
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create {}", settings.data_dir.display()))?;
    let staging = database.with_extension("restoring");
    std::fs::copy(from, &staging).with_context(|| format!("cannot copy {}", from.display()))?;
    let restored = (|| -> anyhow::Result<Vec<String>> {
        let text = staging.to_str().context("the data directory path is not valid UTF-8")?;
        let mut copy = SqliteConnection::establish(text)?;
        let listed: Vec<StoredName> = diesel::sql_query(format!("SELECT name FROM {FILES_TABLE} ORDER BY name"))
            .load(&mut copy)
            .with_context(|| format!("{} is not a backup made by `lagesbild backup`", from.display()))?;
        let store = crate::photos::store::PhotoStore::from_settings(settings)?;
        let mut names = Vec::new();
        let mut photos = 0;
        // One file at a time: the photos of a backup may not fit in memory together.
        for StoredName { name } in listed {
            let file: StoredFile = diesel::sql_query(format!("SELECT name, content FROM {FILES_TABLE} WHERE name = ?"))
                .bind::<Text, _>(&name)
                .get_result(&mut copy)?;
            if let Some(key) = name.strip_prefix(PHOTOS_PREFIX) {
                let plain = key.split('/').all(|part| {
                    !part.is_empty()
                        && part != ".."
                        && part.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                });
                ensure!(plain, "the backup holds a photo with an unexpected name `{name}`");
                store.put(key, file.content).with_context(|| format!("cannot restore the photo {key}"))?;
                photos += 1;
                continue;
            }
            ensure!(file.name == KEY_FILE, "the backup holds an unexpected file `{}`", file.name);
            write_private(&settings.data_dir.join(&file.name), &file.content)?;
            names.push(file.name);
        }
        if photos > 0 {
            names.push(format!("{} photo files", photos));
        }
        copy.batch_execute(&format!("DROP TABLE {FILES_TABLE}"))?;
        let mut conn = DbConnection::Sqlite(copy);
        mark_restored(&mut conn)?;
        Ok(names)
    })();
    let names = match restored {
        Ok(names) => names,
        Err(error) => {
            let _ = std::fs::remove_file(&staging);
            return Err(error);
        }
    };
    std::fs::rename(&staging, database)
        .with_context(|| format!("cannot move the database into {}", database.display()))?;
    Ok(format!(
        "restored {} into {} ({}); every phone takes a fresh snapshot on its next pull",
        from.display(),
        settings.data_dir.display(),
        if names.iter().any(|name| name == KEY_FILE) {
            names.join(", ")
        } else {
            names
                .into_iter()
                .chain(["no signing key: configure the one kept with the backup".to_owned()])
                .collect::<Vec<_>>()
                .join(", ")
        }
    ))
}

/// Moves the sequence far ahead and marks everything before it as purged: every cursor a phone
/// holds, from before or after the backup, gets a replacement snapshot.
fn mark_restored(conn: &mut DbConnection) -> anyhow::Result<()> {
    db::run_migrations(conn)?;
    db::write_transaction(conn, |conn| {
        let seq = db::queries::sync_state::committed(conn)?;
        db::queries::sync_state::skip_to(conn, seq.saturating_add(RESTORE_GAP))?;
        Ok::<_, anyhow::Error>(())
    })
}

/// Writes a file only its owner may read.
fn write_private(path: &Path, content: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(content).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
