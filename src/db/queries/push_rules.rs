//! The rules a push is checked against, read per organisation and kept briefly.

use super::{organisations, reference};
use crate::db::DbConnection;
use crate::db::schema::units;
use crate::domain::push::{PreparedPush, PushContext, Rules, TableChanges, prepare};
use crate::domain::sync::SyncedTable;
use diesel::prelude::*;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Reads an organisation's validation rules.
pub fn load_rules(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<Rules> {
    let slugs = |rows: Vec<crate::db::models::ReferenceRow>| rows.into_iter().map(|row| row.slug).collect();
    let bbox = organisations::bbox(conn, organisation_id)?;
    let (areas_version, areas) = super::areas::versioned_index(conn, organisation_id)?;
    Ok(Rules {
        bbox,
        areas,
        areas_version,
        categories: slugs(reference::list(conn, SyncedTable::Categories, organisation_id)?),
        activity_types: slugs(reference::list(conn, SyncedTable::ActivityTypes, organisation_id)?),
        units: units::table
            .filter(units::organisation_id.eq(organisation_id))
            .select(units::slug)
            .load::<String>(conn)?
            .into_iter()
            .collect(),
    })
}

/// Validation rules per organisation, kept for a short while so a push does not read them.
///
/// Reference data is only ever added (never deleted), so a record refused for an unknown slug
/// or a position outside the bounding box is checked again against freshly read rules before
/// it is quarantined: a stale entry can delay nothing. The time to live bounds how long a
/// narrowed bounding box set by another process goes unnoticed. Areas do change (and go): the
/// writer compares the version they were read at with the current one and places the records
/// again when they differ, so stale areas never reach storage.
pub struct RulesCache {
    entries: Mutex<HashMap<String, (std::time::Instant, Arc<Rules>)>>,
    ttl: Duration,
}

impl RulesCache {
    /// An empty cache whose entries live for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self { entries: Mutex::new(HashMap::new()), ttl }
    }

    /// The organisation's rules: cached, unless `fresh` or expired.
    pub fn get(&self, conn: &mut DbConnection, organisation_id: &str, fresh: bool) -> QueryResult<Arc<Rules>> {
        if !fresh
            && let Some((loaded, rules)) = self.entries.lock().get(organisation_id)
            && loaded.elapsed() < self.ttl
        {
            return Ok(rules.clone());
        }
        let rules = Arc::new(load_rules(conn, organisation_id)?);
        self.entries.lock().insert(organisation_id.to_owned(), (std::time::Instant::now(), rules.clone()));
        Ok(rules)
    }

    /// Forgets an organisation's rules (after its reference data or bounding box changed here).
    pub fn forget(&self, organisation_id: &str) {
        self.entries.lock().remove(organisation_id);
    }
}

/// Reads the rules (from `cache` when given) and prepares the push. Records refused by
/// possibly stale cached rules are read once more against fresh ones.
pub fn prepare_with(
    conn: &mut DbConnection,
    cache: Option<&RulesCache>,
    context: PushContext,
    tables: Vec<(String, TableChanges)>,
) -> QueryResult<PreparedPush> {
    let Some(cache) = cache else {
        let rules = load_rules(conn, &context.organisation_id)?;
        return Ok(prepare(context, tables, &rules));
    };
    let rules = cache.get(conn, &context.organisation_id, false)?;
    let mut prepared = prepare(context, tables, &rules);
    if prepared.refused_by_rules() {
        let rules = cache.get(conn, &prepared.context.organisation_id, true)?;
        prepared.revalidate(&rules);
    }
    Ok(prepared)
}
