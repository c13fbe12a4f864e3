//! Photo attachments and their bytes in the database: the attachments table of the sync protocol
//! (written by pushes, see `sync_push`), the photos whose bytes arrived, and the chunks of uploads
//! under way. The bytes themselves are in the photo store (`crate::photos::store`).

use crate::db::DbConnection;
use crate::db::schema::{attachments, photo_chunks, photos};
use crate::domain::attachments::{Attachment, AttachmentContent};
use diesel::prelude::*;

/// An attachment as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = attachments, treat_none_as_default_value = false)]
pub struct AttachmentRow {
    pub organisation_id: String,
    pub id: String,
    pub observation_id: String,
    pub observation_user_id: String,
    pub user_id: String,
    pub device_id: String,
    pub sha256: String,
    pub content_type: String,
    pub byte_size: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
    pub created_seq: i64,
    pub server_seq: i64,
}

impl From<AttachmentRow> for Attachment {
    fn from(row: AttachmentRow) -> Self {
        Attachment {
            content: AttachmentContent {
                observation_id: row.observation_id,
                sha256: row.sha256,
                content_type: row.content_type,
                byte_size: row.byte_size,
                width: row.width,
                height: row.height,
                created_at: Some(row.created_at),
            },
            organisation_id: row.organisation_id,
            id: row.id,
            observation_user_id: row.observation_user_id,
            user_id: row.user_id,
            device_id: row.device_id,
            created_at: row.created_at,
            deleted_at: row.deleted_at,
            created_seq: row.created_seq,
            server_seq: row.server_seq,
        }
    }
}

impl From<Attachment> for AttachmentRow {
    fn from(attachment: Attachment) -> Self {
        let content = attachment.content;
        AttachmentRow {
            organisation_id: attachment.organisation_id,
            id: attachment.id,
            observation_id: content.observation_id,
            observation_user_id: attachment.observation_user_id,
            user_id: attachment.user_id,
            device_id: attachment.device_id,
            sha256: content.sha256,
            content_type: content.content_type,
            byte_size: content.byte_size,
            width: content.width,
            height: content.height,
            created_at: attachment.created_at,
            deleted_at: attachment.deleted_at,
            created_seq: attachment.created_seq,
            server_seq: attachment.server_seq,
        }
    }
}

/// A photo whose bytes are stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = photos)]
pub struct PhotoRow {
    pub organisation_id: String,
    pub sha256: String,
    pub byte_size: i64,
    pub thumbnail_size: i64,
    pub width: i32,
    pub height: i32,
    pub uploaded_by: String,
    pub uploaded_at: i64,
}

/// One attachment, with its photo if the bytes arrived.
pub fn attachment(
    conn: &mut DbConnection,
    organisation_id: &str,
    id: &str,
) -> QueryResult<Option<(AttachmentRow, Option<PhotoRow>)>> {
    let Some(row) = attachments::table
        .find((organisation_id, id))
        .filter(attachments::deleted_at.is_null())
        .select(AttachmentRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let photo = stored(conn, organisation_id, &row.sha256)?;
    Ok(Some((row, photo)))
}

/// The live attachments of observations, with their photos where the bytes arrived, in the
/// order they were attached.
pub fn of_observations(
    conn: &mut DbConnection,
    organisation_id: &str,
    observation_ids: &[String],
) -> QueryResult<Vec<(AttachmentRow, Option<PhotoRow>)>> {
    let mut found = Vec::new();
    for chunk in observation_ids.chunks(500) {
        let rows: Vec<(AttachmentRow, Option<PhotoRow>)> = attachments::table
            .left_join(photos::table.on(
                photos::organisation_id.eq(attachments::organisation_id).and(photos::sha256.eq(attachments::sha256)),
            ))
            .filter(attachments::organisation_id.eq(organisation_id))
            .filter(attachments::observation_id.eq_any(chunk))
            .filter(attachments::deleted_at.is_null())
            .order((attachments::created_at, attachments::id))
            .select((AttachmentRow::as_select(), Option::<PhotoRow>::as_select()))
            .load(conn)?;
        found.extend(rows);
    }
    Ok(found)
}

/// The stored photo of a content hash.
pub fn stored(conn: &mut DbConnection, organisation_id: &str, sha256: &str) -> QueryResult<Option<PhotoRow>> {
    photos::table.find((organisation_id, sha256)).select(PhotoRow::as_select()).first(conn).optional()
}

/// The largest size the live attachments of a content hash declare, and whether `user_id` may
/// upload its bytes (one of them is theirs, or they review). `None`: no live attachment has it.
pub fn declared_size(
    conn: &mut DbConnection,
    organisation_id: &str,
    sha256: &str,
    user_id: &str,
    reviews: bool,
) -> QueryResult<Option<i64>> {
    let rows: Vec<(i64, String, String)> = attachments::table
        .filter(attachments::organisation_id.eq(organisation_id))
        .filter(attachments::sha256.eq(sha256))
        .filter(attachments::deleted_at.is_null())
        .select((attachments::byte_size, attachments::user_id, attachments::observation_user_id))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(_, attacher, reporter)| reviews || attacher == user_id || reporter == user_id)
        .map(|(size, _, _)| size)
        .max())
}

/// How many bytes of an upload are stored: the end of its contiguous chunks from 0.
pub fn received(conn: &mut DbConnection, organisation_id: &str, sha256: &str) -> QueryResult<i64> {
    let chunks: Vec<(i64, i64)> = photo_chunks::table
        .filter(photo_chunks::organisation_id.eq(organisation_id))
        .filter(photo_chunks::sha256.eq(sha256))
        .order(photo_chunks::start_offset)
        .select((
            photo_chunks::start_offset,
            diesel::dsl::sql::<diesel::sql_types::BigInt>("CAST(LENGTH(data) AS BIGINT)"),
        ))
        .load(conn)?;
    let mut end = 0;
    for (start, length) in chunks {
        if start != end {
            break;
        }
        end += length;
    }
    Ok(end)
}

/// Stores a chunk at `offset`. `false`: a chunk already starts there (another copy of this
/// request, or a concurrent one), and nothing was written.
pub fn add_chunk(
    conn: &mut DbConnection,
    organisation_id: &str,
    sha256: &str,
    offset: i64,
    data: &[u8],
    now_ms: i64,
) -> QueryResult<bool> {
    // Written per backend: diesel's common backend has no `ON CONFLICT`.
    let insert = diesel::insert_into(photo_chunks::table)
        .values((
            photo_chunks::organisation_id.eq(organisation_id),
            photo_chunks::sha256.eq(sha256),
            photo_chunks::start_offset.eq(offset),
            photo_chunks::data.eq(data),
            photo_chunks::received_at.eq(now_ms),
        ))
        .on_conflict_do_nothing();
    let written = match conn {
        DbConnection::Postgres(pg) => insert.execute(pg)?,
        DbConnection::Sqlite(sqlite) => insert.execute(sqlite)?,
    };
    Ok(written == 1)
}

/// The bytes of an upload, its chunks joined in order.
pub fn assembled(conn: &mut DbConnection, organisation_id: &str, sha256: &str) -> QueryResult<Vec<u8>> {
    let chunks: Vec<Vec<u8>> = photo_chunks::table
        .filter(photo_chunks::organisation_id.eq(organisation_id))
        .filter(photo_chunks::sha256.eq(sha256))
        .order(photo_chunks::start_offset)
        .select(photo_chunks::data)
        .load(conn)?;
    Ok(chunks.concat())
}

/// Forgets the chunks of an upload.
pub fn drop_chunks(conn: &mut DbConnection, organisation_id: &str, sha256: &str) -> QueryResult<usize> {
    diesel::delete(
        photo_chunks::table
            .filter(photo_chunks::organisation_id.eq(organisation_id))
            .filter(photo_chunks::sha256.eq(sha256)),
    )
    .execute(conn)
}

/// Records a photo whose files are in the store, and forgets its chunks. A photo already
/// recorded (the same bytes, completed twice at once) is left as it is.
pub fn record_stored(conn: &mut DbConnection, photo: &PhotoRow) -> QueryResult<()> {
    conn.transaction(|conn| {
        let insert = diesel::insert_into(photos::table).values(photo).on_conflict_do_nothing();
        match conn {
            DbConnection::Postgres(pg) => insert.execute(pg)?,
            DbConnection::Sqlite(sqlite) => insert.execute(sqlite)?,
        };
        drop_chunks(conn, &photo.organisation_id, &photo.sha256)?;
        Ok(())
    })
}

/// Bytes of photos an organisation keeps stored (photos and thumbnails).
pub fn stored_bytes(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<i64> {
    photos::table
        .filter(photos::organisation_id.eq(organisation_id))
        .select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "CAST(COALESCE(SUM(byte_size + thumbnail_size), 0) AS BIGINT)",
        ))
        .first(conn)
}

/// Forgets the chunks of uploads nobody continued since `before_ms`; returns how many.
pub fn drop_abandoned_chunks(conn: &mut DbConnection, before_ms: i64) -> QueryResult<usize> {
    diesel::delete(photo_chunks::table.filter(photo_chunks::received_at.lt(before_ms))).execute(conn)
}

/// Forgets the photos no attachment has any more (live or tombstone: the tombstones went at the
/// horizon) and returns them, for their files to be removed.
pub fn drop_unattached(conn: &mut DbConnection) -> QueryResult<Vec<(String, String)>> {
    let unattached = || {
        diesel::dsl::not(diesel::dsl::exists(
            attachments::table
                .filter(attachments::organisation_id.eq(photos::organisation_id))
                .filter(attachments::sha256.eq(photos::sha256)),
        ))
    };
    let candidates = photos::table.filter(unattached()).select((photos::organisation_id, photos::sha256)).load(conn)?;
    drop_each(conn, candidates, |conn, organisation_id, sha256| {
        diesel::delete(photos::table.find((organisation_id, sha256)).filter(unattached())).execute(conn)
    })
}

/// Forgets the organisation's photos no live attachment has (retention: their attachments just
/// became tombstones) and returns them, for their files to be removed.
pub fn drop_without_live(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<Vec<(String, String)>> {
    let without_live = || {
        diesel::dsl::not(diesel::dsl::exists(
            attachments::table
                .filter(attachments::organisation_id.eq(photos::organisation_id))
                .filter(attachments::sha256.eq(photos::sha256))
                .filter(attachments::deleted_at.is_null()),
        ))
    };
    let candidates = photos::table
        .filter(photos::organisation_id.eq(organisation_id))
        .filter(without_live())
        .select((photos::organisation_id, photos::sha256))
        .load(conn)?;
    drop_each(conn, candidates, |conn, organisation_id, sha256| {
        diesel::delete(photos::table.find((organisation_id, sha256)).filter(without_live())).execute(conn)
    })
}

/// Removes each candidate with `delete`, in a write transaction of its own, which removes it only
/// if its condition still holds (a photo attached again meanwhile stays); returns those removed.
fn drop_each(
    conn: &mut DbConnection,
    candidates: Vec<(String, String)>,
    delete: impl Fn(&mut DbConnection, &str, &str) -> QueryResult<usize>,
) -> QueryResult<Vec<(String, String)>> {
    let mut dropped = Vec::new();
    for (organisation_id, sha256) in candidates {
        let removed = crate::db::write_transaction(conn, |conn| delete(conn, &organisation_id, &sha256))?;
        if removed == 1 {
            dropped.push((organisation_id, sha256));
        }
    }
    Ok(dropped)
}

/// Every stored photo, as (organisation, hash).
pub fn all_stored(conn: &mut DbConnection) -> QueryResult<Vec<(String, String)>> {
    photos::table.select((photos::organisation_id, photos::sha256)).load(conn)
}
