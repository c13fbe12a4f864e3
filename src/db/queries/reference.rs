//! Reference data: categories and activity types per organisation (units live in `units`).

use super::sync_state;
use crate::db::DbConnection;
use crate::db::models::ReferenceRow;
use crate::domain::reference::{DEFAULT_ACTIVITY_TYPES, DEFAULT_CATEGORIES};
use crate::domain::sync::{Range, SyncedTable};
use diesel::prelude::*;

/// Runs `$body` with `$t` naming the reference table `$kind` names (categories or activity
/// types; any other table is an error).
macro_rules! with_table {
    ($kind:expr, $t:ident => $body:expr) => {
        match $kind {
            SyncedTable::Categories => {
                use crate::db::schema::categories as $t;
                $body
            }
            SyncedTable::ActivityTypes => {
                use crate::db::schema::activity_types as $t;
                $body
            }
            other => Err(super::not_served(other, "reference data")),
        }
    };
}

/// Gives a new organisation the default taxonomy.
pub fn seed_defaults(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<()> {
    let seq = sync_state::take(conn)?;
    for (kind, defaults) in
        [(SyncedTable::Categories, DEFAULT_CATEGORIES), (SyncedTable::ActivityTypes, DEFAULT_ACTIVITY_TYPES)]
    {
        for (index, (slug, label_sv, label_en)) in defaults.iter().enumerate() {
            let row = ReferenceRow {
                id: uuid::Uuid::now_v7().to_string(),
                organisation_id: organisation_id.to_owned(),
                slug: (*slug).to_owned(),
                label_sv: (*label_sv).to_owned(),
                label_en: (*label_en).to_owned(),
                sort_order: i32::try_from(index * 10).unwrap_or(i32::MAX),
                active: true,
                server_seq: seq,
            };
            insert(conn, kind, &row)?;
        }
    }
    Ok(())
}

/// Stores a new entry.
pub fn insert(conn: &mut DbConnection, kind: SyncedTable, row: &ReferenceRow) -> QueryResult<()> {
    with_table!(kind, t => diesel::insert_into(t::table)
        .values((
            t::id.eq(&row.id),
            t::organisation_id.eq(&row.organisation_id),
            t::slug.eq(&row.slug),
            t::label_sv.eq(&row.label_sv),
            t::label_en.eq(&row.label_en),
            t::sort_order.eq(row.sort_order),
            t::active.eq(row.active),
            t::server_seq.eq(row.server_seq),
        ))
        .execute(conn)
        .map(drop))
}

/// Every entry of the organisation, in display order.
pub fn list(conn: &mut DbConnection, kind: SyncedTable, organisation_id: &str) -> QueryResult<Vec<ReferenceRow>> {
    with_table!(kind, t => t::table
        .filter(t::organisation_id.eq(organisation_id))
        .order((t::sort_order.asc(), t::slug.asc()))
        .select((t::id, t::organisation_id, t::slug, t::label_sv, t::label_en, t::sort_order, t::active, t::server_seq))
        .load(conn))
}

/// The entry with this id in the organisation.
pub fn by_id(
    conn: &mut DbConnection,
    kind: SyncedTable,
    organisation_id: &str,
    id: &str,
) -> QueryResult<Option<ReferenceRow>> {
    with_table!(kind, t => t::table
        .filter(t::organisation_id.eq(organisation_id))
        .filter(t::id.eq(id))
        .select((t::id, t::organisation_id, t::slug, t::label_sv, t::label_en, t::sort_order, t::active, t::server_seq))
        .first(conn)
        .optional())
}

/// Entries changed after `after` up to `high_water`, ordered by (seq, id) after the position.
pub fn changed(
    conn: &mut DbConnection,
    kind: SyncedTable,
    organisation_id: &str,
    range: &Range,
    limit: i64,
) -> QueryResult<Vec<ReferenceRow>> {
    with_table!(kind, t => {
        let mut query = t::table
            .filter(t::organisation_id.eq(organisation_id))
            .filter(t::server_seq.le(range.high_water))
            .select((t::id, t::organisation_id, t::slug, t::label_sv, t::label_en, t::sort_order, t::active, t::server_seq))
            .order((t::server_seq.asc(), t::id.asc()))
            .limit(limit)
            .into_boxed();
        query = crate::after_position!(query, range.after_for(kind), t::server_seq, t::id);
        query.load(conn)
    })
}

/// Changes labels, order or whether the entry is offered; never deletes.
pub fn update(
    conn: &mut DbConnection,
    kind: SyncedTable,
    organisation_id: &str,
    id: &str,
    change: &ReferenceChange,
) -> QueryResult<bool> {
    crate::db::write_transaction(conn, |conn| {
        let Some(current) = by_id(conn, kind, organisation_id, id)? else {
            return Ok(false);
        };
        let seq = sync_state::take(conn)?;
        with_table!(kind, t => diesel::update(t::table.filter(t::organisation_id.eq(organisation_id)).filter(t::id.eq(id)))
            .set((
                t::label_sv.eq(change.label_sv.as_ref().unwrap_or(&current.label_sv)),
                t::label_en.eq(change.label_en.as_ref().unwrap_or(&current.label_en)),
                t::sort_order.eq(change.sort_order.unwrap_or(current.sort_order)),
                t::active.eq(change.active.unwrap_or(current.active)),
                t::server_seq.eq(seq),
            ))
            .execute(conn))?;
        Ok(true)
    })
}

/// An admin's change to a reference entry; absent fields stay.
#[derive(Debug, Default)]
pub struct ReferenceChange {
    pub label_sv: Option<String>,
    pub label_en: Option<String>,
    pub sort_order: Option<i32>,
    pub active: Option<bool>,
}
