//! An organisation's records as compact columns in memory, kept current by tailing the change
//! sequence (`server_seq`), so that the picture never scans raw rows per request.
//!
//! Every change to a record moves it to a new `server_seq`, and no change commits at or below
//! the committed mark once it was read (see `sync_state::committed`): reading the rows past the
//! highest sequence applied so far, up to that mark, sees every change exactly once, in every
//! process, with nothing to coordinate.

use super::days::{Dated, Days};
use crate::db::DbConnection;
use crate::db::QueryResult;
use crate::db::queries::change_feed::{self, ActivityChange, ObservationChange};
use chrono::{Datelike, TimeZone, Timelike};
use chrono_tz::Tz;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// The record is live (not deleted).
pub const LIVE: u8 = 1;
/// The sun was below the horizon (−0.833°) where and when it happened.
pub const DARK: u8 = 2;
/// The sun was more than 6° below the horizon (after civil twilight).
pub const CIVIL_DARK: u8 = 4;

/// "No value" in a dictionary-coded column (no area, no unit).
pub const NONE: u16 = u16::MAX;

/// One observation, as the picture needs it.
#[derive(Debug, Clone, Copy)]
pub struct Obs {
    pub at_ms: i64,
    /// The H3 cell at the finest resolution, 0 when unknown.
    pub cell: u64,
    pub category: u16,
    pub unit: u16,
    pub area: u16,
    pub severity: u8,
    pub safety: u8,
    /// Local weekday (Monday 0) × 24 + local hour.
    pub hour_of_week: u8,
    pub flags: u8,
}

/// One activity log, as the picture needs it.
#[derive(Debug, Clone, Copy)]
pub struct Act {
    pub start_ms: i64,
    /// Equal to the start while the activity is still running.
    pub end_ms: i64,
    pub kind: u16,
    pub unit: u16,
    pub area: u16,
    pub contacts: u32,
    pub flags: u8,
}

impl Dated for Obs {
    fn at_ms(&self) -> i64 {
        self.at_ms
    }
    fn span_ms(&self) -> i64 {
        0
    }
    fn kill(&mut self) {
        self.flags = 0;
    }
}

impl Dated for Act {
    fn at_ms(&self) -> i64 {
        self.start_ms
    }
    fn span_ms(&self) -> i64 {
        self.end_ms.saturating_sub(self.start_ms)
    }
    fn kill(&mut self) {
        self.flags = 0;
    }
}

/// Strings coded as small numbers, in order of first appearance.
#[derive(Debug, Default)]
pub struct Dictionary {
    names: Vec<String>,
    codes: HashMap<String, u16>,
}

impl Dictionary {
    /// The code of `name`, added if new (`NONE` once full).
    pub fn code(&mut self, name: &str) -> u16 {
        if let Some(code) = self.codes.get(name) {
            return *code;
        }
        let Ok(code) = u16::try_from(self.names.len()) else { return NONE };
        if code == NONE {
            return NONE;
        }
        self.names.push(name.to_owned());
        self.codes.insert(name.to_owned(), code);
        code
    }

    /// The code of a known name.
    pub fn find(&self, name: &str) -> Option<u16> {
        self.codes.get(name).copied()
    }

    /// The name of a code.
    pub fn name(&self, code: u16) -> Option<&str> {
        self.names.get(usize::from(code)).map(String::as_str)
    }

    /// How many names there are.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// One organisation's records in columns.
pub struct OrgIndex {
    pub organisation_id: String,
    pub tz: Tz,
    /// The highest sequence number applied.
    pub seq: i64,
    pub categories: Dictionary,
    pub kinds: Dictionary,
    pub units: Dictionary,
    pub areas: Dictionary,
    /// The observations by day, so that a period reads only its own days.
    pub observations: Days<Obs>,
    /// The activity logs by the day they started.
    pub activities: Days<Act>,
    /// Each reporter's unit slug, for the observations' unit.
    user_units: HashMap<String, Option<String>>,
}

/// A record id as a 128-bit key: the UUID itself, or a 128-bit hash of other ids.
pub fn key(id: &str) -> u128 {
    if let Ok(uuid) = uuid::Uuid::parse_str(id) {
        return uuid.as_u128();
    }
    let half = |seed: u64| {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        seed.hash(&mut hasher);
        id.hash(&mut hasher);
        hasher.finish()
    };
    (u128::from(half(0x5eed)) << 64) | u128::from(half(0xface))
}

/// Rows of the change feed read per round trip while catching up, by default.
pub const CATCH_UP_ROWS: i64 = 50_000;

impl OrgIndex {
    /// An empty index for the organisation, in its time zone.
    pub fn new(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<Self> {
        let zone = change_feed::time_zone(conn, organisation_id)?;
        Ok(Self::empty(organisation_id, zone.parse().unwrap_or(chrono_tz::Europe::Stockholm)))
    }

    /// An empty index that no database feeds (benchmarks and tests fill its columns directly).
    pub fn empty(organisation_id: &str, tz: Tz) -> Self {
        Self {
            organisation_id: organisation_id.to_owned(),
            tz,
            seq: 0,
            categories: Dictionary::default(),
            kinds: Dictionary::default(),
            units: Dictionary::default(),
            areas: Dictionary::default(),
            observations: Days::default(),
            activities: Days::default(),
            user_units: HashMap::new(),
        }
    }

    /// Local weekday (Monday 0) × 24 + local hour of an instant.
    pub fn hour_of_week(&self, at_ms: i64) -> u8 {
        self.local(at_ms).0
    }

    /// Applies every change committed since the last call, reading the change feed in pages of
    /// at most `page_rows` rows.
    pub fn catch_up(&mut self, conn: &mut DbConnection, page_rows: i64) -> QueryResult<()> {
        // Everything up to the committed sequence, in both tables: a transaction that changed
        // both is then never seen in one and missed in the other.
        let committed = crate::db::queries::sync_state::committed(conn)?;
        if committed <= self.seq {
            return Ok(());
        }
        let page_rows = page_rows.max(1);
        let start = self.seq;
        // A page may end inside a push's records (they share one sequence number): the next
        // page resumes after the last record read, not after its sequence number.
        let mut cursor: change_feed::Cursor = (start, None);
        loop {
            let rows = change_feed::observations(conn, &self.organisation_id, &cursor, committed, page_rows)?;
            let Some(last) = rows.last().map(|row| (row.server_seq, Some(row.id.clone()))) else { break };
            self.load_units_of(conn, rows.iter().map(|row| row.user_id.as_str()))?;
            for row in rows {
                self.apply_observation(row);
            }
            cursor = last;
        }
        let mut cursor: change_feed::Cursor = (start, None);
        loop {
            let rows = change_feed::activities(conn, &self.organisation_id, &cursor, committed, page_rows)?;
            let Some(last) = rows.last().map(|row| (row.server_seq, Some(row.id.clone()))) else { break };
            for row in rows {
                self.apply_activity(row);
            }
            cursor = last;
        }
        self.observations.settle();
        self.activities.settle();
        self.seq = committed;
        Ok(())
    }

    fn load_units_of<'a>(
        &mut self,
        conn: &mut DbConnection,
        user_ids: impl Iterator<Item = &'a str>,
    ) -> QueryResult<()> {
        if user_ids.into_iter().all(|id| self.user_units.contains_key(id)) {
            return Ok(());
        }
        self.user_units = change_feed::user_units(conn, &self.organisation_id)?.into_iter().collect();
        Ok(())
    }

    fn local(&self, at_ms: i64) -> (u8, i32, u32) {
        match self.tz.timestamp_millis_opt(at_ms).single() {
            Some(local) => {
                let weekday = local.weekday().num_days_from_monday();
                (u8::try_from(weekday * 24 + local.hour()).unwrap_or(0), local.year(), local.month())
            }
            None => (0, 1970, 1),
        }
    }

    fn apply_observation(&mut self, row: ObservationChange) {
        let ObservationChange {
            id,
            user_id,
            category,
            severity,
            perceived_safety: safety,
            observed_at: at_ms,
            area_code: area,
            cell,
            lat,
            lon,
            coarse_darkness,
            deleted_at,
            ..
        } = row;
        // A coarsened position keeps the flags of the exact one.
        let dark = coarse_darkness
            .and_then(|flags| u8::try_from(flags).ok())
            .unwrap_or_else(|| super::darkness(lat, lon, at_ms));
        let unit = self.user_units.get(&user_id).cloned().flatten();
        let (hour_of_week, _, _) = self.local(at_ms);
        let obs = Obs {
            at_ms,
            cell: cell.as_deref().and_then(|cell| u64::from_str_radix(cell, 16).ok()).unwrap_or(0),
            category: self.categories.code(&category),
            unit: unit.map_or(NONE, |unit| self.units.code(&unit)),
            area: area.map_or(NONE, |area| self.areas.code(&area)),
            severity: u8::try_from(severity).unwrap_or(0),
            safety: u8::try_from(safety).unwrap_or(0),
            hour_of_week,
            flags: if deleted_at.is_none() { LIVE } else { 0 } | dark,
        };
        self.observations.put(key(&id), obs);
    }

    fn apply_activity(&mut self, row: ActivityChange) {
        let ActivityChange {
            id,
            activity_type: kind,
            unit,
            started_at: start_ms,
            ended_at: end_ms,
            area_code: area,
            lat,
            lon,
            coarse_darkness,
            genders,
            deleted_at,
            ..
        } = row;
        let contacts =
            [genders.0, genders.1, genders.2, genders.3].iter().map(|n| u32::try_from(*n).unwrap_or(0)).sum();
        let dark = match (coarse_darkness.and_then(|flags| u8::try_from(flags).ok()), lat, lon) {
            (Some(kept), _, _) => kept,
            (None, Some(lat), Some(lon)) => super::darkness(lat, lon, start_ms),
            _ => 0,
        };
        let act = Act {
            start_ms,
            end_ms: end_ms.unwrap_or(start_ms).max(start_ms),
            kind: self.kinds.code(&kind),
            unit: self.units.code(&unit),
            area: area.map_or(NONE, |area| self.areas.code(&area)),
            contacts,
            flags: if deleted_at.is_none() { LIVE } else { 0 } | dark,
        };
        self.activities.put(key(&id), act);
    }

    /// The local year and month of an instant.
    pub fn local_month(&self, at_ms: i64) -> (i32, u32) {
        let (_, year, month) = self.local(at_ms);
        (year, month)
    }

    /// Approximate memory held by the columns and id maps, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.observations.row_bytes()
            + self.observations.id_map_bytes()
            + self.activities.row_bytes()
            + self.activities.id_map_bytes()
    }
}
